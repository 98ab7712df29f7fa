"""The finite-diff method: central differences of the loss, and the checks that its step moves it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from gdcli import models
from gdcli.gradients import blocks
from gdcli.gradients.recorded import autograd
from gdcli.gradients.rows import LossSpec, Rows, each_part, probe
from gdcli.numerics import central_difference

if TYPE_CHECKING:
    from torch import Tensor

# Elements one finite-difference evaluation may hold (rows x parameter sets x targets):
# beyond it the 2P + 1 perturbed parameter sets are evaluated a few at a time.
FD_BUDGET = 1 << 24


def finite_diff(theta: Tensor, rows: Rows, spec: LossSpec) -> Tensor:
    """Central differences (L(p + d) - L(p - d)) / 2d for every entry of theta.

    The 2P perturbed copies of the parameters (and the unperturbed one, for the
    logged loss) are evaluated as extra runs of one batched forward pass, as many
    at a time as fit FD_BUDGET, by gdcli's one central-difference routine
    (numerics), the same that checks `gdcli grad`'s expressions.
    """

    def one(theta: Tensor, X: Tensor, y: Tensor):
        model = spec.model_for(X, y)
        runs, P = theta.shape
        if _blocked(model, X, runs, P):
            # Many runs over many rows: every set's loss a block of rows at a time (blocks.py),
            # all sets in one call, since the blocks bound the memory.
            def blocked(thetas: Tensor) -> Tensor:
                m = thetas.shape[1]
                return blocks.losses(model, X, y, thetas.reshape(runs * m, P), spec.reduction).view(runs, m)

            return central_difference(blocked, theta.detach(), spec.delta)

        def losses(thetas: Tensor) -> Tensor:  # (runs, m, P) -> (runs, m)
            m = thetas.shape[1]
            residual = model.residuals(X, y, thetas.reshape(runs * m, P))
            return models.loss(residual, spec.reduction).view(runs, m)

        sets = max(1, FD_BUDGET // max(1, X.shape[0] * runs * model.row_width()))
        return central_difference(losses, theta.detach(), spec.delta, max_elements=sets * runs * P)

    return each_part(theta, rows, one)


def _blocked(model: models.Model, X: Tensor, runs: int, P: int) -> bool:
    """Whether a sweep's 2P + 1 sets per run go over the rows a block at a time (a lone run never:
    its few sets' residuals are small, and its path stays as it is)."""
    return blocks.wanted(X, runs, (2 * P + 1) * model.row_width())


def bound_finite_diff(theta: Tensor, X: Tensor, y: Tensor, spec: LossSpec) -> Callable[[Tensor], None] | None:
    """finite_diff on rows every run shares, as a function of the loss row (runs,) it fills (and
    theta.grad): its 2P + 1 parameter sets, residuals and losses in buffers made once, the same
    kernels on the same numbers (bit for bit). None where finite_diff would slice its sets."""
    import torch

    from gdcli.numerics import _offsets  # the very sets central_difference adds

    model, data = spec.model_for(X, y), theta.detach()
    (runs, P), n, t = data.shape, X.shape[0], y.shape[1]
    total = 2 * P + 1
    if _blocked(model, X, runs, P):
        return None
    if max(1, FD_BUDGET // max(1, n * runs * model.row_width())) < total:
        return None
    offsets = _offsets((P,), float(spec.delta), data.dtype, data.device, 0, total)
    point, sets = data.unsqueeze(1), torch.empty(runs, total, P, dtype=data.dtype, device=data.device)
    residuals = _bound_residuals(model, X, y, sets.view(runs * total, P))
    by_run = torch.empty(runs * total * t, n, dtype=data.dtype, device=data.device)
    per = torch.empty(runs * total * t, dtype=data.dtype, device=data.device)
    values = per if t == 1 else torch.empty(runs * total, dtype=data.dtype, device=data.device)
    reduce = torch.mean if spec.reduction == "mean" else torch.sum
    up, down, at = values.view(runs, total)[:, 1 : P + 1], values.view(runs, total)[:, P + 1 :], values[::total]
    grad = theta.grad = torch.empty_like(data)
    step = 2 * spec.delta

    def fill(row: Tensor) -> None:
        torch.add(point, offsets, out=sets)  # the sets, as central_difference adds them
        by_run.copy_(residuals().reshape(n, -1).T)  # then the loss as models.loss takes it
        reduce(by_run.square_(), 1, out=per)
        if t != 1:
            reduce(per.view(-1, t), 1, out=values)
        torch.sub(up, down, out=grad).div_(step)
        row.copy_(at)

    return fill


def _bound_residuals(model: models.Model, X: Tensor, y: Tensor, flat: Tensor) -> Callable[[], Tensor]:
    """The residuals (n, sets, t) of the parameter sets in `flat` (updated in place between calls).

    The book's line (one feature, one target) writes them into a buffer through views made once:
    x * w, + b, - y, what Linear.residuals rounds (a product of one term is the matmul's own)."""
    import torch

    if not (isinstance(model, models.Linear) and X.shape[1] == 1 and y.shape[1] == 1):
        return lambda: model.residuals(X, y, flat)
    out = torch.empty(X.shape[0], flat.shape[0], dtype=flat.dtype, device=flat.device)
    weight, bias = flat[:, :1].T, flat[:, 1]

    def line() -> Tensor:
        return torch.mul(X, weight, out=out).add_(bias).sub_(y)

    return line


def check_step(
    theta: Tensor, delta: float, default: float, rows: Rows | None = None, spec: LossSpec | None = None
) -> None:
    """Refuse a finite-difference step too small to move the starting parameters in their dtype:
    theta + delta == theta makes that component's central difference exactly 0, and the run
    would stand still while it seems to train. Given the rows and the loss, also refuse a step
    whose loss differences all round to 0 there (check_difference)."""
    from gdcli.errors import GdcliError, param
    from gdcli.numerics import lost_step

    lost, spacing = lost_step(theta, delta)
    dtype = str(theta.dtype).removeprefix("torch.")
    if lost:
        largest = float(theta.detach().abs().max())
        raise GdcliError(
            f"{param('delta')} {delta:g} is below the resolution of {dtype} at the starting parameters "
            f"({param('init')}): theta + delta == theta, so the finite-difference gradient is exactly 0 there",
            f"use {param('delta')} {spacing * 1.01:.3g} or more (the spacing of {dtype} at |theta| = {largest:g})"
            + (f"; the default {default:g} is enough" if spacing * 1.01 <= default else ""),
        )
    if rows is not None and spec is not None:
        check_difference(theta, rows, spec, default)


def check_difference(theta: Tensor, rows: Rows, spec: LossSpec, default: float) -> None:
    """Refuse a finite-difference step whose gradient at the start is exactly 0 everywhere while
    autograd's is not: theta moves by delta, yet L(theta + delta) and L(theta - delta) round to the
    same value in every direction, and the run would stand still while it seems to train."""
    from dataclasses import replace

    from gdcli.errors import GdcliError, param

    def zero(delta: float):  # per run: whether the central differences at delta are all exactly 0
        grad = probe(finite_diff, False, theta, rows, replace(spec, delta=delta))[1]
        return (grad.reshape(grad.shape[0], -1) == 0).all(1)

    moving = (probe(autograd, True, theta, rows, spec)[1].reshape(theta.shape[0], -1) != 0).any(1)
    if not (zero(spec.delta) & moving).any():
        return
    dtype = str(theta.dtype).removeprefix("torch.")
    if default != spec.delta and not (zero(default) & moving).any():
        hint = f"use {param('delta')} {default:g} (the default for this model and dtype), which moves the loss here"
    else:
        hint = f"use a larger {param('delta')}" + (f", or {param('dtype')} float64" if dtype != "float64" else "")
    raise GdcliError(
        f"{param('delta')} {spec.delta:g} is too small for the loss at the starting parameters ({param('init')}): "
        f"L(theta + delta) and L(theta - delta) round to the same {dtype} value in every direction, so the "
        "finite-difference gradient is exactly 0 there while autograd's is not",
        hint,
    )
