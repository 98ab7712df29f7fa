"""Tests for gdcli.plots: what lands where in the terminal drawing, and PNGs on disk."""

import math
import os
import subprocess
import sys
import tempfile

# matplotlib writes a font cache on first use: keep it out of the home directory.
os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="gdcli-mpl-"))

import pytest  # noqa: E402
from conftest import png_size  # noqa: E402

from gdcli.errors import GdcliError  # noqa: E402
from gdcli.plots import (  # noqa: E402
    STABLE_LABEL,
    FitLine,
    Histogram,
    LossCurves,
    SweepCurve,
    render_terminal,
    use_log_scale,
    write_png,
)

EPOCHS = list(range(1, 41))
DECAYING = [50 * math.exp(-e / 8) + 3 for e in EPOCHS]  # spans about 10x: linear axis


def frame(text: str) -> list[str]:
    """The rows inside the first plot's frame, each as wide as the plot area."""
    lines = text.splitlines()
    top = next(i for i, line in enumerate(lines) if "┌" in line)
    bottom = next(i for i, line in enumerate(lines) if "└" in line)
    left, right = lines[top].index("┌") + 1, lines[top].index("┐")
    return [line[left:right].ljust(right - left) for line in lines[top + 1 : bottom]]


def drawn_at(text: str, char: str, across: float, up: float, cells: float = 1.5) -> bool:
    """Whether `char` is drawn within `cells` of a spot given as fractions of the plot area:
    (0, 0) is its bottom left corner, (1, 1) its top right."""
    rows = frame(text)
    height, width = len(rows), len(rows[0])
    col, row = across * (width - 1), (1 - up) * (height - 1)
    return any(
        abs(c - col) <= cells and abs(r - row) <= cells
        for r, line in enumerate(rows)
        for c, ch in enumerate(line)
        if ch == char
    )


def columns_of(text: str, chars: str) -> list[int]:
    """The columns of the plot area where any of `chars` is drawn."""
    return [c for line in frame(text) for c, ch in enumerate(line) if ch in chars]


@pytest.mark.parametrize(
    "values, expected",
    [
        ([1.0, 100.0], True),  # exactly two decades
        ([1.0, 99.0], False),
        ([1e-3, 0.5, 2.0], True),
        ([3.0, 30.0, math.inf, math.nan], False),  # inf/nan do not count
        ([0.0, -5.0, 1.0, 50.0], False),  # nor do values a log axis cannot show
        ([7.0], False),
        ([], False),
    ],
)
def test_use_log_scale(values, expected):
    assert use_log_scale(values) is expected


def test_loss_curves_text_has_title_labels_key_and_no_ansi():
    curves = LossCurves({"analytic": (EPOCHS, DECAYING), "autograd": (EPOCHS, [v * 1.1 for v in DECAYING])},
                        "loss per epoch", ylabel="MSE loss")
    text = render_terminal(curves, width=70, height=16)
    assert "\x1b" not in text
    assert "loss per epoch" in text and "MSE loss" in text and "epoch" in text
    lines = text.splitlines()
    assert lines[0].strip() == "loss per epoch"  # the title heads the drawing
    assert lines[-1].split() == ["▚", "analytic", "•", "autograd"]  # the key: each series by its glyph
    assert all(len(line) <= 70 for line in lines)
    assert len(lines) == 16 + 1  # the asked height, then the key
    # Both curves start high on the left and end low on the right, as the losses do.
    assert drawn_at(text, "•", 0, 1) and drawn_at(text, "•", 1, 0.1)


def test_colour_only_when_asked():
    curves = LossCurves({"run": (EPOCHS, DECAYING)}, "loss")
    assert "\x1b[" in render_terminal(curves, width=60, height=12, color=True)
    assert "\x1b" not in render_terminal(curves, width=60, height=12, color=False)


def test_fit_line_points_land_where_the_data_says():
    x = [0.0, 1.0, 2.0, 3.0, 4.0]
    y = [0.0, 8.0, 2.0, 6.0, 4.0]  # every y at a different height, none in x order
    text = render_terminal(FitLine(x, y, 1.0, 0.0, "t_u", "t_c (°C)", "thermometer"), width=60, height=20)
    assert "thermometer" in text and "t_u" in text and "t_c (°C)" in text
    assert text.splitlines()[-1].split("   ") == ["▚ fit y = 1x + 0", "o data"]
    # The axes span the data (x 0..4, y 0..8): each point sits at its share of them.
    for a, b in zip(x, y):
        assert drawn_at(text, "o", a / 4, b / 8), (a, b)
    assert not drawn_at(text, "o", 1 / 4, 0)  # and nowhere it does not belong


def test_loss_axis_goes_log_only_when_losses_span_decades():
    narrow = render_terminal(LossCurves({"run": (EPOCHS, DECAYING)}, "loss"), width=60, height=14)
    wide = render_terminal(LossCurves({"run": (EPOCHS, [10.0 ** (2 - e / 10) for e in EPOCHS])}, "loss"),
                           width=60, height=14)
    assert "1e" not in narrow
    assert "1e1" in wide and "1e0" in wide


def test_diverged_run_stops_with_a_mark():
    exploding = [2.0**e for e in range(1, 11)] + [math.inf, math.nan]
    curves = LossCurves({"small lr": (EPOCHS, DECAYING), "big lr": (list(range(1, 13)), exploding)}, "compare")
    text = render_terminal(curves, width=80, height=20)
    assert text.splitlines()[-1].endswith("x diverged at epoch 11")  # the first non-finite loss
    # At epoch 11 of 1..40, as high as the last finite loss, 1024, the highest point drawn.
    assert drawn_at(text, "x", (11 - 1) / 39, 1, cells=0.5)


def test_a_run_marked_at_the_epoch_it_diverged_at():
    # The loss at epoch 6 is finite but the run diverged there (its parameters stopped being finite).
    losses = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    curves = LossCurves({"train": (list(range(1, 7)), losses)}, "fit", diverged_at={"train": 6})
    text = render_terminal(curves, width=60, height=16)
    assert "x diverged at epoch 6" in text
    assert drawn_at(text, "x", 1, 1, cells=0.5)  # epoch 6, loss 32: the top right corner
    # A run with no finite loss at all is marked at the top of the axis.
    curves = LossCurves({"ok": ([1, 2, 3], [4.0, 3.0, 2.0]), "bad": ([1, 2, 3], [math.nan] * 3)}, "two",
                        diverged_at={"bad": 1})
    text = render_terminal(curves, width=60, height=16)
    assert drawn_at(text, "x", 0, 1, cells=0.5) and "x diverged at epoch 1" in text
    # Several runs marked: the key says which.
    curves = LossCurves({"a": ([1, 2], [1.0, math.inf]), "b": ([1, 2], [2.0, math.inf])}, "both",
                        diverged_at={"a": 2, "b": 2})
    assert "x a, b: diverged at epoch 2" in render_terminal(curves, width=60, height=16)


def test_sweep_marks_diverged_runs_and_the_stable_bound():
    lrs = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
    sweep = SweepCurve(lrs, [40.0, 9.0, 3.0, math.inf, math.nan], [False, False, False, True, True], 4e-3, "sweep")
    text = render_terminal(sweep, width=80, height=18)
    assert STABLE_LABEL in text and "learning rate" in text and "final loss" in text
    ticks = text.splitlines()[-3].split()
    assert ticks == ["1e-5", "1e-4", "1e-3", "1e-2", "1e-1"]  # log x axis, ticks in data units
    # Both diverged runs at the top, at lr 1e-2 and 1e-1 on an axis from 1e-5 to 1e-1.
    assert drawn_at(text, "x", 3 / 4, 1, cells=0.5) and drawn_at(text, "x", 1, 1, cells=0.5)
    # The bound, 4e-3, is a vertical line through every row, left of them and right of the finite runs.
    bound = (math.log10(4e-3) + 5) / 4
    assert all(drawn_at(text, "│", bound, up / 10) for up in range(11))
    rows = frame(text)
    line = max(columns_of(text, "▘▀▄▖▗▝▚"))
    assert line < bound * (len(rows[0]) - 1) < min(columns_of(text, "x"))


def test_histograms_of_values_and_of_categories():
    values = [float(i % 7) for i in range(200)]
    text = render_terminal([Histogram(values, None, "draws", "value", bins=7),
                            Histogram(None, {"heads": 30, "tails": 12}, "coins", "side")], width=60, height=12)
    assert "draws" in text and "value" in text and "count" in text
    assert "coins" in text and "heads" in text and "tails" in text and "30" in text
    with pytest.raises(ValueError):
        Histogram([1.0], {"a": 1}, "both", "x")


def test_terminal_width_follows_the_terminal_within_limits(monkeypatch):
    curves = LossCurves({"run": (EPOCHS, DECAYING)}, "loss")
    monkeypatch.setenv("COLUMNS", "72")
    assert max(len(line) for line in render_terminal(curves).splitlines()) == 72
    monkeypatch.setenv("COLUMNS", "400")
    assert max(len(line) for line in render_terminal(curves).splitlines()) == 120


def test_drawing_prints_nothing(capsys):
    render_terminal(SweepCurve([1e-3], [1.0], [False], 1e-3, "one run"), width=50, height=10)
    assert capsys.readouterr() == ("", "")


def test_png_has_the_asked_size_and_leaves_no_temp_file(tmp_path):
    curves = LossCurves({"run": (EPOCHS, DECAYING)}, "loss")
    fit = FitLine([1.0, 2.0, 3.0], [2.0, 4.1, 5.9], 1.95, 0.1, "x", "y", "fit")
    out = write_png([curves, fit], tmp_path / "fit.png", width_px=640, height_px=480)
    assert out == tmp_path / "fit.png"
    assert png_size(out) == (640, 480)
    assert os.listdir(tmp_path) == ["fit.png"]
    write_png(curves, tmp_path / "one.png")
    assert png_size(tmp_path / "one.png") == (1000, 500)  # the default: 500 px per panel


def test_png_failure_keeps_the_old_file(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(RuntimeError):
        write_png(LossCurves({"run": (EPOCHS, DECAYING)}, "loss"), target)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.png"]


def test_png_bad_places_are_user_errors(tmp_path):
    curves = LossCurves({"run": (EPOCHS, DECAYING)}, "loss")
    with pytest.raises(GdcliError, match="no-such-dir"):
        write_png(curves, tmp_path / "no-such-dir" / "out.png")
    with pytest.raises(GdcliError, match=r"\.png"):
        write_png(curves, tmp_path / "out.pdf")


def test_png_without_matplotlib_says_how_to_get_it(monkeypatch, tmp_path):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)  # None makes the import fail
    with pytest.raises(GdcliError) as err:
        write_png(LossCurves({"run": (EPOCHS, DECAYING)}, "loss"), tmp_path / "out.png")
    assert "matplotlib" in err.value.message and 'pip install "matplotlib>=3.7"' in err.value.hint
    assert not os.listdir(tmp_path)


def test_importing_plots_loads_no_drawing_library():
    code = "import gdcli.plots, sys; assert 'plotext' not in sys.modules and 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_narrow_terminal_keeps_the_title_and_moves_the_y_label_above_the_plot():
    from gdcli import plots

    panel = plots.LossCurves({"run": ([1, 2, 3], [3.0, 2.0, 1.0])}, "celsius: sharpness against the edge of stability",
                             ylabel="largest Hessian eigenvalue")
    text = plots.render_terminal([panel], width=40)
    lines = text.splitlines()
    assert lines[0].strip() == "celsius: sharpness against the edge…"
    assert lines[1] == "↑ largest Hessian eigenvalue"
    assert lines[-1].strip() == "epoch"  # alone on its line, no longer glued to the y label
    assert max(len(line) for line in lines) <= 40
    wide = plots.render_terminal([panel], width=100).splitlines()
    assert "celsius: sharpness against the edge of stability" in wide[0]
    assert wide[-1].startswith("largest Hessian eigenvalue") and wide[-1].rstrip().endswith("epoch")
