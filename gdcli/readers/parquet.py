"""The Parquet reader: integer and floating-point columns through pyarrow, as float64 numpy columns.

Rows are named by number ("data.parquet, row 8"): a Parquet file has no lines.
pyarrow is imported inside functions: the CLI must start fast.
"""

from __future__ import annotations

from typing import Iterator, Sequence

from gdcli.errors import GdcliError
from gdcli.readers.table import Source, Table, first_bad, numpy_column, pick

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


def read(path: Source, where: str, columns: Sequence[str] | None = None, need: str = "") -> Table:
    """A Parquet file as a Table: every column (or those named) as float64, all finite."""
    import pyarrow as pa

    try:
        with _open(path) as f:
            full = f.schema_arrow.names
            check_header(full, where, columns, need)  # before reading: a column is read by its name
            table = f.read(columns=None if columns is None else list(columns), use_threads=True)
    except (pa.ArrowException, OSError) as err:
        raise GdcliError(f"cannot read {where!r} as a Parquet file: {err}", _HINT) from None
    _check_types(table.column_names, table.columns, where)
    if not table.num_rows:
        raise GdcliError(f"{where} has no data rows", "add at least one row of numbers")
    values = _values(table.column_names, table.columns, where, 0)
    return Table(tuple(full), dict(zip(table.column_names, values)), table.num_rows, where)


def chunks(
    path: Source, where: str, columns: Sequence[str] | None = None, need: str = "", rows: int = 1 << 16
) -> Iterator[Table]:
    """The rows of a Parquet file as Tables of consecutive rows, one batch of `rows` in memory at a time,
    each checked as `read` checks the whole file (a bad cell is named by its row in the file)."""
    import pyarrow as pa

    done = 0
    try:
        with _open(path) as f:
            full = f.schema_arrow.names
            check_header(full, where, columns, need)
            for batch in f.iter_batches(rows, columns=None if columns is None else list(columns), use_threads=True):
                values = _values(batch.schema.names, batch.columns, where, done)
                yield Table(tuple(full), dict(zip(batch.schema.names, values)), batch.num_rows, where)
                done += batch.num_rows
    except (pa.ArrowException, OSError) as err:
        raise GdcliError(f"cannot read {where!r} as a Parquet file: {err}", _HINT) from None
    if not done:
        raise GdcliError(f"{where} has no data rows", "add at least one row of numbers")


def _check_types(names, columns, where: str) -> None:
    """Refuse a column of anything but integers or floating-point numbers."""
    import pyarrow as pa

    for name, column in zip(names, columns):
        if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
            raise GdcliError(
                f"{where}, column {name!r} holds {column.type} values, not numbers",
                "store every column as an integer or floating-point type",
            )


def _values(names, columns, where: str, start: int) -> list:
    """The columns as read-only float64 arrays, checked: all numbers, none missing, all finite.
    `start` is the file's row number of the first row, for the messages."""
    import pyarrow as pa

    _check_types(names, columns, where)
    # safe=False: an int64 beyond 2**53 rounds to the nearest float64, as float() rounds it.
    values = [numpy_column(column.cast(pa.float64(), safe=False)) for column in columns]
    bad = first_bad(values)
    if bad is not None:
        row, j = bad
        place = f"{where}, row {start + row + 1}, column {names[j]!r}"
        if not columns[j][row].is_valid:
            raise GdcliError(f"{place}: the value is missing (null)", "fill in or remove rows with missing values")
        value = float(values[j][row])
        raise GdcliError(f"{place}: {value!r} is not a finite number", "remove or fill in rows holding NaN or inf")
    return values


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
        if not name.strip():
            raise GdcliError(f"{where}: column {position + 1} has no name", "name every column")
        if name in seen:
            raise GdcliError(f"{where} names the column {name!r} twice", "give every column its own name")
        seen.add(name)
    pick(header, columns, where, need)
