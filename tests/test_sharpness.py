"""The sharpness over training (--sharpness N) against references gdcli does not share code with:
eigvalsh of the Hessian autograd builds for a loss written here with torch.nn, the exact bound of a
line, and the book's network trained by a plain torch.nn loop."""

import csv
import io
import json
import math
from collections import OrderedDict

import pytest
import torch

import book
import gdcli

F64 = torch.float64


def net(hidden=8, dtype=F64):
    """The book's chapter 6 network, written out with torch.nn."""
    return torch.nn.Sequential(OrderedDict([
        ("hidden_linear", torch.nn.Linear(1, hidden, dtype=dtype)),
        ("hidden_activation", torch.nn.Tanh()),
        ("output_linear", torch.nn.Linear(hidden, 1, dtype=dtype)),
    ]))


def rows64():
    """The thermometer's rows as gdcli measures its losses: 0.1 * t_u in float64."""
    return torch.tensor(book.T_U, dtype=F64).unsqueeze(1) * 0.1, torch.tensor(book.T_C, dtype=F64).unsqueeze(1)


def reference_sharpness(module, flat: torch.Tensor) -> float:
    """eigvalsh of the full Hessian of the mean squared error at flat parameters (torch.nn order)."""
    X, y = rows64()
    names = [name for name, _ in module.named_parameters()]
    shapes = [p.shape for _, p in module.named_parameters()]
    sizes = [p.numel() for _, p in module.named_parameters()]

    def loss(theta):
        params = {n: part.view(s) for n, part, s in zip(names, theta.split(sizes), shapes)}
        return torch.nn.functional.mse_loss(torch.func.functional_call(module, params, (X,)), y)

    hessian = torch.autograd.functional.hessian(loss, flat.to(F64))
    return float(torch.linalg.eigvalsh(hessian)[-1])


@pytest.fixture(scope="module")
def short_net():
    """The book's network, 40 epochs at lr 1e-2, measured every epoch: its path keeps every epoch."""
    return gdcli.fit("celsius", "mlp", epochs=40, lr=1e-2, sharpness=1)


@pytest.mark.parametrize("epoch", [1, 2, 17, 40])
def test_the_tracked_sharpness_is_the_hessians_largest_eigenvalue(short_net, epoch):
    result = short_net._result
    measured = dict(zip(result.sharpness_epochs.tolist(), result.sharpness.tolist()))
    at = result.path_epochs.tolist().index(epoch - 1)  # epoch e's loss: the parameters after e - 1
    expected = reference_sharpness(net(), result.path[at])
    assert measured[epoch] == pytest.approx(expected, rel=1e-6)
    assert short_net.sharpness[epoch - 1] == (epoch, measured[epoch])


@pytest.mark.parametrize("path", ["power-differences", "power-autograd"])
def test_power_iteration_agrees_with_eigvalsh(monkeypatch, path):
    from gdcli.models import Model
    from gdcli.models.mlp import MLP
    from gdcli.train import sharpness

    monkeypatch.setattr(sharpness, "FULL_MAX", 0)  # past it: power iteration, warm-started
    if path == "power-autograd":
        monkeypatch.setattr(MLP, "gradient", Model.gradient)  # as a model without a hand gradient
    run = gdcli.fit("celsius", "mlp", epochs=12, lr=1e-2, sharpness=4)
    result = run._result
    for epoch, value in run.sharpness:
        at = result.path_epochs.tolist().index(epoch - 1)

        assert value == pytest.approx(reference_sharpness(net(), result.path[at]), rel=1e-5)


def test_a_lines_sharpness_is_two_over_its_stable_lr():
    run = gdcli.fit("celsius", sharpness=7, epochs=30)
    values = [v for _, v in run.sharpness]
    assert [e for e, _ in run.sharpness] == [1, 2, 3, 6, 7, 9, 12, 14, 15, 18, 21, 24, 27, 28, 30]
    assert all(v == values[0] for v in values)
    assert values[0] == pytest.approx(2 / run.stable_lr, rel=1e-12)
    # and from the data directly: the largest eigenvalue of (2/n) [x 1]^T [x 1]
    X, _ = rows64()
    A = torch.cat([X, torch.ones_like(X)], 1)
    assert values[0] == pytest.approx(float(torch.linalg.eigvalsh(2 / 11 * A.T @ A)[-1]), rel=1e-12)


# --- the book's network at the edge of stability, against a plain torch.nn loop ----------------------

EVERY = 50


@pytest.fixture(scope="module")
def book_run():
    return gdcli.fit("celsius", "mlp", sharpness=EVERY)


@pytest.fixture(scope="module")
def torch_loop(book_run):
    """The book's loop (nn.Sequential, SGD lr 1e-3, float32, 5000 epochs) from gdcli's own start; the
    sharpness at gdcli's measured epochs from eigvalsh, and every epoch's loss."""
    module = net(dtype=torch.float32)
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(book_run.initial[name])
    x = torch.tensor(book.T_U).unsqueeze(1) * 0.1
    y = torch.tensor(book.T_C).unsqueeze(1)
    optimizer = torch.optim.SGD(module.parameters(), lr=1e-3)
    # Sparse away from the rise and the overshoot (each Hessian costs milliseconds).
    wanted = {e for e, _ in book_run.sharpness if e in (1, 5000) or 1000 <= e <= 2000 or e % 500 == 0}
    sharp, losses = {}, []
    for epoch in range(1, 5001):
        if epoch in wanted:
            flat = torch.cat([p.detach().reshape(-1) for p in module.parameters()])
            sharp[epoch] = reference_sharpness(net(), flat)
        loss = torch.nn.functional.mse_loss(module(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return sharp, losses


def test_the_books_network_rises_to_the_edge_and_hovers_there(book_run, torch_loop):
    reference, losses = torch_loop
    ours = dict(book_run.sharpness)
    for found in (ours, reference):
        values = list(found.values())
        assert found[1] == pytest.approx(148.0, rel=0.02)
        assert 1.9e3 <= max(values) <= 2.6e3
        assert found[5000] == pytest.approx(2000, rel=0.05)
    # The same trajectory while the descent is steady: the same sharpness there.
    for epoch in range(1, 1001, EVERY):
        if epoch in reference:
            assert ours[epoch] == pytest.approx(reference[epoch], rel=1e-3), epoch
    # The loss spikes as the sharpness passes 2/lr, in both.
    assert max(losses[1150:1400]) > 2 * losses[1150]
    history = book_run.history
    assert max(h["train_loss"] for h in history[1150:1400]) > 2 * history[1150]["train_loss"]


# --- where it shows ---------------------------------------------------------------------------------


def test_json_jsonl_and_csv_carry_sharpness_and_edge(run_cli):
    args = ["fit", "--dataset", "celsius", "--model", "mlp", "--epochs", "20", "--sharpness", "5", "--quiet"]
    doc = json.loads(run_cli(*args, "--output", "json").stdout)
    history = {h["epoch"]: h for h in doc["history"]}
    assert history[5]["edge"] == pytest.approx(2000) and history[5]["sharpness"] > 0
    assert history[7]["sharpness"] is None and history[7]["edge"] is None  # not measured
    assert doc["sharpness"]["every"] == 5 and doc["sharpness"]["max"] > 0
    lines = [json.loads(line) for line in run_cli(*args, "--output", "jsonl").stdout.splitlines()]
    epochs = [line for line in lines if line["type"] == "epoch"]
    assert all("sharpness" in line and "edge" in line for line in epochs)
    rows = list(csv.DictReader(io.StringIO(run_cli(*args, "--output", "csv").stdout)))
    assert float(rows[9]["sharpness"]) == pytest.approx(history[10]["sharpness"])
    assert rows[6]["sharpness"] == "" and float(rows[9]["edge"]) == pytest.approx(2000)


def test_the_table_has_the_columns_and_adam_has_no_edge(run_cli):
    out = run_cli("fit", "--model", "mlp", "--epochs", "20", "--sharpness", "5").plain
    assert "sharpness" in out and "2/lr" in out and "2000.00" in out
    out = run_cli("fit", "--optim", "adam", "--lr", "0.1", "--epochs", "10", "--sharpness", "5").plain
    assert "adam rescales each parameter's step, so it has no edge of stability" in out
    momentum = run_cli("fit", "--optim", "sgd", "--momentum", "0.9", "--epochs", "10", "--sharpness", "5").plain
    assert "2(1+m)/lr ┃" in momentum and "380.00" in momentum  # 2 * 1.9 / 0.01, headed as what it is


def test_a_schedule_gives_each_epochs_edge():
    run = gdcli.fit("celsius", epochs=10, sharpness=1, schedule="step", step_size=5, gamma=0.5)
    edges = {h["epoch"]: h["edge"] for h in run.history}
    assert edges[1] == pytest.approx(2 / 1e-2) and edges[6] == pytest.approx(2 / 5e-3)


def test_sweep_shows_each_runs_largest_sharpness_over_the_edge(run_cli):
    out = run_cli("sweep", "--lr", "1e-3,1e-2", "--epochs", "30", "--sharpness", "10")
    assert out.exit_code == 0 and "max λ·lr/2" in out.plain
    rows = list(csv.DictReader(io.StringIO(
        run_cli("sweep", "--lr", "1e-3,1e-2", "--epochs", "30", "--sharpness", "10", "--output", "csv").stdout)))
    ratios = {float(r["lr"]): float(r["max_sharpness_over_edge"]) for r in rows}
    lam = 2 / gdcli.fit("celsius", epochs=1).stable_lr
    assert ratios[1e-2] == pytest.approx(lam * 1e-2 / 2, rel=1e-9)
    assert ratios[1e-3] == pytest.approx(lam * 1e-3 / 2, rel=1e-9)


def test_compare_measures_every_strategy(run_cli):
    comparison = gdcli.compare("celsius", optims=["gd", "adam"], epochs=10, sharpness=5)
    assert all(r.sharpness and r.sharpness[0][0] == 1 for r in comparison.runs)
    out = run_cli("compare", "--methods", "autograd", "--optims", "gd,adam", "--epochs", "20", "--sharpness", "5",
                  "--output", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    lam = 2 / gdcli.fit("celsius", epochs=1).stable_lr
    assert float(rows[4]["autograd:adam sharpness"]) == pytest.approx(lam) and rows[6]["autograd:gd sharpness"] == ""


def test_a_diverged_network_is_told_its_sharpness(run_cli):
    out = run_cli("fit", "--model", "mlp", "--lr", "0.5", "--epochs", "200", "--sharpness", "10")
    assert out.exit_code == 3
    assert "Its sharpness (the loss Hessian's largest eigenvalue) passed the edge of stability 2/lr = 4 at epoch" \
        in " ".join(out.plain.split())
    line = run_cli("fit", "--lr", "0.05", "--epochs", "200", "--sharpness", "10")
    assert line.exit_code == 3 and "Its sharpness" not in line.plain  # a line's sharpness is its bound


def test_the_panel_sits_under_the_loss_curve(book_run, run_cli):
    from gdcli import figures

    (panel,) = figures.sharpness_panels({"sharpness": book_run._result}, "t")
    assert panel.ylabel == "largest Hessian eigenvalue" and set(panel.series) == {"sharpness", "2/lr"}
    assert max(panel.series["sharpness"][1]) == pytest.approx(max(v for _, v in book_run.sharpness))
    assert set(panel.series["2/lr"][1]) == {2000.0}
    assert panel.bounds == ("2/lr",)  # drawn dashed: a bound, not a run
    from gdcli import plots

    dashed = {t.label: t.dashed for t in plots._layout(panel).traces if t.kind == "line"}
    assert dashed == {"sharpness": False, "2/lr": True}
    out = run_cli("fit", "--model", "mlp", "--epochs", "30", "--sharpness", "5", "--plot", "--quiet").plain
    assert out.index("mlp, autograd + sgd") < out.index("sharpness against the edge") < out.index("data and fitted")
    out = run_cli("compare", "--optims", "gd,adam", "--epochs", "30", "--sharpness", "5", "--plot", "--quiet")
    assert "sharpness by strategy" in out.plain


@pytest.mark.parametrize("value", ["0", "-1", "x", "1.5"])
@pytest.mark.parametrize("command", ["fit", "compare", "sweep"])
def test_bad_values_exit_2(run_cli, command, value):
    out = run_cli(command, "--sharpness", value, "--epochs", "3")
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert "--sharpness" in out.plain


def test_the_api_names_the_setting():
    with pytest.raises(gdcli.GdcliError, match="sharpness must be at least 1"):
        gdcli.fit(sharpness=0)
    assert not math.isnan(gdcli.fit(epochs=2, sharpness=1).sharpness[0][1])
