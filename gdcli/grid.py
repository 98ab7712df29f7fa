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

from gdcli.config import MAX_SEED, RunConfig, validate
from gdcli.text import number
from gdcli.errors import GdcliError, flag

if TYPE_CHECKING:
    from gdcli.train import RunResult, Trainer

MAX_RUNS = 10_000
MAX_ELEMENTS = 250_000_000  # about 1 GB of float32 for one step's residuals


# A value each grid option accepts, for its hints.
EXAMPLES = {"--lr": "0.01", "--momentum": "0.9", "--batch-size": "32"}


def _number(text: str, option: str) -> float:
    try:
        value = number(text)
    except ValueError:
        raise GdcliError(f"{option} {text!r} is not a number", f"for example {option} {EXAMPLES[option]}") from None
    if not math.isfinite(value):
        raise GdcliError(f"{option} {text!r} is not finite", "give finite numbers")
    return value


def _items(text: str, option: str) -> list[str]:
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in items):
        raise GdcliError(f"{option} {text!r} has an empty entry", f"give a comma list such as {option} 1,2,3")
    return items


def parse_lrs(text: str, num: int | None) -> list[float]:
    """Learning rates: "a:b" is `num` (default 10) log-spaced values from a to b, "a,b,c" a list."""
    if text.count(":") > 1:
        raise GdcliError(f"--lr {text!r} has more than one ':'", "write LOW:HIGH and give the count with --num")
    if ":" not in text:
        if num is not None:
            raise GdcliError("--num applies to a LOW:HIGH range of learning rates", f"write --lr LOW:HIGH --num {num}, or drop --num")
        values = [_number(t, "--lr") for t in _items(text, "--lr")]
        if any(v <= 0 for v in values):
            raise GdcliError(f"--lr {text!r}: learning rates must be positive", "for example --lr 0.001,0.01,0.1")
        return values
    num = 10 if num is None else num
    lo_text, _, hi_text = text.partition(":")
    if not 2 <= num <= MAX_RUNS:
        hint = f"for one learning rate write --lr {_example_lr(lo_text)}; for a range, --num 2 or more"
        raise GdcliError(
            f"--num must be from 2 to {MAX_RUNS:,} for a range, got {num:,}",
            hint if num < 2 else f"use --num {MAX_RUNS} or fewer, for example --num 20",
        )
    lo, hi = _number(lo_text, "--lr"), _number(hi_text, "--lr")
    if lo <= 0 or hi <= 0:
        raise GdcliError(f"--lr {text!r}: learning rates must be positive", "for example --lr 1e-4:1e-1")
    if lo >= hi:
        hint = f"write it low:high, --lr {hi_text}:{lo_text}" if lo > hi else f"for one learning rate write --lr {lo_text}"
        raise GdcliError(f"--lr {text!r} is {'a reversed' if lo > hi else 'an empty'} range", hint)
    step = (math.log(hi) - math.log(lo)) / (num - 1)
    # Twelve significant digits: 1e-4:1e-1 gives 0.001, not 0.0009999999999999998.
    inner = [float(f"{math.exp(math.log(lo) + i * step):.12g}") for i in range(1, num - 1)]
    return [lo] + inner + [hi]


def _example_lr(text: str) -> str:
    """The user's own learning rate where it is a usable one, else 0.01."""
    try:
        value = number(text)
    except ValueError:
        return "0.01"
    return text.strip() if math.isfinite(value) and value > 0 else "0.01"


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
        if hi - lo + 1 > MAX_RUNS:
            raise GdcliError(
                f"--seeds {text!r} gives {hi - lo + 1:,} seeds; a sweep holds at most {MAX_RUNS:,} runs",
                f"for example --seeds {lo}:{lo + 9}",
            )
        seeds = list(range(lo, hi + 1))
    else:
        seeds = [integer(t) for t in _items(text, "--seeds")]
    if any(not 0 <= s <= MAX_SEED for s in seeds):
        raise GdcliError(f"--seeds {text!r}: seeds must lie in [0, {MAX_SEED}]", "for example --seeds 0:9")
    if len(set(seeds)) != len(seeds):
        raise GdcliError(f"--seeds {text!r} lists a seed twice", "list each seed once")
    return seeds


def parse_list(text: str, option: str, kind=float) -> list:
    """A comma list of numbers for --momentum or --batch-size."""
    values = [_number(t, option) for t in _items(text, option)]
    if kind is int:
        if any(v != int(v) for v in values):
            raise GdcliError(f"{option} {text!r} must hold whole numbers", f"for example {option} 1,4,16")
        values = [int(v) for v in values]
    return values


def check_texts(*, lr: str | None, num: int | None, seeds: str | None, momentum: str | None,
                batch_size: str | None) -> None:
    """Each grid option's text parsed, for a command that ends before the grid is built (--print-config)."""
    if lr is not None:
        parse_lrs(lr, num)
    if seeds is not None:
        parse_seeds(seeds)
    if momentum is not None:
        parse_list(momentum, "--momentum")
    if batch_size is not None:
        parse_list(batch_size, "--batch-size", int)


def grid(base: RunConfig, *, lr: str | None, num: int | None, seeds: str | None, seed_given: bool,
         momentum: str | None, batch_size: str | None) -> dict[str, list]:
    """The sweep's grid from its options: each dimension's values, checked before anything is built."""
    if seeds is not None and seed_given:
        raise GdcliError("--seed and --seeds both given", "give one seed with --seed, or several with --seeds")
    if lr is None and num is not None:
        raise GdcliError("--num applies to a LOW:HIGH range of learning rates", "write --lr LOW:HIGH --num N")
    values = {
        "lr": parse_lrs(lr, num) if lr is not None else [base.lr],
        "momentum": parse_list(momentum, "--momentum") if momentum is not None else [base.momentum],
        "seed": parse_seeds(seeds) if seeds is not None else [base.seed],
        "batch_size": parse_list(batch_size, "--batch-size", int) if batch_size is not None else [base.batch_size],
    }
    if base.schedule == "onecycle" and base.max_lr is not None and len(values["lr"]) > 1:
        raise GdcliError(
            f"--schedule onecycle --max-lr {base.max_lr:g} gives every run the same lr, whatever its --lr",
            "drop --max-lr: each run's onecycle then peaks at its own --lr",
        )
    for name, items in values.items():
        if len(set(items)) != len(items) and name != "seed":
            raise GdcliError(f"{flag(name)} lists a value twice", "list each value once")
    runs = math.prod(len(v) for v in values.values())
    if runs > MAX_RUNS:
        sizes = " x ".join(f"{len(v)} {k.replace('_', ' ')}" for k, v in values.items() if len(v) > 1)
        raise GdcliError(f"the grid has {runs:,} runs ({sizes}), more than {MAX_RUNS:,}", "use coarser grids (--num, fewer seeds)")
    return values


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
            + (f"a smaller --{smaller}" if (smaller := models.get(base.model).smaller)
               else "--method gram (full batch: no per-row work)"),
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
    from gdcli.store import generated_rows, load

    first = units[0][0]
    rows = generated_rows(first)
    if rows is not None:
        # Generated data: sized from its settings, before a single row is drawn.
        n_rows, n_targets = rows, len(shapes()[first.dataset].targets)
    else:
        ds = load(first.dataset, tuple(first.targets), first.seed, first.rows, first.features)
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
