"""Gradient methods: four real ways to fill theta.grad, one registry.

Every method has the same shape: `fill(theta, rows, spec) -> loss`. It computes
the loss of each run at theta (runs, P) and writes theta.grad (runs, P), for
whichever model `spec` names (gdcli/models/). The optimizer that steps afterwards
never knows which method, or which model, ran.

`rows` holds the data the step sees: usually one (X, y) that every run shares, so
that their predictions are one matmul; runs that train on different rows (seeds
with their own split or their own generated data) come as one part per group.

torch is imported inside the functions (a dictionary lookup per call) so that the
CLI can list METHODS as its choices without loading torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from gdcli import models
from gdcli.numerics import central_difference

if TYPE_CHECKING:
    from torch import Tensor

    from gdcli.stats import Gram

# Elements one finite-difference evaluation may hold (rows x parameter sets x targets):
# beyond it the 2P + 1 perturbed parameter sets are evaluated a few at a time.
FD_BUDGET = 1 << 24
# Beyond this many parameters a finite-difference step (2P + 1 loss evaluations) is refused.
FD_MAX_PARAMS = 10_000


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


@dataclass(frozen=True)
class Rows:
    """What one step of every run sees: parts of rows, and their Gram statistics when full batch."""

    parts: tuple[Part, ...]
    gram: GramTensors | None = None


def _each_part(theta: Tensor, rows: Rows, one: Callable) -> Tensor:
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


def finite_diff(theta: Tensor, rows: Rows, spec: LossSpec) -> Tensor:
    """Central differences (L(p + d) - L(p - d)) / 2d for every entry of theta.

    The 2P perturbed copies of the parameters (and the unperturbed one, for the
    logged loss) are evaluated as extra runs of one batched forward pass, as many
    at a time as fit FD_BUDGET, by gdcli's one central-difference routine
    (numerics), the same that checks `gdcli grad`'s expressions.
    """

    def one(theta: Tensor, X: Tensor, y: Tensor):
        model = spec.model_for(X, y)
        runs, P = theta.shape

        def losses(thetas: Tensor) -> Tensor:  # (runs, m, P) -> (runs, m)
            m = thetas.shape[1]
            residual = model.residuals(X, y, thetas.reshape(runs * m, P))
            return models.loss(residual, spec.reduction).view(runs, m)

        sets = max(1, FD_BUDGET // max(1, X.shape[0] * runs * model.row_width()))
        return central_difference(losses, theta.detach(), spec.delta, max_elements=sets * runs * P)

    return _each_part(theta, rows, one)


def check_step(
    theta: Tensor, delta: float, default: float, rows: Rows | None = None, spec: LossSpec | None = None
) -> None:
    """Refuse a finite-difference step too small to move the starting parameters in their dtype:
    theta + delta == theta makes that component's central difference exactly 0, and the run
    would stand still while it seems to train. Given the rows and the loss, also refuse a step
    whose loss differences all round to 0 there (check_difference)."""
    from gdcli.errors import GdcliError, param
    from gdcli.numerics import lost_step

    lost, spacing = lost_step(theta, delta)
    dtype = str(theta.dtype).removeprefix("torch.")
    if lost:
        largest = float(theta.detach().abs().max())
        raise GdcliError(
            f"{param('delta')} {delta:g} is below the resolution of {dtype} at the starting parameters "
            f"({param('init')}): theta + delta == theta, so the finite-difference gradient is exactly 0 there",
            f"use {param('delta')} {spacing * 1.01:.3g} or more (the spacing of {dtype} at |theta| = {largest:g})"
            + (f"; the default {default:g} is enough" if spacing * 1.01 <= default else ""),
        )
    if rows is not None and spec is not None:
        check_difference(theta, rows, spec, default)


def check_difference(theta: Tensor, rows: Rows, spec: LossSpec, default: float) -> None:
    """Refuse a finite-difference step whose gradient at the start is exactly 0 everywhere while
    autograd's is not: theta moves by delta, yet L(theta + delta) and L(theta - delta) round to the
    same value in every direction, and the run would stand still while it seems to train."""
    from dataclasses import replace

    from gdcli.errors import GdcliError, param

    def zero(delta: float):  # per run: whether the central differences at delta are all exactly 0
        grad = gradient_at("finite-diff", theta, rows, replace(spec, delta=delta))[1]
        return (grad.reshape(grad.shape[0], -1) == 0).all(1)

    moving = (gradient_at("autograd", theta, rows, spec)[1].reshape(theta.shape[0], -1) != 0).any(1)
    if not (zero(spec.delta) & moving).any():
        return
    dtype = str(theta.dtype).removeprefix("torch.")
    if default != spec.delta and not (zero(default) & moving).any():
        hint = f"use {param('delta')} {default:g} (the default for this model and dtype), which moves the loss here"
    else:
        hint = f"use a larger {param('delta')}" + (f", or {param('dtype')} float64" if dtype != "float64" else "")
    raise GdcliError(
        f"{param('delta')} {spec.delta:g} is too small for the loss at the starting parameters ({param('init')}): "
        f"L(theta + delta) and L(theta - delta) round to the same {dtype} value in every direction, so the "
        "finite-difference gradient is exactly 0 there while autograd's is not",
        hint,
    )


def analytic(theta: Tensor, rows: Rows, spec: LossSpec) -> Tensor:
    """The chain rule by hand, no autograd: each model derives its own gradient (gdcli/models/).

    For the line, dL/dW = (dL/dy_hat)^T X and dL/db = sum of dL/dy_hat, with
    dL/dy_hat = 2 (y_hat - y) / (rows * targets) for the mean (2 (y_hat - y) for the
    sum); for the MLP, backpropagation written out layer by layer.
    """
    import torch

    def one(theta: Tensor, X: Tensor, y: Tensor):
        model = spec.model_for(X, y)
        out = None
        if model.linear_in_params and not _compiling():  # the compiler plans its own buffers
            # The residuals go to a buffer kept from epoch to epoch: no allocation as large as
            # the data happens in an epoch, so memory is neither faulted in nor handed back.
            out = _buffer(X, theta.shape[0] * y.shape[1])
        return model.gradient(X, y, theta.detach(), spec.reduction, out=out)

    return _each_part(theta, rows, one)


_BUFFERS: dict = {}


def _buffer(X: Tensor, columns: int) -> Tensor:
    """A (rows, columns) work buffer for the rows X, reused every epoch (the last few kept)."""
    import torch

    key = (X.data_ptr(), X.shape[0], columns, X.dtype, X.device)
    found = _BUFFERS.get(key)
    if found is None:
        if len(_BUFFERS) >= 4:
            _BUFFERS.pop(next(iter(_BUFFERS)))
        found = _BUFFERS[key] = torch.empty(X.shape[0], columns, dtype=X.dtype, device=X.device)
    return found


def autograd(theta: Tensor, rows: Rows, spec: LossSpec) -> Tensor:
    """loss.backward(): PyTorch records the forward pass and differentiates it.

    The gradient is reset (to None, which is cheaper than zero_) before every
    backward, because backward accumulates into .grad.
    """
    import torch

    theta.grad = None
    if len(rows.parts) == 1 and rows.parts[0].runs is None and theta.shape[0] == 1:
        part = rows.parts[0]
        if part.y.shape[1] == 1:
            # One run: PyTorch's fused mse_loss is a single node forward and backward.
            pred = spec.model_for(part.X, part.y).predict_one(part.X, theta.view(-1))
            loss = torch.nn.functional.mse_loss(pred, part.y, reduction=spec.reduction)
            loss.backward()
            return loss.detach().view(1)
    losses = []
    for part in rows.parts:
        th = theta if part.runs is None else theta[part.runs]
        residual = spec.model_for(part.X, part.y).residuals(part.X, part.y, th)
        losses.append((part.runs, models.loss(residual, spec.reduction)))
    # Runs are independent, so the gradient of their sum is each run's own gradient.
    # (A backward seeded with an explicit gradient tensor would give the same, but
    # loads torch's symbolic-shape machinery, a few hundred ms, on first use.)
    sum(loss.sum() for _, loss in losses).backward()
    if len(losses) == 1 and losses[0][0] is None:
        return losses[0][1].detach()
    out = torch.empty(theta.shape[0], dtype=theta.dtype, device=theta.device)
    for runs, loss in losses:
        out[runs] = loss.detach()
    return out


def gram(theta: Tensor, rows: Rows, spec: LossSpec) -> Tensor:
    """The gradient from the Gram matrix alone: O(k^2) per epoch, whatever the number of rows.

    With centred statistics, e = mean_x W + b - mean_y is the mean residual and
        dL/dW = s (Sxx W - Sxy + n mean_x^T e),   dL/db = s n e,
        L = (s / 2) (tr(W^T Sxx W) - 2 tr(W^T Sxy) + tr(Syy) + n |e|^2),
    with s = 2 / (n * targets) for the mean and 2 for the sum: exactly the analytic
    gradient, summed over the rows once, before training. Computed in float64. Only
    a model linear in its parameters (linear, quadratic) has such a gradient.
    """
    loss, theta.grad = _gram_terms(theta, rows, spec, gradient=True)
    return loss


def _gram_terms(theta: Tensor, rows: Rows, spec: LossSpec, gradient: bool):
    import torch

    g = rows.gram
    runs, t = theta.shape[0], g.minus_m.shape[2]
    if g.T.shape[0] != runs:  # one set of statistics that every run shares
        g = GramTensors(*(x.expand(runs, *x.shape[1:]) for x in (g.T, g.Tt, g.minus_m, g.G, g.minus_c, g.const)))
    theta = theta.detach()
    # The line's parameters as columns [W^T; b] (k + 1, t): for one target, theta itself.
    line = None if t == 1 else spec.model_for(rows.parts[0].X, rows.parts[0].y)
    columns = theta.unsqueeze(2) if line is None else line.columns(theta)
    u = torch.baddbmm(g.minus_m, g.T, columns.to(g.G.dtype))  # T theta - m
    v = torch.baddbmm(g.minus_c, g.G, u)  # G u - c: dL/du
    # (1/2) u^T G u - u^T c = (1/2) u . (v - c); rounding can take a zero loss a hair below 0.
    half = (u * v.add(g.minus_c)).sum((1, 2))
    loss = torch.add(g.const, half, alpha=0.5).clamp_min_(0).to(theta.dtype)
    if not gradient:
        return loss, None
    grad = torch.bmm(g.Tt, v).to(theta.dtype)
    return loss, grad.view(runs, -1) if line is None else line.from_columns(grad)


def loss_at(theta: Tensor, rows: Rows, spec: LossSpec, from_gram: bool = False) -> Tensor:
    """Every run's loss (runs,) on `rows`, without a gradient: from the Gram statistics when asked."""
    import torch

    theta = theta.detach()
    if from_gram:
        return _gram_terms(theta, rows, spec, gradient=False)[0]

    def one(part: Part, theta: Tensor) -> Tensor:
        return models.loss(spec.model_for(part.X, part.y).residuals(part.X, part.y, theta), spec.reduction)

    if len(rows.parts) == 1 and rows.parts[0].runs is None:
        return one(rows.parts[0], theta)
    out = torch.empty(theta.shape[0], dtype=theta.dtype, device=theta.device)
    for part in rows.parts:
        out[part.runs] = one(part, theta[part.runs])
    return out


@dataclass(frozen=True)
class Method:
    """A registry entry: the function, whether it needs autograd recording, and whether it reads
    the Gram statistics instead of the rows (full batch only)."""

    fill: Callable[[Tensor, Rows, LossSpec], Tensor]
    needs_autograd: bool
    summary: str
    needs_gram: bool = False  # also: only for a model linear in its parameters


METHODS: dict[str, Method] = {
    "finite-diff": Method(finite_diff, False, "central difference (L(p+d) - L(p-d)) / 2d per parameter"),
    "analytic": Method(analytic, False, "hand-derived chain rule, no autograd"),
    "autograd": Method(autograd, True, "loss.backward()"),
    "gram": Method(gram, False, "from X^T X and X^T y, summed once: O(k^2) per epoch (full batch)", True),
}


def gradient_at(method: str, theta: Tensor, rows: Rows, spec: LossSpec) -> tuple[Tensor, Tensor]:
    """(loss, gradient) of one method at fixed parameters, leaving theta untouched."""
    import torch

    probe = theta.detach().clone().requires_grad_(True)
    entry = METHODS[method]
    with torch.set_grad_enabled(entry.needs_autograd):
        loss = entry.fill(probe, rows, spec)
    return loss.detach(), probe.grad.detach()


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


@dataclass(frozen=True)
class ChainRule:
    """The analytic gradient of the linear model, one factor at a time, for one run."""

    y_hat: Tensor  # (rows, targets): w . x + b
    dL_dyhat: Tensor  # (rows, targets): scale * (y_hat - y)
    scale: float  # 2/(rows * targets) for the mean, 2 for the sum
    loss: float
    grad: Tensor  # (k + 1, targets): sum over rows of dL/dy_hat * dy_hat/dtheta


def chain_rule(theta: Tensor, X: Tensor, y: Tensor, reduction: str) -> ChainRule:
    """dL/dtheta = sum_i dL/dy_hat_i * dy_hat_i/dtheta for the line, with every factor kept for display.

    theta is one run's flat parameters (P,), X (rows, k), y (rows, targets).
    dy_hat_i/dw = x_i and dy_hat_i/db = 1.
    """
    line = models.Linear(X.shape[1], y.shape[1])
    theta = theta.detach().reshape(1, -1)
    residual = line.residuals(X, y, theta)  # (rows, 1, targets)
    scale = models.loss_scale(y.shape[0], y.shape[1], reduction)
    loss = float(models.loss(residual, reduction)[0])
    grad = line.columns(line.from_residuals(X, residual, reduction))[0]
    residual = residual[:, 0]
    return ChainRule(residual + y, scale * residual, scale, loss, grad)


def _compiling() -> bool:
    """Whether torch.compile is tracing this call (torch.compiler.is_compiling from torch 2.3; torch 2.2
    has only torch._dynamo's)."""
    import torch

    check = getattr(torch.compiler, "is_compiling", None)
    if check is None:
        import torch._dynamo

        check = torch._dynamo.is_compiling
    return check()
