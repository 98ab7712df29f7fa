"""`gdcli grad`: an expression's gradient by autograd against finite differences, or a model's loss
and gradient on a dataset by every method (with the chain rule, step by step, under --explain)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.text import Text

from gdcli.emit import clean
from gdcli.report.agreement import agreement_table
from gdcli.report.explain import backprop_dict, backprop_parts, chain_rule_dict, chain_rule_parts
from gdcli.report.numbers import SHOWN_PARAMS
from gdcli.report.tensors import format_tensor, titled
from gdcli.tables import FitTable
from gdcli.text import plural

if TYPE_CHECKING:
    from gdcli.expressions import GradientCheck


# What "max diff / norm" means: against the whole gradient's norm, a component whose true value is
# near 0 (a saturated unit) does not turn a tiny absolute error into a huge relative one.
GRAD_DIFF_NOTE = "max diff / norm: largest |finite difference - autograd| over the norm of autograd's gradient"


def grad_renderables(check: "GradientCheck") -> list[RenderableType]:
    """What `gdcli grad` shows: the value, then autograd beside finite differences for each variable."""
    parts: list[RenderableType] = [
        Text(f"value of {check.expression} ({check.dtype}): {format_tensor(check.value)}", style="bold")
    ]
    if check.rows:
        table = FitTable()
        # A narrow terminal keeps the variable and both gradients longest; "at" gives way first.
        for name, priority in (("variable", 9), ("at", 0), ("autograd", 4), ("finite difference", 3),
                               ("max abs diff", 1), ("max diff / norm", 2)):
            table.add_column(name, justify="left" if name in ("variable", "at") else "right", keep=name == "variable",
                             priority=priority, text=name in ("at", "autograd", "finite difference"))
        for row in check.rows:
            table.add_row(
                f"d/d{row.name}",
                format_tensor(check.inputs[row.name]),
                format_tensor(row.autograd),
                format_tensor(row.finite_difference),
                f"{row.max_abs_diff:.2e}",
                f"{row.max_diff_over_norm:.2e}",
            )
        title = f"gradient check: autograd vs central difference (delta {check.delta:g})"
        parts.append(titled(title, table, GRAD_DIFF_NOTE))
    parts.extend(Text(f"note: {note}", style="dim") for note in check.notes)
    return parts


def grad_json(check: "GradientCheck") -> dict:
    """One json object: value, inputs and for each variable both gradients and their differences."""
    return clean(
        {
            "expression": check.expression,
            "dtype": check.dtype,
            "delta": check.delta,
            "value": check.value,
            "shape": list(check.value.shape),
            "summed": check.summed,
            "inputs": check.inputs,
            "gradients": {
                row.name: {
                    "autograd": row.autograd,
                    "finite_difference": row.finite_difference,
                    "max_abs_diff": row.max_abs_diff,
                    "max_diff_over_norm": row.max_diff_over_norm,
                }
                for row in check.rows
            },
            "notes": check.notes,
        }
    )


def dataset_gradient_parts(found, explain: bool) -> list:
    """`gdcli grad --dataset`: the setting, each method's loss and gradient, and the chain rule if asked."""
    cfg, ds = found.config, found.dataset
    at = ", ".join(f"{n}={v:g}" for n, v in zip(found.names, found.at))
    if len(found.at) > SHOWN_PARAMS:
        how = "--params" if cfg.init not in ("ones", "zeros", "randn", "uniform") else f"{cfg.init} start, --seed {cfg.seed}"
        at = f"{plural(len(found.at), 'parameter')} ({how}; --output json lists them)"
    parts = [
        Text(
            f"{ds.name}: {plural(found.X.shape[0], 'row')}, scale {cfg.scale:g}, normalize {cfg.normalize}, "
            f"{cfg.reduction} squared error, {cfg.dtype}, finite-diff delta {cfg.delta:g}; at {at}"
        ),
        agreement_table(found.rows, found.names, "loss and gradient by each method, against autograd"),
    ]
    parts += [Text(f"{method}: left out, {why}", style="dim") for method, why in found.left_out.items()]
    if explain and found.model.linear_in_params:
        parts += chain_rule_parts(found.steps, found.X, found.y, ds.features, ds.targets, cfg.reduction)
    elif explain:
        parts += backprop_parts(found.steps, found.model, found.X, found.y, ds.features, ds.targets, cfg.reduction)
    return parts


def dataset_gradient_json(found, explain: bool) -> dict:
    """`gdcli grad --dataset --output json`: the same as data."""
    data = {
        "dataset": found.dataset.name,
        "params": dict(zip(found.names, found.at)),
        "config": found.config.to_dict(),
        "methods": [vars(r) for r in found.rows],
    }
    if explain:
        data["explain"] = (
            chain_rule_dict(found.steps, found.X, found.y)
            if found.model.linear_in_params
            else backprop_dict(found.steps, found.model, found.X)
        )
    return clean(data)
