"""Regression metrics accumulated block by block: rows, MSE, RMSE, MAE and R² per target.

Each is defined as scikit-learn's `mean_squared_error`, `root_mean_squared_error`,
`mean_absolute_error` and `r2_score` (multioutput="raw_values", its default
force_finite=True) on all the rows at once, but the rows come a block at a time, so a
file bigger than memory can be scored:

- sums of squared and absolute errors add up over the blocks (float64);
- R² = 1 - SS_res / SS_tot needs the truth's spread about its mean over all rows: each
  block gives (n, mean, M2) and the blocks merge by Chan, Golub and LeVeque's formula,
  which never subtracts two large sums, so 1e7 rows around a mean of 1e9 score exactly.
- A constant truth (SS_tot = 0) follows scikit-learn's force_finite=True: R² is 1.0 when
  every prediction is exact, else 0.0. Its constancy is told by min == max, so rounding in
  the mean cannot turn it into a tiny spread. Fewer than two rows: R² is NaN (undefined),
  as scikit-learn returns.

numpy only (no torch): evaluate's arithmetic stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import numpy as np

NAMES = ("rows", "mse", "rmse", "mae", "r2")  # the keys of one target's metrics, in table order


class Scores:
    """Running sums for the metrics of predictions against their truth, one set per output.

    `add(truth, prediction)` takes a block of rows: arrays of shape (n, *shape), where
    truth may broadcast against the prediction (several runs' predictions of one truth).
    """

    def __init__(self):
        self.n = 0
        self.sse = self.sae = None  # sums of squared and absolute errors, (*shape,)
        self.mean = self.m2 = None  # the truth's running mean and sum of squared deviations
        self.low = self.high = None  # the truth's smallest and largest values

    def add(self, truth: np.ndarray, prediction: np.ndarray) -> None:
        """Take one block of rows into the sums."""
        import numpy as np

        truth = np.asarray(truth, dtype=np.float64)
        prediction = np.asarray(prediction, dtype=np.float64)
        m = truth.shape[0]
        if m == 0:
            return
        error = prediction - truth
        sse, sae = np.square(error).sum(0), np.abs(error).sum(0)
        mean = truth.mean(0)
        m2 = np.square(truth - mean).sum(0)  # two passes over the block: no cancellation
        low, high = truth.min(0), truth.max(0)
        if self.n == 0:
            self.n, self.sse, self.sae, self.mean, self.m2, self.low, self.high = m, sse, sae, mean, m2, low, high
            return
        total = self.n + m
        delta = mean - self.mean
        self.m2 = self.m2 + m2 + np.square(delta) * (self.n * m / total)
        self.mean = self.mean + delta * (m / total)
        self.sse, self.sae = self.sse + sse, self.sae + sae
        self.low, self.high = np.minimum(self.low, low), np.maximum(self.high, high)
        self.n = total

    def values(self) -> dict[str, np.ndarray | int]:
        """{"rows", "mse", "rmse", "mae", "r2"}: arrays of the outputs' shape (rows: an int)."""
        import numpy as np

        if self.n == 0:
            nan = np.full((), np.nan)
            return {"rows": 0, "mse": nan, "rmse": nan, "mae": nan, "r2": nan}
        shape = np.broadcast_shapes(self.sse.shape, self.m2.shape)
        mse = self.sse / self.n
        ss_tot = np.broadcast_to(np.where(self.low == self.high, 0.0, self.m2), shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(ss_tot > 0, 1.0 - self.sse / ss_tot, np.where(self.sse == 0, 1.0, 0.0))
        if self.n < 2:
            r2 = np.full(shape, np.nan)
        return {"rows": self.n, "mse": mse, "rmse": np.sqrt(mse), "mae": self.sae / self.n, "r2": r2}

    def by_target(self, targets: Sequence[str], at: tuple = ()) -> dict[str, dict]:
        """The metrics of outputs (..., targets) as {target: {"rows", "mse", "rmse", "mae", "r2"}} of floats;
        `at` picks one set where the outputs have leading axes (several runs: at=(run,))."""
        import numpy as np

        found = self.values()
        out = {}
        for j, name in enumerate(targets):
            out[name] = {"rows": int(found["rows"])}
            for key in NAMES[1:]:
                value = np.asarray(found[key])
                out[name][key] = float(value[(*at, j)] if value.ndim else value)
        return out

def score(truth: np.ndarray, prediction: np.ndarray, targets: Sequence[str]) -> dict[str, dict]:
    """The metrics of one block of rows (n, targets) by target: Scores over a single block."""
    scores = Scores()
    scores.add(truth, prediction)
    return scores.by_target(targets)
