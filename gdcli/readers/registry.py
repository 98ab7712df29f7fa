"""The registry of data readers: one entry per kind of data file, looked up by `reader_for`.

An entry carries everything about its kind: the suffixes that pick it, its name and
description (for messages and help), how it reads a file's columns (whole, and in
chunks where it can stream), how a message names one of its rows, and how it reads a
header without the rows. A name no suffix matches is read as CSV (a `data.txt`);
standard input ("-") has a reader of its own, which tells the formats apart by their
first bytes. A reader may instead claim paths that no suffix picks (parts.PARTS: a folder of
parts, a glob); it is asked first. `register` adds a reader (a program that embeds gdcli, a test).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

from gdcli.errors import GdcliError, param
from gdcli.readers import csvfile, parquet, sample, stdin
from gdcli.readers.csvrules import GZIP_ERRORS, Gzipped
from gdcli.readers.table import _DECODE_HINT, STDIN, Table

STDIN_NAME = "-"  # the name that means standard input


@dataclass(frozen=True)
class Reader:
    """A kind of data file and everything gdcli needs to read it."""

    name: str  # for messages and help: "CSV", "gzip CSV", "Parquet"
    suffixes: tuple[str, ...]  # lower case, with the dot: (".parquet", ".pq")
    description: str  # one line for help
    # (path, where, columns, need, text=(), missing="error") -> Table: the columns named (every column
    # for None), checked; `where` is what messages call the file, `need` what the columns are for,
    # `text` the columns read as strings, `missing` "drop" leaves out the rows with a gap.
    read: Callable[..., Table]
    # (path, where) -> the column names without the rows, or None where they cannot be read.
    header: Callable[[Path, str], Optional[tuple]]
    # (path, where, row) -> how a message names data row `row` (0-based): "data.csv, line 7".
    # None: by number, "data.tsv, row 8".
    locate: Optional[Callable[[Path, str, int], str]] = None
    # (path, where, columns, need, text=(), missing="error") -> Tables of consecutive rows, a block in memory at a time.
    # None: the reader cannot stream, and reads the whole file.
    chunks: Optional[Callable[..., Iterator[Table]]] = None
    # (path, where) -> (header, {column holding text: the message naming its first non-number}), from
    # the header and first rows. None: the header alone, every column taken for numbers.
    sample: Optional[Callable[[Path, str], tuple]] = None
    noun: str = ""  # what messages call one of its files ("CSV file 'x.csv.gz' not found"): name if empty
    example: str = ""  # the suffix a hint suggests: the first suffix if empty
    # (name) -> whether this reader takes a path that no suffix picks (a folder of parts, a glob). A
    # reader that claims paths has no suffixes, and is asked before any suffix is looked at.
    claims: Optional[Callable[[str], bool]] = None
    # (path, where) -> None, raising GdcliError for a path it cannot read. None: check_file (a regular file).
    check: Optional[Callable[[Path, str], None]] = None

    @property
    def streams(self) -> bool:
        """Whether the reader can read a file in chunks, holding one block at a time."""
        return self.chunks is not None


_READERS: list[Reader] = []
_CLAIMING: list[Reader] = []  # the readers that claim paths (a folder of parts), apart: they have no suffix


def register(reader: Reader) -> Reader:
    """Add a reader; its suffixes must be lower case, start with a dot, and be no other reader's. A
    reader that `claims` paths (a folder, a glob) is asked first, and listed apart from the kinds of file."""
    if reader.claims is not None:
        if reader.suffixes:
            raise ValueError(f"a reader that claims paths has no suffixes: {reader.name} has {reader.suffixes}")
        _CLAIMING.append(reader)
        return reader
    taken = {s: r.name for r in _READERS for s in r.suffixes}
    for suffix in reader.suffixes:
        if not suffix.startswith(".") or suffix != suffix.lower():
            raise ValueError(f"a suffix is lower case and starts with a dot: {suffix!r}")
        if suffix in taken:
            raise ValueError(f"{suffix} is already the {taken[suffix]} reader's")
    _READERS.append(reader)
    return reader


def unregister(reader: Reader | str) -> None:
    """Remove a reader that `register` added, given as itself or by its name (as the other registries
    take a name); a reader that is not registered is left alone."""
    for entries in (_READERS, _CLAIMING):
        for entry in list(entries):
            if entry is reader or entry.name == reader:
                entries.remove(entry)


def registered() -> list[Reader]:
    """Every registered reader, in the order they were registered (standard input's apart)."""
    return list(_READERS)


def suffixes() -> list[str]:
    """Every registered suffix, in the order of the readers."""
    return [s for r in _READERS for s in r.suffixes]


def reader_for(path: str | os.PathLike) -> Reader:
    """The reader of a data file: the one whose suffix ends its name (the longest that does), standard
    input's for "-", and the CSV reader for a name that no suffix matches."""
    if str(path) == STDIN_NAME:
        return STDIN_READER
    claimed = next((r for r in _CLAIMING if r.claims(str(path))), None)
    if claimed is not None:
        return claimed
    name = Path(path).name.lower()
    # A name that is all suffix (".pq") has none, as pathlib sees it.
    found = [(len(s), r) for r in _READERS for s in r.suffixes if name.endswith(s) and len(name) > len(s)]
    return max(found, key=lambda f: f[0])[1] if found else CSV


def known(path: str | os.PathLike) -> bool:
    """Whether a registered suffix ends the name (or it is "-")."""
    name = Path(path).name.lower()
    return str(path) == STDIN_NAME or any(name.endswith(s) and len(name) > len(s) for s in suffixes())


def kinds() -> str:
    """The registered readers for a hint: "a CSV, gzip CSV or Parquet file (.csv, .gz, .parquet, .pq)"."""
    names = [r.name for r in _READERS]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return f"a {listed} file ({', '.join(suffixes())})"


def read(
    path: Path, where: str | None = None, columns: Sequence[str] | None = None, need: str = "",
    text: Sequence[str] = (), missing: str = "error",
) -> Table:
    """The table in `path`, read by the reader of its suffix; messages call the file `where`.

    With `columns`, only those are read and checked (a missing one is named, with `need`
    saying what it is for); the Table's header still lists every column of the file.
    The columns `text` are read as strings, never as numbers (Table.text); with `missing`
    "drop", the rows with a gap in a column read as a number are left out (Table.dropped).
    """
    path = Path(path)
    where = str(path) if where is None else where
    reader = reader_for(path)
    _check(reader, path, where)
    table = reader.read(path, where, columns, need, **_used(text, missing))
    if table.place is None and reader.locate is not None:
        table = replace(table, place=partial(reader.locate, path, where))
    return table


def blocks(
    path: Path, where: str, columns: Sequence[str], need: str = "", text: Sequence[str] = (), missing: str = "error",
) -> Iterator[Table]:
    """The table in `path` as Tables of consecutive rows, a block in memory at a time where its reader
    streams (else whole); arguments as for `read`."""
    path = Path(path)
    reader = reader_for(path)
    if reader.chunks is None:
        yield read(path, where, columns, need, text, missing)
        return
    _check(reader, path, where)
    yield from reader.chunks(path, where, list(columns), need, **_used(text, missing))


def _used(text: Sequence[str], missing: str) -> dict:
    """The keywords `text` and `missing` where they ask for something: a reader registered from outside
    may not take them."""
    return {**({"text": tuple(text)} if text else {}), **({"missing": missing} if missing != "error" else {})}


def read_stdin(
    example: str, columns: Sequence[str] | None = None, need: str = "", text: Sequence[str] = (),
    missing: str = "error",
) -> Table:
    """The table piped into standard input: CSV, gzip CSV or Parquet, told apart by their first bytes.

    `example` is a command line that pipes a file in, for the hints; `text` and `missing` as for `read`.
    """
    return STDIN_READER.read(stdin.stdin_bytes(example), STDIN, columns, need, tuple(text), missing)


def text_columns(path: Path, where: str | None = None) -> tuple[tuple[str, ...], dict[str, str]]:
    """A data file's header and the columns that hold text (from its first rows or its schema), each
    with where its first non-number is; raises GdcliError where the header cannot be read."""
    path = Path(path)
    where = str(path) if where is None else where
    reader = reader_for(path)
    _check(reader, path, where)
    return _sampled(reader, path, where)


def stdin_text_columns(example: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """`text_columns` of the table piped into standard input."""
    return _sampled(STDIN_READER, stdin.stdin_bytes(example), STDIN)


def _sampled(reader: Reader, source, where: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """The reader's sample of a file's columns (its header alone, all numbers, where it takes none)."""
    if reader.sample is None:
        return tuple(reader.header(source, where) or ()), {}
    try:
        return reader.sample(source, where)
    except (OSError, UnicodeDecodeError, ValueError, *GZIP_ERRORS) as err:
        raise GdcliError(f"cannot read {where!r}: {err}", _DECODE_HINT) from None


def header_of(name: str) -> tuple[str, ...] | None:
    """The column names of a data file, or of standard input for "-", without reading its rows.

    None where they cannot be read: loading the data then says why, in its own words.
    """
    reader = reader_for(name)
    try:
        if reader is STDIN_READER:
            source = stdin.stdin_bytes("cat data.csv | gdcli fit --dataset -")  # kept for the load
        else:
            source = Path(name)
            if reader.check is not None:
                reader.check(source, name)
            else:
                check_file(source, name, "data", "")
        return reader.header(source, name)
    except (GdcliError, OSError, UnicodeDecodeError, ValueError, *GZIP_ERRORS):
        return None


def _check(reader: Reader, path: Path, where: str) -> None:
    """Refuse a path the reader cannot read, before anything opens it: by the reader's own check, else
    as a regular file of its kind."""
    if reader.check is not None:
        reader.check(path, where)
    else:
        check_file(path, where, reader.noun or reader.name, reader.example or reader.suffixes[0])


def check_file(path: Path, where: str, kind: str, suffix: str) -> None:
    """Refuse a path that is missing, a folder, or no regular file, before anything opens it."""
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


def _gzipped(function: Callable) -> Callable:
    """A CSV function for the gzip CSV reader: the path goes in as a Gzipped one."""
    return lambda path, *args, **options: function(Gzipped(Path(path)), *args, **options)


CSV = register(Reader(
    "CSV", (".csv",), "comma-separated text with a header row",
    csvfile.read, csvfile.header, csvfile.locate, csvfile.chunks, sample.csv_text,
))
GZIP_CSV = register(Reader(
    "gzip CSV", (".gz",), "a CSV compressed with gzip (data.csv.gz)",
    _gzipped(csvfile.read), _gzipped(csvfile.header), _gzipped(csvfile.locate), _gzipped(csvfile.chunks),
    _gzipped(sample.csv_text), noun="CSV", example=".csv",
))
PARQUET = register(Reader(
    "Parquet", (".parquet", ".pq"), "a Parquet file of integer or floating-point columns",
    parquet.read, parquet.header, parquet.locate, parquet.chunks, sample.parquet_text,
))
# Standard input is read once, whole, and kept: it cannot be read twice, so it does not stream.
STDIN_READER = Reader(
    "standard input", (), "a CSV, gzip CSV or Parquet file piped in, told apart by its first bytes",
    stdin.read, stdin.header, stdin.locate, sample=sample.stdin_text, noun="data", example=".csv",
)
