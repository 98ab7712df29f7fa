"""How long training will take, told before it starts where that is over a minute.

A short probe times each distinct gradient method at the start parameters on a slice of the
rows (growing until its time is the rows' more than a call's fixed cost), and the
step's time is extrapolated to every step the run will take: epochs x batches per epoch,
summed over the trainers. A run that is plainly short (few rows x epochs x runs x parameters)
is not probed at all. Nothing is refused: the text says how long, and a faster choice that
gives the same answer where there is one. The core names settings with errors.param; the CLI
shows them as flags, the API by its names.
"""

from __future__ import annotations

import math
import time

from gdcli.errors import param
from gdcli.text import plural
from gdcli.train import compiling

THRESHOLD = 60.0  # seconds: a run expected to take longer is announced before it starts
SKIP_WORK = 1e8  # rows x epochs x runs x parameters (x 2P + 1 for finite-diff) below which nothing is probed
FD_ROWS = 100_000  # from this many training rows compare's header weighs finite differences' cost
FIRST_ROWS = 256  # the first probe's slice of rows
PROBE_SECONDS = 0.02  # a slice that takes this long is timed on rows more than on fixed costs
# The largest slice probed: 2M rows, since a slice that fits in the CPU's cache runs faster per row than
# the whole data does (at 1 << 18, finite differences on 2M rows were estimated at half their time).
# A slow call stops the slices growing long before it (PROBE_SECONDS).
MOST_ROWS = 1 << 21
PROBE_MOST = 0.25  # seconds: a slice that takes this long ends the probe, grown with its rows or not
GROWN = 4.0  # a slice of 8x the rows that took at least 4x the time is timed on its rows
# A slice slower than STALL x what its rows explain (a call stalled for milliseconds when a thread of
# its parallel region was descheduled) is timed RETRIES more times, the fastest kept.
STALL = 4.0
RETRIES = 4


class LongRun(UserWarning):
    """The API's warning that a run will take over a minute (THRESHOLD), with a faster choice."""


def work(trainer) -> float:
    """A rough size of a trainer's whole run: rows x epochs x runs x parameters (finite-diff: x (2P + 1))."""
    plan, size = trainer.plan, trainer.model.size
    per = size * (2 * size + 1) if plan.base.method == "finite-diff" else size
    return float(plan.n_train) * plan.base.epochs * plan.runs * per


def seconds(trainers: list) -> float | None:
    """The trainers' expected training time in seconds, from a probe; None where the run is plainly
    short (its work under SKIP_WORK) and nothing was probed."""
    if sum(work(t) for t in trainers) < SKIP_WORK:
        return None
    timed: dict[tuple, float] = {}
    total = 0.0
    for trainer in trainers:
        plan = trainer.plan
        per_step = min(plan.batch_size or plan.n_train, plan.n_train)
        key = (plan.base.method, per_step, plan.runs, plan.n_train)
        if key not in timed:
            timed[key] = step_seconds(trainer, per_step)
        total += plan.base.epochs * math.ceil(plan.n_train / per_step) * timed[key]
    return total


def step_seconds(trainer, rows: int) -> float:
    """Seconds one gradient step of every run of `trainer` takes on `rows` rows, from timed slices."""
    from gdcli import gradients

    plan = trainer.plan
    theta = trainer.theta.detach()
    if plan.method.needs_gram:  # the Gram statistics are summed once: a step costs the same on any rows
        call = lambda _: gradients.probe(plan.method.fill, False, theta, plan.rows, plan.spec)  # noqa: E731
        call(0)  # warm: a first call pays for what is made once (it was 60x a step's time)
        return _fastest(call, 0, plan.device, RETRIES)
    if plan.streamed:  # no rows held to probe: a step is a pass over the rows (mini-batches: their share)
        pass_seconds = plan.prepared[0].pass_seconds
        return pass_seconds * rows / max(1, plan.n_train)
    method = plan.method

    def call(k: int):
        return gradients.probe(method.fill, method.needs_autograd, theta, _slice(plan.rows, k), plan.spec)

    return _scaled(call, rows, plan.device)


def _scaled(call, rows: int, device) -> float:
    """A call's time on `rows` rows: slices growing eightfold until one's time says what a row costs
    (_settled), then a line through the last two (a fixed cost per call plus a cost per row) taken to
    the rows; each slice timed twice, the faster kept (more often where it stalled). Scaling the last
    slice alone would count its fixed cost once per slice's worth of rows (finite differences on
    200,000 rows were estimated at ten times their time)."""
    k = min(rows, FIRST_ROWS)
    call(k)  # warm: the first call pays for what is made once
    before, took = None, _fastest(call, k, device)
    while k < min(rows, MOST_ROWS) and not _settled(before, k, took):
        before = (k, took)
        grown = min(rows, MOST_ROWS, 8 * k)
        took = _fastest(call, grown, device)
        if took > STALL * (grown / k) * before[1]:  # slower than its rows explain: timed again
            took = min(took, _fastest(call, grown, device, RETRIES))
        k = grown
    if k == rows:
        return took
    if before is None:  # the first slice already took PROBE_MOST: its time per row
        return took * rows / k
    per_row = max(took - before[1], 0.0) / (k - before[0])
    return took + per_row * (rows - k)


def _settled(before: tuple[int, float] | None, k: int, took: float) -> bool:
    """Whether the last slice (k rows, `took` seconds) says what a row costs: it took PROBE_SECONDS and
    grew with its rows (at least GROWN and at most STALL x its rows' growth over the slice before), or
    it took PROBE_MOST. A slice that took long without growing is a call's fixed cost, or a wait for a
    busy machine's cores (256 rows took 20 ms there, every try, where they take 0.2 ms); one that grew
    far more than its rows waited too (on a busy machine a call spread over both cores took 100 ms on
    16,384 rows, every try, 1 ms on a quiet one). Scaled to every row of the run, either would say
    hours for seconds (20 epochs of 1e7 rows that took 20 s were announced as 22 minutes)."""
    if took >= PROBE_MOST:
        return True
    if before is None or took < PROBE_SECONDS:
        return False
    growth = took / max(before[1], 1e-12)
    return GROWN <= growth <= STALL * k / before[0]


def _fastest(call, k: int, device, tries: int = 2) -> float:
    """The fastest of `tries` timed calls on `k` rows."""
    return min(_timed(lambda: call(k), device) for _ in range(tries))


def _slice(rows, k: int):
    """The first `k` rows of every part, without Gram statistics."""
    from gdcli.gradients import Part, Rows

    return Rows(tuple(Part(p.runs, p.X[:k], p.y[:k]) for p in rows.parts))


def _timed(call, device) -> float:
    """Seconds `call()` takes, the device's queued work included."""
    import torch

    sync = torch.cuda.synchronize if getattr(device, "type", "cpu") == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    call()
    sync()
    return time.perf_counter() - start


def advice(trainers: list, setting: str = "method") -> str | None:
    """What to say before a run expected to take over THRESHOLD seconds (None: nothing to say): how long,
    and a faster choice with the same answer. `setting` is what the command chooses methods by:
    method (fit, sweep), methods or run (compare)."""
    total = seconds(trainers)
    if total is None or total <= THRESHOLD:
        return None
    runs = sum(t.plan.runs for t in trainers)
    epochs = trainers[0].plan.base.epochs
    text = (f"this will take about {duration(total)} ({plural(runs, 'run')} of {plural(epochs, 'epoch')}, "
            "timed on a short probe)")
    faster = faster_choice(trainers, setting)
    text += f"; {faster}" if faster else ""
    if all(compiling.would_fuse(t) for t in trainers):
        text += f"; {param('compile')} fuses the runs into one pass over the rows (after seconds of compiling)"
    return text


def faster_choice(trainers: list, setting: str) -> str | None:
    """A faster way to the same answer: analytic instead of finite-diff; gram for a model linear in its
    parameters on the full batch; None where there is none."""
    methods = list(dict.fromkeys(t.plan.base.method for t in trainers))
    if "finite-diff" in methods:
        if setting != "method":
            return f"leave finite-diff out of {param(setting)}: analytic gives the same gradient in one pass"
        return f"{param('method')} analytic gives the same gradient in one forward and backward pass"
    first = trainers[0]
    if first.model.linear_in_params and all(t.plan.batch_size is None for t in trainers) and "gram" not in methods:
        choice = "gram:OPTIM" if setting == "run" else "gram"
        return f"{param(setting)} {choice} gives the same answer from X^T X, summed once"
    return None


def duration(total: float) -> str:
    """Seconds as people say them: 75 seconds, 52 minutes, 3.4 hours."""
    if total < 120:
        return f"{total:.0f} seconds"
    if total < 7200:
        return f"{total / 60:.0f} minutes"
    return f"{total / 3600:.1f} hours"


def finite_diff_cost(trainer, methods, setting: str = "methods") -> str | None:
    """compare's header line on finite differences where they are compared on more than FD_ROWS training
    rows: what a step costs them against the other methods, and the faster choice (leaving them out of
    `setting`: methods or run); else None."""
    n = trainer.plan.n_train
    if "finite-diff" not in methods or n <= FD_ROWS:
        return None
    size = trainer.model.size
    return (f"2·P = {2 * size:,} loss passes a step over {n:,} rows (P = {plural(size, 'parameter')}; the others: "
            f"one); analytic gives the same gradient: leave it out of {param(setting)} to save time")
