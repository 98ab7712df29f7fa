"""Which picture each command draws: results in, plots.py panels (plain numbers) out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gdcli import plots
from gdcli.models import DEFAULT

if TYPE_CHECKING:
    from gdcli.data import Dataset
    from gdcli.sampling import Sample
    from gdcli.surfaces import Surface
    from gdcli.train import RunResult

MAX_POINTS = 2000  # a curve needs no more points than a screen or a PNG has columns


def _kept(count: int, most: int) -> list[int]:
    """Every step-th of `count` indices, about `most` of them, and always the last: where a run ended
    (or diverged, or left a surface's frame)."""
    step = max(1, -(-count // most))  # ceiling division
    keep = list(range(0, count, step))
    if keep and keep[-1] != count - 1:
        keep.append(count - 1)
    return keep


def _thin(epochs: list[int], losses: list[float]) -> tuple[list[int], list[float]]:
    keep = _kept(len(epochs), MAX_POINTS)
    return [epochs[i] for i in keep], [losses[i] for i in keep]


def _curve(result: RunResult, losses: list[float]) -> tuple[list[int], list[float]]:
    """A run's kept losses against their epochs (every epoch, or the logged ones)."""
    return _thin(result.epochs, losses)


def _marks(labels: list[str], results: list[RunResult]) -> dict[str, int]:
    """Each diverged run's curve marked at the epoch its verdict names."""
    return {label: r.diverged_at for label, r in zip(labels, results) if r.diverged_at is not None}


def fit_panels(result: RunResult, ds: Dataset, log_loss: bool = False) -> list:
    """The loss curve (its axis log with `log_loss`, else where it spans two decades), and for one feature
    and one target the data with the fitted line in original units."""
    series = {"train": _curve(result, result.train_loss)}
    if result.val_loss is not None:
        series["validation"] = _curve(result, result.val_loss)
    model = "" if result.model.name == DEFAULT else f"{result.model.name}, "
    title = f"{ds.name}: {model}{result.config.method} + {result.config.optim}, lr {result.config.lr:g}"
    unit = ds.units.get(result.targets[0]) if len(result.targets) == 1 else None
    ylabel = f"{result.config.reduction} squared error" + (f" ({unit}²)" if unit and unit != "unknown units" else "")
    # One mark per run, on its training curve: "diverged at epoch N" as the run's message says.
    panels = [plots.LossCurves(series, title, ylabel=ylabel, diverged_at=_marks(["train"], [result]),
                               log=log_loss or None)]
    panels += sharpness_panels({"sharpness": result}, f"{ds.name}: sharpness against the edge of stability")
    if len(result.features) == 1 and len(result.targets) == 1 and not result.verdict.diverged:
        X, Y = ds.sample(None if ds.held else SAMPLE_POINTS)  # rows not held: a sample shows the cloud
        x, y = X[:, 0].tolist(), Y[:, 0].tolist()
        labels = dict(xlabel=ds.label(result.features[0]), ylabel=ds.label(result.targets[0]))
        if result.model.straight:
            slope, intercept = original_units_line(result)
            panels.append(
                plots.FitLine(x, y, slope, intercept, **labels, title=f"{ds.name}: data and fitted line (original units)")
            )
        else:
            curve_x, curve_y = fitted_curve(result, min(x), max(x))
            panels.append(
                plots.FitCurve(
                    x, y, curve_x, curve_y, f"fitted {result.model.name}", **labels,
                    title=f"{ds.name}: data and fitted {result.model.name} (original units)",
                )
            )
    return panels


CURVE_POINTS = 200  # points along a fitted curve
SAMPLE_POINTS = 5000  # rows of data not held that a scatter shows


def fitted_curve(result: RunResult, low: float, high: float) -> tuple[list[float], list[float]]:
    """The model's predictions along the raw input from `low` to `high`, as predict makes them."""
    return curve_of(result.model, result.params, result.transform, low, high)


def curve_of(model, params: dict[str, list], transform, low: float, high: float) -> tuple[list[float], list[float]]:
    """A model's predictions with `params` along the raw input from `low` to `high` (any epoch's parameters)."""
    import torch

    from gdcli.models import outputs

    xs = torch.linspace(low, high, CURVE_POINTS, dtype=torch.float64).view(-1, 1)
    ys = outputs(model, params, transform, xs)
    return xs.flatten().tolist(), ys[:, 0].tolist()


def original_units_line(result: RunResult) -> tuple[float, float]:
    """Slope and intercept against the raw input: the model saw x' = (x * scale - mean) / std."""
    return line_of(result.params, result.transform)


def line_of(params: dict[str, list], transform) -> tuple[float, float]:
    """Slope and intercept against the raw input of a line with `params` (any epoch's), which saw
    x' = (x * scale - mean) / std."""
    t = transform
    w, b = params["weight"][0][0], params["bias"][0]
    mean, std = (t.mean[0], t.std[0]) if t.mean is not None else (0.0, 1.0)
    return w * t.scale / std, b - w * mean / std


def compare_panels(labels: list[str], results: list[RunResult], dataset: str, log_loss: bool = False) -> list:
    """Every run's loss curve on one set of axes (log with `log_loss`)."""
    series = {label: _curve(r, r.train_loss) for label, r in zip(labels, results)}
    panels = [plots.LossCurves(series, f"{dataset}: loss by strategy", diverged_at=_marks(labels, results),
                               log=log_loss or None)]
    return panels + sharpness_panels(dict(zip(labels, results)), f"{dataset}: sharpness by strategy")


def sweep_panels(runs: list[RunResult], dims: list[str], dataset: str, log_loss: bool = False) -> list:
    """Final loss against learning rate when lr varies; otherwise each run's logged loss curve (the loss
    axis log with `log_loss`).

    `runs` come best first. When other settings vary too, the curve follows the
    best run's values of them, so that it is one line through one setting.
    """
    if "lr" in dims:
        best = runs[0].config
        others = [d for d in dims if d != "lr"]
        line = sorted(
            (r for r in runs if all(getattr(r.config, d) == getattr(best, d) for d in others)),
            key=lambda r: r.config.lr,
        )
        bounds = [r.stable_lr for r in line if r.stable_lr is not None]
        title = f"{dataset}: final loss by learning rate ({best.method} + {best.optim})"
        if others:
            title += ", " + ", ".join(f"{d.replace('_', ' ')} {getattr(best, d)}" for d in others) + " (the best run's)"
        return [
            plots.SweepCurve(
                [r.config.lr for r in line],
                [r.final_loss for r in line],
                [r.verdict.diverged for r in line],
                min(bounds) if bounds else None,
                title,
                log=log_loss or None,
            )
        ]
    shown = runs[:8]
    labels = [", ".join(f"{d} {getattr(r.config, d)}" for d in dims) or "run" for r in shown]
    series = {label: (r.epochs, r.train_loss) for label, r in zip(labels, shown)}  # the logged epochs
    return [plots.LossCurves(series, f"{dataset}: loss at the logged epochs", diverged_at=_marks(labels, shown),
                             log=log_loss or None)]


PATH_POINTS = 500  # points of a path on a surface: a screen or a PNG shows no more


def _coordinates(surface: Surface) -> str:
    """What a line's weight and bias are measured against: raw, scaled or standardized inputs."""
    if surface.standardized:
        return "standardized inputs' coordinates"
    return "raw inputs' coordinates" if surface.scale == 1 else f"coordinates of the inputs scaled by {surface.scale:g}"


def surface_panel(surface: Surface):
    """The loss surface as plots_surface.SurfaceMap: the grid, each path thinned for the screen, the
    optimum, axes that say what they are, and a note with the bound that shapes the bowl."""
    from gdcli.plots_surface import SurfaceMap

    paths, epochs = {}, {}
    for path in surface.paths:
        keep = _kept(len(path.x), PATH_POINTS)
        paths[path.label] = ([path.x[i] for i in keep], [path.y[i] for i in keep])
        epochs[path.label] = [path.epochs[i] for i in keep]
    notes = [_coordinates(surface)] if surface.kind == "parameters" else []
    if surface.stable_lr is not None:
        sign = "=" if surface.stable_lr_kind == "exact" else "≈"
        at = "" if surface.stable_lr_kind == "exact" else " (estimated at the start)"
        notes.append(f"stable lr < 2/λmax {sign} {surface.stable_lr:.3g}{at}")
    notes += surface.notes
    return SurfaceMap(surface.x, surface.y, surface.loss, paths, surface.optimum, surface.axes[0].label,
                      surface.axes[1].label, surface.title, "; ".join(notes), path_epochs=epochs,
                      to_scale=True)  # both axes in parameter units: a slice's directions are unit vectors


def sample_panels(sample: Sample) -> list:
    """A histogram of everything drawn, or a bar per category for multinomial."""
    title = f"{sample.distribution}, seed {sample.seed}"
    if sample.categories:
        counts = {str(c.index): c.count for c in sample.categories}
        return [plots.Histogram(None, counts, title, xlabel="category index")]
    values = sample.draws.flatten().tolist()
    return [plots.Histogram(values, None, title, xlabel="value", bins=min(30, max(5, len(set(values)))))]


def sharpness_panels(runs: dict[str, RunResult], title: str) -> list:
    """With --sharpness: each run's sharpness against epochs, with the edge of stability 2/lr as a line
    (one per distinct edge), to sit under the loss curve; [] without."""
    import math

    from gdcli.report.sharpness import edge_name

    series, edges = {}, {}
    for label, r in runs.items():
        if r.sharpness is None:
            continue
        epochs, values, edge = r.sharpness_epochs.tolist(), r.sharpness.tolist(), r.sharpness_edge.tolist()
        series[label] = _thin(*_finite_pairs(epochs, values)) if epochs else ([], [])
        kept = [(e, v) for e, v in zip(epochs, edge) if math.isfinite(v)]
        if kept:
            edges.setdefault(tuple(v for _, v in kept), (label, [e for e, _ in kept], edge_name(r.config)))
    if not series:
        return []
    several, bounds = len(edges) > 1, []
    for values, (label, epochs, name) in edges.items():
        bounds.append(f"{name} ({label})" if several else name)
        series[bounds[-1]] = ([*epochs], [*values])
    return [plots.LossCurves(series, title, ylabel="largest Hessian eigenvalue", diverged_at={}, bounds=tuple(bounds))]


def _finite_pairs(epochs: list[int], values: list[float]) -> tuple[list[int], list[float]]:
    import math

    kept = [(e, v) for e, v in zip(epochs, values) if math.isfinite(v)]
    return [e for e, _ in kept], [v for _, v in kept]
