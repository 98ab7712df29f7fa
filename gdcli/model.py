"""The linear model y = X W^T + b, its loss, and what linear algebra says about it.

Parameters live in one tensor `theta` of shape (runs, features + 1, targets): rows
0..k-1 hold W^T and the last row holds b. The inputs carry a matching column of
ones ("augmented" X), so a forward pass for every run at once is one batched
matmul. The leading run dimension is what lets a sweep train a hundred runs as
one tensor program; a single `fit` is simply runs = 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor


def augment(X: Tensor) -> Tensor:
    """X (..., n, k) with a column of ones appended: (..., n, k + 1)."""
    import torch

    ones = torch.ones(*X.shape[:-1], 1, dtype=X.dtype, device=X.device)
    return torch.cat([X, ones], dim=-1)


def predict(Xa: Tensor, theta: Tensor) -> Tensor:
    """Predictions (runs, n, targets) for augmented inputs (runs, n, k + 1)."""
    import torch

    return torch.bmm(Xa, theta)


def loss(pred: Tensor, y: Tensor, reduction: str) -> Tensor:
    """Squared error per run, (runs,): mean or sum over rows and targets."""
    return reduce_squares((pred - y).square(), reduction)


def reduce_squares(sq: Tensor, reduction: str) -> Tensor:
    """Squared errors (..., rows, targets) reduced per run: mean or sum over rows and targets."""
    return sq.mean((-2, -1)) if reduction == "mean" else sq.sum((-2, -1))


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


def least_squares(Xa: Tensor, y: Tensor, reduction: str) -> tuple[Tensor, float]:
    """The exact optimum theta (k + 1, targets) and its loss, solved in float64.

    Uses an SVD-based solver so that rank-deficient data (more parameters than
    rows, a constant column) still gets the minimum-norm optimum.
    """
    import torch

    A = Xa.detach().to("cpu", torch.float64)
    B = y.detach().to("cpu", torch.float64)
    theta = torch.linalg.lstsq(A, B, driver="gelsd").solution
    best = loss(predict(A.unsqueeze(0), theta.unsqueeze(0)), B.unsqueeze(0), reduction)
    return theta, float(best[0])


def hessian_max_eigenvalue(Xa: Tensor, n_targets: int, reduction: str) -> float:
    """Largest eigenvalue of the loss Hessian in theta.

    The loss is quadratic, so its Hessian is constant: scale * Xa^T Xa for each
    target column (the targets do not interact).
    """
    import torch

    A = Xa.detach().to("cpu", torch.float64)
    scale = loss_scale(A.shape[0], n_targets, reduction)
    return float(torch.linalg.eigvalsh(scale * A.T @ A)[-1])


def stable_lr(
    Xa: Tensor, n_targets: int, reduction: str, momentum: float = 0.0, weight_decay: float = 0.0
) -> float:
    """Largest learning rate for which full-batch gradient descent does not diverge.

    Plain descent multiplies the error along the top eigenvector by (1 - lr*lam)
    each step, which stays below 1 in size only for lr < 2/lam. With heavy-ball
    momentum m the bound widens to 2(1 + m)/lam; L2 weight decay wd adds wd to
    every eigenvalue of the Hessian.
    """
    lam = hessian_max_eigenvalue(Xa, n_targets, reduction) + weight_decay
    return 2.0 * (1.0 + momentum) / lam if lam > 0 else float("inf")


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
