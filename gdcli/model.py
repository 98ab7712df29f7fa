"""The linear model y = X W^T + b, its loss and its hand-derived gradient.

Parameters live in one tensor `theta` of shape (runs, features + 1, targets): rows
0..k-1 hold W^T and the last row holds b. The leading run dimension is what lets a
sweep train a hundred runs as one tensor program; a single `fit` is simply runs = 1.
Runs that share their rows predict with one matmul, X (n, k) @ W (k, runs * targets),
plus the bias: the data is never copied per run and never carries a column of ones.
What the Gram matrix says about the model (its optimum, its stability bound) is in
stats.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor


def weights(theta: Tensor) -> Tensor:
    """Every run's weights side by side, (k, runs * targets): the right-hand side of one matmul."""
    runs, k1, t = theta.shape
    if runs == 1:
        return theta[0, :-1, :]
    return theta[:, :-1, :].permute(1, 0, 2).reshape(k1 - 1, runs * t)


def residuals(X: Tensor, y: Tensor, theta: Tensor, out: Tensor | None = None) -> Tensor:
    """X W + b - y for every run at once, (n, runs, targets), from inputs X (n, k) and targets y (n, t).

    The runs share the rows, so their predictions are one matmul, X (n, k) @ W (k, runs * t),
    with no copy of X per run and no column of ones: the bias is added to the product.
    `out` (n, runs * t) receives them without allocating.
    """
    import torch

    if out is None:
        return predict(X, theta).sub_(y.unsqueeze(1))
    runs, _, t = theta.shape
    if X.shape[1] == 1:
        # One feature: each prediction is one product, x * w, exactly what the matmul rounds
        # to, and an elementwise product reads X at memory speed where a BLAS kernel for so
        # thin a matrix may not.
        torch.mul(X, weights(theta), out=out)
    else:
        torch.mm(X, weights(theta), out=out)
    out.add_(theta[:, -1, :].reshape(runs * t))
    return out.view(X.shape[0], runs, t).sub_(y.unsqueeze(1))


def predict(X: Tensor, theta: Tensor) -> Tensor:
    """Predictions (n, runs, targets) for inputs X (n, k) and parameters theta (runs, k + 1, targets).

    X W, then + b: rounded as the book's w * t_u + b is (a fused multiply-add would round once).
    """
    runs, _, t = theta.shape
    return (X @ weights(theta)).add_(theta[:, -1, :].reshape(runs * t)).view(X.shape[0], runs, t)


def by_run(residual: Tensor) -> Tensor:
    """Residuals (n, runs, targets) as rows (runs * targets, n), each run's row contiguous.

    Reduced along those rows, a run's loss and bias gradient sum its rows exactly as a
    lone run's would, whatever else it is trained with (a sum down a column of many
    runs would take another order). For one run and one target this is a free view.
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


def gradient(X: Tensor, residual: Tensor, reduction: str) -> Tensor:
    """dL/dtheta (runs, k + 1, targets) from the residuals: scale * X^T r for W, scale * sum(r) for b.

    X^T r is one matmul for every run, each run's column reduced on its own.
    """
    import torch

    n, runs, t = residual.shape
    scale = loss_scale(n, t, reduction)
    if X.shape[1] == 1 and runs * t == 1:
        # The book's shape, one feature and one run: a dot product reads both vectors at
        # memory speed (a BLAS kernel for a 1-column matrix may not).
        grad_w = torch.dot(X[:, 0], residual.view(n)).view(1, 1, 1)
    else:
        grad_w = (X.T @ residual.reshape(n, runs * t)).view(-1, runs, t).permute(1, 0, 2)
    grad_b = residual.reshape(n, runs * t).sum(0).view(runs, 1, t)
    return torch.cat([grad_w, grad_b], 1).mul_(scale)


def loss_scale(n_rows: int, n_targets: int, reduction: str) -> float:
    """dL/d(pred) = scale * residual: 2/(n*targets) for the mean, 2 for the sum."""
    return 2.0 / (n_rows * n_targets) if reduction == "mean" else 2.0


def param_names(features, targets) -> list[str]:
    """Names of the parameters in --init order: w[target,feature] row by row, then b[target]."""
    if len(targets) == 1:
        return [f"w_{f}" for f in features] + ["b"]
    return [f"w_{t}_{f}" for t in targets for f in features] + [f"b_{t}" for t in targets]


def split_params(theta: Tensor) -> tuple[Tensor, Tensor]:
    """(W, b) of one run's theta (k + 1, targets): W is (targets, k), b is (targets,)."""
    return theta[:-1].T, theta[-1]


def join_params(weight: Tensor, bias: Tensor) -> Tensor:
    """Inverse of split_params: theta (k + 1, targets) from W (targets, k) and b (targets,)."""
    import torch

    return torch.cat([weight.T, bias.unsqueeze(0)], dim=0)


def initial_theta(
    kind: str, n_features: int, n_targets: int, *, seed: int, values: tuple[float, ...] = ()
) -> Tensor:
    """Starting parameters (k + 1, targets) in float64.

    ones: W = 1, b = 0 (the book's start); zeros; randn: standard normal from `seed`;
    values: explicit numbers, weights row by row then biases.
    """
    import torch

    if kind == "ones":
        weight, bias = torch.ones(n_targets, n_features), torch.zeros(n_targets)
    elif kind == "zeros":
        weight, bias = torch.zeros(n_targets, n_features), torch.zeros(n_targets)
    elif kind == "randn":
        gen = torch.Generator().manual_seed(seed)
        weight = torch.randn(n_targets, n_features, generator=gen)
        bias = torch.randn(n_targets, generator=gen)
    else:
        numbers = torch.tensor(values, dtype=torch.float64)
        weight = numbers[: n_targets * n_features].reshape(n_targets, n_features)
        bias = numbers[n_targets * n_features :]
    return join_params(weight.double(), bias.double())
