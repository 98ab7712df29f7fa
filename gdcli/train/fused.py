"""--compile on a sweep: every run's residuals on the line of a few features, fused into one pass over the rows.

A sweep of R runs sharing their rows computes R residuals per row, r[j, i] = w[j] . x[i] + b[j] - y[i].
Eager, they go a block of rows at a time (gradients/blocks.py), and each block still takes several
passes over its (R, block) residuals: made, squared and summed, dotted with x, summed. Written here
elementwise, with the runs as rows and the data rows along them, the compiler (inductor) fuses the
residual and its sums into one loop that reads x and y once and keeps each residual in a register:
the epoch costs one read of the rows plus R multiply-adds per row and feature.

The analytic method writes the three sums the gradient needs (sum r^2, sum r x, sum r per run). The
autograd method is PyTorch's own: the compiled forward is differentiated by AOTAutograd, whose
backward is fused the same way, recomputing the residuals from x and y rather than keeping R per row.
Only on the CPU (a GPU streams the residuals at its own bandwidth), for more than one run (a lone run
keeps the compiled path it has) and for rows that every run shares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from torch import Tensor

    from gdcli.gradients import LossSpec, Rows

METHODS = ("analytic", "autograd")
# The most features fused. Measured (1e6 rows, 100 runs, float32, torch 2.13, 1 thread): a compiled
# epoch at 1, 2 and 3 features took 15x, 18x and 23x one eager fit's, the eager sweep's blocks about
# 60x; from 4 features on the generated loop was no faster than the blocks (52x against 56x).
MAX_FEATURES = 3


def sweep_fill(method, rows: Rows, spec: LossSpec, runs: int, device) -> Callable | None:
    """The fused fill for a sweep of `runs` runs of the line on at most MAX_FEATURES features and one
    target sharing their rows, on the CPU, full batch (None for anything else: the caller's own path)."""
    if device.type != "cpu" or runs < 2 or method.name not in METHODS:
        return None
    part = rows.parts[0]
    if len(rows.parts) != 1 or part.runs is not None or not 0 < part.X.shape[1] <= MAX_FEATURES or part.y.shape[1] != 1:
        return None
    model = spec.model_for(part.X, part.y)
    if not model.linear_in_params or model.columns_per_feature != 1:
        return None
    return analytic if method.name == "analytic" else autograd


def _inputs(rows: Rows) -> list[Tensor]:
    """Each feature's column of the rows as a row (1, n)."""
    X = rows.parts[0].X
    return [X[:, f].view(1, -1) for f in range(X.shape[1])]


def _residuals(theta: Tensor, rows: Rows) -> Tensor:
    """Every run's residuals as rows (runs, n): b - y + w . x, a product per feature, elementwise (a
    matmul would be a library call the compiler cannot fuse with the sums around it)."""
    k = rows.parts[0].X.shape[1]
    residual = theta[:, k:] - rows.parts[0].y.view(1, -1)
    for f, x in enumerate(_inputs(rows)):
        residual = residual + theta[:, f : f + 1] * x
    return residual


def _losses(residual: Tensor, spec: LossSpec) -> Tensor:
    """Every run's loss (runs,) from its residuals (runs, n)."""
    loss = (residual * residual).sum(1)
    return loss / residual.shape[1] if spec.reduction == "mean" else loss


def analytic(theta: Tensor, rows: Rows, spec: LossSpec) -> Tensor:
    """Every run's loss, and dL/dtheta into theta.grad, by the chain rule: scale * (sum r x, sum r)."""
    import torch

    from gdcli.models import loss_scale

    residual = _residuals(theta.detach(), rows)
    grad = torch.stack([(residual * x).sum(1) for x in _inputs(rows)] + [residual.sum(1)], 1)
    theta.grad = grad * loss_scale(residual.shape[1], 1, spec.reduction)
    return _losses(residual, spec)


def autograd(theta: Tensor, rows: Rows, spec: LossSpec) -> Tensor:
    """Every run's loss, and dL/dtheta into theta.grad by PyTorch's backward of the recorded forward."""
    theta.grad = None
    loss = _losses(_residuals(theta, rows), spec)
    # Runs are independent: the gradient of their sum is each run's own gradient.
    loss.sum().backward()
    return loss.detach()

