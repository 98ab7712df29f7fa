"""The result in original units, --quiet, --progress and --device cuda:N, through the CLI."""

import importlib
import json
import re

import pytest
import torch

import book
from conftest import plain
from gdcli import progress
from gdcli.report import equation


def lstsq_line():
    """The least-squares line t_c = w t_u + b on the raw readings, in float64."""
    X = torch.tensor([[u, 1.0] for u in book.T_U], dtype=torch.float64)
    y = torch.tensor(book.T_C, dtype=torch.float64)[:, None]
    w, b = torch.linalg.lstsq(X, y).solution[:, 0].tolist()
    return w, b


def test_the_book_fit_reads_in_original_units(run_cli, book_table):
    """The book's run on 0.1 * t_u (w 5.3671, b -17.3012), stated on t_u itself; trained on, the
    least-squares line t_c = 0.5368 t_u - 17.30."""
    w, b = book.SCALED_PARAMS
    assert f"t_c = {0.1 * w:.4f} · t_u - {-b:.2f}" == "t_c = 0.5367 · t_u - 17.30"
    assert re.search(r"^in original units +t_c = 0\.5367 · t_u - 17\.30 *$", plain(book_table.output), re.MULTILINE)
    w, b = lstsq_line()
    assert f"t_c = {w:.4f} · t_u - {-b:.2f}" == "t_c = 0.5368 · t_u - 17.30"
    longer = run_cli("fit", "--epochs", "20000", "--method", "gram")  # (gram: the same steps, cheaper)
    assert re.search(r"^in original units +t_c = 0\.5368 · t_u - 17\.30 *$", longer.plain, re.MULTILINE)


@pytest.mark.parametrize("options", [[], ["--normalize", "--lr", "0.3"], ["--scale", "0.5", "--lr", "1e-3"]])
def test_original_units_undo_scale_and_standardization(run_cli, options):
    """The line in original units predicts what the trained model predicts on transformed inputs."""
    data = json.loads(run_cli("fit", "--epochs", "3000", *options, "--output", "json").stdout)
    fitted, t = data["in_original_units"], data["transform"]
    w, b = data["final"]["params"]["weight"][0][0], data["final"]["params"]["bias"][0]
    for u in book.T_U:
        x = u * t["scale"]
        if t["mean"] is not None:
            x = (x - t["mean"][0]) / t["std"][0]
        assert fitted["weight"][0][0] * u + fitted["bias"][0] == pytest.approx(w * x + b, rel=1e-12, abs=1e-12)


def test_trained_to_the_end_the_line_in_original_units_is_least_squares(run_cli):
    w, b = lstsq_line()
    fitted = json.loads(run_cli("fit", "--normalize", "--lr", "0.3", "--output", "json").stdout)["in_original_units"]
    assert fitted["weight"][0][0] == pytest.approx(w, rel=1e-4) and fitted["bias"][0] == pytest.approx(b, rel=1e-4)


def test_a_quadratic_names_each_square_and_a_network_has_no_equation(run_cli):
    data = json.loads(run_cli("fit", "--model", "quadratic", "--epochs", "50", "--output", "json").stdout)
    assert data["in_original_units"]["equations"][0].startswith("t_c = ") and "· t_u²" in data["in_original_units"][
        "equations"][0]
    mlp = json.loads(run_cli("fit", "--model", "mlp", "--epochs", "5", "--output", "json").stdout)
    assert mlp["in_original_units"] is None
    assert "in original units" not in run_cli("fit", "--model", "mlp", "--epochs", "5").plain


def test_equation_formatting():
    assert equation("y", ["a", "b"], [2.0, -0.5], 1.0) == "y = 2.000 · a - 0.5000 · b + 1.000"
    assert equation("y", ["a"], [-1234.5], -0.001234) == "y = -1234 · a - 0.001234"
    long = equation("y", [f"x{i}" for i in range(10)], [1.0] * 10, 0.0)
    assert long.endswith("+ 1.000 · x7 + ... (2 more terms) + 0.000")


def test_quiet_keeps_only_the_result(run_cli, tmp_path):
    loud = run_cli("fit", "--epochs", "20", "--save", tmp_path / "run.json")
    quiet = run_cli("fit", "--epochs", "20", "--save", tmp_path / "run2.json", "--quiet")
    assert "╭─ gdcli fit" in loud.plain and "saved to" in loud.stderr
    assert "╭─ gdcli fit" not in quiet.plain and quiet.stderr == ""
    assert "result (optimum" in quiet.stdout and (tmp_path / "run2.json").exists()
    # Warnings still show: an lr above the stability bound.
    unstable = run_cli("fit", "--epochs", "200", "--lr", "0.03299", "-q")
    assert "warning:" in unstable.stderr


def test_progress_lines_for_logs(run_cli, monkeypatch):
    monkeypatch.setattr(progress, "LINE_SECONDS", 0.0)
    result = run_cli("fit", "--epochs", "2000", "--progress", "lines", "--output", "json")
    lines = [x for x in result.stderr.splitlines() if x.startswith("gdcli fit")]
    assert lines and all(" of 2,000 epochs (" in x for x in lines)
    none = run_cli("fit", "--epochs", "2000", "--progress", "none", "--output", "json")
    assert none.stderr == ""
    sweep = run_cli("sweep", "--lr", "1e-3:1e-2", "--num", "3", "--epochs", "500", "--progress", "lines", "-q")
    assert "of 1,500 run-epochs" in sweep.stderr


def test_progress_line_text():
    shown = progress.Progress(console=None, label="gdcli fit", total=5000, mode="lines")
    assert shown.line(1200, 10.0) == "gdcli fit: 1,200 of 5,000 epochs (24%), 10 s, about 32 s left"
    assert shown.line(5000, 41.0) == "gdcli fit: 5,000 of 5,000 epochs (100%), 41 s"  # nothing left to estimate


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda:0", "cuda:1"])
def test_a_device_index_is_accepted_and_checked(run_cli, device):
    result = run_cli("fit", "--epochs", "5", "--device", device)
    assert result.exit_code == 2 and f"--device {device}: no CUDA device is available here" in result.plain


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_device_index_past_the_last_gpu_is_refused(run_cli):
    count = torch.cuda.device_count()
    ok = run_cli("fit", "--epochs", "5", "--device", "cuda:0", "--output", "json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["config"]["device_used"] == "cuda:0"
    bad = run_cli("fit", "--epochs", "5", "--device", f"cuda:{count}")
    assert bad.exit_code == 2 and "numbered from cuda:0" in bad.plain


@pytest.mark.parametrize("device", ["cuda:", "cuda:x", "cpu:0", "gpu", "cuda:-1"])
def test_malformed_devices_exit_2(run_cli, device):
    result = run_cli("fit", "--epochs", "5", "--device", device)
    assert result.exit_code == 2 and "cuda:N for the GPU numbered N" in result.plain


@pytest.mark.parametrize("text, seconds", [(None, 10.0), ("0.5", 0.5), ("0", 0.0), ("abc", 10.0), ("-1", 10.0)])
def test_the_progress_interval_from_the_environment_never_breaks_the_import(run_cli, monkeypatch, text, seconds):
    """GDCLI_PROGRESS_SECONDS sets LINE_SECONDS when gdcli loads; anything but a number >= 0 is the default 10 s.
    At 0 a line shows at every look; at 10 s, none within a run this short."""
    with monkeypatch.context() as env:
        env.delenv("GDCLI_PROGRESS_SECONDS", raising=False)
        if text is not None:
            env.setenv("GDCLI_PROGRESS_SECONDS", text)
        try:
            importlib.reload(progress)  # what a new gdcli process does with this environment
            assert progress.LINE_SECONDS == seconds
            result = run_cli("fit", "--epochs", "5", "--progress", "lines", "--output", "json")
        finally:
            env.undo()
            importlib.reload(progress)
    assert result.exit_code == 0, result.output
    lines = [x for x in result.stderr.splitlines() if x.startswith("gdcli fit")]
    if seconds in (0.0, 10.0):  # (0.5 s is a matter of how busy the machine is)
        assert bool(lines) == (seconds == 0), result.stderr
