"""The analytic method: the chain rule by hand, each model's own (gdcli/models/), and the line's
chain rule one factor at a time (what `grad --explain` shows)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gdcli import models
from gdcli.gradients import blocks
from gdcli.gradients.rows import LossSpec, Rows, each_part

if TYPE_CHECKING:
    from torch import Tensor


def analytic(theta: Tensor, rows: Rows, spec: LossSpec) -> Tensor:
    """The chain rule by hand, no autograd: each model derives its own gradient (gdcli/models/).

    For the line, dL/dW = (dL/dy_hat)^T X and dL/db = sum of dL/dy_hat, with
    dL/dy_hat = 2 (y_hat - y) / (rows * targets) for the mean (2 (y_hat - y) for the
    sum); for the MLP, backpropagation written out layer by layer.
    """

    def one(theta: Tensor, X: Tensor, y: Tensor):
        model = spec.model_for(X, y)
        out = None
        if model.linear_in_params and not _compiling() and blocks.wanted(X, theta.shape[0], y.shape[1]):
            return blocks.line_gradient(model, X, y, theta, spec.reduction)
        if model.linear_in_params and not _compiling():  # the compiler plans its own buffers
            # The residuals go to a buffer kept from epoch to epoch: no allocation as large as
            # the data happens in an epoch, so memory is neither faulted in nor handed back.
            out = _buffer(X, theta.shape[0] * y.shape[1])
        return model.gradient(X, y, theta.detach(), spec.reduction, out=out)

    return each_part(theta, rows, one)


_BUFFERS: dict = {}


def _buffer(X: Tensor, columns: int) -> Tensor:
    """A (rows, columns) work buffer for the rows X, reused every epoch (the last few kept)."""
    import torch

    key = (X.data_ptr(), X.shape[0], columns, X.dtype, X.device)
    found = _BUFFERS.get(key)
    if found is None:
        if len(_BUFFERS) >= 4:
            _BUFFERS.pop(next(iter(_BUFFERS)))
        found = _BUFFERS[key] = torch.empty(X.shape[0], columns, dtype=X.dtype, device=X.device)
    return found


@dataclass(frozen=True)
class ChainRule:
    """The analytic gradient of the linear model, one factor at a time, for one run."""

    y_hat: Tensor  # (rows, targets): w . x + b
    dL_dyhat: Tensor  # (rows, targets): scale * (y_hat - y)
    scale: float  # 2/(rows * targets) for the mean, 2 for the sum
    loss: float
    grad: Tensor  # (k + 1, targets): sum over rows of dL/dy_hat * dy_hat/dtheta


def chain_rule(theta: Tensor, X: Tensor, y: Tensor, reduction: str) -> ChainRule:
    """dL/dtheta = sum_i dL/dy_hat_i * dy_hat_i/dtheta for the line, with every factor kept for display.

    theta is one run's flat parameters (P,), X (rows, k), y (rows, targets).
    dy_hat_i/dw = x_i and dy_hat_i/db = 1.
    """
    line = models.Linear(X.shape[1], y.shape[1])
    theta = theta.detach().reshape(1, -1)
    residual = line.residuals(X, y, theta)  # (rows, 1, targets)
    scale = models.loss_scale(y.shape[0], y.shape[1], reduction)
    loss = float(models.loss(residual, reduction)[0])
    grad = line.columns(line.from_residuals(X, residual, reduction))[0]
    residual = residual[:, 0]
    return ChainRule(residual + y, scale * residual, scale, loss, grad)


def _compiling() -> bool:
    """Whether torch.compile is tracing this call (torch.compiler.is_compiling from torch 2.3; torch 2.2
    has only torch._dynamo's)."""
    import torch

    check = getattr(torch.compiler, "is_compiling", None)
    if check is None:
        import torch._dynamo

        check = torch._dynamo.is_compiling
    return check()
