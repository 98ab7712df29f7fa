"""A small, safe expression language: text to a checked tree, for `gdcli grad`.

Text is parsed with Python's `ast` (mode="eval"), then every node is checked against a whitelist and
turned into a tiny tree of our own (numbers, variables, operators, calls); gdcli.expressions walks
that tree. Nothing is ever passed to eval or exec. Allowed: numbers, variable names, + - * / ** @,
unary - and +, parentheses, and the functions in FUNCTIONS (each is torch.<name>). Nothing here prints.
"""

from __future__ import annotations

import ast
import functools
import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from gdcli.errors import GdcliError

if TYPE_CHECKING:
    import torch

MAX_LENGTH = 2000
# Each level is one Python frame when compiling and evaluating: far below the interpreter's limit.
MAX_DEPTH = 100
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


def parse_expression(text: str, example: str | None = None) -> Expression:
    """Parse and whitelist-check `text`; raise GdcliError pointing at anything not allowed.

    `example`: the hint for an empty expression (a call of the front end at hand).
    """
    text = text.strip()  # a leading space would be an "unexpected indent"
    if not text:
        raise GdcliError("the expression is empty", hint=example)
    if len(text) > MAX_LENGTH:
        raise GdcliError(f"the expression is {len(text):,} characters long; the limit is {MAX_LENGTH:,}",
                         hint="write a shorter expression: sum() and mean() reduce a whole tensor at once")
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
        raise GdcliError(f"cannot parse the expression: {err}", hint=f"allowed: {ALLOWED}") from None
    variables: dict[str, tuple[int, int]] = {}
    root = _compile(tree.body, text, 1, variables)
    return Expression(text, root, variables)


def valid_name(name: str) -> bool:
    """Whether `name` can be a variable of an expression: an identifier, no leading underscore, not a function."""
    return name.isidentifier() and not name.startswith("_") and name not in FUNCTIONS


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
