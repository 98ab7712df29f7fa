"""The training loss over a surface's grid.

For a model linear in its parameters the loss is a quadratic form about the least-squares
optimum theta*: L(theta) = L* + s * sum over targets (c - c*)^T [X 1]^T [X 1] (c - c*), with
c a target's column of weights and bias, s = 1/(n t) for the mean (1 for the sum), and L*
the optimum's loss measured from its residuals. Written in the Gram statistics' centred
form, (w - w*)^T Sxx (w - w*) + n (mean_x . (w - w*) + b - b*)^2, a sum of two non-negative
terms, it stays well conditioned for a column such as 1e8 + i; on a plane it is a 3 x 3
quadratic form in (1, x, y), so a grid point costs O(1) after O(k^2) once, whatever the
number of rows. Any other model: one batched forward pass over the rows per chunk of grid
points, each point a "run".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor

    from gdcli.surfaces.plane import Plane

MAX_WORK = 2e9  # multiply-adds a grid evaluated on the rows may take before it is made coarser
MIN_SIDE = 9  # the coarsest grid side
CHUNK = 4096  # grid points per pass over the rows


def side_for(size: int, rows: int, per_row: int) -> int:
    """The grid side to evaluate on the rows: `size`, or less where size^2 * rows * per_row
    multiply-adds would pass MAX_WORK (never below MIN_SIDE)."""
    fits = int((MAX_WORK / max(1, rows * per_row)) ** 0.5)
    return max(min(size, MIN_SIDE), min(size, fits))


def points(xs: Tensor, ys: Tensor) -> tuple[Tensor, Tensor]:
    """The grid's coordinates as two (ny * nx,) tensors, row by row of y."""
    import torch

    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return gx.reshape(-1), gy.reshape(-1)


def from_gram(plane: Plane, xs: Tensor, ys: Tensor, model, gram, best: Tensor, best_loss: float,
              reduction: str) -> Tensor:
    """The loss (ny, nx) from the Gram statistics and the optimum `best` (P,) with its loss."""
    import torch

    k, t, n = model.inputs, model.targets, gram.n
    # About the optimum's projection onto the plane, the terms stay as small as the distances.
    cx, cy = (float(v) for v in plane.project(best.unsqueeze(0)))
    offset = plane.origin + cx * plane.ex + cy * plane.ey - best
    cols = model.columns(torch.stack([offset, plane.ex, plane.ey]))  # (3, k + 1, t)
    weight, bias = cols[:, :k, :], cols[:, k, :]
    quad = torch.einsum("akt,kl,blt->ab", weight, gram.sxx, weight)  # summed over targets
    mean = torch.einsum("akt,k->at", weight, gram.mean_x) + bias  # (3, t)
    gx, gy = points(xs, ys)
    z = torch.stack([torch.ones_like(gx), gx - cx, gy - cy], 1)  # (G, 3)
    spread = ((z @ quad) * z).sum(1).clamp_(min=0.0)
    offsets = (z @ mean).square_().sum(1)
    scale = 1.0 / (n * t) if reduction == "mean" else 1.0
    return (best_loss + scale * (spread + n * offsets)).view(ys.shape[0], xs.shape[0])


def from_rows(plane: Plane, xs: Tensor, ys: Tensor, model, chunks, reduction: str) -> Tensor:
    """The loss (ny, nx) measured on the rows (`chunks()` yields them in float64), CHUNK grid points a pass."""
    import torch

    from gdcli import stats

    gx, gy = points(xs, ys)
    out = torch.empty(gx.shape[0], dtype=torch.float64)
    for start in range(0, gx.shape[0], CHUNK):
        thetas = plane.at(gx[start : start + CHUNK], gy[start : start + CHUNK])
        out[start : start + CHUNK] = stats.losses(chunks(), thetas, reduction, model=model)
    return out.view(ys.shape[0], xs.shape[0])
