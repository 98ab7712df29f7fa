"""Tables for many runs side by side: compare's strategies and sweep's grid. Prints nothing."""

from __future__ import annotations

import csv
import io
import math
from typing import TYPE_CHECKING

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from gdcli.report import fmt, fmt_params, params_dict, settings

if TYPE_CHECKING:
    from gdcli.config import RunConfig
    from gdcli.train import RunResult


def compare_table(rows: list[dict], results: list[RunResult], tol: float) -> Group:
    """One row per strategy (final loss, gap, when it got within tol, divergence, speed), then their parameters."""
    # A light box (no vertical rules) so that eight numeric columns fit in 80 columns.
    title = Text(f"compare: within = the first epoch within {tol:g} of the least-squares optimum")
    table = Table(box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    has_val = any(r.final_val_loss is not None for r in results)
    for col in ("method", "optim", "final loss", "val loss", "gap", "within", "diverged", "us/epoch"):
        if col != "val loss" or has_val:
            # Numbers stay whole on a narrow terminal: the parameters get a table of their own below.
            table.add_column(col, justify="left" if col in ("method", "optim") else "right", no_wrap=True)
    params = Table(title="final parameters", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    params.add_column("run", no_wrap=True)
    params.add_column("params", overflow="fold")
    for row, result in zip(rows, results):
        diverged = "no"
        if row["diverged"]:
            diverged = f"epoch {row['diverged_at']}" if row["diverged_at"] else "grew"
        table.add_row(
            row["method"],
            row["optim"],
            fmt(row["final_loss"]),
            *([fmt(result.final_val_loss)] if has_val else []),
            f"{row['gap']:.2e}" if math.isfinite(row["gap"]) else "-",
            str(row["first_within_tol"] or "never"),
            diverged,
            f"{row['seconds_per_epoch'] * 1e6:.1f}",
        )
        params.add_row(f"{row['method']}:{row['optim']}", fmt_params(result.weight, result.bias))
    return Group(title, table, params)


def agreement_table(rows, names: list[str], title: str = "gradient at the start, against autograd") -> Table:
    """Each method's gradient and its largest difference from autograd's."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    table.add_column("method", no_wrap=True)
    table.add_column("loss", justify="right", no_wrap=True)
    for name in names:
        table.add_column(f"dL/d{name}", justify="right", no_wrap=True, overflow="fold")
    table.add_column("max abs diff", justify="right", no_wrap=True)
    table.add_column("max rel diff", justify="right", no_wrap=True)
    for r in rows:
        table.add_row(r.method, fmt(r.loss), *(fmt(g, 4) for g in r.grad), f"{r.max_abs:.2e}", f"{r.max_rel:.2e}")
    return table


def param_names(features, targets) -> list[str]:
    """Names of the parameters in --init order: w[target,feature] row by row, then b[target]."""
    if len(targets) == 1:
        return [f"w_{f}" for f in features] + ["b"]
    return [f"w_{t}_{f}" for t in targets for f in features] + [f"b_{t}" for t in targets]


def curves_table(labels: list[str], histories: list[list[float]], epochs: list[int]) -> Table:
    """Training loss at the logged epochs, a column per run."""
    table = Table(title="loss curves", title_justify="left")
    table.add_column("epoch", justify="right", no_wrap=True)
    for label in labels:
        table.add_column(label, justify="right", no_wrap=True)
    for epoch in epochs:
        table.add_row(str(epoch), *(fmt(h[epoch - 1]) if epoch <= len(h) else "" for h in histories))
    return table


def histories_csv(labels: list[str], histories: list[list[float]]) -> str:
    """epoch, then one training-loss column per run (empty after a run stopped)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch", *labels])
    for i in range(max(len(h) for h in histories)):
        writer.writerow([i + 1, *(repr(h[i]) if i < len(h) else "" for h in histories)])
    return out.getvalue()


def sweep_table(runs, dims: list[str]) -> Table:
    """Sweep runs, best first, diverged last with their epoch."""
    table = Table(
        title=f"sweep: {len(runs)} runs, best first",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        pad_edge=False,
    )
    table.add_column("#", justify="right", no_wrap=True)
    for dim in dims:
        table.add_column(dim.replace("_", " "), justify="right", no_wrap=True)
    has_val = any(r.final_val_loss is not None for r in runs)
    for col in ("final loss", "val loss", "gap", "diverged"):
        if col != "val loss" or has_val:
            table.add_column(col, justify="right", no_wrap=True)
    # Last, and the only column that folds: on a narrow terminal the numbers stay whole.
    table.add_column("params", overflow="fold", min_width=12)
    for i, r in enumerate(runs, start=1):
        cells = [str(i)] + [f"{r.config.lr:.3e}" if d == "lr" else _grid_value(getattr(r.config, d)) for d in dims]
        diverged = "no"
        if r.diverged:
            diverged = f"epoch {r.diverged_at}" if r.diverged_at else "grew"
        gap = f"{r.gap:.2e}" if math.isfinite(r.gap) and not r.diverged else "-"
        params = fmt_params(r.weight, r.bias) if not r.diverged else "-"
        val = [fmt(r.final_val_loss) if not r.diverged else "-"] if has_val else []
        table.add_row(*cells, fmt(r.final_loss) if not r.diverged else "-", *val, gap, diverged, params)
    return table


def _grid_value(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "full" if v is None else str(v)


def sweep_run_dict(r) -> dict:
    """One sweep run as JSON-ready data."""
    cfg = r.config
    return {
        "lr": cfg.lr,
        "momentum": cfg.momentum,
        "seed": cfg.seed,
        "batch_size": cfg.batch_size,
        "final_loss": r.final_loss,
        "final_val_loss": r.final_val_loss,
        "optimum_loss": r.optimum_loss,
        "gap": r.gap,
        "diverged": r.diverged,
        "diverged_at": r.diverged_at,
        "stable_lr": r.stable_lr,
        "params": params_dict(r.weight, r.bias),
        "history": [{"epoch": e, "train_loss": v} for e, v in zip(r.logged, r.history)],
    }


def sweep_csv(runs) -> str:
    """One row per sweep run, best first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["lr", "momentum", "seed", "batch_size", "final_loss", "final_val_loss", "gap", "diverged", "diverged_at"])
    for r in runs:
        c = r.config
        val = "" if r.final_val_loss is None else repr(r.final_val_loss)
        row = [repr(c.lr), c.momentum, c.seed, c.batch_size or "", repr(r.final_loss), val, repr(r.gap)]
        writer.writerow(row + [r.diverged, r.diverged_at or ""])
    return out.getvalue()


def grid_header(base: RunConfig, grid: dict[str, list]) -> dict[str, str]:
    """Header rows for a sweep: each grid dimension's values in place of the single setting."""
    def describe(values: list) -> str:
        if len(values) == 1:
            return str(values[0] if values[0] is not None else "full")
        shown = ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v or "full") for v in values[:3])
        return f"{len(values)} values: {shown}{', ...' if len(values) > 3 else ''}"

    changes = {"lr": describe(grid["lr"]), "seed": describe(grid["seed"]), "batch size": describe(grid["batch_size"])}
    if "momentum" in settings(base):
        changes["momentum"] = describe(grid["momentum"])
    return changes


def sweep_summary(ranked_runs, lrs: list[float]) -> Text:
    """The best setting, how many runs diverged, and the stability bound next to the lr grid."""
    lines = []
    winner = ranked_runs[0]
    if not winner.diverged:
        cfg = winner.config
        setting = f"lr {cfg.lr:.4g}, momentum {cfg.momentum:g}, seed {cfg.seed}, batch size {cfg.batch_size or 'full'}"
        lines.append(f"best: {setting}: final loss {fmt(winner.final_loss)} (optimum {fmt(winner.optimum_loss)})")
    else:
        lines.append("every run diverged: lower the learning rates, or use --scale or --normalize")
    lines.append(f"{sum(r.diverged for r in ranked_runs)} of {len(ranked_runs)} runs diverged")
    bounds: dict[float, set[float]] = {}
    for r in ranked_runs:
        if r.stable_lr is not None:
            bounds.setdefault(r.config.momentum, set()).add(r.stable_lr)
    for momentum, values in sorted(bounds.items()):
        lo, hi = min(values), max(values)
        bound = f"{lo:.4e}" if lo == hi else f"{lo:.4e} to {hi:.4e} across seeds"
        with_m = f" with momentum {momentum:g}" if len(bounds) > 1 or momentum else ""
        below = sum(lr < lo for lr in lrs)
        lines.append(
            f"largest stable lr{with_m} (2/largest Hessian eigenvalue): {bound}; "
            f"{below} of {len(lrs)} grid learning rates lie below it"
        )
    return Text("\n".join(lines))
