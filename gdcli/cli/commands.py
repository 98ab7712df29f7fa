"""gdcli's Typer command and group classes: its help style (metavars, defaults in the sentence, panels
in the order Data, Training, ..., Output), strict --long-options, and one-line usage errors."""

from __future__ import annotations

import difflib
import re

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.models import TyperPath

from gdcli.cli.clickparts import exceptions as clicks
from gdcli.cli.clickparts import types
from gdcli.cli.usage import (
    ABORTED,
    Checked,
    Context,
    ctrl_c_while_parsing,
    plain,
    quiet_broken_pipe,
    usage_errors,
)

# Help panels in reading order; a command's unnamed panel ("Options", with --help) comes first.
PANELS = {"Data": 1, "Training": 2, "Output": 9}
_OTHER_PANEL = 5

# What help shows for a value of each of Typer's types; a choice shows the option's name (--method METHOD).
_METAVARS = [
    (types.IntParamType, "INTEGER"),
    (types.FloatParamType, "NUMBER"),
    (types.StringParamType, "TEXT"),
    (TyperPath, "PATH"),
]
_LONG_OPTION = re.compile(r"--[A-Za-z][\w-]*")


def _usage_name(argument: TyperArgument) -> str:
    """An argument in the usage line: its metavar alone (RUN_FILE, [VALUES]...), where Typer's own
    wraps a required one in braces and an optional one in brackets, differently by release."""
    name = argument.metavar or (argument.name or "").upper()
    name = name if argument.required else f"[{name}]"
    return name + ("..." if argument.nargs != 1 else "")


def _metavar(param) -> str:
    """What help shows for a parameter's value: METHOD for a choice, NUMBER for a float."""
    if getattr(param.type, "choices", None) is not None:
        return (param.name or "").upper()
    return next((shown for kind, shown in _METAVARS if isinstance(param.type, kind)), "VALUE")


def _default_note(param) -> None:
    """Write a shown default into the help sentence as `(default: X)`, once."""
    default = param.default
    shown = param.show_default is True and default is not None and not callable(default)
    if isinstance(param, TyperOption) and param.is_flag and not param.secondary_opts:
        shown = False  # a plain flag is off unless given
    help_text = (param.help or "").rstrip()
    if shown and default not in ((), []) and "(default:" not in help_text:
        note = f"(default: {plain(default)})"
        help_text = f"{help_text[:-1]} {note}." if help_text.endswith(".") else f"{help_text} {note}".strip()
        param.help = help_text
    param.show_default = False


def polish(param) -> None:
    """Give one of Typer's parameters gdcli's help style and error wording (idempotent)."""
    if isinstance(param.type, Checked) or not isinstance(param, (TyperOption, TyperArgument)):
        return
    if isinstance(param, TyperArgument):
        param.metavar = param.metavar or (param.name or "").upper()
        # An argument's name column says it all: its type column stays empty.
        param.type = Checked(param.type, "")
    elif not param.is_flag:
        param.type = Checked(param.type, _metavar(param))
    _default_note(param)


def panel_rank(param) -> int:
    """Where a parameter's help panel comes: the unnamed one first, then Data, Training, others, Output."""
    panel = getattr(param, "rich_help_panel", None)
    return 0 if panel is None else PANELS.get(panel, _OTHER_PANEL)


def _refuse_unknown_long_options(command: TyperCommand, ctx: Context, args: list[str]) -> None:
    """With ignore_unknown_options, "-5" and "-x**2" pass as values; a mistyped --long-option must not."""
    options = {name: p for p in command.get_params(ctx) if isinstance(p, TyperOption) for name in p.opts + p.secondary_opts}
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == "--":
            return
        name, eq, _ = arg.partition("=")
        if name in options:
            option = options[name]
            skip = not option.is_flag and not option.count and not eq
        elif _LONG_OPTION.fullmatch(name):
            longs = [o for o in options if o.startswith("--")]
            raise clicks.NoSuchOption(name, possibilities=difflib.get_close_matches(name, longs), ctx=ctx)


class GdcliCommand(TyperCommand):
    """A gdcli command: one-line usage errors, gdcli's help style, strict --long-options."""

    def get_params(self, ctx: Context) -> list:
        params = super().get_params(ctx)
        for param in params:
            polish(param)
        # A stable sort: arguments keep their order (they are positional), panels read Data, Training, Output.
        return sorted(params, key=panel_rank)

    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        # click's own, with each argument named by _usage_name.
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            pieces += [_usage_name(param)] if isinstance(param, TyperArgument) else param.get_usage_pieces(ctx)
        return pieces

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        with usage_errors(ctx):
            if ctx.ignore_unknown_options and not ctx.resilient_parsing:
                _refuse_unknown_long_options(self, ctx, args)
            return super().parse_args(ctx, args)


class GdcliGroup(TyperGroup):
    """The gdcli app: one-line usage errors for the group and everything under it; quiet broken pipes."""

    def get_params(self, ctx: Context) -> list:
        params = super().get_params(ctx)
        for param in params:
            polish(param)
        return params

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        with usage_errors(ctx):
            return super().parse_args(ctx, args)

    def resolve_command(self, ctx: Context, args: list[str]):
        name = args[0] if args else ""
        if self.get_command(ctx, name) is None and not name.startswith("-") and not ctx.resilient_parsing:
            close = difflib.get_close_matches(name, list(self.commands))
            message = f"unknown command {name!r}" + (f" (did you mean {' or '.join(close)}?)" if close else "")
            raise clicks.UsageError(message, ctx)
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: Context):
        # Subcommands parse their arguments inside the group's invoke; a command body may raise
        # typer.BadParameter itself: both print as usage errors.
        with usage_errors(ctx):
            return super().invoke(ctx)

    def main(self, *args, **kwargs):
        try:
            return super().main(*args, **kwargs)
        except SystemExit as exit:
            if quiet_broken_pipe(exit):
                raise SystemExit(0) from None
            if ctrl_c_while_parsing(exit):
                from gdcli.console import warn

                warn(ABORTED)
            raise
