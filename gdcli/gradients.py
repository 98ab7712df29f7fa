"""Gradient methods: three real ways to fill theta.grad, one registry.

Every method has the same shape: `fill(theta, Xa, y, spec) -> loss`. It computes
the loss of each run at theta (runs,) and writes theta.grad (runs, k + 1, targets).
The optimizer that steps afterwards never knows which method ran.

torch is imported inside the functions (a dictionary lookup per call) so that the
CLI can list METHODS as its choices without loading torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from gdcli import model
from gdcli.numerics import central_difference

if TYPE_CHECKING:
    from torch import Tensor


@dataclass(frozen=True)
class LossSpec:
    """What the methods need besides the data: the reduction and the finite-difference step."""

    reduction: str = "mean"
    delta: float = 0.1


def finite_diff(theta: Tensor, Xa: Tensor, y: Tensor, spec: LossSpec) -> Tensor:
    """Central differences (L(p + d) - L(p - d)) / 2d for every entry of theta.

    All 2P perturbed copies of the parameters (and the unperturbed one, for the
    logged loss) are evaluated in a single batched forward pass instead of 2P
    separate ones, by gdcli's one central-difference routine (numerics), the
    same that checks `gdcli grad`'s expressions.
    """
    def losses(thetas: Tensor) -> Tensor:  # (runs, m, k+1, t) -> (runs, m)
        return model.loss(Xa.unsqueeze(1) @ thetas, y.unsqueeze(1), spec.reduction)

    loss, theta.grad = central_difference(losses, theta.detach(), spec.delta)
    return loss


def analytic(theta: Tensor, Xa: Tensor, y: Tensor, spec: LossSpec) -> Tensor:
    """The chain rule by hand: dL/dtheta = Xa^T (dL/dy_hat), no autograd.

    dL/dy_hat = 2 (y_hat - y) / (rows * targets) for the mean (2 (y_hat - y) for
    the sum); dy_hat/dW = x and dy_hat/db = 1, which is exactly a multiplication by
    the augmented inputs' transpose.
    """
    import torch

    residual = model.predict(Xa, theta.detach()) - y
    loss = model.reduce_squares(residual.square(), spec.reduction)
    scale = model.loss_scale(y.shape[-2], y.shape[-1], spec.reduction)
    theta.grad = torch.bmm(Xa.transpose(1, 2), residual).mul_(scale)
    return loss


def autograd(theta: Tensor, Xa: Tensor, y: Tensor, spec: LossSpec) -> Tensor:
    """loss.backward(): PyTorch records the forward pass and differentiates it.

    The gradient is reset (to None, which is cheaper than zero_) before every
    backward, because backward accumulates into .grad.
    """
    theta.grad = None
    pred = model.predict(Xa, theta)
    if theta.shape[0] == 1:
        # One run: PyTorch's fused mse_loss is a single node forward and backward.
        # Its 0-d loss is a run dimension of one to the caller (see Trainer).
        import torch

        loss = torch.nn.functional.mse_loss(pred, y, reduction=spec.reduction)
        loss.backward()
        return loss.detach()
    loss = model.loss(pred, y, spec.reduction)
    # Runs are independent, so the gradient of their sum is each run's own gradient.
    # (A backward seeded with an explicit gradient tensor would give the same, but
    # loads torch's symbolic-shape machinery, a few hundred ms, on first use.)
    loss.sum().backward()
    return loss.detach()


@dataclass(frozen=True)
class Method:
    """A registry entry: the function and whether it needs autograd recording."""

    fill: Callable[[Tensor, Tensor, Tensor, LossSpec], Tensor]
    needs_autograd: bool
    summary: str


METHODS: dict[str, Method] = {
    "finite-diff": Method(finite_diff, False, "central difference (L(p+d) - L(p-d)) / 2d per parameter"),
    "analytic": Method(analytic, False, "hand-derived chain rule, no autograd"),
    "autograd": Method(autograd, True, "loss.backward()"),
}


def gradient_at(method: str, theta: Tensor, Xa: Tensor, y: Tensor, spec: LossSpec) -> tuple[Tensor, Tensor]:
    """(loss, gradient) of one method at fixed parameters, leaving theta untouched."""
    import torch

    probe = theta.detach().clone().requires_grad_(True)
    entry = METHODS[method]
    with torch.set_grad_enabled(entry.needs_autograd):
        loss = entry.fill(probe, Xa, y, spec)
    return loss.detach(), probe.grad.detach()


@dataclass(frozen=True)
class ChainRule:
    """The analytic gradient of the linear model, one factor at a time, for one run."""

    y_hat: Tensor  # (rows, targets): w . x + b
    dL_dyhat: Tensor  # (rows, targets): scale * (y_hat - y)
    scale: float  # 2/(rows * targets) for the mean, 2 for the sum
    loss: float
    grad: Tensor  # (k + 1, targets): sum over rows of dL/dy_hat * dy_hat/dtheta


def chain_rule(theta: Tensor, Xa: Tensor, y: Tensor, reduction: str) -> ChainRule:
    """dL/dtheta = sum_i dL/dy_hat_i * dy_hat_i/dtheta, with every factor kept for display.

    theta is (k + 1, targets), Xa (rows, k + 1) with its ones column, y (rows, targets).
    dy_hat_i/dw = x_i and dy_hat_i/db = 1, which is row i of Xa.
    """
    theta = theta.detach()
    y_hat = Xa @ theta
    scale = model.loss_scale(y.shape[0], y.shape[1], reduction)
    dL_dyhat = scale * (y_hat - y)
    loss = float(model.loss(y_hat[None], y[None], reduction)[0])
    return ChainRule(y_hat, dL_dyhat, scale, loss, Xa.T @ dL_dyhat)
