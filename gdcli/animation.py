"""A run as a moving picture (`gdcli fit --animate run.gif`, `gdcli.fit(..., animate="run.gif")`).

`frames_of` turns a RunResult into `Frames` (plain numbers: the epochs shown, the loss curve,
the data and the fitted line or curve at each shown epoch); `write` draws them with
matplotlib, epoch by epoch, beside the loss curve growing and, given a SurfaceMap, the path
growing on the loss surface, and writes a GIF (with Pillow, as matplotlib's PillowWriter does) atomically.
The frames come from the run's path (RunResult.path_epochs / path), thinned to MAX_FRAMES.
"""

from __future__ import annotations

import math
import os
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gdcli.errors import GdcliError, param
from gdcli.models import DEFAULT
from gdcli.plots_surface import PATH_COLORS, SurfaceMap, clip_path

if TYPE_CHECKING:
    from gdcli.data import Dataset
    from gdcli.train import RunResult

MAX_FRAMES = 200
DPI = 90  # with PANEL_INCHES, a frame of a few hundred pixels: the GIF stays small
PANEL_INCHES = (3.6, 3.0)  # each panel's width and the height
SECONDS = 8.0  # about how long the moving part lasts, however many frames it has
HOLD_SECONDS = 2.0  # the last frame stays this long before the GIF starts again
CURVE_POINTS = 2000  # the loss curve needs no more points than the panel has pixels
DATA_POINTS = 5000


@dataclass(frozen=True)
class Frames:
    """What an animation of one run shows, frame by frame, in plain numbers."""

    epochs: list[int]  # the epoch each frame shows, from 0 (the start)
    curve: tuple[list[int], list[float]]  # the training loss at the kept epochs of the whole run
    title: str
    loss_label: str
    data: tuple[list[float], list[float]] | None = None  # one feature against one target, in original units
    fits: list[tuple[list[float], list[float]]] | None = None  # the fitted line or curve at each frame
    xlabel: str = ""
    ylabel: str = ""
    diverged_at: int | None = None  # the last frame says so

    def __post_init__(self):
        if not self.epochs:
            raise ValueError("Frames needs one epoch at least")
        if self.fits is not None and len(self.fits) != len(self.epochs):
            raise ValueError("Frames needs one fitted line or curve per frame")


def check_target(path: str | os.PathLike) -> Path:
    """Raise GdcliError unless a GIF can be written at path: commands and the API call it before training."""
    from gdcli import files

    return files.check_picture_target(path, "animate", "run.gif", "the animation file")


def thinned(count: int, most: int | None = None) -> list[int]:
    """At most `most` (default MAX_FRAMES) indices of 0..count-1, evenly spread, the first and the last among them."""
    most = most or MAX_FRAMES
    if count <= most:
        return list(range(count))
    return sorted({round(i * (count - 1) / (most - 1)) for i in range(most)})


def _path(result: RunResult) -> tuple[list[int], list]:
    """The run's kept (epoch, parameters (P,)) up to its last finite parameters; its start and end without a path."""
    import torch

    if result.path is None or result.path_epochs is None:
        ends = [result.model.flat(result.initial_params), result.model.flat(result.params)]
        return [0, result.epochs_run], ends
    finite = torch.isfinite(result.path).all(dim=1).tolist()
    count = finite.index(False) if False in finite else len(finite)
    return result.path_epochs[:count].tolist(), list(result.path[:count])


def frames_of(result: RunResult, ds: Dataset) -> Frames:
    """The frames of a run: its path's epochs thinned, and for one feature and one target the fitted
    line (or curve) in original units at each of them, as figures.py draws the final one."""
    from gdcli import figures

    epochs, thetas = _path(result)
    keep = thinned(len(epochs))
    step = max(1, -(-len(result.epochs) // CURVE_POINTS))
    curve = (result.epochs[::step], result.train_loss[::step])
    cfg = result.config
    model = "" if result.model.name == DEFAULT else f"{result.model.name}, "  # as figures.fit_panels titles it
    title = f"{ds.name}: {model}{cfg.method} + {cfg.optim}, lr {cfg.lr:g}"
    frames = dict(epochs=[epochs[i] for i in keep], curve=curve, title=title,
                  loss_label=f"{cfg.reduction} squared error", diverged_at=result.diverged_at)
    if len(result.features) == 1 and len(result.targets) == 1:
        # A few thousand points show the cloud; millions only slow it.
        X, Y = ds.sample(DATA_POINTS)
        whole = ds.X if ds.held else X  # rows not held: the line spans the sample
        low, high = float(whole[:, 0].min()), float(whole[:, 0].max())
        x, y = X[:, 0].tolist(), Y[:, 0].tolist()
        fits = []
        for i in keep:
            params = result.model.named(thetas[i])
            if result.model.straight:
                slope, intercept = figures.line_of(params, result.transform)
                fits.append(([low, high], [slope * low + intercept, slope * high + intercept]))
            else:
                fits.append(figures.curve_of(result.model, params, result.transform, low, high))
        frames.update(data=(x, y), fits=fits, xlabel=ds.label(result.features[0]), ylabel=ds.label(result.targets[0]))
    return Frames(**frames)


def write(path: str | os.PathLike, frames: Frames, surface: SurfaceMap | None = None) -> Path:
    """Write the run as a GIF: the data with the fitted line moving (one feature and one target), the loss
    curve growing, and the path growing on `surface` where given; the file appears whole or not at all."""
    path = check_target(path)
    from matplotlib.figure import Figure

    from gdcli import files

    panels = 1 + (frames.fits is not None) + (surface is not None)
    fig = Figure(figsize=(PANEL_INCHES[0] * panels, PANEL_INCHES[1]), dpi=DPI, layout="constrained")
    axes = list(fig.subplots(1, panels, squeeze=False)[0])
    steps = [_fit_panel(axes.pop(0), frames)] if frames.fits is not None else []
    steps.append(_loss_panel(axes.pop(0), frames))
    if surface is not None:
        steps.append(_surface_panel(fig, axes.pop(0), frames, surface))
    heading = fig.suptitle(f"{frames.title} · epoch {frames.epochs[-1]}", fontsize="medium", animated=True)

    def step(k: int) -> None:
        for one in steps:
            one(k)
        heading.set_text(f"{frames.title} · epoch {frames.epochs[k]}" + _ending(frames, k))

    images = _render(fig, step, len(frames.epochs), heading)
    fps = min(25.0, max(4.0, len(images) / SECONDS))
    durations = [round(1000 / fps)] * (len(images) - 1) + [round(1000 * HOLD_SECONDS)]
    # Pillow is matplotlib's own dependency (its PillowWriter writes GIFs with it too).
    return files.write_atomic(path, lambda tmp: images[0].save(
        tmp, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0))


def _render(fig, step, count: int, heading) -> list:
    """Each frame as a paletted image: the still parts drawn once, the moving ones (the artists marked
    animated) drawn over a copy of them each frame, as matplotlib's blitting does."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(fig)
    moving = fig.findobj(lambda a: a.get_animated())
    for artist in moving:
        # Lines start empty (an empty line must not move the layout); the heading keeps its room.
        artist.set_in_layout(artist is heading)
    canvas.draw()  # lays the figure out and draws all but the moving artists
    fig.set_layout_engine("none")  # laid out once: the frames must not shift as their titles change
    still = canvas.copy_from_bbox(fig.bbox)
    images, palette = [], None
    for k in range(count):
        step(k)
        canvas.restore_region(still)
        for artist in moving:
            fig.draw_artist(artist)
        image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        image = image.convert("RGB")
        # One palette for every frame (the first's): no flicker, and frames differ only where the picture moved.
        palette = palette or image.quantize(255)
        images.append(image.quantize(palette=palette, dither=Image.Dither.NONE))
    return images


def _ending(frames: Frames, k: int) -> str:
    last = k == len(frames.epochs) - 1
    return f" · diverged at epoch {frames.diverged_at}" if last and frames.diverged_at is not None else ""


def _limits(values: list[float], log: bool = False) -> tuple[float, float]:
    """Axis limits around the finite values, with a margin (a factor on a log axis)."""
    finite = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
    if not finite:
        return (0.1, 10.0) if log else (0.0, 1.0)
    lo, hi = min(finite), max(finite)
    if log:
        return lo / 1.5, hi * 1.5
    pad = 0.08 * (hi - lo) or 0.5 * abs(hi) or 1.0
    return lo - pad, hi + pad


def _fit_panel(ax, frames: Frames):
    """The data as points, the fitted line or curve drawn anew each frame; the axes stay on the data."""
    x, y = frames.data
    ax.plot(x, y, linestyle="none", marker="o", markersize=3, color="tab:blue", alpha=0.7, label="data")
    line = ax.plot([], [], color="tab:red", linewidth=2, label="fit", animated=True)[0]
    ax.set(xlim=_limits(x + frames.fits[0][0]), ylim=_limits(y), xlabel=frames.xlabel, ylabel=frames.ylabel,
           title="data and fit")
    ax.legend(fontsize="small", loc="best")

    def step(k: int) -> None:
        line.set_data(*frames.fits[k])

    return step


def _loss_panel(ax, frames: Frames):
    """The training loss curve up to each frame's epoch, on axes that hold the whole run."""
    from gdcli import plots_axes as axes

    epochs, losses = frames.curve
    log, _ = axes.log_axis({"the loss": losses}, None)  # the loss curves' rule, said on the label as there
    ax.set_yscale("log" if log else "linear")
    ax.set(xlim=(0, max(frames.epochs[-1], epochs[-1] if epochs else 1, 1)), ylim=_limits(losses, log),
           xlabel="epoch", ylabel=axes.labelled(frames.loss_label, log), title="training loss")
    line = ax.plot([], [], color="tab:blue", animated=True)[0]
    head = ax.plot([], [], marker="o", markersize=5, color="tab:blue", animated=True)[0]
    ax.grid(True, alpha=0.3)
    ax.xaxis.get_major_locator().set_params(integer=True)  # epochs are whole: no 0.2, 0.4 on a short run

    def step(k: int) -> None:
        shown = bisect_right(epochs, frames.epochs[k])
        xs, ys = epochs[:shown], losses[:shown]
        line.set_data(xs, ys)
        head.set_data(xs[-1:], ys[-1:])

    return step


def _surface_panel(fig, ax, frames: Frames, surface: SurfaceMap):
    """The loss surface, each path drawn up to each frame's epoch (clipped at the frame)."""
    from gdcli.plots_surface_png import draw_contours, polyline

    draw_contours(fig, ax, surface, colorbar=True, label="loss − least, log")
    ax.set_title("loss surface")  # the figure's title names the run; the surface's own is too long for a panel
    if surface.to_scale:
        ax.set_aspect("equal", adjustable="box")
    drawn = []
    for i, (label, (xs, ys)) in enumerate(surface.paths.items()):
        color = PATH_COLORS[i % len(PATH_COLORS)]
        line = ax.plot([], [], color=color, linewidth=1.5, marker="o", markersize=2, label=label, animated=True)[0]
        head = ax.plot([], [], marker="o", markersize=6, color=color, markeredgecolor="black", clip_on=False,
                       animated=True)[0]
        epochs = (surface.path_epochs or {}).get(label)
        drawn.append((xs, ys, epochs, line, head))
    if len(drawn) > 1:
        ax.legend(fontsize="x-small", loc="best")
    last = max(frames.epochs[-1], 1)

    def step(k: int) -> None:
        for xs, ys, epochs, line, head in drawn:
            if epochs is not None:
                count = bisect_right(epochs, frames.epochs[k])
            else:  # points evenly spread over the run
                count = 1 + math.floor(frames.epochs[k] / last * (len(xs) - 1) + 1e-9)
            clipped = clip_path(xs[:count], ys[:count], surface.frame)
            line.set_data(*polyline(clipped))
            tip = [p for p, _ in clipped.exits] + [p for p in (clipped.end, clipped.vanished) if p is not None]
            head.set_data([p[0] for p in tip], [p[1] for p in tip])
            head.set_marker("x" if clipped.exits or clipped.vanished else "o")

    return step
