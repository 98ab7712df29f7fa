"""`--print-config`: a command's options with the dataset's presets filled in, as TOML that `--config` reads back into the same run."""

from __future__ import annotations

import dataclasses
import os

import typer

from gdcli.cli.clickparts import types
from gdcli.cli.configfile import (
    FIELD_OF,
    FROM_FILE,
    PATH_KEYS,
    TYPED,
    Context,
    explicit,
    field_names,
    is_file,
    options_of,
    source,
)
from gdcli.cli.configvalues import Parameter, kind_of
from gdcli.cli.tomlwrite import dumps
from gdcli.errors import GdcliError, flags_in
from gdcli.preset_lr import is_rule


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

    fields = set(field_names())
    field = {name: FIELD_OF.get(name, name) for name in values}
    given = {
        field[n]: (tuple(v) if isinstance(v, list) else v)
        for n, v in values.items()
        if n in feeds and field[n] in fields and v is not None
    }
    try:
        target = dataclasses.asdict(resolve(**given))
        # A preset's lr rule is no number to write: the config file's run derives it again.
        filled = {k: v for k, v in explicit(target, given).items() if not is_rule(v)}
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
        if value is None and field.get(name) in filled and not listed(name, values):
            value = filled[field[name]]
        if value is None or (isinstance(value, (list, tuple)) and not value):
            continue  # TOML has no null: an unset option stays unset (no --target: the last column)
        lines[key] = as_typed(param, value)
    for key in PATH_KEYS:
        # Absolute: the printed config may be saved in any folder, and is read relative to its own.
        if isinstance(lines.get(key), str) and is_file(lines[key]):
            lines[key] = os.path.abspath(lines[key])
    header = f"# gdcli {ctx.info_name}, resolved (gdcli {__version__}); rerun with: gdcli {ctx.info_name} --config FILE"
    typer.echo(header + "\n" + dumps(lines), nl=False)


def as_typed(param: Parameter, value):
    """A text option's number as a TOML number (sweep's momentum = 0.0, not "0.0"): printing a printed config
    gives it back unchanged, whether the number came from the presets or from the file."""
    kind = kind_of(param)
    if not isinstance(value, str) or getattr(kind, "choices", None) is not None or not isinstance(kind, types.StringParamType):
        return value
    for number, text in ((int, str), (float, repr)):
        try:
            if text(number(value)) == value:
                return number(value)
        except ValueError:
            pass
    return value


def listed(name: str, values: dict) -> bool:
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
