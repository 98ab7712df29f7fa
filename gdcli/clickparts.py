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

import typer
from typer.models import TyperPath

# typer.BadParameter is click's BadParameter: its module holds every usage error click raises.
exceptions = inspect.getmodule(typer.BadParameter)
# Typer's path type is a click ParamType: its module holds the types Typer builds parameters from.
types = inspect.getmodule(next(c for c in TyperPath.__mro__ if c.__name__ == "ParamType"))

UsageError = exceptions.UsageError  # what typer.BadParameter derives from
