"""Models: what turns inputs into predictions, one registry entry each.

Every model keeps its parameters in one flat tensor `theta` of shape (runs, P): one
row per run, the parameters in the order of the equivalent torch.nn module's
state_dict, so that `weight` and `bias` (or `hidden_linear.weight` ...) are named
views into it. The leading run dimension is what lets a sweep train a hundred runs
as one tensor program and finite differences evaluate 2P + 1 parameter sets as
extra runs; nothing downstream knows the layout.

An entry gives:
- `predict(X, theta)`: predictions (n, runs, targets), batched over runs;
- `parameters()`: the names and shapes of its parameters;
- `initial(...)`: its default and named initializations;
- `gradient(...)`: its loss and hand-derived gradient (the `analytic` method);
- `linear_in_params`: whether the loss is quadratic in theta, so that a closed-form
  optimum, an exact stability bound and the `gram` method exist.

`linear` is the book's line (nn.Linear); `quadratic` is the same line on the inputs
and their squares (the chapter 5 exercise); `mlp` is Linear, activation, Linear
(chapter 6's nn.Sequential). torch is imported inside the functions, so the CLI can
list MODELS without loading it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, ClassVar

if TYPE_CHECKING:
    from torch import Tensor

INITS = ("ones", "zeros", "randn", "uniform")


def loss_scale(n_rows: int, n_targets: int, reduction: str) -> float:
    """dL/d(pred) = scale * residual: 2/(n*targets) for the mean, 2 for the sum."""
    return 2.0 / (n_rows * n_targets) if reduction == "mean" else 2.0


def by_run(residual: Tensor) -> Tensor:
    """Residuals (n, runs, targets) as rows (runs * targets, n), each run's row contiguous.

    Reduced along those rows, a run's loss sums its rows exactly as a lone run's would,
    whatever else it is trained with (a sum down a column of many runs would take
    another order). For one run and one target this is a free view.
    """
    n = residual.shape[0]
    return residual.reshape(n, -1).T.contiguous()


def loss(residual: Tensor, reduction: str) -> Tensor:
    """Squared error per run, (runs,), of residuals (n, runs, targets): mean or sum over rows and targets."""
    runs, t = residual.shape[1], residual.shape[2]
    sq = by_run(residual).square()
    per = (sq.mean(1) if reduction == "mean" else sq.sum(1)).view(runs, t)
    if t == 1:
        return per[:, 0]
    return per.mean(1) if reduction == "mean" else per.sum(1)


def squared_norms(residual: Tensor, reduction: str) -> Tensor:
    """The same loss as `loss`, from each run's squared norm: no temporary as large as the rows.

    It rounds a little differently from a mean of squares (the book's formula, which `loss`
    keeps): the two agree to the dtype's precision, not to the bit.
    """
    import torch

    n, runs, t = residual.shape
    flat = residual.reshape(n, runs * t)
    if runs * t == 1:
        norms = torch.linalg.vector_norm(flat, dim=0).square_()
    else:
        # One column per run and target, reduced down the rows a block at a time: each
        # block's squares stay in cache (a strided norm, or squares of all rows at once,
        # cost ten times as much).
        block = max(1, (1 << 20) // (runs * t))
        norms = sum(part.square().sum(0) for part in flat.split(block))
    norms = norms.view(runs, t)
    per = norms.div_(n) if reduction == "mean" else norms
    if t == 1:
        return per[:, 0]
    return per.mean(1) if reduction == "mean" else per.sum(1)


class LineParams:
    """`weight` and `bias` of anything holding `params` by torch.nn name: a line's, None for a network's."""

    params: dict[str, list] | None

    @property
    def weight(self) -> list | None:
        """A line's weight (targets, inputs)."""
        return self.params.get("weight") if self.params is not None else None

    @property
    def bias(self) -> list | None:
        """A line's bias (targets,)."""
        return self.params.get("bias") if self.params is not None else None


@dataclass(frozen=True)
class Param:
    """One named parameter: its torch.nn name and shape."""

    name: str
    shape: tuple[int, ...]
    dims: tuple[str, ...] = ()  # what each dimension runs over, for messages: ("one row per target", ...)

    @property
    def size(self) -> int:
        """Number of values."""
        return math.prod(self.shape)


@dataclass(frozen=True)
class Model:
    """A model of `features` raw inputs and `targets` outputs; subclasses give the arithmetic."""

    features: int
    targets: int
    hidden: int = 8
    activation: str = "tanh"

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    linear_in_params: ClassVar[bool] = False
    default_init: ClassVar[str] = "ones"

    @property
    def inputs(self) -> int:
        """Columns the model reads: the raw features, or more where the model derives some."""
        return self.features

    def input_names(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """Names of the columns the model reads, from the raw feature names."""
        return tuple(names)

    def parameters(self) -> tuple[Param, ...]:
        """Names and shapes, in the flat order (the torch.nn module's state_dict order)."""
        raise NotImplementedError

    @property
    def size(self) -> int:
        """P: parameters per run."""
        return sum(p.size for p in self.parameters())

    @functools.cached_property
    def _layout(self) -> tuple[tuple[str, ...], tuple[int, ...], tuple[tuple[int, ...], ...]]:
        params = self.parameters()
        return tuple(p.name for p in params), tuple(p.size for p in params), tuple(p.shape for p in params)

    def views(self, theta: Tensor) -> dict[str, Tensor]:
        """Named views (runs, *shape) into theta (runs, P); no copy (one split, then a view each)."""
        names, sizes, shapes = self._layout
        runs = theta.shape[0]
        return {name: part.view(runs, *shape) for name, part, shape in zip(names, theta.split(sizes, 1), shapes)}

    def named(self, theta: Tensor) -> dict[str, list]:
        """One run's parameters (P,) as JSON-ready nested lists by name."""
        return {name: view[0].tolist() for name, view in self.views(theta.reshape(1, -1)).items()}

    def flat(self, params: dict[str, list]) -> Tensor:
        """Inverse of `named`: (P,) float64 from nested lists by name."""
        import torch

        return torch.cat([torch.tensor(params[p.name], dtype=torch.float64).reshape(-1) for p in self.parameters()])

    def labels(self, features: tuple[str, ...], targets: tuple[str, ...]) -> list[str]:
        """A short label per parameter value, in flat order (for --init and `gdcli grad`)."""
        labels = []
        for p in self.parameters():
            labels += [f"{p.name}[{', '.join(map(str, i))}]" for i in _indices(p.shape)]
        return labels

    def row_width(self) -> int:
        """Values one step holds per row and run: a residual per target (and a network's hidden
        layer four times: before and after the activation, and their gradients)."""
        return self.targets

    def predict(self, X: Tensor, theta: Tensor) -> Tensor:
        """Predictions (n, runs, targets) for model inputs X (n, inputs) and theta (runs, P)."""
        raise NotImplementedError

    def residuals(self, X: Tensor, y: Tensor, theta: Tensor, out: Tensor | None = None) -> Tensor:
        """predict - y, (n, runs, targets); `out` (n, runs * targets) may receive them."""
        return self.predict(X, theta).sub_(y.unsqueeze(1))

    def predict_one(self, X: Tensor, theta: Tensor) -> Tensor:
        """One run's predictions (n, targets) from its parameters (P,): the fewest autograd nodes."""
        return self.predict(X, theta.unsqueeze(0))[:, 0]

    def gradient(self, X: Tensor, y: Tensor, theta: Tensor, reduction: str, out: Tensor | None = None):
        """(loss (runs,), dL/dtheta (runs, P)) derived by hand, no autograd."""
        raise NotImplementedError

    def initial(self, kind: str, *, seed: int, values: tuple[float, ...] = ()) -> Tensor:
        """Starting parameters (P,) in float64.

        ones: every weight 1, every bias 0 (the book's start); zeros; randn: standard
        normal from `seed`, parameter by parameter; uniform: torch.nn.Linear's own
        initialization, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) per layer, drawn as
        torch.manual_seed(seed) then constructing the module would draw it; values:
        explicit numbers in flat order.
        """
        import torch

        params = self.parameters()
        if kind == "values":
            return torch.tensor(values, dtype=torch.float64)
        if kind == "uniform":
            return self._uniform(torch.Generator().manual_seed(seed))
        gen = torch.Generator().manual_seed(seed)
        parts = []
        for p in params:
            if kind == "ones":
                parts.append(torch.ones(p.size) if p.name.endswith("weight") else torch.zeros(p.size))
            elif kind == "zeros":
                parts.append(torch.zeros(p.size))
            else:
                parts.append(torch.randn(p.size, generator=gen))
        return torch.cat(parts).double()

    def _uniform(self, gen) -> Tensor:
        import torch

        parts = []
        for weight, bias in zip(self.parameters()[0::2], self.parameters()[1::2]):
            fan_in = weight.shape[1]
            # torch.nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)), whose bound works
            # out to 1/sqrt(fan_in), computed the same way so that it rounds the same way.
            gain = math.sqrt(2.0 / (1 + math.sqrt(5) ** 2))
            bound = math.sqrt(3.0) * (gain / math.sqrt(fan_in))
            parts.append(torch.empty(weight.shape).uniform_(-bound, bound, generator=gen).reshape(-1))
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            parts.append(torch.empty(bias.shape).uniform_(-bound, bound, generator=gen))
        return torch.cat(parts).double()

    def symmetric(self, kind: str) -> bool:
        """Whether an initialization makes every hidden unit identical (so they stay identical)."""
        return False

    def module(self):
        """The equivalent torch.nn module (float64), or None where torch.nn has none."""
        return None

    def design(self, X):
        """The model's input columns from raw features X (n, k): X itself unless the model derives more."""
        return X


class Linear(Model):
    """y = X W^T + b, the book's line: torch.nn.Linear(k, t)."""

    name = "linear"
    summary = "y = W x + b (torch.nn.Linear)"
    linear_in_params = True

    def parameters(self) -> tuple[Param, ...]:
        per_input = "one value per feature" if self.inputs == self.features else "one value per feature, then per square"
        return (
            Param("weight", (self.targets, self.inputs), ("one row per target", per_input)),
            Param("bias", (self.targets,), ("one value per target",)),
        )

    def labels(self, features: tuple[str, ...], targets: tuple[str, ...]) -> list[str]:
        names = self.input_names(features)
        if len(targets) == 1:
            return [f"w_{f}" for f in names] + ["b"]
        return [f"w_{t}_{f}" for t in targets for f in names] + [f"b_{t}" for t in targets]

    def weights(self, theta: Tensor) -> Tensor:
        """Every run's weights side by side, (k, runs * targets): the right-hand side of one matmul."""
        runs, k, t = theta.shape[0], self.inputs, self.targets
        weight = theta[:, : t * k].view(runs, t, k)
        if runs == 1:
            return weight[0].T
        return weight.permute(2, 0, 1).reshape(k, runs * t)

    def predict_one(self, X: Tensor, theta: Tensor) -> Tensor:
        # One split (a single backward node) rather than two slices, each of which would
        # scatter its gradient into a zero tensor of theta's size.
        k, t = self.inputs, self.targets
        weight, bias = theta.split((t * k, t))
        return (X @ weight.view(t, k).T).add_(bias)

    def bias(self, theta: Tensor) -> Tensor:
        """Every run's bias side by side, (runs * targets,)."""
        return theta[:, self.targets * self.inputs :].reshape(-1)

    def predict(self, X: Tensor, theta: Tensor) -> Tensor:
        """X W^T, then + b: rounded as the book's w * t_u + b is (a fused multiply-add would round once)."""
        runs = theta.shape[0]
        return (X @ self.weights(theta)).add_(self.bias(theta)).view(X.shape[0], runs, self.targets)

    def residuals(self, X: Tensor, y: Tensor, theta: Tensor, out: Tensor | None = None) -> Tensor:
        """X W + b - y for every run at once, (n, runs, targets).

        The runs share the rows, so their predictions are one matmul, X (n, k) @ W (k, runs * t),
        with no copy of X per run and no column of ones: the bias is added to the product.
        """
        import torch

        if out is None:
            return self.predict(X, theta).sub_(y.unsqueeze(1))
        if X.shape[1] == 1:
            # One feature: each prediction is one product, x * w, exactly what the matmul rounds
            # to, and an elementwise product reads X at memory speed where a BLAS kernel for so
            # thin a matrix may not.
            torch.mul(X, self.weights(theta), out=out)
        else:
            torch.mm(X, self.weights(theta), out=out)
        out.add_(self.bias(theta))
        return out.view(X.shape[0], theta.shape[0], self.targets).sub_(y.unsqueeze(1))

    def gradient(self, X: Tensor, y: Tensor, theta: Tensor, reduction: str, out: Tensor | None = None):
        """dL/dW = scale * r^T X and dL/db = scale * sum(r), from the residuals r = y_hat - y."""
        residual = self.residuals(X, y, theta, out=out)
        return squared_norms(residual, reduction), self.from_residuals(X, residual, reduction)

    def from_residuals(self, X: Tensor, residual: Tensor, reduction: str) -> Tensor:
        """dL/dtheta (runs, P) from the residuals: X^T r is one matmul for every run."""
        import torch

        n, runs, t = residual.shape
        scale = loss_scale(n, t, reduction)
        if X.shape[1] == 1 and runs * t == 1:
            # The book's shape, one feature and one run: a dot product reads both vectors at
            # memory speed (a BLAS kernel for a 1-column matrix may not).
            grad_w = torch.dot(X[:, 0], residual.view(n)).view(1, 1)
        else:
            grad_w = (X.T @ residual.reshape(n, runs * t)).view(-1, runs, t).permute(1, 2, 0).reshape(runs, -1)
        grad_b = residual.reshape(n, runs * t).sum(0).view(runs, t)
        return torch.cat([grad_w, grad_b], 1).mul_(scale)

    def columns(self, theta: Tensor) -> Tensor:
        """theta (runs, P) as (runs, k + 1, t): W^T above b, the layout of the normal equations."""
        import torch

        runs, k, t = theta.shape[0], self.inputs, self.targets
        if t == 1:
            return theta.view(runs, k + 1, 1)
        weight = theta[:, : t * k].view(runs, t, k)
        return torch.cat([weight.transpose(1, 2), theta[:, t * k :].view(runs, 1, t)], 1)

    def from_columns(self, columns: Tensor) -> Tensor:
        """Inverse of `columns`: (runs, k + 1, t) to (runs, P)."""
        import torch

        runs, k1, t = columns.shape
        if t == 1:
            return columns.reshape(runs, k1)
        return torch.cat([columns[:, :-1].transpose(1, 2).reshape(runs, -1), columns[:, -1]], 1)

    def module(self):
        import torch

        return torch.nn.Linear(self.inputs, self.targets, dtype=torch.float64)


class Quadratic(Linear):
    """The line on the inputs and their squares, w2 x^2 + w1 x + b: the book's chapter 5 exercise.

    The squares are taken of the raw inputs, before scaling or normalization, and the
    model is then a line on 2k columns: still linear in its parameters, so the
    least-squares optimum, the stability bound and `gram` apply exactly.
    """

    name = "quadratic"
    summary = "y = W [x, x^2] + b: a line on the inputs and their squares"

    @property
    def inputs(self) -> int:
        return 2 * self.features

    def input_names(self, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(names) + tuple(f"{n}²" for n in names)

    def design(self, X):
        """[X, X^2]: each raw feature, then each one's square (numpy or torch)."""
        if hasattr(X, "numpy"):
            import torch

            return torch.cat([X, X * X], 1)
        import numpy as np

        return np.concatenate([X, X * X], 1)

    def module(self):
        return None


@dataclass(frozen=True)
class Activation:
    """A nonlinearity and its derivative, written from its output h (and input z)."""

    forward: Callable
    derivative: Callable  # (h, z) -> dh/dz
    formula: str


_ACTIVATIONS: dict[str, Activation] = {}


def _activations() -> dict[str, Activation]:
    # Made once, by hand: torch.compile warns about (and cannot trace into) functools caches.
    if _ACTIVATIONS:
        return _ACTIVATIONS
    import torch

    _ACTIVATIONS.update({
        "tanh": Activation(torch.tanh, lambda h, z: 1 - h * h, "1 - h²"),
        "relu": Activation(torch.relu, lambda h, z: (z > 0).to(h.dtype), "1 where z > 0, else 0"),
        "sigmoid": Activation(torch.sigmoid, lambda h, z: h * (1 - h), "h (1 - h)"),
    })
    return _ACTIVATIONS


ACTIVATIONS = ("tanh", "relu", "sigmoid")


def activation(name: str) -> Activation:
    """The activation called `name`."""
    return _activations()[name]


class MLP(Model):
    """Linear(k, H), activation, Linear(H, t): the book's chapter 6 network (nn.Sequential)."""

    name = "mlp"
    summary = "Linear(k, hidden), activation, Linear(hidden, t) (the book's nn.Sequential)"
    default_init = "uniform"

    def parameters(self) -> tuple[Param, ...]:
        k, h, t = self.inputs, self.hidden, self.targets
        return (
            Param("hidden_linear.weight", (h, k), ("one row per hidden unit", "one value per feature")),
            Param("hidden_linear.bias", (h,), ("one value per hidden unit",)),
            Param("output_linear.weight", (t, h), ("one row per target", "one value per hidden unit")),
            Param("output_linear.bias", (t,), ("one value per target",)),
        )

    def forward(self, X: Tensor, theta: Tensor, v: dict[str, Tensor] | None = None):
        """(z, h, y_hat): the hidden layer before and after the activation, (runs, n, H), and the
        predictions (runs, n, t). `v` are theta's views, when the caller has them already."""
        import torch

        v = self.views(theta) if v is None else v
        runs, n, H = theta.shape[0], X.shape[0], self.hidden
        if runs == 1:
            # One run is the book's network exactly: two linear layers, as torch.nn computes them
            # (and, under autograd, the same few nodes).
            linear = torch.nn.functional.linear
            z = linear(X, v["hidden_linear.weight"][0], v["hidden_linear.bias"][0])
            h = activation(self.activation).forward(z)
            y_hat = linear(h, v["output_linear.weight"][0], v["output_linear.bias"][0])
            return z[None], h[None], y_hat[None]
        w1 = v["hidden_linear.weight"]  # (runs, H, k)
        # Every run's hidden layer in one matmul: X (n, k) @ W1^T (k, runs * H).
        w1_side = w1[0].T if runs == 1 else w1.permute(2, 0, 1).reshape(-1, runs * H)
        z = torch.addmm(v["hidden_linear.bias"].reshape(1, runs * H), X, w1_side)
        z = z.view(n, runs, H).transpose(0, 1)  # (runs, n, H)
        h = activation(self.activation).forward(z)
        y_hat = torch.baddbmm(v["output_linear.bias"].unsqueeze(1), h, v["output_linear.weight"].transpose(1, 2))
        return z, h, y_hat

    def predict(self, X: Tensor, theta: Tensor) -> Tensor:
        return self.forward(X, theta)[2].transpose(0, 1)

    def row_width(self) -> int:
        return self.targets + 4 * self.hidden

    def predict_one(self, X: Tensor, theta: Tensor) -> Tensor:
        import torch

        names, sizes, shapes = self._layout
        w1, b1, w2, b2 = (part.view(shape) for part, shape in zip(theta.split(sizes), shapes))
        linear = torch.nn.functional.linear
        return linear(activation(self.activation).forward(linear(X, w1, b1)), w2, b2)

    def gradient(self, X: Tensor, y: Tensor, theta: Tensor, reduction: str, out: Tensor | None = None):
        """Backpropagation written out: dL/dy_hat, the output layer, dL/dh, the activation, the hidden layer."""
        backprop = self.backprop(X, y, theta, reduction)
        return backprop.loss, backprop.grad

    def backprop(self, X: Tensor, y: Tensor, theta: Tensor, reduction: str) -> Backprop:
        """Every factor of the hand-derived gradient, layer by layer, for every run."""
        import torch

        v = self.views(theta)
        runs, n, t = theta.shape[0], X.shape[0], self.targets
        z, h, y_hat = self.forward(X, theta, v)
        residual = y_hat - y.unsqueeze(0)  # (runs, n, t)
        scale = loss_scale(n, t, reduction)
        d_yhat = residual * scale  # dL/dy_hat
        # Output layer: y_hat = h W2^T + b2.
        d_w2 = torch.bmm(d_yhat.transpose(1, 2), h)  # (runs, t, H)
        d_b2 = d_yhat.sum(1)  # (runs, t)
        d_h = torch.bmm(d_yhat, v["output_linear.weight"])  # (runs, n, H)
        # The activation, h = f(z): dL/dz = dL/dh * f'(z), written from h.
        d_z = d_h * activation(self.activation).derivative(h, z)
        # Hidden layer: z = X W1^T + b1; every run's dL/dW1 in one matmul over the rows.
        d_w1 = (X.T @ d_z.transpose(0, 1).reshape(n, runs * self.hidden)).view(-1, runs, self.hidden)
        d_w1 = d_w1.permute(1, 2, 0)  # (runs, H, k)
        d_b1 = d_z.sum(1)  # (runs, H)
        grad = torch.cat([d_w1.reshape(runs, -1), d_b1, d_w2.reshape(runs, -1), d_b2], 1)
        sq = residual.square()
        per_run = sq.mean((1, 2)) if reduction == "mean" else sq.sum((1, 2))
        return Backprop(z, h, y_hat, d_yhat, d_w2, d_b2, d_h, d_z, d_w1, d_b1, grad, per_run, scale)

    def symmetric(self, kind: str) -> bool:
        return kind in ("ones", "zeros") and self.hidden > 1

    def module(self):
        import collections

        import torch

        act = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid}[self.activation]
        return torch.nn.Sequential(
            collections.OrderedDict(
                [
                    ("hidden_linear", torch.nn.Linear(self.inputs, self.hidden, dtype=torch.float64)),
                    ("hidden_activation", act()),
                    ("output_linear", torch.nn.Linear(self.hidden, self.targets, dtype=torch.float64)),
                ]
            )
        )


@dataclass(frozen=True)
class Backprop:
    """The MLP's hand-derived gradient, one factor at a time, every tensor with a leading run dimension."""

    z: Tensor  # (runs, n, H): hidden layer before the activation
    h: Tensor  # (runs, n, H): after it
    y_hat: Tensor  # (runs, n, t)
    d_yhat: Tensor  # (runs, n, t): scale * (y_hat - y)
    d_w2: Tensor  # (runs, t, H): sum over rows of d_yhat^T h
    d_b2: Tensor  # (runs, t)
    d_h: Tensor  # (runs, n, H): d_yhat W2
    d_z: Tensor  # (runs, n, H): d_h * f'(z)
    d_w1: Tensor  # (runs, H, k): sum over rows of d_z^T x
    d_b1: Tensor  # (runs, H)
    grad: Tensor  # (runs, P)
    loss: Tensor  # (runs,)
    scale: float


MODELS: dict[str, type[Model]] = {"linear": Linear, "quadratic": Quadratic, "mlp": MLP}


def build(name: str, features: int, targets: int, hidden: int = 8, activation: str = "tanh") -> Model:
    """The model `name` for `features` raw inputs and `targets` outputs."""
    return MODELS[name](features, targets, hidden, activation)


def of(cfg, features: int, targets: int) -> Model:
    """The model a RunConfig asks for."""
    return build(cfg.model, features, targets, cfg.hidden, cfg.activation)


def outputs(model: Model, params: dict[str, list], transform, X: Tensor) -> Tensor:
    """Predictions (n, targets) for raw inputs X (n, features): the model's columns, the training
    transform, then the forward pass, in float64 (what predict and the plots show)."""
    import torch

    X = transform.apply(model.design(X.to(torch.float64)))
    return model.predict(X, model.flat(params).unsqueeze(0))[:, 0]


def default_delta(model: str, dtype: str) -> float:
    """The finite-difference step for a model's loss in a dtype.

    A model linear in its parameters has a quadratic loss, whose central difference
    is exact at any step: 0.1 (the book's). Any other loss has a third derivative, and
    the step balances truncation (step^2) against rounding (eps / step): eps^(1/3).
    """
    if MODELS[model].linear_in_params:
        return 0.1
    eps = 2.0**-23 if dtype == "float32" else 2.0**-52
    return float(f"{eps ** (1 / 3):.2g}")


def _indices(shape: tuple[int, ...]):
    if not shape:
        yield ()
        return
    for i in range(shape[0]):
        for rest in _indices(shape[1:]):
            yield (i, *rest)
