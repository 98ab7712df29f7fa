"""gdcli sweep --backend ray, on a local Ray instance of 2 CPUs: the same report as a local sweep,
failed tasks reported beside finished runs, the errors a user meets, and Ctrl-C."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdcli import cluster, raylink
from gdcli.errors import GdcliError

ray = pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[1]
GRID = ["--lr", "1e-3,2e-3,3e-3", "--seeds", "1,2", "--epochs", "300"]
TIMING = ("seconds_per_epoch", "compile_seconds")

# Slow (a local Ray instance starts in seconds): `pytest -m "not slow"` leaves them out of a quick loop.
# Under pytest-xdist, one worker runs them all (one Ray instance), beside no other timed real process.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("signals")]


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """One Ray instance for the module: gdcli uses a connection its process already has."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="error")
    # Ray's driver prints what its nodes report (a worker that died) to sys.stdout, when it hears
    # of it. gdcli shuts its own instance down before it writes its report, so nothing lands in
    # the report; this instance outlives each command, so its reports go to the real stderr.
    from ray._private import worker

    printer = worker.print_to_stdstream
    worker.print_to_stdstream = lambda data, ignore_prefix: worker.print_worker_logs(data, sys.__stderr__, ignore_prefix)
    yield
    worker.print_to_stdstream = printer
    ray.shutdown()


def without_timing(document: dict) -> dict:
    for run in document["runs"]:
        for key in TIMING:
            run.pop(key)
    return document


def both(run_cli, *args):
    """The same sweep with each backend: (local, ray) results."""
    return run_cli("sweep", *args, "--backend", "local"), run_cli("sweep", *args, "--backend", "ray")


@pytest.mark.parametrize("optim", ["gd", "rmsprop"])  # one batched task; one task per run
def test_ray_prints_the_local_table_and_json(run_cli, optim):
    grid = [*GRID, "--optim", optim, *(["--method", "analytic"] if optim == "gd" else [])]
    local, remote = both(run_cli, *grid)
    assert local.exit_code == remote.exit_code == 0, remote.output
    assert remote.stdout == local.stdout  # header, ranking and summary, to the last digit
    local, remote = both(run_cli, *grid, "--output", "json")
    data = without_timing(json.loads(remote.stdout))
    assert data == without_timing(json.loads(local.stdout))
    assert len(data["runs"]) == 6 and data["failed"] == []


def test_seeds_with_their_own_rows_are_cut_into_tasks_and_keep_every_bit(run_cli):
    args = ["--lr", "1e-2,2e-2", "--seeds", "1:4", "--val-fraction", "0.3", "--epochs", "200", "--output", "json"]
    local, remote = both(run_cli, *args)
    assert remote.exit_code == 0, remote.output
    assert without_timing(json.loads(remote.stdout)) == without_timing(json.loads(local.stdout))


def test_a_preset_lr_is_reported_as_each_run_trained_it(run_cli, tmp_path):
    """The synthetic preset's lr is derived from each run's rows where it trains (on a worker): the
    table, the JSON and the best run's file say that lr, as a local sweep does, not the rule's fallback."""
    args = ["--dataset", "synthetic", "--features", "5", "--rows", "500", "--optim", "sgd", "--momentum", "0,0.9",
            "--seeds", "1:2", "--epochs", "30"]
    local, remote = both(run_cli, *args, "--output", "json")
    assert remote.exit_code == 0, remote.output
    assert without_timing(json.loads(remote.stdout)) == without_timing(json.loads(local.stdout))
    lrs = {run["lr"] for run in json.loads(remote.stdout)["runs"]}
    assert len(lrs) == 4 and 0.5 not in lrs
    best = tmp_path / "best.json"
    assert run_cli("sweep", *args, "--backend", "ray", "--save-best", str(best)).exit_code == 0
    assert json.loads(best.read_text())["config"]["lr"] in lrs


def test_a_run_reports_its_own_stop_whatever_its_piece(run_cli):
    """Runs that stop or diverge at different epochs, in pieces cut between seeds: each run's
    history holds the logged epochs and its own end, as in a local sweep."""
    args = ["--model", "mlp", "--optim", "adam", "--batch-size", "3,5", "--seeds", "1:4", "--val-fraction", "0.2",
            "--lr", "0.001,0.01,0.3", "--tol", "1e-3", "--patience", "5", "--epochs", "200", "--output", "json"]
    local, remote = both(run_cli, *args)
    assert remote.exit_code == 0, remote.output
    data = without_timing(json.loads(remote.stdout))
    assert data == without_timing(json.loads(local.stdout))
    for run in data["runs"]:
        end = run["epochs_run"]
        assert [h["epoch"] for h in run["history"]] == [e for e in range(1, end + 1) if e <= 3 or e % 20 == 0 or e == end]


LINE = "x,y\n" + "\n".join(f"{x},{3 * x + 1 + (x % 3) * 0.1}" for x in range(40)) + "\n"


def test_a_file_is_read_once_here_and_shipped(run_cli, tmp_path, monkeypatch):
    path = tmp_path / "line.csv"
    path.write_text(LINE)
    args = ["sweep", "--dataset", path, "--optim", "rmsprop", "--lr", "1e-4,1e-3", "--epochs", "50", "--output", "json"]
    local = run_cli(*args)

    def gone(configs):  # the workers never find the file: the rows must come from the object store
        path.unlink(missing_ok=True)

    monkeypatch.setattr(cluster, "_task_hook", gone)
    remote = run_cli(*args, "--backend", "ray")
    assert remote.exit_code == 0, remote.output
    assert not path.exists()
    assert without_timing(json.loads(remote.stdout)) == without_timing(json.loads(local.stdout))


def test_standard_input_is_shipped_too(run_cli):
    args = ["sweep", "--dataset", "-", "--lr", "1e-4,1e-3", "--seeds", "1,2", "--val-fraction", "0.25",
            "--epochs", "50", "--output", "json"]
    local, remote = run_cli(*args, input=LINE), run_cli(*args, "--backend", "ray", input=LINE)
    assert remote.exit_code == 0, remote.output
    assert without_timing(json.loads(remote.stdout)) == without_timing(json.loads(local.stdout))


def test_a_failed_task_is_reported_beside_every_finished_run(run_cli, monkeypatch):
    def fail_one(configs):
        if any(c.lr == 2e-3 for c in configs):
            raise RuntimeError("the worker ran out of luck")

    monkeypatch.setattr(cluster, "_task_hook", fail_one)
    args = [*GRID, "--optim", "rmsprop", "--backend", "ray"]
    result = run_cli("sweep", *args, "--output", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert sorted((r["lr"], r["seed"]) for r in data["runs"]) == [(1e-3, 1), (1e-3, 2), (3e-3, 1), (3e-3, 2)]
    assert [(f["lr"], f["seed"]) for f in data["failed"]] == [(2e-3, 1), (2e-3, 2)]
    assert data["failed"][0]["error"] == "RuntimeError: the worker ran out of luck"
    assert "2 runs failed" in result.stderr and "Traceback" not in result.output
    assert 'see the "failed" list of the JSON on stdout' in result.stderr  # not "above": stdout is JSON

    table = run_cli("sweep", *args)
    assert table.exit_code == 1 and "2 runs failed: see the failed runs above" in table.stderr
    assert "failed: 2 runs" in table.stdout and "RuntimeError: the worker ran out of luck" in table.stdout
    assert "sweep: 4 runs, best first" in table.stdout and "failed: 2 of 6 runs" in table.stdout

    csv = run_cli("sweep", *args, "--output", "csv")
    assert csv.stdout.count(",failed,RuntimeError: the worker ran out of luck,") == 2
    assert 'see the rows whose verdict is "failed" on stdout' in csv.stderr


def test_every_run_failing_still_reports(run_cli, monkeypatch):
    def fail(configs):
        raise ValueError("no")

    from gdcli import progress

    monkeypatch.setattr(cluster, "_task_hook", fail)
    monkeypatch.setattr(progress, "LINE_SECONDS", 0.0)
    result = run_cli("sweep", *GRID, "--backend", "ray", "--progress", "lines")
    assert result.exit_code == 1 and "failed: 6 runs" in result.stdout and "Traceback" not in result.output
    lines = [x for x in result.stderr.splitlines() if x.startswith("gdcli sweep of 6 runs:")]
    assert lines[-1].startswith("gdcli sweep of 6 runs: 1,800 of 1,800 run-epochs (100%)")  # failed is finished


def test_a_task_whose_worker_dies_is_retried(run_cli, monkeypatch, tmp_path):
    marker = str(tmp_path / "died-once")

    def die_once(configs):
        if not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # the worker process dies mid-task, as a killed node's would

    monkeypatch.setattr(cluster, "_task_hook", die_once)
    result = run_cli("sweep", *GRID, "--backend", "ray", "--output", "json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["runs"]) == 6 and os.path.exists(marker)


def test_a_task_that_dies_past_its_retries_is_a_failed_run(run_cli, monkeypatch):
    def die(configs):
        if any(c.seed == 2 for c in configs):
            os._exit(1)

    monkeypatch.setattr(cluster, "_task_hook", die)
    monkeypatch.setattr(cluster, "RETRIES", 1)
    result = run_cli("sweep", *GRID, "--optim", "rmsprop", "--backend", "ray", "--output", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert len(data["runs"]) == 3 and len(data["failed"]) == 3
    assert all("(after 1 retry)" in f["error"] for f in data["failed"])


def test_without_ray_the_message_says_how_to_install_it(run_cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    result = run_cli("sweep", *GRID, "--backend", "ray")
    assert result.exit_code == 2
    assert 'pip install "ray>=2.9"' in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("address, says", [
    ("127.0.0.1:1", "no Ray cluster answers at --address 127.0.0.1:1"),
    ("[::1]:1", "no Ray cluster answers at --address [::1]:1"),
    ("localhost:port", "is not a Ray address"),
    ("localhost:99999", "is not a Ray address"),
    (":6379", "is not a Ray address"),
    ("http://127.0.0.1:6379", "is not a Ray address"),
])
def test_an_address_where_no_cluster_answers_fails_at_once(run_cli, address, says):
    started = time.monotonic()
    result = run_cli("sweep", *GRID, "--backend", "ray", "--address", address)
    assert result.exit_code == 2 and says in result.stderr, result.output
    assert "ray start --head" in result.stderr or "HOST:PORT" in result.stderr
    assert result.stdout == ""  # refused before the settings header
    assert time.monotonic() - started < 10


def test_addresses_parse_as_ray_reads_them():
    assert cluster.parse_address("10.1.2.3:6380") == ("10.1.2.3", 6380)
    assert cluster.parse_address("ray://head") == ("head", 10001)  # Ray Client's port
    assert cluster.parse_address("[fe80::1]:7000") == ("fe80::1", 7000)
    for portless in ("head", "5", "::1"):  # Ray wants the head's port
        with pytest.raises(GdcliError, match="is not a Ray address"):
            cluster.parse_address(portless)


def test_an_address_from_a_config_file_names_the_file(run_cli, tmp_path):
    (tmp_path / "sweep.toml").write_text('address = "auto"\n')
    result = run_cli("sweep", *GRID, "--config", tmp_path / "sweep.toml")
    assert result.exit_code == 2 and "is set in" in result.stderr and "sweep.toml" in result.stderr


def test_refusals_before_anything_starts(run_cli):
    assert "applies to --backend ray" in run_cli("sweep", *GRID, "--address", "auto").stderr
    for device, says in (("cuda:1", "Ray chooses the GPU"), ("mps", "Ray does not hand out Apple GPUs")):
        result = run_cli("sweep", *GRID, "--backend", "ray", "--device", device)
        assert result.exit_code == 2 and says in result.stderr


def test_cuda_on_a_cluster_without_gpus_is_refused(run_cli):
    result = run_cli("sweep", *GRID, "--backend", "ray", "--device", "cuda")
    assert result.exit_code == 2 and "the Ray cluster has no GPU" in result.stderr


def test_tasks_ask_for_one_cpu_when_small_and_for_the_local_threads_when_large():
    from gdcli import grid as sw
    from gdcli.config import resolve

    def tasks(device="cpu", **settings):
        base = resolve(device=device, **settings)
        configs = sw.expand(base, {"lr": [1e-3, 2e-3], "momentum": [0.0], "seed": [1, 2, 3, 4], "batch_size": [None]})
        units, _ = sw.groups(configs)
        n_rows = 100_000 if base.dataset == "synthetic" else 11
        plan = cluster.Plan(units, None, n_rows, int(n_rows * (1 - base.val_fraction)), 1, device)
        return cluster.pieces(plan, cpus=16, widest=8, gpus=2, threads_here=4)

    small = tasks(dataset="celsius")
    assert [(p.cpus, p.threads, len(p.configs)) for p in small] == [(1, 1, 8)]  # shared rows: one task
    large = tasks(dataset="synthetic", rows=100_000)
    assert [(p.cpus, p.threads, len(p.configs)) for p in large] == [(4, 4, 2)] * 4  # a seed each: own rows
    assert sorted(i for p in large for i in p.positions) == list(range(8))
    assert not any(p.narrowed for p in large)
    narrow = cluster.pieces(cluster.Plan(sw.groups(sw.expand(resolve("synthetic", rows=100_000, device="cpu"), {
        "lr": [1e-3, 2e-3], "momentum": [0.0], "seed": [1], "batch_size": [None]}))[0], None, 100_000, 100_000, 1, "cpu"),
        cpus=4, widest=1, gpus=0, threads_here=4)
    assert [(p.cpus, p.threads, p.narrowed) for p in narrow] == [(1, 1, True)]  # a node of 1 CPU: noted
    gpu = tasks(device="cuda", dataset="synthetic", rows=100_000)
    assert [(p.cpus, p.gpus) for p in gpu] == [(1, 0.25), (1, 0.25)]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    optim=st.sampled_from(["gd", "sgd", "adam", "rmsprop"]),
    method=st.sampled_from(["analytic", "autograd", "gram"]),
    seeds=st.sampled_from(["1", "1,2", "1:3"]),
    batch=st.sampled_from([None, "4", "4,8"]),
    val=st.sampled_from(["0", "0.3"]),
    stop=st.sampled_from([[], ["--tol", "1e-4", "--patience", "3"]]),
    output=st.sampled_from(["json", "csv"]),
)
def test_any_grid_ends_as_it_does_locally(run_cli, optim, method, seeds, batch, val, stop, output):
    """Whatever the grid, ray ends as local does: the same exit code, and on success the same numbers."""
    args = ["--optim", optim, "--method", method, "--lr", "1e-3,1e-2", "--seeds", seeds, "--epochs", "40",
            "--val-fraction", val, "--output", output, *stop, *(["--batch-size", batch] if batch else [])]
    local, remote = both(run_cli, *args)
    assert remote.exit_code in (0, 2, 3) and "Traceback" not in remote.output
    assert remote.exit_code == local.exit_code, (local.output, remote.output)
    if remote.exit_code == 0 and output == "json":
        assert without_timing(json.loads(remote.stdout)) == without_timing(json.loads(local.stdout))
    elif remote.exit_code == 0:
        assert remote.stdout == local.stdout
    else:
        assert remote.stderr == local.stderr


def test_ctrl_c_cancels_the_tasks_and_shuts_the_local_instance_down(tmp_path):
    """A real process that starts its own Ray instance, and a real SIGINT to its process group (a terminal's Ctrl-C)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GDCLI_PROGRESS_SECONDS": "0.2", "NO_COLOR": "1",
           "RAY_USAGE_STATS_ENABLED": "0"}
    args = ["sweep", "--backend", "ray", "--optim", "rmsprop", "--lr", "1e-3:1e-1", "--num", "4",
            "--epochs", "10000000", "--log-every", "1000000", "--progress", "lines", "--output", "json"]
    proc = subprocess.Popen([sys.executable, "-m", "gdcli", *args], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    line, deadline = proc.stderr.readline(), time.monotonic() + 90
    while "run-epochs" not in line and time.monotonic() < deadline:  # Ray is up and the tasks run
        line = proc.stderr.readline()
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGINT, err
    assert "interrupted: cancelling the tasks of 4 runs" in err and "Traceback" not in err
    assert "interrupted: 0 of 4 runs trained; 4 cancelled" in err
    data = json.loads(out)
    assert data["interrupted"] is True and data["runs"] == [] and data["failed"] == []
    # Its Ray processes are gone (the module's own instance lives in this process's session).
    session = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert session == []


def test_a_task_sends_back_results_whose_size_does_not_grow_with_the_rows():
    """Losses at the logged epochs and parameters, never the data."""
    import pickle

    from gdcli.config import resolve

    def sent(rows):
        configs = [resolve("synthetic", rows=rows, epochs=5, device="cpu", lr=lr) for lr in (1e-3, 1e-2)]
        return len(pickle.dumps(cluster._train_piece(configs, None, 1, None)))

    small, large = sent(1_000), sent(200_000)
    assert large < small + 1_000 and large < 20_000


def test_the_report_stays_on_stdout_when_stderr_is_a_terminal():
    """The progress bar draws on a terminal's stderr while Ray runs; the JSON still goes to stdout."""
    import pty
    import threading

    master, slave = pty.openpty()
    drained = threading.Thread(target=lambda: _drain(master), daemon=True)
    drained.start()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"}
    args = ["sweep", "--backend", "ray", "--optim", "rmsprop", "--lr", "1e-3,1e-2", "--epochs", "3000",
            "--output", "json", "--progress", "bar"]
    try:
        done = subprocess.run([sys.executable, "-m", "gdcli", *args], stdout=subprocess.PIPE, stderr=slave,
                              env=env, timeout=120)
    finally:
        os.close(slave)
    assert done.returncode == 0
    assert len(json.loads(done.stdout)["runs"]) == 2


def _drain(fd: int) -> None:
    with contextlib.suppress(OSError):
        while os.read(fd, 4096):
            pass


def test_an_address_that_listens_but_is_not_ray_fails_within_the_time_limit(run_cli, monkeypatch):
    """A port that accepts connections but speaks no Ray: exit 2 once the join's time is up, not a hang."""
    import socket

    monkeypatch.setattr(raylink, "JOIN_SECONDS", 2.0)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # as a fresh process: join, do not reuse
    monkeypatch.setattr(ray, "init", lambda **kwargs: time.sleep(30))  # Ray's client, retrying
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        started = time.monotonic()
        result = run_cli("sweep", *GRID, "--backend", "ray", "--address", address)
    assert result.exit_code == 2 and "no Ray cluster answered within 2 s" in result.stderr, result.output
    assert result.stdout == ""  # joined before the header
    assert time.monotonic() - started < 10


def test_a_sweep_from_python_on_ray_ranks_as_the_local_one(tmp_path):
    import gdcli

    local = gdcli.sweep(lr=[1e-3, 1e-2, 3e-2], seeds=[0, 1], epochs=200, surface=True, save_best=tmp_path / "l.json")
    remote = gdcli.sweep(lr=[1e-3, 1e-2, 3e-2], seeds=[0, 1], epochs=200, backend="ray", surface=True,
                         save_best=tmp_path / "r.json")
    # The best run's file (save_best) of runs trained on Ray is the local one's.
    saved, expected = (json.loads((tmp_path / name).read_text()) for name in ("r.json", "l.json"))
    assert saved["params"] == expected["params"] and saved["config"]["lr"] == 3e-2
    assert [(r.config["lr"], r.config["seed"]) for r in remote.ranking] == \
        [(r.config["lr"], r.config["seed"]) for r in local.ranking]
    assert [r.loss for r in remote.ranking] == [r.loss for r in local.ranking]
    assert remote.best.config["lr"] == 3e-2 and not remote.failed and remote.cancelled == 0
    # The surface of runs trained on Ray: their rows read again here, the same grid and paths.
    assert remote.surface.to_dict() == local.surface.to_dict()
