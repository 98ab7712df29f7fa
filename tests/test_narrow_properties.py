"""Property: at any terminal width, a table-printing command never shows a cut number.

Random command x dataset x width x options: the command ends with exit 0, 2 or 3 and
no traceback, and the table it emitted, rendered at that width, shows every number
whole (a word the wide rendering shows too) or ends it with "…".
"""

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from narrow import WIDE, assert_nothing_cut, render
from typer.testing import CliRunner

from gdcli import emit
from gdcli.cli import app

RUNS = Path(tempfile.mkdtemp(prefix="gdcli-narrow-"))
_runner = CliRunner()


def _saved(dataset: str) -> Path:
    """A short run on the dataset, saved once for predict."""
    path = RUNS / f"{dataset}.json"
    if not path.exists():
        result = _runner.invoke(app, ["fit", "--dataset", dataset, "--epochs", "5", "--quiet", "--save", str(path)])
        assert result.exit_code == 0, result.output
    return path


PREDICT_INPUTS = {"celsius": ["35.7", "100000000", "100000100"], "crops": ["73,67,43", "91,88,64", "87,134,58"]}
METHODS = ("finite-diff", "analytic", "autograd", "gram")


@st.composite
def commands(draw):
    """A table-printing command line on celsius or crops, with a few of the options that shape its tables."""
    command = draw(st.sampled_from(["fit", "compare", "sweep", "grad", "predict", "datasets"]))
    dataset = draw(st.sampled_from(["celsius", "crops"]))
    model = ["--model", "mlp", "--hidden", "3"] if draw(st.booleans()) else []
    if command == "predict":
        return ["predict", str(_saved(dataset)), *PREDICT_INPUTS[dataset]]
    if command == "datasets":
        return ["datasets", *([dataset] if draw(st.booleans()) else [])]
    if command == "grad":
        return ["grad", "--dataset", dataset, *model, *(["--explain"] if draw(st.booleans()) else [])]
    common = ["--dataset", dataset, "--epochs", "20", "--quiet", *model]
    if command == "fit":
        return ["fit", *common, *(["--val-fraction", "0.3"] if draw(st.booleans()) else [])]
    if command == "sweep":
        return ["sweep", *common, "--lr", draw(st.sampled_from(["1e-3,1e-2", "1e-4:1e-2", "1e-3"])),
                "--num", "3", "--seeds", draw(st.sampled_from(["1", "1,2"]))]
    methods = draw(st.lists(st.sampled_from(METHODS), min_size=1, max_size=4, unique=True))
    optims = draw(st.lists(st.sampled_from(["gd", "sgd", "adam"]), min_size=1, max_size=2, unique=True))
    return ["compare", *common, "--methods", ",".join(methods), "--optims", ",".join(optims), "--curves"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=commands(), width=st.integers(40, 160))
def test_no_table_shows_a_cut_number(monkeypatch, args, width):
    seen = []
    real = emit.emit
    monkeypatch.setattr(emit, "emit", lambda view, fmt, console=None, **kw: (seen.append(view), real(view, fmt, console, **kw)))
    try:
        result = _runner.invoke(app, args)
    finally:
        monkeypatch.setattr(emit, "emit", real)
    assert "Traceback" not in result.output, (args, result.output)
    assert result.exit_code in (0, 2, 3), (args, result.output, result.exception)
    for view in seen:
        wide, narrow = render(view.table(), WIDE), render(view.table(), width)
        assert_nothing_cut(wide, narrow, width)
