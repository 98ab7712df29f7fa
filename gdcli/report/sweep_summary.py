"""The lines under a sweep's tables: the best run, how many diverged and why, the largest stable lr
against the grid's, and how Ctrl-C or failed tasks cut the sweep short."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from rich.text import Text

from gdcli.models import default_delta
from gdcli.outcome import step_broken
from gdcli.preset_lr import is_rule
from gdcli.report.many import summary
from gdcli.report.numbers import fmt
from gdcli.report.result import optimum_label, stable_text
from gdcli.schedules import peak_lr
from gdcli.text import plural

if TYPE_CHECKING:
    from gdcli.report.sweep import SweepView
    from gdcli.train import RunResult


def summary_text(view: SweepView) -> Text:
    """Every line of the summary, in order: failed runs, the best, the diverged, the bound, the closing."""
    runs = view.ranked
    planned = math.prod(len(v) for v in view.grid.values())
    lines = []
    if view.failed:
        lines.append(
            f"failed: {len(view.failed)} of {plural(planned, 'run')}, listed above with the reason; "
            f"every run that finished is reported"
        )
    if runs:
        lines += [_best_line(runs, view.by_val), _diverged_line(runs), *_bound_lines(runs, view.grid["lr"])]
    return Text("\n".join(lines + _closing(view, planned)))


def _best_line(runs: list[RunResult], by_val: bool) -> str:
    """The best run's settings and loss; where every run diverged, what to change."""
    winner = runs[0]
    cfg = winner.config
    if not winner.verdict.diverged:
        setting = f"lr {cfg.lr:.4g}, momentum {cfg.momentum:g}, seed {cfg.seed}, batch size {cfg.batch_size or 'full'}"
        loss = f"validation loss {fmt(winner.final_val_loss)}" if by_val else f"final loss {fmt(winner.final_loss)}"
        optimum = fmt(winner.optimum_loss) if winner.optimum_loss is not None else "not computed"
        return f"best: {setting}: {loss} ({optimum_label(winner)} {optimum})"
    if all(step_broken(r.step_error) for r in runs):
        return (f"every run diverged: the finite-difference step --delta {cfg.delta:g} broke the gradient "
                f"from the start; use --delta {default_delta(cfg.model, cfg.dtype):g} (the default), "
                f"or --method autograd")
    return "every run diverged: lower the learning rates, or use --scale or --normalize"


def _diverged_line(runs: list[RunResult]) -> str:
    """How many runs diverged (and why), and how many are unstable."""
    counts = summary(runs)
    line = f"{counts['diverged']} of {plural(len(runs), 'run')} diverged"
    causes = {"nonfinite": "non-finite", "rose": "the loss rose above its start"}
    found = {c: sum(r.verdict.cause == c for r in runs) for c in causes}
    if counts["diverged"]:
        line += " (" + ", ".join(f"{n}: {causes[c]}" for c, n in found.items() if n) + ")"
    if counts["unstable"]:
        line += f"; {counts['unstable']} unstable (lr above the stability bound: diverging given time)"
    return line


def _bound_lines(runs: list[RunResult], lrs: list[float]) -> list[str]:
    """The largest stable lr for each momentum, and how many of the grid's lrs lie below it."""
    bounds: dict[float, set[float]] = {}
    if any(is_rule(lr) for lr in lrs):  # the preset's rule: the lrs the runs derived from their rows
        lrs = list(dict.fromkeys(r.config.lr for r in runs))
    for r in runs:
        if r.stable_lr is not None:
            bounds.setdefault(r.config.momentum, set()).add(r.stable_lr)
    lines = []
    for momentum, values in sorted(bounds.items()):
        lo, hi = min(values), max(values)
        bound = stable_text(lo).lstrip("< ") if lo == hi else f"{lo:.4e} to {hi:.4e} across seeds"
        with_m = f" with momentum {momentum:g}" if len(bounds) > 1 or momentum else ""
        formula = "2(1+m)/largest Hessian eigenvalue" if momentum else "2/largest Hessian eigenvalue"
        if not runs[0].exact_optimum:
            formula += " at the start: a local estimate"
        # A schedule is held against the largest lr it reaches.
        peaks = [peak_lr(replace(runs[0].config, lr=lr)) for lr in lrs]
        below = sum(p < lo for p in peaks)
        where = "peak" if runs[0].config.schedule != "constant" else ("lies" if below == 1 else "lie")
        lines.append(
            f"largest stable lr{with_m} ({formula}): {bound}; "
            f"{below} of {plural(len(lrs), 'grid learning rate')} {where} below it"
        )
    return lines


def _closing(view: SweepView, planned: int) -> list[str]:
    """The summary's last lines: how Ctrl-C cut the sweep short, and the notes."""
    lines = []
    runs = len(view.ranked)
    if view.cancelled:  # on Ray: the tasks still running were cancelled, their runs left out
        lines.append(f"interrupted (Ctrl-C): {runs} of {plural(planned, 'run')} trained; "
                     f"{view.cancelled} cancelled before they finished")
    elif view.interrupted:
        left = planned - runs - len(view.failed)
        left = f"; {left} not started" if left else ""
        lines.append(f"interrupted (Ctrl-C): {runs} of {plural(planned, 'run')} trained, up to the epoch shown{left}")
    return lines + [f"note: {n}" for n in view.notes]
