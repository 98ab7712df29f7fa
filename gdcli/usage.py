"""How gdcli's command line reads: usage errors in one line, and help without Python types.

The app's group and its commands use the classes below (`typer.Typer(cls=GdcliGroup)`,
`app.command(cls=GdcliCommand)`), so the installed script and tests through
`typer.testing.CliRunner` behave alike:

- A usage error (bad choice, not a number, unknown option, missing argument, a value
  out of range) prints `error: <what is wrong>` and a hint line on stderr, exit 2.
- Commands that let values starting with "-" through (`predict run.json -5`,
  `grad "-x**2"`) still refuse a mistyped `--long-option`.
- Help shows a metavar (METHOD, NUMBER) instead of `<bool>` or `<list[str]>`, notes
  every default as `(default: X)` at the end of its sentence, and orders the panels
  Data, Training, Output.
- A reader that goes away (`gdcli --help | head -1`) ends the program quietly, status 0.

Typer 0.26 and later bundle click as `typer._click`; gdcli pins typer below 0.30, and
tests/test_cli_front.py checks every behaviour above, so a Typer change shows up there.
"""

from __future__ import annotations

import difflib
import enum
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path

import typer
from typer._click import Context, Parameter
from typer._click import exceptions as clicks
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

UsageError = clicks.UsageError  # what typer.BadParameter derives from

# Help panels in reading order; a command's unnamed panel ("Options", with --help) comes first.
PANELS = {"Data": 1, "Training": 2, "Output": 9}
_OTHER_PANEL = 5

_METAVARS = {bool: "", int: "INTEGER", float: "NUMBER", str: "TEXT", Path: "PATH"}
_LONG_OPTION = re.compile(r"--[A-Za-z][\w-]*")
_EXTRA = re.compile(r"Got unexpected extra arguments?(?:\(s\))? \((.*)\)$", re.DOTALL)


# --------------------------------------------------------------------------- errors


def print_error(message: str, hint: str | None = None) -> None:
    """`error: message` on stderr, and the hint on its own line."""
    from gdcli import console

    console.error(message, hint)


def _command_path(ctx: Context | None) -> str:
    names = []
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(["gdcli", *reversed(names)])


def _flag(param) -> str:
    """How the user names a parameter: its longest option (--method) or its metavar (RUN_FILE)."""
    if isinstance(param, TyperOption):
        return max(param.opts, key=len)
    return param.metavar or (param.name or "").upper()


def _plain(value) -> str:
    return str(value.value if isinstance(value, enum.Enum) else value)


def _choices(param) -> list[str] | None:
    desc = getattr(param, "type_descriptor", None)
    if desc is None or not desc.is_choice:
        return None
    return [_plain(c) for c in desc.choices or ()]


def _bad_value(err: clicks.BadParameter) -> str:
    """What was wrong with a value, in the user's terms, from the parameter's declaration."""
    param, name = err.param, _flag(err.param)
    details = err.__cause__.errors() if hasattr(err.__cause__, "errors") else [{}]
    detail = details[0] if details else {}
    kind, given = detail.get("type", ""), detail.get("input")
    choices = _choices(param)
    if choices is not None:
        return f"{name}: {given!r} is not one of {', '.join(choices)}"
    info = getattr(getattr(param, "type_descriptor", None), "parameter_info", None)
    low, high = getattr(info, "min", None), getattr(info, "max", None)
    if kind.startswith(("greater_than", "less_than")) and (low is not None or high is not None):
        if low is not None and high is not None:
            rule = f"between {low} and {high}"
        else:
            rule = f"at least {low}" if low is not None else f"at most {high}"
        return f"{name} must be {rule}, not {given}"
    if kind.startswith("int_"):
        return f"{name} needs a whole number, not {given!r}"
    if kind.startswith("float_"):
        return f"{name} needs a number, not {given!r}"
    return f"{name}: {_sentence(err.message)}"


def _sentence(text: str) -> str:
    """Click's capitalised, full-stopped messages as gdcli's lower-case fragments."""
    text = text.strip().rstrip(".")
    return text[:1].lower() + text[1:]


def describe(err: clicks.UsageError, ctx: Context | None = None) -> tuple[str, str]:
    """A usage error as gdcli's (message, hint)."""
    ctx = err.ctx or ctx
    path = _command_path(ctx)
    is_group = ctx is None or isinstance(ctx.command, TyperGroup)
    what = "the commands" if is_group else "the options"
    if isinstance(err, clicks.NoSuchOption):
        message = f"unknown option {err.option_name}"
        if err.possibilities:
            # difflib lists the closest match first
            message += f" (did you mean {err.possibilities[0]}?)"
        what = "the options"
    elif isinstance(err, clicks.MissingParameter) and err.param is not None:
        kind = "argument" if isinstance(err.param, TyperArgument) else "option"
        message = f"missing {kind} {_flag(err.param)}"
        choices = _choices(err.param)
        if choices:
            message += f": one of {', '.join(choices)}"
        what = "the arguments" if kind == "argument" else what
    elif isinstance(err, clicks.BadParameter) and err.param is not None:
        message = _bad_value(err)
    elif isinstance(err, clicks.BadOptionUsage):
        # "Option '--lr' requires an argument." -> "--lr requires an argument"
        message = re.sub(r"^Option '([^']+)' ", r"\1 ", _sentence(err.message), flags=re.IGNORECASE)
    elif extra := _EXTRA.match(err.message):
        message = f"unexpected extra argument: {extra[1]}"
        what = "the arguments"
    elif err.message.startswith("Missing command"):
        message = "missing a command"
    else:
        message = _sentence(err.message)
    return message, f"run '{path} --help' for {what}"


@contextmanager
def usage_errors(ctx: Context | None):
    """Turn click's usage errors raised inside into gdcli's one-line error and exit 2."""
    try:
        yield
    except clicks.NoArgsIsHelpError:
        raise  # `gdcli` alone: click prints the help itself
    except clicks.UsageError as err:
        if ctx is not None and ctx.resilient_parsing:
            raise
        print_error(*describe(err, ctx))
        raise typer.Exit(2) from None


def _quiet_broken_pipe(exit: SystemExit) -> bool:
    """Whether this exit is Rich's or click's reaction to a reader that went away (gdcli --help | head)."""
    if exit.code != 1 or not isinstance(exit.__context__, BrokenPipeError):
        return False
    try:
        # Nothing more can reach the reader; send what is left to /dev/null so the final flush cannot fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a real file (a test runner's buffer)
    return True


# ----------------------------------------------------------------------------- help


class GdcliOption(TyperOption):
    """An option whose help shows a metavar instead of a Python type, and no range banner."""

    def display_type_rich(self, ctx: Context) -> str | None:
        if self.is_flag:
            return None
        if self.metavar is not None:
            return self.metavar
        if self.type_descriptor.is_choice:
            return (self.name or "").upper()
        annotation = self.type_descriptor.annotation
        element = getattr(annotation, "__args__", (annotation,))[0] if self.type_descriptor.is_list else annotation
        return _METAVARS.get(element, "VALUE")

    def _get_number_range_help_str(self) -> str | None:
        # The range is checked all the same; the help sentence says it in words where it matters.
        return None


class GdcliArgument(TyperArgument):
    """An argument named by its metavar alone: no type column, no braces in the usage line."""

    def display_type_rich(self, ctx: Context) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    def _get_number_range_help_str(self) -> str | None:
        return None


def _default_note(param) -> None:
    """Write a shown default into the help sentence as `(default: X)`, once."""
    default = param.default
    shown = param.show_default is True and default is not None and not callable(default)
    if isinstance(param, TyperOption) and param.is_flag and not param.secondary_opts:
        shown = False  # a plain flag is off unless given
    help_text = (param.help or "").rstrip()
    if shown and default not in ((), []) and "(default:" not in help_text:
        note = f"(default: {_plain(default)})"
        help_text = f"{help_text[:-1]} {note}." if help_text.endswith(".") else f"{help_text} {note}".strip()
        param.help = help_text
    param.show_default = False


def polish(param) -> None:
    """Give one of Typer's parameters gdcli's help style (idempotent)."""
    if isinstance(param, (GdcliOption, GdcliArgument)):
        return
    if isinstance(param, TyperOption):
        # Typer builds its parameter objects itself; the subclass only changes how help shows them.
        param.__class__ = GdcliOption
    elif isinstance(param, TyperArgument):
        param.__class__ = GdcliArgument
    else:
        return
    _default_note(param)


def _panel_rank(param) -> int:
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

    def get_params(self, ctx: Context) -> list[Parameter]:
        params = super().get_params(ctx)
        for param in params:
            polish(param)
        # A stable sort: arguments keep their order (they are positional), panels read Data, Training, Output.
        return sorted(params, key=_panel_rank)

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        with usage_errors(ctx):
            if ctx.ignore_unknown_options and not ctx.resilient_parsing:
                _refuse_unknown_long_options(self, ctx, args)
            return super().parse_args(ctx, args)


class GdcliGroup(TyperGroup):
    """The gdcli app: one-line usage errors for the group and everything under it; quiet broken pipes."""

    def get_params(self, ctx: Context) -> list[Parameter]:
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
            if _quiet_broken_pipe(exit):
                raise SystemExit(0) from None
            raise
