"""Standard input as a data source (`--dataset -`, `predict --input -`): read once per process and kept,
since a stream cannot be read twice and a process may load its dataset several times.

CSV, gzip CSV or Parquet are told apart by their first bytes, not by a name.
"""

from __future__ import annotations

import gzip
import sys
from typing import Sequence

from gdcli.errors import GdcliError
from gdcli.readers import csvfile, parquet
from gdcli.readers.csvrules import GZIP_ERRORS
from gdcli.readers.table import _DECODE_HINT, STDIN, Table

_GZIP_MAGIC = b"\x1f\x8b"


def read(
    data: bytes, where: str = STDIN, columns: Sequence[str] | None = None, need: str = "",
    text: Sequence[str] = (), missing: str = "error",
) -> Table:
    """The table in the bytes standard input held: Parquet by its first bytes, else CSV."""
    if data.startswith(parquet.MAGIC):
        return parquet.read(data, where, columns, need, text, missing)
    return csvfile.read(data, where, columns, need, text, missing)


def header(data: bytes, where: str = STDIN) -> tuple[str, ...] | None:
    """The column names of the table in the bytes standard input held."""
    if data.startswith(parquet.MAGIC):
        return parquet.header(data, where)
    return csvfile.header(data, where)


def locate(data: bytes, where: str, row: int) -> str:
    """How a message names data row `row`: by line for CSV, by number for Parquet."""
    if data.startswith(parquet.MAGIC):
        return parquet.locate(data, where, row)
    return csvfile.locate(data, where, row)


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
        except GZIP_ERRORS as err:
            raise GdcliError(
                f"cannot read {STDIN}: it starts like gzip but is not a whole gzip stream ({err})",
                "pipe a complete .csv.gz file, or the uncompressed CSV",
            ) from None
    if not data.strip():
        raise GdcliError("standard input is empty: a CSV needs a header row and at least one data row", pipe)
    _STDIN.update(stream=stream, data=data)
    return data
