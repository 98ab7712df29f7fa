"""The loss surface in a PNG: filled contours of log-spaced levels with level lines, a colorbar, each run's
path as a line with small markers, its start (o), end (square) and an x where it left the frame.

plots.write_png draws a SurfaceMap panel on its own axes with `draw_png`; animations reuse
`draw_contours` and `draw_path`. matplotlib and numpy are imported inside the functions.
"""

from __future__ import annotations

import math
import textwrap

from gdcli.plots_surface import LEVELS, PATH_COLORS, Clipped, SurfaceMap, clip_path, inside, log_levels

def draw_contours(fig, ax, panel: SurfaceMap, colorbar: bool = True, label: str | None = None):
    """Filled contours of log-spaced levels of (loss - min), level lines over them, and the optimum."""
    import numpy as np
    from matplotlib.colors import LogNorm

    z = np.array(panel.loss, dtype=float)
    low = float(np.nanmin(np.where(np.isfinite(z), z, np.nan))) if np.isfinite(z).any() else 0.0
    d = z - low
    levels = log_levels(d[np.isfinite(d)].ravel().tolist(), LEVELS)
    # Below the lowest level is the floor's band; above the highest and not finite are the top band.
    d = np.clip(np.where(np.isfinite(d), d, levels[-1]), levels[0], levels[-1])
    x, y = np.meshgrid(panel.xs, panel.ys)
    filled = ax.contourf(x, y, d, levels=levels, norm=LogNorm(levels[0], levels[-1]), cmap="viridis")
    ax.contour(x, y, d, levels=levels[1:-1], colors="white", linewidths=0.5, alpha=0.45)
    if colorbar:
        # Drawn to scale, the axes shrink to a square: a colorbar placed beside the axes themselves
        # (not in the figure's layout) keeps the pair centred.
        place = dict(cax=ax.inset_axes([1.04, 0.0, 0.04, 1.0])) if panel.to_scale else dict(ax=ax)
        bar = fig.colorbar(filled, **place)
        bar.set_label(label or f"loss − {low:.4g} (its minimum here), log scale")
        bar.set_ticks(levels[::2], labels=[f"{v:.2g}" for v in levels[::2]])
    if panel.optimum is not None and inside(panel.optimum, panel.frame):
        ax.plot(*panel.optimum, marker="*", markersize=16, color="gold", markeredgecolor="black", linestyle="none",
                label="optimum", zorder=5)
    ax.set_xlim(panel.xs[0], panel.xs[-1])
    ax.set_ylim(panel.ys[0], panel.ys[-1])
    ax.set(title=panel.title, xlabel=panel.xlabel, ylabel=panel.ylabel)


def polyline(clipped: Clipped) -> tuple[list[float], list[float]]:
    """The clipped pieces as one line for matplotlib, broken by nan between pieces."""
    xs, ys = [], []
    for piece in clipped.pieces:
        if xs:
            xs.append(math.nan)
            ys.append(math.nan)
        xs += [p[0] for p in piece]
        ys += [p[1] for p in piece]
    return xs, ys


def draw_path(ax, clipped: Clipped, color: str, label: str | None, every: int = 1, layer: float = 3) -> None:
    """One path: a line with small markers, its start (o), end (square), and an x where it left the frame.
    `layer` stacks paths: a higher one is drawn over a lower one."""
    from matplotlib import patheffects

    # A dark edge keeps any path's colour readable on every level of the colour map.
    edge = [patheffects.withStroke(linewidth=3.2, foreground="black", alpha=0.6)]
    line = ax.plot(*polyline(clipped), color=color, linewidth=1.6, label=label, zorder=layer, path_effects=edge)[0]
    shown = clipped.points[::every]
    ax.plot([p[0] for p in shown], [p[1] for p in shown], linestyle="none", marker="o", markersize=2.5,
            color=line.get_color(), zorder=layer)
    marks = [(clipped.start, "o", 8), (clipped.end, "s", 8)]
    marks += [(where, "x", 11) for where, _ in clipped.exits] + [(clipped.vanished, "x", 11)]
    for at, marker, size in marks:
        if at is not None:
            ax.plot(*at, marker=marker, markersize=size, color=color, markeredgecolor="black" if marker != "x" else color,
                    markeredgewidth=2.5 if marker == "x" else 1, linestyle="none", zorder=4, clip_on=False,
                    path_effects=edge if marker == "x" else None)


def draw_png(fig, ax, panel: SurfaceMap) -> None:
    """The surface on one matplotlib axes: contours, colorbar, every path, legend, the note as a caption."""
    from matplotlib.lines import Line2D

    draw_contours(fig, ax, panel)
    if panel.to_scale:
        ax.set_aspect("equal", adjustable="box")
    clipped = [clip_path(xs, ys, panel.frame) for xs, ys in panel.paths.values()]
    gone = [bool(c.exits) or c.vanished is not None for c in clipped]
    left = any(gone)
    # Paths share their start: the shorter a path in the frame, the higher it is drawn (a crawl stays
    # visible over the zig-zag that leaves from the same point), and a path that left the frame under
    # every path that stayed, whose route it would otherwise hide.
    lengths = [_length(c, panel.frame) for c in clipped]
    order = sorted(range(len(clipped)), key=lambda i: (gone[i], -lengths[i]))
    for rank, i in enumerate(order):
        label = list(panel.paths)[i]
        layer = 3 + (rank + 1) / (len(order) + 1) - gone[i]
        draw_path(ax, clipped[i], PATH_COLORS[i % len(PATH_COLORS)], label, max(1, len(clipped[i].points) // 60), layer)
    found, labels = ax.get_legend_handles_labels()
    place = {label: i for i, label in enumerate(panel.paths)}  # the paths as listed, whatever their layers
    handles = [h for h, _ in sorted(zip(found, labels), key=lambda pair: place.get(pair[1], -1))]
    grey = dict(color="grey", markeredgecolor="black", linestyle="none")
    handles += [Line2D([], [], marker="o", label="start", **grey), Line2D([], [], marker="s", label="end", **grey)]
    if left:
        handles.append(Line2D([], [], marker="x", color="grey", linestyle="none", markeredgewidth=2,
                              label="left the frame (diverged)"))
    # "best": where it covers the fewest points of the paths (the contours are not data to it).
    ax.legend(handles=handles, fontsize="small", framealpha=0.85, loc="best")
    if panel.note:
        ax.annotate(textwrap.fill(panel.note, 120), xy=(0.5, 0), xycoords="axes fraction", xytext=(0, -32),
                    textcoords="offset points", ha="center", va="top", fontsize="small")


def _length(clipped: Clipped, frame: tuple[float, float, float, float]) -> float:
    """A clipped path's length in the frame, in units of the frame's sides."""
    x0, x1, y0, y1 = frame
    wide, high = (x1 - x0) or 1.0, (y1 - y0) or 1.0
    return sum(math.hypot((b[0] - a[0]) / wide, (b[1] - a[1]) / high)
               for piece in clipped.pieces for a, b in zip(piece, piece[1:]))
