"""The training tensors of rows that are not held: built in one pass over the row blocks.

Rows read again block by block (generated data drawn again, a big file read again) are
never gathered into a float64 copy: each block is transformed, cast and placed straight
at its rows' places in the training (or validation) tensors, the split's seeded
permutation inverted once. The same pass sums the float64 facts of the transformed,
unrounded rows (their Gram statistics, training and validation apart), from which the
optimum, the stability bound and the losses of a line come without another pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from gdcli.data.dataset import Dataset
from gdcli.data.transform import Transform, merge_spread

if TYPE_CHECKING:
    from torch import Tensor

    from gdcli.data.tensors import Prepared


def positions(n: int, train_index: Tensor | None, val_index: Tensor | None) -> Tensor | None:
    """Where each row (in file order) goes: its place among the training rows, or n_train plus its
    place among the validation rows; None without a split (every row trains, in file order)."""
    import torch

    if val_index is None:
        return None
    kind = torch.int32 if n < 2**31 else torch.int64  # half the memory where it fits
    pos = torch.empty(n, dtype=kind)
    n_train = train_index.shape[0]
    pos[train_index] = torch.arange(n_train, dtype=kind)
    pos[val_index] = torch.arange(n_train, n, dtype=kind)
    return pos


def spread(ds: Dataset, val_mask: Tensor | None, scale: float) -> tuple[Tensor, Tensor]:
    """Mean and (population) std of each scaled input column over the training rows, float64,
    a block at a time, merged as Chan, Golub and LeVeque do (the first pass of --normalize)."""
    import torch

    count, mean, var, start = 0, None, None, 0
    for X, _ in ds.row_blocks():
        chunk = torch.from_numpy(X).to(torch.float64)
        if val_mask is not None:
            chunk = chunk[~val_mask[start : start + chunk.shape[0]]]
        start += X.shape[0]
        count, mean, var = merge_spread(count, mean, var, chunk * scale)
    return mean, var.sqrt()


class Filling:
    """The training and validation tensors being filled block by block, and the float64 sums of their rows."""

    def __init__(self, ds: Dataset, pos: Tensor | None, n_train: int, dtype, device, val_mask: Tensor | None = None):
        import torch

        from gdcli import stats

        n, k, t = ds.n_rows, len(ds.features), len(ds.targets)
        self.pos, self.n_train, self.device, self.dtype = pos, n_train, device, dtype
        self.X_train = torch.empty(n_train, k, dtype=dtype, device=device)
        self.y_train = torch.empty(n_train, t, dtype=dtype, device=device)
        n_val = n - n_train
        self.X_val = torch.empty(n_val, k, dtype=dtype, device=device) if pos is not None else None
        self.y_val = torch.empty(n_val, t, dtype=dtype, device=device) if pos is not None else None
        self.val_mask = val_mask if val_mask is not None or pos is None else pos >= n_train
        self.sums = {"train": stats.GramSum(), "val": stats.GramSum()}

    def add(self, start: int, ref: Tensor, y64: Tensor, Xc: Tensor, yc: Tensor) -> None:
        """Place one block (rows start.. in file order): its cast rows, and the sums of its float64 rows."""
        m = Xc.shape[0]
        if self.pos is None:
            self.X_train[start : start + m].copy_(Xc)
            self.y_train[start : start + m].copy_(yc)
            self.sums["train"].add(ref, y64)
            return
        place = self.pos[start : start + m].long()
        val = place >= self.n_train
        for part, rows, X_out, y_out, offset in (
            ("train", ~val, self.X_train, self.y_train, 0),
            ("val", val, self.X_val, self.y_val, self.n_train),
        ):
            at = (place[rows] - offset).to(self.device)
            X_out.index_copy_(0, at, Xc[rows].to(self.device))
            y_out.index_copy_(0, at, yc[rows].to(self.device))
            self.sums[part].add(ref[rows], y64[rows])


def fill(ds: Dataset, pos: Tensor | None, n_train: int, transform: Transform, dtype, device,
         val_mask: Tensor | None = None) -> tuple[Filling, list]:
    """One pass over the blocks: the filled tensors and sums, and the first cell (in file order) the dtype
    cannot square, as [(row, columns, the row's values as read)] (empty where every cell can be)."""
    import torch

    from gdcli import stats

    filling = Filling(ds, pos, n_train, dtype, device, val_mask)
    start = 0
    for X, y in _sliced(ds.row_blocks(), stats.CHUNK_ROWS):
        X64, y64 = torch.from_numpy(X).to(torch.float64), torch.from_numpy(y).to(torch.float64)
        ref = transform.apply(X64)
        # As the held rows are cast: scaled in the training dtype (the book's 0.1 * t_u in
        # float32), standardized in float64 and rounded once.
        if transform.mean is not None or dtype == torch.float64:
            Xc = ref.to(dtype)
        else:
            Xc = transform.apply(X64.to(dtype))
        yc = y64.to(dtype)
        both = torch.cat([Xc, yc], 1)
        bad = ~torch.isfinite(both * both)
        if bool(bad.any()):
            at = int(bad.any(1).nonzero()[0])
            raw = torch.cat([X64[at], y64[at]]).tolist()
            return filling, [(start + at, bad[at].nonzero().flatten().tolist(), raw)]
        filling.add(start, ref, y64, Xc, yc)
        start += X.shape[0]
    return filling, []


def _sliced(blocks, size: int):
    """Blocks cut to at most `size` rows: a block's temporaries (a few copies while it is cast,
    checked and summed) then stay a few MB however large the blocks are read."""
    for X, y in blocks:
        for start in range(0, X.shape[0], size):
            yield X[start : start + size], y[start : start + size]


def reference(prep: Prepared, part: str) -> Iterator[tuple[Tensor, Tensor]]:
    """The rows of `part` (train or val) of rows not held, in float64 blocks in file order, inputs
    transformed, never rounded: each call reads the rows again."""
    import torch

    mask = prep.cache.get("val mask")
    start = 0
    for X, y in prep.dataset.row_blocks():
        X64, y64 = torch.from_numpy(X).to(torch.float64), torch.from_numpy(y).to(torch.float64)
        m = X64.shape[0]
        if mask is not None:
            keep = mask[start : start + m] if part == "val" else ~mask[start : start + m]
            X64, y64 = X64[keep], y64[keep]
        start += m
        if X64.shape[0]:
            # Copies (the transform makes one of X): the reader may keep them, and a read may reuse its buffers.
            yield prep.transform.apply(X64), y64 if mask is not None else y64.clone()


def parts(prep: Prepared) -> Iterator[tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]]:
    """The training and the validation rows of rows not held with a split, block by block in one read:
    ((X, y) of the block's training rows, (X, y) of its validation rows), float64, inputs transformed."""
    import torch

    mask, start = prep.cache["val mask"], 0
    for X, y in prep.dataset.row_blocks():
        X64, y64 = torch.from_numpy(X).to(torch.float64), torch.from_numpy(y).to(torch.float64)
        X64 = prep.transform.apply(X64)
        val = mask[start : start + X64.shape[0]]
        start += X64.shape[0]
        yield (X64[~val], y64[~val]), (X64[val], y64[val])
