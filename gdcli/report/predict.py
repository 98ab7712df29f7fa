"""`gdcli predict`: a saved model's predictions next to the rows they were made for.

Each row is the kept columns, the run's features, and per target its truth (where the
input has it) then its prediction, `<target>_predicted`: ready to join back on an id.
"""

from __future__ import annotations

import itertools
from typing import Callable, Iterable, Iterator

from rich.text import Text

from gdcli.emit import Stream
from gdcli.report.datasets import SHOWN_ROWS
from gdcli.report.numbers import as_typed, fmt_values
from gdcli.text import plural


class PredictView:
    """`gdcli predict`'s rows in every output format.

    `blocks` yields lists of rows (`header`'s columns), a block at a time, for all the rows:
    json, jsonl and csv write every row block by block; the table shows the first SHOWN_ROWS
    and says it left the rest out, reading and predicting no further. `n_rows` is the row
    count where it is known before reading (VALUES), else None. `predicted` is how many of
    the last columns are predictions (shown in bold, with as many digits as tell them apart).
    """

    def __init__(self, header, blocks: Callable[[], Iterable[list]], n_rows: int | None, predicted: int):
        self.header, self.blocks, self.n_rows, self.predicted = list(header), blocks, n_rows, predicted
        self.dropped = [0]  # rows the reader left out for a gap, added up as the blocks are read

    def _rows(self) -> Iterator[list]:
        for block in self.blocks():
            yield from block

    def table(self) -> list:
        from gdcli.errors import flag

        rows = list(itertools.islice(self._rows(), SHOWN_ROWS + 1))
        table = _table(self.header, rows[:SHOWN_ROWS], len(self.header) - self.predicted)
        if len(rows) <= SHOWN_ROWS:
            return [table]
        if self.n_rows is not None:
            counted = f"{plural(self.n_rows, 'row')}: the first {SHOWN_ROWS:,} shown, {self.n_rows - SHOWN_ROWS:,} left out"
        else:
            counted = f"the first {SHOWN_ROWS:,} rows shown, the rest left out"
        return [table, Text(f"{counted}; write them all with {flag('output')} csv (or json, jsonl)")]

    def _items(self, block: list) -> list[dict]:
        return [dict(zip(self.header, row)) for row in block]

    def document(self) -> Stream:
        return Stream(lambda: (self._items(block) for block in self.blocks()))

    def lines(self) -> Iterator[dict]:
        for row in self._rows():
            yield {"type": "prediction", **dict(zip(self.header, row))}

    def csv(self):
        return self.header, self._rows()


def _table(header: list[str], rows: list[list], given: int):
    """The rows: the first `given` columns as the input holds them (numbers exactly as typed, text as
    written), the predictions in bold."""
    from gdcli.tables import FitTable

    table = FitTable(hint="widen the terminal, or use --output csv", title="predictions", title_justify="left")
    for i, name in enumerate(header):
        style = {"style": "bold", "priority": 1} if i >= given else {}
        table.add_column(Text(name), justify="left" if _text(rows, i) else "right", **style)
    columns = [_shown([row[i] for row in rows], i < given) for i in range(len(header))]
    for row in zip(*columns):
        table.add_row(*(Text(cell) for cell in row))
    return table


def _text(rows: list[list], i: int) -> bool:
    return any(isinstance(row[i], str) for row in rows)


def _shown(values: list, given: bool) -> list[str]:
    """A column's cells: text as written, a missing value as "", numbers typed exactly or predictions
    in as many digits as tell them apart."""
    numbers = [v for v in values if isinstance(v, float)]
    shown = iter(as_typed(numbers) if given else fmt_values(numbers))
    return [next(shown) if isinstance(v, float) else "" if v is None else str(v) for v in values]
