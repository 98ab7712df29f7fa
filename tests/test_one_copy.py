"""Rows not held (drawn again, or read again from their file) train to the same numbers as rows held.

Every comparison patches the hold threshold to 0, so that the same small data takes the
one-copy path, against the held path of today: the training tensors are the same, so the
final parameters are identical; the float64 facts (optimum, losses, gap, validation
metrics) come from other sums and agree to float64 rounding.
"""

import math

import book
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from gdcli import store
from gdcli.train import plan as plan_module
from gdcli.data import generated, load_dataset, prepare
from gdcli.errors import GdcliError
from gdcli.train import fit, resolve
from conftest import trained

RTOL = 1e-12


def fresh(monkeypatch, hold: int) -> None:
    """Forget what the process keeps, and hold rows up to `hold` float64 bytes."""
    monkeypatch.setattr(generated, "HOLD_BYTES", hold)
    store.load.cache_clear()
    store.prepared.cache_clear()
    store._DESIGNS.clear()


def both(monkeypatch, dataset: str, **options):
    """The RunResult of one fit with rows held and with rows not held."""
    found = []
    for hold in (generated.HOLD_BYTES, 0):
        fresh(monkeypatch, hold)
        trainer = trained(fit(resolve(dataset, **options)))
        assert trainer.plan.dataset.held == (hold != 0)
        found.append(trainer.result())
    fresh(monkeypatch, found and generated.HOLD_BYTES)
    return found


def close(a, b) -> bool:
    """Equal to float64 rounding (None and None alike)."""
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=RTOL, abs_tol=1e-300)


def assert_same(held, streamed) -> None:
    """The two fits' parameters are identical and their float64 facts and verdicts agree."""
    assert held.params.keys() == streamed.params.keys()
    for name in held.params:
        assert torch.equal(torch.as_tensor(held.params[name]), torch.as_tensor(streamed.params[name])), name
    for field in ("start_loss", "final_loss", "optimum_loss", "final_val_loss", "zero_loss"):
        assert close(getattr(held, field), getattr(streamed, field)), field
    # A network's bound is a local estimate, taken on the training tensors of rows not held.
    linear = held.model.linear_in_params
    assert held.stable_lr == pytest.approx(streamed.stable_lr, rel=RTOL if linear else 1e-5)
    assert held.exact_fit == streamed.exact_fit
    assert close(held.final_loss - held.optimum_loss if held.optimum_loss is not None else None,
                 streamed.final_loss - streamed.optimum_loss if streamed.optimum_loss is not None else None) or \
        abs((held.final_loss - held.optimum_loss) - (streamed.final_loss - streamed.optimum_loss)) < 1e-12 * held.final_loss
    assert held.verdict.kind == streamed.verdict.kind if hasattr(held.verdict, "kind") else held.verdict == streamed.verdict
    assert held.verdict.diverged == streamed.verdict.diverged
    if held.val_metrics is None:
        assert streamed.val_metrics is None
    else:
        for target, scores in held.val_metrics.items():
            for key, value in scores.items():
                assert close(value, streamed.val_metrics[target][key]), (target, key)
    if held.optimum_params is not None:
        for name, value in held.optimum_params.items():
            np.testing.assert_allclose(np.asarray(value), np.asarray(streamed.optimum_params[name]), rtol=1e-9, atol=1e-12)


CASES = [  # (model, options): every option against each model at least once, kept few for speed
    ("linear", dict(features=1)),
    ("linear", dict(features=5, lr=0.1, val_fraction=0.25)),
    ("linear", dict(features=1, normalize=True, val_fraction=0.2)),
    ("linear", dict(features=5, lr=0.1, scale=0.5)),
    ("quadratic", dict(features=1, lr=0.1, val_fraction=0.25)),
    ("quadratic", dict(features=1, lr=0.1, normalize=True, scale=0.5)),
    ("mlp", dict(features=1, lr=0.05, hidden=4, val_fraction=0.25)),
    ("mlp", dict(features=1, lr=0.05, hidden=4, normalize=True)),
]


@pytest.mark.parametrize("model,options", CASES, ids=[f"{m}-{'-'.join(o)}" for m, o in CASES])
def test_synthetic_drawn_again_trains_the_same(monkeypatch, model, options):
    held, streamed = both(monkeypatch, "synthetic", model=model, rows=300, epochs=40, seed=3, **options)
    assert_same(held, streamed)


def table_rows(n=240, seed=0):
    """A file's columns: two inputs of different sizes and a noisy target."""
    gen = np.random.default_rng(seed)
    a, b = gen.uniform(0, 1, n), gen.uniform(10, 20, n)
    return {"a": a, "b": b, "y": 3 * a - 0.5 * b + 0.05 * gen.standard_normal(n)}


def data_file(tmp_path, kind: str):
    """A CSV or Parquet file of `table_rows`."""
    columns = table_rows()
    path = tmp_path / f"rows.{kind}"
    if kind == "csv":
        with open(path, "w") as f:
            f.write("a,b,y\n")
            for row in zip(*columns.values()):
                f.write(",".join(repr(float(v)) for v in row) + "\n")
    else:
        pq.write_table(pa.table(columns), path, row_group_size=50)
    return path


FILE_CASES = [
    ("csv", "linear", dict(normalize=True, val_fraction=0.3)),
    ("parquet", "linear", dict(normalize=True, val_fraction=0.3)),
    ("parquet", "linear", dict(scale=0.1)),
    ("csv", "quadratic", dict(normalize=True)),
    ("parquet", "quadratic", dict(normalize=True, val_fraction=0.3)),
    ("csv", "mlp", dict(normalize=True, val_fraction=0.3)),
    ("csv", "linear", dict(missing="drop", val_fraction=0.3)),  # read whole, then dropped
]


@pytest.mark.parametrize("kind,model,options", FILE_CASES, ids=[f"{k}-{m}-{'-'.join(o)}" for k, m, o in FILE_CASES])
def test_file_read_again_trains_the_same(monkeypatch, tmp_path, kind, model, options):
    extra = dict(hidden=3) if model == "mlp" else {}
    path = data_file(tmp_path, kind)
    held, streamed = both(monkeypatch, str(path), model=model, epochs=30, lr=0.01, **options, **extra)
    assert_same(held, streamed)


def test_the_book_numbers_from_a_file_read_again(monkeypatch, tmp_path):
    path = tmp_path / "celsius.csv"
    path.write_text("t_u,t_c\n" + "".join(f"{u},{c}\n" for u, c in zip(book.T_U, book.T_C)))
    fresh(monkeypatch, 0)
    trainer = trained(fit(resolve(str(path), scale=0.1, lr=1e-2, epochs=5000)))  # 11 rows: fast
    assert not trainer.plan.dataset.held
    result = trainer.result()
    assert result.start_loss == pytest.approx(book.SCALED_START_LOSS, rel=book.REL)
    assert result.final_loss == pytest.approx(book.SCALED_LOSS, rel=book.REL)
    flat = [v for values in result.params.values() for v in np.ravel(values)]
    assert flat == pytest.approx(book.SCALED_PARAMS, abs=book.PARAM_ABS)
    fresh(monkeypatch, generated.HOLD_BYTES)


def test_nearly_exact_fit_keeps_its_verdict(monkeypatch, tmp_path):
    """A line through the rows exactly: the anchored losses do not cancel into noise."""
    path = tmp_path / "exact.csv"
    x = 1e3 + 1e3 * np.random.default_rng(1).uniform(size=64)
    path.write_text("x,y\n" + "".join(f"{a!r},{3 * a + 7!r}\n" for a in x.tolist()))
    held, streamed = both(monkeypatch, str(path), normalize=True, epochs=300, lr=0.5, dtype="float64")
    assert held.exact_fit and streamed.exact_fit
    assert streamed.final_loss == pytest.approx(held.final_loss, rel=1e-6, abs=1e-24)
    assert held.verdict.diverged == streamed.verdict.diverged


def test_redrawn_rows_are_the_drawn_rows(monkeypatch):
    monkeypatch.setattr(generated, "HOLD_BYTES", 0)
    streamed = load_dataset("synthetic", rows=1000, features=3, seed=5)
    monkeypatch.undo()
    held = load_dataset("synthetic", rows=1000, features=3, seed=5)
    assert held.held and not streamed.held and streamed.n_rows == 1000
    for _ in range(2):  # each read draws again, the same rows
        X = np.concatenate([b[0].copy() for b in streamed.row_blocks()])  # a block's buffers are reused
        y = np.concatenate([b[1].copy() for b in streamed.row_blocks()])
        assert np.array_equal(X, held.X) and np.array_equal(y, held.y)
    Xs, ys = streamed.sample(100)
    assert np.array_equal(Xs, held.X[::10]) and np.array_equal(ys, held.y[::10])


def test_the_range_check_names_the_same_cell(monkeypatch, tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("x,y\n" + "".join(f"{i},{2 * i}\n" for i in range(40)) + "1e30,1\n" + "2,1e25\n")
    messages = []
    for hold in (generated.HOLD_BYTES, 0):
        fresh(monkeypatch, hold)
        with pytest.raises(GdcliError) as found:
            fit(resolve(str(path)))
        messages.append((found.value.args, str(found.value)))
    assert messages[0] == messages[1]
    assert "line 42" in messages[1][1] and "1e+30" in messages[1][1]


def count_passes(ds):
    """The dataset, its reads counted (`ds.passes[0]`)."""
    import dataclasses

    passes = [0]

    def blocks():
        passes[0] += 1
        yield from ds.blocks()

    counted = dataclasses.replace(ds, blocks=blocks)
    object.__setattr__(counted, "passes", passes)
    return counted


@pytest.mark.parametrize("options,expected", [
    (dict(), 2), (dict(val_fraction=0.2), 3), (dict(normalize=True), 3),
    # a network: its start and final losses read both parts at once (its bound reads the tensors)
    (dict(model="mlp", hidden=3, val_fraction=0.2), 5),
])
def test_a_line_reads_rows_not_held_few_times(monkeypatch, options, expected):
    """prepare reads once (twice to standardize); the optimum's residual pass anchors every loss of a
    line, and the validation metrics read the validation rows once."""
    fresh(monkeypatch, 0)
    ds = count_passes(load_dataset("synthetic", rows=500, seed=1))
    monkeypatch.setattr(plan_module, "load", lambda *a, **k: ds)
    trainer = trained(fit(resolve("synthetic", rows=500, epochs=20, **options)))
    trainer.result()
    # prepare, the anchor (the optimum's residuals, and the validation rows' there), the validation metrics
    assert ds.passes[0] == expected
    fresh(monkeypatch, generated.HOLD_BYTES)


def test_prepare_places_every_row_where_the_split_puts_it(monkeypatch):
    monkeypatch.setattr(generated, "HOLD_BYTES", 0)
    streamed = load_dataset("synthetic", rows=777, features=2, seed=9)
    monkeypatch.undo()
    held = load_dataset("synthetic", rows=777, features=2, seed=9)
    for options in (dict(val_fraction=0.3, seed=4), dict(normalize=True, val_fraction=0.1, dtype=torch.float64)):
        a, b = prepare(held, **options), prepare(streamed, **options)
        for name in ("X_train", "y_train", "X_val", "y_val"):
            if "normalize" in options:  # the mean and std summed in file order, not the split's: to rounding
                torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=1e-14, atol=1e-14)
            else:
                assert torch.equal(getattr(a, name), getattr(b, name)), name
        ga, gb = a.gram(), b.gram()
        assert ga.n == gb.n
        torch.testing.assert_close(ga.sxx, gb.sxx, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(ga.sxy, gb.sxy, rtol=1e-12, atol=1e-12)
        assert gb.sum_y2 == pytest.approx(ga.sum_y2, rel=1e-13)


def test_the_memory_check_counts_one_copy_of_rows_not_held(monkeypatch):
    from gdcli import data as datamod

    # Held rows as before: float64 as drawn, the training copy, the split's gathered rows, the epoch's work.
    assert datamod.generated_bytes(1000, 1, 4) == 1000 * (2 * 8 + (2 * 2 + 4) * 4)
    # 1e8 rows of 10 features in float32: the training copy (11 values), the epoch's work (4), the split's places.
    assert datamod.generated_bytes(10**8, 10, 4) == 10**8 * (15 * 4 + 8) + generated.HOLD_BYTES
    monkeypatch.setattr(datamod, "available_memory", lambda: 10 * 1024**3)
    datamod.check_memory(10**8, 10, "float32")  # 6.4 GiB: fits
    with pytest.raises(GdcliError, match=r"needs about 12\.7 GiB of memory \(float32 to train\)"):
        datamod.check_memory(2 * 10**8, 10, "float32")


def test_a_big_csv_file_is_counted_then_streams_into_the_tensors(monkeypatch, tmp_path):
    """One streamed read counts (and checks) the rows; prepare reads them again: never whole in float64."""
    from gdcli import readers

    path = data_file(tmp_path, "csv")
    fresh(monkeypatch, 0)
    monkeypatch.setattr(readers, "read", None)  # a whole read would fail
    ds = load_dataset(str(path))
    assert not ds.held and ds.n_rows == 240 and ds.features == ("a", "b") and ds.where(3) == f"{path}, line 5"
    trainer = trained(fit(resolve(str(path), epochs=5, lr=0.01, normalize=True)))
    assert trainer.result().final_loss < trainer.result().start_loss
    fresh(monkeypatch, generated.HOLD_BYTES)


def test_a_big_parquet_file_streams_into_the_tensors(monkeypatch, tmp_path):
    """Its row count is in its metadata: the rows are read once, by prepare, never whole in float64."""
    path = data_file(tmp_path, "parquet")
    fresh(monkeypatch, 0)
    reads = []
    real = pq.ParquetFile.read
    monkeypatch.setattr(pq.ParquetFile, "read", lambda self, *a, **k: reads.append(1) or real(self, *a, **k))
    ds = load_dataset(str(path))
    assert not ds.held and ds.n_rows == 240 and ds.features == ("a", "b") and not reads
    trainer = trained(fit(resolve(str(path), epochs=5, lr=0.01, normalize=True)))
    assert not reads and trainer.result().final_loss < trainer.result().start_loss
    fresh(monkeypatch, generated.HOLD_BYTES)


def test_a_gap_in_a_streamed_parquet_file_is_named(monkeypatch, tmp_path):
    columns = table_rows()
    columns["b"][137] = np.nan
    path = tmp_path / "gap.parquet"
    pq.write_table(pa.table(columns), path, row_group_size=50)
    fresh(monkeypatch, 0)
    with pytest.raises(GdcliError, match=r"gap\.parquet, row 138, column 'b': the value is missing \(NaN\)"):
        fit(resolve(str(path), epochs=5))
    fresh(monkeypatch, generated.HOLD_BYTES)


def test_pictures_of_rows_not_held_show_a_sample(monkeypatch, run_cli, tmp_path):
    fresh(monkeypatch, 0)
    gif = tmp_path / "run.gif"
    result = run_cli("fit", "--dataset", "synthetic", "--rows", 300, "--epochs", 10, "--plot", "--animate", gif)
    assert result.exit_code == 0, result.output
    assert "data and fitted line" in result.plain and gif.stat().st_size > 0
    result = run_cli("fit", "--dataset", "synthetic", "--rows", 300, "--epochs", 10, "--model", "quadratic", "--plot")
    assert result.exit_code == 0 and "data and fitted quadratic" in result.plain
    fresh(monkeypatch, generated.HOLD_BYTES)
