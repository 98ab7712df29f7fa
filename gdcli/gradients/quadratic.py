"""The gram method: the gradient of a model linear in its parameters from its Gram statistics alone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

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


def bound_gram(theta: Tensor, rows: Rows) -> Callable[[Tensor], None] | None:
    """`gram` as a function of the loss row (runs,) it fills, for one target and statistics every run
    shares (None otherwise: `gram` itself runs), its products and buffers made once.

    An epoch of the gram method is a handful of (k + 1)-square products, so the number of kernels,
    not their size, is its cost. Here u, v = G u - c and v - c come from one product of a stacked
    matrix with [theta 1] (GramTensors.stacked), the loss is one dot product of u and v - c, and
    the gradient T^T v a second product: eight kernels, whatever k, where `gram` runs about twenty.
    """
    import torch

    g = rows.gram
    if g is None or g.T.shape[0] != 1 or g.minus_m.shape[2] != 1:
        return None
    data, f64 = theta.detach(), g.G.dtype
    runs, size, k1 = data.shape[0], data.shape[1], g.T.shape[1]
    stacked, Tt, const = g.stacked(), g.Tt[0], g.const
    z = torch.ones(size + 1, runs, dtype=f64, device=data.device)  # [theta^T; 1]: the last row stays 1
    out = torch.empty(3 * k1, runs, dtype=f64, device=data.device)
    u, v, w = out[:k1], out[k1 : 2 * k1], out[2 * k1 :]
    loss = torch.empty(runs, dtype=f64, device=data.device)
    grad64 = torch.empty(k1, runs, dtype=f64, device=data.device)
    grad = theta.grad = torch.empty_like(data)
    # Views made once: the parameters are updated in place, so they stay theirs.
    theta_t, data_t, grad_t, mm, dot = z[:size], data.T, grad.T, torch.mm, torch.dot
    u0, w0 = u[:, 0], w[:, 0]

    def step(row: Tensor) -> None:
        theta_t.copy_(data_t)
        mm(stacked, z, out=out)  # u, v and v - c at once
        half = dot(u0, w0) if runs == 1 else (u * w).sum(0)
        # (1/2) u . (v - c) + const; rounding can take a zero loss a hair below 0.
        torch.add(const, half, alpha=0.5, out=loss).clamp_min_(0)
        row.copy_(loss)
        mm(Tt, v, out=grad64)  # T^T v: dL/dtheta
        grad_t.copy_(grad64)

    return step
