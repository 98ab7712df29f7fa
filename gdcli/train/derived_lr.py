"""The plan's step that turns a preset's lr rule (gdcli.preset_lr) into a number for each run's rows."""

from __future__ import annotations

from gdcli.preset_lr import BOUND_FRACTION, FALLBACK, RULE, PresetLr, is_rule


def derive(configs: list, prepared: list, model, solve_plan) -> list:
    """The configs with every preset lr rule replaced by its value on that run's rows (plain
    descent's or heavy ball's bound with the run's momentum and weight decay); a run the rule
    cannot apply to keeps the fallback as a plain number."""
    from dataclasses import replace

    out = []
    for cfg, prep in zip(configs, prepared):
        if is_rule(cfg.lr):
            cfg = replace(cfg, lr=_value(cfg, prep, model, solve_plan))
        out.append(cfg)
    return out


def without_bound(optim: str, linear_in_params: bool) -> str | None:
    """Why the rule has no bound to take a half of (the preset's number is then FALLBACK), or None."""
    if not linear_in_params:
        return "a network has no exact stability bound"
    if optim not in ("gd", "sgd"):
        return f"{optim} has no exact stability bound"
    return None


def _value(cfg, prep, model, solve_plan) -> float:
    """The rule's lr for one run's rows, or the fallback where no exact bound applies."""
    import math

    # Only plain descent and heavy ball have the bound; for a network only a local estimate
    # exists, which no lr is sure to train by.
    why = without_bound(cfg.optim, model.linear_in_params)
    if why is not None:
        return PresetLr(FALLBACK, why, derived=True)
    solution = prep.solution(solve_plan)  # computed once, shared with the report's optimum and bound
    # The bound is the full batch's: mini-batches add their own noise, which momentum carries from step
    # to step (50 features, batches of 8 and momentum 0.9 diverged at half of heavy ball's bound), so
    # they take plain descent's bound whatever their momentum.
    momentum = cfg.momentum if cfg.batch_size is None else 0.0
    bound = solution.stable_lr(prep.n_train, len(prep.dataset.targets), cfg.reduction, momentum,
                               cfg.weight_decay)
    if bound is None or not math.isfinite(bound) or bound <= 0:
        return FALLBACK
    where = "these rows" if cfg.val_fraction == 0 else "the training rows"
    return PresetLr(BOUND_FRACTION * bound, f"{RULE} of {where}", derived=True)
