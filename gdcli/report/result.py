"""The run's result block under its training table: final loss and parameters against the optimum,
the fitted equation in original units, the stability bound, how the run stopped, and its time."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable

from rich.console import Group
from rich.table import Table
from rich.text import Text

from gdcli.errors import flags_in
from gdcli.report.numbers import fmt, fmt_params
from gdcli.text import per_epoch, plural

if TYPE_CHECKING:
    from gdcli.train import RunConfig, RunResult


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
            from gdcli.curvature import spread_rows

            read = spread_rows(result.n_train)
            where = f" on {read:,} evenly spread training rows" if read < result.n_train else ""
            why = why.replace("Hessian", f"Hessian at the starting parameters (power iteration{where})", 1)
            why = why.replace("exact for full batches", "for full batches")
            grid.add_row("stable lr at the start (local estimate)", stable_text(result.stable_lr), why)
    if result.stop is not None:
        grid.add_row("stopped", f"epoch {result.stop.epoch}", flags_in(result.stop.reason(result.config, result.n_val > 0)))
    if result.verdict.kind != "converging":
        grid.add_row("verdict", result.verdict.kind, result.verdict.reason)
    compiled = f"; torch.compile took {result.compile_seconds:.1f} s before" if result.compile_seconds else ""
    grid.add_row(
        "time",
        per_epoch(result.seconds_per_epoch),
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
