"""click's exception and parameter-type classes, reached through Typer's public names.

Typer (0.26 and later) bundles click under a private module and exports only a few of its
names: `typer.BadParameter`, `typer.Context`, `typer.CallbackParam`. gdcli's one-line usage
errors must tell click's other usage errors apart (an unknown option, a missing argument, an
option without its value), and its help wraps a parameter's type (usage.Checked) to name
values in its own words. Typer has no public name for those classes, so this module takes
the modules they live in from the public classes built on them, whatever Typer calls those
modules. It is the one place where gdcli reaches past Typer's public API;
tests/test_cli_front.py checks every behaviour built on it, so a Typer change shows up there.
"""

from __future__ import annotations

import inspect
import typing

import typer
import typer.main
from typer.models import OptionInfo, TyperPath

# typer.BadParameter is click's BadParameter: its module holds every usage error click raises.
exceptions = inspect.getmodule(typer.BadParameter)
# Typer's path type is a click ParamType: its module holds the types Typer builds parameters from.
types = inspect.getmodule(next(c for c in TyperPath.__mro__ if c.__name__ == "ParamType"))

UsageError = exceptions.UsageError  # what typer.BadParameter derives from

# The type Typer gives a parameter with fixed choices (an Enum or a Literal): its checks,
# messages and completion are what users see for every choice option.
Choice = type(typer.main.get_click_type(annotation=typing.Literal["x"], parameter_info=OptionInfo()))


class RegistryChoice(Choice):
    """A choice among a registry's keys as they are when a value is checked: an entry
    registered after import (a model from a notebook or a test) is a choice too."""

    def __init__(self, registry: dict) -> None:
        super().__init__(())
        self.registry = registry

    @property
    def choices(self) -> tuple[str, ...]:
        """The registry's keys, in order."""
        return tuple(self.registry)

    @choices.setter
    def choices(self, value) -> None:
        pass  # the registry is the one list of choices
