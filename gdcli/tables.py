"""Tables that fit the terminal: the one place that decides which columns a width can show.

A `FitTable` is filled like a Rich `Table` (add_column, add_row) and built when it
is printed, for the console's width:

- where every column fits at its natural width, it is the Rich table the view
  described, unchanged (so wide output stays byte for byte what it was);
- otherwise the least important columns are dropped until the rest fit, and a note
  under the table names them. A column marked `keep` (what identifies a row: the
  epoch, the method, the run) is never dropped.

A number is never cut short without a mark. Rich crops a `no_wrap` cell to its
column's width with no sign ("148.2227" shown as "14"); here every cell is
printed whole, wrapped at its spaces (text), or ends in "…" where even the kept
columns cannot fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

HINT = "widen the terminal, or use --output json"
# On a narrow console a header word longer than this, and than its column's cells, folds onto more lines.
FOLDED_HEADER = 8


@dataclass
class _Column:
    header: Any
    keep: bool
    priority: int
    text: bool
    narrow: int | None
    options: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.header.plain if isinstance(self.header, Text) else str(self.header)


def _plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def _longest_line(text: str) -> int:
    return max((cell_len(line) for line in text.split("\n")), default=0)


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


class FitTable:
    """A Rich table that, on a narrow console, drops its least important columns (with a note), never cutting numbers."""

    def __init__(self, hint: str = HINT, **table_options):
        self.table_options, self.hint = table_options, hint
        self.columns: list[_Column] = []
        self.rows: list[tuple[list, bool]] = []

    def add_column(self, header: Any = "", *, keep: bool = False, priority: int = 0, text: bool = False,
                   narrow: int | None = None, **options) -> None:
        """A column: `keep` never drops it; lower `priority` drops first (the rightmost of equals first).

        `text` marks words that may wrap onto several lines (parameters, reasons);
        other columns hold a number or a label each, never wrapped. `narrow` is the
        least width a text column is worth showing at. `options` go to Rich's add_column.
        """
        self.columns.append(_Column(header, keep, priority, text, narrow, options))

    def add_row(self, *cells: Any, end_section: bool = False) -> None:
        """A row of cells (str or Text), one per column."""
        self.rows.append((list(cells), end_section))

    def add_section(self) -> None:
        """A rule under the last row added."""
        if self.rows:
            self.rows[-1] = (self.rows[-1][0], True)

    # ------------------------------------------------------------ layout

    def _widths(self) -> tuple[list[int], list[int], list[int]]:
        """Each column's natural width (what Rich gives it with room to spare), the width it needs
        (its header's words folded only when longer than the cells and FOLDED_HEADER), and the least
        that keeps every cell whole (its header folded as far as need be)."""
        natural, need, least_widths = [], [], []
        for i, col in enumerate(self.columns):
            cells = [_plain(cells[i]) for cells, _ in self.rows if i < len(cells)]
            header = _plain(col.header)
            wide = max([_longest_line(header), *(_longest_line(c) for c in cells), col.options.get("min_width") or 0])
            if col.text:
                narrow = col.narrow if col.narrow is not None else col.options.get("min_width") or 0
                least = max([narrow, *(_longest_word(c) for c in cells)])
            else:
                least = max((_longest_line(c) for c in cells), default=0)
            # A header word longer than the cells folds (a label, not a number) rather than widen the column.
            label = min(_longest_word(header), max(least, FOLDED_HEADER))
            natural.append(wide)
            need.append(min(wide, max(least, label, 1)))
            least_widths.append(min(wide, max(least, 1)))
        return natural, need, least_widths

    def _overhead(self, console: Console, options: ConsoleOptions, chosen: list[int]) -> int:
        """Borders and padding around the chosen columns, measured by Rich on an empty table."""
        probe = Table(**self.table_options)
        for i in chosen:
            probe.add_column(width=1, **{k: v for k, v in self.columns[i].options.items() if k != "min_width"})
        return Measurement.get(console, options.update_width(1 << 20), probe).maximum - len(chosen)

    def _choose(self, console: Console, options: ConsoleOptions, need: list[int]) -> list[int]:
        """The columns to show: all, less the least important ones until the rest fit."""
        chosen = list(range(len(self.columns)))
        while sum(need[i] for i in chosen) + self._overhead(console, options, chosen) > options.max_width:
            droppable = [i for i in chosen if not self.columns[i].keep]
            if not droppable:
                break
            # Lowest priority first; among equals, the rightmost.
            chosen.remove(min(droppable, key=lambda i: (self.columns[i].priority, -i)))
        return chosen

    @staticmethod
    def _share(room: int, natural: list[int], need: list[int], least: list[int]) -> list[int]:
        """Widths for `room` columns of text: each its need, the spare shared out a column at a time up to its
        natural width. Short of room, headers fold down to their cells first; then the widest columns give
        way (their cells end in "…")."""
        widths = list(need)
        spare = room - sum(widths)
        while spare > 0 and any(w < n for w, n in zip(widths, natural)):
            for i, (w, n) in enumerate(zip(widths, natural)):
                if spare and w < n:
                    widths[i] += 1
                    spare -= 1
        for floor in (least, [1] * len(widths)):
            while spare < 0 and any(w > f for w, f in zip(widths, floor)):
                i = max((i for i, (w, f) in enumerate(zip(widths, floor)) if w > f), key=lambda i: widths[i])
                widths[i] -= 1
                spare += 1
        return widths

    def _build(self, chosen: list[int], widths: list[int] | None) -> Table:
        table = Table(**self.table_options)
        for n, i in enumerate(chosen):
            col = self.columns[i]
            if widths is None:
                table.add_column(col.header, **col.options)
            else:
                # Fixed widths, and cells that wrap at spaces or end in "…": never cropped unmarked.
                options = {k: v for k, v in col.options.items() if k not in ("no_wrap", "overflow", "min_width")}
                header = col.header.copy() if isinstance(col.header, Text) else Text(str(col.header))
                header.overflow = "fold"
                table.add_column(header, width=widths[n], overflow="ellipsis", **options)
        for cells, end_section in self.rows:
            shown = [cells[i] if i < len(cells) else "" for i in chosen]
            if widths is not None:
                shown = [self._narrow_cell(c, self.columns[i].text) for c, i in zip(shown, chosen)]
            table.add_row(*shown, end_section=end_section)
        return table

    @staticmethod
    def _narrow_cell(cell: Any, text: bool) -> Text:
        cell = cell.copy() if isinstance(cell, Text) else Text(str(cell))
        cell.overflow = "ellipsis"
        cell.no_wrap = not text  # a number or a label stays on one line, whole or ending in "…"
        return cell

    def resolve(self, console: Console, options: ConsoleOptions) -> tuple[Table, list[str]]:
        """The Rich table for this width, and the names of the columns it left out."""
        natural, need, least = self._widths()
        everything = list(range(len(self.columns)))
        if sum(natural) + self._overhead(console, options, everything) <= options.max_width:
            return self._build(everything, None), []
        chosen = self._choose(console, options, need)
        room = options.max_width - self._overhead(console, options, chosen)
        widths = self._share(room, *([widths[i] for i in chosen] for widths in (natural, need, least)))
        dropped = [self.columns[i].name for i in everything if i not in chosen]
        return self._build(chosen, widths), dropped

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table, dropped = self.resolve(console, options)
        yield table
        if dropped:
            yield Text(f"not shown at this width: {', '.join(dropped)} ({self.hint})", style="dim")

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.resolve(console, options)[0])
