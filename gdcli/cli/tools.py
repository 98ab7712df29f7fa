"""Commands that look under training: `sample` (initialization distributions) and `grad`.

Each is parse (cli.tool_parsing: the options' text to typed values) -> the core function that
gdcli.sample and gdcli.grad call too (gdcli.sampling.draw, gdcli.gradcheck) -> render (gdcli.report.tools).
Nothing imported here at module level imports torch, so `gdcli --help` stays fast.
"""

from enum import Enum
from typing import Annotated

import typer

from gdcli import console, expressions, gradcheck, models, sampling
from gdcli.cli import tool_parsing
from gdcli.cli.gather import run_settings
from gdcli.cli.options import (
    OUTPUT,
    ActivationOpt,
    DatasetOpt,
    DeviceOpt,
    DtypeOpt,
    FeaturesOpt,
    HiddenOpt,
    ModelOpt,
    NormalizeOpt,
    ReductionOpt,
    RowsOpt,
    ScaleOpt,
    SeedOpt,
    TargetOpt,
    InputsOpt,
    DropOpt,
    MissingOpt,
    ValFractionOpt,
    model_starts,
    one_of,
    with_help,
)
from gdcli.cli.pictures import PlotFileOpt, PlotOpt
from gdcli.config import DEVICES, DTYPES, REDUCTIONS
from gdcli.data import BUILTINS
from gdcli.errors import GdcliError, flags_in

# The models not linear in their parameters, as help names them: "--model mlp".
_NETWORKS = one_of(f"--model {m.name}" for m in models.MODELS.values() if not m.linear_in_params)


class Distribution(str, Enum):
    """The distributions `gdcli sample` draws from."""

    bernoulli = "bernoulli"
    multinomial = "multinomial"
    normal = "normal"
    uniform = "uniform"


class ToolOutput(str, Enum):
    """How sample and grad write their result to stdout (table or json only)."""

    table = "table"
    json = "json"


VALUES = "a number, a comma list (one per element) or a range a:b[:step]"
GRAD_EXAMPLE = 'for example: gdcli grad "w*x + b" --at x=2 --at w=3 --at b=4'


def _write(kind: str, output: "ToolOutput", parts, data) -> None:
    """Write through gdcli's one output layer: `parts()` for a table, `data()` for json."""
    from gdcli import emit

    emit.emit(emit.Parts(kind, parts, data), output.value)


def sample(
    distribution: Annotated[
        Distribution,
        typer.Argument(metavar="DISTRIBUTION", help=f"What to draw from: {one_of(d.value for d in Distribution)}."),
    ],
    p: Annotated[
        str | None,
        typer.Option(
            "--p",
            help=f"Bernoulli's chance of a 1: {VALUES}, or 'uniform' to draw p from U(0,1) first (default: 0.5).",
            metavar="VALUES",
        ),
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option(
            "--weights", help="Multinomial's weight of each category, e.g. 10,10,13,34 (required for multinomial).", metavar="WEIGHTS"
        ),
    ] = None,
    num_samples: Annotated[
        int | None,
        typer.Option("--num-samples", min=1, help="Indices in one multinomial draw, at least 1 (default: 1).", metavar="N"),
    ] = None,
    replacement: Annotated[bool, typer.Option("--replacement", help="Draw multinomial indices with replacement.")] = False,
    mean: Annotated[
        str | None, typer.Option("--mean", help=f"Normal's mean: {VALUES} (default: 0).", metavar="VALUES")
    ] = None,
    std: Annotated[
        str | None, typer.Option("--std", help=f"Normal's standard deviation: {VALUES} (default: 1).", metavar="VALUES")
    ] = None,
    low: Annotated[float | None, typer.Option("--low", help="Uniform's lower bound, included (default: 0).")] = None,
    high: Annotated[float | None, typer.Option("--high", help="Uniform's upper bound, excluded (default: 1).")] = None,
    shape: Annotated[
        str | None,
        typer.Option(
            "--shape",
            help="Shape of one draw, e.g. 4,4; not for multinomial (default: a single value, or as many as the "
            "--p, --mean or --std list has).",
            metavar="SHAPE",
        ),
    ] = None,
    draws: Annotated[
        int, typer.Option("--draws", min=1, help="Repeat the draw N times for the statistics, N at least 1.", metavar="N")
    ] = 1,
    seed: Annotated[
        int, typer.Option("--seed", min=0, max=2**64 - 1, help="Seed of the torch.Generator, 0 to 2**64 - 1.")
    ] = 42,
    output: Annotated[
        ToolOutput,
        typer.Option("--output", help="Write a table, or json: one object on stdout.", rich_help_panel=OUTPUT),
    ] = ToolOutput.table,
    plot: PlotOpt = False,
    plot_file: PlotFileOpt = None,
) -> None:
    """Draw from a distribution, seeded, and compare what was drawn with what was asked.

    A range a:b[:step] includes both ends; with integer ends and no step it counts by 1 (1:10 is 1, 2, ..., 10).

    A range with fractional ends and no step is evenly spaced, with as many values as the other parameter (or the last --shape dimension) has: --mean 1:10 --std 1:0.1 is the notebook's torch.arange(1., 11.) and torch.arange(1, 0, -0.1).
    """
    given = {"p": p, "weights": weights, "num_samples": num_samples, "replacement": replacement or None,
             "mean": mean, "std": std, "low": low, "high": high}
    # Options of another distribution are refused before any text is read.
    sampling.check_parameters(distribution.value, [n for n, v in given.items() if v is not None], shape is not None)
    if plot_file is not None:
        from gdcli import plots

        plots.check_png_target(plot_file)
    size = tool_parsing.parse_shape(shape) if shape is not None else None
    result = sampling.draw(distribution.value, tool_parsing.sample_values(given), size, draws, seed)
    from gdcli.report import tools as report_tools

    _write("sample", output, lambda: report_tools.sample_renderables(result), lambda: report_tools.sample_json(result))
    if plot or plot_file:
        from gdcli import figures

        console.show_plots(figures.sample_panels(result), plot, plot_file, to_stderr=output != ToolOutput.table)


# fit's wording where it is wrong for grad: no presets, no default dataset, no training.
GradDatasetOpt = with_help(
    DatasetOpt,
    "Differentiate a model's loss (--model) on this dataset instead of an expression: "
    f"{', '.join(BUILTINS)}, or the path of a data file with a header row: .csv, .csv.gz or .parquet, a folder of such "
    "parts or a quoted glob, or - to read one from stdin.",
)
GradScaleOpt = with_help(
    ScaleOpt,
    "With --dataset: multiply the inputs by this (default: 1, the data as given).",
)
GradNormalizeOpt = with_help(
    NormalizeOpt,
    "With --dataset: standardize each feature by the rows' mean and std, or leave the features as they "
    "are (default: as they are).",
)
GradValFractionOpt = with_help(
    ValFractionOpt,
    "With --dataset: hold out this fraction of the rows (seeded shuffle); the loss uses the rest "
    "(default: 0).",
)
GradRowsOpt = with_help(
    RowsOpt,
    "With --dataset synthetic: rows drawn (default: 100).",
)
GradFeaturesOpt = with_help(
    FeaturesOpt,
    "With --dataset synthetic: features drawn (default: 1).",
)
GradTargetOpt = with_help(
    TargetOpt,
    "With --dataset: the file's target column, repeat for several (default: the last column).",
)
GradReductionOpt = with_help(
    ReductionOpt,
    f"With --dataset: reduce the squared errors by their {one_of(REDUCTIONS)} (default: mean).",
)
GradDtypeOpt = with_help(
    DtypeOpt,
    f"With --dataset: floating-point type, {one_of(DTYPES)}; an expression is always float64 "
    "(default: float32).",
)
GradDeviceOpt = with_help(
    DeviceOpt,
    f"With --dataset: where to compute, {one_of(DEVICES)}; auto picks cuda, then mps, then cpu "
    "(default: auto).",
)
GradSeedOpt = with_help(
    SeedOpt,
    "With --dataset: seeds the validation split and the synthetic data (default: 42).",
)


def grad(
    ctx: typer.Context,
    expr: Annotated[
        str | None,
        typer.Argument(
            help=f"The expression, e.g. \"w*x + b\". Allowed: {expressions.ALLOWED}. "
            "One may start with '-': gdcli grad \"-x**2\" --at x=3.",
            metavar="EXPR",
            show_default=False,
        ),
    ] = None,
    at: Annotated[
        list[str] | None,
        typer.Option(
            "--at",
            help="NAME=VALUE for each variable, repeated; a comma list VALUE gives a 1-D tensor.",
            metavar="NAME=VALUE",
        ),
    ] = None,
    shape: Annotated[
        list[str] | None,
        typer.Option(
            "--shape",
            help="NAME=4,4 makes NAME a tensor of that shape filled with its --at value.",
            metavar="NAME=SHAPE",
        ),
    ] = None,
    wrt: Annotated[
        str | None,
        typer.Option("--wrt", help="Comma list of variables to differentiate by (default: all).", metavar="NAMES"),
    ] = None,
    params: Annotated[
        str | None,
        typer.Option(
            "--params",
            help="With --dataset: the parameters, weights row by row then biases, layer by layer, e.g. 1,0 "
            f"(default: the model's start: ones; {model_starts()}, seeded).",
            metavar="NUMBERS",
        ),
    ] = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help=f"With --dataset: show the chain rule (a line) or backpropagation ({_NETWORKS}) step by step with "
            "the numbers.",
        ),
    ] = False,
    output: Annotated[
        ToolOutput,
        typer.Option("--output", help="Write a table, or json: one object on stdout.", rich_help_panel=OUTPUT),
    ] = ToolOutput.table,
    dataset: GradDatasetOpt = None,
    target: GradTargetOpt = None,
    inputs: InputsOpt = None,
    drop: DropOpt = None,
    missing: MissingOpt = None,
    rows: GradRowsOpt = None,
    features: GradFeaturesOpt = None,
    scale: GradScaleOpt = None,
    normalize: GradNormalizeOpt = None,
    val_fraction: GradValFractionOpt = None,
    model: ModelOpt = None,
    hidden: HiddenOpt = None,
    activation: ActivationOpt = None,
    delta: Annotated[
        float | None,
        typer.Option(
            "--delta",
            help="Finite-difference step (default: 1e-6 for an expression; for --dataset 0.1, or about the cube root "
            f"of the dtype's epsilon for {_NETWORKS}).",
        ),
    ] = None,
    reduction: GradReductionOpt = None,
    dtype: GradDtypeOpt = None,
    device: GradDeviceOpt = None,
    seed: GradSeedOpt = None,
) -> None:
    """Check a gradient: an expression's value and gradient by autograd (float64) against central finite differences.

    With --dataset instead of an expression: a model's loss and gradient at --params by each gradient method side by side (the data as given: no preset scaling unless --scale or --normalize). --explain walks the chain rule (a line) or backpropagation (an mlp) with the numbers.
    """
    run = run_settings(ctx, own=("delta",))  # grad takes no --config: never None
    if expr is None and run.get("dataset") is None and params is None and not explain:
        raise GdcliError(
            "give an expression to differentiate, or --dataset",
            hint=GRAD_EXAMPLE + "; or: gdcli grad --dataset celsius --params 1,0 --explain",
        )
    gradcheck.refuse_mixed(expr is not None, run, at, shape, wrt, params, explain)
    if expr is None:
        return _grad_dataset(run, params, delta, explain, output)
    parsed = expressions.parse_expression(expr, GRAD_EXAMPLE)
    values, sizes = tool_parsing.bindings(at or [], shape or [])
    check = gradcheck.expression_check(parsed, values, sizes, tool_parsing.names(wrt), delta).worded(flags_in)
    from gdcli.report import tools as report_tools

    _write("grad", output, lambda: report_tools.grad_renderables(check), lambda: report_tools.grad_json(check))


def _grad_dataset(run: dict, params: str | None, delta: float | None, explain: bool, output: ToolOutput) -> None:
    """A model's loss and gradient at fixed parameters, by every gradient method."""
    from gdcli.report import tools as report_tools

    try:
        found = gradcheck.dataset_gradients(run, params, delta)
    except GdcliError as err:
        # The starting parameters are fit's init; here the user gives them as --params.
        raise GdcliError(err.render({"init": "--params"})) from None
    _write(
        "grad",
        output,
        lambda: report_tools.dataset_gradient_parts(found, explain),
        lambda: report_tools.dataset_gradient_json(found, explain),
    )
