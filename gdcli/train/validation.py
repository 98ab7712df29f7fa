"""The validation rows' metrics (rows, MSE, RMSE, MAE, R² per target) of every run at its end.

Measured once, after training, from the final parameters, on the validation rows in
float64 before any rounding to the training dtype (as the final losses are), and in the
targets' own units: the transform touches inputs only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gdcli.train.plan import by_prep

if TYPE_CHECKING:
    from torch import Tensor

    from gdcli.train.trainer import Trainer


def validation_metrics(trainer: Trainer, theta64: Tensor) -> list[dict | None]:
    """Each run's {target: {"rows", "mse", "rmse", "mae", "r2"}} on its validation rows; None without a split.

    Runs that share their rows are measured in one pass, a block of rows at a time small
    enough that every run's predictions (and a network's hidden layer) stay within a few MB.
    """
    from gdcli import metrics
    from gdcli.stats import PASS_BLOCK

    plan = trainer.plan
    found: list[dict | None] = [None] * plan.runs
    if plan.val_rows is None:
        return found
    model, targets = plan.model, plan.dataset.targets
    for members, prep in by_prep(plan.prepared):
        theta = theta64[members]
        scores = metrics.Scores()
        step = max(1, PASS_BLOCK // max(1, len(members) * (len(targets) + model.hidden)))
        for X, y in prep.reference("val"):
            for start in range(0, X.shape[0], step):
                predicted = model.predict(X[start : start + step], theta)  # (rows, runs, targets)
                scores.add(y[start : start + step, None, :].numpy(), predicted.numpy())
        for i, run in enumerate(members):
            found[run] = scores.by_target(targets, (i,))
    return found
