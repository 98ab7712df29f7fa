"""The sharpness over training (--sharpness) as the reports show it: the epoch table's columns, the
history's keys, sweep's column and the sentence advice adds.

The sharpness is the largest eigenvalue of the training loss's Hessian where an epoch's loss was
taken; the edge of stability is 2/lr (2(1 + m)/lr with momentum m, of each epoch's lr under a
schedule): full-batch descent grows the error along the sharpest direction once the sharpness
passes it. Adaptive optimizers rescale each parameter's step and have no such edge.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from gdcli.report.numbers import fmt

if TYPE_CHECKING:
    from gdcli.train import EpochRecord, RunConfig, RunResult

HISTORY_KEYS = ("sharpness", "edge")


def edge_name(cfg: RunConfig) -> str:
    """What the edge of stability is called beside a run's sharpness: 2/lr for plain descent, 2(1+m)/lr
    with momentum, "edge" where weight decay lowers it too."""
    if cfg.weight_decay:
        return "edge"
    return "2(1+m)/lr" if cfg.momentum else "2/lr"


def columns(cfg: RunConfig) -> tuple[str, ...]:
    """The epoch table's columns: the sharpness, and its edge where the optimizer has one."""
    return ("sharpness", edge_name(cfg)) if has_edge(cfg) else ("sharpness",)


def has_edge(cfg: RunConfig) -> bool:
    """Whether the run's optimizer has an edge of stability (plain and momentum descent)."""
    from gdcli.curvature import edge

    return edge(cfg.optim, 1.0) is not None


def caption(cfg: RunConfig) -> str:
    """The table caption's words on the two columns."""
    text = "sharpness: the largest eigenvalue of the training loss's Hessian where the epoch's loss was taken"
    if not has_edge(cfg):
        return text + f"; {cfg.optim} rescales each parameter's step, so it has no edge of stability 2/lr"
    terms = ["2(1+m)/lr with momentum m"] if cfg.momentum and cfg.weight_decay else []
    terms += ["of the epoch's lr"] if cfg.schedule != "constant" else []
    terms += ["less the weight decay"] if cfg.weight_decay else []
    how = f" ({', '.join(terms)})" if terms else ""
    return text + f"; {edge_name(cfg)}: the edge of stability{how}, past which descent stops settling"


def cells(r: EpochRecord, cfg: RunConfig) -> list[str]:
    """A row's sharpness and edge cells (blank where the epoch was not measured; no edge cell where the
    optimizer has no edge)."""
    found = [fmt(r.sharpness, 2) if r.sharpness is not None else ""]
    return found + ([fmt(r.edge, 2) if r.edge is not None else ""] if has_edge(cfg) else [])


def history_columns(result: RunResult):
    """(sharpness, edge) lists aligned with the run's kept epochs, None where an epoch was not measured;
    None where the run measured none."""
    import torch

    if result.sharpness_epochs is None:
        return None
    kept = result.epoch_numbers
    values = [None] * len(kept)
    edges = [None] * len(kept)
    if len(result.sharpness_epochs) and len(kept):
        at = torch.searchsorted(kept, result.sharpness_epochs)
        found = zip(at.tolist(), result.sharpness_epochs.tolist(), result.sharpness.tolist(),
                    result.sharpness_edge.tolist())
        for i, epoch, value, edge in found:
            if i < len(kept) and int(kept[i]) == epoch:  # a measured epoch the history kept
                values[i] = value if math.isfinite(value) else None
                edges[i] = edge if math.isfinite(edge) else None
    return values, edges


def peak(result: RunResult) -> tuple[float, int] | None:
    """The largest finite sharpness a run reached and the first epoch it reached it at, or None."""
    if result.sharpness is None:
        return None
    found = [(v, -e) for v, e in zip(result.sharpness.tolist(), result.sharpness_epochs.tolist()) if math.isfinite(v)]
    if not found:
        return None
    value, first = max(found)  # the largest value, then the smallest epoch among its ties
    return value, -first


def peak_ratio(result: RunResult) -> float | None:
    """The largest sharpness over the edge at the same epoch: 1.0 is the edge reached; None without an edge."""
    if result.sharpness is None:
        return None
    ratios = [v / e for v, e in zip(result.sharpness.tolist(), result.sharpness_edge.tolist())
              if math.isfinite(v) and math.isfinite(e) and e > 0]
    return max(ratios) if ratios else None


def ratio_header(runs: list[RunResult]) -> str:
    """sweep's column: the largest sharpness over the edge, 2/lr (2(1+m)/lr where a run has momentum)."""
    return "max λ/edge" if any(r.config.momentum for r in runs) else "max λ·lr/2"


def ratio_cell(result: RunResult) -> str:
    """sweep's cell: the run's largest sharpness over 2/lr, "-" where there is none."""
    ratio = peak_ratio(result)
    return f"{ratio:.3g}" if ratio is not None else "-"


def advice_sentence(result: RunResult) -> str:
    """What advice adds for a network that measured its sharpness: where it passed the edge of stability,
    and how sharp it became ("" for a model linear in its parameters, whose sharpness is its bound)."""
    found = peak(result)
    if found is None or result.model.linear_in_params:
        return ""
    value, epoch = found
    what = "Its sharpness (the loss Hessian's largest eigenvalue)"
    pairs = zip(result.sharpness_epochs.tolist(), result.sharpness.tolist(), result.sharpness_edge.tolist())
    crossed = next(((e, v, edge) for e, v, edge in pairs if math.isfinite(edge) and v > edge), None)
    if crossed is not None:
        e, v, edge = crossed
        return f"{what} passed the edge of stability 2/lr = {edge:.4g} at epoch {e} ({v:.4g}) and reached {value:.4g}" \
               f" by epoch {epoch}."
    ratio = peak_ratio(result)
    against = f", {ratio:.3g} of the edge of stability 2/lr" if ratio is not None else ""
    return f"{what} reached {value:.4g} at epoch {epoch}{against}."


def summary(result: RunResult) -> dict:
    """A run's sharpness in its JSON: the largest, where, and over the edge (the history has each value)."""
    found = peak(result)
    return {"every": result.config.sharpness, "max": found[0] if found else None,
            "max_epoch": found[1] if found else None, "max_over_edge": peak_ratio(result)}
