"""The loss surface's sharpest direction at a point, for models without a closed form.

For a line the Hessian is constant and stats.py reads its largest eigenvalue off the
Gram matrix. A network's Hessian changes from point to point; at the starting
parameters its largest eigenvalue lambda says how large a step plain descent can take
there (lr < 2 / lambda) before the error along that direction grows. It is found by
power iteration: multiply a vector by the Hessian (a Hessian-vector product, two
backward passes, never the P x P matrix) until the vector stops turning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

if TYPE_CHECKING:
    from torch import Tensor

    from gdcli.models import Model

ITERATIONS = 100  # at most this many Hessian-vector products per eigenvalue
TOLERANCE = 1e-6  # stop when the estimate moves less than this, relative


def sharpness(
    model: Model,
    theta: Tensor,
    chunks: Callable[[], Iterable[tuple[Tensor, Tensor]]],
    n_rows: int,
    reduction: str,
) -> float:
    """The largest eigenvalue of the loss Hessian at one run's parameters theta (P,), in float64.

    `chunks()` gives the training rows afresh, chunk by chunk (float64); `n_rows` is
    their count. Power iteration finds the eigenvalue largest in size; if that one is
    negative (a saddle's direction), a second iteration on H - lambda I finds the
    largest positive one, the one that limits the step.
    """
    import torch

    theta = theta.detach().to(torch.float64).clone().requires_grad_(True)
    scale = 1.0 / (n_rows * model.targets) if reduction == "mean" else 1.0

    def hvp(v: Tensor) -> Tensor:
        total = torch.zeros_like(v)
        for X, y in chunks():
            residual = model.residuals(X, y, theta.view(1, -1))
            loss = residual.square().sum() * scale
            (grad,) = torch.autograd.grad(loss, theta, create_graph=True)
            (hv,) = torch.autograd.grad(grad @ v, theta)
            total += hv
        return total

    with torch.enable_grad():
        top = _power(hvp, theta.shape[0], 0.0)
        if top >= 0:
            return top
        # The largest in size is negative: shift it to zero and find the top of what is left.
        return top + _power(hvp, theta.shape[0], -top)


def _power(hvp: Callable[[Tensor], Tensor], size: int, shift: float) -> float:
    """The eigenvalue of H + shift I largest in size: the Rayleigh quotient once it settles."""
    import torch

    gen = torch.Generator().manual_seed(0)
    v = torch.randn(size, generator=gen, dtype=torch.float64)
    v /= torch.linalg.vector_norm(v)
    estimate = 0.0
    for _ in range(ITERATIONS):
        w = hvp(v) + shift * v
        value = float(v @ w)
        norm = float(torch.linalg.vector_norm(w))
        if norm == 0:  # no curvature at all
            return 0.0
        v = w / norm
        if abs(value - estimate) <= TOLERANCE * abs(value):
            return value
        estimate = value
    return estimate
