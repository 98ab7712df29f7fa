"""`gdcli datasets`: the list of built-in datasets, and one dataset's rows, in every output format."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from rich.console import Group
from rich.text import Text

from gdcli.emit import Stream
from gdcli.errors import flags_in
from gdcli.preset_lr import described
from gdcli.report.numbers import value_rows
from gdcli.tables import FitTable
from gdcli.text import plural

if TYPE_CHECKING:
    from gdcli.data import Builtin, Dataset


def datasets_table(builtins: dict[str, Builtin], shapes: dict[str, Dataset]) -> FitTable:
    """One row per built-in dataset: name, rows, features -> targets, description."""
    table = FitTable(title="built-in datasets (or pass --dataset with a .csv, .csv.gz or .parquet file)", title_justify="left")
    # A narrow terminal keeps the name and the description longest.
    table.add_column("name", keep=True)
    table.add_column("rows", justify="right", text=True, priority=2)
    table.add_column("features -> targets", text=True, narrow=12, priority=1)
    table.add_column("description", text=True, narrow=16, priority=3)
    for name, entry in builtins.items():
        ds = shapes[name]
        rows = f"{entry.default_rows} (--rows)" if entry.default_rows else str(ds.n_rows)
        table.add_row(name, rows, f"{', '.join(ds.features)} -> {', '.join(ds.targets)}", flags_in(entry.description))
    return table


SHOWN_ROWS = 1000  # `gdcli datasets NAME` prints at most this many rows


def values_table(
    features, targets, rows: list[list[float]], title: str | None = None, typed: bool = False
) -> FitTable:
    """Rows of inputs then targets (in bold); on a narrow terminal the last inputs give way first.
    `typed`: the inputs are the user's own, shown exactly as typed."""
    table = FitTable(hint="widen the terminal, or use --output csv", title=title, title_justify="left")
    for col in features:
        table.add_column(Text(col), justify="right")
    for col in targets:
        table.add_column(Text(col), justify="right", style="bold", priority=1)
    for row in value_rows(rows, len(features) if typed else 0):
        table.add_row(*row)
    return table


def dataset_table(ds: Dataset, n_rows: int | None = None) -> Group:
    """The first SHOWN_ROWS rows of one dataset, with its description and preset; `n_rows` is its
    row count where `ds` holds only the first rows (generated data drawn in part)."""
    from gdcli.errors import flag

    total = ds.n_rows if n_rows is None else n_rows
    shown = min(total, SHOWN_ROWS)
    X, y = (ds.X, ds.y) if ds.held else next(ds.row_blocks(), (None, None))  # rows not held: the first block
    rows = [[*a, *b] for a, b in zip(X[:shown].tolist(), y[:shown].tolist())]
    table = values_table(ds.features, ds.targets, rows)
    flags = [flag(k) + ("" if v is True else f" {v}") for k, v in described(ds.preset).items()]
    preset = " ".join(flags) or "none"
    rows = plural(total, "row") + (f" (the first {shown} shown)" if shown < total else "")
    return Group(Text(f"{ds.name}: {flags_in(ds.description)}"), table, Text(f"{rows}; fit preset: {preset}"))


class DatasetsView:
    """`gdcli datasets`: the built-in datasets, as a table or as one record each for programs."""

    def __init__(self, builtins: dict[str, Builtin], shapes: dict):
        self.builtins, self.shapes = builtins, shapes

    def _items(self) -> list[dict]:
        items = []
        for name, entry in self.builtins.items():
            shape = self.shapes[name]
            items.append(
                {
                    "name": name,
                    "rows": shape.n_rows,
                    "generated": entry.generated,  # rows drawn from --seed; --rows and --features set the shape
                    "features": list(shape.features),
                    "targets": list(shape.targets),
                    "description": flags_in(entry.description),
                    "preset": described(entry.preset),
                    "units": dict(entry.units),
                }
            )
        return items

    def table(self) -> list:
        return [datasets_table(self.builtins, self.shapes)]

    def document(self) -> list:
        return self._items()

    def lines(self) -> Iterator[dict]:
        for item in self._items():
            yield {"type": "dataset", **item}

    def csv(self):
        import json

        # preset and units are objects: a cell holds each as compact JSON, as json output holds it.
        def obj(d: dict) -> str:
            return json.dumps(d, ensure_ascii=False, separators=(",", ":"))

        header = ["name", "rows", "generated", "features", "targets", "description", "preset", "units"]
        rows = (
            [d["name"], d["rows"], str(d["generated"]).lower(), ",".join(d["features"]), ",".join(d["targets"]),
             d["description"], obj(d["preset"]), obj(d["units"])]
            for d in self._items()
        )
        return header, rows


DATA_BLOCK = 4096  # rows per block of a dataset written as json, jsonl or csv


class DatasetView:
    """`gdcli datasets NAME`: one dataset's rows (features, then targets), with what describes it."""

    def __init__(self, ds: Dataset, n_rows: int | None = None, blocks: Callable[[], Iterable] | None = None):
        """`ds` holds every row, or (generated data) only the first ones: then `n_rows` is the row
        count and `blocks()` gives every row as (X, y) blocks, drawn as they are written."""
        self.ds, self.blocks = ds, blocks
        self.n_rows = ds.n_rows if n_rows is None else n_rows

    @property
    def columns(self) -> list[str]:
        return [*self.ds.features, *self.ds.targets]

    def _blocks(self) -> Iterator[list[list]]:
        import numpy as np

        ds = self.ds
        if self.blocks is not None or not ds.held:
            for X, y in (self.blocks or ds.row_blocks)():
                yield np.concatenate([X, y], axis=1).tolist()
            return
        for start in range(0, ds.n_rows, DATA_BLOCK):
            stop = start + DATA_BLOCK
            yield np.concatenate([ds.X[start:stop], ds.y[start:stop]], axis=1).tolist()

    def _about(self) -> dict:
        ds = self.ds
        return {
            "name": ds.name,
            "description": flags_in(ds.description),
            "features": list(ds.features),
            "targets": list(ds.targets),
            "n_rows": self.n_rows,
            "preset": described(ds.preset),
            "units": dict(ds.units),
        }

    def table(self) -> list:
        return [dataset_table(self.ds, self.n_rows)]

    def document(self) -> dict:
        columns = self.columns
        rows = Stream(lambda: ([dict(zip(columns, row)) for row in block] for block in self._blocks()))
        return {**self._about(), "rows": rows}

    def lines(self) -> Iterator[dict]:
        yield {"type": "dataset", **self._about()}
        columns = self.columns
        for block in self._blocks():
            for row in block:
                yield {"type": "row", "values": dict(zip(columns, row))}

    def csv(self):
        return self.columns, (row for block in self._blocks() for row in block)
