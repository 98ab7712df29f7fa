"""What one run looks like: Rich renderables and JSON-ready data, as views for gdcli.emit. Prints nothing.

User text (column names, paths, dataset names) is always handed to Rich as
`Text`, never as markup; the consoles have markup off as a second guard.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gdcli import models
from gdcli.emit import Stream
from gdcli.tables import FitTable
from gdcli.text import plural

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


def fmt_values(values: list[float], digits: int = 6) -> list[str]:
    """A column of inputs or predictions: whole numbers in full (100000199, not 1e+08), others in `digits`
    significant digits, more where fewer would print two different values alike."""
    different = len({repr(v) for v in values})
    for shown in range(digits, 18):
        texts = [_whole(v) or f"{v:.{shown}g}" for v in values]
        if len(set(texts)) >= different:
            break
    return texts


def _whole(v: float) -> str | None:
    # Below 1e15 a float holds every whole number exactly, so its digits are the number typed.
    return str(int(v)) if isinstance(v, float) and v and v.is_integer() and abs(v) < 1e15 else None


def as_typed(values: list[float]) -> list[str]:
    """A column of numbers the user typed, exactly: the shortest text that reads back as the same float."""
    return [_whole(v) or repr(v) for v in values]


def value_rows(rows: list[list[float]], typed: int = 0) -> list[list[str]]:
    """Rows of numbers formatted a column at a time: the first `typed` columns as_typed (a user's own
    inputs, never rounded), the rest by fmt_values."""
    columns = [(as_typed if i < typed else fmt_values)(list(column)) for i, column in enumerate(zip(*rows))]
    return [list(row) for row in zip(*columns)]


# A line with more values than this shows as a count and a norm, as every network does.
SHOWN_PARAMS = 12


def fmt_params(params: dict[str, list]) -> str:
    """Parameters compactly: a small line as w=[...] b=[...] (one target flat, several as rows);
    anything larger as its count and norm, never a column of numbers."""
    values = [v for p in params.values() for v in _flatten(p)]
    if set(params) != {"weight", "bias"} or len(values) > SHOWN_PARAMS:
        finite = all(math.isfinite(v) for v in values)
        norm = math.sqrt(sum(v * v for v in values)) if finite else math.nan
        return f"{plural(len(values), 'param')}, norm {fmt_param(norm)}"
    weight, bias = params["weight"], params["bias"]
    rows = ["[" + ", ".join(fmt_param(v) for v in row) + "]" for row in weight]
    w = rows[0] if len(rows) == 1 else "[" + ", ".join(rows) + "]"
    return f"w={w} b=[" + ", ".join(fmt_param(v) for v in bias) + "]"


def _flatten(value) -> list[float]:
    """Every number of a nested list, in order."""
    if isinstance(value, list):
        return [v for item in value for v in _flatten(item)]
    return [value]


def settings(cfg: RunConfig) -> dict[str, object]:
    """The settings in force for a run, by header label (those its method and optimizer use)."""
    from gdcli.optimizers import OPTIMIZERS

    takes = OPTIMIZERS[cfg.optim].takes
    shown = {
        "model": model_text(cfg) if cfg.model != models.DEFAULT else None,
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
    for key, value in {**settings(cfg), **(changes or {})}.items():
        if value is not None:
            grid.add_row(key, Text(str(value)))
    grid.add_row("device", device)
    return Panel(grid, title=title, title_align="left", expand=False)


def epoch_table(records: Iterable[EpochRecord], has_val: bool, batches: bool = False) -> Group:
    """Epoch, train loss, val loss, parameters and gradient norm of the logged epochs."""
    caption = "loss: before the epoch's update, as the book prints it; params: after it"
    caption += "; train loss: the epoch's batch losses combined as one loss over all rows" if batches else ""
    table = FitTable(title="training", title_justify="left")
    # On a narrow terminal the parameters go first (the footer repeats the final ones), then lr, grad norm, val loss.
    table.add_column("epoch", justify="right", no_wrap=True, keep=True)
    table.add_column("train loss", justify="right", no_wrap=True, keep=True)
    if has_val:
        table.add_column("val loss", justify="right", no_wrap=True, priority=3)
    table.add_column("params", overflow="fold", min_width=20, text=True, narrow=12)
    table.add_column("grad norm (last batch)" if batches else "grad norm", justify="right", no_wrap=True, priority=2)
    records = list(records)
    scheduled = any(r.lr is not None for r in records)
    if scheduled:
        table.add_column("lr", justify="right", no_wrap=True, priority=1)
    for r in records:
        cells = [str(r.epoch), fmt(r.train_loss)]
        if has_val:
            cells.append(fmt(r.val_loss))
        cells += [fmt_params(r.params) if r.params is not None else "", fmt_param(r.grad_norm)]
        if scheduled:
            cells.append(f"{r.lr:.4g}" if r.lr is not None else "")
        table.add_row(*cells)
    return Group(table, Text(caption, style="dim"))


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


def optimum_label(result: RunResult) -> str:
    """What the run is measured against: its own least-squares optimum, or the best straight line."""
    return "optimum" if result.exact_optimum else "best straight line"


def gap_note(result: RunResult) -> str:
    """The gap relative to the optimum, or why there is no relative gap."""
    relative = result.relative_gap
    if relative is not None:
        note = f"{relative:.2e} relative to the {optimum_label(result)}"
        if not result.exact_optimum:
            note += ": the network beats the line" if result.gap < 0 else ": the network has not beaten the line"
        return note
    return f"the {optimum_label(result)} fits these rows exactly" if result.exact_fit else ""


def stable_text(stable_lr: float) -> str:
    """The stability bound as a cell: a flat loss (no curvature) has none."""
    return f"< {stable_lr:.4e}" if math.isfinite(stable_lr) else "any (the loss has no curvature)"


def footer(result: RunResult) -> Group:
    """Final parameters and loss against the least-squares optimum, the verdict, and time per epoch."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(justify="right")
    grid.add_column()
    grid.add_row("final", f"loss {fmt(result.final_loss)}", fmt_params(result.params))
    fitted = in_original_units(result)
    if fitted is not None:
        for i, line in enumerate(fitted["equations"]):
            grid.add_row("in original units" if i == 0 else "", "", Text(line))
    if result.optimum_loss is None:
        grid.add_row(optimum_label(result), "not computed", Text(result.optimum_reason or ""))
    else:
        grid.add_row(optimum_label(result), f"loss {fmt(result.optimum_loss)}", fmt_params(result.optimum_params))
    if math.isfinite(result.gap):
        grid.add_row("gap", f"{result.gap:.3e}", gap_note(result))
    if result.final_val_loss is not None:
        grid.add_row("val loss", fmt(result.final_val_loss), f"on {plural(result.n_val, 'held-out row')}")
    if result.stable_lr is not None:
        why = "2 / largest eigenvalue of the loss Hessian" + bound_terms(result.config, result.n_train)
        if result.exact_optimum:
            grid.add_row("stable lr", stable_text(result.stable_lr), why)
        else:
            why = why.replace("Hessian", "Hessian at the starting parameters (power iteration)", 1)
            why = why.replace("exact for full batches", "for full batches")
            grid.add_row("stable lr at the start (local estimate)", stable_text(result.stable_lr), why)
    if result.stop is not None:
        grid.add_row("stopped", f"epoch {result.stop.epoch}", result.stop.reason(result.config, result.n_val > 0))
    if result.verdict.kind != "converging":
        grid.add_row("verdict", result.verdict.kind, result.verdict.reason)
    compiled = f"; torch.compile took {result.compile_seconds:.1f} s before" if result.compile_seconds else ""
    grid.add_row(
        "time",
        f"{result.seconds_per_epoch * 1e6:.1f} us/epoch",
        f"{plural(result.epochs_run, 'epoch')} in {result.seconds:.3f} s{compiled}",
    )
    rows = plural(result.n_train, "training row")
    solved = f"least squares on the same {rows}" if result.optimum_loss is not None else "not computed"
    if result.exact_optimum:
        title = Text(f"result (optimum: {solved})", style="italic")
    else:
        title = Text(f"result (a network has no closed-form optimum; best straight line: {solved})", style="italic")
    return Group(title, grid)


# Terms an equation shows before it sums up the rest ("... + 7 more terms").
SHOWN_TERMS = 8


def in_original_units(result: RunResult) -> dict | None:
    """The fitted model on raw inputs, scaling and standardization undone: its weight, bias and one
    equation per target ("t_c = 0.5368 · t_u - 17.30"). None for a network, or parameters not finite."""
    import torch

    if not result.model.linear_in_params:
        return None
    weight = torch.tensor(result.params["weight"], dtype=torch.float64)
    bias = torch.tensor(result.params["bias"], dtype=torch.float64)
    weight, bias = result.transform.fold(weight, bias)
    if not (torch.isfinite(weight).all() and torch.isfinite(bias).all()):
        return None
    names = result.model.input_names(tuple(result.features))
    equations = [equation(t, names, weight[j].tolist(), float(bias[j])) for j, t in enumerate(result.targets)]
    return {"weight": weight.tolist(), "bias": bias.tolist(), "equations": equations}


def equation(target: str, names: Iterable[str], weights: list[float], bias: float) -> str:
    """target = w1 · x1 + w2 · x2 + b, four significant digits, at most SHOWN_TERMS terms."""

    def sig(v: float) -> str:
        text = f"{abs(v):#.4g}"
        return text[:-1] if text.endswith(".") else text

    terms = [(w, f"{sig(w)} · {name}") for w, name in zip(weights, names)]
    hidden = len(terms) - SHOWN_TERMS
    if hidden > 0:
        terms = terms[:SHOWN_TERMS]
    text = f"{target} = "
    for i, (w, term) in enumerate(terms):
        text += ("-" if w < 0 else "") + term if i == 0 else (" - " if w < 0 else " + ") + term
    if hidden > 0:
        text += f" + ... ({hidden} more terms)"
    return text + (" - " if bias < 0 else " + ") + sig(bias)


def advice(result: RunResult) -> str:
    """Why a run diverged, or is unstable, and what to change: the real cause, not always the lr."""
    from gdcli.errors import flag
    from gdcli.outcome import above_bound, step_broken
    from gdcli.schedules import peak_lr

    cfg, verdict = result.config, result.verdict
    # A schedule is judged, and advised, by the largest lr it reaches.
    peak, scheduled = peak_lr(cfg), cfg.schedule != "constant"
    knob = "max_lr" if cfg.schedule == "onecycle" and cfg.max_lr is not None else "lr"
    lr = flag(knob)
    used = f"{lr} {cfg.lr if knob == 'lr' else cfg.max_lr:g}"
    if scheduled:
        used = f"{flag('schedule')} {cfg.schedule}'s largest lr {peak:g} (from {used})"
    if verdict.cause == "nonfinite":
        index = result.epochs.index(verdict.epoch) if verdict.epoch in result.epochs else None
        value = result.train_loss[index] if index is not None else math.nan
        val = result.val_loss[index] if index is not None and result.val_loss else 0.0
        if not math.isfinite(value):
            what = f"the training loss is {value}"
        elif not math.isfinite(val):
            what = f"the validation loss is {val}"
        else:
            what = "its update left the parameters no longer finite"
        text = f"training diverged at epoch {verdict.epoch}: {what}."
    elif verdict.cause == "rose":
        text = f"training diverged: the loss rose above its start ({fmt(result.start_loss)} -> {fmt(result.final_loss)})."
    elif verdict.cause == "lr":
        text = f"the run is unstable: {used} is above the stability bound {result.stable_lr:.4e}."
    else:
        return ""
    if step_broken(result.step_error):
        return text + "\n" + step_advice(cfg, result.step_error)
    scale = f"{flag('scale')} or {flag('normalize')}"
    stable = result.stable_lr
    if above_bound(peak, stable) and math.isfinite(stable):
        times = peak / stable
        times = f"{times:.3g}" if times >= 1.1 else f"{times:.5g}"  # 1.0004x, not 1x
        largest = "The largest stable learning rate for these rows is"
        hessian = "the loss Hessian"
        if not result.exact_optimum:
            largest = "A local estimate of the largest stable learning rate at the start is"
            hessian = "the loss Hessian at the starting parameters"
        text += (
            f"\n{largest} {stable:.4e} "
            f"(2 / largest eigenvalue of {hessian}{bound_terms(cfg, result.n_train)}); {used} is {times}x that."
            f"\nLower {lr}{' so that the schedule peaks' if scheduled else ''} below {stable:.3e}, or rescale the "
            f"inputs with {scale}."
        )
    elif not math.isfinite(result.start_loss) or result.start_loss > 1e12 * max(result.zero_loss, 1e-300):
        text += (
            f"\nThe run starts far from the data: its starting loss is {fmt(result.start_loss)}, against "
            f"{fmt(result.zero_loss)} for predicting zero."
            f"\nStart nearer with {flag('init')} zeros or {flag('init')} ones (now {flag('init')} {cfg.init})."
        )
    elif verdict.cause == "rose":
        # Below the bound (or with no bound): an adaptive optimizer's steps, or mini-batch noise, overshoot.
        why = f"{cfg.optim} with {used}" + (f" on batches of {cfg.batch_size}" if cfg.batch_size else "")
        bound = f" (below the full-batch bound {stable:.4e})" if stable is not None and math.isfinite(stable) else ""
        text += f"\n{why}{bound} overshoots more than it descends.\nLower {lr}"
        text += f", or use a larger {flag('batch_size')}." if cfg.batch_size else "."
    elif stable is not None:
        text += (
            f"\n{used} is below the stability bound {stable:.4e}, so the learning rate is not the cause: "
            f"the values outgrow {cfg.dtype}."
            f"\nRescale the inputs with {scale}"
            + (f", or use {flag('dtype')} float64." if cfg.dtype == "float32" else ".")
        )
    else:
        text += f"\nLower {lr}, or rescale the inputs with {scale}."
    return text


def unmoved_advice(result: RunResult) -> str:
    """Why a run may have ended exactly where it started, and what to change."""
    from gdcli.errors import flag

    cfg = result.config
    lr = f"{flag('lr')} {cfg.lr:g}"
    dtype = f", or {flag('dtype')} float64" if cfg.dtype != "float64" else ""
    return (
        f"the run stood still: in {plural(result.epochs_run, 'epoch')} {result.unmoved}. "
        f"Each step, lr times the gradient with {lr}, may be too "
        f"small to move the parameters in {cfg.dtype}, or the gradient is 0 where the run starts. "
        f"Use a larger {flag('lr')}{dtype}."
    )


def stood_still_note(result: RunResult) -> str:
    """compare's and sweep's short note on why a run may have stood still, and what to change."""
    from gdcli.errors import flag

    dtype = f", or {flag('dtype')} float64" if result.config.dtype != "float64" else ""
    return f"steps too small for {result.config.dtype}, or a zero gradient; use a larger {flag('lr')}{dtype}"


def step_advice(cfg: RunConfig, step_error: float) -> str:
    """Why a finite-difference run's step (--delta) is what broke it, and what to use instead."""
    from gdcli.errors import flag
    from gdcli.models import default_delta

    delta = f"{flag('delta')} {cfg.delta:g}"
    if math.isfinite(step_error):
        how = f"is off from autograd's by {step_error:.3g} times the gradient's norm"
    else:
        how = f"is not finite: the loss at the parameters plus or minus delta overflows {cfg.dtype}"
    default = default_delta(cfg.model, cfg.dtype)
    size = "a smaller" if cfg.delta > default else "a larger"
    return (
        f"The finite-difference step is the cause, not the lr or the inputs: at the starting parameters the "
        f"central difference with {delta} {how}."
        f"\nUse {size} step, {flag('delta')} {default:g} (the default), or {flag('method')} autograd."
    )


def bound_terms(cfg: RunConfig, n_train: int | None = None) -> str:
    """What the stability bound accounts for, beyond plain full-batch descent."""
    terms = []
    if cfg.momentum:
        terms.append(f"times 1 + momentum {cfg.momentum:g}")
    if cfg.weight_decay:
        terms.append(f"with weight decay {cfg.weight_decay:g} added to it")
    if cfg.batch_size and (n_train is None or cfg.batch_size < n_train):
        terms.append("exact for full batches; mini-batches are noisier")
    return "".join(f", {t}" for t in terms)


def record_dict(r: EpochRecord) -> dict:
    """One logged epoch as a JSON line."""
    d = {"type": "epoch", "epoch": r.epoch, "train_loss": r.train_loss, "val_loss": r.val_loss}
    if r.lr is not None:
        d["lr"] = r.lr
    if r.params is not None:
        d["grad_norm"] = r.grad_norm
        d["params"] = r.params
    return d


HISTORY_BLOCK = 4096  # epochs per block of a streamed JSON history


def history_stream(result: RunResult) -> Stream:
    """The kept epochs' losses as a JSON array written block by block."""

    def blocks() -> Iterator[list]:
        epochs, train, vals, lrs = result.epoch_numbers, result.train_history, result.val_history, result.lr_history
        for start in range(0, len(epochs), HISTORY_BLOCK):
            stop = start + HISTORY_BLOCK
            e, t = epochs[start:stop].tolist(), train[start:stop].tolist()
            v = vals[start:stop].tolist() if vals is not None else [None] * len(e)
            if lrs is None:
                yield [{"epoch": a, "train_loss": b, "val_loss": c} for a, b, c in zip(e, t, v)]
            else:
                lr = lrs[start:stop].tolist()
                yield [{"epoch": a, "train_loss": b, "val_loss": c, "lr": d} for a, b, c, d in zip(e, t, v, lr)]

    return Stream(blocks)


def run_dict(result: RunResult, history: bool = True, device: str | None = None) -> dict:
    """One run as JSON-ready data: the same shape for fit, compare and sweep."""
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
        d["history"] = history_stream(result)
    d.update(
        {
            "start_loss": result.start_loss,
            "initial": {"loss": result.start_loss, "params": result.initial_params},
            "final": {
                "loss": result.final_loss,
                "val_loss": result.final_val_loss,
                "params": result.params,
            },
            "optimum": {
                "loss": result.optimum_loss,
                "params": result.optimum_params,
                "exact_fit": result.exact_fit,
                "kind": "least squares" if result.exact_optimum else "best straight line",
                "not_computed": result.optimum_reason,
            },
            "in_original_units": in_original_units(result),
            "gap": result.gap,
            "relative_gap": result.relative_gap,
            "stable_lr": result.stable_lr,
            "stable_lr_kind": None if result.stable_lr is None else "exact" if result.exact_optimum else "local estimate",
            **result.verdict.to_dict(),
            "diverged": result.verdict.diverged,
            "stopped": result.stop.to_dict(result.config, result.n_val > 0) if result.stop is not None else None,
            "interrupted": result.interrupted,
            "epochs_run": result.epochs_run,
            "seconds_per_epoch": result.seconds_per_epoch,
            "compile_seconds": result.compile_seconds,
            "transform": result.transform.to_dict(),
        }
    )
    return d


def fit_csv_header(cfg: RunConfig) -> list[str]:
    """fit's csv columns, known before training: an lr column where a schedule changes the lr (the
    run then keeps its lr history)."""
    return ["epoch", "train_loss", "val_loss"] + (["lr"] if cfg.schedule != "constant" else [])


class FitView:
    """`gdcli fit`'s result in every output format (jsonl epochs are streamed while training)."""

    def __init__(self, result: RunResult, dataset: Dataset, device: str, batches: bool):
        self.result, self.dataset, self.device, self.batches = result, dataset, device, batches

    def table(self) -> list:
        result = self.result
        return [epoch_table(result.records, result.val_loss is not None, self.batches), footer(result)]

    def document(self) -> dict:
        return run_dict(self.result, device=self.device)

    def lines(self) -> Iterator[dict]:
        yield {"type": "run", **run_dict(self.result, history=False, device=self.device)}

    def csv(self):
        columns = fit_csv_header(self.result.config)
        rows = (tuple(item[c] for c in columns) for block in history_stream(self.result).blocks() for item in block)
        return columns, rows


def datasets_table(builtins: dict[str, Builtin], shapes: dict[str, Dataset]) -> FitTable:
    """One row per built-in dataset: name, rows, features -> targets, description."""
    table = FitTable(title="built-in datasets (or pass --dataset with a .csv, .csv.gz or .parquet file)", title_justify="left")
    # A narrow terminal keeps the name and the description longest.
    table.add_column("name", keep=True)
    table.add_column("rows", justify="right", text=True, priority=2)
    table.add_column("features -> targets", text=True, narrow=12, priority=1)
    table.add_column("description", text=True, narrow=16, priority=3)
    for name, entry in builtins.items():
        ds = shapes[name]
        rows = f"{entry.default_rows} (--rows)" if entry.default_rows else str(ds.n_rows)
        table.add_row(name, rows, f"{', '.join(ds.features)} -> {', '.join(ds.targets)}", entry.description)
    return table


SHOWN_ROWS = 1000  # `gdcli datasets NAME` prints at most this many rows


def values_table(
    features, targets, rows: list[list[float]], title: str | None = None, typed: bool = False
) -> FitTable:
    """Rows of inputs then targets (in bold); on a narrow terminal the last inputs give way first.
    `typed`: the inputs are the user's own, shown exactly as typed."""
    table = FitTable(hint="widen the terminal, or use --output csv", title=title, title_justify="left")
    for col in features:
        table.add_column(Text(col), justify="right")
    for col in targets:
        table.add_column(Text(col), justify="right", style="bold", priority=1)
    for row in value_rows(rows, len(features) if typed else 0):
        table.add_row(*row)
    return table


def dataset_table(ds: Dataset, n_rows: int | None = None) -> Group:
    """The first SHOWN_ROWS rows of one dataset, with its description and preset; `n_rows` is its
    row count where `ds` holds only the first rows (generated data drawn in part)."""
    from gdcli.errors import flag

    total = ds.n_rows if n_rows is None else n_rows
    shown = min(total, SHOWN_ROWS)
    rows = [[*x, *y] for x, y in zip(ds.X[:shown].tolist(), ds.y[:shown].tolist())]
    table = values_table(ds.features, ds.targets, rows)
    flags = [flag(k) + ("" if v is True else f" {v}") for k, v in ds.preset.items()]
    preset = " ".join(flags) or "none"
    rows = plural(total, "row") + (f" (the first {shown} shown)" if shown < total else "")
    return Group(Text(f"{ds.name}: {ds.description}"), table, Text(f"{rows}; fit preset: {preset}"))


class DatasetsView:
    """`gdcli datasets`: the built-in datasets, as a table or as one record each for programs."""

    def __init__(self, builtins: dict[str, Builtin], shapes: dict):
        self.builtins, self.shapes = builtins, shapes

    def _items(self) -> list[dict]:
        items = []
        for name, entry in self.builtins.items():
            shape = self.shapes[name]
            items.append(
                {
                    "name": name,
                    "rows": shape.n_rows,
                    "generated": entry.generated,  # rows drawn from --seed; --rows and --features set the shape
                    "features": list(shape.features),
                    "targets": list(shape.targets),
                    "description": entry.description,
                    "preset": dict(entry.preset),
                    "units": dict(entry.units),
                }
            )
        return items

    def table(self) -> list:
        return [datasets_table(self.builtins, self.shapes)]

    def document(self) -> list:
        return self._items()

    def lines(self) -> Iterator[dict]:
        for item in self._items():
            yield {"type": "dataset", **item}

    def csv(self):
        import json

        # preset and units are objects: a cell holds each as compact JSON, as json output holds it.
        def obj(d: dict) -> str:
            return json.dumps(d, ensure_ascii=False, separators=(",", ":"))

        header = ["name", "rows", "generated", "features", "targets", "description", "preset", "units"]
        rows = (
            [d["name"], d["rows"], str(d["generated"]).lower(), ",".join(d["features"]), ",".join(d["targets"]),
             d["description"], obj(d["preset"]), obj(d["units"])]
            for d in self._items()
        )
        return header, rows


DATA_BLOCK = 4096  # rows per block of a dataset written as json, jsonl or csv


class DatasetView:
    """`gdcli datasets NAME`: one dataset's rows (features, then targets), with what describes it."""

    def __init__(self, ds: Dataset, n_rows: int | None = None, blocks: Callable[[], Iterable] | None = None):
        """`ds` holds every row, or (generated data) only the first ones: then `n_rows` is the row
        count and `blocks()` gives every row as (X, y) blocks, drawn as they are written."""
        self.ds, self.blocks = ds, blocks
        self.n_rows = ds.n_rows if n_rows is None else n_rows

    @property
    def columns(self) -> list[str]:
        return [*self.ds.features, *self.ds.targets]

    def _blocks(self) -> Iterator[list[list]]:
        import numpy as np

        ds = self.ds
        if self.blocks is not None:
            for X, y in self.blocks():
                yield np.concatenate([X, y], axis=1).tolist()
            return
        for start in range(0, ds.n_rows, DATA_BLOCK):
            stop = start + DATA_BLOCK
            yield np.concatenate([ds.X[start:stop], ds.y[start:stop]], axis=1).tolist()

    def _about(self) -> dict:
        ds = self.ds
        return {
            "name": ds.name,
            "description": ds.description,
            "features": list(ds.features),
            "targets": list(ds.targets),
            "n_rows": self.n_rows,
            "preset": dict(ds.preset),
            "units": dict(ds.units),
        }

    def table(self) -> list:
        return [dataset_table(self.ds, self.n_rows)]

    def document(self) -> dict:
        columns = self.columns
        rows = Stream(lambda: ([dict(zip(columns, row)) for row in block] for block in self._blocks()))
        return {**self._about(), "rows": rows}

    def lines(self) -> Iterator[dict]:
        yield {"type": "dataset", **self._about()}
        columns = self.columns
        for block in self._blocks():
            for row in block:
                yield {"type": "row", "values": dict(zip(columns, row))}

    def csv(self):
        return self.columns, (row for block in self._blocks() for row in block)


class PredictView:
    """`gdcli predict`'s inputs in original units next to the model's predictions.

    `blocks` yields (inputs, outputs) as lists of rows, a block at a time, for all
    `n_rows`: json, jsonl and csv write every row block by block; the table shows the
    first SHOWN_ROWS and says how many it left out (predicting no further).
    """

    def __init__(self, features, targets, blocks: Callable[[], Iterable[tuple[list, list]]], n_rows: int):
        self.features, self.targets, self.blocks, self.n_rows = list(features), list(targets), blocks, n_rows

    def _rows(self) -> Iterator[tuple[list, list]]:
        for inputs, outputs in self.blocks():
            yield from zip(inputs, outputs)

    def table(self) -> list:
        from gdcli.errors import flag

        rows = [[*x, *y] for x, y in itertools.islice(self._rows(), SHOWN_ROWS)]
        table = values_table(self.features, [f"{col} (predicted)" for col in self.targets], rows, "predictions", typed=True)
        if self.n_rows <= SHOWN_ROWS:
            return [table]
        left = self.n_rows - SHOWN_ROWS
        note = (
            f"{plural(self.n_rows, 'row')}: the first {SHOWN_ROWS:,} shown, {left:,} left out;"
            f" write them all with {flag('output')} csv (or json, jsonl)"
        )
        return [table, Text(note)]

    def _item(self, x: list, y: list) -> dict:
        return {"input": dict(zip(self.features, x)), "prediction": dict(zip(self.targets, y))}

    def document(self) -> Stream:
        return Stream(lambda: ([self._item(x, y) for x, y in zip(*block)] for block in self.blocks()))

    def lines(self) -> Iterator[dict]:
        for x, y in self._rows():
            yield {"type": "prediction", **self._item(x, y)}

    def csv(self):
        return [*self.features, *self.targets], ([*x, *y] for x, y in self._rows())
