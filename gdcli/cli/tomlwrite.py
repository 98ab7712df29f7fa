"""TOML written by hand for `--print-config`: flat keys, floats that read back bit for bit (Python reads TOML, it writes none)."""

from __future__ import annotations

import math
from pathlib import Path


def toml_string(text: str) -> str:
    """A TOML basic string: backslash, quote and control characters escaped, the rest as is."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(ch, f"\\u{ord(ch):04X}"))
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            raise ValueError(f"{text!r} holds a character that TOML cannot write")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value) -> str:
    import enum

    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # the shortest text that reads back as the same float
    if isinstance(value, (str, Path)):
        return toml_string(str(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def dumps(values: dict) -> str:
    """Flat keys as TOML: strings, whole numbers, floats (repr: they read back bit for bit), booleans, lists."""
    return "".join(f"{key} = {toml_value(value)}\n" for key, value in values.items())
