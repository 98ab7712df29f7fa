"""A model is one registry entry: a fourth model, registered from this file alone, runs through every command.

`cubic` is a line on [x, x², x³]: torch.nn.Linear on the expanded inputs. It is registered
through the public gdcli.models.register, and unregistered after each test.
"""

import ast
import json
import math
import os
import re
import tempfile
from pathlib import Path

# matplotlib writes a font cache on first use: keep it out of the home directory.
os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="gdcli-mpl-"))

import pytest  # noqa: E402
import torch  # noqa: E402
from conftest import png_size  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import gdcli  # noqa: E402
from gdcli import models  # noqa: E402

F64 = torch.float64
XS = [-1 + i / 10 for i in range(21)]
PARAMS = (0.1, 0.2, 0.3, 0.4)  # w_x, w_x², w_x³, b


class Cubic(models.Linear):
    """y = w1 x + w2 x² + w3 x³ + b: a line on each input, its square and its cube."""

    name = "cubic"
    summary = "y = W [x, x^2, x^3] + b: a line on the inputs, their squares and their cubes"
    help = "a line on x, x² and x³"
    columns_per_feature = 3
    per_input = "one value per feature, then per square, then per cube"
    no_export = "it reads each input, its square and its cube, which no single nn layer computes"

    def input_names(self, names):
        return tuple(names) + tuple(f"{n}²" for n in names) + tuple(f"{n}³" for n in names)

    def design(self, X):
        """[X, X², X³] from the raw features (numpy or torch)."""
        if hasattr(X, "numpy"):
            return torch.cat([X, X * X, X * X * X], 1)
        import numpy as np

        return np.concatenate([X, X * X, X * X * X], 1)


@pytest.fixture
def cubic():
    """The cubic, registered for one test only."""
    models.register(Cubic)
    yield Cubic
    models.unregister(Cubic.name)


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory) -> Path:
    """21 rows of a noisy cubic on [-1, 1]: well conditioned, so gradient descent reaches the optimum."""
    path = tmp_path_factory.mktemp("cubic") / "cubic.csv"
    rows = [f"{x:.2f},{0.5 + 2 * x - x * x + 3 * x**3 + 0.1 * math.sin(7 * x):.6f}" for x in XS]
    path.write_text("x,y\n" + "\n".join(rows) + "\n")
    return path


def columns(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The CSV's x and y as float64 columns, read without gdcli."""
    lines = path.read_text().splitlines()[1:]
    x, y = zip(*(map(float, line.split(",")) for line in lines))
    return torch.tensor(x, dtype=F64).view(-1, 1), torch.tensor(y, dtype=F64).view(-1, 1)


def lstsq(path: Path) -> torch.Tensor:
    """w1, w2, w3, b of the least-squares cubic, by torch.linalg.lstsq on [x, x², x³, 1]."""
    x, y = columns(path)
    A = torch.cat([x, x**2, x**3, torch.ones_like(x)], 1)
    return torch.linalg.lstsq(A, y).solution.flatten()


def flat(params: dict) -> list[float]:
    """A line's params by name, as w1, w2, w3, b."""
    return [*params["weight"][0], *params["bias"]]


def test_fit_reaches_the_least_squares_cubic(run_cli, cubic, data_csv, tmp_path):
    result = run_cli("fit", "-d", data_csv, "--model", "cubic", "--dtype", "float64", "--lr", "0.5",
                     "--epochs", "1500", "--method", "analytic", "--output", "json", "--save", tmp_path / "run.json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    reference = lstsq(data_csv).tolist()
    assert flat(out["optimum"]["params"]) == pytest.approx(reference, abs=1e-9)
    assert flat(out["final"]["params"]) == pytest.approx(reference, abs=1e-7)
    assert out["in_original_units"]["equations"][0].startswith("y = ") and "x³" in out["in_original_units"]["equations"][0]


def test_the_analytic_gradient_is_autograd_s(run_cli, cubic, data_csv):
    result = run_cli("grad", "-d", data_csv, "--model", "cubic", "--dtype", "float64",
                     "--params", ",".join(map(str, PARAMS)), "--output", "json")
    assert result.exit_code == 0, result.output
    by_method = {m["method"]: m for m in json.loads(result.output)["methods"]}
    # The reference: torch.nn.Linear on the expanded inputs, differentiated by autograd.
    x, y = columns(data_csv)
    layer = torch.nn.Linear(3, 1, dtype=F64)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([PARAMS[:3]], dtype=F64)), layer.bias.fill_(PARAMS[3])
    loss = torch.nn.functional.mse_loss(layer(torch.cat([x, x**2, x**3], 1)), y)
    loss.backward()
    expected = [*layer.weight.grad.flatten().tolist(), *layer.bias.grad.tolist()]
    assert by_method["analytic"]["grad"] == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert by_method["analytic"]["loss"] == pytest.approx(loss.item(), rel=1e-12)


def test_predict_replays_the_saved_cubic_and_export_refuses_it(run_cli, cubic, data_csv, tmp_path):
    run = tmp_path / "run.json"
    assert run_cli("fit", "-d", data_csv, "--model", "cubic", "--epochs", "30", "--save", run).exit_code == 0
    w1, w2, w3, b = flat(json.loads(run.read_text())["params"])
    result = run_cli("predict", run, "0.5", "-1.5", "--output", "json")
    assert result.exit_code == 0, result.output
    got = [row["y_predicted"] for row in json.loads(result.output)]
    assert got == pytest.approx([w1 * x + w2 * x**2 + w3 * x**3 + b for x in (0.5, -1.5)], rel=1e-12)

    refused = run_cli("export", run, tmp_path / "model.pt")
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert ("a cubic model has no plain torch.nn module to export: it reads each input, its square and its cube, "
            "which no single nn layer computes") in " ".join(refused.plain.split())
    assert "train --model linear or --model mlp to export" in " ".join(refused.plain.split())
    assert not (tmp_path / "model.pt").exists()


def test_compare_and_sweep_train_the_cubic(run_cli, cubic, data_csv):
    compared = run_cli("compare", "-d", data_csv, "--model", "cubic", "--epochs", "20", "--output", "json")
    assert compared.exit_code == 0, compared.output
    assert "gram" in compared.output  # a line in its parameters: gram is one of its strategies
    swept = run_cli("sweep", "-d", data_csv, "--model", "cubic", "--lr", "0.1,0.2", "--epochs", "20", "--output", "json")
    assert swept.exit_code == 0, swept.output


def test_the_plots_draw_the_fitted_cubic(run_cli, cubic, data_csv, tmp_path):
    png = tmp_path / "fit.png"
    result = run_cli("fit", "-d", data_csv, "--model", "cubic", "--epochs", "20", "--plot-file", png)
    assert result.exit_code == 0, result.output
    assert png_size(png)[0] > 0
    drawn = run_cli("fit", "-d", data_csv, "--model", "cubic", "--epochs", "20", "--plot")
    assert drawn.exit_code == 0 and "fitted cubic" in drawn.plain


def test_the_entry_answers_help_validation_and_refusals(run_cli, cubic, data_csv):
    unknown = run_cli("fit", "--model", "quartic")
    assert unknown.exit_code == 2 and "'quartic' is not one of linear, quadratic, mlp, cubic" in unknown.plain
    hidden = run_cli("fit", "-d", data_csv, "--model", "cubic", "--hidden", "4")
    assert hidden.exit_code == 2 and "--hidden applies to --model mlp, not to --model cubic" in hidden.plain
    assert gdcli.fit(data_csv, "cubic", epochs=5).config["model"] == "cubic"


def test_unregistered_the_cubic_is_no_choice(run_cli):
    assert "cubic" not in models.MODELS
    assert run_cli("fit", "--model", "cubic").exit_code == 2


# Settings a model reads or refuses, in every combination.
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    model=st.sampled_from(["linear", "quadratic", "mlp", "cubic", "cnn"]),
    method=st.sampled_from([None, "gram", "analytic", "finite-diff"]),
    hidden=st.sampled_from([None, "2", "0"]),
    within=st.sampled_from([None, "0.5"]),
    init=st.sampled_from([None, "uniform", "1,0"]),
)
def test_any_model_and_its_settings_end_cleanly(run_cli, cubic, model, method, hidden, within, init):
    args = ["fit", "--model", model, "--epochs", "3"]
    for flag, value in (("--method", method), ("--hidden", hidden), ("--within", within), ("--init", init)):
        args += [flag, value] if value is not None else []
    result = run_cli(*args)
    assert result.exit_code in (0, 2, 3) and "Traceback" not in result.output, result.output


# Literals that may still say a model's name outside gdcli/models/, and why.
ALLOWED = {("plots_png.py", "linear"), ("animation.py", "linear")}  # matplotlib's name for a linear axis scale, not a model


def _literals(tree: ast.AST):
    """Every string constant that is no docstring."""
    docs = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
            and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            yield node.value


def test_no_model_is_named_outside_its_entry():
    root = Path(models.__file__).parent.parent
    names = tuple(models.MODELS)  # the built-ins (the cubic is registered only by its fixture)
    found = []
    for path in sorted(p for p in root.rglob("*.py") if "models" not in p.relative_to(root).parts[:1]):
        for text in _literals(ast.parse(path.read_text())):
            named = {n for n in names if text.strip() == n or re.search(rf"--model {n}\b|\b{n}:", text)}
            named |= {n for n in ("mlp",) if re.search(rf"\b{n}\b", text)}
            found += [(path.name, n) for n in named if (path.name, n) not in ALLOWED]
    assert not found, found
