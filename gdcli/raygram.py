"""The Gram pass of a fit, one task per part of the data: on Ray's workers, or here.

The squared loss of a linear model reads the rows only through their Gram statistics
(gdcli.stats.Gram), a sum over rows: each part's statistics are computed where the part
is read, and the driver merges them in part order (Chan, Golub and LeVeque's merge, as
stats.gram merges chunks). A task is given a part's name and the settings (`Reading`),
never rows: its worker opens the file (or draws the generated rows) itself.

The validation split cannot be a permutation of every row here (no process sees them
all): a row validates when a seeded hash of its position in the data is below
val_fraction, as for streamed data (`validation_rows`), wherever the rows are cut into parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, NamedTuple

from gdcli.errors import GdcliError, param

if TYPE_CHECKING:
    import numpy as np

    from gdcli.stats import Gram


class Part(NamedTuple):
    """One part of the data, as a task is given it: what messages call it, and the file (None for
    generated rows, drawn from `drawn` = (seed, rows, features))."""

    where: str
    path: str | None = None
    drawn: tuple | None = None


@dataclass(frozen=True)
class Reading:
    """How a worker reads and prepares its part's rows: the settings every task is given."""

    features: tuple[str, ...]
    targets: tuple[str, ...]
    missing: str = "error"
    where: str = ""  # what messages call the whole data: the file, folder or glob
    scale: float = 1.0
    normalize: bool = False  # inputs standardized by the training rows' mean and std (found by a first pass)
    mean: tuple[float, ...] | None = None  # --normalize: the training rows' mean and std, once known
    std: tuple[float, ...] | None = None
    dtype: str = "float32"
    seed: int = 0
    val_fraction: float = 0.0


class PartGram(NamedTuple):
    """What one part's Gram task returns: its rows (and rows left out for a gap), and the Gram statistics
    of its training and validation rows, as rounded to the training dtype and as read (None: no such row)."""

    rows: int
    dropped: int
    train: Gram | None
    train_reference: Gram | None
    val: Gram | None
    val_reference: Gram | None


def validation_rows(seed: int, fraction: float, start: int, count: int) -> np.ndarray:
    """Which of the rows start..start+count-1 validate: streamed data's rule (data.streamed.hash_unit), so that
    a fit on Ray splits its rows as a streamed fit here does."""
    import numpy as np

    from gdcli.data.streamed import hash_unit

    if fraction <= 0:
        return np.zeros(count, dtype=bool)
    return hash_unit(seed, np.arange(start, start + count, dtype=np.uint64)) < fraction


def blocks(part: Part, reading: Reading) -> Iterator[tuple[np.ndarray, np.ndarray, Callable[[int], str], int]]:
    """A part's rows as float64 (X, y) blocks in order, each with how a message names its rows and the
    rows it left out for a gap."""
    if part.drawn is not None:
        from gdcli.data.generated import synthetic_blocks

        for X, y in synthetic_blocks(*part.drawn):
            yield X, y, (lambda row: f"{part.where}, row {row + 1}"), 0
        return
    from pathlib import Path

    import numpy as np

    from gdcli import readers
    from gdcli.readers.table import NoRows

    used = list(dict.fromkeys(reading.features + reading.targets))
    try:
        for table in readers.blocks(Path(part.path), part.where, used, "the run's inputs and targets",
                                    missing=reading.missing):
            yield table.matrix(reading.features), table.matrix(reading.targets), table.locate, table.dropped
    except NoRows as err:  # a part of a folder with no row left adds none (the driver refuses no row at all)
        if part.where == reading.where:
            raise
        empty = np.empty((0, len(reading.features))), np.empty((0, len(reading.targets)))
        yield *empty, (lambda row: part.where), err.dropped


def on_one_cpu(task: Callable, *args):
    """A task as a Ray worker runs it: on one torch thread, the one CPU it asked Ray for (the worker's setting
    restored after), in a worker that keeps freed memory as gdcli does here (store.keep_freed_memory): each
    block's temporaries are then not mapped and page-faulted anew, which made a part's pass three times slower."""
    import torch

    from gdcli.store import keep_freed_memory

    keep_freed_memory()
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return task(*args)
    finally:
        torch.set_num_threads(before)


def count(part: Part, reading: Reading) -> tuple[int, int]:
    """A part's rows and the rows it left out for a gap (a task of the count pass)."""
    if part.path is not None and reading.missing != "drop" and part.path.lower().endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        try:  # the footer knows; a gap would be refused by the Gram pass anyway
            return pq.ParquetFile(part.path).metadata.num_rows, 0
        except Exception:  # noqa: BLE001 - a file pyarrow cannot open: the read names the problem
            pass
    rows = dropped = 0
    for X, _, _, gaps in blocks(part, reading):
        rows, dropped = rows + X.shape[0], dropped + gaps
    return rows, dropped


def spread(part: Part, reading: Reading, offset: int) -> tuple[int, np.ndarray | None, np.ndarray | None]:
    """(rows, mean, M2) of the scaled inputs of a part's training rows, float64, merged block by block
    (a task of --normalize's first pass)."""
    n, mean, m2 = 0, None, None
    for X, _, _, _ in blocks(part, reading):
        keep = ~validation_rows(reading.seed, reading.val_fraction, offset, X.shape[0])
        offset += X.shape[0]
        chunk = X[keep] * reading.scale
        if chunk.shape[0]:
            n, mean, m2 = chan(n, mean, m2, chunk.shape[0], chunk.mean(0), ((chunk - chunk.mean(0)) ** 2).sum(0))
    return n, mean, m2


def chan(n: int, mean, m2, m: int, chunk_mean, chunk_m2):
    """Two sets' (count, mean, sum of squared deviations) merged (Chan, Golub and LeVeque)."""
    if mean is None:
        return m, chunk_mean, chunk_m2
    total = n + m
    delta = chunk_mean - mean
    return total, mean + delta * (m / total), m2 + chunk_m2 + delta**2 * (n * m / total)


def gram(part: Part, reading: Reading, offset: int) -> PartGram:
    """A part's Gram statistics, training and validation rows, rounded and as read (a task of the Gram pass),
    block by block: a block's statistics are merged into the part's before the next block is read."""
    import torch

    from gdcli import stats

    found: dict[str, Gram | None] = dict.fromkeys(("train", "train_reference", "val", "val_reference"))
    rows = dropped = 0
    for X, y, locate, gaps in blocks(part, reading):
        val = validation_rows(reading.seed, reading.val_fraction, offset, X.shape[0])
        reference, training = _prepared(torch.from_numpy(X), torch.from_numpy(y), reading, locate)
        sides = [("train", None)] if not val.any() else [("train", torch.from_numpy(~val)), ("val", torch.from_numpy(val))]
        for side, picked in sides:
            for name, (Xs, ys) in ((side, training), (side + "_reference", reference)):
                chunk = (Xs, ys) if picked is None else (Xs[picked], ys[picked])
                if chunk[0].shape[0]:
                    found[name] = merged([found[name], stats.gram([chunk])])
        offset, rows, dropped = offset + X.shape[0], rows + X.shape[0], dropped + gaps
    return PartGram(rows, dropped, **found)


def _prepared(X, y, reading: Reading, locate: Callable[[int], str]):
    """((X, y) transformed in float64, (X, y) as trained on: cast as streamed rows are, data.streamed.Streamed.cast)."""
    import torch

    from gdcli.data.streamed import Streamed
    from gdcli.data.transform import Transform

    transform = Transform(reading.scale, reading.mean, reading.std)
    X_train, y_train = Streamed(None, transform, 0.0, 0, getattr(torch, reading.dtype), "cpu").cast(X, y)
    both = torch.cat([X_train, y_train], 1)
    bad = ~torch.isfinite(both * both)
    if bool(bad.any()):
        _refuse_range(X, y, bad, reading, locate)
    return (transform.apply(X), y), (X_train, y_train)


def _refuse_range(X, y, bad, reading: Reading, locate: Callable[[int], str]) -> None:
    """Name the first cell whose transformed value the training dtype cannot square (as data.prepare does)."""
    row = int(bad.any(1).nonzero()[0])
    j = int(bad[row].nonzero()[0])
    k = X.shape[1]
    col = (reading.features + reading.targets)[j]
    raw = float(X[row, j]) if j < k else float(y[row, j - k])
    if j < k:
        rescale = f"rescale with {param('scale')} or {param('normalize')}"
    else:
        rescale = f"rescale column {col!r} in the file ({param('scale')} and {param('normalize')} transform inputs only)"
    raise GdcliError(f"{locate(row)}, column {col!r}: {raw:g} is too large for {reading.dtype}",
                     rescale if reading.dtype == "float64" else f"use {param('dtype')} float64, or {rescale}")


def merged(grams: list[Gram | None]) -> Gram | None:
    """Parts' Gram statistics merged in order into those of all their rows (None: no rows), by streamed data's
    merge of two blocks' statistics (Chan et al., as stats.gram merges its chunks)."""
    from gdcli.data.streamed import _merge

    found = None
    for g in grams:
        if g is not None:
            found = _merge(found, g)
    return found
