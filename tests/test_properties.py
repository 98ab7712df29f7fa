"""Property: whatever options a user combines, every command ends with exit 0, 2 or 3, never a traceback.

Each command gets random combinations of its options, valid and invalid values alike
(small epoch counts, so the whole file runs in seconds). Exit 1 is gdcli's "unexpected
error": a crash the user could not have avoided, so it fails the property. The failure
message carries the command and the traceback from a rerun under --debug.
"""

import os
import tempfile
import traceback
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="gdcli-mpl-"))

from typer.testing import CliRunner  # noqa: E402

from gdcli.cli import app  # noqa: E402
from gdcli.data import BUILTINS  # noqa: E402
from gdcli.gradients import METHODS  # noqa: E402
from gdcli.optimizers import OPTIMIZERS  # noqa: E402

FILES = Path(tempfile.mkdtemp(prefix="gdcli-properties-"))
(FILES / "good.csv").write_text("x,y\n" + "".join(f"{i},{2 * i + 1}\n" for i in range(10)))
(FILES / "wide.csv").write_text("a,b,c,y\n" + "".join(f"{i},{i % 3},{i * i % 7},{i - 2}\n" for i in range(12)))
(FILES / "text.csv").write_text("x,y\n1,2\nthree,4\n")
(FILES / "header.csv").write_text("x,y\n")
(FILES / "empty.csv").write_text("")
(FILES / "notes.json").write_text('{"not": "a run"}')

# GDCLI_PROPERTY_EXAMPLES=500 looks harder (minutes); the default keeps the suite quick.
SETTINGS = settings(
    max_examples=int(os.environ.get("GDCLI_PROPERTY_EXAMPLES", "30")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
runner = CliRunner()


def run(args: list[str]):
    """Invoke gdcli in-process and check the property; on a crash, show the traceback."""
    result = runner.invoke(app, args, catch_exceptions=True)
    crashed = result.exit_code not in (0, 2, 3) or (
        result.exception is not None and not isinstance(result.exception, SystemExit)
    )
    if crashed or "Traceback" in result.output:
        again = runner.invoke(app, ["--debug", *args], catch_exceptions=True)
        trace = "".join(traceback.format_exception(*again.exc_info)) if again.exc_info else again.output
        pytest.fail(f"gdcli {' '.join(args)}\nexit {result.exit_code}\n{result.output}\n{trace}")


def text(values) -> st.SearchStrategy[str]:
    return st.sampled_from([str(v) for v in values])


def numbers(valid: st.SearchStrategy, odd=("0", "-1", "nan", "inf", "-inf", "1e308", "abc", "")) -> st.SearchStrategy[str]:
    """Mostly sensible values, sometimes one of the usual suspects."""
    return st.one_of(valid.map(str), text(odd))


def floats(lo: float, hi: float) -> st.SearchStrategy[str]:
    return numbers(st.floats(lo, hi, allow_nan=False, allow_infinity=False))


def ints(lo: int, hi: int, odd=("0", "-1", "1.5", "abc", str(2**64))) -> st.SearchStrategy[str]:
    return numbers(st.integers(lo, hi), odd)


FLAG = st.just(None)
DATASETS = text([*BUILTINS, FILES / "good.csv", FILES / "wide.csv", FILES / "text.csv", FILES / "header.csv",
                 FILES / "empty.csv", FILES / "missing.csv", FILES, "nope"])

DATA = {
    "--dataset": DATASETS,
    "--target": text(["y", "x", "c", "nope", ""]),
    "--rows": ints(1, 300, ("0", "-5", "abc", str(10**13), str(2**63))),
    "--features": ints(1, 5, ("0", "-1", "abc", str(10**9))),
    "--scale": floats(1e-3, 10),
    "--normalize": FLAG,
    "--no-normalize": FLAG,
    "--val-fraction": text(["0", "0.2", "0.5", "0.9", "1", "-0.1", "nan", "abc"]),
    "--batch-size": ints(1, 20),
}
TRAINING = {
    "--method": text([*METHODS, "newton"]),
    "--optim": text([*OPTIMIZERS, "lbfgs"]),
    "--lr": floats(1e-6, 2),
    "--epochs": ints(1, 30),
    "--momentum": text(["0", "0.5", "0.9", "1", "-1", "2", "nan"]),
    "--weight-decay": text(["0", "0.01", "1", "-1", "inf"]),
    "--delta": text(["0.1", "1e-3", "1e-12", "0", "-1", "nan"]),
    "--reduction": text(["mean", "sum", "max"]),
    "--init": text(["ones", "zeros", "randn", "1,0", "2,1", "1", "1,2,3,4,5", "abc", "nan,0", "inf,0", "1e38,1e38", ""]),
    "--dtype": text(["float32", "float64", "float16"]),
    "--device": text(["auto", "cpu", "cuda", "mps", "tpu"]),
    "--seed": ints(0, 100, ("-1", str(2**63 - 1), str(2**64), "abc")),
}
OUTPUT = {
    "--output": text(["table", "json", "jsonl", "csv", "xml"]),
    "--log-every": ints(1, 10),
    "--plot": FLAG,
    "--plot-file": text([FILES / "missing-dir" / "a.png", FILES / "a.jpg", FILES]),
}


def combos(options: dict, always: dict | None = None) -> st.SearchStrategy[list[str]]:
    """Some of the options, each with a drawn value, as command-line words."""

    def words(chosen: dict) -> list[str]:
        out = []
        for flag, value in chosen.items():
            out += [flag] if value is None else [flag, value]
        return out

    always = always or {}
    optional = {flag: value for flag, value in options.items() if flag not in always}
    return st.fixed_dictionaries(always, optional=optional).map(words)


EPOCHS = {"--epochs": st.one_of(st.integers(1, 30).map(str), text(["0", "-3", "abc"]))}


@SETTINGS
@given(combos({**DATA, **TRAINING, **OUTPUT, "--save": text([FILES / "run.json", FILES / "no-dir" / "run.json"])}, EPOCHS))
@example(["--epochs", "1", "--seed", str(2**64)])
@example(["--epochs", "1", "--lr", "nan"])
@example(["--epochs", "1", "--init", "1e38,1e38", "--output", "json"])
def test_fit_never_crashes(args):
    run(["fit", *args])


@SETTINGS
@given(
    combos(
        {
            **DATA,
            **{k: v for k, v in TRAINING.items() if k not in ("--method", "--optim")},
            **OUTPUT,
            "--methods": text(["autograd", "analytic,finite-diff", "autograd,autograd", "newton", ",", ""]),
            "--optims": text(["gd", "sgd,adam", "rmsprop", "lbfgs", "gd,"]),
            "--run": text(["autograd:gd", "analytic:adam", "finite-diff:sgd", "autograd", "x:y", ":"]),
            "--tol": text(["0.01", "0", "-1", "1", "nan", "abc"]),
            "--curves": FLAG,
        },
        EPOCHS,
    )
)
def test_compare_never_crashes(args):
    run(["compare", *args])


@SETTINGS
@given(
    combos(
        {
            **DATA,
            **TRAINING,
            **OUTPUT,
            "--lr": text(["1e-4:1e-1", "0.01,0.02", "0.001", "1:0", "0:1", ":", "a:b", "1e-3:1e-2:5", "-1,0.1", ""]),
            "--num": ints(1, 6),
            "--seeds": text(["1:3", "1,2", "3:1", "0", "-1", "a", "1:", str(2**64)]),
            "--momentum": text(["0,0.9", "0.5", "x", "-1", ""]),
            "--batch-size": text(["1,5", "4", "0", "x", "1,"]),
            "--top": ints(1, 5),
        },
        EPOCHS,
    )
)
def test_sweep_never_crashes(args):
    run(["sweep", *args])


EXPRESSIONS = [
    "x**2", "-x**2", "w*x + b", "sin(x)*y", "exp(x) / (1 + x)", "sum(x*x)", "mean(relu(x))", "x @ x", "log(x)",
    "sqrt(-x)", "1/x", "x / 0", "x ** 1000", "tanh(sigmoid(x))", "abs(x)", "x +", "(x", "__import__('os')", "x.y",
    "", "-", "--x", "1e309*x", "x" * 300, "2", "y",
]


@SETTINGS
@given(
    st.one_of(st.none(), text(EXPRESSIONS)),
    combos(
        {
            "--at": text(["x=3", "x=-1", "x=1,2,3", "y=2", "w=3", "b=4", "x=abc", "=1", "x", "x=nan", "x=1e308"]),
            "--shape": text(["x=2,2", "x=3", "x=0", "y=2", "x=abc"]),
            "--wrt": text(["x", "y", "x,y", "z", ""]),
            "--delta": text(["1e-6", "0.1", "0", "-1", "nan"]),
            "--params": text(["1,0", "0,0", "1", "1,2,3", "abc", "nan,0"]),
            "--explain": FLAG,
            "--output": text(["table", "json", "csv"]),
            **{k: v for k, v in DATA.items() if k != "--batch-size"},
            **{k: TRAINING[k] for k in ("--reduction", "--dtype", "--device", "--seed")},
        }
    ),
)
@example("x**2", ["--at", "x=3", "--output", "json"])
@example("-x**2", ["--at", "x=3"])
@example(None, ["--dataset", "celsius", "--explain", "--output", "json"])
def test_grad_never_crashes(expr, args):
    run(["grad", *([expr] if expr is not None else []), *args])


@SETTINGS
@given(
    text(["bernoulli", "multinomial", "normal", "uniform", "cauchy"]),
    combos(
        {
            "--p": text(["0.5", "0", "1", "0.1,0.9", "1:4", "0:1:0.25", "uniform", "2", "-0.5", "nan", "abc"]),
            "--weights": text(["10,10,13,34", "1", "0,0", "0,1", "-1,2", "abc", "inf,1", ""]),
            "--num-samples": ints(1, 6),
            "--replacement": FLAG,
            "--mean": text(["0", "1,2,3", "1:10", "1.5:2.5", "nan", "abc", "1e308"]),
            "--std": text(["1", "0", "-1", "1:0.1", "0.5,2", "inf"]),
            "--low": text(["0", "-1", "1", "nan", "inf"]),
            "--high": text(["1", "0", "2", "nan", "-inf"]),
            "--shape": text(["4,4", "3", "0", "2,0", "abc", "1000,1000,1000", ""]),
            "--draws": ints(1, 50),
            "--seed": ints(0, 100, ("-1", str(2**64 - 1), str(2**64), "abc")),
            "--output": text(["table", "json", "csv"]),
            "--plot": FLAG,
            "--plot-file": text([FILES / "missing-dir" / "a.png", FILES / "a.jpg"]),
        }
    ),
)
@example("bernoulli", ["--output", "json"])
@example("normal", ["--seed", str(2**64 - 1), "--draws", "3"])
@example("multinomial", ["--weights", "0,1", "--num-samples", "2"])
def test_sample_never_crashes(distribution, args):
    run(["sample", distribution, *args])


@pytest.fixture(scope="module")
def saved_run() -> Path:
    path = FILES / "saved.json"
    result = runner.invoke(app, ["fit", "--epochs", "5", "--save", str(path)], catch_exceptions=True)
    assert result.exit_code == 0, result.output
    return path


VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-1000, 1000).map(str),
    text(["-5", "abc", "1,2", "", " ", "nan", "1e400", "0x10", "1_000", "--", "-"]),
)


@SETTINGS
@given(
    st.sampled_from(["saved", "missing", "notes", "csv", "dir"]),
    st.lists(VALUES, min_size=0, max_size=4),
    combos({"--output": text(["table", "json", "jsonl", "csv", "xml"])}),
)
def test_predict_never_crashes(saved_run, which, values, args):
    path = {
        "saved": saved_run,
        "missing": FILES / "missing.json",
        "notes": FILES / "notes.json",
        "csv": FILES / "good.csv",
        "dir": FILES,
    }[which]
    run(["predict", str(path), *values, *args])


@SETTINGS
@given(
    st.one_of(st.none(), DATASETS),
    combos({"--rows": ints(1, 300, ("0", "-5", "abc", str(10**13))), "--features": ints(1, 4, ("0", "x")),
            "--seed": ints(0, 100, ("-1", str(2**64), "x"))}),
)
@example("synthetic", ["--seed", str(2**64)])
@example("synthetic", ["--rows", str(10**13)])
def test_datasets_never_crashes(name, args):
    run(["datasets", *([name] if name is not None else []), *args])



@pytest.mark.parametrize(
    "args",
    [
        ["fit", "--epochs", "1", "--lr", "1e308"],
        ["fit", "--epochs", "1", "--lr", "1e39", "--optim", "sgd"],
        ["fit", "--epochs", "1", "--weight-decay", "1e308", "--optim", "adam"],
        ["compare", "--epochs", "1", "--lr", "1e308"],
        ["sweep", "--epochs", "1", "--lr", "1e308"],
    ],
)
def test_a_hyper_parameter_beyond_float32_is_bad_input(args):
    """Found by the properties above: torch refused to round such an lr to float32 (exit 1)."""
    result = runner.invoke(app, args, catch_exceptions=True)
    assert result.exit_code == 2 and "beyond the range of float32" in result.output, result.output
