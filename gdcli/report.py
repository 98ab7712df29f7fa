"""What a run looks like: Rich renderables and json/jsonl/csv text. Prints nothing."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import TYPE_CHECKING, Iterable

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from gdcli.data import Builtin, Dataset
    from gdcli.train import EpochRecord, RunConfig, RunResult


def fmt(x: float | None, digits: int = 6) -> str:
    """A loss-like number: fixed point in the usual range (as the book prints), else scientific."""
    if x is None:
        return "-"
    if not math.isfinite(x):
        return str(x)
    if x == 0 or 1e-3 <= abs(x) < 1e9:
        return f"{x:.{digits}f}"
    return f"{x:.{max(1, digits - 2)}e}"


def fmt_param(x: float | None) -> str:
    """A parameter: four decimals in the usual range, scientific beyond a million."""
    return fmt(x, 4) if x is None or not math.isfinite(x) or abs(x) < 1e6 else f"{x:.3e}"


def fmt_params(weight: list[list[float]], bias: list[float]) -> str:
    """w and b compactly: one target as flat lists, several as rows."""
    rows = ["[" + ", ".join(fmt_param(v) for v in row) + "]" for row in weight]
    w = rows[0] if len(rows) == 1 else "[" + ", ".join(rows) + "]"
    return f"w={w} b=[" + ", ".join(fmt_param(v) for v in bias) + "]"


def settings(cfg: RunConfig) -> dict[str, object]:
    """The settings in force for a run, by header label (those its method and optimizer use)."""
    from gdcli.optimizers import OPTIMIZERS

    takes = OPTIMIZERS[cfg.optim].takes
    shown = {
        "method": cfg.method,
        "optim": cfg.optim,
        "lr": cfg.lr,
        "epochs": cfg.epochs,
        "momentum": cfg.momentum if "momentum" in takes else None,
        "weight decay": cfg.weight_decay if "weight_decay" in takes else None,
        "delta": cfg.delta if cfg.method == "finite-diff" else None,
        "scale": cfg.scale,
        "normalize": cfg.normalize,
        "val fraction": cfg.val_fraction,
        "batch size": cfg.batch_size or "full",
        "reduction": cfg.reduction,
        "dtype": cfg.dtype,
        "init": cfg.init,
        "seed": cfg.seed,
        "log every": cfg.every,
    }
    return {k: v for k, v in shown.items() if v is not None}


def header(
    cfg: RunConfig,
    ds: Dataset,
    n_train: int,
    n_val: int,
    device: str,
    title: str = "gdcli fit",
    changes: dict[str, str | None] | None = None,
) -> Panel:
    """Every setting in force, with the dataset and device; `changes` replace (or, as None, drop) rows."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    rows = f"{n_train} train" + (f" / {n_val} validation" if n_val else "")
    grid.add_row("dataset", f"{ds.name}: {rows} rows, {', '.join(ds.features)} -> {', '.join(ds.targets)}")
    for key, value in {**settings(cfg), **(changes or {})}.items():
        if value is not None:
            grid.add_row(key, str(value))
    grid.add_row("device", device)
    return Panel(grid, title=title, title_align="left", expand=False)


def epoch_table(records: Iterable[EpochRecord], has_val: bool, batches: bool = False) -> Group:
    """Epoch, train loss, val loss, parameters and gradient norm of the logged epochs."""
    caption = "loss: before the epoch's update, as the book prints it; params: after it"
    caption += "; train loss: mean over the batches" if batches else ""
    table = Table(title="training", title_justify="left")
    table.add_column("epoch", justify="right")
    table.add_column("train loss", justify="right")
    if has_val:
        table.add_column("val loss", justify="right")
    table.add_column("params", no_wrap=True)
    table.add_column("grad norm (last batch)" if batches else "grad norm", justify="right")
    for r in records:
        cells = [str(r.epoch), fmt(r.train_loss)]
        if has_val:
            cells.append(fmt(r.val_loss))
        cells += [fmt_params(r.weight, r.bias) if r.weight is not None else "", fmt_param(r.grad_norm)]
        table.add_row(*cells)
    return Group(table, Text(caption, style="dim"))


def footer(result: RunResult) -> Group:
    """Final parameters and loss against the least-squares optimum, and time per epoch."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(justify="right")
    grid.add_column()
    grid.add_row("final", f"loss {fmt(result.final_loss)}", fmt_params(result.weight, result.bias))
    grid.add_row("optimum", f"loss {fmt(result.optimum_loss)}", fmt_params(result.optimum_weight, result.optimum_bias))
    if math.isfinite(result.final_loss):
        grid.add_row("gap", f"{result.gap:.3e}", f"{result.relative_gap:.2e} relative to the optimum")
    if result.final_val_loss is not None:
        grid.add_row("val loss", fmt(result.final_val_loss), f"on {result.n_val} held-out rows")
    if result.stable_lr is not None:
        why = "2 / largest eigenvalue of the loss Hessian" + _bound_terms(result.config)
        grid.add_row("stable lr", f"< {result.stable_lr:.4e}", why)
    grid.add_row(
        "time",
        f"{result.seconds_per_epoch * 1e6:.1f} us/epoch",
        f"{result.epochs_run} epochs in {result.seconds:.3f} s",
    )
    title = Text(f"result (optimum: least squares on the same {result.n_train} training rows)", style="italic")
    return Group(title, grid)


def divergence(result: RunResult) -> str:
    """Why a run counts as diverged and what to change."""
    cfg = result.config
    if result.diverged_at is not None:
        epoch = result.diverged_at
        value = result.train_loss[epoch - 1]
        val = result.val_loss[epoch - 1] if result.val_loss else 0.0
        if not math.isfinite(value):
            what = f"the training loss is {value}"
        elif not math.isfinite(val):
            what = f"the validation loss is {val}"
        else:
            what = "its update left the parameters no longer finite"
        text = f"training diverged at epoch {epoch}: {what}."
    else:
        text = f"training diverged: after epoch {result.epochs_run}'s update the parameters are no longer finite."
    if result.stable_lr is not None:
        times = cfg.lr / result.stable_lr
        text += (
            f"\nThe largest stable learning rate for these rows is {result.stable_lr:.4e} "
            f"(2 / largest eigenvalue of the loss Hessian{_bound_terms(cfg)}); --lr {cfg.lr:g} is {times:.3g}x that."
        )
        text += f"\nLower --lr below {result.stable_lr:.3e}, or rescale the inputs with --scale or --normalize."
    else:
        text += "\nLower --lr, or rescale the inputs with --scale or --normalize."
    return text


def _bound_terms(cfg: RunConfig) -> str:
    """What the stability bound accounts for, beyond plain full-batch descent."""
    terms = []
    if cfg.momentum:
        terms.append(f"times 1 + momentum {cfg.momentum:g}")
    if cfg.weight_decay:
        terms.append(f"with weight decay {cfg.weight_decay:g} added to it")
    if cfg.batch_size:
        terms.append("exact for full batches; mini-batches are noisier")
    return "".join(f", {t}" for t in terms)


def _finite(x: float | None) -> float | None:
    # JSON has no inf or NaN: a non-finite number becomes null (diverged_at tells the story).
    return x if x is None or math.isfinite(x) else None


def _params(weight, bias) -> dict:
    return {
        "weight": [[_finite(v) for v in row] for row in weight],
        "bias": [_finite(v) for v in bias],
    }


def record_dict(r: EpochRecord) -> dict:
    """One logged epoch as JSON-ready data."""
    d = {"epoch": r.epoch, "train_loss": _finite(r.train_loss), "val_loss": _finite(r.val_loss)}
    if r.weight is not None:
        d["grad_norm"] = _finite(r.grad_norm)
        d["params"] = _params(r.weight, r.bias)
    return d


def result_dict(result: RunResult, history: bool = True, device: str | None = None) -> dict:
    """The whole run as one JSON-ready object."""
    config = result.config.to_dict()
    config["device_used"] = device
    config["log_every"] = result.config.every
    d = {
        "config": config,
        "dataset": {
            "features": list(result.features),
            "targets": list(result.targets),
            "n_train": result.n_train,
            "n_val": result.n_val,
        },
    }
    if history:
        vals = result.val_loss or [None] * result.epochs_run
        d["history"] = [
            {"epoch": i + 1, "train_loss": _finite(t), "val_loss": _finite(v)}
            for i, (t, v) in enumerate(zip(result.train_loss, vals))
        ]
    d.update(
        {
            "final": {
                "loss": _finite(result.final_loss),
                "val_loss": _finite(result.final_val_loss),
                "params": _params(result.weight, result.bias),
            },
            "optimum": {"loss": result.optimum_loss, "params": _params(result.optimum_weight, result.optimum_bias)},
            "gap": _finite(result.gap),
            "stable_lr": result.stable_lr,
            "diverged": result.diverged,
            "diverged_at": result.diverged_at,
            "epochs_run": result.epochs_run,
            "seconds_per_epoch": result.seconds_per_epoch,
            "transform": result.transform.to_dict(),
        }
    )
    return d


def _clean(obj: object) -> object:
    if isinstance(obj, float):
        return _finite(obj)
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def dumps(obj: object) -> str:
    """Strict JSON: a non-finite number becomes null, since JSON has no NaN or Infinity."""
    return json.dumps(_clean(obj), allow_nan=False)


def history_csv(result: RunResult) -> str:
    """epoch,train_loss,val_loss for every epoch."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch", "train_loss", "val_loss"])
    vals = result.val_loss or [None] * result.epochs_run
    for i, (t, v) in enumerate(zip(result.train_loss, vals)):
        writer.writerow([i + 1, repr(t), "" if v is None else repr(v)])
    return out.getvalue()


def datasets_table(builtins: dict[str, Builtin], shapes: dict[str, Dataset]) -> Table:
    """One row per built-in dataset: name, rows, features -> targets, description."""
    table = Table(title="built-in datasets (or pass --dataset path.csv)", title_justify="left")
    for col in ("name", "rows", "features -> targets", "description"):
        table.add_column(col, justify="right" if col == "rows" else "left")
    for name, entry in builtins.items():
        ds = shapes[name]
        rows = f"{entry.default_rows} (--rows)" if entry.default_rows else str(ds.n_rows)
        table.add_row(name, rows, f"{', '.join(ds.features)} -> {', '.join(ds.targets)}", entry.description)
    return table


def dataset_table(ds: Dataset) -> Group:
    """Every row of one dataset, with its description and preset."""
    table = Table()
    for col in ds.features:
        table.add_column(col, justify="right")
    for col in ds.targets:
        table.add_column(col, justify="right", style="bold")
    for x, y in zip(ds.X, ds.y):
        table.add_row(*(f"{v:g}" for v in (*x, *y)))
    flags = [f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}") for k, v in ds.preset.items()]
    preset = " ".join(flags) or "none"
    return Group(Text(f"{ds.name}: {ds.description}"), table, Text(f"{ds.n_rows} rows; fit preset: {preset}"))


def predictions_table(features, targets, inputs: list[list[float]], outputs: list[list[float]]) -> Table:
    """Inputs in original units next to the model's predictions."""
    table = Table(title="predictions", title_justify="left")
    for col in features:
        table.add_column(col, justify="right")
    for col in targets:
        table.add_column(f"{col} (predicted)", justify="right", style="bold")
    for x, y in zip(inputs, outputs):
        table.add_row(*(f"{v:g}" for v in x), *(f"{v:.4f}" for v in y))
    return table


def compare_table(rows: list[dict], results: list[RunResult], tol: float) -> Table:
    """One row per strategy: final loss, gap, parameters, when it got within tol, divergence, speed."""
    table = Table(title=f"compare (optimum: least squares; within = first epoch within {tol:g} of it)", title_justify="left")
    has_val = any(r.final_val_loss is not None for r in results)
    for col in ("method", "optim", "final loss", "val loss", "gap", "params", "within", "diverged", "us/epoch"):
        if col != "val loss" or has_val:
            table.add_column(col, justify="left" if col in ("method", "optim", "params") else "right", no_wrap=col == "params")
    for row, result in zip(rows, results):
        diverged = "no"
        if row["diverged"]:
            diverged = f"epoch {row['diverged_at']}" if row["diverged_at"] else "yes (loss grew)"
        table.add_row(
            row["method"],
            row["optim"],
            fmt(row["final_loss"]),
            *([fmt(result.final_val_loss)] if has_val else []),
            f"{row['gap']:.2e}" if math.isfinite(row["gap"]) else "-",
            fmt_params(result.weight, result.bias),
            str(row["first_within_tol"] or "never"),
            diverged,
            f"{row['seconds_per_epoch'] * 1e6:.1f}",
        )
    return table


def agreement_table(rows, names: list[str], title: str = "gradient at the start, against autograd") -> Table:
    """Each method's gradient and its largest difference from autograd's."""
    table = Table(title=title, title_justify="left")
    table.add_column("method")
    table.add_column("loss", justify="right")
    for name in names:
        table.add_column(f"dL/d{name}", justify="right")
    table.add_column("max abs diff", justify="right")
    table.add_column("max rel diff", justify="right")
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
    table.add_column("epoch", justify="right")
    for label in labels:
        table.add_column(label, justify="right")
    for epoch in epochs:
        table.add_row(str(epoch), *(fmt(h[epoch - 1]) if epoch <= len(h) else "" for h in histories))
    return table


def sweep_table(runs, dims: list[str]) -> Table:
    """Sweep runs, best first, diverged last with their epoch."""
    table = Table(title=f"sweep: {len(runs)} runs, best first", title_justify="left")
    table.add_column("#", justify="right")
    for dim in dims:
        table.add_column(dim.replace("_", " "), justify="right")
    has_val = any(r.final_val_loss is not None for r in runs)
    for col in ("final loss", "val loss", "gap", "params", "diverged"):
        if col != "val loss" or has_val:
            table.add_column(col, justify="left" if col == "params" else "right", no_wrap=col == "params")
    for i, r in enumerate(runs, start=1):
        cells = [str(i)] + [f"{r.config.lr:.3e}" if d == "lr" else _grid_value(getattr(r.config, d)) for d in dims]
        diverged = "no"
        if r.diverged:
            diverged = f"epoch {r.diverged_at}" if r.diverged_at else "loss grew"
        gap = f"{r.gap:.2e}" if math.isfinite(r.gap) and not r.diverged else "-"
        params = fmt_params(r.weight, r.bias) if not r.diverged else "-"
        val = [fmt(r.final_val_loss) if not r.diverged else "-"] if has_val else []
        table.add_row(*cells, fmt(r.final_loss) if not r.diverged else "-", *val, gap, params, diverged)
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
        "final_loss": _finite(r.final_loss),
        "final_val_loss": r.final_val_loss,
        "optimum_loss": r.optimum_loss,
        "gap": _finite(r.gap),
        "diverged": r.diverged,
        "diverged_at": r.diverged_at,
        "stable_lr": r.stable_lr,
        "params": _params(r.weight, r.bias),
        "history": [{"epoch": e, "train_loss": _finite(v)} for e, v in zip(r.logged, r.history)],
    }


def histories_csv(labels: list[str], histories: list[list[float]]) -> str:
    """epoch, then one training-loss column per run (empty after a run stopped)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch", *labels])
    for i in range(max(len(h) for h in histories)):
        writer.writerow([i + 1, *(repr(h[i]) if i < len(h) else "" for h in histories)])
    return out.getvalue()


def sweep_csv(runs) -> str:
    """One row per sweep run, best first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["lr", "momentum", "seed", "batch_size", "final_loss", "gap", "diverged", "diverged_at"])
    for r in runs:
        c = r.config
        writer.writerow([repr(c.lr), c.momentum, c.seed, c.batch_size or "", repr(r.final_loss), repr(r.gap), r.diverged, r.diverged_at or ""])
    return out.getvalue()


def chain_rule_parts(steps, Xa, y, features, targets, reduction: str) -> list:
    """The chain rule for the linear model, step by step, with the numbers: text, then a table per target."""
    n = Xa.shape[0]
    dims = f"{n} rows" + (f" x {len(targets)} targets" if len(targets) > 1 else "")
    mean = reduction == "mean"
    parts = [
        Text(
            "chain rule for y_hat = w . x + b and "
            + (f"L = mean over {dims} of (y_hat - y)^2" if mean else "L = sum of (y_hat - y)^2")
            + f" = {fmt(steps.loss)}\n"
            + f"  dL/dy_hat_i = {'2/' + str(n * len(targets)) if mean else '2'} * (y_hat_i - y_i)"
            + f"   (= {steps.scale:.6g} * residual)\n"
            + "  dy_hat_i/dw = x_i,  dy_hat_i/db = 1\n"
            + "  dL/dw = sum_i dL/dy_hat_i * x_i,  dL/db = sum_i dL/dy_hat_i * 1"
        )
    ]
    X = Xa[:, :-1].tolist()
    for t, target in enumerate(targets):
        table = Table(title=f"target {target}" if len(targets) > 1 else None)
        table.add_column("row", justify="right")
        for f in features:
            table.add_column(f, justify="right")
        for col in ("y", "y_hat", "dL/dy_hat"):
            table.add_column(col, justify="right")
        for f in features:
            table.add_column(f"dL/dy_hat * {f}", justify="right")
        table.add_column("dL/dy_hat * 1", justify="right")
        d = steps.dL_dyhat[:, t].tolist()
        for i in range(n):
            contributions = [d[i] * x for x in X[i]] + [d[i]]
            table.add_row(
                str(i + 1),
                *(f"{x:g}" for x in X[i]),
                f"{float(y[i, t]):g}",
                fmt(float(steps.y_hat[i, t]), 4),
                fmt(d[i], 4),
                *(fmt(c, 4) for c in contributions),
            )
        grad = steps.grad[:, t].tolist()
        table.add_section()
        names = [f"dL/dw_{f}" for f in features] + ["dL/db"]
        table.add_row("sum", *[""] * (len(features) + 3), *(fmt(g, 4) for g in grad))
        parts.append(table)
        parts.append(Text("  " + ",  ".join(f"{nm} = {fmt(g, 4)}" for nm, g in zip(names, grad))))
    return parts


def chain_rule_dict(steps, Xa, y) -> dict:
    """The chain rule's factors as JSON-ready data."""
    return {
        "loss": steps.loss,
        "y_hat": steps.y_hat.tolist(),
        "dL_dyhat": steps.dL_dyhat.tolist(),
        "dyhat_dtheta": Xa.tolist(),
        "grad": steps.grad.T.tolist(),
    }


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
