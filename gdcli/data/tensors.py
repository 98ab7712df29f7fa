"""The training tensors of a dataset: the split, the input transform, the cast to the training dtype.

`prepare` owns the train/validation split (index tensors), the input transform that
`predict` later replays, and the cast to the training dtype, all in chunks of
CHUNK_ROWS rows, so that no second float64 copy of the data exists. Rows not held
(Dataset.held false) are cast block by block as they are read (data/onepass.py): the
training tensors are then the only copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, Iterator

from gdcli.data.dataset import CHUNK_ROWS, Dataset
from gdcli.data.transform import Transform, merge_spread, standardizing
from gdcli.errors import GdcliError, param

if TYPE_CHECKING:
    from torch import Tensor

    from gdcli import stats
    from gdcli.stats import Gram


@dataclass(frozen=True, eq=False)
class Prepared:
    """One run's training tensors, split and transformed, and the way back to the rows as read."""

    X_train: Tensor  # (n_train, k), transformed, in the training dtype, on the device
    y_train: Tensor  # (n_train, targets)
    X_val: Tensor | None
    y_val: Tensor | None
    transform: Transform
    dataset: Dataset
    train_index: Tensor | None  # the dataset rows trained on, in order (None: all rows, in file order)
    val_index: Tensor | None  # the validation rows (None: no split)
    cache: dict = field(default_factory=dict)  # what gram() and reference() compute once

    @property
    def n_train(self) -> int:
        """Training rows."""
        return self.X_train.shape[0]

    @property
    def n_val(self) -> int:
        """Validation rows (0 without a split)."""
        return 0 if self.X_val is None else self.X_val.shape[0]

    def reference(self, part: str = "train") -> Iterator[tuple[Tensor, Tensor]]:
        """The rows of `part` (train or val) in float64 chunks, transformed but never rounded to the
        training dtype: what the optimum and the final losses are measured on, so that rounding
        the data to float32 shows in the gap instead of hiding in the optimum."""
        from gdcli import stats

        if not self.dataset.held:
            from gdcli.data import onepass

            return onepass.reference(self, part)
        # Sums over the rows do not depend on their order: gathered in file order, chunk by
        # chunk, the reads are sequential (a shuffled index makes them random).
        index = self.train_index if part == "train" else self.val_index
        if index is not None:
            key = f"sorted {part}"
            if key not in self.cache:
                self.cache[key] = index.sort().values
            index = self.cache[key]
        return stats.rows(self.dataset.X, self.dataset.y, index, self.transform)

    def gram(self, of: str = "reference") -> Gram:
        """Gram statistics, computed once: of the float64 `reference` training rows (for the
        optimum and the stability bound; `reference val`: the validation rows'), or of the `training` or `validation` tensors as
        rounded to the training dtype (for the gram method, so it sees what the others see)."""
        import torch

        from gdcli import stats

        if of == "training" and self.X_train.dtype == torch.float64 and self.X_train.device.type == "cpu":
            of = "reference"  # the same numbers
        if of not in self.cache:
            if of in ("reference", "reference val"):
                chunks = self.reference("train" if of == "reference" else "val")
            else:
                X, y = (self.X_train, self.y_train) if of == "training" else (self.X_val, self.y_val)
                size = stats.CHUNK_ROWS
                chunks = ((X[i : i + size], y[i : i + size]) for i in range(0, X.shape[0], size))
            self.cache[of] = stats.gram(chunks)
        return self.cache[of]


    def split_reference(self) -> Iterator[tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor] | None]]:
        """One read of rows not held: each block's float64 training rows and validation rows (None
        without a split), inputs transformed, never rounded."""
        from gdcli.data import onepass

        if self.cache.get("val mask") is None:
            return ((rows, None) for rows in self.reference("train"))
        return onepass.parts(self)

    def solution(self, plan) -> stats.Solution:
        """The least-squares optimum and the Hessian's top eigenvalue on the reference training rows,
        computed once (on the side `plan`, a stats.SolvePlan, chose) for every run and bound that needs them."""
        from gdcli import stats

        key = ("solution", plan.side)
        if key not in self.cache:
            self.cache[key] = stats.solve(plan, self.gram, lambda: self.reference("train"))
        return self.cache[key]


def split_rows(n: int, val_fraction: float, seed: int) -> tuple[Tensor | None, Tensor | None]:
    """A seeded shuffled split, the book's way: the last int(f * n) of a permutation validate.

    Returns the training and validation row indices, or (None, None) for no split (all rows train).
    """
    import torch

    if not 0.0 <= val_fraction < 1.0:
        raise GdcliError(
            f"{param('val_fraction')} must be in [0, 1), got {val_fraction}",
            "use 0.2 to hold out a fifth of the rows",
        )
    n_val = int(val_fraction * n)
    if val_fraction > 0 and n_val == 0:
        if n < 2:
            hint = f"a dataset of {n} row{'s' * (n != 1)} cannot be split: use {param('val_fraction')} 0"
        else:
            hint = f"use at least {_smallest_val_fraction(n):g}, or 0 for no split"
        raise GdcliError(f"{param('val_fraction')} {val_fraction} of {n} rows leaves no validation row", hint)
    if n_val >= n:
        raise GdcliError(
            f"{param('val_fraction')} {val_fraction} leaves no training row", "use a smaller fraction"
        )
    if n_val == 0:
        return None, None
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[:-n_val], perm[-n_val:]


def _smallest_val_fraction(n: int) -> float:
    """The smallest fraction of 3 significant digits that holds out at least one of n >= 2 rows."""
    # 1/n rounded to 3 digits can fall below 1/n (1/11 -> 0.0909, and int(0.0909 * 11) == 0):
    # round up, then step until the float product really reaches one row.
    exact = Decimal(1) / Decimal(n)
    step = Decimal(1).scaleb(exact.adjusted() - 2)
    fraction = (exact / step).to_integral_value(rounding=ROUND_CEILING) * step
    while int(float(fraction) * n) < 1:
        fraction += step
    return float(fraction)


def _spread(X: Tensor, index: Tensor | None, scale: float) -> tuple[Tensor, Tensor]:
    """Mean and (population) std of each scaled column over the rows `index`, float64, chunk by chunk."""
    n = X.shape[0] if index is None else index.shape[0]
    count, mean, var = 0, None, None
    for start in range(0, n, CHUNK_ROWS):
        rows = X[start : start + CHUNK_ROWS] if index is None else X[index[start : start + CHUNK_ROWS]]
        count, mean, var = merge_spread(count, mean, var, rows * scale)
    return mean, var.sqrt()


def _transformed(ds: Dataset, index: Tensor | None, transform: Transform, dtype, device, names_first_bad: list):
    """The rows `index` of X and y, transformed, in `dtype` on `device`: built chunk by chunk.

    Inputs are cast, then scaled, as the book does (0.1 * t_u in float32); standardized
    inputs are standardized in float64 and rounded once. Records the first (row, column)
    whose value the dtype cannot square in `names_first_bad`.
    """
    import torch

    X, y = torch.from_numpy(ds.X), torch.from_numpy(ds.y)
    n = X.shape[0] if index is None else index.shape[0]
    k = X.shape[1]
    X_out = torch.empty(n, k, dtype=dtype, device=device)
    y_out = torch.empty(n, y.shape[1], dtype=dtype, device=device)
    for start in range(0, n, CHUNK_ROWS):
        if index is None:
            rows = slice(start, start + CHUNK_ROWS)
            Xc, yc = X[rows], y[rows]
        else:
            rows = index[start : start + CHUNK_ROWS]
            Xc, yc = X[rows], y[rows]
        Xc = transform.apply(Xc).to(dtype) if transform.mean is not None else transform.apply(Xc.to(dtype))
        yc = yc.to(dtype)
        # Any value the dtype cannot square would make the squared loss overflow.
        both = torch.cat([Xc, yc], 1)
        bad = ~torch.isfinite(both * both)
        if bool(bad.any()):
            at = int(bad.any(1).nonzero()[0])
            row = start + at if index is None else int(rows[at])
            names_first_bad.append((row, bad[at].nonzero().flatten().tolist()))
        X_out[start : start + Xc.shape[0]].copy_(Xc)
        y_out[start : start + yc.shape[0]].copy_(yc)
    return X_out, y_out


def _refuse_range(ds: Dataset, bad: list, transform: Transform, dtype) -> None:
    """Name the first cell (in file order) whose transformed value the training dtype cannot square."""
    import torch

    row, cols, *read = min(bad)  # rows not held come with their values as read
    names = ds.features + ds.targets
    order = ds.columns or names
    col = min((names[j] for j in cols), key=order.index)
    j = names.index(col)
    n_features = len(ds.features)
    if read:
        raw = float(read[0][j])
    else:
        raw = float(ds.X[row, j]) if j < n_features else float(ds.y[row, j - n_features])
    what = f"{raw:g}"
    if j < n_features:
        moved = raw * transform.scale
        if transform.mean is not None:
            moved = (moved - transform.mean[j]) / transform.std[j]
        if moved != raw:
            what += f" {'scaled' if transform.mean is None else 'standardized'} to {moved:g}"
    name = str(dtype).removeprefix("torch.")
    if j < n_features:
        rescale = f"rescale with {param('scale')} or {param('normalize')}"
    else:  # the transform leaves targets as they are
        rescale = (
            f"rescale column {col!r} in the file ({param('scale')} and {param('normalize')} transform inputs only)"
        )
    raise GdcliError(
        f"{ds.where(row)}, column {col!r}: {what} is too large for {name}",
        rescale if dtype == torch.float64 else f"use {param('dtype')} float64, or {rescale}",
    )


def prepare(
    ds: Dataset,
    *,
    scale: float = 1.0,
    normalize: bool = False,
    val_fraction: float = 0.0,
    seed: int = 42,
    dtype=None,
    device=None,
) -> Prepared:
    """Split, scale and (optionally) standardize with the training rows' statistics, in chunks.

    Raises GdcliError where an input or target, transformed and cast, cannot be squared in `dtype`.
    """
    import torch

    dtype = dtype or torch.float32
    train_index, val_index = split_rows(ds.n_rows, val_fraction, seed)
    if not ds.held:
        return _prepare_unheld(ds, scale, normalize, train_index, val_index, dtype, device)
    if normalize:
        mean, std = _spread(torch.from_numpy(ds.X), train_index, scale)
        transform = standardizing(ds, scale, mean, std)
    else:
        transform = Transform(scale)
    bad: list = []
    X_train, y_train = _transformed(ds, train_index, transform, dtype, device, bad)
    X_val = y_val = None
    if val_index is not None:
        X_val, y_val = _transformed(ds, val_index, transform, dtype, device, bad)
    if bad:
        _refuse_range(ds, bad, transform, dtype)
    return Prepared(X_train, y_train, X_val, y_val, transform, ds, train_index, val_index)


def _prepare_unheld(ds: Dataset, scale: float, normalize: bool, train_index, val_index, dtype, device) -> Prepared:
    """`prepare` of rows not held: one pass over their blocks (two with `normalize`) fills the tensors
    and sums the float64 Gram statistics of the training and validation rows."""
    from gdcli.data import onepass

    pos = onepass.positions(ds.n_rows, train_index, val_index)
    n_train = ds.n_rows if train_index is None else train_index.shape[0]
    val_mask = pos >= n_train if pos is not None else None
    if normalize:
        mean, std = onepass.spread(ds, val_mask, scale)
        transform = standardizing(ds, scale, mean, std)
    else:
        transform = Transform(scale)
    filled, bad = onepass.fill(ds, pos, n_train, transform, dtype, device, val_mask)
    del pos
    if bad:
        _refuse_range(ds, bad, transform, dtype)
    cache = {"reference": filled.sums["train"].result(), "val mask": filled.val_mask}
    if val_index is not None:
        cache["reference val"] = filled.sums["val"].result()
    return Prepared(filled.X_train, filled.y_train, filled.X_val, filled.y_val, transform, ds, train_index,
                    val_index, cache)
