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
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperOption

from gdcli import constraints
from gdcli.cli.configvalues import coerce, described, toml_text
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
    from gdcli.cli.commands import panel_rank

    params = [p for p in ctx.command.params if isinstance(p, TyperOption) and p.name not in NOT_KEYS]
    return {key_of(p): p for p in sorted(params, key=panel_rank)}


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
            value = coerce(param, value)
        except ValueError:
            what, example = described(param, key_of(param))
            raise GdcliError(
                f"config file {shown}: {given} = {toml_text(value)} is not {what}", f"write it as, for example, {example}"
            ) from None
        try:
            param.type_cast_value(ctx, value)  # the option's own checks: choices, ranges
        except typer.BadParameter as err:
            from gdcli.cli import usage

            raise GdcliError(
                f"config file {shown}: {given} = {toml_text(value)}: {usage.describe(err, ctx)[0]}",
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

    return files.rebase(text, folder) if is_file(text) else text


def is_file(text: str) -> bool:
    from gdcli import data

    return data.is_file(text)


# ------------------------------------------------------------ resolved configurations


def field_names() -> list[str]:
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

    fields = set(field_names())
    names = {s.name for s in constraints.SETTINGS if s.kind is tuple}  # column names: targets, inputs, drop
    target = {k: (tuple(v) if k in names and isinstance(v, list) else v) for k, v in config.items() if k in fields}
    chosen = explicit(target, {})
    try:
        cfg = resolve(**chosen)
        same = all(getattr(cfg, k) == v for k, v in target.items())
    except (GdcliError, TypeError, ValueError):
        same = False
    if not same:
        # Give every setting, and let the command say what is wrong with them; but not a setting of
        # other models, which a run file records too (hidden for a line) and which would be refused first.
        from gdcli import models

        kind = models.MODELS.get(target.get("model") or models.DEFAULT)
        others = set(models.model_settings()) - set(kind.settings) if kind is not None else set()
        chosen = {k: v for k, v in target.items() if k not in others}
    chosen = {k: (list(v) if isinstance(v, tuple) else v) for k, v in chosen.items()}
    return {**{k: v for k, v in config.items() if k not in fields}, **chosen}


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
