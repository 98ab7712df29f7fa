"""Config files: `--config FILE` sets a command's options, `--print-config` writes them back.

A config is a flat TOML table whose keys are the command's option names without the
dashes (`val-fraction` or `val_fraction`), or a run file saved by `gdcli fit --save`
(its "config" block). The --config option is eager: its callback reads the file before
any other option is processed and hands the values to click as the context's
`default_map`, so that an option typed on the command line wins (LightningCLI's rule),
and every value from the file is converted and range-checked by the option's own type,
exactly as if typed. Nothing here names an option: the keys are whatever parameters the
command has, so a new option can be set from a file with no edit here.

`--print-config` prints the command's options after the dataset's presets are applied
(config.resolve), as TOML that --config reads back into the same run.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperOption

from gdcli import constraints
from gdcli.cli.clickparts import types
from gdcli.errors import GdcliError, flags_in

Context = typer.Context
Parameter = TyperOption  # the parameters a config sets are a command's options

PANEL = "Config file"
HINT_FILE = "give a TOML file of options (gdcli fit --print-config > run.toml writes one) or a run saved by gdcli fit --save"
# The run-file formats whose "config" block is a config (runfile.FORMATS; kept here so that
# reading a config does not import torch through gdcli.runfile).
RUN_FORMATS = ("gdcli-run/1", "gdcli-run/2")
# What --config and --print-config leave out of a config: themselves and --help.
NOT_KEYS = ("config", "print_config", "help")


# ----------------------------------------------------------------------------- reading


STDIN = "-"  # --config -: the config is piped into standard input


def name_of(path) -> str:
    """How messages name a config file: its path, or standard input."""
    return "'-' (standard input)" if str(path) == STDIN else repr(str(path))


def read(path: Path) -> tuple[dict, dict | None]:
    """The key/value pairs of a TOML file or a JSON run file (from stdin for "-"), and the whole run
    file where it is one (else None)."""
    from gdcli import files

    name = name_of(path)
    if str(path) == STDIN:
        text = _read_stdin(name)
    else:
        files.check_source(path, "config file", HINT_FILE)  # a FIFO would block, a device never end
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise GdcliError(f"config file {name} is not UTF-8 text", HINT_FILE) from None
        except OSError as err:
            raise GdcliError(f"cannot read config file {name} ({err.strerror or err})", HINT_FILE) from None
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors write is no TOML or JSON
    suffix = Path(path).suffix.lower()
    if suffix == ".json" or (suffix != ".toml" and text.lstrip().startswith("{")):
        return _read_json(text, name)
    return _read_toml(text, name), None


def _read_stdin(name: str) -> str:
    """The config piped into standard input, as text."""
    example = "pipe it in, for example: gdcli fit --print-config | gdcli fit --config -"
    stream = sys.stdin
    try:
        if stream is None or stream.isatty():
            raise GdcliError(f"config file {name}: nothing was piped in to read", example)
        buffer = getattr(stream, "buffer", None)
        data = buffer.read() if buffer is not None else stream.read().encode("utf-8")
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise GdcliError(f"config file {name} is not UTF-8 text", HINT_FILE) from None
    except (OSError, ValueError) as err:
        raise GdcliError(f"cannot read config file {name} ({err})", example) from None


def _read_toml(text: str, shown: str) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise GdcliError(
            f"config file {shown} is not valid TOML: {err}",
            'fix that line; each line is key = value, for example lr = 0.01 or dataset = "celsius"',
        ) from None


def _read_json(text: str, shown: str) -> tuple[dict, dict | None]:
    try:
        data = json.loads(text)
    except RecursionError:
        raise GdcliError(f"config file {shown} is nested too deeply", HINT_FILE) from None
    except ValueError as err:
        raise GdcliError(f"config file {shown} is not valid JSON ({err})", HINT_FILE) from None
    if not isinstance(data, dict):
        raise GdcliError(f"config file {shown} holds no JSON object", HINT_FILE)
    if "format" not in data:
        return data, None  # a plain object of options, read as a TOML file would be
    if data.get("format") not in RUN_FORMATS or not isinstance(data.get("config"), dict):
        raise GdcliError(f"config file {shown} is JSON but no gdcli run file (no \"config\" block of a known format)", HINT_FILE)
    # The run's resolved settings; null is an unset option (--batch-size: the whole training set).
    return {k: v for k, v in data["config"].items() if v is not None}, data


# ------------------------------------------------------------------- keys and values


def key_of(param: Parameter) -> str:
    """A parameter's key in a config: its long option without the dashes, `_` for `-` (--val-fraction: val_fraction)."""
    return max(param.opts, key=len).lstrip("-").replace("-", "_")


def options_of(ctx: Context) -> dict[str, Parameter]:
    """The command's options a config can set, by key, in the order of its help (Data, Training, Output)."""
    from gdcli.cli.usage import panel_rank

    params = [p for p in ctx.command.params if isinstance(p, TyperOption) and p.name not in NOT_KEYS]
    return {key_of(p): p for p in sorted(params, key=panel_rank)}


def _kind(param: Parameter) -> types.ParamType:
    # gdcli wraps each type in usage.Checked (its `kind`) for its error wording.
    return getattr(param.type, "kind", param.type)


def _what(param: Parameter) -> tuple[str, str]:
    """What a parameter's value is, in words, and an example of it in TOML."""
    kind, key = _kind(param), key_of(param)
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
    one = (one[0], _example(param, key, one[1]))
    if param.multiple:
        return f"{one[0]}, or a list of them", one[1].replace("= ", "= [", 1) + "]"
    return one


# The Python type of a run setting (constraints.SETTINGS) that each kind of option reads.
_KIND_OF = ((types.BoolParamType, bool), (types.IntParamType, int), (types.FloatParamType, float),
            (types.StringParamType, str))


def _example(param: Parameter, key: str, fallback: str) -> str:
    """A run setting's example from the table of settings (hidden = 8), where the option reads that
    setting's type (sweep's --lr is a text of several values: the fallback)."""
    row = next((s for s in constraints.SETTINGS if s.key == key), None)
    kind = next((k for t, k in _KIND_OF if isinstance(_kind(param), t)), None)
    if param.is_flag:
        kind = bool
    elif getattr(_kind(param), "choices", None) is not None:
        kind = str
    if row is None or row.example is None or kind is not (str if row.kind is tuple else row.kind):
        return fallback
    return f"{key} = {_value(row.example)}"


def _scalar(param: Parameter, value):
    """A TOML value as the option would receive it typed, or ValueError if its type is wrong."""
    kind = _kind(param)
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


def _coerce(param: Parameter, value):
    """A config value in the form the option's type converts: one value, or a list for a repeatable option."""
    if param.multiple:
        return [_scalar(param, v) for v in (value if isinstance(value, list) else [value])]
    if isinstance(value, list) and isinstance(_kind(param), types.StringParamType) and value:
        # A comma list given as a TOML list: seeds = [1, 2, 3] is --seeds 1,2,3.
        return ",".join(_scalar(param, v) for v in value)
    return _scalar(param, value)


def _toml(value) -> str:
    try:
        return dumps({"v": value}).partition(" = ")[2].strip()
    except (TypeError, ValueError):
        return repr(value)


def _values(ctx: Context, raw: dict, shown: str, run_file: bool) -> dict:
    """Check a config's keys and values against the command's options; returns {parameter name: value}."""
    options = options_of(ctx)
    command = f"gdcli {ctx.info_name}"
    aliases = _field_aliases()
    fits = _fit_keys(ctx)
    values, seen, ignored = {}, {}, []
    for given, value in raw.items():
        key = given.replace("-", "_")
        key = aliases.get(key, key) if key not in options else key
        if key in NOT_KEYS:
            raise GdcliError(f"config file {shown}: {given} cannot be set in a config file", f"give --{given.replace('_', '-')} on the command line")
        if isinstance(value, dict):
            raise GdcliError(
                f"config file {shown}: {given} is a table ([{given}]), but {command} reads flat keys",
                f"put the options at the top of the file, one per line, for example lr = 0.01; {command} takes: "
                + ", ".join(options),
            )
        if key not in options:
            # A setting of fit's that this command does not take (compare's method, sweep's history), as
            # `fit --print-config` writes them: left out, as with a run file. A save is refused: no run is saved.
            if run_file or (key in fits and key != "save"):
                ignored.append(given)
                continue
            close = difflib.get_close_matches(key, list(options), n=1)
            raise GdcliError(
                f"config file {shown}: unknown key {given!r}" + (f" (did you mean {close[0]}?)" if close else ""),
                f"{command} takes these keys: {', '.join(options)}",
            )
        if key in seen:
            raise GdcliError(f"config file {shown} sets {key} twice ({seen[key]} and {given})", "keep one of them")
        seen[key] = given
        param = options[key]
        try:
            value = _coerce(param, value)
        except ValueError:
            what, example = _what(param)
            raise GdcliError(
                f"config file {shown}: {given} = {_toml(value)} is not {what}", f"write it as, for example, {example}"
            ) from None
        try:
            param.type_cast_value(ctx, value)  # the option's own checks: choices, ranges
        except typer.BadParameter as err:
            from gdcli.cli import usage

            raise GdcliError(
                f"config file {shown}: {given} = {_toml(value)}: {usage.describe(err, ctx)[0]}",
                f"fix {given} in {shown}, or give {max(param.opts, key=len)} on the command line",
            ) from None
        values[param.name] = value
    if ignored:
        from gdcli import console

        kind = "run file" if run_file else "config file"
        console.note(f"note: {command} takes no {', '.join(ignored)}: left out of the {kind} {shown}")
    return values


def _fit_keys(ctx: Context) -> set[str]:
    """The keys a config of gdcli fit holds (its options), where the command is another one."""
    fit = getattr(ctx.parent.command, "commands", {}).get("fit") if ctx.parent is not None else None
    if fit is None or fit is ctx.command:
        return set()
    return {key_of(p) for p in fit.params if isinstance(p, TyperOption) and p.name not in NOT_KEYS}


def blame(err: GdcliError, ctx: Context, path) -> GdcliError:
    """A refused setting that came from the config file (not typed) names the file, so that the user
    knows where to look: "--patience must be at least 1, got -1 (--patience is set in bad.toml)"."""
    from gdcli.errors import param, params_in

    known = {p.name for p in ctx.command.params}
    names = [n for n in dict.fromkeys(params_in(err.message)) if n in known]
    from_file = [n for n in names if source(ctx, n) == FROM_FILE]
    if not from_file:
        return err
    where = " and ".join(param(n) for n in from_file)
    verb = "are" if len(from_file) > 1 else "is"
    return GdcliError(f"{err.message} ({where} {verb} set in {name_of(path)})", err.hint)


# The RunConfig field an option sets, where the names differ (repeat --target: targets).
FIELD_OF = {s.key: s.name for s in constraints.SETTINGS if s.key != s.name}
FROM_FILE, TYPED = "DEFAULT_MAP", "COMMANDLINE"  # where a value came from (ctx.get_parameter_source)


def source(ctx: Context, name: str) -> str | None:
    """Where the value of parameter `name` came from: FROM_FILE (a config's default_map), TYPED, or another
    of click's ParameterSource names; None where it has none."""
    found = ctx.get_parameter_source(name)
    return None if found is None else found.name


def _field_aliases() -> dict[str, str]:
    """RunConfig field -> option key where they differ (a run file's `targets` is --target)."""
    return {field: option for option, field in FIELD_OF.items()}


# Options whose value is a file the run reads: in a config file, a relative path is relative to
# the file's folder (where a run file stores it), not to wherever the command runs.
PATH_KEYS = ("dataset",)
META = "gdcli_config"  # ctx.meta key: what the config gave, for replay.check


def load(ctx: Context, param: Parameter, value: Optional[Path]):
    """--config's callback: read the file and give its values to the command as defaults."""
    if value is None or ctx.resilient_parsing:
        return value
    from gdcli import console

    try:
        raw, run = read(Path(value))
        if run is not None:
            raw = _run_values(raw)
        values = _values(ctx, raw, name_of(value), run is not None)
    except GdcliError as err:
        console.error(flags_in(err.message), flags_in(err.hint) if err.hint else None)
        raise typer.Exit(2) from None
    given = {key: values[key] for key in PATH_KEYS if isinstance(values.get(key), str)}
    if str(value) != STDIN:
        values.update({key: _rebased(text, Path(value).parent) for key, text in given.items()})
    ctx.meta[META] = {"given": given, "run": run}
    # The command line wins: click takes a default_map value only for an option not given.
    ctx.default_map = {**(ctx.default_map or {}), **values}
    return value


def _rebased(text: str, folder: Path) -> str:
    from gdcli import files

    return files.rebase(text, folder) if _is_file(text) else text


def _is_file(text: str) -> bool:
    from gdcli import data

    return data.is_file(text)


# ------------------------------------------------------------ resolved configurations


def _field_names() -> list[str]:
    from gdcli.config import RunConfig

    return [f.name for f in dataclasses.fields(RunConfig)]


def explicit(target: dict, keep: dict) -> dict:
    """The settings of `target` (a resolved RunConfig's fields) that can be given explicitly.

    `keep` is given already. A setting joins when config.resolve accepts it with those
    chosen before: --hidden is refused with a line model, and it changes nothing there.
    Passes repeat until none joins (--hidden joins once --model mlp has).
    """
    from gdcli.config import resolve

    chosen = dict(keep)
    grew = True
    while grew:
        grew = False
        for name, value in target.items():
            if name in chosen or value is None:
                continue
            try:
                cfg = resolve(**{**chosen, name: value})
            except (GdcliError, TypeError, ValueError):  # a damaged run file's "abc" epochs: checked later
                continue
            if getattr(cfg, name) == value:
                chosen[name] = value
                grew = True
    return chosen


def _run_values(config: dict) -> dict:
    """A run file's config as option values that resolve to the same RunConfig."""
    from gdcli.config import resolve

    fields = set(_field_names())
    target = {k: (tuple(v) if k == "targets" and isinstance(v, list) else v) for k, v in config.items() if k in fields}
    chosen = explicit(target, {})
    try:
        cfg = resolve(**chosen)
        same = all(getattr(cfg, k) == v for k, v in target.items())
    except (GdcliError, TypeError, ValueError):
        same = False
    if not same:
        chosen = target  # give every setting, and let the command say what is wrong with them
    chosen = {k: (list(v) if isinstance(v, tuple) else v) for k, v in chosen.items()}
    return {**{k: v for k, v in config.items() if k not in fields}, **chosen}


def print_config(ctx: Context, values: dict, feeds: list[str], narrowed: bool) -> None:
    """Print the command's options, with the presets resolved, as TOML (--print-config).

    `values` are the command's parameters as received; `feeds` names those the command
    passes to config.resolve (by parameter name). A setting the command left unset is
    filled in from the resolved RunConfig where giving it explicitly changes nothing.
    `narrowed`: the command chooses some settings itself (compare: method and optim), so
    resolve's defaults for them may not hold, and a resolve error is no error of the run.
    """
    from gdcli import __version__, console
    from gdcli.config import resolve

    fields = set(_field_names())
    field = {name: FIELD_OF.get(name, name) for name in values}
    given = {
        field[n]: (tuple(v) if isinstance(v, list) else v)
        for n, v in values.items()
        if n in feeds and field[n] in fields and v is not None
    }
    try:
        target = dataclasses.asdict(resolve(**given))
        filled = explicit(target, given)
    except GdcliError as err:
        if not narrowed:
            raise
        console.note(f"note: the dataset's presets are left out: {flags_in(err.message)}")
        filled = given
    options = options_of(ctx)
    lines = {}
    for key, param in options.items():
        name = param.name
        value = values.get(name)
        if value is None and field.get(name) in filled and not _listed(name, values):
            value = filled[field[name]]
        if value is None or (isinstance(value, (list, tuple)) and not value):
            continue  # TOML has no null: an unset option stays unset (no --target: the last column)
        lines[key] = _as_typed(param, value)
    for key in PATH_KEYS:
        # Absolute: the printed config may be saved in any folder, and is read relative to its own.
        if isinstance(lines.get(key), str) and _is_file(lines[key]):
            lines[key] = os.path.abspath(lines[key])
    header = f"# gdcli {ctx.info_name}, resolved (gdcli {__version__}); rerun with: gdcli {ctx.info_name} --config FILE"
    typer.echo(header + "\n" + dumps(lines), nl=False)


def _as_typed(param: Parameter, value):
    """A text option's number as a TOML number (sweep's momentum = 0.0, not "0.0"): printing a printed config
    gives it back unchanged, whether the number came from the presets or from the file."""
    kind = _kind(param)
    if not isinstance(value, str) or getattr(kind, "choices", None) is not None or not isinstance(kind, types.StringParamType):
        return value
    for number, text in ((int, str), (float, repr)):
        try:
            if text(number(value)) == value:
                return number(value)
        except ValueError:
            pass
    return value


def _listed(name: str, values: dict) -> bool:
    """Whether the command was given the option that lists several values of this setting (sweep's --seeds for --seed)."""
    return values.get(name + "s") is not None


def yield_to_lists(ctx: Context, values: dict) -> None:
    """Unset a setting the file gave where the command line lists several values of it.

    The command line wins over the file, also where it names the setting by its list:
    `gdcli sweep --config run.json --seeds 0:9` sweeps the run's seeds instead of
    refusing --seed (from the run file) and --seeds (typed) together.
    """
    for name in values:
        listed = name + "s"
        if (
            values.get(name) is not None
            and values.get(listed) is not None
            and source(ctx, name) == FROM_FILE
            and source(ctx, listed) == TYPED
        ):
            values[name] = None


# ----------------------------------------------------------------------------- writing


def _string(text: str) -> str:
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


def _value(value) -> str:
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
        return _string(str(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def dumps(values: dict) -> str:
    """Flat keys as TOML: strings, whole numbers, floats (repr: they read back bit for bit), booleans, lists."""
    return "".join(f"{key} = {_value(value)}\n" for key, value in values.items())


ConfigOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--config",
        help="Read options from this TOML file (keys are the option names: lr = 0.01, val-fraction = 0.2) "
        "or from a run saved by gdcli fit --save, or - for stdin; options on the command line win. A "
        "relative dataset path in the file is relative to the file's folder.",
        is_eager=True,
        callback=load,
        rich_help_panel=PANEL,
        metavar="FILE",
        show_default=False,
    ),
]
PrintConfigOpt = Annotated[
    bool,
    typer.Option(
        "--print-config",
        help="Print the options, with the dataset's presets filled in, as TOML for --config, and exit "
        "without training.",
        rich_help_panel=PANEL,
    ),
]
