"""One verdict per run: how it ended, and why, for fit, compare and sweep alike.

A run is judged once, here, from numbers measured the same way for every run:
the start and final training losses, both in float64 at the same precision; the
first epoch (if any) at which something stopped being finite; and, for full-batch
gd and sgd, the exact stability bound 2/lambda_max on the learning rate.

The verdicts, in order of precedence:
- ``diverged`` (non-finite): the loss or the parameters stopped being finite;
- ``diverged`` (rose): the run ended finite but above where it started;
- ``unstable``: full-batch gd or sgd with an lr above the stability bound. The
  error along the Hessian's top eigenvector then grows every step, so the run
  diverges sooner or later, even while its loss still falls;
- ``converging``: none of the above.

fit exits 3 for ``diverged`` (either kind) and warns for ``unstable``; compare
and sweep show the verdict and its reason in their tables and JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CONVERGING = "converging"
DIVERGED = "diverged"
UNSTABLE = "unstable"

# A final loss counts as risen only beyond rounding: this many units in the last
# place of the training dtype, relative to the start. A learning rate of 1e-12
# leaves the loss where it was, not "above" it.
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
) -> Verdict:
    """The verdict for one run.

    `diverged_at` is the first epoch at which `nonfinite` (the training loss, the
    validation loss or the parameters) stopped being finite; `stable_lr` is the
    exact bound where one applies (full-batch gd and sgd), else None.
    """
    if diverged_at is not None or not math.isfinite(final_loss):
        where = f" at epoch {diverged_at}" if diverged_at is not None else ""
        return Verdict(DIVERGED, f"non-finite{where}: {nonfinite} stopped being finite", "nonfinite", diverged_at)
    if final_loss > start_loss * (1 + ROUNDING_ULPS * EPS.get(dtype, EPS["float32"])):
        return Verdict(DIVERGED, "the loss rose above its start", "rose")
    if stable_lr is not None and lr is not None and lr > stable_lr:
        return Verdict(UNSTABLE, f"lr above the stability bound 2/λmax = {stable_lr:.4e}", "lr")
    return Verdict(CONVERGING, "converging")


def exact_fit(optimum_loss: float, target_power: float, dtype: str) -> bool:
    """Whether the optimum fits the rows exactly: its loss is rounding noise next to the targets' own size.

    `target_power` is the loss of predicting zero (mean or sum of y^2). Rounding the
    data to the training dtype alone leaves residuals of about eps * |y|, so an
    optimum below (1000 eps)^2 of the targets' power is an exact fit.
    """
    eps = EPS.get(dtype, EPS["float32"])
    return optimum_loss <= (1e3 * eps) ** 2 * target_power


def relative_gap(gap: float, optimum_loss: float, exact: bool) -> float | None:
    """The gap as a fraction of the optimum; None when the optimum is an exact fit (it would divide by noise)."""
    if exact or not math.isfinite(gap) or optimum_loss <= 0:
        return None
    return gap / optimum_loss
