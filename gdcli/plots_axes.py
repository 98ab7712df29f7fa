"""The loss axis of a picture: log or linear, said on the axis label, and notes for what a reader
could miss (a log axis that cannot be had, curves drawn one over the other). Plain numbers in,
words out: plots.py lays them out for both renderers.
"""

from __future__ import annotations

import math
from typing import Sequence

LOG_LABEL = " (log scale)"  # added to the loss axis's label when it is logarithmic
COINCIDE = 1e-3  # curves within this relative difference everywhere are drawn one over the other
LINE_STYLES = ["-", "--", "-.", ":"]  # the PNG's runs, one style each, so that overlapping curves still show


def decades(values: Sequence[float]) -> bool:
    """True when the finite positive values span two decades or more (max/min >= 100)."""
    positive = [v for v in values if math.isfinite(v) and v > 0]
    return len(positive) >= 2 and max(positive) >= 100 * min(positive)


def log_axis(series: dict[str, Sequence[float]], asked: bool | None) -> tuple[bool, str]:
    """(whether the axis is logarithmic, a note or ""): log where `asked` (True), or, left as None, where
    the values span two decades; but never over a value of 0 or below, which a log axis cannot show:
    the axis stays linear and the note says why."""
    every = [v for values in series.values() for v in values if math.isfinite(v)]
    if not (asked or (asked is None and decades(every))):
        return False, ""
    for name, values in series.items():
        low = min((v for v in values if math.isfinite(v)), default=1.0)
        if low <= 0:
            return False, f"linear axis: {name} reaches {low:.3g}, which a log scale cannot show"
    return True, ""


def labelled(label: str, log: bool) -> str:
    """The axis label with the scale's choice stated where it is logarithmic."""
    return label + LOG_LABEL if log else label


def coinciding(series: dict[str, tuple[Sequence[int], Sequence[float]]]) -> str:
    """A note naming the curves drawn one over the other (the same epochs, every loss within COINCIDE
    of the other's), or ""."""
    groups: list[list[str]] = []
    for name, curve in series.items():
        for group in groups:
            if _same(series[group[0]], curve):
                group.append(name)
                break
        else:
            groups.append([name])
    shared = [", ".join(g) for g in groups if len(g) > 1]
    if not shared:
        return ""
    return "; ".join(shared) + f": curves coincide (within {COINCIDE:.1%} relative), drawn one over the other"


def _same(a: tuple[Sequence[int], Sequence[float]], b: tuple[Sequence[int], Sequence[float]]) -> bool:
    """Whether two curves have the same epochs and losses within COINCIDE (non-finite ones in the same places)."""
    if list(a[0]) != list(b[0]) or not a[0]:
        return False
    for x, y in zip(a[1], b[1]):
        if math.isfinite(x) != math.isfinite(y):
            return False
        if math.isfinite(x) and abs(x - y) > COINCIDE * max(abs(x), abs(y)):
            return False
    return True
