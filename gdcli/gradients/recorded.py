"""The autograd method: loss.backward(), PyTorch differentiating the recorded forward pass."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gdcli import models
from gdcli.gradients import blocks
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
    losses, recorded = [], []
    for part in rows.parts:
        model = spec.model_for(part.X, part.y)
        runs = theta.shape[0] if part.runs is None else part.runs.shape[0]
        if blocks.wanted(part.X, runs, model.row_width()):
            # Many runs over many rows: a backward per block of rows (blocks.py), accumulating.
            losses.append((part.runs, blocks.recorded(model, part.X, part.y, theta, part.runs, spec.reduction)))
            continue
        th = theta if part.runs is None else theta[part.runs]
        losses.append((part.runs, models.loss(model.residuals(part.X, part.y, th), spec.reduction)))
        recorded.append(losses[-1][1])
    # Runs are independent, so the gradient of their sum is each run's own gradient.
    # (A backward seeded with an explicit gradient tensor would give the same, but
    # loads torch's symbolic-shape machinery, a few hundred ms, on first use.)
    if recorded:
        sum(loss.sum() for loss in recorded).backward()
    if len(losses) == 1 and losses[0][0] is None:
        return losses[0][1].detach()
    out = torch.empty(theta.shape[0], dtype=theta.dtype, device=theta.device)
    for runs, loss in losses:
        out[runs] = loss.detach()
    return out
