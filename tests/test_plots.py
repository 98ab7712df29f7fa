"""Tests for gdcli.plots: what lands where in the terminal drawing, and PNGs on disk."""

import math
import os
import struct
import subprocess
import sys
import tempfile

# matplotlib writes a font cache on first use: keep it out of the home directory.
os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="gdcli-mpl-"))

import pytest  # noqa: E402

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


def canvas(text: str) -> list[str]:
    """The rows inside the first plot frame, without the y tick labels and the left border."""
    lines = text.splitlines()
    top = next(i for i, line in enumerate(lines) if "┌" in line)
    bottom = next(i for i, line in enumerate(lines) if "└" in line)
    left = lines[top].index("┌") + 1
    return [line[left:].rstrip().rstrip("│") for line in lines[top + 1 : bottom]]


def find(rows: list[str], char: str) -> list[tuple[int, int]]:
    """(row, column) of every `char` in the canvas rows."""
    return [(r, c) for r, row in enumerate(rows) for c, ch in enumerate(row) if ch == char]


def png_size(path) -> tuple[int, int]:
    """Width and height from the PNG header: signature, then the IHDR chunk."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


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
    key = text.splitlines()[-1]
    assert "analytic" in key and "autograd" in key
    assert all(len(line) <= 70 for line in text.splitlines())
    assert len(canvas(text)) == 16 - 5  # title, two frame lines, tick labels, axis labels


def test_colour_only_when_asked():
    curves = LossCurves({"run": (EPOCHS, DECAYING)}, "loss")
    assert "\x1b[" in render_terminal(curves, width=60, height=12, color=True)
    assert "\x1b" not in render_terminal(curves, width=60, height=12, color=False)


def test_fit_line_points_land_where_the_data_says():
    x = [0.0, 1.0, 2.0, 3.0, 4.0]
    y = [0.0, 8.0, 2.0, 6.0, 4.0]  # every y at a different height, none in x order
    text = render_terminal(FitLine(x, y, 1.0, 0.0, "t_u", "t_c (°C)", "thermometer"), width=60, height=20)
    assert "thermometer" in text and "t_u" in text and "t_c (°C)" in text
    assert "o data" in text and "fit y = 1x + 0" in text
    points = sorted(find(canvas(text), "o"), key=lambda p: p[1])  # left to right: x order
    assert len(points) == 5 and len({c for _, c in points}) == 5
    rows = [r for r, _ in points]
    # The higher the value, the higher the row (smaller index): row order reverses y order.
    assert sorted(range(5), key=lambda i: rows[i]) == sorted(range(5), key=lambda i: -y[i])
    assert min(points) == points[1]  # top row: y = 8, the second point from the left


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
    assert "x diverged" in text
    rows = canvas(text)
    (mark,) = find(rows, "x")
    assert mark[0] == 0  # the last finite loss, 1024, is the highest point drawn


def test_sweep_marks_diverged_runs_and_the_stable_bound():
    lrs = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
    sweep = SweepCurve(lrs, [40.0, 9.0, 3.0, math.inf, math.nan], [False, False, False, True, True], 4e-3, "sweep")
    text = render_terminal(sweep, width=80, height=18)
    assert STABLE_LABEL in text and "learning rate" in text and "final loss" in text
    assert "1e-5" in text and "1e-1" in text  # log x axis, ticks in data units
    rows = canvas(text)
    marks = find(rows, "x")
    assert len(marks) == 2 and {r for r, _ in marks} == {0}  # both diverged runs on the top row
    bound = rows[len(rows) // 2].index("│")  # the vertical line runs through every row
    assert all(c > bound for _, c in marks)  # 4e-3 lies left of the diverged 1e-2 and 1e-1
    assert max(c for r, row in enumerate(rows) for c, ch in enumerate(row) if ch in "▘▀▄▖▗▝▚") < bound


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
    assert "matplotlib" in err.value.message and 'pip install "gdcli[plot]"' in err.value.hint
    assert not os.listdir(tmp_path)


def test_importing_plots_loads_no_drawing_library():
    code = "import gdcli.plots, sys; assert 'plotext' not in sys.modules and 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
