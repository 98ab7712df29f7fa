"""The training loop's bound steps give the numbers of the paths they stand for, bit for bit.

A full-batch step is bound once per chunk (gdcli/train/steps.py): the analytic method runs the
model's bound gradient, finite-diff evaluates its parameter sets in buffers made once, a lone
autograd run calls mse_loss's kernel directly, and a lone adam run on the CPU steps by adam's
batched rule. Each is checked here against the unbound path (the method's own fill,
torch.optim.Adam itself), and every combination of the options they read ends in exit 0, 2 or
3, never a traceback.
"""

import os
import tempfile

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="gdcli-mpl-"))

from typer.testing import CliRunner  # noqa: E402

from gdcli.cli import app  # noqa: E402
from gdcli.train import Trainer, resolve, steps  # noqa: E402
from gdcli.train import trainer as trainermod  # noqa: E402


def _trained(configs):
    trainer = Trainer(configs)
    for _ in trainer.chunks():
        pass
    return trainer


def _same(a: Trainer, b: Trainer) -> bool:
    """Every epoch's losses and the last parameters, bit for bit."""
    return torch.equal(a.history()[1], b.history()[1]) and torch.equal(a.theta.detach(), b.theta.detach())


CASES = [
    dict(dataset="celsius", method="analytic"),
    dict(dataset="celsius", method="analytic", reduction="sum", dtype="float64", lr=1e-4),
    dict(dataset="iphone", method="analytic", normalize=True),
    dict(dataset="crops", method="analytic", normalize=True, lr=1e-3),
    dict(dataset="celsius", method="autograd"),
    dict(dataset="celsius", method="autograd", reduction="sum", dtype="float64", lr=1e-4),
    dict(dataset="celsius", method="autograd", optim="adam"),
    dict(dataset="celsius", method="autograd", model="quadratic"),
    dict(dataset="celsius", method="autograd", model="mlp"),
    dict(dataset="iphone", method="autograd", normalize=True, dtype="float64"),
    dict(dataset="celsius", method="analytic", optim="adam", dtype="float64", weight_decay=0.01),
    dict(dataset="celsius", method="finite-diff"),
    dict(dataset="celsius", method="finite-diff", reduction="sum", dtype="float64", lr=1e-4, delta=1e-3),
    dict(dataset="celsius", method="finite-diff", model="quadratic"),
    dict(dataset="celsius", method="finite-diff", model="mlp"),
    dict(dataset="iphone", method="finite-diff", normalize=True),
    dict(dataset="crops", method="finite-diff", normalize=True, lr=1e-3),
    dict(dataset="celsius", method="finite-diff", optim="adam", val_fraction=0.3),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_a_bound_step_trains_as_the_unbound_path(case, monkeypatch):
    """Bound (this branch's loop) against the method's fill and torch.optim's own Adam."""
    configs = [resolve(epochs=60, device="cpu", **case)]
    bound = _trained(configs)
    monkeypatch.setattr(steps, "_bound", lambda trainer: None)
    monkeypatch.setattr(trainermod, "_hyper", lambda plan: plan.hyper)
    unbound = _trained(configs)
    if case.get("optim") == "adam":
        assert isinstance(unbound.optimizer, torch.optim.Adam)
    assert _same(bound, unbound)


@pytest.mark.parametrize("method", ["analytic", "finite-diff"])
def test_a_sweep_of_the_line_trains_as_its_fill(method, monkeypatch):
    """Several runs of the line take the bound step for many runs at once."""
    configs = [resolve("celsius", method=method, lr=lr, epochs=60, device="cpu") for lr in (1e-4, 1e-3, 1e-2)]
    bound = _trained(configs)
    monkeypatch.setattr(steps, "_bound", lambda trainer: None)
    assert _same(bound, _trained(configs))


def test_a_torch_whose_engine_takes_no_direct_call_backs_off_to_backward(monkeypatch):
    """Where autograd's engine cannot be called directly, the lone autograd step calls loss.backward()
    and trains to the same numbers."""
    configs = [resolve("celsius", method="autograd", epochs=30, device="cpu")]
    direct = _trained(configs)
    monkeypatch.setattr(torch.autograd, "Variable", object)
    assert steps._backward(torch.zeros(1, 2)) is torch.Tensor.backward
    assert _same(direct, _trained(configs))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    dataset=st.sampled_from(["celsius", "iphone", "crops"]),
    method=st.sampled_from(["analytic", "autograd", "finite-diff", "gram"]),
    optim=st.sampled_from(["gd", "sgd", "adam"]),
    dtype=st.sampled_from(["float32", "float64"]),
    reduction=st.sampled_from(["mean", "sum"]),
    lr=st.sampled_from(["1e-3", "1e-2", "10", "1e30", "0", "-1"]),
    val=st.sampled_from([None, "0.3"]),
    schedule=st.sampled_from([None, "step", "cosine"]),
    epochs=st.sampled_from(["1", "7", "40"]),
    model=st.sampled_from(["linear", "quadratic", "mlp"]),
    delta=st.sampled_from([None, "1e-3", "1e-12", "0"]),
)
def test_any_step_ends_cleanly(dataset, method, optim, dtype, reduction, lr, val, schedule, epochs, model, delta):
    """Every combination of the options the bound steps read ends in exit 0, 2 or 3, no traceback."""
    args = ["fit", "--dataset", dataset, "--method", method, "--optim", optim, "--dtype", dtype, "--device", "cpu"]
    args += ["--reduction", reduction, "--lr", lr, "--epochs", epochs, "--output", "json", "--model", model]
    if delta is not None:
        args += ["--delta", delta]
    if val is not None:
        args += ["--val-fraction", val]
    if schedule is not None:
        args += ["--schedule", schedule]
    result = CliRunner().invoke(app, args)
    assert result.exit_code in (0, 2, 3), (args, result.output, result.exception)
    assert "Traceback" not in result.output
