"""Gaps in a data file: --missing error names the first and counts the rows that have one; --missing
drop leaves those rows out (CSV, gzip CSV, stdin, Parquet, whole or streamed) and says how many."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from conftest import plain
from gdcli import readers
from gdcli.errors import GdcliError

GAPPY = "x,z,y\n1,1,2.5\n2,,4.0\n3,2,6.5\nNA,3,8.0\n5,1,9.5\n6,NaN,12.5\n7,null,13.0\n8,2,16.0\n,,\n9,nan,18.5\n"
KEPT = [(1, 1, 2.5), (3, 2, 6.5), (5, 1, 9.5), (8, 2, 16.0)]  # the rows with no gap
KEPT_LINES = [2, 4, 6, 9]


def _write(tmp_path, name, text=GAPPY):
    path = tmp_path / name
    raw = text.encode()
    path.write_bytes(gzip.compress(raw) if name.endswith(".gz") else raw)
    return path


def _lstsq(rows):
    A = torch.tensor([[*r[:-1], 1.0] for r in rows], dtype=torch.float64)
    y = torch.tensor([[r[-1]] for r in rows], dtype=torch.float64)
    return torch.linalg.lstsq(A, y).solution.flatten().tolist()


@pytest.mark.parametrize("name", ["g.csv", "g.csv.gz"])
def test_drop_keeps_the_rows_without_a_gap_and_their_lines(tmp_path, name):
    table = readers.read(_write(tmp_path, name), columns=["x", "z", "y"], missing="drop")
    assert table.matrix(["x", "z", "y"]).tolist() == [list(r) for r in KEPT]
    assert table.dropped == 5
    assert [table.locate(i) for i in range(table.n_rows)] == [f"{name}, line {n}" for n in KEPT_LINES] or all(
        table.locate(i).endswith(f"line {n}") for i, n in enumerate(KEPT_LINES))


def test_a_gap_in_an_unused_column_drops_nothing(tmp_path):
    table = readers.read(_write(tmp_path, "g.csv"), columns=["y"], missing="drop")
    assert table.n_rows == 9 and table.dropped == 0


def test_inf_is_no_gap(tmp_path):
    with pytest.raises(GdcliError, match="line 3, column 'x': inf is not a finite number"):
        readers.read(_write(tmp_path, "g.csv", "x,y\n1,2\ninf,3\n,4\n"), missing="drop")


def test_every_row_with_a_gap_is_refused(tmp_path):
    with pytest.raises(GdcliError, match="every data row .* has a gap.*2 left out"):
        readers.read(_write(tmp_path, "g.csv", "x,y\n1,\nNA,3\n"), missing="drop")


def test_error_names_the_first_gap_and_counts_them(tmp_path):
    with pytest.raises(GdcliError) as err:
        readers.read(_write(tmp_path, "g.csv", "x,y\n1,2\n2,\n3,4\n,5\n"))
    assert "line 3, column 'y': the value is missing" in err.value.message
    assert "2 of 4 data rows have a gap" in err.value.message and "missing" in err.value.hint


def test_csv_chunks_drop_their_gaps(tmp_path):
    body = "".join(f"{i},{'' if i % 7 == 3 else 2 * i}\n" for i in range(2000))
    path = _write(tmp_path, "c.csv", "x,y\n" + body)
    blocks = list(readers.CSV.chunks(path, "c.csv", ["x", "y"], "", missing="drop", block=2048))
    xs = np.concatenate([b.columns["x"] for b in blocks]).tolist()
    assert xs == [i for i in range(2000) if i % 7 != 3]


def test_parquet_nulls_and_nans(tmp_path):
    path = tmp_path / "g.parquet"
    pq.write_table(pa.table({"x": [1.0, None, 3.0, float("nan"), 5.0], "y": pa.array([2, 4, None, 8, 10])}), path)
    with pytest.raises(GdcliError, match="row 2, column 'x': the value is missing .null.; 3 of 5 rows have a gap"):
        readers.read(path)
    table = readers.read(path, missing="drop")
    assert table.matrix(["x", "y"]).tolist() == [[1, 2], [5, 10]] and table.dropped == 3
    assert table.locate(1) == f"{path}, row 5"
    blocks = list(readers.PARQUET.chunks(path, "g.parquet", ["x", "y"], missing="drop", rows=2))
    # A block whose every row has a gap still comes, empty, so that its dropped rows are counted.
    assert [b.columns["x"].tolist() for b in blocks] == [[1.0], [], [5.0]]
    assert [b.dropped for b in blocks] == [1, 2, 0] and blocks[2].locate(0) == "g.parquet, row 5"


def test_fit_on_the_kept_rows_is_lstsq_on_them(run_cli, tmp_path):
    result = run_cli("fit", "--dataset", _write(tmp_path, "g.csv"), "--missing", "drop", "--method", "gram",
                     "--lr", "1e-4", "--epochs", "2", "--dtype", "float64", "--output", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["dropped_rows"] == 5 and doc["dataset"]["n_train"] == 4
    got = doc["optimum"]["params"]
    assert np.allclose(got["weight"][0] + got["bias"], _lstsq(KEPT), atol=1e-9)


def test_header_says_how_many_rows_were_dropped(run_cli, tmp_path, wide_console):
    result = run_cli("fit", "--dataset", _write(tmp_path, "g.csv"), "--missing", "drop", "--epochs", "2")
    assert result.exit_code == 0, result.output
    assert "5 rows with an empty or NA cell (--missing drop)" in result.plain


def test_stdin_drop_and_error(run_cli):
    result = run_cli("fit", "--dataset", "-", "--missing", "drop", "--method", "gram", "--epochs", "2",
                     "--lr", "1e-4", "--output", "json", input=GAPPY)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["dropped_rows"] == 5
    result = run_cli("fit", "--dataset", "-", "--epochs", "2", input="x,y\n1,2\n,3\n")
    assert result.exit_code == 2 and "stdin, line 3, column 'x': the value is missing" in plain(result.stderr)
    assert "1 of 2 data rows have a gap" in plain(result.stderr) and "--missing drop" in plain(result.stderr)


def test_parquet_drop_through_fit(run_cli, tmp_path):
    path = tmp_path / "g.parquet"
    pq.write_table(pa.table({"x": [1.0, None, 3.0, 4.0], "y": [2.0, 4.0, 6.5, None]}), path)
    result = run_cli("fit", "--dataset", path, "--missing", "drop", "--epochs", "2", "--output", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["dropped_rows"] == 2


def test_run_file_records_missing_drop(run_cli, tmp_path):
    from gdcli import runfile

    saved = tmp_path / "run.json"
    result = run_cli("fit", "--dataset", _write(tmp_path, "g.csv"), "--missing", "drop", "--epochs", "2",
                     "--save", saved)
    assert result.exit_code == 0, result.output
    assert json.loads(saved.read_text())["missing"] == "drop" and runfile.load_run(saved).missing == "drop"


def test_a_run_trained_with_drop_scores_and_predicts_with_drop_from_python(tmp_path):
    """A Run in memory carries its rule for gaps to evaluate and predict, as its run file does."""
    import gdcli

    path = _write(tmp_path, "g.csv")
    run = gdcli.fit(str(path), missing="drop", method="gram", lr=1e-3, epochs=3, dtype="float64")
    X = np.array([r[:2] for r in KEPT])
    truth = np.array([r[2] for r in KEPT])
    predicted = run.predict(X).numpy().ravel()
    report = run.evaluate(str(path))
    assert report.data["rows"] == len(KEPT) and report.data["dropped"] == 5
    assert report.metrics["y"]["mse"] == pytest.approx(float(np.mean((predicted - truth) ** 2)), rel=1e-12)
    rows = gdcli.predict(run, str(path)).data
    assert [row["y_predicted"] for row in rows] == pytest.approx(predicted.tolist(), rel=1e-12)
    run.save(tmp_path / "run.json")
    assert gdcli.evaluate(str(tmp_path / "run.json"), str(path)).metrics == report.metrics


def test_every_gap_spelling_is_a_gap_when_refused_too(tmp_path):
    """NA, nan and null are gaps under the default rule as under drop: named as missing, and counted alike."""
    path = _write(tmp_path, "g.csv", "x,y\n1,2\n2,3\nNA,4\n3,5\n4,NA\n6,\n7,nan\n8,null\n")
    with pytest.raises(GdcliError) as err:
        readers.read(path)
    assert "line 4, column 'x': the value is missing ('NA'); 5 of 8 data rows have a gap" in err.value.message
    assert readers.read(path, missing="drop").dropped == 5


def test_streamed_blocks_drop_their_own_gaps(tmp_path):
    """A CSV streamed with missing drop leaves out each block's gap rows there (not by reading the whole
    file), and gives the rows, text and counts of the whole read."""
    from gdcli.readers import csvfile

    rows = ["id,x,y"] + [f"{i:03d},{'' if i % 7 == 0 else 'NA' if i % 11 == 0 else i},{2 * i + 1}" for i in range(400)]
    path = _write(tmp_path, "s.csv", "\n".join(rows) + "\n")
    whole = readers.read(path, columns=["x", "y"], text=["id"], missing="drop")
    calls = []
    real = csvfile.read
    csvfile.read = lambda *a, **k: calls.append(a) or real(*a, **k)
    try:
        blocks = list(csvfile.chunks(path, "s.csv", ["x", "y"], text=["id"], missing="drop", block=256))
    finally:
        csvfile.read = real
    assert not calls and len(blocks) > 5
    assert np.array_equal(np.concatenate([b.matrix(["x", "y"]) for b in blocks]), whole.matrix(["x", "y"]))
    assert sum((b.text["id"] for b in blocks), []) == whole.text["id"]
    assert sum(b.dropped for b in blocks) == whole.dropped == sum(i % 7 == 0 or i % 11 == 0 for i in range(400))


def test_a_text_cell_beside_a_gap_goes_with_its_row(tmp_path):
    # The record with a gap is left out whole under drop (its text cell is never read as a number);
    # under error the gap is named, as the first problem on that line.
    path = tmp_path / "t.csv"
    path.write_text("x,z,y\n1,1,3\n2,5,4\n3,,a\n")
    table = readers.read(path, columns=["x", "z", "y"], missing="drop")
    assert table.n_rows == 2 and table.dropped == 1
    assert table.matrix(("y",)).ravel().tolist() == [3.0, 4.0]
    with pytest.raises(GdcliError, match=r"line 4, column 'z': the value is missing"):
        readers.read(path, columns=["x", "z", "y"])
