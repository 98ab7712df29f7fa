"""Which columns of a data file hold text, told from its header and first rows without reading it all.

A CSV column is text when none of the non-empty cells of its first SAMPLE records is a number
(a column that mixes numbers and text counts as numeric: reading it names its first bad cell).
A Parquet column is text when its schema's type is no integer or floating-point type.
"""

from __future__ import annotations

import itertools

from gdcli.readers import csvrules as rules
from gdcli.readers import parquet
from gdcli.readers.csvrules import GAPS, CsvSource

SAMPLE = 1000  # records looked at


def csv_text(path: CsvSource, where: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """A CSV's header (checked as a read checks it) and its text columns, each with the message that
    names its first non-number ("data.csv, line 3, column 'city': 'Paris' is not a number ...")."""
    with rules.text(path) as f:
        found = rules.records(f, where)
        line, cells = next(found, (0, None))
        header = rules.check_header(line, cells, where)
        first: dict[int, str] = {}
        numeric: set[int] = set()
        for line, row in itertools.islice(found, SAMPLE):
            for j, cell in enumerate(row[: len(header)]):
                value = cell.strip(rules.BLANKS)
                if value in GAPS or j in numeric:
                    continue
                if rules.is_number(value):
                    numeric.add(j)
                else:
                    first.setdefault(j, f"{where}, line {line}, column {header[j]!r}: {value!r} is not a number"
                                        " (the column holds text)")
    return tuple(header), {header[j]: place for j, place in first.items() if j not in numeric}


def parquet_text(path, where: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """A Parquet file's column names and the columns whose type is no number type, each named with a
    value from its first rows (one batch of those columns is read)."""
    import pyarrow as pa

    try:
        with parquet._open(path) as f:
            schema = f.schema_arrow
            kinds = dict(zip(schema.names, schema.types))
            text = [name for name, kind in kinds.items() if not parquet.holds_numbers(kind)]
            batch = next(f.iter_batches(SAMPLE, columns=text), None) if text else None
    except (pa.ArrowException, OSError):
        return (), {}  # reading it names the problem
    found = {name: parquet.not_numbers(where, name, kinds[name], None if batch is None else batch.column(name))
             for name in text}
    return tuple(schema.names), {name: message for name, (message, _) in found.items()}


def stdin_text(data: bytes, where: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """The header and text columns of the table standard input held: Parquet by its first bytes, else CSV."""
    return parquet_text(data, where) if data.startswith(parquet.MAGIC) else csv_text(data, where)
