"""Stopping before the last epoch: --tol/--patience, --within, and Ctrl-C (a real SIGINT to a real process)."""

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from conftest import pressed_after, trained

from gdcli import comparison as cmp
from gdcli import grid as sw
from gdcli.train import interrupt as ctrl_c
from gdcli.train import stopping
from gdcli.config import resolve
from gdcli.train import Trainer

ROOT = Path(__file__).resolve().parent.parent


def patience_stop(losses: list[float], tol: float, patience: int) -> int | None:
    """scikit-learn's rule, written plainly: the 1-based epoch a run stops at, or None."""
    best, waited = float("inf"), 0
    for epoch, loss in enumerate(losses, start=1):
        waited = waited + 1 if not loss < best - tol else 0
        best = min(best, loss)
        if waited >= patience:
            return epoch
    return None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.floats(0, 10), min_size=30, max_size=30), min_size=1, max_size=4),
    st.floats(0, 0.5),
    st.integers(1, 6),
    st.lists(st.integers(1, 12), min_size=1, max_size=6),
)
def test_the_batched_rule_is_the_plain_loop_whatever_the_chunks(series, tol, patience, cuts):
    """Rules.scan over chunks of any size, all runs at once, stops each run where the plain loop does."""
    losses = np.array(series).T  # (epochs, runs)
    cfg = resolve("celsius", tol=tol, patience=patience)
    rules = stopping.Rules(cfg, losses.shape[1], None)
    found, first, active = {}, 0, np.ones(losses.shape[1], dtype=bool)
    for cut in itertools.cycle(cuts):
        chunk = losses[first : first + cut]
        if not len(chunk):
            break
        for run, stop in rules.scan(first + 1, chunk, chunk, active).items():
            found[run] = stop.epoch
            active[run] = False
        first += cut
    assert found == {r: e for r, s in enumerate(series) if (e := patience_stop(s, tol, patience)) is not None}


def test_fit_stops_where_the_rule_says_and_keeps_that_epochs_parameters():
    full = trained(Trainer([resolve("celsius", epochs=3000, log_every=1)])).result()
    expected = patience_stop(full.train_loss, 1e-3, 5)
    assert expected is not None and expected < 3000
    stopped = trained(Trainer([resolve("celsius", epochs=3000, tol=1e-3, patience=5)])).result()
    assert stopped.stop.rule == "patience" and stopped.stop.epoch == stopped.epochs_run == expected
    assert stopped.epochs == list(range(1, expected + 1))
    at_stop = next(r for r in full.records if r.epoch == expected)
    assert stopped.params == at_stop.params
    # The table ends with the stop epoch, its parameters shown.
    assert stopped.records[-1].epoch == expected and stopped.records[-1].params == at_stop.params


def test_patience_watches_the_validation_loss_when_there_is_a_split():
    cfg = resolve("synthetic", epochs=300, val_fraction=0.3, tol=0.0, patience=3, lr=0.5, log_every=1)
    full = trained(Trainer([resolve("synthetic", epochs=300, val_fraction=0.3, lr=0.5, log_every=1)])).result()
    stopped = trained(Trainer([cfg])).result()
    assert stopped.stop.epoch == patience_stop(full.val_loss, 0.0, 3)
    assert "validation loss" in stopped.stop.reason(cfg, True)


def test_within_stops_at_the_first_epoch_compare_reports():
    full = trained(Trainer([resolve("celsius", epochs=3000)])).result()
    expected = cmp.first_within(full, 0.01)
    stopped = trained(Trainer([resolve("celsius", epochs=3000, within=0.01)])).result()
    assert stopped.stop.rule == "within" and stopped.stop.epoch == expected
    assert stopped.relative_gap <= 0.01


def test_in_a_sweep_runs_stop_independently_each_as_it_would_alone():
    """Batched: each run stops at its own epoch with its own parameters, bit for bit as when it trains
    alone (the gram method's products run once per run), while the others go on."""
    base = resolve("celsius", epochs=3000, method="gram", tol=1e-4, patience=20, device="cpu")
    grid = {"lr": [1e-4, 1e-2, 2e-2, 3e-2], "momentum": [0.0], "seed": [42], "batch_size": [None]}
    sweep = trained(Trainer(sw.expand(base, grid)))
    results = sweep.results()
    epochs = [r.epochs_run for r in results]
    assert len(set(epochs)) >= 3, epochs  # different runs, different epochs
    for r in results:
        alone = trained(Trainer([r.config])).result()
        assert (r.stop, r.epochs_run, r.params) == (alone.stop, alone.epochs_run, alone.params)
        # The final loss is measured in float64 for all runs in one product: equal to rounding.
        assert r.final_loss == pytest.approx(alone.final_loss, rel=1e-13)
        assert torch.equal(r.train_history, alone.train_history)


def test_mini_batch_sweep_stops_runs_and_freezes_them():
    base = resolve("synthetic", epochs=200, batch_size=16, tol=1e-3, patience=4, lr=0.05)
    grid = {"lr": [0.01, 0.05, 0.2], "momentum": [0.0], "seed": [1, 2], "batch_size": [16]}
    trainer = trained(Trainer(sw.expand(base, grid)))
    for r in trainer.results():
        assert r.stop is None or (r.epochs_run == r.stop.epoch and r.epochs[-1] == r.stop.epoch)
    assert any(r.stop is not None for r in trainer.results())


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--tol", "-1"], "--tol must be zero or a positive finite number"),
        (["--patience", "0"], "--patience must be at least 1"),
        (["--within", "0"], "--within must be a positive finite number"),
        (["--within", "0.01", "--model", "mlp"], "--model mlp has none"),
    ],
)
def test_bad_stopping_options_exit_2(run_cli, args, needle):
    result = run_cli("fit", "--epochs", "5", *args)
    assert result.exit_code == 2 and needle in result.plain, result.output


def test_tol_alone_waits_ten_epochs_and_patience_alone_counts_any_improvement():
    assert resolve("celsius", tol=1e-3).patience == 10
    assert resolve("celsius", patience=3).tol == 0.0


def test_the_result_says_which_rule_stopped_the_run(run_cli):
    result = run_cli("fit", "--epochs", "3000", "--within", "0.05", "--output", "json")
    data = json.loads(result.stdout)
    assert data["stopped"]["rule"] == "within" and data["epochs_run"] == data["stopped"]["epoch"] < 3000
    assert data["interrupted"] is False and len(data["history"]) == data["epochs_run"]
    table = run_cli("fit", "--epochs", "3000", "--within", "0.05")
    line = next(x for x in table.plain.splitlines() if x.startswith("stopped"))
    # (A narrow terminal may fold the reason onto the next line.)
    assert f"epoch {data['epochs_run']}" in line and "--within 0.05)" in table.plain
    assert "stop when" in table.plain and "within 5% of the optimum (relative gap <= 0.05)" in table.plain


# ---- Ctrl-C: a real SIGINT to a real gdcli process -------------------------------------------------------------


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GDCLI_PROGRESS_SECONDS": "0.2", "NO_COLOR": "1"}
    return subprocess.Popen([sys.executable, "-m", "gdcli", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def interrupt(args: list[str], cwd: Path, twice: bool = False) -> tuple[int, str, str]:
    """Start a long run, wait until it trains (its first progress line), press Ctrl-C (twice: abort)."""
    proc = start([*args, "--progress", "lines"], cwd)
    line = proc.stderr.readline()
    deadline = time.monotonic() + 60
    # Skip notes before training (a long run's time estimate names its epochs too).
    while ("epochs" not in line or line.startswith("note:")) and time.monotonic() < deadline:
        line = proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    if twice:
        time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, line + err


LONG = ["--epochs", "50000000", "--log-every", "10000000"]


@pytest.mark.xdist_group("signals")  # a timed real process (see test_signals.py)
def test_ctrl_c_reports_what_was_trained_and_ends_by_sigint(tmp_path):
    """A real SIGINT to a real process; the other outputs are checked in process below."""
    code, out, err = interrupt(["fit", *LONG, "--output", "json", "--save", "run.json"], tmp_path)
    assert code == -signal.SIGINT, err
    assert "interrupted at epoch" in err and "Traceback" not in err
    epoch = int(err.split("interrupted at epoch ")[1].split()[0])
    data = json.loads(out)
    assert data["interrupted"] is True and data["epochs_run"] == epoch == data["history"][-1]["epoch"]
    assert len(data["history"]) == epoch
    saved = json.loads((tmp_path / "run.json").read_text())
    assert saved["interrupted"] is True and saved["epochs_run"] == epoch
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temporary file left behind


# --history changes json and csv only.
FORMATS = [("table", "all"), ("json", "all"), ("json", "logged"), ("jsonl", "all"), ("csv", "all"), ("csv", "logged")]


@pytest.mark.parametrize("output, history", FORMATS)
def test_an_interrupted_fit_reports_what_was_trained_in_every_format(run_cli, monkeypatch, tmp_path, output, history):
    monkeypatch.setattr(ctrl_c, "catch", pressed_after(200))
    saved = tmp_path / "run.json"
    result = run_cli("fit", "--epochs", "100000", "--log-every", "10000", "--output", output, "--save", saved,
                     "--history", history)
    assert result.exit_code == 130, result.output
    assert "interrupted at epoch" in result.stderr and "Traceback" not in result.output
    epoch = int(result.stderr.split("interrupted at epoch ")[1].split()[0])
    assert 0 < epoch < 100000
    out = result.stdout
    if output == "table":
        assert "result (optimum" in out and f"epoch {epoch}" in out and "interrupted (Ctrl-C)" in out
        assert f"│ {epoch:>5} │" in out or f"│ {epoch} │" in out  # the table's last row is the epoch it stopped at
    elif output == "json":
        data = json.loads(out)
        assert data["interrupted"] is True and data["epochs_run"] == epoch == data["history"][-1]["epoch"]
        logged = {1, 2, 3, epoch}  # the first three and the stop
        assert [h["epoch"] for h in data["history"]] == (list(range(1, epoch + 1)) if history == "all" else sorted(logged))
    elif output == "jsonl":
        last = json.loads(out.splitlines()[-1])
        assert last["type"] == "run" and last["interrupted"] is True and last["stopped"]["epoch"] == epoch
    else:
        assert int(out.splitlines()[-1].split(",")[0]) == epoch
    data = json.loads(saved.read_text())
    assert data["interrupted"] is True and data["epochs_run"] == epoch
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temporary file left behind


@pytest.mark.xdist_group("signals")  # a timed real process (see test_signals.py)
def test_ctrl_c_in_a_sweep_reports_every_run(tmp_path):
    code, out, err = interrupt(["sweep", "--lr", "1e-4:1e-2", "--num", "4", *LONG, "--output", "json"], tmp_path)
    assert code == -signal.SIGINT, err
    data = json.loads(out)
    assert data["interrupted"] is True and len(data["runs"]) == 4
    assert all(r["stopped"]["rule"] == "interrupted" for r in data["runs"])


@pytest.mark.xdist_group("signals")  # a timed real process (see test_signals.py)
def test_a_second_ctrl_c_aborts_and_writes_nothing(tmp_path):
    code, out, err = interrupt(["fit", *LONG, "--save", "run.json", "--plot-file", "fit.png"], tmp_path, twice=True)
    assert code == -signal.SIGINT and "aborted (Ctrl-C)" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_sweep_csv_says_which_runs_stopped(run_cli):
    result = run_cli("sweep", "--lr", "1e-3,3e-2", "--tol", "1e-5", "--patience", "50", "--epochs", "5000",
                     "--output", "csv")
    header, *rows = [line.split(",") for line in result.stdout.splitlines()]
    assert header[-3:] == ["epochs_run", "stopped_by", "stopped_at"]
    by_lr = {float(r[0]): r for r in rows}
    assert by_lr[0.03][-2] == "patience" and by_lr[0.03][-3] == by_lr[0.03][-1]
    assert by_lr[0.001][-3:] == ["5000", "", ""]


def test_a_growing_schedule_is_blamed_on_its_largest_lr(run_cli):
    result = run_cli("fit", "--schedule", "exponential", "--gamma", "1.001", "--epochs", "3000")
    assert result.exit_code == 3
    assert "--schedule exponential's largest lr 0.200354 (from --lr 0.01) is 6.08x that" in result.stderr
    assert "Lower --lr so that the schedule peaks below 3.298e-02" in result.stderr
    assert "not the cause" not in result.stderr
    onecycle = run_cli("fit", "--schedule", "onecycle", "--max-lr", "0.04", "--epochs", "3000")
    assert onecycle.exit_code == 3 and "Lower --max-lr so that the schedule peaks below" in onecycle.stderr
