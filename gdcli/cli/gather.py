"""A command's options gathered into the settings of a run (`run`, for config.resolve): the config
file's values under the command line's, --print-config answered, and what the command reads and
writes checked before any work."""

import enum
from pathlib import Path

import typer

from gdcli.cli import configfile, printconfig
from gdcli.cli.configfile import FIELD_OF
from gdcli.errors import GdcliError, param

# The settings of a run the shared options give, by parameter name, in the order of their help.
SHARED = (
    "dataset", "target", "inputs", "drop", "missing", "rows", "features", "scale", "normalize", "val_fraction", "batch_size", "model", "hidden",
    "activation", "method", "optim", "lr", "epochs", "momentum", "weight_decay", "delta", "reduction", "init",
    "dtype", "device", "seed", "compile", "tol", "patience", "within", "schedule", "step_size", "gamma", "max_lr",
    "sharpness", "memory_limit",
)


# A command's own options that name a file it writes (fit's --save, --plot-file, --animate): never one it reads.
WRITES = {"save": "run.json", "plot_file": "out.png", "animate": "run.gif"}  # with an example name for hints


def _check_files(run: dict, values: dict, config, ctx) -> None:
    """Before any work: no file the command writes is one it reads, and what a config gave holds up."""
    from gdcli import console, data, files

    console.set_quiet(bool(values.get("quiet")))  # the checks' notes come before the command sets it
    dataset = run.get("dataset")
    reads = {
        f"the {param('dataset')} file": dataset if dataset is not None and data.is_file(dataset) else None,
        f"the {param('config')} file": config,
    }
    for name, example in WRITES.items():
        if values.get(name) is not None:
            files.check_not_stdio(values[name], example, param(name))
    files.check_apart({param(name): values.get(name) for name in WRITES}, reads)
    if config is not None:
        from gdcli.cli import replay

        replay.check(ctx, run, config)


def _values(ctx: typer.Context) -> dict:
    """The command's parameters as it received them: a choice as its name, an unused repeatable option as None."""
    values = {}
    for p in ctx.command.params:
        if p.name not in ctx.params:
            continue
        value = ctx.params[p.name]
        if p.multiple:
            value = list(value) if value else None
        values[p.name] = value.value if isinstance(value, enum.Enum) else value
    return values


_BLAME = "gdcli_blame"  # ctx.meta key: the config file that a refused setting may have come from


def run_settings(ctx: typer.Context, own: tuple[str, ...] = ()) -> dict | None:
    """The shared options' values as the settings of a run (`run`, for config.resolve), checked before any
    work; None when --print-config has printed them instead (the command then ends).

    `own` names the command's own options that take a shared option's name with another meaning (sweep's
    --lr LOW:HIGH grid, grad's --delta for an expression too): the command passes them on itself. A
    command without some shared option (compare's --method) chooses that setting itself, so
    --print-config may leave the dataset's presets out.
    """
    values = _values(ctx)
    for name in ("inputs", "drop"):  # comma lists, repeatable: one list of names (--print-config writes it so)
        if values.get(name) is not None:
            values[name] = [n.strip() for v in values[name] for n in str(v).split(",") if n.strip()]
    path = values.pop("config", None)
    takes_config = "print_config" in values
    if takes_config:
        printconfig.yield_to_lists(ctx, values)
        if values.pop("print_config"):
            feeds = [name for name in values if name not in own]
            narrowed = not set(SHARED) <= set(values)
            printconfig.print_config(ctx, values, feeds, narrowed=narrowed)
            return None
    run = {name: values[name] for name in SHARED if name in values and name not in own}
    for option, field in FIELD_OF.items():
        if run.get(option) is not None:
            run[field] = tuple(run.pop(option))
        else:
            run.pop(option, None)
    for name in ("inputs", "drop"):
        if run.get(name) is not None:
            run[name] = tuple(run[name])
    if path is not None:
        path = Path(path)
        ctx.meta[_BLAME] = path  # from here on, a refused setting may name the file (blamed)
    _check_files(run, values, path, ctx if takes_config else None)
    return run


def blamed(err: GdcliError, ctx: typer.Context | None) -> GdcliError:
    """A refused setting that came from the config file (not typed) names the file (configfile.blame)."""
    path = None if ctx is None else ctx.meta.get(_BLAME)
    return err if path is None else configfile.blame(err, ctx, path)
