"""Gradient methods: four real ways to fill theta.grad, one registry entry each (--method's choices).

Every method has the same shape: `fill(theta, rows, spec) -> loss`. It computes
the loss of each run at theta (runs, P) and writes theta.grad (runs, P), for
whichever model `spec` names (gdcli/models/). The optimizer that steps afterwards
never knows which method, or which model, ran.

`rows` holds the data the step sees: usually one (X, y) that every run shares, so
that their predictions are one matmul; runs that train on different rows (seeds
with their own split or their own generated data) come as one part per group
(rows.py). One module per method: differences.py (finite-diff), chain.py (analytic),
recorded.py (autograd), quadratic.py (gram); many runs over many rows go a block of
rows at a time in each per-row method (blocks.py).

torch is imported inside the functions (a dictionary lookup per call) so that the
CLI can list METHODS as its choices without loading torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from gdcli.gradients import blocks
from gdcli.gradients.chain import ChainRule, analytic, chain_rule  # noqa: F401
from gdcli.gradients.differences import FD_BUDGET, check_difference, check_step, finite_diff  # noqa: F401
from gdcli.gradients.quadratic import gram, gram_terms
from gdcli.gradients.recorded import autograd  # noqa: F401
from gdcli.gradients.rows import GramTensors, LossSpec, Part, Rows, gram_dtype, probe, shared  # noqa: F401
from gdcli import models
from gdcli.registry import add, lookup, remove

if TYPE_CHECKING:
    from torch import Tensor

# Beyond this many parameters a finite-difference step (2P + 1 loss evaluations) is refused.
FD_MAX_PARAMS = 10_000


@dataclass(frozen=True)
class Method:
    """A registry entry: the fill function, what it needs (autograd recording; the Gram statistics
    instead of the rows, full batch only; a model linear in its parameters) and its words."""

    name: str  # its --method value
    fill: Callable[[Tensor, Rows, LossSpec], Tensor]
    description: str  # what help says of it
    needs_autograd: bool = False
    needs_gram: bool = False
    needs_linear: bool = False  # only for a model linear in its parameters (linear, quadratic)


METHODS: dict[str, Method] = {}  # --method's choices, in the order registered


def register(entry: Method) -> Method:
    """Make a gradient method a choice of --method and of the API, under its `name`."""
    if entry.needs_gram and not entry.needs_linear:
        raise ValueError(f"method {entry.name!r} reads the Gram statistics, which only a model linear in its "
                         "parameters has: set needs_linear")
    return add(METHODS, entry, "method")


def unregister(entry) -> None:
    """Take a registered method away again (what a test that registers one does after it). Given by its name or as itself."""
    remove(METHODS, entry)


def get(name: str) -> Method:
    """The method called `name`; an unknown name is a GdcliError listing the registered ones."""
    return lookup(METHODS, name, "method")


register(Method("finite-diff", finite_diff, "central difference (L(p+d) - L(p-d)) / 2d per parameter"))
register(Method("analytic", analytic, "hand-derived chain rule, no autograd"))
register(Method("autograd", autograd, "loss.backward()", needs_autograd=True))
register(Method("gram", gram, "from X^T X and X^T y, summed once: O(k^2) per epoch (full batch)",
                needs_gram=True, needs_linear=True))


def gradient_at(method: str, theta: Tensor, rows: Rows, spec: LossSpec) -> tuple[Tensor, Tensor]:
    """(loss, gradient) of one method at fixed parameters, leaving theta untouched."""
    entry = get(method)
    return probe(entry.fill, entry.needs_autograd, theta, rows, spec)


def loss_at(theta: Tensor, rows: Rows, spec: LossSpec, from_gram: bool = False) -> Tensor:
    """Every run's loss (runs,) on `rows`, without a gradient: from the Gram statistics when asked."""
    import torch

    theta = theta.detach()
    if from_gram:
        return gram_terms(theta, rows, spec, gradient=False)[0]

    def one(part: Part, theta: Tensor) -> Tensor:
        model = spec.model_for(part.X, part.y)
        if blocks.wanted(part.X, theta.shape[0], model.row_width()):
            return blocks.losses(model, part.X, part.y, theta, spec.reduction)
        return models.loss(model.residuals(part.X, part.y, theta), spec.reduction)

    if len(rows.parts) == 1 and rows.parts[0].runs is None:
        return one(rows.parts[0], theta)
    out = torch.empty(theta.shape[0], dtype=theta.dtype, device=theta.device)
    for part in rows.parts:
        out[part.runs] = one(part, theta[part.runs])
    return out
