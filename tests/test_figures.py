"""Pictures wired into the commands: the right panels, in original units, terminal and PNG."""

import io
import os
import re
import sys
import tempfile

import pytest
import torch

os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="gdcli-mpl-"))

import conftest  # noqa: E402
from conftest import png_size  # noqa: E402
from gdcli import console, figures, plots  # noqa: E402
from gdcli.config import resolve  # noqa: E402
from gdcli.train import Trainer  # noqa: E402


def result_of(**options):
    trainer = Trainer([resolve(**options)])
    for _ in trainer.chunks():
        pass
    return trainer.result(), trainer.dataset


@pytest.mark.parametrize("options", [dict(dataset="celsius"), dict(dataset="height-weight"), dict(dataset="celsius", normalize=True, scale=1.0, lr=0.1, epochs=500)])
def test_fitted_line_is_in_original_units(options):
    result, ds = result_of(**options)
    loss_panel, line = figures.fit_panels(result, ds)
    assert isinstance(loss_panel, plots.LossCurves) and isinstance(line, plots.FitLine)
    X = torch.tensor(ds.X, dtype=torch.float64)
    A = torch.cat([X, torch.ones_like(X)], dim=1)
    slope, intercept = torch.linalg.lstsq(A, torch.tensor(ds.y, dtype=torch.float64)).solution.flatten().tolist()
    assert line.slope == pytest.approx(slope, rel=2e-3)
    assert line.intercept == pytest.approx(intercept, rel=2e-3, abs=2e-3)
    assert line.xlabel.startswith(ds.features[0]) and line.ylabel.startswith(ds.targets[0])


def test_several_features_get_no_line_and_long_runs_are_thinned():
    result, ds = result_of(dataset="iphone")
    panels = figures.fit_panels(result, ds)
    assert len(panels) == 1
    epochs, losses = panels[0].series["train"]
    assert len(epochs) <= figures.MAX_POINTS + 1 and epochs[-1] == result.epochs_run


def test_fit_plot_in_the_terminal(run_cli):
    result = run_cli("fit", "--plot")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "\x1b" not in out
    assert "celsius: data and fitted line (original units)" in out
    assert "t_u" in out and "t_c" in out and "fit y = 0.5367x - 17.3" in out


def test_fit_plot_file_is_a_png_of_the_asked_size(run_cli, tmp_path):
    target = tmp_path / "fit.png"
    result = run_cli("fit", "--epochs", "100", "--plot-file", str(target))
    assert result.exit_code == 0, result.output
    assert png_size(target) == (1000, 1000)  # two panels of 500 px
    assert [p.name for p in tmp_path.iterdir()] == ["fit.png"]


def test_plot_file_without_matplotlib_says_how_to_install_it_before_training(run_cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    target = tmp_path / "fit.png"
    result = run_cli("fit", "--plot-file", str(target))
    assert result.exit_code == 2
    assert 'pip install "matplotlib>=3.7"' in result.plain and "training" not in result.stdout
    assert not target.exists()


def test_plot_file_in_a_missing_folder_or_wrong_suffix(run_cli, tmp_path):
    assert run_cli("fit", "--plot-file", str(tmp_path / "nope" / "a.png")).exit_code == 2
    assert run_cli("fit", "--plot-file", str(tmp_path / "a.jpg")).exit_code == 2


def drawing(text: str, title: str) -> list[str]:
    """The lines of the drawing titled `title`, from the title to its key under the axis labels."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == title)
    bottom = next(i for i in range(start, len(lines)) if "└" in lines[i])
    return lines[start : bottom + 4]


def plot_area(lines: list[str]) -> list[str]:
    """The rows inside a drawing's frame."""
    top = next(i for i, line in enumerate(lines) if "┌" in line)
    left, right = lines[top].index("┌") + 1, lines[top].index("┐")
    return [line[left:right] for line in lines[top + 1 : -4]]


def test_compare_plot_overlays_every_run(run_cli):
    result = run_cli("compare", "--epochs", "50", "--plot")
    assert result.exit_code == 0, result.output
    lines = drawing(result.stdout, "celsius: loss by strategy")  # on stdout, after the tables
    # Its key names every run by the glyph its curve is drawn with.
    assert lines[-1].split("   ") == ["▚ finite-diff:gd", "• analytic:gd", "+ autograd:gd", "* gram:gd"]
    # analytic, autograd and gram agree to the last digit: the last drawn (*) covers the others.
    area = "".join(plot_area(lines))
    assert "*" in area and any(glyph in area for glyph in "▘▀▄▖▗▝▚▞")
    assert "loss by strategy" not in run_cli("compare", "--epochs", "50").stdout  # no --plot, no drawing


def test_a_diverged_fit_is_marked_at_the_epoch_its_message_names(run_cli):
    result = run_cli("fit", "--lr", "1", "--plot")
    assert result.exit_code == 3, result.output
    epoch = int(re.search(r"training diverged at epoch (\d+)", result.stderr).group(1))
    lines = drawing(result.stdout, "celsius: autograd + gd, lr 1")
    assert lines[-1].split("   ") == ["▚ train", f"x diverged at epoch {epoch}"]
    # The x ends the epoch axis, right of the curve (which stops at the last finite loss, epoch
    # {epoch} - 1), at that loss's height: the top row, as a diverging loss only grows.
    area = plot_area(lines)
    assert [i for i, row in enumerate(area) if "x" in row] == [0] and area[0].endswith("x")
    assert max(row.rfind(glyph) for row in area for glyph in "▘▀▄▖▗▝▚▞") < len(area[0]) - 1


def test_diverged_fit_panels_mark_the_epoch_from_diverged_at():
    result, ds = result_of(dataset="celsius", lr=1.0, epochs=100)
    assert result.diverged_at is not None
    text = plots.render_terminal(figures.fit_panels(result, ds), width=80, height=16)
    assert f"x diverged at epoch {result.diverged_at}" in text
    assert "fitted line" not in text  # a diverged run has no line worth drawing


def terminal(**options):
    """A console that believes it writes to a colour terminal, as `gdcli fit --plot` in a shell."""
    from rich.console import Console

    return Console(file=io.StringIO(), force_terminal=True, color_system="truecolor", width=100, **options)


PANELS = [plots.LossCurves({"run": ([1, 2, 3, 4], [4.0, 3.0, 2.5, 2.0])}, "loss by epoch")]


@pytest.mark.parametrize("no_color, options, coloured", [
    ("1", {}, False),
    ("anything", {}, False),
    ("", {}, True),  # NO_COLOR counts only when it holds a value
    (None, {}, True),
    (None, {"no_color": True}, False),  # Rich's own switch
])
def test_terminal_plots_honour_no_color(monkeypatch, no_color, options, coloured):
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    screen = terminal(**options)
    monkeypatch.setattr(console, "out", lambda: screen)
    console.show_plots(PANELS, plot=True, plot_file=None)
    written = screen.file.getvalue()
    assert "loss by epoch" in conftest.plain(written)
    assert ("\x1b[" in written) is coloured


def test_sweep_plot_marks_the_bound_and_diverged_runs(run_cli, tmp_path):
    result = run_cli("sweep", "--scale", "1", "--lr", "1e-5:1e-3", "--num", "8", "--epochs", "300", "--plot",
                     "--plot-file", str(tmp_path / "sweep.png"))
    assert result.exit_code == 0, result.output
    assert plots.STABLE_LABEL in result.stdout and plots.DIVERGED_LABEL in result.stdout
    assert png_size(tmp_path / "sweep.png") == (1000, 500)


def test_sample_plot_is_a_histogram(run_cli):
    result = run_cli("sample", "uniform", "--shape", "100", "--draws", "10", "--plot")
    assert result.exit_code == 0
    assert "uniform, seed 42" in result.stdout and "count" in result.stdout
    result = run_cli("sample", "multinomial", "--weights", "1,2,3", "--draws", "50", "--replacement", "--plot")
    assert result.exit_code == 0 and "category index" in result.stdout


def test_json_output_keeps_the_drawing_off_stdout(run_cli):
    import json

    result = run_cli("fit", "--epochs", "20", "--output", "json", "--plot")
    assert json.loads(result.stdout)["config"]["epochs"] == 20
    assert "epoch" in result.stderr


def test_a_run_without_plots_loads_no_plotting_library():
    import subprocess

    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom gdcli.cli import app\n"
        "r = CliRunner().invoke(app, ['fit', '--epochs', '5'])\nassert r.exit_code == 0, r.output\n"
        "assert 'plotext' not in sys.modules and 'matplotlib' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
