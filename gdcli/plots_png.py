"""Panels drawn with matplotlib into one PNG, stacked vertically: plots.py lays each panel out (the
traces both renderers share), this module draws the layouts, and plots_surface_png.py the surfaces.

In a figure that holds a loss surface, a run's curves take the colour of its path there, and the
curves of runs the surface leaves out are grey: the panels read as one picture.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

from gdcli.plots_axes import LINE_STYLES
from gdcli.plots_surface import PATH_COLORS, SurfaceMap

OTHERS = "#bbbbbb"  # the curves of runs a surface does not draw
LEGEND_ROWS = 12  # legend entries per column before the legend takes another column


def write(items: list, layouts: list, path: str | os.PathLike, width_px: int, height_px: int, dpi: int) -> Path:
    """Draw each panel (a SurfaceMap, or another panel by its layout) on its own axes, and write the PNG
    atomically."""
    from matplotlib.figure import Figure

    from gdcli import files
    from gdcli.plots_surface_png import draw_png

    # A bare Figure (not pyplot) needs no backend switch and holds no global reference, so
    # nothing leaks between calls; savefig picks the Agg canvas for PNG by itself.
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi, layout="constrained")
    surfaces = [panel for panel in items if isinstance(panel, SurfaceMap)]
    colours = {label: PATH_COLORS[i % len(PATH_COLORS)] for i, label in enumerate(surfaces[0].paths)} \
        if surfaces else None
    for ax, panel, lay in zip(fig.subplots(len(items), 1, squeeze=False)[:, 0], items, layouts):
        if lay is None:
            draw_png(fig, ax, panel)  # contours, paths and a colorbar on its own axes
        else:
            draw_layout(ax, lay, colours)
    with warnings.catch_warnings():
        # Too many panels or legend entries for the size: matplotlib draws on without its layout and says
        # so on stderr; gdcli's output stays its own.
        warnings.simplefilter("ignore", UserWarning)
        return files.write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi))


def draw_layout(ax, lay, colours: dict[str, str] | None) -> None:
    """One panel's traces on matplotlib axes; `colours` (run label -> colour) where a surface shares the figure."""
    # Scales first: setting one later would reset the category ticks below.
    ax.set_xscale("log" if lay.xlog else "linear")
    ax.set_yscale("log" if lay.ylog else "linear")
    for t in lay.traces:
        if t.kind == "line":
            style = dict(linestyle="--", color="grey") if t.dashed else {}
            if colours is not None and not t.dashed and t.label is not None:
                style = dict(color=colours.get(t.label, OTHERS))
            if not t.dashed:  # each run its own line style: a curve drawn over another still shows
                style["linestyle"] = LINE_STYLES[t.style % len(LINE_STYLES)]
            ax.plot(t.x, t.y, marker="o" if t.dots else None, markersize=4, label=t.label, **style)
        elif t.kind == "points":
            ax.plot(t.x, t.y, linestyle="none", marker=t.marker, markersize=8 if t.marker == "x" else 5,
                    color="tab:red" if t.marker == "x" else None, label=t.label, zorder=3)
        elif t.kind == "vline":
            ax.axvline(t.x[0], linestyle="--", color="gray", label=t.label)
        elif t.kind == "hist":
            ax.hist(t.x, bins=lay.bins, edgecolor="white")
        elif t.kind == "bars":
            # Positions, not strings: a bare Figure has no categorical axis until pyplot loads.
            ax.bar_label(ax.bar(range(len(t.x)), t.y))
            ax.set_xticks(range(len(t.x)), t.x)
            ax.margins(y=0.1)  # room for the count over the tallest bar
    ax.set(title=lay.title, xlabel=lay.xlabel + ("\n" + lay.note if lay.note else ""), ylabel=lay.ylabel)
    ax.grid(True, alpha=0.3)
    labelled = sum(1 for t in lay.traces if t.label)
    if labelled:
        # Many runs: more columns in a smaller font, so that the legend does not take the panel.
        ax.legend(ncol=math.ceil(labelled / LEGEND_ROWS), fontsize="medium" if labelled <= LEGEND_ROWS else "x-small")
