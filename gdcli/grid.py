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
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from gdcli.config import RunConfig, validate
from gdcli.errors import GdcliError, param

if TYPE_CHECKING:
    from gdcli.train import RunResult, Trainer

MAX_RUNS = 10_000
MAX_ELEMENTS = 250_000_000  # about 1 GB of float32 for one step's residuals


def check_seed_options(seeds_given: bool, seed_given: bool) -> None:
    """Refuse one seed and a list of seeds together."""
    if seeds_given and seed_given:
        raise GdcliError(f"{param('seed')} and {param('seeds')} both given",
                         f"give one seed with {param('seed')}, or several with {param('seeds')}")


def grid(base: RunConfig, *, lr: list[float] | None = None, seeds: list[int] | None = None,
         momentum: list[float] | None = None, batch_size: list[int] | None = None,
         seed_given: bool = False) -> dict[str, list]:
    """The sweep's grid from each dimension's values (None: the base's one value), checked before
    anything is built; each value itself is checked as a run's setting (`expand`)."""
    check_seed_options(seeds is not None, seed_given)
    given = {"lr": lr, "momentum": momentum, "seed": seeds, "batch_size": batch_size}
    values = {name: list(items) if items is not None else [getattr(base, name)] for name, items in given.items()}
    if base.schedule == "onecycle" and base.max_lr is not None and len(values["lr"]) > 1:
        raise GdcliError(
            f"{param('schedule')} onecycle {param('max_lr')} {base.max_lr:g} gives every run the same lr, "
            f"whatever its {param('lr')}",
            f"drop {param('max_lr')}: each run's onecycle then peaks at its own {param('lr')}",
        )
    for name, items in values.items():
        named = "seeds" if name == "seed" else name
        if not items:
            raise GdcliError(f"{param(named)} lists no value", "give one value or more")
        if len(set(items)) != len(items):
            raise GdcliError(f"{param(named)} lists a value twice", "list each value once")
    runs = math.prod(len(v) for v in values.values())
    if runs > MAX_RUNS:
        sizes = " x ".join(f"{len(v)} {k.replace('_', ' ')}" for k, v in values.items() if len(v) > 1)
        raise GdcliError(f"the grid has {runs:,} runs ({sizes}), more than {MAX_RUNS:,}",
                         f"use coarser grids ({param('num')}, fewer seeds)")
    return values


def planned(base: RunConfig, lists: dict[str, list | None], seed_given: bool) -> tuple[dict, list[RunConfig]]:
    """A sweep's grid from `lists` (lr, momentum, seeds, batch_size: each a list, or None for the base's
    value) and its runs, every one checked: (grid, configs)."""
    values = grid(base, **lists, seed_given=seed_given)
    return values, expand(base, values)


def expand(base: RunConfig, values: dict[str, list]) -> list[RunConfig]:
    """One validated RunConfig per combination of the grid's values."""
    combos = itertools.product(values["lr"], values["momentum"], values["seed"], values["batch_size"])
    configs = [replace(base, lr=lr, momentum=m, seed=s, batch_size=b) for lr, m, s, b in combos]
    for cfg in configs:
        validate(cfg)
    return configs


def check_size(unit: list[RunConfig], n_rows: int, n_targets: int) -> None:
    """Refuse a group of runs whose one-step tensors would not fit in memory comfortably.

    The runs of one group train together: they predict with one matmul whose result holds
    a residual per row of a step (a batch, or every training row), run and target, and
    measure the validation rows the same way. Groups train one after another, so each is
    sized alone. The gram method steps on the Gram matrix alone (sized by the trainer).
    """
    base = unit[0]
    if base.method == "gram":
        return
    from gdcli import models

    n_val = int(base.val_fraction * n_rows)
    n_train = n_rows - n_val
    step = min(base.batch_size, n_train) if base.batch_size else n_train
    rows = max(step, n_val)
    width = models.of(base, 1, n_targets).row_width()  # the features do not change it
    elements = len(unit) * rows * width
    if elements > MAX_ELEMENTS:
        raise GdcliError(
            f"{len(unit)} runs on {rows:,} rows would need tensors of {elements:,} elements "
            f"(limit {MAX_ELEMENTS:,})",
            "sweep fewer settings at once, use fewer rows, or "
            + (f"a smaller {param(smaller)}" if (smaller := models.get(base.model).smaller)
               else f"{param('method')} gram (full batch: no per-row work)"),
        )


@dataclass(frozen=True)
class Failed:
    """A run whose Ray task failed once its retries ran out, and why."""

    config: RunConfig
    reason: str


@dataclass
class Outcome:
    """What a sweep's runs came to: the results, in the order a local sweep trains them; the runs
    whose task failed; the runs a Ctrl-C cancelled before they trained (on Ray); and whether
    Ctrl-C cut the sweep short."""

    results: list[RunResult]
    failed: list[Failed] = field(default_factory=list)
    cancelled: int = 0
    stopped: bool = False  # runs stopped part way (a local sweep reports them as far as they went)

    @property
    def interrupted(self) -> bool:
        return self.stopped or self.cancelled > 0


def check_grid_size(units: list[list[RunConfig]]) -> None:
    """Refuse a grid whose largest group would not fit in memory, sized from its settings
    (generated data) or its rows."""
    from gdcli.data import shapes
    from gdcli.store import columns, generated_rows, load

    first = units[0][0]
    rows = generated_rows(first)
    if rows is not None:
        # Generated data: sized from its settings, before a single row is drawn.
        n_rows, n_targets = rows, len(shapes()[first.dataset].targets)
    else:
        ds = load(first.dataset, tuple(first.targets), first.seed, first.rows, first.features, columns=columns(first))
        n_rows, n_targets = ds.n_rows, len(ds.targets)
    for unit in units:
        check_size(unit, n_rows, n_targets)


def groups(configs: list[RunConfig]) -> tuple[list[list[RunConfig]], list[str]]:
    """The grid's units of work: the runs that train as one tensor program, with notes.

    Runs share a program when they share every setting but lr, momentum and seed (here:
    one per batch size). An optimizer that takes one learning rate for all its parameters
    cannot batch runs whose lr or momentum differ: each of those is a group of its own.
    """
    from gdcli.optimizers import OPTIMIZERS

    notes, units = [], []
    by_size: dict[int | None, list[RunConfig]] = {}
    for cfg in configs:
        by_size.setdefault(cfg.batch_size, []).append(cfg)
    entry = OPTIMIZERS[configs[0].optim]
    for group in by_size.values():
        varies = any(len({getattr(c, n) for c in group}) > 1 for n in ("lr", "momentum"))
        if varies and entry.batched is None:
            notes.append(
                f"{configs[0].optim} takes one learning rate for all its parameters, "
                f"so these {len(group)} runs train one at a time (gd, sgd and adam train together)"
            )
            units += [[c] for c in group]
        else:
            units.append(group)
    check_grid_size(units)
    return units, notes


def slices(group: list[RunConfig], pieces: int, n_train: int) -> list[list[RunConfig]]:
    """A group cut into at most `pieces` smaller programs whose every run rounds exactly as in the whole.

    Runs that share their rows share one matmul down them, and a sum down a column of many
    runs adds in another order than down a column of a few: cutting such a group would change
    its runs' last bits, so it stays whole. Seeds with their own rows (generated data, a
    validation split, or mini-batches, whose order the seed draws) are separate parts of the
    program already: the group is cut between seeds, with at least two runs in every piece
    (a lone run takes a fused path of its own).
    """
    from gdcli.store import generated_rows

    if pieces < 2 or len(group) < 4:
        return [group]
    base = group[0]
    mini_batch = base.batch_size is not None and base.batch_size < n_train
    if generated_rows(base) is None and base.val_fraction == 0 and not mini_batch:
        return [group]
    by_seed: dict[int, list[RunConfig]] = {}
    for cfg in group:
        by_seed.setdefault(cfg.seed, []).append(cfg)
    per_seed = len(group) // len(by_seed)
    count = min(pieces, len(by_seed) if per_seed > 1 else len(by_seed) // 2)
    if count < 2:
        return [group]
    return [[c for seed in seeds for c in by_seed[seed]] for seeds in _split(list(by_seed), count)]


def _split(items: list, count: int) -> list[list]:
    """`items` in `count` consecutive pieces whose sizes differ by at most one."""
    size, extra = divmod(len(items), count)
    pieces, start = [], 0
    for i in range(count):
        end = start + size + (i < extra)
        pieces.append(items[start:end])
        start = end
    return pieces


def plan(configs: list[RunConfig]) -> tuple[list[Trainer], list[str]]:
    """Trainers for the grid: one per group of runs that train together (see `groups`)."""
    from gdcli.train import Trainer

    units, notes = groups(configs)
    return [Trainer(group, history="logged") for group in units], notes


def ranked(results: list[RunResult]) -> list[RunResult]:
    """Best first by the ranking loss (validation when there is a split); then unstable runs,
    then those whose loss rose, then non-finite ones, the earliest divergence last of all."""
    order = {None: 0, "lr": 1, "rose": 2, "nonfinite": 3}  # by the verdict's cause

    def key(r: RunResult):
        kind = order[r.verdict.cause]
        if r.verdict.cause == "nonfinite":
            return (kind, -(r.verdict.epoch or 0))
        return (kind, r.ranking_loss)

    return sorted(results, key=key)


def varying(configs: list[RunConfig]) -> list[str]:
    """The grid's dimensions that take more than one value among these runs."""
    return [n for n in ("lr", "momentum", "seed", "batch_size") if len({getattr(c, n) for c in configs}) > 1]
