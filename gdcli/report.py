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
    table.add_column("epoch", justify="right", no_wrap=True)
    table.add_column("train loss", justify="right", no_wrap=True)
    if has_val:
        table.add_column("val loss", justify="right", no_wrap=True)
    table.add_column("params", overflow="fold", min_width=20)
    table.add_column("grad norm (last batch)" if batches else "grad norm", justify="right", no_wrap=True)
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
        relative = result.relative_gap
        note = f"{relative:.2e} relative to the optimum" if relative is not None else "the optimum fits these rows exactly"
        grid.add_row("gap", f"{result.gap:.3e}", note)
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


def params_dict(weight, bias) -> dict:
    """Weights and biases as JSON-ready lists."""
    return {"weight": weight, "bias": bias}


def record_dict(r: EpochRecord) -> dict:
    """One logged epoch as JSON-ready data."""
    d = {"epoch": r.epoch, "train_loss": r.train_loss, "val_loss": r.val_loss}
    if r.weight is not None:
        d["grad_norm"] = r.grad_norm
        d["params"] = params_dict(r.weight, r.bias)
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
            {"epoch": i + 1, "train_loss": t, "val_loss": v}
            for i, (t, v) in enumerate(zip(result.train_loss, vals))
        ]
    d.update(
        {
            "final": {
                "loss": result.final_loss,
                "val_loss": result.final_val_loss,
                "params": params_dict(result.weight, result.bias),
            },
            "optimum": {"loss": result.optimum_loss, "params": params_dict(result.optimum_weight, result.optimum_bias)},
            "gap": result.gap,
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
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def dumps(obj: object) -> str:
    """Strict JSON: the one place a non-finite number becomes null (JSON has no NaN or Infinity)."""
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


