"""A folder of parts (or a glob) read as one dataset: `--dataset data/`, `--dataset 'data/*.parquet'`.

Each part is read by the reader of its own kind, with that reader's rules and words, so a
bad cell is named by its part: "data/part-00003.csv, line 17, column 'x': ...". The parts'
rows are joined in order (`read`), or streamed part after part (`chunks`); `listing` says
which parts there are, their kind, columns and (Parquet) row counts without reading rows.
A part with no row to give (a header alone, or every row with a gap left out) adds none:
only a dataset with no row in any part is refused. The entry PARTS is registered: the
registry hands it every path it claims (a folder, a glob).
"""

from __future__ import annotations

import bisect
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, Sequence

from gdcli.readers import registry
from gdcli.readers.partlist import Parts, claims, found, listing  # noqa: F401 - the public names
from gdcli.readers.table import NoRows, Table, pick
from gdcli.text import plural


def read(
    path: str | Path, where: str, columns: Sequence[str] | None = None, need: str = "",
    text: Sequence[str] = (), missing: str = "error",
) -> Table:
    """Every part's rows joined in order, as one Table named `where` whose `locate` names a row's part
    and line; arguments as for `registry.read`."""
    parts = _picked(path, where, columns, need, text)
    dropped = [0]
    tables = _part_tables(parts, columns, need, text, missing, dropped)
    # Row counts known (Parquet, no row left out): each part goes straight into one copy of the whole.
    total = parts.n_rows if missing == "error" else None
    table = _joined(tables, parts.header, where, total)
    if table is None:
        raise _no_rows(parts, where, dropped[0])
    return replace(table, dropped=table.dropped + dropped[0])


def _part_tables(parts: Parts, columns, need: str, text, missing: str, dropped: list[int]) -> Iterator[Table]:
    """Each part's Table, read whole by its own reader; a part with no row left adds none (only its
    count of rows left out, to `dropped`)."""
    for part, name in zip(parts.paths, parts.names):
        try:
            yield registry.read(part, name, columns, need, text, missing)
        except NoRows as err:
            dropped[0] += err.dropped


def chunks(
    path: str | Path, where: str, columns: Sequence[str] | None = None, need: str = "",
    text: Sequence[str] = (), missing: str = "error",
) -> Iterator[Table]:
    """The rows of every part as Tables of consecutive rows, part after part, each block named by its
    part (a block in memory at a time where the parts' reader streams); arguments as for `read`."""
    parts = _picked(path, where, columns, need, text)
    rows = 0
    for part, name in zip(parts.paths, parts.names):
        try:
            for table in _part_blocks(part, name, columns, need, text, missing):
                rows += table.n_rows
                yield table
        except NoRows:  # a part with no row left adds none
            continue
    if not rows:
        read(path, where, columns, need, text, missing)  # raises: no row in any part


def _part_blocks(part: Path, name: str, columns, need: str, text, missing: str) -> Iterator[Table]:
    """One part's blocks, by its own reader."""
    if columns is not None:
        yield from registry.blocks(part, name, columns, need, text, missing)
        return
    reader = registry.reader_for(part)
    if reader.chunks is None:
        yield registry.read(part, name, columns, need, text, missing)
        return
    yield from reader.chunks(part, name, columns, need, **registry._used(text, missing))


def header(path: str | Path, where: str) -> tuple[str, ...]:
    """The column names every part has (the first part's order), without reading rows."""
    return listing(path).header


def sample(path: str | Path, where: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """The parts' header and the columns that hold text, from the first part that may hold rows."""
    parts = listing(path)
    first = next((i for i, n in enumerate(parts.rows) if n != 0), 0)
    _, text = registry.text_columns(parts.paths[first], parts.names[first])
    return parts.header, text


def check(path: str | Path, where: str) -> None:
    """Nothing to check before the listing: `listing` refuses a folder or glob with no data file."""


def _picked(path, where: str, columns, need: str, text) -> Parts:
    """The parts, with the columns asked for checked against their header (naming the dataset)."""
    parts = listing(path)
    pick(parts.header, columns, where, need)
    pick(parts.header, text, where, need)
    return parts


def _no_rows(parts: Parts, where: str, dropped: int) -> NoRows:
    """The error for parts that hold no row left to read."""
    if dropped:
        return NoRows(
            f"every row of {where} has a gap (a null, NaN or empty cell) in a column read: {dropped:,} left out",
            "fill in the gaps, or read other columns: no row is whole in the columns read", dropped,
        )
    return NoRows(f"{where} has no data rows in any of its {plural(len(parts.paths), 'part')}",
                  "add at least one row of numbers")


def _joined(tables: Iterator[Table], header: tuple[str, ...], where: str, total: int | None) -> Table | None:
    """The Tables of the parts as one, row after row (None for none); a row is named where its part
    names it. With `total` rows known, each part is copied into place as it is read, never held beside
    the whole; else the parts are held, then joined."""
    import numpy as np

    columns: dict = {}
    held: dict[str, list] = {}
    text: dict[str, list[str]] = {}
    starts, places, dropped = [0], [], 0
    for table in tables:
        if not places:  # the first part with rows says which columns there are
            held = {name: [] for name in table.columns}
            columns = {name: np.empty(total, dtype=np.float64) for name in table.columns} if total else {}
            text = {name: [] for name in table.text}
        for name, values in table.columns.items():
            if columns:
                columns[name][starts[-1]: starts[-1] + table.n_rows] = values
            else:
                held[name].append(values)
        for name, cells in table.text.items():
            text[name] += cells
        # The part's own namer, not its Table: that holds its columns, which are copied.
        places.append(table.place or partial(_by_number, table.source))
        starts.append(starts[-1] + table.n_rows)
        dropped += table.dropped
    if not places:
        return None
    if not columns:
        columns = {name: np.concatenate(values) if len(values) > 1 else values[0] for name, values in held.items()}
    for values in columns.values():
        values.flags.writeable = False
    return Table(tuple(header), columns, starts[-1], where, partial(_place, starts, places), text, dropped)


def _place(starts: list[int], places: list[Callable[[int], str]], row: int) -> str:
    """Where row `row` of the joined parts is: its part's own name for it."""
    i = bisect.bisect_right(starts, row) - 1
    return places[i](row - starts[i])


def _by_number(source: str, row: int) -> str:
    """How a Table with no namer of its own names a row."""
    return f"{source}, row {row + 1}"


PARTS = registry.register(registry.Reader(
    "folder of parts", (), "a folder (or a glob) of CSV, gzip CSV or Parquet parts read as one dataset",
    read, header, chunks=chunks, sample=sample, noun="data", example=".csv", claims=claims, check=check,
))
