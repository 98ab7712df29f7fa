"""The loss surface drawn (terminal heatmap, PNG contours) and runs animated (--animate): each picture is read back.

The surface is a bowl computed here with numpy, loss = (x - 1)^2 + 10 (y + 2)^2, with two paths
worked out by hand: gradient descent that converges, and a straight line that leaves the frame
through its top border at a known point.
"""

import os
import re
import tempfile

import numpy as np
import pytest

os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="gdcli-mpl-"))

from gdcli import animation, plots  # noqa: E402
from gdcli.plots_surface import PATH_COLORS, SurfaceMap, clip_path  # noqa: E402

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")
XS, YS = np.linspace(-2.0, 4.0, 61), np.linspace(-5.0, 1.0, 51)
GD, AWAY = "gd lr 0.04", "leaves the frame"


def _descent(lr: float, steps: int) -> tuple[list[float], list[float]]:
    """Gradient descent on the bowl from (-1.5, 0.5): the gradient is (2 (x - 1), 20 (y + 2))."""
    x, y = [-1.5], [0.5]
    for _ in range(steps):
        x.append(x[-1] - lr * 2 * (x[-1] - 1))
        y.append(y[-1] - lr * 20 * (y[-1] + 2))
    return x, y


def _bowl(**extra) -> SurfaceMap:
    gx, gy = np.meshgrid(XS, YS)
    loss = (gx - 1) ** 2 + 10 * (gy + 2) ** 2
    # The straight line from (0, -2) to (2, 3) crosses y = 1 (the top border) at x = 1.2.
    away = ([0.0, 0.5, 1.0, 1.5, 2.0], [-2.0, -0.75, 0.5, 1.75, 3.0])
    return SurfaceMap(XS.tolist(), YS.tolist(), loss.tolist(), {GD: _descent(0.04, 60), AWAY: away}, (1.0, -2.0),
                      "w", "b", "the bowl", note="b is ten times steeper than w", **extra)


def test_clip_marks_where_the_path_left():
    clipped = clip_path(*_bowl().paths[AWAY], _bowl().frame)
    assert clipped.end is None and clipped.start == (0.0, -2.0)
    (where, direction), = clipped.exits
    assert where == pytest.approx((1.2, 1.0))
    assert direction[0] > 0 and direction[1] > 0
    assert clipped.pieces[-1][-1] == pytest.approx((1.2, 1.0))
    nan = clip_path([0.0, 1.0, float("nan")], [-2.0, -2.0, 0.0], _bowl().frame)
    assert nan.vanished == (1.0, -2.0) and nan.end is None and not nan.exits


@pytest.mark.parametrize("width", [80, 40])
@pytest.mark.parametrize("color", [False, True])
def test_terminal_heatmap_reads_in_the_width(width, color):
    text = plots.render_terminal([_bowl()], width=width, color=color)
    assert ("\x1b[" in text) == color
    plain = ANSI.sub("", text)
    lines = plain.rstrip("\n").split("\n")
    assert max(len(line) for line in lines) <= width
    picture = [line for line in lines if "│" in line or "┤" in line]
    assert len(picture) == 14  # 20 rows less the axes and title
    # The optimum (1, -2) sits halfway up the frame (y from -5 to 1) and halfway across (x from -2 to 4).
    row = next(i for i, line in enumerate(picture) if "★" in line)
    assert row in (6, 7)
    column = picture[row].index("★") - picture[row].index("┤" if "┤" in picture[row] else "│") - 1
    cells = len(picture[row]) - picture[row].index("┤" if "┤" in picture[row] else "│") - 1
    assert abs(column - cells // 2) <= 1
    assert "↗" in picture[0]  # the line leaves through the top border, up and to the right (as seen on the screen)
    assert "•" in "".join(picture) and "○" in "".join(picture) and "S" in "".join(picture)
    assert all(word in plain for word in ("optimum", "start", "end", "left the frame", GD, AWAY, "log scale"))
    assert "b is ten times steeper than w" in plain
    shades = set("".join(line.split("│" if "│" in line else "┤", 1)[1] for line in picture))
    assert len(shades & set(" ·:-=+*#%@")) >= 7  # the bowl spans most of the levels


def test_png_shows_the_path_and_the_levels(tmp_path):
    import matplotlib.image
    from matplotlib.figure import Figure

    from gdcli.plots_surface_png import draw_png

    panel = _bowl()
    fig = Figure(figsize=(8, 5), dpi=100)
    ax = fig.subplots()
    draw_png(fig, ax, panel)
    fig.savefig(tmp_path / "bowl.png", dpi=100)
    image = matplotlib.image.imread(tmp_path / "bowl.png")[:, :, :3]
    height = image.shape[0]
    red = np.array(matplotlib.colors.to_rgb(PATH_COLORS[0]))
    near = np.abs(image - red).max(axis=2) < 0.08
    # Points along the descent's segments, away from its ends (the start, end and star cover those).
    x, y = panel.paths[GD]
    route = [(x[i] + t * (x[i + 1] - x[i]), y[i] + t * (y[i + 1] - y[i])) for i in range(1, 20) for t in (0.3, 0.6)]
    route = [p for p in route if abs(p[0] - 1) > 0.3]
    found = 0
    for px, py in ax.transData.transform(route):
        row, col = int(round(height - py)), int(round(px))
        found += near[row - 2:row + 3, col - 2:col + 3].any()
    assert len(route) >= 10 and found >= 0.9 * len(route)
    # The plot area's colours: a dozen filled levels, each covering a share of it.
    box = ax.bbox
    area = image[int(height - box.y1) + 3:int(height - box.y0) - 3, int(box.x0) + 3:int(box.x1) - 3]
    colours, counts = np.unique((area * 255).round().astype(int).reshape(-1, 3), axis=0, return_counts=True)
    assert (counts > 0.01 * counts.sum()).sum() >= 8


def test_write_png_stacks_a_surface_with_other_panels(tmp_path):
    import matplotlib.image

    curves = plots.LossCurves({"train": ([1, 2, 3], [3.0, 2.0, 1.0])}, "loss")
    written = plots.write_png([curves, _bowl()], tmp_path / "both.png", width_px=900)
    assert written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.image.imread(written).shape[:2] == (1000, 900)
    assert sorted(os.listdir(tmp_path)) == ["both.png"]  # nothing half-written beside it


def test_thinned_frames():
    assert animation.thinned(5) == [0, 1, 2, 3, 4]
    kept = animation.thinned(1001)
    assert len(kept) == animation.MAX_FRAMES and kept[0] == 0 and kept[-1] == 1000
    assert kept == sorted(set(kept))


def _gif(path):
    from PIL import Image

    image = Image.open(path)
    frames = []
    for k in range(image.n_frames):
        image.seek(k)
        frames.append(np.asarray(image.convert("RGB")))
    return image.format, frames


def test_fit_animate_writes_a_thinned_gif(run_cli, tmp_path, monkeypatch):
    monkeypatch.setattr(animation, "MAX_FRAMES", 60)  # fewer frames to draw; thinned all the same
    target = tmp_path / "run.gif"
    result = run_cli("fit", "--epochs", "300", "--animate", target, "--quiet")
    assert result.exit_code == 0, result.plain
    assert f"wrote {target}" in result.plain
    kind, frames = _gif(target)
    assert kind == "GIF" and len(frames) == 60  # 301 kept epochs, thinned
    assert target.stat().st_size < 5_000_000
    assert frames[0].shape[1] == 2 * round(animation.PANEL_INCHES[0] * animation.DPI)  # the data, the loss
    assert not np.array_equal(frames[0], frames[-1])
    assert sorted(os.listdir(tmp_path)) == ["run.gif"]


def test_a_diverged_run_is_animated_to_its_divergence(run_cli, tmp_path):
    target = tmp_path / "run.gif"
    result = run_cli("fit", "--lr", "1", "--epochs", "60", "--animate", target, "--quiet")
    assert result.exit_code == 3, result.plain
    _, frames = _gif(target)
    assert 2 <= len(frames) <= 61 and not np.array_equal(frames[0], frames[-1])


@pytest.mark.parametrize("name, message", [
    ("run.png", "must end in .gif"), ("missing/run.gif", "does not exist"), ("-", "standard output"),
])
def test_bad_animation_target_exits_2_before_training(run_cli, tmp_path, name, message):
    before = sorted(os.listdir(tmp_path))
    target = name if name == "-" else tmp_path / name
    result = run_cli("fit", "--epochs", "5", "--animate", target)
    assert result.exit_code == 2 and message in result.plain and "Traceback" not in result.plain
    assert "train loss" not in result.plain  # refused before the table of epochs
    assert sorted(os.listdir(tmp_path)) == before


def test_api_animates_and_refuses_a_bad_target(tmp_path):
    import gdcli

    with pytest.raises(gdcli.GdcliError, match=r"must end in \.gif"):
        gdcli.fit(epochs=5, animate=tmp_path / "run.png")
    run = gdcli.fit(epochs=20, animate=str(tmp_path / "run.gif"))
    assert run.loss is not None and len(_gif(tmp_path / "run.gif")[1]) == 21


def test_animation_with_a_surface_grows_the_path(tmp_path):
    panel = _bowl(path_epochs={GD: list(range(61)), AWAY: [0, 15, 30, 45, 60]})
    frames = animation.Frames(epochs=list(range(0, 61, 5)), curve=(list(range(61)), [2.0 / (1 + e) for e in range(61)]),
                              title="the bowl", loss_label="loss")
    animation.write(tmp_path / "bowl.gif", frames, surface=panel)
    _, shown = _gif(tmp_path / "bowl.gif")
    assert len(shown) == 13 and shown[0].shape[1] == 2 * round(animation.PANEL_INCHES[0] * animation.DPI)
    assert not np.array_equal(shown[1], shown[-1])


def test_animation_never_lands_on_another_file_of_the_run(run_cli, tmp_path):
    (tmp_path / "data.gif").write_text("x,y\n1,2\n2,4\n3,6\n")
    same = run_cli("fit", "--save", tmp_path / "s.gif", "--animate", tmp_path / "s.gif")
    over = run_cli("fit", "--dataset", tmp_path / "data.gif", "--animate", tmp_path / "data.gif")
    assert same.exit_code == over.exit_code == 2
    assert "--save and --animate both name" in same.plain and "is also the --dataset file" in over.plain
    assert sorted(os.listdir(tmp_path)) == ["data.gif"] and (tmp_path / "data.gif").read_text().startswith("x,y")


def test_terminal_joins_a_paths_points_across_the_cells_between_them():
    """Two points far apart (one fast step) are one line of the path's marker, not two dots."""
    xs = ys = [float(v) for v in np.linspace(0.0, 10.0, 11)]
    loss = [[1.0 + x + y for x in xs] for y in ys]
    panel = SurfaceMap(xs, ys, loss, {"run": ([1.0, 9.0], [5.0, 5.0])}, None, "x", "y", "t")
    rows = plots.render_terminal([panel], width=80).splitlines()
    across = next(row for row in rows if "S" in row)
    assert re.search(r"S•{20,}E", across), across
