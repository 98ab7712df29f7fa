"""Sweeps over many rows go a block of rows at a time (gdcli/gradients/blocks.py): every run of a
sweep ends as the same run fitted alone, and the blocked sums are the plain ones."""

import math

import pytest
import torch
from conftest import trained

from gdcli import grid as sw
from gdcli import models
from gdcli.cli import parsing
from gdcli.config import resolve
from gdcli.gradients import LossSpec, Part, Rows, analytic, autograd, blocks, finite_diff, loss_at, probe, shared
from gdcli.train import Trainer


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of a few dozen rows, so that a small data set goes through several (the last one short)."""

    def use(elements: int):
        monkeypatch.setattr(blocks, "MIN_ROWS", 1)
        monkeypatch.setattr(blocks, "BLOCK_ELEMENTS", elements)

    return use


def _grid(base, lrs, seeds):
    return sw.expand(base, {"lr": lrs, "momentum": [base.momentum], "seed": seeds, "batch_size": [base.batch_size]})


CASES = [
    # method, model, features, reduction, dtype, val_fraction, seeds
    ("analytic", "linear", 1, "mean", "float32", 0.0, [42]),
    ("analytic", "linear", 3, "sum", "float64", 0.2, [1, 2]),
    ("analytic", "quadratic", 1, "mean", "float64", 0.0, [42]),
    ("autograd", "linear", 1, "sum", "float32", 0.2, [1, 2]),
    ("autograd", "linear", 3, "mean", "float64", 0.0, [42]),
    ("autograd", "quadratic", 1, "sum", "float32", 0.0, [42]),
    ("autograd", "mlp", 1, "mean", "float64", 0.2, [1, 2]),
    ("finite-diff", "linear", 1, "mean", "float32", 0.0, [42]),
    ("finite-diff", "linear", 3, "sum", "float64", 0.2, [1, 2]),
    ("finite-diff", "mlp", 1, "sum", "float64", 0.0, [42]),
    ("gram", "linear", 3, "mean", "float32", 0.2, [1, 2]),
]


@pytest.mark.parametrize("method, model, features, reduction, dtype, val, seeds", CASES)
def test_a_sweep_of_seven_lrs_ends_as_each_run_fitted_alone(small_blocks, method, model, features, reduction,
                                                            dtype, val, seeds):
    # 101 training rows in blocks of 17 (7 runs): six blocks, the last one short; the top lrs diverge.
    network = models.build(model, features, 1)
    sets = 2 * network.size + 1 if method == "finite-diff" else 1
    small_blocks(7 * sets * network.row_width() * 17)
    # The network with adam: gd's verdicts would have its stability bound estimated at the start of
    # every run (seconds each), which the blocks do not touch.
    optim, epochs = ("adam", 5) if model == "mlp" else ("gd", 15)
    base = resolve("synthetic", rows=127 if val else 101, features=features, model=model, method=method, optim=optim,
                   reduction=reduction, dtype=dtype, val_fraction=val, epochs=epochs, device="cpu")
    lrs = parsing.lr_list("1e-3:3" if reduction == "mean" or model == "mlp" else "1e-5:6e-2", 7)
    configs = _grid(base, lrs, seeds)
    (sweep,) = trained([Trainer(configs)])
    rtol = 1e-5 if dtype == "float32" else 1e-12
    if method == "finite-diff" and not network.linear_in_params:
        rtol = 1e-9  # the network's differences divide rounding by a step of 6e-6
    for cfg, got in zip(configs, sweep.results()):
        alone = trained(Trainer([cfg])).result()
        assert (got.verdict.kind, got.verdict.cause, got.verdict.epoch) == \
            (alone.verdict.kind, alone.verdict.cause, alone.verdict.epoch), cfg.lr
        if got.verdict.diverged:
            continue  # its verdict and epoch are what there is to compare: its numbers have blown up
        _close(_flat(got.params), _flat(alone.params), rtol)
        assert got.final_loss == pytest.approx(alone.final_loss, rel=10 * rtol)
        if val:
            assert got.final_val_loss == pytest.approx(alone.final_val_loss, rel=10 * rtol)
    assert any(not r.verdict.diverged for r in sweep.results())
    assert any(r.verdict.diverged for r in sweep.results()) or model == "mlp"  # the grid reaches divergence


def _flat(params: dict) -> torch.Tensor:
    return torch.cat([torch.tensor(v, dtype=torch.float64).reshape(-1) for v in params.values()])


def _close(got, want, rtol):
    # Parameters near 0 are compared on the scale of the run's largest (a relative bound on 1e-9 means nothing).
    torch.testing.assert_close(got, want, rtol=rtol, atol=rtol * float(want.abs().max()))


def _reference(model, X, y, theta, reduction):
    """Each run's loss and gradient by autograd, one run at a time, in float64: the loss written out."""
    losses, grads = [], []
    for row in theta.double():
        p = row.clone().requires_grad_(True)
        r = model.predict(X.double(), p.unsqueeze(0))[:, 0] - y.double()
        loss = (r**2).mean() if reduction == "mean" else (r**2).sum()
        loss.backward()
        losses.append(loss.detach()), grads.append(p.grad)
    return torch.stack(losses), torch.stack(grads)


@pytest.mark.parametrize("rows", [1, 29, 30, 100])  # fewer than a block, one block, one more, several
@pytest.mark.parametrize("model, features, targets, reduction", [
    ("linear", 1, 1, "mean"), ("linear", 1, 1, "sum"), ("linear", 3, 2, "mean"), ("quadratic", 2, 1, "sum"),
    ("mlp", 2, 2, "mean"),
])
def test_blocked_losses_and_gradients_are_autograd_s_of_the_whole_loss(small_blocks, rows, model, features,
                                                                       targets, reduction):
    small_blocks(5 * 29 * targets * (1 if model != "mlp" else 33))
    m = models.build(model, features, targets)
    gen = torch.Generator().manual_seed(rows)
    X = m.design(torch.randn(rows, features, dtype=torch.float64, generator=gen))
    y = torch.randn(rows, targets, dtype=torch.float64, generator=gen)
    theta = torch.randn(5, m.size, dtype=torch.float64, generator=gen)
    want_loss, want_grad = _reference(m, X, y, theta, reduction)
    spec = LossSpec(reduction, models.default_delta(model, "float64"), m)
    data = shared(X, y)
    methods = [(autograd, True), (finite_diff, False)] + ([(analytic, False)] if m.linear_in_params else [])
    for fill, record in methods:
        loss, grad = probe(fill, record, theta, data, spec)
        torch.testing.assert_close(loss, want_loss, rtol=1e-12, atol=1e-300)
        tol = 1e-12 if fill is not finite_diff else 1e-6  # the network's differences are not exact
        torch.testing.assert_close(grad, want_grad, rtol=tol, atol=tol * float(want_grad.abs().max()))
    torch.testing.assert_close(loss_at(theta, data, spec), want_loss, rtol=1e-12, atol=1e-300)


def test_runs_on_rows_of_their_own_go_block_by_block_with_their_own_rows(small_blocks):
    """Parts (seeds with their own rows): each part's runs see its rows, a block at a time."""
    small_blocks(3 * 7)
    m = models.Linear(2, 1)
    gen = torch.Generator().manual_seed(0)
    X1, X2 = torch.randn(50, 2, dtype=torch.float64, generator=gen), torch.randn(31, 2, dtype=torch.float64,
                                                                                 generator=gen)
    y1, y2 = torch.randn(50, 1, dtype=torch.float64, generator=gen), torch.randn(31, 1, dtype=torch.float64,
                                                                                 generator=gen)
    theta = torch.randn(6, 3, dtype=torch.float64, generator=gen)
    first, second = torch.tensor([0, 2, 4]), torch.tensor([1, 3, 5])
    data = Rows((Part(first, X1, y1), Part(second, X2, y2)))
    spec = LossSpec("mean", 0.1, m)
    loss_1, grad_1 = _reference(m, X1, y1, theta[first], "mean")
    loss_2, grad_2 = _reference(m, X2, y2, theta[second], "mean")
    for fill, record in ((autograd, True), (analytic, False), (finite_diff, False)):
        loss, grad = probe(fill, record, theta, data, spec)
        torch.testing.assert_close(loss[first], loss_1, rtol=1e-12, atol=0)
        torch.testing.assert_close(loss[second], loss_2, rtol=1e-12, atol=0)
        torch.testing.assert_close(grad[first], grad_1, rtol=1e-11, atol=1e-14)
        torch.testing.assert_close(grad[second], grad_2, rtol=1e-11, atol=1e-14)


def test_blocks_only_where_they_pay():
    X = torch.zeros(10 * blocks.block_rows(100), 1)
    assert blocks.wanted(X, 100) and blocks.wanted(X, 50, 2)
    assert not blocks.wanted(X, 1, 100)  # a lone run keeps its own path, whatever its width
    assert not blocks.wanted(X[: blocks.block_rows(100)], 100)  # a single block: nothing to gain
    assert blocks.block_rows(10**9) == blocks.MIN_ROWS
    assert blocks.block_rows(100) * 100 <= blocks.BLOCK_ELEMENTS


def test_a_sweep_allocates_no_residual_as_large_as_its_rows(monkeypatch):
    """The (rows, runs) residual is never made: the work buffers are a block's."""
    n, R = 4 * blocks.block_rows(50), 50
    X = torch.rand(n, 1)
    y = 2 * X + 1
    theta = torch.rand(R, 2)
    largest = [0]
    real_empty = torch.empty

    def empty(*shape, **kw):
        out = real_empty(*shape, **kw)
        largest[0] = max(largest[0], out.numel())
        return out

    monkeypatch.setattr(torch, "empty", empty)
    loss, grad = probe(analytic, False, theta, shared(X, y), LossSpec("mean", 0.1, models.Linear(1, 1)))
    assert largest[0] <= blocks.BLOCK_ELEMENTS
    assert math.isfinite(float(loss.sum())) and grad.shape == (R, 2)


def test_the_sweep_header_tells_of_gram_where_it_gives_the_same_iterates(run_cli, monkeypatch):
    from gdcli.train import gram_note

    monkeypatch.setattr(gram_note, "MIN_WORK", 100)
    monkeypatch.setattr(gram_note, "MIN_FACTOR", 0.0)
    args = ["sweep", "--dataset", "synthetic", "--rows", "200", "--lr", "1e-3:1e-1", "--num", "4", "--epochs", "3"]
    shown = run_cli(*args, "--method", "analytic")
    assert shown.exit_code == 0
    assert shown.plain.count("--method gram gives these 4 runs the same iterates") == 1
    assert "with analytic and" in shown.plain
    for quiet in (["--method", "analytic", "--quiet"], ["--method", "gram"], ["--method", "analytic", "--batch-size",
                                                                             "50"], ["--model", "mlp"]):
        assert "--method gram gives" not in run_cli(*args, *quiet).plain, quiet
    data = run_cli(*args, "--method", "autograd", "--output", "json")
    assert "--method gram gives" in data.stderr and "--method gram" not in data.stdout
