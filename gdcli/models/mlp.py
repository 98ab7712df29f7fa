"""The book's chapter 6 network: Linear, activation, Linear (the activations are gdcli/activations.py's entries)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gdcli import activations
from gdcli.activations import ACTIVATIONS, Activation  # noqa: F401  (gdcli.models names them)
from gdcli.models.base import Model, Param, loss_scale, register

if TYPE_CHECKING:
    from torch import Tensor


def activation(name: str) -> Activation:
    """The activation called `name` (gdcli/activations.py holds them)."""
    return activations.get(name)


class MLP(Model):
    """Linear(k, H), activation, Linear(H, t): the book's chapter 6 network (nn.Sequential)."""

    name = "mlp"
    summary = "Linear(k, hidden), activation, Linear(hidden, t) (the book's nn.Sequential)"
    help = "Linear, activation, Linear: the book's chapter 6 network"
    title = "MLP"
    noun = "network"
    # torch.nn.Linear's initialization: a start of ones would make every hidden unit the same.
    default_init = "uniform"
    settings = ("hidden", "activation")
    smaller = "hidden"
    # The book's chapter 6 network on celsius, trained as the book trains it.
    presets = {"celsius": {"optim": "sgd", "lr": 1e-3}}

    @classmethod
    def header(cls, cfg) -> str:
        return f"{cls.name} ({cfg.hidden} hidden, {cfg.activation})"

    def float64_recipe(self, load: str) -> str:
        return f"build the nn.Sequential, call .double() on it, then .{load}"

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

        act = activation(self.activation).module
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


register(MLP)
