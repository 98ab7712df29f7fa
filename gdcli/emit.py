"""One output layer: every command's result as a table, JSON, JSON lines or CSV.

Commands return a view of their result (an object with `table`, `document`,
`lines` and `csv`); `emit` writes the one the user asked for to stdout. So a new
output format is one function here, and a new command gets every format by
giving its view those four methods.

JSON has one cleaner (`clean`): a non-finite number becomes null, since JSON has
no NaN or Infinity, and tensors become lists. Long arrays (a history of ten
million epochs) are `Stream`s, written block by block, never built as one string.
Every JSON line carries a "type" (epoch, run, summary, ...) so that a reader can
tell the lines apart without guessing from their keys.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import math
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence

FORMATS = ("table", "json", "jsonl", "csv")


class View(Protocol):
    """What a command returns: its result, ready to be written in each format."""

    def table(self) -> list: ...  # Rich renderables, printed in order

    def document(self) -> dict: ...  # one JSON object; may hold Streams

    def lines(self) -> Iterator[dict]: ...  # JSON lines, each with a "type"

    def csv(self) -> tuple[Sequence[str], Iterable[Sequence]]: ...  # header, rows


@dataclass
class Stream:
    """A JSON array written block by block: `blocks` yields lists of JSON-ready items."""

    blocks: Callable[[], Iterable[list]]


@dataclass
class Parts:
    """A view built from ready parts: renderables for the table, one JSON document (sample, grad)."""

    kind: str
    parts: Callable[[], list]
    data: Callable[[], dict]

    def table(self) -> list:
        return self.parts()

    def document(self) -> dict:
        return self.data()

    def lines(self) -> Iterator[dict]:
        yield {"type": self.kind, **self.data()}

    def csv(self):
        raise ValueError(f"{self.kind} has no csv output")


def clean(obj: Any) -> Any:
    """JSON-ready data: tensors as lists, tuples as lists, and non-finite floats as null."""
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        obj = obj.tolist()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    return obj


def dumps(obj: Any) -> str:
    """Strict JSON text of `obj` (Streams included, written out)."""
    parts: list[str] = []
    write_json(obj, parts.append)
    return "".join(parts)


def write_json(obj: Any, write: Callable[[str], Any]) -> None:
    """Write `obj` as strict JSON through `write`, a piece at a time."""
    if isinstance(obj, Stream):
        write("[")
        first = True
        for block in obj.blocks():
            if block:
                text = _dumps_block(block)[1:-1]
                write(text if first else ", " + text)
                first = False
        write("]")
    elif isinstance(obj, dict):
        write("{")
        for i, (key, value) in enumerate(obj.items()):
            write((", " if i else "") + json.dumps(str(key)) + ": ")
            write_json(value, write)
        write("}")
    elif isinstance(obj, (list, tuple)) and any(isinstance(v, (Stream, dict, list, tuple)) for v in obj):
        write("[")
        for i, value in enumerate(obj):
            write(", " if i else "")
            write_json(value, write)
        write("]")
    else:
        write(json.dumps(clean(obj), allow_nan=False))


def _dumps_block(block: list) -> str:
    """A block as JSON text: plain Python data as it is (the common case, and the fast one),
    anything that needs `clean` (a non-finite float, a tensor) after cleaning. Same text either way."""
    try:
        return json.dumps(block, allow_nan=False)
    except (ValueError, TypeError):
        return json.dumps(clean(block), allow_nan=False)


def json_line(record: dict, stream=None) -> None:
    """One JSON line, flushed at once (progress that a reader can follow)."""
    stream = stream or sys.stdout
    with reader_may_leave():
        stream.write(dumps(record) + "\n")
        stream.flush()


@contextlib.contextmanager
def reader_may_leave():
    """Writing to stdout: if the reader went away (gdcli ... | head), stop writing, not working.

    The command goes on: it still saves its run, writes its pictures, reports on
    stderr and exits with its own code. Only what nobody reads is dropped.
    """
    from gdcli.console import silence_stdout

    try:
        yield
    except BrokenPipeError:
        silence_stdout()


def write_csv(header: Sequence[str], rows: Iterable[Sequence], stream=None, *, header_row: bool = True) -> None:
    """CSV through csv.writer: names with commas or quotes stay one cell. Floats keep every digit."""
    writer = csv.writer(stream or sys.stdout, lineterminator="\n")
    if header_row:
        writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in row])


def begin(fmt: str, header: Sequence[str] | None = None, lines: Sequence[dict] = ()) -> int:
    """Write before the work what a command's output already knows (the csv header, its first JSON
    lines), so that a reader that takes only those (gdcli ... | head -1) leaves, and its leaving
    stops the work. Returns how many lines were written: `emit`'s `written`."""
    with reader_may_leave():
        if fmt == "csv" and header is not None:
            csv.writer(sys.stdout, lineterminator="\n").writerow(header)
            sys.stdout.flush()
            return 1
        if fmt == "jsonl":
            for record in lines:
                json_line(record)
            return len(lines)
    return 0


def emit(view: View, fmt: str, console=None, written: int = 0) -> None:
    """Write a command's view to stdout in the format asked for (quietly stopping if the reader leaves),
    less its first `written` lines (csv: the header; jsonl: lines), which `begin` wrote already."""
    with reader_may_leave():
        _emit(view, fmt, console, written)


def _emit(view: View, fmt: str, console=None, written: int = 0) -> None:
    if fmt == "table":
        from gdcli.console import out

        console = console or out()
        for part in view.table():
            console.print(part)
    elif fmt == "json":
        write_json(view.document(), sys.stdout.write)
        sys.stdout.write("\n")
    elif fmt == "jsonl":
        for record in itertools.islice(view.lines(), written, None):
            json_line(record)
    elif fmt == "csv":
        write_csv(*view.csv(), header_row=not written)
    else:  # pragma: no cover - the CLI's choices are FORMATS
        raise ValueError(f"unknown output format {fmt!r}")
    sys.stdout.flush()
