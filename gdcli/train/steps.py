"""The full-batch step of an epoch (forward, loss, gradient, update), bound once per chunk.

An epoch of the book's thermometer takes tens of microseconds, of which a lookup, a
view or a check made again every epoch is a noticeable part. Where the rows are one
part that every run shares, the method's work is bound here to its rows and to theta
once: the analytic method runs the model's own bound gradient (its views and buffers
made once), and autograd on a lone run of one target the same nodes as
gradients.autograd without asking again which case it is, and finite-diff evaluates its
2P + 1 parameter sets in buffers made once (gradients/differences.py). Each gives the very
numbers the method's `fill` gives; anything else goes through `fill` itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from torch import Tensor

    from gdcli.train.trainer import Trainer


def full_batch_step(trainer: Trainer) -> Callable[[Tensor], None]:
    """One full-batch step of every run as a function of the loss row (runs,) it fills: forward,
    loss and gradient, then the optimizer's update (or the compiled epoch under --compile)."""
    if trainer.step is not None:
        compiled = trainer.compiled_epoch
        return lambda row: row.copy_(compiled())
    plan, theta, update = trainer.plan, trainer.theta, trainer.optimizer.step
    bound = _bound(trainer)
    if bound is not None:

        def step(row: Tensor) -> None:
            bound(row)
            update()

        return step
    fill, rows, spec = plan.method.fill, plan.rows, plan.spec

    def filled(row: Tensor) -> None:
        row.copy_(fill(theta, rows, spec))
        update()

    return filled


def _bound(trainer: Trainer) -> Callable[[Tensor], None] | None:
    """The method bound to rows that every run shares, as a function of the loss row it fills
    (setting theta.grad); None where it is not bound (the method's fill runs instead)."""
    plan, theta = trainer.plan, trainer.theta
    rows, method, model = plan.rows, plan.base.method, plan.model
    part = rows.parts[0]
    if len(rows.parts) != 1 or part.runs is not None:
        return None
    if method == "analytic":
        return model.bound_gradient(part.X, part.y, theta, plan.spec.reduction)
    if method == "autograd" and theta.shape[0] == 1 and part.y.shape[1] == 1:
        return _lone_autograd(trainer)
    if method == "gram":
        from gdcli.gradients.quadratic import bound_gram

        return bound_gram(theta, rows)
    if method == "finite-diff":
        from gdcli.gradients.differences import bound_finite_diff

        return bound_finite_diff(theta, part.X, part.y, plan.spec)
    return None


def _lone_autograd(trainer: Trainer) -> Callable[[Tensor], None]:
    """gradients.autograd for a lone run of one target: the model's prediction, PyTorch's fused
    mse_loss (a single node forward and backward), then backward."""
    theta, spec, part = trainer.theta, trainer.plan.spec, trainer.plan.rows.parts[0]
    X, y, predict = part.X, part.y, spec.model_for(part.X, part.y).predict_run
    mse, number = _mse_loss(spec.reduction)
    backward = _backward(theta)

    def step(row: Tensor) -> None:
        theta.grad = None  # backward accumulates; None is cheaper than zero_
        loss = mse(predict(X, theta), y, number)
        backward(loss)
        row.copy_(loss.detach())

    return step


def _backward(theta: Tensor) -> Callable[[Tensor], None]:
    """loss.backward() for a loss of theta's dtype and device, handed straight to autograd's engine.

    torch.autograd.backward checks its arguments and makes the seed dL/dL = 1 again on every
    call, a fifth of a small epoch; the engine takes the seed made once and runs the same
    backward. Where a torch's engine does not take that call, loss.backward() itself.
    """
    import torch

    run = getattr(getattr(torch.autograd.Variable, "_execution_engine", None), "run_backward", None)
    seed = (torch.ones((), dtype=theta.dtype, device=theta.device),)

    def backward(loss: Tensor) -> None:
        run((loss,), seed, False, False, (), True, True)  # no graph kept or made; accumulate .grad

    try:  # a tiny graph of its own: the engine's arguments have changed before
        with torch.enable_grad():
            backward(torch.zeros((), dtype=theta.dtype, device=theta.device, requires_grad=True) * 1)
    except Exception:
        return torch.Tensor.backward
    return backward


def _mse_loss(reduction: str) -> tuple[Callable, int]:
    """(mse_loss, the reduction's argument) for a prediction and a target of one shape.

    The functional form checks shapes, broadcasts and looks the reduction up on every call, a
    tenth of a small epoch; the kernel under it (the same node, the same numbers) takes the
    reduction's number, looked up once. Where a torch lacks that kernel, the functional form.
    """
    import torch

    kernel = getattr(getattr(torch._C, "_nn", None), "mse_loss", None)
    if kernel is None:
        return (lambda pred, y, _: torch.nn.functional.mse_loss(pred, y, reduction=reduction)), 0
    from torch.nn import _reduction

    return kernel, _reduction.get_enum(reduction)
