"""Where a slice passes through and what it says: a diverged run's slice stays about its start (its
grid against the loss computed directly with numpy and torch.nn, its directions against an SVD of
the points computed here), a compare's slice sits on the strategy that converged; the short names
--surface-params takes and refuses; surface=False beside surface_params is refused."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import gdcli
from conftest import plain, property_settings
from gdcli import data
from gdcli.cli import app
from test_surface import celsius_rows, inputs

PROJECTED = "the paths are projected onto the slice: the loss under a path's point is the slice's there, not the run's"


def _vector(named: dict) -> torch.Tensor:
    return torch.cat([torch.as_tensor(v, dtype=torch.float64).flatten() for v in named.values()])


def _theta(s, i: int, j: int) -> dict:
    """The parameters by name at grid point (x[i], y[j]) of a slice: origin + x ex + y ey."""
    dx, dy = (a.direction for a in s.axes)
    def t(v):
        return torch.tensor(v, dtype=torch.float64)

    return {name: t(s.origin[name]) + s.x[i] * t(dx[name]) + s.y[j] * t(dy[name]) for name in s.origin}


def _synthetic_loss(run, theta: dict) -> float:
    ds = data.load_dataset("synthetic", features=5, seed=run.config["seed"])
    X, y = ds.X * run.config["scale"], ds.y
    return float(np.mean((X @ theta["weight"].numpy().T + theta["bias"].numpy() - y) ** 2))


def _nearest(values: list[float], at: float) -> int:
    return min(range(len(values)), key=lambda k: abs(values[k] - at))


def test_a_diverged_line_of_five_features_is_sliced_about_its_start():
    # lr 0.5 is beyond this data's stability bound (the preset's lr, half the bound, trains).
    run = gdcli.fit("synthetic", features=5, epochs=500, lr=0.5, surface=True)
    s = run.surface
    assert run.diverged and s.kind == "slice"
    start = _vector(run.initial)
    assert _vector(s.origin).tolist() == start.tolist()  # every run diverged: the start
    path = s.paths[0]
    assert (path.x[0], path.y[0]) == (0.0, 0.0)
    assert max(map(abs, s.x + s.y)) < 5  # within a few units of the start, not 1e18 away
    ox, oy = s.optimum
    assert s.x[0] < ox < s.x[-1] and s.y[0] < oy < s.y[-1] and math.hypot(ox, oy) > 1
    flat = [v for row in s.loss for v in row]
    assert all(math.isfinite(v) for v in flat) and max(flat) < 10 * run.start_loss
    for i, j in [(0, 0), (57, 140), (199, 199), (_nearest(s.x, 0), _nearest(s.y, 0))]:
        assert s.loss[j][i] == pytest.approx(_synthetic_loss(run, _theta(s, i, j)), rel=1e-9)
    assert s.loss[_nearest(s.y, 0)][_nearest(s.x, 0)] == pytest.approx(run.start_loss, rel=0.05)
    _check_trust_region_svd(s)


def _check_trust_region_svd(s) -> None:
    """The directions: an SVD of the points before the path left 10 x max(1, |start|) of its start,
    with the first point outside pulled back onto that boundary."""
    from gdcli import train
    from conftest import trained

    trainer = trained(train.fit(train.resolve(dataset="synthetic", features=5, epochs=500, lr=0.5)))
    path = trainer.result().path.to(torch.float64)
    start, radius = path[0], 10 * max(1.0, float(path[0].norm()))
    far = (path - start).norm(dim=1)
    left = int((far > radius).nonzero()[0])
    kept = torch.cat([path[:left], (start + (path[left] - start) * radius / far[left]).unsqueeze(0)])
    _, sv, vh = torch.linalg.svd(kept - start, full_matrices=False)
    for k, axis in enumerate(s.axes):
        assert abs(float(_vector(axis.direction) @ vh[k])) == pytest.approx(1.0, abs=1e-9)
        assert axis.explained == pytest.approx(float(sv[k] ** 2 / sv.square().sum()))
    assert 0 < s.axes[1].explained < 0.01 and "PC2 (0.03% of the path's movement)" == s.axes[1].label


def test_a_diverged_network_is_sliced_about_its_start():
    run = gdcli.fit("celsius", "mlp", lr=0.5, surface=True)
    s = run.surface
    assert run.diverged and _vector(s.origin).tolist() == _vector(run.initial).tolist()
    assert max(map(abs, s.x + s.y)) < 5
    assert s.axes[0].explained == 1.0 and "random direction" in s.axes[1].label  # it left at its first step
    x, y = celsius_rows()
    X = torch.tensor(inputs(x, run.config))
    net = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    for i, j in [(0, 0), (120, 33), (_nearest(s.x, 0), _nearest(s.y, 0))]:
        theta = _theta(s, i, j)
        with torch.no_grad():
            for layer, name in ((net[0], "hidden_linear"), (net[2], "output_linear")):
                layer.weight.copy_(theta[f"{name}.weight"])
                layer.bias.copy_(theta[f"{name}.bias"])
            expected = float(torch.mean((net(X)[:, 0] - torch.tensor(y)) ** 2))
        assert s.loss[j][i] == pytest.approx(expected, rel=1e-9)
    assert s.loss[_nearest(s.y, 0)][_nearest(s.x, 0)] == pytest.approx(run.start_loss, rel=0.05)
    assert s.note.startswith("the slice passes through the start of autograd:sgd (every run drawn diverged), "
                             f"every parameter held there off its two directions; {PROJECTED}")


def test_a_compare_is_sliced_about_the_strategy_that_converged():
    c = gdcli.compare("synthetic", features=5, epochs=200, lr=0.5, runs=["autograd:gd", "autograd:adam"],
                      surface=True)
    s = c.surface
    gd, adam = (next(r for r in c.runs if r.config["optim"] == o) for o in ("gd", "adam"))
    assert gd.diverged and not adam.diverged
    final = _vector(adam.params)
    assert _vector(s.origin).tolist() == final.tolist()
    from gdcli import train
    from conftest import trained

    config = dict(dataset="synthetic", features=5, epochs=200, lr=0.5, optim="adam")
    path = trained(train.fit(train.resolve(**config))).result().path.to(torch.float64)
    _, sv, vh = torch.linalg.svd(path - final, full_matrices=False)
    for k, axis in enumerate(s.axes):
        assert abs(float(_vector(axis.direction) @ vh[k])) == pytest.approx(1.0, abs=1e-9)
        assert axis.explained == pytest.approx(float(sv[k] ** 2 / sv.square().sum()))
    assert max(map(abs, s.x + s.y)) < 10
    assert s.note.startswith("the slice passes through the final parameters of autograd:adam, ")


def test_notes_say_what_a_slice_holds():
    s = gdcli.fit("celsius", "quadratic", epochs=50, surface=True).surface
    assert s.note.startswith("the slice passes through the final parameters of autograd:gd, every parameter "
                             f"held there off its two directions; {PROJECTED}")
    named = gdcli.fit("celsius", "mlp", epochs=20, surface_params="hidden_linear.weight[3],output_linear.bias")
    assert named.surface.notes[0] == f"every other parameter is held at the final parameters of autograd:sgd; {PROJECTED}"
    swept = gdcli.sweep("celsius", model="quadratic", lr=[1e-4, 2e-4], epochs=20, surface=True)
    assert "through the final parameters of the run lr 0.0002," in swept.surface.note
    line = gdcli.fit("celsius", epochs=20, surface=True).surface
    assert PROJECTED not in line.note  # no slice: the picture is the line's whole loss


def test_one_index_names_a_column_of_a_line_with_one_target():
    s = gdcli.fit("synthetic", features=2, epochs=5, surface_params="weight[1],bias").surface
    assert [a.label for a in s.axes] == ["weight[0, 1]", "bias[0]"]
    one = gdcli.fit("celsius", epochs=5, surface_params="weight[0],bias").surface
    assert [a.label for a in one.axes] == ["weight[0, 0]", "bias[0]"]


def test_a_tensor_of_several_values_named_whole_is_refused_with_its_values(run_cli):
    result = run_cli("fit", "--model", "mlp", "--surface-params", "hidden_linear.weight,output_linear.bias")
    text = plain(result.output)
    assert result.exit_code == 2 and "Traceback" not in text
    assert "--surface-params: hidden_linear.weight holds 8 values of the MLP, and an axis is one value" in text
    assert ("name one of them, hidden_linear.weight[0] to hidden_linear.weight[7]: for example "
            "hidden_linear.weight[0],output_linear.bias") in text
    assert "[7, 0]" not in text
    line = run_cli("fit", "-d", "synthetic", "--features", "3", "--surface-params", "weight,bias")
    assert line.exit_code == 2 and "weight holds 3 values of the linear model" in plain(line.output)
    assert "for example weight[0],bias" in plain(line.output) and "hidden_linear" not in plain(line.output)
    both = run_cli("fit", "--model", "mlp", "--surface-params", "output_linear.weight,output_linear.weight")
    assert "for example output_linear.weight[0],output_linear.weight[1]" in plain(both.output)


@pytest.mark.parametrize("command", ["fit", "compare", "sweep"])
def test_surface_false_beside_surface_params_is_refused(command):
    call = getattr(gdcli, command)
    with pytest.raises(gdcli.GdcliError, match=r"surface=False contradicts surface_params='weight,bias'") as caught:
        call("celsius", epochs=2, surface=False, surface_params="weight,bias")
    assert caught.value.hint.startswith("drop surface=False")
    assert call("celsius", epochs=2, surface_params="weight,bias").surface.kind == "parameters"


runner = CliRunner()
NAMES = {"linear": [None, "weight[1],bias", "weight,bias", "weight[0],bias"],
         "mlp": [None, "hidden_linear.weight,output_linear.bias", "hidden_linear.weight[2],output_linear.weight",
                 "output_linear.bias,hidden_linear.bias[1]"]}


# 15 examples: each draws a surface, and the synthetic preset's lr now trains all 30 epochs.
@property_settings(15)
@given(
    command=st.sampled_from(["fit", "compare", "sweep"]),
    data_set=st.sampled_from([("celsius",), ("synthetic", "--features", "2"), ("synthetic", "--features", "5")]),
    model=st.sampled_from(["linear", "mlp"]),
    pick=st.integers(0, 3),
    lr=st.sampled_from([None, "0.5", "0.001"]),
    optim=st.sampled_from(["gd", "adam"]),
)
def test_slices_end_cleanly_and_stay_in_reach(command, data_set, model, pick, lr, optim):
    names = NAMES[model][pick]
    args = [command, "-d", *data_set, "--model", model, "--epochs", "30", "--output", "json", "-q"]
    args += ["--surface"] if names is None else ["--surface-params", names]
    args += ["--lr", lr] if lr is not None else []
    args += ["--methods", "autograd", "--optims", "gd,adam"] if command == "compare" else ["--optim", optim]
    result = runner.invoke(app, args, catch_exceptions=False)
    text = plain(result.output)
    assert "Traceback" not in text
    assert result.exit_code in (0, 2, 3), text
    if result.exit_code != 2:
        block = json.loads(result.stdout)["surface"]
        assert all(abs(v) < 1e6 for v in block["x"] + block["y"])  # no slice dragged out by a blow-up
        if block["kind"] == "slice":
            assert "projected onto the slice" in block["note"]
