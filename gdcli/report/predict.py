"""`gdcli predict`: a saved model's predictions next to the inputs they were made for."""

from __future__ import annotations

import itertools
from typing import Callable, Iterable, Iterator

from rich.text import Text

from gdcli.emit import Stream
from gdcli.report.datasets import SHOWN_ROWS, values_table
from gdcli.text import plural


class PredictView:
    """`gdcli predict`'s inputs in original units next to the model's predictions.

    `blocks` yields (inputs, outputs) as lists of rows, a block at a time, for all
    `n_rows`: json, jsonl and csv write every row block by block; the table shows the
    first SHOWN_ROWS and says how many it left out (predicting no further).
    """

    def __init__(self, features, targets, blocks: Callable[[], Iterable[tuple[list, list]]], n_rows: int):
        self.features, self.targets, self.blocks, self.n_rows = list(features), list(targets), blocks, n_rows

    def _rows(self) -> Iterator[tuple[list, list]]:
        for inputs, outputs in self.blocks():
            yield from zip(inputs, outputs)

    def table(self) -> list:
        from gdcli.errors import flag

        rows = [[*x, *y] for x, y in itertools.islice(self._rows(), SHOWN_ROWS)]
        table = values_table(self.features, [f"{col} (predicted)" for col in self.targets], rows, "predictions", typed=True)
        if self.n_rows <= SHOWN_ROWS:
            return [table]
        left = self.n_rows - SHOWN_ROWS
        note = (
            f"{plural(self.n_rows, 'row')}: the first {SHOWN_ROWS:,} shown, {left:,} left out;"
            f" write them all with {flag('output')} csv (or json, jsonl)"
        )
        return [table, Text(note)]

    def _item(self, x: list, y: list) -> dict:
        return {"input": dict(zip(self.features, x)), "prediction": dict(zip(self.targets, y))}

    def document(self) -> Stream:
        return Stream(lambda: ([self._item(x, y) for x, y in zip(*block)] for block in self.blocks()))

    def lines(self) -> Iterator[dict]:
        for x, y in self._rows():
            yield {"type": "prediction", **self._item(x, y)}

    def csv(self):
        return [*self.features, *self.targets], ([*x, *y] for x, y in self._rows())
