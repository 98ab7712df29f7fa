"""The training loop: RunConfig in, per-epoch records out.

`Trainer` trains one or more runs that share a gradient method and optimizer as a
single tensor program: parameters carry a leading run dimension, so a sweep of a
hundred learning rates costs about what one run costs. `fit` is a Trainer with one
run. The loop synchronizes with Python only once per chunk of epochs (to check
for divergence and hand out records), which keeps it as lean as the book's own
loop and lets a GPU run ahead. Within a chunk every epoch writes into
preallocated buffers, so memory stays flat however long a run trains.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Iterator

from gdcli import data as datamod
from gdcli import outcome
from gdcli.result import RunResult
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


@dataclass(frozen=True)
class EpochRecord:
    """One epoch of one run. params and grad_norm are filled on logged epochs only."""

    epoch: int
    train_loss: float
    val_loss: float | None = None
    grad_norm: float | None = None
    weight: list[list[float]] | None = None
    bias: list[float] | None = None


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
    snapshots: dict[int, tuple[Tensor, Tensor | None]]  # epoch -> (theta, grad), each (runs, k+1, t)

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


@functools.lru_cache(maxsize=16)
def load(name: str, targets: tuple[str, ...], seed: int, rows: int | None) -> datamod.Dataset:
    """A dataset, read once per process however many runs and trainers use it."""
    entry = datamod.BUILTINS.get(name)
    # Only generated data depends on the seed: a file is read once for every seed.
    seed = seed if entry is not None and entry.default_rows is not None else 0
    return datamod.load_dataset(name, targets=targets, seed=seed, rows=rows)


class Trainer:
    """Train runs that share method, optimizer and data options as one tensor program."""

    def __init__(self, configs: list[RunConfig], chunk: int = 512, history: str = "all"):
        base = configs[0]
        for cfg in configs:
            validate(cfg)
            if replace(cfg, lr=base.lr, momentum=base.momentum, seed=base.seed) != base:
                raise ValueError("runs of one Trainer may differ only in " + ", ".join(PER_RUN))
        if history not in HISTORY:
            raise ValueError(f"history must be one of {HISTORY}")
        self.configs, self.base, self.keep = configs, base, history
        # Data first, in plain Python: a bad file is reported before torch loads.
        seeds = list(dict.fromkeys(c.seed for c in configs))
        datasets = {s: load(base.dataset, tuple(base.targets), s, base.rows) for s in seeds}
        self.dataset = datasets[base.seed]
        n_features, n_targets = len(self.dataset.features), len(self.dataset.targets)
        values = init_values(base.init)
        if values and len(values) != n_features * n_targets + n_targets:
            raise GdcliError(
                f"{param('init')} {base.init!r} gives {len(values)} numbers; {self.dataset.name} needs "
                f"{n_features * n_targets + n_targets}",
                f"give {n_targets}x{n_features} weights row by row, then {plural(n_targets, 'bias', 'biases')}",
            )
        self._check_history_size(len(configs), n_val=base.val_fraction > 0)

        import torch

        from gdcli import gradients, model, optimizers

        self.device = resolve_device(base.device)
        self.dtype = getattr(torch, base.dtype)
        if self.device.type == "mps" and self.dtype == torch.float64:
            raise GdcliError("Apple's MPS device has no float64", f"use {param('dtype')} float32, or {param('device')} cpu")
        prepared = {
            s: datamod.prepare(
                datasets[s],
                scale=base.scale,
                normalize=base.normalize,
                val_fraction=base.val_fraction,
                seed=s,
                dtype=self.dtype,
                device=self.device,
            )
            for s in seeds
        }
        self.prepared = [prepared[c.seed] for c in configs]
        self.X = _per_run_data([p.X_train for p in self.prepared])
        self.y = _per_run_data([p.y_train for p in self.prepared])
        has_val = self.prepared[0].X_val is not None
        self.Xv = _per_run_data([p.X_val for p in self.prepared]) if has_val else None
        self.yv = _per_run_data([p.y_val for p in self.prepared]) if has_val else None

        theta0 = torch.stack(
            [model.initial_theta(base.init, n_features, n_targets, seed=c.seed, values=values) for c in configs]
        )
        self.theta = theta0.to(self.device, self.dtype).requires_grad_(True)
        self.method = gradients.METHODS[base.method]
        self.spec = gradients.LossSpec(base.reduction, base.delta)
        entry = optimizers.OPTIMIZERS[base.optim]
        names = [name for name in ("lr", "momentum", "weight_decay") if name in entry.takes]
        varies = any(len({getattr(c, name) for c in configs}) > 1 for name in PER_RUN if name in names)
        # One value for all runs, or (when lr or momentum varies) a value per run for both.
        hp = {name: self._per_run(name) if varies and name in PER_RUN else getattr(base, name) for name in names}
        self.optimizer = optimizers.build(base.optim, [self.theta], **hp)
        n = self.X.shape[1]
        self.batch_size = base.batch_size if base.batch_size and base.batch_size < n else None
        self._orders = self._make_orders() if self.batch_size else None
        runs, n_params = len(configs), self.theta[0].numel()
        self.chunk = max(1, min(chunk, MAX_CHUNK_ELEMENTS // (runs * n_params)))
        self.chunks_seen: list[Chunk] = []
        self.epochs_computed = 0
        self.epochs_done = 0  # epochs every run has trained (a lone run stops at its divergence)
        # The start loss in float64, exactly as the final loss will be measured.
        self.theta0 = self.theta.detach().to("cpu", torch.float64, copy=True)
        self.start_loss, _ = self.full_losses(self.theta0)
        self._results: list[RunResult] | None = None
        self.diverged_at: list[int | None] = [None] * runs
        self.nonfinite: list[str | None] = [None] * runs
        self.seconds = 0.0

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
        return torch.tensor([getattr(c, name) for c in self.configs], dtype=torch.float64).view(-1, 1, 1)

    def _make_orders(self):
        """One seeded generator per distinct seed, and which one each run follows."""
        import torch

        seeds = list(dict.fromkeys(c.seed for c in self.configs))
        generators = [torch.Generator().manual_seed(s) for s in seeds]
        run_of_seed = torch.tensor([seeds.index(c.seed) for c in self.configs], device=self.device)
        return generators, run_of_seed

    def _batches(self) -> Iterator[tuple[Tensor, Tensor, int]]:
        """One epoch of (X, y, rows) mini-batches in each run's seeded shuffled order.

        The order is a DataLoader's with shuffle=True over the same generator, as
        in earlier versions of gdcli: each epoch the loader draws a base seed, its
        sampler draws randperm(n) and, run to its end, one more randperm for the
        (empty) remainder. The epoch's order is copied to the device once, then sliced.
        """
        import torch

        generators, run_of_seed = self._orders
        n, size = self.X.shape[1], self.batch_size
        perms = []
        for gen in generators:
            torch.empty((), dtype=torch.int64).random_(generator=gen)
            perms.append(torch.randperm(n, generator=gen))
            torch.randperm(n, generator=gen)
        if len(perms) == 1:
            order = _to_device(perms[0], self.device)
            for start in range(0, n, size):
                idx = order[start : start + size]
                yield self.X[:, idx], self.y[:, idx], idx.shape[0]
            return
        order = _to_device(torch.stack(perms), self.device)[run_of_seed]  # (runs, n)
        runs = torch.arange(len(self.configs), device=self.device).unsqueeze(1)
        for start in range(0, n, size):
            idx = order[:, start : start + size]
            yield self.X[runs, idx], self.y[runs, idx], idx.shape[1]

    def chunks(self) -> Iterator[Chunk]:
        """Train every epoch, yielding a Chunk at each synchronization point; stops when all runs diverged."""
        import torch

        from gdcli import model

        base, theta = self.base, self.theta
        data = theta.detach()
        fill, spec, step = self.method.fill, self.spec, self.optimizer.step
        X, y, Xv, yv = self.X, self.y, self.Xv, self.yv
        runs, n = len(self.configs), X.shape[1]
        # Buffers written in place every epoch: nothing allocated in an epoch outlives it.
        # (Keeping even a small tensor per epoch pins the allocator's heap between the
        # epochs' large temporaries, and memory then grows with the epochs.)
        losses = torch.empty(self.chunk, runs, dtype=self.dtype, device=self.device)
        vals = torch.empty_like(losses) if Xv is not None else None
        thetas = torch.empty(self.chunk, *data.shape, dtype=self.dtype, device=self.device)
        grads = torch.empty_like(thetas)
        # Row views made once: copy_ into a view costs half of an indexed assignment.
        loss_rows, theta_rows, grad_rows = losses.unbind(0), thetas.unbind(0), grads.unbind(0)
        val_rows = vals.unbind(0) if vals is not None else None
        if self._orders is not None:
            # Mini-batch losses add up in float64 (where the device has it), weighted by
            # their rows, so a short last batch counts for what it holds.
            acc_dtype = torch.float64 if self.device.type != "mps" else self.dtype
            epoch_loss = torch.empty(self.chunk, runs, dtype=acc_dtype, device=self.device)
            epoch_rows = epoch_loss.unbind(0)
            # The mean over all rows is the batches' means weighted by rows / n; the
            # sum over all rows is the sum of the batches' sums.
            mean = base.reduction == "mean"
        first, size = 1, 16
        with torch.set_grad_enabled(self.method.needs_autograd):
            while first <= base.epochs:
                # Chunks start small (an early divergence wastes little, progress
                # shows soon) and double up to `self.chunk` epochs.
                last = min(first + min(size, self.chunk) - 1, base.epochs)
                size *= 2
                started = time.perf_counter()
                before = data.clone()  # the chunk's starting parameters
                logged = [base.logged(e) for e in range(first, last + 1)]
                for i in range(last - first + 1):
                    if Xv is not None:
                        # The validation loss is measured at the parameters this epoch starts from.
                        with torch.no_grad():
                            val_rows[i].copy_(model.loss(model.predict(Xv, data), yv, base.reduction))
                    if self._orders is None:
                        loss_rows[i].copy_(fill(theta, X, y, spec))
                        step()
                    else:
                        row = epoch_rows[i]
                        row.zero_()
                        for Xb, yb, rows in self._batches():
                            batch_loss = fill(theta, Xb, yb, spec)
                            step()
                            row.add_(batch_loss.detach().to(row.dtype), alpha=rows / n if mean else 1.0)
                    # Parameters after this epoch's update, as the book prints them.
                    theta_rows[i].copy_(data)
                    if logged[i]:
                        grad_rows[i].copy_(theta.grad)
                count = last - first + 1
                train = (epoch_loss if self._orders is not None else losses)[:count]
                val = vals[:count] if vals is not None else None
                chunk = self._close_chunk(first, train, val, thetas[:count], grads[:count], before)
                self.seconds += time.perf_counter() - started
                self.epochs_computed += count
                self.epochs_done = chunk.last
                self.chunks_seen.append(self._kept(chunk))
                yield chunk
                if all(d is not None for d in self.diverged_at):
                    return
                first = last + 1

    def _close_chunk(
        self, first: int, losses: Tensor, vals: Tensor | None, thetas: Tensor, grads: Tensor, before: Tensor
    ) -> Chunk:
        """Check the chunk for divergence (every run at once) and keep what records need."""
        import torch

        train = losses.to("cpu", torch.float64)
        val = vals.to("cpu", torch.float64) if vals is not None else None
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
        stops = {d for d in self.diverged_at if d is not None}
        keep = {}
        for i in range(thetas.shape[0]):
            epoch = first + i
            if self.base.logged(epoch):
                keep[epoch] = (thetas[i].clone(), grads[i].clone())
            elif epoch in stops:
                keep[epoch] = (thetas[i].clone(), self._gradient_at(thetas[i - 1] if i else before))
        if len(self.configs) == 1 and self.diverged_at[0] is not None:
            # A single run stops at once: nothing after the epoch that diverged counts.
            n = self.diverged_at[0] - first + 1
            train = train[:n]
            val = val[:n] if val is not None else None
            keep = {e: s for e, s in keep.items() if e < first + n}
        return Chunk(list(range(first, first + train.shape[0])), train, val, keep)

    def _gradient_at(self, theta: Tensor) -> Tensor | None:
        """The full-batch gradient every run's method computes at `theta` (None for mini-batches).

        Gradients are copied out on logged epochs only; the epoch a run diverged is
        found at the end of its chunk, and its gradient is computed again here from
        the parameters that epoch started from.
        """
        from gdcli.gradients import gradient_at

        if self._orders is not None:
            return None
        return gradient_at(self.base.method, theta, self.X, self.y, self.spec)[1]

    def _kept(self, chunk: Chunk) -> Chunk:
        """What the trainer keeps of a chunk: every epoch's losses, or the logged and divergence epochs' only."""
        if self.keep == "all":
            return chunk
        stops = set(self.diverged_at)
        epochs = [e for e in chunk.epochs if self.base.logged(e) or e in stops]
        rows = [e - chunk.first for e in epochs]
        val = chunk.val_loss[rows] if chunk.val_loss is not None else None
        return Chunk(epochs, chunk.train_loss[rows], val, chunk.snapshots)

    def records(self, run: int = 0) -> Iterator[EpochRecord]:
        """Train, yielding one EpochRecord per epoch of one run (consumes `chunks`)."""
        for chunk in self.chunks():
            yield from chunk_records(chunk, run)

    def history(self) -> tuple[list[int], Tensor, Tensor | None]:
        """(epochs, train, val): the kept epochs' numbers and losses, each loss (epochs, runs) float64 on the CPU."""
        import torch

        seen = [c for c in self.chunks_seen if c.epochs]
        if not seen:
            return [], torch.empty(0, len(self.configs), dtype=torch.float64), None
        train = torch.cat([c.train_loss for c in seen])
        val = torch.cat([c.val_loss for c in seen]) if self.Xv is not None else None
        return [e for c in seen for e in c.epochs], train, val

    def final_theta(self) -> Tensor:
        """Parameters (runs, k+1, t) at the end: a diverged run keeps those of the epoch it diverged."""
        theta = self.theta.detach().clone()
        for run, stop in enumerate(self.diverged_at):
            if stop is not None:
                snap = next(c.snapshots[stop] for c in self.chunks_seen if stop in c.snapshots)
                theta[run] = snap[0][run]
        return theta

    def full_losses(self, theta: Tensor) -> tuple[list[float], list[float] | None]:
        """Full-batch training (and validation) loss of every run at `theta`, in float64 on the CPU.

        Measured on the rows as they are before rounding to the training dtype, in
        float64 like the least-squares optimum they are compared with: a float32 loss
        can round below it and show a negative gap, and float32 data would hide its
        own rounding damage. Runs that share their rows (one seed) are evaluated
        together, a block of runs at a time, so no per-run copy of the data is made.
        """
        import torch

        from gdcli import model

        theta = theta.detach().to("cpu", torch.float64)
        runs, reduction = len(self.configs), self.base.reduction
        train, val = [0.0] * runs, [0.0] * runs if self.Xv is not None else None
        groups: dict[int, list[int]] = {}
        for run, prep in enumerate(self.prepared):
            groups.setdefault(id(prep), []).append(run)
        with torch.no_grad():
            for members in groups.values():
                prep = self.prepared[members[0]]
                block = max(1, MAX_CHUNK_ELEMENTS // max(1, prep.X64_train.numel()))
                for start in range(0, len(members), block):
                    idx = members[start : start + block]
                    losses = model.loss(prep.X64_train @ theta[idx], prep.y64_train, reduction).tolist()
                    for run, loss in zip(idx, losses):
                        train[run] = loss
                    if val is not None:
                        losses = model.loss(prep.X64_val @ theta[idx], prep.y64_val, reduction).tolist()
                        for run, loss in zip(idx, losses):
                            val[run] = loss
        return train, val

    def logged_records(self, run: int) -> list[EpochRecord]:
        """The records of one run's logged epochs (with parameters and gradient norm), up to its divergence."""
        stop = self.diverged_at[run] or self.base.epochs
        return [
            record_at(chunk, epoch, run)
            for chunk in self.chunks_seen
            for epoch in sorted(chunk.snapshots)
            if epoch <= stop
        ]

    def results(self) -> list[RunResult]:
        """How every run ended, in run order.

        Least squares and the Hessian bound depend on a run's rows (its seed) and
        momentum only: each is solved once, not once per run.
        """
        import torch

        from gdcli import model

        if self._results is not None:
            return self._results
        theta = self.final_theta()
        finals, final_vals = self.full_losses(theta)
        theta64 = theta.to("cpu", torch.float64)
        epochs, train, val = self.history()
        epoch_numbers = torch.tensor(epochs, dtype=torch.int64)
        optima, bounds = {}, {}
        results = []
        for run, cfg in enumerate(self.configs):
            prep = self.prepared[run]
            if id(prep) not in optima:
                # On the float64 rows, never rounded to the training dtype.
                best, best_loss = model.least_squares(prep.X64_train, prep.y64_train, cfg.reduction)
                power = float(model.reduce_squares(prep.y64_train.square(), cfg.reduction))
                exact = outcome.exact_fit(best_loss, power)
                optima[id(prep)] = (model.split_params(best), best_loss, exact, power)
            (best_w, best_b), best_loss, exact, power = optima[id(prep)]
            key = (id(prep), cfg.momentum)
            if key not in bounds:
                bounds[key] = stable_lr_for(cfg, prep)
            stable = bounds[key]
            # Weight decay descends loss + (wd/2)|theta|^2: judge the run on that objective.
            decay = cfg.weight_decay / 2
            verdict = outcome.judge(
                start_loss=self.start_loss[run],
                final_loss=finals[run],
                dtype=cfg.dtype,
                diverged_at=self.diverged_at[run],
                nonfinite=self.nonfinite[run] or "the training loss",
                lr=cfg.lr,
                stable_lr=stable if self.batch_size is None else None,
                start_penalty=decay * float(self.theta0[run].double().square().sum()) if decay else 0.0,
                final_penalty=decay * float(theta64[run].square().sum()) if decay else 0.0,
            )
            weight, bias = model.split_params(theta64[run])
            results.append(
                RunResult(
                    config=cfg,
                    features=self.dataset.features,
                    targets=self.dataset.targets,
                    transform=prep.transform,
                    epoch_numbers=epoch_numbers,
                    train_history=train[:, run],
                    val_history=val[:, run] if val is not None else None,
                    records=[],
                    weight=weight.tolist(),
                    bias=bias.tolist(),
                    start_loss=self.start_loss[run],
                    final_loss=finals[run],
                    final_val_loss=final_vals[run] if final_vals else None,
                    optimum_weight=best_w.tolist(),
                    optimum_bias=best_b.tolist(),
                    optimum_loss=best_loss,
                    exact_fit=exact,
                    zero_loss=power,
                    stable_lr=stable,
                    verdict=verdict,
                    epochs_run=min(self.epochs_done, self.diverged_at[run] or self.epochs_done),
                    seconds=self.seconds,
                    n_train=len(prep.train_rows),
                    n_val=len(prep.val_rows),
                    epochs_computed=self.epochs_computed,
                )
            )
        self._results = results
        return results

    def result(self, run: int = 0) -> RunResult:
        """One run's summary after training, with its logged records (a lone fit: `fit(cfg).result()`)."""
        result = self.results()[run]
        if not result.records:
            result.records = self.logged_records(run)
        return result


def _to_device(t: Tensor, device) -> Tensor:
    """A CPU tensor on the training device; to a GPU from pinned memory, asynchronously (no sync)."""
    if device.type != "cuda":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)


def _per_run_data(tensors: list[Tensor]) -> Tensor:
    """(runs, ...) data: a view repeating one tensor when the runs share it (one seed), else a stack."""
    import torch

    first = tensors[0]
    if all(t is first for t in tensors):
        return first.unsqueeze(0).expand(len(tensors), *first.shape)
    return torch.stack(tensors)


def stable_lr_for(cfg: RunConfig, prep: datamod.Prepared) -> float | None:
    """The full-batch stability bound on lr for gd and sgd (None for adaptive optimizers)."""
    from gdcli import model

    if cfg.optim not in ("gd", "sgd"):
        return None
    return model.stable_lr(prep.X_train, prep.y_train.shape[-1], cfg.reduction, cfg.momentum, cfg.weight_decay)


def record_at(chunk: Chunk, epoch: int, run: int) -> EpochRecord:
    """One run's record of one epoch of a chunk, with parameters when the epoch was kept."""
    import torch

    from gdcli import model

    i = chunk.row(epoch)
    val = float(chunk.val_loss[i, run]) if chunk.val_loss is not None else None
    snap = chunk.snapshots.get(epoch)
    if snap is None:
        return EpochRecord(epoch, float(chunk.train_loss[i, run]), val)
    theta, grad = snap
    weight, bias = model.split_params(theta[run].to("cpu", torch.float64))
    norm = float(torch.linalg.vector_norm(grad[run].double())) if grad is not None else None
    return EpochRecord(epoch, float(chunk.train_loss[i, run]), val, norm, weight.tolist(), bias.tolist())


def chunk_records(chunk: Chunk, run: int) -> Iterator[EpochRecord]:
    """Every EpochRecord of one run in a chunk; parameters and grad norm on the kept epochs."""
    for epoch in chunk.epochs:
        yield record_at(chunk, epoch, run)


def fit(cfg: RunConfig, history: str = "all") -> Trainer:
    """A Trainer for one run: iterate `.records()`, then read `.result()`."""
    return Trainer([cfg], history=history)
