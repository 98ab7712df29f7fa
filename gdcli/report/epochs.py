"""The per-epoch record of a run: the training table, its JSON lines, and its history for programs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Iterator

from rich.console import Group
from rich.text import Text

from gdcli.emit import Stream
from gdcli.report import sharpness
from gdcli.report.numbers import fmt, fmt_param, fmt_params
from gdcli.tables import FitTable

if TYPE_CHECKING:
    from gdcli.train import EpochRecord, RunConfig, RunResult


def epoch_table(records: Iterable[EpochRecord], has_val: bool, batches: bool = False,
                sharp: RunConfig | None = None) -> Group:
    """Epoch, train loss, val loss, parameters and gradient norm of the logged epochs (and, given the
    run's settings `sharp`, its sharpness beside 2/lr)."""
    caption = "loss: before the epoch's update, as the book prints it; params: after it"
    caption += "; train loss: the epoch's batch losses combined as one loss over all rows" if batches else ""
    caption += "\n" + sharpness.caption(sharp) if sharp is not None else ""
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
    for name in (sharpness.columns(sharp) if sharp is not None else ()):
        table.add_column(name, justify="right", no_wrap=True, priority=1)
    for r in records:
        cells = [str(r.epoch), fmt(r.train_loss)]
        if has_val:
            cells.append(fmt(r.val_loss))
        cells += [fmt_params(r.params) if r.params is not None else "", fmt_param(r.grad_norm)]
        if scheduled:
            cells.append(f"{r.lr:.4g}" if r.lr is not None else "")
        if sharp is not None:
            cells += sharpness.cells(r, sharp)
        table.add_row(*cells)
    return Group(table, Text(caption, style="dim"))


def record_dict(r: EpochRecord, sharp: bool = False) -> dict:
    """One logged epoch as a JSON line (with `sharp`, its sharpness and edge: null where not measured)."""
    d = {"type": "epoch", "epoch": r.epoch, "train_loss": r.train_loss, "val_loss": r.val_loss}
    if r.lr is not None:
        d["lr"] = r.lr
    if sharp:
        d["sharpness"], d["edge"] = r.sharpness, r.edge
    if r.params is not None:
        d["grad_norm"] = r.grad_norm
        d["params"] = r.params
    return d


HISTORY_BLOCK = 4096  # epochs per block of a streamed JSON history


def history_stream(result: RunResult) -> Stream:
    """The kept epochs' losses as a JSON array written block by block."""

    def blocks() -> Iterator[list]:
        epochs, train, vals, lrs = result.epoch_numbers, result.train_history, result.val_history, result.lr_history
        sharp = sharpness.history_columns(result)
        for start in range(0, len(epochs), HISTORY_BLOCK):
            stop = start + HISTORY_BLOCK
            e, t = epochs[start:stop].tolist(), train[start:stop].tolist()
            v = vals[start:stop].tolist() if vals is not None else [None] * len(e)
            if lrs is None:
                block = [{"epoch": a, "train_loss": b, "val_loss": c} for a, b, c in zip(e, t, v)]
            else:
                lr = lrs[start:stop].tolist()
                block = [{"epoch": a, "train_loss": b, "val_loss": c, "lr": d} for a, b, c, d in zip(e, t, v, lr)]
            if sharp is not None:
                for item, value, edge in zip(block, sharp[0][start:stop], sharp[1][start:stop]):
                    item["sharpness"], item["edge"] = value, edge
            yield block

    return Stream(blocks)


def fit_csv_header(cfg: RunConfig) -> list[str]:
    """fit's csv columns, known before training: an lr column where a schedule changes the lr (the
    run then keeps its lr history)."""
    return history_columns(cfg.schedule != "constant", cfg.sharpness is not None)


def history_columns(scheduled: bool, sharp: bool = False) -> list[str]:
    """The columns of a run's history: the epoch and its losses, the lr under a schedule, and the
    sharpness and its edge with --sharpness."""
    return ["epoch", "train_loss", "val_loss"] + (["lr"] if scheduled else []) + (list(sharpness.HISTORY_KEYS) if sharp else [])
