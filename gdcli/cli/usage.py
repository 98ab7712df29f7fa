"""How gdcli's command line reads: usage errors in one line, and help without Python types.

The app's group and its commands use the classes in commands.py (`typer.Typer(cls=GdcliGroup)`,
`app.command(cls=GdcliCommand)`), which word their errors here, so the installed script and
tests through `typer.testing.CliRunner` behave alike:

- A usage error (bad choice, not a number, unknown option, missing argument, a value
  out of range) prints `error: <what is wrong>` and a hint line on stderr, exit 2.
- Commands that let values starting with "-" through (`predict run.json -5`,
  `grad "-x**2"`) still refuse a mistyped `--long-option`.
- Help shows a metavar (METHOD, NUMBER) instead of `<bool>` or `<list[str]>`, notes
  every default as `(default: X)` at the end of its sentence, and orders the panels
  Data, Training, Output.
- A reader that goes away (`gdcli --help | head -1`) ends the program quietly, status 0.

Typer 0.26 and later bundle click privately; gdcli.clickparts reaches click's exception and
type classes through Typer's public names (see there why). Beyond them gdcli relies on what
click's Parameter and ParamType define (`type`, `make_metavar`, `convert`, `shell_complete`),
on Command.collect_usage_pieces for the usage line, and on Typer's rich help drawing a number
range only for click's range types. tests/test_cli_front.py checks every behaviour above, so a
Typer change shows up there.
"""

from __future__ import annotations

import enum
import re
from contextlib import contextmanager

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

from gdcli.cli.clickparts import UsageError, types  # noqa: F401 - UsageError: the guard in app.py
from gdcli.cli.clickparts import exceptions as clicks
from gdcli.text import near

Context = typer.Context  # what click hands a command, group or type (typer.Context is a subclass)

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


def plain(value) -> str:
    return str(value.value if isinstance(value, enum.Enum) else value)


def _choices(param) -> list[str] | None:
    choices = getattr(param.type, "choices", None)
    return None if choices is None else [plain(c) for c in choices]


def _refusal(param, kind: types.ParamType, value, err: typer.BadParameter) -> str:
    """Why a value was refused, in the user's terms, from the parameter's declared type."""
    name, given, choices = _flag(param), plain(value), _choices(param)
    if choices is not None:
        meant = near(given, choices)
        meant = f" (did you mean {meant}?)" if meant else ""
        return f"{name}: {given!r} is not one of {', '.join(choices)}{meant}"
    if isinstance(kind, (types.IntParamType, types.FloatParamType)):
        whole = isinstance(kind, types.IntParamType)
        try:
            (int if whole else float)(value)
        except (TypeError, ValueError):
            return f"{name} needs {'a whole number' if whole else 'a number'}, not {given!r}"
        # A number, so out of range (IntRange, FloatRange).
        low, high = getattr(kind, "min", None), getattr(kind, "max", None)
        if low is not None and high is not None:
            return f"{name} must be between {low} and {high}, not {given}"
        if low is not None or high is not None:
            return f"{name} must be {f'at least {low}' if low is not None else f'at most {high}'}, not {given}"
    return f"{name}: {_sentence(err.message)}"


class BadValue(typer.BadParameter):
    """A value refused by its parameter's type; the message is gdcli's whole sentence."""


class Checked(types.ParamType):
    """Typer's type for one parameter, shown in help as a plain metavar, failing in gdcli's words.

    It converts, checks and completes exactly as the type it wraps; it is no range type,
    so help prints no "[x>=1]" banner (the help sentence says the range in words).
    """

    def __init__(self, kind: types.ParamType, metavar: str) -> None:
        self.kind, self.name = kind, metavar
        self.choices = getattr(kind, "choices", None)

    def get_metavar(self, param, ctx: Context) -> str:
        return self.name

    def convert(self, value, param, ctx):
        try:
            return self.kind.convert(value, param, ctx)
        except typer.BadParameter as err:
            raise BadValue(_refusal(param, self.kind, value, err), ctx, param) from None

    def shell_complete(self, ctx: Context, param, incomplete: str):
        return self.kind.shell_complete(ctx, param, incomplete)


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
        meant = _renamed(err.option_name, ctx)
        full = err.option_name if meant is None else None
        owners = _owners(ctx, full) if full else []
        if full and not owners:
            full = _completed(ctx, full)
            owners = _owners(ctx, full) if full else []
        if owners:
            return _elsewhere(err, path, owners, full)
        message = f"unknown option {err.option_name}"
        meant = meant or _begun_here(ctx, err.option_name)
        if err.option_name == "--version" and not is_group:
            return "unknown option --version: it is gdcli's own, before any command", "run 'gdcli --version'"
        if meant:
            message += f" (did you mean {meant}?)"
        elif err.possibilities:
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
    elif isinstance(err, BadValue):
        message = err.message
    elif isinstance(err, typer.BadParameter) and err.param is not None:
        message = f"{_flag(err.param)}: {_sentence(err.message)}"
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


# What to do instead of an option that belongs to other commands, where it takes a sentence.
_INSTEAD = {
    ("compare", "--save"): "gdcli compare saves its best run with --save-best FILE; to keep another, rerun it with "
    "gdcli fit and its --method, --optim and other settings, plus --save FILE",
    ("sweep", "--save"): "gdcli sweep saves its best run with --save-best FILE; to keep another, rerun it with gdcli "
    "fit and its settings (the --lr, --seed, ... of that run), plus --save FILE",
}


def _owners(ctx: Context | None, option: str) -> list[str]:
    """The other gdcli commands that take this option ("--save": fit)."""
    if ctx is None or ctx.parent is None:
        return []
    commands = getattr(ctx.parent.command, "commands", {})
    return [
        name
        for name, command in commands.items()
        if command is not ctx.command
        and any(option in p.opts + p.secondary_opts for p in command.params if isinstance(p, TyperOption))
    ]


def _completed(ctx: Context | None, typed: str) -> str | None:
    """The one option of other commands that `typed` begins (--sav: --save), where this command has
    none that it begins: a cut-short name is then no typo of this command's look-alikes (--scale)."""
    if ctx is None or ctx.parent is None or len(typed) < 4:
        return None

    def begun(command) -> set[str]:
        return {o for p in command.params if isinstance(p, TyperOption) for o in p.opts if o.startswith(typed)}

    if begun(ctx.command):
        return None
    commands = getattr(ctx.parent.command, "commands", {}).values()
    found = set().union(*(begun(c) for c in commands if c is not ctx.command))
    return found.pop() if len(found) == 1 else None


def _begun_here(ctx: Context | None, typed: str) -> str | None:
    """The one option of this command that `typed` begins (--sav: sweep's --save-best): a cut-short
    name is a better guess than a look-alike (--scale)."""
    if ctx is None or len(typed) < 4:
        return None
    found = {o for p in ctx.command.params if isinstance(p, TyperOption) for o in p.opts if o.startswith(typed)}
    return found.pop() if len(found) == 1 else None


def _elsewhere(err: clicks.NoSuchOption, path: str, owners: list[str], name: str) -> tuple[str, str]:
    """An option of other commands (`name`, which the user typed or began): say whose it is, instead of a
    look-alike that does something else (sweep's --scale for --save); only a plural or singular of it
    (--seed for --seeds) is a fair guess."""
    whose = " and ".join(f"gdcli {o}" for o in owners)
    message = f"unknown option {err.option_name}: {path} has no {name} (an option of {whose})"
    close = [p for p in err.possibilities or () if p.startswith(name) or name.startswith(p)]
    if close:
        message += f"; did you mean {close[0]}?"
    command = path.split()[-1]
    return message, _INSTEAD.get((command, name), f"run '{path} --help' for the options")

# Options one command calls by another name: grad takes fit's --init as --params.
RENAMED = {"--init": "--params"}


def _renamed(option: str, ctx: Context | None) -> str | None:
    """This command's name for an option another command spells `option`, where it has one."""
    meant = RENAMED.get(option)
    if ctx is None or meant is None:
        return None
    names = {name for p in ctx.command.params if isinstance(p, TyperOption) for name in p.opts}
    return meant if meant in names else None


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


def quiet_broken_pipe(exit: SystemExit) -> bool:
    """Whether this exit is Rich's or click's reaction to a reader that went away (gdcli --help | head)."""
    if exit.code != 1 or not isinstance(exit.__context__, BrokenPipeError):
        return False
    from gdcli.console import silence_stdout

    silence_stdout()
    return True


ABORTED = "aborted (Ctrl-C): nothing was saved"


def ctrl_c_while_parsing(exit: SystemExit) -> bool:
    """Whether this is Typer's exit 130 for a Ctrl-C that landed outside a command's own guard
    (while the options were read): Typer says nothing, so gdcli says what every Ctrl-C says."""
    return exit.code == 130 and isinstance(getattr(exit.__context__, "__cause__", None), KeyboardInterrupt)
