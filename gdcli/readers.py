"""Columnar readers for gdcli datasets: CSV, gzip CSV and Parquet through pyarrow, as float64 numpy columns.

A CSV is read in one pass by pyarrow with every column typed float64; no row ever
becomes a Python object. A source is a path, or bytes already in memory: standard
input (`--dataset -`, `predict --input -`) is read once per process and kept, since
a stream cannot be read twice and a process may load its dataset several times.
A read may pick the columns it needs (`columns`): the others are neither converted
nor checked, so that a file may carry an id or a label beside the numbers. pyarrow and gdcli's CSV rules agree on what a number is (the
NUMBER grammar of gdcli.text), but not on everything else, so whenever pyarrow
refuses a file, or holds a cell gdcli refuses (NaN, inf, an empty cell), the file
is streamed once more through the csv module, in the order and with the words of
the pure-Python reader this replaces, to name the first problem by line and
column. pyarrow and numpy are imported inside functions: the CLI must start fast.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import math
import os
import stat
import zlib
from dataclasses import dataclass, field
from pathlib import Path
import sys
from typing import TYPE_CHECKING, BinaryIO, Iterator, Sequence, TextIO, Union

from gdcli.errors import GdcliError, param
from gdcli.text import NUMBER

if TYPE_CHECKING:
    import numpy as np

_BLANKS = " \t"  # what pyarrow trims around a number, and all that gdcli's rules allow
_CHUNK = 1 << 16
_GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)
_DECODE_HINT = "pass a UTF-8 text CSV file"
_GZIP_MAGIC, _PARQUET_MAGIC = b"\x1f\x8b", b"PAR1"
STDIN = "stdin"  # how messages and listings name standard input

# A file by path, or the bytes of a stream already read (standard input), never gzip-compressed.
Source = Union[Path, bytes]


@dataclass(frozen=True, eq=False)  # eq=False: == on dicts of arrays has no single truth value
class Table:
    """Every column of a data file as a read-only 1-D float64 array, all finite, n_rows long."""

    header: tuple[str, ...]
    columns: dict[str, np.ndarray]
    n_rows: int
    source: str
    _csv: Source | None = field(default=None, repr=False)  # the CSV that locate() rescans; None: rows are numbered

    def matrix(self, names: Sequence[str]) -> np.ndarray:
        """The named columns side by side: a fresh C-contiguous (n_rows, len(names)) float64 array."""
        import numpy as np

        out = np.empty((self.n_rows, len(names)), dtype=np.float64)
        for j, name in enumerate(names):
            out[:, j] = self.columns[name]
        return out

    def locate(self, row: int) -> str:
        """Where data row `row` (0-based) is, for a message: "data.csv, line 7" or "data.parquet, row 8"."""
        if not 0 <= row < self.n_rows:
            raise IndexError(f"row {row} of {self.n_rows}")
        if self._csv is None:
            return f"{self.source}, row {row + 1}"
        # The file is scanned on the error path only: no per-row line numbers are kept.
        return f"{self.source}, line {_record(self._csv, self.source, row)[0]}"


def read(path: Path, where: str | None = None, columns: Sequence[str] | None = None, need: str = "") -> Table:
    """The table in `path` (.parquet/.pq, .gz gzip CSV, else CSV); messages call the file `where`.

    With `columns`, only those are read and checked (a missing one is named, with `need`
    saying what it is for); the Table's header still lists every column of the file.
    """
    path = Path(path)
    where = str(path) if where is None else where
    parquet = path.suffix.lower() in (".parquet", ".pq")
    _check_file(path, where, "Parquet" if parquet else "CSV", ".parquet" if parquet else ".csv")
    return _read_parquet(path, where, columns, need) if parquet else _read_csv(path, where, columns, need)


def read_stdin(example: str, columns: Sequence[str] | None = None, need: str = "") -> Table:
    """The table piped into standard input: CSV, gzip CSV or Parquet, told apart by their first bytes.

    `example` is a command line that pipes a file in, for the hints.
    """
    data = stdin_bytes(example)
    if data.startswith(_PARQUET_MAGIC):
        return _read_parquet(data, STDIN, columns, need)
    return _read_csv(data, STDIN, columns, need)


def header_of(name: str) -> tuple[str, ...] | None:
    """The column names of a data file, or of standard input for "-", without reading its rows.

    None where they cannot be read: loading the data then says why, in its own words.
    """
    try:
        if name == "-":
            source: Source = stdin_bytes("cat data.csv | gdcli fit --dataset -")  # kept for the load
            parquet = source.startswith(_PARQUET_MAGIC)
        else:
            source = Path(name)
            parquet = source.suffix.lower() in (".parquet", ".pq")
            _check_file(source, name, "data", "")
        if parquet:
            return _parquet_header(source)
        with _text(source) as f:
            line, cells = next(_records(f, name), (0, None))
        return tuple(_check_header(line, cells, name))
    except (GdcliError, OSError, UnicodeDecodeError, ValueError, *_GZIP_ERRORS):
        return None


def _parquet_header(source: Source) -> tuple[str, ...] | None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(pa.BufferReader(source) if isinstance(source, bytes) else source) as f:
            return tuple(f.schema_arrow.names)
    except (pa.ArrowException, OSError):
        return None


_STDIN: dict = {}  # {"stream": sys.stdin as read, "data": its bytes}: standard input, read once


def stdin_bytes(example: str) -> bytes:
    """Everything standard input holds (gzip undone), read at the first call and kept for the process.

    Raises GdcliError when standard input is a terminal (nothing was piped in), closed or empty.
    The cache belongs to the stream object: a test harness that swaps sys.stdin gets a fresh read.
    """
    stream = sys.stdin
    if _STDIN.get("stream") is stream and stream is not None:
        return _STDIN["data"]
    pipe = f"pipe the data in, for example: {example}"
    if stream is None:
        raise GdcliError("standard input is closed, so there is no data to read from it", pipe)
    try:
        terminal = stream.isatty()
    except (OSError, ValueError):
        terminal = False
    if terminal:
        raise GdcliError("standard input is a terminal: nothing was piped in to read", pipe)
    try:
        buffer = getattr(stream, "buffer", None)
        data = buffer.read() if buffer is not None else stream.read().encode("utf-8")
    except (OSError, ValueError) as err:
        raise GdcliError(f"cannot read standard input: {err}", pipe) from None
    except UnicodeDecodeError as err:  # a text-only stream (no .buffer) that is not UTF-8
        raise GdcliError(f"cannot read standard input: {err}", _DECODE_HINT) from None
    if data.startswith(_GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except _GZIP_ERRORS as err:
            raise GdcliError(
                f"cannot read {STDIN}: it starts like gzip but is not a whole gzip stream ({err})",
                "pipe a complete .csv.gz file, or the uncompressed CSV",
            ) from None
    if not data.strip():
        raise GdcliError("standard input is empty: a CSV needs a header row and at least one data row", pipe)
    _STDIN.update(stream=stream, data=data)
    return data


def _check_file(path: Path, where: str, kind: str, suffix: str) -> None:
    check = f"check the path passed to {param('dataset')}"
    # stat, not open: opening a FIFO would wait for a writer.
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise GdcliError(f"{kind} file {where!r} not found", check) from None
    except OSError as err:
        raise GdcliError(f"cannot read {where!r}: {err.strerror}", check) from None
    if stat.S_ISDIR(mode):
        hint = f"pass the path of a {suffix} file to {param('dataset')}"
        raise GdcliError(f"{where!r} is a folder, not a {kind} file", hint)
    if not stat.S_ISREG(mode):
        raise GdcliError(
            f"{where!r} is not a regular file (a device, pipe or socket)",
            f"save the data to a {suffix} file and pass its path to {param('dataset')}",
        )


# --- CSV: the fast path ---------------------------------------------------------------


def _gzipped(path: Source) -> bool:
    return not isinstance(path, bytes) and path.suffix.lower() == ".gz"


def _stream(path: Source):
    """The source as a pyarrow input stream (bytes: without a copy)."""
    import pyarrow as pa

    if isinstance(path, bytes):
        return pa.input_stream(pa.py_buffer(path))
    return pa.input_stream(str(path), compression="gzip" if _gzipped(path) else None)


def _pick(header: Sequence[str], columns: Sequence[str] | None, where: str, need: str) -> list[int]:
    """The positions of `columns` in the header (all of them for None); a missing one is a GdcliError."""
    if columns is None:
        return list(range(len(header)))
    first = _positions(header)
    for name in columns:
        if name not in first:
            why = f" ({need}: {', '.join(columns)})" if need else ""
            raise GdcliError(
                f"{where} has no column {name!r}{why}",
                f"its header names {', '.join(header)}: add a column {name!r}, or rename the one that holds it",
            )
    return [first[name] for name in columns]


def _positions(header: Sequence[str]) -> dict[str, int]:
    """Each name's first position in the header: a dict, so a wide header is looked up in linear work."""
    first: dict[str, int] = {}
    for position, name in enumerate(header):
        first.setdefault(name, position)
    return first


def _repeated(header: Sequence[str]) -> str | None:
    """The first name that the header repeats (at its second use), or None."""
    seen: set[str] = set()
    for name in header:
        if name in seen:
            return name
        seen.add(name)
    return None


def _read_csv(path: Source, where: str, columns: Sequence[str] | None = None, need: str = "") -> Table:
    """A CSV or gzip CSV as a Table: pyarrow's float64 read, checked by gdcli's CSV rules."""
    import pyarrow as pa

    least = 2 if columns is None else 1  # a dataset needs a feature and a target; a pick may be one column
    # The header comes from the csv module, on the first record only, so that its
    # checks are gdcli's own; any problem there is named by the full diagnosis, which
    # also knows whether an earlier-ranking problem (bad UTF-8, a broken quote) exists.
    try:
        with _text(path) as f:
            line, cells = next(_records(f, where), (0, None))
        header = _check_header(line, cells, where, least)
    except (GdcliError, UnicodeDecodeError, OSError, *_GZIP_ERRORS):
        _diagnose(path, where, least=least)
        raise
    picked = _pick(header, columns, where, need)
    every = len(picked) == len(header)
    ids = [f"c{i}" for i in range(len(header))]
    chosen = [ids[i] for i in picked]
    try:
        # No quoting: a quote is never part of a number, so a quoted cell fails here and
        # is judged by gdcli's rules below (`"2" ` is malformed there, not 2).
        with _stream(path) as stream:
            table = _arrow_csv(stream, ids, line, pa.float64(), [""], chosen, quote_char=False)
    except (pa.ArrowException, OSError):
        _diagnose(path, where, picked, least)  # raises gdcli's message, or returns: the rules accept the file
        table = _read_strings(path, where, ids, line, chosen)
    else:
        if not every and any(column.null_count for column in table.columns):
            # An empty cell among the columns read: blank records are skipped, but a record with
            # text in the columns left unread is not blank. The rules tell them apart.
            _diagnose(path, where, picked, least)
        # An empty cell is a null; a record of empty cells (",,") is skipped like a blank line.
        if all(column.null_count for column in table.columns):
            import pyarrow.compute as pc

            blank = table.column(0).is_null()
            for column in table.columns[1:]:
                blank = pc.and_(blank, column.is_null())
            table = table.filter(pc.invert(blank))
    if not table.num_rows:
        _diagnose(path, where, picked, least)  # raises: no data rows (or a problem that outranks it)
        raise AssertionError(f"{where}: no data rows, yet the rules accept it")
    values = [_numpy(column) for column in table.columns]
    bad = _first_bad(values)
    if bad is not None:
        # The cell's text, for the message, comes from one scan of the file up to its row.
        _check_row(*_record(path, where, bad[0]), header, where, picked)
        raise AssertionError(f"{where}: pyarrow read a non-finite value in data row {bad[0]} that gdcli accepts")
    names = [header[i] for i in picked]
    return Table(tuple(header), dict(zip(names, values)), table.num_rows, where, path)


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


def _read_strings(path: Source, where: str, ids: list[str], line: int, chosen: list[str]):
    """The rows of a CSV that gdcli's rules accept but pyarrow's float64 reading refused, as float64."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # Cells padded with spaces around quotes, quoted numbers, blank records of any width:
    # read every cell as text, with quoting, and skip the records of the wrong width,
    # which the rules (just checked) allow for blank records only.
    try:
        # Python's gzip module, as in the diagnosis: it takes what pyarrow may not (padding after the data).
        with _binary(path) as f:
            table = _arrow_csv(f, ids, line, pa.string(), [], chosen, invalid_row_handler=lambda row: "skip")
    except (pa.ArrowException, OSError) as err:
        raise GdcliError(f"cannot read {where!r}: {err}", _DECODE_HINT) from None
    # A kept record holds finite numbers only (in the columns read), each with a digit; a blank one holds no digit.
    table = table.filter(pc.match_substring_regex(table.column(0), "[0-9]"))
    return pa.table([pc.cast(pc.utf8_trim(c, _BLANKS), pa.float64()) for c in table.columns], names=chosen)


def _numpy(column) -> np.ndarray:
    """A float64 column as a read-only numpy array (nulls as NaN): zero-copy for one chunk, else one concatenation."""
    out = column.to_numpy()
    out.flags.writeable = False
    return out


def _first_bad(values: list[np.ndarray]) -> tuple[int, int] | None:
    """(row, column) of the first non-finite cell, by row, then by column in file order; None when all are finite."""
    import numpy as np

    first = []
    for column in values:
        finite = np.isfinite(column)  # one vectorized pass per column
        first.append(len(column) if finite.all() else int(np.argmin(finite)))
    row = min(first, default=0)
    # The first column whose first bad cell is in that row is the first column with one there.
    return None if not values or row == len(values[0]) else (row, first.index(row))


# --- CSV: gdcli's rules, streamed, for the error path -----------------------------------


def _binary(path: Source) -> BinaryIO:
    if isinstance(path, bytes):
        return io.BytesIO(path)
    return gzip.open(path, "rb") if _gzipped(path) else open(path, "rb")


def _text(path: Source) -> TextIO:
    # utf-8-sig: a BOM is not part of the first column's name. newline="" leaves line
    # endings to the csv module, which counts lines as a file has them.
    return io.TextIOWrapper(_binary(path), encoding="utf-8-sig", newline="")


def _diagnose(path: Source, where: str, picked: Sequence[int] | None = None, least: int = 2) -> None:
    """Raise the GdcliError that gdcli's rules give for this file (its columns `picked`, or all);
    return if it accepts the file."""
    _check_utf8(path, where)  # decoding errors come before any other
    problem, rows = None, 0
    with _text(path) as f:
        # Today split the whole file into records before checking any: a broken quote
        # anywhere (raised by _records) outranks the first bad header or cell.
        records = _records(f, where)
        try:
            header = _check_header(*next(records, (0, None)), where, least)
        except GdcliError as err:
            problem = err
        for line, row in records:
            if problem is None:
                try:
                    _check_row(line, row, header, where, picked)
                except GdcliError as err:
                    problem = err
            rows += 1
    if problem is not None:
        raise problem
    if not rows:
        raise GdcliError(f"{where} has a header but no data rows", "add at least one row of numbers")


def _check_utf8(path: Source, where: str) -> None:
    """The "cannot read" message for a file that is not UTF-8, with the byte position where decoding failed."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    done = 0  # bytes handed to the decoder so far, after the BOM
    try:
        with _binary(path) as f:
            chunk = f.read(_CHUNK).removeprefix(codecs.BOM_UTF8)
            while True:
                held = len(decoder.getstate()[0])  # the start of a character cut by the last chunk
                try:
                    decoder.decode(chunk, final=not chunk)
                except UnicodeDecodeError as err:
                    start, end = done - held + err.start, done - held + err.end
                    one = f"byte 0x{err.object[err.start]:02x} in position {start}"
                    what = one if end == start + 1 else f"bytes in position {start}-{end - 1}"
                    reason = f"'{err.encoding}' codec can't decode {what}: {err.reason}"
                    raise GdcliError(f"cannot read {where!r}: {reason}", _DECODE_HINT) from None
                if not chunk:
                    return
                done += len(chunk)
                chunk = f.read(_CHUNK)
    except _GZIP_ERRORS as err:
        raise GdcliError(
            f"cannot read {where!r}: not a valid gzip file ({err})",
            "pass a gzip-compressed CSV file, or the uncompressed .csv file",
        ) from None
    except OSError as err:
        raise GdcliError(f"cannot read {where!r}: {err}", _DECODE_HINT) from None


def _records(f: TextIO, where: str) -> Iterator[tuple[int, list[str]]]:
    """The non-blank records of a CSV stream, each with its line in the file (blank lines counted)."""
    reader = csv.reader(f, strict=True)
    last = 0
    while True:
        first = last + 1
        try:
            row = next(reader)
        except StopIteration:
            return
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
        if "".join(row).strip():  # a record of blank cells is skipped like a blank line
            yield first, row


def _record(path: Source, where: str, row: int) -> tuple[int, list[str]]:
    """Data row `row` (0-based) of a CSV, with its line: the file is scanned up to it."""
    with _text(path) as f:
        for i, record in enumerate(_records(f, where)):
            if i == row + 1:  # record 0 is the header
                return record
    raise IndexError(f"{where} has no data row {row}")


def _is_number(cell: str) -> bool:
    return NUMBER.fullmatch(cell.strip(_BLANKS)) is not None


def _check_header(line: int, first: list[str] | None, where: str, least: int = 2) -> list[str]:
    """The column names of a CSV's first record (at least `least` of them), checked; raises GdcliError."""
    if first is None:
        raise GdcliError(f"{where} is empty", "a CSV needs a header row and at least one data row")
    _refuse_comment(line, first, where)
    header = [c.strip() for c in first]
    if all(_is_number(c) for c in header):
        raise GdcliError(
            f"{where} has no header row (its first line is all numbers)",
            "add a first line naming the columns, for example: x,y",
        )
    if len(header) < least:
        separator = next((s for s in (";", "\t", "|") if s in first[0]), None)
        hint = "a CSV needs at least one feature and one target column"
        if separator:
            hint = f"its header looks separated by {separator!r}; gdcli reads comma-separated files"
        raise GdcliError(f"{where} has a single column", hint)
    for position, name in enumerate(header, 1):
        if not name:
            raise GdcliError(
                f"{where}, line {line}: column {position} of the header has no name",
                "name every column in the first line (a trailing comma makes an empty last column)",
            )
    twice = _repeated(header)
    if twice is not None:
        raise GdcliError(f"{where} names the column {twice!r} twice in its header", "give every column its own name")
    return header


def _check_row(line: int, row: list[str], header: list[str], where: str, picked: Sequence[int] | None = None) -> None:
    """The checks of one data record, in order: raises GdcliError at its first bad cell (of the columns `picked`)."""
    cells = row if picked is None or len(row) != len(header) else [row[i] for i in picked]
    # The common case in one go (a sum is finite only if every cell is); the checks below name the problem.
    if len(row) == len(header) and all(map(_is_number, cells)) and math.isfinite(sum(map(float, cells))):
        return
    _refuse_comment(line, row, where)
    if len(row) != len(header):
        raise GdcliError(
            f"{where}, line {line}: {len(row)} value(s) where the header has {len(header)} columns",
            "every row needs one value per column (the file is ragged)",
        )
    for position, (col, cell) in enumerate(zip(header, row)):
        if picked is not None and position not in picked:
            continue
        if not _is_number(cell):
            raise GdcliError(
                f"{where}, line {line}, column {col!r}: {cell.strip()!r} is not a number",
                "every value must be a plain number such as 3, -0.5 or 1e-3",
            )
        if not math.isfinite(float(cell)):
            raise GdcliError(
                f"{where}, line {line}, column {col!r}: {cell.strip()} is not a finite number",
                "remove or fill in rows holding NaN or inf",
            )


def _refuse_comment(line: int, row: list[str], where: str) -> None:
    if row[0].lstrip().startswith("#"):
        raise GdcliError(
            f"{where}, line {line} starts with '#': comment lines are not supported",
            "remove the comment lines; the first line must name the columns, every other line hold numbers",
        )


# --- Parquet -----------------------------------------------------------------------------


def _read_parquet(path: Source, where: str, columns: Sequence[str] | None = None, need: str = "") -> Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    hint = "pass a Parquet file (.parquet, .pq) or a CSV file"
    try:
        # ParquetFile, not read_table: the dataset layer refuses duplicate names unexplained.
        with pq.ParquetFile(pa.BufferReader(path) if isinstance(path, bytes) else path) as f:
            full = f.schema_arrow.names
            _check_parquet_header(full, where, columns, need)  # before reading: a column is read by its name
            table = f.read(columns=None if columns is None else list(columns), use_threads=True)
    except (pa.ArrowException, OSError) as err:
        raise GdcliError(f"cannot read {where!r} as a Parquet file: {err}", hint) from None
    header = table.column_names
    for name, column in zip(header, table.columns):
        if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
            raise GdcliError(
                f"{where}, column {name!r} holds {column.type} values, not numbers",
                "store every column as an integer or floating-point type",
            )
    if not table.num_rows:
        raise GdcliError(f"{where} has no data rows", "add at least one row of numbers")
    # safe=False: an int64 beyond 2**53 rounds to the nearest float64, as float() rounds it.
    values = [_numpy(column.cast(pa.float64(), safe=False)) for column in table.columns]
    bad = _first_bad(values)
    if bad is not None:
        row, j = bad
        place = f"{where}, row {row + 1}, column {header[j]!r}"
        if not table.column(j)[row].is_valid:
            raise GdcliError(f"{place}: the value is missing (null)", "fill in or remove rows with missing values")
        value = float(values[j][row])
        raise GdcliError(f"{place}: {value!r} is not a finite number", "remove or fill in rows holding NaN or inf")
    return Table(tuple(full), dict(zip(header, values)), table.num_rows, where)


def _check_parquet_header(header: list[str], where: str, columns: Sequence[str] | None, need: str = "") -> None:
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
    _pick(header, columns, where, need)
