"""Datasets: the built-in registry, file loading, the split, scaling, and the memory a run needs.

A Dataset holds its columns as float64 numpy arrays from the moment they are read
(readers.py reads CSV, gzip CSV and Parquet through pyarrow): no row is ever a
Python object. Loading and listing never import torch, so `gdcli datasets`
answers at once and a bad file is reported before torch loads. `prepare` makes
the training tensors: it owns the train/validation split (index tensors), the
input transform that `predict` later replays, and the cast to the training dtype,
all in chunks, so that no second float64 copy of the data exists. The built-in
CSVs ship as the package `gdcli.builtin_data` (the top-level datasets/ folder).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, Decimal
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from gdcli.errors import GdcliError, param
# Read here as data.available_memory, so that one replacement (a test's) reaches every memory check.
from gdcli.memory import HEADROOM, available_memory  # noqa: F401
from gdcli.text import plural

if TYPE_CHECKING:
    import numpy as np
    from torch import Tensor

    from gdcli import stats
    from gdcli.stats import Gram

# `--dataset -`: a CSV (or gzip CSV, or Parquet) piped into standard input, read once per process.
STDIN = "-"

# Rows per chunk when data is generated, transformed or cast: a multiple of 16, so
# that torch's CPU normal sampler draws chunk by chunk exactly what it draws at once.
CHUNK_ROWS = 1 << 20


@dataclass(frozen=True, eq=False)
class Dataset:
    """A regression table: features X (n, k) and targets y (n, t) as float64 arrays, with names."""

    name: str
    X: np.ndarray
    y: np.ndarray
    features: tuple[str, ...]
    targets: tuple[str, ...]
    description: str = ""
    preset: dict = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)  # column -> unit, for axis labels
    source: str = ""  # where the rows came from, for messages: the file path, "built-in dataset celsius"
    columns: tuple[str, ...] = ()  # every column in file order; () means features then targets
    locate: Callable[[int], str] | None = None  # a row's place in its file: "data.csv, line 3"

    def label(self, column: str) -> str:
        """A column's name with its unit, when known: "t_c (°C)"."""
        unit = self.units.get(column)
        return f"{column} ({unit})" if unit else column

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return self.X.shape[0]

    def where(self, row: int) -> str:
        """Where row `row` (0-based) came from, for a message: "data.csv, line 3"."""
        if self.locate is not None:
            return self.locate(row)
        return f"{self.source or self.name}, row {row + 1}"


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
    load: Callable[..., Dataset]  # (seed, rows, features) -> Dataset
    shape: Callable[[], Shape]  # without loading the rows
    default_rows: int | None = None  # generated data: the rows drawn when --rows is not given
    units: dict[str, str] = field(default_factory=dict)

    @property
    def generated(self) -> bool:
        """Whether the rows are drawn (from --seed, --rows, --features) rather than read."""
        return self.default_rows is not None


def shapes() -> dict[str, Shape]:
    """Every built-in's name, rows, features, targets and description, without torch: for `gdcli datasets`."""
    return {name: entry.shape() for name, entry in BUILTINS.items()}


def _packaged(
    name: str,
    description: str,
    preset: dict,
    targets: tuple[str, ...] = (),
    units: dict[str, str] | None = None,
) -> Builtin:
    where = f"built-in dataset {name}"

    def load(seed: int = 0, rows: int | None = None, features: int | None = None) -> Dataset:
        from gdcli import readers

        with resources.as_file(resources.files("gdcli.builtin_data").joinpath(f"{name}.csv")) as path:
            table = readers.read(path, where)
        return replace(_from_table(name, table, targets, description, preset), units=units or {})

    def shape() -> Shape:
        # The packaged files are a few lines long: their header and line count say it all.
        text = resources.files("gdcli.builtin_data").joinpath(f"{name}.csv").read_text(encoding="utf-8-sig")
        lines = [line for line in text.splitlines() if line.strip()]
        header = tuple(c.strip() for c in lines[0].split(","))
        target = targets or header[-1:]
        return Shape(name, len(lines) - 1, tuple(c for c in header if c not in target), tuple(target), description)

    return Builtin(description, preset, load, shape, units=units or {})


def synthetic_features(k: int) -> tuple[str, ...]:
    """The synthetic dataset's feature names: x for one feature, x1..xK for more."""
    return ("x",) if k == 1 else tuple(f"x{i}" for i in range(1, k + 1))


SYNTHETIC_TARGETS = ("y",)
SYNTHETIC = (
    "y = 1 + 2x + 0.1*noise with x ~ U(0,1), drawn from --seed (--rows N); "
    "--features K draws x1..xK and sums them"
)


def _synthetic(seed: int, rows: int, features: int | None = None) -> Dataset:
    """x ~ U(0,1)^K and y = 1 + 2 (x_1 + ... + x_K) + 0.1 noise, drawn in chunks from one seeded generator.

    All of x is drawn first, then the noise, as earlier versions drew them at once:
    with K = 1 and the same seed the rows are the same.
    """
    import torch

    k = features or 1
    gen = torch.Generator().manual_seed(seed)
    x = torch.empty(rows, k, dtype=torch.float64)
    flat = x.view(-1)
    for start in range(0, flat.numel(), CHUNK_ROWS):
        flat[start : start + CHUNK_ROWS].uniform_(generator=gen)  # drawn one value after another
    y = torch.empty(rows, 1, dtype=torch.float64)
    for start, stop in _normal_chunks(rows):
        noise = torch.randn(stop - start, generator=gen, dtype=torch.float64)
        total = x[start:stop, 0] if k == 1 else x[start:stop].sum(1)
        y[start:stop, 0] = 1.0 + 2.0 * total + 0.1 * noise
    return _synthetic_dataset(x.numpy(), y.numpy(), k)


def _synthetic_dataset(X, y, k: int) -> Dataset:
    entry = BUILTINS["synthetic"]
    return Dataset(
        "synthetic", X, y, synthetic_features(k), SYNTHETIC_TARGETS, entry.description, entry.preset,
        source="synthetic dataset",
    )


def _normal_chunks(rows: int) -> Iterator[tuple[int, int]]:
    """Chunks of CHUNK_ROWS rows, the last one merged into the one before when shorter.

    torch's CPU normal sampler transforms uniform draws 16 at a time and redraws the
    last 16 of a tensor whose size is not a multiple of 16; a final chunk shorter than
    16 would take another path. Chunks of a multiple of 16 and a long last one draw
    exactly what one call for all the rows draws.
    """
    start = 0
    while start < rows:
        stop = rows if rows - start < 2 * CHUNK_ROWS else start + CHUNK_ROWS
        yield start, stop
        start = stop


# Rows per block when generated data is streamed (`gdcli datasets synthetic`): a multiple of 16.
DRAW_BLOCK = 4096
# Draws the generator may step past to reach the noise of the first rows (about 7 s per 1e9 on one core).
MAX_STEPPED = 10**10


def synthetic_blocks(seed: int, rows: int, features: int | None = None, block: int = DRAW_BLOCK):
    """The synthetic dataset's rows as (X, y) float64 numpy blocks, exactly the rows `_synthetic` draws,
    holding one block at a time.

    `_synthetic` draws all of x, then all of the noise, from one generator. Here a second
    generator with the same seed is stepped past the x draws (in blocks: torch draws uniform
    values one after another, so the stream does not depend on how it is cut) and draws the
    noise block by block; within each of `_normal_chunks`' chunks the blocks are multiples of
    16 rows with a last block of at least 16, which torch's normal sampler draws exactly as one
    call for the chunk (see `_normal_chunks`).
    """
    import torch

    k = features or 1
    gen_x = torch.Generator().manual_seed(seed)
    gen_noise = torch.Generator().manual_seed(seed)
    _skip_uniform(gen_noise, rows * k)
    for start, stop in _normal_chunks(rows):
        for lo, hi in _blocks(start, stop, block):
            x = torch.empty(hi - lo, k, dtype=torch.float64)
            x.view(-1).uniform_(generator=gen_x)
            noise = torch.randn(hi - lo, generator=gen_noise, dtype=torch.float64)
            total = x[:, 0] if k == 1 else x.sum(1)
            y = (1.0 + 2.0 * total + 0.1 * noise).unsqueeze(1)
            yield x.numpy(), y.numpy()


def _skip_uniform(gen, count: int) -> None:
    """Step a generator past `count` uniform float64 draws, a chunk at a time (no memory for all of them)."""
    import torch

    scratch = torch.empty(min(count, CHUNK_ROWS), dtype=torch.float64)
    for start in range(0, count, CHUNK_ROWS):
        scratch[: min(CHUNK_ROWS, count - start)].uniform_(generator=gen)


def _blocks(start: int, stop: int, block: int) -> Iterator[tuple[int, int]]:
    """[start, stop) in blocks of `block` rows, the last one merged into the one before when shorter than 16."""
    lo = start
    while lo < stop:
        hi = stop if stop - (lo + block) < 16 else lo + block
        yield lo, hi
        lo = hi


def generated_preview(name: str, *, seed: int, rows: int | None, features: int | None, head: int):
    """Generated data without drawing all of it: (a Dataset of its first `head` rows, its row count,
    a function giving every row block by block). The rows are those a fit with the same seed sees."""
    entry = BUILTINS[name]
    _check_shape(name, entry, rows, features)
    rows = entry.default_rows if rows is None else rows
    k = features or 1
    if rows * k > MAX_STEPPED:
        # The noise comes after every row's inputs in the generator's stream: torch steps through them one by one.
        raise GdcliError(
            f"{param('rows')} {rows:,} x {plural(k, 'feature')}: the targets of the first rows are drawn after all "
            f"{rows * k:.1e} inputs, too many to step past (at most {MAX_STEPPED:.0e})",
            f"use at most {MAX_STEPPED // k:,} {param('rows')}",
        )
    shown = min(rows, head)
    # Only the shown rows (or one block of rows) are held at a time: size those, not all the rows.
    check_memory(max(shown, min(rows, 16)), k, None)
    block = 16 * max(1, min(DRAW_BLOCK, CHUNK_ROWS // k) // 16)
    X, y = [], []
    for bx, by in synthetic_blocks(seed, rows, features, block=max(16, -(-shown // 16) * 16)):
        X.append(bx), y.append(by)
        if sum(b.shape[0] for b in X) >= shown:
            break
    import numpy as np

    ds = _synthetic_dataset(np.concatenate(X)[:shown], np.concatenate(y)[:shown], features or 1)
    return ds, rows, lambda: synthetic_blocks(seed, rows, features, block)


# Presets pick a scale and learning rate that converge for gd; any option given
# on the command line wins over them.
BUILTINS: dict[str, Builtin] = {
    "celsius": _packaged(
        "celsius",
        "Thermometer readings in unknown units t_u against Celsius t_c "
        "(Deep Learning with PyTorch, chapter 5)",
        {"scale": 0.1, "lr": 1e-2, "epochs": 5000},
        units={"t_u": "unknown units", "t_c": "°C"},  # a model's presets for it live on the model (models/)
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
        SYNTHETIC,
        {"lr": 0.5, "epochs": 1000},
        _synthetic,
        lambda: Shape("synthetic", 100, synthetic_features(1), SYNTHETIC_TARGETS, SYNTHETIC),
        default_rows=100,
    ),
}


def is_file(name: str) -> bool:
    """Whether a dataset name is a data file's path: neither a built-in (which wins) nor "-" (stdin)."""
    return name not in BUILTINS and name != STDIN


def generated_bytes(rows: int, features: int, itemsize: int) -> int:
    """Memory generated data takes: float64 as drawn, plus (to train, `itemsize` bytes a value) the
    training copy and the epoch's work: a residual, its square and a gradient term per row (autograd
    keeps about that many), and the split's gathered rows."""
    per_row = (features + 1) * 8 + ((features + 1) * 2 + 4) * itemsize
    return rows * per_row


def check_memory(rows: int, features: int, dtype: str | None) -> None:
    """Refuse generated data that would not fit in the memory available now, before drawing a row.

    `dtype` is the training dtype (a float32 or float64 copy is made to train), or None
    when the rows are only drawn (`gdcli datasets`).
    """
    itemsize = {"float32": 4, "float64": 8, None: 0}[dtype]
    need = generated_bytes(rows, features, itemsize)
    have = available_memory()
    if have is None or need <= HEADROOM * have:
        return
    fits = int(HEADROOM * have) // generated_bytes(1, features, itemsize)
    kinds = "float64 as drawn" + (f", {dtype} to train" if dtype else "")
    if fits < 1000:
        hint = f"use fewer {param('features')}"
    else:
        hint = f"use at most about {fits:,} rows here" + (f", or {param('dtype')} float32" if dtype == "float64" else "")
    raise GdcliError(
        f"{param('rows')} {rows:,} x {plural(features, 'feature')} needs about {need / 1024**3:.1f} GiB of memory"
        f" ({kinds}); {have / 1024**3:.1f} GiB is available",
        hint,
    )


def load_dataset(
    name: str,
    *,
    targets: tuple[str, ...] = (),
    seed: int = 42,
    rows: int | None = None,
    features: int | None = None,
) -> Dataset:
    """A built-in dataset by name, a data file (CSV, .csv.gz, Parquet) by path, or standard input
    for "-", with `targets` as its targets."""
    if len(set(targets)) != len(targets):
        twice = next(t for i, t in enumerate(targets) if t in targets[:i])
        raise GdcliError(f"{param('target')} {twice!r} is given twice", "name each target column once")
    entry = BUILTINS.get(name)
    _check_shape(name, entry, rows, features)
    if entry is not None:
        if targets:
            raise GdcliError(
                f"{param('target')} applies to data files, not to the built-in dataset {name!r}",
                f"drop {param('target')}, or pass a file path as {param('dataset')}",
            )
        if entry.generated:
            return entry.load(seed, entry.default_rows if rows is None else rows, features)
        return entry.load()
    if name == STDIN:
        return load_stdin(targets)
    path = Path(name)
    if not path.suffix.lower() in (".csv", ".gz", ".parquet", ".pq") and not path.exists():
        raise GdcliError(
            f"unknown dataset {name!r}",
            f"choose one of {', '.join(BUILTINS)} (see `gdcli datasets`), or give the path of a CSV or Parquet file",
        )
    return load_file(path, targets)


def _check_shape(name: str, entry: Builtin | None, rows: int | None, features: int | None) -> None:
    """Refuse --rows and --features for data that is not generated, and values below 1."""
    for option, value in (("rows", rows), ("features", features)):
        if value is not None and (entry is None or not entry.generated):
            raise GdcliError(
                f"{param(option)} applies to the synthetic dataset only, not to {name!r}", f"drop {param(option)}"
            )
        if value is not None and value < 1:
            raise GdcliError(f"{param(option)} must be at least 1, got {value}", f"pass {param(option)} 100, for example")


def load_file(path: Path, targets: tuple[str, ...] = ()) -> Dataset:
    """A Dataset from a CSV, gzip CSV or Parquet file with a header; `targets` default to the last column."""
    from gdcli import readers

    table = readers.read(path)
    name = path.name
    for suffix in (".gz", ".csv", ".parquet", ".pq"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return _from_table(name, table, targets, f"data file {path}", {})


load_csv = load_file  # the name earlier versions used


def load_stdin(targets: tuple[str, ...] = ()) -> Dataset:
    """A Dataset from the table piped into standard input (read once per process, then kept); shown as "stdin"."""
    from gdcli import readers

    table = readers.read_stdin(f"cat data.csv | gdcli fit {param('dataset')} -")
    return _from_table(readers.STDIN, table, targets, "data piped into standard input", {})


def load_inputs(source: str, features: tuple[str, ...]) -> np.ndarray:
    """The columns `features` of every row of a data file, or of standard input for "-": (n, k) float64.

    Other columns are neither converted nor checked; a missing feature is a GdcliError
    naming it and the file's columns. The core speaks of `input` (predict's --input).
    """
    from gdcli import readers

    need = f"the run's {'feature' if len(features) == 1 else 'features'}"
    if source == STDIN:
        table = readers.read_stdin(f"cat rows.csv | gdcli predict RUN_FILE {param('input')} -", features, need)
    else:
        if not source.strip():
            raise GdcliError(f"{param('input')} is empty", "give the path of a CSV, .csv.gz or Parquet file, or - for stdin")
        table = readers.read(Path(source), columns=features, need=need)
    return table.matrix(features)


def _from_table(name: str, table, targets, description: str, preset: dict) -> Dataset:
    header = list(table.header)
    targets = tuple(targets or (header[-1],))
    names, chosen = set(header), set(targets)  # sets: a wide file's names are looked up in linear work
    for t in targets:
        if t not in names:
            raise GdcliError(
                f"target column {t!r} is not in {table.source}",
                f"choose {param('target')} from its columns: {', '.join(header)}",
            )
    if len(chosen) == len(header):
        raise GdcliError(
            "every column is a target, so no feature is left", f"name fewer {param('target')} columns"
        )
    features = tuple(c for c in header if c not in chosen)
    return Dataset(
        name, table.matrix(features), table.matrix(targets), features, targets, description, dict(preset),
        source=table.source, columns=tuple(header), locate=table.locate,
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

    def fold(self, weight: Tensor, bias: Tensor) -> tuple[Tensor, Tensor]:
        """A layer W x' + b on transformed inputs as one on raw inputs, exactly, in the tensors' dtype:
        with x' = (x * scale - mean) / std it is (W * scale / std) x + (b - W mean / std)."""
        import torch

        k = weight.shape[-1]
        factor = torch.full((k,), float(self.scale), dtype=weight.dtype)
        shift = torch.zeros(k, dtype=weight.dtype)
        if self.mean is not None:
            std = torch.tensor(self.std, dtype=weight.dtype)
            factor, shift = factor / std, torch.tensor(self.mean, dtype=weight.dtype) / std
        return weight * factor, bias - weight @ shift

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


@dataclass(frozen=True, eq=False)
class Prepared:
    """One run's training tensors, split and transformed, and the way back to the rows as read."""

    X_train: Tensor  # (n_train, k), transformed, in the training dtype, on the device
    y_train: Tensor  # (n_train, targets)
    X_val: Tensor | None
    y_val: Tensor | None
    transform: Transform
    dataset: Dataset
    train_index: Tensor | None  # the dataset rows trained on, in order (None: all rows, in file order)
    val_index: Tensor | None  # the validation rows (None: no split)
    cache: dict = field(default_factory=dict)  # what gram() and reference() compute once

    @property
    def n_train(self) -> int:
        """Training rows."""
        return self.X_train.shape[0]

    @property
    def n_val(self) -> int:
        """Validation rows (0 without a split)."""
        return 0 if self.X_val is None else self.X_val.shape[0]

    def reference(self, part: str = "train") -> Iterator[tuple[Tensor, Tensor]]:
        """The rows of `part` (train or val) in float64 chunks, transformed but never rounded to the
        training dtype: what the optimum and the final losses are measured on, so that rounding
        the data to float32 shows in the gap instead of hiding in the optimum."""
        from gdcli import stats

        # Sums over the rows do not depend on their order: gathered in file order, chunk by
        # chunk, the reads are sequential (a shuffled index makes them random).
        index = self.train_index if part == "train" else self.val_index
        if index is not None:
            key = f"sorted {part}"
            if key not in self.cache:
                self.cache[key] = index.sort().values
            index = self.cache[key]
        return stats.rows(self.dataset.X, self.dataset.y, index, self.transform)

    def gram(self, of: str = "reference") -> Gram:
        """Gram statistics, computed once: of the float64 `reference` training rows (for the
        optimum and the stability bound), or of the `training` or `validation` tensors as
        rounded to the training dtype (for the gram method, so it sees what the others see)."""
        import torch

        from gdcli import stats

        if of == "training" and self.X_train.dtype == torch.float64 and self.X_train.device.type == "cpu":
            of = "reference"  # the same numbers
        if of not in self.cache:
            if of == "reference":
                chunks = self.reference("train")
            else:
                X, y = (self.X_train, self.y_train) if of == "training" else (self.X_val, self.y_val)
                size = stats.CHUNK_ROWS
                chunks = ((X[i : i + size], y[i : i + size]) for i in range(0, X.shape[0], size))
            self.cache[of] = stats.gram(chunks)
        return self.cache[of]


    def solution(self, plan) -> stats.Solution:
        """The least-squares optimum and the Hessian's top eigenvalue on the reference training rows,
        computed once (on the side `plan`, a stats.SolvePlan, chose) for every run and bound that needs them."""
        from gdcli import stats

        key = ("solution", plan.side)
        if key not in self.cache:
            self.cache[key] = stats.solve(plan, self.gram, lambda: self.reference("train"))
        return self.cache[key]


def split_rows(n: int, val_fraction: float, seed: int) -> tuple[Tensor | None, Tensor | None]:
    """A seeded shuffled split, the book's way: the last int(f * n) of a permutation validate.

    Returns the training and validation row indices, or (None, None) for no split (all rows train).
    """
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
        return None, None
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
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


def _spread(X: Tensor, index: Tensor | None, scale: float) -> tuple[Tensor, Tensor]:
    """Mean and (population) std of each scaled column over the rows `index`, float64, chunk by chunk."""
    n = X.shape[0] if index is None else index.shape[0]
    count, mean, var = 0, None, None
    for start in range(0, n, CHUNK_ROWS):
        rows = X[start : start + CHUNK_ROWS] if index is None else X[index[start : start + CHUNK_ROWS]]
        chunk = rows * scale
        m = chunk.shape[0]
        chunk_mean, chunk_var = chunk.mean(0), chunk.var(0, unbiased=False)
        if mean is None:  # one chunk: exactly torch's own mean and std of all the rows
            count, mean, var = m, chunk_mean, chunk_var
            continue
        total = count + m
        delta = chunk_mean - mean
        var = (count * var + m * chunk_var + delta.square() * (count * m / total)) / total
        mean = mean + delta * (m / total)
        count = total
    return mean, var.sqrt()


def _transformed(ds: Dataset, index: Tensor | None, transform: Transform, dtype, device, names_first_bad: list):
    """The rows `index` of X and y, transformed, in `dtype` on `device`: built chunk by chunk.

    Inputs are cast, then scaled, as the book does (0.1 * t_u in float32); standardized
    inputs are standardized in float64 and rounded once. Records the first (row, column)
    whose value the dtype cannot square in `names_first_bad`.
    """
    import torch

    X, y = torch.from_numpy(ds.X), torch.from_numpy(ds.y)
    n = X.shape[0] if index is None else index.shape[0]
    k = X.shape[1]
    X_out = torch.empty(n, k, dtype=dtype, device=device)
    y_out = torch.empty(n, y.shape[1], dtype=dtype, device=device)
    for start in range(0, n, CHUNK_ROWS):
        if index is None:
            rows = slice(start, start + CHUNK_ROWS)
            Xc, yc = X[rows], y[rows]
        else:
            rows = index[start : start + CHUNK_ROWS]
            Xc, yc = X[rows], y[rows]
        Xc = transform.apply(Xc).to(dtype) if transform.mean is not None else transform.apply(Xc.to(dtype))
        yc = yc.to(dtype)
        # Any value the dtype cannot square would make the squared loss overflow.
        both = torch.cat([Xc, yc], 1)
        bad = ~torch.isfinite(both * both)
        if bool(bad.any()):
            at = int(bad.any(1).nonzero()[0])
            row = start + at if index is None else int(rows[at])
            names_first_bad.append((row, bad[at].nonzero().flatten().tolist()))
        X_out[start : start + Xc.shape[0]].copy_(Xc)
        y_out[start : start + yc.shape[0]].copy_(yc)
    return X_out, y_out


def _refuse_range(ds: Dataset, bad: list, transform: Transform, dtype) -> None:
    """Name the first cell (in file order) whose transformed value the training dtype cannot square."""
    import torch

    row, cols = min(bad)
    names = ds.features + ds.targets
    order = ds.columns or names
    col = min((names[j] for j in cols), key=order.index)
    j = names.index(col)
    n_features = len(ds.features)
    raw = float(ds.X[row, j]) if j < n_features else float(ds.y[row, j - n_features])
    what = f"{raw:g}"
    if j < n_features:
        moved = raw * transform.scale
        if transform.mean is not None:
            moved = (moved - transform.mean[j]) / transform.std[j]
        if moved != raw:
            what += f" {'scaled' if transform.mean is None else 'standardized'} to {moved:g}"
    name = str(dtype).removeprefix("torch.")
    if j < n_features:
        rescale = f"rescale with {param('scale')} or {param('normalize')}"
    else:  # the transform leaves targets as they are
        rescale = (
            f"rescale column {col!r} in the file ({param('scale')} and {param('normalize')} transform inputs only)"
        )
    raise GdcliError(
        f"{ds.where(row)}, column {col!r}: {what} is too large for {name}",
        rescale if dtype == torch.float64 else f"use {param('dtype')} float64, or {rescale}",
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
    """Split, scale and (optionally) standardize with the training rows' statistics, in chunks.

    Raises GdcliError where an input or target, transformed and cast, cannot be squared in `dtype`.
    """
    import torch

    dtype = dtype or torch.float32
    train_index, val_index = split_rows(ds.n_rows, val_fraction, seed)
    if normalize:
        mean, std = _spread(torch.from_numpy(ds.X), train_index, scale)
        for col, m, s in zip(ds.features, mean.tolist(), std.tolist()):
            if not (math.isfinite(m) and math.isfinite(s)):
                raise GdcliError(
                    f"{ds.source or ds.name}, column {col!r}: values too large to standardize in float64",
                    f"shrink the values with {param('scale')} first (for example {param('scale')} 1e-100)",
                )
        # A constant column has no spread to divide by: centre it and leave it.
        std = torch.where(std > 0, std, torch.ones_like(std))
        # Standardize in float64, then round once: in float32, 1e8 + i would already be
        # rounded to steps of 8 before its mean is taken.
        transform = Transform(scale, tuple(mean.tolist()), tuple(std.tolist()))
    else:
        transform = Transform(scale)
    bad: list = []
    X_train, y_train = _transformed(ds, train_index, transform, dtype, device, bad)
    X_val = y_val = None
    if val_index is not None:
        X_val, y_val = _transformed(ds, val_index, transform, dtype, device, bad)
    if bad:
        _refuse_range(ds, bad, transform, dtype)
    return Prepared(X_train, y_train, X_val, y_val, transform, ds, train_index, val_index)
