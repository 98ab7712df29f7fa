"""Training on rows that are not held (train/budget.py decides): the passes an epoch makes.

Streamed rows (gdcli/data/streamed.py) are read again for every pass:

- the gram method reads the rows once, before training, for the Gram statistics of the
  rows as rounded to the dtype and of the float64 rows; every epoch is O(k^2), as held;
- a full-batch epoch of the other methods is one pass: each block's loss and gradient,
  weighted by its rows for the mean (the sum of the blocks' sums for the sum), with the
  validation loss at the same parameters in the same pass;
- mini-batches come block by block: the parts of a folder in a seeded order each pass (a
  single file is read front to back), each block's training rows in a seeded order (one
  generator per seed, as held), a batch carried across a block's end, so a pass's batches
  cover every training row once.

The start, final and optimum losses are measured by reference passes over the float64 rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from gdcli.errors import GdcliError, param
from gdcli.memory import size_text

if TYPE_CHECKING:
    from torch import Tensor

    from gdcli.train.trainer import Trainer


def _groups(trainer: Trainer) -> list:
    """(runs index or None, streamed rows) of each group of runs that share rows."""
    plan = trainer.plan
    return [(runs, plan.prepared[members[0]]) for members, runs in plan.groups]


def full_pass(trainer: Trainer, theta: Tensor, with_val: bool, stop: Callable[[], bool] | None = None):
    """(loss, gradient, validation loss or None) of every run at `theta` (a leaf), in one pass of each
    group's rows: the blocks' losses and gradients weighted by their rows for the mean. None where
    `stop` asked to stop between two blocks (Ctrl-C need not wait for a long pass to end)."""
    import torch

    from gdcli import gradients

    plan = trainer.plan
    fill, spec, mean = plan.method.fill, plan.spec, plan.base.reduction == "mean"
    loss = torch.zeros(theta.shape[0], dtype=torch.float64, device=theta.device)
    grad = torch.zeros_like(theta, dtype=torch.float64)
    val = torch.zeros_like(loss) if with_val else None
    for runs, prep in _groups(trainer):
        n, n_val = prep.n_train, prep.n_val
        for (X, y), held_out in prep.both():
            if stop is not None and stop():
                return None
            if X.shape[0]:
                theta.grad = None
                part = gradients.Rows((gradients.Part(runs, X, y),))
                weight = X.shape[0] / n if mean else 1.0
                block_loss = fill(theta, part, spec).detach().to(torch.float64)
                _add(loss, block_loss, runs, weight)
                _add(grad, theta.grad.to(torch.float64), runs, weight)
            if val is not None and held_out is not None and held_out[0].shape[0]:
                rows = gradients.Rows((gradients.Part(runs, *held_out),))
                with torch.no_grad():
                    block_val = gradients.loss_at(theta, rows, spec).to(torch.float64)
                _add(val, block_val, runs, held_out[0].shape[0] / n_val if mean else 1.0)
    return loss.to(theta.dtype), grad.to(theta.dtype), val.to(theta.dtype) if val is not None else None


def _add(total: Tensor, part: Tensor, runs: Tensor | None, weight: float) -> None:
    """total += weight * part, on the group's runs only (the others' rows of `part` are not theirs)."""
    if runs is None:
        total.add_(part, alpha=weight)
    else:
        total.index_add_(0, runs, part[runs], alpha=weight)


def full_batch_step(trainer: Trainer) -> tuple[Callable[[Tensor], bool], Callable[[], Tensor | None]]:
    """(step, the validation loss of the step's pass): one pass per epoch gives the loss, the gradient
    and the validation loss at the parameters the epoch starts from; then the optimizer's update. The
    step is False where should_stop cut its pass short (no update made)."""
    theta, update = trainer.theta, trainer.optimizer.step
    with_val = trainer.plan.val_rows is not None
    seen: list = [None]

    def step(row: Tensor) -> bool:
        found = full_pass(trainer, theta, with_val, trainer.should_stop)
        if found is None:
            return False
        loss, grad, seen[0] = found
        theta.grad = grad
        row.copy_(loss)
        update()
        return True

    return step, lambda: seen[0]


def val_loss(trainer: Trainer, data: Tensor) -> Tensor:
    """Every run's validation loss at `data`, from one pass of the validation rows."""
    import torch

    from gdcli import gradients

    plan = trainer.plan
    mean = plan.base.reduction == "mean"
    total = torch.zeros(data.shape[0], dtype=torch.float64, device=data.device)
    with torch.no_grad():
        for runs, prep in _groups(trainer):
            for X, y in prep.training("val"):
                block = gradients.loss_at(data, gradients.Rows((gradients.Part(runs, X, y),)), plan.spec)
                _add(total, block.to(torch.float64), runs, X.shape[0] / prep.n_val if mean else 1.0)
    return total.to(data.dtype)


def gradient_at(trainer: Trainer, theta: Tensor) -> Tensor:
    """The full-batch gradient of every run at `theta`, from one pass (theta untouched)."""
    import torch

    leaf = theta.detach().clone().requires_grad_(trainer.plan.method.needs_autograd)
    with torch.set_grad_enabled(trainer.plan.method.needs_autograd):
        return full_pass(trainer, leaf, False)[1]


def batches(trainer: Trainer):
    """One pass of (rows, size) mini-batches: each block's training rows in each seed's seeded order, the
    rows left over at a block's end carried into the next, so the batches cover every training row once."""
    import torch

    from gdcli import gradients

    plan = trainer.plan
    size, device = plan.batch_size, plan.device
    groups = _groups(trainer)
    if len({id(prep) for _, prep in groups}) > 1:
        raise GdcliError(
            f"streamed mini-batches of several seeds with {param('val_fraction')} read different rows per seed",
            f"train one seed at a time, use {param('val_fraction')} 0, or raise {param('memory_limit')}",
        )
    carry = [None] * len(groups)
    prep = groups[0][1]
    # Parts (a folder's files) in a seeded order each pass, drawn by the first seed's generator.
    order = torch.randperm(len(prep.starts), generator=trainer.orders[0]).tolist() if prep.starts else None
    for X, y in prep.training("train", order):
        shuffled = []
        for g, gen in enumerate(trainer.orders):
            order = torch.randperm(X.shape[0], generator=gen).to(device)
            bx, by = X[order], y[order]
            if carry[g] is not None:
                bx, by = torch.cat([carry[g][0], bx]), torch.cat([carry[g][1], by])
            shuffled.append((bx, by))
        whole = shuffled[0][0].shape[0] // size * size
        for start in range(0, whole, size):
            parts = [gradients.Part(runs, bx[start : start + size], by[start : start + size])
                     for (runs, _), (bx, by) in zip(groups, shuffled)]
            yield gradients.Rows(tuple(parts)), size
        carry = [(bx[whole:], by[whole:]) for bx, by in shuffled]
    if carry[0] is not None and carry[0][0].shape[0]:
        parts = [gradients.Part(runs, bx, by) for (runs, _), (bx, by) in zip(groups, carry)]
        yield gradients.Rows(tuple(parts)), carry[0][0].shape[0]


def method_at(trainer: Trainer, method: str, theta: Tensor, rows) -> tuple[Tensor, Tensor]:
    """(loss, gradient) of one method at `theta` on the first run's streamed rows: one pass, the blocks
    weighted by their rows for the mean (the gram method from its statistics in `rows`, no pass)."""
    import torch

    from gdcli import gradients

    plan = trainer.plan
    if gradients.METHODS[method].needs_gram:
        return gradients.gradient_at(method, theta, rows, plan.spec)
    prep, mean = plan.prepared[0], plan.base.reduction == "mean"
    loss = torch.zeros(theta.shape[0], dtype=torch.float64)
    grad = torch.zeros(theta.shape, dtype=torch.float64)
    for X, y in prep.training("train"):
        block_loss, block_grad = gradients.gradient_at(method, theta, gradients.shared(X, y), plan.spec)
        weight = X.shape[0] / prep.n_train if mean else 1.0
        loss += weight * block_loss.detach().to("cpu", torch.float64)
        grad += weight * block_grad.to("cpu", torch.float64)
    return loss.to(theta.device, theta.dtype), grad.to(theta.device, theta.dtype)


def refuse_pictures(plan, asked: dict[str, bool]) -> None:
    """Refuse the pictures that draw the rows themselves (a scatter of every row) where they are streamed."""
    given = [name for name, wanted in asked.items() if wanted]
    if not plan.streamed or not given:
        return
    raise GdcliError(
        f"{param(given[0])} draws every row, and this data is streamed: "
        + plan.decision.line().removeprefix("data: streamed, "),
        f"drop {param(given[0])}, or raise {param('memory_limit')} above {size_text(plan.decision.need)} to hold the rows",
    )
