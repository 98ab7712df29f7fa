"""Data bigger than the memory budget: --memory-limit streams the rows, and a streamed fit ends where a held one does."""

import json

import numpy as np
import pytest
import torch

N = 3000


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The same rows as a CSV and as a Parquet file of several row groups."""
    import pyarrow as pa
    import pyarrow.csv as pc
    import pyarrow.parquet as pq

    folder = tmp_path_factory.mktemp("streamed")
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(N, 2))
    y = 1 + X @ np.array([2.0, -1.0]) + 0.1 * rng.normal(size=N)
    table = pa.table({"a": X[:, 0], "b": X[:, 1], "y": y})
    pq.write_table(table, folder / "d.parquet", row_group_size=500)
    pc.write_csv(table, folder / "d.csv")
    return {"csv": str(folder / "d.csv"), "parquet": str(folder / "d.parquet"), "X": X, "y": y}


def fit_json(run_cli, *args):
    result = run_cli("fit", *args, "--output", "json")
    assert result.exit_code == 0, result.plain
    return json.loads(result.stdout)


def hash_unit(seed: int, row: int) -> float:
    """The split's rule, written again in plain Python integers: splitmix64(seed * golden + row)."""
    mask, golden = 2**64 - 1, 0x9E3779B97F4A7C15
    z = (seed * golden + row + golden) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    z ^= z >> 31
    return (z >> 11) / 2.0**53


def lstsq(X, y):
    A = torch.cat([torch.as_tensor(X), torch.ones(len(X), 1, dtype=torch.float64)], 1)
    return torch.linalg.lstsq(A, torch.as_tensor(y).reshape(-1, 1)).solution.flatten()


@pytest.mark.parametrize("source", ["csv", "parquet", "synthetic"])
@pytest.mark.parametrize("method", ["gram", "analytic", "autograd"])
def test_streamed_full_batch_ends_where_held_does(run_cli, files, source, method):
    data = ["--dataset", "synthetic", "--rows", str(N)] if source == "synthetic" else ["--dataset", files[source]]
    args = [*data, "--method", method, "--epochs", "60", "--lr", "0.5"]
    held = fit_json(run_cli, *args)
    # 100kB: files stream in their readers' blocks, synthetic rows in blocks of 304 (ten of them).
    streamed = fit_json(run_cli, *args, "--memory-limit", "100kB")
    assert "memory" not in held["dataset"]
    assert streamed["dataset"]["memory"]["data"] == "streamed"
    assert streamed["optimum"]["loss"] == pytest.approx(held["optimum"]["loss"], rel=1e-9)
    for name in ("weight", "bias"):
        np.testing.assert_allclose(streamed["final"]["params"][name], held["final"]["params"][name], rtol=1e-5)
    assert streamed["verdict"] == held["verdict"]
    if source != "synthetic":  # the optimum against an independent solve on every row
        best = lstsq(files["X"], files["y"])
        np.testing.assert_allclose(streamed["optimum"]["params"]["weight"][0], best[:2].numpy(), rtol=1e-7)


def test_streamed_split_is_by_hash_of_the_row(run_cli, files):
    doc = fit_json(run_cli, "--dataset", files["parquet"], "--method", "gram", "--epochs", "5",
                   "--val-fraction", "0.2", "--seed", "7", "--memory-limit", "10kB")
    val = np.array([hash_unit(7, row) < 0.2 for row in range(N)])
    assert doc["dataset"]["n_train"] == int((~val).sum())
    assert doc["dataset"]["n_val"] == int(val.sum())
    assert doc["dataset"]["n_train"] + doc["dataset"]["n_val"] == N
    # The optimum is the least-squares solve on exactly the training side of the rule.
    best = lstsq(files["X"][~val], files["y"][~val])
    np.testing.assert_allclose(doc["optimum"]["params"]["weight"][0], best[:2].numpy(), rtol=1e-7)
    np.testing.assert_allclose(doc["optimum"]["params"]["bias"], best[2:].numpy(), rtol=1e-7)


def test_streamed_minibatches_are_reproducible_and_reach_the_optimum(run_cli):
    args = ["--dataset", "synthetic", "--rows", "2000", "--batch-size", "200", "--epochs", "15", "--lr", "0.3",
            "--memory-limit", "40kB"]  # blocks of 112 rows: batches carried across their ends
    one, again = fit_json(run_cli, *args), fit_json(run_cli, *args)
    other = fit_json(run_cli, *args, "--seed", "3")
    assert one["final"]["params"] == again["final"]["params"]
    assert one["history"] == again["history"]
    assert one["final"]["params"] != other["final"]["params"]
    assert one["dataset"]["memory"]["data"] == "streamed"
    assert one["final"]["loss"] == pytest.approx(one["optimum"]["loss"], rel=0.05)


def test_streamed_minibatch_with_a_split(run_cli):
    doc = fit_json(run_cli, "--dataset", "synthetic", "--rows", "2000", "--batch-size", "128", "--epochs", "5",
                   "--val-fraction", "0.25", "--memory-limit", "40kB")
    assert doc["dataset"]["n_train"] + doc["dataset"]["n_val"] == 2000
    assert all(h["val_loss"] is not None for h in doc["history"])


@pytest.mark.parametrize("text, size", [("4GB", 4 * 10**9), ("512MB", 512 * 10**6), ("1.5GiB", int(1.5 * 2**30)),
                                        ("2e9", 2 * 10**9), ("100 kB", 100_000)])
def test_memory_limit_sizes(text, size):
    from gdcli.memory import parse_size

    assert parse_size(text) == size


@pytest.mark.parametrize("command, more", [("fit", ["--method", "analytic"]), ("fit", ["--method", "finite-diff"]),
                                           ("fit", ["--method", "gram"]), ("sweep", ["--lr", "0.01,0.02"]),
                                           ("compare", ["--methods", "analytic,autograd"])])
def test_the_long_run_estimate_of_streamed_rows_is_their_pass(run_cli, monkeypatch, command, more):
    """Streamed rows hold no tensors for a probe to slice: a step is a pass, timed when they were counted
    (the probes ended in an internal error, exit 1, once a run was long enough to be probed)."""
    from gdcli.train import estimate

    monkeypatch.setattr(estimate, "SKIP_WORK", 0)
    monkeypatch.setattr(estimate, "THRESHOLD", 0.0)
    result = run_cli(command, "--dataset", "synthetic", "--rows", "3000", "--epochs", "3", "--memory-limit", "20kB",
                     *more)
    assert result.exit_code == 0, result.output
    assert "streamed" in result.plain and "this will take about" in result.plain


def test_streamed_rows_with_a_gap_are_counted_as_held_ones_are(run_cli, tmp_path):
    folder = tmp_path / "gaps"
    folder.mkdir()
    for part in range(2):
        lines = ["x,y"] + [f"{i / 100},{i / 50 + 1}" for i in range(300)]
        if part:
            lines[5], lines[9] = "0.04,", "0.08,NA"
        (folder / f"part-{part}.csv").write_text("\n".join(lines) + "\n")
    args = ["fit", "--dataset", str(folder), "--method", "gram", "--missing", "drop", "--epochs", "5"]
    for limit in ([], ["--memory-limit", "1kB"]):
        result = run_cli(*args, *limit, "--output", "json")
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        assert doc["dropped_rows"] == 2 and doc["dataset"]["n_train"] == 598, limit
        assert "2 rows with an empty or NA cell" in run_cli(*args, *limit).plain


@pytest.mark.parametrize("seconds, text", [(41e-6, "41.0 us/epoch"), (0.0123, "12.3 ms/epoch"),
                                           (1.602, "1.60 s/epoch"), (75.4, "75 s/epoch")])
def test_time_per_epoch_reads_in_its_unit(seconds, text):
    """A streamed pass per epoch takes seconds: the result's time line says so in seconds, not 1602014.2 us."""
    from gdcli.text import per_epoch

    assert per_epoch(seconds) == text


@pytest.mark.parametrize("text", ["4 parsecs", "lots", "0", "-1GB", "GB", "1e400"])
def test_memory_limit_refuses_what_is_not_a_size(run_cli, text):
    result = run_cli("fit", "--epochs", "2", "--memory-limit", text)
    assert result.exit_code == 2
    assert "--memory-limit" in result.plain and "4GB, 512MB, 1.5GiB or 2e9" in result.plain
    assert "Traceback" not in result.plain


def test_header_says_held_or_streamed(run_cli):
    base = ["fit", "--dataset", "synthetic", "--rows", "500", "--epochs", "2"]
    plain = run_cli(*base).plain
    assert "data " not in plain.replace("data file", "")
    held = run_cli(*base, "--memory-limit", "4GB").plain
    assert "held in memory (24 kB)" in held  # 500 rows x 48 bytes: float64 as drawn, float32 to train, the work
    builtin = run_cli("fit", "--epochs", "2", "--memory-limit", "4GB").plain
    assert "held in memory (528 bytes)" in builtin
    streamed = run_cli(*base, "--memory-limit", "1kB", "--val-fraction", "0.2").plain
    assert "streamed, 5e2 rows need about" in streamed and "> --memory-limit 1 kB; one pass per epoch" in streamed
    assert "a pass; validation rows by a seeded hash" in streamed


@pytest.mark.parametrize("option", [["--sharpness", "5"], ["--plot"], ["--compile"]])
def test_what_cannot_stream_is_refused(run_cli, option):
    result = run_cli("fit", "--dataset", "synthetic", "--rows", "500", "--epochs", "2", "--memory-limit", "1kB", *option)
    assert result.exit_code == 2
    assert option[0] in result.plain and "raise --memory-limit above 24 kB to hold the rows" in result.plain


def test_streamed_minibatches_of_several_split_seeds_are_refused(run_cli):
    result = run_cli("sweep", "--dataset", "synthetic", "--rows", "500", "--epochs", "2", "--memory-limit", "1kB",
                     "--batch-size", "50", "--val-fraction", "0.2", "--seeds", "1,2", "--lr", "0.1")
    assert result.exit_code == 2
    assert "--val-fraction with --batch-size splits the rows for each of 2 seeds" in result.plain
    # Without a split too: each seed's rows stream apart (it was refused in training, naming a
    # --val-fraction nobody gave).
    result = run_cli("sweep", "--dataset", "synthetic", "--rows", "500", "--epochs", "2", "--memory-limit", "1kB",
                     "--batch-size", "50", "--seeds", "1,2", "--lr", "0.1")
    assert result.exit_code == 2 and "--batch-size with 2 seeds" in result.plain
    assert "--val-fraction" not in result.plain


def test_api_memory_limit(tmp_path):
    import gdcli

    run = gdcli.fit(dataset="synthetic", rows=500, epochs=20, lr=0.5, memory_limit="10kB")
    assert run.data == "streamed" and run.memory["memory_limit"] == 10_000
    assert "> memory_limit 10 kB" in run.memory["why"]  # the API names the keyword, not the flag
    assert gdcli.fit(dataset="synthetic", rows=500, epochs=2, memory_limit=2e9).memory["memory_limit"] == 2 * 10**9
    held = gdcli.fit(dataset="synthetic", rows=500, epochs=20, lr=0.5)
    assert held.data == "held" and held.memory is None
    np.testing.assert_allclose(run.loss, held.loss, rtol=1e-5)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Four Parquet parts of 500 rows (row groups of 100): one dataset of 2000 rows, in part order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    where = tmp_path_factory.mktemp("parts")
    rng = np.random.default_rng(1)
    xs, ys = [], []
    for i in range(4):
        x = rng.uniform(size=500)
        y = 1 + 2 * x + 0.1 * rng.normal(size=500)
        pq.write_table(pa.table({"x": x, "y": y}), where / f"part-{i}.parquet", row_group_size=100)
        xs.append(x), ys.append(y)
    return {"path": str(where), "x": np.concatenate(xs), "y": np.concatenate(ys)}


def test_streamed_folder_of_parts(run_cli, folder):
    args = ["--dataset", folder["path"], "--method", "analytic", "--epochs", "40", "--lr", "0.5"]
    held, streamed = fit_json(run_cli, *args), fit_json(run_cli, *args, "--memory-limit", "1kB")
    assert streamed["dataset"]["memory"]["data"] == "streamed" and streamed["dataset"]["memory"]["rows"] == 2000
    np.testing.assert_allclose(streamed["final"]["params"]["weight"], held["final"]["params"]["weight"], rtol=1e-5)
    split = fit_json(run_cli, *args, "--memory-limit", "1kB", "--val-fraction", "0.3", "--seed", "5")
    val = np.array([hash_unit(5, row) < 0.3 for row in range(2000)])
    assert split["dataset"]["n_val"] == int(val.sum())
    best = lstsq(folder["x"][~val, None], folder["y"][~val])
    np.testing.assert_allclose(split["optimum"]["params"]["weight"][0], best[:1].numpy(), rtol=1e-7)


def test_streamed_batches_of_a_pass_cover_every_training_row_once(folder):
    from gdcli import config
    from gdcli.train import streamed
    from gdcli.train.trainer import Trainer

    cfg = config.resolve(folder["path"], batch_size=64, epochs=1, memory_limit="1kB", val_fraction=0.25, dtype="float64")
    trainer = Trainer([cfg])
    assert trainer.plan.streamed and trainer.plan.prepared[0].starts == (0, 500, 1000, 1500)
    passes = []
    for _ in range(2):
        rows = [batch.parts[0].X[:, 0] for batch, _ in streamed.batches(trainer)]
        sizes = [len(r) for r in rows]
        assert all(size == 64 for size in sizes[:-1]) and 0 < sizes[-1] <= 64
        passes.append(torch.cat(rows).numpy())
    val = np.array([hash_unit(cfg.seed, row) < 0.25 for row in range(2000)])
    for seen in passes:
        np.testing.assert_array_equal(np.sort(seen), np.sort(folder["x"][~val]))
    assert not np.array_equal(passes[0], passes[1])  # each pass its own seeded order


@pytest.mark.parametrize("options", [["--model", "mlp", "--hidden", "3", "--lr", "0.1"], ["--model", "quadratic", "--lr", "0.3"],
                                     ["--normalize", "--lr", "0.3"], ["--reduction", "sum", "--lr", "0.0001"],
                                     ["--method", "finite-diff", "--optim", "adam", "--lr", "0.05"]])
def test_streamed_models_and_settings_end_where_held_do(run_cli, options):
    args = ["--dataset", "synthetic", "--rows", "1000", "--epochs", "15", *options]
    held, streamed = fit_json(run_cli, *args), fit_json(run_cli, *args, "--memory-limit", "40kB")
    assert streamed["dataset"]["memory"]["data"] == "streamed"
    assert streamed["final"]["loss"] == pytest.approx(held["final"]["loss"], rel=1e-5)
    for name, value in held["final"]["params"].items():
        np.testing.assert_allclose(streamed["final"]["params"][name], value, rtol=1e-4, atol=1e-6)


def test_ctrl_c_stops_a_streamed_pass_between_blocks():
    from gdcli import config
    from gdcli.train.trainer import Trainer

    cfg = config.resolve("synthetic", rows=3000, epochs=5, lr=0.5, memory_limit="100kB")  # passes of 10 blocks
    whole = Trainer([cfg])
    records = list(whole.records())
    cut = Trainer([cfg])
    asked = []

    def stop() -> bool:  # asked before each epoch and each block: the 16th ask falls inside epoch 2's pass
        asked.append(1)
        return len(asked) >= 16

    cut.should_stop = stop
    list(cut.chunks())
    assert cut.interrupted and cut.epochs_done == 1
    assert cut.theta.detach()[0].tolist() == [records[0].params["weight"][0][0], records[0].params["bias"][0]]
