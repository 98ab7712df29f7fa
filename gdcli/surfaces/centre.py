"""Where a slice passes through, and which path points its principal directions come from.

A slice is centred on the final parameters of the first drawn run that did not diverge (fit:
its own; compare: the first strategy that converged; sweep: the best), so that a run blown
up to |theta| ~ 1e18 does not drag the picture out there. Where every drawn run diverged it
is centred on the first run's start, and the directions come from each path's points while
it stayed within TRUST x max(1, |start|) of its start: past that distance a diverging run
moves along its unstable direction only, its points growing geometrically, and as many of
them would carry all the variance. The first point outside is kept, pulled back onto that
boundary, so that a path which leaves at its first kept step still gives the way it left.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor

TRUST = 10.0  # the trust region's radius, in units of max(1, |start|)


@dataclass(frozen=True)
class Centre:
    """A slice's centre, whose it is in words, the start that orients its axes, and the
    path points (m, P) its principal directions are computed from."""

    theta: Tensor
    whose: str  # "the final parameters of autograd:gd", "the start of autograd:gd"
    start: Tensor
    points: Tensor


def choose(model, drawn: list, paths: dict, prefix: str = "") -> Centre:
    """The centre of a slice through the drawn runs (label, RunResult) and their paths (label ->
    (epochs, (m, P))); `prefix` names what a label is ("the run " for a sweep's "lr 0.01")."""
    import torch

    ends = {label: model.flat(r.params) for label, r in drawn if not r.verdict.diverged}
    converged = [label for label, end in ends.items() if _finite(end)]
    if converged:
        label = converged[0]
        points = torch.cat([paths[k][1] for k in converged])
        return Centre(ends[label], f"the final parameters of {prefix}{label}", paths[label][1][0], points)
    label = drawn[0][0]
    points = torch.cat([trusted(paths[k][1]) for k, _ in drawn])
    return Centre(paths[label][1][0], f"the start of {prefix}{label} (every run drawn diverged)",
                  paths[label][1][0], points)


def trusted(path: Tensor) -> Tensor:
    """A diverged path's points while within the trust region about its start, and the first
    point outside pulled back onto its boundary (dropped where not finite)."""
    import torch

    start = path[0]
    radius = TRUST * max(1.0, float(torch.linalg.vector_norm(start)))
    distances = torch.linalg.vector_norm(path - start, dim=1)
    inside = distances <= radius  # nan and inf compare False: outside
    left = int(inside.logical_not().nonzero()[0]) if not bool(inside.all()) else path.shape[0]
    kept = path[:left]
    if left < path.shape[0] and _finite(path[left]):
        out = path[left]
        kept = torch.cat([kept, (start + (out - start) * (radius / distances[left])).unsqueeze(0)])
    return kept


def _finite(theta: Tensor) -> bool:
    return bool(theta.isfinite().all())
