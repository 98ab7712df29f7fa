"""Property: --sharpness with whatever else fit, compare and sweep take ends in exit 0, 2 or 3, never a
traceback, and a run that measured its sharpness says so in every output."""

import json
import os
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="gdcli-mpl-"))

from typer.testing import CliRunner  # noqa: E402

from gdcli.cli import app  # noqa: E402

COMMANDS = {
    "fit": [],
    "compare": ["--optims", "gd,adam"],
    "sweep": ["--lr", "1e-3,1e-1"],
}
# A network past the tracker's FULL_MAX (block power iteration) is tested in test_sharpness.py: slow here.
MODELS = [["--model", "linear"], ["--model", "quadratic"], ["--model", "mlp", "--hidden", "3"], ["--model", "mlp"]]
OPTIMS = [[], ["--optim", "sgd", "--momentum", "0.9"], ["--optim", "adam"], ["--optim", "gd", "--weight-decay", "0.1"]]
SCHEDULES = [[], ["--schedule", "step", "--step-size", "3"], ["--schedule", "onecycle"], ["--tol", "1e-3"]]
BATCHES = [[], ["--batch-size", "4"], ["--val-fraction", "0.3"]]
SHARPNESS = ["1", "3", "7", "100", "0", "-2", "x", ""]
OUTPUTS = ["table", "json", "jsonl", "csv"]
LRS = [[], ["--lr", "1e-2"], ["--lr", "5"], ["--lr", "1e30", "--dtype", "float64"]]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(command=st.sampled_from(sorted(COMMANDS)), model=st.sampled_from(MODELS), optim=st.sampled_from(OPTIMS),
       schedule=st.sampled_from(SCHEDULES), batch=st.sampled_from(BATCHES), sharpness=st.sampled_from(SHARPNESS),
       output=st.sampled_from(OUTPUTS), lr=st.sampled_from(LRS), epochs=st.integers(1, 12))
def test_sharpness_with_any_options_never_crashes(command, model, optim, schedule, batch, sharpness, output, lr,
                                                  epochs):
    args = [command, *COMMANDS[command], *model, *optim, *schedule, *batch, "--sharpness", sharpness,
            "--output", output, "--epochs", str(epochs), "--quiet"]
    if command != "sweep":
        args += lr
    if command == "compare":
        args = [a for a in args if a not in ("--optim", "sgd", "gd", "adam") or a == "gd,adam"]
        args = [a for i, a in enumerate(args) if not (a == "--momentum" or (i and args[i - 1] == "--momentum"))]
    result = CliRunner().invoke(app, args)
    assert "Traceback" not in result.output, (args, result.output)
    assert result.exit_code in (0, 2, 3), (args, result.exit_code, result.output, result.exception)
    if result.exit_code == 0 and output == "json":
        doc = json.loads(result.stdout)
        runs = doc["runs"] if "runs" in doc else [doc]
        assert all("sharpness" in run and all("edge" in h for h in run["history"]) for run in runs), args
