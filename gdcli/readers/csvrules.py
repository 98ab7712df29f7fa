"""gdcli's CSV rules, streamed through the csv module: the error path of the CSV readers.

pyarrow and gdcli's CSV rules agree on what a number is (the NUMBER grammar of
gdcli.text), but not on everything else, so whenever pyarrow refuses a file, or
holds a cell gdcli refuses (NaN, inf, an empty cell), the file is streamed once
more here, in the order and with the words of the pure-Python reader pyarrow
replaced, to name the first problem by line and column.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Sequence, TextIO, Union

from gdcli.errors import GdcliError, param
from gdcli.readers.table import _DECODE_HINT, NoRows, repeated
from gdcli.text import NUMBER

PANDAS_INDEX = "Unnamed: 0"  # the name of a CSV's unnamed first column (pandas' to_csv index), as pandas names it
BLANKS = " \t"  # what pyarrow trims around a number, and all that gdcli's rules allow
GAPS = ("", "NA", "NaN", "nan", "null")  # cells that `missing="drop"` reads as a gap (blanks trimmed)
_CHUNK = 1 << 16
GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


@dataclass(frozen=True)
class Gzipped:
    """A gzip-compressed CSV file: the gzip CSV reader hands its path to the CSV code in this wrapper."""

    path: Path

    def __str__(self) -> str:
        return str(self.path)


# What the CSV code reads: a plain file, a gzip file, or bytes in memory (standard input, gzip undone).
CsvSource = Union[Path, Gzipped, bytes]


def binary(path: CsvSource) -> BinaryIO:
    """The source's bytes as a binary file (gzip undone)."""
    if isinstance(path, bytes):
        return io.BytesIO(path)
    return gzip.open(path.path, "rb") if isinstance(path, Gzipped) else open(path, "rb")


def text(path: CsvSource) -> TextIO:
    """The source as text for the csv module."""
    # utf-8-sig: a BOM is not part of the first column's name. newline="" leaves line
    # endings to the csv module, which counts lines as a file has them.
    return io.TextIOWrapper(binary(path), encoding="utf-8-sig", newline="")


def diagnose(
    path: CsvSource, where: str, picked: Sequence[int] | None = None, least: int = 2, missing: str = "error"
) -> None:
    """Raise the GdcliError that gdcli's rules give for this file (its columns `picked`, or all);
    return if it accepts the file. With missing "drop", a record with a gap in those columns is left out."""
    _check_utf8(path, where)  # decoding errors come before any other
    problem, rows, gaps = None, 0, 0
    with text(path) as f:
        # Today split the whole file into records before checking any: a broken quote
        # anywhere (raised by records) outranks the first bad header or cell.
        found = records(f, where)
        try:
            header = check_header(*next(found, (0, None)), where, least)
        except GdcliError as err:
            problem = err
        for line, row in found:
            if problem is None or isinstance(problem, Gap):
                gaps += has_gap(row, header, picked, GAPS)
            if problem is None:
                try:
                    check_row(line, row, header, where, picked, missing)
                except GdcliError as err:
                    problem = err
            rows += 1
    if isinstance(problem, Gap):
        raise GdcliError(f"{problem.message}; {gaps:,} of {rows:,} data rows have a gap", problem.hint)
    if problem is not None:
        raise problem
    if not rows:
        raise NoRows(f"{where} has a header but no data rows", "add at least one row of numbers")


class Gap(GdcliError):
    """An empty cell where a number is read: diagnose adds how many rows have one."""


def has_gap(row: list[str], header: Sequence[str], picked: Sequence[int] | None, gaps: Sequence[str]) -> bool:
    """Whether a record of the header's width has a gap (a cell of `gaps`, blanks trimmed) in the columns `picked`."""
    if len(row) != len(header):
        return False
    cells = row if picked is None else [row[i] for i in picked]
    return any(cell.strip(BLANKS) in gaps for cell in cells)


def _check_utf8(path: CsvSource, where: str) -> None:
    """The "cannot read" message for a file that is not UTF-8, with the byte position where decoding failed."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    done = 0  # bytes handed to the decoder so far, after the BOM
    try:
        with binary(path) as f:
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
    except GZIP_ERRORS as err:
        raise GdcliError(
            f"cannot read {where!r}: not a valid gzip file ({err})",
            "pass a gzip-compressed CSV file, or the uncompressed .csv file",
        ) from None
    except OSError as err:
        raise GdcliError(f"cannot read {where!r}: {err}", _DECODE_HINT) from None


def records(f: TextIO, where: str) -> Iterator[tuple[int, list[str]]]:
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


def record(path: CsvSource, where: str, row: int) -> tuple[int, list[str]]:
    """Data row `row` (0-based) of a CSV, with its line: the file is scanned up to it."""
    with text(path) as f:
        for i, found in enumerate(records(f, where)):
            if i == row + 1:  # record 0 is the header
                return found
    raise IndexError(f"{where} has no data row {row}")


def is_number(cell: str) -> bool:
    """Whether a cell holds a number by gdcli's rules (blanks around it allowed)."""
    return NUMBER.fullmatch(cell.strip(BLANKS)) is not None


def check_header(line: int, first: list[str] | None, where: str, least: int = 2) -> list[str]:
    """The column names of a CSV's first record (at least `least` of them), checked; raises GdcliError."""
    if first is None:
        raise GdcliError(f"{where} is empty", "a CSV needs a header row and at least one data row")
    _refuse_comment(line, first, where)
    header = [c.strip() for c in first]
    if all(is_number(c) for c in header):
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
        if not name and position > 1:  # an unnamed first column is pandas' index (to_csv writes one)
            raise GdcliError(
                f"{where}, line {line}: column {position} of the header has no name",
                "name every column in the first line (a trailing comma makes an empty last column)",
            )
    if not header[0] and PANDAS_INDEX not in header:
        header[0] = PANDAS_INDEX  # as pandas reads it back: a name --keep and --inputs can give
    twice = repeated(header)
    if twice is not None:
        raise GdcliError(f"{where} names the column {twice!r} twice in its header", "give every column its own name")
    return header


def check_row(
    line: int, row: list[str], header: list[str], where: str, picked: Sequence[int] | None = None,
    missing: str = "error",
) -> None:
    """The checks of one data record, in order: raises GdcliError at its first bad cell (of the columns `picked`).
    With missing "drop", a record with a gap in those columns is left out, so not checked further."""
    cells = row if picked is None or len(row) != len(header) else [row[i] for i in picked]
    # The common case in one go (a sum is finite only if every cell is); the checks below name the problem.
    if len(row) == len(header) and all(map(is_number, cells)) and math.isfinite(sum(map(float, cells))):
        return
    _refuse_comment(line, row, where)
    if len(row) != len(header):
        raise GdcliError(
            f"{where}, line {line}: {len(row)} value(s) where the header has {len(header)} columns",
            "every row needs one value per column (the file is ragged)",
        )
    if missing == "drop" and has_gap(row, header, picked, GAPS):
        return
    for position, (col, cell) in enumerate(zip(header, row)):
        if picked is not None and position not in picked:
            continue
        if cell.strip(BLANKS) in GAPS:
            what = repr(cell.strip(BLANKS)) if cell.strip(BLANKS) else "an empty cell"
            raise Gap(
                f"{where}, line {line}, column {col!r}: the value is missing ({what})",
                f"fill in the gaps, or leave the rows that have one out with {param('missing')} drop",
            )
        if not is_number(cell):
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
