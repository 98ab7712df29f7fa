"""What a loss surface is, once computed: its axes, grid, losses, the runs' paths and the optimum."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Axis:
    """One axis of a surface: a parameter, or a direction through the parameters."""

    label: str  # what it shows: "weight[0, 0]", "PC1 (83% of the path's movement)"
    parameter: str | None = None  # the parameter's torch.nn name, where the axis is one parameter
    direction: dict | None = None  # a unit direction by parameter name (a slice's principal or random axis)
    explained: float | None = None  # the share of the path's movement along it (principal components)

    def to_dict(self) -> dict:
        """The axis as JSON-ready data."""
        return {"label": self.label, "parameter": self.parameter, "direction": self.direction,
                "explained": self.explained}


@dataclass(frozen=True)
class SurfacePath:
    """One run's path on a surface: its kept epochs and their coordinates, from its start."""

    label: str
    epochs: list[int]
    x: list[float]
    y: list[float]
    diverged: bool

    def to_dict(self) -> dict:
        """The path as JSON-ready data (a coordinate that is not finite is null)."""
        return {"label": self.label, "epochs": self.epochs, "x": self.x, "y": self.y, "diverged": self.diverged}


@dataclass(frozen=True)
class Surface:
    """The training loss over a grid of two coordinates, with each run's path across it.

    kind "parameters": the axes are a line's two parameters themselves; "slice": a plane
    through `origin` (the parameters by name) along two directions, every other parameter
    held there. `loss[j][i]` is the loss at (x[i], y[j]); nan or inf where it is not finite.
    """

    kind: str
    standardized: bool  # coordinates of standardized inputs (normalize), not raw ones
    axes: tuple[Axis, Axis]
    x: list[float]
    y: list[float]
    loss: list[list[float]]
    paths: list[SurfacePath]
    optimum: tuple[float, float] | None  # where the least-squares optimum lies (projected onto a slice)
    reduction: str
    origin: dict | None = None  # a slice's origin: every parameter by name
    stable_lr: float | None = None  # the bound on gd's lr that shapes the bowl, where known
    stable_lr_kind: str | None = None  # "exact", or "local estimate" at the start for a network
    notes: list[str] = field(default_factory=list)
    title: str = "loss surface"
    scale: float = 1.0  # the inputs' scale factor before any standardizing (the book's 0.1 on celsius)  # "celsius: loss surface (a path per run)"

    @property
    def note(self) -> str:
        """The notes as one line."""
        return "; ".join(self.notes)

    def to_dict(self) -> dict:
        """The surface as `--output json` writes it (non-finite values as null)."""
        from gdcli.emit import clean

        return clean({
            "title": self.title,
            "kind": self.kind,
            "standardized": self.standardized,
            "scale": self.scale,
            "reduction": self.reduction,
            "axes": [a.to_dict() for a in self.axes],
            "origin": self.origin,
            "x": self.x,
            "y": self.y,
            "loss": self.loss,
            "paths": [p.to_dict() for p in self.paths],
            "optimum": None if self.optimum is None else {"x": self.optimum[0], "y": self.optimum[1]},
            "stable_lr": self.stable_lr,
            "stable_lr_kind": self.stable_lr_kind,
            "note": self.note,
        })

    def summary(self) -> str:
        """A few lines that say what the surface shows."""
        import math

        finite = [v for row in self.loss for v in row if math.isfinite(v)]
        span = f"loss {min(finite):.6g} to {max(finite):.6g}" if finite else "no finite loss"
        lines = [
            f"loss surface ({self.kind}{', standardized' if self.standardized else ''}): "
            f"{len(self.x)} x {len(self.y)} grid, {span}",
            f"x: {self.axes[0].label}, {self.x[0]:.6g} to {self.x[-1]:.6g}",
            f"y: {self.axes[1].label}, {self.y[0]:.6g} to {self.y[-1]:.6g}",
        ]
        lines += [f"path {p.label}: {len(p.epochs)} points" + (", diverged" if p.diverged else "") for p in self.paths]
        if self.optimum is not None:
            lines.append(f"optimum at ({self.optimum[0]:.6g}, {self.optimum[1]:.6g})")
        return "\n".join(lines + ([self.note] if self.notes else []))

    def panel(self):
        """The surface as a picture's panel (gdcli.plots_surface.SurfaceMap): each path thinned for the
        screen, axes that say what they are, a note with the bound that shapes the bowl."""
        from gdcli import figures

        return figures.surface_panel(self)

    def text(self, width: int = 100, color: bool = False) -> str:
        """The surface drawn in characters, as `--plot` draws it (a heatmap with each path on it)."""
        from gdcli import plots

        return plots.render_terminal([self.panel()], width=width, color=color)

    def to_png(self, path) -> None:
        """Write the surface to a PNG (filled contours with each path on it; needs matplotlib)."""
        from gdcli import plots

        plots.write_png([self.panel()], path, height_px=700)

    def __rich_console__(self, console, options):
        from rich.text import Text

        yield Text(self.text(width=max(40, min(options.max_width, 120))))

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """Jupyter's display: the PNG where matplotlib is installed, and the picture in characters."""
        bundle = {"text/plain": self.text()}
        png = self._png()
        if png is not None:
            bundle["image/png"] = png
        return bundle

    def _png(self) -> bytes | None:
        import importlib.util
        import tempfile
        from pathlib import Path

        if importlib.util.find_spec("matplotlib") is None:
            return None
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "surface.png"
            self.to_png(path)
            return path.read_bytes()

    def __repr__(self) -> str:
        paths = f"{len(self.paths)} path" + ("" if len(self.paths) == 1 else "s")
        return f"Surface({self.kind}, {self.axes[0].label} x {self.axes[1].label}, {paths})"
