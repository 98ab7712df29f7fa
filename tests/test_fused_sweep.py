"""--compile on a sweep of the line on one feature: every run's residuals fused into one pass over the rows
(gdcli/train/fused.py), equal to the eager sweep run by run."""

import dataclasses

import pytest
import torch

from conftest import trained
from gdcli import gradients
from gdcli.config import RunConfig
from gdcli.train import fused
from gdcli.train.compiling import unavailable
from gdcli.train.trainer import Trainer

ROWS = 50_000  # more than one block of 24 runs' residuals: the eager sweep goes a block of rows at a time
# The stability bound of these rows is about 0.8: lr 20 overflows within the epochs, and the others train.
LRS = tuple(0.7 * 0.8**i for i in range(23)) + (20.0,)


def reference(theta, x, y, reduction):
    """(losses, gradient) of every run from autograd on the loss written out run by run, in float64."""
    theta = theta.detach().double().requires_grad_(True)
    losses = []
    for w, b in theta:
        r = w * x[:, 0].double() + b - y[:, 0].double()
        losses.append(r.pow(2).mean() if reduction == "mean" else r.pow(2).sum())
    torch.stack(losses).sum().backward()
    return torch.stack(losses).detach(), theta.grad


@pytest.mark.parametrize("method", ["analytic", "autograd"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_fused_fills_give_autograd_s_numbers(method, reduction):
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(500, 1, generator=gen), torch.randn(500, 1, generator=gen)
    theta = torch.randn(6, 2, generator=gen).requires_grad_(True)
    spec = gradients.LossSpec(reduction)
    fill = fused.sweep_fill(gradients.get(method), gradients.shared(x, y), spec, 6, torch.device("cpu"))
    loss = fill(theta, gradients.shared(x, y), spec)
    want_loss, want_grad = reference(theta, x, y, reduction)
    torch.testing.assert_close(loss.double(), want_loss, rtol=1e-5, atol=0)
    torch.testing.assert_close(theta.grad.double(), want_grad, rtol=1e-4, atol=1e-4)


def test_fused_fill_is_only_for_shared_rows_of_many_runs_on_the_cpu():
    x, y = torch.randn(10, 1), torch.randn(10, 1)
    rows, spec, cpu, analytic = gradients.shared(x, y), gradients.LossSpec("mean"), torch.device("cpu"), gradients.get("analytic")
    assert fused.sweep_fill(analytic, rows, spec, 1, cpu) is None  # a lone run keeps its own path
    assert fused.sweep_fill(analytic, rows, spec, 4, torch.device("meta")) is None
    assert fused.sweep_fill(gradients.get("gram"), rows, spec, 4, cpu) is None
    two = gradients.shared(torch.randn(10, 2), y)
    assert fused.sweep_fill(analytic, two, spec, 4, cpu) is None


def sweep(method: str, compile: bool, reduction: str = "mean", epochs: int = 25):
    """Every run's (final parameters, verdict, divergence epoch) of a sweep over LRS (over ROWS times less
    for the sum, whose gradient is ROWS times the mean's)."""
    base = RunConfig(dataset="synthetic", rows=ROWS, method=method, epochs=epochs, compile=compile,
                     reduction=reduction, log_every=epochs)
    lrs = LRS if reduction == "mean" else [lr / ROWS for lr in LRS]
    trainer = trained(Trainer([dataclasses.replace(base, lr=lr) for lr in lrs], history="logged"))
    return [(r.params, r.verdict, trainer.ends.diverged_at[i]) for i, r in enumerate(trainer.results())]


@pytest.mark.skipif(unavailable(torch.device("cpu")) is not None, reason="torch.compile cannot run here")
@pytest.mark.parametrize(("method", "reduction"), [("analytic", "sum"), ("autograd", "mean")])
def test_compiled_sweep_equals_eager_run_by_run(method, reduction, monkeypatch):
    chosen = []
    choose = fused.sweep_fill
    monkeypatch.setattr(fused, "sweep_fill", lambda *args: chosen.append(choose(*args)) or chosen[-1])
    eager, compiled = sweep(method, False, reduction), sweep(method, True, reduction)
    assert chosen == [getattr(fused, method)], "the compiled sweep should take the fused path"
    assert eager[-1][2] is not None, "the largest lr should diverge"
    for (want, verdict, at), (got, got_verdict, got_at) in zip(eager, compiled):
        assert (got_verdict, got_at) == (verdict, at)
        if at is None:
            for name in want:
                torch.testing.assert_close(torch.tensor(got[name]), torch.tensor(want[name]), rtol=1e-5, atol=1e-6)
