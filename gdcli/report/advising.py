"""What a run that went wrong is told: why it diverged, is unstable or stood still, and what to change.

The advice names the real cause (the lr, a far start, the dtype, the finite-difference step),
not always the lr, and the option that fixes it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from gdcli.report.numbers import fmt
from gdcli.report.result import bound_terms
from gdcli.text import plural

if TYPE_CHECKING:
    from gdcli.train import RunConfig, RunResult


def advice(result: RunResult) -> str:
    """Why a run diverged, or is unstable, and what to change: the real cause, not always the lr."""
    from gdcli.outcome import step_broken

    lr, used, peak = _lr_in_use(result.config)
    text = _what_happened(result, used)
    if not text:
        return ""
    text += _sharpness_sentence(result)
    if step_broken(result.step_error):
        return text + "\n" + step_advice(result.config, result.step_error)
    return text + "\n" + _what_to_change(result, lr, used, peak)


def _sharpness_sentence(result: RunResult) -> str:
    """With --sharpness: how sharp the loss became, against the edge of stability ("" without)."""
    from gdcli.report.sharpness import advice_sentence

    found = advice_sentence(result)
    return " " + found if found else ""


def _lr_in_use(cfg: RunConfig) -> tuple[str, str, float]:
    """The option that sets the lr (--max-lr for a onecycle schedule that names one), the lr as the
    run used it, and its peak: a schedule is judged, and advised, by the largest lr it reaches."""
    from gdcli.errors import flag
    from gdcli.schedules import peak_lr

    peak = peak_lr(cfg)
    knob = "max_lr" if cfg.schedule == "onecycle" and cfg.max_lr is not None else "lr"
    lr = flag(knob)
    used = f"{lr} {cfg.lr if knob == 'lr' else cfg.max_lr:g}"
    if cfg.schedule != "constant":
        used = f"{flag('schedule')} {cfg.schedule}'s largest lr {peak:g} (from {used})"
    return lr, used, peak


def _what_happened(result: RunResult, used: str) -> str:
    """The verdict as a sentence ("" for a run that is converging)."""
    verdict = result.verdict
    if verdict.cause == "nonfinite":
        return f"training diverged at epoch {verdict.epoch}: {_what_went_nonfinite(result)}."
    if verdict.cause == "rose":
        return f"training diverged: the loss rose above its start ({fmt(result.start_loss)} -> {fmt(result.final_loss)})."
    if verdict.cause == "lr":
        return f"the run is unstable: {used} is above the stability bound {result.stable_lr:.4e}."
    return ""


def _what_went_nonfinite(result: RunResult) -> str:
    """Which number stopped being finite at the epoch the run diverged."""
    epoch = result.verdict.epoch
    index = result.epochs.index(epoch) if epoch in result.epochs else None
    value = result.train_loss[index] if index is not None else math.nan
    val = result.val_loss[index] if index is not None and result.val_loss else 0.0
    if not math.isfinite(value):
        return f"the training loss is {value}"
    if not math.isfinite(val):
        return f"the validation loss is {val}"
    return "its update left the parameters no longer finite"


def _what_to_change(result: RunResult, lr: str, used: str, peak: float) -> str:
    """The cause behind the verdict, and the option that removes it."""
    from gdcli.errors import flag
    from gdcli.outcome import above_bound

    cfg, stable = result.config, result.stable_lr
    scale = f"{flag('scale')} or {flag('normalize')}"
    if above_bound(peak, stable) and math.isfinite(stable):
        return _above_bound(result, lr, used, peak, scale)
    if not math.isfinite(result.start_loss) or result.start_loss > 1e12 * max(result.zero_loss, 1e-300):
        return (
            f"The run starts far from the data: its starting loss is {fmt(result.start_loss)}, against "
            f"{fmt(result.zero_loss)} for predicting zero."
            f"\nStart nearer with {flag('init')} zeros or {flag('init')} ones (now {flag('init')} {cfg.init})."
        )
    if result.verdict.cause == "rose":
        # Below the bound (or with no bound): an adaptive optimizer's steps, or mini-batch noise, overshoot.
        why = f"{cfg.optim} with {used}" + (f" on batches of {cfg.batch_size}" if cfg.batch_size else "")
        bound = f" (below the full-batch bound {stable:.4e})" if stable is not None and math.isfinite(stable) else ""
        text = f"{why}{bound} overshoots more than it descends.\nLower {lr}"
        return text + (f", or use a larger {flag('batch_size')}." if cfg.batch_size else ".")
    if stable is not None:
        return (
            f"{used} is below the stability bound {stable:.4e}, so the learning rate is not the cause: "
            f"the values outgrow {cfg.dtype}."
            f"\nRescale the inputs with {scale}"
            + (f", or use {flag('dtype')} float64." if cfg.dtype == "float32" else ".")
        )
    return f"Lower {lr}, or rescale the inputs with {scale}."


def _above_bound(result: RunResult, lr: str, used: str, peak: float, scale: str) -> str:
    """The largest stable lr, how far above it the run's lr is, and the lr to use instead."""
    stable = result.stable_lr
    times = peak / stable
    times = f"{times:.3g}" if times >= 1.1 else f"{times:.5g}"  # 1.0004x, not 1x
    largest = "The largest stable learning rate for these rows is"
    hessian = "the loss Hessian"
    if not result.exact_optimum:
        largest = "A local estimate of the largest stable learning rate at the start is"
        hessian = "the loss Hessian at the starting parameters"
    scheduled = " so that the schedule peaks" if result.config.schedule != "constant" else ""
    return (
        f"{largest} {stable:.4e} "
        f"(2 / largest eigenvalue of {hessian}{bound_terms(result.config, result.n_train)}); {used} is {times}x that."
        f"\nLower {lr}{scheduled} below {stable:.3e}, or rescale the inputs with {scale}."
    )


def unmoved_advice(result: RunResult) -> str:
    """Why a run may have ended exactly where it started, and what to change."""
    from gdcli.errors import flag

    cfg = result.config
    lr = f"{flag('lr')} {cfg.lr:g}"
    dtype = f", or {flag('dtype')} float64" if cfg.dtype != "float64" else ""
    return (
        f"the run stood still: in {plural(result.epochs_run, 'epoch')} {result.unmoved}. "
        f"Each step, lr times the gradient with {lr}, may be too "
        f"small to move the parameters in {cfg.dtype}, or the gradient is 0 where the run starts. "
        f"Use a larger {flag('lr')}{dtype}."
    )


def stood_still_note(result: RunResult) -> str:
    """compare's and sweep's short note on why a run may have stood still, and what to change."""
    from gdcli.errors import flag

    dtype = f", or {flag('dtype')} float64" if result.config.dtype != "float64" else ""
    return f"steps too small for {result.config.dtype}, or a zero gradient; use a larger {flag('lr')}{dtype}"


def step_advice(cfg: RunConfig, step_error: float) -> str:
    """Why a finite-difference run's step (--delta) is what broke it, and what to use instead."""
    from gdcli.errors import flag
    from gdcli.models import default_delta

    delta = f"{flag('delta')} {cfg.delta:g}"
    if math.isfinite(step_error):
        how = f"is off from autograd's by {step_error:.3g} times the gradient's norm"
    else:
        how = f"is not finite: the loss at the parameters plus or minus delta overflows {cfg.dtype}"
    default = default_delta(cfg.model, cfg.dtype)
    size = "a smaller" if cfg.delta > default else "a larger"
    return (
        f"The finite-difference step is the cause, not the lr or the inputs: at the starting parameters the "
        f"central difference with {delta} {how}."
        f"\nUse {size} step, {flag('delta')} {default:g} (the default), or {flag('method')} autograd."
    )
