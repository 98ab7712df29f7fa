"""Tensors as the tools show them: a number in six digits, a tensor on one line, or a table cut to size."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.text import Text

from gdcli.report.numbers import fmt_values
from gdcli.tables import FitTable
from gdcli.text import plural

if TYPE_CHECKING:
    import torch

MAX_ROWS, MAX_COLUMNS = 20, 10


def fmt_g(value: float | int | None) -> str:
    """A number in at most 6 significant digits (ints as they are, None as a dash)."""
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.6g}"


def format_tensor(t: "torch.Tensor") -> str:
    """One line: a scalar, a constant tensor, a small tensor in full, or a larger one's range."""
    if t.dim() == 0:
        return fmt_g(t.item())
    flat = t.detach().flatten().double()
    if t.numel() == 0:
        return f"no elements (shape {list(t.shape)})"
    low, high = flat.min().item(), flat.max().item()
    # Rounding is monotone: when the extremes print alike, so does every element between them.
    if fmt_g(low) == fmt_g(high) and not bool(flat.isnan().any()):
        return f"{fmt_g(low)} (every element, shape {list(t.shape)})"
    if t.numel() <= 8:
        return _nested(t.tolist())
    return f"shape {list(t.shape)}, min {fmt_g(low)}, max {fmt_g(high)}, mean {fmt_g(flat.mean().item())}"


def _nested(values: list | float) -> str:
    """A nested list written with fmt_g: [[3, 5], [3, 5]]."""
    if isinstance(values, list):
        return "[" + ", ".join(_nested(v) for v in values) + "]"
    return fmt_g(values)


def tensor_table(t: "torch.Tensor", title: str) -> RenderableType:
    """A table for a 1-D or 2-D tensor (cut to MAX_ROWS x MAX_COLUMNS), a line for anything else."""
    if t.dim() == 0:
        return Text(f"{title}: {fmt_g(t.item())}")
    if t.dim() > 2:
        return Text(f"{title}: {format_tensor(t)}")
    rows = t.reshape(1, -1) if t.dim() == 1 else t
    n_rows, n_cols = rows.shape
    table = FitTable()
    table.add_column("", style="dim", justify="right", keep=True)
    for j in range(min(n_cols, MAX_COLUMNS)):
        table.add_column(str(j), justify="right")
    if n_cols > MAX_COLUMNS:
        table.add_column("...", keep=True)
    shown = rows[:MAX_ROWS, :MAX_COLUMNS]
    # Integers as they are; floats a column at a time, with the digits that tell its values apart.
    columns = [[fmt_g(v) for v in c] if not shown.is_floating_point() else fmt_values(c) for c in shown.T.tolist()]
    for i, cells in enumerate(zip(*columns) if columns else [()] * len(shown)):
        table.add_row("" if t.dim() == 1 else str(i), *cells, *(["..."] if n_cols > MAX_COLUMNS else []))
    cut = n_rows > MAX_ROWS or n_cols > MAX_COLUMNS
    caption = (
        f"showing {min(n_rows, MAX_ROWS)} of {plural(n_rows, 'row')}, "
        f"{min(n_cols, MAX_COLUMNS)} of {plural(n_cols, 'column')}"
        if t.dim() == 2
        else f"showing {MAX_COLUMNS} of {plural(n_cols, 'value')}"
    )
    return titled(title, table, caption if cut else None)


def titled(title: str, table: FitTable, caption: str | None = None) -> Group:
    """A table under its title (and over its caption) as plain lines, so neither wraps to the table's width."""
    return Group(Text(title), table, *([Text(caption, style="dim")] if caption else []))
