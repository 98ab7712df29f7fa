"""A folder (or glob) of Parquet or CSV parts read as one dataset, against the one file they concatenate to."""

import gzip
import json
import os

import numpy as np
import pytest

from gdcli import readers
from gdcli.errors import GdcliError

X = np.round(np.linspace(-2.0, 3.0, 30), 6)
Y = np.round(3.0 * X + 1.0 + 0.1 * np.sin(7 * X), 6)  # off the line: the optimum is no exact fit
SPLITS = ((0, 10), (10, 20), (20, 30))


def _csv(path, xs, ys, opener=open, header="x,y"):
    with opener(path, "wt") as f:
        f.write(header + "\n" + "".join(f"{a!r},{b!r}\n" for a, b in zip(xs.tolist(), ys.tolist())))
    return path


def _parquet(path, columns, **options):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), path, **options)
    return path


@pytest.fixture
def parquet_parts(tmp_path):
    """Three Parquet parts (the second in two row groups, its columns in another order, the third in a
    hive folder), Spark's bookkeeping files, and the one file they concatenate to."""
    folder = tmp_path / "pq"
    (folder / "year=2024").mkdir(parents=True)
    (a, b), (c, d), (e, f) = SPLITS
    _parquet(folder / "part-00000.parquet", {"x": X[a:b], "y": Y[a:b]})
    _parquet(folder / "part-00001.parquet", {"y": Y[c:d], "x": X[c:d]}, row_group_size=6)
    _parquet(folder / "year=2024" / "part-00002.parquet", {"x": X[e:f], "y": Y[e:f]})
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-00000.parquet.crc").write_bytes(b"crc")
    (folder / "_metadata").write_bytes(b"not parquet")
    (folder / "_temporary").mkdir()
    (folder / "_temporary" / "part-9.parquet").write_bytes(b"half written")
    return folder, _parquet(tmp_path / "all.parquet", {"x": X, "y": Y})


@pytest.fixture
def csv_parts(tmp_path):
    """Three CSV parts (the second gzip-compressed) and the one CSV file they concatenate to."""
    folder = tmp_path / "csv"
    folder.mkdir()
    (a, b), (c, d), (e, f) = SPLITS
    _csv(folder / "part-0.csv", X[a:b], Y[a:b])
    _csv(folder / "part-1.csv.gz", X[c:d], Y[c:d], gzip.open)
    _csv(folder / "part-2.csv", X[e:f], Y[e:f])
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-0.csv.crc").write_bytes(b"crc")
    return folder, _csv(tmp_path / "all.csv", X, Y)


def _fit(run_cli, dataset, *more):
    result = run_cli("fit", "--dataset", str(dataset), "--epochs", "40", "--lr", "0.02", "--output", "json", *more)
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    return {key: found[key] for key in ("final", "optimum", "verdict", "epochs_run", "history")}


def test_a_folder_of_parquet_parts_fits_as_the_file_they_concatenate_to(run_cli, parquet_parts):
    folder, whole = parquet_parts
    assert _fit(run_cli, folder) == _fit(run_cli, whole)
    parts = readers.listing(folder)
    assert [os.path.relpath(p, folder) for p in parts.paths] == [
        "part-00000.parquet", "part-00001.parquet", os.path.join("year=2024", "part-00002.parquet")]
    assert parts.kind == "Parquet" and parts.header == ("x", "y")
    assert parts.rows == (10, 10, 10) and parts.n_rows == 30 and parts.row_groups == (1, 2, 1)
    assert readers.listing(str(folder / "**" / "*.parquet")).names == parts.names  # _temporary/ is no match


def test_a_folder_of_csv_parts_fits_as_the_file_they_concatenate_to(run_cli, csv_parts):
    folder, whole = csv_parts
    assert _fit(run_cli, folder) == _fit(run_cli, whole)
    parts = readers.listing(folder)
    assert [p.name for p in parts.paths] == ["part-0.csv", "part-1.csv.gz", "part-2.csv"]
    assert parts.kind == "CSV" and parts.rows == (None, None, None) and parts.n_rows is None


def test_read_and_chunks_give_the_rows_in_order_each_named_by_its_part(csv_parts, parquet_parts):
    for folder, whole in (csv_parts, parquet_parts):
        table = readers.read(folder)
        assert table.n_rows == 30 and table.header == ("x", "y")
        np.testing.assert_array_equal(table.matrix(["x", "y"]), readers.read(whole).matrix(["x", "y"]))
        blocks = list(readers.blocks(folder, str(folder), ["y", "x"]))
        np.testing.assert_array_equal(np.concatenate([b.matrix(["x", "y"]) for b in blocks]), np.c_[X, Y])
    csv_folder = csv_parts[0]
    table = readers.read(csv_folder)
    assert table.locate(0) == f"{csv_folder / 'part-0.csv'}, line 2"
    assert table.locate(13) == f"{csv_folder / 'part-1.csv.gz'}, line 5"
    assert table.locate(29) == f"{csv_folder / 'part-2.csv'}, line 11"
    pq_folder = parquet_parts[0]
    assert readers.read(pq_folder).locate(25) == f"{pq_folder / 'year=2024' / 'part-00002.parquet'}, row 6"


def test_a_quoted_glob_reads_the_parts_it_matches(run_cli, tmp_path, csv_parts):
    folder, _ = csv_parts
    expected = _csv(tmp_path / "two.csv", np.r_[X[:10], X[20:]], np.r_[Y[:10], Y[20:]])
    assert _fit(run_cli, str(folder / "*.csv")) == _fit(run_cli, expected)
    assert readers.listing(str(folder / "*.csv")).n_rows is None
    nothing = run_cli("fit", "--dataset", str(folder / "*.parquet"))
    assert nothing.exit_code == 2 and "no data file matches" in nothing.plain and "Traceback" not in nothing.output


def test_parts_come_in_natural_order(tmp_path):
    folder = tmp_path / "dask"
    folder.mkdir()
    for i in (10, 2, 1, 0):
        _csv(folder / f"part.{i}.csv", np.array([float(i)]), np.array([float(i)]))
    assert [p.name for p in readers.listing(folder).paths] == ["part.0.csv", "part.1.csv", "part.2.csv", "part.10.csv"]
    assert readers.read(folder).columns["x"].tolist() == [0.0, 1.0, 2.0, 10.0]


def test_a_part_with_other_columns_is_refused_naming_it(run_cli, csv_parts):
    folder, _ = csv_parts
    (folder / "part-3.csv").write_text("x,z\n1,2\n")
    result = run_cli("fit", "--dataset", str(folder))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{folder / 'part-3.csv'} has other columns than {folder / 'part-0.csv'}: it lacks 'y'; it adds 'z'" \
        in result.plain


def test_a_bad_cell_is_named_by_its_part_and_line(run_cli, csv_parts):
    folder, _ = csv_parts
    _csv(folder / "part-2.csv", X[20:], Y[20:])
    lines = (folder / "part-2.csv").read_text().splitlines()
    lines[16 - 10] = "1.5,oops"  # line 7 of the part
    (folder / "part-2.csv").write_text("\n".join(lines) + "\n")
    result = run_cli("fit", "--dataset", str(folder))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{folder / 'part-2.csv'}, line 7, column 'y': 'oops' is not a number" in result.plain


def test_a_value_too_large_for_the_dtype_is_named_by_its_part_and_line(run_cli, csv_parts):
    folder, _ = csv_parts
    _csv(folder / "part-2.csv", np.r_[X[20:25], 1e39, X[26:]], Y[20:])
    result = run_cli("fit", "--dataset", str(folder), "--dtype", "float32")
    assert result.exit_code == 2
    assert f"{folder / 'part-2.csv'}, line 7, column 'x': 1e+39 is too large for float32" in result.plain


def test_empty_folders_and_parts(run_cli, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "_SUCCESS").write_text("")
    result = run_cli("fit", "--dataset", str(empty))
    assert result.exit_code == 2 and f"{str(empty)!r} is a folder with no data file in it" in result.plain
    assert ".csv, .gz, .parquet or .pq" in result.plain
    (empty / "0.part").write_text("x,y\n1,2\n")
    result = run_cli("fit", "--dataset", str(empty))
    assert result.exit_code == 2 and "'*.part'" in result.plain.replace(str(empty) + os.sep, "")
    headers = tmp_path / "headers"
    headers.mkdir()
    for i in range(2):
        (headers / f"part-{i}.csv").write_text("x,y\n")
    result = run_cli("fit", "--dataset", str(headers))
    assert result.exit_code == 2 and "has no data rows in any of its 2 parts" in result.plain


def test_a_part_with_no_row_left_adds_none(run_cli, tmp_path, csv_parts):
    folder, whole = csv_parts
    (folder / "part-00.csv").write_text("x,y\n")  # a header alone, as Spark writes an empty partition
    (folder / "part-3.csv").write_text("x,y\n1,\n2,NA\n")  # every row with a gap
    assert _fit(run_cli, folder, "--missing", "drop") == _fit(run_cli, whole)
    assert readers.read(folder, missing="drop").dropped == 2
    result = run_cli("fit", "--dataset", str(folder))
    assert result.exit_code == 2 and f"{folder / 'part-3.csv'}, line 2, column 'y': the value is missing" in result.plain


def test_an_empty_parquet_part_adds_no_row_held_or_streamed(run_cli, parquet_parts):
    """A part of no rows (as Spark writes an empty partition) is left out alike whether the parts are
    held or streamed under a small --memory-limit."""
    folder, whole = parquet_parts
    _parquet(folder / "part-00000b.parquet", {"x": X[:0], "y": Y[:0]})
    expected = _fit(run_cli, whole, "--method", "gram")
    assert _fit(run_cli, folder, "--method", "gram") == expected
    streamed = _fit(run_cli, folder, "--method", "gram", "--memory-limit", "1kB")
    assert streamed["final"]["loss"] == pytest.approx(expected["final"]["loss"], rel=1e-9)


@pytest.mark.parametrize("limit", [[], ["--memory-limit", "1kB"]])
def test_a_cut_gzip_part_is_named_held_or_streamed(run_cli, csv_parts, limit):
    """Counting the rows of a cut .csv.gz part (to decide whether to hold them) ended in an internal
    error, exit 1: its read names it instead."""
    folder, _ = csv_parts
    whole = (folder / "part-1.csv.gz").read_bytes()
    (folder / "part-1.csv.gz").write_bytes(whole[: len(whole) // 2])
    result = run_cli("fit", "--dataset", str(folder), *limit)
    assert result.exit_code == 2, result.output
    assert "part-1.csv.gz" in result.plain and "gzip" in result.plain


def test_a_fit_reads_each_parts_footer_once_while_it_stays_as_it_was(run_cli, parquet_parts, monkeypatch):
    from gdcli.readers import partlist

    read = []
    facts = partlist._facts
    monkeypatch.setattr(partlist, "_facts", lambda path, name: read.append(name) or facts(path, name))
    partlist._facts_cached.cache_clear()
    folder, _ = parquet_parts
    assert run_cli("fit", "--dataset", str(folder), "--epochs", "3", "--memory-limit", "1kB").exit_code == 0
    assert len(read) == len(set(read)) == 3  # listed several times, each footer read once
    part = folder / "part-00000.parquet"
    _parquet(part, {"x": X[:4], "y": Y[:4]})  # rewritten: its facts are read again
    os.utime(part, ns=(1, 1))
    partlist.listing(folder)
    assert read.count(str(part)) == 2


def test_a_folder_that_is_not_there_is_named_as_a_folder(run_cli, tmp_path):
    result = run_cli("fit", "--dataset", f"{tmp_path / 'nope'}/")
    assert result.exit_code == 2 and f"folder '{tmp_path / 'nope'}/' not found" in result.plain
    assert "unknown dataset" not in result.plain


def test_a_part_that_links_to_nothing_is_refused_by_name(run_cli, parquet_parts, tmp_path):
    folder, _ = parquet_parts
    (folder / "part-00003.parquet").symlink_to(tmp_path / "gone.parquet")
    for dataset in (folder, f"{folder}/*.parquet"):
        result = run_cli("fit", "--dataset", str(dataset), "--method", "gram")
        assert result.exit_code == 2, result.output
        assert f"part-00003.parquet is a link to {tmp_path / 'gone.parquet'}, which does not exist" in result.plain


def test_a_mix_of_csv_and_parquet_is_refused_naming_one_of_each(run_cli, csv_parts, tmp_path):
    folder, _ = csv_parts
    _parquet(folder / "part-3.parquet", {"x": X[:2], "y": Y[:2]})
    result = run_cli("fit", "--dataset", str(folder))
    assert result.exit_code == 2 and "mixes kinds of part" in result.plain
    assert f"{str(folder / 'part-0.csv')!r} is CSV" in result.plain
    assert f"{str(folder / 'part-3.parquet')!r} is Parquet" in result.plain


def test_predict_and_evaluate_take_a_folder(run_cli, tmp_path, parquet_parts):
    folder, whole = parquet_parts
    run = tmp_path / "run.json"
    assert run_cli("fit", "--dataset", str(whole), "--epochs", "30", "--save", str(run)).exit_code == 0
    scored = [run_cli("evaluate", str(run), "--input", str(source), "--output", "json") for source in (folder, whole)]
    assert all(r.exit_code == 0 for r in scored)
    metrics = [json.loads(r.stdout)["metrics"]["y"] for r in scored]
    assert metrics[0]["rows"] == 30 and metrics[0] == pytest.approx(metrics[1], rel=1e-12)  # summed block by block
    predicted = [run_cli("predict", str(run), "--input", str(source), "--output", "csv") for source in (folder, whole)]
    assert predicted[0].stdout == predicted[1].stdout and len(predicted[0].stdout.splitlines()) == 31


def test_a_run_saved_from_a_folder_replays_from_its_config(run_cli, tmp_path, csv_parts, monkeypatch):
    folder, _ = csv_parts
    (tmp_path / "runs").mkdir()
    run = tmp_path / "runs" / "run.json"
    monkeypatch.chdir(tmp_path)
    assert run_cli("fit", "--dataset", "csv/*.csv", "--epochs", "5", "--save", str(run)).exit_code == 0
    assert json.loads(run.read_text())["config"]["dataset"] == os.path.join("..", "csv", "*.csv")
    monkeypatch.chdir(folder)
    again = run_cli("fit", "--config", str(run), "--epochs", "5")
    assert again.exit_code == 0, again.output


def test_datasets_describes_the_parts(run_cli, parquet_parts):
    folder, _ = parquet_parts
    result = run_cli("datasets", str(folder))
    assert result.exit_code == 0
    assert f"pq: 3 Parquet parts in {folder}" in result.plain and "30 rows" in result.plain
    about = json.loads(run_cli("datasets", str(folder), "--output", "json").stdout)
    assert about["n_rows"] == 30 and about["features"] == ["x"] and about["targets"] == ["y"]


def test_the_api_takes_a_folder(parquet_parts):
    import gdcli

    folder, whole = parquet_parts
    runs = [gdcli.fit(dataset=str(source), epochs=20) for source in (str(folder) + os.sep, whole)]
    assert runs[0].loss == runs[1].loss and runs[0].params == runs[1].params


def test_a_column_the_parts_lack_is_named_with_the_dataset(parquet_parts):
    folder, _ = parquet_parts
    with pytest.raises(GdcliError, match=f"{folder} has no column 'z'"):
        readers.read(folder, str(folder), columns=["x", "z"])
