"""`gdcli.predict` and `gdcli.evaluate`: a trained or saved run on a data file, from Python (see gdcli.api).

Both read the file as the CLI's predict --input and evaluate do (block by block, columns
by name) and return a Report: `data` is what `--output json` writes.
"""

from __future__ import annotations

import os

from gdcli import settings as st
from gdcli.errors import GdcliError
from gdcli.runs import Report, Run, evaluation



def _saved(run):
    """The SavedRun of a Run, or of the run file at a path."""
    from gdcli import runfile

    if isinstance(run, Run):
        return run._saved()
    if not isinstance(run, (str, os.PathLike)):
        raise GdcliError(f"run must be a gdcli.Run or a run file's path, got {run!r}", "for example run='run.json'")
    return runfile.load_run(st.path("run", run))


def evaluate(run, input, missing=None) -> Report:  # noqa: A002 - the CLI's --input
    """The metrics of a run (a Run, or a run file's path) on the labelled rows of a CSV, .csv.gz or Parquet
    file (`input`, '-' for stdin): `report.metrics` is {target: {"rows", "mse", "rmse", "mae", "r2"}};
    `report.data` is what `gdcli evaluate --output json` writes. `missing` ("error" or "drop"; None: the
    run's own rule) says what a row with a gap does."""
    with st.api_call(("run", "input", "missing"), rename={"dataset": "input"}):
        name = None if isinstance(run, Run) else os.fspath(st.path("run", run))
        return evaluation(_saved(run), st.path("input", input), name, missing)


def predict(run, input, keep=(), missing=None) -> Report:  # noqa: A002 - the CLI's --input
    """A run's predictions (a Run, or a run file's path) for every row of a CSV, .csv.gz or Parquet file
    (`input`, '-' for stdin): `report.data` holds one dict per row as `gdcli predict --input --output json`
    writes it (the `keep` columns, the features, each target's truth where the file has it and its
    `<target>_predicted`); `report.to_pandas()` gives them as a DataFrame (needs pandas). `missing`
    ("error" or "drop"; None: the run's own rule) says what a row with a gap in a feature does;
    `report.dropped` counts the rows left out."""
    from gdcli import scoring

    with st.api_call(("run", "input", "keep", "missing"), rename={"dataset": "input"}):
        saved, source = _saved(run), os.fspath(st.path("input", input))
        view = scoring.prediction_view(saved, source, None, scoring.keep_names(keep), scoring.PIPE.format("predict"), missing)
        rows = [item for block in view.document().blocks() for item in block]
    return Report("predictions", rows, lambda: _table(view, rows), to_pandas=lambda: _frame(rows, view.header),
                  dropped=view.dropped[0])


def _table(view, rows: list[dict]) -> list:
    """The predictions as the CLI's table shows them (the first rows)."""
    from gdcli.report import PredictView

    values = [[row[name] for name in view.header] for row in rows]
    return PredictView(view.header, lambda: [values], len(rows), view.predicted).table()


def _frame(rows: list[dict], header: list[str]):
    """The rows as a pandas DataFrame, columns in their order."""
    try:
        import pandas
    except ImportError:
        raise GdcliError("Report.to_pandas needs pandas, which is not installed", "install it with pip install pandas") from None
    return pandas.DataFrame(rows, columns=header)
