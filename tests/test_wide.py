"""Wide data and sizes decided before work: the optimum and the stability bound of k > n data from the
n x k side (against pinv and eigvalsh), the optimum not computed where no side fits, sweep groups sized
as they train, and `gdcli datasets` drawing only the rows it shows."""

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdcli import data, stats, train
from gdcli import grid as sw
from gdcli.cli import parsing
from gdcli.config import resolve
from gdcli.errors import GdcliError

# --- the optimum and the bound of wide data ------------------------------------------------------


def test_the_smaller_side_is_chosen_before_any_work():
    big = 64 * 1024**3
    assert stats.solve_plan(1000, 3, big).side == "gram"
    assert stats.solve_plan(10, 300, big).side == "rows"
    assert stats.solve_plan(10, 100_000, big).side == "rows"  # never a 100,001-square matrix
    assert stats.solve_plan(5, 60_000, big).side == "rows"
    plan = stats.solve_plan(50_000, 40_000, big)
    assert plan.side is None and "40,000 features on 50,000 rows" in plan.reason
    # Memory: a Gram matrix that does not fit falls back to the rows, or to nothing.
    assert stats.solve_plan(100_000, 3_000, 300 * 1024**2).side is None
    assert "GiB of memory" in stats.solve_plan(100_000, 3_000, 300 * 1024**2).reason


def _reference(X: np.ndarray, y: np.ndarray):
    """Minimum-norm weights of the centred problem (pinv), the bias absorbing the means; float64."""
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    mx, my = X.mean(0), y.mean(0)
    weight = torch.linalg.pinv(X - mx, rtol=1e-6) @ (y - my)
    bias = my - mx @ weight
    A = torch.cat([X, torch.ones(X.shape[0], 1, dtype=X.dtype)], 1)
    return weight, bias, A


def test_wide_optimum_and_bound_come_from_the_rows(monkeypatch):
    # k = 300 > n = 10: no (k + 1)-square Gram matrix may be built.
    def no_gram(*_):
        raise AssertionError("the Gram matrix of wide data was built")

    monkeypatch.setattr(stats, "gram", no_gram)
    cfg = resolve("synthetic", features=300, rows=10, epochs=3, lr=1e-4, dtype="float64", device="cpu", init="zeros")
    trainer = train.fit(cfg)
    list(trainer.chunks())
    result = trainer.result()
    ds = trainer.dataset
    weight, bias, A = _reference(ds.X, ds.y)
    got_w = torch.tensor(result.optimum_params["weight"], dtype=torch.float64)
    got_b = torch.tensor(result.optimum_params["bias"], dtype=torch.float64)
    torch.testing.assert_close(got_w, weight.T, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(got_b, bias, rtol=1e-8, atol=1e-10)
    assert result.optimum_loss < 1e-20  # 301 parameters fit 10 rows exactly
    # The Hessian of the mean squared loss is 2/n [X 1]^T [X 1]: a 301-square matrix, built here only.
    lam = float(torch.linalg.eigvalsh(2 / 10 * A.T @ A)[-1])
    assert result.stable_lr == pytest.approx(2 / lam, rel=1e-10)


def test_one_solve_serves_every_momentum(monkeypatch):
    calls = []
    real = stats.solve
    monkeypatch.setattr(stats, "solve", lambda *a: calls.append(1) or real(*a))
    base = resolve("synthetic", features=40, rows=12, epochs=2, lr=1e-3, optim="sgd", dtype="float64", device="cpu")
    configs = [replace(base, momentum=m) for m in (0.0, 0.5, 0.9)]
    trainer = train.Trainer(configs, history="logged")
    list(trainer.chunks())
    results = trainer.results()
    assert len(calls) == 1
    _, _, A = _reference(trainer.dataset.X, trainer.dataset.y)
    lam = float(torch.linalg.eigvalsh(2 / 12 * A.T @ A)[-1])
    for r, m in zip(results, (0.0, 0.5, 0.9)):
        assert r.stable_lr == pytest.approx(2 * (1 + m) / lam, rel=1e-10)


def test_an_optimum_too_large_to_solve_is_reported_not_computed(monkeypatch, run_cli, tmp_path):
    monkeypatch.setattr(stats, "MAX_SOLVE_WORK", 0.0)  # as if neither side fitted
    monkeypatch.setattr(stats, "gram", lambda *_: pytest.fail("a Gram matrix was built"))
    out = run_cli("fit", "--dataset", "synthetic", "--features", "30", "--rows", "20", "--epochs", "3",
                  "--lr", "1e-3", "--save", tmp_path / "run.json")
    assert out.exit_code == 0, out.plain
    assert "result (optimum: not computed)" in out.plain
    assert "30 features on 20 rows are too many for a least-squares solve" in out.plain
    assert "3 epochs" in out.plain  # it trained all the same
    saved = json.loads((tmp_path / "run.json").read_text())
    assert saved["optimum_loss"] is None and saved["epochs_run"] == 3
    doc = json.loads(run_cli("fit", "--dataset", "synthetic", "--features", "30", "--rows", "20", "--epochs", "3",
                             "--lr", "1e-3", "--output", "json").stdout)
    assert doc["optimum"]["loss"] is None and "too many" in doc["optimum"]["not_computed"]
    assert doc["stable_lr"] is None and math.isfinite(doc["final"]["loss"])


def test_within_without_an_optimum_is_refused_before_training(monkeypatch, run_cli):
    monkeypatch.setattr(stats, "MAX_SOLVE_WORK", 0.0)
    monkeypatch.setattr(train.Trainer, "chunks", lambda self: pytest.fail("trained"))
    out = run_cli("fit", "--dataset", "synthetic", "--features", "30", "--rows", "20", "--within", "0.1")
    assert out.exit_code == 2
    assert "--within" in out.plain and "not computed" in out.plain and "--tol" in out.plain
    assert "Traceback" not in out.plain


def test_the_gram_method_beyond_memory_is_refused_before_training(monkeypatch, run_cli):
    monkeypatch.setattr(data, "available_memory", lambda: 64 * 1024**2)
    monkeypatch.setattr(train.Trainer, "chunks", lambda self: pytest.fail("trained"))
    out = run_cli("fit", "--dataset", "synthetic", "--features", "3000", "--rows", "10", "--method", "gram")
    assert out.exit_code == 2, out.plain
    assert "--method gram steps on 3,001 x 3,001 matrices" in out.plain and "--method analytic" in out.plain


# --- sweep groups are sized as they train ---------------------------------------------------------


def _grid(optim: str, rows: int):
    base = resolve("synthetic", rows=rows, epochs=2, optim=optim, device="cpu")
    return sw.expand(base, sw.grid(base, lr=parsing.lr_list("1e-3:1e-1", 5)))


def test_runs_trained_one_at_a_time_are_sized_one_at_a_time(monkeypatch):
    monkeypatch.setattr(sw, "MAX_ELEMENTS", 1000)
    units, notes = sw.groups(_grid("rmsprop", 500))  # five runs of 500 rows, one after another
    assert [len(u) for u in units] == [1] * 5 and notes
    with pytest.raises(GdcliError, match="5 runs on 500 rows would need tensors of 2,500 elements"):
        sw.groups(_grid("gd", 500))  # five runs of 500 rows in one program
    with pytest.raises(GdcliError, match="1 runs on 1,001 rows"):
        sw.groups(_grid("rmsprop", 1001))


# --- datasets shows what it draws -----------------------------------------------------------------


@pytest.mark.parametrize("rows,k", [(5, 1), (17, 3), (200, 3), (1000, 1), (130, 2)])
def test_shown_rows_are_the_rows_a_fit_draws(monkeypatch, rows, k):
    monkeypatch.setattr(data.generated, "CHUNK_ROWS", 64)  # many chunks, and their boundaries, at a small size
    full = data._synthetic(7, rows, k)
    for block in (16, 48, 4096):
        parts = list(data.synthetic_blocks(7, rows, k, block))
        assert np.array_equal(np.concatenate([p[0] for p in parts]), full.X)
        assert np.array_equal(np.concatenate([p[1] for p in parts]), full.y)
    head, n, _ = data.generated_preview("synthetic", seed=7, rows=rows, features=k, head=100)
    assert n == rows
    assert np.array_equal(head.X, full.X[:100]) and np.array_equal(head.y, full.y[:100])


def test_datasets_output_matches_the_fit_rows(run_cli):
    full = data.load_dataset("synthetic", seed=3, rows=1500, features=2)
    out = run_cli("datasets", "synthetic", "--rows", "1500", "--features", "2", "--seed", "3", "--output", "csv")
    values = np.array([[float(v) for v in line.split(",")] for line in out.stdout.splitlines()[1:]])
    assert np.array_equal(values, np.concatenate([full.X, full.y], 1))


def test_huge_rows_draw_only_the_shown_rows(monkeypatch, run_cli):
    # 1e9 rows would be 16 GB drawn; the memory is 64 MB, and a full draw fails the test.
    monkeypatch.setattr(data, "available_memory", lambda: 64 * 1024**2)
    monkeypatch.setattr(data.generated, "_synthetic", lambda *a: pytest.fail("every row was drawn"))
    skipped = []
    monkeypatch.setattr(data.generated, "_skip_uniform", lambda gen, count: skipped.append(count))  # stepping takes seconds
    out = run_cli("datasets", "synthetic", "--rows", "1000000000")
    assert out.exit_code == 0, out.plain
    assert "1,000,000,000 rows (the first 1000 shown)" in out.plain
    assert skipped == [10**9]


# --- property ------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    features=st.integers(1, 400),
    rows=st.integers(2, 50),
    model=st.sampled_from(["linear", "quadratic"]),
    method=st.sampled_from(["analytic", "autograd", "finite-diff", "gram"]),
    normalize=st.booleans(),
    val=st.sampled_from([None, "0.2", "0.5"]),
)
def test_wide_fits_end_cleanly(run_cli, features, rows, model, method, normalize, val):
    args = ["fit", "--dataset", "synthetic", "--features", features, "--rows", rows, "--model", model,
            "--method", method, "--epochs", "3", "--lr", "1e-4", "--output", "json"]
    args += ["--normalize"] if normalize else []
    args += ["--val-fraction", val] if val else []
    out = run_cli(*args)
    assert "Traceback" not in out.output
    assert out.exit_code in (0, 2, 3), out.output
    if out.exit_code == 0:
        doc = json.loads(out.stdout)
        best, final = doc["optimum"]["loss"], doc["final"]["loss"]
        if best is not None:
            assert best <= final + 1e-9 * max(1.0, abs(final))


def test_rows_too_many_to_step_past_are_refused_at_once(run_cli):
    out = run_cli("datasets", "synthetic", "--rows", str(10**13))
    assert out.exit_code == 2 and "too many to step past" in out.plain and "use at most" in out.plain
