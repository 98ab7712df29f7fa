"""A small, safe expression language and a gradient check of autograd against finite differences.

Text is parsed with Python's `ast` (mode="eval"), then every node is checked against a whitelist and
turned into a tiny tree of our own (numbers, variables, operators, calls); evaluation walks that tree.
Nothing is ever passed to eval or exec. Allowed: numbers, variable names, + - * / ** @, unary - and +,
parentheses, and the functions in FUNCTIONS (each is torch.<name>). Nothing here prints.
"""

from __future__ import annotations

import ast
import functools
import math
import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

from gdcli import numerics
from gdcli.errors import GdcliError
from gdcli.sampling import parse_number, parse_shape

if TYPE_CHECKING:
    import torch

MAX_LENGTH = 2000
# Each level is one Python frame when compiling and evaluating: far below the interpreter's limit.
MAX_DEPTH = 100
# The finite-difference check's one rule (see fd_budget): its evaluations, 2n + 1 for a variable of
# n elements, compute at most this many elements in all, which keeps it to a second or two.
MAX_FD_WORK = 50_000_000
# Elements one operation may produce.
MAX_ELEMENTS = 1_000_000
# Elements the perturbed evaluations may hold at once: they run in batches of about this size.
FD_BATCH_ELEMENTS = 4_000_000
# Error messages quote at most this much of the expression, so the caret line never wraps.
POINTER_WIDTH = 60
FUNCTIONS = ("sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "sum", "mean")
BINARY = {
    ast.Add: ("+", operator.add),
    ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv),
    ast.Pow: ("**", operator.pow),
    ast.MatMult: ("@", operator.matmul),
}
UNARY = {ast.USub: ("-", operator.neg), ast.UAdd: ("+", operator.pos)}
ALLOWED = "numbers, variables, + - * / ** @, unary minus, parentheses and the functions " + ", ".join(FUNCTIONS)
REFUSED = {
    ast.Attribute: "attribute access",
    ast.Subscript: "indexing or slicing",
    ast.Lambda: "a lambda",
    ast.ListComp: "a list comprehension",
    ast.SetComp: "a set comprehension",
    ast.DictComp: "a dict comprehension",
    ast.GeneratorExp: "a generator expression",
    ast.Compare: "a comparison",
    ast.BoolOp: "a boolean operator (and/or)",
    ast.IfExp: "a conditional expression (if/else)",
    ast.Tuple: "a tuple",
    ast.List: "a list",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.Starred: "unpacking with *",
    ast.NamedExpr: "an assignment (:=)",
    ast.JoinedStr: "an f-string",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield from",
    ast.Slice: "a slice",
}
OTHER_OPERATORS = {ast.FloorDiv: "//", ast.Mod: "%", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|",
                   ast.BitXor: "^", ast.BitAnd: "&", ast.Not: "not", ast.Invert: "~"}


@dataclass(frozen=True)
class Num:
    """A number literal."""

    value: float


@dataclass(frozen=True)
class Var:
    """A variable, bound to a tensor when evaluated."""

    name: str


@dataclass(frozen=True)
class Op:
    """An operator or function applied to its arguments; `at` is (line, column) for error carets."""

    symbol: str
    apply: Callable
    args: tuple
    at: tuple[int, int]


@dataclass(frozen=True)
class Expression:
    """A checked expression: its text, tree and variables (first appearance first, with positions)."""

    text: str
    root: Num | Var | Op
    variables: dict[str, tuple[int, int]]


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
    notes: list[str]


# ---------------------------------------------------------------- parsing


def pointer(text: str, line: int, column: int) -> str:
    """The line of `text` holding the problem, with a caret under `column` (0-based, in characters)."""
    lines = text.splitlines() or [""]
    shown = lines[min(max(line, 1), len(lines)) - 1]
    column = max(column, 0)
    if len(shown) > POINTER_WIDTH:
        # Show a window around the column: a long line would wrap and the caret would miss its place.
        start = max(0, min(column - POINTER_WIDTH // 2, len(shown) - POINTER_WIDTH))
        before = "..." if start > 0 else ""
        after = "..." if start + POINTER_WIDTH < len(shown) else ""
        shown, column = before + shown[start : start + POINTER_WIDTH] + after, column - start + len(before)
    return f"  {shown}\n  {' ' * column}^"


def _char_column(text: str, line: int, byte_column: int) -> int:
    # ast counts columns in UTF-8 bytes; the caret needs characters.
    source = text.splitlines()[line - 1].encode()
    return len(source[:byte_column].decode(errors="ignore"))


def _position(text: str, node: ast.AST) -> tuple[int, int]:
    """Where to put the caret for `node`: on the operator or the dot where there is one, else its start."""
    line, start = node.lineno, node.col_offset
    source = text.splitlines()[line - 1].encode()
    if isinstance(node, ast.Attribute) and node.end_lineno == line:
        dot = source.rfind(b".", start, node.end_col_offset)
        start = dot if dot >= 0 else start
    elif isinstance(node, ast.BinOp) and node.left.end_lineno == line == node.right.lineno:
        symbol = BINARY.get(type(node.op), (OTHER_OPERATORS.get(type(node.op), ""),))[0].encode()
        found = source.find(symbol, node.left.end_col_offset, node.right.col_offset) if symbol else -1
        start = found if found >= 0 else start
    return line, _char_column(text, line, start)


def _refuse(text: str, node: ast.AST, what: str, hint: str = f"allowed: {ALLOWED}") -> GdcliError:
    line, column = _position(text, node)
    return GdcliError(f"{what}\n{pointer(text, line, column)}", hint=hint)


def _too_deep() -> GdcliError:
    return GdcliError(
        f"the expression is nested more than {MAX_DEPTH} levels deep (a long chain of operators counts too)",
        hint="split it into smaller expressions, or use sum() or mean() over a tensor variable",
    )


def parse_expression(text: str) -> Expression:
    """Parse and whitelist-check `text`; raise GdcliError pointing at anything not allowed."""
    text = text.strip()  # a leading space would be an "unexpected indent"
    if not text:
        raise GdcliError("the expression is empty", hint='for example: gdcli grad "w*x + b" --at x=2 --at w=3 --at b=4')
    if len(text) > MAX_LENGTH:
        raise GdcliError(f"the expression is {len(text):,} characters long; the limit is {MAX_LENGTH:,}")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as err:
        if "too many nested" in str(err.msg) or "too complex" in str(err.msg):
            raise _too_deep() from None
        where = f"\n{pointer(text, err.lineno or 1, (err.offset or 1) - 1)}" if err.lineno else ""
        raise GdcliError(f"syntax error: {err.msg}{where}", hint=f"allowed: {ALLOWED}") from None
    except (RecursionError, MemoryError):
        raise _too_deep() from None
    except ValueError as err:  # e.g. a null byte, on Pythons that do not call it a SyntaxError
        raise GdcliError(f"cannot parse the expression: {err}") from None
    variables: dict[str, tuple[int, int]] = {}
    root = _compile(tree.body, text, 1, variables)
    return Expression(text, root, variables)


def _torch_call(name: str, x: "torch.Tensor") -> "torch.Tensor":
    import torch

    return getattr(torch, name)(x)  # name is one of FUNCTIONS: checked when parsing


def _compile(node: ast.AST, text: str, depth: int, variables: dict[str, tuple[int, int]]) -> Num | Var | Op:
    """Turn one whitelisted ast node (and its children) into our tree; refuse anything else."""
    if depth > MAX_DEPTH:
        raise _too_deep()
    if isinstance(node, ast.Constant):
        if type(node.value) in (int, float):
            try:
                return Num(float(node.value))
            except OverflowError:
                raise _refuse(text, node, "a number too large for a float") from None
        kinds = {str: "a string", bytes: "a bytes literal", bool: "a boolean", complex: "a complex number"}
        raise _refuse(text, node, f"{kinds.get(type(node.value), repr(node.value))} is not allowed")
    if isinstance(node, ast.Name):
        if node.id.startswith("_"):
            raise _refuse(text, node, f"names starting with an underscore are not allowed ({node.id})")
        if node.id in FUNCTIONS:
            raise _refuse(text, node, f"{node.id} is a function: call it as {node.id}(...)")
        variables.setdefault(node.id, _position(text, node))
        return Var(node.id)
    if isinstance(node, ast.UnaryOp) and type(node.op) in UNARY:
        symbol, apply = UNARY[type(node.op)]
        operand = _compile(node.operand, text, depth + 1, variables)
        return Op(f"unary {symbol}", apply, (operand,), _position(text, node))
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        symbol, apply = BINARY[type(node.op)]
        args = (_compile(node.left, text, depth + 1, variables), _compile(node.right, text, depth + 1, variables))
        return Op(symbol, apply, args, _position(text, node))
    if isinstance(node, ast.Call):
        return _compile_call(node, text, depth, variables)
    if type(getattr(node, "op", None)) in OTHER_OPERATORS:
        raise _refuse(text, node, f"the operator {OTHER_OPERATORS[type(node.op)]} is not allowed")
    what = REFUSED.get(type(node), f"a {type(node).__name__} construct")
    raise _refuse(text, node, f"{what} is not allowed")


def _compile_call(node: ast.Call, text: str, depth: int, variables: dict[str, tuple[int, int]]) -> Op:
    if not isinstance(node.func, ast.Name):
        _compile(node.func, text, depth + 1, variables)  # refuses attribute access, lambdas, ...
        raise _refuse(text, node, "only a function name can be called")
    name = node.func.id
    if name.startswith("_"):
        raise _refuse(text, node.func, f"names starting with an underscore are not allowed ({name})")
    if name not in FUNCTIONS:
        raise _refuse(text, node.func, f"calling {name}() is not allowed")
    if node.keywords:
        raise _refuse(text, node.keywords[0], f"keyword arguments are not allowed ({name}() takes one value)")
    if len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
        raise _refuse(text, node.func, f"{name}() takes exactly one argument")
    arg = _compile(node.args[0], text, depth + 1, variables)
    return Op(f"{name}()", functools.partial(_torch_call, name), (arg,), _position(text, node.func))


def parse_bindings(at: Sequence[str], shapes: Sequence[str] = ()) -> dict[str, "torch.Tensor"]:
    """float64 tensors from `NAME=VALUE` (VALUE a number or comma list) and `NAME=SHAPE` (fill to that shape)."""
    import torch

    numbers: dict[str, list[float]] = {}
    for item in at:
        name, value = _split_binding(item, "--at", "x=2 or x=1,2,3")
        if name in numbers:
            raise GdcliError(f"--at {name} is given twice", hint="give each variable once")
        numbers[name] = [parse_number(v, f"--at {name}") for v in value.split(",")]
        if not all(math.isfinite(v) for v in numbers[name]):
            raise GdcliError(f"--at {name}: values must be finite numbers")
    sizes: dict[str, tuple[int, ...]] = {}
    for item in shapes:
        name, dims = _split_binding(item, "--shape", "x=4,4")
        if name not in numbers:
            raise GdcliError(f"--shape {name} has no value", hint=f"give one with --at {name}=VALUE")
        sizes[name] = parse_shape(dims)
    tensors = {}
    for name, values in numbers.items():
        tensor = torch.tensor(values[0] if len(values) == 1 else values, dtype=torch.float64)
        if name in sizes:
            try:
                tensor = torch.broadcast_to(tensor, sizes[name]).clone()
            except RuntimeError:
                from gdcli.text import plural

                raise GdcliError(
                    f"--at {name} has {plural(len(values), 'value')}, "
                    f"which do not fill --shape {name}={list(sizes[name])}",
                    hint="give one value, or as many values as the last dimension of the shape",
                ) from None
        tensors[name] = tensor
    return tensors


def _split_binding(item: str, option: str, example: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    name = name.strip()
    if not sep or not value.strip():
        raise GdcliError(f"{option} {item!r}: write NAME=VALUE", hint=f"for example: {option} {example}")
    if not name.isidentifier() or name.startswith("_") or name in FUNCTIONS:
        raise GdcliError(f"{option} {item!r}: {name!r} cannot be a variable name", hint="use a name like x, w or b")
    return name, value


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
                hint=f"give it with --at {name}=VALUE (defined: {defined})",
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
                hint="use smaller --shape values; broadcasting multiplies the dimensions of its operands",
            )
        if work is not None:
            work[0] += size
        return node.apply(*args)
    except RuntimeError as err:
        shapes = " and ".join(_shape(a) for a in args)
        reason = str(err).splitlines()[0]
        raise GdcliError(
            f"cannot compute {node.symbol} of {shapes}: {reason}\n{pointer(text, *node.at)}",
            hint="check the --shape of the variables involved (@ needs tensors whose inner dimensions match)",
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
            hint="choose fewer variables with --wrt or smaller --shape values",
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
        raise GdcliError(f"--delta must be a positive number; got {delta:g}", hint="the default 1e-6 suits float64")
    names = list(expr.variables)
    wrt = list(wrt) if wrt else names
    for name in wrt:
        if name not in expr.variables:
            hint = f"its variables: {', '.join(names) or 'none'}"
            raise GdcliError(f"--wrt {name} is not in the expression", hint=hint)
    notes = [f"--at {name} is not in the expression and was ignored" for name in values if name not in expr.variables]
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
            f"--delta {delta:g} is below the resolution of float64 at --at {name}: {name} + delta == {name}, "
            "so the finite difference would be exactly 0",
            hint=f"use --delta {spacing * 1.01:.3g} or more (the spacing of float64 at |{name}| = {largest:g})"
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
