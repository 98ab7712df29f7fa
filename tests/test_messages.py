"""Messages that name the real cause and hints that work: a finite-difference step that broke a run,
settings that round to nothing, a diverged run not saved, an export that drifts in float32, the
datasets list for programs, the help, --within's wording and the gradient check's difference."""

import csv
import io
import json
import math
import re
from collections import OrderedDict

import pytest
import torch
from book import T_C, T_U
from conftest import plain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def flat(text: str) -> str:
    """Text as one line: a narrow console may fold a long message."""
    return " ".join(plain(text).split())


def refused(result, *phrases):
    """Exit 2 with an error line and a hint on stderr, no traceback, naming every phrase."""
    assert result.exit_code == 2, result.output
    text = flat(result.stderr)
    assert "Traceback" not in text and text.startswith("error: "), text
    for phrase in phrases:
        assert phrase in text, (phrase, text)
    return text


def hinted(text: str, option: str) -> str:
    """The value the hint (the message's end) offers after `option` ("use --delta 1.2e-07 or more" -> "1.2e-07")."""
    return re.findall(re.escape(option) + r" (\S+?)[,;)]?(?= |$)", text)[-1]


# ---------------------------------------------------------------- a finite-difference step that broke the run


def test_a_huge_delta_is_named_as_the_cause(run_cli):
    result = run_cli("fit", "--method", "finite-diff", "--delta", "1e30", "--epochs", "20", "--output", "json")
    assert result.exit_code == 3, result.output
    text = flat(result.stderr)
    assert "finite-difference step is the cause" in text and "--delta 1e+30" in text and "--delta 0.1" in text
    assert "--scale or --normalize" not in text, text  # not the inputs' scale
    assert "--delta 1e+30 broke the gradient" in json.loads(result.stdout)["reason"]
    # The reference: in float32, celsius's loss at w = 1 + 1e30 (times 0.1 * 35.7 and up) overflows.
    x = torch.tensor(T_U, dtype=torch.float32) * 0.1
    assert not torch.isfinite(((1 + 1e30) * x - torch.tensor(T_C)).square().mean())


def test_a_sound_step_leaves_the_blame_on_the_lr(run_cli):
    result = run_cli("fit", "--method", "finite-diff", "--scale", "1", "--epochs", "50", "--quiet")
    assert result.exit_code == 3
    text = flat(result.stderr)
    assert "finite-difference step" not in text and "Lower --lr" in text, text


# ---------------------------------------------------------------- settings that round to nothing


@pytest.mark.parametrize(
    "args",
    [
        ("fit", "--lr", "1e-320"),
        ("fit", "--lr", "1e-46", "--epochs", "5"),
        ("compare", "--lr", "1e-320"),
        ("sweep", "--lr", "1e-320,0.01"),
        ("sweep", "--lr", "1e-60:1e-2", "--num", "3"),
        ("fit", "--schedule", "onecycle", "--max-lr", "1e-50"),
    ],
)
def test_an_lr_that_rounds_to_zero_in_float32_is_refused(run_cli, args):
    # float32's smallest positive value is 2**-149, about 1.4e-45: below half of it a number rounds to 0.
    assert torch.tensor(float(re.split("[,:]", args[-1] if "--max-lr" in args else args[2])[0]), dtype=torch.float32).item() == 0
    refused(run_cli(*args), "rounds to 0 in float32", "--dtype float64")


def test_an_lr_float32_can_hold_still_trains(run_cli):
    assert run_cli("fit", "--lr", "1e-44", "--epochs", "3", "--quiet").exit_code == 0


def test_a_delta_below_the_resolution_at_the_start_is_refused_with_a_delta_that_works(run_cli):
    eps = torch.finfo(torch.float32).eps  # the spacing of float32 at the start's largest |theta|, 1
    for command in ("fit", "sweep", "compare"):
        args = [command, "--delta", "1e-30", "--epochs", "5", "--quiet"]
        args += ["--method", "finite-diff"] if command != "compare" else []
        text = refused(run_cli(*args), "--delta 1e-30 is below the resolution of float32", "theta + delta == theta")
        smallest = float(hinted(text, "--delta"))
        assert eps / 2 < smallest <= 1.1 * eps, text
        args[2] = str(smallest)
        assert run_cli(*args).exit_code in (0, 3)
    assert torch.tensor(1.0) + torch.tensor(smallest) != torch.tensor(1.0)


def test_grad_refuses_a_delta_that_leaves_the_point_where_it_is(run_cli):
    text = refused(run_cli("grad", "--dataset", "celsius", "--params", "1e8,0", "--delta", "0.1"), "(--params)")
    # float32's spacing at 1e8 is 8: the default 0.1 is not enough there, and the hint says no such thing.
    assert "default" not in text and float(hinted(text, "--delta")) >= 8
    text = refused(run_cli("grad", "x**2", "--at", "x=3", "--delta", "1e-30"), "--at x", "x + delta == x")
    step = hinted(text, "--delta")
    result = run_cli("grad", "x**2", "--at", "x=3", "--delta", step, "--output", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["gradients"]["x"]["finite_difference"] != 0  # it moves x now


# ---------------------------------------------------------------- a diverged run is not saved, and says so


@pytest.mark.parametrize("output", ["table", "json", "jsonl", "csv"])
@pytest.mark.parametrize("quiet", [False, True])
def test_a_diverged_run_says_it_was_not_saved(run_cli, tmp_path, output, quiet):
    path = tmp_path / "r.json"
    result = run_cli("fit", "--scale", "1", "--epochs", "40", "--save", path, "--output", output, *(["-q"] if quiet else []))
    assert result.exit_code == 3
    assert f"warning: not saved to {path}: the run diverged" in flat(result.stderr)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- hints that name accepted values


def test_sweep_batch_size_hint_is_a_batch_size(run_cli):
    text = refused(run_cli("sweep", "--batch-size", "abc"), "--batch-size 'abc' is not a number")
    assert run_cli("sweep", "--batch-size", hinted(text, "--batch-size"), "--epochs", "5", "-q").exit_code == 0


@pytest.mark.parametrize("num", ["20000", "1"])
def test_sweep_num_hint_works(run_cli, num):
    text = refused(run_cli("sweep", "--lr", "1e-4:1e-2", "--num", num), f"got {int(num):,}")
    if num == "1":
        assert run_cli("sweep", "--lr", hinted(text, "--lr"), "--epochs", "5", "-q").exit_code == 0
    else:
        assert "for one learning rate" not in text
        assert run_cli("sweep", "--lr", "1e-4:1e-2", "--num", hinted(text, "--num"), "--epochs", "5", "-q").exit_code == 0


def test_grad_init_points_to_params(run_cli):
    result = run_cli("grad", "--dataset", "celsius", "--init", "1,0")
    assert result.exit_code == 2 and "did you mean --params?" in flat(result.stderr)
    assert run_cli("grad", "--dataset", "celsius", "--params", "1,0").exit_code == 0


# ---------------------------------------------------------------- export in float32


def test_export_warns_when_a_float32_module_drifts_from_predict(run_cli, tmp_path):
    data = tmp_path / "big.csv"
    data.write_text("x,y\n" + "".join(f"{1e8 + i:.1f},{i + 3 + (i % 7) * 0.1}\n" for i in range(101)))
    run, model = tmp_path / "run.json", tmp_path / "model.pt"
    fitted = run_cli("fit", "--dataset", data, "--normalize", "--lr", "0.1", "--epochs", "300", "--save", run, "-q")
    assert fitted.exit_code == 0, fitted.output
    result = run_cli("export", run, model)
    assert result.exit_code == 0, result.output
    text = flat(result.stderr)
    assert "warning: a float32 module built from these weights predicts up to" in text and "away from gdcli predict" in text
    assert "torch.nn.Linear(1, 1, dtype=torch.float64)" in text
    # The reference: torch.nn.Linear in each dtype, against predict, at three training inputs.
    inputs = [1e8, 1e8 + 50, 1e8 + 100]
    predicted = json.loads(run_cli("predict", run, *map(str, inputs), "--output", "json").stdout)
    expected = torch.tensor([p["y_predicted"] for p in predicted], dtype=torch.float64)
    state = torch.load(model)
    single, double = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1, dtype=torch.float64)
    single.load_state_dict(state), double.load_state_dict(state)
    with torch.no_grad():
        x = torch.tensor(inputs, dtype=torch.float64)[:, None]
        # float64 folds 1e8 * w with a rounding of about 1e8 * 2**-52 = 2e-8: far below the predictions' digits.
        assert (double(x)[:, 0] - expected).abs().max() < 1e-9 * expected.abs().max() * 10
        assert (single(x.float())[:, 0].double() - expected).abs().max() > 0.1


def test_export_of_a_well_scaled_run_says_nothing_more(run_cli, tmp_path):
    run = tmp_path / "hw.json"
    assert run_cli("fit", "--dataset", "height-weight", "--save", run, "-q").exit_code == 0
    result = run_cli("export", run, tmp_path / "hw.pt")
    assert result.exit_code == 0 and "warning" not in result.stderr


# ---------------------------------------------------------------- datasets for programs, help, --within


def test_datasets_csv_carries_preset_and_units_as_json_does(run_cli):
    doc = json.loads(run_cli("datasets", "--output", "json").stdout)
    table = list(csv.DictReader(io.StringIO(run_cli("datasets", "--output", "csv").stdout)))
    assert [json.loads(r["preset"]) for r in table] == [d["preset"] for d in doc]
    assert [json.loads(r["units"]) for r in table] == [d["units"] for d in doc]
    assert json.loads(table[0]["units"]) == {"t_u": "unknown units", "t_c": "°C"}


def test_help_says_what_gdcli_does_today(run_cli):
    top = flat(run_cli("--help").stdout)
    assert "small regression" not in top
    for word in ("network", "Parquet", "stdin", "tens of millions", "Ray"):
        assert word in top, word
    grad = flat(run_cli("grad", "--help").stdout)
    assert "the path of a CSV file" not in grad and ".csv.gz or .parquet" in grad and "stdin" in grad
    assert "0.001 is within 0.1%" in flat(run_cli("fit", "--help").stdout)


def test_within_is_shown_as_a_relative_gap(run_cli):
    result = run_cli("compare", "--within", "0.001", "--methods", "autograd", "--lr", "0.03", "--epochs", "1000")
    text = flat(result.stdout)
    assert "within 0.001 of" not in text
    assert "within 0.1% of the least-squares optimum (relative gap <= 0.001)" in text and "within 0.1%" in text
    fit = flat(run_cli("fit", "--within", "0.05", "--epochs", "3000").stdout)
    assert "within 5% of the optimum (relative gap <= 0.05)" in fit
    assert "came within 5% of the optimum, a relative gap of at most 0.05 (--within 0.05)" in fit


# ---------------------------------------------------------------- the gradient check's difference


def test_finite_diff_on_the_network_is_measured_against_the_gradients_norm(run_cli):
    result = run_cli("grad", "--dataset", "celsius", "--model", "mlp", "--dtype", "float64", "--output", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    methods = {m["method"]: m for m in data["methods"]}
    assert "max_rel" not in methods["finite-diff"]
    # The reference: the book's network in torch.nn at the same parameters, autograd on its mean squared error.
    params = list(data["params"].values())
    net = torch.nn.Sequential(
        OrderedDict(hidden_linear=torch.nn.Linear(1, 8), hidden_activation=torch.nn.Tanh(), output_linear=torch.nn.Linear(8, 1))
    ).double()
    torch.nn.utils.vector_to_parameters(torch.tensor(params, dtype=torch.float64), net.parameters())
    x, y = torch.tensor(T_U, dtype=torch.float64)[:, None], torch.tensor(T_C, dtype=torch.float64)[:, None]
    (net(x) - y).square().mean().backward()
    reference = torch.cat([p.grad.flatten() for p in net.parameters()])
    fd = torch.tensor(methods["finite-diff"]["grad"], dtype=torch.float64)
    expected = float((fd - reference).abs().max() / reference.norm())
    assert methods["finite-diff"]["max_diff_over_norm"] == pytest.approx(expected, rel=1e-6, abs=1e-15)
    assert expected < 1e-3
    shown = flat(run_cli("compare", "--model", "mlp", "--optims", "sgd", "--lr", "1e-3", "--epochs", "1").stdout)
    assert "max diff / norm" in shown and "max rel diff" not in shown


# ---------------------------------------------------------------- property


LRS = st.sampled_from(["1e-320", "1e-46", "1e-44", "1e-12", "0.01", "1e30", "1e308", "1e-3:1e-1", "1e-60:1e-2"])
DELTAS = st.sampled_from(["1e-320", "1e-30", "1e-8", "0.1", "1e30", "1e300"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    command=st.sampled_from(["fit", "compare", "sweep", "grad"]),
    lr=st.none() | LRS,
    delta=st.none() | DELTAS,
    method=st.none() | st.sampled_from(["finite-diff", "autograd"]),
    dtype=st.none() | st.sampled_from(["float32", "float64"]),
    within=st.none() | st.sampled_from(["0.001", "0.5"]),
    save=st.booleans(),
    quiet=st.booleans(),
)
def test_any_lr_delta_method_dtype_within_save_ends_cleanly(run_cli, tmp_path, command, lr, delta, method, dtype,
                                                          within, save, quiet):
    args = [command, "--dataset", "celsius"] + (["--params", "1,0"] if command == "grad" else ["--epochs", "30"])
    training = command != "grad"
    if lr is not None and training:
        args += ["--lr", lr if command == "sweep" else lr.split(":")[0]]
    if delta is not None:
        args += ["--delta", delta]
    if method is not None and command in ("fit", "sweep"):
        args += ["--method", method]
    if dtype is not None:
        args += ["--dtype", dtype]
    if within is not None and training:
        args += ["--within", within]
    if quiet and training:
        args += ["--quiet"]
    path = tmp_path / f"run-{len(list(tmp_path.iterdir()))}.json"
    if save and command == "fit":
        args += ["--save", path]
    result = run_cli(*args)
    assert "Traceback" not in result.output, (args, result.output)
    assert result.exit_code in (0, 2, 3), (args, result.output)
    if result.exit_code == 3 and save and command == "fit":
        assert f"not saved to {path}" in flat(result.stderr), (args, result.stderr)
        assert not path.exists()


def test_version_after_a_command_points_to_gdclis_own(run_cli):
    result = run_cli("fit", "--version")
    assert result.exit_code == 2
    assert result.plain.strip().splitlines() == [
        "error: unknown option --version: it is gdcli's own, before any command", "run 'gdcli --version'"]
