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
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Iterator

from gdcli import data as datamod
from gdcli.errors import GdcliError

if TYPE_CHECKING:
    from torch import Tensor

INITS = ("ones", "zeros", "randn")
REDUCTIONS = ("mean", "sum")
DTYPES = ("float32", "float64")
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class RunConfig:
    """Every setting of one training run. Defaults here; dataset presets override them."""

    dataset: str = "celsius"
    method: str = "autograd"
    optim: str = "gd"
    lr: float = 1e-2
    epochs: int = 5000
    momentum: float = 0.0
    weight_decay: float = 0.0
    delta: float = 0.1  # finite-difference step
    scale: float = 1.0  # inputs are multiplied by this (the book's 0.1)
    normalize: bool = False  # standardize features with the training rows' statistics
    val_fraction: float = 0.0
    batch_size: int | None = None  # None: the whole training set, one step per epoch
    reduction: str = "mean"
    dtype: str = "float32"  # float32 by default, so the numbers match PyTorch's own
    device: str = "auto"
    seed: int = 42
    init: str = "ones"  # ones, zeros, randn, or explicit numbers "1,0"
    targets: tuple[str, ...] = ()  # CSV target columns; default the last one
    rows: int = 100  # rows drawn for the synthetic dataset
    log_every: int | None = None  # None: a tenth of the run

    @property
    def every(self) -> int:
        """Epochs between logged rows."""
        return self.log_every or max(1, self.epochs // 10)

    def logged(self, epoch: int) -> bool:
        """Whether an epoch gets a row in the table: 1-3, every `every`, and the last."""
        return epoch <= 3 or epoch % self.every == 0 or epoch == self.epochs

    def to_dict(self) -> dict:
        """JSON-ready form."""
        d = asdict(self)
        d["targets"] = list(self.targets)
        return d


def resolve(dataset: str = "celsius", **given) -> RunConfig:
    """A validated RunConfig: explicit options over the dataset's preset over defaults."""
    preset = datamod.BUILTINS[dataset].preset if dataset in datamod.BUILTINS else {}
    options = {k: v for k, v in given.items() if v is not None}
    cfg = RunConfig(dataset=dataset, **{**preset, **options})
    validate(cfg)
    return cfg


def validate(cfg: RunConfig) -> None:
    """Raise GdcliError for any setting that cannot train."""
    from gdcli.gradients import METHODS
    from gdcli.optimizers import OPTIMIZERS

    def need(ok: bool, message: str, hint: str) -> None:
        if not ok:
            raise GdcliError(message, hint)

    need(cfg.method in METHODS, f"unknown method {cfg.method!r}", f"choose one of {', '.join(METHODS)}")
    need(cfg.optim in OPTIMIZERS, f"unknown optim {cfg.optim!r}", f"choose one of {', '.join(OPTIMIZERS)}")
    for name in ("lr", "delta"):
        value = getattr(cfg, name)
        need(math.isfinite(value) and value > 0, f"--{name} must be positive, got {value}", f"for example --{name} 0.01")
    need(cfg.epochs >= 1, f"--epochs must be positive, got {cfg.epochs}", "for example --epochs 100")
    need(
        cfg.batch_size is None or cfg.batch_size >= 1,
        f"--batch-size must be positive, got {cfg.batch_size}",
        "use 1 for per-sample updates, or leave it out for the whole training set",
    )
    need(
        cfg.log_every is None or cfg.log_every >= 1,
        f"--log-every must be positive, got {cfg.log_every}",
        "for example --log-every 100",
    )
    need(
        math.isfinite(cfg.momentum) and 0 <= cfg.momentum < 1,
        f"--momentum must be in [0, 1), got {cfg.momentum}",
        "for example --momentum 0.9",
    )
    need(
        math.isfinite(cfg.weight_decay) and cfg.weight_decay >= 0,
        f"--weight-decay must be zero or positive, got {cfg.weight_decay}",
        "for example --weight-decay 0.01",
    )
    need(
        math.isfinite(cfg.scale) and cfg.scale != 0,
        f"--scale must be a non-zero number, got {cfg.scale}",
        "use --scale 1 to leave the inputs as they are",
    )
    need(
        0 <= cfg.val_fraction < 1,
        f"--val-fraction must be in [0, 1), got {cfg.val_fraction}",
        "use 0.2 to hold out a fifth of the rows, or 0 for no split",
    )
    need(cfg.reduction in REDUCTIONS, f"unknown reduction {cfg.reduction!r}", "choose mean or sum")
    need(cfg.dtype in DTYPES, f"unknown dtype {cfg.dtype!r}", "choose float32 or float64")
    need(cfg.device in DEVICES, f"unknown device {cfg.device!r}", f"choose one of {', '.join(DEVICES)}")
    init_values(cfg.init)  # raises for a malformed --init


def init_values(init: str) -> tuple[float, ...]:
    """The numbers of an explicit --init ("1,0"), or () for a named one."""
    if init in INITS:
        return ()
    try:
        values = tuple(float(v) for v in init.split(","))
    except ValueError:
        raise GdcliError(
            f"--init {init!r} is neither {', '.join(INITS)} nor a list of numbers",
            "use --init ones, or explicit numbers such as --init 1,0 (weights row by row, then biases)",
        ) from None
    if not all(math.isfinite(v) for v in values):
        raise GdcliError(f"--init {init!r} holds a value that is not finite", "give finite numbers")
    return values


def resolve_device(name: str):
    """The torch.device for --device; auto prefers cuda, then mps, then cpu."""
    import torch

    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name == "cuda" and not cuda:
        raise GdcliError("--device cuda: no CUDA device is available here", "use --device cpu (or auto)")
    if name == "mps" and not mps:
        raise GdcliError("--device mps: no Apple MPS device is available here", "use --device cpu (or auto)")
    return torch.device(name)


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
    extra: dict = field(default_factory=dict)

    @property
    def epochs_run(self) -> int:
        """Epochs trained (fewer than asked when the run diverged)."""
        return len(self.train_loss)

    @property
    def diverged(self) -> bool:
        """Non-finite loss, or a loss that ended above where it started."""
        return self.diverged_at is not None or not math.isfinite(self.final_loss) or (
            self.final_loss > self.train_loss[0]
        )

    @property
    def gap(self) -> float:
        """Final loss minus the least-squares optimum."""
        return self.final_loss - self.optimum_loss

    @property
    def relative_gap(self) -> float:
        """The gap as a fraction of the optimum (the gap itself when the optimum is zero)."""
        return self.gap / self.optimum_loss if self.optimum_loss > 0 else self.gap

    @property
    def seconds_per_epoch(self) -> float:
        """Wall time of the loop over epochs trained."""
        return self.seconds / max(1, self.epochs_run)


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
        self.X = torch.stack([p.X_train for p in self.prepared])
        self.y = torch.stack([p.y_train for p in self.prepared])
        has_val = self.prepared[0].X_val is not None
        self.Xv = torch.stack([p.X_val for p in self.prepared]) if has_val else None
        self.yv = torch.stack([p.y_val for p in self.prepared]) if has_val else None

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
        self.diverged_at: list[int | None] = [None] * len(configs)
        self.seconds = 0.0

    def _per_run(self, name: str):
        import torch

        values = [getattr(c, name) for c in self.configs]
        if len(set(values)) == 1:
            return values[0]
        return torch.tensor(values, dtype=self.dtype, device=self.device).view(-1, 1, 1)

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
        for idxs in zip(*loaders):
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
                self.chunks_seen.append(chunk)
                yield chunk
                if all(d is not None for d in self.diverged_at):
                    return
                first = last + 1

    def _close_chunk(self, first, losses, vals, snaps) -> Chunk:
        import torch

        train = torch.stack(losses).to("cpu", torch.float64)
        val = torch.stack(vals).to("cpu", torch.float64) if vals else None
        keep = {}
        bad = ~torch.isfinite(train)
        if val is not None:
            bad |= ~torch.isfinite(val)
        for run, cfg in enumerate(self.configs):
            if self.diverged_at[run] is None and bad[:, run].any():
                self.diverged_at[run] = first + int(bad[:, run].nonzero()[0])
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

    def train_loss(self) -> Tensor:
        """(epochs run, runs) losses of every epoch so far."""
        import torch

        return torch.cat([c.train_loss for c in self.chunks_seen])

    def val_loss(self) -> Tensor | None:
        """(epochs run, runs) validation losses, or None without a split."""
        import torch

        if self.Xv is None:
            return None
        return torch.cat([c.val_loss for c in self.chunks_seen])

    def records(self, run: int = 0) -> Iterator[EpochRecord]:
        """Train, yielding one EpochRecord per epoch of one run (consumes `chunks`)."""
        for chunk in self.chunks():
            yield from chunk_records(chunk, run)

    def result(self, run: int = 0) -> RunResult:
        """Summary of one run after training: final and optimal parameters and losses."""
        import torch

        from gdcli import model

        cfg, prep = self.configs[run], self.prepared[run]
        theta = self.theta.detach()[run : run + 1]
        stop = self.diverged_at[run]
        if stop is not None:
            # Report the parameters of the epoch that diverged, not whatever came after it.
            snap = next(c.snapshots[stop] for c in self.chunks_seen if stop in c.snapshots)
            theta = snap[0][run : run + 1]
        with torch.no_grad():
            final = float(model.loss(model.predict(self.X[run : run + 1], theta), self.y[run : run + 1], cfg.reduction))
            final_val = None
            if self.Xv is not None:
                final_val = float(
                    model.loss(model.predict(self.Xv[run : run + 1], theta), self.yv[run : run + 1], cfg.reduction)
                )
        best, best_loss = model.least_squares(prep.X_train, prep.y_train, cfg.reduction)
        weight, bias = model.split_params(theta[0].to("cpu", torch.float64))
        best_w, best_b = model.split_params(best)
        stable = None
        if cfg.optim in ("gd", "sgd"):
            momentum = cfg.momentum if cfg.optim == "sgd" else 0.0
            stable = model.stable_lr(prep.X_train, prep.y_train.shape[-1], cfg.reduction, momentum)
        history = self.train_loss()[:, run].tolist()
        vals = self.val_loss()
        records = [r for c in self.chunks_seen for r in chunk_records(c, run) if r.weight is not None]
        return RunResult(
            config=cfg,
            features=self.dataset.features,
            targets=self.dataset.targets,
            transform=prep.transform,
            train_loss=history,
            val_loss=vals[:, run].tolist() if vals is not None else None,
            records=records,
            weight=weight.tolist(),
            bias=bias.tolist(),
            final_loss=final,
            final_val_loss=final_val,
            optimum_weight=best_w.tolist(),
            optimum_bias=best_b.tolist(),
            optimum_loss=best_loss,
            stable_lr=stable,
            diverged_at=self.diverged_at[run],
            seconds=self.seconds,
            n_train=len(prep.train_rows),
            n_val=len(prep.val_rows),
        )


def chunk_records(chunk: Chunk, run: int) -> Iterator[EpochRecord]:
    """The EpochRecords of one run in a chunk; params and grad norm on the kept epochs."""
    import torch

    from gdcli import model

    train = chunk.train_loss[:, run].tolist()
    val = chunk.val_loss[:, run].tolist() if chunk.val_loss is not None else None
    for i, loss in enumerate(train):
        epoch = chunk.first + i
        snap = chunk.snapshots.get(epoch)
        if snap is None:
            yield EpochRecord(epoch, loss, val[i] if val else None)
            continue
        theta, grad = snap
        weight, bias = model.split_params(theta[run].to("cpu", torch.float64))
        norm = float(torch.linalg.vector_norm(grad[run].double())) if grad is not None else None
        yield EpochRecord(epoch, loss, val[i] if val else None, norm, weight.tolist(), bias.tolist())


def fit(cfg: RunConfig) -> Trainer:
    """A Trainer for one run: iterate `.records()`, then read `.result()`."""
    return Trainer([cfg])
