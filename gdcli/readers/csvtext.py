"""The CSV read that takes every cell as text first: for columns kept as text (`text=`) and for
rows with gaps left out (`missing="drop"`).

pyarrow reads every cell as a string (with quoting, as gdcli's rules read a file); blank
records are left out as the rules leave them out, so that row i is still the file's data
record i. The columns read as numbers are then cast, the text columns trimmed; whatever
the cast refuses is named by gdcli's rules (csvrules), in their words.
pyarrow is imported inside functions: the CLI must start fast.
"""

from __future__ import annotations

from typing import Callable, Sequence

from gdcli.errors import GdcliError
from gdcli.readers import csvrules as rules
from gdcli.readers.csvrules import BLANKS, GAPS, CsvSource
from gdcli.readers.table import _DECODE_HINT, NoRows, Table, first_bad, kept


def read(
    path: CsvSource, where: str, names: list[str], line: int, picked: list[int], text: Sequence[str],
    missing: str, least: int, place: Callable[[int], str],
) -> Table:
    """The columns `picked` as float64 and `text` as strings, of every data record after the header on
    line `line`; with missing "drop", the records with a gap in a column read as a number are left out."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    cells = _cells(path, where, names, line, picked, least, missing)
    if not cells.num_rows:
        rules.diagnose(path, where, picked, least, missing)  # raises: no data rows
    gaps = pa.array(list(GAPS) if missing == "drop" else [""])
    trimmed = {i: pc.utf8_trim(cells.column(i), BLANKS) for i in picked}
    gap = np.zeros(cells.num_rows, dtype=bool)
    for i in picked:
        gap |= pc.is_in(trimmed[i], value_set=gaps).to_numpy(zero_copy_only=False)
    # A record with a gap anywhere is left out (drop) or refused (error) whatever its other cells hold:
    # none of its cells is read as a number (a text cell beside a gap is no reason to stop).
    skipped = pa.array(gap)
    values = []
    for i in picked:
        try:
            number = pc.cast(pc.if_else(skipped, pa.scalar(None, pa.string()), trimmed[i]), pa.float64())
        except pa.ArrowInvalid:
            rules.diagnose(path, where, picked, least, missing)  # raises: a cell is no number
            raise AssertionError(f"{where}: pyarrow refused a number that gdcli accepts") from None
        values.append(number.to_numpy(zero_copy_only=False))
    if gap.any() and missing != "drop":
        rules.diagnose(path, where, picked, least, missing)  # raises: the first gap, and how many rows have one
    _check_finite(path, where, names, picked, values, ~gap, missing)
    strings = {name: pc.utf8_trim(cells.column(names.index(name)), BLANKS).to_pylist() for name in text}
    chosen = {names[i]: column for i, column in zip(picked, values)}
    for column in chosen.values():
        column.flags.writeable = False
    table = Table(tuple(names), chosen, cells.num_rows, where, place, strings)
    table = kept(table, ~gap)
    if not table.n_rows:
        raise NoRows(
            f"every data row of {where} has a gap (an empty or NA cell) in a column read: {table.dropped} left out",
            "fill in the gaps, or read other columns: no row is whole in the columns read", table.dropped,
        )
    return table


def _check_finite(path: CsvSource, where: str, names, picked, values, keep, missing: str) -> None:
    """Name the first kept cell that is no finite number (inf), in the rules' words."""
    import numpy as np

    index = np.flatnonzero(keep)
    bad = first_bad([column[index] for column in values])
    if bad is not None:
        rules.check_row(*rules.record(path, where, int(index[bad[0]])), names, where, picked, missing)
        raise AssertionError(f"{where}: a non-finite value that gdcli accepts")


def _cells(path: CsvSource, where: str, names: list[str], line: int, picked, least: int, missing: str):
    """Every column of every non-blank data record, as strings (a record of blank cells is left out)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    ids = [f"c{i}" for i in range(len(names))]
    odd: list[str] = []  # records of the wrong width: the rules allow blank ones only

    def other_width(row) -> str:
        odd.append(row.text or "")
        return "skip"

    try:
        with rules.binary(path) as f:
            cells = pcsv.read_csv(
                f,
                read_options=pcsv.ReadOptions(column_names=ids, skip_rows=line),
                parse_options=pcsv.ParseOptions(invalid_row_handler=other_width),
                convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(ids, pa.string()), null_values=[]),
            )
    except (pa.ArrowException, OSError, *rules.GZIP_ERRORS):
        rules.diagnose(path, where, picked, least, missing)
        raise GdcliError(f"cannot read {where!r}", _DECODE_HINT) from None
    if any(text.strip() for text in odd) or _commented(cells):
        rules.diagnose(path, where, picked, least, missing)  # raises: a ragged or commented record
    if not cells.num_rows:
        return cells
    filled = None
    for column in cells.columns:
        some = pc.not_equal(pc.utf8_trim_whitespace(column), "")
        filled = some if filled is None else pc.or_(filled, some)
    return cells.filter(filled)


def _commented(cells) -> bool:
    """Whether a record's first cell starts with "#", which the rules refuse."""
    import pyarrow.compute as pc

    if not cells.num_rows:
        return False
    return bool(pc.any(pc.starts_with(pc.utf8_ltrim_whitespace(cells.column(0)), "#")).as_py())


class TextRows:
    """The columns `text` of a CSV, streamed beside its numbers: `take(n)` gives the next n records' cells."""

    def __init__(self, path: CsvSource, names: list[str], line: int, text: Sequence[str], block: int):
        self.text = list(text)
        self.held: dict[str, list[str]] = {name: [] for name in self.text}
        self.batches = _text_blocks(path, names, line, self.text, block) if self.text else iter(())

    def take(self, n: int) -> dict[str, list[str]]:
        """The next `n` records' text cells, trimmed (a stream that ends first is pyarrow's refusal)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if not self.text:
            return {}
        while len(self.held[self.text[0]]) < n:
            batch = next(self.batches, None)
            if batch is None:
                raise pa.ArrowInvalid("the text columns ended before the numbers")
            for name, column in zip(self.text, batch.columns):
                self.held[name].extend(pc.utf8_trim(column, BLANKS).to_pylist())
        out = {name: cells[:n] for name, cells in self.held.items()}
        self.held = {name: cells[n:] for name, cells in self.held.items()}
        return out


def _text_blocks(path: CsvSource, names: list[str], line: int, text: list[str], block: int):
    """pyarrow's record batches of the columns `text`, as strings (quoted as the rules read them)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    ids = [f"c{i}" for i in range(len(names))]
    chosen = [ids[names.index(name)] for name in text]
    with rules.binary(path) as f:
        yield from pcsv.open_csv(
            f,
            read_options=pcsv.ReadOptions(column_names=ids, skip_rows=line, block_size=block),
            parse_options=pcsv.ParseOptions(invalid_row_handler=lambda row: "skip"),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(chosen, pa.string()), null_values=[], include_columns=chosen
            ),
        )
