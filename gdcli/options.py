"""Command-line options shared by fit, compare and sweep, declared once.

`run_options` adds fit's data and hyper-parameter options to a command's own
signature (Typer reads `__signature__`), collects their values into one dict and
passes it as the `run` argument; a command that declares an option of the same
name (sweep's grid-valued --lr) keeps its own. Choices come from the registries'
keys, so a new method or optimizer shows up in --help with no edit here.
"""

import enum
import functools
import inspect
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from gdcli.data import BUILTINS
from gdcli.gradients import METHODS
from gdcli.optimizers import OPTIMIZERS
from gdcli.config import DEVICES, DTYPES, REDUCTIONS


def choices(name: str, keys) -> type[enum.Enum]:
    """A str Enum whose members are the given keys (Typer shows and checks them)."""
    return enum.Enum(name, [(k, k) for k in keys], type=str)


Method = choices("Method", METHODS)
Optim = choices("Optim", OPTIMIZERS)
Reduction = choices("Reduction", REDUCTIONS)
Dtype = choices("Dtype", DTYPES)
Device = choices("Device", DEVICES)


class Output(str, enum.Enum):
    """How a command writes its result to stdout."""

    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


DATA = "Data"
TRAINING = "Training"


def _option(name: str, annotation, default, *flags: str, help: str, panel: str = TRAINING, **kw) -> inspect.Parameter:
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=default,
        annotation=Annotated[annotation, typer.Option(*flags, help=help, rich_help_panel=panel, **kw)],
    )


PRESET = "default: the dataset's preset"

RUN_OPTIONS: list[inspect.Parameter] = [
    _option(
        "dataset",
        Optional[str],
        None,
        "--dataset",
        "-d",
        help=f"Built-in dataset ({', '.join(BUILTINS)}) or the path of a CSV file with a header row (default: celsius).",
        panel=DATA,
    ),
    _option(
        "target",
        Optional[list[str]],
        None,
        "--target",
        help="CSV target column (repeat for several); default: the last column. Every other column is a feature.",
        panel=DATA,
    ),
    _option("rows", Optional[int], None, "--rows", help="Rows drawn for the synthetic dataset (default: 100).", panel=DATA),
    _option("scale", Optional[float], None, "--scale", help=f"Multiply the inputs by this ({PRESET}).", panel=DATA),
    _option(
        "normalize",
        Optional[bool],
        None,
        "--normalize/--no-normalize",
        help=f"Standardize each feature with the training rows' mean and std ({PRESET}).",
        panel=DATA,
        show_default=False,
    ),
    _option(
        "val_fraction",
        Optional[float],
        None,
        "--val-fraction",
        help="Hold out this fraction of rows for validation (seeded shuffle) (default: 0).",
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
    _option("method", Optional[Method], None, "--method", "-m", help="How the gradient is computed (default: autograd)."),
    _option("optim", Optional[Optim], None, "--optim", "-o", help="Update rule (default: gd)."),
    _option("lr", Optional[float], None, "--lr", help=f"Learning rate ({PRESET}, else 0.01)."),
    _option("epochs", Optional[int], None, "--epochs", "-e", help=f"Epochs to train ({PRESET}, else 5000)."),
    _option("momentum", Optional[float], None, "--momentum", help="Momentum for sgd and rmsprop (default: 0)."),
    _option("weight_decay", Optional[float], None, "--weight-decay", help="L2 weight decay for torch.optim (default: 0)."),
    _option("delta", Optional[float], None, "--delta", help="finite-diff step (default: 0.1)."),
    _option("reduction", Optional[Reduction], None, "--reduction", help="Mean or sum of the squared errors (default: mean)."),
    _option(
        "init",
        Optional[str],
        None,
        "--init",
        help="Start: ones (W=1, b=0), zeros, randn (seeded), or numbers like 1,0 (weights row by row, then biases) (default: ones).",
    ),
    _option("dtype", Optional[Dtype], None, "--dtype", help="Floating-point type (default: float32)."),
    _option("device", Optional[Device], None, "--device", help="auto picks cuda, then mps, then cpu (default: auto)."),
    _option(
        "seed",
        Optional[int],
        None,
        "--seed",
        help="Seeds the split, randn init, batch order and synthetic data (default: 42).",
    ),
]


def run_options(func: Callable | None = None, *, exclude: tuple[str, ...] = ()) -> Callable:
    """Give a command fit's data and training options; it receives their values as `run: dict`.

    Options named in `exclude` are left out (compare chooses methods its own way).
    """
    if func is None:
        return functools.partial(run_options, exclude=exclude)
    own = [p for p in inspect.signature(func).parameters.values() if p.name != "run"]
    own_names = {p.name for p in own}
    shared = [p for p in RUN_OPTIONS if p.name not in own_names and p.name not in exclude]

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        run = {p.name: kwargs.pop(p.name) for p in shared}
        run = {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in run.items()}
        if run.get("target") is not None:
            run["targets"] = tuple(run.pop("target"))
        else:
            run.pop("target", None)
        return func(*args, run=run, **kwargs)

    params = own + shared
    # Positional arguments first, as Python requires; options after, in declaration order.
    params.sort(key=lambda p: p.kind != inspect.Parameter.POSITIONAL_OR_KEYWORD)
    wrapper.__signature__ = inspect.Signature(params)
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


PlotOpt = Annotated[bool, typer.Option("--plot", help="Draw the pictures in the terminal.", rich_help_panel="Output")]
PlotFileOpt = Annotated[
    Optional[Path],
    typer.Option("--plot-file", help='Write the pictures to this PNG (needs pip install "gdcli\\[plot]").', rich_help_panel="Output"),
]
