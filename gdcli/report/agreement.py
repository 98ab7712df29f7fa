"""Each gradient method's loss and gradient at the start against autograd's: compare's first table,
and `gdcli grad --dataset`'s."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.console import Group
from rich.text import Text

from gdcli.report.many import light_table
from gdcli.report.numbers import SHOWN_PARAMS, fmt

if TYPE_CHECKING:
    from gdcli.comparison import Agreement


# The gradient tables' last column: against the norm, a component near 0 (a saturated unit) weighs
# as little as it does in the gradient, instead of turning a tiny error into a huge relative one.
DIFF_NOTE = "max diff / norm: largest |method - autograd| over the norm of autograd's gradient"


def agreement_table(rows: list[Agreement], names: list[str], title: str = "gradient at the start, against autograd") -> Group:
    """Each method's gradient and its largest difference from autograd's, absolute and over its norm."""
    table = light_table(title=title, title_justify="left")
    # On a narrow terminal: the differences give way first, then the gradient from its last parameter.
    table.add_column("method", no_wrap=True, keep=True)
    table.add_column("loss", justify="right", no_wrap=True, priority=3)
    # Many parameters (a network's) show as the gradient's norm, not a column each.
    each = len(names) <= SHOWN_PARAMS
    for name in names if each else ["gradient norm"]:
        table.add_column(Text(f"dL/d{name}" if each else name), justify="right", no_wrap=True, overflow="fold", priority=2)
    table.add_column("max abs diff", justify="right", no_wrap=True)
    table.add_column("max diff / norm", justify="right", no_wrap=True, priority=1)
    for r in rows:
        grads = [fmt(g, 4) for g in r.grad] if each else [fmt(math.sqrt(sum(g * g for g in r.grad)), 4)]
        table.add_row(r.method, fmt(r.loss), *grads, f"{r.max_abs:.2e}", f"{r.max_diff_over_norm:.2e}")
    return Group(table, Text(DIFF_NOTE, style="dim"))
