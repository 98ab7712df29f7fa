"""compare: the same problem under several gradient methods and optimizers.

Runs share every data option and the seed, so they start from the same
parameters on the same split with the same batch order; only the strategy
differs. A run that diverges is a result here, not an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gdcli.errors import GdcliError

if TYPE_CHECKING:
    from gdcli.train import RunResult, Trainer


def parse_pairs(methods: list[str], optims: list[str], runs: list[str]) -> list[tuple[str, str]]:
    """(method, optim) pairs: explicit --run method:optim entries, else methods x optims."""
    from gdcli.gradients import METHODS
    from gdcli.optimizers import OPTIMIZERS

    def check(method: str, optim: str) -> tuple[str, str]:
        if method not in METHODS:
            raise GdcliError(f"unknown method {method!r}", f"choose from {', '.join(METHODS)}")
        if optim not in OPTIMIZERS:
            raise GdcliError(f"unknown optim {optim!r}", f"choose from {', '.join(OPTIMIZERS)}")
        return method, optim

    if runs and (methods or optims):
        raise GdcliError("--run lists the strategies itself", "use either --run METHOD:OPTIM ... or --methods/--optims")
    if any(not v.strip() for v in [*methods, *optims]):
        raise GdcliError("--methods or --optims is empty", f"for example --methods {','.join(METHODS)} --optims gd,adam")
    if runs:
        pairs = []
        for text in runs:
            method, sep, optim = text.partition(":")
            if not sep:
                raise GdcliError(f"--run {text!r} is not METHOD:OPTIM", "for example --run autograd:adam")
            pairs.append(check(method.strip(), optim.strip()))
    else:
        split = lambda values: [v.strip() for text in values for v in text.split(",") if v.strip()]  # noqa: E731
        pairs = [check(m, o) for m in split(methods) or list(METHODS) for o in split(optims) or ["gd"]]
    if len(set(pairs)) != len(pairs):
        raise GdcliError("a method:optim pair is listed twice", "list each strategy once")
    return pairs


def options_for(run: dict, optim: str, pairs: list[tuple[str, str]]) -> dict:
    """The shared options as one strategy takes them: --momentum and --weight-decay go to the
    optimizers that use them, and are an error only when no listed optimizer does."""
    from gdcli.optimizers import OPTIMIZERS

    options = dict(run)
    for name in ("momentum", "weight_decay"):
        if options.get(name) and name not in OPTIMIZERS[optim].takes:
            if not any(name in OPTIMIZERS[o].takes for _, o in pairs):
                flag = "--" + name.replace("_", "-")
                users = ", ".join(k for k, v in OPTIMIZERS.items() if name in v.takes)
                raise GdcliError(f"{flag} applies to none of the optimizers compared", f"compare one of {users}")
            options[name] = None
    return options


def first_within(losses: list[float], optimum: float, tol: float, start: float | None = None) -> int | None:
    """The first epoch whose loss is within `tol` (relative) of the optimum, or None.

    When the optimum is an exact fit (about zero), "relative" would divide by
    rounding noise; the tolerance is then taken relative to the starting loss.
    """
    from gdcli.train import EXACT

    scale = optimum
    if start is not None and optimum <= EXACT * start:
        scale = 1e-6 * start
    bound = optimum + tol * scale
    for epoch, loss in enumerate(losses, start=1):
        if loss <= bound:
            return epoch
    return None


@dataclass(frozen=True)
class Agreement:
    """One method's loss and gradient at the start, and how far it is from autograd's."""

    method: str
    loss: float
    grad: list[float]
    max_abs: float
    max_rel: float


def agreement(trainer: Trainer) -> list[Agreement]:
    """Every method's gradient at the trainer's starting parameters, against autograd's."""
    from gdcli.gradients import METHODS, LossSpec, gradient_at

    spec = LossSpec(trainer.base.reduction, trainer.base.delta)
    theta, X, y = trainer.theta[:1].detach(), trainer.X[:1], trainer.y[:1]
    found = {m: gradient_at(m, theta, X, y, spec) for m in METHODS}
    ref = found["autograd"][1].double()
    rows = []
    for method, (loss, grad) in found.items():
        diff = (grad.double() - ref).abs()
        rel = diff / ref.abs().clamp_min(1e-12)
        rows.append(Agreement(method, float(loss), flat_params(grad[0]), float(diff.max()), float(rel.max())))
    return rows


def flat_params(theta) -> list[float]:
    """One run's (k+1, t) tensor as weights row by row, then biases (the --init order)."""
    from gdcli import model

    weight, bias = model.split_params(theta.double())
    return weight.flatten().tolist() + bias.tolist()


def check_tol(tol: float) -> None:
    """--tol must be a positive fraction."""
    if not (math.isfinite(tol) and tol > 0):
        raise GdcliError(f"--tol must be positive, got {tol}", "for example --tol 0.01 (within 1% of the optimum)")


def summary_row(result: RunResult, tol: float) -> dict:
    """What the compare table shows for one run, as data."""
    return {
        "method": result.config.method,
        "optim": result.config.optim,
        "final_loss": result.final_loss,
        "gap": result.gap,
        "relative_gap": result.relative_gap,
        "first_within_tol": first_within(result.train_loss, result.optimum_loss, tol, result.start_loss),
        # compare counts a finite run whose loss ended above its start as diverged too.
        "diverged": result.diverged or result.grew,
        "diverged_at": result.diverged_at,
        "seconds_per_epoch": result.seconds_per_epoch,
    }
