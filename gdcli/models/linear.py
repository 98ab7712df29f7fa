"""The models that are lines in their parameters: the book's line and its chapter 5 quadratic."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, ClassVar

from gdcli.models.base import Model, Param, loss_scale, register, squared_norms

if TYPE_CHECKING:
    from torch import Tensor


class Linear(Model):
    """y = X W^T + b, the book's line: torch.nn.Linear(k, t)."""

    name = "linear"
    summary = "y = W x + b (torch.nn.Linear)"
    help = "y = W x + b"
    linear_in_params = True
    per_input: ClassVar[str] = "one value per feature"  # what a weight row runs over, for messages

    def parameters(self) -> tuple[Param, ...]:
        return (
            Param("weight", (self.targets, self.inputs), ("one row per target", self.per_input)),
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
        # For one input and one target, (1, 1) is its own transpose: one node fewer, the same product.
        return (X @ (weight.view(1, 1) if k * t == 1 else weight.view(t, k).T)).add_(bias)

    def predict_run(self, X: Tensor, theta: Tensor) -> Tensor:
        """predict_one from the lone run's parameters as they are held, (1, P)."""
        # One split of theta's row records one backward node where a view, a split and a view
        # record three; a bias (1, t) adds to each row as (t,) does, and its gradient sums the
        # same rows, so the numbers are predict_one's.
        k, t = self.inputs, self.targets
        weight, bias = theta.split_with_sizes((t * k, t), 1)
        return (X @ (weight if k * t == 1 else weight.view(t, k).T)).add_(bias)

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

    def residual_rows(self, X: Tensor, y: Tensor, theta: Tensor, out: Tensor | None = None) -> Tensor:
        """W x + b - y of every run as rows (runs * targets, n), each run's row contiguous.

        Into `out` (no autograd): for one feature b - y, then + w * x, two elementwise passes;
        for more, b + W X^T as one matmul, then - y. Without `out` the same arithmetic is recorded
        for autograd.
        """
        import torch

        runs, k, t = theta.shape[0], self.inputs, self.targets
        weight, bias = theta.split((t * k, t), 1)
        weight, bias, yT = weight.reshape(runs * t, k), bias.reshape(runs, t, 1), y.T
        if out is None:
            if k == 1:
                return torch.addcmul(bias - yT, weight.view(runs, t, 1), X.T).view(runs * t, -1)
            return (torch.addmm(bias.reshape(runs * t, 1), weight, X.T).view(runs, t, -1) - yT).view(runs * t, -1)
        if k == 1:
            torch.sub(bias, yT, out=out.view(runs, t, -1))
            return out.addcmul_(weight, X.T)
        torch.addmm(bias.reshape(runs * t, 1), weight, X.T, out=out)
        out.view(runs, t, -1).sub_(yT)
        return out

    def gradient(self, X: Tensor, y: Tensor, theta: Tensor, reduction: str, out: Tensor | None = None):
        """dL/dW = scale * r^T X and dL/db = scale * sum(r), from the residuals r = y_hat - y."""
        residual = self.residuals(X, y, theta, out=out)
        return squared_norms(residual, reduction), self.from_residuals(X, residual, reduction)

    def bound_gradient(self, X: Tensor, y: Tensor, theta: Tensor, reduction: str) -> Callable[[Tensor], None]:
        """`gradient` as a function of the loss row (runs,) it fills, its views and buffers made once
        (bound_line says how)."""
        return bound_line(self, X, y, theta, reduction)

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

    @property
    def straight(self) -> bool:
        """Whether it is a straight line in the raw inputs (plots draw it by slope and intercept)."""
        return self.columns_per_feature == 1

    def module(self):
        """torch.nn.Linear on the raw inputs; None for a line on derived columns (no nn layer derives them)."""
        import torch

        if self.no_export:
            return None
        return torch.nn.Linear(self.inputs, self.targets, dtype=torch.float64)

    def float64_recipe(self, load: str) -> str:
        return f"torch.nn.Linear({self.inputs}, {self.targets}, dtype=torch.float64).{load}"


class Quadratic(Linear):
    """The line on the inputs and their squares, w2 x^2 + w1 x + b: the book's chapter 5 exercise.

    The squares are taken of the raw inputs, before scaling or normalization, and the
    model is then a line on 2k columns: still linear in its parameters, so the
    least-squares optimum, the stability bound and `gram` apply exactly.
    """

    name = "quadratic"
    summary = "y = W [x, x^2] + b: a line on the inputs and their squares"
    help = "a line on x and x²"
    columns_per_feature = 2
    per_input = "one value per feature, then per square"
    no_export = "it reads each input and its square, which no single nn layer computes"
    # The book's chapter 5 exercise on celsius: scaled, its squares span 47.5 to 671 and t_u
    # 2.2 to 8.2; standardized, it trains fast.
    presets = {"celsius": {"normalize": True, "lr": 0.3, "epochs": 3000}}

    def input_names(self, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(names) + tuple(f"{n}²" for n in names)

    def design(self, X):
        """[X, X^2]: each raw feature, then each one's square (numpy or torch)."""
        if hasattr(X, "numpy"):
            import torch

            return torch.cat([X, X * X], 1)
        import numpy as np

        return np.concatenate([X, X * X], 1)


def bound_line(line: Linear, X: Tensor, y: Tensor, theta: Tensor, reduction: str) -> Callable[[Tensor], None]:
    """`gradient` as a function of the loss row (runs,) it fills, its views and buffers made once.

    Each call writes every run's loss into the row and dL/dtheta into theta.grad, in the same
    arithmetic as `gradient` (bit for bit): the parameters are updated in place between calls,
    so the views into them stay theirs. The book's shape (one feature, one run, one target)
    runs ten kernels and no Python arithmetic on shapes.
    """
    import torch

    from gdcli.gradients import blocks

    data, n, columns = theta.detach(), X.shape[0], theta.shape[0] * line.targets
    if blocks.wanted(X, theta.shape[0], line.targets):  # many runs over many rows: a block of rows at a time

        def blocked(row: Tensor) -> None:
            loss, theta.grad = blocks.line_gradient(line, X, y, data, reduction)
            row.copy_(loss)

        return blocked
    out = torch.empty(n, columns, dtype=X.dtype, device=X.device)
    if X.shape[1] != 1 or out.shape[1] != 1:

        def general(row: Tensor) -> None:
            residual = line.residuals(X, y, data, out=out)
            row.copy_(squared_norms(residual, reduction))
            theta.grad = line.from_residuals(X, residual, reduction)

        return general
    weight, bias, x, r = data[:, :1], data[:, 1:], X[:, 0], out[:, 0]
    grad = theta.grad = torch.empty_like(data)
    grad_w, grad_b, scale = grad[0, 0], grad[0, 1:], loss_scale(n, 1, reduction)
    mean, norm, dot, total = reduction == "mean", torch.linalg.vector_norm, torch.dot, torch.sum

    def book(row: Tensor) -> None:
        torch.mul(X, weight, out=out).add_(bias).sub_(y)  # the residuals, rounded as `residuals`
        norm(out, dim=0, out=row).square_()  # the loss as `squared_norms` rounds it
        if mean:
            row.div_(n)
        dot(x, r, out=grad_w)  # dL/dw and dL/db as `from_residuals`, into theta.grad
        total(out, 0, out=grad_b)
        grad.mul_(scale)

    return book


register(Linear)
register(Quadratic)

