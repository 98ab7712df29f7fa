"""The plane a surface is drawn in, and the frame of it that is shown.

A surface's point (x, y) is the parameter vector origin + x ex + y ey. The axes are either
two parameters themselves (ex and ey unit vectors, the origin 0 there, so that x and y are
those parameters' values), or the two directions along which the runs' paths moved most:
the principal components of the path points about the origin (Li et al., "Visualizing the
Loss Landscape of Neural Nets", 2018), completed by a seeded random direction where the
paths span fewer than two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor

# A singular value below this fraction of the largest counts as no movement along its direction.
RANK_TOL = 1e-9
MARGIN = 0.1  # of the covered span, on each side of the frame


@dataclass(frozen=True)
class Plane:
    """theta(x, y) = origin + x ex + y ey, each (P,) float64; ex and ey orthonormal."""

    origin: Tensor
    ex: Tensor
    ey: Tensor

    def at(self, x: Tensor, y: Tensor) -> Tensor:
        """The parameter vectors (m, P) at coordinates x, y (m,)."""
        return self.origin + x.unsqueeze(1) * self.ex + y.unsqueeze(1) * self.ey

    def project(self, thetas: Tensor) -> tuple[Tensor, Tensor]:
        """Coordinates (m,) each of parameter vectors (m, P) projected onto the plane."""
        moved = thetas - self.origin
        return moved @ self.ex, moved @ self.ey


def unit(size: int, index: int) -> Tensor:
    """The unit vector along one parameter."""
    import torch

    e = torch.zeros(size, dtype=torch.float64)
    e[index] = 1.0
    return e


def along_parameters(origin: Tensor, i: int, j: int) -> Plane:
    """The plane of parameters i and j, every other one held at `origin`: x and y are their values."""
    held = origin.clone()
    held[[i, j]] = 0.0
    return Plane(held, unit(origin.shape[0], i), unit(origin.shape[0], j))


@dataclass(frozen=True)
class Principal:
    """The principal plane, how much of the movement each axis carries, and how many axes are random."""

    plane: Plane
    explained: tuple[float | None, float | None]
    random: int  # 0, 1 or 2: axes completed by a seeded random direction


def principal(origin: Tensor, stacked: Tensor, start: Tensor, seed: int) -> Principal:
    """The two directions along which the path points `stacked` (m, P) moved most about `origin`
    (an SVD of stacked - origin), each oriented so that `start` lies on its negative side."""
    import torch

    moved = stacked - origin
    moved = moved[torch.isfinite(moved).all(1)]
    directions, explained = [], []
    if moved.shape[0]:
        _, s, vh = torch.linalg.svd(moved, full_matrices=False)
        total = float(s.square().sum())
        for k in range(min(2, s.shape[0])):
            if float(s[k]) > RANK_TOL * float(s[0]) and float(s[k]) > 0:
                directions.append(vh[k])
                explained.append(float(s[k]) ** 2 / total)
    random = 2 - len(directions)
    generator = torch.Generator().manual_seed(seed)
    while len(directions) < 2:
        directions.append(_orthogonal(directions, origin.shape[0], generator))
        explained.append(None)
    ex, ey = (_oriented(d, start - origin) for d in directions)
    return Principal(Plane(origin, ex, ey), (explained[0], explained[1]), random)


def _orthogonal(found: list, size: int, generator) -> Tensor:
    """A seeded random unit direction orthogonal to those found (Gram-Schmidt, twice for rounding)."""
    import torch

    d = torch.randn(size, generator=generator, dtype=torch.float64)
    for _ in range(2):
        for f in found:
            d = d - (d @ f) * f
    return d / torch.linalg.vector_norm(d)


def _oriented(direction: Tensor, start: Tensor) -> Tensor:
    """The direction or its opposite: the one along which the path heads from its start (start at
    a negative coordinate), else the one whose largest component is positive."""
    along = float(start @ direction) if bool(start.isfinite().all()) else 0.0
    if along == 0.0:
        along = -float(direction[direction.abs().argmax()])
    return -direction if along > 0 else direction


def frame(xs: list[float], ys: list[float], square: bool = False) -> tuple[float, float, float, float]:
    """(x low, x high, y low, y high): the finite points given, with a margin; an axis along
    which they do not spread takes the other's span (or 1). `square`: both spans the larger one."""
    points = [(x, y) for x, y in zip(xs, ys) if math.isfinite(x) and math.isfinite(y)]
    if not points:
        return -1.0, 1.0, -1.0, 1.0
    x_lo, x_hi = min(p[0] for p in points), max(p[0] for p in points)
    y_lo, y_hi = min(p[1] for p in points), max(p[1] for p in points)
    x_span, y_span = x_hi - x_lo, y_hi - y_lo
    x_span, y_span = _span(x_span, y_span, x_lo), _span(y_span, x_span, y_lo)
    x_mid, y_mid = (x_lo + x_hi) / 2, (y_lo + y_hi) / 2
    half_x, half_y = x_span * (0.5 + MARGIN), y_span * (0.5 + MARGIN)
    if square:
        half_x = half_y = max(half_x, half_y)
    return x_mid - half_x, x_mid + half_x, y_mid - half_y, y_mid + half_y


def _span(span: float, other: float, at: float) -> float:
    """An axis's span, or a stand-in where the points do not spread along it (to rounding)."""
    if span > 1e-9 * max(abs(at), other, 1e-300):
        return span
    return other if other > 0 else max(abs(at), 1.0)
