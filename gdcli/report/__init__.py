"""What a command's result looks like: Rich renderables and JSON-ready data, as views for gdcli.emit.
Prints nothing.

One module a part of the report, so that each can be found by what it shows:

- numbers: how losses, parameters and columns of values are written;
- panel: the settings panel over a run (`header`);
- epochs: the per-epoch training table, its JSON lines and the streamed history;
- result: the result block under it (against the optimum, the stability bound, the time);
- fit: fit's view in every format, and run_dict, one run as JSON for fit, compare and sweep;
- advising: why a run diverged, is unstable or stood still, and what to change;
- datasets, predict, scores: the views of `gdcli datasets`, `gdcli predict` and `gdcli evaluate`
  (scores also draws fit's validation metrics);
- many, agreement, compare, sweep, sweep_summary: many runs side by side (compare, sweep);
- tensors, sample, grad, explain: the tools' renderings (gdcli sample, gdcli grad).

This package re-exports the names of one run's report, which callers import from gdcli.report.
User text (column names, paths, dataset names) is always handed to Rich as `Text`, never as
markup; the consoles have markup off as a second guard.
"""

from gdcli.report.advising import advice, step_advice, stood_still_note, unmoved_advice
from gdcli.report.datasets import (
    DATA_BLOCK,
    SHOWN_ROWS,
    DatasetsView,
    DatasetView,
    dataset_table,
    datasets_table,
    values_table,
)
from gdcli.report.epochs import (
    HISTORY_BLOCK,
    epoch_table,
    fit_csv_header,
    history_columns,
    history_stream,
    record_dict,
)
from gdcli.report.fit import FitView, run_dict
from gdcli.report.panel import header, model_text, schedule_text, settings, stopping_text
from gdcli.report.numbers import SHOWN_PARAMS, as_typed, fmt, fmt_param, fmt_params, fmt_values, value_rows
from gdcli.report.predict import PredictView
from gdcli.report.scores import EvaluateView, metrics_table
from gdcli.report.result import (
    SHOWN_TERMS,
    bound_terms,
    equation,
    footer,
    gap_note,
    in_original_units,
    optimum_label,
    stable_text,
)

__all__ = [
    "DATA_BLOCK", "HISTORY_BLOCK", "SHOWN_PARAMS", "SHOWN_ROWS", "SHOWN_TERMS",
    "DatasetView", "DatasetsView", "EvaluateView", "FitView", "PredictView", "metrics_table",
    "advice", "as_typed", "bound_terms", "dataset_table", "datasets_table", "epoch_table", "equation",
    "fit_csv_header", "fmt", "fmt_param", "fmt_params", "fmt_values", "footer", "gap_note", "header",
    "history_columns", "history_stream", "in_original_units", "model_text", "optimum_label", "record_dict", "run_dict",
    "schedule_text", "settings", "stable_text", "step_advice", "stood_still_note", "stopping_text",
    "unmoved_advice", "value_rows", "values_table",
]
