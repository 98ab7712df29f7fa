"""The autograd method: loss.backward(), PyTorch differentiating the recorded forward pass."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gdcli import models
from gdcli.gradients.rows import LossSpec, Rows

if TYPE_CHECKING:
    from torch import Tensor


def autograd(theta: Tensor, rows: Rows, spec: LossSpec) -> Tensor:
    """loss.backward(): PyTorch records the forward pass and differentiates it.

    The gradient is reset (to None, which is cheaper than zero_) before every
    backward, because backward accumulates into .grad.
    """
    import torch

    theta.grad = None
    if len(rows.parts) == 1 and rows.parts[0].runs is None and theta.shape[0] == 1:
        part = rows.parts[0]
        if part.y.shape[1] == 1:
            # One run: PyTorch's fused mse_loss is a single node forward and backward.
            pred = spec.model_for(part.X, part.y).predict_one(part.X, theta.view(-1))
            loss = torch.nn.functional.mse_loss(pred, part.y, reduction=spec.reduction)
            loss.backward()
            return loss.detach().view(1)
    losses = []
    for part in rows.parts:
        th = theta if part.runs is None else theta[part.runs]
        residual = spec.model_for(part.X, part.y).residuals(part.X, part.y, th)
        losses.append((part.runs, models.loss(residual, spec.reduction)))
    # Runs are independent, so the gradient of their sum is each run's own gradient.
    # (A backward seeded with an explicit gradient tensor would give the same, but
    # loads torch's symbolic-shape machinery, a few hundred ms, on first use.)
    sum(loss.sum() for _, loss in losses).backward()
    if len(losses) == 1 and losses[0][0] is None:
        return losses[0][1].detach()
    out = torch.empty(theta.shape[0], dtype=theta.dtype, device=theta.device)
    for runs, loss in losses:
        out[runs] = loss.detach()
    return out
