"""Command-line options shared by fit, compare, sweep and grad, each declared once.

Each shared option is a plain `Annotated` declaration (`DatasetOpt`, `LrOpt`, ...) that a
command lists in its own signature, as Typer's documentation shares options; gather.py's `run_settings`
then gathers their values from the command's context into the one dict of settings (`run`)
that config.resolve takes, and checks what the command reads and writes before any work.
Choices come from the registries' keys, so a new method or optimizer shows up in --help with
no edit here.
"""

import copy
import enum
import typing
from pathlib import Path
from typing import Annotated, Optional

import typer

from gdcli import constraints, models
from gdcli.activations import ACTIVATIONS
from gdcli.cli.clickparts import RegistryChoice
from gdcli.config import ACTIVATION_NAMES, DEVICES, DTYPES, REDUCTIONS
from gdcli.constraints import MISSING
from gdcli.data import BUILTINS
from gdcli.errors import flags_in
from gdcli.gradients import METHODS
from gdcli.optimizers import OPTIMIZERS
from gdcli.progress import MODES as PROGRESS_MODES
from gdcli.schedules import SCHEDULES
from gdcli.text import one_of


def shown(name: str) -> str:
    """A setting's default as help states it, from the table of settings, a setting named by its flag."""
    return flags_in(constraints.shown(name))

def choices(name: str, keys) -> type[enum.Enum]:
    """A str Enum whose members are the given keys (Typer shows and checks them)."""
    return enum.Enum(name, [(k, k) for k in keys], type=str)


Method = choices("Method", METHODS)
Reduction = choices("Reduction", REDUCTIONS)
Missing = choices("Missing", MISSING)
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




PRESET = "default: the dataset's preset"
# The optimizers that take --momentum, from the registry.
MOMENTUM_OPTIMIZERS = [name for name, entry in OPTIMIZERS.items() if "momentum" in entry.takes]

# The shared options, in the order of their help; a command lists those it takes in its signature.
DatasetOpt = Annotated[
    Optional[str],
    typer.Option(
        "--dataset",
        "-d",
        help=f"Built-in dataset ({', '.join(BUILTINS)}) or the path of a data file with a header row: .csv, "
        f".csv.gz or .parquet, a folder of such parts or a quoted glob ('data/*.parquet'), or - to read one from "
        f"stdin (default: {shown('dataset')}).",
        metavar="DATASET",
        rich_help_panel=DATA,
    ),
]
TargetOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--target",
        help="The data file's target column, repeat for several; the other numeric columns are the inputs, "
        f"but for an id (see --inputs) (default: {shown('target')}).",
        metavar="COLUMN",
        rich_help_panel=DATA,
    ),
]
InputsOpt = Annotated[Optional[list[str]], typer.Option(
    "--inputs", metavar="COLUMNS", rich_help_panel=DATA,
    help=f"The data file's input columns, comma-separated, repeat to add more (default: {shown('inputs')}).",
)]
DropOpt = Annotated[Optional[list[str]], typer.Option(
    "--drop", metavar="COLUMNS", rich_help_panel=DATA,
    help="Columns of the data file to leave out, comma-separated, repeat to add more.",
)]
MissingOpt = Annotated[Optional[Missing], typer.Option(
    "--missing", rich_help_panel=DATA,
    help=f"A row with an empty, NA or NaN cell in a column used: error, or drop the row (default: {shown('missing')}).",
)]
RowsOpt = Annotated[
    Optional[int],
    typer.Option(
        "--rows",
        help=f"Rows drawn for the synthetic dataset, as many as memory holds (default: {shown('rows')}).",
        rich_help_panel=DATA,
    ),
]
FeaturesOpt = Annotated[
    Optional[int],
    typer.Option(
        "--features",
        help="Features of the synthetic dataset: y = 1 + 2 (x1 + ... + xK) + noise "
        f"(default: {shown('features')}).",
        rich_help_panel=DATA,
    ),
]
ScaleOpt = Annotated[
    Optional[float],
    typer.Option("--scale", help=f"Multiply the inputs by this ({PRESET}).", rich_help_panel=DATA),
]
NormalizeOpt = Annotated[
    Optional[bool],
    typer.Option(
        "--normalize/--no-normalize",
        help=f"Standardize each feature by the training rows' mean and std, or leave the features as they are ({PRESET}).",
        show_default=False,
        rich_help_panel=DATA,
    ),
]
ValFractionOpt = Annotated[
    Optional[float],
    typer.Option(
        "--val-fraction",
        help="Hold out this fraction of the rows, drawn by a seeded shuffle, for validation "
        f"(default: {shown('val_fraction')}).",
        rich_help_panel=DATA,
    ),
]
BatchSizeOpt = Annotated[
    Optional[int],
    typer.Option(
        "--batch-size",
        help=f"Rows per update, reshuffled each epoch; 1 is per-sample SGD (default: {shown('batch_size')}).",
        rich_help_panel=DATA,
    ),
]
ModelOpt = Annotated[
    Optional[str],
    typer.Option(
        "--model",
        # The choices are the registry's when a value is checked, so a model registered later is one.
        click_type=RegistryChoice(models.MODELS),
        help=f"What is fitted: {one_of(f'{name} ({entry.help})' for name, entry in models.MODELS.items())} "
        f"(default: {shown('model')}).",
        rich_help_panel=TRAINING,
    ),
]


def _of_model(setting: str) -> str:
    """The models a model-specific setting applies to, as help names them: "--model mlp"."""
    return one_of(f"--model {name}" for name in models.claims(setting))


HiddenOpt = Annotated[
    Optional[int],
    typer.Option(
        "--hidden", help=f"Hidden units of {_of_model('hidden')} (default: {shown('hidden')}).",
        rich_help_panel=TRAINING,
    ),
]
ActivationOpt = Annotated[
    Optional[str],
    typer.Option(
        "--activation",
        click_type=RegistryChoice(ACTIVATIONS),  # the registry's entries when a value is checked
        help=f"Nonlinearity of {_of_model('activation')}: {one_of(ACTIVATION_NAMES)} (default: {shown('activation')}).",
        rich_help_panel=TRAINING,
    ),
]
MethodOpt = Annotated[
    Optional[str],
    typer.Option(
        "--method",
        "-m",
        click_type=RegistryChoice(METHODS),  # the registry's entries when a value is checked
        help=f"How the gradient is computed: {one_of(METHODS)}; gram needs the full batch and a model linear in its "
        f"parameters (default: {shown('method')}).",
        rich_help_panel=TRAINING,
    ),
]
OptimOpt = Annotated[
    Optional[str],
    typer.Option(
        "--optim",
        "-o",
        click_type=RegistryChoice(OPTIMIZERS),  # the registry's entries when a value is checked
        help=f"Update rule: {one_of(OPTIMIZERS)} (default: {shown('optim')}).",
        rich_help_panel=TRAINING,
    ),
]
LrOpt = Annotated[
    Optional[float],
    typer.Option("--lr", help=f"Learning rate ({PRESET}, else {shown('lr')}).", rich_help_panel=TRAINING),
]
EpochsOpt = Annotated[
    Optional[int],
    typer.Option("--epochs", "-e", help=f"Epochs to train ({PRESET}, else {shown('epochs')}).", rich_help_panel=TRAINING),
]
MomentumOpt = Annotated[
    Optional[float],
    typer.Option(
        "--momentum", help=f"Momentum for {one_of(MOMENTUM_OPTIMIZERS)} (default: {shown('momentum')}).",
        rich_help_panel=TRAINING,
    ),
]
WeightDecayOpt = Annotated[
    Optional[float],
    typer.Option(
        "--weight-decay", help=f"L2 weight decay for torch.optim (default: {shown('weight_decay')}).",
        rich_help_panel=TRAINING,
    ),
]
DeltaOpt = Annotated[
    Optional[float],
    typer.Option(
        "--delta",
        help=f"Step of the finite-diff method (default: {shown('delta')}, exact for a loss quadratic in the parameters; "
        f"{one_of(models.names(lambda m: not m.linear_in_params))}: about the cube root of the dtype's epsilon).",
        rich_help_panel=TRAINING,
    ),
]
ReductionOpt = Annotated[
    Optional[Reduction],
    typer.Option(
        "--reduction",
        help=f"Reduce the squared errors by their {one_of(REDUCTIONS)} (default: {shown('reduction')}).",
        rich_help_panel=TRAINING,
    ),
]


def model_starts() -> str:
    """The models whose start is not ones, as help names them: "mlp: uniform"."""
    return "; ".join(f"{m.name}: {m.default_init}" for m in models.MODELS.values() if m.default_init != "ones")


InitOpt = Annotated[
    Optional[str],
    typer.Option(
        "--init",
        help="Start: ones (W=1, b=0), zeros, randn (seeded), uniform (torch.nn.Linear's, seeded), or numbers like 1,0: "
        f"weights row by row, then biases, layer by layer (default: {shown('init')}; {model_starts()}).",
        metavar="INIT",
        rich_help_panel=TRAINING,
    ),
]
DtypeOpt = Annotated[
    Optional[Dtype],
    typer.Option(
        "--dtype", help=f"Floating-point type: {one_of(DTYPES)} (default: {shown('dtype')}).",
        rich_help_panel=TRAINING,
    ),
]
DeviceOpt = Annotated[
    Optional[str],
    typer.Option(
        "--device",
        help=f"Where to compute: {one_of(DEVICES)}, or cuda:N for GPU N; auto picks cuda, then mps, then cpu "
        f"(default: {shown('device')}).",
        metavar="DEVICE",
        rich_help_panel=TRAINING,
    ),
]
SeedOpt = Annotated[
    Optional[int],
    typer.Option(
        "--seed",
        help=f"Seeds the split, randn init, batch order and synthetic data (default: {shown('seed')}).",
        rich_help_panel=TRAINING,
    ),
]
CompileOpt = Annotated[
    Optional[bool],
    typer.Option(
        "--compile",
        help="Run the full-batch epoch step through torch.compile; the compile time is reported apart.",
        show_default=False,
        rich_help_panel=TRAINING,
    ),
]
TolOpt = Annotated[
    Optional[float],
    typer.Option(
        "--tol",
        help="Stop a run once its loss (validation loss with a split) has not fallen below its best minus this for "
        f"--patience epochs (default: {shown('tol')}).",
        metavar="T",
        rich_help_panel=STOPPING,
    ),
]
PatienceOpt = Annotated[
    Optional[int],
    typer.Option(
        "--patience",
        help=f"Epochs without an improvement of --tol before a run stops (default: {shown('patience')}).",
        metavar="P",
        rich_help_panel=STOPPING,
    ),
]
WithinOpt = Annotated[
    Optional[float],
    typer.Option(
        "--within",
        help="Stop a run once its training loss is within this fraction of the least-squares optimum: a relative "
        "gap (loss - optimum) / optimum of at most G, so 0.001 is within 0.1% "
        f"({one_of(models.names(lambda m: m.linear_in_params), 'and')} models).",
        metavar="G",
        rich_help_panel=STOPPING,
    ),
]
ScheduleOpt = Annotated[
    Optional[str],
    typer.Option(
        "--schedule",
        click_type=RegistryChoice(SCHEDULES),  # the registry's entries when a value is checked
        help="How the lr changes epoch by epoch: " + "; ".join(f"{k}: {flags_in(v.description)}" for k, v in SCHEDULES.items())
        + f" (default: {shown('schedule')}).",
        rich_help_panel=STOPPING,
    ),
]
StepSizeOpt = Annotated[
    Optional[int],
    typer.Option(
        "--step-size",
        help=f"Epochs between the lr's drops, for --schedule step (default: {shown('step_size')}).",
        rich_help_panel=STOPPING,
    ),
]
GammaOpt = Annotated[
    Optional[float],
    typer.Option(
        "--gamma",
        help="The lr's factor per drop for --schedule step, or per epoch for exponential "
        f"(default: {shown('gamma')}).",
        rich_help_panel=STOPPING,
    ),
]
MaxLrOpt = Annotated[
    Optional[float],
    typer.Option(
        "--max-lr",
        help=f"The peak lr of --schedule onecycle (default: {shown('max_lr')}).",
        rich_help_panel=STOPPING,
    ),
]
SharpnessOpt = Annotated[Optional[int], typer.Option(
    "--sharpness", metavar="N", rich_help_panel=OUTPUT,
    help="Measure the sharpness (the training loss Hessian's largest eigenvalue) at epoch 1, every N epochs and at "
    "the logged ones, beside the edge of stability 2/lr (default: not measured).")]
MemoryLimitOpt = Annotated[Optional[str], typer.Option("--memory-limit", metavar="SIZE", rich_help_panel=DATA, help=(
    "The memory training may use (4GB, 512MB, 1.5GiB, 2e9 bytes): data that needs more is streamed, read again "
    "block by block every pass, its validation rows chosen by a seeded hash of each row's place instead of the "
    f"permutation (default: {shown('memory_limit')})."))]


def with_help(option, text: str):
    """The same option declaration with another help text (a command where fit's wording would be wrong)."""
    base, info = typing.get_args(option)
    info = copy.copy(info)
    info.help = text
    return Annotated[base, info]


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
def written_path(text: str) -> Path | str:
    """A file to write, as typed: Path("") would read as "." (a folder), so an empty name stays "" to be
    refused as empty."""
    return Path(text) if text else ""


# Where a command's work runs (fit's Gram pass, sweep's runs): here, or on Ray.
WHERE = "Where it runs"
AddressOpt = Annotated[
    Optional[str],
    typer.Option(
        "--address",
        help="The Ray cluster to run on: HOST:PORT, or auto for the one this machine belongs to "
        "(default: a Ray instance started here).",
        rich_help_panel=WHERE,
        metavar="ADDR",
    ),
]
