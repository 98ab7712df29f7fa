"""fit's view: the training table over the result block for people, and one run as JSON, JSON lines
or CSV for programs (run_dict is the same shape for fit, compare and sweep)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from gdcli.report import sharpness
from gdcli.report.epochs import epoch_table, fit_csv_header, history_stream
from gdcli.report.result import footer, in_original_units
from gdcli.report.scores import validation_block

if TYPE_CHECKING:
    from gdcli.data import Dataset
    from gdcli.train import RunResult


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
            **({"memory": _memory(result.data)} if result.data else {}),
        },
    }
    d["columns"] = {"inputs": list(result.features), "targets": list(result.targets), "left_out": result.left_out}
    d["dropped_rows"] = result.dropped_rows
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
    if result.sharpness is not None:
        d["sharpness"] = sharpness.summary(result)
    if result.val_metrics is not None:
        d["validation_metrics"] = result.val_metrics
    return d


class FitView:
    """`gdcli fit`'s result in every output format (jsonl epochs are streamed while training)."""

    def __init__(self, result: RunResult, dataset: Dataset, device: str, batches: bool):
        self.result, self.dataset, self.device, self.batches = result, dataset, device, batches

    def table(self) -> list:
        result = self.result
        sharp = result.config if result.config.sharpness is not None else None
        parts = [epoch_table(result.records, result.val_loss is not None, self.batches, sharp), footer(result)]
        if result.val_metrics is not None:
            parts.append(validation_block(result.val_metrics))
        return parts

    def document(self) -> dict:
        return run_dict(self.result, device=self.device)

    def lines(self) -> Iterator[dict]:
        yield {"type": "run", **run_dict(self.result, history=False, device=self.device)}

    def csv(self):
        columns = fit_csv_header(self.result.config)
        rows = (tuple(item[c] for c in columns) for block in history_stream(self.result).blocks() for item in block)
        return columns, rows


def _memory(data: dict) -> dict:
    """The held-or-streamed decision as JSON shows it, its settings named as flags."""
    from gdcli.errors import flags_in

    return {**data, "why": flags_in(data["why"])}
