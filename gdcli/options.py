"""Command-line options shared by fit, compare and sweep, declared once.

`run_options` adds fit's data and hyper-parameter options to a command's own
signature (Typer reads `__signature__`), collects their values into one dict and
passes it as the `run` argument; a command that declares an option of the same
name (sweep's grid-valued --lr) keeps its own. Choices come from the registries'
keys, so a new method or optimizer shows up in --help with no edit here.
"""

import copy
import enum
import functools
import inspect
import typing
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from gdcli import configfile
from gdcli.data import BUILTINS
from gdcli.errors import GdcliError, param
from gdcli.gradients import METHODS
from gdcli.optimizers import OPTIMIZERS
from gdcli.config import ACTIVATION_NAMES, DEVICES, DTYPES, MODEL_NAMES, PATIENCE, REDUCTIONS
from gdcli.progress import MODES as PROGRESS_MODES
from gdcli.schedules import SCHEDULES


def choices(name: str, keys) -> type[enum.Enum]:
    """A str Enum whose members are the given keys (Typer shows and checks them)."""
    return enum.Enum(name, [(k, k) for k in keys], type=str)


ModelName = choices("ModelName", MODEL_NAMES)
ActivationName = choices("ActivationName", ACTIVATION_NAMES)
Method = choices("Method", METHODS)
Optim = choices("Optim", OPTIMIZERS)
Reduction = choices("Reduction", REDUCTIONS)
Schedule = choices("Schedule", SCHEDULES)
Dtype = choices("Dtype", DTYPES)


class Output(str, enum.Enum):
    """How a command writes its result to stdout."""

    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


DATA = "Data"
TRAINING = "Training"
STOPPING = "Stopping and schedules"
OUTPUT = "Output"


def one_of(keys) -> str:
    """Choices as a phrase for help text: "a, b or c"."""
    keys = [str(k) for k in keys]
    return keys[0] if len(keys) == 1 else f"{', '.join(keys[:-1])} or {keys[-1]}"


def _option(name: str, annotation, default, *flags: str, help: str, panel: str = TRAINING, **kw) -> inspect.Parameter:
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=default,
        annotation=Annotated[annotation, typer.Option(*flags, help=help, rich_help_panel=panel, **kw)],
    )


PRESET = "default: the dataset's preset"
# The optimizers that take --momentum, from the registry.
MOMENTUM_OPTIMIZERS = [name for name, entry in OPTIMIZERS.items() if "momentum" in entry.takes]

RUN_OPTIONS: list[inspect.Parameter] = [
    _option(
        "dataset",
        Optional[str],
        None,
        "--dataset",
        "-d",
        help=f"Built-in dataset ({', '.join(BUILTINS)}) or the path of a data file with a header row: .csv, "
        ".csv.gz or .parquet, or - to read one from stdin (default: celsius).",
        panel=DATA,
        metavar="DATASET",
    ),
    _option(
        "target",
        Optional[list[str]],
        None,
        "--target",
        help="The data file's target column, repeat for several; every other column is a feature (default: the last "
        "column).",
        panel=DATA,
        metavar="COLUMN",
    ),
    _option(
        "rows",
        Optional[int],
        None,
        "--rows",
        help="Rows drawn for the synthetic dataset, as many as memory holds (default: 100).",
        panel=DATA,
    ),
    _option(
        "features",
        Optional[int],
        None,
        "--features",
        help="Features of the synthetic dataset: y = 1 + 2 (x1 + ... + xK) + noise (default: 1).",
        panel=DATA,
    ),
    _option("scale", Optional[float], None, "--scale", help=f"Multiply the inputs by this ({PRESET}).", panel=DATA),
    _option(
        "normalize",
        Optional[bool],
        None,
        "--normalize/--no-normalize",
        help=f"Standardize each feature by the training rows' mean and std, or leave the features as they are ({PRESET}).",
        panel=DATA,
        show_default=False,
    ),
    _option(
        "val_fraction",
        Optional[float],
        None,
        "--val-fraction",
        help="Hold out this fraction of the rows, drawn by a seeded shuffle, for validation (default: 0).",
        panel=DATA,
    ),
    _option(
        "batch_size",
        Optional[int],
        None,
        "--batch-size",
        help="Rows per update, reshuffled each epoch; 1 is per-sample SGD (default: the whole training set).",
        panel=DATA,
    ),
    _option(
        "model",
        Optional[ModelName],
        None,
        "--model",
        help="What is fitted: linear (y = W x + b), quadratic (a line on x and x²) or mlp (Linear, activation, "
        "Linear: the book's chapter 6 network) (default: linear).",
    ),
    _option("hidden", Optional[int], None, "--hidden", help="Hidden units of --model mlp (default: 8)."),
    _option(
        "activation",
        Optional[ActivationName],
        None,
        "--activation",
        help=f"Nonlinearity of --model mlp: {one_of(ACTIVATION_NAMES)} (default: tanh).",
    ),
    _option(
        "method",
        Optional[Method],
        None,
        "--method",
        "-m",
        help=f"How the gradient is computed: {one_of(METHODS)}; gram needs the full batch and a model linear in its "
        "parameters (default: autograd).",
    ),
    _option("optim", Optional[Optim], None, "--optim", "-o", help=f"Update rule: {one_of(OPTIMIZERS)} (default: gd)."),
    _option("lr", Optional[float], None, "--lr", help=f"Learning rate ({PRESET}, else 0.01)."),
    _option("epochs", Optional[int], None, "--epochs", "-e", help=f"Epochs to train ({PRESET}, else 5000)."),
    _option("momentum", Optional[float], None, "--momentum", help=f"Momentum for {one_of(MOMENTUM_OPTIMIZERS)} (default: 0)."),
    _option("weight_decay", Optional[float], None, "--weight-decay", help="L2 weight decay for torch.optim (default: 0)."),
    _option(
        "delta",
        Optional[float],
        None,
        "--delta",
        help="Step of the finite-diff method (default: 0.1, exact for a loss quadratic in the parameters; mlp: "
        "about the cube root of the dtype's epsilon).",
    ),
    _option(
        "reduction",
        Optional[Reduction],
        None,
        "--reduction",
        help=f"Reduce the squared errors by their {one_of(REDUCTIONS)} (default: mean).",
    ),
    _option(
        "init",
        Optional[str],
        None,
        "--init",
        help="Start: ones (W=1, b=0), zeros, randn (seeded), uniform (torch.nn.Linear's, seeded), or numbers like 1,0: "
        "weights row by row, then biases, layer by layer (default: ones; mlp: uniform).",
        metavar="INIT",
    ),
    _option("dtype", Optional[Dtype], None, "--dtype", help=f"Floating-point type: {one_of(DTYPES)} (default: float32)."),
    _option(
        "device",
        Optional[str],
        None,
        "--device",
        help=f"Where to compute: {one_of(DEVICES)}, or cuda:N for GPU N; auto picks cuda, then mps, then cpu "
        "(default: auto).",
        metavar="DEVICE",
    ),
    _option(
        "seed",
        Optional[int],
        None,
        "--seed",
        help="Seeds the split, randn init, batch order and synthetic data (default: 42).",
    ),
    _option(
        "compile",
        Optional[bool],
        None,
        "--compile",
        help="Run the full-batch epoch step through torch.compile; the compile time is reported apart.",
        show_default=False,
    ),
    _option(
        "tol",
        Optional[float],
        None,
        "--tol",
        help="Stop a run once its loss (validation loss with a split) has not fallen below its best minus this for "
        "--patience epochs (default: no early stop).",
        panel=STOPPING,
        metavar="T",
    ),
    _option(
        "patience",
        Optional[int],
        None,
        "--patience",
        help=f"Epochs without an improvement of --tol before a run stops (default: {PATIENCE}, with --tol).",
        panel=STOPPING,
        metavar="P",
    ),
    _option(
        "within",
        Optional[float],
        None,
        "--within",
        help="Stop a run once its training loss is within this fraction of the least-squares optimum: a relative "
        "gap (loss - optimum) / optimum of at most G, so 0.001 is within 0.1% (linear and quadratic models).",
        panel=STOPPING,
        metavar="G",
    ),
    _option(
        "schedule",
        Optional[Schedule],
        None,
        "--schedule",
        help="How the lr changes epoch by epoch: " + "; ".join(f"{k}: {v}" for k, v in SCHEDULES.items())
        + " (default: constant).",
        panel=STOPPING,
    ),
    _option(
        "step_size",
        Optional[int],
        None,
        "--step-size",
        help="Epochs between the lr's drops, for --schedule step (default: a third of the epochs).",
        panel=STOPPING,
    ),
    _option(
        "gamma",
        Optional[float],
        None,
        "--gamma",
        help="The lr's factor per drop for --schedule step, or per epoch for exponential (default: 0.1 for "
        "step; exponential: down to a hundredth over the run).",
        panel=STOPPING,
    ),
    _option(
        "max_lr",
        Optional[float],
        None,
        "--max-lr",
        help="The peak lr of --schedule onecycle (default: the run's --lr).",
        panel=STOPPING,
    ),
]

_NAMES = {p.name for p in RUN_OPTIONS}


def _with_help(param: inspect.Parameter, text: str) -> inspect.Parameter:
    """The same option with another help text (a command where fit's wording would be wrong)."""
    base, info = typing.get_args(param.annotation)
    info = copy.copy(info)
    info.help = text
    return param.replace(annotation=Annotated[base, info])


# A command's own options that name a file it writes (fit's --save, --plot-file): never one it reads.
WRITES = {"save": "run.json", "plot_file": "out.png"}  # with an example name for hints


def _check_files(run: dict, kwargs: dict, config, ctx) -> None:
    """Before any work: no file the command writes is one it reads, and what a config gave holds up."""
    from gdcli import console, data, files

    console.set_quiet(bool(kwargs.get("quiet")))  # the checks' notes come before the command sets it
    dataset = run.get("dataset")
    reads = {
        f"the {param('dataset')} file": dataset if dataset is not None and data.is_file(dataset) else None,
        f"the {param('config')} file": config,
    }
    for name, example in WRITES.items():
        if kwargs.get(name) is not None:
            files.check_not_stdio(kwargs[name], example, param(name))
    files.check_apart({param(name): kwargs.get(name) for name in WRITES}, reads)
    if config is not None:
        from gdcli import replay

        replay.check(ctx, run, config)


# The RunConfig field an option sets, where the names differ (repeat --target: targets).
FIELD_OF = {"target": "targets"}
_CONTEXT = "gdcli_context"  # the click context, for --print-config; no option


def run_options(
    func: Callable | None = None,
    *,
    exclude: tuple[str, ...] = (),
    help: dict[str, str] | None = None,
    config: bool = True,
) -> Callable:
    """Give a command fit's data and training options; it receives their values as `run: dict`.

    Options named in `exclude` are left out (compare chooses methods its own way); `help`
    maps an option's parameter name to the help text this command shows for it instead of
    fit's (grad has no presets and no default dataset). With `config`, the command also
    takes --config FILE and --print-config (gdcli.configfile), for every one of its options.
    """
    if func is None:
        return functools.partial(run_options, exclude=exclude, help=help, config=config)
    help = help or {}
    unknown = set(help) - {p.name for p in RUN_OPTIONS}
    if unknown:
        raise ValueError(f"run_options(help=...) names no shared option: {', '.join(sorted(unknown))}")
    own = [p for p in inspect.signature(func).parameters.values() if p.name != "run"]
    own_names = {p.name for p in own}
    shared = [
        _with_help(p, help[p.name]) if p.name in help else p
        for p in RUN_OPTIONS
        if p.name not in own_names and p.name not in exclude
    ]

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        path = None
        if config:
            ctx = kwargs.pop(_CONTEXT)
            path = kwargs.pop("config")  # its callback has given the file's values to the options already
            configfile.yield_to_lists(ctx, kwargs)
            if kwargs.pop("print_config"):
                # The settings the command passes to config.resolve: the shared options, and its own
                # that are no grid over one of them (sweep's --lr is a list; fit's --log-every is not).
                feeds = [p.name for p in shared] + [p.name for p in own if p.name not in _NAMES]
                values = {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in kwargs.items()}
                return configfile.print_config(ctx, values, feeds, narrowed=bool(exclude))
        run = {p.name: kwargs.pop(p.name) for p in shared}
        run = {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in run.items()}
        for option, field in FIELD_OF.items():
            if run.get(option) is not None:
                run[field] = tuple(run.pop(option))
            else:
                run.pop(option, None)
        try:
            _check_files(run, kwargs, path, ctx if config else None)
            return func(*args, run=run, **kwargs)
        except GdcliError as err:
            if path is None:
                raise
            raise configfile.blame(err, ctx, path) from None

    # A command's own option of a shared name (sweep's grid-valued --lr) stands where the shared one would.
    own_by_name, shared_by_name = {p.name: p for p in own}, {p.name: p for p in shared}
    placed = [
        own_by_name[p.name].replace(kind=inspect.Parameter.KEYWORD_ONLY) if p.name in own_by_name else shared_by_name[p.name]
        for p in RUN_OPTIONS
        if p.name in own_by_name or p.name in shared_by_name
    ]
    placed_names = {p.name for p in placed}
    params = [p for p in own if p.name not in placed_names] + placed
    if config:
        context = inspect.Parameter(_CONTEXT, inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
        params += [*configfile.parameters(), context]
    # Positional arguments first, as Python requires; options after, in declaration order.
    params.sort(key=lambda p: p.kind != inspect.Parameter.POSITIONAL_OR_KEYWORD)
    wrapper.__signature__ = inspect.Signature(params)
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


ProgressMode = choices("ProgressMode", PROGRESS_MODES)
ProgressOpt = Annotated[
    Optional[ProgressMode],
    typer.Option(
        "--progress",
        help="Progress on stderr: auto (a bar on a terminal, else a line every ~10 s), bar (lines where stderr is "
        "not a terminal), lines or none (default: auto; none with --quiet, but a --progress given wins over --quiet).",
        rich_help_panel=OUTPUT,
    ),
]
QuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="Only the result: no settings header, notes, other libraries' messages, or progress (unless --progress "
        "is given).",
        rich_help_panel=OUTPUT,
    ),
]
PlotOpt = Annotated[bool, typer.Option("--plot", help="Draw the pictures in the terminal.", rich_help_panel=OUTPUT)]
def written_path(text: str) -> Path | str:
    """A file to write, as typed: Path("") would read as "." (a folder), so an empty name stays "" to be
    refused as empty."""
    return Path(text) if text else ""


# str, not Path: Typer would turn the parser's "" into Path("."); written_path gives a Path otherwise.
PlotFileOpt = Annotated[
    Optional[str],
    typer.Option(
        "--plot-file",
        parser=written_path,
        help='Write the pictures to this PNG (needs pip install "gdcli\\[plot]").',
        rich_help_panel=OUTPUT,
        metavar="PNG",
    ),
]
