"""--compile on a sweep of the line on one feature: every run's residuals fused into one pass over the rows
(gdcli/train/fused.py), equal to the eager sweep run by run; and any sweep --compile ends cleanly."""

import dataclasses

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from conftest import compile_as_identity, invoke_uncompiled, property_settings, trained
from gdcli import gradients
from gdcli.config import RunConfig
from gdcli.train import fused
from gdcli.train.compiling import unavailable
from gdcli.train.trainer import Trainer

ROWS = 50_000  # more than one block of 24 runs' residuals: the eager sweep goes a block of rows at a time
# The stability bound of these rows is about 0.8 (one feature) and 0.6 (two): lr 20 overflows within the
# epochs, and the others train.
LRS = tuple(0.5 * 0.8**i for i in range(23)) + (20.0,)


def reference(theta, x, y, reduction):
    """(losses, gradient) of every run from autograd on the loss written out run by run, in float64."""
    theta = theta.detach().double().requires_grad_(True)
    losses = []
    for run in theta:
        r = x.double() @ run[:-1] + run[-1] - y[:, 0].double()
        losses.append(r.pow(2).mean() if reduction == "mean" else r.pow(2).sum())
    torch.stack(losses).sum().backward()
    return torch.stack(losses).detach(), theta.grad


@pytest.mark.parametrize("method", ["analytic", "autograd"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("features", [1, 3])
def test_fused_fills_give_autograd_s_numbers(method, reduction, features):
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(500, features, generator=gen), torch.randn(500, 1, generator=gen)
    theta = torch.randn(6, features + 1, generator=gen).requires_grad_(True)
    spec = gradients.LossSpec(reduction)
    fill = fused.sweep_fill(gradients.get(method), gradients.shared(x, y), spec, 6, torch.device("cpu"))
    loss = fill(theta, gradients.shared(x, y), spec)
    want_loss, want_grad = reference(theta, x, y, reduction)
    torch.testing.assert_close(loss.double(), want_loss, rtol=1e-5, atol=0)
    torch.testing.assert_close(theta.grad.double(), want_grad, rtol=1e-4, atol=1e-4)


def test_fused_fill_is_only_for_shared_rows_of_many_runs_on_the_cpu():
    x, y = torch.randn(10, 1), torch.randn(10, 1)
    rows, spec, cpu = gradients.shared(x, y), gradients.LossSpec("mean"), torch.device("cpu")
    analytic = gradients.get("analytic")
    assert fused.sweep_fill(analytic, rows, spec, 1, cpu) is None  # a lone run keeps its own path
    assert fused.sweep_fill(analytic, rows, spec, 4, torch.device("meta")) is None
    assert fused.sweep_fill(gradients.get("gram"), rows, spec, 4, cpu) is None
    assert fused.sweep_fill(analytic, gradients.shared(torch.randn(10, 3), y), spec, 4, cpu) is fused.analytic
    many = gradients.shared(torch.randn(10, fused.MAX_FEATURES + 1), y)
    assert fused.sweep_fill(analytic, many, spec, 4, cpu) is None  # measured no faster than the eager blocks
    assert fused.sweep_fill(analytic, gradients.shared(x, torch.randn(10, 2)), spec, 4, cpu) is None


def sweep(method: str, compile: bool, reduction: str = "mean", features: int = 1, epochs: int = 25):
    """Every run's (final parameters, verdict, divergence epoch) of a sweep over LRS (over ROWS times less
    for the sum, whose gradient is ROWS times the mean's)."""
    base = RunConfig(dataset="synthetic", rows=ROWS, features=features, method=method, epochs=epochs, compile=compile,
                     reduction=reduction, log_every=epochs)
    lrs = LRS if reduction == "mean" else [lr / ROWS for lr in LRS]
    trainer = trained(Trainer([dataclasses.replace(base, lr=lr) for lr in lrs], history="logged"))
    return [(r.params, r.verdict, trainer.ends.diverged_at[i]) for i, r in enumerate(trainer.results())]


@pytest.mark.skipif(unavailable(torch.device("cpu")) is not None, reason="torch.compile cannot run here")
@pytest.mark.parametrize(("method", "reduction", "features"), [("analytic", "sum", 1), ("autograd", "mean", 2)])
def test_compiled_sweep_equals_eager_run_by_run(method, reduction, features, monkeypatch):
    chosen = []
    choose = fused.sweep_fill
    monkeypatch.setattr(fused, "sweep_fill", lambda *args: chosen.append(choose(*args)) or chosen[-1])
    eager, compiled = sweep(method, False, reduction, features), sweep(method, True, reduction, features)
    assert chosen == [getattr(fused, method)], "the compiled sweep should take the fused path"
    assert eager[-1][2] is not None, "the largest lr should diverge"
    for (want, verdict, at), (got, got_verdict, got_at) in zip(eager, compiled):
        assert (got_verdict, got_at) == (verdict, at)
        if at is None:
            for name in want:
                torch.testing.assert_close(torch.tensor(got[name]), torch.tensor(want[name]), rtol=1e-5, atol=1e-6)


@property_settings(25)
@given(
    rows=st.sampled_from([None, "2", "60", "3000", "0"]),
    features=st.sampled_from(["1", "1", "3", "4", "0"]),
    method=st.sampled_from(["analytic", "autograd", "gram", "finite-diff"]),
    reduction=st.sampled_from(["mean", "sum"]),
    optim=st.sampled_from(["gd", "sgd", "adam"]),
    lr=st.sampled_from([None, "1e-3:0.5", "0.1,1e6", "0.01,0.1,nan", "-1,0.1"]),
    seeds=st.sampled_from([None, "1:2"]),
    momentum=st.sampled_from([None, "0,0.9"]),
    batch_size=st.sampled_from([None, "16"]),
    val=st.sampled_from([None, "0.2"]),
    compile=st.booleans(),
)
def test_compiled_sweeps_end_cleanly(rows, features, method, reduction, optim, lr, seeds, momentum, batch_size,
                                     val, compile):
    result, args = invoke_uncompiled(
        ["sweep", "--dataset", "synthetic", "--features", features, "--method", method, "--optim", optim,
         "--reduction", reduction, "--epochs", "20", "--output", "json", "--device", "cpu"],
        (("--rows", rows), ("--lr", lr), ("--seeds", seeds), ("--momentum", momentum), ("--batch-size", batch_size),
         ("--val-fraction", val)),
        (("--compile", compile),),
    )
    assert result.exit_code in (0, 2, 3), (args, result.output, result.exception)
    assert "Traceback" not in result.output, args


def test_a_fused_sweep_gets_no_single_run_note(run_cli):
    # A lone fit on 1,000 rows is measured no faster compiled; a sweep of the same is fused, and faster.
    args = ("--dataset", "synthetic", "--rows", "1000", "--method", "analytic", "--epochs", "3", "--compile")
    with compile_as_identity():
        fit = run_cli("fit", *args)
        swept = run_cli("sweep", *args, "--lr", "0.01,0.1")
    assert fit.exit_code == 0 and swept.exit_code == 0, (fit.output, swept.output)
    assert "no faster than eager" in fit.plain
    assert "no faster than eager" not in swept.plain


@pytest.mark.skipif(unavailable(torch.device("cpu")) is not None, reason="torch.compile cannot run here")
def test_a_long_eager_sweep_is_told_of_compile(monkeypatch):
    from gdcli.errors import flags_in
    from gdcli.train import estimate

    monkeypatch.setattr(estimate, "seconds", lambda trainers: 120.0)
    base = RunConfig(dataset="synthetic", rows=200, method="analytic", epochs=5)
    swept = Trainer([dataclasses.replace(base, lr=lr) for lr in (0.01, 0.1)])
    assert "--compile fuses the runs into one pass over the rows" in flags_in(estimate.advice([swept]))
    for other in (Trainer([base]), Trainer([dataclasses.replace(base, lr=lr, compile=True) for lr in (0.01, 0.1)])):
        assert "--compile fuses" not in flags_in(estimate.advice([other]))
