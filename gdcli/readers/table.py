"""What every reader hands back: a Table of float64 columns, and the checks of a header's names.

A source is a path, or bytes already in memory (standard input, read once per process).
numpy is imported inside functions: the CLI must start fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence, Union

from gdcli.errors import GdcliError

if TYPE_CHECKING:
    import numpy as np

STDIN = "stdin"  # how messages and listings name standard input
_DECODE_HINT = "pass a UTF-8 text CSV file"

# A file by path, or the bytes of a stream already read (standard input), never gzip-compressed.
Source = Union[Path, bytes]


class NoRows(GdcliError):
    """A file with no data row left to read: none at all, or (`dropped` of them) each with a gap.

    A part of a folder may be so: the folder then reads on with the parts that hold rows."""

    def __init__(self, message: str, hint: str | None = None, dropped: int = 0):
        super().__init__(message, hint)
        self.dropped = dropped


@dataclass(frozen=True, eq=False)  # eq=False: == on dicts of arrays has no single truth value
class Table:
    """Every column of a data file as a read-only 1-D float64 array, all finite, n_rows long."""

    header: tuple[str, ...]
    columns: dict[str, np.ndarray]
    n_rows: int
    source: str
    # How a message names data row N (0-based), from its reader: "data.csv, line 7". None: by number.
    place: Callable[[int], str] | None = field(default=None, repr=False)
    # Columns read as text (`text=`): each cell as written, blanks trimmed, one per row.
    text: dict[str, list[str]] = field(default_factory=dict, repr=False)
    dropped: int = 0  # rows left out for a gap in a column read (`missing="drop"`)

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
        if self.place is None:
            return f"{self.source}, row {row + 1}"
        return self.place(row)


def kept(table: Table, keep) -> Table:
    """The rows of `table` where the boolean array `keep` is true, each still named by its place in the file."""
    import numpy as np

    index = np.flatnonzero(keep)
    if len(index) == table.n_rows:
        return table
    columns = {}
    for name, values in table.columns.items():
        columns[name] = values[index]
        columns[name].flags.writeable = False
    text = {name: [cells[i] for i in index.tolist()] for name, cells in table.text.items()}
    dropped = table.dropped + table.n_rows - len(index)
    place = partial(_kept_place, table, index)
    return Table(table.header, columns, len(index), table.source, place, text, dropped)


def _kept_place(table: Table, index, row: int) -> str:
    """Where the table before the rows were left out names kept row `row`."""
    return table.locate(int(index[row]))


def pick(header: Sequence[str], columns: Sequence[str] | None, where: str, need: str) -> list[int]:
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


def repeated(header: Sequence[str]) -> str | None:
    """The first name that the header repeats (at its second use), or None."""
    seen: set[str] = set()
    for name in header:
        if name in seen:
            return name
        seen.add(name)
    return None


def numpy_column(column) -> np.ndarray:
    """A float64 column as a read-only numpy array (nulls as NaN): zero-copy for one chunk, else one concatenation."""
    # A batch's Array (streamed) copies where it holds nulls; a table's ChunkedArray always may.
    out = column.to_numpy(zero_copy_only=False) if hasattr(column, "buffers") else column.to_numpy()
    out.flags.writeable = False
    return out


def first_bad(values: list[np.ndarray]) -> tuple[int, int] | None:
    """(row, column) of the first non-finite cell, by row, then by column in file order; None when all are finite."""
    import numpy as np

    first = []
    for column in values:
        finite = np.isfinite(column)  # one vectorized pass per column
        first.append(len(column) if finite.all() else int(np.argmin(finite)))
    row = min(first, default=0)
    # The first column whose first bad cell is in that row is the first column with one there.
    return None if not values or row == len(values[0]) else (row, first.index(row))
