"""A Surface from finished runs: the plane, the paths on it, the frame, and the loss over its grid."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from gdcli.surfaces import centre as centres
from gdcli.surfaces import losses, names
from gdcli.surfaces import plane as planes
from gdcli.surfaces.result import Axis, Surface, SurfacePath

if TYPE_CHECKING:
    from torch import Tensor

    from gdcli.data import Prepared
    from gdcli.train import RunResult

SIZE = 200  # grid points along each axis
# Said of every slice: a path's point on it is the run's parameters projected, not the run's loss.
PROJECTED = ("the paths are projected onto the slice: the loss under a path's point is the slice's there, "
             "not the run's")
GRAM_INPUTS = 2048  # inputs up to which a Gram matrix not yet computed is worth computing for a surface


def flat(model, params: dict | None) -> Tensor | None:
    """Parameters by name as (P,) float64, or None."""
    return None if params is None else model.flat(params)


def path_of(model, result: RunResult) -> tuple[Tensor, Tensor]:
    """(epochs, parameters (m, P)) of a run's path: the kept one, or its start and end."""
    import torch

    if result.path is not None:
        return result.path_epochs, result.path.to(torch.float64)
    thetas = torch.stack([model.flat(result.initial_params), model.flat(result.params)])
    return torch.tensor([0, result.epochs_run], dtype=torch.int64), thetas


def surface(drawn: list[tuple[str, RunResult]], prep: Prepared, model, params=None, size: int = SIZE,
            notes: tuple[str, ...] = (), title: str = "loss surface", called: str = "") -> Surface:
    """The loss surface of the first run's training rows `prep`, with every drawn run's path.

    A model of two parameters is drawn over them; any other as a slice (see gdcli.surfaces.centre
    for where it passes through), along the paths' principal directions or the two `params` named.
    `called` is what a run's label names, before it, in the notes ("the run " for "lr 0.01").
    """
    import torch

    anchor = drawn[0][1]
    paths = {label: path_of(model, r) for label, r in drawn}
    notes = list(notes)
    if model.size == 2:
        i, j = names.resolve(model, anchor.features, anchor.targets, params) if params else (0, 1)
        plane = planes.along_parameters(torch.zeros(2, dtype=torch.float64), i, j)
        axes, kind, origin = _named_axes(model, i, j), "parameters", None
    else:
        plane, axes, origin = _slice(model, drawn, paths, params, called, notes)
        kind = "slice"
    best = flat(model, anchor.optimum_params) if model.linear_in_params else None
    on_plane = [(label, r, *plane.project(paths[label][1])) for label, r in drawn]
    optimum = tuple(float(v) for v in plane.project(best.unsqueeze(0))) if best is not None else None
    xs, ys, loss = _grid(plane, on_plane, optimum, prep, model, anchor, best, size, notes)
    if optimum is not None and kind == "slice":
        notes.append("the optimum is marked where it projects onto the slice")
    bound, bound_kind = _bound(drawn, model)
    return Surface(
        kind=kind, standardized=anchor.transform.mean is not None, scale=float(anchor.transform.scale), axes=axes, x=xs.tolist(), y=ys.tolist(),
        loss=loss.tolist(), paths=[SurfacePath(label, paths[label][0].tolist(), x.tolist(), y.tolist(),
                                               r.verdict.diverged) for label, r, x, y in on_plane],
        optimum=optimum, reduction=anchor.config.reduction, origin=origin, stable_lr=bound,
        stable_lr_kind=bound_kind, notes=notes, title=title,
    )


def _slice(model, drawn: list, paths: dict, params, called: str, notes: list) -> tuple:
    """(plane, axes, origin by name) of a slice, with the note that says what it holds and shows."""
    anchor = drawn[0][1]
    centre = centres.choose(model, drawn, paths, called)
    if params:
        notes.append(f"every other parameter is held at {centre.whose}; {PROJECTED}")
        i, j = names.resolve(model, anchor.features, anchor.targets, params)
        plane, axes = planes.along_parameters(centre.theta, i, j), _named_axes(model, i, j)
    else:
        notes.append(f"the slice passes through {centre.whose}, every parameter held there off its two "
                     f"directions; {PROJECTED}")
        plane, axes = _principal(model, centre, anchor.config.seed, notes)
    return plane, axes, model.named(centre.theta)


def _named_axes(model, i: int, j: int) -> tuple[Axis, Axis]:
    every = names.canonical(model)
    return Axis(every[i], parameter=every[i]), Axis(every[j], parameter=every[j])


def _principal(model, centre: centres.Centre, seed: int, notes: list) -> tuple:
    """The principal plane of the centre's path points (those of the runs that did not diverge, else
    the diverged paths' points within their trust region)."""
    found = planes.principal(centre.theta, centre.points, centre.start, seed)
    labels = []
    for k, share in enumerate(found.explained):
        if share is not None:
            labels.append(f"PC{k + 1} ({percent(share)} of the path's movement)")
        elif k == 0:
            labels.append(f"a random direction (seed {seed})")
        else:
            labels.append(f"a random direction orthogonal to {'PC1' if found.random == 1 else 'x'} (seed {seed})")
    if found.random:
        notes.append("the paths moved along " + ("no direction" if found.random == 2 else "one line only")
                     + ": the slice is completed by a seeded random direction")
    p = found.plane
    axes = tuple(Axis(label, direction=model.named(d), explained=share)
                 for label, d, share in zip(labels, (p.ex, p.ey), found.explained))
    return p, axes


def percent(share: float) -> str:
    """A share as a percentage, with the digits that keep a small one off 0% and a large one off 100%."""
    rest = min(share, 1.0 - share) * 100
    if rest >= 1 or rest <= 0:
        return f"{share:.0%}"
    if rest < 1e-3:
        return "under 0.001%" if share < 0.5 else "over 99.999%"
    return f"{share * 100:.{-math.floor(math.log10(rest))}f}%"


def _grid(plane, on_plane: list, optimum, prep: Prepared, model, anchor: RunResult, best, size: int, notes: list):
    """The frame's coordinates and the loss over them: from the Gram statistics where the model is
    linear in its parameters and its optimum is known, else on the rows (coarser where too large).
    Both axes span the same length in parameter units (a slice's directions are unit vectors), so that
    the surface drawn to scale shows its true shape."""
    import torch

    cover_x, cover_y = [], []
    for _, r, x, y in on_plane:
        keep = slice(None) if not r.verdict.diverged else slice(0, 1)  # a diverged path: its start only
        cover_x += x[keep].tolist()
        cover_y += y[keep].tolist()
    if optimum is not None:
        cover_x.append(optimum[0])
        cover_y.append(optimum[1])
    x0, x1, y0, y1 = planes.frame(cover_x, cover_y, square=True)
    gram = _gram(prep, model) if best is not None and anchor.optimum_loss is not None else None
    if gram is None:
        side = losses.side_for(size, prep.n_train, model.size)
        if side < size:
            notes.append(f"a {side} x {side} grid: {size} x {size} on {prep.n_train:,} rows would take too long")
        size = side
    xs = torch.linspace(x0, x1, size, dtype=torch.float64)
    ys = torch.linspace(y0, y1, size, dtype=torch.float64)
    if gram is not None:
        loss = losses.from_gram(plane, xs, ys, model, gram, best, anchor.optimum_loss, anchor.config.reduction)
    else:
        loss = losses.from_rows(plane, xs, ys, model, lambda: prep.reference("train"), anchor.config.reduction)
    return xs, ys, loss


def _gram(prep: Prepared, model):
    """The training rows' Gram statistics: those the optimum was solved from, or computed now where small."""
    if "reference" in prep.cache or model.inputs <= GRAM_INPUTS:
        return prep.gram()
    return None


def _bound(drawn: list, model) -> tuple[float | None, str | None]:
    """2/λmax, the stability bound on lr of the first gd or sgd run without momentum or weight decay."""
    for _, r in drawn:
        plain = r.config.optim in ("gd", "sgd") and not r.config.momentum and not r.config.weight_decay
        if plain and r.stable_lr is not None and math.isfinite(r.stable_lr):
            return r.stable_lr, "exact" if model.linear_in_params else "local estimate"
    return None, None
