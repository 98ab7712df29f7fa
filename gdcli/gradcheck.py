"""What `gdcli grad` and `gdcli.grad` share: which settings go with an expression and which with a
dataset's loss, and the two checks, an expression's gradient and a model's loss gradient.

Settings are typed (the front end read them); messages name them through gdcli.errors.param.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from gdcli.errors import GdcliError, param

if TYPE_CHECKING:
    from gdcli.expressions import Expression, GradientCheck

DEFAULT_DELTA = 1e-6  # the finite-difference step for an expression (float64)


def _are(names: list[str]) -> str:
    return f"{' and '.join(names)} {'is' if len(names) == 1 else 'are'}"


def refuse_mixed(for_expression: bool, run: dict, at, shape, wrt, params, explain: bool) -> None:
    """Refuse what belongs to the other check: the data settings, params and explain with an
    expression; at, shape and wrt with a dataset's loss. `run`: the data settings (None: not given)."""
    if for_expression:
        # Every data setting (dtype, scale, seed, ...) is for a dataset's loss: an expression is
        # evaluated in float64 at the values `at` gives.
        used = [param("target" if k == "targets" else k) for k, v in run.items() if v is not None]
        used += [param(n) for n, v in (("params", params), ("explain", explain)) if v]
        if used:
            raise GdcliError(f"{_are(used)} for a dataset's loss, not for an expression",
                             hint="drop the expression, or drop " + " and ".join(used))
        return
    extra = [param(n) for n, v in (("at", at), ("shape", shape), ("wrt", wrt)) if v]
    if extra:
        raise GdcliError(f"{_are(extra)} for an expression, not for a dataset's loss",
                         hint="drop " + " and ".join(extra) + f", or give an expression instead of {param('dataset')}")


def expression_check(expr: "Expression | str", at: dict[str, Sequence[float]], shape: dict[str, Sequence[int]],
                     wrt: Sequence[str] | None, delta: float | None, example: str | None = None) -> "GradientCheck":
    """The expression's value and gradient at `at` (filled to `shape`), autograd against finite differences.

    `example`: the front end's example call, the hint for an empty expression.
    """
    from gdcli import expressions

    parsed = expressions.parse_expression(expr, example) if isinstance(expr, str) else expr
    values = expressions.bind(at, shape)
    return expressions.check_gradient(parsed, values, wrt, DEFAULT_DELTA if delta is None else delta)


def dataset_gradients(run: dict, params: str | None, delta: float | None):
    """A model's loss and gradient at the parameters `params` (fit's init), by every gradient method."""
    from gdcli import comparison, train

    given = {k: v for k, v in run.items() if v is not None}
    # The data as it is: a dataset's training preset (scaling) applies only when asked for.
    options = {"scale": 1.0, "normalize": False, **given, "init": params, "epochs": 1}
    return comparison.gradients_at(train.resolve(**options, delta=delta))
