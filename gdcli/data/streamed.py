"""Rows too many to hold: a run's training and validation rows read again, block by block, every pass.

`stream` is `prepare` for a Dataset whose rows are not held (X is None; `blocks` reads them):
one first pass counts the rows of each side of the split and (with --normalize) takes the
training rows' mean and std; every later pass reads the blocks again, transforms them and
casts them to the training dtype, as `prepare` does chunk by chunk for held rows.

The split cannot be a permutation of rows that are never all in memory: a row validates when
a seeded hash of its place in the data, read as a number in [0, 1), is below val_fraction
(`hash_unit`). The same row falls on the same side in every pass, and no index of n rows exists.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Iterator

from gdcli.data.dataset import Dataset
from gdcli.data.transform import Transform, merge_spread, standardizing
from gdcli.errors import GdcliError, param

if TYPE_CHECKING:
    import numpy as np
    from torch import Tensor

    from gdcli.stats import Gram

_GOLDEN = 0x9E3779B97F4A7C15
_MIX1, _MIX2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def hash_unit(seed: int, rows: np.ndarray) -> np.ndarray:
    """A number in [0, 1) per row place: splitmix64(seed * golden + row) >> 11, over 2^53.

    A row is a validation row when this is below val_fraction; arithmetic is modulo 2^64.
    """
    import numpy as np

    with np.errstate(over="ignore"):
        z = rows.astype(np.uint64) + np.uint64((seed * _GOLDEN) & (2**64 - 1))
        z = z + np.uint64(_GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(_MIX1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(_MIX2)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


@dataclass(eq=False)
class Streamed:
    """One run's rows, split and transformed, read again for every pass: what the trainer reads
    from a Prepared (n_train, n_val, transform, dataset, reference, gram, solution, cache), no tensors."""

    dataset: Dataset  # rows not held: `blocks` reads them
    transform: Transform
    val_fraction: float
    seed: int
    dtype: object
    device: object
    n_train: int = 0
    n_val: int = 0
    pass_seconds: float = 0.0  # the first pass's time: what a pass over the rows costs
    starts: tuple[int, ...] | None = None  # each part's first row, where the rows come in parts (a folder)
    cache: dict = field(default_factory=dict)
    streamed = True

    def units(self, order: list[int] | None = None) -> Iterator[tuple[int, Iterator]]:
        """(first row, its blocks) of each part in `order` (the parts' own order when None), or of the whole."""
        units = getattr(self.dataset.blocks, "units", None)
        if order is None or units is None or self.starts is None:
            yield 0, self.dataset.row_blocks()
            return
        for unit in order:
            yield self.starts[unit], units[unit]()

    def pieces(self, order: list[int] | None = None) -> Iterator[tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor] | None]]:
        """One pass: every block's raw float64 (X, y) training rows and validation rows (None: no split),
        the parts visited in `order` (where the rows come in parts); a row's side is its place's."""
        for start, blocks in self.units(order):
            yield from self._split(start, blocks)

    def _split(self, start: int, blocks: Iterator) -> Iterator:
        """Blocks from row `start` on, each split by the hash of its rows' places."""
        import numpy as np
        import torch

        for X, y in blocks:
            m = X.shape[0]
            if self.val_fraction <= 0:
                yield (torch.from_numpy(np.ascontiguousarray(X)), torch.from_numpy(np.ascontiguousarray(y))), None
            else:
                # Picked in NumPy: a boolean index there costs a fraction of torch's.
                val = hash_unit(self.seed, np.arange(start, start + m, dtype=np.uint64)) < self.val_fraction
                train = ~val
                yield ((torch.from_numpy(X[train]), torch.from_numpy(y[train])),
                       (torch.from_numpy(X[val]), torch.from_numpy(y[val])))
            start += m

    def sides(self, part: str, order: list[int] | None = None) -> Iterator[tuple[Tensor, Tensor]]:
        """The raw float64 rows of `part` (train or val), block by block, blocks without any left out."""
        for train, val in self.pieces(order):
            rows = train if part == "train" else val
            if rows is not None and rows[0].shape[0]:
                yield rows

    def reference(self, part: str = "train") -> Iterator[tuple[Tensor, Tensor]]:
        """The rows of `part` (train or val) in float64 blocks, transformed, never rounded (as Prepared's)."""
        for X, y in self.sides(part):
            yield self.transform.apply(X), y

    def training(self, part: str = "train", order: list[int] | None = None) -> Iterator[tuple[Tensor, Tensor]]:
        """The rows of `part` in blocks as training sees them: transformed, in the dtype, on the device
        (the parts in `order`, where the rows come in parts)."""
        for X, y in self.sides(part, order):
            yield self.cast(X, y)

    def both(self) -> Iterator[tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor] | None]]:
        """One pass giving each block's training rows and validation rows (None without a split), cast."""
        for train, val in self.pieces():
            yield self.cast(*train), (self.cast(*val) if val is not None else None)

    def split_reference(self) -> Iterator[tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor] | None]]:
        """One pass: each block's float64 training rows and validation rows (None without a split),
        inputs transformed, never rounded (as Prepared's for rows not held)."""
        apply = self.transform.apply
        for (X, y), val in self.pieces():
            yield (apply(X), y), (None if val is None else (apply(val[0]), val[1]))

    def cast(self, X: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Raw float64 rows as training holds them: as `prepare` casts (scale in the dtype; standardize in float64)."""
        t = self.transform
        X = t.apply(X).to(self.dtype) if t.mean is not None else t.apply(X.to(self.dtype))
        return X.to(self.device), y.to(self.device, self.dtype)

    def stand_in(self) -> tuple[Tensor, Tensor]:
        """No rows, in the shape, dtype and device of the training rows: what a Part holds where a pass reads."""
        import torch

        k, t = len(self.dataset.features), len(self.dataset.targets)
        return (torch.empty(0, k, dtype=self.dtype, device=self.device),
                torch.empty(0, t, dtype=self.dtype, device=self.device))

    def gram(self, of: str = "reference") -> Gram:
        """Gram statistics, computed once: of the float64 `reference` training rows, or of the
        `training` or `validation` rows as rounded to the dtype. The training and reference Grams
        come from one pass together."""
        import torch

        if of == "training" and self.dtype == torch.float64:
            of = "reference"
        if of not in self.cache:
            if of == "validation":
                self.cache[of] = _gram_of(self.training("val"))
            elif of == "reference val":
                self.cache[of] = _gram_of(self.reference("val"))
            else:
                self._grams(with_training=of == "training")
        return self.cache[of]

    def _grams(self, with_training: bool) -> None:
        """The reference (and the training) Gram statistics of the training rows, in one pass."""
        reference = training = None
        for X, y in self.sides("train"):
            reference = _merge(reference, _gram_of([(self.transform.apply(X), y)]))
            if with_training:
                training = _merge(training, _gram_of([self.cast(X, y)]))
        self.cache["reference"] = reference
        if with_training:
            self.cache["training"] = training

    def solution(self, plan):
        """The least-squares optimum and the Hessian's top eigenvalue, from the reference Gram (as Prepared's)."""
        from gdcli import stats

        key = ("solution", plan.side)
        if key not in self.cache:
            self.cache[key] = stats.solve(plan, self.gram, lambda: self.reference("train"))
        return self.cache[key]


def _gram_of(chunks) -> Gram:
    from gdcli import stats

    return stats.gram(chunks)


def _merge(a: Gram | None, b: Gram) -> Gram:
    """Two blocks' Gram statistics as one: Chan et al.'s merge, as stats.gram merges its chunks."""
    import torch

    from gdcli.stats import Gram

    if a is None:
        return b
    n, m = a.n, b.n
    total = n + m
    mean_a = torch.cat([a.mean_x, a.mean_y])
    delta = torch.cat([b.mean_x, b.mean_y]) - mean_a
    k = a.k
    spread = torch.outer(delta, delta) * (n * m / total)
    mean = mean_a + delta * (m / total)
    return Gram(total, mean[:k], mean[k:], a.sxx + b.sxx + spread[:k, :k], a.sxy + b.sxy + spread[:k, k:],
                a.syy + b.syy + spread[k:, k:], a.sum_y2 + b.sum_y2)


def stream(ds: Dataset, scale: float, normalize: bool, val_fraction: float, seed: int, dtype, device) -> Streamed:
    """The streamed rows of `ds`: a first pass counts both sides of the split, takes the training
    rows' mean and std (with `normalize`) and checks that the dtype can square every value."""
    import numpy as np
    import torch

    started = time.perf_counter()
    n_train = n_val = 0
    count, mean, var = 0, None, None
    units = getattr(ds.blocks, "units", None)
    starts = []
    for X, y in _counted(ds, units, starts):
        m, first = X.shape[0], n_train + n_val
        val = hash_unit(seed, np.arange(first, first + m, dtype=np.uint64)) < val_fraction if val_fraction > 0 else None
        held_out = int(val.sum()) if val is not None else 0
        n_train, n_val = n_train + m - held_out, n_val + held_out
        # Standardized inputs are small whatever the data: only the targets can overflow then.
        _check_range(ds, X, y, scale, dtype, first, inputs=not normalize)
        if normalize and m > held_out:
            count, mean, var = merge_spread(count, mean, var, torch.from_numpy(X if val is None else X[~val]) * scale)
    _check_split(ds, n_train, n_val, val_fraction)
    left_out = getattr(ds.blocks, "dropped", ds.dropped)  # rows with a gap, left out as the pass read them
    if left_out != ds.dropped:
        ds = replace(ds, dropped=left_out)
    transform = Transform(scale)
    if normalize:
        transform = _standardize(ds, scale, mean, var)
    return Streamed(ds, transform, val_fraction, seed, dtype, device, n_train, n_val, time.perf_counter() - started,
                    tuple(starts) if units else None)


def _counted(ds: Dataset, units: list | None, starts: list) -> Iterator:
    """Every block in order; where the rows come in parts, each part's first row is appended to `starts`."""
    if not units:
        yield from ds.row_blocks()
        return
    rows = 0
    for unit in units:
        starts.append(rows)
        for X, y in unit():
            rows += X.shape[0]
            yield X, y


def _standardize(ds: Dataset, scale: float, mean, var) -> Transform:
    """The standardizing transform from the training rows' mean and variance (as `prepare` makes it)."""
    return standardizing(ds, scale, mean, var.sqrt())


def _check_range(ds: Dataset, X: np.ndarray, y: np.ndarray, scale: float, dtype, first: int, inputs: bool) -> None:
    """Refuse a value the training dtype cannot square (its square would make the loss overflow): inputs
    cast, then scaled, as `prepare` casts them (or only the targets, for standardized inputs)."""
    import numpy as np
    import torch

    kind = np.float32 if dtype == torch.float32 else np.float64
    with np.errstate(all="ignore"):
        Xs = X.astype(kind) * kind(scale) if inputs else np.zeros(X.shape, kind)
        both = np.concatenate([Xs, y.astype(kind)], 1)
        bad = ~np.isfinite(both * both)
    if not bad.any():
        return
    at = int(np.flatnonzero(bad.any(1))[0])
    row = first + at
    names = ds.features + ds.targets
    col = names[int(np.flatnonzero(bad[at])[0])]
    name = str(dtype).removeprefix("torch.")
    raise GdcliError(
        f"{ds.where(row)}, column {col!r}: a value too large for {name}",
        f"use {param('dtype')} float64, or rescale with {param('scale')} or {param('normalize')}",
    )


def _check_split(ds: Dataset, n_train: int, n_val: int, val_fraction: float) -> None:
    """Refuse a hash split that leaves a side empty."""
    if val_fraction > 0 and n_val == 0:
        raise GdcliError(
            f"{param('val_fraction')} {val_fraction} of {n_train:,} streamed rows leaves no validation row "
            "(streamed rows are split by a hash of their place)",
            f"use a larger {param('val_fraction')}, or 0 for no split",
        )
    if n_train == 0:
        raise GdcliError(f"{param('val_fraction')} {val_fraction} leaves no training row", "use a smaller fraction")
