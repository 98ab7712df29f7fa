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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol

from gdcli.registry import Field, add, lookup, remove

from gdcli.errors import param

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


@dataclass(frozen=True)
class LrSchedule:
    """A registry entry: how the lr changes epoch by epoch, and everything gdcli reads of it."""

    name: str  # its --schedule value
    description: str  # what --schedule's help says of it
    # (settings, optimizer, max_lr) -> the torch.optim.lr_scheduler that drives it; None: the lr stays.
    build: Callable[[Settings, Any, Any], Any] | None = None
    takes: tuple[str, ...] = ()  # which of SETTINGS it takes
    # Each taken setting's default, from the run's epochs (max_lr's is the run's lr: none here).
    defaults: Mapping[str, Callable[[int], float]] = field(default_factory=dict)
    peak: Callable[[Settings], float] | None = None  # the largest lr over the run (None: the run's lr)

    def __str__(self) -> str:
        return self.description  # what a help text prints of it


SETTINGS = ("step_size", "gamma", "max_lr")  # the settings a schedule may take
SCHEDULES: dict[str, LrSchedule] = {}  # --schedule's choices, in the order registered
TAKES = Field(SCHEDULES, "takes")  # name -> the settings it takes, read from the registry at every use
# OneCycleLR's defaults: it starts at max_lr / DIV and ends at max_lr / (DIV * FINAL_DIV).
DIV, FINAL_DIV = 25.0, 1e4


def register(entry: LrSchedule) -> LrSchedule:
    """Make a schedule a choice of --schedule and of the API, under its `name`."""
    unknown = [name for name in entry.takes if name not in SETTINGS]
    if unknown:
        raise ValueError(f"a schedule takes only {', '.join(SETTINGS)}, not {', '.join(unknown)}")
    missing = [name for name in entry.takes if name != "max_lr" and name not in entry.defaults]
    if missing:
        raise ValueError(f"schedule {entry.name!r} takes {', '.join(missing)} but gives no default for it")
    return add(SCHEDULES, entry, "schedule")


def unregister(entry) -> None:
    """Take a registered schedule away again (what a test that registers one does after it). Given by its name or as itself."""
    remove(SCHEDULES, entry)


def get(name: str) -> LrSchedule:
    """The schedule called `name`; an unknown name is a GdcliError listing the registered ones."""
    return lookup(SCHEDULES, name, "schedule")


def default_step_size(epochs: int, schedule: str = "step") -> int:
    """The schedule's period when none is given (StepLR's: the lr drops twice over the run)."""
    return get(schedule).defaults["step_size"](epochs)


def default_gamma(schedule: str, epochs: int) -> float:
    """The schedule's factor when none is given."""
    return get(schedule).defaults["gamma"](epochs)


def peak_lr(cfg: Settings) -> float:
    """The largest lr the schedule reaches over the run (what the stability bound is held against)."""
    peak = get(cfg.schedule).peak
    return cfg.lr if peak is None else peak(cfg)


def _grown(cfg: Settings, every: int) -> float:
    """The lr after its last growth, where gamma > 1 multiplies it every `every` epochs."""
    if cfg.gamma <= 1:
        return cfg.lr
    return cfg.lr * cfg.gamma ** ((cfg.epochs - 1) // every)


def _step(cfg: Settings, optimizer, max_lr):
    import torch.optim.lr_scheduler as lrs

    return lrs.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)


def _exponential(cfg: Settings, optimizer, max_lr):
    import torch.optim.lr_scheduler as lrs

    return lrs.ExponentialLR(optimizer, gamma=cfg.gamma)


def _cosine(cfg: Settings, optimizer, max_lr):
    import torch.optim.lr_scheduler as lrs

    return lrs.CosineAnnealingLR(optimizer, T_max=cfg.epochs)


def _onecycle(cfg: Settings, optimizer, max_lr):
    import torch.optim.lr_scheduler as lrs

    # Momentum is not cycled: gd has none, and a schedule here changes the lr only.
    return lrs.OneCycleLR(
        optimizer, max_lr=max_lr, total_steps=cfg.epochs, cycle_momentum=False, div_factor=DIV, final_div_factor=FINAL_DIV
    )


def _scheduler(cfg: Settings, optimizer, max_lr):
    build = get(cfg.schedule).build
    if build is None:
        raise ValueError(f"schedule {cfg.schedule!r} keeps the lr: it has no lr_scheduler")
    return build(cfg, optimizer, max_lr)


_PEAK = param("max_lr")
register(LrSchedule("constant", "the same lr every epoch"))
register(LrSchedule(
    "step", f"lr times {param('gamma')} every {param('step_size')} epochs (StepLR)", _step, ("step_size", "gamma"),
    # StepLR's default gamma 0.1; the period drops the lr twice over the run.
    {"step_size": lambda epochs: max(1, epochs // 3), "gamma": lambda epochs: 0.1},
    lambda cfg: _grown(cfg, cfg.step_size),
))
register(LrSchedule(
    "exponential", f"lr times {param('gamma')} every epoch (ExponentialLR)", _exponential, ("gamma",),
    {"gamma": lambda epochs: 0.01 ** (1.0 / max(1, epochs))},  # a hundredth of the way down at the end
    lambda cfg: _grown(cfg, 1),
))
register(LrSchedule("cosine", "lr down to 0 along half a cosine over the run (CosineAnnealingLR)", _cosine))
register(LrSchedule(
    "onecycle", f"up from {_PEAK}/25 to {_PEAK}, then down to {_PEAK}/25e4 (OneCycleLR, momentum not cycled)",
    _onecycle, ("max_lr",), peak=lambda cfg: cfg.max_lr if cfg.max_lr is not None else cfg.lr,
))


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
