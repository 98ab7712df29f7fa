"""What a gradient method reads: the rows each run sees (Rows, Part), their Gram statistics
(GramTensors) and the loss's settings (LossSpec), and the losses without a gradient (loss_at)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from gdcli import models

if TYPE_CHECKING:
    from torch import Tensor

    from gdcli.stats import Gram


@dataclass(frozen=True)
class LossSpec:
    """What the methods need besides the data: the reduction, the finite-difference step and
    the model (None: a line on the columns of X)."""

    reduction: str = "mean"
    delta: float = 0.1
    model: models.Model | None = None

    def model_for(self, X: Tensor, y: Tensor) -> models.Model:
        """The model, or the line on X's columns when none is named."""
        return self.model if self.model is not None else models.Linear(X.shape[1], y.shape[1])


@dataclass(frozen=True)
class Part:
    """Rows that some runs share: `runs` indexes them (None: every run)."""

    runs: Tensor | None
    X: Tensor  # (n, k)
    y: Tensor  # (n, t)


@dataclass(frozen=True)
class GramTensors:
    """The Gram statistics as the gram method steps on them, on the training device, float64.

    In centred coordinates u = T theta - m = [W; mean_x W + b - mean_y] the loss is the
    quadratic (1/2) u^T G u - u^T c + const with G = s [[Sxx, 0], [0, n]] and c = s [Sxy; 0]
    (s = 2 / (n * targets) for the mean, 2 for the sum), so the gradient in theta is
    T^T (G u - c): a few small matrix products per epoch, all precomputed but theta.
    A leading run dimension of 1 means every run shares the rows.
    """

    T: Tensor  # (R, k + 1, k + 1): [[I, 0], [mean_x, 1]]
    Tt: Tensor  # T transposed, contiguous
    minus_m: Tensor  # (R, k + 1, t): -[0; mean_y]
    G: Tensor  # (R, k + 1, k + 1)
    minus_c: Tensor  # (R, k + 1, t): -c
    const: Tensor  # (R,): (s / 2) tr(Syy), the loss at u = 0

    @classmethod
    def stack(cls, grams: list[Gram], reduction: str, device, dtype) -> GramTensors:
        """Per-run tensors from one Gram per run, moved to the device once."""
        import torch

        Ts, ms, Gs, cs, consts = [], [], [], [], []
        for g in grams:
            k, t = g.k, g.mean_y.shape[0]
            s = models.loss_scale(g.n, t, reduction)
            T = torch.eye(k + 1, dtype=torch.float64)
            T[k, :k] = g.mean_x
            G = torch.zeros(k + 1, k + 1, dtype=torch.float64)
            G[:k, :k], G[k, k] = s * g.sxx, s * g.n
            c = torch.zeros(k + 1, t, dtype=torch.float64)
            c[:k] = s * g.sxy
            m = torch.zeros(k + 1, t, dtype=torch.float64)
            m[k] = g.mean_y
            Ts.append(T), ms.append(-m), Gs.append(G), cs.append(-c), consts.append(s / 2 * float(g.syy.trace()))

        def put(values):
            return torch.stack(values).to(device, dtype)

        T = put(Ts)
        consts = torch.tensor(consts, dtype=torch.float64).to(device, dtype)
        return cls(T, T.transpose(1, 2).contiguous(), put(ms), put(Gs), put(cs), consts)

    def stacked(self) -> Tensor:
        """The first run's [[T, -m], [G T, G(-m) - c], [G T, G(-m) - 2c]], (3(k + 1), k + 2): times
        [theta; 1] it gives u = T theta - m, v = G u - c and v - c in one product (one target)."""
        import torch

        T, minus_m, G, minus_c = self.T[0], self.minus_m[0], self.G[0], self.minus_c[0]
        GT, shift = G @ T, G @ minus_m + minus_c
        return torch.cat([torch.cat([T, minus_m], 1), torch.cat([GT, shift], 1), torch.cat([GT, shift + minus_c], 1)])


@dataclass(frozen=True)
class Rows:
    """What one step of every run sees: parts of rows, and their Gram statistics when full batch."""

    parts: tuple[Part, ...]
    gram: GramTensors | None = None


def each_part(theta: Tensor, rows: Rows, one: Callable) -> Tensor:
    """Run `one(theta_part, X, y) -> (loss, grad)` on every part; set theta.grad, return the losses."""
    import torch

    if len(rows.parts) == 1 and rows.parts[0].runs is None:
        part = rows.parts[0]
        loss, theta.grad = one(theta, part.X, part.y)
        return loss
    loss = torch.empty(theta.shape[0], dtype=theta.dtype, device=theta.device)
    grad = torch.empty_like(theta)
    for part in rows.parts:
        part_loss, part_grad = one(theta[part.runs], part.X, part.y)
        loss[part.runs], grad[part.runs] = part_loss, part_grad
    theta.grad = grad
    return loss


def shared(X: Tensor, y: Tensor, gram_of: Gram | None = None, reduction: str = "mean") -> Rows:
    """Rows that every run shares, with their Gram statistics (for `reduction`) when given."""
    grams = None
    if gram_of is not None:
        grams = GramTensors.stack([gram_of], reduction, X.device, gram_dtype(X.device, X.dtype))
    return Rows((Part(None, X, y),), grams)


def gram_dtype(device, dtype):
    """The dtype the gram method works in: float64, except on a device without it."""
    import torch

    return torch.float64 if device.type != "mps" else dtype


def probe(fill: Callable, record: bool, theta: Tensor, rows: Rows, spec: LossSpec) -> tuple[Tensor, Tensor]:
    """(loss, gradient) of a method's fill at fixed parameters (`record`: under autograd), theta untouched."""
    import torch

    copy = theta.detach().clone().requires_grad_(True)
    with torch.set_grad_enabled(record):
        loss = fill(copy, rows, spec)
    return loss.detach(), copy.grad.detach()
