"""gdcli fit --backend ray: the Gram pass as a Ray task per part (one local Ray instance of 2 CPUs for
the module), against fits here; what is refused before Ray starts; and Ray missing."""

import math
import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gdcli
from gdcli import raypass
from gdcli.errors import GdcliError

# The tests on Ray are slow (a local Ray instance starts in seconds): `pytest -m "not slow"` leaves them out.
# Under pytest-xdist, one worker runs them all (one Ray instance), as tests/test_ray.py's.
pytestmark = pytest.mark.xdist_group("signals")

SEED, FRACTION = 7, 0.3
GRAM = dict(method="gram", optim="gd", lr=0.05, epochs=300, dtype="float64")
PER_ROW = "reads every row each epoch; on Ray each epoch would be a pass over every part"


@pytest.fixture(scope="module")
def local_ray():
    """One Ray instance for the module: gdcli uses the connection its process already has."""
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="error")
    yield ray
    ray.shutdown()


def validates(row: int, seed: int = SEED, fraction: float = FRACTION) -> bool:
    """The split's rule on Python's integers: splitmix64(row + seed * golden), its top 53 bits over 2^53."""
    mask = 2**64 - 1
    z = (row + seed * 0x9E3779B97F4A7C15 + 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    z ^= z >> 31
    return (z >> 11) * 2.0**-53 < fraction


def rows(n: int = 240, seed: int = 0) -> np.ndarray:
    """(n, 3): a, b and y = 3 + 2a - b + noise, a around 50 (so --normalize matters)."""
    gen = np.random.default_rng(seed)
    a, b = gen.normal(50, 5, n), gen.uniform(-1, 1, n)
    return np.column_stack([a, b, 3 + 2 * a - b + gen.normal(0, 0.1, n)])


def write_csv(path, data: np.ndarray) -> str:
    np.savetxt(path, data, delimiter=",", header="a,b,y", comments="", fmt="%.17g")
    return str(path)


def write_parquet(path, data: np.ndarray) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": data[:, 0], "b": data[:, 1], "y": data[:, 2]}), path)
    return str(path)


def close(a, b, rtol=1e-12):
    return all(math.isclose(x, y, rel_tol=rtol, abs_tol=1e-12) for x, y in zip(np.ravel(a), np.ravel(b)))


def params(run) -> list[float]:
    return [float(v) for p in run.params.values() for v in p.flatten().tolist()]


def optimum(run) -> list[float]:
    return [float(v) for p in run.optimum_params.values() for v in p.flatten().tolist()]


def test_the_split_is_the_seeded_hash_of_each_row():
    from gdcli.raygram import validation_rows

    found = validation_rows(SEED, FRACTION, 1000, 500)
    assert found.tolist() == [validates(r) for r in range(1000, 1500)]


@pytest.mark.slow
@pytest.mark.parametrize("normalize", [False, True])
def test_ray_gram_equals_the_local_fit(tmp_path, local_ray, normalize):
    data = rows()
    path = write_csv(tmp_path / "d.csv", data)
    here = gdcli.fit(path, normalize=normalize, **GRAM)
    there = gdcli.fit(path, normalize=normalize, backend="ray", **GRAM)
    assert close(params(there), params(here)) and close(optimum(there), optimum(here))
    assert close([there.loss, there.optimum, there.start_loss], [here.loss, here.optimum, here.start_loss])
    assert there.verdict == here.verdict
    assert any(n.startswith("Gram pass: 1 part on Ray (2 CPUs)") for n in there.notes)


@pytest.mark.slow
def test_a_split_on_ray_trains_on_the_hashed_training_rows(tmp_path, local_ray):
    """With val_fraction, the rows a fit here of the training rows alone trains on, and the validation
    loss of the others (numpy)."""
    data = rows(300, 1)
    val = np.array([validates(r) for r in range(len(data))])
    path = write_parquet(tmp_path / "d.parquet", data)
    train_only = write_csv(tmp_path / "train.csv", data[~val])
    there = gdcli.fit(path, normalize=True, val_fraction=FRACTION, seed=SEED, backend="ray", **GRAM)
    here = gdcli.fit(train_only, normalize=True, seed=SEED, **GRAM)
    assert close(params(there), params(here)) and close(optimum(there), optimum(here))
    assert there.verdict == here.verdict
    # The validation loss in original units: the line folded back through the standardization.
    mean, std = data[~val, :2].mean(0), data[~val, :2].std(0)
    w = np.array(params(there)[:2])
    pred = ((data[val, :2] - mean) / std) @ w + params(there)[2]
    assert math.isclose(there.val_loss, float(np.mean((pred - data[val, 2]) ** 2)), rel_tol=1e-10)


@pytest.mark.slow
def test_ray_splits_as_a_streamed_fit_here(tmp_path, local_ray):
    """A fit here whose rows stream (a small memory_limit) splits by the same hash: the same run."""
    path = write_parquet(tmp_path / "d.parquet", rows(300, 2))
    same = dict(normalize=True, val_fraction=FRACTION, seed=SEED, **GRAM)
    here, there = gdcli.fit(path, memory_limit="1KB", **same), gdcli.fit(path, backend="ray", **same)
    assert close(params(there), params(here)) and close(optimum(there), optimum(here))
    assert close([there.loss, there.val_loss], [here.loss, here.val_loss]) and there.verdict == here.verdict


def write_parts(folder, data: np.ndarray, kind: str, cuts=(0, 70, 150, None)) -> str:
    folder.mkdir()
    (folder / "_SUCCESS").write_text("")
    for i, (a, b) in enumerate(zip(cuts[:-1], cuts[1:])):
        name = folder / f"part-{i:05d}.{kind}"
        (write_parquet if kind == "parquet" else write_csv)(name, data[a:b])
    return str(folder)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_a_folder_of_parts_on_ray_equals_its_rows_here(tmp_path, local_ray, kind):
    """Three parts: without a split, the fit here of the folder; with one (and normalize), the streamed fit
    here of the parts' rows as one file, which the same hash splits."""
    data = rows(240, 4)
    folder = write_parts(tmp_path / "parts", data, kind)
    whole = write_csv(tmp_path / "whole.csv", data)
    here, there = gdcli.fit(folder, **GRAM), gdcli.fit(folder, backend="ray", **GRAM)
    assert close(params(there), params(here)) and close(optimum(there), optimum(here))
    assert there.verdict == here.verdict and any("3 parts on Ray" in n for n in there.notes)
    same = dict(normalize=True, val_fraction=FRACTION, seed=SEED, **GRAM)
    here, there = gdcli.fit(whole, memory_limit="1KB", **same), gdcli.fit(folder, backend="ray", **same)
    assert close(params(there), params(here)) and close(optimum(there), optimum(here))
    assert close([there.loss, there.val_loss], [here.loss, here.val_loss]) and there.verdict == here.verdict


@pytest.mark.slow
def test_a_bad_cell_in_part_2_is_named_with_its_part(tmp_path, local_ray, run_cli):
    folder = write_parts(tmp_path / "parts", rows(240, 5), "csv")
    part = tmp_path / "parts" / "part-00001.csv"
    lines = part.read_text().splitlines()
    lines[4] = lines[4].replace(",", ",x", 1)
    part.write_text("\n".join(lines) + "\n")
    result = run_cli("fit", "--dataset", folder, "--method", "gram", "--backend", "ray")
    assert result.exit_code == 2, result.output
    assert f"{part}, line 5" in result.plain and "'b'" in result.plain
    assert "Traceback" not in result.output and "RayTaskError" not in result.output


@pytest.mark.slow
def test_generated_rows_are_drawn_by_a_task_as_here(local_ray):
    same = dict(rows=500, features=2, **GRAM)
    here, there = gdcli.fit("synthetic", **same), gdcli.fit("synthetic", backend="ray", **same)
    assert close(params(there), params(here)) and close(optimum(there), optimum(here))
    assert there.verdict == here.verdict


def test_an_address_where_no_cluster_answers_is_refused_before_ray(run_cli, tmp_path):
    path = write_csv(tmp_path / "d.csv", rows(20))
    result = run_cli("fit", "--dataset", path, "--method", "gram", "--backend", "ray", "--address", "127.0.0.1:1")
    assert result.exit_code == 2
    assert "no Ray cluster answers at --address 127.0.0.1:1" in result.plain


@pytest.mark.slow
def test_the_cli_header_names_the_pass(tmp_path, local_ray, run_cli):
    path = write_csv(tmp_path / "d.csv", rows())
    result = run_cli("fit", "--dataset", path, "--method", "gram", "--epochs", "50", "--backend", "ray", "--normalize",
                     "--val-fraction", "0.2")
    assert result.exit_code == 0, result.output
    assert "Gram pass" in result.plain and "1 part on Ray (2 CPUs)" in result.plain
    assert "validation rows by a seeded hash" in result.plain


@pytest.mark.slow
def test_a_bad_cell_is_named_by_the_worker_in_gdclis_words(tmp_path, local_ray, run_cli):
    path = tmp_path / "d.csv"
    write_csv(path, rows(50))
    lines = path.read_text().splitlines()
    lines[17] = "1.5,oops,2"
    path.write_text("\n".join(lines) + "\n")
    result = run_cli("fit", "--dataset", str(path), "--method", "gram", "--backend", "ray", "--inputs", "a,b")
    assert result.exit_code == 2
    assert "line 18" in result.plain and "'b'" in result.plain and str(path) in result.plain
    assert "Traceback" not in result.output and "RayTaskError" not in result.output


@pytest.mark.parametrize("method", ["analytic", "autograd", "finite-diff"])
def test_per_row_methods_are_refused_with_the_reason(run_cli, method, tmp_path):
    path = write_csv(tmp_path / "d.csv", rows(20))
    result = run_cli("fit", "--dataset", path, "--method", method, "--backend", "ray")
    assert result.exit_code == 2
    assert f"--method {method} {PER_ROW}" in result.plain
    assert "use --method gram (a model linear in its parameters, full batch), or --backend local" in result.plain


def test_a_config_file_takes_backend_and_is_refused_as_the_option_is(run_cli, tmp_path):
    path = write_csv(tmp_path / "d.csv", rows(20))
    config = tmp_path / "run.toml"
    config.write_text(f'dataset = "{path}"\nmethod = "autograd"\nbackend = "ray"\n')
    result = run_cli("fit", "--config", str(config))
    assert result.exit_code == 2 and f"--method autograd {PER_ROW}" in result.plain


def test_without_ray_the_install_message(run_cli, monkeypatch, tmp_path):
    path = write_csv(tmp_path / "d.csv", rows(20))
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    result = run_cli("fit", "--dataset", path, "--method", "gram", "--backend", "ray")
    assert result.exit_code == 2
    assert "--backend ray needs Ray, which is not installed" in result.plain
    assert 'pip install "ray>=2.9"' in result.plain


def test_the_local_pass_of_parts_equals_one_pass_of_their_rows(tmp_path):
    """The passes here (no Ray), three parts against one file: the same statistics to float64 rounding."""
    from gdcli.raygram import Part, Reading

    data = rows(90, 3)
    parts = [Part(p, p) for p in (write_csv(tmp_path / f"p{i}.csv", data[i * 30:(i + 1) * 30]) for i in range(3))]
    whole = [Part(write_csv(tmp_path / "all.csv", data), str(tmp_path / "all.csv"))]
    reading = Reading(("a", "b"), ("y",), normalize=True, seed=SEED, val_fraction=FRACTION)
    split, one = raypass.run(parts, reading, raypass.here), raypass.run(whole, reading, raypass.here)
    assert split.rows == (30, 30, 30) and one.rows == (90,)
    for a, b in ((split.train, one.train), (split.val_reference, one.val_reference)):
        assert a.n == b.n and close(a.sxx.numpy(), b.sxx.numpy()) and close(a.mean_x.numpy(), b.mean_x.numpy())
    # The optimum of the training rows against least squares on them (numpy), standardized.
    val = np.array([validates(r) for r in range(90)])
    X, y = data[~val, :2], data[~val, 2]
    Z = np.column_stack([(X - X.mean(0)) / X.std(0), np.ones(len(X))])
    assert close(split.train_reference.solve().flatten().numpy(), np.linalg.lstsq(Z, y, rcond=None)[0], 1e-9)


REFUSED = {
    "method": (["--method", "analytic"], PER_ROW),
    "batch": (["--batch-size", "4"], "--batch-size"),
    "mps": (["--device", "mps"], "--device mps"),
    "plot": (["--plot"], "--plot"),
    "stdin": (["--dataset", "-"], "standard input"),
    "builtin": (["--dataset", "celsius"], "built-in dataset"),
    "quadratic": (["--model", "quadratic"], "--model quadratic"),
    "sharpness": (["--sharpness", "10"], "--sharpness"),
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picked=st.lists(st.sampled_from(sorted(REFUSED)), min_size=1, max_size=3, unique=True),
       extra=st.lists(st.sampled_from([["--normalize"], ["--val-fraction", "0.2"], ["--dtype", "float64"],
                                       ["--epochs", "5"], ["--address", "127.0.0.1:1"]]), max_size=2))
def test_refused_combinations_exit_2_before_ray(run_cli, tmp_path, picked, extra):
    """Options fit on Ray cannot take end in exit 2, never a traceback, and no Ray is started."""
    from unittest import mock

    from gdcli import raylink

    path = write_csv(tmp_path / "d.csv", rows(20))
    args = ["fit", "--dataset", path, "--method", "gram", "--backend", "ray"]
    for name in picked:
        args += REFUSED[name][0]
    for more in extra:
        args += more
    with mock.patch.object(raylink, "connected", side_effect=AssertionError("Ray started")):
        result = run_cli(*args, input="a,b,y\n1,2,3\n2,3,5\n3,1,4\n")
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert any(REFUSED[name][1] in result.plain for name in picked) or "--address" in result.plain
