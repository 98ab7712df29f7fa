"""The one exception type for mistakes a user can fix, and how the core names settings in it.

The core speaks in parameter names (`init`, `rows`, `val_fraction`); only the CLI
knows which flag sets each one (`gdcli grad` calls fit's --init `--params`). So a
core message refers to a setting through `param("init")`, a marker that
`GdcliError.render` turns into the command's flag.
"""

from __future__ import annotations

import re

_MARK = "\x1f"
_PARAM = re.compile(f"{_MARK}([a-z_]+){_MARK}")


def param(name: str) -> str:
    """A setting named in a core message; the CLI shows it as its flag (`--val-fraction`)."""
    return f"{_MARK}{name}{_MARK}"


def flag(name: str) -> str:
    """The usual flag of a parameter: val_fraction -> --val-fraction."""
    return "--" + name.replace("_", "-")


def params_in(text: str) -> list[str]:
    """The parameters a core message names (through `param`), in order."""
    return _PARAM.findall(text)


def flags_in(text: str, flags: dict[str, str] | None = None) -> str:
    """A core message with each parameter shown as its flag (`flags` overrides the usual one)."""
    flags = flags or {}
    return _PARAM.sub(lambda m: flags.get(m[1], flag(m[1])), text)


def names_in(text: str) -> str:
    """A core text with each parameter shown by its name, as the Python API calls it (`val_fraction`)."""
    return _PARAM.sub(lambda m: m[1], text)


class GdcliError(Exception):
    """A bad input: `message` names the problem, `hint` the way out.

    The CLI turns it into exit code 2 with no traceback.
    """

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self, flags: dict[str, str] | None = None) -> str:
        """Message and hint, each parameter shown as its flag (`flags` overrides the usual one)."""
        text = self.message if not self.hint else f"{self.message}\n{self.hint}"
        return flags_in(text, flags)

    def __str__(self) -> str:
        return self.render()
