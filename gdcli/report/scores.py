"""Metrics of predictions against their truth (gdcli/metrics.py) as a table, and `gdcli evaluate`'s view:
fit's validation block under its result, and evaluate's report on held-out rows."""

from __future__ import annotations

from typing import Iterator

from rich.console import Group
from rich.table import Table
from rich.text import Text

from gdcli.metrics import NAMES
from gdcli.report.numbers import fmt
from gdcli.text import plural

_HEADINGS = {"rows": "rows", "mse": "MSE", "rmse": "RMSE", "mae": "MAE", "r2": "R²"}


def metrics_table(by_target: dict[str, dict], title: str) -> Group:
    """One row per target: rows, MSE, RMSE, MAE, R² (in the targets' units), under an italic title."""
    table = Table(box=None, padding=(0, 2), show_edge=False)
    table.add_column("target", style="bold")
    for key in NAMES:
        table.add_column(_HEADINGS[key], justify="right")
    for target, found in by_target.items():
        table.add_row(Text(target), f"{found['rows']:,}", *(fmt(found[key]) for key in NAMES[1:]))
    return Group(Text(title, style="italic"), table)


def validation_block(by_target: dict[str, dict]) -> Group:
    """fit's block under its result: the validation rows' metrics at the final parameters."""
    rows = next(iter(by_target.values()))["rows"]
    return metrics_table(by_target, f"validation ({plural(rows, 'held-out row')}, at the final parameters)")


class EvaluateView:
    """`gdcli evaluate`'s metrics of a saved run on labelled rows, in every output format.

    `data` is the JSON document: {"run", "input", "rows", "dropped" (with --missing drop),
    "metrics": {target: {"rows", "mse", "rmse", "mae", "r2"}}}.
    """

    def __init__(self, data: dict):
        self.data = data

    def table(self) -> list:
        data = self.data
        title = f"{data['input']}: {plural(data['rows'], 'row')} scored"
        if data.get("dropped"):
            title += f" ({plural(data['dropped'], 'row')} with a missing value left out)"
        return [metrics_table(data["metrics"], title)]

    def document(self) -> dict:
        return self.data

    def lines(self) -> Iterator[dict]:
        for target, found in self.data["metrics"].items():
            yield {"type": "metrics", "target": target, **found}

    def csv(self):
        rows = ([target, *(found[key] for key in NAMES)] for target, found in self.data["metrics"].items())
        return ["target", *NAMES], rows
