"""`gdcli sweep`: a grid of runs ranked best first, diverged last, with the failed runs and a summary."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterator

from gdcli import preset_lr
from gdcli.preset_lr import PresetLr
from gdcli.report import sharpness
from gdcli.report.advising import stood_still_note
from gdcli.report.fit import run_dict
from gdcli.report.many import gap_cell, interrupted, light_table, stop_cell, summary
from gdcli.report.numbers import fmt, fmt_params
from gdcli.report.panel import settings
from gdcli.report.sweep_summary import summary_text
from gdcli.tables import FitTable
from gdcli.text import plural

if TYPE_CHECKING:
    from gdcli.config import RunConfig
    from gdcli.grid import Failed
    from gdcli.train import RunResult


def _grid_value(v) -> str:
    if preset_lr.is_rule(v):  # derived from each run's rows when it trains
        return f"preset: {v.why} of each run's rows"
    if isinstance(v, PresetLr):
        return preset_lr.shown(v)
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

    lrs = grid["lr"]
    if any(preset_lr.is_rule(v) for v in lrs):  # a rule with no bound to apply to keeps its number
        from gdcli import models
        from gdcli.train.derived_lr import without_bound

        why = without_bound(base.optim, models.get(base.model).linear_in_params)
        lrs = [PresetLr(float(v), why, derived=True) if why and preset_lr.is_rule(v) else v for v in lrs]
    changes = {"lr": describe(lrs), "seed": describe(grid["seed"]), "batch size": describe(grid["batch_size"])}
    if "momentum" in settings(base):
        changes["momentum"] = describe(grid["momentum"])
    return changes


def grid_line(base: RunConfig, grid: dict, runs: int) -> dict:
    """sweep's first JSON line: the settings and the grid (known before training)."""
    # A preset's lr rule is no number yet: the line names it, each run's result records its value.
    grid = {name: [v.why if preset_lr.is_rule(v) else v for v in values] for name, values in grid.items()}
    config = {**base.to_dict(), **({"lr": base.lr.why} if preset_lr.is_rule(base.lr) else {})}
    return {"type": "grid", "config": config, "grid": grid, "runs": runs}


# sweep's csv columns (known before training)
SWEEP_CSV = ["lr", "momentum", "seed", "batch_size", "final_loss", "final_val_loss", "gap", "verdict", "reason",
             "diverged_at", "epochs_run", "stopped_by", "stopped_at"]
SHARPNESS_CSV = "max_sharpness_over_edge"  # with --sharpness: each run's largest sharpness over 2/lr


def sweep_csv(base: RunConfig) -> list[str]:
    """sweep's csv columns for its settings: SWEEP_CSV, and the sharpness column with --sharpness."""
    return SWEEP_CSV + ([SHARPNESS_CSV] if base.sharpness is not None else [])


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
        return [*ranked, *failed, summary_text(self)]

    def _failed_table(self) -> FitTable:
        table = light_table(title=f"failed: {plural(len(self.failed), 'run')}", title_justify="left")
        for dim in self.dims:
            table.add_column(dim.replace("_", " "), justify="right", no_wrap=True, keep=True)
        table.add_column("why", overflow="fold", text=True, narrow=16)
        for f in self.failed:
            table.add_row(*_dim_cells(f.config, self.dims), f.reason)
        return table

    def _table(self, runs: list[RunResult]) -> FitTable:
        by = "validation loss" if self.by_val else "final loss"
        total = len(self.ranked)
        title = f"sweep: {plural(total, 'run')}, best first by {by}"
        if len(runs) < total:
            title += f" (the best {len(runs)} shown)"
        table = light_table(title=title, title_justify="left")
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
        sharp = self.base.sharpness is not None
        if sharp:
            table.add_column(sharpness.ratio_header(self.ranked), justify="right", no_wrap=True, priority=2)
        # Last, and the only column that folds: on a narrow terminal the numbers stay whole.
        table.add_column("params", overflow="fold", min_width=12, text=True)
        for i, r in enumerate(runs, start=1):
            cells = [str(i), *_dim_cells(r.config, self.dims)]
            bad = r.verdict.cause == "nonfinite"  # a run whose loss rose is finite: its numbers show
            val = [fmt(r.final_val_loss) if not bad else "-"] if self.by_val else []
            stop = [stop_cell(r)] if stopped else []
            params = fmt_params(r.params) if not bad else "-"
            ratio = [sharpness.ratio_cell(r)] if sharp else []
            table.add_row(*cells, fmt(r.final_loss) if not bad else "-", *val, gap_cell(r), r.verdict.label, *stop,
                          *ratio, params)
        return table

    def _run(self, r: RunResult, history: bool) -> dict:
        return {**_setting(r.config), **run_dict(r, history=history, device=self.device)}

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
        return {**_setting(f.config), "error": f.reason}

    def lines(self) -> Iterator[dict]:
        yield grid_line(self.base, self.grid, math.prod(len(v) for v in self.grid.values()))
        for r in self.ranked:
            yield {"type": "run", **self._run(r, False)}
        for f in self.failed:
            yield {"type": "failed", **self._failed(f)}
        counts = {**summary(self.ranked), "interrupted": self.interrupted, "failed": len(self.failed)}
        yield {"type": "summary", "ranked_by": "val_loss" if self.by_val else "final_loss", **counts}

    def csv(self):
        header = sweep_csv(self.base)
        sharp = self.base.sharpness is not None

        def rows():
            for r in self.ranked:
                stop = r.stop
                yield [*_setting(r.config).values(), r.final_loss, r.final_val_loss, r.gap,
                       r.verdict.kind, r.verdict.reason, r.verdict.epoch, r.epochs_run,
                       stop.rule if stop else None, stop.epoch if stop else None,
                       *([sharpness.peak_ratio(r)] if sharp else [])]
            for f in self.failed:
                yield [*_setting(f.config).values(), None, None, None, "failed", f.reason, None, None, None, None,
                       *([None] if sharp else [])]

        return header, rows()


def _setting(c: RunConfig) -> dict:
    """The grid's settings of one run, as its JSON and csv give them."""
    return {"lr": c.lr, "momentum": c.momentum, "seed": c.seed, "batch_size": c.batch_size}


def _dim_cells(c: RunConfig, dims: list[str]) -> list[str]:
    """One run's values of the grid's dimensions that vary, as table cells (lr to four digits, always)."""
    return [f"{c.lr:.3e}" if d == "lr" else _grid_value(getattr(c, d)) for d in dims]
