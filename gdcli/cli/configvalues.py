"""A config file's values as the option that reads them would take them typed, and how messages show them."""

from __future__ import annotations

from typer.core import TyperOption

from gdcli import constraints
from gdcli.cli.clickparts import types
from gdcli.cli.tomlwrite import dumps, toml_value

Parameter = TyperOption


def kind_of(param: Parameter) -> types.ParamType:
    # gdcli wraps each type in usage.Checked (its `kind`) for its error wording.
    return getattr(param.type, "kind", param.type)


def described(param: Parameter, key: str) -> tuple[str, str]:
    """What a parameter's value is, in words, and an example of it in TOML (`key`: its key in a config)."""
    kind = kind_of(param)
    choices = getattr(kind, "choices", None)
    if param.is_flag or isinstance(kind, types.BoolParamType):
        one = ("true or false", f"{key} = true")
    elif choices is not None:
        names = [getattr(c, "value", c) for c in choices]
        one = (f"one of {', '.join(map(str, names))}", f'{key} = "{names[0]}"')
    elif isinstance(kind, types.IntParamType):
        one = ("a whole number", f"{key} = 100")
    elif isinstance(kind, types.FloatParamType):
        one = ("a number", f"{key} = 0.01")
    else:
        one = ("a string", f'{key} = "..."')
    one = (one[0], example_of(param, key, one[1]))
    if param.multiple:
        return f"{one[0]}, or a list of them", one[1].replace("= ", "= [", 1) + "]"
    return one


# The Python type of a run setting (constraints.SETTINGS) that each kind of option reads.
_KIND_OF = ((types.BoolParamType, bool), (types.IntParamType, int), (types.FloatParamType, float),
            (types.StringParamType, str))


def example_of(param: Parameter, key: str, fallback: str) -> str:
    """A run setting's example from the table of settings (hidden = 8), where the option reads that
    setting's type (sweep's --lr is a text of several values: the fallback)."""
    row = next((s for s in constraints.SETTINGS if s.key == key), None)
    kind = next((k for t, k in _KIND_OF if isinstance(kind_of(param), t)), None)
    if param.is_flag:
        kind = bool
    elif getattr(kind_of(param), "choices", None) is not None:
        kind = str
    if row is None or row.example is None or kind is not (str if row.kind is tuple else row.kind):
        return fallback
    return f"{key} = {toml_value(row.example)}"


def scalar(param: Parameter, value):
    """A TOML value as the option would receive it typed, or ValueError if its type is wrong."""
    kind = kind_of(param)
    if param.is_flag or isinstance(kind, types.BoolParamType):
        ok = isinstance(value, bool)
    elif isinstance(value, bool):
        ok = False  # true is no number and no name
    elif isinstance(kind, types.IntParamType):
        ok = isinstance(value, int)  # 2.5 would be cut to 2 by int()
    elif isinstance(kind, types.FloatParamType):
        ok = isinstance(value, (int, float))
    elif getattr(kind, "choices", None) is not None or not isinstance(kind, types.StringParamType):
        ok = isinstance(value, str)  # a choice or a path
    else:
        # A text option: numbers as typed (sweep's --lr 0.01, --seeds 7), repr round-trips a float.
        ok = isinstance(value, (str, int, float))
        value = repr(value) if isinstance(value, float) else str(value)
    if not ok:
        raise ValueError(value)
    return value


def coerce(param: Parameter, value):
    """A config value in the form the option's type converts: one value, or a list for a repeatable option."""
    if param.multiple:
        return [scalar(param, v) for v in (value if isinstance(value, list) else [value])]
    if isinstance(value, list) and isinstance(kind_of(param), types.StringParamType) and value:
        # A comma list given as a TOML list: seeds = [1, 2, 3] is --seeds 1,2,3.
        return ",".join(scalar(param, v) for v in value)
    return scalar(param, value)


def toml_text(value) -> str:
    try:
        return dumps({"v": value}).partition(" = ")[2].strip()
    except (TypeError, ValueError):
        return repr(value)
