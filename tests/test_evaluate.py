"""Scoring a model: the streaming metrics against numpy's formulas (and scikit-learn's where installed),
`gdcli evaluate` on held-out CSV, Parquet and stdin, fit's validation metrics, and the API."""

import csv
import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

import gdcli
from gdcli import metrics, readers
from gdcli.data import split_rows

HELD_OUT = [[20.0, -5.0], [33.9, 3.0], [41.0, 4.5], [64.2, 15.0], [77.3, 24.0], [90.0, 32.5]]  # t_u, t_c


def reference(truth: np.ndarray, predicted: np.ndarray) -> dict:
    """The metrics of one output by the textbook formulas, all rows at once."""
    error = predicted - truth
    ss_tot = float(np.sum((truth - truth.mean()) ** 2))
    mse = float(np.mean(error**2))
    return {"rows": len(truth), "mse": mse, "rmse": mse**0.5, "mae": float(np.mean(np.abs(error))),
            "r2": 1 - float(np.sum(error**2)) / ss_tot}


def close(got: dict, want: dict, rel: float = 1e-12) -> None:
    assert got["rows"] == want["rows"]
    for key in ("mse", "rmse", "mae", "r2"):
        assert got[key] == pytest.approx(want[key], rel=rel, abs=1e-300), key


# --- the metrics -------------------------------------------------------------------------------


def test_blocks_add_up_to_the_formulas_on_all_rows():
    rng = np.random.default_rng(1)
    truth = rng.normal(3, 2, (1000, 2))
    predicted = truth + rng.normal(0, 0.5, truth.shape)
    scores = metrics.Scores()
    for start in range(0, 1000, 37):  # blocks of uneven size
        scores.add(truth[start : start + 37], predicted[start : start + 37])
    found = scores.by_target(["a", "b"])
    for j, name in enumerate("ab"):
        close(found[name], reference(truth[:, j], predicted[:, j]))


def test_a_large_mean_scores_exactly():
    """2e6 rows about 1e9 (1e7 behave the same, five times slower): SS_tot from sums of squares would lose
    every digit; Chan's merge keeps them."""
    rng = np.random.default_rng(2)
    truth = 1e9 + rng.normal(0, 1, 2_000_000)
    predicted = truth + rng.normal(0, 0.5, truth.shape)
    scores = metrics.Scores()
    for start in range(0, len(truth), 1 << 18):
        scores.add(truth[start : start + (1 << 18), None], predicted[start : start + (1 << 18), None])
    found = scores.by_target(["y"])["y"]
    close(found, reference(truth, predicted), rel=1e-9)
    naive = np.sum(truth**2) - len(truth) * truth.mean() ** 2  # the cancelling one-pass formula
    assert abs(naive - np.sum((truth - truth.mean()) ** 2)) > 1e3  # it would be far off


def test_a_constant_truth_follows_scikit_learn_force_finite():
    perfect = metrics.score(np.full((4, 1), 0.1), np.full((4, 1), 0.1), ["y"])["y"]
    off = metrics.score(np.full((4, 1), 0.1), np.full((4, 1), 0.2), ["y"])["y"]
    assert perfect["r2"] == 1.0 and off["r2"] == 0.0
    one = metrics.score(np.ones((1, 1)), np.zeros((1, 1)), ["y"])["y"]
    assert one["rows"] == 1 and np.isnan(one["r2"]) and one["mse"] == 1.0


def test_several_runs_of_one_truth_broadcast():
    truth = np.array([[1.0], [2.0], [4.0]])
    runs = np.stack([truth + 1, truth * 2], 1)  # (rows, runs, targets)
    scores = metrics.Scores()
    scores.add(truth[:, None, :], runs)
    for run in range(2):
        close(scores.by_target(["y"], (run,))["y"], reference(truth[:, 0], runs[:, run, 0]))


def test_the_metrics_are_scikit_learns():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    truth, predicted = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
    found = metrics.score(truth, predicted, ["a", "b"])
    want = {"mse": sk.mean_squared_error, "mae": sk.mean_absolute_error, "r2": sk.r2_score}
    for key, function in want.items():
        expected = function(truth, predicted, multioutput="raw_values")
        assert [found[n][key] for n in "ab"] == pytest.approx(expected.tolist(), rel=1e-12)
    const = np.full((5, 1), 2.0)
    assert metrics.score(const, const + 1, ["y"])["y"]["r2"] == sk.r2_score(const, const + 1)


# --- gdcli evaluate --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def celsius_run(tmp_path_factory):
    """A saved celsius fit and the line it learned, in raw units (w, b)."""
    from typer.testing import CliRunner

    from gdcli.cli import app

    path = tmp_path_factory.mktemp("evaluate") / "run.json"
    result = CliRunner().invoke(app, ["fit", "--epochs", "300", "--save", str(path), "--quiet"])
    assert result.exit_code == 0, result.output
    run = gdcli.load_run(path)
    w, b = run.params["weight"][0, 0].item(), run.params["bias"][0].item()
    return path, w * run._transform.scale, b


def expected_metrics(celsius_run) -> dict:
    _, w, b = celsius_run
    rows = np.array(HELD_OUT)
    return reference(rows[:, 1], w * rows[:, 0] + b)


def held_out_csv() -> str:
    return "id,t_c,t_u\n" + "".join(f"r{i},{c},{u}\n" for i, (u, c) in enumerate(HELD_OUT))


@pytest.mark.parametrize("kind", ["csv", "parquet", "stdin"])
def test_evaluate_scores_held_out_rows(run_cli, celsius_run, tmp_path, kind):
    stdin = None
    if kind == "csv":
        source = tmp_path / "held.csv"
        source.write_text(held_out_csv())
    elif kind == "parquet":
        source = tmp_path / "held.parquet"
        u, c = zip(*HELD_OUT)
        pq.write_table(pa.table({"t_c": list(c), "note": ["x"] * len(u), "t_u": list(u)}), source)
    else:
        source, stdin = "-", held_out_csv()
    result = run_cli("evaluate", celsius_run[0], "--input", source, "--output", "json", input=stdin)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["rows"] == len(HELD_OUT) and "dropped" not in data
    close(data["metrics"]["t_c"], expected_metrics(celsius_run), rel=1e-9)


def test_evaluate_agrees_with_scikit_learn(run_cli, celsius_run, tmp_path):
    sk = pytest.importorskip("sklearn.metrics")
    source = tmp_path / "held.csv"
    source.write_text(held_out_csv())
    data = json.loads(run_cli("evaluate", celsius_run[0], "--input", source, "--output", "json").stdout)
    _, w, b = celsius_run
    rows = np.array(HELD_OUT)
    predicted = w * rows[:, 0] + b
    assert data["metrics"]["t_c"]["r2"] == pytest.approx(sk.r2_score(rows[:, 1], predicted), rel=1e-9)
    assert data["metrics"]["t_c"]["mae"] == pytest.approx(sk.mean_absolute_error(rows[:, 1], predicted), rel=1e-9)


def test_evaluate_table_csv_and_jsonl(run_cli, celsius_run, tmp_path):
    source = tmp_path / "held.csv"
    source.write_text(held_out_csv())
    table = run_cli("evaluate", celsius_run[0], "--input", source)
    assert table.exit_code == 0 and "6 rows scored" in table.stdout
    assert all(word in table.stdout for word in ("MSE", "RMSE", "MAE", "R²", "t_c"))
    rows = list(csv.reader(io.StringIO(run_cli("evaluate", celsius_run[0], "--input", source, "--output", "csv").stdout)))
    assert rows[0] == ["target", "rows", "mse", "rmse", "mae", "r2"] and rows[1][:2] == ["t_c", "6"]
    line = json.loads(run_cli("evaluate", celsius_run[0], "--input", source, "--output", "jsonl").stdout)
    assert line["type"] == "metrics" and line["target"] == "t_c"
    close(line, expected_metrics(celsius_run), rel=1e-9)


def test_evaluate_streams_in_small_blocks(run_cli, celsius_run, tmp_path, monkeypatch):
    """Blocks of 2 rows from the reader and 1 row to the model: the metrics of the whole file."""
    from functools import partial
    from dataclasses import replace

    from gdcli import runfile
    from gdcli.readers import csvfile, registry

    source = tmp_path / "held.csv"
    source.write_text(held_out_csv() * 1)
    small = replace(registry.CSV, chunks=partial(csvfile.chunks, block=24))
    monkeypatch.setattr(registry, "_READERS", [small if r is registry.CSV else r for r in registry._READERS])
    monkeypatch.setattr(runfile, "PREDICT_ROWS", 1)
    seen = []
    original = metrics.Scores.add
    monkeypatch.setattr(metrics.Scores, "add", lambda self, t, p: (seen.append(len(t)), original(self, t, p))[1])
    data = json.loads(run_cli("evaluate", celsius_run[0], "--input", source, "--output", "json").stdout)
    assert seen == [1] * len(HELD_OUT)
    close(data["metrics"]["t_c"], expected_metrics(celsius_run), rel=1e-9)
    assert readers.reader_for(source) is small


def test_evaluate_names_a_missing_column(run_cli, celsius_run, tmp_path):
    source = tmp_path / "nolabel.csv"
    source.write_text("id,t_u\na,1\n")
    result = run_cli("evaluate", celsius_run[0], "--input", source)
    assert result.exit_code == 2 and "Traceback" not in result.output
    text = " ".join(result.stderr.split())
    assert "no column 't_c'" in text and "its header names id, t_u" in text


def test_evaluate_drops_rows_with_gaps_when_asked(run_cli, celsius_run, tmp_path):
    source = tmp_path / "gaps.csv"
    source.write_text(held_out_csv() + "r9,,50\nr10,7,\n")
    refused = run_cli("evaluate", celsius_run[0], "--input", source)
    assert refused.exit_code == 2 and "--missing drop" in refused.stderr
    result = run_cli("evaluate", celsius_run[0], "--input", source, "--missing", "drop", "--output", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["rows"] == len(HELD_OUT) and data["dropped"] == 2
    assert "2 rows with a gap" in result.stderr
    close(data["metrics"]["t_c"], expected_metrics(celsius_run), rel=1e-9)


def test_the_api_evaluates_a_run_or_a_run_file(celsius_run, tmp_path):
    source = tmp_path / "held.csv"
    source.write_text(held_out_csv())
    by_path = gdcli.evaluate(celsius_run[0], source)
    by_run = gdcli.load_run(celsius_run[0]).evaluate(source)
    for report in (by_path, by_run):
        close(report.metrics["t_c"], expected_metrics(celsius_run), rel=1e-9)
        assert report.data["rows"] == len(HELD_OUT) and report["metrics"] == report.metrics
    with pytest.raises(gdcli.GdcliError, match="no column 't_c'"):
        gdcli.evaluate(celsius_run[0], _write(tmp_path / "x.csv", "t_u\n1\n"))


def _write(path, text):
    path.write_text(text)
    return path


# --- fit --val-fraction ----------------------------------------------------------------------------


def test_fit_reports_validation_metrics_of_its_held_out_rows(run_cli, tmp_path):
    """Rebuild the split as gdcli does (split_rows with the seed) and score the final line by numpy."""
    data = tmp_path / "data.csv"
    rows = [[i / 4, 3 * (i / 4) - 1 + ((i * 7) % 5 - 2) / 3] for i in range(40)]
    data.write_text("x,y\n" + "".join(f"{x},{y}\n" for x, y in rows))
    result = run_cli("fit", "--dataset", data, "--val-fraction", "0.25", "--seed", "7", "--epochs", "200",
                     "--lr", "0.01", "--dtype", "float64", "--output", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    _, val = split_rows(len(rows), 0.25, 7)
    held = np.array(rows)[val.numpy()]
    w, b = doc["final"]["params"]["weight"][0][0], doc["final"]["params"]["bias"][0]
    want = reference(held[:, 1], w * held[:, 0] + b)
    close(doc["validation_metrics"]["y"], want, rel=1e-9)
    assert doc["validation_metrics"]["y"]["mse"] == pytest.approx(doc["final"]["val_loss"], rel=1e-12)
    table = run_cli("fit", "--dataset", data, "--val-fraction", "0.25", "--epochs", "20")
    assert "validation (10 held-out rows, at the final parameters)" in table.stdout and "R²" in table.stdout


def test_fit_without_a_split_has_no_validation_metrics(run_cli):
    doc = json.loads(run_cli("fit", "--epochs", "5", "--output", "json").stdout)
    assert "validation_metrics" not in doc
    assert gdcli.fit(epochs=5).metrics is None


def test_the_api_run_carries_its_validation_metrics():
    run = gdcli.fit(dataset="height-weight", val_fraction=0.2, epochs=50, dtype="float64")
    assert set(run.metrics) == {"height_in"}
    assert run.metrics["height_in"]["mse"] == pytest.approx(run.val_loss, rel=1e-12)
    assert run.to_dict()["validation_metrics"] == run.metrics
    assert torch.is_tensor(run.params["weight"])
