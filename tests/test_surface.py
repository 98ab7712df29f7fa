"""The loss surface: its grid against the loss computed directly (numpy on the raw rows, torch.nn),
its paths against the runs' logged parameters, its directions against an SVD of the trajectory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import gdcli
from gdcli import surfaces, train
from conftest import trained

CELSIUS = Path(__file__).resolve().parent.parent / "datasets" / "celsius.csv"
SAMPLES = [(0, 0), (17, 150), (99, 100), (199, 3), (120, 199)]


def celsius_rows() -> tuple[np.ndarray, np.ndarray]:
    """The book's eleven rows, read with numpy alone."""
    table = np.loadtxt(CELSIUS, delimiter=",", skiprows=1)
    return table[:, :1], table[:, 1]


def inputs(x: np.ndarray, config: dict) -> np.ndarray:
    """The inputs as the model sees them: scaled, then standardized with the rows' population std."""
    x = x * config["scale"]
    return (x - x.mean(0)) / x.std(0) if config["normalize"] else x


@pytest.mark.parametrize("normalize", [False, True])
def test_line_grid_is_the_mean_squared_error_of_the_raw_rows(normalize):
    run = gdcli.fit("celsius", epochs=300, normalize=normalize, surface=True)
    s = run.surface
    assert s.kind == "parameters" and s.standardized == normalize
    assert [a.label for a in s.axes] == ["weight[0, 0]", "bias[0]"]
    x, y = celsius_rows()
    X = inputs(x, run.config)[:, 0]
    for i, j in SAMPLES:
        w, b = s.x[i], s.y[j]
        assert s.loss[j][i] == pytest.approx(np.mean((X * w + b - y) ** 2), rel=1e-10)
    # The frame holds the start, the whole path (it converged) and the optimum.
    best = run.optimum_params
    assert s.optimum == pytest.approx((best["weight"].item(), best["bias"].item()))
    path = s.paths[0]
    for px, py in [(s.optimum[0], s.optimum[1]), *zip(path.x, path.y)]:
        assert s.x[0] < px < s.x[-1] and s.y[0] < py < s.y[-1]


def test_gram_grid_at_a_million_rows_equals_the_loss_row_by_row():
    from gdcli import data

    run = gdcli.fit("synthetic", rows=1_000_000, features=1, epochs=3, surface=True)
    ds = data.load_dataset("synthetic", rows=1_000_000, features=1, seed=42)
    X = ds.X[:, 0] * run.config["scale"]
    s = run.surface
    for i, j in SAMPLES:
        direct = np.mean((X * s.x[i] + s.y[j] - ds.y[:, 0]) ** 2)
        assert s.loss[j][i] == pytest.approx(direct, rel=1e-9)


def _fit(**settings):
    trainer = trained(train.fit(train.resolve(**settings)))
    return trainer, trainer.result()


def test_path_is_the_logged_parameters_from_the_start():
    trainer, result = _fit(dataset="celsius", epochs=500, log_every=50)
    s = surfaces.for_fit(result, trainer)
    path = s.paths[0]
    assert (path.epochs[0], path.x[0], path.y[0]) == (0, 1.0, 0.0)  # the book's start: weight 1, bias 0
    at = dict(zip(path.epochs, zip(path.x, path.y)))
    logged = [r for r in result.records if r.params is not None]
    assert len(logged) >= 10
    for r in logged:
        assert at[r.epoch] == (r.params["weight"][0][0], r.params["bias"][0])


def test_principal_directions_are_the_svd_of_the_trajectory():
    trainer, result = _fit(dataset="celsius", model="quadratic", epochs=400)
    s = surfaces.for_fit(result, trainer)
    assert s.kind == "slice"
    final = torch.cat([torch.tensor(v, dtype=torch.float64).flatten() for v in result.params.values()])
    moved = result.path - final
    _, sv, vh = torch.linalg.svd(moved, full_matrices=False)
    for k, axis in enumerate(s.axes):
        d = torch.cat([torch.tensor(v, dtype=torch.float64).flatten() for v in axis.direction.values()])
        assert abs(float(d @ vh[k])) == pytest.approx(1.0, abs=1e-9)
        assert axis.explained == pytest.approx(float(sv[k] ** 2 / sv.square().sum()))
        assert axis.label.startswith(f"PC{k + 1} (")
    # Projected back, the path's points are their own coordinates along those directions.
    ex = torch.cat([torch.tensor(v, dtype=torch.float64).flatten() for v in s.axes[0].direction.values()])
    assert s.paths[0].x == pytest.approx((moved @ ex).tolist(), abs=1e-12)


def test_a_path_along_one_line_is_completed_by_a_seeded_orthogonal_direction():
    trainer, result = _fit(dataset="celsius", model="quadratic", epochs=1)
    s = surfaces.for_fit(result, trainer)
    first, second = (torch.cat([torch.tensor(v, dtype=torch.float64).flatten() for v in a.direction.values()])
                     for a in s.axes)
    assert float(first @ second) == pytest.approx(0.0, abs=1e-12)
    assert float(second.norm()) == pytest.approx(1.0)
    assert "random direction" in s.axes[1].label and "seed 42" in s.axes[1].label
    assert "seeded random direction" in s.note


def test_named_slice_of_the_network_equals_torch_nn():
    run = gdcli.fit("celsius", "mlp", epochs=300,
                    surface_params=("hidden_linear.weight[3]", "output_linear.bias"))
    s = run.surface
    assert [a.label for a in s.axes] == ["hidden_linear.weight[3, 0]", "output_linear.bias[0]"]
    x, y = celsius_rows()
    X = torch.tensor(inputs(x, run.config))
    net = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    for i, j in SAMPLES:
        with torch.no_grad():
            net[0].weight.copy_(run.params["hidden_linear.weight"])
            net[0].bias.copy_(run.params["hidden_linear.bias"])
            net[2].weight.copy_(run.params["output_linear.weight"])
            net[0].weight[3, 0] = s.x[i]
            net[2].bias.fill_(s.y[j])
            expected = float(torch.mean((net(X)[:, 0] - torch.tensor(y)) ** 2))
        assert s.loss[j][i] == pytest.approx(expected, rel=1e-10)


def test_sweep_draws_at_most_eight_paths_and_keeps_a_diverged_one_whole():
    sweep = gdcli.sweep("celsius", lr=[1e-3 * 1.5**k for k in range(12)], epochs=60, surface=True)
    s = sweep.surface
    assert len(s.paths) == 8 and "8 of the 12 runs" in s.note
    assert s.paths[0].label == "lr " + format(sweep.best.config["lr"], ".3g")  # as few digits as keep names apart
    diverged = [p for p in s.paths if p.diverged]
    assert diverged, "the largest learning rates diverge on raw celsius"
    assert all(len(p.epochs) == len(p.x) for p in diverged)
    assert all(abs(v) < 1e6 for v in s.x + s.y)  # the frame is not stretched by a path that climbed out
    assert s.stable_lr == pytest.approx(sweep.best.stable_lr)


def test_two_parameters_are_drawn_to_scale_in_a_square_frame():
    """Standardized celsius has the Hessian 2I: its bowl is round, which a picture shows only to scale."""
    from gdcli import figures

    run = gdcli.fit("celsius", normalize=True, lr=0.1, epochs=30, surface=True)
    s = run.surface
    assert s.x[-1] - s.x[0] == pytest.approx(s.y[-1] - s.y[0])
    assert s.panel().to_scale
    # Round: standardized inputs (mean 0, population spread 1) make the mean squared error's Hessian
    # exactly 2I, so the loss is the optimum's plus the squared distance to the optimum.
    ox, oy = s.optimum
    best = run.loss - run.gap
    for i, j in [(0, 0), (50, 120), (199, 7), (120, 199)]:
        assert s.loss[j][i] == pytest.approx(best + (s.x[i] - ox) ** 2 + (s.y[j] - oy) ** 2, rel=1e-9)


def test_compare_draws_a_path_per_strategy_and_to_dict_holds_it():
    c = gdcli.compare("celsius", methods=["autograd"], optims=["gd", "adam"], epochs=50, surface=True)
    assert [p.label for p in c.surface.paths] == ["autograd:gd", "autograd:adam"]
    assert c.to_dict()["surface"]["paths"][1]["label"] == "autograd:adam"


def test_a_name_the_model_lacks_is_refused_with_a_near_miss():
    with pytest.raises(gdcli.GdcliError, match=r"no parameter 'hidden_linear\.wieght\[3\]' \(did you mean"):
        gdcli.fit("celsius", "mlp", epochs=5, surface_params=("hidden_linear.wieght[3]", "output_linear.bias"))
    with pytest.raises(gdcli.GdcliError, match="twice"):
        gdcli.fit("celsius", epochs=5, surface_params=("weight", "weight[0, 0]"))


def test_cli_json_has_the_surface_block(run_cli):
    result = run_cli("fit", "--surface", "--output", "json", "--epochs", "30", "-q")
    assert result.exit_code == 0
    block = json.loads(result.stdout)["surface"]
    assert block["kind"] == "parameters" and len(block["loss"]) == len(block["y"]) == 200
    assert len(block["loss"][0]) == len(block["x"]) == 200
    assert block["paths"][0]["epochs"][0] == 0 and block["axes"][0]["label"] == "weight[0, 0]"


def test_cli_non_finite_values_are_null(run_cli):
    result = run_cli("fit", "--model", "mlp", "--surface", "--output", "json", "--epochs", "40", "--lr", "50", "-q")
    assert result.exit_code == 3
    path = json.loads(result.stdout)["surface"]["paths"][0]
    assert path["diverged"] and path["x"][-1] is None and path["x"][0] is not None


def test_cli_refuses_a_typo_and_formats_without_a_place_for_it(run_cli):
    typo = run_cli("compare", "--model", "mlp", "--surface-params", "hidden_linear.wieght[3],output_linear.bias",
                   "--output", "json", "-q")
    assert typo.exit_code == 2 and "did you mean hidden_linear.weight[3, 0]?" in typo.plain
    assert "Traceback" not in typo.output and typo.stdout == ""
    for output in ("jsonl", "csv"):
        refused = run_cli("sweep", "--surface", "--output", output, "-q")
        assert refused.exit_code == 2 and "--output json" in refused.plain and refused.stdout == ""
        drawn = run_cli("fit", "--surface", "--output", output, "--plot", "--epochs", "20", "-q")
        assert drawn.exit_code == 0 and "loss surface" in drawn.stderr  # the picture takes it, on stderr
    one = run_cli("fit", "--surface-params", "weight", "--output", "json")
    assert one.exit_code == 2 and "two parameters" in one.plain


def test_a_notebook_shows_the_surface_as_a_png_and_in_characters(tmp_path):
    run = gdcli.fit("celsius", lr=1e-4, epochs=200, surface=True)
    shown = run.surface._repr_mimebundle_()
    assert shown["image/png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert "★" in shown["text/plain"] and run.surface.title in shown["text/plain"]
    assert run.surface.title == "celsius: loss surface (autograd + gd, lr 0.0001)"
    run.surface.to_png(tmp_path / "s.png")
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    assert run.surface.to_dict()["title"] == run.surface.title


def test_ctrl_c_while_the_surface_is_computed_skips_it_and_the_run_still_reports(run_cli, monkeypatch):
    """Training is over: Ctrl-C then costs the picture, not the run (the CLI exits 130, the API warns)."""
    def pressed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(surfaces, "for_fit", pressed)
    result = run_cli("fit", "--surface", "--epochs", "20")
    assert result.exit_code == 130 and "interrupted: the loss surface skipped" in result.stderr
    assert "final" in result.stdout and "loss surface (" not in result.stdout
    with pytest.warns(UserWarning, match="interrupted: the loss surface skipped"):
        run = gdcli.fit(epochs=20, surface=True)
    assert run.surface is None and run.loss is not None
    monkeypatch.setattr(surfaces, "for_sweep", pressed)
    swept = run_cli("sweep", "--lr", "1e-3,1e-2", "--epochs", "20", "--surface")
    assert swept.exit_code == 130 and "best:" in swept.stdout


def test_the_note_says_which_inputs_the_coordinates_are_of():
    notes = {scale: gdcli.fit(scale=scale, lr=1e-4, epochs=5, surface=True).surface.panel().note for scale in (0.1, 1)}
    assert notes[0.1].startswith("coordinates of the inputs scaled by 0.1;")
    assert notes[1].startswith("raw inputs' coordinates;")
    standardized = gdcli.fit(normalize=True, lr=0.1, epochs=5, surface=True).surface
    assert standardized.panel().note.startswith("standardized inputs' coordinates;") and standardized.scale == 0.1
