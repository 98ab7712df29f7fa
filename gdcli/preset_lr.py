"""A dataset preset's learning rate derived from the rows themselves: a fraction of the exact stability bound.

The synthetic dataset's sharpness grows with its features (about K^2 / 2 for K features of U(0, 1)),
so no one number trains every --features. Its preset names a rule instead (`HALF_BOUND`), a float
that stands in for the number until the plan has the rows: the plan then replaces it with the
rule's value for those rows (gdcli.train.derived_lr), which every result, JSON document and run
file records. The rule is a float (its fallback) so that everything before the plan (ranges,
schedules, estimates) reads it as today; any lr given explicitly (--lr, a config file, sweep's
--lrs) is a plain float and wins.
"""

from __future__ import annotations

# Half of the bound 2/lambda_max: lr * lambda_max = 1, the classic 1/L step, which lowers the loss at
# every step along every direction (plain descent), with room for float32 rounding of the rows.
BOUND_FRACTION = 0.5
# The lr the rule falls back to where no exact bound applies (adaptive optimizers, a network, no solve).
FALLBACK = 0.5
RULE = "half the stability bound"


class PresetLr(float):
    """An lr a preset chose: `why` says how, for the header; `derived` is False until the plan sets it."""

    def __new__(cls, value: float, why: str = RULE, derived: bool = False):
        lr = float.__new__(cls, value)
        lr.why, lr.derived = why, derived
        return lr

    def __reduce__(self):
        # Kept through copies, pickles and Ray tasks: a sweep's runs derive their lr where they train.
        return (PresetLr, (float(self), self.why, self.derived))


HALF_BOUND = PresetLr(FALLBACK)


def is_rule(value) -> bool:
    """Whether `value` is a preset's lr rule not yet applied to rows (print-config leaves it out)."""
    return isinstance(value, PresetLr) and not value.derived


def shown(lr: float) -> str:
    """The lr as the header shows it: a derived one says where it came from."""
    if isinstance(lr, PresetLr) and lr.derived:
        return f"{float(lr):.3g} (preset: {lr.why})"
    return str(float(lr)) if isinstance(lr, PresetLr) else str(lr)


def described(preset: dict) -> dict:
    """A dataset's preset as `gdcli datasets` lists it: a rule by its words, not its fallback number."""
    return {name: (value.why if is_rule(value) else value) for name, value in preset.items()}
