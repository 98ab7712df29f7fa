"""The Python API's keyword settings: checked and typed as the CLI's options are, and its error
messages worded with the parameters' names (`lr`) where the CLI's say flags (`--lr`).

Pure Python: nothing here imports torch.
"""

from __future__ import annotations

import contextlib
import difflib
import math
import numbers
import os
import re
from pathlib import Path
from typing import Iterator

from gdcli import console
from gdcli import constraints
from gdcli.errors import GdcliError, flags_in, params_in

__all__ = ["GdcliError", "api_call", "check_names", "named", "number", "numbers_list", "run_dict", "typed"]

# Each setting's type, from the table of settings (constraints.SETTINGS), by the API's keyword names.
FLOATS = constraints.keys(float)
INTS = constraints.keys(int)
BOOLS = constraints.keys(bool)
TEXTS = constraints.keys(str)
NAMES = constraints.keys(tuple)  # column names: target, inputs, drop
# fit's data and training settings, by the CLI options' parameter names (run_options).
RUN = tuple(s.key for s in constraints.SETTINGS if s.key != "log_every")

_FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")
# A flag or a setting's marker, then a space and a number: the space becomes "=".
_VALUE_AFTER = re.compile(r"((?<![\w-])--[a-z][a-z0-9-]*|\x1f[a-z_]+\x1f) (?=[-+]?\.?\d)")


# Names a user brings from scikit-learn, Keras or a torch script, for the settings gdcli names otherwise:
# spelling alone would guess wrong (learning_rate reads closest to animate).
ALIASES = {
    "learning_rate": "lr", "eta0": "lr",
    "max_iter": "epochs", "n_iter": "epochs", "n_epochs": "epochs", "num_epochs": "epochs", "iterations": "epochs",
    "optimizer": "optim", "random_state": "seed", "validation_split": "val_fraction", "val_split": "val_fraction",
    "test_size": "val_fraction", "hidden_size": "hidden", "hidden_units": "hidden", "l2": "weight_decay",
}


def check_names(given: dict, allowed: tuple[str, ...] | list[str], call: str) -> None:
    """Refuse a keyword the call does not take, with the one it meant: gdcli's name for a setting other
    libraries name otherwise, else the nearest by spelling."""
    for name in given:
        if name not in allowed:
            near = [ALIASES[name]] if ALIASES.get(name) in allowed else difflib.get_close_matches(name, allowed, n=1)
            if not near:  # a near miss of another library's name ("lerning_rate")
                aliased = difflib.get_close_matches(name, [a for a in ALIASES if ALIASES[a] in allowed], n=1, cutoff=0.8)
                near = [ALIASES[a] for a in aliased]
            hint = f"did you mean {near[0]}=?" if near else f"{call} takes: {', '.join(sorted(set(allowed)))}"
            raise GdcliError(f"{call}() got an unknown setting {name!r}", hint)


def _number_example(name: str, whole: bool):
    """A good value of a numeric setting for a hint: the settings table's, else 1 or 0.01."""
    entry = constraints.BY_NAME.get(name)
    if entry is not None and isinstance(entry.example, (int, float)) and not isinstance(entry.example, bool):
        return entry.example
    return 1 if whole else 0.01


def number(name: str, value, whole: bool):
    """A setting's number as the CLI would have parsed it, or GdcliError naming the setting."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        kind = "a whole number" if whole else "a number"
        raise GdcliError(f"{name} must be {kind}, got {value!r}", f"for example {name}={_number_example(name, whole)}")
    if whole:
        if isinstance(value, numbers.Integral):
            return int(value)
        if math.isfinite(value) and float(value).is_integer():
            return int(value)
        raise GdcliError(f"{name} must be a whole number, got {value!r}", f"for example {name}={max(1, int(value)) if math.isfinite(value) else 1}")
    try:
        return float(value)
    except OverflowError:  # a Python int past any float
        digits = len(str(abs(int(value))))
        raise GdcliError(f"{name} is a whole number of {digits} digits, beyond any floating-point number",
                         f"for example {name}=0.01") from None


def _text(name: str, value) -> str:
    if name == "dataset" and isinstance(value, os.PathLike):
        return os.fspath(value)
    if name == "init" and hasattr(value, "tolist"):  # a NumPy array or a torch tensor of starting values
        value = value.tolist()
        value = value if isinstance(value, list) else [value]
    if name == "memory_limit" and isinstance(value, numbers.Real) and not isinstance(value, bool):
        return repr(value)  # bytes, as the CLI's --memory-limit 2e9
    if name == "init" and isinstance(value, (list, tuple)):
        return as_text([number("init", v, False) for v in value])
    if not isinstance(value, str):
        hint = f"for example {name}={_example(name)!r}"
        if name == "dataset" and hasattr(value, "to_csv"):
            hint = "write the DataFrame to a file first (df.to_csv('data.csv', index=False)) and pass its path"
        raise GdcliError(f"{name} must be a string, got {shown(value)}", hint)
    return value


def _example(name: str) -> str:
    """A text setting's example from the table, or "name" for a keyword the table does not have."""
    row = constraints.BY_NAME.get(name)
    return row.example if row is not None and isinstance(row.example, str) else "name"


def boolean(name: str, value) -> bool:
    """A switch (curves, explain): True or False, nothing that merely looks true."""
    if not isinstance(value, bool):
        raise GdcliError(f"{name} must be True or False, got {value!r}", f"for example {name}=True")
    return value


def typed(name: str, value):
    """One setting as the core takes it (None: not given)."""
    if value is None:
        return None
    if name in FLOATS or name in INTS:
        return number(name, value, name in INTS)
    if name in BOOLS:
        return boolean(name, value)
    if name in NAMES:
        values = [value] if isinstance(value, (str, os.PathLike)) else value
        if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
            example = constraints.setting(name).example
            raise GdcliError(f"{name} must be a column name or a list of them, got {value!r}",
                             f"for example {name}={example!r}")
        return tuple(values)
    return _text(name, value)


def run_dict(given: dict) -> dict:
    """The CLI's `run` dict (run_options) from keyword settings: typed, `target` as the field `targets`."""
    run = {name: typed(name, value) for name, value in given.items()}
    targets = run.pop("target", None)
    if targets is not None:
        run["targets"] = targets
    return run


def numbers_list(name: str, value, whole: bool = False) -> list:
    """A grid setting: one number or several (a list, a tuple, a range, a NumPy array or a tensor)."""
    if hasattr(value, "tolist"):  # a NumPy array or a torch tensor (0-d: one number)
        value = value.tolist()
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        values = [value]
    else:
        values = list(value)
    if not values:
        raise GdcliError(f"{name} is an empty list", f"give one value or more, for example {name}=[{'1, 2' if whole else '0.01, 0.1'}]")
    return [number(name, v, whole) for v in values]


def path(name: str, value) -> Path:
    """A file path setting (a string or a path-like), or GdcliError naming it."""
    if isinstance(value, (str, os.PathLike)):
        return Path(value)
    example = {"animate": "run.gif", "plot_file": "out.png", "input": "rows.csv"}.get(name, "run.json")
    hint = f"for example {name}={example!r}"
    if name == "input" and hasattr(value, "to_csv"):
        hint = "write the DataFrame to a file first (df.to_csv('rows.csv', index=False)), or use run.predict(X) for arrays"
    raise GdcliError(f"{name} must be a file path, got {shown(value)}", hint)


def shown(value) -> str:
    """A wrong value as a message shows it: its repr, or for a table or an array its type (not a page of it)."""
    got = repr(value)
    if len(got) > 60 or "\n" in got:
        got = f"a {type(value).__module__.split('.')[0]} {type(value).__name__}".replace("a builtins ", "a ")
    return got


def as_text(values: list) -> str:
    """A typed list of numbers as `init` text takes it: "1,0.5" (floats exactly, by repr)."""
    return ",".join(str(int(v)) if isinstance(v, int) or v.is_integer() else repr(v) for v in values)


def named(err: GdcliError, params: tuple[str, ...] | list[str], rename: dict[str, str] | None = None) -> GdcliError:
    """The same error with each setting named as the API's parameter (`lr`), never as a flag (`--lr`)."""
    rename = rename or {}

    def word(text: str) -> str:
        # A setting followed by a number reads as Python's keyword: "for example --lr 0.01" -> "lr=0.01".
        text = _VALUE_AFTER.sub(r"\1=", text)
        text = flags_in(text, {p: rename.get(p, p) for p in params_in(text)})

        def swap(m: re.Match) -> str:
            name = m[1].replace("-", "_")
            return rename.get(name, name) if name in params or name in rename else m[0]

        return _FLAG.sub(swap, text)

    return GdcliError(word(err.message), word(err.hint) if err.hint else None)


@contextlib.contextmanager
def api_call(params: tuple[str, ...] | list[str], rename: dict[str, str] | None = None) -> Iterator[None]:
    """While inside: nothing printed (notes, other libraries' warnings), and GdcliError worded for Python."""
    was = console.quiet()
    console.set_quiet(True)
    try:
        yield
    except GdcliError as err:
        raise named(err, params, rename) from None
    finally:
        console.set_quiet(was)
