"""gdcli from Python: `import gdcli`, checked against the book's printed numbers, torch.linalg.lstsq,
and the CLI itself (which the rest of the suite checks against the same references)."""

import json
import subprocess
import sys

import book
import pytest
import torch
from book import T_C, T_U
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gdcli

BOOK = dict(rel=book.REL)


@pytest.fixture(scope="module")
def thermometer():
    """The book's thermometer: celsius, the default preset (scale 0.1, lr 1e-2, 5000 epochs)."""
    return gdcli.fit()


def lstsq_scaled():
    """The least-squares line on the book's scaled readings (0.1 t_u), in float64, and its mean squared error."""
    X = torch.tensor(T_U, dtype=torch.float64)[:, None] * 0.1
    y = torch.tensor(T_C, dtype=torch.float64)[:, None]
    A = torch.cat([X, torch.ones_like(X)], dim=1)
    theta = torch.linalg.lstsq(A, y).solution
    return theta, float(((A @ theta - y) ** 2).mean())


def test_the_books_thermometer(thermometer):
    run = thermometer
    assert run.history[-1]["epoch"] == 5000
    assert run.history[-1]["train_loss"] == pytest.approx(book.SCALED_LOSS, **BOOK)
    assert run.history[0]["train_loss"] == pytest.approx(book.SCALED_START_LOSS, **BOOK)
    assert run.loss == pytest.approx(book.SCALED_LOSS, **BOOK)
    w, b = book.SCALED_PARAMS
    assert run.params["weight"].item() == pytest.approx(w, abs=book.PARAM_ABS)
    assert run.params["bias"].item() == pytest.approx(b, abs=book.PARAM_ABS)
    assert run.initial["weight"].item() == 1.0 and run.initial["bias"].item() == 0.0
    theta, best = lstsq_scaled()
    assert run.optimum == pytest.approx(best, rel=1e-9)
    assert run.optimum_params["weight"].item() == pytest.approx(theta[0, 0].item(), rel=1e-9)
    assert run.gap == pytest.approx(run.loss - best, abs=1e-12)
    # Full-batch gd's bound 2 / lambda_max of the mean squared error's Hessian (2/n) A^T A.
    hessian = 2 * (lambda A: A.T @ A)(torch.cat([torch.tensor(T_U, dtype=torch.float64)[:, None] * 0.1,
                                                 torch.ones(11, 1, dtype=torch.float64)], 1)) / 11
    assert run.stable_lr == pytest.approx(2 / torch.linalg.eigvalsh(hessian).max().item(), rel=1e-9)
    assert (run.verdict, run.diverged, run.stopped, run.interrupted, run.epochs_run) == ("converging", False, None, False, 5000)
    assert "Run(celsius, linear, autograd+gd, lr=0.01, 5000 epochs" in repr(run)


def test_the_jupyter_view_is_the_clis_result_block(run_cli):
    text = gdcli.fit(epochs=100)._repr_mimebundle_()["text/plain"]
    cli = run_cli("fit", "--epochs", "100").stdout
    for label in ("final", "optimum", "gap", "stable lr"):
        mine = next(line for line in text.splitlines() if line.startswith(label))
        theirs = next(line for line in cli.splitlines() if line.startswith(label))
        assert mine.split() == theirs.split()
    rows = [line.split()[:2] for line in text.splitlines() if line.strip().startswith("│")]
    assert rows and all(row in [r.split()[:2] for r in cli.splitlines()] for row in rows)


def test_save_load_predict_export_agree_with_the_cli(thermometer, run_cli, tmp_path):
    path = thermometer.save(tmp_path / "run.json")
    loaded = gdcli.load_run(path)
    assert loaded.features == ("t_u",) and loaded.targets == ("t_c",)
    assert torch.equal(loaded.params["weight"], thermometer.params["weight"])
    result = run_cli("predict", path, "35.7", "81.9", "--output", "json")
    assert result.exit_code == 0, result.output
    cli = [item["t_c_predicted"] for item in json.loads(result.stdout)]
    for run in (thermometer, loaded):
        assert run.predict([35.7, 81.9])[:, 0].tolist() == pytest.approx(cli, rel=1e-12)
    w, b = book.SCALED_PARAMS
    assert cli == pytest.approx([w * 0.1 * x + b for x in (35.7, 81.9)], abs=2e-3)
    state = thermometer.export(tmp_path / "model.pt")
    module = torch.nn.Linear(1, 1, dtype=torch.float64)
    module.load_state_dict(torch.load(tmp_path / "model.pt"))
    assert module(torch.tensor([[35.7]], dtype=torch.float64)).item() == pytest.approx(cli[0], rel=1e-12)
    assert set(state) == {"weight", "bias"}


def test_to_pandas_or_how_to_get_it(thermometer, monkeypatch):
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(gdcli.GdcliError, match="pip install pandas"):
            thermometer.to_pandas()
        return
    frame = thermometer.to_pandas()
    assert list(frame.columns) == ["epoch", "train_loss", "val_loss"] and len(frame) == 5000
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(gdcli.GdcliError, match="pip install pandas"):
        thermometer.to_pandas()


@pytest.mark.parametrize(
    "settings, words",
    [
        (dict(lr=-1.0), ["lr must be a positive finite number", "for example lr=0.01"]),
        (dict(lr="fast"), ["lr must be a number"]),
        (dict(lrr=0.1), ["unknown setting 'lrr'", "did you mean lr=?"]),
        (dict(val_fraction=1.5), ["val_fraction must be in [0, 1)"]),
        (dict(method="gram", batch_size=4), ["method gram needs the whole training set", "drop batch_size"]),
        (dict(epochs=2.5), ["epochs must be a whole number"]),
    ],
)
def test_bad_settings_name_the_parameter_not_the_flag(settings, words):
    with pytest.raises(gdcli.GdcliError) as caught:
        gdcli.fit(**settings)
    text = str(caught.value)
    assert all(w in text for w in words), text
    assert "--" not in text


def test_nothing_is_printed(capsys, tmp_path):
    run = gdcli.fit(epochs=20, val_fraction=0.2, tol=1e-9)
    gdcli.compare(epochs=5, methods=["analytic", "finite-diff"])
    gdcli.sweep(lr=[1e-3, 1e-2], epochs=5)
    gdcli.grad("x**2", at={"x": 3})
    gdcli.sample("bernoulli", p=0.3, draws=4)
    run.save(tmp_path / "run.json")
    with pytest.raises(gdcli.GdcliError):
        gdcli.fit(lr=0.0)
    assert capsys.readouterr() == ("", "")


def test_diverged_run_is_returned_not_saved(tmp_path):
    run = gdcli.fit(scale=1.0, lr=1e-2, epochs=20)  # the book's unscaled readings overflow at epoch 11
    assert run.diverged and run.diverged_at == book.DIVERGED_AT
    assert "lr" in run.advice and "--lr" not in run.advice
    with pytest.raises(gdcli.GdcliError, match="diverged"):
        run.save(tmp_path / "run.json")
    assert list(tmp_path.iterdir()) == []


def test_compare_sweep_and_the_tools():
    cmp = gdcli.compare(epochs=50, runs=[("autograd", "gd"), ("autograd", "adam")])
    assert [r.config["optim"] for r in cmp.runs] == ["gd", "adam"] and cmp.best in cmp.runs
    sw = gdcli.sweep(lr=[1e-3, 1e-2], seeds=[1, 2], epochs=30)
    assert len(sw) == 4 and sw.dims == ["lr", "seed"]
    assert [r.loss for r in sw.ranking] == sorted(r.loss for r in sw.runs) and sw.best is sw.ranking[0]
    with pytest.raises(gdcli.GdcliError, match="lr lists a value twice"):
        gdcli.sweep(lr=[0.1, 0.1], epochs=2)
    check = gdcli.grad("w*x + b", at={"x": 2, "w": 3, "b": 4})
    assert {k: v.item() for k, v in check.gradients.items()} == {"w": 2.0, "x": 3.0, "b": 1.0}
    at_start = gdcli.grad(dataset="celsius", params=[1, 0])
    autograd = next(m for m in at_start["methods"] if m["method"] == "autograd")
    assert autograd["loss"] == pytest.approx(book.START_LOSS, **BOOK)
    assert autograd["grad"] == pytest.approx(book.START_GRAD, **BOOK)
    drawn = gdcli.sample("normal", mean=[1.0, 2.0], std=1.0, seed=0)
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(drawn.values, torch.normal(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 1.0]), generator=gen))
    assert "celsius" in [d["name"] for d in gdcli.datasets().data]


def test_a_data_file_and_its_target_column(tmp_path):
    rows = [(0.5, 1.0, 2.1), (1.0, 0.5, 2.6), (1.5, 1.5, 4.2), (2.0, 2.0, 4.1), (0.2, 0.3, 1.3), (1.2, 0.1, 3.6)]
    path = tmp_path / "rows.csv"
    path.write_text("y,x1,x2\n" + "".join(f"{c},{a},{b}\n" for a, b, c in rows))
    run = gdcli.fit(path, target="y", epochs=3, lr=0.05)
    assert run.features == ("x1", "x2") and run.targets == ("y",)
    X = torch.tensor([[a, b, 1.0] for a, b, _ in rows], dtype=torch.float64)
    y = torch.tensor([[c] for *_, c in rows], dtype=torch.float64)
    theta = torch.linalg.lstsq(X, y).solution
    assert run.optimum == pytest.approx(float(((X @ theta - y) ** 2).mean()), rel=1e-9)
    assert run.predict([[1.0, 2.0]]).shape == (1, 1)


def test_the_api_names_stay_functions_once_the_core_modules_load():
    """The package's names are the API's: loading the core modules (as the CLI does) binds no module over them."""
    import gdcli.comparison  # noqa: F401
    import gdcli.grid  # noqa: F401
    import gdcli.builtin_data  # noqa: F401
    from gdcli import api

    assert (gdcli.compare, gdcli.sweep, gdcli.datasets, gdcli.fit) == (api.compare, api.sweep, api.datasets, api.fit)
    assert gdcli.compare.__doc__ and "compare" in gdcli.compare.__doc__.lower()


def test_import_stays_light():
    code = "import sys, gdcli; print(sorted(m for m in ('torch', 'typer', 'rich', 'ray') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- the CLI and the API agree -------------------------------------------------------------

SETTINGS = st.fixed_dictionaries(
    {"epochs": st.integers(1, 8)},  # always: the presets' 5000 epochs would take seconds
    optional={
        "optim": st.sampled_from(["gd", "sgd", "adam", "rmsprop"]),
        "lr": st.sampled_from([1e-4, 1e-2, 0.5, 3.0]),
        "val_fraction": st.sampled_from([0.0, 0.2, 0.5]),
        "batch_size": st.sampled_from([1, 3, 11]),
        "method": st.sampled_from(["analytic", "autograd", "finite-diff", "gram"]),
    },
)


def _flags(given: dict) -> list[str]:
    return [a for k, v in given.items() for a in (f"--{k.replace('_', '-')}", str(v))]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(SETTINGS)
def test_the_cli_and_the_api_agree(run_cli, given):
    result = run_cli("fit", "--output", "json", *_flags(given))
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 2, 3), result.output
    if result.exit_code == 2:
        with pytest.raises(gdcli.GdcliError) as caught:
            gdcli.fit(**given)
        assert "--" not in str(caught.value)
        return
    doc = json.loads(result.stdout)
    run = gdcli.fit(**given)
    assert run.diverged == doc["diverged"] == (result.exit_code == 3)
    assert run.epochs_run == doc["epochs_run"]
    assert run.to_dict()["final"]["params"] == doc["final"]["params"]
    if doc["final"]["loss"] is None:
        assert run.loss != run.loss or abs(run.loss) == float("inf")
    else:
        assert run.loss == doc["final"]["loss"]


def test_progress_listener_and_a_notebooks_interrupt():
    """A notebook's interrupt (SIGINT) stops training at the last whole epoch and returns what was trained."""
    import signal

    heard = []

    def listen(done: int, total: int) -> None:
        heard.append((done, total))
        if len(heard) == 1:
            signal.raise_signal(signal.SIGINT)

    run = gdcli.fit(epochs=100_000, progress=listen)
    assert run.interrupted and heard[0][1] == 100_000
    assert 1 <= run.epochs_run == heard[0][0] < 100_000
    assert run.history[-1]["epoch"] == run.epochs_run
    with pytest.raises(gdcli.GdcliError, match="progress must be"):
        gdcli.fit(epochs=1, progress="yes")


@pytest.mark.parametrize("call, message", [
    (lambda: gdcli.sample("normal", size=3), "sample() got an unknown setting 'size'"),
    (lambda: gdcli.load_run(None), "path must be a file path, got None"),
    (lambda: gdcli.compare(runs=5, epochs=2), "runs must be a list of (method, optim) pairs, got 5"),
    (lambda: gdcli.sweep(backend="ray", address=5), "address must be a string, got 5"),
    (lambda: gdcli.fit(epochs=2, progress=lambda: None), "progress must take two arguments, (done, total)"),
    (lambda: gdcli.grad("x*y", at={"x": 1, "y": 2}, lr=0.1), "grad() got an unknown setting 'lr'"),
])
def test_a_python_mistake_is_a_gdcli_error_naming_the_setting(call, message):
    with pytest.raises(gdcli.GdcliError) as err:
        call()
    assert str(err.value).splitlines()[0] == message and "--" not in str(err.value)


def test_a_run_file_path_must_be_a_path():
    run = gdcli.fit(epochs=2)
    for bad in (None, 5, ["run.json"]):
        with pytest.raises(gdcli.GdcliError, match="path must be a file path"):
            run.save(bad)
        with pytest.raises(gdcli.GdcliError, match="path must be a file path"):
            run.export(bad)


def test_a_grid_takes_arrays_tensors_and_ranges():
    np = pytest.importorskip("numpy")
    lrs = [r.config["lr"] for r in gdcli.sweep(lr=np.array([1e-3, 1e-2]), seeds=range(2), epochs=3).runs]
    assert sorted(set(lrs)) == [1e-3, 1e-2] and len(lrs) == 4
    one = gdcli.sweep(lr=torch.tensor(1e-2, dtype=torch.float64), epochs=3)
    assert [r.config["lr"] for r in one.runs] == [1e-2] and repr(one).startswith("Sweep(1 run over lr;")
    assert repr(gdcli.compare(runs="autograd:adam", epochs=3)).startswith("Comparison(1 run: autograd:adam;")


def test_switches_are_true_or_false_and_a_diverged_run_is_not_exported(tmp_path):
    with pytest.raises(gdcli.GdcliError, match="curves must be True or False, got 'yes'"):
        gdcli.compare(epochs=2, curves="yes")
    with pytest.raises(gdcli.GdcliError, match="explain must be True or False, got 'yes'"):
        gdcli.grad(dataset="celsius", explain="yes")
    run = gdcli.fit(scale=1, epochs=20)  # the book's divergence
    assert run.diverged
    with pytest.raises(gdcli.GdcliError, match="not exported to .*: the run diverged"):
        run.export(tmp_path / "model.pt")
    assert list(tmp_path.iterdir()) == []


def test_init_takes_an_array_or_a_tensor_of_starting_values():
    np = pytest.importorskip("numpy")
    for init in (np.array([2.0, 1.0]), torch.tensor([2.0, 1.0]), [2.0, 1.0]):
        run = gdcli.fit(init=init, epochs=1)
        assert float(run.initial["weight"]) == 2.0 and float(run.initial["bias"]) == 1.0


def test_a_runs_stop_names_its_settings_as_python_does():
    stopped = gdcli.fit(tol=1e-3, patience=5, epochs=2000).stopped
    assert stopped["rule"] == "patience" and stopped["reason"].endswith("(tol=0.001, patience=5)"), stopped


def test_datasets_shows_one_datasets_rows_as_the_cli_writes_them(run_cli):
    celsius = gdcli.datasets("celsius")
    assert [r["t_u"] for r in celsius["rows"]] == T_U and [r["t_c"] for r in celsius["rows"]] == T_C  # the book's table
    drawn = gdcli.datasets("synthetic", rows=7, features=2, seed=3)
    cli = json.loads(run_cli("datasets", "synthetic", "--rows", "7", "--features", "2", "--seed", "3", "--output", "json").stdout)
    assert drawn["rows"] == cli["rows"] and len(drawn["rows"]) == 7 and drawn["features"] == ["x1", "x2"]
    for bad, named in ((dict(name=5), "name must be"), (dict(name="synthetic", rows=0), "rows must be at least 1"),
                       (dict(name="synthetic", seed=-1), "seed must be from 0")):
        with pytest.raises(gdcli.GdcliError, match=named):
            gdcli.datasets(**bad)


def test_a_near_miss_of_a_choice_says_which_was_meant():
    with pytest.raises(gdcli.GdcliError, match=r"unknown model 'lin' \(did you mean linear\?\)"):
        gdcli.fit(model="lin")
    with pytest.raises(gdcli.GdcliError, match=r"unknown optim 'adm' \(did you mean adam\?\)"):
        gdcli.fit(optim="adm")


def test_a_python_int_past_any_float_is_refused_by_name():
    with pytest.raises(gdcli.GdcliError, match="lr is a whole number of 401 digits"):
        gdcli.fit(lr=10**400)


@pytest.mark.parametrize("name, meant", [("learning_rate", "lr"), ("lerning_rate", "lr"), ("max_iter", "epochs"),
                                         ("optimizer", "optim"), ("random_state", "seed"), ("validation_split", "val_fraction")])
def test_a_setting_named_as_other_libraries_name_it_gets_gdclis_name(name, meant):
    with pytest.raises(gdcli.GdcliError) as err:
        gdcli.fit(**{name: 1})
    assert str(err.value).splitlines()[1] == f"did you mean {meant}=?"


def test_a_runs_notes_name_settings_as_python_does():
    """Notes reach Python in its words: compile=True and method='gram', never the core's markers or flags."""
    from gdcli.api_extra import api_words
    from gdcli.errors import param

    from conftest import compile_as_identity

    with compile_as_identity():  # the note, not the compiler, is under test
        run = gdcli.fit("synthetic", rows=2000, method="gram", compile=True, epochs=3)
    assert run.notes and all("\x1f" not in note and "--" not in note for note in run.notes)
    assert run.notes[0].startswith("compile=True: no faster than eager for method='gram'")
    advice = f"this will take about 11 minutes; {param('compile')} fuses the runs into one pass"
    assert api_words(advice) == "this will take about 11 minutes; compile=True fuses the runs into one pass"
