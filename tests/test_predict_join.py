"""Predictions that join back: `<target>_predicted` beside the truth, --keep columns copied as written,
the input streamed block by block, and gdcli.predict from Python."""

import csv
import io
import json
from dataclasses import replace
from functools import partial

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import gdcli
from gdcli import runfile

# income, price, tax (the iphone run's features, in its order) and the sales they had.
ROWS = [[70, 0.1, 0.043, 5], [90, 0.8, 0.064, 7.5], [80.5, 0.13, 0.058, 6], [100, 0.4, 0.037, 9]]
IDS = ["007", "a,b", "x9", "0.50"]


def rows_csv(with_sales: bool = True) -> str:
    """The rows with an id and a date first and the features in another order than training's."""
    head = "id,tax,date,price" + (",sales" if with_sales else "") + ",income"
    lines = [head]
    for i, (income, price, tax, sales) in enumerate(ROWS):
        cell = f'"{IDS[i]}"' if "," in IDS[i] else IDS[i]
        lines.append(f"{cell},{tax},2024-01-0{i + 1},{price}" + (f",{sales}" if with_sales else "") + f",{income}")
    return "\n".join(lines) + "\n"


def expected(run_file) -> list[float]:
    """The reference: runfile.predict on the features as lists (no file reading involved)."""
    return [y[0] for y in runfile.predict(runfile.load_run(run_file), [r[:3] for r in ROWS])]


def parse(result) -> list[dict]:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_prediction_is_named_after_its_target_and_the_truth_stays(run_cli, iphone_run, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text(rows_csv())
    items = parse(run_cli("predict", iphone_run, "--input", path, "--output", "json"))
    assert [list(item) for item in items] == [["income", "price", "tax", "sales", "sales_predicted"]] * 4
    assert [item["sales"] for item in items] == [r[3] for r in ROWS]
    assert [item["sales_predicted"] for item in items] == expected(iphone_run)


def test_without_the_truth_only_the_prediction(run_cli, iphone_run, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text(rows_csv(with_sales=False))
    items = parse(run_cli("predict", iphone_run, "--input", path, "--output", "json"))
    assert list(items[0]) == ["income", "price", "tax", "sales_predicted"]
    typed = parse(run_cli("predict", iphone_run, "70,0.1,0.043", "--output", "json"))
    assert list(typed[0]) == ["income", "price", "tax", "sales_predicted"]
    table = run_cli("predict", iphone_run, "70,0.1,0.043")
    assert "sales_predicted" in table.stdout and "(predicted)" not in table.stdout


def test_keep_copies_columns_as_written_in_input_order(run_cli, iphone_run, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text(rows_csv())
    result = run_cli("predict", iphone_run, "--input", path, "--keep", "id", "--keep", "date", "--output", "csv")
    assert result.exit_code == 0, result.output
    got = list(csv.reader(io.StringIO(result.stdout)))
    assert got[0] == ["id", "date", "income", "price", "tax", "sales", "sales_predicted"]
    assert [row[0] for row in got[1:]] == IDS  # "007" stays "007", "0.50" stays "0.50"
    assert [row[1] for row in got[1:]] == [f"2024-01-0{i}" for i in range(1, 5)]
    assert [float(row[-1]) for row in got[1:]] == expected(iphone_run)
    items = parse(run_cli("predict", iphone_run, "--input", path, "--keep", "date,id", "--output", "json"))
    assert list(items[0])[:2] == ["date", "id"] and [item["id"] for item in items] == IDS
    table = run_cli("predict", iphone_run, "--input", path, "--keep", "id")
    assert "007" in table.stdout and "a,b" in table.stdout


def test_keep_from_parquet_and_stdin(run_cli, iphone_run, tmp_path):
    path = tmp_path / "rows.parquet"
    income, price, tax, _ = zip(*ROWS)
    pq.write_table(pa.table({"id": IDS, "tax": list(tax), "income": list(income), "price": list(price)}), path)
    items = parse(run_cli("predict", iphone_run, "--input", path, "--keep", "id", "--output", "json"))
    assert [item["id"] for item in items] == IDS
    assert [item["sales_predicted"] for item in items] == expected(iphone_run)
    piped = parse(run_cli("predict", iphone_run, "--input", "-", "--keep", "id", "--output", "json", input=rows_csv()))
    assert [item["id"] for item in piped] == IDS


def test_keep_errors_are_named(run_cli, iphone_run, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text(rows_csv())
    missing = run_cli("predict", iphone_run, "--input", path, "--keep", "id,nope")
    assert missing.exit_code == 2 and missing.stdout == ""
    text = " ".join(missing.stderr.split())
    assert "no column 'nope' to keep (--keep)" in text and "its header names id, tax, date, price, sales, income" in text
    alone = run_cli("predict", iphone_run, "70,0.1,0.043", "--keep", "id")
    assert alone.exit_code == 2 and "--keep" in alone.stderr and "--input" in alone.stderr
    path.write_text(rows_csv().replace("date", "sales_predicted", 1))
    clash = run_cli("predict", iphone_run, "--input", path, "--keep", "sales_predicted")
    assert clash.exit_code == 2 and "name of a prediction column" in clash.stderr
    path.write_text(rows_csv().replace("date", "type", 1))
    typed = run_cli("predict", iphone_run, "--input", path, "--keep", "type", "--output", "jsonl")
    assert typed.exit_code == 2 and "type" in typed.stderr


def test_a_missing_feature_is_refused_before_any_output(run_cli, iphone_run, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("id,income,tax\n1,70,0.04\n")
    for output in ("json", "csv", "jsonl", "table"):
        result = run_cli("predict", iphone_run, "--input", path, "--output", output)
        assert result.exit_code == 2 and result.stdout == "" and "no column 'price'" in result.stderr


def test_streaming_in_tiny_blocks_gives_the_whole_result(run_cli, iphone_run, tmp_path, monkeypatch):
    from gdcli.readers import csvfile, registry

    path = tmp_path / "rows.csv"
    path.write_text(rows_csv())
    whole = run_cli("predict", iphone_run, "--input", path, "--keep", "id,date", "--output", "csv").stdout
    small = replace(registry.CSV, chunks=partial(csvfile.chunks, block=40))
    monkeypatch.setattr(registry, "_READERS", [small if r is registry.CSV else r for r in registry._READERS])
    monkeypatch.setattr(runfile, "PREDICT_ROWS", 1)
    tables = []
    original = small.chunks
    monkeypatch.setattr(registry, "_READERS", [replace(small, chunks=lambda *a, **k: (tables.append(t) or t for t in original(*a, **k)))
                                               if r is small else r for r in registry._READERS])
    streamed = run_cli("predict", iphone_run, "--input", path, "--keep", "id,date", "--output", "csv").stdout
    assert streamed == whole and len(tables) > 1


def test_missing_drop_leaves_out_rows_with_a_gap_in_a_feature(run_cli, iphone_run, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text(rows_csv() + "z,0.05,2024-02-01,,3,60\nw,0.05,2024-02-02,0.2,,60\n")
    refused = run_cli("predict", iphone_run, "--input", path, "--output", "json")
    assert refused.exit_code == 2 and "--missing drop" in refused.stderr
    items = parse(run_cli("predict", iphone_run, "--input", path, "--keep", "id", "--missing", "drop", "--output", "json"))
    assert [item["id"] for item in items] == [*IDS, "w"]  # z has no price; w only no sales, which is not a feature
    assert items[-1]["sales"] is None
    result = run_cli("predict", iphone_run, "--input", path, "--missing", "drop", "--output", "csv")
    assert "1 row with a gap in a feature left out" in result.stderr


def test_the_api_predicts_rows_that_join_back(iphone_run, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text(rows_csv())
    report = gdcli.predict(iphone_run, path, keep=["id"])
    assert [row["id"] for row in report.data] == IDS
    assert [row["sales_predicted"] for row in report.data] == expected(iphone_run)
    run = gdcli.load_run(iphone_run)
    assert [row["sales_predicted"] for row in gdcli.predict(run, path).data] == expected(iphone_run)
    with pytest.raises(gdcli.GdcliError, match="no column 'nope' to keep"):
        gdcli.predict(iphone_run, path, keep="nope")
    pandas = pytest.importorskip("pandas")
    frame = report.to_pandas()
    assert isinstance(frame, pandas.DataFrame) and list(frame.columns)[:2] == ["id", "income"]
