"""A Dataset: a regression table of float64 columns, and how one is made from a reader's Table.

Loading never imports torch, so `gdcli datasets` answers at once and a bad file is
reported before torch loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:
    import numpy as np

# `--dataset -`: a CSV (or gzip CSV, or Parquet) piped into standard input, read once per process.
STDIN = "-"

# Rows per chunk when data is generated, transformed or cast: a multiple of 16, so
# that torch's CPU normal sampler draws chunk by chunk exactly what it draws at once.
CHUNK_ROWS = 1 << 20


@dataclass(frozen=True, eq=False)
class Dataset:
    """A regression table: features X (n, k) and targets y (n, t) as float64 arrays, with names.

    Rows too many to hold in float64 are not held: X and y are then None, `count` says how many
    rows there are, and `blocks` reads them again, block by block, each time it is called (a block
    may be overwritten by the next: a reader that keeps one copies it).
    """

    name: str
    X: np.ndarray | None
    y: np.ndarray | None
    features: tuple[str, ...]
    targets: tuple[str, ...]
    description: str = ""
    preset: dict = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)  # column -> unit, for axis labels
    source: str = ""  # where the rows came from, for messages: the file path, "built-in dataset celsius"
    columns: tuple[str, ...] = ()  # every column in file order; () means features then targets
    locate: Callable[[int], str] | None = None  # a row's place in its file: "data.csv, line 3"
    left_out: dict[str, str] = field(default_factory=dict)  # a file's columns not used -> why
    dropped: int = 0  # rows left out for a gap (missing "drop")
    blocks: Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]] | None = None  # float64 (X, y) blocks, in order
    count: int | None = None  # rows, where X is not held

    @property
    def held(self) -> bool:
        """Whether the rows are held in memory as float64 arrays (else `blocks` reads them)."""
        return self.X is not None

    def label(self, column: str) -> str:
        """A column's name with its unit, when known: "t_c (°C)"."""
        unit = self.units.get(column)
        return f"{column} ({unit})" if unit else column

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return self.X.shape[0] if self.X is not None else int(self.count or 0)

    def row_blocks(self, size: int = CHUNK_ROWS) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every row as float64 (X, y) blocks in order: slices of the arrays held, or a new read."""
        if self.X is None:
            if self.blocks is None:
                raise ValueError(f"dataset {self.name!r} holds no rows and cannot read them")
            yield from self.blocks()
            return
        for start in range(0, self.n_rows, size):
            yield self.X[start : start + size], self.y[start : start + size]

    def sample(self, most: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(X, y) of every row held, or of at most `most` rows evenly spread (every row with None): for
        pictures, which need no more points than they show. Rows not held are read for it in one pass."""
        import numpy as np

        n = self.n_rows
        every = 1 if most is None or n <= most else -(-n // most)
        if self.X is not None:
            return (self.X, self.y) if every == 1 else (self.X[::every], self.y[::every])
        X, y, start = [], [], 0
        for bx, by in self.row_blocks():
            first = -start % every  # the first row of this block that is a multiple of `every`
            X.append(bx[first::every].copy()), y.append(by[first::every].copy())  # a read may reuse its buffers
            start += bx.shape[0]
        k, t = len(self.features), len(self.targets)
        return (np.concatenate(X) if X else np.empty((0, k)), np.concatenate(y) if y else np.empty((0, t)))

    def where(self, row: int) -> str:
        """Where row `row` (0-based) came from, for a message: "data.csv, line 3"."""
        if self.locate is not None:
            return self.locate(row)
        return f"{self.source or self.name}, row {row + 1}"



def from_table(name: str, table, choice, description: str, preset: dict) -> Dataset:
    """A Dataset of a reader's Table: the inputs and targets of `choice` (a columns.Choice), or, given
    a tuple of target names (a built-in's), those targets against every other column."""
    from gdcli.data.columns import Choice

    if not isinstance(choice, Choice):
        targets = tuple(choice or (table.header[-1],))
        choice = Choice(tuple(c for c in table.header if c not in set(targets)), targets)
    return Dataset(
        name, table.matrix(choice.inputs), table.matrix(choice.targets), choice.inputs, choice.targets, description,
        dict(preset), source=table.source, columns=tuple(table.header), locate=table.locate,
        left_out=dict(choice.left_out), dropped=table.dropped,
    )
