"""Many runs over many rows, a block of rows at a time: the residuals of every run stay in cache.

A sweep of R runs over n shared rows computes an (n, R) residual every epoch. Held whole
(400 MB at 1e6 rows and 100 runs in float32), each op over it (the product, + b, - y,
the squares, X^T r, the column sums) streams it from memory and back, and the epoch
costs several times R lone fits, each of whose residuals stays in cache. Here the rows
go a block at a time: each block's residuals (runs * targets, b), one contiguous row
per run and target, are made, squared and summed, and dotted with the block's inputs
while they are still in cache, and the sums accumulate across blocks. Nothing as
large as the data is allocated in an epoch.

Each run's sums go down its own row, block by block, whatever else it trains with:
a run rounds the same way in a group of any size (of the same runs per part). Its sums
add in another order than a lone fit's, so the two agree to rounding, not to the bit.

The analytic method (the chain rule by hand) and the autograd method (PyTorch's
backward of each block's loss, its graph freed before the next block's) both run
here. Only on the CPU: a GPU streams the whole residual at its own bandwidth.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gdcli.models.base import loss_scale

if TYPE_CHECKING:
    from torch import Tensor

    from gdcli.models import Model
    from gdcli.models.linear import Linear  # only named in annotations: the line imports this module

# Residual values one block holds (runs * targets * rows): 4 MiB of float32, in the
# processors' larger caches, with few enough blocks that Python's cost per block is small.
BLOCK_ELEMENTS = 1 << 20
# Fewest rows a block holds, however many columns: below it Python's cost per block dominates.
MIN_ROWS = 256


def block_rows(columns: int) -> int:
    """Rows per block for `columns` values per row (runs * targets, or a network's more)."""
    return max(MIN_ROWS, BLOCK_ELEMENTS // max(1, columns))


def wanted(X: Tensor, runs: int, width: int = 1) -> bool:
    """Whether rows X (n, k) go a block at a time for `runs` runs of `width` values per row each: on
    the CPU, for more than one run (a lone run keeps its own path, as fast as it was), when the rows
    are more than one block."""
    return X.device.type == "cpu" and runs > 1 and X.shape[0] > block_rows(runs * width)


def spans(n: int, rows: int):
    """(start, stop) of each block of `rows` rows in n."""
    return ((start, min(start + rows, n)) for start in range(0, n, rows))


def per_run(sums: Tensor, runs: int, targets: int, n: int, reduction: str) -> Tensor:
    """Each run's loss (runs,) from its squared residuals' sums (runs * targets,) over n rows."""
    per = sums.view(runs, targets)
    if reduction == "mean":
        per = per.div(n)
    if targets == 1:
        return per[:, 0]
    return per.mean(1) if reduction == "mean" else per.sum(1)


def line_gradient(line: Linear, X: Tensor, y: Tensor, theta: Tensor, reduction: str) -> tuple[Tensor, Tensor]:
    """(loss (runs,), dL/dtheta (runs, P)) of the line, by the chain rule, a block of rows at a time:
    dL/dW = scale * r^T X and dL/db = scale * sum(r), accumulated over the blocks."""
    import torch

    theta = theta.detach()
    (runs, _), (n, k), t = theta.shape, X.shape, line.targets
    columns, rows = runs * t, block_rows(runs * t)
    work = torch.empty(columns, min(rows, n), dtype=X.dtype, device=X.device)
    sums, grad_b = (torch.zeros(columns, dtype=X.dtype, device=X.device) for _ in range(2))
    grad_w = torch.zeros(columns, k, dtype=X.dtype, device=X.device)
    for start, stop in spans(n, rows):
        Xb, r = X[start:stop], work[:, : stop - start]
        line.residual_rows(Xb, y[start:stop], theta, out=r)
        sums.add_(_squares(r))
        if k == 1:
            grad_w.view(-1).addmv_(r, Xb[:, 0])
        else:
            grad_w.addmm_(r, Xb)
        grad_b.add_(r.sum(1))
    grad = torch.cat([grad_w.view(runs, t * k), grad_b.view(runs, t)], 1).mul_(loss_scale(n, t, reduction))
    return per_run(sums, runs, t, n, reduction), grad


def losses(model: Model, X: Tensor, y: Tensor, theta: Tensor, reduction: str) -> Tensor:
    """Every run's loss (runs,), a block of rows at a time, without a gradient (any model)."""
    import torch

    theta = theta.detach()
    runs, n, t = theta.shape[0], X.shape[0], y.shape[1]
    rows = block_rows(runs * model.row_width())
    # The line writes its residuals into one buffer, reused by every block.
    work = torch.empty(runs * t, min(rows, n), dtype=X.dtype, device=X.device) if model.linear_in_params else None
    sums = torch.zeros(runs * t, dtype=X.dtype, device=X.device)
    for start, stop in spans(n, rows):
        out = None if work is None else work[:, : stop - start]
        sums.add_(_squares(model.residual_rows(X[start:stop], y[start:stop], theta, out=out)))
    return per_run(sums, runs, t, n, reduction)


def _squares(rows: Tensor) -> Tensor:
    """Each row's sum of squares, (rows,): its norm squared, one pass over the rows and no temporary."""
    import torch

    return torch.linalg.vector_norm(rows, dim=1).square_()


def recorded(model: Model, X: Tensor, y: Tensor, theta: Tensor, runs: Tensor | None, reduction: str) -> Tensor:
    """The autograd method a block of rows at a time: every run's loss (runs,), with dL/dtheta
    accumulated into theta.grad by one backward per block. `runs` indexes the runs of theta that
    read these rows (None: every run).

    Each block's forward pass is recorded, its share of every run's loss (its squared residuals
    summed, over the rows and targets the loss divides by) is differentiated by PyTorch, and its
    graph is freed before the next block: backward adds the blocks' gradients up in theta.grad.
    """
    import torch

    count, n, t = theta.shape[0] if runs is None else runs.shape[0], X.shape[0], y.shape[1]
    rows = block_rows(count * model.row_width())
    weight = 1.0 / (n * t) if reduction == "mean" else 1.0  # each squared residual's share of a loss
    sums = torch.zeros(count, t, dtype=X.dtype, device=X.device)
    for start, stop in spans(n, rows):
        # The runs are picked anew for each block: a backward frees the graph, the picking too.
        picked = theta if runs is None else theta[runs]
        part = _recorded_squares(model, picked, X[start:stop], y[start:stop])
        part.sum().mul(weight).backward()
        sums.add_(part.detach())
    return per_run(sums.view(-1), count, t, n, reduction)


def _recorded_squares(model: Model, theta: Tensor, X: Tensor, y: Tensor) -> Tensor:
    """Each run's and target's sum of squared residuals on rows X, (runs, targets), recorded for backward."""
    import torch

    rows = model.residual_rows(X, y, theta)
    # r . r per row: its backward is two products with r, where a square's (2 r^1) is three passes.
    return torch.linalg.vecdot(rows, rows).view(theta.shape[0], y.shape[1])
