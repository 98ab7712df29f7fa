"""--save-best on Ray: the best run's file is the local sweep's, ranked the same, and predict reads it."""

import json
import os

import pytest

ray = pytest.importorskip("ray")

# A local Ray instance starts in seconds: marked slow, and run on the worker that runs the Ray tests.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("signals")]


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """One Ray instance for the module: gdcli uses a connection its process already has."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="error")
    yield
    ray.shutdown()


def test_save_best_on_ray_is_the_local_best(run_cli, tmp_path):
    grid = ["--lr", "0.001,0.01", "--epochs", "30", "--quiet"]
    local, remote = tmp_path / "local.json", tmp_path / "ray.json"
    assert run_cli("sweep", *grid, "--save-best", local).exit_code == 0
    out = run_cli("sweep", *grid, "--backend", "ray", "--save-best", remote)
    assert out.exit_code == 0, out.plain
    saved, expected = json.loads(remote.read_text()), json.loads(local.read_text())
    assert saved["params"] == expected["params"] and saved["config"]["lr"] == 0.01
    assert json.loads(run_cli("predict", remote, "50", "--output", "json").stdout) == \
        json.loads(run_cli("predict", local, "50", "--output", "json").stdout)
