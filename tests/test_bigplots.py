"""Big files without surprises, log-scale loss plots and the best run kept: compare's start gradients
only for the methods compared, finite-diff's cost in compare's header, the time estimate before a long
run, --log-loss, and --save-best; each through the CLI and the API."""

import contextlib
import json
import math
import time
import warnings

import pytest
import torch

import gdcli
from gdcli import gradients
from gdcli.plots import LossCurves, SweepCurve, _layout, render_terminal
from gdcli.train import estimate


@pytest.fixture(autouse=True)
def _mpl(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))


@contextlib.contextmanager
def registered(name: str, sleep: float = 0.0):
    """A gradient method `name` (autograd's gradient, after `sleep` seconds), counting its calls."""
    calls = []

    def fill(theta, rows, spec):
        calls.append(1)
        time.sleep(sleep)
        return gradients.autograd(theta, rows, spec)

    gradients.register(gradients.Method(name, fill, "a slow test method", needs_autograd=True))
    try:
        yield calls
    finally:
        gradients.unregister(name)


# --- 1. the agreement table computes only the methods compared ------------------------------


def test_compare_never_runs_a_method_it_does_not_compare(run_cli):
    with registered("slowpoke") as calls:
        out = run_cli("compare", "--methods", "analytic,autograd", "--epochs", "3", "--output", "json")
        assert out.exit_code == 0, out.plain
        assert calls == []
        rows = [row["method"] for row in json.loads(out.stdout)["agreement"]]
        assert rows == ["analytic", "autograd"]
        # The API alike; autograd stays as the reference the differences are measured against.
        comparison = gdcli.compare(methods=["analytic", "gram"], epochs=3)
        assert calls == []
        assert [a["method"] for a in comparison.agreement] == ["analytic", "autograd", "gram"]
        # Compared, it is run: its row's gradient is autograd's.
        comparison = gdcli.compare(methods=["slowpoke"], epochs=2)
        assert calls and [a["method"] for a in comparison.agreement] == ["autograd", "slowpoke"]
        assert comparison.agreement[1]["max_abs"] == 0.0


def test_compare_without_finite_diff_leaves_it_out_of_the_table(run_cli):
    out = run_cli("compare", "--methods", "analytic", "--epochs", "2")
    assert out.exit_code == 0, out.plain
    table = out.plain.split("gradient at the start")[1].split("max diff / norm:")[0]
    assert "finite-diff" not in table and "analytic" in table and "autograd" in table


# --- 2. finite-diff's cost in compare's header ------------------------------------------------


def test_header_weighs_finite_diff_on_many_rows(run_cli, monkeypatch):
    monkeypatch.setattr(estimate, "FD_ROWS", 10)  # celsius's 11 rows count as many
    out = run_cli("compare", "--epochs", "2", "--methods", "finite-diff,analytic")
    assert out.exit_code == 0, out.plain
    line = next(x for x in out.plain.splitlines() if "finite-diff" in x and "loss passes" in x)
    assert "2·P = 4 loss passes a step over 11 rows (P = 2 parameters; the others: one)" in line
    assert "leave it out of --methods" in out.plain
    # Not compared, or on few rows: no line.
    assert "loss passes a step" not in run_cli("compare", "--epochs", "2", "--methods", "analytic").plain
    monkeypatch.setattr(estimate, "FD_ROWS", 100_000)
    assert "loss passes a step" not in run_cli("compare", "--epochs", "2").plain


def test_header_line_on_a_real_large_file(run_cli, tmp_path):
    """100,001 rows of y = 2x + 1: the line appears without any threshold lowered."""
    path = tmp_path / "big.csv"
    x = torch.arange(100_001, dtype=torch.float64) / 100_001
    path.write_text("x,y\n" + "\n".join(f"{a:.6f},{2 * a + 1:.6f}" for a in x.tolist()) + "\n")
    out = run_cli("compare", "--dataset", str(path), "--epochs", "1", "--methods", "finite-diff,autograd")
    assert out.exit_code == 0, out.plain
    assert "2·P = 4 loss passes a step over 100,001 rows" in " ".join(out.plain.split())


# --- 3. the time estimate before a long run ---------------------------------------------------

SLEEP = 0.004


@pytest.fixture
def slow(monkeypatch):
    """A sleeping method, every run probed, and a threshold a few of its epochs pass."""
    monkeypatch.setattr(estimate, "SKIP_WORK", 0)
    monkeypatch.setattr(estimate, "THRESHOLD", 0.02)
    with registered("sleepy", SLEEP) as calls:
        yield calls


def test_estimate_extrapolates_the_probe(slow):
    from gdcli.train import fit, resolve

    trainer = fit(resolve("celsius", method="sleepy", epochs=500, device="cpu"))
    seconds = estimate.seconds([trainer])
    assert 500 * SLEEP <= seconds < 500 * SLEEP * 5
    assert len(slow) <= 4  # a probe, not a run
    # Mini-batches of 4 of the 11 rows: three steps an epoch.
    batched = fit(resolve("celsius", method="sleepy", epochs=500, batch_size=4, device="cpu"))
    assert 3 * 500 * SLEEP <= estimate.seconds([batched]) < 3 * 500 * SLEEP * 5


def test_a_short_run_is_not_probed(monkeypatch):
    from gdcli.train import fit, resolve

    with registered("sleepy", SLEEP) as calls:
        trainer = fit(resolve("celsius", method="sleepy", epochs=10, device="cpu"))
        assert estimate.seconds([trainer]) is None and calls == []


@pytest.mark.parametrize("command, extra, faster", [
    ("fit", ["--method", "sleepy"], "--method gram gives the same answer"),
    ("sweep", ["--method", "sleepy", "--lr", "0.001,0.01"], "--method gram gives the same answer"),
    ("compare", ["--methods", "sleepy,analytic"], "--methods gram gives the same answer"),
    ("fit", ["--method", "finite-diff"], "--method analytic gives the same gradient"),
    ("compare", ["--methods", "finite-diff"], "leave finite-diff out of --methods"),
])
def test_cli_says_how_long_and_a_faster_choice(run_cli, slow, monkeypatch, command, extra, faster):
    if "finite-diff" in extra:
        monkeypatch.setattr(estimate, "THRESHOLD", 0.0)
    out = run_cli(command, *extra, "--epochs", "10", "--output", "json")
    assert out.exit_code == 0, out.plain
    assert "note: this will take about" in out.stderr and faster in out.stderr
    json.loads(out.stdout)  # stdout stays the document
    quiet = run_cli(command, *extra, "--epochs", "10", "--output", "json", "--quiet")
    assert "this will take" not in quiet.plain


def test_no_estimate_under_the_threshold(run_cli, slow, monkeypatch):
    monkeypatch.setattr(estimate, "THRESHOLD", 3600.0)
    out = run_cli("fit", "--method", "sleepy", "--epochs", "5")
    assert out.exit_code == 0 and "this will take" not in out.plain


@pytest.mark.parametrize("call", [
    lambda: gdcli.fit(method="sleepy", epochs=10),
    lambda: gdcli.compare(methods=["sleepy"], epochs=10),
    lambda: gdcli.sweep(method="sleepy", lr=[0.001, 0.01], epochs=10),
])
def test_api_warns_with_its_own_names(slow, call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    texts = [str(w.message) for w in caught if issubclass(w.category, estimate.LongRun)]
    assert len(texts) == 1, [str(w.message) for w in caught]
    assert texts[0].startswith("this will take about") and "--" not in texts[0]
    assert "method='gram'" in texts[0] or "methods='gram'" in texts[0]


def simulated(monkeypatch, seconds):
    """_scaled's probe on a simulated clock: a call on k rows 'takes' seconds(k, try), try counting from 0
    per slice; returns the slices timed."""
    tries: dict[int, int] = {}
    monkeypatch.setattr(estimate, "_timed", lambda fn, device: fn())

    def call(k):
        tries[k] = tries.get(k, -1) + 1
        return seconds(k, tries[k])

    return call, tries


@pytest.mark.parametrize("fixed", [0.0, 1e-4, 0.02, 0.1])
def test_the_probe_finds_the_cost_of_a_row_past_a_fixed_cost(monkeypatch, fixed):
    """A call's fixed cost (or a busy machine's wait, 20 ms a call on any slice) is paid once a step,
    not once per slice's worth of rows: 1e7 rows at 0.1 us a row cost about 1 s a step."""
    call, _ = simulated(monkeypatch, lambda k, _: fixed + 1e-7 * k)
    assert estimate._scaled(call, 10**7, "cpu") == pytest.approx(fixed + 1.0, rel=0.05)


def test_a_stalled_slice_is_timed_again(monkeypatch):
    """A slice that stalled on its first tries (50 ms where its rows take 0.2 ms) is timed again, and the
    estimate is its rows' cost, not the stall's scaled to every row."""
    call, tries = simulated(monkeypatch, lambda k, t: 0.05 if k == 2048 and t < 3 else 1e-7 * k)
    assert estimate._scaled(call, 10**7, "cpu") == pytest.approx(1.0, rel=0.05)
    assert tries[2048] > 2  # its two tries and more


def test_a_slice_that_waited_every_try_is_grown_past(monkeypatch):
    """On a busy machine a call spread over both cores waited 100 ms on 16,384 rows, every try (1 ms on a
    quiet one): a jump far beyond its rows' growth is not a cost per row, and the slices grow past it."""
    call, tries = simulated(monkeypatch, lambda k, _: 1e-7 * k + (0.1 if k == 16384 else 0.0))
    assert estimate._scaled(call, 10**7, "cpu") == pytest.approx(1.0, rel=0.05)
    assert max(tries) > 16384


def test_durations_read_as_people_say_them():
    assert [estimate.duration(s) for s in (75, 3000, 3 * 3600)] == ["75 seconds", "50 minutes", "3.0 hours"]


# --- 4. log-scale loss plots ------------------------------------------------------------------

EPOCHS = list(range(1, 41))
GENTLE = [10.0 - e / 10 for e in EPOCHS]  # within one decade


def test_log_loss_forces_the_axis_and_says_so():
    lay = _layout(LossCurves({"run": (EPOCHS, GENTLE)}, "t", log=True))
    assert lay.ylog and lay.ylabel == "loss (log scale)" and lay.note == ""
    auto = _layout(LossCurves({"run": (EPOCHS, GENTLE)}, "t"))
    assert not auto.ylog and auto.ylabel == "loss"


def test_automatic_log_axis_over_two_decades_is_labelled():
    lay = _layout(LossCurves({"run": (EPOCHS, [10.0 ** (2 - e / 10) for e in EPOCHS])}, "t"))
    assert lay.ylog and lay.ylabel == "loss (log scale)"


@pytest.mark.parametrize("log", [True, None])
def test_a_loss_of_zero_keeps_the_axis_linear_with_a_note(log):
    losses = [10.0 ** (2 - e / 10) for e in EPOCHS[:-1]] + [0.0]
    lay = _layout(LossCurves({"run": (EPOCHS, losses)}, "t", log=log))
    assert not lay.ylog and lay.ylabel == "loss"
    assert lay.note == "linear axis: run reaches 0, which a log scale cannot show"
    assert lay.note in render_terminal(LossCurves({"run": (EPOCHS, losses)}, "t", log=log), width=70)


def test_sweep_curve_takes_log_loss():
    lay = _layout(SweepCurve([0.001, 0.01], [5.0, 4.0], [False, False], None, "s", log=True))
    assert lay.ylog and lay.ylabel == "final loss (log scale)"


def test_coinciding_curves_are_told_apart():
    other = [v * (1 + 1e-5) for v in GENTLE]
    curves = LossCurves({"analytic:gd": (EPOCHS, GENTLE), "autograd:gd": (EPOCHS, other),
                         "autograd:adam": (EPOCHS, [v / 2 for v in GENTLE])}, "t")
    lay = _layout(curves)
    assert lay.note.startswith("analytic:gd, autograd:gd: curves coincide")
    assert [t.style for t in lay.traces if t.kind == "line"] == [0, 1, 2]  # the PNG's line styles
    assert lay.note in render_terminal(curves, width=80)


def test_cli_log_loss_in_terminal_and_png(run_cli, tmp_path):
    png = tmp_path / "c.png"
    out = run_cli("compare", "--methods", "analytic,autograd", "--epochs", "30", "--plot", "--log-loss",
                  "--plot-file", str(png))
    assert out.exit_code == 0, out.plain
    assert "loss (log scale)" in out.plain and png.stat().st_size > 0
    assert "analytic:gd, autograd:gd: curves coincide" in out.plain
    for command in ("fit", "sweep"):
        out = run_cli(command, "--epochs", "30", "--plot", "--log-loss")
        assert out.exit_code == 0 and "(log scale)" in out.plain, out.plain


def test_log_loss_without_a_picture_is_refused(run_cli, tmp_path):
    for command in ("fit", "compare", "sweep"):
        out = run_cli(command, "--epochs", "3", "--log-loss")
        assert out.exit_code == 2 and "Traceback" not in out.output
        assert "--log-loss sets the loss axis of a picture, and none is drawn" in out.plain
    with pytest.raises(gdcli.GdcliError, match="log_loss sets the loss axis"):
        gdcli.fit(epochs=3, log_loss=True)
    with pytest.raises(gdcli.GdcliError, match="log_loss must be True or False"):
        gdcli.compare(epochs=3, log_loss="yes", plot_file=str(tmp_path / "x.png"))


def test_api_writes_the_png(tmp_path):
    for name, call in (("fit", gdcli.fit), ("sweep", gdcli.sweep)):  # compare's PNG: the CLI test above
        png = tmp_path / f"{name}.png"
        call(epochs=20, plot_file=png, log_loss=True)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- 5. --save-best ---------------------------------------------------------------------------


def _best_by_hand(document: dict) -> dict:
    """The run with the least final loss (no split, none diverged): the table's first."""
    return min(document["runs"], key=lambda r: r["final"]["loss"])


def test_sweep_save_best_then_predict_and_export(run_cli, tmp_path):
    path = tmp_path / "best.json"
    out = run_cli("sweep", "--lr", "0.001,0.003,0.01", "--epochs", "40", "--save-best", str(path),
                  "--output", "json")
    assert out.exit_code == 0, out.plain
    best = _best_by_hand(json.loads(out.stdout))
    assert best["lr"] == 0.01
    assert f"saved the best run (autograd + gd, lr 0.01, seed 42; lowest final loss {best['final']['loss']:.6g}) " \
        f"to {path}" in " ".join(out.stderr.split())
    w, b = best["final"]["params"]["weight"][0][0], best["final"]["params"]["bias"][0]
    expected = w * 50 * 0.1 + b  # celsius scales its input by 0.1
    predicted = run_cli("predict", str(path), "50", "--output", "json")
    assert predicted.exit_code == 0, predicted.plain
    assert json.loads(predicted.stdout)[0]["t_c_predicted"] == pytest.approx(expected, rel=1e-12)
    assert gdcli.load_run(path).predict([[50.0]]).item() == pytest.approx(expected, rel=1e-12)
    exported = run_cli("export", str(path), str(tmp_path / "model.pt"))
    assert exported.exit_code == 0, exported.plain
    layer = torch.nn.Linear(1, 1, dtype=torch.float64)
    layer.load_state_dict(torch.load(tmp_path / "model.pt"))
    assert layer(torch.tensor([[50.0]], dtype=torch.float64)).item() == pytest.approx(expected, rel=1e-9)


def test_compare_save_best_is_the_ranked_first(run_cli, tmp_path):
    path = tmp_path / "best.json"
    out = run_cli("compare", "--optims", "gd,adam", "--methods", "autograd", "--lr", "0.5", "--epochs", "30",
                  "--save-best", str(path), "--output", "json")
    assert out.exit_code == 0, out.plain
    best = _best_by_hand(json.loads(out.stdout))
    saved = json.loads(path.read_text())
    assert saved["config"]["optim"] == best["optim"] and saved["params"] == best["final"]["params"]


def test_every_run_diverged_writes_nothing(run_cli, tmp_path):
    path = tmp_path / "best.json"
    out = run_cli("sweep", "--lr", "5,10", "--epochs", "30", "--save-best", str(path), "--quiet")
    assert not path.exists() and "Traceback" not in out.output
    assert f"warning: not saved to {path}: every run diverged" in out.plain
    assert run_cli("sweep", "--lr", "5,10", "--epochs", "30", "--quiet").exit_code == 0
    assert out.exit_code == 3  # the file asked for is not there: a script must not go on to predict with it
    with pytest.warns(UserWarning, match="every run diverged"):
        gdcli.sweep(lr=[5.0, 10.0], epochs=30, save_best=path)
    assert not path.exists()


def test_save_best_target_checked_before_training(run_cli, tmp_path):
    for command in ("compare", "sweep"):
        out = run_cli(command, "--epochs", "3", "--save-best", str(tmp_path / "missing" / "best.json"))
        assert out.exit_code == 2 and "does not exist" in out.plain and "Traceback" not in out.output
        empty = run_cli(command, "--epochs", "3", "--save-best", "")
        assert empty.exit_code == 2 and "Traceback" not in empty.output
    with pytest.raises(gdcli.GdcliError, match="does not exist"):
        gdcli.compare(epochs=3, save_best=tmp_path / "missing" / "best.json")
    with pytest.raises(gdcli.GdcliError, match="save_best must be a file path"):
        gdcli.sweep(epochs=3, save_best=3)


def test_api_save_best_matches_the_ranking(tmp_path):
    path = tmp_path / "best.json"
    swept = gdcli.sweep(lr=[0.001, 0.01], epochs=30, save_best=path)
    loaded = gdcli.load_run(path)
    for name, value in swept.best.params.items():
        assert torch.equal(loaded.params[name], value)
    losses = [r.loss for r in swept.runs]
    assert swept.best.loss == min(losses) and not math.isnan(swept.best.loss)


def test_compare_by_runs_names_that_option(run_cli, slow, monkeypatch):
    monkeypatch.setattr(estimate, "THRESHOLD", 0.0)
    out = run_cli("compare", "--run", "finite-diff:gd", "--run", "analytic:gd", "--epochs", "5")
    assert out.exit_code == 0 and "leave finite-diff out of --run" in out.stderr, out.plain
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gdcli.compare(runs=["sleepy:gd"], epochs=5)
    assert any("runs='gram:OPTIM'" in str(w.message) for w in caught), [str(w.message) for w in caught]
