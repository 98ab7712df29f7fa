"""The gradient check of `gdcli grad`: an expression (gdcli.expression_parse) evaluated at given
values, its gradient by autograd against central finite differences, in float64.

Values come typed (numbers per variable, shapes to fill); messages name the settings through
gdcli.errors.param (the CLI shows `--at`, the API `at`). Nothing here prints.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

from gdcli import numerics
from gdcli.errors import GdcliError, param
from gdcli.expression_parse import ALLOWED, FUNCTIONS, Expression, Num, Op, Var, parse_expression, pointer, valid_name
from gdcli.sampling import check_shape

if TYPE_CHECKING:
    import torch

__all__ = ["ALLOWED", "FUNCTIONS", "Expression", "GradientCheck", "GradientRow", "bind", "check_gradient",
           "check_has_value", "check_values",
           "evaluate", "fd_budget", "parse_expression", "pointer", "valid_name"]

# The finite-difference check's one rule (see fd_budget): its evaluations, 2n + 1 for a variable of
# n elements, compute at most this many elements in all, which keeps it to a second or two.
MAX_FD_WORK = 50_000_000
# Elements one operation may produce.
MAX_ELEMENTS = 1_000_000
# Elements the perturbed evaluations may hold at once: they run in batches of about this size.
FD_BATCH_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class GradientRow:
    """One variable's gradient by autograd and by central differences, and how far apart they are."""

    name: str
    autograd: "torch.Tensor"
    finite_difference: "torch.Tensor"
    max_abs_diff: float
    max_diff_over_norm: float  # gdcli.numerics.differences: max |finite difference - autograd| / ||autograd||


@dataclass(frozen=True)
class GradientCheck:
    """The value of an expression at the given inputs and the gradient check of each variable."""

    expression: str
    dtype: str
    delta: float
    inputs: dict[str, "torch.Tensor"]
    value: "torch.Tensor"
    summed: bool  # a non-scalar value was summed before backward (backward with ones)
    rows: list[GradientRow]
    notes: list[str]  # settings named through gdcli.errors.param: see worded

    def worded(self, word: Callable[[str], str]) -> "GradientCheck":
        """The same check with each note passed through `word`, which names its settings the front end's way."""
        return dataclasses.replace(self, notes=[word(note) for note in self.notes])


# ---------------------------------------------------------------- values


def bind(at: dict[str, Sequence[float]], shapes: dict[str, Sequence[int]] | None = None) -> dict[str, "torch.Tensor"]:
    """float64 tensors: each variable's numbers (one, or a 1-D list), filled to its shape where one is given."""
    shapes = shapes or {}
    for kind, names in (("at", at), ("shape", shapes)):
        for name in names:
            if not valid_name(name):
                raise GdcliError(f"{param(kind)}: {name!r} cannot be a variable name", hint="use a name like x, w or b")
    for name, values in at.items():
        check_values(name, values)
    sizes = {}
    for name, dims in shapes.items():
        check_has_value(name, at)
        sizes[name] = check_shape(dims)
    return {name: _filled(name, list(values), sizes.get(name)) for name, values in at.items()}


def check_values(name: str, values: Sequence[float]) -> None:
    """Refuse a variable's value that is empty or not finite."""
    if len(values) == 0:
        raise GdcliError(f"{param('at')} {name} has no values", hint="give a number or a list of numbers")
    if not all(math.isfinite(v) for v in values):
        raise GdcliError(f"{param('at')} {name}: values must be finite numbers",
                         "nan and inf have no derivative to check: give finite values, for example 2 or 1,2,3")


def check_has_value(name: str, at: dict) -> None:
    """Refuse a shape for a variable that has no value to fill it with."""
    if name not in at:
        raise GdcliError(f"{param('shape')} {name} has no value", hint=f"give one with {param('at')} {name}=VALUE")


def _filled(name: str, values: list[float], size: tuple[int, ...] | None) -> "torch.Tensor":
    import torch

    tensor = torch.tensor(values[0] if len(values) == 1 else values, dtype=torch.float64)
    if size is None:
        return tensor
    try:
        return torch.broadcast_to(tensor, size).clone()
    except RuntimeError:
        from gdcli.text import plural

        raise GdcliError(
            f"{param('at')} {name} has {plural(len(values), 'value')}, "
            f"which do not fill {param('shape')} {name}={list(size)}",
            hint="give one value, or as many values as the last dimension of the shape",
        ) from None


# ---------------------------------------------------------------- evaluation and the check


def _shape(t: "torch.Tensor") -> str:
    return "a scalar" if t.dim() == 0 else str(list(t.shape))


def evaluate(expression: Expression, values: dict[str, "torch.Tensor"]) -> "torch.Tensor":
    """The value of `expression` with its variables bound to `values`."""
    _check_defined(expression, values)
    return _evaluate(expression.root, values, expression.text)


def _check_defined(expression: Expression, values: dict[str, "torch.Tensor"]) -> None:
    for name, (line, column) in expression.variables.items():
        if name not in values:
            defined = ", ".join(sorted(values)) or "none"
            raise GdcliError(
                f"{name} is not defined\n{pointer(expression.text, line, column)}",
                hint=f"give it with {param('at')} {name}=VALUE (defined: {defined})",
            )


def _evaluate(
    node: Num | Var | Op,
    values: dict[str, "torch.Tensor"],
    text: str,
    work: list[int] | None = None,
    checked: bool = False,
) -> "torch.Tensor":
    """Walk the tree; `work` (if given) accumulates the elements every operation produces.

    `checked=True` skips the size check, for evaluations (under vmap) of shapes already evaluated once.
    """
    import torch

    if isinstance(node, Num):
        return torch.tensor(node.value, dtype=torch.float64)
    if isinstance(node, Var):
        return values[node.name]
    args = [_evaluate(arg, values, text, work, checked) for arg in node.args]
    if checked:
        return node.apply(*args)
    try:
        # The result's shape first, on meta tensors that hold no data: broadcasting
        # (x of 300x1x1 plus y of 1x300x1 ...) must not allocate gigabytes.
        size = node.apply(*(a.to("meta") for a in args)).numel()
        if size > MAX_ELEMENTS:
            raise GdcliError(
                f"{node.symbol} would produce {size:,} elements (limit {MAX_ELEMENTS:,})\n{pointer(text, *node.at)}",
                hint=f"use smaller {param('shape')} values; broadcasting multiplies the dimensions of its operands",
            )
        if work is not None:
            work[0] += size
        return node.apply(*args)
    except RuntimeError as err:
        shapes = " and ".join(_shape(a) for a in args)
        reason = str(err).splitlines()[0]
        raise GdcliError(
            f"cannot compute {node.symbol} of {shapes}: {reason}\n{pointer(text, *node.at)}",
            hint=f"check the {param('shape')} of the variables involved (@ needs tensors whose inner dimensions match)",
        ) from None


def fd_budget(sizes: Sequence[int], per_evaluation: int) -> None:
    """The finite-difference check's one rule; raise GdcliError where it is broken.

    Checking a variable of n elements evaluates the expression 2n + 1 times (at the point, and one
    step up and down per element), each evaluation computing `per_evaluation` elements (every
    input's elements plus every operation's result). All the checked variables' evaluations
    together may compute at most MAX_FD_WORK elements.
    """
    from gdcli.text import plural

    checked = sum(sizes)
    evaluations = 2 * checked + len(sizes)
    total = evaluations * per_evaluation
    if total > MAX_FD_WORK:
        of = f" of {plural(len(sizes), 'variable')}" if len(sizes) > 1 else ""
        raise GdcliError(
            f"the finite-difference check would compute {total:,} elements, more than its limit of {MAX_FD_WORK:,}: "
            f"checking {plural(checked, 'gradient element')}{of} evaluates the expression {evaluations:,} times, "
            f"at {plural(per_evaluation, 'element')} each",
            hint=f"choose fewer variables with {param('wrt')} or smaller {param('shape')} values",
        )


def check_gradient(
    expression: Expression | str,
    values: dict[str, "torch.Tensor"],
    wrt: Sequence[str] | None = None,
    delta: float = 1e-6,
) -> GradientCheck:
    """Value and gradient of the (summed) expression by autograd, beside central finite differences, in float64."""
    import torch

    expr = parse_expression(expression) if isinstance(expression, str) else expression
    if not (math.isfinite(delta) and delta > 0):
        raise GdcliError(f"{param('delta')} must be a positive number; got {delta:g}", hint="the default 1e-6 suits float64")
    names = list(expr.variables)
    wrt = list(wrt) if wrt else names
    for name in wrt:
        if name not in expr.variables:
            hint = f"its variables: {', '.join(names) or 'none'}"
            raise GdcliError(f"{param('wrt')} {name} is not in the expression", hint=hint)
    notes = [f"{param('at')} {name} is not in the expression and was ignored" for name in values if name not in expr.variables]
    inputs = {n: values[n].detach().to(torch.float64).clone().requires_grad_(n in wrt) for n in names if n in values}
    _check_defined(expr, inputs)
    for name in wrt:
        _check_step(name, inputs[name], delta)
    work = [sum(t.numel() for t in inputs.values())]
    value = _evaluate(expr.root, inputs, expr.text, work)
    fd_budget([inputs[n].numel() for n in wrt], work[0])
    if not torch.isfinite(value).all():
        raise GdcliError(
            "the expression is not finite (inf or nan) at these values",
            hint="check the domain: log and sqrt need positive inputs, / a non-zero divisor",
        )
    summed = value.dim() > 0
    rows = []
    if wrt and value.requires_grad:
        # backward of the sum is the notebook's backward(ones): each gradient is d(sum of the value)/d(variable).
        grads = torch.autograd.grad(value.sum(), [inputs[n] for n in wrt], allow_unused=True)
        plain = {n: t.detach() for n, t in inputs.items()}
        for name, grad in zip(wrt, grads):
            auto = torch.zeros_like(plain[name]) if grad is None else grad
            numeric = _finite_difference(expr, plain, name, delta, work[0])
            rows.append(GradientRow(name, auto, numeric, *numerics.differences(numeric, auto)))
    for row in rows:
        if not torch.isfinite(row.autograd).all():
            notes.append(f"the gradient with respect to {row.name} is not finite at these values")
    if summed:
        notes.insert(0, f"the value has shape {list(value.shape)}: its sum was differentiated (backward with ones)")
    inputs = {n: t.detach() for n, t in inputs.items()}
    return GradientCheck(expr.text, "float64", delta, inputs, value.detach(), summed, rows, notes)


def _check_step(name: str, value: "torch.Tensor", delta: float) -> None:
    """Refuse a step that x + delta rounds away: that element's central difference would read exactly 0."""
    value = value.detach()
    lost, spacing = numerics.lost_step(value, delta)
    if lost:
        largest = float(value.abs().max())
        raise GdcliError(
            f"{param('delta')} {delta:g} is below the resolution of float64 at {param('at')} {name}: {name} + delta == {name}, "
            "so the finite difference would be exactly 0",
            hint=f"use {param('delta')} {spacing * 1.01:.3g} or more (the spacing of float64 at |{name}| = {largest:g})"
            + ("; the default 1e-6 is enough" if spacing * 1.01 <= 1e-6 else ""),
        )


def _finite_difference(
    expr: Expression, values: dict[str, "torch.Tensor"], name: str, delta: float, per_evaluation: int
) -> "torch.Tensor":
    """Central differences of the summed value with respect to `name`, every perturbed point at once.

    vmap evaluates the expression once per perturbed copy of `name`, so sum, mean and @ keep their
    meaning for one point instead of reaching across the batch.
    """
    import torch
    from torch.func import vmap

    def summed_value(point: "torch.Tensor") -> "torch.Tensor":
        return _evaluate(expr.root, {**values, name: point}, expr.text, checked=True).sum()

    base = values[name]
    # Each perturbed copy computes `per_evaluation` elements: batch the copies to bound memory.
    copies = max(1, FD_BATCH_ELEMENTS // max(1, per_evaluation))
    with torch.no_grad():
        _, grad = numerics.central_difference(
            vmap(vmap(summed_value)), base.unsqueeze(0), delta, max_elements=copies * max(1, base.numel())
        )
    return grad[0]
