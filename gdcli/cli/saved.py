"""`gdcli predict` and `gdcli export`: what a run saved by `gdcli fit --save` does next."""

import contextlib
from pathlib import Path
from typing import Annotated, Optional

import typer

from gdcli import console
from gdcli.cli.options import MissingOpt as FitMissingOpt
from gdcli.cli.options import Output, with_help, written_path
from gdcli.cli.shared import OutputOpt
from gdcli.errors import GdcliError
from gdcli.text import plural


# fit's --missing, worded for a saved run: its default is the rule the run was trained with.
MissingOpt = with_help(
    FitMissingOpt,
    "A row with a gap (an empty cell, NaN) in a column read: error, or drop it and say how many were left out. "
    "Default: the rule the run was trained with.",
)


def predict(
    run_file: Annotated[
        Path, typer.Argument(metavar="RUN_FILE", help="A run saved by gdcli fit --save.", show_default=False)
    ],
    values: Annotated[
        Optional[list[str]],
        typer.Argument(
            metavar="VALUES",
            help="Input rows in original units; comma-separate several features (70,0.1,0.043). Or use --input.",
            show_default=False,
        ),
    ] = None,
    input_file: Annotated[
        Optional[str],
        typer.Option(
            "--input",
            help="Predict every row of this CSV, .csv.gz or Parquet file, or folder of parts (- for stdin), read in blocks; its header "
            "names the run's features in any order. A target column it holds is written beside its prediction.",
            metavar="FILE",
            show_default=False,
        ),
    ] = None,
    keep: Annotated[
        Optional[list[str]],
        typer.Option(
            "--keep",
            help="Copy these columns of --input beside the predictions (comma list, may repeat): --keep id,date.",
            metavar="COLUMNS",
            show_default=False,
        ),
    ] = None,
    missing: MissingOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Apply a saved model to new inputs, with the same scaling it was trained with.

    Each prediction is the column TARGET_predicted, beside the inputs it was made for."""
    from gdcli import emit, runfile, scoring

    if bool(values) == (input_file is not None):
        example = f"gdcli predict {run_file} 35.7 81.9, or gdcli predict {run_file} --input rows.csv"
        problem = "give the input rows either as VALUES or with --input, not both" if values else "no input rows given"
        raise GdcliError(problem, f"give VALUES or --input FILE, for example: {example}")
    kept = scoring.keep_names(keep)
    if output is Output.jsonl and "type" in kept:
        raise GdcliError("a kept column named 'type' would clash with each JSON line's \"type\"", "use --output json or csv")
    saved = runfile.load_run(run_file)
    rows = None if values is None else runfile.parse_rows(values, len(saved.features), saved.features)
    example = "cat rows.csv | gdcli predict RUN_FILE --input -"
    with _input_named():
        view = scoring.prediction_view(saved, input_file, rows, kept, example, missing and missing.value)
        emit.emit(view, output.value)
    if view.dropped[0]:
        console.note(f"note: {plural(view.dropped[0], 'row')} with a gap in a feature left out (--missing drop)")


def evaluate(
    run_file: Annotated[
        Path, typer.Argument(metavar="RUN_FILE", help="A run saved by gdcli fit --save.", show_default=False)
    ],
    input_file: Annotated[
        str,
        typer.Option(
            "--input",
            help="Labelled rows: a CSV, .csv.gz or Parquet file, or folder of parts (- for stdin) whose header names the run's features "
            "and targets, in any order; read in blocks, so it may be larger than memory.",
            metavar="FILE",
            show_default=False,
        ),
    ],
    missing: MissingOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Score a saved model on labelled rows: rows, MSE, RMSE, MAE and R² per target, in the targets' units."""
    from gdcli import emit, report, runfile, scoring

    saved = runfile.load_run(run_file)
    with _input_named():
        pipe = "cat rows.csv | gdcli evaluate RUN_FILE --input -"
        data = scoring.evaluation(saved, input_file, str(run_file), missing and missing.value, pipe)
    if data.get("dropped") and output != Output.table:  # the table's title says it
        console.note(f"note: {plural(data['dropped'], 'row')} with a gap in a feature or target left out (--missing drop)")
    emit.emit(report.EvaluateView(data), output.value)


@contextlib.contextmanager
def _input_named():
    """The readers' hints name --dataset, the option that usually gives a file: here it is --input."""
    try:
        yield
    except GdcliError as err:
        raise GdcliError(err.render({"dataset": "--input"})) from None


def export(
    run_file: Annotated[
        Path, typer.Argument(metavar="RUN_FILE", help="A run saved by gdcli fit --save.", show_default=False)
    ],
    target: Annotated[
        str,  # a Path from written_path, or "" to be refused as empty
        typer.Argument(metavar="MODEL_PT", parser=written_path, help="Where to write the state_dict (torch.save).", show_default=False),
    ],
) -> None:
    """Write a saved run as a torch.nn state_dict that takes raw inputs (scaling folded into the first layer).

    A linear run loads into torch.nn.Linear(k, t); an mlp run into the book's
    nn.Sequential(OrderedDict(hidden_linear=Linear, hidden_activation=..., output_linear=Linear)).

    The tensors are float64: a module built with dtype=torch.float64 (or .double()) matches gdcli predict; a float32 one rounds them, and export warns when that changes the predictions.
    """
    from gdcli import runfile

    state = runfile.export(run_file, target)
    run = runfile.load_run(run_file)
    keys = ", ".join(state)
    # The module takes its inputs in the run's order, which a file read by name may not have.
    order = f"inputs in this order: {', '.join(run.features)} -> {', '.join(run.targets)}"
    console.note(f"wrote {target}: {keys} ({order}); load with module.load_state_dict(torch.load({str(target)!r}))")
    drift = runfile.float32_drift(run, state)
    if drift is not None and drift.too_large:
        console.warn(runfile.drift_warning(run, drift, target))
