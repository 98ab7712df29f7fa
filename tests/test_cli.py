"""gdcli end to end: commands through typer's CliRunner, and a few runs of the installed script.

Numbers are checked against trusted references: the book's printed output
("Deep Learning with PyTorch", chapter 5) and torch.linalg.lstsq on the same rows.
"""

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import book
import pytest
import torch
from book import T_C, T_U
from conftest import plain

BOOK = dict(rel=book.REL)  # the book prints float32 results
WEIGHT_LB = [115, 117, 120, 123, 126, 129, 132, 135, 139, 142, 146, 150, 154, 159, 164]
HEIGHT_IN = list(range(58, 73))

# Several features and two targets, the target columns deliberately not last.
MULTI_CSV = """x1,t1,x2,x3,t2
0.5,2.1,1.0,0.2,-0.4
1.0,2.6,0.5,0.8,0.6
1.5,4.2,1.5,0.1,0.9
2.0,4.1,2.0,1.2,1.7
0.2,1.3,0.3,0.9,-1.3
1.2,3.6,0.1,0.4,0.0
0.8,1.2,1.8,0.6,0.1
1.7,4.9,0.9,1.5,0.2
"""


pytestmark = pytest.mark.usefixtures("wide_console")


# --- references: the book's rows, least squares on them (tests/book.py) ---------------------------

celsius, lstsq, mse = book.celsius, book.lstsq, book.mse


def split(n, fraction, seed):
    """The book's split: the last int(f * n) rows of a seeded permutation validate."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    k = int(fraction * n)
    return perm[:-k], perm[-k:]


# --- helpers -----------------------------------------------------------------------------


def table_rows(text):
    """{epoch: [cells]} for the epoch table's body rows (first cell an integer)."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"[│|┃]", line)]
        if len(cells) > 3 and cells[1].isdigit():
            rows[int(cells[1])] = cells[2:-1]
    return rows


def fit_json(run_cli, *args, code=0):
    result = run_cli("fit", *args, "--output", "json")
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)  # stdout holds the JSON and nothing else


def flat(text):
    return " ".join(plain(text).split())


def assert_user_error(result, *phrases, stdout_empty=True):
    """Exit 2, nothing on stdout, and on stderr one line of cause and one of hint, no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.plain
    assert "--debug" not in result.plain, "an expected error took the unexpected-error path"
    if stdout_empty:
        assert result.stdout == ""
    lines = plain(result.stderr).strip().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("error: ") and lines[1].strip()
    for phrase in phrases:
        assert phrase in flat(result.stderr), (phrase, lines)


def assert_choice_error(result, option, bad):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.plain
    assert option in result.plain and f"'{bad}' is not one of" in flat(result.plain)


# --- fit reproduces the book -------------------------------------------------------------


def test_fit_default_reproduces_the_book(book_table):
    out = book_table.stdout
    for pattern in [
        r"dataset\s+celsius\b",
        r"method\s+autograd\b",
        r"optim\s+gd\b",
        r"\blr\s+0\.01\b",
        r"epochs\s+5000\b",
        r"scale\s+0\.1\b",
        r"seed\s+42\b",
    ]:
        assert re.search(pattern, out), pattern

    rows = table_rows(out)
    assert list(rows) == [1, 2, 3, *range(500, 5001, 500)]
    X, y = celsius(dtype=torch.float32)
    assert float(rows[1][0]) == pytest.approx(mse(X, y, 1.0, 0.0), **BOOK)  # the loss at W=1, b=0
    assert float(rows[5000][0]) == pytest.approx(book.SCALED_LOSS, **BOOK)
    assert all(f"{v:.4f}" in rows[5000][1] for v in book.SCALED_PARAMS)

    theta, best = lstsq(*celsius())
    optimum = next(line for line in out.splitlines() if line.lstrip().startswith("optimum"))
    assert float(re.search(r"loss\s+([\d.]+)", optimum).group(1)) == pytest.approx(best, **BOOK)
    assert f"{float(theta[0, 0]):.4f}" in optimum and f"{float(theta[1, 0]):.4f}" in optimum
    final = next(line for line in out.splitlines() if line.lstrip().startswith("final"))
    assert all(f"{v:.4f}" in final for v in book.SCALED_PARAMS)


@pytest.mark.parametrize("method", ["autograd", "analytic", "finite-diff"])
def test_every_method_reaches_the_books_result(book_fit, method):
    doc, _ = book_fit(method)
    assert doc["config"]["method"] == method
    assert doc["history"][-1]["train_loss"] == pytest.approx(book.SCALED_LOSS, **BOOK)
    weight, bias = doc["final"]["params"]["weight"][0][0], doc["final"]["params"]["bias"][0]
    assert weight == pytest.approx(book.SCALED_PARAMS[0], abs=1e-4) and bias == pytest.approx(book.SCALED_PARAMS[1], abs=1e-4)


def test_adam_unscaled_reproduces_the_book(run_cli):
    doc = fit_json(run_cli, "--optim", "adam", "--lr", "0.1", "--scale", "1", "--epochs", "2000")
    assert doc["config"]["optim"] == "adam" and doc["config"]["scale"] == 1.0
    assert doc["history"][-1]["train_loss"] == pytest.approx(book.ADAM_LOSS, **BOOK)
    assert doc["final"]["params"]["weight"][0][0] == pytest.approx(book.ADAM_PARAMS[0], abs=1e-4)
    assert doc["final"]["params"]["bias"][0] == pytest.approx(book.ADAM_PARAMS[1], abs=1e-4)


# --- machine-readable output -------------------------------------------------------------


def test_json_output(run_cli):
    doc = fit_json(run_cli, "--epochs", "20")
    assert {"config", "history", "final", "optimum", "diverged", "diverged_at"} <= set(doc)
    config = doc["config"]
    assert (config["dataset"], config["method"], config["optim"]) == ("celsius", "autograd", "gd")
    assert (config["lr"], config["epochs"], config["scale"], config["seed"]) == (0.01, 20, 0.1, 42)
    history = doc["history"]
    assert [h["epoch"] for h in history] == list(range(1, 21))
    assert all({"epoch", "train_loss", "val_loss"} <= set(h) and h["val_loss"] is None for h in history)
    X, y = celsius(dtype=torch.float32)
    assert history[0]["train_loss"] == pytest.approx(mse(X, y, 1.0, 0.0), **BOOK)
    losses = [h["train_loss"] for h in history]
    assert losses == sorted(losses, reverse=True)  # a stable gd run only goes down

    params = doc["final"]["params"]
    assert len(params["weight"]) == 1 and len(params["weight"][0]) == 1 and len(params["bias"]) == 1
    w, b = params["weight"][0][0], params["bias"][0]
    assert doc["final"]["loss"] == pytest.approx(mse(*celsius(), w, b), rel=1e-5)  # the loss at those params

    theta, best = lstsq(*celsius())
    assert doc["optimum"]["loss"] == pytest.approx(best, rel=1e-6)
    assert doc["optimum"]["params"]["weight"][0][0] == pytest.approx(float(theta[0, 0]), rel=1e-5)
    assert doc["optimum"]["params"]["bias"][0] == pytest.approx(float(theta[1, 0]), rel=1e-5)
    assert doc["diverged"] is False and doc["diverged_at"] is None


def test_jsonl_output_logged_epochs_then_a_final_object(run_cli):
    result = run_cli("fit", "--epochs", "20", "--log-every", "5", "--output", "jsonl", "--history", "logged")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    *logged, final = lines
    assert [r["epoch"] for r in logged] == [1, 2, 3, 5, 10, 15, 20]
    assert all("train_loss" in r and "params" in r for r in logged)
    every = [json.loads(line) for line in run_cli("fit", "--epochs", "20", "--log-every", "5", "--output", "jsonl").stdout.splitlines()]
    assert [r["epoch"] for r in every[:-1]] == list(range(1, 21))
    assert [r["epoch"] for r in every[:-1] if "params" in r] == [1, 2, 3, 5, 10, 15, 20]
    X, y = celsius(dtype=torch.float32)
    assert logged[0]["train_loss"] == pytest.approx(mse(X, y, 1.0, 0.0), **BOOK)
    assert final["diverged"] is False and {"final", "optimum", "config"} <= set(final)


def test_csv_output_is_the_history(run_cli):
    result = run_cli("fit", "--epochs", "12", "--output", "csv")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "epoch,train_loss,val_loss"
    rows = [line.split(",") for line in lines[1:]]
    assert [int(r[0]) for r in rows] == list(range(1, 13))
    assert all(r[2] == "" for r in rows)
    X, y = celsius(dtype=torch.float32)
    assert float(rows[0][1]) == pytest.approx(mse(X, y, 1.0, 0.0), **BOOK)


def test_csv_output_with_a_split_fills_val_loss(run_cli):
    result = run_cli("fit", "--epochs", "3", "--val-fraction", "0.2", "--output", "csv")
    assert result.exit_code == 0, result.output
    rows = [line.split(",") for line in result.stdout.splitlines()[1:]]
    # The book's loop on the training rows, float32: each epoch's losses before its update.
    train, val = split(11, 0.2, 42)
    X, y = celsius(dtype=torch.float32)
    theta = torch.tensor([1.0, 0.0], requires_grad=True)
    expected = []
    for _ in range(3):
        loss = (X[train] @ theta - y[train, 0]).square().mean()
        with torch.no_grad():
            expected.append([loss.item(), (X[val] @ theta - y[val, 0]).square().mean().item()])
        loss.backward()
        with torch.no_grad():
            theta -= 1e-2 * theta.grad
        theta.grad = None
    assert [int(r[0]) for r in rows] == [1, 2, 3]
    assert [[float(r[1]), float(r[2])] for r in rows] == [pytest.approx(e, **BOOK) for e in expected]


# --- divergence --------------------------------------------------------------------------


def stable_lr_unscaled():
    """2 / largest eigenvalue of the mean-squared-error Hessian (2/n X^T X) on unscaled celsius."""
    X, _ = celsius(scale=1.0)
    return 2.0 / float(torch.linalg.eigvalsh(2.0 / len(X) * X.T @ X).max())


def test_divergence_stops_at_epoch_11_and_explains(run_cli):
    result = run_cli("fit", "--scale", "1", "--lr", "1e-2")
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.plain
    rows = table_rows(result.stdout)
    assert max(rows) == 11 and {1, 2, 3} <= set(rows)
    assert float(rows[1][0]) == pytest.approx(book.DIVERGING_LOSSES[0], **BOOK)
    assert float(rows[2][0]) == pytest.approx(book.DIVERGING_LOSSES[1], **BOOK)
    assert float(rows[3][0]) == pytest.approx(19408035840, rel=1e-4)  # table shows 5 digits
    assert rows[11][0] == "inf"

    message = flat(result.stderr)
    assert "epoch 11" in message and "inf" in message
    shown = [float(v) for v in re.findall(r"\d\.\d+e-04", message)]
    assert shown and shown[0] == pytest.approx(stable_lr_unscaled(), rel=1e-3)
    assert shown[0] == pytest.approx(3.40e-4, rel=1e-2)
    for hint in ("--lr", "--scale", "--normalize"):
        assert hint in message


def test_divergence_in_json_still_prints_the_document(run_cli):
    doc = fit_json(run_cli, "--scale", "1", "--lr", "1e-2", code=3)
    assert doc["diverged"] is True and doc["diverged_at"] == 11
    assert [h["epoch"] for h in doc["history"]] == list(range(1, 12))
    assert doc["history"][0]["train_loss"] == pytest.approx(book.DIVERGING_LOSSES[0], **BOOK)


def test_stable_learning_rate_trains_unscaled(run_cli):
    # The book's other unscaled run: lr 1e-4 for 100 epochs ends at 29.022669.
    doc = fit_json(run_cli, "--scale", "1", "--lr", "1e-4", "--epochs", "100")
    assert doc["history"][-1]["train_loss"] == pytest.approx(book.SLOW_LOSS_EPOCH_100, **BOOK)


# --- save and predict --------------------------------------------------------------------


def test_save_then_predict_applies_the_same_scaling(run_cli, book_fit):
    _, path = book_fit()  # gdcli fit --save run.json, the book's run
    saved = json.loads(path.read_text())
    assert {"config", "transform", "params"} <= set(saved)
    assert saved["transform"]["scale"] == 0.1 and saved["config"]["dataset"] == "celsius"
    assert saved["params"]["weight"][0][0] == pytest.approx(book.SCALED_PARAMS[0], abs=1e-4)
    assert saved["params"]["bias"][0] == pytest.approx(book.SCALED_PARAMS[1], abs=1e-4)
    assert [p.name for p in path.parent.iterdir()] == ["run.json"]  # no temporary file left behind

    result = run_cli("predict", path, "35.7", "81.9", "--output", "json")
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    preds = [item["t_c_predicted"] for item in items]
    w, b = book.SCALED_PARAMS
    assert preds == pytest.approx([w * 0.1 * x + b for x in (35.7, 81.9)], abs=2e-3)

    table = run_cli("predict", path, "35.7", "81.9")
    assert table.exit_code == 0, table.output
    assert "1.859" in table.stdout and "26.65" in table.stdout


def test_predict_replays_normalization(run_cli, tmp_path):
    # height-weight's preset normalizes; predictions in pounds must match least squares on raw rows.
    path = tmp_path / "hw.json"
    assert run_cli("fit", "--dataset", "height-weight", "--save", path).exit_code == 0
    assert json.loads(path.read_text())["transform"]["mean"] is not None
    w = torch.tensor(WEIGHT_LB, dtype=torch.float64)
    theta, _ = lstsq(torch.stack([w, torch.ones_like(w)], 1), torch.tensor(HEIGHT_IN, dtype=torch.float64)[:, None])
    result = run_cli("predict", path, "130", "160", "--output", "json")
    assert result.exit_code == 0, result.output
    preds = [item["height_in_predicted"] for item in json.loads(result.stdout)]
    expected = [float(theta[0, 0]) * x + float(theta[1, 0]) for x in (130, 160)]
    assert preds == pytest.approx(expected, abs=1e-3)


def test_a_diverged_run_is_not_saved(run_cli, tmp_path):
    path = tmp_path / "run.json"
    result = run_cli("fit", "--scale", "1", "--lr", "1e-2", "--save", path)
    assert result.exit_code == 3
    assert list(tmp_path.iterdir()) == []
    assert "not saved" in result.stderr


def test_saving_into_a_missing_folder_fails_cleanly(run_cli, tmp_path):
    path = tmp_path / "nodir" / "run.json"
    result = run_cli("fit", "--epochs", "5", "--save", path)
    # The run's table may come first: the folder is checked when the run is saved.
    assert_user_error(result, "nodir", "does not exist", stdout_empty=False)
    assert list(tmp_path.iterdir()) == []


def test_predict_with_several_features(run_cli, iphone_run):
    result = run_cli("predict", iphone_run, "70,0.1,0.043", "90,0.8,0.064", "--output", "json")
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert len(items) == 2 and list(items[0]) == ["income", "price", "tax", "sales_predicted"]
    assert [items[0][k] for k in ("income", "price", "tax")] == [70, 0.1, 0.043]


def test_predict_wrong_count_of_features(run_cli, iphone_run):
    assert_user_error(run_cli("predict", iphone_run, "70"), "'70'", "3", "income, price, tax")


def test_predict_not_a_number(run_cli, iphone_run):
    assert_user_error(run_cli("predict", iphone_run, "70,abc,1"), "not a number")


def test_predict_missing_file(run_cli, tmp_path):
    assert_user_error(run_cli("predict", tmp_path / "none.json", "1"), "not found", "--save")


def test_predict_non_json_file(run_cli, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("not json at all")
    assert_user_error(run_cli("predict", path, "1"), "bad.json", "JSON", "--save")


def test_predict_json_that_is_not_a_run(run_cli, tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"hello": 1}')
    assert_user_error(run_cli("predict", path, "1"), "not a gdcli run file")


# --- options and their effects -----------------------------------------------------------


def test_val_fraction_adds_a_val_loss_column(run_cli):
    result = run_cli("fit", "--epochs", "5", "--val-fraction", "0.2")
    assert result.exit_code == 0, result.output
    assert "val loss" in result.stdout
    assert all(len(cells) == 4 for cells in table_rows(result.stdout).values())  # train, val, params, grad

    doc = fit_json(run_cli, "--epochs", "5", "--val-fraction", "0.2")
    train, val = split(11, 0.2, 42)
    X32, y32 = celsius(dtype=torch.float32)
    first = doc["history"][0]
    assert first["train_loss"] == pytest.approx(mse(X32[train], y32[train], 1.0, 0.0), **BOOK)
    assert first["val_loss"] == pytest.approx(mse(X32[val], y32[val], 1.0, 0.0), **BOOK)
    assert all(h["val_loss"] is not None for h in doc["history"])
    _, best = lstsq(*celsius(rows=train))  # the optimum for the training rows only
    assert doc["optimum"]["loss"] == pytest.approx(best, rel=1e-6)


def test_batch_size_mini_batches(run_cli):
    full = fit_json(run_cli, "--epochs", "30")
    mini = fit_json(run_cli, "--epochs", "30", "--batch-size", "4")
    assert mini["config"]["batch_size"] == 4
    losses = [h["train_loss"] for h in mini["history"]]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    assert losses != [h["train_loss"] for h in full["history"]]  # three updates an epoch, not one
    assert fit_json(run_cli, "--epochs", "30", "--batch-size", "4")["history"] == mini["history"]  # seeded
    other = fit_json(run_cli, "--epochs", "30", "--batch-size", "4", "--seed", "1")
    assert other["history"] != mini["history"]  # the seed shuffles the batches

    whole = fit_json(run_cli, "--epochs", "30", "--batch-size", "11")
    assert [h["train_loss"] for h in whole["history"]] == pytest.approx(
        [h["train_loss"] for h in full["history"]], rel=1e-5
    )


def test_normalize_standardizes_and_still_reaches_the_optimum(run_cli):
    doc = fit_json(run_cli, "--normalize", "--epochs", "2000")
    scaled = torch.tensor(T_U, dtype=torch.float64) * 0.1
    assert doc["transform"]["mean"] == pytest.approx([float(scaled.mean())], rel=1e-6)
    assert doc["transform"]["std"] == pytest.approx([float(scaled.std(unbiased=False))], rel=1e-6)
    _, best = lstsq(*celsius())  # an affine change of inputs leaves the best loss as it is
    assert doc["optimum"]["loss"] == pytest.approx(best, rel=1e-5)
    assert doc["final"]["loss"] == pytest.approx(best, rel=1e-5)


def test_reduction_sum(run_cli):
    doc = fit_json(run_cli, "--reduction", "sum", "--lr", "1e-3", "--epochs", "10")
    assert doc["config"]["reduction"] == "sum"
    X, y = celsius(dtype=torch.float32)
    assert doc["history"][0]["train_loss"] == pytest.approx(11 * mse(X, y, 1.0, 0.0), **BOOK)
    _, best = lstsq(*celsius())
    assert doc["optimum"]["loss"] == pytest.approx(11 * best, rel=1e-6)


def test_dtype_float64(run_cli):
    doc = fit_json(run_cli, "--dtype", "float64", "--epochs", "3")
    assert doc["config"]["dtype"] == "float64"
    # float32 would be off by ~5e-8 relative: this tells the two apart.
    assert doc["history"][0]["train_loss"] == pytest.approx(mse(*celsius(), 1.0, 0.0), rel=1e-12)


@pytest.mark.parametrize("init, w, b", [("1,0", 1.0, 0.0), ("2,1", 2.0, 1.0), ("zeros", 0.0, 0.0)])
def test_init(run_cli, init, w, b):
    doc = fit_json(run_cli, "--init", init, "--epochs", "3", "--dtype", "float64")
    assert doc["history"][0]["train_loss"] == pytest.approx(mse(*celsius(), w, b), rel=1e-12)


def test_randn_init_is_seeded(run_cli):
    a = fit_json(run_cli, "--init", "randn", "--epochs", "2")
    assert fit_json(run_cli, "--init", "randn", "--epochs", "2")["history"] == a["history"]
    assert fit_json(run_cli, "--init", "randn", "--epochs", "2", "--seed", "7")["history"] != a["history"]


def test_sgd_with_momentum_and_analytic(run_cli):
    doc = fit_json(run_cli, "--method", "analytic", "--optim", "sgd", "--momentum", "0.9", "--lr", "1e-3", "--epochs", "3000")
    _, best = lstsq(*celsius())
    assert doc["final"]["loss"] == pytest.approx(best, rel=1e-3)


def test_own_csv_with_several_features_and_two_targets(run_cli, tmp_path):
    path = tmp_path / "multi.csv"
    path.write_text(MULTI_CSV)
    args = ("--dataset", path, "--target", "t1", "--target", "t2", "--dtype", "float64")
    doc = fit_json(run_cli, *args, "--lr", "0.1", "--epochs", "3000")
    assert doc["config"]["dataset"] == str(path)
    assert doc["dataset"]["features"] == ["x1", "x2", "x3"] and doc["dataset"]["targets"] == ["t1", "t2"]

    table = torch.tensor([[float(v) for v in line.split(",")] for line in MULTI_CSV.splitlines()[1:]], dtype=torch.float64)
    X = torch.cat([table[:, [0, 2, 3]], torch.ones(len(table), 1, dtype=torch.float64)], 1)
    theta, best = lstsq(X, table[:, [1, 4]])
    weight, bias = doc["final"]["params"]["weight"], doc["final"]["params"]["bias"]
    assert len(weight) == 2 and all(len(row) == 3 for row in weight) and len(bias) == 2
    assert doc["optimum"]["loss"] == pytest.approx(best, rel=1e-9)
    assert doc["final"]["loss"] == pytest.approx(best, rel=1e-6)
    for t in range(2):
        assert weight[t] == pytest.approx(theta[:3, t].tolist(), abs=1e-5)
        assert bias[t] == pytest.approx(float(theta[3, t]), abs=1e-5)

    # and the saved model predicts both targets from three features
    saved = tmp_path / "multi.json"
    assert run_cli("fit", *args, "--lr", "0.1", "--epochs", "3000", "--save", saved).exit_code == 0
    result = run_cli("predict", saved, "1,2,3", "--output", "json")
    assert result.exit_code == 0, result.output
    pred = json.loads(result.stdout)[0]
    expected = (torch.tensor([1.0, 2.0, 3.0, 1.0], dtype=torch.float64) @ theta).tolist()
    assert [pred["t1_predicted"], pred["t2_predicted"]] == pytest.approx(expected, abs=1e-4)


def test_own_csv_default_target_is_the_last_column(run_cli, tmp_path):
    path = tmp_path / "multi.csv"
    path.write_text(MULTI_CSV)
    doc = fit_json(run_cli, "--dataset", path, "--epochs", "3")
    assert doc["dataset"]["features"] == ["x1", "t1", "x2", "x3"] and doc["dataset"]["targets"] == ["t2"]


# --- bad input: exit 2, one line of cause and one of hint --------------------------------


BAD_OPTIONS = [
    (["--dataset", "nope"], ["unknown dataset 'nope'", "celsius", "gdcli datasets"]),
    (["--lr", "0"], ["--lr", "positive"]),
    (["--lr", "-1"], ["--lr", "positive"]),
    (["--epochs", "0"], ["--epochs", "at least 1"]),
    (["--delta", "0"], ["--delta", "positive"]),
    (["--batch-size", "0"], ["--batch-size", "at least 1"]),
    (["--val-fraction", "1.5"], ["--val-fraction", "[0, 1)"]),
    (["--val-fraction", "0.01"], ["--val-fraction", "11 rows", "no validation row"]),
    (["--init", "1,2,3"], ["--init", "3 numbers", "2"]),
    (["--init", "abc"], ["--init", "'abc'"]),
    (["--target", "t_u"], ["--target"]),
]


@pytest.mark.parametrize("args, phrases", BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_bad_option_values(run_cli, args, phrases):
    assert_user_error(run_cli("fit", "--epochs", "5", *args), *phrases)


@pytest.mark.parametrize("option, bad", [("--method", "newton"), ("--optim", "lbfgs-ish"), ("--reduction", "max"), ("--dtype", "int8")])
def test_unknown_choice(run_cli, option, bad):
    assert_choice_error(run_cli("fit", "--epochs", "5", option, bad), option, bad)


@pytest.mark.parametrize(
    "text, phrases",
    [
        (None, ["not found"]),
        ("", ["empty"]),
        ("a,b\n1,2\n3\n", ["line 3", "ragged"]),
        ("a,b\n1,x\n", ["'x'", "not a number"]),
        ("a,b\n1,nan\n2,3\n", ["nan", "the value is missing", "--missing drop"]),
        ("a,b\n1,2\n3,inf\n", ["inf", "not a finite number"]),
        ("1,2\n3,4\n", ["no header"]),
        ("a,b\n", ["no data rows"]),
    ],
    ids=["missing", "empty", "ragged", "non-numeric", "nan", "inf", "no-header", "header-only"],
)
def test_bad_csv(run_cli, tmp_path, text, phrases):
    path = tmp_path / "bad.csv"
    if text is not None:
        path.write_text(text)
    assert_user_error(run_cli("fit", "--epochs", "5", "--dataset", path), "bad.csv", *phrases)


def test_target_missing_from_the_csv(run_cli, tmp_path):
    path = tmp_path / "multi.csv"
    path.write_text(MULTI_CSV)
    result = run_cli("fit", "--epochs", "5", "--dataset", path, "--target", "t9")
    assert_user_error(result, "'t9'", "x1, t1, x2, x3, t2")


def test_every_column_a_target(run_cli, tmp_path):
    path = tmp_path / "two.csv"
    path.write_text("a,b\n1,2\n2,3\n")
    result = run_cli("fit", "--epochs", "5", "--dataset", path, "--target", "a", "--target", "b")
    assert_user_error(result, "no feature")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_where_there_is_none(run_cli):
    assert_user_error(run_cli("fit", "--epochs", "5", "--device", "cuda"), "cuda", "--device cpu")


# --- datasets ----------------------------------------------------------------------------


def test_datasets_lists_the_five(run_cli):
    result = run_cli("datasets")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    expected = {
        "celsius": ("11", "Thermometer"),
        "height-weight": ("15", "weight"),
        "iphone": ("5", "iPhone"),
        "crops": ("5", "two targets"),
        "synthetic": ("100", "1 + 2x"),
    }
    for name, (rows, words) in expected.items():
        line = next(line for line in lines if re.search(rf"[│|]\s*{re.escape(name)}\s*[│|]", line))
        cells = [c.strip() for c in re.split(r"[│|]", line)]
        assert cells[2].split()[0] == rows, (name, cells)
        assert words in line, (name, line)
    assert "apples, oranges" in result.stdout


def test_datasets_celsius_prints_its_rows(run_cli):
    result = run_cli("datasets", "celsius")
    assert result.exit_code == 0, result.output
    rows = []
    for line in result.stdout.splitlines():
        cells = [c.strip() for c in re.split(r"[│|]", line)][1:-1]
        if len(cells) == 2 and all(re.fullmatch(r"-?[\d.]+", c) for c in cells):
            rows.append((float(cells[0]), float(cells[1])))
    assert rows == list(zip(T_U, T_C))


def test_datasets_unknown(run_cli):
    assert_user_error(run_cli("datasets", "nope"), "unknown dataset 'nope'")


# --- the installed program ---------------------------------------------------------------


def test_cli_import_does_not_import_torch():
    code = "import gdcli.cli, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_help_does_not_import_torch():
    code = (
        "import sys\n"
        "from gdcli.cli import app\n"
        "for args in (['--help'], ['fit', '--help'], ['predict', '--help'], ['datasets', '--help']):\n"
        "    try:\n"
        "        app(args, prog_name='gdcli')\n"
        "    except SystemExit as e:\n"
        "        assert e.code in (0, None), e.code\n"
        "assert 'torch' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


ROOT = Path(__file__).resolve().parent.parent


def gdcli_script():
    """The console script's entry point, run on this checkout's source however gdcli was installed."""
    return [sys.executable, "-c", "import sys; from gdcli.cli import main; sys.argv[0] = 'gdcli'; main()"]


def test_the_script_tests_run_this_checkouts_source(tmp_path):
    done = run_piped([sys.executable, "-c", "import gdcli; print(gdcli.__file__)"], tmp_path)
    assert Path(done.stdout.strip()).resolve() == ROOT / "gdcli" / "__init__.py"


def run_piped(argv, tmp_path, no_color=True):
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "PY_COLORS", "COLUMNS", "TTY_COMPATIBLE")}
    # This checkout first on the path, from a working directory elsewhere.
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    if no_color:
        env["NO_COLOR"] = "1"
    else:
        env.pop("NO_COLOR", None)
        env.pop("_TYPER_FORCE_DISABLE_TERMINAL", None)
    # Run from elsewhere: the built-in datasets must come from the package, not the working directory.
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert "\x1b" not in done.stdout and "\x1b" not in done.stderr
    assert "Traceback" not in done.stderr and "--debug" not in done.stderr
    return done


def test_script_fit_json(tmp_path):
    done = run_piped([*gdcli_script(), "fit", "--epochs", "50", "--output", "json"], tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert len(doc["history"]) == 50 and doc["diverged"] is False


def test_script_fit_table_piped_without_no_color(tmp_path):
    done = run_piped([*gdcli_script(), "fit", "--epochs", "20"], tmp_path, no_color=False)
    assert done.returncode == 0, done.stderr
    assert max(table_rows(done.stdout)) == 20


def test_script_datasets(tmp_path):
    done = run_piped([*gdcli_script(), "datasets"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert all(name in done.stdout for name in ("celsius", "height-weight", "iphone", "crops", "synthetic"))


def test_script_exit_codes(tmp_path):
    assert run_piped([*gdcli_script(), "fit", "--lr", "0"], tmp_path).returncode == 2
    diverged = run_piped([*gdcli_script(), "fit", "--scale", "1", "--lr", "1e-2", "--output", "csv"], tmp_path)
    assert diverged.returncode == 3
    assert len(diverged.stdout.splitlines()) == 1 + 11  # header + epochs 1..11


def test_python_dash_m(tmp_path):
    done = run_piped([sys.executable, "-m", "gdcli", "--help"], tmp_path)
    assert done.returncode == 0 and "fit" in done.stdout
    assert run_piped([sys.executable, "-m", "gdcli", "datasets", "nope"], tmp_path).returncode == 2


# ---- edges found in review: divergence semantics, bounds, damaged files ----


def test_a_finite_run_whose_loss_rose_has_diverged_exit_3(run_cli):
    result = run_cli("fit", "--optim", "adam", "--lr", "5", "--epochs", "10", "--output", "json")
    assert result.exit_code == 3, result.output
    data = json.loads(result.stdout)
    assert data["diverged"] is True and data["verdict"] == "diverged" and data["diverged_at"] is None
    assert data["reason"] == "the loss rose above its start"
    assert data["final"]["loss"] > data["start_loss"] == pytest.approx(data["history"][0]["train_loss"], rel=1e-6)
    assert "the loss rose above its start" in result.stderr


def test_parameters_that_overflow_on_the_last_update_count_as_divergence(run_cli):
    # Epoch 1's loss (1763.88) is finite; its update sends w to -inf in float32.
    result = run_cli("fit", "--scale", "1", "--lr", "1e38", "--epochs", "1", "--output", "json")
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["diverged"] and data["diverged_at"] == 1
    assert "no longer finite" in result.stderr


@pytest.mark.parametrize("args", [["--seed", "-1"], ["--seed", str(2**64)], ["--dataset", "synthetic", "--rows", "0"]])
def test_out_of_range_seed_and_rows(run_cli, args):
    result = run_cli("fit", "--epochs", "1", *args)
    assert result.exit_code == 2 and "Traceback" not in result.output


@pytest.mark.parametrize(
    "transform, needle",
    [
        ({"scale": 0.1, "mean": ["x"], "std": [1.0]}, 'transform.mean[0] must be a number, got "x"'),
        ({"scale": 0.1, "mean": [1.0, 2.0], "std": [1.0, 1.0]}, "one value per feature"),
        ({"scale": 0.1, "mean": [1.0], "std": [0.0]}, "std positive"),
        ({"scale": "inf", "mean": None, "std": None}, 'transform.scale must be a number, got "inf"'),
        ({"mean": None, "std": None}, "transform.scale is missing"),
    ],
)
def test_a_damaged_run_file_is_exit_2(run_cli, tmp_path, transform, needle):
    good = tmp_path / "run.json"
    assert run_cli("fit", "--epochs", "5", "--save", str(good)).exit_code == 0
    data = json.loads(good.read_text())
    data["transform"] = transform
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    result = run_cli("predict", str(bad), "35.7")
    assert result.exit_code == 2 and needle in result.plain, result.plain


def test_help_of_every_command_leaves_torch_unloaded():
    """One process for all commands: torch still unloaded after every help means no help loaded it."""
    commands = ["compare", "sweep", "sample", "grad", "fit", "predict", "evaluate", "datasets"]
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom gdcli.cli import app\n"
        f"for command in {commands!r}:\n"
        "    r = CliRunner().invoke(app, [command, '--help'])\n"
        "    assert r.exit_code == 0, (command, r.output)\n"
        "    assert 'torch' not in sys.modules, f'torch imported by {command} --help'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("args", [["fit", "--log-every", "1", "--output", "jsonl"], ["fit", "--epochs", "300", "--log-every", "1"]])
def test_piping_into_head_ends_quietly_with_success(args):
    script = f"{sys.executable} -m gdcli {' '.join(args)} | head -1 > /dev/null; exit ${{PIPESTATUS[0]}}"
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert "Error" not in result.stderr and "Traceback" not in result.stderr
