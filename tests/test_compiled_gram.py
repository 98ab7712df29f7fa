"""The synthetic preset's lr from the rows' stability bound; the gram method at many features; --compile's
one-feature elementwise path against eager."""

import json

import pytest
import torch

import gdcli
from gdcli.errors import flags_in


def drawn_inputs(rows: int, features: int, seed: int = 42) -> torch.Tensor:
    """The synthetic dataset's x as its description states it: U(0, 1) values drawn one after another from the seed."""
    gen = torch.Generator().manual_seed(seed)
    return torch.empty(rows * features, dtype=torch.float64).uniform_(generator=gen).view(rows, features)


def half_bound(rows: int, features: int, momentum: float = 0.0, weight_decay: float = 0.0) -> float:
    """Half of 2(1 + m) / (lambda_max + wd) of the mean squared loss's Hessian (2/n) [X 1]^T [X 1]."""
    X = torch.cat([drawn_inputs(rows, features), torch.ones(rows, 1, dtype=torch.float64)], 1)
    top = float(torch.linalg.eigvalsh(2.0 / rows * X.T @ X).max())
    return 0.5 * 2.0 * (1.0 + momentum) / (top + weight_decay)


def fit_json(run_cli, *args):
    result = run_cli("fit", "--dataset", "synthetic", "--output", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("features", [1, 5, 20, 50])
def test_synthetic_preset_lr_is_half_the_bound_and_trains(run_cli, features):
    doc = fit_json(run_cli, "--features", str(features), "--rows", "80", "--epochs", "40")
    assert doc["config"]["lr"] == pytest.approx(half_bound(80, features), rel=1e-9)
    assert not doc["diverged"] and doc["verdict"] != "unstable"
    assert doc["final"]["loss"] < doc["start_loss"]


def test_synthetic_preset_takes_momentum_and_weight_decay(run_cli):
    doc = fit_json(run_cli, "--features", "8", "--rows", "60", "--epochs", "20", "--optim", "sgd",
                   "--momentum", "0.9", "--weight-decay", "0.01")
    assert doc["config"]["lr"] == pytest.approx(half_bound(60, 8, 0.9, 0.01), rel=1e-9)
    assert not doc["diverged"]


def test_mini_batches_take_plain_descents_bound_whatever_their_momentum(run_cli):
    """Batches of 8 with momentum 0.9 diverged at half of heavy ball's full-batch bound (50 features)."""
    doc = fit_json(run_cli, "--features", "50", "--rows", "1000", "--epochs", "100", "--optim", "sgd",
                   "--batch-size", "8", "--momentum", "0.9")
    assert doc["config"]["lr"] == pytest.approx(half_bound(1000, 50), rel=1e-9)
    assert not doc["diverged"] and doc["final"]["loss"] < doc["start_loss"]


def test_explicit_lr_wins_and_header_says_where_the_preset_came_from(run_cli):
    assert fit_json(run_cli, "--features", "5", "--rows", "60", "--epochs", "5", "--lr", "0.01")["config"]["lr"] == 0.01
    shown = run_cli("fit", "--dataset", "synthetic", "--features", "5", "--rows", "60", "--epochs", "5")
    assert shown.exit_code == 0, shown.output
    assert f"{half_bound(60, 5):.3g} (preset: half the stability bound of these rows)" in shown.plain


def test_the_default_run_no_longer_diverges(run_cli):
    # lr 0.5 was beyond the bound from 5 features on: the preset's run diverged (exit 3).
    result = run_cli("fit", "--dataset", "synthetic", "--features", "5", "--epochs", "50")
    assert result.exit_code == 0, result.output


def test_print_config_leaves_the_derived_lr_to_the_rows(run_cli):
    printed = run_cli("fit", "--dataset", "synthetic", "--features", "5", "--print-config")
    assert printed.exit_code == 0 and "\nlr" not in printed.stdout and "epochs = 1000" in printed.stdout


def test_sweep_lrs_win_and_each_seed_derives_its_own(run_cli):
    swept = gdcli.sweep("synthetic", features=5, rows=60, epochs=5, lr=[0.01, 0.02])
    assert sorted(r.config["lr"] for r in swept.runs) == [0.01, 0.02]
    seeded = gdcli.sweep("synthetic", features=5, rows=60, epochs=5, seeds=[1, 2])
    bounds = {r.config["seed"]: r.config["lr"] for r in seeded.runs}
    for seed, lr in bounds.items():
        X = torch.cat([drawn_inputs(60, 5, seed), torch.ones(60, 1, dtype=torch.float64)], 1)
        assert lr == pytest.approx(1.0 / float(torch.linalg.eigvalsh(2.0 / 60 * X.T @ X).max()), rel=1e-9)


def test_adaptive_optimizers_keep_the_preset_number(run_cli):
    doc = fit_json(run_cli, "--features", "3", "--rows", "40", "--epochs", "5", "--optim", "adam")
    assert doc["config"]["lr"] == 0.5
    # ... and the header says where it came from, in fit and in a sweep (not the rule it could not apply).
    for command, more in (("fit", ["--optim", "adam"]), ("sweep", ["--optim", "adam"]), ("sweep", ["--model", "mlp"])):
        shown = run_cli(command, "--dataset", "synthetic", "--rows", "40", "--epochs", "3", *more).plain
        assert "0.5 (preset: adam has no exact stability bound)" in shown or \
            "0.5 (preset: a network has no exact stability bound)" in shown, shown
        assert "each run's rows" not in shown


def _trained_runs(method: str, lrs=(0.05,), features: int = 10, epochs: int = 60):
    from conftest import trained

    from gdcli.train import Trainer, resolve

    configs = [resolve("synthetic", rows=200, features=features, epochs=epochs, method=method, dtype="float64",
                       device="cpu", lr=lr, log_every=1) for lr in lrs]
    trainer = trained(Trainer(configs))
    return trainer.history()[1], trainer.result().path


@pytest.mark.parametrize("lrs", [(0.05,), (0.01, 0.05, 0.1)])
def test_gram_at_ten_features_takes_analytics_steps(lrs):
    """The gram method's epoch (one stacked product for u, v and v - c) walks the chain rule's iterates."""
    gram_losses, gram_path = _trained_runs("gram", lrs)
    rows_losses, rows_path = _trained_runs("analytic", lrs)
    assert torch.allclose(gram_losses, rows_losses, rtol=1e-12, atol=1e-14)
    assert torch.allclose(gram_path, rows_path, rtol=1e-12, atol=1e-14)


def test_gram_loss_and_gradient_match_autograd_at_ten_features():
    """One gram step's loss and gradient against autograd's on the same rows (float64)."""
    from gdcli.train import Trainer, resolve

    cfg = resolve("synthetic", rows=50, features=10, epochs=1, method="gram", dtype="float64", device="cpu",
                  init="randn", lr=0.01)
    trainer = Trainer([cfg])
    start = trainer.theta.detach().clone()
    row = torch.empty(1, dtype=torch.float64)
    from gdcli.train.steps import _bound

    _bound(trainer)(row)
    X = torch.cat([drawn_inputs(50, 10), torch.ones(50, 1, dtype=torch.float64)], 1)
    y = trainer.prepared[0].y_train.to(torch.float64)
    theta = start[0].clone().requires_grad_(True)
    loss = ((X @ theta - y[:, 0]) ** 2).mean()
    loss.backward()
    assert row.item() == pytest.approx(loss.item(), rel=1e-12)
    assert torch.allclose(trainer.theta.grad[0], theta.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_the_one_feature_elementwise_line_is_the_chain_rule(reduction):
    """--compile's elementwise line (x * w + b - y and its three sums) gives autograd's loss and gradient
    for several runs side by side, without compiling (the arithmetic the compiler fuses)."""
    from gdcli import gradients
    from gdcli.train.compiling import line_fill

    gen = torch.Generator().manual_seed(3)
    x = torch.rand(40, 1, generator=gen, dtype=torch.float64)
    y = 1 + 2 * x + 0.1 * torch.randn(40, 1, generator=gen, dtype=torch.float64)
    theta = torch.tensor([[1.0, 0.0], [2.5, -1.0], [0.3, 0.7]], dtype=torch.float64, requires_grad=True)
    loss = line_fill(theta, gradients.shared(x, y), gradients.LossSpec(reduction))
    grad = theta.grad.clone()
    reference = theta.detach().clone().requires_grad_(True)
    squares = (x * reference[:, 0] + reference[:, 1] - y) ** 2  # (rows, runs)
    expected = squares.mean(0) if reduction == "mean" else squares.sum(0)
    expected.sum().backward()
    assert torch.allclose(loss, expected.detach(), rtol=1e-13)
    assert torch.allclose(grad, reference.grad, rtol=1e-12)


def test_compiled_line_trains_as_eager(run_cli):
    """One tiny compile: the book's one-feature line under --compile takes eager's steps, to float rounding."""
    from gdcli.train.compiling import unavailable

    why = unavailable(torch.device("cpu"))
    if why is not None:
        pytest.skip(f"torch.compile cannot run here: {why}")
    args = ("fit", "--method", "analytic", "--epochs", "30", "--output", "json", "--lr", "0.01")
    eager, compiled = json.loads(run_cli(*args).stdout), json.loads(run_cli(*args, "--compile").stdout)
    assert compiled["config"]["compile"] is True
    losses = [(a["train_loss"], b["train_loss"]) for a, b in zip(eager["history"], compiled["history"])]
    assert len(losses) == 30 and all(b == pytest.approx(a, rel=1e-5) for a, b in losses)
    for name in ("weight", "bias"):
        assert torch.allclose(torch.tensor(compiled["final"]["params"][name]),
                              torch.tensor(eager["final"]["params"][name]), rtol=1e-5)


@pytest.mark.parametrize("method, features, noted", [("gram", 1, True), ("analytic", 4, True), ("autograd", 4, True),
                                                     ("analytic", 1, True), ("autograd", 1, False),
                                                     ("finite-diff", 4, False)])
def test_compile_says_where_it_is_no_faster_than_eager(method, features, noted):
    """The note is made with the trainer, before anything compiles (the first epoch compiles)."""
    from gdcli.train import Trainer, resolve
    from gdcli.train.compiling import unavailable

    if unavailable(torch.device("cpu")) is not None:
        pytest.skip("torch.compile cannot run here")
    trainer = Trainer([resolve("synthetic", features=features, rows=30, epochs=2, method=method, compile=True,
                               device="cpu", lr=0.01)])
    notes = [n for n in trainer.notes if "no faster than eager" in n]
    assert len(notes) == (1 if noted else 0)
    if noted:
        assert flags_in(notes[0]).startswith(f"--compile: no faster than eager for --method {method}")


def test_the_one_feature_line_compiles_without_a_note_from_a_million_rows():
    from gdcli.train.compiling import FEW_ROWS, no_gain

    cpu = torch.device("cpu")
    assert no_gain("analytic", 1, FEW_ROWS, cpu) is None and no_gain("analytic", 1, FEW_ROWS - 1, cpu) is not None
    assert no_gain("gram", 10, 10, torch.device("cuda")) is None  # measured on the CPU only
