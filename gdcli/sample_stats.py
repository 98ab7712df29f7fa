"""The statistics of `gdcli sample`: drawn against expected mean and variance, and a histogram with round edges.

Nothing here prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# Per-element statistics are shown only for tensors this small; larger ones get the pooled row.
MAX_ELEMENT_ROWS = 32
Shape = tuple[int, ...]


@dataclass(frozen=True)
class MomentRow:
    """Empirical against expected mean and variance over `n` drawn values."""

    label: str
    n: int
    mean: float
    expected_mean: float
    stderr: float  # standard error of the empirical mean under the expected distribution
    variance: float | None  # None when n == 1
    expected_variance: float

    @property
    def z(self) -> float | None:
        """How many standard errors the empirical mean is from the expected one."""
        if self.stderr == 0:
            return 0.0 if self.mean == self.expected_mean else None
        return (self.mean - self.expected_mean) / self.stderr


@dataclass(frozen=True)
class Histogram:
    """Counts per bin; `edges` has one more entry than `counts` for continuous values, else None."""

    labels: list[str]
    counts: list[int]
    edges: list[float] | None = None


def histogram(values: "torch.Tensor", bins: int = 10) -> Histogram:
    """Counts of `values` in equal-width bins with round edges, at most `bins` + 1 of them, spanning their range.

    The edges are round numbers (a multiple of 1, 2, 2.5 or 5 times a power of ten), so each label
    shows its bin's edges exactly: [a, b) holds a <= value < b, and the last bin [a, b] holds b too.
    """
    import torch

    flat = values.detach().flatten().double()
    if flat.numel() == 0 or not bool(torch.isfinite(flat).all()):
        raise ValueError("a histogram needs at least one value, and only finite ones")
    low, high = flat.min().item(), flat.max().item()
    if low == high:  # every value equal: a unit-wide range around it
        low, high = low - 0.5, high + 0.5
    if low == high:  # too large for a unit to move it: one bin holding every value
        text = _edge_text(low)
        return Histogram([f"[{text}, {text}]"], [flat.numel()], [low, high])
    edges = _round_edges(low, high, bins)
    counts, _ = torch.histogram(flat, bins=torch.tensor(edges, dtype=torch.float64))
    texts = [_edge_text(e) for e in edges]
    labels = [f"[{a}, {b})" for a, b in zip(texts, texts[1:])]
    labels[-1] = labels[-1][:-1] + "]"  # torch's last bin includes its upper edge
    return Histogram(labels, [int(c) for c in counts.tolist()], edges)


def _round_edges(low: float, high: float, bins: int) -> list[float]:
    """Edges k * step from at or below `low` to at or above `high`: step is the smallest round
    number (1, 2, 2.5 or 5 times a power of ten) at least (high - low) / bins."""
    from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

    raw = (Decimal(high) - Decimal(low)) / bins  # exact: float64 could overflow
    power = Decimal(1).scaleb(raw.adjusted())  # 10 ** floor(log10(raw))
    step = next(m * power for m in map(Decimal, ("1", "2", "2.5", "5", "10")) if m * power >= raw)
    first = (Decimal(low) / step).to_integral_value(ROUND_FLOOR)
    last = (Decimal(high) / step).to_integral_value(ROUND_CEILING)
    # Decimal division rounds to 28 digits: make sure the ends really enclose the values.
    while float(first * step) > low:
        first -= 1
    while float(last * step) < high:
        last += 1
    edges = [float(k * step) for k in range(int(first), int(last) + 1)]
    # At float64's ends an outer edge can overflow (use the value itself) and a subnormal step
    # can round edges together (keep each once): every label still shows its edge exactly.
    edges[0] = low if math.isinf(edges[0]) else edges[0]
    edges[-1] = high if math.isinf(edges[-1]) else edges[-1]
    return sorted(set(edges))


def _edge_text(edge: float) -> str:
    """An edge as its shortest exact text: 0.3, 1.00004, 1e+20 (a round edge has few digits)."""
    text = f"{edge:.15g}"
    return text if float(text) == edge else repr(edge)


def moments(
    draws: "torch.Tensor", expected_mean: "torch.Tensor", element_variance: "torch.Tensor", per_element: bool
) -> list[MomentRow]:
    """Pooled (and, when asked and small, per-element) mean and variance against their expectations.

    `expected_mean` and `element_variance` have the shape of one draw. Pooled over elements with
    different means, the expected variance is the mean variance plus the spread of the means.
    """
    n = draws.numel()
    mean_var = element_variance.double().mean().item()
    rows = [
        MomentRow(
            "all",
            n,
            draws.double().mean().item(),
            expected_mean.double().mean().item(),
            math.sqrt(mean_var / n),
            draws.double().var().item() if n > 1 else None,
            mean_var + expected_mean.double().var(correction=0).item(),
        )
    ]
    shape = tuple(draws.shape[1:])
    if not per_element or draws.shape[0] < 2 or math.prod(shape) > MAX_ELEMENT_ROWS:
        return rows
    columns = draws.double().reshape(draws.shape[0], -1)
    for i, (mu, var) in enumerate(zip(expected_mean.flatten().tolist(), element_variance.flatten().tolist())):
        col = columns[:, i]
        n = col.numel()
        label = _index_label(i, shape)
        rows.append(MomentRow(label, n, col.mean().item(), mu, math.sqrt(var / n), col.var().item(), var))
    return rows


def _index_label(flat: int, shape: Shape) -> str:
    index = []
    for dim in reversed(shape):
        flat, rest = divmod(flat, dim)
        index.append(rest)
    return "[" + ", ".join(str(i) for i in reversed(index)) + "]"

