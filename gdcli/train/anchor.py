"""Losses of a model linear in its parameters on rows not held, without a pass over them per loss.

The squared loss of a line is a quadratic in its parameters whose coefficients are the
rows' Gram statistics. Expanded about zero it cancels catastrophically when the fit is
nearly exact (the loss is a small difference of large sums); expanded about an anchor
whose loss a residual pass measured, the least-squares optimum, it is that loss plus a
gradient term (about zero there) plus a positive quadratic form: no large sums cancel.
So one residual pass at the optimum, over the training and validation rows together,
gives every later loss (start, final, validation) of every run from the small Gram matrices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor

    from gdcli.data.tensors import Prepared
    from gdcli.stats import Gram


# Relative rounding error the anchored sum may carry and still stand for a residual pass's sum.
TRUST = 1e-13


def anchored_sums(g: Gram, theta: Tensor, anchor: Tensor, anchor_sum: float) -> tuple[Tensor, Tensor]:
    """Sum over rows and targets of the squared residuals of each of R lines `theta` (R, k + 1, t),
    from the rows' Gram statistics and the sum `anchor_sum` measured at `anchor` (k + 1, t), float64 (R,);
    and whether each sum is within TRUST of exact (R,) bool: where it is not, a residual pass measures it.

    With residuals r = (x - mean_x) W - (y - mean_y) + d, d = mean_x W + b - mean_y, the sum
    is sum |(x - mean_x) W - (y - mean_y)|^2 + n |d|^2; at W = W0 + dW, b = b0 + db it is the
    anchor's sum + 2 <dW, Sxx W0 - Sxy> + <dW, Sxx dW> + n (2 d0.e + |e|^2), e = mean_x dW + db.
    """
    import torch

    theta, anchor = theta.to(torch.float64), anchor.to(torch.float64)
    W0, b0 = anchor[:-1], anchor[-1]
    dW, db = theta[:, :-1] - W0, theta[:, -1] - b0
    slope = g.sxx @ W0 - g.sxy  # (k, t): half the gradient of the centred part at the anchor
    d0 = g.mean_x @ W0 + b0 - g.mean_y  # (t,): the anchor's mean residual
    e = torch.einsum("k,rkt->rt", g.mean_x, dW) + db
    total = anchor_sum + 2 * (dW * slope).sum((1, 2)) + (dW * (g.sxx @ dW)).sum((1, 2))
    total = total + g.n * (2 * (e * d0).sum(1) + e.square().sum(1))
    # What rounding may have left: each term's size, and the sizes that slope and d0 cancelled.
    size_slope = g.sxx.abs() @ W0.abs() + g.sxy.abs()
    size_d0 = g.mean_x.abs() @ W0.abs() + b0.abs() + g.mean_y.abs()
    size = anchor_sum + 2 * (dW.abs() * size_slope).sum((1, 2)) + (dW.abs() * (g.sxx.abs() @ dW.abs())).sum((1, 2))
    size = size + g.n * (2 * (e.abs() * size_d0).sum(1) + e.square().sum(1))
    eps = torch.finfo(torch.float64).eps
    trusted = size * eps * (g.k + 2) <= TRUST * total
    return total.clamp_min(0.0), trusted


def anchor_of(prep: Prepared, solve_plan) -> tuple | None:
    """(the optimum (k + 1, t), its residual sums on the training and validation rows) for rows not
    held, measured once in one pass over them; None where the optimum is not computed."""
    key = ("anchor", solve_plan.side)
    if key not in prep.cache:
        solution = prep.solution(solve_plan)
        prep.cache[key] = None if solution.theta is None else (solution.theta, *_residual_sums(prep, solution.theta))
    return prep.cache[key]


def _residual_sums(prep: Prepared, theta: Tensor) -> tuple[float, float | None]:
    """Sum of squared residuals of the line `theta` on the training and on the validation rows, in one pass."""
    from gdcli import stats

    if prep.n_val == 0:  # every row trains
        return float(stats.losses(prep.reference("train"), theta[None], "sum")[0]), None
    return tuple(float(s[0]) for s in both_sums(prep, theta[None], None))


def both_sums(prep: Prepared, theta: Tensor, model) -> tuple[Tensor, Tensor]:
    """Sums of squared residuals of each of R runs `theta` on the training and on the validation rows
    of rows not held, (R,) each, in one read of the rows."""
    import torch

    from gdcli import stats

    runs = theta.shape[0]
    sums = [torch.zeros(runs, dtype=torch.float64), torch.zeros(runs, dtype=torch.float64)]
    for pair in prep.split_reference():
        for total, rows in zip(sums, pair):
            if rows is not None and rows[0].shape[0]:
                total += stats.losses([rows], theta, "sum", model)
    return sums[0], sums[1]


def losses(prep: Prepared, solve_plan, theta: Tensor, part: str, reduction: str) -> tuple[Tensor, Tensor] | None:
    """Loss of each line `theta` (R, k + 1, t) on `part` (train or val) of rows not held, float64 (R,),
    from the Gram statistics about the anchor, and which of them to trust (see `anchored_sums`); None
    where there is no anchor (no optimum)."""
    found = anchor_of(prep, solve_plan)
    if found is None:
        return None
    optimum, train_sum, val_sum = found
    g = prep.gram("reference" if part == "train" else "reference val")
    total, trusted = anchored_sums(g, theta, optimum, train_sum if part == "train" else val_sum)
    return (total / (g.n * theta.shape[2]) if reduction == "mean" else total), trusted
