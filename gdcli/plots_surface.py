"""The loss surface as a picture: the loss over a grid of two coordinates, with runs' paths on it.

`SurfaceMap` holds plain Python numbers, like the panels of plots.py; its renderers draw
it in the terminal (a heatmap of characters, `render_terminal`) and in a PNG (filled
contours with level lines, `draw_png`). Both shade by log levels of (loss - min), since a
bowl spans decades, and both clip a path at the frame and mark where it left.
Nothing here imports matplotlib or numpy at module level, and nothing prints.
"""

from __future__ import annotations

import math
import textwrap
from bisect import bisect_left
from dataclasses import dataclass, field

SHADES = " ·:-=+*#%@"  # low to high: the picture reads without colour
MARKERS = "•○◇△□▽◆▲"  # one per path, none of them a shade
START, END, OPTIMUM, VANISHED, NOT_FINITE = "S", "E", "★", "x", "!"
ARROWS = "→↗↑↖←↙↓↘"  # where a path left the frame, by its direction (counter-clockwise from east)
# 256-colour codes: the shades' background (dark blue, low, to light cyan) and each path's colour.
RAMP = (17, 18, 19, 20, 25, 26, 32, 38, 44, 80)
PATH_ANSI = (196, 226, 201, 208, 231, 46, 213, 220)
# Paths' colours: each reads on every level of the contours and on a white panel, where the same
# runs' loss curves take the same colours (plots.write_png).
PATH_COLORS = ("#e41a1c", "#ff33cc", "#ff7f00", "#00e5ff", "#a65628", "#f781bf", "#000000", "#999999")
LEVELS = 12  # filled contour bands in a PNG


@dataclass(frozen=True)
class SurfaceMap:
    """The loss over a grid, with each run's path across it.

    `loss[j][i]` is the loss at (xs[i], ys[j]) (nan or inf where it is not finite). A path's
    points run from its start to its end and may leave the grid's frame (a diverged run):
    the renderers clip it there and mark where it left. `optimum` is marked where known.
    `path_epochs` (optional) gives each path point's epoch, so an animation can grow the path
    in step with the run; without it the points are taken as evenly spread over the run.
    """

    xs: list[float] = field(repr=False)  # the grid's x coordinates, increasing
    ys: list[float] = field(repr=False)  # the grid's y coordinates, increasing
    loss: list[list[float]] = field(repr=False)  # one row per y, one value per x
    # run label -> (x, y) of each point, start first
    paths: dict[str, tuple[list[float], list[float]]] = field(repr=False)
    optimum: tuple[float, float] | None
    xlabel: str
    ylabel: str
    title: str
    note: str = ""  # a line under the picture: what the axes are, the bound that shapes the bowl
    path_epochs: dict[str, list[int]] | None = field(default=None, repr=False)  # run label -> the epoch of each of its points
    to_scale: bool = False  # both axes in the same units: a PNG draws them to one scale (a round bowl looks round)

    def __post_init__(self):
        if len(self.loss) != len(self.ys) or any(len(row) != len(self.xs) for row in self.loss):
            raise ValueError("SurfaceMap needs one row of len(xs) losses per y")
        if any(len(x) != len(y) for x, y in self.paths.values()):
            raise ValueError("SurfaceMap needs as many x as y values on every path")
        if self.path_epochs is not None and any(
            len(self.path_epochs.get(label, x)) != len(x) for label, (x, _) in self.paths.items()
        ):
            raise ValueError("SurfaceMap needs one epoch per point of a path in path_epochs")

    @property
    def frame(self) -> tuple[float, float, float, float]:
        """(x low, x high, y low, y high): the grid's extent, where paths are clipped."""
        return self.xs[0], self.xs[-1], self.ys[0], self.ys[-1]


# --- geometry shared by both renderers --------------------------------------------------------

Point = tuple[float, float]


@dataclass
class Clipped:
    """A path cut to the frame: what of it to draw, and where it left or stopped."""

    pieces: list[list[Point]] = field(default_factory=list)  # the in-frame parts, each a polyline
    points: list[Point] = field(default_factory=list)  # the path's own points inside the frame
    exits: list[tuple[Point, Point]] = field(default_factory=list)  # (where it left the frame, its direction)
    start: Point | None = None  # the first point, when inside
    end: Point | None = None  # the last point, when finite and inside
    vanished: Point | None = None  # the last finite point inside, where the path stopped being finite


def inside(p: Point, box: tuple[float, float, float, float]) -> bool:
    """Whether a point lies in the frame (its border included)."""
    return box[0] <= p[0] <= box[1] and box[2] <= p[1] <= box[3]


def _span(p: Point, q: Point, box) -> tuple[float, float] | None:
    """The part t0..t1 of the segment p + t (q - p) inside box (Liang-Barsky), or None."""
    dx, dy = q[0] - p[0], q[1] - p[1]
    t0, t1 = 0.0, 1.0
    for den, num in ((-dx, p[0] - box[0]), (dx, box[1] - p[0]), (-dy, p[1] - box[2]), (dy, box[3] - p[1])):
        if den == 0:
            if num < 0:
                return None
        elif den < 0:
            t0 = max(t0, num / den)
        else:
            t1 = min(t1, num / den)
    return (t0, t1) if t0 <= t1 else None


def clip_path(xs: list[float], ys: list[float], box) -> Clipped:
    """The path cut to the frame, up to its first non-finite point: its in-frame parts until it left
    the frame for good (an excursion that comes back is only clipped), and where it left."""
    pts: list[Point] = []
    for p in zip(xs, ys):
        if not (math.isfinite(p[0]) and math.isfinite(p[1])):
            break
        pts.append(p)
    out = Clipped(points=[p for p in pts if inside(p, box)])
    if not out.points:
        return out  # never in the frame: nothing to draw
    last = max(i for i, p in enumerate(pts) if inside(p, box))
    out.start = pts[0] if inside(pts[0], box) else None
    if last == len(pts) - 1:
        out.end, out.vanished = (pts[-1], None) if len(pts) == len(xs) else (None, pts[-1])
    current = [pts[0]] if out.start else None
    out.pieces += [current] if current else []
    for p, q in zip(pts[: last + 1], pts[1: last + 2]):
        span = _span(p, q, box)
        if span is None:
            current = None
            continue
        a, b = ((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])) for t in span)
        if current is None or span[0] > 0:
            current = [a]
            out.pieces.append(current)
        current.append(b)
        current = current if span[1] == 1 else None
    if last < len(pts) - 1:
        out.exits.append((out.pieces[-1][-1], (pts[last + 1][0] - pts[last][0], pts[last + 1][1] - pts[last][1])))
    return out


def log_levels(values: list[float], count: int) -> list[float]:
    """count + 1 level bounds of (loss - min), evenly spaced in log from the 1st percentile of the
    positive values to the largest: the bowl's floor and walls each get their share of levels."""
    positive = sorted(v for v in values if math.isfinite(v) and v > 0)
    if not positive:
        return [1.0 * 10 ** (k / count) for k in range(count + 1)]
    hi = math.log10(positive[-1])
    lo = max(math.log10(positive[len(positive) // 100]), hi - 12)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    return [10 ** (lo + (hi - lo) * k / count) for k in range(count + 1)]


def ticks(lo: float, hi: float, count: int) -> list[float]:
    """About `count` round-numbered ticks (1, 2 or 5 times a power of ten apart) inside lo..hi, two at least."""
    if not hi > lo:
        return [lo]
    for n in range(max(2, count), max(2, count) + 8):
        raw = (hi - lo) / (n - 1)
        power = 10 ** math.floor(math.log10(raw))
        step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
        first = math.ceil(lo / step - 1e-9) * step
        out = [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]
        if len(out) >= 2:
            return out
    return [lo, hi]


def tick_label(t: float) -> str:
    """A tick value written short: 0.5, 120, 1e+06."""
    return f"{round(t, 10):.4g}"


def nearest(values: list[float], v: float) -> int:
    """The index of the increasing `values` nearest to v."""
    i = bisect_left(values, v)
    if i <= 0:
        return 0
    if i >= len(values):
        return len(values) - 1
    return i if values[i] - v < v - values[i - 1] else i - 1


# --- the terminal: a heatmap of characters ------------------------------------------------------


def render_terminal(panel: SurfaceMap, width: int, height: int = 20, color: bool = False) -> str:
    """The surface as a heatmap of characters `width` columns wide, paths and optimum drawn over it,
    with axes, a key of levels, a key of paths and the note; color=False gives no ANSI codes."""
    box, rows = panel.frame, max(6, height - 6)
    yticks = ticks(box[2], box[3], rows // 3)
    ylabels = [tick_label(t) for t in yticks]
    lw = min(max(len(s) for s in ylabels), max(1, width // 4))
    cols = max(4, width - lw - 2)
    shades, bounds, low = _shades(panel, cols, rows)
    marks, seen = _marks(panel, cols, rows)
    at_row = {_cell((box[0], t), box, cols, rows)[0]: s[:lw] for t, s in zip(yticks, ylabels)}
    lines = [_fit(panel.title, width).center(width).rstrip(), _fit(f"↑ {panel.ylabel}", width)]
    for r in range(rows):
        prefix = at_row[r].rjust(lw) + " ┤" if r in at_row else " " * lw + " │"
        lines.append(prefix + _row_text(shades[r], [marks.get((r, c)) for c in range(cols)], color))
    lines += _x_axis(box, cols, lw, width, panel.xlabel, rows)
    if any(k < 0 for row in shades for k in row):
        seen.append((NOT_FINITE, "loss not finite"))
    lines += _wrapped(_level_items(bounds, low, color), width)
    lines += _wrapped(_path_items(panel, color) + [(s, s, label) for s, label in seen], width)
    lines += textwrap.wrap(panel.note, width) if panel.note else []
    return "\n".join(lines)


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _cell(p: Point, box, cols: int, rows: int) -> tuple[int, int]:
    """The (row, column) of the screen cell a point in the frame falls in; row 0 is the top."""
    fx = (p[0] - box[0]) / ((box[1] - box[0]) or 1.0)
    fy = (box[3] - p[1]) / ((box[3] - box[2]) or 1.0)
    return min(rows - 1, max(0, int(fy * rows))), min(cols - 1, max(0, int(fx * cols)))


def _shades(panel: SurfaceMap, cols: int, rows: int) -> tuple[list[list[int]], list[float], float]:
    """Each cell's shade (an index into SHADES; -1 where the loss is not finite), the level bounds of
    (loss - low) and low, the lowest finite loss of the grid. A cell shows the grid point nearest its centre."""
    box = panel.frame
    low = min((v for row in panel.loss for v in row if math.isfinite(v)), default=0.0)
    columns = [nearest(panel.xs, box[0] + (c + 0.5) * (box[1] - box[0]) / cols) for c in range(cols)]
    grid = []
    for r in range(rows):
        row = panel.loss[nearest(panel.ys, box[3] - (r + 0.5) * (box[3] - box[2]) / rows)]
        grid.append([row[i] - low for i in columns])
    bounds = log_levels([d for row in grid for d in row], len(SHADES))
    lo, step = math.log10(bounds[0]), math.log10(bounds[1] / bounds[0])

    def shade(d: float) -> int:
        if not math.isfinite(d):
            return -1
        return 0 if d <= 0 else min(len(SHADES) - 1, max(0, int((math.log10(d) - lo) / step)))

    return [[shade(d) for d in row] for row in grid], bounds, low


def _arrow(direction: Point, box, cols: int, rows: int) -> str:
    """The arrow pointing the way a path left the frame, as it looks on the screen (cells twice as tall as wide)."""
    sx = direction[0] / ((box[1] - box[0]) or 1.0) * cols
    sy = direction[1] / ((box[3] - box[2]) or 1.0) * rows * 2
    return ARROWS[round(math.atan2(sy, sx) / (math.pi / 4)) % 8]


def _marks(panel: SurfaceMap, cols: int, rows: int) -> tuple[dict, list[tuple[str, str]]]:
    """What is drawn over the shades, by cell: (priority, character, colour); and the symbols to explain."""
    box, marks = panel.frame, {}
    left, vanished = set(), False

    def put(p: Point, char: str, colour: int, priority: int) -> None:
        cell = _cell(p, box, cols, rows)
        if marks.get(cell, (-1,))[0] < priority:
            marks[cell] = (priority, char, colour)

    for i, (xs, ys) in enumerate(panel.paths.values()):
        clipped, colour = clip_path(xs, ys, box), PATH_ANSI[i % len(PATH_ANSI)]
        marker = MARKERS[i % len(MARKERS)]
        # The cells a step crosses, so that a fast path stays joined; not for a path that left the frame,
        # whose widening zig-zag would cover the surface it left.
        joined = not clipped.exits and clipped.vanished is None
        for p in _between(clipped, box, cols, rows) if joined else ():
            put(p, marker, colour, 0)
        for p in clipped.points:
            put(p, marker, colour, 1)
        for p, char, priority in ((clipped.start, START, 2), (clipped.end, END, 3), (clipped.vanished, VANISHED, 4)):
            if p is not None:
                put(p, char, colour, priority)
        for where, direction in clipped.exits:
            left.add(_arrow(direction, box, cols, rows))
            put(where, _arrow(direction, box, cols, rows), colour, 4)
        vanished = vanished or clipped.vanished is not None
    seen = []
    if panel.optimum is not None and inside(panel.optimum, box):
        put(panel.optimum, OPTIMUM, 231, 5)
        seen.append((OPTIMUM, "optimum"))
    seen += [(START, "start"), (END, "end")]
    seen += [("".join(a for a in ARROWS if a in left), "left the frame")] if left else []
    seen += [(VANISHED, "stopped being finite")] if vanished else []
    return marks, seen


def _between(clipped: Clipped, box, cols: int, rows: int) -> list[Point]:
    """Points along each step of a clipped path, one per screen cell it crosses."""
    found = []
    for piece in clipped.pieces:
        for a, b in zip(piece, piece[1:]):
            (ra, ca), (rb, cb) = _cell(a, box, cols, rows), _cell(b, box, cols, rows)
            steps = max(abs(rb - ra), abs(cb - ca))
            found += [(a[0] + (b[0] - a[0]) * k / steps, a[1] + (b[1] - a[1]) * k / steps) for k in range(1, steps)]
    return found


def _row_text(shades: list[int], marks: list, color: bool) -> str:
    """One row of the picture: each cell's mark or shade, coloured (background by level) when asked."""
    if not color:
        return "".join(m[1] if m else (SHADES[k] if k >= 0 else NOT_FINITE) for k, m in zip(shades, marks))
    out, last = [], None
    for k, m in zip(shades, marks):
        bg = RAMP[k] if k >= 0 else 52
        style = f"1;38;5;{m[2]};48;5;{bg}" if m else f"22;38;5;{250 if k < 6 else 236};48;5;{bg}"
        out.append((f"\x1b[{style}m" if style != last else "") + (m[1] if m else SHADES[k] if k >= 0 else NOT_FINITE))
        last = style
    return "".join(out) + "\x1b[0m"


def _x_axis(box, cols: int, lw: int, width: int, xlabel: str, rows: int) -> list[str]:
    """The x axis with tick marks, the tick values under them, and the axis's label."""
    xticks = ticks(box[0], box[1], cols // 8)
    at = {_cell((t, box[2]), box, cols, rows)[1]: tick_label(t) for t in xticks}
    axis = " " * lw + " └" + "".join("┬" if c in at else "─" for c in range(cols))
    labels, free = [" "] * width, 0
    for c, text in sorted(at.items()):
        begin = max(free, min(lw + 2 + c - len(text) // 2, width - len(text)))
        if begin + len(text) <= width and begin >= free:
            labels[begin:begin + len(text)] = text
            free = begin + len(text) + 1
    name = _fit(f"{xlabel} →", width)
    return [axis, "".join(labels).rstrip(), (" " * (lw + 2 + max(0, (cols - len(name)) // 2)) + name)[-width:]]


def _level_items(bounds: list[float], low: float, color: bool) -> list[tuple[str, str, str]]:
    """The key of shades: each one's lower bound of (loss - min), as (plain glyph, shown glyph, text)."""
    blank = f"'{_swatch(' ', 0, color)}'"
    items = [("", "", f"shade: loss − {low:.4g} (least), log scale:"), ("' '", blank, f"<{bounds[1]:.2g}")]
    items += [(s, _swatch(s, k, color), f"{bounds[k]:.2g}") for k, s in enumerate(SHADES) if k > 0]
    return items


def _swatch(glyph: str, k: int, color: bool) -> str:
    return f"\x1b[38;5;{250 if k < 6 else 236};48;5;{RAMP[k]}m{glyph}\x1b[0m" if color else glyph


def _path_items(panel: SurfaceMap, color: bool) -> list[tuple[str, str, str]]:
    """The key of paths: each run's marker (in its colour) and label."""
    items = []
    for i, label in enumerate(panel.paths):
        glyph = MARKERS[i % len(MARKERS)]
        shown = f"\x1b[1;38;5;{PATH_ANSI[i % len(PATH_ANSI)]}m{glyph}\x1b[0m" if color else glyph
        items.append((glyph, shown, label))
    return items


def _wrapped(items: list[tuple[str, str, str]], width: int) -> list[str]:
    """Key entries ("glyph text") joined by spaces into lines of at most `width` visible columns."""
    lines, line, used = [], "", 0
    for plain, shown, text in items:
        text = _fit(text, width - len(plain) - 1) if plain else _fit(text, width)
        size = len(plain) + (1 if plain else 0) + len(text)
        gap = 2 if used else 0
        if used and used + gap + size > width:
            lines.append(line)
            line, used, gap = "", 0, 0
        line += " " * gap + (f"{shown} " if plain else "") + text
        used += gap + size
    return lines + ([line] if used else [])
