"""Learning-rate schedules: torch.optim.lr_scheduler's, for every update rule and every run at once.

A torch.optim optimizer gets the scheduler itself. gd and the batched rules (one lr
per run in a sweep) are not torch optimizers, so the same scheduler drives a shadow
torch.optim.SGD with a single parameter group whose "lr" is a NumPy array holding
every run's lr: the scheduler's own arithmetic (``group["lr"] * gamma``, the cosine
ratio, the one-cycle annealing) then runs elementwise, each run rounding exactly as
a scalar group would, and the rule takes the new values after each epoch. One
scheduler step costs the same for one run or a thousand, and the values are
lr_scheduler's to the bit (tests/test_schedules.py checks both paths against it).

Schedules step once per epoch (after the epoch's last update), also with mini-batches.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np


class Settings(Protocol):
    """What a schedule reads of a run's settings (a config.RunConfig): config imports this module
    for its names and defaults, so this module names no type of config's."""

    lr: float
    epochs: int
    schedule: str
    step_size: int | None
    gamma: float | None
    max_lr: float | None


SCHEDULES = {
    "constant": "the same lr every epoch",
    "step": "lr times --gamma every --step-size epochs (StepLR)",
    "exponential": "lr times --gamma every epoch (ExponentialLR)",
    "cosine": "lr down to 0 along half a cosine over the run (CosineAnnealingLR)",
    "onecycle": "up from --max-lr/25 to --max-lr, then down to --max-lr/25e4 (OneCycleLR, momentum not cycled)",
}
# Which of --step-size, --gamma and --max-lr each schedule takes.
TAKES = {"constant": (), "step": ("step_size", "gamma"), "exponential": ("gamma",), "cosine": (), "onecycle": ("max_lr",)}
# OneCycleLR's defaults: it starts at max_lr / DIV and ends at max_lr / (DIV * FINAL_DIV).
DIV, FINAL_DIV = 25.0, 1e4


def default_step_size(epochs: int) -> int:
    """StepLR's period when none is given: the lr drops twice over the run."""
    return max(1, epochs // 3)


def default_gamma(schedule: str, epochs: int) -> float:
    """The factor when none is given: StepLR's default 0.1; exponential ends a hundredth of the way down."""
    return 0.1 if schedule == "step" else 0.01 ** (1.0 / max(1, epochs))


def _scheduler(cfg: Settings, optimizer, max_lr):
    import torch.optim.lr_scheduler as lrs

    if cfg.schedule == "step":
        return lrs.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    if cfg.schedule == "exponential":
        return lrs.ExponentialLR(optimizer, gamma=cfg.gamma)
    if cfg.schedule == "cosine":
        return lrs.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    if cfg.schedule == "onecycle":
        # Momentum is not cycled: gd has none, and a schedule here changes the lr only.
        return lrs.OneCycleLR(
            optimizer, max_lr=max_lr, total_steps=cfg.epochs, cycle_momentum=False, div_factor=DIV, final_div_factor=FINAL_DIV
        )
    raise ValueError(f"unknown schedule {cfg.schedule!r}")


def peak_lr(cfg: Settings) -> float:
    """The largest lr the schedule reaches over the run (what the stability bound is held against)."""
    if cfg.schedule == "onecycle":
        return cfg.max_lr if cfg.max_lr is not None else cfg.lr
    if cfg.schedule in ("step", "exponential") and cfg.gamma > 1:
        steps = (cfg.epochs - 1) // (cfg.step_size if cfg.schedule == "step" else 1)
        return cfg.lr * cfg.gamma**steps
    return cfg.lr


class Schedule:
    """Every run's lr, epoch by epoch: `current` is this epoch's (runs,) lrs; `advance` moves to the next."""

    def __init__(self, configs: list[Settings], optimizer):
        import numpy as np
        import torch

        base = configs[0]
        self.runs = len(configs)
        if isinstance(optimizer, torch.optim.Optimizer):
            # One lr shared by every run: lr_scheduler on the optimizer itself.
            self._rule = None
            self._group = optimizer.param_groups[0]
            max_lr = base.max_lr if base.max_lr is not None else base.lr
            self._scheduler = _scheduler(base, optimizer, max_lr)
        else:
            self._rule = optimizer
            shadow = torch.optim.SGD([torch.zeros(0, requires_grad=True)], lr=1.0)
            self._group = shadow.param_groups[0]
            self._group["lr"] = np.array([c.lr for c in configs], dtype=np.float64)
            max_lr = np.array([c.max_lr if c.max_lr is not None else c.lr for c in configs], dtype=np.float64)
            self._scheduler = _scheduler(base, shadow, max_lr)
            # The scheduler expects its optimizer to have stepped before it does; the shadow
            # has nothing to update, so one step of it is free and silences that check.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                shadow.step()
            self._push()

    @property
    def current(self) -> np.ndarray:
        """This epoch's lr of every run, float64."""
        import numpy as np

        lr = self._group["lr"]
        return lr if isinstance(lr, np.ndarray) else np.full(self.runs, float(lr))

    def advance(self) -> None:
        """Step the scheduler once (after an epoch) and hand the new lrs to the update rule."""
        self._scheduler.step()
        if self._rule is not None:
            self._push()

    def _push(self) -> None:
        self._rule.set_lr(self._group["lr"])
