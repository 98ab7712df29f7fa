"""Property: fit, compare and sweep with --surface or --surface-params, over models, --normalize and
output formats and --plot, end in exit 0, 2 or 3, never a traceback; with json the block is there when it ran."""

import json

from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import plain, property_settings

from gdcli.cli import app

SETTINGS = property_settings(25)
runner = CliRunner()
NAMES = [None, "weight[0, 0],bias", "b,w_t_u", "hidden_linear.weight[3],output_linear.bias",
         "hidden_linear.wieght[3],output_linear.bias", "weight", "bias[0],bias[0]", ",", "weight[0,1],bias"]


OUTPUTS = ["json", "jsonl", "csv", "table"]


@SETTINGS
@given(
    command=st.sampled_from(["fit", "compare", "sweep"]),
    model=st.sampled_from(["linear", "quadratic", "mlp"]),
    normalize=st.booleans(),
    names=st.sampled_from(NAMES),
    flag=st.booleans(),
    output=st.sampled_from(OUTPUTS),
    lr=st.sampled_from([None, "0.001", "5"]),
    plot=st.booleans(),
)
def test_surface_options_end_cleanly(command, model, normalize, names, flag, output, lr, plot):
    args = [command, "--model", model, "--epochs", "15", "--output", output, "-q"]
    args += ["--normalize"] if normalize else []
    args += ["--surface"] if flag or names is None else []
    args += ["--surface-params", names] if names is not None else []
    args += ["--lr", lr] if lr is not None else []
    args += ["--methods", "autograd"] if command == "compare" else []
    args += ["--plot"] if plot else []  # with jsonl or csv the surface is drawn (on stderr), not refused
    result = runner.invoke(app, args, catch_exceptions=False)
    text = plain(result.output)
    assert "Traceback" not in text
    assert result.exit_code in (0, 2, 3), text
    if result.exit_code == 2:
        assert "error:" in text
    elif output == "json":
        block = json.loads(result.stdout)["surface"]
        assert len(block["loss"]) == len(block["y"]) and block["paths"]
