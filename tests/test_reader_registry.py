"""Data readers as registry entries: a reader registered from outside gdcli trains like a built-in one,
one lookup picks every reader, an unknown name lists the registered suffixes, and the readers that
stream give, chunk by chunk, exactly the rows and the messages of a whole read."""

from __future__ import annotations

import contextlib
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdcli import readers, store
from gdcli.errors import GdcliError
from gdcli.readers import Table

ROWS = [(1.0, -2.0, 3.5), (2.0, 0.5, 5.0), (3.0, 1.5, 7.25), (4.5, -1.0, 9.0), (6.0, 2.0, 13.5)]


def _read_tsv(path, where, columns=None, need=""):
    """A tab-separated file with a header row, as a test-only reader: every cell a number."""
    lines = [line.split("\t") for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    header = tuple(cell.strip() for cell in lines[0])
    values = {}
    for j, name in enumerate(header):
        if columns is not None and name not in columns:
            continue
        cells = []
        for i, row in enumerate(lines[1:], 1):
            try:
                cells.append(float(row[j]))
            except (ValueError, IndexError):
                raise GdcliError(f"{where}, row {i}, column {name!r}: not a number", "write numbers only") from None
        values[name] = np.array(cells)
        values[name].flags.writeable = False
    if len(lines) < 2:
        raise GdcliError(f"{where} has no data rows", "add a row of numbers")
    return Table(header, values, len(lines) - 1, where)


def _tsv_header(path, where):
    return tuple(cell.strip() for cell in Path(path).read_text(encoding="utf-8").splitlines()[0].split("\t"))


@contextlib.contextmanager
def registered_tsv():
    """The TSV reader, registered while inside."""
    reader = readers.register(readers.Reader("TSV", (".tsv",), "tab-separated text", _read_tsv, _tsv_header))
    try:
        yield reader
    finally:
        readers.unregister(reader)


@pytest.fixture
def tsv():
    with registered_tsv() as reader:
        yield reader


def _write_tsv(path: Path, rows=ROWS) -> Path:
    path.write_text("a\tb\ty\n" + "".join("\t".join(repr(v) for v in row) + "\n" for row in rows))
    return path


def test_a_reader_registered_here_trains_a_fit_on_its_rows(tsv, run_cli, tmp_path):
    path = _write_tsv(tmp_path / "rows.tsv")
    store.load.cache_clear()
    result = run_cli("fit", "--dataset", path, "--epochs", "2", "--output", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["dataset"]["features"] == ["a", "b"] and out["dataset"]["targets"] == ["y"]
    # The optimum is the least-squares solution of the TSV's rows, solved here on its own.
    data = torch.tensor(ROWS, dtype=torch.float64)
    design = torch.cat([data[:, :2], torch.ones(len(ROWS), 1, dtype=torch.float64)], 1)
    solution = torch.linalg.lstsq(design, data[:, 2:]).solution.flatten().tolist()
    fitted = out["optimum"]["params"]["weight"][0] + out["optimum"]["params"]["bias"]
    assert fitted == pytest.approx(solution, rel=1e-9, abs=1e-12)
    # The first loss is that of the initial weights (ones, bias 0): the mean squared residual.
    start = ((data[:, 0] + data[:, 1] - data[:, 2]) ** 2).mean().item()
    assert out["start_loss"] == pytest.approx(start, rel=1e-12)


def test_the_registered_reader_is_gone_after_unregister(tmp_path):
    path = tmp_path / "rows.tsv"
    with registered_tsv() as reader:
        assert readers.reader_for(path) is reader and ".tsv" in readers.suffixes()
    assert readers.reader_for(path) is readers.CSV and ".tsv" not in readers.suffixes()


def test_one_lookup_picks_every_reader():
    assert readers.reader_for("a/data.csv") is readers.CSV
    assert readers.reader_for("data.CSV.GZ") is readers.GZIP_CSV
    assert readers.reader_for("x.parquet") is readers.PARQUET and readers.reader_for("x.PQ") is readers.PARQUET
    assert readers.reader_for("-") is readers.STDIN_READER and not readers.STDIN_READER.streams
    assert readers.reader_for("notes.txt") is readers.CSV  # any other name is read as CSV, as always
    assert all(r.streams for r in (readers.CSV, readers.GZIP_CSV, readers.PARQUET))


def test_a_suffix_is_registered_once():
    with pytest.raises(ValueError, match=r"\.csv is already the CSV reader's"):
        readers.register(readers.Reader("other", (".csv",), "", _read_tsv, _tsv_header))
    assert readers.suffixes() == [".csv", ".gz", ".parquet", ".pq"]


def test_an_unknown_dataset_lists_the_registered_suffixes(run_cli, tsv):
    result = run_cli("fit", "--dataset", "rows.nope")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "unknown dataset 'rows.nope'" in result.plain
    assert "a CSV, gzip CSV, Parquet or TSV file (.csv, .gz, .parquet, .pq, .tsv)" in result.plain


def _csv_text(n: int, bad_row: int | None = None) -> str:
    rows = [f"{i},{i * 0.5!r},{3 * i + 1}" for i in range(n)]
    if bad_row is not None:
        rows[bad_row] = f"{bad_row},nan,1"
    return "id,x,y\n" + "\n".join(rows) + "\n"


@pytest.mark.parametrize("name", ["c.csv", "c.csv.gz"])
def test_csv_chunks_are_the_whole_read_cut_in_blocks(tmp_path, name):
    path = tmp_path / name
    text = _csv_text(3000)
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    reader = readers.reader_for(path)
    blocks = list(reader.chunks(path, name, ["y", "x"], "", block=4096))
    assert len(blocks) > 3
    expected = np.array([[3 * i + 1, i * 0.5] for i in range(3000)])
    got = np.concatenate([b.matrix(["y", "x"]) for b in blocks])
    assert np.array_equal(got, expected)
    # A row of a later block is named by its line in the file (the header is line 1).
    assert blocks[-1].locate(blocks[-1].n_rows - 1) == f"{name}, line 3001"


def test_a_bad_cell_in_a_later_block_is_named_as_the_whole_read_names_it(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(_csv_text(3000, bad_row=2500))
    with pytest.raises(GdcliError) as whole:
        readers.read(path, "bad.csv")
    with pytest.raises(GdcliError) as streamed:
        list(readers.CSV.chunks(path, "bad.csv", None, "", block=4096))
    assert str(whole.value) == str(streamed.value) and "line 2502, column 'x'" in str(whole.value)


def test_quoted_numbers_stream_through_the_whole_read(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('a,b\n1,2\n"3","4"\n5,6\n')
    got = np.concatenate([b.matrix(["a", "b"]) for b in readers.CSV.chunks(path, "q.csv")])
    assert got.tolist() == [[1, 2], [3, 4], [5, 6]]


def test_parquet_chunks_name_rows_by_their_number_in_the_file(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    x = np.arange(1000, dtype=np.float64)
    y = 2 * x + 1
    y[700] = np.inf
    pq.write_table(pa.table({"x": x, "y": y}), tmp_path / "p.parquet")
    with pytest.raises(GdcliError, match=r"p.parquet, row 701, column 'y': inf is not a finite number"):
        list(readers.PARQUET.chunks(tmp_path / "p.parquet", "p.parquet", rows=128))
    y[700] = 3.0
    pq.write_table(pa.table({"x": x, "y": y}), tmp_path / "p.parquet")
    blocks = list(readers.PARQUET.chunks(tmp_path / "p.parquet", "p.parquet", ["y"], rows=128))
    assert [b.n_rows for b in blocks] == [128] * 7 + [104]
    assert np.array_equal(np.concatenate([b.columns["y"] for b in blocks]), y)


# --- property -------------------------------------------------------------------------------------

CONTENTS = {
    "good": [(1.0, 2.0, 3.0), (2.0, 1.0, 4.0), (3.0, 0.5, 6.5)],
    "bad cell": [(1.0, 2.0, 3.0), (2.0, float("nan"), 4.0)],
    "no rows": [],
}


def _write(path: Path, rows: list, suffix: str) -> None:
    if suffix == ".missing":
        return
    if suffix in (".parquet", ".pq"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        columns = list(zip(*rows)) if rows else [[], [], []]
        pq.write_table(pa.table({n: pa.array(c, pa.float64()) for n, c in zip("aby", columns)}), path)
        return
    separator = "\t" if suffix == ".tsv" else ","
    text = separator.join("aby") + "\n" + "".join(separator.join(repr(v) for v in row) + "\n" for row in rows)
    path.write_bytes(gzip.compress(text.encode()) if suffix.endswith(".gz") else text.encode())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    suffix=st.sampled_from([".csv", ".csv.gz", ".parquet", ".pq", ".tsv", ".txt", ".missing"]),
    content=st.sampled_from(sorted(CONTENTS)),
    target=st.sampled_from([None, "y", "a", "zz"]),
    register=st.booleans(),
    val=st.sampled_from(["0", "0.34"]),
)
def test_any_reader_and_file_ends_in_a_clear_exit(run_cli, tmp_path_factory, suffix, content, target, register, val):
    path = tmp_path_factory.mktemp("reader") / f"data{suffix}"
    _write(path, CONTENTS[content], suffix)
    store.load.cache_clear()
    args = ["fit", "--dataset", path, "--epochs", "2", "--val-fraction", val]
    args += ["--target", target] if target else []
    with registered_tsv() if register else contextlib.nullcontext():
        result = run_cli(*args)
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 2, 3), result.output
    if content == "good" and suffix not in (".tsv", ".missing") and target != "zz":
        assert result.exit_code == 0, result.output


def test_a_registered_reader_names_its_rows_its_own_way(tmp_path):
    path = _write_tsv(tmp_path / "rows.tsv")
    reader = readers.Reader("TSV", (".tsv",), "tab-separated text", _read_tsv, _tsv_header,
                            locate=lambda path, where, row: f"{where}, record {row + 2}")
    readers.register(reader)
    try:
        assert readers.read(path, "rows.tsv").locate(0) == "rows.tsv, record 2"
    finally:
        readers.unregister(reader)
    with registered_tsv():
        assert readers.read(path, "rows.tsv").locate(0) == "rows.tsv, row 1"  # by number when it says nothing


def test_a_reader_is_unregistered_by_name_as_the_other_registries_entries_are(tmp_path):
    reader = readers.register(readers.Reader("TSV-by-name", (".tsv2",), "tab-separated", read=lambda *a, **k: None,
                                             header=lambda *a: None))
    assert ".tsv2" in readers.suffixes()
    readers.unregister("TSV-by-name")
    readers.unregister("TSV-by-name")  # gone already: nothing to do
    assert ".tsv2" not in readers.suffixes() and reader not in readers.registered()
