"""Pictures of runs: loss curves, fitted lines, sweeps and histograms.

Figures are described by small frozen dataclasses holding plain Python numbers. `_layout`
turns one into a list of traces (what to draw, already cleaned of inf/nan), and two thin
renderers draw those traces: `render_terminal` with plotext, `write_png` with matplotlib.
Neither library is imported at module level, so `gdcli --help` never pays for them.
Nothing here prints.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import shutil
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, Union

from gdcli.errors import GdcliError, param
from gdcli import plots_axes as axes
from gdcli.plots_surface import SurfaceMap, render_terminal as _surface_text

STABLE_LABEL = "stable bound 2/λmax"
DIVERGED_LABEL = "diverged"
# Terminal markers for successive loss curves; "hd" draws lines with quarter blocks.
LINE_MARKERS = ["hd", "•", "+", "*", "·", "#", "%", "@"]


@dataclass(frozen=True)
class LossCurves:
    """Loss per epoch of one or more runs: {name: (epochs, losses)}.

    `diverged_at` maps a series to the epoch its run diverged at, marked with an x there; left
    as None, a series is marked at its first non-finite loss. The mark sits at that epoch's loss
    if it is finite, else at the last finite loss before it, else at the top of the axis.
    """

    series: dict[str, tuple[list[int], list[float]]]
    title: str
    ylabel: str = "loss"
    xlabel: str = "epoch"
    diverged_at: dict[str, int] | None = None
    bounds: tuple[str, ...] = ()  # series that are bounds, not runs (2/lr): drawn dashed
    log: bool | None = None  # the loss axis: True log (--log-loss); None log where the curves span two decades


@dataclass(frozen=True)
class FitLine:
    """Data points and the fitted line y = slope*x + intercept, in original units."""

    x: list[float]
    y: list[float]
    slope: float
    intercept: float
    xlabel: str
    ylabel: str
    title: str

    def __post_init__(self):
        if len(self.x) != len(self.y):
            raise ValueError("FitLine needs as many x as y values")


@dataclass(frozen=True)
class FitCurve:
    """Data points and a fitted curve (a model that is not a line), in original units."""

    x: list[float]
    y: list[float]
    curve_x: list[float]
    curve_y: list[float]
    label: str
    xlabel: str
    ylabel: str
    title: str

    def __post_init__(self):
        if len(self.x) != len(self.y) or len(self.curve_x) != len(self.curve_y):
            raise ValueError("FitCurve needs as many x as y values, for the data and for the curve")


@dataclass(frozen=True)
class SweepCurve:
    """Final loss against learning rate; diverged runs drawn as 'x' at the top."""

    lrs: list[float]
    final_losses: list[float]
    diverged: list[bool]
    stable_lr: float | None
    title: str
    xlabel: str = "learning rate"
    ylabel: str = "final loss"
    log: bool | None = None  # the loss axis: True log (--log-loss); None log where the losses span two decades

    def __post_init__(self):
        if not len(self.lrs) == len(self.final_losses) == len(self.diverged):
            raise ValueError("SweepCurve needs one final loss and one diverged flag per learning rate")


@dataclass(frozen=True)
class Histogram:
    """Either numeric `values` binned into `bins`, or a bar per category in `counts`."""

    values: list[float] | None
    counts: dict[str, int] | None
    title: str
    xlabel: str
    bins: int = 20
    ylabel: str = "count"

    def __post_init__(self):
        if (self.values is None) == (self.counts is None):
            raise ValueError("Histogram needs exactly one of values or counts")


Panel = Union[LossCurves, FitLine, FitCurve, SweepCurve, Histogram, SurfaceMap]


@dataclass
class _Trace:
    kind: str  # "line", "points", "vline", "hist" or "bars"
    x: list = field(default_factory=list)  # for "hist": the values; for "bars": the categories
    y: list = field(default_factory=list)
    label: str | None = None
    marker: str = "o"
    dots: bool = False  # a line whose every point is a run of its own: show them (PNG)
    dashed: bool = False  # a bound drawn beside the runs, not a run (PNG: a dashed grey line)
    style: int = 0  # the how-manyth run line: the PNG draws each in its own line style


@dataclass
class _Layout:
    title: str
    xlabel: str
    ylabel: str
    traces: list[_Trace]
    xlog: bool = False
    ylog: bool = False
    bins: int = 20
    note: str = ""  # under the plot: why a log axis could not be had, which curves coincide


use_log_scale = axes.decades  # True when the finite positive values span two decades (max/min >= 100)


def _finite(x: Sequence[float], y: Sequence[float]) -> tuple[list, list]:
    """The points whose coordinates are both finite."""
    keep = [(a, b) for a, b in zip(x, y) if math.isfinite(a) and math.isfinite(b)]
    return [a for a, _ in keep], [b for _, b in keep]


def _divergence_marks(panel: LossCurves, traces: list[_Trace]) -> list[_Trace]:
    """An x at the epoch each diverged run diverged at (see LossCurves), one trace per epoch."""
    marks: dict[int, list[tuple[str, float | None]]] = {}
    for name, (epochs, losses) in panel.series.items():
        if panel.diverged_at is not None:
            epoch = panel.diverged_at.get(name)
        else:
            epoch = next((e for e, v in zip(epochs, losses) if not math.isfinite(v)), None)
        if epoch is None:
            continue
        # The loss there if it is finite (the parameters went first), else the last finite one before.
        before = [v for e, v in zip(epochs, losses) if e <= epoch and math.isfinite(v)]
        marks.setdefault(epoch, []).append((name, before[-1] if before else None))
    shown = [v for t in traces for v in t.y]
    top = max(shown, default=1.0)  # a run with no finite loss at all: the top of the axis
    several = sum(len(m) for m in marks.values()) > 1
    out = []
    for epoch, runs in sorted(marks.items()):
        label = f"{DIVERGED_LABEL} at epoch {epoch}"
        if several:
            label = ", ".join(name for name, _ in runs) + ": " + label
        out.append(_Trace("points", [epoch] * len(runs), [top if h is None else h for _, h in runs], label, "x"))
    return out


def _layout(panel: Panel) -> _Layout:
    """What to draw for one panel, shared by both renderers so they cannot disagree."""
    if isinstance(panel, LossCurves):
        out = _loss_layout(panel)
    elif isinstance(panel, FitLine):
        x, y = _finite(panel.x, panel.y)
        ends = [min(x), max(x)] if x else []
        sign = "-" if panel.intercept < 0 else "+"
        fit = f"fit y = {panel.slope:.4g}x {sign} {abs(panel.intercept):.4g}"
        line = _Trace("line", ends, [panel.slope * e + panel.intercept for e in ends], fit)
        # Points last, so the line never hides one.
        out = _Layout(panel.title, panel.xlabel, panel.ylabel, [line, _Trace("points", x, y, "data", "o")])
    elif isinstance(panel, FitCurve):
        x, y = _finite(panel.x, panel.y)
        curve = _Trace("line", *_finite(panel.curve_x, panel.curve_y), panel.label)
        out = _Layout(panel.title, panel.xlabel, panel.ylabel, [curve, _Trace("points", x, y, "data", "o")])
    elif isinstance(panel, SweepCurve):
        runs = sorted(zip(panel.lrs, panel.final_losses, panel.diverged))
        ok = [(lr, v) for lr, v, d in runs if not d and math.isfinite(v)]
        bad = [lr for lr, v, d in runs if d or not math.isfinite(v)]
        ylog, note = axes.log_axis({"a run's final loss": [v for _, v in ok]}, panel.log)
        # Diverged runs have no meaningful loss: pin them just above the highest finite one.
        top = max((v for _, v in ok), default=1.0)
        if ylog:
            top *= 2
        elif ok:
            top += 0.1 * (top - min(v for _, v in ok)) or 0.1 * abs(top) or 1.0
        traces = [_Trace("line", [a for a, _ in ok], [b for _, b in ok], "runs", dots=True)]
        if bad:
            traces.append(_Trace("points", bad, [top] * len(bad), DIVERGED_LABEL, "x"))
        if panel.stable_lr is not None and math.isfinite(panel.stable_lr) and panel.stable_lr > 0:
            traces.append(_Trace("vline", [panel.stable_lr], [], f"{STABLE_LABEL} = {panel.stable_lr:.3g}"))
        xlog = all(lr > 0 for lr in panel.lrs)  # learning rates are swept geometrically
        out = _Layout(panel.title, panel.xlabel, axes.labelled(panel.ylabel, ylog), traces, xlog=xlog, ylog=ylog,
                      note=note)
    elif isinstance(panel, Histogram):
        if panel.values is not None:
            trace = _Trace("hist", [v for v in panel.values if math.isfinite(v)])
        else:
            trace = _Trace("bars", list(panel.counts), list(panel.counts.values()))
        out = _Layout(panel.title, panel.xlabel, panel.ylabel, [trace], bins=panel.bins)
    else:
        raise TypeError(f"not a figure panel: {panel!r}")
    labelled = [t for t in out.traces if t.label]
    if len(labelled) == 1 and labelled[0].kind == "line":
        labelled[0].label = None  # one series: the title says what it is
    return out


def _loss_layout(panel: LossCurves) -> _Layout:
    """Loss curves: a line per series (bounds dashed), the divergence marks, the loss axis log where asked
    or where the curves span two decades (said on its label), and notes on what the picture cannot show."""
    runs = [name for name in panel.series if name not in panel.bounds]
    traces = [_Trace("line", *_finite(epochs, losses), name, dashed=name in panel.bounds,
                     style=runs.index(name) if name in runs else 0)
              for name, (epochs, losses) in panel.series.items()]
    traces += _divergence_marks(panel, traces)
    ylog, note = axes.log_axis({name: losses for name, (_, losses) in panel.series.items()}, panel.log)
    both = axes.coinciding({name: panel.series[name] for name in runs})
    note = "\n".join(n for n in (note, both) if n)
    return _Layout(panel.title, panel.xlabel, axes.labelled(panel.ylabel, ylog), traces, ylog=ylog, note=note)


def _panels(panels: Panel | Sequence[Panel]) -> list[Panel]:
    return [panels] if isinstance(panels, (LossCurves, FitLine, FitCurve, SweepCurve, Histogram, SurfaceMap)) \
        else list(panels)


def _log10(t: _Trace, xlog: bool, ylog: bool) -> _Trace:
    """The trace with log axes' coordinates as log10, dropping points a log axis cannot show."""
    ys = t.y or [1.0] * len(t.x)  # a vline has no y
    keep = [(a, b) for a, b in zip(t.x, ys) if (a > 0 or not xlog) and (b > 0 or not ylog)]
    tx = [math.log10(a) if xlog else a for a, _ in keep]
    ty = [math.log10(b) if ylog else b for _, b in keep] if t.y else []
    return _Trace(t.kind, tx, ty, t.label, t.marker)


def _log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Tick positions (in log10 units) and labels in data units for a log axis."""
    decades = list(range(math.ceil(lo), math.floor(hi) + 1))
    if len(decades) >= 2:  # whole decades read best; thin them to at most six
        step = math.ceil(len(decades) / 6)
        return decades[::step], [f"1e{d}" for d in decades[::step]]
    ticks = [lo + (hi - lo) * i / 4 for i in range(5)] if hi > lo else [lo]
    return ticks, [f"{10 ** t:.3g}" for t in ticks]


def _linear_ticks(lo: float, hi: float, count: int = 6) -> tuple[list[float], list[str]]:
    """Round-numbered ticks (1, 2 or 5 times a power of ten apart), written plainly: 1000, not 1.0e3."""
    raw = (hi - lo) / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step) * step
    ticks = [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]
    return ticks, [f"{round(t, 10):g}" for t in ticks]


def _key(entries: list[tuple[str, str]], width: int) -> str:
    """The legend as text under the plot: inside the canvas it would hide data on small plots."""
    items = [f"{glyph} {label}" for glyph, label in entries]
    line = "   ".join(items)
    return line if len(line) <= width else "\n".join(items)


def render_terminal(panels: Panel | Sequence[Panel], width: int | None = None,
                    height: int | None = None, color: bool = False) -> str:
    """Draw panels one below the other as text; width defaults to the terminal's (40..120),
    height is per panel (default 20 rows). color=False gives plain text without ANSI codes."""
    import plotext

    if width is None:
        width = min(max(shutil.get_terminal_size((100, 24)).columns, 40), 120)
    height = height or 20
    fig = plotext.figure
    plotext.terminal.limit(False, False)  # we chose the size; do not let plotext shrink it
    blocks = []
    # plotext writes its own notes (warnings) to stdout/stderr; this module never prints.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for panel in _panels(panels):
            blocks.append(_surface_text(panel, width, height, color) if isinstance(panel, SurfaceMap)
                          else _terminal_panel(fig, panel, width, height, color))
        fig.clear()
    return "\n\n".join(blocks) + "\n"


def _terminal_panel(fig, panel: Panel, width: int, height: int, color: bool) -> str:
    """One panel drawn on plotext's (global) figure, as text."""
    lay = _layout(panel)
    fig.clear()
    fig.theme("simple" if color else "colorless")
    fig.plot_size(width, height)
    # plotext drops a title wider than the plot, and writes the y label at the left of the x label's
    # line: on a narrow terminal the title is shortened and the y label goes above the plot instead.
    fig.title(textwrap.shorten(lay.title, width - 2, placeholder="…"))
    fig.label(lay.xlabel, axis="x")
    above = len(lay.ylabel) + 2 > (width - len(lay.xlabel)) // 2
    fig.label("" if above else lay.ylabel, axis="y")
    # plotext 6's own log scale loses vertical lines: plot log10 values on linear axes
    # instead, and write the ticks in data units.
    traces = [t if t.kind in ("hist", "bars") else _log10(t, lay.xlog, lay.ylog) for t in lay.traces]
    for axis, log in (("x", lay.xlog), ("y", lay.ylog)):
        vals = [v for t in traces if t.kind not in ("hist", "bars") for v in (t.x if axis == "x" else t.y)]
        if vals:  # explicit ticks would clip the axis to them: pin the limits first
            lo, hi = min(vals), max(vals)
            lo, hi = (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)  # one value: a decade (or unit) around it
            fig.ruler(axis).lim(lo, hi)
            fig.ruler(axis).ticks(*(_log_ticks(lo, hi) if log else _linear_ticks(lo, hi)))
    key, lines = [], 0
    for t in traces:
        if t.kind == "hist" and t.x:
            fig.draw(fig.hist(t.x, bins=lay.bins))
        elif t.kind == "bars":
            fig.draw(fig.bar(t.x, t.y, labeled=True))
        elif t.kind == "vline" and t.x:
            fig.line(t.x[0], orientation="vertical")
            key.append(("│", t.label))
        elif t.kind in ("line", "points"):
            # Series differ by marker as well as colour, so the text key works either way.
            marker = LINE_MARKERS[lines % len(LINE_MARKERS)] if t.kind == "line" else t.marker
            lines += t.kind == "line"
            if t.x:
                sig = fig.signal(t.x, t.y, marker=marker)
                if t.kind == "line":
                    sig.lines()
                fig.draw(sig)
            if t.label:
                key.append(("▚" if marker == "hd" else marker, t.label))
    text = fig.build().string(colorless=not color).rstrip("\n")
    if above and lay.ylabel:  # under the title
        title, _, rest = text.partition("\n") if lay.title else ("", "", text)
        text = (title + "\n" if lay.title else "") + f"↑ {lay.ylabel}\n" + rest
    return text + ("\n" + _key(key, width) if key else "") + ("\n" + lay.note if lay.note else "")


def check_png_target(path: str | os.PathLike) -> Path:
    """Raise GdcliError unless a PNG can be written at path: commands call it before training."""
    from gdcli import files

    return files.check_picture_target(path, "plot_file", "out.png", "the plot file")


def write_png(panels: Panel | Sequence[Panel], path: str | os.PathLike, width_px: int = 1000,
              height_px: int | None = None, dpi: int = 100) -> Path:
    """Write panels, stacked vertically, to a PNG of exactly width_px x height_px pixels
    (height defaults to 500 per panel); the file appears whole or not at all (plots_png.py draws)."""
    path = check_png_target(path)
    from gdcli import plots_png

    items = _panels(panels)
    layouts = [None if isinstance(panel, SurfaceMap) else _layout(panel) for panel in items]
    return plots_png.write(items, layouts, path, width_px, height_px or 500 * len(items), dpi)
