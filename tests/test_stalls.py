"""Runs that would stall or mislead without a word: the real reason gram is left out of a gradient
check, a finite-difference step too small to change the loss, parameters that never move, and
work that goes on after the reader of stdout has gone."""

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import book
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdcli import data

GIB = 1024**3


@pytest.mark.parametrize("command", ["grad", "compare"])
def test_gram_left_out_for_memory_says_so(monkeypatch, run_cli, command):
    monkeypatch.setattr(data, "available_memory", lambda: GIB // 16)
    args = ["--dataset", "synthetic", "--features", "3000", "--rows", "10"]
    if command == "compare":
        args += ["--epochs", "2", "--quiet"]  # the default methods: gram is asked for, then left out
    out = run_cli(command, *args)
    assert out.exit_code == 0, out.plain
    # nine float64 3,001-square matrices (the Gram matrix's copies and three per run): 0.6 GiB
    need = 9 * 3001**2 * 8 / GIB
    assert f"gram: left out, its 3,001 x 3,001 matrices need about {need:.1f} GiB of memory; 0.1 GiB is available" \
        in out.plain, out.plain
    assert "not linear" not in out.plain


def test_a_method_left_out_that_was_not_asked_for_goes_unmentioned(run_cli):
    out = run_cli("compare", "--model", "mlp", "--methods", "autograd", "--epochs", "2", "--quiet")
    assert out.exit_code == 0 and "gram: left out" not in out.plain, out.plain


def test_gram_left_out_of_a_network_says_why(run_cli):
    out = run_cli("grad", "--dataset", "celsius", "--model", "mlp")
    assert out.exit_code == 0, out.plain
    assert "gram: left out, the mlp model is not linear in its parameters" in out.plain


# --- a finite-difference step whose loss differences all round to 0 ---------------------------


def _celsius_loss(w: float, b: float, dtype) -> float:
    """The book's mean squared error at (w, b) on the inputs scaled by 0.1 (gdcli's default --scale), in dtype."""
    t_c = torch.tensor(book.T_C, dtype=dtype)
    t_u = torch.tensor(book.T_U, dtype=dtype) * torch.tensor(0.1, dtype=dtype)
    return float(((w * t_u + b - t_c) ** 2).mean())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_delta_lost_in_the_loss_is_refused(run_cli, dtype):
    torch_dtype = getattr(torch, dtype)
    d = torch.tensor(1e-30, dtype=torch_dtype)
    # The reference: at w = b = 0, theta +- delta moves theta, yet the loss is the same on both sides.
    assert float(d) != 0
    assert _celsius_loss(float(d), 0.0, torch_dtype) == _celsius_loss(-float(d), 0.0, torch_dtype)
    out = run_cli("fit", "--method", "finite-diff", "--delta", "1e-30", "--init", "zeros", "--epochs", "5",
                  "--dtype", dtype, "--quiet")
    assert out.exit_code == 2, out.plain
    assert "--delta 1e-30 is too small" in out.plain and "exactly 0" in out.plain
    assert "use --delta 0.1" in out.plain and "Traceback" not in out.plain


@pytest.mark.parametrize("command", [
    ["compare", "--delta", "1e-30", "--init", "zeros", "--epochs", "3", "--quiet"],
    ["sweep", "--method", "finite-diff", "--delta", "1e-30", "--init", "zeros", "--epochs", "3", "--lr", "1e-3:1e-2", "--num", "2"],
    ["grad", "--dataset", "celsius", "--delta", "1e-30", "--params", "0,0"],
])
def test_every_command_refuses_a_delta_lost_in_the_loss(run_cli, command):
    out = run_cli(*command)
    assert out.exit_code == 2, out.plain
    assert "--delta 1e-30 is too small" in out.plain


def test_a_small_delta_that_moves_the_loss_still_trains(run_cli):
    out = run_cli("fit", "--method", "finite-diff", "--delta", "1e-3", "--init", "zeros", "--epochs", "3", "--quiet")
    assert out.exit_code == 0, out.plain


# --- a run that stands still -------------------------------------------------------------------


def test_a_float32_run_whose_loss_never_changes_is_warned_of(run_cli):
    # The reference: w = 1 in float32 does not move by 1e-12 times the gradient at the start (about 78).
    one = torch.tensor(1.0, dtype=torch.float32)
    assert one - torch.tensor(1e-12 * 78, dtype=torch.float32) == one
    out = run_cli("fit", "--lr", "1e-12", "--epochs", "5", "--quiet", "--output", "csv")
    assert out.exit_code == 0, out.plain
    assert "warning: the run stood still: in 5 epochs its training loss never changed" in out.plain
    assert "Use a larger --lr, or --dtype float64." in out.plain


def test_a_run_ending_at_its_start_is_warned_of(run_cli):
    out = run_cli("fit", "--lr", "1e-30", "--init", "1,2", "--dtype", "float64", "--epochs", "2", "--quiet")
    assert out.exit_code == 0, out.plain
    assert "in 2 epochs its parameters ended exactly where they started" in out.plain
    assert "--dtype float64" not in out.plain.split("stood still")[1]


def test_a_run_that_moves_is_not_warned_of(run_cli):
    out = run_cli("fit", "--lr", "1e-3", "--epochs", "5", "--quiet")
    assert out.exit_code == 0 and "stood still" not in out.plain


def test_compare_and_sweep_note_runs_that_stood_still(run_cli):
    out = run_cli("compare", "--lr", "1e-12", "--epochs", "3", "--methods", "analytic,autograd")
    assert out.exit_code == 0, out.plain
    assert "note: analytic:gd: stood still, its training loss never changed" in out.plain
    out = run_cli("sweep", "--lr", "1e-13:1e-2", "--num", "4", "--epochs", "3", "--output", "json")
    assert out.exit_code == 0, out.plain
    notes = json.loads(out.stdout)["notes"]
    assert any(n.startswith("2 runs (lr 1.000e-13 to 4.642e-10) stood still") for n in notes), notes


# --- a reader that leaves after the first line ---------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.xdist_group("signals")  # a timed real process (see test_signals.py)
@pytest.mark.parametrize("command", [
    ["fit", "--output", "csv", "--epochs", "50000000", "--quiet"],
    ["compare", "--output", "jsonl", "--epochs", "5000000", "--quiet"],
    ["sweep", "--output", "jsonl", "--epochs", "5000000", "--lr", "1e-3:1e-2", "--num", "3", "--quiet"],
])
def test_a_reader_that_takes_one_line_stops_the_training(tmp_path, command):
    # gdcli ... | head -1: the first line must come before the training ends, and its reader's leaving stop it.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "gdcli", *command], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert select.select([proc.stdout], [], [], 30)[0], "nothing was written before the training ended"
        first = proc.stdout.readline()
        proc.stdout.close()
        closed = time.monotonic()
        err = proc.stderr.read()
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert first.startswith("epoch,train_loss") or json.loads(first)["type"] in ("gradient", "grid")
    # Far sooner than the run's own end (minutes): the poll notices the reader left within a chunk.
    assert proc.returncode == 0 and time.monotonic() - closed < 20, err
    assert err == ""


# --- every combination ends cleanly ------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    command=st.sampled_from(["fit", "compare", "sweep"]),
    method=st.sampled_from(["finite-diff", "autograd", "gram"]),
    delta=st.sampled_from([None, "1e-30", "1e-3", "1e-45"]),
    lr=st.sampled_from(["1e-40", "1e-12", "1e-2", "1"]),
    init=st.sampled_from(["zeros", "ones", "uniform"]),
    dtype=st.sampled_from(["float32", "float64"]),
    output=st.sampled_from(["table", "json", "jsonl", "csv"]),
)
def test_small_steps_end_in_a_clean_exit(run_cli, command, method, delta, lr, init, dtype, output):
    args = [command, "--init", init, "--dtype", dtype, "--output", output, "--epochs", "3", "--quiet"]
    args += ["--delta", delta] if delta else []
    if command == "sweep":
        args += ["--method", method, "--lr", f"{lr},1e-3"]
    else:
        args += ["--lr", lr] + (["--method", method] if command == "fit" else [])
    out = run_cli(*args)
    assert out.exit_code in (0, 2, 3), out.plain
    assert "Traceback" not in out.plain
