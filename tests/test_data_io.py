"""Data in, predictions out: `--dataset -` (stdin), `predict --input`, `datasets --output`.

References: the same command on the same file given by path (bit-identical numbers),
runfile.predict on the rows the file holds, the numbers typed on the command line,
and the packaged CSV files themselves.
"""

import csv
import gzip
import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from book import T_C, T_U
from conftest import plain

from gdcli import data, report, runfile

ROOT = Path(__file__).resolve().parent.parent
CELSIUS = (ROOT / "datasets" / "celsius.csv").read_text()
ARGS = ["--scale", "0.1", "--lr", "1e-2", "--epochs", "60"]
TIMINGS = ("seconds_per_epoch", "compile_seconds")


pytestmark = pytest.mark.usefixtures("wide_console")


def assert_user_error(result, *phrases):
    """Exit 2, nothing on stdout, an error line and a hint on stderr, no traceback."""
    assert result.exit_code == 2, result.output
    text = plain(result.stderr)
    assert "Traceback" not in text and "--debug" not in text, text
    assert result.stdout == ""
    lines = text.strip().splitlines()
    assert lines[0].startswith("error: ") and len(lines) >= 2, lines
    flat = " ".join(text.split())
    for phrase in phrases:
        assert phrase in flat, (phrase, text)


def numbers(doc: dict) -> dict:
    """A run's JSON without what may differ between two identical runs: the timings and the dataset's name."""
    doc = dict(doc)
    for key in TIMINGS:
        doc.pop(key, None)
    doc["config"] = {k: v for k, v in doc["config"].items() if k != "dataset"}
    return doc


def gdcli(*args, stdin=None, input=None):
    """`python -m gdcli` in a real process, run on this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "PY_COLORS", "COLUMNS")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["NO_COLOR"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "gdcli", *map(str, args)],
        input=input, stdin=stdin, capture_output=True, cwd=ROOT, env=env, timeout=120,
    )
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    return done


@pytest.fixture
def celsius_file(tmp_path):
    path = tmp_path / "celsius.csv"
    path.write_text(CELSIUS)
    return path


# --- --dataset - ----------------------------------------------------------------------------


def test_fit_on_stdin_is_bit_identical_to_the_file(run_cli, celsius_file):
    by_path = run_cli("fit", "--dataset", celsius_file, *ARGS, "--output", "json")
    piped = run_cli("fit", "--dataset", "-", *ARGS, "--output", "json", input=CELSIUS)
    assert by_path.exit_code == piped.exit_code == 0, piped.output
    assert numbers(json.loads(piped.stdout)) == numbers(json.loads(by_path.stdout))
    table = run_cli("fit", "--dataset", "-", *ARGS, input=CELSIUS)
    assert "stdin: 11 train rows, t_u -> t_c" in table.stdout


@pytest.mark.parametrize("encode", [str.encode, lambda text: gzip.compress(text.encode())], ids=["csv", "gzip"])
def test_a_real_pipe_into_fit(run_cli, celsius_file, encode):
    by_path = run_cli("fit", "--dataset", celsius_file, *ARGS, "--output", "json")  # the reference, in process
    piped = gdcli("fit", "--dataset", "-", *ARGS, "--output", "json", input=encode(CELSIUS))
    assert piped.returncode == by_path.exit_code == 0, piped.stderr
    assert numbers(json.loads(piped.stdout)) == numbers(json.loads(by_path.stdout))


def test_parquet_on_stdin(run_cli, tmp_path, celsius_file):
    sink = io.BytesIO()
    pq.write_table(pa.table({"t_u": T_U, "t_c": T_C}), sink)
    by_path = run_cli("fit", "--dataset", celsius_file, *ARGS, "--output", "json")
    piped = run_cli("fit", "--dataset", "-", *ARGS, "--output", "json", input=sink.getvalue())
    assert piped.exit_code == 0, piped.output
    assert numbers(json.loads(piped.stdout)) == numbers(json.loads(by_path.stdout))


@pytest.mark.parametrize(
    "args",
    [
        ["compare", "--optims", "gd,adam", "--epochs", "40"],  # one trainer, so one load, per strategy
        ["sweep", "--lr", "1e-3,1e-2", "--seeds", "1,2", "--val-fraction", "0.2", "--epochs", "40"],  # one per seed
        ["grad", "--params", "1,0"],
    ],
    ids=["compare", "sweep", "grad"],
)
def test_every_command_taking_dataset_reads_stdin_once(run_cli, celsius_file, args):
    by_path = run_cli(*args, "--dataset", celsius_file, "--scale", "0.1", "--output", "json")
    piped = run_cli(*args, "--dataset", "-", "--scale", "0.1", "--output", "json", input=CELSIUS)
    assert piped.exit_code == by_path.exit_code == 0, piped.output

    def strip(obj):
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if k not in (*TIMINGS, "dataset")}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    assert strip(json.loads(piped.stdout)) == strip(json.loads(by_path.stdout))


def test_target_on_stdin_as_with_a_file(run_cli, tmp_path):
    text = "x1,t1,x2,t2\n0.5,2.1,1.0,-0.4\n1.0,2.6,0.5,0.6\n1.5,4.2,1.5,0.9\n2.0,4.1,2.0,1.7\n0.2,1.3,0.3,-1.3\n"
    path = tmp_path / "multi.csv"
    path.write_text(text)
    args = ["fit", "--target", "t1", "--target", "t2", "--epochs", "30", "--lr", "0.05", "--output", "json"]
    by_path = run_cli(*args, "--dataset", path)
    piped = run_cli(*args, "--dataset", "-", input=text)
    assert piped.exit_code == 0, piped.output
    doc = json.loads(piped.stdout)
    assert doc["dataset"]["features"] == ["x1", "x2"] and doc["dataset"]["targets"] == ["t1", "t2"]
    assert numbers(doc) == numbers(json.loads(by_path.stdout))
    assert_user_error(run_cli(*args[:1], "--dataset", "-", "--target", "nope", input=text), "'nope'", "stdin", "x1, t1")


def test_each_command_reads_its_own_stdin(run_cli):
    """The process keeps what stdin held, but only for that stream: a new one is read anew."""
    first = run_cli("datasets", "-", "--output", "csv", input="a,b\n1,2\n")
    second = run_cli("datasets", "-", "--output", "csv", input="a,b\n3,4\n5,6\n")
    assert first.stdout == "a,b\n1.0,2.0\n" and second.stdout == "a,b\n3.0,4.0\n5.0,6.0\n"
    fits = [json.loads(run_cli("fit", "--dataset", "-", "--epochs", "3", "--output", "json", input=t).stdout)
            for t in ("x,y\n1,2\n2,4\n", "x,y\n1,5\n2,3\n")]
    assert fits[0]["final"] != fits[1]["final"]


@pytest.mark.parametrize(
    "stdin, phrases",
    [
        ("", ["standard input is empty", "cat data.csv | gdcli fit --dataset -"]),
        ("  \n\n", ["standard input is empty"]),
        ("a;b\n1;2\n", ["stdin has a single column", "';'"]),
        ("x,y\n1,2\nthree,4\n", ["stdin, line 3, column 'x': 'three' is not a number"]),
        ("x,y\n", ["stdin has a header but no data rows"]),
        (b"\xff\xfe\x00garbage", ["cannot read 'stdin'", "utf-8"]),
        (gzip.compress(b"x,y\n1,2\n")[:12], ["starts like gzip but is not a whole gzip stream"]),
        (b"PAR1 not really", ["cannot read 'stdin' as a Parquet file"]),
    ],
    ids=["empty", "blank", "semicolons", "text", "header-only", "binary", "cut-gzip", "not-parquet"],
)
def test_bad_stdin_is_exit_2_naming_the_problem(run_cli, stdin, phrases):
    assert_user_error(run_cli("fit", "--dataset", "-", "--epochs", "3", "--output", "json", input=stdin), *phrases)


def test_stdin_a_terminal_is_exit_2_with_the_pipe_to_use():
    main, follower = pty.openpty()
    try:
        done = gdcli("fit", "--dataset", "-", stdin=follower)
    finally:
        os.close(main)
        os.close(follower)
    assert done.returncode == 2, done.stderr
    text = " ".join(done.stderr.decode().split())
    assert "standard input is a terminal" in text and "cat data.csv | gdcli fit --dataset -" in text


def test_bad_stdin_through_a_real_pipe():
    done = gdcli("fit", "--dataset", "-", input=b"")
    assert done.returncode == 2 and b"standard input is empty" in done.stderr and done.stdout == b""


# --- predict --input ----------------------------------------------------------------------------


IPHONE_ROWS = [[70, 0.1, 0.043], [90, 0.8, 0.064], [80.5, 0.13, 0.058], [100, 0.4, 0.037], [61, 0.9, 0.7]]


def rows_csv(rows=IPHONE_ROWS) -> str:
    """The rows with the features in another order, the target beside them and a text id column."""
    lines = ["id,tax,sales,income,price"] + [f"row {i},{t},{i},{a},{p}" for i, (a, p, t) in enumerate(rows)]
    return "\n".join(lines) + "\n"


def predictions(result) -> list[list[float]]:
    assert result.exit_code == 0, result.output
    return [predicted(item) for item in json.loads(result.stdout)]


def predicted(item: dict) -> list[float]:
    """A predict row's predictions: its <target>_predicted columns, in order."""
    return [v for k, v in item.items() if k.endswith("_predicted")]


def test_predict_input_gives_what_runfile_predict_gives(run_cli, iphone_run, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text(rows_csv())
    expected = runfile.predict(runfile.load_run(iphone_run), IPHONE_ROWS)
    result = run_cli("predict", iphone_run, "--input", path, "--output", "json")
    assert predictions(result) == expected
    items = json.loads(result.stdout)
    # The features in the run's order, then the truth the input holds beside its prediction.
    assert list(items[2]) == ["income", "price", "tax", "sales", "sales_predicted"]
    assert {k: items[2][k] for k in ("income", "price", "tax", "sales")} == {"income": 80.5, "price": 0.13, "tax": 0.058, "sales": 2.0}
    typed = run_cli("predict", iphone_run, *(",".join(map(str, r)) for r in IPHONE_ROWS), "--output", "json")
    assert predictions(typed) == expected


def test_predict_input_csv_keeps_every_digit(run_cli, iphone_run, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text(rows_csv())
    expected = runfile.predict(runfile.load_run(iphone_run), IPHONE_ROWS)
    result = run_cli("predict", iphone_run, "--input", path, "--output", "csv")
    assert result.exit_code == 0, result.output
    got = list(csv.reader(io.StringIO(result.stdout)))
    assert got[0] == ["income", "price", "tax", "sales", "sales_predicted"]
    sales = [float(i) for i in range(len(IPHONE_ROWS))]  # rows_csv's sales column: the row's number
    assert [[float(v) for v in row] for row in got[1:]] == [[*x, s, *y] for x, s, y in zip(IPHONE_ROWS, sales, expected)]
    lines = [json.loads(line) for line in run_cli("predict", iphone_run, "--input", path, "--output", "jsonl").stdout.splitlines()]
    assert [line["type"] for line in lines] == ["prediction"] * 5
    assert [predicted(line) for line in lines] == expected


@pytest.mark.parametrize("kind", ["csv.gz", "parquet", "stdin", "stdin-gzip"])
def test_predict_input_formats(run_cli, iphone_run, tmp_path, kind):
    expected = runfile.predict(runfile.load_run(iphone_run), IPHONE_ROWS)
    stdin = None
    if kind == "csv.gz":
        source = tmp_path / "rows.csv.gz"
        source.write_bytes(gzip.compress(rows_csv().encode()))
    elif kind == "parquet":
        source = tmp_path / "rows.parquet"
        columns = list(zip(*IPHONE_ROWS))
        pq.write_table(pa.table({"id": ["a"] * 5, "tax": columns[2], "income": columns[0], "price": columns[1]}), source)
    else:
        source, stdin = "-", rows_csv().encode()
        stdin = gzip.compress(stdin) if kind == "stdin-gzip" else stdin
    assert predictions(run_cli("predict", iphone_run, "--input", source, "--output", "json", input=stdin)) == expected


def test_predict_input_through_a_real_pipe(iphone_run):
    expected = runfile.predict(runfile.load_run(iphone_run), IPHONE_ROWS)
    done = gdcli("predict", iphone_run, "--input", "-", "--output", "json", input=rows_csv().encode())
    assert done.returncode == 0, done.stderr
    assert [predicted(item) for item in json.loads(done.stdout)] == expected


def test_predict_a_single_feature_file(run_cli, tmp_path):
    run_file = tmp_path / "run.json"
    assert run_cli("fit", "--epochs", "20", "--save", run_file).exit_code == 0
    rows = tmp_path / "t_u.csv"
    rows.write_text("t_u\n35.7\n81.9\n")
    typed = run_cli("predict", run_file, "35.7", "81.9", "--output", "json")
    assert predictions(run_cli("predict", run_file, "--input", rows, "--output", "json")) == predictions(typed)


def test_predict_a_long_file_in_blocks_shows_the_first_rows(run_cli, iphone_run, tmp_path, monkeypatch):
    n = report.SHOWN_ROWS + 7
    rows = [[60 + i % 50, (i % 9) / 10, (i % 7) / 100] for i in range(n)]
    path = tmp_path / "rows.csv"
    path.write_text(rows_csv(rows))
    expected = runfile.predict(runfile.load_run(iphone_run), rows)
    monkeypatch.setattr(runfile, "PREDICT_ROWS", 100)  # eleven blocks
    result = run_cli("predict", iphone_run, "--input", path, "--output", "csv")
    got = [[float(v) for v in row] for row in list(csv.reader(io.StringIO(result.stdout)))[1:]]
    assert got == [[*x, float(i), *y] for i, (x, y) in enumerate(zip(rows, expected))]  # sales: the row's number
    table = run_cli("predict", iphone_run, "--input", path)
    assert table.exit_code == 0
    body = [line for line in table.stdout.splitlines() if line.startswith("│")]
    assert len(body) == report.SHOWN_ROWS
    text = " ".join(table.stdout.split())
    # The file is read no further than the rows shown: how many it holds is not known.
    assert f"the first {report.SHOWN_ROWS:,} rows shown, the rest left out" in text and "--output csv" in text


def test_predict_input_errors(run_cli, iphone_run, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("id,income,tax,sales\n1,70,0.04,5\n")
    assert_user_error(run_cli("predict", iphone_run, "--input", path), "rows.csv has no column 'price'",
                      "income, price, tax", "its header names id, income, tax, sales")
    path.write_text("id,income,price,tax\nx,70,abc,0.04\n")
    assert_user_error(run_cli("predict", iphone_run, "--input", path), "line 2, column 'price': 'abc' is not a number")
    assert_user_error(run_cli("predict", iphone_run, "--input", tmp_path / "none.csv"), "not found", "--input")
    assert_user_error(run_cli("predict", iphone_run, "--input", "-", input=""), "standard input is empty",
                      "gdcli predict RUN_FILE --input -")
    both = run_cli("predict", iphone_run, "70,0.1,0.04", "--input", path)
    assert_user_error(both, "either as VALUES or with --input, not both")
    assert_user_error(run_cli("predict", iphone_run), "no input rows given", "--input rows.csv")


# --- datasets --output --------------------------------------------------------------------------


def packaged(name: str) -> list[list[float]]:
    """A packaged CSV's rows as numbers, read with the csv module."""
    with open(ROOT / "datasets" / f"{name}.csv", newline="") as f:
        return [[float(v) for v in row] for row in list(csv.reader(f))[1:]]


def test_datasets_list_for_programs(run_cli):
    doc = json.loads(run_cli("datasets", "--output", "json").stdout)
    assert [d["name"] for d in doc] == list(data.BUILTINS)
    by_name = {d["name"]: d for d in doc}
    for name in ("celsius", "height-weight", "iphone", "crops"):
        assert by_name[name]["rows"] == len(packaged(name)) and by_name[name]["generated"] is False
    assert by_name["crops"]["features"] == ["temperature", "rainfall", "humidity"]
    assert by_name["crops"]["targets"] == ["apples", "oranges"]
    assert by_name["synthetic"]["generated"] is True and by_name["synthetic"]["rows"] == 100
    assert by_name["celsius"]["preset"] == {"scale": 0.1, "lr": 1e-2, "epochs": 5000}
    lines = [json.loads(line) for line in run_cli("datasets", "--output", "jsonl").stdout.splitlines()]
    assert [{k: v for k, v in line.items() if k != "type"} for line in lines] == doc
    table = list(csv.DictReader(io.StringIO(run_cli("datasets", "--output", "csv").stdout)))
    assert [(r["name"], int(r["rows"]), r["targets"]) for r in table] == [
        (d["name"], d["rows"], ",".join(d["targets"])) for d in doc
    ]


@pytest.mark.parametrize("name", ["celsius", "crops", "iphone"])
def test_a_datasets_rows_for_programs(run_cli, name):
    rows = packaged(name)
    result = run_cli("datasets", name, "--output", "csv")
    assert result.exit_code == 0, result.output
    assert [[float(v) for v in row] for row in list(csv.reader(io.StringIO(result.stdout)))[1:]] == rows
    doc = json.loads(run_cli("datasets", name, "--output", "json").stdout)
    assert doc["name"] == name and doc["n_rows"] == len(rows)
    assert [list(row.values()) for row in doc["rows"]] == rows
    lines = [json.loads(line) for line in run_cli("datasets", name, "--output", "jsonl").stdout.splitlines()]
    assert lines[0]["type"] == "dataset" and [list(line["values"].values()) for line in lines[1:]] == rows


def test_celsius_rows_are_the_books(run_cli):
    doc = json.loads(run_cli("datasets", "celsius", "--output", "json").stdout)
    assert [r["t_u"] for r in doc["rows"]] == T_U and [r["t_c"] for r in doc["rows"]] == T_C


def test_synthetic_rows_for_programs_are_the_draw(run_cli, monkeypatch):
    monkeypatch.setattr(report.datasets, "DATA_BLOCK", 4)  # several blocks
    result = run_cli("datasets", "synthetic", "--rows", "10", "--features", "2", "--seed", "7", "--output", "csv")
    ds = data.load_dataset("synthetic", rows=10, features=2, seed=7)
    got = list(csv.reader(io.StringIO(result.stdout)))
    assert got[0] == ["x1", "x2", "y"]
    assert [[float(v) for v in row] for row in got[1:]] == [[*x, *y] for x, y in zip(ds.X.tolist(), ds.y.tolist())]


def test_datasets_of_stdin(run_cli):
    result = run_cli("datasets", "-", "--output", "json", input=CELSIUS)
    doc = json.loads(result.stdout)
    assert doc["name"] == "stdin" and [r["t_u"] for r in doc["rows"]] == T_U
