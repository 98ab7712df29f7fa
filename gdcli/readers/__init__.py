"""Columnar readers for gdcli datasets: CSV, gzip CSV and Parquet through pyarrow, as float64 numpy columns.

Each kind of file is one entry of a registry (`registry.Reader`), picked by the suffix
of its name (`reader_for`); standard input (`--dataset -`) is read once per process and
kept. A read may pick the columns it needs: the others are neither converted nor checked.
pyarrow and numpy are imported inside functions: the CLI must start fast.

Modules: table (the Table every reader returns), registry (the entries, `read`),
csvfile and csvrules (CSV: pyarrow's fast path, gdcli's rules on the error path),
parquet, stdin, parts and partlist (a folder or glob of parts read as one dataset).
"""

from gdcli.readers.csvrules import check_header as _check_header  # noqa: F401 - read by tests
from gdcli.readers.parquet import check_header as _check_parquet_header  # noqa: F401 - read by tests
from gdcli.readers.registry import (  # noqa: F401 - the public names
    CSV,
    GZIP_CSV,
    PARQUET,
    STDIN_READER,
    Reader,
    blocks,
    header_of,
    stdin_text_columns,
    text_columns,
    kinds,
    known,
    read,
    read_stdin,
    reader_for,
    register,
    registered,
    suffixes,
    unregister,
)
from gdcli.readers.parts import PARTS, Parts, listing  # noqa: F401 - a folder (or glob) of parts
from gdcli.readers.parts import claims as is_parts  # noqa: F401
from gdcli.readers.parts import found as parts_found  # noqa: F401
from gdcli.readers.stdin import stdin_bytes  # noqa: F401
from gdcli.readers.table import STDIN, Source, Table  # noqa: F401
from gdcli.readers.table import pick as _pick  # noqa: F401 - read by tests
