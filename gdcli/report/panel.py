"""The settings panel over a run's report: every setting in force, with the dataset and device."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gdcli import models, preset_lr
from gdcli.text import plural

if TYPE_CHECKING:
    from gdcli.data import Dataset
    from gdcli.train import RunConfig


def settings(cfg: RunConfig) -> dict[str, object]:
    """The settings in force for a run, by header label (those its method and optimizer use)."""
    from gdcli.optimizers import OPTIMIZERS

    takes = OPTIMIZERS[cfg.optim].takes
    shown = {
        "model": model_text(cfg) if cfg.model != models.DEFAULT else None,
        "method": cfg.method,
        "optim": cfg.optim,
        "lr": preset_lr.shown(cfg.lr),
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
        "compile": True if cfg.compile else None,
        "schedule": schedule_text(cfg) if cfg.schedule != "constant" else None,
        "stop when": stopping_text(cfg),
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
    rows = plural(n_train, "train row") + (f" / {plural(n_val, 'validation row')}" if n_val else "")
    grid.add_row("dataset", Text(f"{ds.name}: {rows}, {', '.join(ds.features)} -> {', '.join(ds.targets)}"))
    for key, value in columns_rows(ds).items():
        grid.add_row(key, Text(value))
    for key, value in {**settings(cfg), **(changes or {})}.items():
        if value is not None:
            grid.add_row(key, Text(str(value)))
    grid.add_row("device", device)
    return Panel(grid, title=title, title_align="left", expand=False)


def columns_rows(ds: Dataset) -> dict[str, str]:
    """The header's rows on a data file's columns left out and rows dropped: none for a file used whole."""
    from gdcli.data.columns import IDENTIFIER

    rows = {}
    if ds.left_out:
        why = [f"{name or 'the unnamed first column'} ({reason}{': use --inputs to include it' if reason == IDENTIFIER else ''})"
               for name, reason in ds.left_out.items()]
        rows["left out"] = ", ".join(why)
    if ds.dropped:
        rows["dropped"] = f"{plural(ds.dropped, 'row')} with an empty or NA cell (--missing drop)"
    return rows


def schedule_text(cfg: RunConfig) -> str:
    """The schedule with its settings: "step: x0.1 every 1666 epochs"."""
    if cfg.schedule == "step":
        return f"step: x{cfg.gamma:g} every {plural(cfg.step_size, 'epoch')}"
    if cfg.schedule == "exponential":
        return f"exponential: x{cfg.gamma:.6g} per epoch"
    if cfg.schedule == "cosine":
        return f"cosine: from lr down to 0 over {plural(cfg.epochs, 'epoch')}"
    if cfg.schedule == "onecycle":
        peak = f"{cfg.max_lr:g}" if cfg.max_lr is not None else "lr"
        return f"onecycle: up to {peak}, then down"
    return cfg.schedule


def stopping_text(cfg: RunConfig) -> str | None:
    """The early-stopping rules in force, for the header (None: the run trains every epoch)."""
    rules = []
    if cfg.patience is not None:
        loss = "val loss" if cfg.val_fraction > 0 else "loss"
        by = f" by {cfg.tol:g}" if cfg.tol else ""
        rules.append(f"{loss} not improved{by} for {plural(cfg.patience, 'epoch')}")
    if cfg.within is not None:
        from gdcli.train.stopping import within_text

        rules.append(within_text(cfg.within))
    return ", or ".join(rules) or None


def model_text(cfg: RunConfig) -> str:
    """The model as the header names it: "mlp (8 hidden, tanh)"."""
    return models.get(cfg.model).header(cfg)
