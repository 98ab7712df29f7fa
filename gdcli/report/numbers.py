"""How a report writes numbers: losses, parameters, columns of inputs and predictions."""

from __future__ import annotations

import math

from gdcli.text import plural


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
