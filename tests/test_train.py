"""The training core against the book's printed numbers and against least squares."""

import math

import book
import pytest
import torch

from gdcli import gradients, models, stats
from gdcli.errors import GdcliError
from gdcli.gradients import METHODS
from gdcli.optimizers import OPTIMIZERS
from gdcli.data import load_dataset
from gdcli.train import Trainer, fit, resolve

BOOK = dict(rel=book.REL)


def run(**options):
    """Train to the end; return (records, result)."""
    trainer = fit(resolve(**options))
    records = list(trainer.records())
    return records, trainer.result()


def celsius_unscaled():
    """The book's readings as the model sees them: (rows, 1) inputs, (rows, 1) targets."""
    return book.columns()


def rows_of(X, y, reduction="mean"):
    """Rows every run shares, with their Gram statistics (for the gram method)."""
    return gradients.shared(X, y, stats.gram([(X, y)]), reduction)


@pytest.mark.parametrize("method", list(METHODS))
def test_gradient_at_the_book_start(method):
    X, y = celsius_unscaled()
    theta = torch.tensor([[1.0, 0.0]])  # one run's flat (weight, bias)
    loss, grad = gradients.gradient_at(method, theta, rows_of(X, y), gradients.LossSpec("mean", 0.1))
    assert float(loss) == pytest.approx(book.START_LOSS, **BOOK)
    assert grad.flatten().tolist() == pytest.approx(book.START_GRAD, **BOOK)


@pytest.mark.parametrize("method", ["analytic", "finite-diff", "gram"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_methods_match_autograd_with_several_targets(method, reduction):
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(5, 3, dtype=torch.float64, generator=gen)
    y = torch.randn(5, 2, dtype=torch.float64, generator=gen)
    theta = torch.randn(1, 8, dtype=torch.float64, generator=gen)  # weight (2, 3), bias (2,)
    spec = gradients.LossSpec(reduction, 1e-3)
    _, expected = gradients.gradient_at("autograd", theta, rows_of(X, y, reduction), spec)
    _, got = gradients.gradient_at(method, theta, rows_of(X, y, reduction), spec)
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("method", ["autograd", "analytic"])
def test_book_divergence_lr_1e2_unscaled(method):
    records, result = run(dataset="celsius", method=method, scale=1.0, lr=1e-2, epochs=100)
    losses = [r.train_loss for r in records]
    assert losses[:3] == pytest.approx(book.DIVERGING_LOSSES, **BOOK)
    # The book's table: params after epoch 1's update, and epoch 2's gradient norm.
    assert records[0].weight[0] + records[0].bias == pytest.approx(book.DIVERGING_PARAMS_EPOCH_1, rel=1e-4)
    assert records[1].grad_norm == pytest.approx(math.hypot(*book.DIVERGING_GRAD_EPOCH_2), rel=1e-5)
    assert len(records) == book.DIVERGED_AT and math.isinf(losses[-1]) and all(map(math.isfinite, losses[:-1]))
    assert result.verdict.diverged and result.diverged_at == book.DIVERGED_AT
    assert result.verdict.reason.startswith(f"non-finite at epoch {book.DIVERGED_AT}")
    # The record of the epoch that diverged carries the book's parameters and a gradient norm.
    assert records[-1].weight[0] + records[-1].bias == pytest.approx(book.DIVERGED_PARAMS, rel=1e-3)
    assert records[-1].grad_norm is not None


@pytest.mark.parametrize("method", list(METHODS))
def test_book_lr_1e4_unscaled_100_epochs(method):
    records, _ = run(dataset="celsius", method=method, scale=1.0, lr=1e-4, epochs=100)
    assert records[-1].train_loss == pytest.approx(book.SLOW_LOSS_EPOCH_100, **BOOK)


@pytest.mark.parametrize("method", list(METHODS))
def test_book_scaled_5000_epochs(book_run, method):
    records, result = book_run(method)  # the preset: scale 0.1, lr 1e-2, 5000 epochs
    assert records[-1].epoch == 5000
    assert records[0].train_loss == pytest.approx(book.SCALED_START_LOSS, **BOOK)
    assert records[-1].train_loss == pytest.approx(book.SCALED_LOSS, **BOOK)
    assert result.weight[0] + result.bias == pytest.approx(book.SCALED_PARAMS, abs=book.PARAM_ABS)
    assert result.verdict.kind == "converging"


def test_book_adam_lr_1e1_unscaled_2000_epochs():
    records, result = run(dataset="celsius", optim="adam", scale=1.0, lr=1e-1, epochs=2000)
    assert records[-1].train_loss == pytest.approx(book.ADAM_LOSS, **BOOK)
    assert result.weight[0] + result.bias == pytest.approx(book.ADAM_PARAMS, abs=book.PARAM_ABS)


def test_stable_lr_is_two_over_the_top_hessian_eigenvalue():
    X, y = (v.double() for v in celsius_unscaled())
    hessian = torch.autograd.functional.hessian(
        lambda t: models.loss(models.Linear(1, 1).residuals(X, y, t.view(1, 2)), "mean").sum(),
        torch.zeros(2, dtype=torch.float64),
    )
    expected = 2 / torch.linalg.eigvalsh(hessian)[-1].item()
    bound = stats.gram([(X, y)]).stable_lr(1, "mean")
    assert bound == pytest.approx(expected, rel=1e-9)
    assert bound == pytest.approx(3.40e-4, rel=1e-2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("lr, verdict", [(3.3e-4, "converging"), (3.5e-4, "diverged")])
def test_the_stable_bound_separates_convergence_from_divergence_in_any_dtype(lr, verdict, dtype):
    _, result = run(dataset="celsius", scale=1.0, lr=lr, epochs=3000, dtype=dtype)
    # float64 holds the growing loss (about 1e153 after 3000 epochs): it rose, it did not overflow;
    # float32 overflows. Both are the same verdict.
    assert result.verdict.kind == verdict


def test_tiny_learning_rates_are_not_called_divergent():
    for lr in (1e-12, 1e-11, 1e-10, 1e-9):
        _, result = run(dataset="celsius", lr=lr, epochs=3)
        assert result.verdict.kind == "converging", (lr, result.start_loss, result.final_loss)
        assert result.final_loss <= result.start_loss


def test_an_lr_just_above_the_bound_is_unstable_before_the_loss_grows():
    _, result = run(dataset="celsius", lr=0.03299, epochs=200)
    assert result.stable_lr == pytest.approx(0.032978, abs=1e-6) and result.final_loss < result.start_loss
    assert result.verdict.kind == "unstable" and "stability bound" in result.verdict.reason
    _, longer = run(dataset="celsius", lr=0.03299, epochs=1000)
    assert longer.final_loss > 200  # it does climb, given time


@pytest.mark.parametrize("dataset", ["celsius", "height-weight", "synthetic"])
def test_optimum_solves_the_normal_equations(dataset):
    """Overdetermined data: the optimum solves X^T X theta = X^T y, and its loss is the loss there."""
    _, result = run(dataset=dataset, epochs=1, dtype="float64")
    from gdcli import data

    ds = data.load_dataset(dataset)
    raw = torch.tensor(ds.X, dtype=torch.float64) * result.transform.scale
    if result.transform.mean is not None:
        mean, std = (torch.tensor(v, dtype=torch.float64) for v in (result.transform.mean, result.transform.std))
        raw = (raw - mean) / std
    X, y = torch.cat([raw, torch.ones(len(raw), 1, dtype=torch.float64)], 1), torch.tensor(ds.y, dtype=torch.float64)
    expected = torch.linalg.solve(X.T @ X, X.T @ y)
    got = torch.tensor(result.optimum_weight[0] + result.optimum_bias, dtype=torch.float64)
    torch.testing.assert_close(got, expected.flatten(), rtol=1e-8, atol=1e-8)
    assert result.optimum_loss == pytest.approx(float(((X @ expected - y) ** 2).mean()), rel=1e-10)


# Stable settings that reach the optimum in 1000 epochs on every built-in dataset
# (inputs standardized); a few optimizers need their own step size per dataset.
SETTINGS = {
    "gd": {},
    "sgd": dict(lr=0.05, momentum=0.9),
    "adam": dict(lr=1.0),
    "adamw": dict(lr=1.0),
    "rmsprop": dict(lr=0.03, momentum=0.9),
    "adagrad": dict(lr=10.0),
    "adamax": dict(lr=1.0),
    "nadam": dict(lr=0.3),
    "radam": dict(lr=1.0),
    "rprop": dict(lr=0.05),
}
OVERRIDES = {
    ("crops", "nadam"): dict(lr=1.0),
    ("iphone", "nadam"): dict(lr=0.1),
    ("synthetic", "nadam"): dict(lr=0.05),
    ("synthetic", "rmsprop"): dict(lr=0.003, momentum=0.5),
}


def test_every_optimizer_has_a_setting():
    assert set(SETTINGS) == set(OPTIMIZERS)


DATASETS = ["celsius", "height-weight", "iphone", "crops", "synthetic"]


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("optim", list(OPTIMIZERS))
def test_every_optimizer_reaches_the_optimum_on_every_dataset(dataset, optim):
    """The methods give the same gradient (test_gradient_at_the_book_start, test_methods_match_autograd_with_
    several_targets, test_book_scaled_5000_epochs), so each pair takes one of them in turn: every optimizer
    meets every method, and every dataset every method."""
    method = list(METHODS)[(DATASETS.index(dataset) + list(OPTIMIZERS).index(optim)) % len(METHODS)]
    options = {**SETTINGS[optim], **OVERRIDES.get((dataset, optim), {})}
    trainer = fit(resolve(dataset, method=method, optim=optim, normalize=True, scale=1.0, epochs=1000, **options))
    for _ in trainer.chunks():
        pass
    result = trainer.result()
    assert abs(result.gap) <= 1e-3 * result.optimum_loss, (method, result.final_loss, result.optimum_loss)


def test_mini_batches_use_a_seeded_order_and_average_the_batch_losses():
    _, full = run(dataset="synthetic", epochs=1)
    records, result = run(dataset="synthetic", batch_size=10, epochs=200, lr=0.1)
    assert result.verdict.kind == "converging" and abs(result.gap) < 0.05 * result.optimum_loss
    # Epoch 1's logged loss is the mean of its ten batch losses, all taken before their updates,
    # so it lies below the full-batch loss at the start (the first batch's loss is the only one at W=1, b=0).
    assert records[0].train_loss < full.train_loss[0]
    again, _ = run(dataset="synthetic", batch_size=10, epochs=200, lr=0.1)
    assert [r.train_loss for r in again] == [r.train_loss for r in records]  # seeded
    other, _ = run(dataset="synthetic", batch_size=10, epochs=200, lr=0.1, seed=7)
    assert [r.train_loss for r in other] != [r.train_loss for r in records]


def test_mini_batches_follow_a_plain_randperm_and_sgd_loop():
    """The reference: a hand-written epoch loop over one seeded randperm per epoch, with torch.optim.SGD."""
    records, _ = run(dataset="synthetic", batch_size=16, epochs=5, lr=0.1, optim="sgd", momentum=0.5)
    ds = load_dataset("synthetic")
    X, y = torch.tensor(ds.X)[:, 0].float(), torch.tensor(ds.y)[:, 0].float()
    w, b = torch.ones(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w, b], lr=0.1, momentum=0.5)
    gen = torch.Generator().manual_seed(42)
    expected = []
    for _ in range(5):
        total = 0.0
        for idx in torch.randperm(len(X), generator=gen).split(16):
            loss = ((w * X[idx] + b - y[idx]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)  # weighted by its rows: the short last batch counts for 4 of 100
        expected.append(total / len(X))
    assert [r.train_loss for r in records] == pytest.approx(expected, rel=1e-6)


def test_a_batch_larger_than_the_training_set_is_full_batch_descent():
    big, _ = run(dataset="celsius", batch_size=1000, epochs=50)
    full, _ = run(dataset="celsius", epochs=50)
    assert [r.train_loss for r in big] == [r.train_loss for r in full]


def test_per_sample_updates_reach_the_optimum_neighbourhood():
    _, result = run(dataset="celsius", batch_size=1, epochs=100, lr=3e-3, normalize=True, scale=1.0)
    assert result.verdict.kind == "converging" and result.gap < 1e-3 * result.optimum_loss


def test_validation_split_is_seeded_and_measured_without_grad():
    records, result = run(dataset="celsius", val_fraction=0.2)
    assert (result.n_train, result.n_val) == (9, 2)
    assert all(r.val_loss is not None and math.isfinite(r.val_loss) for r in records)
    perm = torch.randperm(11, generator=torch.Generator().manual_seed(42)).tolist()
    # Validation at the start: W=1, b=0 on the two held-out rows, scaled by 0.1 in float32 as the book does.
    t_u, t_c = torch.tensor(book.T_U)[perm[-2:]] * 0.1, torch.tensor(book.T_C)[perm[-2:]]
    assert records[0].val_loss == pytest.approx(float(((t_u - t_c) ** 2).mean()), rel=1e-6)


def test_sum_reduction_scales_loss_and_gradient():
    X, y = celsius_unscaled()
    theta = torch.tensor([[1.0, 0.0]])  # one run's flat (weight, bias)
    for method in METHODS:
        loss, grad = gradients.gradient_at(method, theta, rows_of(X, y, "sum"), gradients.LossSpec("sum", 0.1))
        assert float(loss) == pytest.approx(book.START_LOSS * 11, rel=1e-5)
        assert grad.flatten().tolist() == pytest.approx([g * 11 for g in book.START_GRAD], rel=1e-4)


def test_normalize_uses_training_statistics(tmp_path):
    """Standardized inputs have mean 0 and std 1 over the training rows: the fit's saved transform says so."""
    _, result = run(dataset="height-weight", val_fraction=0.2, epochs=1)
    ds = load_dataset("height-weight")
    perm = torch.randperm(15, generator=torch.Generator().manual_seed(42)).tolist()
    train = torch.tensor(ds.X, dtype=torch.float64)[perm[:-3], 0]
    assert result.transform.mean[0] == pytest.approx(float(train.mean()), rel=1e-12)
    assert result.transform.std[0] == pytest.approx(float(train.std(unbiased=False)), rel=1e-12)


def test_float64_and_init_options():
    _, result = run(dataset="celsius", dtype="float64", init="zeros", epochs=10)
    assert result.train_loss[0] == pytest.approx(sum(t * t for t in
        [0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0]) / 11, rel=1e-12)
    _, explicit = run(dataset="celsius", init="2,1", epochs=1)
    assert explicit.initial_params == {"weight": [[2.0]], "bias": [1.0]}
    X, y = book.celsius(dtype=torch.float32)  # the preset's scale 0.1, as the book rounds it
    assert explicit.train_loss[0] == pytest.approx(book.mse(X, y, 2.0, 1.0), **BOOK)
    a, _ = run(dataset="crops", init="randn", epochs=3)
    b, _ = run(dataset="crops", init="randn", epochs=3)
    c, _ = run(dataset="crops", init="randn", epochs=3, seed=1)
    assert a[0].train_loss == b[0].train_loss != c[0].train_loss


@pytest.mark.parametrize(
    "options, needle",
    [
        (dict(lr=0), "--lr must be a positive finite number"),
        (dict(lr=-1), "--lr must be a positive finite number"),
        (dict(epochs=0), "--epochs must be at least 1"),
        (dict(delta=0), "--delta must be a positive finite number"),
        (dict(batch_size=0), "--batch-size must be at least 1"),
        (dict(val_fraction=1.0), "--val-fraction must be in [0, 1)"),
        (dict(val_fraction=-0.1), "--val-fraction must be in [0, 1)"),
        (dict(init="1,2,3"), "gives 3 numbers; celsius needs 2"),
        (dict(init="heavy"), "is neither"),
        (dict(val_fraction=0.05), "leaves no validation row"),
        (dict(method="guess"), "unknown method"),
        (dict(optim="lbfgs"), "unknown optim"),
    ],
)
def test_bad_settings_are_user_errors(options, needle):
    with pytest.raises(GdcliError) as err:
        fit(resolve("celsius", **options))
    assert needle in str(err.value)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    _, cpu = run(dataset="celsius", device="cpu", epochs=500)
    _, gpu = run(dataset="celsius", device="cuda", epochs=500)
    assert gpu.final_loss == pytest.approx(cpu.final_loss, rel=1e-4)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cuda_asked_for_where_there_is_none():
    with pytest.raises(GdcliError, match="no CUDA device"):
        fit(resolve("celsius", device="cuda"))


def test_trainer_rejects_runs_that_differ_beyond_lr_momentum_seed():
    with pytest.raises(ValueError):
        Trainer([resolve("celsius"), resolve("celsius", epochs=10)])
