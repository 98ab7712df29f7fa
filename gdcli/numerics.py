"""How gdcli compares two gradients, and central differences batched over points and perturbations.

One definition of the relative difference serves every command (grad, compare, the training code):

    relative difference = |found - reference| / max(|reference|, tiny)

where `tiny` is the smallest positive normal number of float64 (about 2.2e-308). It only keeps a
zero reference from dividing by zero: where the reference is 0 the relative difference is 0 if
`found` is 0 too, and enormous otherwise (read the absolute difference there). A nan on either side,
or inf - inf, gives nan: a check that cannot be made fails instead of reading as agreement.
Nothing here prints; torch is imported inside the functions.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import torch

# The smallest positive normal float64: the floor under |reference| in the relative difference.
TINY = 2.2250738585072014e-308


def differences(found: "torch.Tensor", reference: "torch.Tensor") -> tuple[float, float]:
    """Max absolute and max relative difference of `found` from `reference` (see the module docstring).

    Both are computed in float64 after broadcasting; empty tensors differ by (0.0, 0.0).
    """
    import torch

    found, reference = torch.broadcast_tensors(found.detach().double(), reference.detach().double())
    if found.numel() == 0:
        return 0.0, 0.0
    diff = (found - reference).abs()
    rel = diff / reference.abs().clamp_min(TINY)
    # torch's max propagates nan, so one undefined element makes the whole check nan.
    return diff.max().item(), rel.max().item()


def central_difference(
    f: Callable[["torch.Tensor"], "torch.Tensor"],
    x: "torch.Tensor",
    delta: float,
    max_elements: int | None = None,
) -> tuple["torch.Tensor", "torch.Tensor"]:
    """f at x and its central-difference gradient (f(x + delta e_i) - f(x - delta e_i)) / (2 delta).

    `x` has shape (B, *S): B independent points of P = prod(S) elements each. `f` takes a tensor
    (B, m, *S), m parameter sets per point, and returns their values, shape (B, m). The 2P + 1 sets
    [x, x + delta e_1, ..., x + delta e_P, x - delta e_1, ..., x - delta e_P] go to `f` in one call,
    or in calls of at most `max_elements` elements (B * m * P, with m at least 1) when it is given.
    Returns (f at x, shape (B,)) and (the gradient, shape (B, *S)), in x's dtype.
    """
    import torch

    if not (math.isfinite(delta) and delta > 0):
        raise ValueError(f"delta must be a positive finite number, not {delta!r}")
    if x.dim() < 1:
        raise ValueError("x needs a leading dimension of points: shape (B, *S)")
    batch, shape = x.shape[0], tuple(x.shape[1:])
    size = math.prod(shape)
    total = 2 * size + 1
    per_call = total if max_elements is None else max(1, max_elements // max(1, batch * size))
    flat = x.detach().reshape(batch, 1, size)
    values = []
    for start in range(0, total, per_call):
        sets = torch.arange(start, min(start + per_call, total), device=x.device)
        points = flat.expand(batch, len(sets), size).clone()
        moved = sets > 0
        # Set k moves element (k - 1) mod P: up for k <= P, down after. x_i + delta is rounded
        # exactly as a lone perturbed copy would be, so batching changes no digit.
        column = (sets[moved] - 1) % size
        sign = torch.where(sets[moved] <= size, 1.0, -1.0).to(x.dtype)
        rows = torch.nonzero(moved).flatten()
        points[:, rows, column] = points[:, rows, column] + sign * delta
        out = f(points.reshape(batch, len(sets), *shape))
        if tuple(out.shape) != (batch, len(sets)):
            raise ValueError(f"f returned shape {tuple(out.shape)}; expected {(batch, len(sets))}")
        values.append(out)
    values = torch.cat(values, dim=1)
    up, down = values[:, 1 : size + 1], values[:, size + 1 :]
    return values[:, 0], ((up - down) / (2 * delta)).reshape(batch, *shape)
