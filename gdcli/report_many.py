"""Many runs side by side: compare's strategies and sweep's grid, as views for gdcli.emit. Prints nothing."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Iterator

from rich import box
from rich.console import Group
from rich.text import Text

from gdcli.models import default_delta
from gdcli.outcome import step_broken
from gdcli.report import SHOWN_PARAMS, fmt, fmt_params, run_dict, settings, stable_text, stood_still_note
from gdcli.schedules import peak_lr
from gdcli.train.stopping import within_text
from gdcli.tables import FitTable
from gdcli.text import plural

if TYPE_CHECKING:
    from gdcli.comparison import Agreement
    from gdcli.config import RunConfig
    from gdcli.grid import Failed
    from gdcli.train import RunResult


def _light(**kw) -> FitTable:
    # A light box (no vertical rules), so that many numeric columns fit in 80 columns.
    return FitTable(box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False, **kw)


def _optimum(r: RunResult) -> str:
    """What runs are measured against: the least-squares optimum, or for a network the best straight line."""
    return "least-squares optimum" if r.exact_optimum else "best straight line"


def _gap(r: RunResult) -> str:
    # A run that stopped being finite has no meaningful gap; one whose loss rose does.
    return f"{r.gap:.2e}" if math.isfinite(r.gap) and r.verdict.cause != "nonfinite" else "-"


# The gradient tables' last column: against the norm, a component near 0 (a saturated unit) weighs
# as little as it does in the gradient, instead of turning a tiny error into a huge relative one.
DIFF_NOTE = "max diff / norm: largest |method - autograd| over the norm of autograd's gradient"


def agreement_table(rows: list[Agreement], names: list[str], title: str = "gradient at the start, against autograd") -> Group:
    """Each method's gradient and its largest difference from autograd's, absolute and over its norm."""
    table = _light(title=title, title_justify="left")
    # On a narrow terminal: the differences give way first, then the gradient from its last parameter.
    table.add_column("method", no_wrap=True, keep=True)
    table.add_column("loss", justify="right", no_wrap=True, priority=3)
    # Many parameters (a network's) show as the gradient's norm, not a column each.
    each = len(names) <= SHOWN_PARAMS
    for name in names if each else ["gradient norm"]:
        table.add_column(Text(f"dL/d{name}" if each else name), justify="right", no_wrap=True, overflow="fold", priority=2)
    table.add_column("max abs diff", justify="right", no_wrap=True)
    table.add_column("max diff / norm", justify="right", no_wrap=True, priority=1)
    for r in rows:
        grads = [fmt(g, 4) for g in r.grad] if each else [fmt(math.sqrt(sum(g * g for g in r.grad)), 4)]
        table.add_row(r.method, fmt(r.loss), *grads, f"{r.max_abs:.2e}", f"{r.max_diff_over_norm:.2e}")
    return Group(table, Text(DIFF_NOTE, style="dim"))


def stop_cell(r: RunResult) -> str:
    """When and by which rule a run stopped early: "412 (patience)", or "-" for a run that trained every epoch."""
    return f"{r.stop.epoch} ({r.stop.rule})" if r.stop is not None else "-"


# Compare's columns that a narrow terminal keeps (they say which run a row is, and how it ended),
# and the order in which the others give way: us/epoch first, then stopped, within, gap, val loss, diverged.
KEY_COLUMNS = ("method", "optim", "final loss")
COMPARE_PRIORITY = {"diverged": 5, "val loss": 4, "gap": 3, "within": 2, "stopped": 1}


class CompareView:
    """`gdcli compare`: the gradients at the start, then one row per strategy."""

    def __init__(self, results: list[RunResult], agreement: tuple[list[Agreement], dict[str, str]],
                 within: list[int | None], tol: float, curves: bool = False, device: str | None = None,
                 planned: list[RunConfig] | None = None):
        # agreement: compare.agreement's rows, and why each method missing from them was left out.
        # planned: every run asked for, trained or not (Ctrl-C leaves the last out): csv's columns.
        (self.agreement, self.left_out), self.results, self.within, self.tol = agreement, results, within, tol
        self.curves, self.device = curves, device
        self.planned = planned if planned is not None else [r.config for r in results]
        self.labels = strategy_labels([r.config for r in results])

    def table(self) -> list:
        results = self.results
        names = results[0].model.labels(results[0].features, results[0].targets)
        title = Text(
            f"compare: within {self.tol * 100:g}% = the first epoch {within_text(self.tol, _optimum(results[0]))}; "
            f"gap = final loss - {_optimum(results[0])}"
        )
        table = _light()
        has_val = any(r.final_val_loss is not None for r in results)
        stopped = any(r.stop is not None for r in results)
        for col in ("method", "optim", "final loss", "val loss", "gap", "within", "diverged", "stopped", "us/epoch"):
            if (col != "val loss" or has_val) and (col != "stopped" or stopped):
                # Numbers stay whole on a narrow terminal: the parameters get a table of their own below.
                label = f"within {self.tol * 100:g}%" if col == "within" else col  # relative, as the title says
                table.add_column(label, justify="left" if col in ("method", "optim") else "right", no_wrap=True,
                                 keep=col in KEY_COLUMNS, priority=COMPARE_PRIORITY.get(col, 0))
        params = _light(title="final parameters", title_justify="left")
        params.add_column("run", no_wrap=True, keep=True)
        params.add_column("params", overflow="fold", text=True)
        for r, within, label in zip(results, self.within, self.labels):
            table.add_row(
                r.config.method,
                r.config.optim,
                fmt(r.final_loss),
                *([fmt(r.final_val_loss)] if has_val else []),
                _gap(r),
                str(within or "never"),
                r.verdict.label,
                *([stop_cell(r)] if stopped else []),
                f"{r.seconds_per_epoch * 1e6:.1f}",
            )
            params.add_row(label, fmt_params(r.params))
        parts = [agreement_table(self.agreement, names), Group(title, table, params)]
        if self.curves:
            parts.append(curves_table(self.labels, results))
        notes = [f"{label}: {r.verdict.reason}" for label, r in zip(self.labels, results) if r.verdict.kind != "converging"]
        notes += [f"{label}: stood still, {r.unmoved} ({stood_still_note(r)})" for label, r in zip(self.labels, results)
                  if r.unmoved]
        best = results[0]
        if "gram" in self.left_out:
            notes.append(f"gram: left out, {self.left_out['gram']}")
        what = "optimum loss" if best.exact_optimum else "best straight line's loss (a network has no closed form)"
        if best.optimum_loss is None:
            parts.append(Text(f"{what}: not computed ({best.optimum_reason})"))
        else:
            parts.append(Text(f"{what} {fmt(best.optimum_loss)}: least squares on the same "
                              f"{plural(best.n_train, 'training row')}"))
        parts += [Text(f"note: {n}", style="dim") for n in notes]
        return parts

    def _run(self, r: RunResult, within: int | None, history: bool) -> dict:
        return {"method": r.config.method, "optim": r.config.optim, "first_within": within,
                **run_dict(r, history=history, device=self.device)}

    def document(self) -> dict:
        return {
            "interrupted": interrupted(self.results),
            "within": self.tol,
            "agreement": [vars(a) for a in self.agreement],
            "runs": [self._run(r, w, True) for r, w in zip(self.results, self.within)],
        }

    def lines(self) -> Iterator[dict]:
        yield from gradient_lines(self.agreement)
        for r, w in zip(self.results, self.within):
            yield {"type": "run", **self._run(r, w, False)}
        yield {"type": "summary", **summary(self.results)}

    def csv(self):
        """epoch, then one training-loss column per planned run (empty after a run stopped, and for a
        run never started)."""
        results = self.results
        longest = max(results, key=lambda r: len(r.epochs))
        unstarted = [None] * (len(self.planned) - len(results))

        def rows():
            for i, epoch in enumerate(longest.epochs):
                yield [epoch, *(r.train_loss[i] if i < len(r.train_loss) else None for r in results), *unstarted]

        return compare_csv_header(self.planned), rows()


def strategy_labels(configs: list[RunConfig]) -> list[str]:
    """Each compared run's name, method:optim."""
    return [f"{c.method}:{c.optim}" for c in configs]


def compare_csv_header(configs: list[RunConfig]) -> list[str]:
    """compare's csv columns (known before training): the epoch, then one loss column per run."""
    return ["epoch", *strategy_labels(configs)]


def gradient_lines(agreement: list[Agreement]) -> list[dict]:
    """compare's first JSON lines: each method's gradient at the start (known before training)."""
    return [{"type": "gradient", **vars(a)} for a in agreement]


def grid_line(base: RunConfig, grid: dict, runs: int) -> dict:
    """sweep's first JSON line: the settings and the grid (known before training)."""
    return {"type": "grid", "config": base.to_dict(), "grid": grid, "runs": runs}


# sweep's csv columns (known before training)
SWEEP_CSV = ["lr", "momentum", "seed", "batch_size", "final_loss", "final_val_loss", "gap", "verdict", "reason",
             "diverged_at", "epochs_run", "stopped_by", "stopped_at"]


def summary(results: list[RunResult]) -> dict:
    """Counts of each verdict, for a final JSON line."""
    kinds = [r.verdict for r in results]
    return {
        "runs": len(results),
        "converging": sum(v.kind == "converging" for v in kinds),
        "unstable": sum(v.kind == "unstable" for v in kinds),
        "diverged": sum(v.diverged for v in kinds),
        "stopped_early": sum(r.stop is not None and not r.interrupted for r in results),
        "interrupted": interrupted(results),
        "optimum_loss": results[0].optimum_loss if results else None,
    }


def interrupted(results: list[RunResult]) -> bool:
    """Whether Ctrl-C stopped the command (its runs were cut short)."""
    return any(r.interrupted for r in results)


def curves_table(labels: list[str], results: list[RunResult]) -> FitTable:
    """Training loss at the logged epochs, a column per run (on a narrow terminal, the first runs that fit)."""
    table = FitTable(hint="widen the terminal, or use --output csv", title="loss curves", title_justify="left")
    table.add_column("epoch", justify="right", no_wrap=True, keep=True)
    for label in labels:
        table.add_column(label, justify="right", no_wrap=True)
    base = results[0].config
    for epoch in (e for e in range(1, base.epochs + 1) if base.logged(e)):
        table.add_row(str(epoch), *(fmt(r.train_loss[epoch - 1]) if epoch <= len(r.train_loss) else "" for r in results))
    return table


# ---------------------------------------------------------------- sweep


def _grid_value(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "full" if v is None else str(v)


def grid_header(base: RunConfig, grid: dict[str, list]) -> dict[str, str]:
    """Header rows for a sweep: each grid dimension's values in place of the single setting."""
    def describe(values: list) -> str:
        if len(values) == 1:
            return _grid_value(values[0])
        shown = ", ".join(_grid_value(v) for v in values[:3])
        return f"{len(values)} values: {shown}{', ...' if len(values) > 3 else ''}"

    changes = {"lr": describe(grid["lr"]), "seed": describe(grid["seed"]), "batch size": describe(grid["batch_size"])}
    if "momentum" in settings(base):
        changes["momentum"] = describe(grid["momentum"])
    return changes


def _stood_still_notes(runs: list[RunResult]) -> list[str]:
    """One note for the sweep's runs that stood still (there may be many): how many, at which lrs, and why."""
    still = sorted((r for r in runs if r.unmoved), key=lambda r: r.config.lr)
    if not still:
        return []
    lrs = f"lr {still[0].config.lr:.3e}" + (f" to {still[-1].config.lr:.3e}" if len(still) > 1 else "")
    return [f"{plural(len(still), 'run')} ({lrs}) stood still: {stood_still_note(still[0])}"]


class SweepView:
    """`gdcli sweep`: runs ranked best first, diverged last, with the stability bound next to the grid."""

    def __init__(self, ranked: list[RunResult], dims: list[str], grid: dict, notes: list[str], top: int | None,
                 device: str | None = None, base: RunConfig | None = None, failed: list[Failed] = (),
                 cancelled: int = 0):
        self.ranked, self.dims, self.grid, self.top, self.device = ranked, dims, grid, top, device
        self.notes = list(notes) + _stood_still_notes(ranked)
        # Runs whose task failed on a Ray worker, and runs a Ctrl-C cancelled before they trained.
        self.failed, self.cancelled = list(failed), cancelled
        self.base = ranked[0].config if ranked else base
        self.by_val = ranked[0].final_val_loss is not None if ranked else self.base.val_fraction > 0

    def table(self) -> list:
        shown = self.ranked[: self.top] if self.top else self.ranked
        ranked = [self._table(shown)] if self.ranked else []
        failed = [self._failed_table()] if self.failed else []
        return [*ranked, *failed, self._summary()]

    def _failed_table(self) -> FitTable:
        table = _light(title=f"failed: {plural(len(self.failed), 'run')}", title_justify="left")
        for dim in self.dims:
            table.add_column(dim.replace("_", " "), justify="right", no_wrap=True, keep=True)
        table.add_column("why", overflow="fold", text=True, narrow=16)
        for f in self.failed:
            c = f.config
            table.add_row(*[f"{c.lr:.3e}" if d == "lr" else _grid_value(getattr(c, d)) for d in self.dims], f.reason)
        return table

    def _table(self, runs: list[RunResult]) -> FitTable:
        by = "validation loss" if self.by_val else "final loss"
        total = len(self.ranked)
        title = f"sweep: {plural(total, 'run')}, best first by {by}"
        if len(runs) < total:
            title += f" (the best {len(runs)} shown)"
        table = _light(title=title, title_justify="left")
        # min_width keeps ranks and numbers whole (1.000e-03, not 1.000e…) on a narrow terminal;
        # the params column, last, is the one that folds.
        # A narrow terminal keeps the rank, the grid's settings and the losses; then diverged, stopped, gap,
        # and params give way, params first.
        table.add_column("#", justify="right", no_wrap=True, min_width=len(str(len(runs))), keep=True)
        for dim in self.dims:
            table.add_column(dim.replace("_", " "), justify="right", no_wrap=True, min_width=9 if dim == "lr" else None,
                             keep=True)
        stopped = any(r.stop is not None for r in self.ranked)
        for col, width, priority in (("final loss", 9, 0), ("val loss", 9, 0), ("gap", 8, 1), ("diverged", 8, 3),
                                     ("stopped", 7, 2)):
            if (col != "val loss" or self.by_val) and (col != "stopped" or stopped):
                table.add_column(col, justify="right", no_wrap=True, min_width=width, priority=priority,
                                 keep=col in ("final loss", "val loss"))
        # Last, and the only column that folds: on a narrow terminal the numbers stay whole.
        table.add_column("params", overflow="fold", min_width=12, text=True)
        for i, r in enumerate(runs, start=1):
            cells = [str(i)] + [f"{r.config.lr:.3e}" if d == "lr" else _grid_value(getattr(r.config, d)) for d in self.dims]
            bad = r.verdict.cause == "nonfinite"  # a run whose loss rose is finite: its numbers show
            val = [fmt(r.final_val_loss) if not bad else "-"] if self.by_val else []
            stop = [stop_cell(r)] if stopped else []
            params = fmt_params(r.params) if not bad else "-"
            table.add_row(*cells, fmt(r.final_loss) if not bad else "-", *val, _gap(r), r.verdict.label, *stop, params)
        return table

    def _summary(self) -> Text:
        runs, lrs = self.ranked, self.grid["lr"]
        lines = []
        planned = math.prod(len(v) for v in self.grid.values())
        if self.failed:
            lines.append(
                f"failed: {len(self.failed)} of {plural(planned, 'run')}, listed above with the reason; "
                f"every run that finished is reported"
            )
        if not runs:
            return Text("\n".join(lines + self._closing(planned)))
        winner = runs[0]
        if not winner.verdict.diverged:
            cfg = winner.config
            setting = f"lr {cfg.lr:.4g}, momentum {cfg.momentum:g}, seed {cfg.seed}, batch size {cfg.batch_size or 'full'}"
            loss = f"validation loss {fmt(winner.final_val_loss)}" if self.by_val else f"final loss {fmt(winner.final_loss)}"
            best_fit = "optimum" if winner.exact_optimum else "best straight line"
            optimum = fmt(winner.optimum_loss) if winner.optimum_loss is not None else "not computed"
            lines.append(f"best: {setting}: {loss} ({best_fit} {optimum})")
        elif all(step_broken(r.step_error) for r in runs):
            cfg = winner.config
            lines.append(f"every run diverged: the finite-difference step --delta {cfg.delta:g} broke the gradient "
                         f"from the start; use --delta {default_delta(cfg.model, cfg.dtype):g} (the default), "
                         f"or --method autograd")
        else:
            lines.append("every run diverged: lower the learning rates, or use --scale or --normalize")
        counts = summary(runs)
        line = f"{counts['diverged']} of {plural(len(runs), 'run')} diverged"
        causes = {"nonfinite": "non-finite", "rose": "the loss rose above its start"}
        found = {c: sum(r.verdict.cause == c for r in runs) for c in causes}
        if counts["diverged"]:
            line += " (" + ", ".join(f"{n}: {causes[c]}" for c, n in found.items() if n) + ")"
        if counts["unstable"]:
            line += f"; {counts['unstable']} unstable (lr above the stability bound: diverging given time)"
        lines.append(line)
        bounds: dict[float, set[float]] = {}
        for r in runs:
            if r.stable_lr is not None:
                bounds.setdefault(r.config.momentum, set()).add(r.stable_lr)
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
        return Text("\n".join(lines + self._closing(planned)))

    def _closing(self, planned: int) -> list[str]:
        """The summary's last lines: how Ctrl-C cut the sweep short, and the notes."""
        lines = []
        runs = len(self.ranked)
        if self.cancelled:  # on Ray: the tasks still running were cancelled, their runs left out
            lines.append(f"interrupted (Ctrl-C): {runs} of {plural(planned, 'run')} trained; "
                         f"{self.cancelled} cancelled before they finished")
        elif self.interrupted:
            left = planned - runs - len(self.failed)
            left = f"; {left} not started" if left else ""
            lines.append(f"interrupted (Ctrl-C): {runs} of {plural(planned, 'run')} trained, up to the epoch shown{left}")
        return lines + [f"note: {n}" for n in self.notes]

    def _run(self, r: RunResult, history: bool) -> dict:
        cfg = r.config
        setting = {"lr": cfg.lr, "momentum": cfg.momentum, "seed": cfg.seed, "batch_size": cfg.batch_size}
        return {**setting, **run_dict(r, history=history, device=self.device)}

    def document(self) -> dict:
        return {
            "config": self.base.to_dict(),
            "grid": self.grid,
            "ranked_by": "val_loss" if self.by_val else "final_loss",
            "interrupted": self.interrupted,
            "notes": self.notes,
            "runs": [self._run(r, True) for r in self.ranked],
            "failed": [self._failed(f) for f in self.failed],
        }

    @property
    def interrupted(self) -> bool:
        """Whether Ctrl-C cut the sweep short (runs stopped, or never trained)."""
        return interrupted(self.ranked) or self.cancelled > 0

    @staticmethod
    def _failed(f: Failed) -> dict:
        c = f.config
        return {"lr": c.lr, "momentum": c.momentum, "seed": c.seed, "batch_size": c.batch_size, "error": f.reason}

    def lines(self) -> Iterator[dict]:
        yield grid_line(self.base, self.grid, math.prod(len(v) for v in self.grid.values()))
        for r in self.ranked:
            yield {"type": "run", **self._run(r, False)}
        for f in self.failed:
            yield {"type": "failed", **self._failed(f)}
        counts = {**summary(self.ranked), "interrupted": self.interrupted, "failed": len(self.failed)}
        yield {"type": "summary", "ranked_by": "val_loss" if self.by_val else "final_loss", **counts}

    def csv(self):
        header = SWEEP_CSV

        def rows():
            for r in self.ranked:
                c, stop = r.config, r.stop
                yield [c.lr, c.momentum, c.seed, c.batch_size, r.final_loss, r.final_val_loss, r.gap,
                       r.verdict.kind, r.verdict.reason, r.verdict.epoch, r.epochs_run,
                       stop.rule if stop else None, stop.epoch if stop else None]
            for f in self.failed:
                c = f.config
                yield [c.lr, c.momentum, c.seed, c.batch_size, None, None, None, "failed", f.reason,
                       None, None, None, None]

        return header, rows()
