"""A saved run on a data file, block by block: its predictions joined to the rows they were made for
(`predict --input`, with kept columns and the truth beside them), and its metrics on labelled rows
(`evaluate`).

The file is read a block of rows at a time by its reader's `chunks` where the reader
streams (CSV, gzip CSV, Parquet), so memory is bounded by the block, not the file;
standard input is read whole (it cannot be read twice). Columns are picked by name, in
any order. The core speaks of `input` and `keep`; the CLI shows them as flags.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from gdcli.errors import GdcliError, param

if TYPE_CHECKING:
    from gdcli.readers import Table
    from gdcli.runfile import SavedRun

STDIN = "-"
PIPE = "cat rows.csv | python script.py, where script.py calls gdcli.{}(run, '-')"  # the API's stdin hint
PREDICTED = "_predicted"  # a target's prediction column: t_c -> t_c_predicted


def predicted_name(target: str) -> str:
    """The column that holds a target's prediction."""
    return target + PREDICTED


def header(source: str) -> tuple[str, ...] | None:
    """The column names of a data file (or of standard input for "-"), or None where they cannot be
    read (reading the rows then says why)."""
    from gdcli import readers

    _check_name(source)
    return readers.header_of(source)


def _check_name(source: str) -> None:
    if source != STDIN and not source.strip():
        raise GdcliError(f"{param('input')} is empty", "give the path of a CSV, .csv.gz or Parquet file, or - for stdin")


def blocks(
    source: str, columns: Sequence[str], need: str, example: str, text: Sequence[str] = (), missing: str = "error"
) -> Iterator[Table]:
    """Tables of consecutive rows of `columns` (checked, a missing one named with the file's columns) and
    of the `text` columns as written, a block at a time where the file's reader streams; `missing`
    "drop" leaves out the rows with a gap in `columns`. `example` pipes a file in, for stdin's hints."""
    from gdcli import readers

    _check_name(source)
    if source == STDIN:
        yield readers.read_stdin(example, columns, need, text, missing)
        return
    yield from readers.blocks(Path(source), source, columns, need, text, missing)


def check_keep(keep: Sequence[str], found: Sequence[str] | None, where: str, taken: Sequence[str]) -> None:
    """Refuse a kept column the file does not have (naming the file's columns), or one whose name an
    output column already takes (a prediction's)."""
    for name in keep:
        if found is not None and name not in found:
            raise GdcliError(
                f"{where} has no column {name!r} to keep ({param('keep')})",
                f"its header names {', '.join(found)}: keep one of those",
            )
        if name in taken:
            raise GdcliError(
                f"the column {name!r} to keep ({param('keep')}) has the name of a prediction column",
                "rename the column in the file, or keep other columns",
            )


@dataclass(frozen=True)
class Layout:
    """What predict writes for each row: kept columns, the run's features, and for each target its truth
    (where the input has it) and its prediction, in that order."""

    keep: tuple[str, ...]  # the kept columns that are neither features nor targets
    features: tuple[str, ...]
    targets: tuple[str, ...]
    truth: tuple[str, ...]  # the targets the input holds

    @classmethod
    def of(cls, run: SavedRun, keep: Sequence[str] = (), found: Sequence[str] | None = None) -> Layout:
        """The columns for a run's predictions of an input whose header is `found` (None: VALUES)."""
        truth = tuple(t for t in run.targets if found is not None and t in found)
        own = set(run.features) | set(truth)
        extra = tuple(dict.fromkeys(name for name in keep if name not in own))
        return cls(extra, tuple(run.features), tuple(run.targets), truth)

    @property
    def header(self) -> list[str]:
        """Every output column, in order."""
        out = [*self.keep, *self.features]
        for target in self.targets:
            out += [target] * (target in self.truth) + [predicted_name(target)]
        return out

    @property
    def text(self) -> list[str]:
        """The input columns read as text, as written: kept ("007" stays "007") and the truth (a blank
        label stays blank, and drops no row)."""
        return list(dict.fromkeys([*self.keep, *self.truth]))

    def rows(self, table: Table, outputs: list[list[float]], start: int, stop: int) -> list[list]:
        """The output rows of table rows start:stop, given their predictions."""
        columns = [table.text[name][start:stop] for name in self.keep]
        columns += [table.columns[name][start:stop].tolist() for name in self.features]
        truth = {t: [_label(cell) for cell in table.text[t][start:stop]] for t in self.truth}
        out = []
        for i, predicted in enumerate(outputs):
            row = [column[i] for column in columns]
            for j, target in enumerate(self.targets):
                if target in truth:
                    row.append(truth[target][i])
                row.append(predicted[j])
            out.append(row)
        return out


def _label(cell: str) -> float | str | None:
    """A truth cell: its number where it holds one, None where blank, else the text as written."""
    import math

    if not cell:
        return None
    try:
        value = float(cell)
    except ValueError:
        return cell
    return value if math.isfinite(value) else cell


def input_tables(run: SavedRun, source: str, layout: Layout, example: str, missing: str) -> Iterator[Table]:
    """The Layout's input columns of `source`, a block of rows at a time."""
    need = f"the run's {'feature' if len(run.features) == 1 else 'features'}"
    return blocks(source, run.features, need, example, layout.text, missing)


def values_table(run: SavedRun, rows: list[list[float]]) -> Table:
    """Rows typed as VALUES as a Table of the run's features."""
    import numpy as np

    from gdcli.readers import Table

    X = np.array(rows, dtype=np.float64).reshape(len(rows), len(run.features))
    return Table(tuple(run.features), {name: X[:, j] for j, name in enumerate(run.features)}, len(rows), "VALUES")


def predict_rows(run: SavedRun, tables, layout: Layout, dropped: list[int] | None = None) -> Iterator[list[list]]:
    """The output rows (Layout.header's columns) of every row of `tables`, a block at a time; the rows
    the reader left out for a gap are added up in dropped[0]."""
    from gdcli import runfile

    for table in tables:
        if dropped is not None:
            dropped[0] += table.dropped
        start = 0
        for outputs in runfile.output_blocks(run, table.matrix(run.features)):
            yield layout.rows(table, outputs.tolist(), start, start + outputs.shape[0])
            start += outputs.shape[0]


def missing_rule(run: SavedRun, missing: str | None) -> str:
    """The rule for gaps: the one asked for (checked as the run setting `missing` is), else the one the
    run was trained with."""
    from gdcli import constraints

    constraints.setting("missing").refuse(missing, None)
    return missing or run.missing


def evaluate(run: SavedRun, source: str, example: str, missing: str | None = None) -> dict:
    """The run's metrics on the labelled rows of `source`: {"rows", "dropped" (with missing "drop"),
    "metrics": {target: {...}}}."""
    from gdcli import metrics, runfile

    rule = missing_rule(run, missing)
    scores, dropped = metrics.Scores(), 0
    columns = list(dict.fromkeys([*run.features, *run.targets]))
    for table in blocks(source, columns, "the run's features and targets", example, missing=rule):
        dropped += table.dropped
        X, y = table.matrix(run.features), table.matrix(run.targets)
        start = 0
        for outputs in runfile.output_blocks(run, X):
            scores.add(y[start : start + outputs.shape[0]], outputs)
            start += outputs.shape[0]
    return {"rows": scores.n, **({"dropped": dropped} if rule == "drop" else {}), "metrics": scores.by_target(run.targets)}


def evaluation(run: SavedRun, source, name: str | None, missing: str | None, example: str) -> dict:
    """evaluate's JSON document: {"run" (the run file, or None), "input", "rows", "dropped", "metrics"}."""
    import os

    source = os.fspath(source)
    return {"run": name, "input": shown(source), **evaluate(run, source, example, missing)}


def keep_names(keep: Sequence[str] | str | None) -> tuple[str, ...]:
    """Kept column names from comma lists (id,date), given once or more; blanks are refused."""
    if keep is None:
        return ()
    given = [keep] if isinstance(keep, str) else keep
    if not isinstance(given, (list, tuple)) or not all(isinstance(text, str) for text in given):
        raise GdcliError(f"{param('keep')} must be column names, got {keep!r}",
                         f"for example {param('keep')} id,date")
    names = [name.strip() for text in given for name in text.split(",")]
    if any(not name for name in names):
        raise GdcliError(f"{param('keep')} names an empty column", f"give column names, for example {param('keep')} id,date")
    return tuple(dict.fromkeys(names))


def prediction_view(
    run: SavedRun, source: str | None, rows: list[list[float]] | None, keep: Sequence[str], example: str,
    missing: str | None = None,
):
    """predict's view (report.PredictView) of `source`'s rows, or of rows typed as VALUES; `keep` columns
    beside the predictions (with `source` only). With `missing` (or the run's rule) "drop", the view's
    `dropped` counts the rows left out for a gap in a feature, as far as they were read."""
    from gdcli.report import PredictView

    if source is None:
        if keep:
            raise GdcliError(f"{param('keep')} copies columns of an input file", f"predict with {param('input')} FILE")
        layout = Layout.of(run)
        table = values_table(run, rows)
        return PredictView(layout.header, lambda: predict_rows(run, [table], layout), table.n_rows, len(run.targets))
    found = header(source)
    layout = Layout.of(run, keep, found)
    check_keep(keep, found, shown(source), [predicted_name(t) for t in run.targets])
    tables = input_tables(run, source, layout, example, missing_rule(run, missing))
    # The first block is read now: a missing column or a bad first value is refused before any output.
    first = next(tables)
    view = PredictView(layout.header, None, None, len(run.targets))
    rows = predict_rows(run, itertools.chain([first], tables), layout, view.dropped)
    view.blocks = lambda: rows
    return view


def shown(source: str) -> str:
    """How messages and reports name an input: its path, or "stdin" for "-"."""
    from gdcli.readers import STDIN as STDIN_NAME

    return STDIN_NAME if source == STDIN else source
