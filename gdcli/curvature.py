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
            (hv,) = torch.autograd.grad(grad @ v[0], theta)
            total += hv
        return total

    gen = torch.Generator().manual_seed(0)
    start = torch.randn(1, theta.shape[0], generator=gen, dtype=torch.float64)
    with torch.enable_grad():
        return float(largest(hvp, start)[0][0])


def largest(hvp: Callable[[Tensor], Tensor], start: Tensor) -> tuple[Tensor, Tensor]:
    """The largest eigenvalue (runs,) of each run's Hessian and its eigenvector (runs, P), by power
    iteration from `start` (runs, P): `hvp` maps vectors (runs, P) to each run's H v.

    Power iteration finds the eigenvalue largest in size; where that one is negative (a saddle's
    direction), a second iteration on H - lambda I, from `start` again, finds the largest positive
    one, the one that limits the step. A start near the answer (the last measurement's
    eigenvector) settles in a few products.
    """
    import torch

    top, vectors = power(hvp, start)
    negative = top < 0
    if bool(negative.any()):
        shift = torch.where(negative, -top, torch.zeros_like(top))
        shifted, turned = power(hvp, start, shift)
        top = torch.where(negative, top + shifted, top)
        vectors = torch.where(negative.unsqueeze(1), turned, vectors)
    return top, vectors


def power(hvp: Callable[[Tensor], Tensor], start: Tensor, shift: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The eigenvalue of H + shift I largest in size for every run (runs,), the Rayleigh quotient once
    it settles, and its eigenvector (runs, P); a run whose estimate has settled keeps it while the
    others go on."""
    import torch

    v = start / torch.linalg.vector_norm(start, dim=1, keepdim=True)
    estimate = torch.zeros(v.shape[0], dtype=v.dtype, device=v.device)
    done = torch.zeros(v.shape[0], dtype=torch.bool, device=v.device)
    for _ in range(ITERATIONS):
        w = hvp(v)
        if shift is not None:
            w = w + shift.unsqueeze(1) * v
        value = (v * w).sum(1)
        norm = torch.linalg.vector_norm(w, dim=1)
        flat = norm == 0  # no curvature at all
        value = torch.where(flat, torch.zeros_like(value), value)
        settled = flat | ((value - estimate).abs() <= TOLERANCE * value.abs())
        estimate = torch.where(done, estimate, value)
        v = torch.where((done | flat).unsqueeze(1), v, w / norm.unsqueeze(1))
        done = done | settled
        if bool(done.all()):
            break
    return estimate, v


def edge(optim: str, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> float | None:
    """The edge of stability: the sharpness past which full-batch descent at `lr` grows the error along
    the top eigenvector, 2/lr (2(1 + m)/lr with heavy-ball momentum m; weight decay wd adds wd to every
    eigenvalue, so the loss's own edge is wd lower). None for adaptive optimizers, whose step is
    rescaled per parameter and which have no such edge."""
    if optim not in ("gd", "sgd") or not lr > 0:
        return None
    return 2.0 * (1.0 + momentum) / lr - weight_decay
