"""Data at scale: the Gram statistics against lstsq and eigvalsh, the gram method against analytic,
chunked generation and normalization, files read once, the memory check, --compile."""

import json

import numpy as np
import pytest
import torch

from gdcli import data, gradients, stats, store, train
from gdcli.train import loop
from gdcli.config import resolve
from gdcli.errors import GdcliError
from gdcli.optimizers import OPTIMIZERS


def chunks_of(X, y, size):
    return [(X[i : i + size], y[i : i + size]) for i in range(0, X.shape[0], size)]


def augmented(X):
    return torch.cat([X, torch.ones(X.shape[0], 1, dtype=X.dtype)], 1)


# --- the Gram statistics --------------------------------------------------------------------


@pytest.mark.parametrize("size", [7, 64, 1000])
def test_gram_optimum_and_bound_match_lstsq_and_eigvalsh(size):
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(300, 4, dtype=torch.float64, generator=gen) * torch.tensor([1.0, 10.0, 0.1, 3.0]) + 5.0
    y = torch.randn(300, 2, dtype=torch.float64, generator=gen)
    gram = stats.gram(chunks_of(X, y, size))  # merged chunk by chunk
    A = augmented(X)
    expected = torch.linalg.lstsq(A, y, driver="gelsd").solution
    torch.testing.assert_close(gram.solve(), expected, rtol=1e-10, atol=1e-12)
    for reduction in ("mean", "sum"):
        scale = 2 / (300 * 2) if reduction == "mean" else 2.0
        lam = float(torch.linalg.eigvalsh(scale * A.T @ A)[-1])
        assert gram.hessian_max(2, reduction) == pytest.approx(lam, rel=1e-12)
    loss = stats.losses(chunks_of(X, y, size), expected[None], "mean")
    assert float(loss) == pytest.approx(float((A @ expected - y).square().mean()), rel=1e-12)


def test_gram_optimum_of_rank_deficient_data_is_the_minimum_norm_one():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(50, 1, dtype=torch.float64, generator=gen)
    # A column that repeats another (twice as large) and a constant column.
    X = torch.cat([x, 2 * x, torch.full_like(x, 3.0)], 1)
    y = 4 * x + 1 + 0.1 * torch.randn(50, 1, dtype=torch.float64, generator=gen)
    theta = stats.gram(chunks_of(X, y, 16)).solve()
    reference = torch.linalg.lstsq(augmented(X), y, driver="gelsd").solution
    # The fit itself is unique: the same predictions and loss as lstsq's.
    torch.testing.assert_close(augmented(X) @ theta, augmented(X) @ reference, rtol=1e-10, atol=1e-10)
    # The weights are the minimum-norm ones of the centred problem; the bias absorbs the means.
    centred = torch.linalg.lstsq(X - X.mean(0), y - y.mean(0), driver="gelsd").solution
    torch.testing.assert_close(theta[:-1], centred, rtol=1e-10, atol=1e-12)
    assert float(theta[2, 0]) == 0.0 or abs(float(theta[2, 0])) < 1e-12  # the constant column adds nothing
    assert float(theta[1, 0]) == pytest.approx(2 * float(theta[0, 0]), rel=1e-9)  # shared as the minimum norm shares


def test_an_exact_fit_far_from_the_origin_is_found_exactly():
    t = 1e8 + torch.arange(1000, dtype=torch.float64).unsqueeze(1)
    y = 0.5 * (t - 1e8) - 3.0
    gram = stats.gram(chunks_of(t, y, 100))
    theta = gram.solve()
    assert float(theta[0, 0]) == pytest.approx(0.5, rel=1e-12)
    # Measured from its residuals, the optimum's loss is zero to rounding (the expanded quadratic
    # form would leave about 1e-2 of cancellation noise here).
    assert float(stats.losses(chunks_of(t, y, 100), theta[None], "mean")) < 1e-12


# --- the gram method ------------------------------------------------------------------------

SETTINGS = {
    "gd": {},
    "sgd": dict(lr=0.05, momentum=0.9),
    "adam": dict(lr=0.1),
    "adamw": dict(lr=0.1),
    "rmsprop": dict(lr=0.01, momentum=0.5),
    "adagrad": dict(lr=1.0),
    "adamax": dict(lr=0.1),
    "nadam": dict(lr=0.05),
    "radam": dict(lr=0.1),
    "rprop": dict(lr=0.01),
}


def test_every_optimizer_has_a_setting():
    assert set(SETTINGS) == set(OPTIMIZERS)


@pytest.mark.parametrize("dataset", ["celsius", "height-weight", "iphone", "crops", "synthetic"])
@pytest.mark.parametrize("optim", list(OPTIMIZERS))
def test_gram_matches_analytic_on_every_dataset_for_every_optimizer(dataset, optim):
    """The same descent: the Gram matrix only sums the analytic gradient's rows before training."""
    histories = {}
    for method in ("analytic", "gram"):
        trainer = train.fit(resolve(dataset, method=method, optim=optim, normalize=True, scale=1.0, epochs=100,
                                    dtype="float64", **SETTINGS[optim]))
        histories[method] = [r.train_loss for r in trainer.records()]
        histories[method + " final"] = trainer.result().final_loss
    assert histories["gram"] == pytest.approx(histories["analytic"], rel=1e-6)
    assert histories["gram final"] == pytest.approx(histories["analytic final"], rel=1e-6)


@pytest.mark.parametrize("dataset", ["celsius", "iphone", "crops"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gram_gradient_equals_analytic_at_the_start_in_float32(dataset, reduction):
    trainer = train.fit(resolve(dataset, reduction=reduction, init="randn", epochs=1))
    prep = trainer.prepared[0]
    rows = gradients.shared(prep.X_train, prep.y_train, prep.gram("training"), reduction)
    spec = gradients.LossSpec(reduction)
    loss_a, grad_a = gradients.gradient_at("analytic", trainer.theta, rows, spec)
    loss_g, grad_g = gradients.gradient_at("gram", trainer.theta, rows, spec)
    torch.testing.assert_close(loss_g, loss_a, rtol=1e-5, atol=0)
    torch.testing.assert_close(grad_g, grad_a, rtol=1e-4, atol=1e-5 * float(grad_a.abs().max()))


def test_gram_with_mini_batches_is_refused_with_the_reason(run_cli):
    result = run_cli("fit", "--method", "gram", "--batch-size", "4")
    assert result.exit_code == 2
    assert "whole training set" in result.stderr and "--batch-size" in result.stderr
    # compare leaves gram out of its default methods when there are mini-batches.
    result = run_cli("compare", "--batch-size", "4", "--epochs", "5", "--output", "json")
    assert result.exit_code == 0, result.output
    assert "gram" not in {run["config"]["method"] for run in json.loads(result.stdout)["runs"]}


def test_gram_validation_loss_matches_the_forward_pass():
    losses = {}
    for method in ("analytic", "gram"):
        trainer = train.fit(resolve("height-weight", method=method, val_fraction=0.2, epochs=50, dtype="float64"))
        losses[method] = [r.val_loss for r in trainer.records()]
    assert losses["gram"] == pytest.approx(losses["analytic"], rel=1e-9)


# --- generated data ---------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [1, 15, 16, 17, 63, 64, 65, 100, 129])
def test_synthetic_drawn_in_chunks_is_the_data_drawn_at_once(rows, monkeypatch):
    monkeypatch.setattr(data.generated, "CHUNK_ROWS", 32)
    ds = data.load_dataset("synthetic", seed=3, rows=rows)
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(rows, generator=gen, dtype=torch.float64)
    noise = torch.randn(rows, generator=gen, dtype=torch.float64)
    assert np.array_equal(ds.X[:, 0], (x).numpy())
    assert np.array_equal(ds.y[:, 0], (1.0 + 2.0 * x + 0.1 * noise).numpy())


def test_synthetic_features_sum_into_the_target():
    ds = data.load_dataset("synthetic", seed=0, rows=5000, features=4)
    assert ds.features == ("x1", "x2", "x3", "x4") and ds.X.shape == (5000, 4)
    residual = ds.y[:, 0] - (1 + 2 * ds.X.sum(1))
    assert abs(residual.mean()) < 0.01 and 0.09 < residual.std() < 0.11
    with pytest.raises(GdcliError, match="synthetic dataset only"):
        data.load_dataset("celsius", features=2)


def test_the_memory_refusal_names_the_size_and_what_is_available(run_cli):
    result = run_cli("fit", "--dataset", "synthetic", "--rows", str(10**13), "--features", "3")
    assert result.exit_code == 2, result.output
    message = result.stderr
    assert "--rows 10,000,000,000,000" in message and "GiB of memory" in message and "is available" in message
    assert "Traceback" not in result.output


def test_a_two_million_row_synthetic_fit_runs(run_cli):
    result = run_cli("fit", "--dataset", "synthetic", "--rows", "2000000", "--method", "analytic", "--epochs", "3",
                     "--output", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["optimum"]["params"]["weight"][0][0] == pytest.approx(2.0, abs=1e-3)
    assert out["optimum"]["params"]["bias"][0] == pytest.approx(1.0, abs=1e-3)


# --- normalization --------------------------------------------------------------------------


def test_normalizing_a_column_far_from_zero_in_float32_matches_float64(tmp_path):
    t = 1e8 + np.arange(2000, dtype=np.float64)
    path = tmp_path / "far.csv"
    path.write_text("t,y\n" + "".join(f"{v:.1f},{i % 7}\n" for i, v in enumerate(t)))
    ds = data.load_dataset(str(path))
    prep = data.prepare(ds, normalize=True, dtype=torch.float32)
    exact = (t - t.mean()) / t.std()
    assert np.abs(prep.X_train[:, 0].double().numpy() - exact).max() < 1e-6
    assert len(set(prep.X_train[:, 0].tolist())) == 2000  # no two rows rounded together


def test_normalize_in_chunks_saves_the_columns_mean_and_std(run_cli, monkeypatch, tmp_path):
    """--normalize measures each column in chunks of rows far from zero: the transform it saves is numpy's
    mean and population std of the scaled columns, whether one chunk or sixteen."""
    X = (np.random.default_rng(0).normal(size=(1000, 3)) * 5 + 1e6).tolist()
    path = tmp_path / "far.csv"
    path.write_text("a,b,c,y\n" + "".join(f"{a!r},{b!r},{c!r},{i % 5}\n" for i, (a, b, c) in enumerate(X)))
    scaled = np.array(X) * 0.5
    for chunk_rows in (data.CHUNK_ROWS, 64):
        monkeypatch.setattr(data.tensors, "CHUNK_ROWS", chunk_rows)
        result = run_cli("fit", "--dataset", path, "--scale", "0.5", "--normalize", "--epochs", "1", "--output", "json")
        assert result.exit_code == 0, result.output
        transform = json.loads(result.stdout)["transform"]
        np.testing.assert_allclose(transform["mean"], scaled.mean(0), rtol=1e-14, atol=0)
        np.testing.assert_allclose(transform["std"], scaled.std(0), rtol=1e-10, atol=0)


# --- files: read once, every format -----------------------------------------------------------


def test_a_file_is_read_once_for_a_multi_seed_sweep(run_cli, tmp_path, monkeypatch):
    from gdcli import readers

    path = tmp_path / "rows.csv"
    path.write_text("x,y\n" + "".join(f"{i},{2 * i + 1}\n" for i in range(40)))
    calls = []
    real = readers.read
    monkeypatch.setattr(readers, "read", lambda *a, **k: calls.append(a) or real(*a, **k))
    store.load.cache_clear()
    result = run_cli("sweep", "--dataset", path, "--seeds", "1:5", "--lr", "1e-4,1e-3", "--val-fraction", "0.2",
                     "--epochs", "5", "--optim", "rmsprop", "--normalize")
    assert result.exit_code == 0, result.output
    assert len(calls) == 1


def test_parquet_and_gzip_csv_train_as_the_csv_does(run_cli, tmp_path):
    import gzip

    import pyarrow as pa
    import pyarrow.parquet as pq

    text = "t_u,t_c\n" + "".join(f"{u},{c}\n" for u, c in zip(
        [35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4],
        [0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0]))
    (tmp_path / "t.csv").write_text(text)
    (tmp_path / "t.csv.gz").write_bytes(gzip.compress(text.encode()))
    table = pa.table({"t_u": [35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4],
                      "t_c": [0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0]})
    pq.write_table(table, tmp_path / "t.parquet")
    outs = []
    for name in ("t.csv", "t.csv.gz", "t.parquet"):
        result = run_cli("fit", "--dataset", tmp_path / name, "--scale", "0.1", "--epochs", "200", "--output", "json")
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        outs.append((out["final"], out["optimum"]))
    assert outs[0] == outs[1] == outs[2]


# --- sweeps over seeds: runs grouped by their rows --------------------------------------------


def test_runs_with_their_own_split_each_train_as_their_fit_alone():
    configs = [resolve("height-weight", method="analytic", lr=lr, seed=seed, val_fraction=0.2, epochs=200,
                       dtype="float64")
               for lr in (0.05, 0.1) for seed in (1, 2, 3)]
    trainer = train.Trainer(configs)
    for _ in trainer.chunks():
        pass
    for run, cfg in enumerate(configs):
        alone = train.fit(cfg)
        for _ in alone.chunks():
            pass
        torch.testing.assert_close(trainer.history()[1][:, run], alone.history()[1][:, 0], rtol=1e-12, atol=0)
        assert trainer.results()[run].final_val_loss == pytest.approx(alone.result().final_val_loss, rel=1e-12)
        assert trainer.results()[run].optimum_loss == alone.result().optimum_loss


def test_chunks_are_sized_by_time():
    # A slow epoch (0.2 s) syncs after every epoch or two; a fast one grows fourfold at a time, to the cap.
    assert loop.next_chunk(1, 0.2, 4096) == 2
    assert loop.next_chunk(1, 2.0, 4096) == 1
    assert loop.next_chunk(16, 0.001, 4096) == 64
    assert loop.next_chunk(2048, 0.01, 4096) == 4096


# --- --compile ----------------------------------------------------------------------------------


def _compile_unavailable():
    from gdcli.train import compiling

    return compiling.unavailable(torch.device("cpu"))


@pytest.mark.skipif(_compile_unavailable() is not None, reason=f"torch.compile unavailable: {_compile_unavailable()}")
def test_compile_gives_the_eager_losses():
    results = {}
    for compiled in (False, True):
        trainer = train.fit(resolve("celsius", method="analytic", epochs=300, compile=compiled))
        results[compiled] = ([r.train_loss for r in trainer.records()], trainer.result())
    (eager, eager_result), (fast, fast_result) = results[False], results[True]
    assert fast == pytest.approx(eager, rel=1e-5)
    assert fast_result.final_loss == pytest.approx(eager_result.final_loss, rel=1e-5)
    assert fast_result.compile_seconds > 0 and eager_result.compile_seconds == 0


def test_compile_refuses_mini_batches(run_cli):
    result = run_cli("fit", "--compile", "--batch-size", "4")
    assert result.exit_code == 2 and "--compile" in result.stderr


def test_compile_where_it_is_unavailable_exits_2(run_cli, monkeypatch):
    from gdcli.train import compiling

    monkeypatch.setattr(compiling, "unavailable", lambda device: "no C++ compiler was found (test)")
    result = run_cli("fit", "--compile", "--epochs", "3")
    assert result.exit_code == 2
    assert "--compile is not available here: no C++ compiler" in result.stderr
    assert "Traceback" not in result.output
