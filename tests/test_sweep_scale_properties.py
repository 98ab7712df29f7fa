"""Property: a sweep over rows that go a block at a time (methods, lr grids, batch sizes, reductions,
models, splits, seeds) ends in exit 0, 2 or 3, never a traceback; where it trains, every run's loss
is in the JSON."""

import json

from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import property_settings

from gdcli.cli import app
from gdcli.gradients import blocks

SETTINGS = property_settings(25)
runner = CliRunner()

LRS = ["1e-3:1", "0.01,0.5,5", "0.1", "1e-4:1e-2", "0", "2:1"]  # the last two are refused
BATCHES = [None, "16", "50", "16,200", "0"]  # "0" is refused


@SETTINGS
@given(
    method=st.sampled_from(["analytic", "autograd", "finite-diff", "gram"]),
    lr=st.sampled_from(LRS),
    num=st.sampled_from([None, "3", "7"]),
    batch=st.sampled_from(BATCHES),
    reduction=st.sampled_from(["mean", "sum"]),
    model=st.sampled_from(["linear", "quadratic", "mlp"]),
    features=st.sampled_from(["1", "3"]),
    val=st.sampled_from([None, "0.2"]),
    seeds=st.sampled_from([None, "1,2"]),
    dtype=st.sampled_from(["float32", "float64"]),
)
def test_a_blocked_sweep_ends_in_0_2_or_3(method, lr, num, batch, reduction, model, features, val, seeds, dtype):
    args = ["sweep", "--dataset", "synthetic", "--rows", "150", "--features", features, "--epochs", "3",
            "--method", method, "--model", model, "--reduction", reduction, "--dtype", dtype, "--lr", lr,
            "--output", "json", "--quiet"]
    if model == "mlp":
        args += ["--optim", "adam"]  # gd would estimate each network's stability bound (seconds a run)
    for flag, value in (("--num", num), ("--batch-size", batch), ("--val-fraction", val), ("--seeds", seeds)):
        if value is not None:
            args += [flag, value]
    saved = blocks.BLOCK_ELEMENTS, blocks.MIN_ROWS
    blocks.BLOCK_ELEMENTS, blocks.MIN_ROWS = 64, 32  # blocks of 32 rows: several per step
    try:
        result = runner.invoke(app, args)
    finally:
        blocks.BLOCK_ELEMENTS, blocks.MIN_ROWS = saved
    assert result.exit_code in (0, 2, 3), (args, result.output, result.exception)
    assert "Traceback" not in result.output, args
    if result.exit_code in (0, 3):
        assert json.loads(result.stdout)["runs"], args
