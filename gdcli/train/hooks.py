"""What happens at a synchronization point, once per chunk of epochs.

Each hook is a small object with one method, `at_sync(sync)`, called in order with
the chunk the loop just trained (`Sync`): the divergence check, the early-stopping
rules (which freeze the runs they stop), the snapshots records read, the history
the trainer keeps, the path each run takes (for the loss-surface pictures), and the user's
Ctrl-C. A new concern at the sync point (a
sharpness tracker, say) is one more hook, not a branch in the loop.

Hooks share `Ends`: where each run diverged or stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Protocol

from gdcli.result import Chunk
from gdcli.train import stopping

if TYPE_CHECKING:
    from torch import Tensor

    from gdcli.config import RunConfig
    from gdcli.models import Model


@dataclass
class Sync:
    """A chunk of epochs fresh from the loop, as the hooks see it."""

    first: int  # the chunk's first epoch
    train: Tensor  # (epochs, runs) float64 on the CPU: a copy, the loop's buffers are written again
    val: Tensor | None
    thetas: Tensor  # (epochs, runs, P) on the device: the parameters after each epoch
    grads: Tensor  # (epochs, runs, P): the gradients, on the logged epochs only
    before: Tensor  # (runs, P): the parameters the chunk started from
    lrs: Tensor | None  # (epochs, runs) float64: each epoch's lr, with a schedule
    stopped: bool  # should_stop ended the chunk before its last epoch
    bad: set[int] = field(default_factory=set)  # the runs that stopped being finite in this chunk
    chunk: Chunk | None = None  # what records read of it, once Snapshots made it


def logged_epochs(cfg: RunConfig, first: int, last: int) -> list[int]:
    """The epochs of first..last that get a row in the table (RunConfig.logged), found from the
    rule's arithmetic rather than by asking about every epoch."""
    every = cfg.every
    found = set(range(first, min(last, 3) + 1))
    found.update(range(-(-first // every) * every, last + 1, every))
    if first <= cfg.epochs <= last:
        found.add(cfg.epochs)
    return sorted(found)


class Hook(Protocol):
    """Called at every synchronization point, in order."""

    def at_sync(self, sync: Sync) -> None:
        """Read (and for some hooks, act on) the chunk just trained."""


class Ends:
    """Where each run ended before its last epoch: the epoch it diverged at, or its Stop."""

    def __init__(self, runs: int):
        self.diverged_at: list[int | None] = [None] * runs
        self.nonfinite: list[str | None] = [None] * runs  # what stopped being finite: a loss or the parameters
        self.stops: list[stopping.Stop | None] = [None] * runs

    def end(self, run: int) -> int | None:
        """The epoch a run ended at before its last one: where it diverged or met a stopping rule."""
        stop = self.stops[run]
        return stop.epoch if stop is not None else self.diverged_at[run]

    def all(self) -> set[int | None]:
        """Every run's end (None for those that train on)."""
        return {self.end(run) for run in range(len(self.stops))}

    def every_run_ended(self) -> bool:
        """Whether no run trains on."""
        return all(self.end(run) is not None for run in range(len(self.stops)))


class Divergence:
    """Mark where each run's loss (training or validation) or parameters stopped being finite."""

    def __init__(self, ends: Ends):
        self.ends = ends

    def at_sync(self, sync: Sync) -> None:
        """Check every run at once, then a loop over plain lists (sweeps run thousands)."""
        import torch

        bad_train = ~torch.isfinite(sync.train)
        bad_val = ~torch.isfinite(sync.val) if sync.val is not None else torch.zeros_like(bad_train)
        bad_theta = ~torch.isfinite(sync.thetas).flatten(2).all(-1).cpu()
        bad = bad_train | bad_val | bad_theta
        hit, first_bad = bad.any(0).tolist(), bad.to(torch.int8).argmax(0).tolist()
        ends = self.ends
        for run, (is_bad, at) in enumerate(zip(hit, first_bad)):
            if is_bad and ends.diverged_at[run] is None:
                ends.diverged_at[run] = sync.first + at
                what = "the training loss" if bad_train[at, run] else "the validation loss" if bad_val[at, run] else None
                ends.nonfinite[run] = what or "the parameters"
        sync.bad = {run for run, is_bad in enumerate(hit) if is_bad}


class EarlyStopping:
    """Stop the runs that meet --tol/--patience or --within, and freeze them at their stop epoch.

    A run that diverged in this chunk still counts as stopped if it met a rule first;
    the parameters it reached after its stop epoch are undone.
    """

    def __init__(self, rules: stopping.Rules, ends: Ends, data: Tensor):
        self.rules, self.ends, self.data = rules, ends, data
        self.frozen: tuple[Tensor, Tensor] | None = None  # (run indexes, their parameters) on the device

    def at_sync(self, sync: Sync) -> None:
        """Scan the chunk's losses for every live run; freeze those that stopped while others train on."""
        import numpy as np
        import torch

        ends, runs = self.ends, len(self.ends.stops)
        live = [ends.stops[r] is None and (ends.diverged_at[r] is None or r in sync.bad) for r in range(runs)]
        monitored = (sync.val if sync.val is not None else sync.train).numpy()
        found = self.rules.scan(sync.first, monitored, sync.train.numpy(), np.array(live))
        for run, stop in list(found.items()):
            if ends.diverged_at[run] is not None and ends.diverged_at[run] <= stop.epoch:
                del found[run]  # it diverged first
            else:
                ends.diverged_at[run] = ends.nonfinite[run] = None
                ends.stops[run] = stop
        if not found or runs == 1:
            return
        # Freeze: the runs keep the parameters of their stop epoch while the others train on.
        index = torch.tensor(sorted(found), device=self.data.device)
        values = torch.stack([sync.thetas[found[r].epoch - sync.first, r] for r in sorted(found)])
        if self.frozen is not None:
            index, values = torch.cat([self.frozen[0], index]), torch.cat([self.frozen[1], values])
        self.frozen = (index, values)
        self.data.index_copy_(0, *self.frozen)


class Snapshots:
    """Keep the parameters records read (logged epochs, and each run's end), and make the chunk."""

    def __init__(self, base: RunConfig, model: Model, ends: Ends, gradient_at: Callable[[Tensor], Tensor | None]):
        self.base, self.model, self.ends, self.gradient_at = base, model, ends, gradient_at

    def at_sync(self, sync: Sync) -> None:
        """Sets `sync.chunk`; a lone run's chunk ends at its end (nothing after it counts)."""
        thetas, first = sync.thetas, sync.first
        last = first + thetas.shape[0] - 1
        logged = set(logged_epochs(self.base, first, last))
        ends = {e for e in self.ends.all() if e is not None and first <= e <= last}
        keep = {}
        for epoch in sorted(logged | ends):
            i = epoch - first
            if epoch in logged:
                keep[epoch] = (thetas[i].clone(), sync.grads[i].clone())
            else:
                # Gradients are copied out on logged epochs only: this one is computed again
                # from the parameters its epoch started from.
                keep[epoch] = (thetas[i].clone(), self.gradient_at(thetas[i - 1] if i else sync.before))
        train, val, lrs = sync.train, sync.val, sync.lrs
        end = self.ends.end(0)
        if len(self.ends.stops) == 1 and end is not None:
            n = end - first + 1
            train = train[:n]
            val = val[:n] if val is not None else None
            lrs = lrs[:n] if lrs is not None else None
            keep = {e: s for e, s in keep.items() if e < first + n}
        sync.chunk = Chunk(list(range(first, first + train.shape[0])), train, val, keep, self.model, lrs)


class History:
    """What the trainer keeps of every chunk: all epochs' losses, or (history "logged") the logged
    epochs' and each run's end."""

    def __init__(self, base: RunConfig, keep: str, ends: Ends):
        self.base, self.keep, self.ends = base, keep, ends
        self.chunks: list[Chunk] = []
        self.last: Chunk | None = None  # whole: an interrupt may need an epoch that "logged" left out
        self.epochs_done = 0  # epochs every run has trained (a lone run stops at its divergence)

    def at_sync(self, sync: Sync) -> None:
        """Keep the chunk Snapshots made."""
        self.epochs_done = sync.chunk.last
        self.last = sync.chunk
        self.chunks.append(self.kept(sync.chunk))

    def kept(self, chunk: Chunk) -> Chunk:
        """What is kept of a chunk: every epoch's losses, or the logged and end epochs' only."""
        if self.keep == "all":
            return chunk
        # A chunk fresh from the loop holds consecutive epochs.
        ends = {e for e in self.ends.all() if e is not None and chunk.first <= e <= chunk.last}
        epochs = sorted(set(logged_epochs(self.base, chunk.first, chunk.last)) | ends)
        rows = [e - chunk.first for e in epochs]
        val = chunk.val_loss[rows] if chunk.val_loss is not None else None
        lrs = chunk.lrs[rows] if chunk.lrs is not None else None
        return Chunk(epochs, chunk.train_loss[rows], val, chunk.snapshots, chunk.model, lrs, chunk.sharpness)


# The path each run takes across the loss surface: at most this many points per run, and at most
# this many bytes for all runs together (a sweep of a thousand networks keeps fewer points).
PATH_POINTS = 1000
PATH_BYTES = 32 << 20


class Path:
    """Keep each run's parameters at evenly spaced epochs (a stride that gives at most PATH_POINTS),
    at the logged epochs and at each run's end, in float64 on the CPU: the path that surface
    pictures and animations draw. Epoch 0 is where the runs started."""

    def __init__(self, base: RunConfig, start: Tensor, ends: Ends):
        import torch

        runs, size = start.shape
        points = max(2, min(PATH_POINTS, PATH_BYTES // max(1, runs * size * 8)))
        self.base, self.ends = base, ends
        self.stride = max(1, -(-base.epochs // points))  # ceiling division
        self.epochs: list[int] = [0]
        self.parts: list[Tensor] = [start.detach().to("cpu", torch.float64, copy=True).unsqueeze(0)]

    def at_sync(self, sync: Sync) -> None:
        """Copy the chunk's kept epochs out of the loop's buffers."""
        import torch

        first, count = sync.first, sync.train.shape[0]
        last = first + count - 1
        kept = set(range(-(-first // self.stride) * self.stride, last + 1, self.stride))
        kept.update(logged_epochs(self.base, first, last))
        kept.update(e for e in self.ends.all() if e is not None and first <= e <= last)
        epochs = sorted(kept)
        if not epochs:
            return
        rows = torch.tensor([e - first for e in epochs], device=sync.thetas.device)
        self.parts.append(sync.thetas.index_select(0, rows).to("cpu", torch.float64))
        self.epochs += epochs

    def of(self, run: int, end: int | None) -> tuple[Tensor, Tensor]:
        """(epochs (m,) int64, parameters (m, P) float64) of one run, up to its end."""
        import torch

        epochs = torch.tensor(self.epochs, dtype=torch.int64)
        thetas = torch.cat(self.parts)[:, run]
        if end is not None:
            keep = epochs <= end
            epochs, thetas = epochs[keep], thetas[keep]
        return epochs, thetas.contiguous()


class Interrupt:
    """Ctrl-C (or should_stop): every run still training stops at the last epoch it finished."""

    def __init__(self, ends: Ends, history: History, data: Tensor):
        self.ends, self.history, self.data = ends, history, data
        self.interrupted = False

    def at_sync(self, sync: Sync) -> None:
        """Stop the runs when should_stop cut this chunk short."""
        if sync.stopped:
            self.now()

    def now(self) -> None:
        """Stop every live run at the last whole epoch, and keep that epoch's row and parameters."""
        self.interrupted = True
        history, ends = self.history, self.ends
        for run in range(len(ends.stops)):
            if ends.end(run) is None:
                ends.stops[run] = stopping.Stop(history.epochs_done, stopping.INTERRUPTED)
        if history.last is None:
            return
        # Kept again now that the stop epoch is one to keep (--history logged had dropped it);
        # it gets a row with its parameters (its gradient was not kept).
        history.chunks[-1] = history.kept(history.last)
        if history.epochs_done not in history.last.snapshots:
            history.last.snapshots[history.epochs_done] = (self.data.clone(), None)
