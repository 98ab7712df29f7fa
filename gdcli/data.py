"""Datasets: the built-in registry, CSV loading and validation, split, scaling.

Loading CSVs and listing the built-ins are pure Python (no torch), so `gdcli
datasets` answers at once; tensors are made in `prepare`, which also owns the
train/validation split and the input transform that `predict` later replays.
The built-in CSVs ship as the package `gdcli.datasets` (the top-level datasets/
folder of the source tree).
"""

from __future__ import annotations

import csv
import io
import math
import os
import stat
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, Decimal
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from gdcli.errors import GdcliError, param
from gdcli.text import NUMBER

if TYPE_CHECKING:
    from torch import Tensor

Rows = tuple[tuple[float, ...], ...]
MAX_ROWS = 1_000_000  # synthetic rows: a small-problem tool, held as Python tuples


@dataclass(frozen=True)
class Dataset:
    """A regression table: rows of features X and targets y, with names."""

    name: str
    X: Rows
    y: Rows
    features: tuple[str, ...]
    targets: tuple[str, ...]
    description: str = ""
    preset: dict = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)  # column -> unit, for axis labels
    source: str = ""  # where the rows came from, for messages: the CSV path, "built-in dataset celsius"
    lines: tuple[int, ...] = ()  # each row's line in its file (blank lines counted); () when generated
    columns: tuple[str, ...] = ()  # every column in file order; () means features then targets

    def label(self, column: str) -> str:
        """A column's name with its unit, when known: "t_c (°C)"."""
        unit = self.units.get(column)
        return f"{column} ({unit})" if unit else column

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return len(self.X)

    def where(self, row: int) -> str:
        """Where row `row` (0-based) came from, for a message: "data.csv, line 3"."""
        place = f"line {self.lines[row]}" if self.lines else f"row {row + 1}"
        return f"{self.source or self.name}, {place}"


@dataclass(frozen=True)
class Shape:
    """What a listing shows of a built-in dataset, known without generating its rows."""

    name: str
    n_rows: int  # the default row count where the rows are generated
    features: tuple[str, ...]
    targets: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class Builtin:
    """A registry entry: how to get the rows, and the preset that trains them well."""

    description: str
    preset: dict
    load: Callable[[int, int], Dataset]  # (seed, rows) -> Dataset
    default_rows: int | None = None
    units: dict[str, str] = field(default_factory=dict)
    shape: Callable[[], Shape] | None = None  # pure Python; None: load the rows and look


def shapes() -> dict[str, Shape]:
    """Every built-in's name, rows, features, targets and description, without torch: for `gdcli datasets`."""
    out = {}
    for name, entry in BUILTINS.items():
        if entry.shape is not None:
            out[name] = entry.shape()
        else:
            ds = entry.load(0, entry.default_rows or 0)
            out[name] = Shape(name, ds.n_rows, ds.features, ds.targets, entry.description)
    return out


def _packaged(
    name: str, description: str, preset: dict, targets: tuple[str, ...] = (), units: dict[str, str] | None = None
) -> Builtin:
    def load(seed: int, rows: int) -> Dataset:
        # utf-8-sig, as for CSV files: a BOM is not part of the first column's name.
        text = resources.files("gdcli.datasets").joinpath(f"{name}.csv").read_text(encoding="utf-8-sig")
        where = f"built-in dataset {name}"
        ds = _from_table(name, *_parse_csv(text, where), targets, description, preset, source=where)
        return replace(ds, units=units or {})

    return Builtin(description, preset, load, units=units or {})


SYNTHETIC_FEATURES, SYNTHETIC_TARGETS = ("x",), ("y",)


def _generated_shape(name: str, features: tuple[str, ...], targets: tuple[str, ...]) -> Shape:
    entry = BUILTINS[name]
    return Shape(name, entry.default_rows or 0, features, targets, entry.description)


def _synthetic(seed: int, rows: int) -> Dataset:
    import torch

    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(rows, generator=gen, dtype=torch.float64)
    noise = torch.randn(rows, generator=gen, dtype=torch.float64)
    y = 1.0 + 2.0 * x + 0.1 * noise
    entry = BUILTINS["synthetic"]
    return Dataset(
        "synthetic",
        tuple((v,) for v in x.tolist()),
        tuple((v,) for v in y.tolist()),
        SYNTHETIC_FEATURES,
        SYNTHETIC_TARGETS,
        entry.description,
        entry.preset,
        source="synthetic dataset",
    )


# Presets pick a scale and learning rate that converge for gd; any option given
# on the command line wins over them.
BUILTINS: dict[str, Builtin] = {
    "celsius": _packaged(
        "celsius",
        "Thermometer readings in unknown units t_u against Celsius t_c "
        "(Deep Learning with PyTorch, chapter 5)",
        {"scale": 0.1, "lr": 1e-2, "epochs": 5000},
        units={"t_u": "unknown units", "t_c": "°C"},
    ),
    "height-weight": _packaged(
        "height-weight",
        "Height (in) against weight (lb) of 15 people (classic height/weight table)",
        {"normalize": True, "lr": 0.1, "epochs": 500},
        units={"weight_lb": "lb", "height_in": "in"},
    ),
    "iphone": _packaged(
        "iphone",
        "Toy iPhone sales (thousands) against income, price and tax (thousands)",
        {"normalize": True, "lr": 0.1, "epochs": 3000},
        units={"income": "thousands", "price": "thousands", "tax": "thousands", "sales": "thousands"},
    ),
    "crops": _packaged(
        "crops",
        "Apple and orange yields against temperature, rainfall and humidity (two targets)",
        {"normalize": True, "lr": 0.1, "epochs": 1000},
        targets=("apples", "oranges"),
    ),
    "synthetic": Builtin(
        "y = 1 + 2x + 0.1*noise with x ~ U(0,1), drawn from --seed (--rows N)",
        {"lr": 0.5, "epochs": 1000},
        _synthetic,
        default_rows=100,
        shape=lambda: _generated_shape("synthetic", SYNTHETIC_FEATURES, SYNTHETIC_TARGETS),
    ),
}


def load_dataset(
    name: str, *, targets: tuple[str, ...] = (), seed: int = 42, rows: int | None = None
) -> Dataset:
    """A built-in dataset by name, or a CSV file by path with `targets` as its target columns."""
    if len(set(targets)) != len(targets):
        raise GdcliError(f"a {param('target')} column is named twice", "name each target column once")
    entry = BUILTINS.get(name)
    if rows is not None and (entry is None or entry.default_rows is None):
        raise GdcliError(
            f"{param('rows')} applies to the synthetic dataset only, not to {name!r}", f"drop {param('rows')}"
        )
    if entry is not None:
        if targets:
            raise GdcliError(
                f"{param('target')} applies to CSV files, not to the built-in dataset {name!r}",
                f"drop {param('target')}, or pass a CSV file path as {param('dataset')}",
            )
        rows = entry.default_rows if rows is None else rows
        if rows is not None and not 1 <= rows <= MAX_ROWS:
            raise GdcliError(
                f"{param('rows')} must be between 1 and {MAX_ROWS:,}, got {rows}",
                f"pass {param('rows')} 100, for example",
            )
        return entry.load(seed, rows or 0)
    path = Path(name)
    if path.suffix.lower() != ".csv" and not path.exists():
        raise GdcliError(
            f"unknown dataset {name!r}",
            f"choose one of {', '.join(BUILTINS)} (see `gdcli datasets`), or give the path of a CSV file",
        )
    return load_csv(path, targets)


def load_csv(path: Path, targets: tuple[str, ...] = ()) -> Dataset:
    """A Dataset from a CSV file with a header row; `targets` default to the last column."""
    where = str(path)
    check = f"check the path passed to {param('dataset')}"
    # stat, not open: opening a FIFO would wait for a writer.
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise GdcliError(f"CSV file {where!r} not found", check) from None
    except OSError as err:
        raise GdcliError(f"cannot read {where!r}: {err.strerror}", check) from None
    if stat.S_ISDIR(mode):
        raise GdcliError(
            f"{where!r} is a folder, not a CSV file", f"pass the path of a .csv file to {param('dataset')}"
        )
    if not stat.S_ISREG(mode):
        raise GdcliError(
            f"{where!r} is not a regular file (a device, pipe or socket)",
            f"save the data to a .csv file and pass its path to {param('dataset')}",
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise GdcliError(f"cannot read {where!r}: {err}", "pass a UTF-8 text CSV file") from None
    header, table, lines = _parse_csv(text, where)
    return _from_table(path.stem, header, table, lines, targets, f"CSV file {path}", {}, source=where)


# A CSV number: plain ASCII decimal or scientific notation. float() takes more
# (1_000, Arabic-Indic or full-width digits, surrounding Unicode spaces) that no
# CSV writer means as a number. nan and inf pass here and are refused as not finite.
_BLANKS = " \t"


def _is_number(cell: str) -> bool:
    return NUMBER.fullmatch(cell.strip(_BLANKS)) is not None


def _records(text: str, where: str) -> list[tuple[int, list[str]]]:
    """The non-blank records of a CSV text, each with its line in the file (blank lines counted)."""
    # newline="" leaves line endings to the csv module, which counts lines as a file has them
    # (str.splitlines would also split at form feeds and other separators inside a line).
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records, last = [], 0
    while True:
        first = last + 1
        try:
            row = next(reader)
        except StopIteration:
            return records
        except csv.Error as err:
            problem = "a quoted value is never closed" if "end of data" in str(err) else f"malformed CSV ({err})"
            raise GdcliError(
                f"{where}, line {first}: {problem}",
                'quote a value with "..." on one line, or leave numbers unquoted',
            ) from None
        last = reader.line_num
        if last > first:
            raise GdcliError(
                f"{where}, line {first}: a quoted value spans lines {first} to {last}",
                "every row must be on one line: close each quote on the line that opens it",
            )
        if row and any(c.strip() for c in row):
            records.append((first, row))


def _parse_csv(text: str, where: str) -> tuple[list[str], list[list[float]], tuple[int, ...]]:
    """Header, rows of numbers and each row's file line, checked; raises GdcliError naming line and column."""
    records = _records(text, where)
    if not records:
        raise GdcliError(f"{where} is empty", "a CSV needs a header row and at least one data row")
    first_line, first = records[0]
    _refuse_comment(first_line, first, where)
    header = [c.strip() for c in first]
    if all(_is_number(c) for c in header):
        raise GdcliError(
            f"{where} has no header row (its first line is all numbers)",
            "add a first line naming the columns, for example: x,y",
        )
    if len(header) < 2:
        separator = next((s for s in (";", "\t", "|") if s in first[0]), None)
        hint = "a CSV needs at least one feature and one target column"
        if separator:
            hint = f"its header looks separated by {separator!r}; gdcli reads comma-separated files"
        raise GdcliError(f"{where} has a single column", hint)
    for position, name in enumerate(header, 1):
        if not name:
            raise GdcliError(
                f"{where}, line {first_line}: column {position} of the header has no name",
                "name every column in the first line (a trailing comma makes an empty last column)",
            )
    for position, name in enumerate(header):
        if name in header[:position]:
            raise GdcliError(
                f"{where} names the column {name!r} twice in its header", "give every column its own name"
            )
    table = []
    for line_no, row in records[1:]:
        _refuse_comment(line_no, row, where)
        if len(row) != len(header):
            raise GdcliError(
                f"{where}, line {line_no}: {len(row)} value(s) where the header has {len(header)} columns",
                "every row needs one value per column (the file is ragged)",
            )
        values = []
        for col, cell in zip(header, row):
            if not _is_number(cell):
                raise GdcliError(
                    f"{where}, line {line_no}, column {col!r}: {cell.strip()!r} is not a number",
                    "every value must be a plain number such as 3, -0.5 or 1e-3",
                )
            value = float(cell)
            if not math.isfinite(value):
                raise GdcliError(
                    f"{where}, line {line_no}, column {col!r}: {cell.strip()} is not a finite number",
                    "remove or fill in rows holding NaN or inf",
                )
            values.append(value)
        table.append(values)
    if not table:
        raise GdcliError(f"{where} has a header but no data rows", "add at least one row of numbers")
    return header, table, tuple(line for line, _ in records[1:])


def _refuse_comment(line_no: int, row: list[str], where: str) -> None:
    if row[0].lstrip().startswith("#"):
        raise GdcliError(
            f"{where}, line {line_no} starts with '#': comment lines are not supported",
            "remove the comment lines; the first line must name the columns, every other line hold numbers",
        )


def _from_table(name, header, table, lines, targets, description, preset, source="") -> Dataset:
    targets = tuple(targets or (header[-1],))
    for t in targets:
        if t not in header:
            raise GdcliError(
                f"target column {t!r} is not in {name!r}",
                f"choose {param('target')} from its columns: {', '.join(header)}",
            )
    if len(set(targets)) == len(header):
        raise GdcliError(
            "every column is a target, so no feature is left", f"name fewer {param('target')} columns"
        )
    features = tuple(c for c in header if c not in targets)
    fi = [header.index(c) for c in features]
    ti = [header.index(c) for c in targets]
    X = tuple(tuple(row[i] for i in fi) for row in table)
    y = tuple(tuple(row[i] for i in ti) for row in table)
    return Dataset(
        name, X, y, features, targets, description, dict(preset),
        source=source or name, lines=tuple(lines), columns=tuple(header),
    )


@dataclass(frozen=True)
class Transform:
    """The input transform x' = (x * scale - mean) / std, kept so predict can replay it."""

    scale: float = 1.0
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def apply(self, X: Tensor) -> Tensor:
        """Transform raw inputs (..., k) the way the training rows were."""
        X = X * self.scale
        if self.mean is not None:
            import torch

            mean = torch.tensor(self.mean, dtype=X.dtype, device=X.device)
            std = torch.tensor(self.std, dtype=X.dtype, device=X.device)
            X = (X - mean) / std
        return X

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"scale": self.scale, "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, d: dict, n_features: int) -> Transform:
        """Inverse of to_dict, checked: raises ValueError for anything to_dict cannot have written."""
        scale = float(d["scale"])
        mean, std = d.get("mean"), d.get("std")
        if not math.isfinite(scale) or scale == 0:
            raise ValueError("scale must be a non-zero finite number")
        if (mean is None) != (std is None):
            raise ValueError("mean and std come together")
        if mean is not None:
            mean, std = tuple(float(v) for v in mean), tuple(float(v) for v in std)
            if len(mean) != n_features or len(std) != n_features:
                raise ValueError(f"mean and std need one value per feature ({n_features})")
            if not all(math.isfinite(v) for v in mean) or not all(math.isfinite(v) and v > 0 for v in std):
                raise ValueError("mean must be finite and std positive")
        return cls(scale, mean, std)


@dataclass(frozen=True)
class Prepared:
    """One run's tensors: augmented, transformed inputs and targets, split."""

    X_train: Tensor  # (n_train, k + 1), last column ones
    y_train: Tensor  # (n_train, targets)
    X_val: Tensor | None
    y_val: Tensor | None
    transform: Transform
    train_rows: tuple[int, ...]
    val_rows: tuple[int, ...]
    # The same rows transformed in float64 and never rounded to the training dtype, on
    # the CPU: the reference the optimum and the final losses are measured on, so that
    # rounding the data to float32 shows in the gap instead of hiding in the optimum.
    X64_train: Tensor | None = None
    y64_train: Tensor | None = None
    X64_val: Tensor | None = None
    y64_val: Tensor | None = None


def split_rows(n: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """A seeded shuffled split, the book's way: the last int(f * n) of a permutation validate."""
    import torch

    if not 0.0 <= val_fraction < 1.0:
        raise GdcliError(
            f"{param('val_fraction')} must be in [0, 1), got {val_fraction}",
            "use 0.2 to hold out a fifth of the rows",
        )
    n_val = int(val_fraction * n)
    if val_fraction > 0 and n_val == 0:
        if n < 2:
            hint = f"a dataset of {n} row{'s' * (n != 1)} cannot be split: use {param('val_fraction')} 0"
        else:
            hint = f"use at least {_smallest_val_fraction(n):g}, or 0 for no split"
        raise GdcliError(f"{param('val_fraction')} {val_fraction} of {n} rows leaves no validation row", hint)
    if n_val >= n:
        raise GdcliError(
            f"{param('val_fraction')} {val_fraction} leaves no training row", "use a smaller fraction"
        )
    if n_val == 0:
        return list(range(n)), []
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return perm[:-n_val], perm[-n_val:]


def _smallest_val_fraction(n: int) -> float:
    """The smallest fraction of 3 significant digits that holds out at least one of n >= 2 rows."""
    # 1/n rounded to 3 digits can fall below 1/n (1/11 -> 0.0909, and int(0.0909 * 11) == 0):
    # round up, then step until the float product really reaches one row.
    exact = Decimal(1) / Decimal(n)
    step = Decimal(1).scaleb(exact.adjusted() - 2)
    fraction = (exact / step).to_integral_value(rounding=ROUND_CEILING) * step
    while int(float(fraction) * n) < 1:
        fraction += step
    return float(fraction)


def _check_range(ds: Dataset, values: Tensor, transform: Transform, n_features: int) -> None:
    """Refuse any value that the training dtype cannot square: the squared loss would overflow."""
    import torch

    # One pass over the table; the loop below runs only to name the first offending cell.
    bad = ~torch.isfinite(values * values)  # inf * inf and nan stay non-finite; so does an overflow
    if not bool(bad.any()):
        return
    row = int(bad.any(1).nonzero()[0])
    names = ds.features + ds.targets
    order = ds.columns or names
    col = min((names[j] for j in bad[row].nonzero().flatten().tolist()), key=order.index)
    j = names.index(col)
    raw = ds.X[row][j] if j < n_features else ds.y[row][j - n_features]
    what = f"{raw:g}"
    if j < n_features:
        moved = raw * transform.scale
        if transform.mean is not None:
            moved = (moved - transform.mean[j]) / transform.std[j]
        if moved != raw:
            what += f" {'scaled' if transform.mean is None else 'standardized'} to {moved:g}"
    dtype = str(values.dtype).removeprefix("torch.")
    if j < n_features:
        rescale = f"rescale with {param('scale')} or {param('normalize')}"
    else:  # the transform leaves targets as they are
        rescale = (
            f"rescale column {col!r} in the file ({param('scale')} and {param('normalize')} transform inputs only)"
        )
    raise GdcliError(
        f"{ds.where(row)}, column {col!r}: {what} is too large for {dtype}",
        rescale if values.dtype == torch.float64 else f"use {param('dtype')} float64, or {rescale}",
    )


def prepare(
    ds: Dataset,
    *,
    scale: float = 1.0,
    normalize: bool = False,
    val_fraction: float = 0.0,
    seed: int = 42,
    dtype=None,
    device=None,
) -> Prepared:
    """Split, scale and (optionally) standardize with the training rows' statistics.

    Raises GdcliError where an input or target, transformed and cast, cannot be squared in `dtype`.
    """
    import torch

    from gdcli import model

    train_rows, val_rows = split_rows(ds.n_rows, val_fraction, seed)
    X = torch.tensor(ds.X, dtype=torch.float64)
    y = torch.tensor(ds.y, dtype=torch.float64).to(dtype=dtype, device=device)
    if normalize:
        scaled = X[train_rows] * scale
        mean = scaled.mean(0)
        std = scaled.std(0, unbiased=False)
        for col, m, s in zip(ds.features, mean.tolist(), std.tolist()):
            if not (math.isfinite(m) and math.isfinite(s)):
                raise GdcliError(
                    f"{ds.source or ds.name}, column {col!r}: values too large to standardize in float64",
                    f"shrink the values with {param('scale')} first (for example {param('scale')} 1e-100)",
                )
        # A constant column has no spread to divide by: centre it and leave it.
        std = torch.where(std > 0, std, torch.ones_like(std))
        transform = Transform(scale, tuple(mean.tolist()), tuple(std.tolist()))
        # Standardize in float64, then round once: in float32, 1e8 + i would already be
        # rounded to steps of 8 before its mean is taken.
        Xt = transform.apply(X).to(dtype=dtype, device=device)
    else:
        transform = Transform(scale)
        # Cast, then scale, as the book does: 0.1 * t_u in float32.
        Xt = transform.apply(X.to(dtype=dtype, device=device))
    _check_range(ds, torch.cat([Xt, y], 1), transform, len(ds.features))
    Xa = model.augment(Xt)
    X64, y64 = model.augment(transform.apply(X)), torch.tensor(ds.y, dtype=torch.float64)
    has_val = bool(val_rows)
    return Prepared(
        Xa[train_rows],
        y[train_rows],
        Xa[val_rows] if has_val else None,
        y[val_rows] if has_val else None,
        transform,
        tuple(train_rows),
        tuple(val_rows),
        X64[train_rows],
        y64[train_rows],
        X64[val_rows] if has_val else None,
        y64[val_rows] if has_val else None,
    )
