"""The rules between run settings: each a function that refuses one combination, all listed in RULES.

config.validate applies them in RULES' order once every setting is in its own range (constraints.SETTINGS),
so a rule may take every name it reads as a registered one. Pure Python, no torch.
"""

from __future__ import annotations

import math

from gdcli import models
from gdcli.constraints import DTYPE_MAX, DTYPE_TINY, SETTINGS
from gdcli.errors import GdcliError, param
from gdcli.text import one_of


def gram_needs_a_linear_model(cfg) -> None:
    """gram steps on X^T X and X^T y: only a loss quadratic in the parameters is one of them."""
    from gdcli.gradients import METHODS

    kind = models.get(cfg.model)
    if METHODS[cfg.method].needs_linear and not kind.linear_in_params:
        raise GdcliError(
            f"{param('method')} gram needs a model linear in its parameters "
            f"({one_of(models.names(lambda m: m.linear_in_params))}): {kind.called()}'s loss "
            f"is no quadratic form of X^T X and X^T y",
            f"use {param('method')} analytic, autograd or finite-diff with {param('model')} {kind.name}",
        )


def gram_needs_the_whole_set(cfg) -> None:
    """gram's sums run over every row, which no mini-batch has."""
    from gdcli.gradients import METHODS

    if METHODS[cfg.method].needs_gram and cfg.batch_size is not None:
        raise GdcliError(
            f"{param('method')} gram needs the whole training set: it steps on X^T X and X^T y summed over "
            f"every row, which no mini-batch has",
            f"drop {param('batch_size')}, or use {param('method')} analytic for mini-batches",
        )


def compile_needs_the_whole_set(cfg) -> None:
    """Mini-batches of changing size would recompile the compiled step."""
    if cfg.compile and cfg.batch_size is not None:
        raise GdcliError(
            f"{param('compile')} compiles the full-batch epoch step; mini-batches of changing size would recompile",
            f"drop {param('batch_size')} or {param('compile')}",
        )


def fits_the_dtype(cfg) -> None:
    """The update rounds lr, weight decay and the step to the training dtype: a value beyond its range
    cannot be applied at all (torch refuses it, it does not overflow)."""
    largest = DTYPE_MAX.get(cfg.dtype, DTYPE_MAX["float64"])
    for s in SETTINGS:
        value = getattr(cfg, s.name)
        if s.rounded and value is not None and abs(value) > largest:
            raise GdcliError(
                f"{param(s.name)} {value:g} is beyond the range of {cfg.dtype} (at most {largest:.4g})",
                f"use a smaller {param(s.name)}" + _or_float64(cfg),
            )
    from gdcli.constraints import init_values

    beyond = [v for v in init_values(cfg.init) if abs(v) > largest]
    if beyond:  # the start would be inf, and the run would report it as a divergence
        raise GdcliError(
            f"{param('init')} {beyond[0]:g} is beyond the range of {cfg.dtype} (at most {largest:.4g})",
            "start from smaller values" + _or_float64(cfg),
        )


def stays_above_zero(cfg) -> None:
    """Below the dtype's smallest positive value a setting rounds to 0: an lr of 0 leaves the parameters
    where they start, and the run would report its start as a result."""
    for s in SETTINGS:
        value = getattr(cfg, s.name)
        if s.rounded and value is not None and 0 < value < math.inf and rounds_to_zero(value, cfg.dtype):
            raise GdcliError(
                f"{param(s.name)} {value:.3g} rounds to 0 in {cfg.dtype} (its smallest positive value is "
                f"{DTYPE_TINY[cfg.dtype]:.4g})",
                f"use a larger {param(s.name)}" + _or_float64(cfg),
            )


def _or_float64(cfg) -> str:
    return f", or {param('dtype')} float64" if cfg.dtype == "float32" else ""


def rounds_to_zero(value: float, dtype: str) -> bool:
    """Whether a non-zero setting becomes 0 once rounded to the training dtype (pure Python: no torch)."""
    if dtype != "float32":
        return value == 0  # a Python float is a float64 already
    import struct

    try:
        return struct.unpack("f", struct.pack("f", value))[0] == 0
    except OverflowError:
        return False  # beyond the range: refused as such


def the_optimizer_takes_it(cfg) -> None:
    """momentum and weight_decay only for the optimizers that take them (a value of 0 is none)."""
    from gdcli.optimizers import OPTIMIZERS

    takes = OPTIMIZERS[cfg.optim].takes
    for s in SETTINGS:
        if s.applies == "optim" and getattr(cfg, s.name) != 0 and s.name not in takes:
            users = ", ".join(k for k, v in OPTIMIZERS.items() if s.name in v.takes)
            raise GdcliError(
                f"{param(s.name)} does not apply to {param('optim')} {cfg.optim}", f"use it with one of {users}, or leave it out"
            )


def within_needs_an_optimum(cfg) -> None:
    """--within stops near the least-squares optimum, which only a model linear in its parameters has."""
    kind = models.get(cfg.model)
    if cfg.within is not None and not kind.linear_in_params:
        raise GdcliError(
            f"{param('within')} stops a run near its least-squares optimum, and {param('model')} {cfg.model} has none",
            f"stop the {kind.noun} with {param('tol')} and {param('patience')} instead",
        )


def the_schedule_takes_it(cfg) -> None:
    """step_size, gamma and max_lr only for the schedules that take them."""
    schedule_takes(cfg.schedule, {s.name: getattr(cfg, s.name) for s in SETTINGS if s.applies == "schedule"})


def schedule_takes(schedule: str, given: dict) -> None:
    """Refuse a schedule setting given (not None) to a schedule that takes none of it."""
    from gdcli.schedules import TAKES

    for name, value in given.items():
        if value is not None and name not in TAKES[schedule]:
            users = [k for k, v in TAKES.items() if name in v]
            raise GdcliError(
                f"{param(name)} applies to {param('schedule')} {' or '.join(users)}, not to {param('schedule')} {schedule}",
                f"drop {param(name)}, or add {param('schedule')} {users[0]}",
            )


def the_scheduled_lr_fits_the_dtype(cfg) -> None:
    """A gamma above 1 grows the lr epoch by epoch: past the dtype's range no update can apply it."""
    from gdcli import schedules

    if cfg.gamma is None or cfg.gamma <= 1:
        return
    largest = DTYPE_MAX.get(cfg.dtype, DTYPE_MAX["float64"])
    try:
        peak = schedules.peak_lr(cfg)
    except OverflowError:  # gamma ** epochs beyond a Python float
        peak = math.inf
    if peak > largest:
        raise GdcliError(
            f"{param('schedule')} {cfg.schedule} with {param('gamma')} {cfg.gamma:g} grows the lr to {peak:.4g} by the "
            f"last epoch, beyond the range of {cfg.dtype} (at most {largest:.4g})",
            f"use a {param('gamma')} closer to 1 (at most 1 never grows it), or fewer {param('epochs')}",
        )


def compile_keeps_the_lr(cfg) -> None:
    """The compiled step has the lr baked in: a schedule would change it every epoch."""
    if cfg.compile and cfg.schedule != "constant":
        raise GdcliError(
            f"{param('compile')} bakes the lr into the compiled step; {param('schedule')} {cfg.schedule} changes it as the epochs go",
            f"drop {param('compile')} or {param('schedule')}",
        )


# Applied in this order: the first broken one is the one reported.
RULES = (
    gram_needs_a_linear_model,
    gram_needs_the_whole_set,
    compile_needs_the_whole_set,
    fits_the_dtype,
    stays_above_zero,
    the_optimizer_takes_it,
    within_needs_an_optimum,
    the_schedule_takes_it,
    the_scheduled_lr_fits_the_dtype,
    compile_keeps_the_lr,
)
