"""Whole-data statistics of the linear model, in chunked passes over the rows.

The squared loss of a linear model depends on the data only through its Gram
matrix: the column means, the centred cross-products X^T X, X^T y and y^T y, and
the row count. One streaming pass accumulates them in float64 (chunk by chunk,
merged as Chan, Golub and LeVeque do for variances, so no chunk's mean is lost
against another's); the least-squares optimum, the Hessian's largest eigenvalue
(the stability bound) and the `gram` gradient method all come from that one
small matrix. Losses themselves (a run's final loss, the optimum's) come from a
second chunked pass over the rows: the expanded quadratic form cancels
catastrophically when the fit is nearly exact. (Rows not held are not passed over
for each loss: train/anchor.py expands the form about the optimum instead.)

No pass makes a float64 copy of the whole data: each works on one chunk of rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

if TYPE_CHECKING:
    from torch import Tensor

# Rows per chunk: large enough that per-chunk overhead vanishes, small enough
# that a chunk's float64 temporaries stay within a few tens of MB.
CHUNK_ROWS = 1 << 16
# Singular values below this fraction of the largest count as zero when solving the
# normal equations: rank-deficient data (a column that repeats another) then gets
# the minimum-norm weights, as an SVD least-squares solver gives.
RCOND = 1e-12
# Elements one block of a multi-run loss pass holds (rows x runs x targets): about 1 MB of
# float64, so that the block's residuals are squared and summed while still in cache.
PASS_BLOCK = 1 << 17

Chunks = Callable[[], Iterable[tuple["Tensor", "Tensor"]]]  # a re-iterable source of (X, y) float64 chunks


@dataclass(frozen=True)
class Gram:
    """Sufficient statistics of rows (X, y) for the squared loss of a linear model, float64 on the CPU."""

    n: int
    mean_x: Tensor  # (k,)
    mean_y: Tensor  # (t,)
    sxx: Tensor  # (k, k): sum over rows of (x - mean_x)^T (x - mean_x)
    sxy: Tensor  # (k, t): sum of (x - mean_x)^T (y - mean_y)
    syy: Tensor  # (t, t): sum of (y - mean_y)^T (y - mean_y)
    sum_y2: float  # sum of y^2 over rows and targets: the loss of predicting zero, times n

    @property
    def k(self) -> int:
        """Number of features."""
        return self.mean_x.shape[0]

    def augmented(self) -> Tensor:
        """[X 1]^T [X 1], (k + 1, k + 1): the uncentred Gram matrix of the inputs with a ones column.

        Rebuilt from the centred sums, so it is as exact as they are.
        """
        import torch

        n, mu = self.n, self.mean_x
        top = torch.cat([self.sxx + n * torch.outer(mu, mu), (n * mu).unsqueeze(1)], 1)
        bottom = torch.cat([n * mu, torch.tensor([float(n)], dtype=mu.dtype)]).unsqueeze(0)
        return torch.cat([top, bottom], 0)

    def solve(self) -> Tensor:
        """The least-squares optimum theta (k + 1, t): weights (rows 0..k-1) then bias.

        Solved in centred form, W = Sxx^-1 Sxy and b = mean_y - mean_x W, which keeps
        a column such as 1e8 + i well conditioned. Where Sxx is singular the weights
        are the minimum-norm ones (the bias absorbs the means).
        """
        import torch

        d = self.sxx.diagonal().sqrt()
        if bool((d > 0).all()):
            # Scale every column to unit spread first: the conditioning then depends on
            # how the columns correlate, not on their units.
            corr = self.sxx / torch.outer(d, d)
            evals = torch.linalg.eigvalsh(corr)
            if float(evals[0]) > RCOND * float(evals[-1]):
                weight = torch.linalg.solve(corr, self.sxy / d.unsqueeze(1)) / d.unsqueeze(1)
                return self._with_bias(weight)
        weight = torch.linalg.lstsq(self.sxx, self.sxy, rcond=RCOND, driver="gelsd").solution
        return self._with_bias(weight)

    def _with_bias(self, weight: Tensor) -> Tensor:
        import torch

        bias = self.mean_y - self.mean_x @ weight
        return torch.cat([weight, bias.unsqueeze(0)], 0)

    def hessian_max(self, n_targets: int, reduction: str) -> float:
        """Largest eigenvalue of the loss Hessian in theta: scale * [X 1]^T [X 1], the targets apart."""
        import torch

        from gdcli.models import loss_scale

        scale = loss_scale(self.n, n_targets, reduction)
        return float(torch.linalg.eigvalsh(scale * self.augmented())[-1])

    def stable_lr(self, n_targets: int, reduction: str, momentum: float = 0.0, weight_decay: float = 0.0) -> float:
        """Largest learning rate for which full-batch gradient descent does not diverge.

        Plain descent multiplies the error along the top eigenvector by (1 - lr*lam)
        each step, which stays below 1 in size only for lr < 2/lam. With heavy-ball
        momentum m the bound widens to 2(1 + m)/lam; L2 weight decay wd adds wd to
        every eigenvalue of the Hessian.
        """
        lam = self.hessian_max(n_targets, reduction) + weight_decay
        return 2.0 * (1.0 + momentum) / lam if lam > 0 else float("inf")


# Work a least-squares solve may take (in units of about one multiply-add of a symmetric
# eigensolver, about a second per 1e9 on one core) before the optimum is reported as not computed.
MAX_SOLVE_WORK = 2e11
# Float64 copies of the (k + 1)-square Gram matrix the Gram side holds at once (accumulator,
# a chunk's cross-products, the augmented and the scaled matrices, the solver's workspace).
GRAM_COPIES = 6


@dataclass(frozen=True)
class SolvePlan:
    """Which side the least-squares problem on n rows of k features is solved from, or why it is not.

    "gram" decomposes the (k + 1)-square Gram matrix (k < n); "rows" the n x k rows
    themselves, whose n x n side is the small one when k >= n.
    """

    side: str | None
    reason: str | None = None


def gram_bytes(k: int) -> int:
    """Memory the Gram side needs for k features: a few float64 (k + 1)-square matrices."""
    return GRAM_COPIES * (k + 1) ** 2 * 8


def gram_method_bytes(k: int, runs: int) -> int:
    """Memory the gram method needs: the Gram matrix, and three (k + 1)-square matrices per run."""
    return gram_bytes(k) + runs * 3 * (k + 1) ** 2 * 8


def gram_method_misfit(k: int, have: int | None, runs: int = 1) -> str | None:
    """Why the gram method's matrices for k features and `runs` runs do not fit in `have` bytes of
    available memory (data.available_memory), or None."""
    from gdcli.memory import HEADROOM

    need = gram_method_bytes(k, runs)
    if have is None or need <= HEADROOM * have:
        return None
    return (f"its {k + 1:,} x {k + 1:,} matrices need about {need / 1024**3:.1f} GiB of memory; "
            f"{have / 1024**3:.1f} GiB is available")


def solve_plan(n: int, k: int, available: int | None) -> SolvePlan:
    """Decide, before any training, how the optimum and the stability bound will be computed.

    The Gram side costs about n k^2 to build and a few k^3 to decompose; the rows side
    (an SVD least-squares solve of the centred n x k rows, and the n x n matrix [X 1][X 1]^T)
    about n^2 k and n^3. The smaller side is tried first; a side that would not fit in memory
    or would take more than MAX_SOLVE_WORK is not used, and where neither fits the reason is kept.
    """
    from gdcli.memory import HEADROOM

    costs = {
        "gram": (gram_bytes(k), n * k * k / 10 + 7.0 * k**3),
        "rows": (3 * n * (k + 1) * 8 + 3 * n * n * 8, n * n * k * 12.0 + float(n) ** 3),
    }
    order = ("gram", "rows") if k + 1 <= n else ("rows", "gram")
    budget = None if available is None else HEADROOM * available
    for side in order:
        need, work = costs[side]
        if (budget is None or need <= budget) and work <= MAX_SOLVE_WORK:
            return SolvePlan(side)
    need, work = costs[order[0]]
    if budget is not None and need > budget:
        why = f"it needs about {need / 1024**3:.1f} GiB of memory; {available / 1024**3:.1f} GiB is available"
    else:
        why = f"it would take about {work:.1e} operations (at most {MAX_SOLVE_WORK:.0e})"
    return SolvePlan(None, f"{k:,} features on {n:,} rows are too many for a least-squares solve: {why}")


@dataclass(frozen=True)
class Solution:
    """The least-squares optimum on a set of rows and the loss Hessian's largest eigenvalue, computed
    together once, or the reason they were not computed."""

    theta: Tensor | None  # (k + 1, t): weights, then the bias
    top: float | None  # largest eigenvalue of [X 1]^T [X 1] (the Hessian without its scale)
    reason: str | None = None

    def stable_lr(self, n: int, n_targets: int, reduction: str, momentum: float = 0.0, weight_decay: float = 0.0):
        """Largest stable full-batch learning rate (see Gram.stable_lr); None where not computed."""
        from gdcli.models import loss_scale

        if self.top is None:
            return None
        lam = loss_scale(n, n_targets, reduction) * self.top + weight_decay
        return 2.0 * (1.0 + momentum) / lam if lam > 0 else float("inf")


def solve(plan: SolvePlan, gram_of: Callable[[], Gram], chunks: Chunks) -> Solution:
    """The optimum and the Hessian's top eigenvalue on the side `plan` chose (one decomposition each)."""
    import torch

    if plan.side is None:
        return Solution(None, None, plan.reason)
    if plan.side == "gram":
        g = gram_of()
        return Solution(g.solve(), float(torch.linalg.eigvalsh(g.augmented())[-1]))
    return _solve_rows(chunks())


def _solve_rows(chunks: Iterable[tuple[Tensor, Tensor]]) -> Solution:
    """The rows side: for k >= n both answers come from the n x k rows, never a k x k matrix.

    The weights are the minimum-norm least-squares solution of the centred rows (an SVD
    solve; singular values below sqrt(RCOND) of the largest count as zero, the same cut
    as RCOND on the Gram matrix, whose eigenvalues are their squares), the bias absorbing
    the means, exactly as Gram.solve gives them. [X 1]^T [X 1] and [X 1][X 1]^T share
    their non-zero eigenvalues: the n x n one gives the largest.
    """
    import torch

    parts = list(chunks)
    X = torch.cat([x for x, _ in parts]).to(torch.float64)
    y = torch.cat([t for _, t in parts]).to(torch.float64)
    del parts
    mean_x, mean_y = X.mean(0), y.mean(0)
    weight = torch.linalg.lstsq(X - mean_x, y - mean_y, rcond=RCOND**0.5, driver="gelsd").solution
    theta = torch.cat([weight, (mean_y - mean_x @ weight).unsqueeze(0)], 0)
    outer = X @ X.T
    outer += 1.0  # the ones column of [X 1]
    return Solution(theta, float(torch.linalg.eigvalsh(outer)[-1]))


def gram(chunks: Iterable[tuple[Tensor, Tensor]]) -> Gram:
    """The Gram statistics of rows given chunk by chunk (any float dtype; accumulated in float64)."""
    total = GramSum()
    for X, y in chunks:
        total.add(X, y)
    return total.result()


class GramSum:
    """Gram statistics accumulated chunk by chunk (`add`), for a pass that does more than sum them."""

    def __init__(self):
        self.n, self.mean, self.cross, self.sum_y2, self.k = 0, None, None, 0.0, None

    def add(self, X: Tensor, y: Tensor) -> None:
        """Take in one chunk of rows (any float dtype; accumulated in float64)."""
        import torch

        self.k = X.shape[1]
        Z = torch.cat([X, y], 1).to("cpu", torch.float64)
        m = Z.shape[0]
        if m == 0:
            return
        self.sum_y2 += float(Z[:, X.shape[1]:].square().sum())
        chunk_mean = Z.mean(0)
        centred = Z - chunk_mean
        chunk_cross = centred.T @ centred
        if self.mean is None:
            self.n, self.mean, self.cross = m, chunk_mean, chunk_cross
            return
        # Chan et al.: merging two blocks adds the spread of their means about each other.
        total = self.n + m
        delta = chunk_mean - self.mean
        self.cross = self.cross + chunk_cross + torch.outer(delta, delta) * (self.n * m / total)
        self.mean = self.mean + delta * (m / total)
        self.n = total

    def result(self) -> Gram:
        """The Gram statistics of every row added; ValueError where none was."""
        if self.mean is None:
            raise ValueError("no rows")
        k, mean, cross = self.k, self.mean, self.cross
        return Gram(self.n, mean[:k], mean[k:], cross[:k, :k], cross[:k, k:], cross[k:, k:], self.sum_y2)


def sum_squares(chunks: Iterable[tuple[Tensor, Tensor]]) -> float:
    """Sum of the targets' squares over the rows, float64: the loss of predicting zero, times n."""
    import torch

    return sum(float(y.to(torch.float64).square().sum()) for _, y in chunks)


def losses(chunks: Iterable[tuple[Tensor, Tensor]], theta: Tensor, reduction: str, model=None) -> Tensor:
    """Squared-error loss of each of R parameter sets on the rows, float64 (R,).

    theta is a line's (R, k + 1, t) columns, or a model's flat (R, P) with `model`
    (gdcli/models/) given. One pass over the chunks for all R at once: for a line, a
    chunk's predictions for every run are one matmul, X (c, k) @ W (k, R t).
    """
    import torch

    theta = theta.detach().to("cpu", torch.float64)
    if model is not None and not model.linear_in_params:
        return _model_losses(chunks, theta, reduction, model)
    if theta.dim() == 2:
        theta = model.columns(theta)
    runs, k1, t = theta.shape
    weight = theta[:, :-1, :].permute(1, 0, 2).reshape(k1 - 1, runs * t)
    bias = theta[:, -1, :].reshape(1, runs * t)
    total = torch.zeros(runs, dtype=torch.float64)
    rows = 0
    for X, y in chunks:
        X, y = X.to("cpu", torch.float64), y.to("cpu", torch.float64)
        # Blocks of rows whose residuals for every run stay in cache.
        step = max(1, PASS_BLOCK // max(1, runs * t))
        for start in range(0, X.shape[0], step):
            Xc, yc = X[start : start + step], y[start : start + step]
            # One feature: an elementwise product (a BLAS kernel for a 1-column matrix can be slow).
            pred = torch.mul(Xc, weight).add_(bias) if k1 == 2 else torch.addmm(bias, Xc, weight)
            residual = pred.view(-1, runs, t).sub_(yc.unsqueeze(1))
            total += residual.square_().view(-1, runs * t).sum(0).view(runs, t).sum(1)
        rows += X.shape[0]
    return total / (rows * t) if reduction == "mean" else total


def _model_losses(chunks, theta: Tensor, reduction: str, model) -> Tensor:
    """The same pass for a model that is not a line: its predictions block by block."""
    import torch

    runs, t = theta.shape[0], model.targets
    total = torch.zeros(runs, dtype=torch.float64)
    rows = 0
    for X, y in chunks:
        X, y = X.to("cpu", torch.float64), y.to("cpu", torch.float64)
        # Blocks whose hidden layer for every run stays within a few MB.
        step = max(1, PASS_BLOCK // max(1, runs * (t + model.hidden)))
        for start in range(0, X.shape[0], step):
            residual = model.residuals(X[start : start + step], y[start : start + step], theta)
            total += residual.square().sum((0, 2))
        rows += X.shape[0]
    return total / (rows * t) if reduction == "mean" else total


def rows(X, y, index: Tensor | None = None, transform=None, size: int = CHUNK_ROWS) -> Iterator[tuple[Tensor, Tensor]]:
    """(X, y) chunks of the rows `index` (all, in order, when None) in float64, inputs transformed.

    X and y are the data as read, float64 (torch tensors or numpy arrays, shared, not
    copied); only one chunk is gathered and transformed at a time.
    """
    import torch

    X = torch.as_tensor(X)
    y = torch.as_tensor(y)
    n = X.shape[0] if index is None else index.shape[0]
    for start in range(0, n, size):
        if index is None:
            Xc, yc = X[start : start + size], y[start : start + size]
        else:
            idx = index[start : start + size]
            Xc, yc = X[idx], y[idx]
        Xc = Xc.to(torch.float64)
        yield (transform.apply(Xc) if transform is not None else Xc), yc.to(torch.float64)
