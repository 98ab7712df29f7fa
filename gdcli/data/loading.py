"""Loading a dataset by name: a built-in, a data file by path (read by the reader its suffix picks),
or standard input for "-"."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, NamedTuple

from gdcli.data.builtins import BUILTINS, Builtin
from gdcli.data.columns import Choice, choose
from gdcli.data.dataset import STDIN, Dataset, from_table
from gdcli.errors import GdcliError, param

if TYPE_CHECKING:
    import numpy as np


class Picked(NamedTuple):
    """What the run settings say about a data file's columns."""

    targets: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    missing: str = "error"


def is_file(name: str) -> bool:
    """Whether a dataset name is a data file's path: neither a built-in (which wins) nor "-" (stdin)."""
    return name not in BUILTINS and name != STDIN


def load_dataset(
    name: str,
    *,
    targets: tuple[str, ...] = (),
    seed: int = 42,
    rows: int | None = None,
    features: int | None = None,
    inputs: tuple[str, ...] = (),
    drop: tuple[str, ...] = (),
    missing: str = "error",
) -> Dataset:
    """A built-in dataset by name, a data file (CSV, .csv.gz, Parquet) by path, or standard input
    for "-", with `targets` as its targets, `inputs` as its inputs, `drop` left out, and the rows with
    a gap left out (`missing` "drop") or refused ("error")."""
    if len(set(targets)) != len(targets):
        twice = next(t for i, t in enumerate(targets) if t in targets[:i])
        raise GdcliError(f"{param('target')} {twice!r} is given twice", "name each target column once")
    entry = BUILTINS.get(name)
    _check_shape(name, entry, rows, features)
    if entry is not None:
        _refuse_columns(name, targets=targets, inputs=inputs, drop=drop, missing=missing != "error")
        if entry.generated:
            return entry.load(seed, entry.default_rows if rows is None else rows, features)
        return entry.load()
    picked = Picked(targets, inputs, drop, missing)
    if name == STDIN:
        return load_stdin(targets, picked)
    from gdcli import readers

    path = Path(name)
    if not readers.known(path) and not path.exists() and not readers.is_parts(name):
        if name.endswith(("/", os.sep)):  # written as a folder: a folder of parts that is not there
            raise GdcliError(f"folder {name!r} not found", f"check the path passed to {param('dataset')}")
        # A name no reader's suffix ends, and no file: a mistyped built-in more likely than a file.
        raise GdcliError(
            f"unknown dataset {name!r}",
            f"choose one of {', '.join(BUILTINS)} (see `gdcli datasets`), or give the path of {readers.kinds()}",
        )
    return load_file(path, targets, picked)


def _refuse_columns(name: str, **given) -> None:
    """Refuse the settings that choose a data file's columns for a built-in dataset, as --target is refused."""
    for option, value in given.items():
        if value:
            flag = param("target" if option == "targets" else option)
            raise GdcliError(
                f"{flag} applies to data files, not to the built-in dataset {name!r}",
                f"drop {flag}, or pass a file path as {param('dataset')}",
            )


def _check_shape(name: str, entry: Builtin | None, rows: int | None, features: int | None) -> None:
    """Refuse --rows and --features for data that is not generated, and values below 1."""
    for option, value in (("rows", rows), ("features", features)):
        if value is not None and (entry is None or not entry.generated):
            raise GdcliError(
                f"{param(option)} applies to the synthetic dataset only, not to {name!r}", f"drop {param(option)}"
            )
        if value is not None and value < 1:
            raise GdcliError(f"{param(option)} must be at least 1, got {value}", f"pass {param(option)} 100, for example")


def load_file(path: Path, targets: tuple[str, ...] = (), picked: Picked | None = None) -> Dataset:
    """A Dataset from a CSV, gzip CSV or Parquet file with a header; `targets` default to the last column
    not left out, the inputs (`picked`) to every other numeric column that does not look like an id."""
    from gdcli import readers

    picked = picked or Picked(targets)
    where = str(path)
    choice = _choose(lambda: readers.text_columns(path, where), lambda: readers.read(path), where, picked)
    streamed = _streamed(path, choice, picked.missing)
    if streamed is not None:
        return streamed
    table = readers.read(path, columns=choice.used, missing=picked.missing)
    parts = readers.listing(path) if readers.is_parts(where) else None  # a folder or glob of parts
    name = _stem(Path(parts.folder).resolve().name if parts else path.name, readers.suffixes())
    return from_table(name, table, choice, parts.description if parts else f"data file {path}", {})


def _file_blocks(path: Path, features: tuple[str, ...], targets: tuple[str, ...], missing: str):
    """A function that reads a file's (X, y) float64 blocks afresh, with these columns and rule for gaps."""
    from gdcli import readers

    used = list(dict.fromkeys(features + targets))

    def blocks():
        for table in readers.blocks(path, str(path), used, missing=missing):
            yield table.matrix(features), table.matrix(targets)

    return blocks


def _streamed(path: Path, choice: Choice, missing: str) -> Dataset | None:
    """A file too big to hold twice, not read whole: its rows are read (and checked) block by block
    as they are trained on. A Parquet file's row count is in its metadata; any other file that streams
    is counted (and checked) in one streamed read first, where its size on disk could hold that many
    rows. None where it is read whole: a small file, a reader that does not stream, rows that may be
    left out for a gap (where they are, a message could not name by line), a file pyarrow cannot open."""
    import os
    from functools import partial

    from gdcli import readers
    from gdcli.data.generated import HOLD_BYTES, held_bytes

    where = str(path)
    if readers.is_parts(where):  # read whole (each part named by its own reader), then held once
        return None
    reader = readers.reader_for(path)
    if missing != "error" or reader.chunks is None:
        return None
    if reader is readers.PARQUET:
        try:
            import pyarrow.parquet as pq

            with pq.ParquetFile(path) as f:
                rows = f.metadata.num_rows
        except Exception:  # noqa: BLE001 - the whole read names what is wrong with the file
            return None
    elif os.path.getsize(path) * 8 > HOLD_BYTES:  # a compressed or terse file holds more rows than its bytes
        rows = sum(table.n_rows for table in readers.blocks(path, where, choice.used))
    else:
        return None
    if rows == 0 or held_bytes(rows, len(choice.used)):
        return None
    header = readers.header_of(where)
    return Dataset(
        _stem(path.name, readers.suffixes()), None, None, choice.inputs, choice.targets, f"data file {path}", {},
        source=where, columns=tuple(header or choice.used),
        locate=partial(reader.locate, path, where) if reader.locate else (lambda row: f"{where}, row {row + 1}"),
        left_out=dict(choice.left_out), blocks=_file_blocks(path, choice.inputs, choice.targets, missing), count=rows,
    )


def unheld(ds: Dataset, path: Path, missing: str = "error") -> Dataset:
    """A file's Dataset without its float64 arrays: its rows are read again, block by block, with the
    same columns and rule for gaps, each time they are needed (the training tensors hold the one copy)."""
    import dataclasses

    blocks = _file_blocks(path, ds.features, ds.targets, missing)
    locate = ds.locate
    if locate is not None and hasattr(locate, "__self__"):  # a Table's: keep how it names rows, not its columns
        locate = _light(locate.__self__).locate
    return dataclasses.replace(ds, X=None, y=None, count=ds.n_rows, blocks=blocks, locate=locate)


def _light(table):
    """A Table that names its rows as `table` does, without its columns."""
    import dataclasses
    from functools import partial

    from gdcli.readers.table import _kept_place

    place = table.place
    if isinstance(place, partial) and place.func is _kept_place:
        inner, index = place.args
        place = partial(_kept_place, _light(inner), index)
    return dataclasses.replace(table, columns={}, text={}, place=place)


def _stem(name: str, suffixes: list[str]) -> str:
    """A data file's name without its reader's suffix and one more registered suffix before it:
    data.csv.gz -> data."""
    for _ in range(2):
        found = [s for s in suffixes if name.lower().endswith(s) and len(name) > len(s)]
        if not found:
            break
        name = name[: -len(max(found, key=len))]
    return name


load_csv = load_file  # the name earlier versions used


def load_stdin(targets: tuple[str, ...] = (), picked: Picked | None = None) -> Dataset:
    """A Dataset from the table piped into standard input (read once per process, then kept); shown as "stdin"."""
    from gdcli import readers

    picked = picked or Picked(targets)
    example = f"cat data.csv | gdcli fit {param('dataset')} -"
    readers.stdin_bytes(example)  # read once and kept; a stream that cannot be read says so here
    choice = _choose(lambda: readers.stdin_text_columns(example), lambda: readers.read_stdin(example),
                     readers.STDIN, picked)
    table = readers.read_stdin(example, choice.used, missing=picked.missing)
    return from_table(readers.STDIN, table, choice, "data piped into standard input", {})


def _choose(sample: Callable, read: Callable, where: str, picked: Picked) -> Choice:
    """The columns a run uses, from the file's header and first rows; a file whose header cannot
    be read is read whole, which names its first problem as a read always has."""
    try:
        header, text = sample()
    except GdcliError:
        read()  # raises the whole read's message (a problem that outranks the header's)
        raise
    if not header:
        read()  # a Parquet file pyarrow cannot open: the read says why
    return choose(header, where, inputs=picked.inputs, targets=picked.targets, drop=picked.drop, text=text)


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


