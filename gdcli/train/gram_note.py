"""The sweep's note that the gram method would give its runs the same iterates for less.

A full-batch run of a model linear in its parameters steps on a gradient that the gram
method computes from X^T X and X^T y, summed once before training: the same gradient,
to rounding, for O(k^2) work per run and epoch where a per-row method (analytic,
autograd, finite-diff) reads every row for every run. Where a sweep is large enough for
that to matter, its header says so, with the factor measured on the sweep's own runs:
a step of every run with its method against a step with gram, each on all the rows
(a few steps of each: on a busy machine a single one is noisy).
"""

from __future__ import annotations

from gdcli.errors import param

PER_ROW = ("analytic", "autograd", "finite-diff")
# Rows x runs below which a per-row step costs too little for the note to be worth its probe.
MIN_WORK = 1_000_000
# The least factor worth telling.
MIN_FACTOR = 3.0


def note(trainers: list) -> str | None:
    """The note for a sweep's trainers, or None where gram does not apply or would gain little."""
    first = trainers[0]
    method = first.plan.base.method
    if method not in PER_ROW or not first.model.linear_in_params:
        return None
    if any(t.plan.batch_size is not None or t.plan.streamed for t in trainers):
        return None  # mini-batches; streamed rows, which no probe holds (their header says a pass's time)
    runs = sum(t.plan.runs for t in trainers)
    if runs < 2 or sum(t.plan.n_train * t.plan.runs for t in trainers) < MIN_WORK:
        return None
    per_row = sum(_step(t, t.plan.method.fill, t.plan.method.needs_autograd, t.plan.rows) for t in trainers)
    with_gram = sum(_step(t, _gram_fill(), False, _gram_rows(t)) for t in trainers)
    factor = per_row / max(with_gram, 1e-9)
    if factor < MIN_FACTOR:
        return None
    return (f"{param('method')} gram gives these {runs} runs the same iterates (to rounding) from X^T X, summed "
            f"once: a step of all of them measured at {_ms(per_row)} with {method} and {_ms(with_gram)} with gram, "
            f"about {factor:,.0f}x less")


def _gram_fill():
    """The gram method's fill."""
    from gdcli import gradients

    return gradients.gram


def _gram_rows(trainer):
    """The trainer's rows with the Gram statistics the gram method would step on."""
    from gdcli import gradients

    plan = trainer.plan
    grams = [None] * plan.runs
    for (members, _), prep in zip(plan.groups, _group_prepared(plan)):
        for run in members:
            grams[run] = prep.gram("training")
    dtype = gradients.gram_dtype(plan.device, plan.dtype)
    return gradients.Rows(plan.rows.parts, gradients.GramTensors.stack(grams, plan.base.reduction, plan.device, dtype))


def _step(trainer, fill, record: bool, rows) -> float:
    """Seconds one step of every run of `trainer` takes on `rows` with `fill`, timed after one that warms:
    once where the steps are slow, the fastest of up to four where they are short (and noisy)."""
    import time

    import torch

    from gdcli import gradients

    plan, theta = trainer.plan, trainer.theta.detach()
    sync = torch.cuda.synchronize if plan.device.type == "cuda" else (lambda: None)
    best, spent = float("inf"), 0.0
    for i in range(5):
        sync()
        started = time.perf_counter()
        gradients.probe(fill, record, theta, rows, plan.spec)
        sync()
        took = time.perf_counter() - started
        best = min(best, took) if i else best
        spent += took
        if i >= 1 and spent > 0.2:  # a slow step is timed once after the warm one: it is not noisy
            break
    return best


def _group_prepared(plan) -> list:
    """Each group's prepared rows (those of its first run)."""
    return [plan.prepared[members[0]] for members, _ in plan.groups]


def _ms(seconds: float) -> str:
    """Seconds as milliseconds (or microseconds, below one)."""
    return f"{seconds * 1e3:,.1f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:,.0f} µs"
