"""The training loop: RunConfig in, per-epoch records out.

`Trainer` trains one or more runs that share a gradient method and optimizer as a
single tensor program: parameters carry a leading run dimension, so a sweep of a
hundred learning rates costs about what one run costs. `fit` is a Trainer with one
run. The loop synchronizes with Python only once per chunk of epochs (to check
for divergence and hand out records), which keeps it as lean as the book's own
loop and lets a GPU run ahead.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Iterator

from gdcli import data as datamod
from gdcli.config import RunConfig, init_values, resolve, resolve_device, validate
from gdcli.errors import GdcliError

__all__ = ["Trainer", "EpochRecord", "RunResult", "Chunk", "fit", "resolve", "RunConfig"]

if TYPE_CHECKING:
    from torch import Tensor

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
    """Several consecutive epochs of every run, already on the CPU."""

    first: int  # epoch number of row 0
    train_loss: Tensor  # (epochs, runs), float64
    val_loss: Tensor | None
    snapshots: dict[int, tuple[Tensor, Tensor | None]]  # epoch -> (theta, grad), each (runs, k+1, t)

    @property
    def last(self) -> int:
        """Epoch number of the chunk's last row."""
        return self.first + self.train_loss.shape[0] - 1


@dataclass
class RunResult:
    """How one run ended, next to the best possible fit for its training rows."""

    config: RunConfig
    features: tuple[str, ...]
    targets: tuple[str, ...]
    transform: datamod.Transform
    train_loss: list[float]
    val_loss: list[float] | None
    records: list[EpochRecord]
    weight: list[list[float]]
    bias: list[float]
    final_loss: float
    final_val_loss: float | None
    optimum_weight: list[list[float]]
    optimum_bias: list[float]
    optimum_loss: float
    stable_lr: float | None  # for gd and sgd only
    diverged_at: int | None
    seconds: float
    n_train: int
    n_val: int
    start_loss: float  # full-batch training loss at the starting parameters
    epochs_computed: int  # epochs the loop ran, including any past a divergence inside a chunk

    @property
    def epochs_run(self) -> int:
        """Epochs trained (fewer than asked when the run diverged)."""
        return len(self.train_loss)

    @property
    def diverged(self) -> bool:
        """The loss or the parameters stopped being finite (fit's exit code 3)."""
        return self.diverged_at is not None or not math.isfinite(self.final_loss)

    @property
    def grew(self) -> bool:
        """A finite run whose loss ended above where it started (compare and sweep count it as diverged)."""
        return not self.diverged and self.final_loss > self.start_loss

    @property
    def gap(self) -> float:
        """Final loss minus the least-squares optimum."""
        return self.final_loss - self.optimum_loss

    @property
    def exact_fit(self) -> bool:
        """The optimum fits the training rows exactly (its loss is rounding noise next to the start's)."""
        return self.optimum_loss <= EXACT * self.start_loss

    @property
    def relative_gap(self) -> float | None:
        """The gap as a fraction of the optimum; None when the optimum is an exact fit."""
        return None if self.exact_fit else self.gap / self.optimum_loss

    @property
    def seconds_per_epoch(self) -> float:
        """Wall time of the loop over epochs trained."""
        return self.seconds / max(1, self.epochs_computed)


# An optimum loss below this fraction of the starting loss is an exact fit: relative
# measures against it would divide by rounding noise.
EXACT = 1e-12

# Configuration fields a batch of runs may vary in; everything else must agree.
PER_RUN = ("lr", "momentum", "seed")


class Trainer:
    """Train runs that share method, optimizer and data options as one tensor program."""

    def __init__(self, configs: list[RunConfig], chunk: int = 512):
        import torch

        from gdcli import gradients, model, optimizers

        base = configs[0]
        for cfg in configs:
            validate(cfg)
            if replace(cfg, lr=base.lr, momentum=base.momentum, seed=base.seed) != base:
                raise ValueError("runs of one Trainer may differ only in " + ", ".join(PER_RUN))
        self.configs, self.base, self.chunk = configs, base, chunk
        self.device = resolve_device(base.device)
        self.dtype = getattr(torch, base.dtype)
        if self.device.type == "mps" and self.dtype == torch.float64:
            raise GdcliError("Apple's MPS device has no float64", "use --dtype float32, or --device cpu")

        # Data depends on the seed (the split, the synthetic rows): prepare once per seed.
        prepared: dict[int, tuple[datamod.Dataset, datamod.Prepared]] = {}
        for seed in dict.fromkeys(c.seed for c in configs):
            ds = datamod.load_dataset(base.dataset, targets=base.targets, seed=seed, rows=base.rows)
            prepared[seed] = (
                ds,
                datamod.prepare(
                    ds,
                    scale=base.scale,
                    normalize=base.normalize,
                    val_fraction=base.val_fraction,
                    seed=seed,
                    dtype=self.dtype,
                    device=self.device,
                ),
            )
        self.dataset = prepared[base.seed][0]
        self.prepared = [prepared[c.seed][1] for c in configs]
        self.X = _per_run_data([p.X_train for p in self.prepared])
        self.y = _per_run_data([p.y_train for p in self.prepared])
        has_val = self.prepared[0].X_val is not None
        self.Xv = _per_run_data([p.X_val for p in self.prepared]) if has_val else None
        self.yv = _per_run_data([p.y_val for p in self.prepared]) if has_val else None

        n_features, n_targets = len(self.dataset.features), len(self.dataset.targets)
        values = init_values(base.init)
        if values and len(values) != n_features * n_targets + n_targets:
            raise GdcliError(
                f"--init {base.init!r} gives {len(values)} numbers; {self.dataset.name} needs "
                f"{n_features * n_targets + n_targets}",
                f"give {n_targets}x{n_features} weights row by row, then {n_targets} bias(es)",
            )
        theta0 = torch.stack(
            [model.initial_theta(base.init, n_features, n_targets, seed=c.seed, values=values) for c in configs]
        )
        self.theta = theta0.to(self.device, self.dtype).requires_grad_(True)

        self.method = gradients.METHODS[base.method]
        if self.method.needs_autograd:
            # The first backward through a reduction loads torch's symbolic-shape
            # machinery (a few hundred ms, once per process); pay it here so the
            # timed loop measures epochs, not start-up.
            probe = model.loss(torch.ones(1, 2, 1, requires_grad=True), torch.zeros(1, 2, 1), base.reduction)
            probe.backward(torch.ones_like(probe))
        self.spec = gradients.LossSpec(base.reduction, base.delta)
        entry = optimizers.OPTIMIZERS[base.optim]
        hp = {name: self._per_run(name) for name in ("lr", "momentum", "weight_decay") if name in entry.takes}
        self.optimizer = optimizers.build(base.optim, [self.theta], **hp)
        self.batch_size = base.batch_size if base.batch_size and base.batch_size < self.X.shape[1] else None
        self._loaders = self._make_loaders() if self.batch_size else None
        self.chunks_seen: list[Chunk] = []
        self._history = None
        self.epochs_computed = 0
        with torch.no_grad():
            start = model.loss(model.predict(self.X, self.theta.detach()), self.y, base.reduction)
        self.start_loss: list[float] = start.tolist()
        self.diverged_at: list[int | None] = [None] * len(configs)
        self.seconds = 0.0

    def _per_run(self, name: str):
        import torch

        values = [getattr(c, name) for c in self.configs]
        if len(set(values)) == 1:
            return values[0]
        # float64 like the Python floats torch.optim takes (kept on the CPU: not every
        # device has float64); the batched rules cast them as torch.optim would.
        return torch.tensor(values, dtype=torch.float64).view(-1, 1, 1)

    def _make_loaders(self):
        import torch
        from torch.utils.data import DataLoader

        n = self.X.shape[1]
        seeds = list(dict.fromkeys(c.seed for c in self.configs))
        loaders = [
            DataLoader(range(n), batch_size=self.batch_size, shuffle=True, generator=torch.Generator().manual_seed(s))
            for s in seeds
        ]
        run_of_seed = torch.tensor([seeds.index(c.seed) for c in self.configs])
        return loaders, run_of_seed

    def _batches(self) -> Iterator[tuple[Tensor, Tensor]]:
        """One epoch of (X, y) mini-batches, reshuffled by each run's DataLoader."""
        import torch

        loaders, run_of_seed = self._loaders
        if len(loaders) == 1:
            for idx in loaders[0]:
                idx = idx.to(self.device)
                yield self.X[:, idx], self.y[:, idx]
            return
        runs = torch.arange(len(self.configs), device=self.device).unsqueeze(1)
        # Run every loader to its end, as a single fit does: a sampler left part-way
        # (zip stops at the first exhausted one) would draw the next epoch's order
        # from a different generator state.
        for idxs in zip(*[list(loader) for loader in loaders]):
            idx = torch.stack(idxs)[run_of_seed].to(self.device)  # (runs, batch)
            yield self.X[runs, idx], self.y[runs, idx]

    def chunks(self) -> Iterator[Chunk]:
        """Train every epoch, yielding a Chunk at each synchronization point; stops when all runs diverged."""
        import torch

        from gdcli import model

        base, theta = self.base, self.theta
        data = theta.detach()
        fill, spec, step = self.method.fill, self.spec, self.optimizer.step
        X, y, Xv, yv = self.X, self.y, self.Xv, self.yv
        first, size = 1, 16
        with torch.set_grad_enabled(self.method.needs_autograd):
            while first <= base.epochs:
                # Chunks start small (an early divergence wastes little, progress
                # shows soon) and double up to `self.chunk` epochs.
                last = min(first + size - 1, base.epochs)
                size = min(2 * size, self.chunk)
                started = time.perf_counter()
                losses, vals, snaps = [], [], []
                for epoch in range(first, last + 1):
                    if Xv is not None:
                        # The validation loss is measured at the parameters this epoch starts from.
                        with torch.no_grad():
                            vals.append(model.loss(model.predict(Xv, data), yv, base.reduction))
                    if self._loaders is None:
                        loss = fill(theta, X, y, spec)
                        step()
                    else:
                        loss = None
                        for Xb, yb in self._batches():
                            batch_loss = fill(theta, Xb, yb, spec)
                            step()
                            loss = batch_loss if loss is None else loss + batch_loss
                        loss = loss / len(self._loaders[0][0])
                    losses.append(loss)
                    # Parameters after this epoch's update, as the book prints them.
                    snaps.append((data.clone(), theta.grad))
                chunk = self._close_chunk(first, losses, vals, snaps)
                self.seconds += time.perf_counter() - started
                self.epochs_computed += last - first + 1
                self.chunks_seen.append(chunk)
                yield chunk
                if all(d is not None for d in self.diverged_at):
                    return
                first = last + 1

    def _close_chunk(self, first, losses, vals, snaps) -> Chunk:
        import torch

        # (epochs, runs); a single run's autograd loss comes as a 0-d tensor.
        train = torch.stack(losses).reshape(len(losses), -1).to("cpu", torch.float64)
        val = torch.stack(vals).to("cpu", torch.float64) if vals else None
        keep = {}
        bad = ~torch.isfinite(train)
        if val is not None:
            bad |= ~torch.isfinite(val)
        # Parameters after each update: the last epoch's update is seen by no loss.
        thetas = torch.stack([theta for theta, _ in snaps]).flatten(2)
        bad |= ~torch.isfinite(thetas).all(-1).cpu()
        # Two reductions for all runs at once, then a loop over plain lists (sweeps run thousands).
        hit, first_bad = bad.any(0).tolist(), bad.to(torch.int8).argmax(0).tolist()
        for run, (is_bad, at) in enumerate(zip(hit, first_bad)):
            if is_bad and self.diverged_at[run] is None:
                self.diverged_at[run] = first + at
        stops = {d for d in self.diverged_at if d is not None}
        for i, snap in enumerate(snaps):
            epoch = first + i
            if self.base.logged(epoch) or epoch in stops:
                keep[epoch] = snap
        if len(self.configs) == 1 and self.diverged_at[0] is not None:
            # A single run stops at once: nothing after the epoch that diverged counts.
            n = self.diverged_at[0] - first + 1
            train = train[:n]
            val = val[:n] if val is not None else None
            keep = {e: s for e, s in keep.items() if e < first + n}
        return Chunk(first, train, val, keep)

    def records(self, run: int = 0) -> Iterator[EpochRecord]:
        """Train, yielding one EpochRecord per epoch of one run (consumes `chunks`)."""
        for chunk in self.chunks():
            yield from chunk_records(chunk, run)

    def history(self) -> tuple[Tensor, Tensor | None]:
        """(train, val) losses of every epoch so far, each (epochs run, runs) float64 on the CPU."""
        import torch

        if self._history is None or self._history[0].shape[0] != sum(c.train_loss.shape[0] for c in self.chunks_seen):
            train = torch.cat([c.train_loss for c in self.chunks_seen])
            val = torch.cat([c.val_loss for c in self.chunks_seen]) if self.Xv is not None else None
            self._history = (train, val)
        return self._history

    def final_theta(self) -> Tensor:
        """Parameters (runs, k+1, t) at the end: a diverged run keeps those of the epoch it diverged."""
        theta = self.theta.detach().clone()
        for run, stop in enumerate(self.diverged_at):
            if stop is not None:
                snap = next(c.snapshots[stop] for c in self.chunks_seen if stop in c.snapshots)
                theta[run] = snap[0][run]
        return theta

    def final_losses(self, theta: Tensor | None = None) -> tuple[list[float], list[float] | None]:
        """Training (and validation) loss of every run at its final parameters."""
        import torch

        from gdcli import model

        # In float64, like the least-squares optimum they are compared with: a float32
        # loss can round below it and show a negative gap.
        # On the CPU, as not every device has float64.
        def f64(t: Tensor) -> Tensor:
            return t.to("cpu", torch.float64)

        theta = f64(self.final_theta() if theta is None else theta)
        with torch.no_grad():
            train = model.loss(model.predict(f64(self.X), theta), f64(self.y), self.base.reduction).tolist()
            val = None
            if self.Xv is not None:
                val = model.loss(model.predict(f64(self.Xv), theta), f64(self.yv), self.base.reduction).tolist()
        return train, val

    def logged_records(self, run: int) -> list[EpochRecord]:
        """The records of one run's logged epochs (with parameters and gradient norm)."""
        return [
            record_at(chunk, epoch, run) for chunk in self.chunks_seen for epoch in sorted(chunk.snapshots)
        ]

    def result(self, run: int = 0) -> RunResult:
        """Summary of one run after training: final and optimal parameters and losses."""
        import torch

        from gdcli import model

        cfg, prep = self.configs[run], self.prepared[run]
        theta = self.final_theta()
        finals, final_vals = self.final_losses(theta)
        best, best_loss = model.least_squares(prep.X_train, prep.y_train, cfg.reduction)
        weight, bias = model.split_params(theta[run].to("cpu", torch.float64))
        best_w, best_b = model.split_params(best)
        stable = stable_lr_for(cfg, prep)
        train, val = self.history()
        return RunResult(
            config=cfg,
            features=self.dataset.features,
            targets=self.dataset.targets,
            transform=prep.transform,
            train_loss=train[:, run].tolist(),
            val_loss=val[:, run].tolist() if val is not None else None,
            records=self.logged_records(run),
            weight=weight.tolist(),
            bias=bias.tolist(),
            final_loss=finals[run],
            final_val_loss=final_vals[run] if final_vals else None,
            optimum_weight=best_w.tolist(),
            optimum_bias=best_b.tolist(),
            optimum_loss=best_loss,
            stable_lr=stable,
            diverged_at=self.diverged_at[run],
            seconds=self.seconds,
            n_train=len(prep.train_rows),
            n_val=len(prep.val_rows),
            start_loss=self.start_loss[run],
            epochs_computed=self.epochs_computed,
        )


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

    i = epoch - chunk.first
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
    for epoch in range(chunk.first, chunk.last + 1):
        yield record_at(chunk, epoch, run)


def fit(cfg: RunConfig) -> Trainer:
    """A Trainer for one run: iterate `.records()`, then read `.result()`."""
    return Trainer([cfg])
