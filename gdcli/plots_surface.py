"""The loss surface as a picture: the loss over a grid of two coordinates, with runs' paths on it.

`SurfaceMap` holds plain Python numbers, like the panels of plots.py; its renderers draw
it in the terminal (a heatmap of characters) and in a PNG (filled contours with level lines).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SurfaceMap:
    """The loss over a grid, with each run's path across it.

    `loss[j][i]` is the loss at (xs[i], ys[j]) (nan or inf where it is not finite). A path's
    points run from its start to its end and may leave the grid's frame (a diverged run):
    the renderers clip it there and mark where it left. `optimum` is marked where known.
    """

    xs: list[float]  # the grid's x coordinates, increasing
    ys: list[float]  # the grid's y coordinates, increasing
    loss: list[list[float]]  # one row per y, one value per x
    paths: dict[str, tuple[list[float], list[float]]]  # run label -> (x, y) of each point, start first
    optimum: tuple[float, float] | None
    xlabel: str
    ylabel: str
    title: str
    note: str = ""  # a line under the picture: what the axes are, the bound that shapes the bowl

    def __post_init__(self):
        if len(self.loss) != len(self.ys) or any(len(row) != len(self.xs) for row in self.loss):
            raise ValueError("SurfaceMap needs one row of len(xs) losses per y")
        if any(len(x) != len(y) for x, y in self.paths.values()):
            raise ValueError("SurfaceMap needs as many x as y values on every path")
