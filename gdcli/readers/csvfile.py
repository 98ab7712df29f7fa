"""The CSV and gzip CSV readers: pyarrow's multithreaded float64 read, checked by gdcli's CSV rules.

A CSV is read in one pass by pyarrow with every column typed float64; no row ever
becomes a Python object. A read may pick the columns it needs (`columns`): the
others are neither converted nor checked, so that a file may carry an id or a label
beside the numbers. Whatever pyarrow refuses, or a cell gdcli refuses (NaN, inf, an
empty cell), is named by gdcli's own rules (csvrules). pyarrow is imported inside
functions: the CLI must start fast.
"""

from __future__ import annotations

from functools import partial
from typing import Iterator, Sequence

from gdcli.errors import GdcliError
from gdcli.readers import csvrules as rules
from gdcli.readers import csvtext
from gdcli.readers.csvrules import BLANKS, GAPS, GZIP_ERRORS, CsvSource, Gzipped
from gdcli.readers.table import _DECODE_HINT, Table, first_bad, kept, numpy_column, pick


def _stream(path: CsvSource):
    """The source as a pyarrow input stream (bytes: without a copy)."""
    import pyarrow as pa

    if isinstance(path, bytes):
        return pa.input_stream(pa.py_buffer(path))
    if isinstance(path, Gzipped):
        return pa.input_stream(str(path.path), compression="gzip")
    return pa.input_stream(str(path))


def header(path: CsvSource, where: str) -> tuple[str, ...]:
    """The column names of a CSV's first record, checked; raises what reading it would raise."""
    with rules.text(path) as f:
        line, cells = next(rules.records(f, where), (0, None))
    return tuple(rules.check_header(line, cells, where))


def locate(path: CsvSource, where: str, row: int) -> str:
    """How a message names data row `row` (0-based): by its line, found by one scan of the file."""
    # The file is scanned on the error path only: no per-row line numbers are kept.
    return f"{where}, line {rules.record(path, where, row)[0]}"


def _locate_after(path: CsvSource, where: str, start: int, row: int) -> str:
    """`locate` for a block whose first row is data row `start`."""
    return locate(path, where, start + row)


def _header_line(path: CsvSource, where: str, least: int) -> tuple[int, list[str]]:
    """The header's line and names, by gdcli's own checks (the full diagnosis names any problem there,
    as it also knows whether an earlier-ranking problem, bad UTF-8 or a broken quote, exists)."""
    try:
        with rules.text(path) as f:
            line, cells = next(rules.records(f, where), (0, None))
        return line, rules.check_header(line, cells, where, least)
    except (GdcliError, UnicodeDecodeError, OSError, *GZIP_ERRORS):
        rules.diagnose(path, where, least=least)
        raise


def read(
    path: CsvSource, where: str, columns: Sequence[str] | None = None, need: str = "",
    text: Sequence[str] = (), missing: str = "error",
) -> Table:
    """A CSV or gzip CSV as a Table: pyarrow's float64 read, checked by gdcli's CSV rules; the columns
    `text` as trimmed strings; with missing "drop", the rows with a gap in a column read left out."""
    least = 2 if columns is None else 1  # a dataset needs a feature and a target; a pick may be one column
    line, names = _header_line(path, where, least)
    if text and columns is None:
        columns = [name for name in names if name not in set(text)]
    picked = pick(names, columns, where, need)
    pick(names, text, where, need)
    place = partial(locate, path, where)
    if text or missing == "drop":
        whole = None if text else _whole(path, where, names, line, picked)
        return whole or csvtext.read(path, where, names, line, picked, text, missing, least, place)
    table = _arrow_table(path, where, names, line, picked, least)
    if not table.num_rows:
        rules.diagnose(path, where, picked, least)  # raises: no data rows (or a problem that outranks it)
        raise AssertionError(f"{where}: no data rows, yet the rules accept it")
    values = [numpy_column(column) for column in table.columns]
    _check_finite(path, where, values, names, picked, gaps=any(column.null_count for column in table.columns))
    chosen = [names[i] for i in picked]
    return Table(tuple(names), dict(zip(chosen, values)), table.num_rows, where, place)


def _whole(path: CsvSource, where: str, names: list[str], line: int, picked: list[int]) -> Table | None:
    """The fast float64 read of a file that holds finite numbers only in the columns `picked`; None
    for any other (a gap, a quoted number, a problem): the text read then tells them apart."""
    import pyarrow as pa

    ids = [f"c{i}" for i in range(len(names))]
    try:
        with _stream(path) as stream:
            table = _arrow_csv(stream, ids, line, pa.float64(), [""], [ids[i] for i in picked], quote_char=False)
    except (pa.ArrowException, OSError):
        return None
    values = [numpy_column(column) for column in table.columns]
    if not table.num_rows or any(column.null_count for column in table.columns) or first_bad(values) is not None:
        return None
    chosen = [names[i] for i in picked]
    return Table(tuple(names), dict(zip(chosen, values)), table.num_rows, where, partial(locate, path, where))


def _check_finite(path: CsvSource, where: str, values: list, names: list[str], picked: list[int], gaps: bool) -> None:
    """Name the first cell that is no finite number; a gap (an empty cell) is named by the whole diagnosis,
    which counts the rows that have one."""
    bad = first_bad(values)
    if bad is not None and gaps:
        rules.diagnose(path, where, picked, 2 if len(picked) == len(names) else 1)
    if bad is not None:
        # The cell's text, for the message, comes from one scan of the file up to its row.
        try:
            rules.check_row(*rules.record(path, where, bad[0]), names, where, picked)
        except rules.Gap:  # a NaN cell is a gap: the whole diagnosis counts the rows that have one
            rules.diagnose(path, where, picked, 2 if len(picked) == len(names) else 1)
            raise
        raise AssertionError(f"{where}: pyarrow read a non-finite value in data row {bad[0]} that gdcli accepts")


def _arrow_table(path: CsvSource, where: str, names: list[str], line: int, picked: list[int], least: int):
    """The columns `picked` of every data record, as a pyarrow table of float64 columns, blank records left out."""
    import pyarrow as pa

    ids = [f"c{i}" for i in range(len(names))]
    chosen = [ids[i] for i in picked]
    try:
        # No quoting: a quote is never part of a number, so a quoted cell fails here and
        # is judged by gdcli's rules below (`"2" ` is malformed there, not 2).
        with _stream(path) as stream:
            table = _arrow_csv(stream, ids, line, pa.float64(), [""], chosen, quote_char=False)
    except (pa.ArrowException, OSError):
        rules.diagnose(path, where, picked, least)  # raises gdcli's message, or returns: the rules accept the file
        return _read_strings(path, where, ids, line, chosen)
    if len(picked) != len(names) and any(column.null_count for column in table.columns):
        # An empty cell among the columns read: blank records are skipped, but a record with
        # text in the columns left unread is not blank. The rules tell them apart.
        rules.diagnose(path, where, picked, least)
    # An empty cell is a null; a record of empty cells (",,") is skipped like a blank line.
    if all(column.null_count for column in table.columns):
        import pyarrow.compute as pc

        blank = table.column(0).is_null()
        for column in table.columns[1:]:
            blank = pc.and_(blank, column.is_null())
        table = table.filter(pc.invert(blank))
    return table


class _Refused(Exception):
    """A block holds something the streamed read leaves to the whole read (a null, a non-finite value)."""


def chunks(
    path: CsvSource, where: str, columns: Sequence[str] | None = None, need: str = "",
    text: Sequence[str] = (), missing: str = "error", block: int = 1 << 20,
) -> Iterator[Table]:
    """The rows of a CSV as Tables of consecutive rows, one block of the file (`block` bytes) in memory at a time.

    The block is 1 MB: pyarrow reads ahead of the consumer, and with 16 MB blocks the memory held
    grew with the file (860 MB to score 12M rows), where 1 MB blocks hold it flat (about 140 MB
    for 2M or 12M rows) and read as fast.

    Every block is checked as `read` checks the whole file. A block that holds anything
    but finite numbers (a gap among them), or that pyarrow refuses, hands over to `read`: it
    names the problem in read's words, or (a file the rules accept, such as quoted numbers,
    or gaps left out) gives the rows left. The columns `text` come beside, block by block.
    """
    import pyarrow as pa

    least = 2 if columns is None else 1
    line, names = _header_line(path, where, least)
    if text and columns is None:
        columns = [name for name in names if name not in set(text)]
    picked = pick(names, columns, where, need)
    pick(names, text, where, need)
    whole = partial(read, path, where, columns, need, text, missing)
    if not picked:  # text only: nothing to stream by
        yield whole()
        return
    chosen = [names[i] for i in picked]
    done = rows = 0
    try:
        strings = csvtext.TextRows(path, names, line, text, block)
        for batch in _blocks(path, names, line, picked, block, GAPS if missing == "drop" else ("",)):
            values = [numpy_column(column) for column in batch.columns]
            table = Table(tuple(names), dict(zip(chosen, values)), batch.num_rows, where,
                          partial(_locate_after, path, where, done), strings.take(batch.num_rows))
            if missing == "drop":
                table = _without_gaps(table, batch)
            elif any(column.null_count for column in batch.columns):
                raise _Refused
            if first_bad(list(table.columns.values())) is not None:
                raise _Refused
            yield table
            done, rows = done + batch.num_rows, rows + table.n_rows
    except (pa.ArrowException, OSError, _Refused, *GZIP_ERRORS):
        yield _rows_from(whole(), rows, done - rows)
        return
    if not rows:
        whole()  # raises: no data rows, or none without a gap


def _without_gaps(table: Table, batch) -> Table:
    """A streamed block without its rows that have a gap (null or NaN) in a column read. A record whose
    every cell read is empty may be a blank record, which the rules skip rather than count: such a
    block is left to the whole read (_Refused)."""
    import numpy as np

    if not any(column.null_count for column in batch.columns) and first_bad(list(table.columns.values())) is None:
        return table
    empty = np.ones(table.n_rows, dtype=bool)
    gap = np.zeros(table.n_rows, dtype=bool)
    for column, values in zip(batch.columns, table.columns.values()):
        empty &= column.is_null().to_numpy(zero_copy_only=False)
        gap |= np.isnan(values)
    if empty.any():
        raise _Refused
    return kept(table, ~gap)


def _blocks(path: CsvSource, names: list[str], line: int, picked: list[int], block: int, gaps=("",)):
    """pyarrow's record batches of the columns `picked`, as float64, block by block; the cells `gaps`
    read as nulls."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    ids = [f"c{i}" for i in range(len(names))]
    chosen = [ids[i] for i in picked]
    with _stream(path) as stream:
        yield from pcsv.open_csv(
            stream,
            read_options=pcsv.ReadOptions(column_names=ids, skip_rows=line, block_size=block),
            parse_options=pcsv.ParseOptions(quote_char=False),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(chosen, pa.float64()), null_values=list(gaps), include_columns=chosen
            ),
        )


def _rows_from(table: Table, start: int, counted: int = 0) -> Table:
    """The rows of a Table from row `start` on, named where the whole table names them; `counted` of its
    rows left out for a gap were in the blocks before, and said there."""
    columns = {name: values[start:] for name, values in table.columns.items()}
    text = {name: cells[start:] for name, cells in table.text.items()}
    return Table(table.header, columns, table.n_rows - start, table.source, partial(_shifted, table, start),
                 text, table.dropped - counted)


def _shifted(table: Table, start: int, row: int) -> str:
    """Where the whole table names row `start + row`."""
    return table.locate(start + row)


def _arrow_csv(source, ids: list[str], line: int, kind, nulls: list[str], chosen: list[str], **parse):
    """The data records of a CSV file or stream, after its header on line `line`: the columns `chosen`
    (of all the columns `ids`), each of type `kind`."""
    import pyarrow.csv as pcsv

    return pcsv.read_csv(
        source,
        # Every line up to the header's is skipped: pyarrow counts blank lines as the csv module does.
        read_options=pcsv.ReadOptions(column_names=ids, skip_rows=line),
        parse_options=pcsv.ParseOptions(**parse),
        convert_options=pcsv.ConvertOptions(
            column_types=dict.fromkeys(chosen, kind), null_values=nulls, include_columns=chosen
        ),
    )


def _read_strings(path: CsvSource, where: str, ids: list[str], line: int, chosen: list[str]):
    """The rows of a CSV that gdcli's rules accept but pyarrow's float64 reading refused, as float64."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # Cells padded with spaces around quotes, quoted numbers, blank records of any width:
    # read every cell as text, with quoting, and skip the records of the wrong width,
    # which the rules (just checked) allow for blank records only.
    try:
        # Python's gzip module, as in the diagnosis: it takes what pyarrow may not (padding after the data).
        with rules.binary(path) as f:
            table = _arrow_csv(f, ids, line, pa.string(), [], chosen, invalid_row_handler=lambda row: "skip")
    except (pa.ArrowException, OSError) as err:
        raise GdcliError(f"cannot read {where!r}: {err}", _DECODE_HINT) from None
    # A kept record holds finite numbers only (in the columns read), each with a digit; a blank one holds no digit.
    table = table.filter(pc.match_substring_regex(table.column(0), "[0-9]"))
    return pa.table([pc.cast(pc.utf8_trim(c, BLANKS), pa.float64()) for c in table.columns], names=chosen)
