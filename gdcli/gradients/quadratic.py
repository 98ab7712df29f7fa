"""The gram method: the gradient of a model linear in its parameters from its Gram statistics alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gdcli.gradients.rows import GramTensors, LossSpec, Rows

if TYPE_CHECKING:
    from torch import Tensor


def gram(theta: Tensor, rows: Rows, spec: LossSpec) -> Tensor:
    """The gradient from the Gram matrix alone: O(k^2) per epoch, whatever the number of rows.

    With centred statistics, e = mean_x W + b - mean_y is the mean residual and
        dL/dW = s (Sxx W - Sxy + n mean_x^T e),   dL/db = s n e,
        L = (s / 2) (tr(W^T Sxx W) - 2 tr(W^T Sxy) + tr(Syy) + n |e|^2),
    with s = 2 / (n * targets) for the mean and 2 for the sum: exactly the analytic
    gradient, summed over the rows once, before training. Computed in float64. Only
    a model linear in its parameters (linear, quadratic) has such a gradient.
    """
    loss, theta.grad = gram_terms(theta, rows, spec, gradient=True)
    return loss


def gram_terms(theta: Tensor, rows: Rows, spec: LossSpec, gradient: bool):
    """(loss, dL/dtheta or None) of every run from the Gram statistics, in centred coordinates."""
    import torch

    g = rows.gram
    runs, t = theta.shape[0], g.minus_m.shape[2]
    if g.T.shape[0] != runs:  # one set of statistics that every run shares
        g = GramTensors(*(x.expand(runs, *x.shape[1:]) for x in (g.T, g.Tt, g.minus_m, g.G, g.minus_c, g.const)))
    theta = theta.detach()
    # The line's parameters as columns [W^T; b] (k + 1, t): for one target, theta itself.
    line = None if t == 1 else spec.model_for(rows.parts[0].X, rows.parts[0].y)
    columns = theta.unsqueeze(2) if line is None else line.columns(theta)
    u = torch.baddbmm(g.minus_m, g.T, columns.to(g.G.dtype))  # T theta - m
    v = torch.baddbmm(g.minus_c, g.G, u)  # G u - c: dL/du
    # (1/2) u^T G u - u^T c = (1/2) u . (v - c); rounding can take a zero loss a hair below 0.
    half = (u * v.add(g.minus_c)).sum((1, 2))
    loss = torch.add(g.const, half, alpha=0.5).clamp_min_(0).to(theta.dtype)
    if not gradient:
        return loss, None
    grad = torch.bmm(g.Tt, v).to(theta.dtype)
    return loss, grad.view(runs, -1) if line is None else line.from_columns(grad)
