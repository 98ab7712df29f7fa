"""The training loop: RunConfig in, per-epoch records out.

`Trainer` trains one or more runs that share a gradient method and optimizer as a
single tensor program: parameters carry a leading run dimension, so a sweep of a
hundred learning rates costs about what one run costs, and runs that share their
rows read them once per epoch for all of them. `fit` is a Trainer with one run.
The loop synchronizes with Python only at the end of a chunk of epochs (to check
for divergence and hand out records); chunks are sized by time, about half a
second each, so a slow epoch shows progress at once and a fast one syncs rarely.
Within a chunk every epoch writes into preallocated buffers, so memory stays flat
however long a run trains.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Iterator

from gdcli import data as datamod
from gdcli import models, outcome, stopping
from gdcli.result import RunResult
from gdcli.store import design, generated_rows, keep_freed_memory, load, prepared
from gdcli.config import RunConfig, init_values, resolve, resolve_device, validate
from gdcli.errors import GdcliError, param
from gdcli.text import plural

__all__ = ["Trainer", "EpochRecord", "RunResult", "Chunk", "fit", "resolve", "RunConfig"]

if TYPE_CHECKING:
    from torch import Tensor

# Keep "all" epochs' losses (fit, compare), or only the "logged" ones (sweep; --history logged).
HISTORY = ("all", "logged")
# Loss history a run may hold in memory (float64 on the CPU); beyond it, --history logged.
MAX_HISTORY_BYTES = 2 * 1024**3
# Parameter snapshots one chunk may hold: the loop keeps every epoch's parameters
# until the chunk's divergence check, so chunks shrink for very large sweeps.
MAX_CHUNK_ELEMENTS = 2**24
# Seconds between synchronizations: chunks grow (or shrink) towards this.
SYNC_SECONDS = 0.5


@dataclass(frozen=True)
class EpochRecord(models.LineParams):
    """One epoch of one run. params and grad_norm are filled on logged epochs only."""

    epoch: int
    train_loss: float
    val_loss: float | None = None
    grad_norm: float | None = None
    params: dict[str, list] | None = None  # by torch.nn name: {"weight": [[...]], "bias": [...]} for a line
    lr: float | None = None  # the epoch's lr, when a schedule changes it


@dataclass
class Chunk:
    """Several epochs of every run: their losses on the CPU, and parameter snapshots of the
    logged and divergence epochs (on the training device).

    A chunk fresh from the loop holds consecutive epochs; one a trainer keeps with
    history "logged" holds only the logged and divergence epochs.
    """

    epochs: list[int]  # the epoch of each row: consecutive, or the logged ones a trainer kept
    train_loss: Tensor  # (epochs, runs), float64
    val_loss: Tensor | None
    snapshots: dict[int, tuple[Tensor, Tensor | None]]  # epoch -> (theta, grad), each (runs, P)
    model: models.Model | None = None  # names the parameters of the snapshots
    lrs: Tensor | None = None  # (epochs, runs) float64: each epoch's lr, when a schedule changes it

    @property
    def first(self) -> int:
        """Epoch number of the chunk's first row."""
        return self.epochs[0]

    @property
    def last(self) -> int:
        """Epoch number of the chunk's last row."""
        return self.epochs[-1]

    def row(self, epoch: int) -> int:
        """The row holding an epoch."""
        return epoch - self.first if len(self.epochs) == self.last - self.first + 1 else self.epochs.index(epoch)


# Configuration fields a batch of runs may vary in; everything else must agree.
PER_RUN = ("lr", "momentum", "seed")


class Trainer:
    """Train runs that share method, optimizer and data options as one tensor program."""

    # Asked before every epoch and every mini-batch: True stops training there, at the last whole
    # epoch (Ctrl-C, a reader that went away). A plain Python call, never a device sync.
    should_stop: Callable[[], bool] | None = None

    def __init__(self, configs: list[RunConfig], chunk: int = 4096, history: str = "all"):
        keep_freed_memory()
        base = configs[0]
        for cfg in configs:
            validate(cfg)
            if replace(cfg, lr=base.lr, momentum=base.momentum, seed=base.seed) != base:
                raise ValueError("runs of one Trainer may differ only in " + ", ".join(PER_RUN))
        if history not in HISTORY:
            raise ValueError(f"history must be one of {HISTORY}")
        self.configs, self.base, self.keep = configs, base, history
        seeds = list(dict.fromkeys(c.seed for c in configs))
        generated = generated_rows(base)
        rows = generated if generated is not None else base.rows  # a file given --rows is refused by the loader
        # Data first, without torch: a bad file is reported before torch loads. Generated
        # data is sized before a row is drawn, one dataset per seed.
        # A quadratic model's rows are the raw columns and their squares (and a training copy of both).
        widen = 3 if base.model == "quadratic" else 1
        raw = {s: load(base.dataset, tuple(base.targets), s, rows, base.features, base.dtype, widen) for s in seeds}
        self.features = raw[base.seed].features  # the raw inputs, as the user gives them to predict
        n_features, n_targets = len(self.features), len(raw[base.seed].targets)
        self.model = models.of(base, n_features, n_targets)
        # The columns the model reads (the quadratic adds each feature's square, before any scaling).
        datasets = {s: design(raw[s], self.model) for s in seeds}
        self.dataset = datasets[base.seed]
        values = init_values(base.init)
        self.notes = self._check_model(values, len(configs), raw[base.seed].n_rows)
        self._check_history_size(len(configs), n_val=base.val_fraction > 0)

        import torch

        from gdcli import gradients, optimizers, schedules

        self.device = resolve_device(base.device)
        self.dtype = getattr(torch, base.dtype)
        if self.device.type == "mps" and self.dtype == torch.float64:
            raise GdcliError("Apple's MPS device has no float64", f"use {param('dtype')} float32, or {param('device')} cpu")
        # The split depends on the seed only when there is one; without, every seed shares the tensors.
        split_seed = {s: (s if base.val_fraction > 0 else 0) for s in seeds}
        preps = {
            s: prepared(
                datasets[s], base.scale, base.normalize, base.val_fraction, split_seed[s], self.dtype, self.device
            )
            for s in seeds
        }
        self.prepared = [preps[c.seed] for c in configs]
        n = self.prepared[0].n_train
        self.batch_size = base.batch_size if base.batch_size and base.batch_size < n else None
        self.method = gradients.METHODS[base.method]
        self.spec = gradients.LossSpec(base.reduction, base.delta, self.model)
        # Runs group by the rows they see: by their prepared tensors for a full batch, by
        # seed (each has its own batch order) for mini-batches.
        key = (lambda c: c.seed) if self.batch_size else (lambda c: id(preps[c.seed]))
        self._groups = _groups([key(c) for c in configs], self.device)
        self._group_prep = [self.prepared[members[0]] for members, _ in self._groups]
        self.rows = self._rows("train")
        self.val_rows = self._rows("val") if self.prepared[0].X_val is not None else None

        kind = "values" if values else base.init
        theta0 = torch.stack([self.model.initial(kind, seed=c.seed, values=values) for c in configs])
        self.theta = theta0.to(self.device, self.dtype).requires_grad_(True)
        if base.method == "finite-diff":
            gradients.check_step(
                self.theta, base.delta, models.default_delta(base.model, base.dtype), self.rows, self.spec
            )
        entry = optimizers.OPTIMIZERS[base.optim]
        names = [name for name in ("lr", "momentum", "weight_decay") if name in entry.takes]
        varies = any(len({getattr(c, name) for c in configs}) > 1 for name in PER_RUN if name in names)
        # One value for all runs, or (when lr or momentum varies) a value per run for both.
        hp = {name: self._per_run(name) if varies and name in PER_RUN else getattr(base, name) for name in names}
        self.optimizer = optimizers.build(base.optim, [self.theta], **hp)
        self.schedule = schedules.Schedule(configs, self.optimizer) if base.schedule != "constant" else None
        self._orders = self._make_orders() if self.batch_size else None
        runs, n_params = len(configs), self.model.size
        self.chunk = max(1, min(chunk, MAX_CHUNK_ELEMENTS // (runs * n_params)))
        self._step = _compiled_step(self) if base.compile else None
        self._compiled = False
        self.compile_seconds = self._step.setup_seconds if self._step is not None else 0.0
        self.chunks_seen: list[Chunk] = []
        self._last_chunk: Chunk | None = None
        self.epochs_computed = 0
        self.epochs_done = 0  # epochs every run has trained (a lone run stops at its divergence)
        # The start loss in float64, exactly as the final loss will be measured.
        self.theta0 = self.theta.detach().to("cpu", torch.float64, copy=True)
        self.start_loss, _ = self.full_losses(self.theta0)
        self._results: list[RunResult] | None = None
        self.diverged_at: list[int | None] = [None] * runs
        self.nonfinite: list[str | None] = [None] * runs
        self.seconds = 0.0
        self._optima: dict[int, tuple] = {}  # id(prepared rows) -> the least-squares optimum on them
        # Early stopping: each run's Stop, and the rows of the runs frozen at theirs.
        self.stops: list[stopping.Stop | None] = [None] * runs
        self.interrupted = False
        self._frozen: tuple[Tensor, Tensor] | None = None  # (run indexes, their parameters) on the device
        self.rules = stopping.Rules(base, runs, self._within_thresholds()) if stopping.Rules.wanted(base) else None

    @property
    def n_train(self) -> int:
        """Training rows of each run."""
        return self.prepared[0].n_train

    def _rows(self, part: str):
        """The training (or validation) rows as the methods take them: one part per group of runs."""
        from gdcli import gradients

        parts, grams = [], []
        for (members, runs), prep in zip(self._groups, self._group_prep):
            X, y = (prep.X_train, prep.y_train) if part == "train" else (prep.X_val, prep.y_val)
            parts.append(gradients.Part(runs, X, y))
            if self.method.needs_gram:
                gram = prep.gram("training" if part == "train" else "validation")
                grams.append((members, gram))
        stats = None
        if grams:
            per_run = [None] * len(self.configs)
            for members, gram in grams:
                for run in members:
                    per_run[run] = gram
            # One set of (k + 1)-square matrices per run, so that every epoch is plain bmm calls.
            stats = gradients.GramTensors.stack(
                per_run,
                self.base.reduction,
                self.device,
                gradients.gram_dtype(self.device, self.dtype),
            )
        return gradients.Rows(tuple(parts), stats)

    def _check_model(self, values: tuple[float, ...], runs: int, n_rows: int) -> list[str]:
        """Refuse what the model cannot train (a wrong --init count, finite differences of too many
        parameters, a hidden layer beyond memory); return the notes worth printing."""
        from gdcli.gradients import FD_MAX_PARAMS

        base, model = self.base, self.model
        if values and len(values) != model.size:
            raise GdcliError(
                f"{param('init')} {base.init!r} gives {len(values)} numbers; "
                + ("" if base.model == "linear" else f"the {base.model} model of ")
                + f"{self.dataset.name} needs {model.size}",
                _init_hint(model, self.dataset),
            )
        if base.method == "finite-diff" and model.size > FD_MAX_PARAMS:
            raise GdcliError(
                f"{param('method')} finite-diff evaluates the loss twice per parameter every step: "
                f"{2 * model.size + 1:,} times for the {model.size:,} parameters of this "
                f"{base.model} model (at most {FD_MAX_PARAMS:,} parameters)",
                f"use {param('method')} analytic or autograd"
                + (f", or a smaller {param('hidden')}" if base.model == "mlp" else ""),
            )
        self._check_work_memory(runs, n_rows)
        self._check_solve(runs, n_rows)
        if not model.symmetric(base.init):
            return []
        return [
            f"{param('init')} {base.init} gives every hidden unit the same weights, so every unit gets the same "
            f"gradient and they stay identical: the {model.hidden} units train as one. "
            f"Break the symmetry with {param('init')} uniform (the default) or randn"
        ]

    def _check_work_memory(self, runs: int, n_rows: int) -> None:
        """Refuse a network whose hidden layer for every row of a batch and every run would not fit in memory."""
        if self.model.linear_in_params:
            return
        rows = min(n_rows, self.base.batch_size or n_rows)
        itemsize = 8 if self.base.dtype == "float64" else 4
        need = rows * runs * self.model.row_width() * itemsize
        have = datamod.available_memory()
        if have is None or need <= datamod.HEADROOM * have:
            return
        raise GdcliError(
            f"the {self.model.hidden}-unit hidden layer of {plural(runs, 'run')} on {rows:,} rows needs about "
            f"{need / 1024**3:.1f} GiB of memory per step; {have / 1024**3:.1f} GiB is available",
            f"use a smaller {param('hidden')}, a {param('batch_size')}, or fewer {param('rows')}",
        )

    def _check_solve(self, runs: int, n_rows: int) -> None:
        """Decide how the optimum and the stability bound will be solved (their k^2 memory and k^3 work
        counted now, before training), and refuse what needs a Gram matrix that cannot be had."""
        from gdcli import stats

        base, k = self.base, self.model.inputs
        n_train = n_rows - int(base.val_fraction * n_rows)
        have = datamod.available_memory()
        self.solve_plan = stats.solve_plan(n_train, k, have)
        if base.within is not None and self.solve_plan.side is None:
            raise GdcliError(
                f"{param('within')} stops at a distance from the least-squares optimum, which is not computed here: "
                + self.solve_plan.reason,
                f"use {param('tol')} and {param('patience')} instead, or fewer features",
            )
        if base.method != "gram":
            return
        # The gram method steps on (k + 1)-square matrices: three per run, besides the Gram matrix itself.
        need = stats.gram_method_bytes(k, runs)
        if have is not None and need > datamod.HEADROOM * have:
            raise GdcliError(
                f"{param('method')} gram steps on {(k + 1):,} x {(k + 1):,} matrices for {plural(runs, 'run')}: "
                f"about {need / 1024**3:.1f} GiB of memory; {have / 1024**3:.1f} GiB is available",
                f"use {param('method')} analytic or autograd, which work on the rows",
            )

    def _check_history_size(self, runs: int, n_val: bool) -> None:
        if self.keep != "all":
            return
        size = self.base.epochs * runs * 8 * (2 if n_val else 1)
        if size > MAX_HISTORY_BYTES:
            raise GdcliError(
                f"keeping the loss of all {plural(self.base.epochs, 'epoch')} of {plural(runs, 'run')} would take "
                f"{size / 1024**3:.1f} GiB of memory",
                f"train fewer {param('epochs')}, or keep only the logged epochs ({param('history')} logged on fit)",
            )

    def _per_run(self, name: str):
        import torch

        # float64 like the Python floats torch.optim takes; the batched rules cast
        # them to the device once, as torch.optim would round them.
        return torch.tensor([getattr(c, name) for c in self.configs], dtype=torch.float64).view(-1, 1)

    def _make_orders(self):
        """One seeded generator per group of runs (a group is one seed, for mini-batches)."""
        import torch

        return [torch.Generator().manual_seed(self.configs[members[0]].seed) for members, _ in self._groups]

    def _batches(self):
        """One epoch of (rows, size) mini-batches, in each seed's shuffled order.

        Each epoch draws one randperm of the training rows per seed, copies it to the
        device once and slices it: the batch order is reproducible from --seed.
        """
        import torch

        from gdcli import gradients

        n, size = self.n_train, self.batch_size
        orders = [_to_device(torch.randperm(n, generator=gen), self.device) for gen in self._orders]
        for start in range(0, n, size):
            parts = []
            for part, order in zip(self.rows.parts, orders):
                idx = order[start : start + size]
                parts.append(gradients.Part(part.runs, part.X[idx], part.y[idx]))
            yield gradients.Rows(tuple(parts)), min(size, n - start)

    def chunks(self) -> Iterator[Chunk]:
        """Train every epoch, yielding a Chunk at each synchronization point; stops when every run has
        diverged or stopped, or when the user interrupts (`interrupt`)."""
        import numpy as np
        import torch

        from gdcli import gradients

        base, theta = self.base, self.theta
        data = theta.detach()
        fill, spec, step, rows = self.method.fill, self.spec, self.optimizer.step, self.rows
        runs, n = len(self.configs), self.n_train
        gram = self.method.needs_gram
        # Buffers written in place every epoch: nothing allocated in an epoch outlives it.
        # (Keeping even a small tensor per epoch pins the allocator's heap between the
        # epochs' large temporaries, and memory then grows with the epochs.)
        losses = torch.empty(self.chunk, runs, dtype=self.dtype, device=self.device)
        vals = torch.empty_like(losses) if self.val_rows is not None else None
        thetas = torch.empty(self.chunk, *data.shape, dtype=self.dtype, device=self.device)
        grads = torch.empty_like(thetas)
        # Row views made once (as many as the run has epochs): copy_ into a view costs half
        # of an indexed assignment.
        rows_needed = min(self.chunk, base.epochs)
        loss_rows, theta_rows, grad_rows = (b[:rows_needed].unbind(0) for b in (losses, thetas, grads))
        val_rows = vals[:rows_needed].unbind(0) if vals is not None else None
        if self._orders is not None:
            # Mini-batch losses add up in float64 (where the device has it), weighted by
            # their rows, so a short last batch counts for what it holds.
            acc_dtype = torch.float64 if self.device.type != "mps" else self.dtype
            epoch_loss = torch.empty(self.chunk, runs, dtype=acc_dtype, device=self.device)
            epoch_rows = epoch_loss[:rows_needed].unbind(0)
            # The mean over all rows is the batches' means weighted by rows / n; the
            # sum over all rows is the sum of the batches' sums.
            mean = base.reduction == "mean"
        schedule = self.schedule
        # Each epoch's lr, written as NumPy (a row copy costs a microsecond, a tensor's several).
        lr_buf = np.empty((self.chunk, runs)) if schedule is not None else None
        first, size = 1, 1
        with torch.set_grad_enabled(self.method.needs_autograd):
            while first <= base.epochs:
                # Chunks start at one epoch (a slow epoch shows progress at once, an early
                # divergence wastes nothing) and grow towards SYNC_SECONDS of work.
                last = min(first + size - 1, base.epochs)
                started, compiling = time.perf_counter(), self.compile_seconds
                before = data.clone()  # the chunk's starting parameters
                logged = [base.logged(e) for e in range(first, last + 1)]
                count, stopped = last - first + 1, False
                for i in range(count):
                    if self.should_stop is not None and self.should_stop():
                        count, stopped = i, True
                        break
                    if val_rows is not None:
                        # The validation loss is measured at the parameters this epoch starts from.
                        with torch.no_grad():
                            val_rows[i].copy_(gradients.loss_at(data, self.val_rows, spec, gram))
                    if self._orders is None:
                        if self._step is not None:
                            loss_rows[i].copy_(self._compiled_epoch())
                            self._hold_frozen(data)
                        else:
                            loss_rows[i].copy_(fill(theta, rows, spec))
                            step()
                            self._hold_frozen(data)
                    elif not self._minibatch_epoch(epoch_rows[i], mean):
                        # Stopped part way: the epoch's batches are undone, so that the run ends
                        # at the last whole epoch, as the records and the report say.
                        data.copy_(theta_rows[i - 1] if i else before)
                        count, stopped = i, True
                        break
                    if schedule is not None:
                        lr_buf[i] = schedule.current
                        if first + i < base.epochs:
                            schedule.advance()
                    # Parameters after this epoch's update, as the book prints them.
                    theta_rows[i].copy_(data)
                    if logged[i]:
                        grad_rows[i].copy_(theta.grad)
                    ended = time.perf_counter()  # the last whole epoch's end
                if count == 0:  # stopped before this chunk's first epoch ended: nothing to report
                    self.interrupt()
                    return
                train = (epoch_loss if self._orders is not None else losses)[:count]
                val = vals[:count] if vals is not None else None
                lrs = torch.from_numpy(lr_buf[:count].copy()) if lr_buf is not None else None
                chunk = self._close_chunk(first, train, val, thetas[:count], grads[:count], before, lrs)
                # Compilation (on the first epoch) is reported apart from the epochs' time, and an
                # epoch cut short is not timed as one.
                elapsed = (ended if stopped else time.perf_counter()) - started - (self.compile_seconds - compiling)
                self.seconds += elapsed
                self.epochs_computed += count
                self.epochs_done = chunk.last
                self._last_chunk = chunk  # whole: an interrupt may need an epoch that "logged" left out
                self.chunks_seen.append(self._kept(chunk))
                if stopped:
                    self.interrupt()
                yield chunk
                if self.interrupted or all(self._end(run) is not None for run in range(runs)):
                    return
                first = last + 1
                size = _next_chunk(count, elapsed, self.chunk)

    def _minibatch_epoch(self, row: Tensor, mean: bool) -> bool:
        """One epoch of mini-batch steps, its loss added up in `row` (weighted by rows when `mean`).

        False when `should_stop` asked to stop before its last batch (the batches done stay done).
        """
        fill, spec, step, theta = self.method.fill, self.spec, self.optimizer.step, self.theta
        data, n, stop = theta.detach(), self.n_train, self.should_stop
        row.zero_()
        for batch, count in self._batches():
            if stop is not None and stop():
                return False
            batch_loss = fill(theta, batch, spec)
            step()
            self._hold_frozen(data)
            row.add_(batch_loss.detach().to(row.dtype), alpha=count / n if mean else 1.0)
        return True

    def _compiled_epoch(self):
        """One compiled full-batch epoch; the first call compiles, and its time is kept apart."""
        if self._compiled:
            return self._step()
        started = time.perf_counter()
        loss = self._step()
        # compile_seconds already holds the setup (loading the compiler, before any chunk).
        self.compile_seconds += time.perf_counter() - started
        self._compiled = True
        return loss

    def _close_chunk(
        self,
        first: int,
        losses: Tensor,
        vals: Tensor | None,
        thetas: Tensor,
        grads: Tensor,
        before: Tensor,
        lrs: Tensor | None = None,
    ) -> Chunk:
        """Check the chunk for divergence (every run at once) and keep what records need."""
        import torch

        # Copies: the buffers are written again by the next chunk (a float64 CPU buffer's .to is itself).
        train = losses.to("cpu", torch.float64, copy=True)
        val = vals.to("cpu", torch.float64, copy=True) if vals is not None else None
        # (epochs, runs) flags; all runs at once, then a loop over plain lists (sweeps run thousands).
        bad_train = ~torch.isfinite(train)
        bad_val = ~torch.isfinite(val) if val is not None else torch.zeros_like(bad_train)
        bad_theta = ~torch.isfinite(thetas).flatten(2).all(-1).cpu()
        bad = bad_train | bad_val | bad_theta
        hit, first_bad = bad.any(0).tolist(), bad.to(torch.int8).argmax(0).tolist()
        for run, (is_bad, at) in enumerate(zip(hit, first_bad)):
            if is_bad and self.diverged_at[run] is None:
                self.diverged_at[run] = first + at
                self.nonfinite[run] = (
                    "the training loss" if bad_train[at, run] else "the validation loss" if bad_val[at, run] else "the parameters"
                )
        if self.rules is not None:
            self._apply_rules(first, train, val, thetas, set(r for r, a in enumerate(hit) if a))
        stops = {self._end(run) for run in range(len(self.configs))} - {None}
        keep = {}
        for i in range(thetas.shape[0]):
            epoch = first + i
            if self.base.logged(epoch):
                keep[epoch] = (thetas[i].clone(), grads[i].clone())
            elif epoch in stops:
                keep[epoch] = (thetas[i].clone(), self._gradient_at(thetas[i - 1] if i else before))
        if len(self.configs) == 1 and self._end(0) is not None:
            # A single run stops at once: nothing after the epoch that diverged (or met a rule) counts.
            n = self._end(0) - first + 1
            train = train[:n]
            val = val[:n] if val is not None else None
            lrs = lrs[:n] if lrs is not None else None
            keep = {e: s for e, s in keep.items() if e < first + n}
        return Chunk(list(range(first, first + train.shape[0])), train, val, keep, self.model, lrs)

    def _end(self, run: int) -> int | None:
        """The epoch a run ended at before its last one: where it diverged or met a stopping rule."""
        stop = self.stops[run]
        return stop.epoch if stop is not None else self.diverged_at[run]

    def _apply_rules(self, first: int, train: Tensor, val: Tensor | None, thetas: Tensor, bad: set[int]) -> None:
        """Stop the runs that meet --tol/--patience or --within in this chunk, and freeze them there.

        A run that diverged in this chunk still counts as stopped if it met a rule first;
        the parameters it reached after its stop epoch are undone.
        """
        import numpy as np
        import torch

        runs = len(self.configs)
        live = [self.stops[r] is None and (self.diverged_at[r] is None or r in bad) for r in range(runs)]
        monitored = (val if val is not None else train).numpy()
        found = self.rules.scan(first, monitored, train.numpy(), np.array(live))
        for run, stop in list(found.items()):
            if self.diverged_at[run] is not None and self.diverged_at[run] <= stop.epoch:
                del found[run]  # it diverged first
            else:
                self.diverged_at[run] = self.nonfinite[run] = None
                self.stops[run] = stop
        if not found or runs == 1:
            return
        # Freeze: the runs keep the parameters of their stop epoch while the others train on.
        index = torch.tensor(sorted(found), device=self.device)
        values = torch.stack([thetas[found[r].epoch - first, r] for r in sorted(found)])
        if self._frozen is not None:
            index, values = torch.cat([self._frozen[0], index]), torch.cat([self._frozen[1], values])
        self._frozen = (index, values)
        self._hold_frozen(self.theta.detach())

    def _hold_frozen(self, data: Tensor) -> None:
        """Put the stopped runs back at their stop epoch's parameters (after every update)."""
        if self._frozen is not None:
            data.index_copy_(0, *self._frozen)

    def interrupt(self) -> None:
        """The user pressed Ctrl-C: every run still training stops at the last epoch it finished."""
        self.interrupted = True
        for run in range(len(self.configs)):
            if self._end(run) is None:
                self.stops[run] = stopping.Stop(self.epochs_done, stopping.INTERRUPTED)
        if self._last_chunk is None:
            return
        # Kept again now that the stop epoch is one to keep (--history logged had dropped it);
        # it gets a row with its parameters (its gradient was not kept).
        self.chunks_seen[-1] = self._kept(self._last_chunk)
        if self.epochs_done not in self._last_chunk.snapshots:
            self._last_chunk.snapshots[self.epochs_done] = (self.theta.detach().clone(), None)

    def _within_thresholds(self):
        """Each run's training loss at which --within is met (None without --within)."""
        import numpy as np

        if self.base.within is None:
            return None
        values = []
        for prep in self.prepared:
            _, best_loss, exact, power, _ = self._optimum(prep)
            values.append(stopping.within_threshold(best_loss, exact, power, self.base.within))
        return np.array(values, dtype=np.float64)

    def _optimum(self, prep: datamod.Prepared) -> tuple:
        """(parameters, loss, exact fit, loss of predicting zero, why not computed) of the least-squares
        optimum on a run's training rows: the model's own, or the best straight line for a network.
        Once per set of rows; parameters and loss are None where the optimum was not computed."""
        from gdcli import stats

        if id(prep) not in self._optima:
            t = len(self.dataset.targets)
            line = self.model if self.model.linear_in_params else models.Linear(self.model.inputs, t)
            sum_y2 = stats.sum_squares(prep.reference("train"))
            power = sum_y2 / (prep.n_train * t) if self.base.reduction == "mean" else sum_y2
            solution = prep.solution(self.solve_plan)
            if solution.theta is None:
                self._optima[id(prep)] = (None, None, False, power, solution.reason)
            else:
                best = solution.theta
                # The optimum's loss from its residuals (a second pass), not from the Gram
                # matrix's quadratic form, which cancels when the fit is nearly exact.
                best_loss = float(stats.losses(prep.reference("train"), best[None], self.base.reduction)[0])
                best_params = line.named(line.from_columns(best[None])[0])
                self._optima[id(prep)] = (best_params, best_loss, outcome.exact_fit(best_loss, power), power, None)
        return self._optima[id(prep)]

    def _gradient_at(self, theta: Tensor) -> Tensor | None:
        """The full-batch gradient every run's method computes at `theta` (None for mini-batches).

        Gradients are copied out on logged epochs only; the epoch a run diverged is
        found at the end of its chunk, and its gradient is computed again here from
        the parameters that epoch started from.
        """
        from gdcli.gradients import gradient_at

        if self._orders is not None:
            return None
        return gradient_at(self.base.method, theta, self.rows, self.spec)[1]

    def _kept(self, chunk: Chunk) -> Chunk:
        """What the trainer keeps of a chunk: every epoch's losses, or the logged and divergence epochs' only."""
        if self.keep == "all":
            return chunk
        stops = {self._end(run) for run in range(len(self.configs))}
        epochs = [e for e in chunk.epochs if self.base.logged(e) or e in stops]
        rows = [e - chunk.first for e in epochs]
        val = chunk.val_loss[rows] if chunk.val_loss is not None else None
        lrs = chunk.lrs[rows] if chunk.lrs is not None else None
        return Chunk(epochs, chunk.train_loss[rows], val, chunk.snapshots, chunk.model, lrs)

    def records(self, run: int = 0) -> Iterator[EpochRecord]:
        """Train, yielding one EpochRecord per epoch of one run (consumes `chunks`)."""
        for chunk in self.chunks():
            yield from chunk_records(chunk, run)

    def history(self) -> tuple[list[int], Tensor, Tensor | None, Tensor | None]:
        """(epochs, train, val, lrs): the kept epochs' numbers, losses and (with a schedule) lrs,
        each (epochs, runs) float64 on the CPU."""
        import torch

        seen = [c for c in self.chunks_seen if c.epochs]
        if not seen:
            return [], torch.empty(0, len(self.configs), dtype=torch.float64), None, None
        train = torch.cat([c.train_loss for c in seen])
        val = torch.cat([c.val_loss for c in seen]) if self.val_rows is not None else None
        lrs = torch.cat([c.lrs for c in seen]) if self.schedule is not None else None
        return [e for c in seen for e in c.epochs], train, val, lrs

    def final_theta(self) -> Tensor:
        """Parameters (runs, P) at the end: a run that diverged (or stopped early) keeps those of that epoch."""
        theta = self.theta.detach().clone()
        for run in range(len(self.configs)):
            stop = self._end(run)
            if stop is not None and not (self.stops[run] and self.stops[run].rule == stopping.INTERRUPTED):
                snap = next(c.snapshots[stop] for c in self.chunks_seen if stop in c.snapshots)
                theta[run] = snap[0][run]
        return theta

    def full_losses(self, theta: Tensor) -> tuple[list[float], list[float] | None]:
        """Full-batch training (and validation) loss of every run at `theta`, in float64 on the CPU.

        Measured in chunks on the rows as they are before rounding to the training dtype,
        in float64 like the least-squares optimum they are compared with: a float32 loss
        can round below it and show a negative gap, and float32 data would hide its own
        rounding damage. Runs that share their rows are measured in one pass over them.
        """
        import torch

        from gdcli import stats

        theta = theta.detach().to("cpu", torch.float64)
        runs, reduction = len(self.configs), self.base.reduction
        train = torch.empty(runs, dtype=torch.float64)
        val = torch.empty(runs, dtype=torch.float64) if self.val_rows is not None else None
        for members, prep in _by_prep(self.prepared):
            train[members] = stats.losses(prep.reference("train"), theta[members], reduction, self.model)
            if val is not None:
                val[members] = stats.losses(prep.reference("val"), theta[members], reduction, self.model)
        return train.tolist(), val.tolist() if val is not None else None

    def logged_records(self, run: int) -> list[EpochRecord]:
        """The records of one run's logged epochs (with parameters and gradient norm), up to its divergence."""
        stop = self._end(run) or self.base.epochs
        return [
            record_at(chunk, epoch, run)
            for chunk in self.chunks_seen
            for epoch in sorted(chunk.snapshots)
            if epoch <= stop
        ]

    def results(self) -> list[RunResult]:
        """How every run ended, in run order.

        The optimum and the stability bound come from one Gram matrix per set of rows
        (per seed with a split), computed once, not once per run. A model that is not
        linear in its parameters has no closed-form optimum: it is measured against the
        best straight line on the same inputs, and its stability bound is a local
        estimate at the start.
        """
        import torch

        from gdcli.schedules import peak_lr

        if self._results is not None:
            return self._results
        theta = self.final_theta()
        finals, final_vals = self.full_losses(theta)
        theta64 = theta.to("cpu", torch.float64)
        epochs, train, val, lrs = self.history()
        epoch_numbers = torch.tensor(epochs, dtype=torch.int64)
        # With --history logged the trainer keeps every run's end (a stop, a divergence) beside
        # the logged epochs; each run reports its own, whatever else it trained with.
        logged = torch.tensor([self.base.logged(e) for e in epochs], dtype=torch.bool) if self.keep == "logged" else None
        model = self.model
        bounds, steps = {}, {}
        results = []
        for run, cfg in enumerate(self.configs):
            prep = self.prepared[run]
            best_params, best_loss, exact, power, unsolved = self._optimum(prep)
            start = self.theta0[run]
            end = self._end(run)
            # A run that stopped (or diverged) early keeps the epochs up to its end.
            kept = slice(None) if end is None else slice(0, int((epoch_numbers <= end).sum()))
            if logged is not None:
                mine = logged if end is None else (logged | (epoch_numbers == end)) & (epoch_numbers <= end)
                kept = mine.nonzero().flatten()
            # The bound depends on the rows, momentum and weight decay (and for a network on where it starts).
            key = (id(prep), cfg.momentum, cfg.weight_decay, tuple(start.tolist()) if not model.linear_in_params else None)
            if key not in bounds:
                bounds[key] = stable_lr_for(cfg, prep, model, start, self.solve_plan)
            stable = bounds[key]
            # Weight decay descends loss + (wd/2)|theta|^2: judge the run on that objective.
            decay = cfg.weight_decay / 2
            verdict = outcome.judge(
                start_loss=self.start_loss[run],
                final_loss=finals[run],
                dtype=cfg.dtype,
                diverged_at=self.diverged_at[run],
                nonfinite=self.nonfinite[run] or "the training loss",
                # A schedule is judged by the largest lr it reaches.
                lr=peak_lr(cfg),
                # Only an exact bound makes a run "unstable"; a local estimate is shown, not judged by.
                stable_lr=stable if self.batch_size is None and model.linear_in_params else None,
                start_penalty=decay * float(start.square().sum()) if decay else 0.0,
                final_penalty=decay * float(theta64[run].square().sum()) if decay else 0.0,
            )
            step_error = self._step_error(run, steps) if verdict.diverged and cfg.method == "finite-diff" else None
            epochs_run = min(self.epochs_done, end or self.epochs_done)
            ran = epochs_run >= 1 and not verdict.diverged
            losses = [self.start_loss[run], finals[run]]
            unmoved = _stood_still(theta64[run], start, losses, train[kept, run]) if ran else None
            verdict = outcome.blame_step(verdict, step_error, cfg.delta)
            results.append(
                RunResult(
                    config=cfg,
                    features=self.features,
                    targets=self.dataset.targets,
                    transform=prep.transform,
                    epoch_numbers=epoch_numbers[kept],
                    train_history=train[kept, run],
                    val_history=val[kept, run] if val is not None else None,
                    lr_history=lrs[kept, run] if lrs is not None else None,
                    records=[],
                    model=model,
                    params=model.named(theta64[run]),
                    initial_params=model.named(start),
                    start_loss=self.start_loss[run],
                    final_loss=finals[run],
                    final_val_loss=final_vals[run] if final_vals else None,
                    optimum_params=best_params,
                    optimum_loss=best_loss,
                    exact_fit=exact,
                    zero_loss=power,
                    optimum_reason=unsolved,
                    stable_lr=stable,
                    verdict=verdict,
                    epochs_run=epochs_run,
                    stop=self.stops[run],
                    seconds=self.seconds,
                    n_train=prep.n_train,
                    n_val=prep.n_val,
                    epochs_computed=self.epochs_computed,
                    compile_seconds=self.compile_seconds,
                    step_error=step_error,
                    unmoved=unmoved,
                )
            )
        self._results = results
        return results

    def _step_error(self, run: int, cache: dict) -> float:
        """The finite-difference gradient at a run's start against autograd's (max diff / norm), in the
        training dtype: how far --delta broke it. Runs sharing rows and start share the figure."""
        from gdcli import gradients
        from gdcli.numerics import differences

        prep, start = self.prepared[run], self.theta0[run]
        key = (id(prep), tuple(start.tolist()))
        if key not in cache:
            theta = start[None].to(self.device, self.dtype)
            rows = gradients.shared(prep.X_train, prep.y_train)
            found = [gradients.gradient_at(m, theta, rows, self.spec)[1] for m in ("finite-diff", "autograd")]
            cache[key] = differences(*found)[1]
        return cache[key]

    def result(self, run: int = 0) -> RunResult:
        """One run's summary after training, with its logged records (a lone fit: `fit(cfg).result()`)."""
        result = self.results()[run]
        if not result.records:
            result.records = self.logged_records(run)
        return result


def _stood_still(final: Tensor, start: Tensor, losses: list[float], history: Tensor) -> str | None:
    """How a run that trained stood still, or None: it ended exactly at its start, or its loss never
    changed: the full-batch loss at its end and start (`losses`, float64), or every kept epoch's loss
    in the training dtype (`history`), where its steps fell below the spacing of the parameters."""
    import torch

    if torch.equal(final, start):
        return "its parameters ended exactly where they started"
    if losses[0] == losses[1] or (len(history) >= 2 and bool((history == history[0]).all())):
        return "its training loss never changed"
    return None


def _init_hint(model: models.Model, ds: datamod.Dataset) -> str:
    """How --init numbers are ordered for a model."""
    if model.linear_in_params:
        t, k = len(ds.targets), model.inputs
        return f"give {t}x{k} weights row by row, then {plural(t, 'bias', 'biases')}"
    shapes = ", ".join(f"{p.name} {'x'.join(map(str, p.shape))}" for p in model.parameters())
    return f"give the values in torch.nn order, each row by row: {shapes}"


def _members(keys: list) -> list[list[int]]:
    """The runs of each distinct key, in order of first appearance."""
    members: dict = {}
    for run, key in enumerate(keys):
        members.setdefault(key, []).append(run)
    return list(members.values())


def _groups(keys: list, device) -> list[tuple[list[int], Tensor | None]]:
    """Runs grouped by key: (members, their index on the device, or None when one group holds every run)."""
    import torch

    groups = _members(keys)
    if len(groups) == 1:
        return [(groups[0], None)]
    return [(runs, torch.tensor(runs, device=device)) for runs in groups]


def _by_prep(prepared: list) -> list[tuple[list[int], datamod.Prepared]]:
    """Runs grouped by the prepared rows they share."""
    return [(runs, prepared[runs[0]]) for runs in _members([id(p) for p in prepared])]


def _next_chunk(count: int, elapsed: float, cap: int) -> int:
    """Epochs in the next chunk: towards SYNC_SECONDS of work, growing at most fourfold, within the cap."""
    per_epoch = max(elapsed / count, 1e-9)
    return max(1, min(cap, 4 * count, int(SYNC_SECONDS / per_epoch)))


def _compiled_step(trainer: Trainer):
    """The full-batch epoch (gradient method, then optimizer step) through torch.compile."""
    from gdcli import compiling

    return compiling.epoch_step(trainer.method, trainer.theta, trainer.rows, trainer.spec, trainer.optimizer, trainer.device)


def _to_device(t: Tensor, device) -> Tensor:
    """A CPU tensor on the training device; to a GPU from pinned memory, asynchronously (no sync)."""
    if device.type != "cuda":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)


def stable_lr_for(
    cfg: RunConfig, prep: datamod.Prepared, model: models.Model | None = None, start=None, plan=None
) -> float | None:
    """The full-batch stability bound on lr for gd and sgd (None for adaptive optimizers, and where
    the optimum's solve was not possible).

    Exact for a model linear in its parameters (from the one decomposition that also gives
    the optimum, on the side `plan` chose); for any other, a local estimate from the
    Hessian's largest eigenvalue at the starting parameters.
    """
    if cfg.optim not in ("gd", "sgd"):
        return None
    if model is None or model.linear_in_params:
        if plan is None:
            from gdcli import stats

            plan = stats.solve_plan(prep.n_train, prep.X_train.shape[1], datamod.available_memory())
        solution = prep.solution(plan)
        return solution.stable_lr(prep.n_train, len(prep.dataset.targets), cfg.reduction, cfg.momentum, cfg.weight_decay)
    from gdcli import curvature

    lam = curvature.sharpness(model, start, lambda: prep.reference("train"), prep.n_train, cfg.reduction)
    lam += cfg.weight_decay
    return 2.0 * (1.0 + cfg.momentum) / lam if lam > 0 else float("inf")


def record_at(chunk: Chunk, epoch: int, run: int) -> EpochRecord:
    """One run's record of one epoch of a chunk, with parameters when the epoch was kept."""
    import torch

    i = chunk.row(epoch)
    val = float(chunk.val_loss[i, run]) if chunk.val_loss is not None else None
    lr = float(chunk.lrs[i, run]) if chunk.lrs is not None else None
    snap = chunk.snapshots.get(epoch)
    if snap is None:
        return EpochRecord(epoch, float(chunk.train_loss[i, run]), val, lr=lr)
    theta, grad = snap
    params = chunk.model.named(theta[run].to("cpu", torch.float64))
    norm = float(torch.linalg.vector_norm(grad[run].double())) if grad is not None else None
    return EpochRecord(epoch, float(chunk.train_loss[i, run]), val, norm, params, lr)


def chunk_records(chunk: Chunk, run: int) -> Iterator[EpochRecord]:
    """Every EpochRecord of one run in a chunk; parameters and grad norm on the kept epochs."""
    for epoch in chunk.epochs:
        yield record_at(chunk, epoch, run)


def fit(cfg: RunConfig, history: str = "all") -> Trainer:
    """A Trainer for one run: iterate `.records()`, then read `.result()`."""
    return Trainer([cfg], history=history)
