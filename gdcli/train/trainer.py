"""Trainer: a batch of runs trained as one tensor program, from plan to results.

Parameters carry a leading run dimension, so a sweep of a hundred learning rates
costs about what one run costs, and runs that share their rows read them once per
epoch for all of them. `fit` is a Trainer with one run.

The parts: plan.py decides what will run, loop.py trains it, hooks.py acts at each
synchronization point, summary.py says how every run ended.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable, Iterator

from gdcli.result import EpochRecord, RunResult, chunk_records
from gdcli.train import hooks, loop, stopping, summary
from gdcli.train import plan as planmod

if TYPE_CHECKING:
    from torch import Tensor

    from gdcli.config import RunConfig
    from gdcli.result import Chunk


class Trainer:
    """Train runs that share method, optimizer and data options as one tensor program.

    What will run (configs, base, model, dataset, prepared, rows, spec, method, device,
    batch_size, notes, ...) is read from its plan (`trainer.plan`, or as an attribute).
    """

    # Asked before every epoch and every mini-batch: True stops training there, at the last whole
    # epoch (Ctrl-C, a reader that went away). A plain Python call, never a device sync.
    should_stop: Callable[[], bool] | None = None

    def __init__(self, configs: list[RunConfig], chunk: int = 4096, history: str = "all", source=None):
        import torch

        from gdcli import optimizers, schedules

        plan = self.plan = planmod.make(configs, chunk, history, source)
        base = plan.base
        self.theta = plan.start.clone().requires_grad_(True)
        self.optimizer = optimizers.build(base.optim, [self.theta], **_hyper(plan))
        self.schedule = schedules.Schedule(configs, self.optimizer) if base.schedule != "constant" else None
        # One seeded generator of batch orders per group of runs (a group is one seed, for mini-batches).
        self.orders = None
        if plan.batch_size:
            self.orders = [torch.Generator().manual_seed(configs[members[0]].seed) for members, _ in plan.groups]
        self.step = loop.compiled_step(self) if base.compile else None
        self.compiled = False
        self.compile_seconds = self.step.setup_seconds if self.step is not None else 0.0
        self.epochs_computed, self.seconds = 0, 0.0
        # The start loss in float64, exactly as the final loss will be measured.
        self.theta0 = self.theta.detach().to("cpu", torch.float64, copy=True)
        self.start_loss, _ = summary.full_losses(self, self.theta0)
        self.optima = summary.Optima(plan)
        self._results: list[RunResult] | None = None
        self.ends = hooks.Ends(plan.runs)
        self._make_hooks()

    def _make_hooks(self) -> None:
        """The sync-point hooks, in the order they run: each reads what the ones before decided."""
        plan, ends, data = self.plan, self.ends, self.theta.detach()
        self.history_hook = hooks.History(plan.base, plan.keep, ends)
        self.interrupt_hook = hooks.Interrupt(ends, self.history_hook, data)
        self.stopping_hook = None
        if stopping.Rules.wanted(plan.base):
            rules = stopping.Rules(plan.base, plan.runs, summary.within_thresholds(self))
            self.stopping_hook = hooks.EarlyStopping(rules, ends, data)
        gradient = hooks.Snapshots(plan.base, plan.model, ends, self.gradient_at)
        self.path_hook = hooks.Path(plan.base, data, ends)
        self.sharpness_hook = None
        if plan.base.sharpness is not None:
            from gdcli.train.sharpness import Sharpness

            self.sharpness_hook = Sharpness(plan, ends)
        found = [hooks.Divergence(ends), self.stopping_hook, gradient, self.sharpness_hook, self.history_hook,
                 self.path_hook, self.interrupt_hook]
        self.hooks: list[hooks.Hook] = [hook for hook in found if hook is not None]

    def __getattr__(self, name: str):
        # Only names the Trainer lacks come here: what will run is the plan's.
        if name == "plan":
            raise AttributeError(name)
        return getattr(self.plan, name)

    @property
    def diverged_at(self) -> list[int | None]:
        """The epoch each run's loss or parameters stopped being finite (None: they did not)."""
        return self.ends.diverged_at

    @property
    def nonfinite(self) -> list[str | None]:
        """What stopped being finite in each diverged run: a loss, or the parameters."""
        return self.ends.nonfinite

    @property
    def stops(self) -> list[stopping.Stop | None]:
        """Why and when each run stopped before its last epoch (None: it did not)."""
        return self.ends.stops

    @property
    def interrupted(self) -> bool:
        """Whether Ctrl-C (should_stop) stopped the training."""
        return self.interrupt_hook.interrupted

    @property
    def epochs_done(self) -> int:
        """Epochs every run has trained (a lone run stops at its divergence)."""
        return self.history_hook.epochs_done

    @property
    def chunks_seen(self) -> list[Chunk]:
        """The chunks kept so far (all epochs, or the logged and end epochs)."""
        return self.history_hook.chunks

    def frozen(self) -> tuple[Tensor, Tensor] | None:
        """(run indexes, their parameters) of the runs the stopping rules froze, or None."""
        return self.stopping_hook.frozen if self.stopping_hook is not None else None

    def chunks(self) -> Iterator[Chunk]:
        """Train every epoch, yielding a Chunk at each synchronization point; stops when every run has
        diverged or stopped, or when the user interrupts (`interrupt`)."""
        return loop.chunks(self)

    def records(self, run: int = 0) -> Iterator[EpochRecord]:
        """Train, yielding one EpochRecord per epoch of one run (consumes `chunks`)."""
        for chunk in self.chunks():
            yield from chunk_records(chunk, run)

    def interrupt(self) -> None:
        """The user pressed Ctrl-C: every run still training stops at the last epoch it finished."""
        self.interrupt_hook.now()

    def compiled_epoch(self) -> Tensor:
        """One compiled full-batch epoch; the first call compiles, and its time is kept apart."""
        if self.compiled:
            return self.step()
        started = time.perf_counter()
        loss = self.step()
        # compile_seconds already holds the setup (loading the compiler, before any chunk).
        self.compile_seconds += time.perf_counter() - started
        self.compiled = True
        return loss

    def gradient_at(self, theta: Tensor) -> Tensor | None:
        """The full-batch gradient every run's method computes at `theta` (None for mini-batches)."""
        from gdcli.gradients import gradient_at

        if self.orders is not None:
            return None
        if self.plan.streamed and not self.plan.method.needs_gram:
            from gdcli.train import streamed

            return streamed.gradient_at(self, theta)
        return gradient_at(self.plan.base.method, theta, self.plan.rows, self.plan.spec)[1]

    def history(self) -> tuple[list[int], Tensor, Tensor | None, Tensor | None]:
        """(epochs, train, val, lrs): the kept epochs' numbers, losses and (with a schedule) lrs,
        each (epochs, runs) float64 on the CPU."""
        return summary.history(self)

    def results(self) -> list[RunResult]:
        """How every run ended, in run order (computed once)."""
        if self._results is None:
            self._results = summary.results(self)
        return self._results

    def result(self, run: int = 0) -> RunResult:
        """One run's summary after training, with its logged records (a lone fit: `fit(cfg).result()`)."""
        result = self.results()[run]
        if not result.records:
            result.records = summary.logged_records(self, run)
        return result


def _hyper(plan: planmod.Plan) -> dict:
    """The optimizer's settings, with a lone adam run's lr as a (1, 1) tensor on the CPU: its batched
    rule then steps it, which rounds as torch.optim.Adam does there, to the bit, without torch.optim's
    per-step bookkeeping (three times the update's own cost on a small model)."""
    import torch

    hyper, base = plan.hyper, plan.base
    if base.optim != "adam" or plan.runs != 1 or plan.device.type != "cpu" or base.schedule != "constant":
        return hyper
    return {**hyper, "lr": torch.tensor([[base.lr]], dtype=torch.float64)}


def fit(cfg: RunConfig, history: str = "all", source=None) -> Trainer:
    """A Trainer for one run: iterate `.records()`, then read `.result()`. `source` (rayfit.OnRay): where
    its rows are read and prepared, instead of here."""
    return Trainer([cfg], history=history, source=source)
