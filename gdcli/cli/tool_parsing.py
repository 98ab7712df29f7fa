"""The text of `gdcli sample`'s and `gdcli grad`'s options, read into the typed values gdcli's core takes.

`--shape 4,4`, `--mean 0,1` or `--mean 1:10`, `--at x=2 --shape x=4,4`, `--wrt x,w`. Messages name
the options through gdcli.errors.param, as the core's do; the CLI's guard shows them as flags.
"""

from __future__ import annotations

from gdcli.errors import GdcliError, param
from gdcli.expression_parse import valid_name
from gdcli.expressions import check_has_value, check_values
from gdcli.ranges import parse_number, parse_values
from gdcli.sampling import check_shape

# sample's options whose text is a parameter's values: a number, a comma list or a range.
VALUE_OPTIONS = ("p", "mean", "std", "weights")
# Of those, the ones an empty text leaves at their default.
EMPTY_IS_DEFAULT = ("p", "mean", "std")


def parse_shape(text: str) -> tuple[int, ...]:
    """A shape like `4,4` as a tuple of positive ints."""
    dims = []
    for part in text.split(","):
        try:
            dims.append(int(part.strip()))
        except ValueError:
            message = f"shape {text!r}: {part.strip()!r} is not a whole number"
            raise GdcliError(message, hint="write a shape like 4,4") from None
    return check_shape(dims, text)


def sample_values(given: dict) -> dict:
    """sample's distribution options as gdcli.sampling.draw takes them: the values' text read."""
    typed = dict(given)
    for name in VALUE_OPTIONS:
        text = given.get(name)
        if text is None:
            continue
        if not text and name in EMPTY_IS_DEFAULT:
            typed[name] = None
        elif name == "p" and text.strip() == "uniform":
            typed[name] = "uniform"
        else:
            typed[name] = parse_values(text, name)
    return typed


def bindings(at: list[str], shapes: list[str]) -> tuple[dict[str, list[float]], dict[str, tuple[int, ...]]]:
    """grad's `--at NAME=VALUE` (a number or a comma list) and `--shape NAME=SHAPE`, by variable."""
    numbers: dict[str, list[float]] = {}
    for item in at:
        name, value = _split(item, "at", "x=2 or x=1,2,3")
        if name in numbers:
            raise GdcliError(f"{param('at')} {name} is given twice", hint="give each variable once")
        numbers[name] = [parse_number(v, f"{param('at')} {name}") for v in value.split(",")]
        check_values(name, numbers[name])
    sizes: dict[str, tuple[int, ...]] = {}
    for item in shapes:
        name, dims = _split(item, "shape", "x=4,4")
        check_has_value(name, numbers)
        sizes[name] = parse_shape(dims)
    return numbers, sizes


def _split(item: str, option: str, example: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    name = name.strip()
    if not sep or not value.strip():
        raise GdcliError(f"{param(option)} {item!r}: write NAME=VALUE", hint=f"for example: {param(option)} {example}")
    if not valid_name(name):
        raise GdcliError(f"{param(option)} {item!r}: {name!r} cannot be a variable name", hint="use a name like x, w or b")
    return name, value


def names(text: str | None) -> list[str] | None:
    """`--wrt x,w` as variable names (None: all of them)."""
    return None if text is None else [name.strip() for name in text.split(",") if name.strip()]
