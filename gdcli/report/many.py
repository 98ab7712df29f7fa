"""What compare's and sweep's reports share: their light tables, a run's gap and stop cells, and the
counts of each verdict."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich import box

from gdcli.tables import FitTable

if TYPE_CHECKING:
    from gdcli.train import RunResult


def light_table(**kw) -> FitTable:
    """A table with a light box (no vertical rules), so that many numeric columns fit in 80 columns."""
    return FitTable(box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False, **kw)


def gap_cell(r: RunResult) -> str:
    """A run's gap to the optimum as a cell: "-" for a run that stopped being finite (its gap means
    nothing), a number for one whose loss rose."""
    return f"{r.gap:.2e}" if math.isfinite(r.gap) and r.verdict.cause != "nonfinite" else "-"


def stop_cell(r: RunResult) -> str:
    """When and by which rule a run stopped early: "412 (patience)", or "-" for a run that trained every epoch."""
    return f"{r.stop.epoch} ({r.stop.rule})" if r.stop is not None else "-"


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
