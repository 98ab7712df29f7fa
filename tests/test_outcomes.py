"""One verdict per run, one output layer: each bug the correctness pass found, through the CLI.

Every test here failed before the fix it names. References are the exact
stability bound 2/lambda_max (computed here from the data), torch.linalg.lstsq,
and the book's numbers (tests/book.py).
"""

import csv
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import book
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("wide_console")


def as_json(result):
    assert result.exit_code in (0, 3), result.output
    return json.loads(result.stdout)


def bound(scale=0.1, weight_decay=0.0, momentum=0.0, dtype=torch.float32):
    """2(1 + m) / (lambda_max + wd) for the book's rows, from the Hessian of the mean squared error."""
    t_u = (torch.tensor(book.T_U, dtype=dtype) * scale).double()  # scaled in the training dtype, as gdcli does
    X = torch.stack([t_u, torch.ones_like(t_u)], 1)
    lam = float(torch.linalg.eigvalsh(2 / len(t_u) * X.T @ X)[-1])
    return 2 * (1 + momentum) / (lam + weight_decay)


# ---- verdicts ----


def test_a_sweep_with_one_lr_and_several_momenta_trains(run_cli):
    result = run_cli("sweep", "--optim", "sgd", "--momentum", "0,0.9", "--epochs", "50", "--output", "json")
    data = as_json(result)
    assert [r["momentum"] for r in data["runs"]] and {r["momentum"] for r in data["runs"]} == {0.0, 0.9}


def test_tiny_learning_rates_are_converging_not_diverged(run_cli):
    data = as_json(run_cli("sweep", "--lr", "1e-12,1e-11,1e-10,1e-9", "--epochs", "3", "--output", "json"))
    assert [r["verdict"] for r in data["runs"]] == ["converging"] * 4
    result = run_cli("fit", "--lr", "1e-12", "--epochs", "3")
    assert result.exit_code == 0 and "rose" not in result.output and "diverged" not in result.output
    # What it does say: the steps were too small to move the parameters.
    assert "warning: the run stood still: in 3 epochs its training loss never changed" in " ".join(result.stderr.split())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_run_above_the_bound_has_diverged_in_either_dtype(run_cli, dtype):
    result = run_cli("fit", "--scale", "1", "--lr", "3.5e-4", "--epochs", "3000", "--dtype", dtype, "--output", "json")
    assert result.exit_code == 3, result.output
    data = json.loads(result.stdout)
    assert data["verdict"] == "diverged" and data["stable_lr"] == pytest.approx(bound(1.0), rel=1e-6)


def test_an_lr_a_hair_above_the_exact_bound_is_unstable_in_a_sweep(run_cli):
    assert 0.03299 > bound() > 0.0329  # the book's scaled rows: 0.032978
    data = as_json(run_cli("sweep", "--lr", "0.03299,0.01", "--epochs", "200", "--output", "json"))
    by_lr = {r["lr"]: r for r in data["runs"]}
    assert by_lr[0.03299]["verdict"] == "unstable" and "stability bound" in by_lr[0.03299]["reason"]
    assert by_lr[0.01]["verdict"] == "converging"
    table = run_cli("sweep", "--lr", "0.03299,0.01", "--epochs", "200").stdout
    assert "unstable" in table and "1 unstable" in table


def test_fit_warns_when_unstable_but_exits_0(run_cli):
    result = run_cli("fit", "--lr", "0.03299", "--epochs", "200")
    assert result.exit_code == 0
    assert "warning: the run is unstable" in result.stderr and "3.2978e-02" in result.stderr


@pytest.mark.parametrize("weight_decay", [0.5, 2.0])
def test_weight_decay_moves_the_bound_and_the_verdict(run_cli, weight_decay):
    limit = bound(weight_decay=weight_decay, dtype=torch.float64)
    common = ["--optim", "sgd", "--weight-decay", str(weight_decay), "--epochs", "3000", "--dtype", "float64"]
    below = as_json(run_cli("fit", *common, "--lr", repr(0.97 * limit), "--output", "json"))
    assert below["stable_lr"] == pytest.approx(limit, rel=1e-9) and below["verdict"] == "converging"
    above = run_cli("fit", *common, "--lr", repr(1.03 * limit), "--output", "json")
    assert above.exit_code == 3 and json.loads(above.stdout)["verdict"] == "diverged"
    assert f"weight decay {weight_decay:g}" in above.stderr


def test_only_the_validation_loss_overflows(run_cli, tmp_path):
    # Nine small training rows and one held-out row far out: as w grows, only the validation loss overflows.
    n, seed = 10, 42
    held_out = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()[-1]
    rows = [(float(i) / 10, float(i) / 10 * 300.0) for i in range(n)]
    rows[held_out] = (1e17, 0.0)
    path = tmp_path / "far.csv"
    path.write_text("x,y\n" + "".join(f"{x!r},{y!r}\n" for x, y in rows))
    result = run_cli("fit", "--dataset", path, "--val-fraction", "0.1", "--lr", "0.5", "--epochs", "300", "--output", "json")
    assert result.exit_code == 3, result.output
    data = json.loads(result.stdout)
    assert data["verdict"] == "diverged" and "validation loss" in data["reason"]
    assert all(h["train_loss"] is not None for h in data["history"])
    assert "the validation loss is inf" in result.stderr


def test_divergence_advice_names_the_start_when_the_lr_is_not_the_cause(run_cli):
    result = run_cli("fit", "--init", "1e30,0", "--epochs", "5")
    assert result.exit_code == 3
    assert "starts far from the data" in result.stderr and "--init" in result.stderr
    assert "Lower --lr" not in result.stderr


def test_the_book_divergence_still_blames_the_lr(run_cli):
    result = run_cli("fit", "--scale", "1", "--epochs", "20")
    assert result.exit_code == 3
    assert f"diverged at epoch {book.DIVERGED_AT}" in result.stderr and "Lower --lr below 3.399e-04" in result.stderr


def test_exact_fit_is_decided_from_the_data(run_cli, tmp_path):
    # An offset line with noise: its optimum loss is small but real, not an exact fit.
    path = tmp_path / "offset.csv"
    noise = [0.05, -0.1, 0.08, -0.02, 0.11, -0.07, 0.03, -0.09]
    path.write_text("x,y\n" + "".join(f"{i},{100 + 2 * i + e}\n" for i, e in enumerate(noise)))
    result = run_cli("fit", "--dataset", path, "--normalize", "--lr", "0.1", "--epochs", "500")
    assert "fits these rows exactly" not in result.stdout and "relative to the optimum" in result.stdout
    # An exact line does fit exactly, whatever the start.
    exact = tmp_path / "exact.csv"
    exact.write_text("x,y\n" + "".join(f"{i},{1 + 2 * i}\n" for i in range(8)))
    for init in ("ones", "1e6,0", "2,1"):
        result = run_cli("fit", "--dataset", exact, "--normalize", "--lr", "0.1", "--epochs", "300", "--init", init,
                         "--dtype", "float64")
        assert "the optimum fits these rows exactly" in result.stdout, (init, result.output)
        assert "-1.00e+00" not in result.stdout


# ---- sizes, grids and messages ----


def test_grids_are_sized_before_anything_is_built(run_cli):
    result = run_cli("sweep", "--lr", "1e-5:1e-1", "--num", "100000000")
    assert result.exit_code == 2 and "--num must be from 2 to 10,000" in result.stderr
    result = run_cli("sweep", "--seeds", "0:20000")
    assert result.exit_code == 2 and "gives 20,001 seeds" in result.stderr
    result = run_cli("sweep", "--lr", "1e-4:1e-1", "--num", "100", "--seeds", "0:99", "--momentum", "0,0.5", "--optim", "sgd")
    assert result.exit_code == 2 and "the grid has 20,000 runs (100 lr x 2 momentum x 100 seed)" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seed", "7", "--seeds", "1:2"], "--seed and --seeds both given"),
        (["--lr", "1e-3:1e-1", "--num", "1"], "--num must be from 2"),
        (["--lr", "0.01", "--num", "5"], "--num applies to a LOW:HIGH range"),
        (["--lr", "1e-2:1e-2"], "an empty range"),
        (["--lr", "0.1,0.1"], "lists a value twice"),
        (["--seeds", "3,3"], "lists a seed twice"),
    ],
)
def test_each_grid_rule_is_said(run_cli, args, message):
    result = run_cli("sweep", "--epochs", "3", *args)
    assert result.exit_code == 2 and message in result.stderr, result.output


def test_compare_refuses_an_empty_entry_as_sweep_does(run_cli):
    result = run_cli("compare", "--optims", "gd,,adam", "--epochs", "3")
    assert result.exit_code == 2 and "empty entry" in result.stderr


def test_messages_count_in_the_right_number(run_cli, tmp_path):
    path = tmp_path / "two.csv"
    path.write_text("x,y\n1,2\n2,4\n")
    result = run_cli("fit", "--dataset", path, "--val-fraction", "0.5", "--epochs", "1")
    assert "1 train row / 1 validation row" in result.stdout and "1 epoch in" in result.stdout
    result = run_cli("sweep", "--epochs", "2")
    assert "sweep: 1 run," in result.stdout and "0 of 1 run diverged" in result.stdout


# ---- output: one layer, every format ----


def test_user_text_is_printed_as_text_never_markup(run_cli, tmp_path):
    path = tmp_path / "units.csv"
    path.write_text("weight [kg],height [cm]\n60,160\n70,172\n80,181\n")
    result = run_cli("fit", "--dataset", path, "--normalize", "--epochs", "5")
    assert result.exit_code == 0 and "weight [kg] -> height [cm]" in result.stdout
    odd = tmp_path / "odd.csv"
    odd.write_text("a,b [/]\n1,2\n2,4\n3,6\n")
    result = run_cli("fit", "--dataset", odd, "--epochs", "5")
    assert result.exit_code == 0 and "a -> b [/]" in result.stdout


def test_predict_csv_keeps_a_column_name_with_a_comma_in_one_cell(run_cli, tmp_path):
    path = tmp_path / "comma.csv"
    path.write_text('"speed, km/h","time, s"\n10,36\n20,18\n30,12\n')
    saved = tmp_path / "run.json"
    assert run_cli("fit", "--dataset", path, "--normalize", "--epochs", "50", "--save", saved).exit_code == 0
    result = run_cli("predict", saved, "15", "25", "--output", "csv")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["speed, km/h", "time, s_predicted"] and len(rows) == 3
    assert [float(r[0]) for r in rows[1:]] == [15.0, 25.0]


def test_saved_runs_get_the_mode_a_normal_write_gets(run_cli, tmp_path):
    saved = tmp_path / "run.json"
    old = os.umask(0o022)
    try:
        assert run_cli("fit", "--epochs", "3", "--save", saved).exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o644


def test_jsonl_lines_say_what_they_are(run_cli):
    fit = [json.loads(line) for line in run_cli("fit", "--epochs", "20", "--output", "jsonl").stdout.splitlines()]
    assert {line["type"] for line in fit[:-1]} == {"epoch"} and fit[-1]["type"] == "run"
    compare = [json.loads(line) for line in run_cli("compare", "--epochs", "20", "--output", "jsonl").stdout.splitlines()]
    assert [line["type"] for line in compare] == ["gradient"] * 4 + ["run"] * 4 + ["summary"]
    assert compare[-1]["runs"] == 4 and compare[-1]["converging"] == 4
    sweep = [json.loads(line) for line in run_cli("sweep", "--lr", "0.01,0.02", "--epochs", "20", "--output", "jsonl").stdout.splitlines()]
    assert [line["type"] for line in sweep] == ["grid", "run", "run", "summary"]


def test_compare_and_sweep_csv(run_cli):
    rows = list(csv.reader(io.StringIO(run_cli("compare", "--epochs", "7", "--output", "csv").stdout)))
    assert rows[0] == ["epoch", "finite-diff:gd", "analytic:gd", "autograd:gd", "gram:gd"] and len(rows) == 8
    assert float(rows[1][3]) == pytest.approx(book.SCALED_START_LOSS, rel=book.REL)
    out = run_cli("sweep", "--lr", "0.01,0.02,1", "--epochs", "30", "--output", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [float(r["lr"]) for r in rows] == [0.02, 0.01, 1.0]  # best first, the diverged run last
    assert rows[-1]["verdict"] == "diverged" and rows[-1]["diverged_at"]


def test_sweep_top_shows_the_best_n_and_keeps_every_run_in_json(run_cli):
    result = run_cli("sweep", "--lr", "1e-3:1e-2", "--num", "6", "--epochs", "30", "--top", "2")
    assert "(the best 2 shown)" in result.stdout
    numbered = [line for line in result.stdout.splitlines() if line.strip()[:2] in ("1 ", "2 ", "3 ")]
    assert len(numbered) == 2
    data = as_json(run_cli("sweep", "--lr", "1e-3:1e-2", "--num", "6", "--epochs", "30", "--top", "2", "--output", "json"))
    assert len(data["runs"]) == 6


def test_compare_within_and_momentum_routing(run_cli):
    data = as_json(run_cli("compare", "--methods", "autograd", "--optims", "gd,sgd", "--momentum", "0.9",
                           "--epochs", "2000", "--within", "0.5", "--output", "json"))
    by = {r["optim"]: r for r in data["runs"]}
    assert by["sgd"]["config"]["momentum"] == 0.9 and by["gd"]["config"]["momentum"] == 0.0
    loose = by["gd"]["first_within"]
    # --within also stops each run at the epoch it reports.
    assert by["gd"]["epochs_run"] == loose and by["gd"]["stopped"]["rule"] == "within"
    tight = as_json(run_cli("compare", "--methods", "autograd", "--epochs", "5000", "--output", "json"))
    assert data["within"] == 0.5 and tight["within"] == 0.01
    assert loose < tight["runs"][0]["first_within"] and tight["runs"][0]["stopped"] is None
    result = run_cli("compare", "--optims", "gd,adam", "--momentum", "0.9", "--epochs", "5")
    assert result.exit_code == 2 and "--momentum applies to none of the optimizers compared" in result.stderr


def test_sweep_ranks_by_validation_loss_when_there_is_a_split(run_cli):
    result = run_cli("sweep", "--val-fraction", "0.2", "--lr", "0.005,0.01,0.02", "--epochs", "100")
    assert "best first by validation loss" in result.stdout and "validation loss" in result.stdout.split("best:")[1]
    data = as_json(run_cli("sweep", "--val-fraction", "0.2", "--lr", "0.005,0.01,0.02", "--epochs", "100", "--output", "json"))
    vals = [r["final"]["val_loss"] for r in data["runs"]]
    assert data["ranked_by"] == "val_loss" and vals == sorted(vals)


def test_history_logged_keeps_only_the_logged_epochs(run_cli):
    data = as_json(run_cli("fit", "--epochs", "100", "--history", "logged", "--output", "json"))
    assert [h["epoch"] for h in data["history"]] == [1, 2, 3, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    full = as_json(run_cli("fit", "--epochs", "100", "--output", "json"))
    assert len(full["history"]) == 100


def test_a_value_float32_cannot_square_is_refused_before_anything_prints(run_cli, tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("x,y\n1,2\n2,1e39\n3,6\n")
    result = run_cli("fit", "--dataset", path, "--epochs", "3")
    assert result.exit_code == 2 and result.stdout == ""
    assert "line 3" in result.stderr and "'y'" in result.stderr and "float64" in result.stderr


# ---- memory and start-up ----


def run_python(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


PEAKS = """
import resource
from gdcli.train import fit, resolve

def peak_after(epochs, method):
    t = fit(resolve("synthetic", rows=100_000, epochs=epochs, method=method))
    for _ in t.chunks():
        pass
    t.result()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

print(peak_after(20, "autograd"), peak_after(400, "autograd"), peak_after(400, "analytic"))
"""


def test_memory_stays_flat_across_epochs():
    short, autograd, analytic = map(float, run_python(PEAKS).split())
    # MB; before, a 1e5-row fit grew by about 0.12 MB an epoch (a small tensor kept per epoch): 48 MB over
    # 400 epochs, where a flat run grows by well under 1 MB.
    assert autograd - short < 20 and analytic - short < 20, (short, autograd, analytic)


def test_training_never_loads_sympy():
    code = (
        "import sys\nfrom gdcli.train import Trainer, resolve\nfrom dataclasses import replace\n"
        "base = resolve('celsius', epochs=20)\n"
        "for configs in ([base], [base, replace(base, lr=0.02)]):\n"
        "    t = Trainer(configs)\n    [c for c in t.chunks()]\n    t.results()\n"
        "print('sympy' in sys.modules)\n"
    )
    assert run_python(code).strip() == "False"


# ---- from the review: edges of the verdict and the history ----


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_a_mini_batch_epoch_loss_is_the_loss_over_all_rows(run_cli, reduction):
    # At a vanishing lr every batch sees the starting parameters: the epoch's loss is the start loss.
    data = as_json(run_cli("fit", "--lr", "1e-12", "--epochs", "2", "--batch-size", "4", "--reduction", reduction,
                           "--output", "json"))
    assert data["history"][0]["train_loss"] == pytest.approx(data["start_loss"], rel=1e-6)


OPTIMUM = "5.367718881535289,-17.30478497908192"  # the scaled book rows' least-squares w, b


@pytest.mark.parametrize("args", [["--optim", "sgd", "--weight-decay", "0.5", "--epochs", "100"],
                                  ["--batch-size", "1", "--lr", "0.001", "--epochs", "10"]])
def test_starting_at_the_optimum_is_not_divergence(run_cli, args):
    # Weight decay pulls the plain loss up on purpose; per-sample noise lifts it a little.
    result = run_cli("fit", "--init", OPTIMUM, *args, "--output", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["verdict"] == "converging"


def test_noisy_data_far_from_zero_is_not_an_exact_fit(run_cli, tmp_path):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(40, generator=gen, dtype=torch.float64) * 10
    y = 10000 + 2 * x + 0.5 * torch.randn(40, generator=gen, dtype=torch.float64)
    path = tmp_path / "offset.csv"
    path.write_text("x,y\n" + "".join(f"{a!r},{b!r}\n" for a, b in zip(x.tolist(), y.tolist())))
    data = as_json(run_cli("fit", "--dataset", path, "--normalize", "--lr", "0.1", "--epochs", "200", "--output", "json"))
    assert data["optimum"]["exact_fit"] is False and data["relative_gap"] is not None
    X = torch.stack([x, torch.ones_like(x)], 1)
    best = torch.linalg.lstsq(X, y.unsqueeze(1)).solution
    assert data["optimum"]["loss"] == pytest.approx(float(((X @ best).squeeze(1) - y).square().mean()), rel=1e-9)


def test_the_optimum_is_measured_on_the_data_before_rounding(run_cli, tmp_path):
    # float32 rounds 1e8 + i to steps of 8: training on those rows cannot reach the true optimum.
    path = tmp_path / "big.csv"
    path.write_text("t,y\n" + "".join(f"{1e8 + i},{0.5 * i}\n" for i in range(50)))
    data = as_json(run_cli("fit", "--dataset", path, "--lr", "1e-17", "--epochs", "3", "--output", "json"))
    # y = 0.5 (t - 1e8) exactly: the optimum fits every row. (A solver on the raw columns
    # loses it: 1e8 + i against a column of ones is conditioned too badly; centred, it is not.)
    t = torch.tensor([1e8 + i for i in range(50)], dtype=torch.float64)
    centred = torch.stack([t - t.mean()], 1)
    y = 0.5 * torch.arange(50, dtype=torch.float64)
    best = torch.linalg.lstsq(centred, (y - y.mean()).unsqueeze(1), driver="gelsd").solution
    assert data["optimum"]["params"]["weight"][0][0] == pytest.approx(float(best), rel=1e-12) == 0.5
    assert data["optimum"]["loss"] == pytest.approx(0.0, abs=1e-12) and data["optimum"]["exact_fit"]
    assert data["final"]["loss"] > 1.0  # float32 rows, and an lr that barely moves: far from it


def test_a_logged_history_plots_against_its_own_epochs():
    from gdcli import figures
    from gdcli.data import load_dataset
    from gdcli.train import fit, resolve

    trainer = fit(resolve("celsius", epochs=500), history="logged")
    for _ in trainer.chunks():
        pass
    result = trainer.result()
    (curves, _) = figures.fit_panels(result, load_dataset("celsius"))
    epochs, _ = curves.series["train"]
    assert epochs == result.epochs and epochs[-1] == 500


def test_a_sweep_keeps_each_runs_divergence_epoch_and_its_record():
    from dataclasses import replace

    from gdcli.train import Trainer, resolve

    base = resolve("celsius", epochs=100, log_every=10)
    trainer = Trainer([base, replace(base, lr=0.5)], history="logged")
    for _ in trainer.chunks():
        pass
    ok, bad = trainer.result(0), trainer.result(1)
    assert bad.verdict.cause == "nonfinite" and bad.diverged_at % 10 != 0  # not a logged epoch
    assert bad.diverged_at in bad.epochs and bad.records[-1].epoch == bad.diverged_at
    assert bad.records[-1].grad_norm is not None  # computed again from the epoch's starting parameters
    assert bad.epochs_run == bad.diverged_at and ok.epochs_run == 100


def test_a_reader_that_leaves_early_stops_the_output_not_the_work(tmp_path):
    """gdcli fit ... | head -1: the run is still saved, and a divergence found before the reader left exits 3
    with its reason."""
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    run = f"{sys.executable} -m gdcli"
    script = (
        f"{run} fit --epochs 5 --save {tmp_path / 'r.json'} | head -1 > /dev/null; a=${{PIPESTATUS[0]}}; "
        f"{run} fit --scale 1 --output jsonl --log-every 1 | head -1 > /dev/null; echo $a ${{PIPESTATUS[0]}}"
    )
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    saved, diverging = done.stdout.split()
    assert saved == "0", done.stderr
    assert (tmp_path / "r.json").is_file()
    # The reader's leaving stops the work at the next chunk: a run that diverged before then exits 3 with its
    # reason; one stopped first (a busy machine lets head leave sooner) exits 0 without a verdict.
    assert diverging in ("0", "3"), done.stderr
    assert ("diverged at epoch 11" in done.stderr) == (diverging == "3") and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["grad", "--dataset", "celsius", "--at", "x=1"], "--at is for an expression, not for a dataset's loss"),
        (["grad", "x*x", "--at", "x=3", "--dtype", "float32"], "--dtype is for a dataset's loss, not for an expression"),
        (["fit", "--dataset", ""], "--dataset is empty"),
        (["fit", "--init", "1_0,0"], "is neither ones, zeros, randn, uniform nor a list of numbers"),
    ],
)
def test_options_that_would_be_ignored_are_refused(run_cli, args, message):
    result = run_cli(*args)
    assert result.exit_code == 2 and message in result.stderr, result.output


def test_a_sweep_shows_a_risen_runs_numbers_and_names_each_bound(run_cli):
    out = run_cli("sweep", "--lr", "0.03,0.0331", "--epochs", "200").stdout
    risen = next(line for line in out.splitlines() if " rose " in line)
    assert "w=[" in risen and " - " not in risen
    out = run_cli("sweep", "--optim", "sgd", "--momentum", "0,0.9", "--epochs", "20").stdout
    assert "with momentum 0.9 (2(1+m)/largest Hessian eigenvalue)" in out
    assert "with momentum 0 (2/largest Hessian eigenvalue)" in out
