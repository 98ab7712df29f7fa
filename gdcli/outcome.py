"""One verdict per run: how it ended, and why, for fit, compare and sweep alike.

A run is judged once, here, from numbers measured the same way for every run:
the start and final training losses, both in float64 at the same precision; the
first epoch (if any) at which something stopped being finite; and, for full-batch
gd and sgd, the exact stability bound 2/lambda_max on the learning rate.

The verdicts, in order of precedence:
- ``diverged`` (non-finite): the loss or the parameters stopped being finite;
- ``diverged`` (rose): the run ended finite but clearly above where it started:
  more than 1% above (and beyond rounding), so that the noise of mini-batches or
  of an adaptive optimizer started at the optimum is not called divergence. With
  weight decay the objective is the loss plus (wd/2)|theta|^2, the one the
  optimizer descends: decay pulls the plain loss up on purpose;
- ``unstable``: full-batch gd or sgd with an lr above the stability bound. The
  error along the Hessian's top eigenvector then grows every step, so the run
  diverges sooner or later, even while its loss still falls;
- ``converging``: none of the above.

fit exits 3 for ``diverged`` (either kind) and warns for ``unstable``; compare
and sweep show the verdict and its reason in their tables and JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

CONVERGING = "converging"
DIVERGED = "diverged"
UNSTABLE = "unstable"

# A final loss counts as risen only when it ends more than RISE above its start
# (relative), and beyond this many units in the last place of the training dtype:
# a learning rate of 1e-12 leaves the loss where it was, not "above" it.
RISE = 1e-2
ROUNDING_ULPS = 64
EPS = {"float32": 2.0**-23, "float64": 2.0**-52}


@dataclass(frozen=True)
class Verdict:
    """How one run ended: `kind` is converging, diverged or unstable; `reason` says why in words."""

    kind: str
    reason: str
    cause: str | None = None  # diverged runs: "nonfinite" or "rose"; unstable: "lr"
    epoch: int | None = None  # the epoch at which a non-finite run diverged

    @property
    def diverged(self) -> bool:
        """Non-finite, or ended above its start: fit's exit code 3."""
        return self.kind == DIVERGED

    @property
    def label(self) -> str:
        """A short cell for tables: no, epoch N, rose, unstable."""
        if self.kind == CONVERGING:
            return "no"
        if self.cause == "nonfinite":
            return f"epoch {self.epoch}"
        return "rose" if self.cause == "rose" else "unstable"

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"verdict": self.kind, "reason": self.reason, "diverged_at": self.epoch}


def judge(
    *,
    start_loss: float,
    final_loss: float,
    dtype: str,
    diverged_at: int | None = None,
    nonfinite: str = "the training loss",
    lr: float | None = None,
    stable_lr: float | None = None,
    start_penalty: float = 0.0,
    final_penalty: float = 0.0,
) -> Verdict:
    """The verdict for one run.

    `diverged_at` is the first epoch at which `nonfinite` (the training loss, the
    validation loss or the parameters) stopped being finite; `stable_lr` is the
    exact bound where one applies (full-batch gd and sgd), else None. The penalties
    are weight decay's (wd/2)|theta|^2 at the start and at the end.
    """
    if diverged_at is not None or not math.isfinite(final_loss):
        where = f" at epoch {diverged_at}" if diverged_at is not None else ""
        return Verdict(DIVERGED, f"non-finite{where}: {nonfinite} stopped being finite", "nonfinite", diverged_at)
    start, final = start_loss + start_penalty, final_loss + final_penalty
    margin = max(RISE, ROUNDING_ULPS * EPS.get(dtype, EPS["float32"]))
    if final > start * (1 + margin):
        return Verdict(DIVERGED, "the loss rose above its start", "rose")
    if above_bound(lr, stable_lr):
        return Verdict(UNSTABLE, f"lr above the stability bound 2/λmax = {stable_lr:.4e}", "lr")
    return Verdict(CONVERGING, "converging")


# A finite-difference gradient off from autograd's by more than this fraction of the gradient's
# norm at the start was broken by its step (--delta), not by the lr or the data: a sound step
# agrees to rounding (1e-6 and below), and gd still descends at a few percent.
STEP_TOLERANCE = 0.1


def step_broken(step_error: float | None) -> bool:
    """Whether a finite-difference run's gradient at the start (max diff / norm against autograd) was unusable."""
    return step_error is not None and not step_error <= STEP_TOLERANCE  # nan too


def blame_step(verdict: Verdict, step_error: float | None, delta: float) -> Verdict:
    """A diverged finite-difference run whose gradient was broken from its first step: the reason names --delta."""
    if not verdict.diverged or not step_broken(step_error):
        return verdict
    return replace(verdict, reason=f"{verdict.reason}; the finite-difference step --delta {delta:g} broke the gradient")


def above_bound(lr: float | None, stable_lr: float | None) -> bool:
    """Whether an lr lies above the stability bound (None: no bound applies)."""
    return stable_lr is not None and lr is not None and lr > stable_lr


def exact_fit(optimum_loss: float, target_power: float) -> bool:
    """Whether the optimum fits the rows exactly: its loss is rounding noise next to the targets' own size.

    `target_power` is the loss of predicting zero (mean or sum of y^2). The optimum is
    solved in float64 on data never rounded to the training dtype, where an exact
    line leaves residuals of a few eps * |y|; below (64 eps)^2 of the targets' power
    (about 5e-29 relative) the fit is exact.
    """
    return optimum_loss <= (64 * EPS["float64"]) ** 2 * target_power


def relative_gap(gap: float, optimum_loss: float, exact: bool) -> float | None:
    """The gap as a fraction of the optimum; None when the optimum is an exact fit (it would divide by noise)."""
    if exact or not math.isfinite(gap) or optimum_loss <= 0:
        return None
    return gap / optimum_loss
