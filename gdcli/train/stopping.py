"""Stopping a run before its last epoch: no improvement (--tol, --patience), near the optimum
(--within), or the user's Ctrl-C.

The rules read the losses of a whole chunk of epochs at the chunk's synchronization
point, for every run at once (NumPy over an (epochs, runs) array, no Python loop over
epochs or runs), and name the first epoch at which each run met one. The trainer then
freezes a stopped run at that epoch's parameters while the other runs of a batched
sweep go on.

The --tol rule is scikit-learn's `tol`/`n_iter_no_change`: an epoch improves when its
loss is below the best loss so far minus tol; a run stops after `patience`
consecutive epochs that do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gdcli.errors import flags_in, param
from gdcli.text import plural

if TYPE_CHECKING:
    import numpy as np

    from gdcli.config import RunConfig

PATIENCE, WITHIN, INTERRUPTED = "patience", "within", "interrupted"


@dataclass(frozen=True)
class Stop:
    """Why and when a run stopped before its last epoch."""

    epoch: int
    rule: str  # PATIENCE, WITHIN or INTERRUPTED

    def reason(self, cfg: RunConfig, has_val: bool) -> str:
        """The rule in words, with the settings that set it (named by errors.param: the CLI shows
        them as flags, the API by name)."""
        if self.rule == PATIENCE:
            loss = "validation loss" if has_val else "training loss"
            by = f"by more than {cfg.tol:g} " if cfg.tol else ""
            return (
                f"the {loss} did not improve {by}for {plural(cfg.patience, 'epoch')} "
                f"({param('tol')} {cfg.tol:g}, {param('patience')} {cfg.patience})"
            )
        if self.rule == WITHIN:
            return (
                f"the training loss came within {cfg.within * 100:g}% of the optimum, a relative gap of at most "
                f"{cfg.within:g} ({param('within')} {cfg.within:g})"
            )
        return "interrupted (Ctrl-C)"

    def to_dict(self, cfg: RunConfig, has_val: bool, shown=flags_in) -> dict:
        """JSON-ready, the reason's settings as `shown` names them (the CLI's flags by default)."""
        return {"rule": self.rule, "epoch": self.epoch, "reason": shown(self.reason(cfg, has_val))}


class Rules:
    """The early-stopping rules of a batch of runs, carried from chunk to chunk."""

    def __init__(self, cfg: RunConfig, runs: int, thresholds: np.ndarray | None):
        import numpy as np

        self.tol, self.patience = cfg.tol, cfg.patience
        self.thresholds = thresholds  # (runs,) training loss at which --within is met, or None
        self.best = np.full(runs, np.inf)  # the best monitored loss so far
        self.waited = np.zeros(runs, dtype=np.int64)  # epochs since the last improvement

    @staticmethod
    def wanted(cfg: RunConfig) -> bool:
        return cfg.patience is not None or cfg.within is not None

    def scan(self, first: int, monitored: np.ndarray, train: np.ndarray, active: np.ndarray) -> dict[int, Stop]:
        """The runs (among the active ones) that meet a rule in this chunk, each at its first such epoch.

        `monitored` and `train` are (epochs, runs) float64: the loss the patience rule
        watches (validation with a split) and the training loss.
        """
        import numpy as np

        count, runs = train.shape
        hits = np.zeros((count, runs), dtype=bool)
        if self.patience is not None:
            # The best loss before each epoch: the carried best, then the running minimum (NaN skipped).
            before = np.fmin.accumulate(np.vstack([self.best[None], monitored]), axis=0)
            # A NaN loss is no improvement (the divergence check reports it).
            improved = monitored < before[:-1] - self.tol
            steps = np.arange(count)[:, None]
            last = np.maximum.accumulate(np.where(improved, steps, -1), axis=0)
            waited = np.where(last >= 0, steps - last, steps + 1 + self.waited[None])
            hits |= waited >= self.patience
            self.best = before[-1]
            self.waited = waited[-1]
        if self.thresholds is not None:
            hits |= train <= self.thresholds[None]
        hits &= active[None]
        stops = {}
        for run in np.flatnonzero(hits.any(axis=0)).tolist():
            at = int(hits[:, run].argmax())
            near = self.thresholds is not None and train[at, run] <= self.thresholds[run]
            stops[run] = Stop(first + at, WITHIN if near else PATIENCE)
        return stops


def within_text(within: float, optimum: str = "optimum") -> str:
    """--within in words: relative, so 0.001 reads "within 0.1% of the optimum (relative gap <= 0.001)"."""
    return f"within {within * 100:g}% of the {optimum} (relative gap <= {within:g})"


def within_threshold(optimum_loss: float, exact_fit: bool, zero_loss: float, within: float) -> float:
    """The training loss at which a run is within `within` of the optimum: relative to it, or, when the
    optimum fits the rows exactly (its loss is rounding noise), to a millionth of the targets' own size."""
    scale = optimum_loss if not exact_fit else 1e-6 * zero_loss
    return optimum_loss + within * scale
