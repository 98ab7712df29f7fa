"""sweep: many settings of one strategy, trained together as one tensor program.

Grids over learning rate, momentum, seed and batch size expand into one
RunConfig per combination. Runs with the same batch size share a Trainer (the
run dimension of its parameters); gd, sgd and adam step every run with its own
learning rate and momentum in one update. Other optimizers cannot take a
learning rate per run and fall back to one Trainer per run, and say so.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from gdcli.config import MAX_SEED, RunConfig, validate
from gdcli.errors import GdcliError

if TYPE_CHECKING:
    from gdcli.train import Trainer

MAX_RUNS = 10_000
MAX_ELEMENTS = 250_000_000  # about 1 GB of float32 for one step's largest tensors


def _number(text: str, option: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise GdcliError(f"{option} {text!r} is not a number", f"for example {option} 0.01") from None
    if not math.isfinite(value):
        raise GdcliError(f"{option} {text!r} is not finite", "give finite numbers")
    return value


def _items(text: str, option: str) -> list[str]:
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in items):
        raise GdcliError(f"{option} {text!r} has an empty entry", f"give a comma list such as {option} 1,2,3")
    return items


def parse_lrs(text: str, num: int) -> list[float]:
    """Learning rates: "a:b" is `num` log-spaced values from a to b, "a,b,c" a list."""
    if num < 1:
        raise GdcliError(f"--num must be at least 1, got {num}", "for example --num 50")
    if text.count(":") > 1:
        raise GdcliError(f"--lr {text!r} has more than one ':'", "write LOW:HIGH and give the count with --num")
    if ":" in text:
        lo_text, _, hi_text = text.partition(":")
        lo, hi = _number(lo_text, "--lr"), _number(hi_text, "--lr")
        if lo <= 0 or hi <= 0:
            raise GdcliError(f"--lr {text!r}: learning rates must be positive", "for example --lr 1e-4:1e-1")
        if lo > hi:
            raise GdcliError(f"--lr {text!r} is a reversed range", f"write it low:high, --lr {hi_text}:{lo_text}")
        if num == 1 or lo == hi:
            return [lo]
        step = (math.log(hi) - math.log(lo)) / (num - 1)
        # Twelve significant digits: 1e-4:1e-1 gives 0.001, not 0.0009999999999999998.
        inner = [float(f"{math.exp(math.log(lo) + i * step):.12g}") for i in range(1, num - 1)]
        return [lo] + inner + [hi]
    values = [_number(t, "--lr") for t in _items(text, "--lr")]
    if any(v <= 0 for v in values):
        raise GdcliError(f"--lr {text!r}: learning rates must be positive", "for example --lr 0.001,0.01,0.1")
    return values


def parse_seeds(text: str) -> list[int]:
    """Seeds: "a:b" is every integer from a to b inclusive, "a,b,c" a list."""
    def integer(t: str) -> int:
        try:
            return int(t)
        except ValueError:
            raise GdcliError(f"--seeds {t!r} is not an integer", "for example --seeds 0:9") from None

    if ":" in text:
        lo_text, _, hi_text = text.partition(":")
        lo, hi = integer(lo_text.strip()), integer(hi_text.strip())
        if lo > hi:
            raise GdcliError(f"--seeds {text!r} is a reversed range", f"write it low:high, --seeds {hi}:{lo}")
        seeds = list(range(lo, min(hi, lo + MAX_RUNS) + 1))
    else:
        seeds = [integer(t) for t in _items(text, "--seeds")]
    if any(not 0 <= s <= MAX_SEED for s in seeds):
        raise GdcliError(f"--seeds {text!r}: seeds must lie in [0, {MAX_SEED}]", "for example --seeds 0:9")
    return seeds


def parse_list(text: str, option: str, kind=float) -> list:
    """A comma list of numbers for --momentum or --batch-size."""
    values = [_number(t, option) for t in _items(text, option)]
    if kind is int:
        if any(v != int(v) for v in values):
            raise GdcliError(f"{option} {text!r} must hold whole numbers", f"for example {option} 1,4,16")
        values = [int(v) for v in values]
    return values


def expand(base: RunConfig, lrs, momenta, seeds, batch_sizes) -> list[RunConfig]:
    """One validated RunConfig per combination of the grids."""
    grid = list(itertools.product(lrs, momenta, seeds, batch_sizes))
    if len(grid) > MAX_RUNS:
        raise GdcliError(f"the grid has {len(grid)} runs, more than {MAX_RUNS}", "use coarser grids (--num, fewer seeds)")
    configs = [replace(base, lr=lr, momentum=m, seed=s, batch_size=b) for lr, m, s, b in grid]
    for cfg in configs:
        validate(cfg)
    return configs


def check_size(configs: list[RunConfig], n_rows: int, n_features: int, n_targets: int) -> None:
    """Refuse a grid whose one-step tensors would not fit in memory comfortably.

    finite-diff evaluates 2P + 1 parameter sets per run, each against every row.
    """
    n_params = (n_features + 1) * n_targets
    sets = 2 * n_params + 1 if configs[0].method == "finite-diff" else 1
    elements = len(configs) * sets * n_rows * (n_features + 1 + n_targets)
    if elements > MAX_ELEMENTS:
        raise GdcliError(
            f"{len(configs)} runs on {n_rows} rows would need tensors of {elements:,} elements "
            f"(limit {MAX_ELEMENTS:,})",
            "sweep fewer settings at once, or use --method analytic or autograd (finite-diff multiplies the work)",
        )


def plan(configs: list[RunConfig]) -> tuple[list[Trainer], list[str]]:
    """Trainers for the grid: one per batch size, or one per run where the optimizer cannot batch."""
    from gdcli.optimizers import OPTIMIZERS
    from gdcli.train import Trainer

    from gdcli.data import load_dataset

    ds = load_dataset(configs[0].dataset, targets=configs[0].targets, seed=configs[0].seed, rows=configs[0].rows)
    check_size(configs, ds.n_rows, len(ds.features), len(ds.targets))
    notes, trainers = [], []
    groups: dict[int | None, list[RunConfig]] = {}
    for cfg in configs:
        groups.setdefault(cfg.batch_size, []).append(cfg)
    entry = OPTIMIZERS[configs[0].optim]
    for group in groups.values():
        varies = any(len({getattr(c, n) for c in group}) > 1 for n in ("lr", "momentum"))
        if varies and entry.batched is None:
            notes.append(
                f"{configs[0].optim} takes one learning rate for all its parameters, "
                f"so these {len(group)} runs train one at a time (gd, sgd and adam train together)"
            )
            trainers += [Trainer([c]) for c in group]
        else:
            trainers.append(Trainer(group))
    return trainers, notes


@dataclass(frozen=True)
class SweepRun:
    """How one setting of the grid ended."""

    config: RunConfig
    first_loss: float  # full-batch loss at the starting parameters
    final_loss: float
    optimum_loss: float
    diverged_at: int | None
    weight: list[list[float]]
    bias: list[float]
    stable_lr: float | None
    history: list[float]  # the logged epochs' training losses
    logged: list[int]
    final_val_loss: float | None = None

    @property
    def diverged(self) -> bool:
        """Non-finite loss or parameters, or a final loss above the starting one."""
        return self.diverged_at is not None or not math.isfinite(self.final_loss) or self.final_loss > self.first_loss

    @property
    def gap(self) -> float:
        """Final loss minus the least-squares optimum."""
        return self.final_loss - self.optimum_loss


def summarize(trainers: list[Trainer]) -> list[SweepRun]:
    """One SweepRun per trained run, in grid order."""
    import torch

    from gdcli import model
    from gdcli.train import stable_lr_for

    runs = []
    for trainer in trainers:
        train, _ = trainer.history()
        theta = trainer.final_theta().to("cpu", torch.float64)
        finals, final_vals = trainer.final_losses(theta)
        logged = [e for e in range(1, train.shape[0] + 1) if trainer.base.logged(e) or e == train.shape[0]]
        histories = train[[e - 1 for e in logged]].T.tolist()  # (runs, logged epochs)
        # Least squares and the Hessian bound depend on a run's rows (its seed) and
        # momentum only: solve each once, not once per run.
        optimum, bounds = {}, {}
        for run, cfg in enumerate(trainer.configs):
            prep = trainer.prepared[run]
            if id(prep) not in optimum:
                optimum[id(prep)] = model.least_squares(prep.X_train, prep.y_train, cfg.reduction)[1]
            key = (id(prep), cfg.momentum)
            if key not in bounds:
                bounds[key] = stable_lr_for(cfg, prep)
            stable = bounds[key]
            weight, bias = model.split_params(theta[run])
            runs.append(
                SweepRun(
                    cfg,
                    trainer.start_loss[run],
                    finals[run],
                    optimum[id(prep)],
                    trainer.diverged_at[run],
                    weight.tolist(),
                    bias.tolist(),
                    stable,
                    histories[run],
                    logged,
                    final_vals[run] if final_vals else None,
                )
            )
    return runs


def ranked(runs: list[SweepRun]) -> list[SweepRun]:
    """Best final loss first; diverged runs last, earliest divergence last of all."""
    return sorted(
        runs,
        key=lambda r: (r.diverged, r.final_loss if not r.diverged else -(r.diverged_at or 10**12)),
    )


def varying(runs: list[SweepRun]) -> list[str]:
    """The grid's dimensions that take more than one value."""
    return [n for n in ("lr", "momentum", "seed", "batch_size") if len({getattr(r.config, n) for r in runs}) > 1]
