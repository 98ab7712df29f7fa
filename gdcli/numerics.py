"""How gdcli compares two gradients, and central differences batched over points and perturbations.

One definition of the relative difference serves every command (grad, compare):

    difference / norm = max_i |found_i - reference_i| / max(||reference||, tiny)

the largest difference of any component, over the Euclidean norm of the whole reference gradient.
An element-wise |found_i - reference_i| / |reference_i| would blow up at every component whose true
value is near 0 (a saturated hidden unit of a network), where a tiny absolute error is all that is
left: against the norm, such a component weighs as little as it does in the gradient itself.
`tiny` is the smallest positive normal number of float64 (about 2.2e-308). It only keeps a zero
reference from dividing by zero: where the reference is 0 the figure is 0 if `found` is 0 too, and
enormous otherwise (read the absolute difference there). A nan on either side, or inf - inf, gives
nan: a check that cannot be made fails instead of reading as agreement.
Nothing here prints; torch is imported inside the functions.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import torch

# The smallest positive normal float64: the floor under ||reference|| in the relative difference.
TINY = 2.2250738585072014e-308


def differences(found: "torch.Tensor", reference: "torch.Tensor") -> tuple[float, float]:
    """Max absolute difference of `found` from `reference`, and that over the reference's norm
    (see the module docstring).

    Both are computed in float64 after broadcasting; empty tensors differ by (0.0, 0.0).
    """
    import torch

    found, reference = torch.broadcast_tensors(found.detach().double(), reference.detach().double())
    if found.numel() == 0:
        return 0.0, 0.0
    # torch's max propagates nan, so one undefined element makes the whole check nan.
    largest = (found - reference).abs().max().item()
    norm = torch.linalg.vector_norm(reference).item()
    return largest, largest / max(norm, TINY)


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
    if not (math.isfinite(delta) and delta > 0):
        raise ValueError(f"delta must be a positive finite number, not {delta!r}")
    if x.dim() < 1:
        raise ValueError("x needs a leading dimension of points: shape (B, *S)")
    import torch

    batch, shape = x.shape[0], tuple(x.shape[1:])
    size = math.prod(shape)
    total = 2 * size + 1
    per_call = total if max_elements is None else max(1, max_elements // max(1, batch * size))
    point = x.detach().unsqueeze(1)  # (B, 1, *S)
    # Set k adds +delta (k <= P) or -delta (k > P) to element (k - 1) mod P and 0 elsewhere:
    # x_i + delta rounds exactly as a lone perturbed copy would, and x_j + 0 is x_j, so
    # batching changes no digit.
    if per_call >= total:  # the usual case, and the training loop's: one call, no slicing
        values = f(point + _offsets(shape, float(delta), x.dtype, x.device, 0, total))  # (2P + 1, *S)
        if tuple(values.shape) != (batch, total):
            raise ValueError(f"f returned shape {tuple(values.shape)}; expected {(batch, total)}")
    else:
        parts = []
        for start in range(0, total, per_call):
            # Only this call's sets are made: all 2P + 1 of them would be (2P + 1) x P numbers.
            sets = _offsets(shape, float(delta), x.dtype, x.device, start, min(total, start + per_call))
            out = f(point + sets)
            if tuple(out.shape) != (batch, len(sets)):
                raise ValueError(f"f returned shape {tuple(out.shape)}; expected {(batch, len(sets))}")
            parts.append(out)
        values = torch.cat(parts, dim=1)
    up, down = values[:, 1 : size + 1], values[:, size + 1 :]
    return values[:, 0], ((up - down) / (2 * delta)).view(batch, *shape)


@functools.lru_cache(maxsize=32)
def _offsets(shape: tuple, delta: float, dtype, device, start: int, stop: int) -> "torch.Tensor":
    """Sets start..stop-1 of the 2P + 1 (zeros, then +delta and -delta on each element in turn),
    shape (stop - start, *shape): made once, reused every epoch."""
    import torch

    size = math.prod(shape)
    out = torch.zeros(stop - start, size, dtype=dtype, device=device)
    k = torch.arange(max(start, 1), stop, device=device)  # set 0 is the point itself
    # +1 or -1, then times delta in the dtype itself (a float32 delta would spoil a float64 step).
    out[k - start, (k - 1) % size] = torch.where(k <= size, 1.0, -1.0).to(dtype) * delta
    return out.view(stop - start, *shape)


def lost_step(x: "torch.Tensor", delta: float) -> tuple[bool, float]:
    """Whether x + delta or x - delta rounds back to x for some element, in x's dtype, and the
    smallest step that moves every element: the spacing of the dtype at the largest |x|.

    Where the step is lost the central difference of that element is exactly 0, whatever the function.
    """
    import torch

    if x.numel() == 0:
        return False, 0.0
    x = x.detach()
    d = torch.tensor(delta, dtype=x.dtype, device=x.device)
    lost = bool((((x + d) == x) | ((x - d) == x)).any())
    top = x.abs().max()
    spacing = (torch.nextafter(top, torch.tensor(math.inf, dtype=x.dtype, device=x.device)) - top).item()
    return lost, spacing
