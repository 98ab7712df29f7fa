"""The Parquet reader: integer and floating-point columns through pyarrow, as float64 numpy columns.

Rows are named by number ("data.parquet, row 8"): a Parquet file has no lines.
pyarrow is imported inside functions: the CLI must start fast.
"""

from __future__ import annotations

import math

from functools import partial
from typing import Iterator, Sequence

from gdcli.errors import GdcliError, param
from gdcli.readers.table import NoRows, Source, Table, first_bad, kept, numpy_column, pick

_HINT = "pass a Parquet file (.parquet, .pq) or a CSV file"
MAGIC = b"PAR1"  # how a Parquet file starts (standard input is told apart by it)


def _open(path: Source):
    import pyarrow as pa
    import pyarrow.parquet as pq

    # ParquetFile, not read_table: the dataset layer refuses duplicate names unexplained.
    return pq.ParquetFile(pa.BufferReader(path) if isinstance(path, bytes) else path)


def header(path: Source, where: str) -> tuple[str, ...] | None:
    """The column names in a Parquet file's schema, without reading its rows; None where pyarrow cannot read it."""
    import pyarrow as pa

    try:
        with _open(path) as f:
            return tuple(f.schema_arrow.names)
    except (pa.ArrowException, OSError):
        return None


def locate(path: Source, where: str, row: int) -> str:
    """How a message names data row `row` (0-based): by number, from 1."""
    return f"{where}, row {row + 1}"


def read(
    path: Source, where: str, columns: Sequence[str] | None = None, need: str = "",
    text: Sequence[str] = (), missing: str = "error",
) -> Table:
    """A Parquet file as a Table: every column (or those named) as float64, all finite; the columns
    `text` as str() of each value (null as ""); with missing "drop", rows with a null or NaN left out."""
    import pyarrow as pa

    try:
        with _open(path) as f:
            full = f.schema_arrow.names
            numbers = _numbers(full, columns, text)
            check_header(full, where, numbers, need)  # before reading: a column is read by its name
            pick(full, text, where, need)
            table = f.read(columns=_wanted(numbers, text), use_threads=True)
    except (pa.ArrowException, OSError) as err:
        raise GdcliError(f"cannot read {where!r} as a Parquet file: {err}", _HINT) from None
    read_as_numbers = table.column_names if numbers is None else numbers
    _check_types(read_as_numbers, [table.column(name) for name in read_as_numbers], where)
    if not table.num_rows:
        raise NoRows(f"{where} has no data rows", "add at least one row of numbers")
    found = _block(table, full, numbers, text, where, 0, missing)
    if not found.n_rows:
        raise NoRows(
            f"every row of {where} has a gap (a null or NaN) in a column read: {found.dropped} left out",
            "fill in the gaps, or read other columns: no row is whole in the columns read", found.dropped,
        )
    return found


def chunks(
    path: Source, where: str, columns: Sequence[str] | None = None, need: str = "",
    text: Sequence[str] = (), missing: str = "error", rows: int = 1 << 16,
) -> Iterator[Table]:
    """The rows of a Parquet file as Tables of consecutive rows, one batch of `rows` in memory at a time,
    each checked as `read` checks the whole file (a bad cell is named by its row in the file); with
    missing "drop", each batch leaves out its own rows with a gap."""
    import pyarrow as pa

    done = kept_rows = 0
    try:
        with _open(path) as f:
            full = f.schema_arrow.names
            numbers = _numbers(full, columns, text)
            check_header(full, where, numbers, need)
            pick(full, text, where, need)
            for batch in f.iter_batches(rows, columns=_wanted(numbers, text), use_threads=True):
                found = _block(batch, full, numbers, text, where, done, missing, block=True)
                done += batch.num_rows
                kept_rows += found.n_rows
                yield found  # even with no rows left: its dropped rows count
    except (pa.ArrowException, OSError) as err:
        raise GdcliError(f"cannot read {where!r} as a Parquet file: {err}", _HINT) from None
    if not done:
        raise NoRows(f"{where} has no data rows", "add at least one row of numbers")
    if not kept_rows:
        raise NoRows(
            f"every row of {where} has a gap (a null or NaN) in a column read: {done} left out",
            "fill in the gaps, or read other columns: no row is whole in the columns read", done,
        )


def _numbers(full: list[str], columns: Sequence[str] | None, text: Sequence[str]) -> list[str] | None:
    """The columns read as numbers: those named, or (None) every column but the text ones."""
    if columns is None and text:
        return [name for name in full if name not in set(text)]
    return None if columns is None else list(columns)


def _wanted(numbers: list[str] | None, text: Sequence[str]) -> list[str] | None:
    """The columns to read from the file, each once (None: all)."""
    if numbers is None:
        return None
    return list(dict.fromkeys([*numbers, *text]))


def _block(table, full, numbers, text, where: str, start: int, missing: str, block: bool = False) -> Table:
    """A Table of a pyarrow table or batch whose first row is the file's row `start`: its numbers
    checked (rows with a gap left out, with missing "drop"), its text columns as strings."""
    import numpy as np

    names = table.schema.names if numbers is None else numbers
    columns = [table.column(name) for name in names]
    keep = None
    if missing == "drop":
        keep = np.ones(table.num_rows, dtype=bool)
        for column in columns:
            keep &= _filled(column)
    values = _values(names, columns, where, start, keep, block)
    strings = {name: _strings(table.column(name)) for name in text}
    found = Table(tuple(full), dict(zip(names, values)), table.num_rows, where, partial(_row, where, start),
                  strings)
    return found if keep is None else kept(found, keep)


def _row(where: str, start: int, row: int) -> str:
    """How a message names row `row` of a block that starts at the file's row `start`."""
    return f"{where}, row {start + row + 1}"


def _filled(column):
    """Where a column holds a value: neither null nor NaN (a boolean numpy array)."""
    import numpy as np
    import pyarrow as pa

    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        return np.ones(len(column), dtype=bool)  # refused as it is by the type check
    values = column.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
    return ~np.isnan(values)


def _strings(column) -> list[str]:
    """A column's values as text: str() of each Python value, null as ""."""
    return ["" if value is None else str(value) for value in column.to_pylist()]


def _check_types(names, columns, where: str) -> None:
    """Refuse a column of anything but integers or floating-point numbers."""
    import pyarrow as pa

    for name, column in zip(names, columns):
        if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
            message, hint = not_numbers(where, name, column.type, column)
            raise GdcliError(message, hint)


def holds_numbers(kind) -> bool:
    """Whether a column of this Arrow type is read as numbers (an all-null column reads as gaps)."""
    import pyarrow as pa

    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_null(kind)


def not_numbers(where: str, name: str, kind, column=None) -> tuple[str, str]:
    """(message, hint) for a column whose type holds no numbers, with its first value where `column` is given."""
    first = None if column is None else next((v for v in column.slice(0, 1000).to_pylist() if v is not None), None)
    shown = f" such as {first!r}" if first is not None else ""
    return (f"{where}, column {name!r} holds {kind} values{shown}, not numbers",
            "encode it as numbers first (an integer or floating-point type), or leave it out of the columns used")


def _values(names, columns, where: str, start: int, keep=None, block: bool = False) -> list:
    """The columns as read-only float64 arrays, checked: all numbers, none missing, all finite (in the
    rows `keep`, a boolean array, where given). `start` is the file's row number of the first row;
    `block`: the rows are one block of the file, which a count of gaps says."""
    import numpy as np
    import pyarrow as pa

    _check_types(names, columns, where)
    # safe=False: an int64 beyond 2**53 rounds to the nearest float64, as float() rounds it.
    values = [numpy_column(column.cast(pa.float64(), safe=False)) for column in columns]
    index = None if keep is None else np.flatnonzero(keep)
    bad = first_bad(values if index is None else [column[index] for column in values])
    if bad is not None:
        row, j = bad
        row = row if index is None else int(index[row])
        place = f"{where}, row {start + row + 1}, column {names[j]!r}"
        value = float(values[j][row])
        if not columns[j][row].is_valid or math.isnan(value):  # a gap: a null, or NaN as pandas writes one
            n = len(columns[j])
            rows = f"rows {start + 1:,} to {start + n:,}" if block else "rows"
            what = "null" if not columns[j][row].is_valid else "NaN"
            raise GdcliError(
                f"{place}: the value is missing ({what}); {_gap_rows(values):,} of {n:,} {rows} have a gap",
                f"fill in or remove rows with missing values, or leave them out with {param('missing')} drop",
            )
        raise GdcliError(f"{place}: {value!r} is not a finite number", "remove or fill in rows holding inf")
    return values


def _gap_rows(values) -> int:
    """How many rows hold a null or NaN (read as NaN) in one of the columns."""
    import numpy as np

    gap = np.zeros(len(values[0]), dtype=bool)
    for column in values:
        gap |= np.isnan(column)
    return int(gap.sum())


def check_header(header: list[str], where: str, columns: Sequence[str] | None, need: str = "") -> None:
    """Refuse a schema of fewer than two columns (one for a pick), an unnamed column, a repeated name,
    or a missing column of `columns`."""
    if len(header) < (2 if columns is None else 1):
        raise GdcliError(
            f"{where} has {'a single column' if header else 'no columns'}",
            "a dataset needs at least one feature and one target column",
        )
    seen: set[str] = set()  # a set, not the names before each: a wide header is checked in linear work
    for position, name in enumerate(header):
        if not name.strip() and position:  # an unnamed first column is pandas' index
            raise GdcliError(f"{where}: column {position + 1} has no name", "name every column")
        if name in seen:
            raise GdcliError(f"{where} names the column {name!r} twice", "give every column its own name")
        seen.add(name)
    pick(header, columns, where, need)
