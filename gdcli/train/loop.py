"""The training loop: one epoch, top to bottom, wrapped by the chunks that make it fast.

An epoch is the book's loop: the validation loss, then forward, loss and gradient
(the gradient method fills theta.grad), the optimizer's update, the next lr, and
the record (parameters after the update, as the book prints them). It writes into
buffers allocated once, so nothing an epoch allocates outlives it: keeping even a
small tensor per epoch pins the allocator's heap between the epochs' large
temporaries, and memory then grows with the epochs.

Around it, the loop synchronizes with Python only at the end of a chunk of epochs,
where the hooks run (hooks.py). Chunks are sized by time, about SYNC_SECONDS each,
so a slow epoch shows progress at once and a fast one syncs rarely.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable, Iterator

from gdcli.result import Chunk
from gdcli.train.hooks import Sync, logged_epochs
from gdcli.train.steps import full_batch_step

if TYPE_CHECKING:
    from torch import Tensor

    from gdcli.train.trainer import Trainer

# Seconds between synchronizations: chunks grow (or shrink) towards this.
SYNC_SECONDS = 0.5


class Buffers:
    """Every epoch's losses, parameters and gradients of a chunk, written in place; made once."""

    def __init__(self, trainer: Trainer):
        import numpy as np
        import torch

        plan, data = trainer.plan, trainer.theta.detach()
        size, runs, device, dtype = plan.chunk, plan.runs, plan.device, plan.dtype
        self.losses = torch.empty(size, runs, dtype=dtype, device=device)
        self.vals = torch.empty_like(self.losses) if plan.val_rows is not None else None
        self.thetas = torch.empty(size, *data.shape, dtype=dtype, device=device)
        self.grads = torch.empty_like(self.thetas)
        if plan.batch_size is not None:
            # Mini-batch losses add up in float64 (where the device has it), weighted by
            # their rows, so a short last batch counts for what it holds.
            acc_dtype = torch.float64 if device.type != "mps" else dtype
            self.losses = torch.empty(size, runs, dtype=acc_dtype, device=device)
        # Each epoch's lr, written as NumPy (a row copy costs a microsecond, a tensor's several).
        self.lrs = np.empty((size, runs)) if trainer.schedule is not None else None
        # Row views made once (as many as the run has epochs): copy_ into a view costs half
        # of an indexed assignment. Gradients are copied on logged epochs only: no views.
        needed = min(size, plan.base.epochs)
        self.loss_rows = self.losses[:needed].unbind(0)
        self.val_rows = self.vals[:needed].unbind(0) if self.vals is not None else None
        # On the CPU the parameters are recorded through NumPy views of the same memory: a row
        # written there costs a quarter of a tensor's copy_ (the updates are all in place, so
        # `data`'s memory stays theta's).
        self.theta_np = self.data_np = self.theta_rows = None
        if device.type == "cpu" and dtype in (torch.float32, torch.float64):
            self.theta_np, self.data_np = self.thetas.numpy(), data.numpy()
        else:
            self.theta_rows = self.thetas[:needed].unbind(0)

    def sync(self, first: int, count: int, before: Tensor, stopped: bool) -> Sync:
        """The chunk's first `count` epochs for the hooks: losses copied to the CPU in float64."""
        import torch

        # Copies: the buffers are written again by the next chunk (a float64 CPU buffer's .to is itself).
        train = self.losses[:count].to("cpu", torch.float64, copy=True)
        val = self.vals[:count].to("cpu", torch.float64, copy=True) if self.vals is not None else None
        lrs = torch.from_numpy(self.lrs[:count].copy()) if self.lrs is not None else None
        return Sync(first, train, val, self.thetas[:count], self.grads[:count], before, lrs, stopped)


def epoch_fn(trainer: Trainer, buf: Buffers) -> Callable[[int, int, bool], bool]:
    """One epoch of every run, as a function of (row in the chunk, epoch, logged); False when
    should_stop cut a mini-batch epoch short (its batches are undone by the caller).

    Bound once per chunk: the runs the hooks froze at the last sync are read here, not
    every epoch, and an epoch of a small run takes microseconds, so its names are locals.
    """
    import torch

    from gdcli.gradients import loss_at

    plan, theta, schedule = trainer.plan, trainer.theta, trainer.schedule
    data, spec, val_rows, epochs = theta.detach(), plan.spec, plan.val_rows, plan.base.epochs
    gram = plan.method.needs_gram
    step = full_batch_step(trainer) if plan.batch_size is None and not (plan.streamed and not gram) else None
    passed = val_pass = None
    if plan.streamed and not gram:  # rows read again every pass (train/streamed.py)
        from gdcli.train import streamed

        if plan.batch_size is None:  # one pass: the loss, the gradient and the validation loss
            step, passed = streamed.full_batch_step(trainer)
        elif val_rows is not None:
            val_pass = streamed.val_loss
    frozen = trainer.frozen()
    theta_np, data_np, theta_rows = buf.theta_np, buf.data_np, buf.theta_rows
    loss_rows, grads = buf.loss_rows, buf.grads

    def epoch(i: int, number: int, logged: bool) -> bool:
        # The validation loss, at the parameters this epoch starts from.
        if val_rows is not None and passed is None:
            with torch.no_grad():
                buf.val_rows[i].copy_(loss_at(data, val_rows, spec, gram) if val_pass is None else val_pass(trainer, data))
        # Forward, loss and gradient (the method fills theta.grad), then the update.
        if step is None:  # mini-batches: a step per batch
            if not minibatch_epoch(trainer, loss_rows[i], frozen):
                return False
        else:
            if step(loss_rows[i]) is False:  # a streamed pass that should_stop cut short
                return False
            if passed is not None and val_rows is not None:  # measured at the epoch's start, in the step's pass
                buf.val_rows[i].copy_(passed())
            if frozen is not None:
                data.index_copy_(0, *frozen)  # stopped runs stay at their stop epoch
        # This epoch's lr, then on to the next's.
        if schedule is not None:
            buf.lrs[i] = schedule.current
            if number < epochs:
                schedule.advance()
        # The record: parameters after this epoch's update, as the book prints them.
        if theta_np is not None:
            theta_np[i] = data_np
        else:
            theta_rows[i].copy_(data)
        if logged:
            grads[i].copy_(theta.grad)
        return True

    return epoch


def minibatch_epoch(trainer: Trainer, row: Tensor, frozen: tuple | None) -> bool:
    """One epoch of mini-batch steps, its loss added up in `row` (weighted by rows with the mean).

    False when `should_stop` asked to stop before its last batch (the batches done stay done).
    """
    plan, theta, stop = trainer.plan, trainer.theta, trainer.should_stop
    fill, spec, update, data, n = plan.method.fill, plan.spec, trainer.optimizer.step, theta.detach(), plan.n_train
    # The mean over all rows is the batches' means weighted by rows / n; the
    # sum over all rows is the sum of the batches' sums.
    mean = plan.base.reduction == "mean"
    row.zero_()
    if plan.streamed:
        from gdcli.train import streamed

        source = streamed.batches(trainer)
    else:
        source = batches(trainer)
    for batch, count in source:
        if stop is not None and stop():
            return False
        batch_loss = fill(theta, batch, spec)
        update()
        if frozen is not None:
            data.index_copy_(0, *frozen)
        row.add_(batch_loss.detach().to(row.dtype), alpha=count / n if mean else 1.0)
    return True


def chunks(trainer: Trainer) -> Iterator[Chunk]:
    """Train every epoch, yielding a Chunk at each synchronization point; stops when every run has
    diverged or stopped, or when should_stop asks (Ctrl-C)."""
    import torch

    plan = trainer.plan
    base, data = plan.base, trainer.theta.detach()
    buf = Buffers(trainer)
    first, size = 1, 1
    with torch.set_grad_enabled(plan.method.needs_autograd):
        while first <= base.epochs:
            # Chunks start at one epoch (a slow epoch shows progress at once, an early
            # divergence wastes nothing) and grow towards SYNC_SECONDS of work.
            last = min(first + size - 1, base.epochs)
            started, compiling = time.perf_counter(), trainer.compile_seconds
            before = data.clone()  # the chunk's starting parameters
            count, stopped, ended = _train_chunk(trainer, buf, first, last, before)
            if count == 0:  # stopped before this chunk's first epoch ended: nothing to report
                trainer.interrupt()
                return
            # Compilation (on the first epoch) is reported apart from the epochs' time, and an
            # epoch cut short is not timed as one.
            elapsed = (ended if stopped else time.perf_counter()) - started - (trainer.compile_seconds - compiling)
            trainer.seconds += elapsed
            trainer.epochs_computed += count
            sync = buf.sync(first, count, before, stopped)
            for hook in trainer.hooks:
                hook.at_sync(sync)
            yield sync.chunk
            if trainer.interrupted or trainer.ends.every_run_ended():
                return
            first = last + 1
            size = next_chunk(count, elapsed, plan.chunk)


def _train_chunk(trainer: Trainer, buf: Buffers, first: int, last: int, before: Tensor) -> tuple[int, bool, float]:
    """Epochs first..last into the buffers: (epochs trained, whether should_stop ended them, the end
    of the last whole epoch)."""
    should_stop, data = trainer.should_stop, trainer.theta.detach()
    epoch = epoch_fn(trainer, buf)
    logged = set(logged_epochs(trainer.plan.base, first, last))
    ended = time.perf_counter()
    for i, number in enumerate(range(first, last + 1)):
        if should_stop is not None and should_stop():
            return i, True, ended
        if not epoch(i, number, number in logged):
            # Stopped part way: the epoch's batches are undone, so that the run ends
            # at the last whole epoch, as the records and the report say.
            data.copy_(buf.thetas[i - 1] if i else before)
            return i, True, ended
        ended = time.perf_counter()  # the last whole epoch's end
    return last - first + 1, False, ended


def next_chunk(count: int, elapsed: float, cap: int) -> int:
    """Epochs in the next chunk: towards SYNC_SECONDS of work, growing at most fourfold, within the cap."""
    per_epoch = max(elapsed / count, 1e-9)
    return max(1, min(cap, 4 * count, int(SYNC_SECONDS / per_epoch)))


def batches(trainer: Trainer):
    """One epoch of (rows, size) mini-batches, in each seed's shuffled order.

    Each epoch draws one randperm of the training rows per seed, copies it to the
    device once and slices it: the batch order is reproducible from --seed.
    """
    import torch

    from gdcli import gradients

    plan = trainer.plan
    n, size = plan.n_train, plan.batch_size
    orders = [_to_device(torch.randperm(n, generator=gen), plan.device) for gen in trainer.orders]
    for start in range(0, n, size):
        parts = []
        for part, order in zip(plan.rows.parts, orders):
            idx = order[start : start + size]
            parts.append(gradients.Part(part.runs, part.X[idx], part.y[idx]))
        yield gradients.Rows(tuple(parts)), min(size, n - start)


def compiled_step(trainer: Trainer):
    """The full-batch epoch (gradient method, then optimizer step) through torch.compile."""
    from gdcli.train import compiling

    plan = trainer.plan
    step = compiling.epoch_step(plan.method, trainer.theta, plan.rows, plan.spec, trainer.optimizer, plan.device)
    note = None
    # The single-run measurements behind the note do not hold for a fused sweep (bench_scale.py's sweep
    # section: 100 runs on 1e4 rows took an eighth of the eager sweep's time per epoch).
    if plan.model.linear_in_params and not step.fused_sweep:
        note = compiling.no_gain(plan.base.method, plan.model.inputs, plan.n_train, plan.device)
    if note is not None:
        plan.notes.append(note)
    return step


def _to_device(t: Tensor, device) -> Tensor:
    """A CPU tensor on the training device; to a GPU from pinned memory, asynchronously (no sync)."""
    if device.type != "cuda":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)
