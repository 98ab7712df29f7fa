"""Property: fit, compare and sweep over --log-loss, --save-best (good, missing and empty targets),
pictures, outputs, learning rates that diverge and the long-run estimate (its threshold lowered or
not) end in exit 0, 2 or 3, never a traceback; a best run saved is one predict reads, and nothing
is written where the command refused or every run diverged."""

import json
import os
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from conftest import property_settings
from gdcli.train import estimate

os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="gdcli-mpl-"))

FOLDER = Path(tempfile.mkdtemp(prefix="gdcli-bigplots-"))


@property_settings(25)
@given(
    command=st.sampled_from(["fit", "compare", "sweep"]),
    log_loss=st.booleans(),
    picture=st.sampled_from([None, "--plot", "--plot-file"]),
    save=st.sampled_from([None, "best.json", "missing/best.json", ""]),
    output=st.sampled_from(["table", "json", "csv"]),
    lr=st.sampled_from(["0.01", "10"]),  # the second diverges on celsius
    estimated=st.booleans(),
    quiet=st.booleans(),
)
def test_run_commands_end_cleanly(run_cli, monkeypatch, command, log_loss, picture, save, output, lr, estimated, quiet):
    with monkeypatch.context() as patched:
        if estimated:  # every run probed and told
            patched.setattr(estimate, "SKIP_WORK", 0)
            patched.setattr(estimate, "THRESHOLD", 0.0)
        _check(run_cli, command, log_loss, picture, save, output, lr, estimated, quiet)


def _check(run_cli, command, log_loss, picture, save, output, lr, estimated, quiet):
    target = FOLDER / save if save else None
    if target is not None:
        target.unlink(missing_ok=True)
    args = [command, "--epochs", "8", "--output", output, "--lr", lr if command != "sweep" else f"0.001,{lr}"]
    args += ["--log-loss"] if log_loss else []
    args += ["--quiet"] if quiet else []
    args += {None: [], "--plot": ["--plot"], "--plot-file": ["--plot-file", FOLDER / "out.png"]}[picture]
    if save is not None and command != "fit":
        args += ["--save-best", target if target is not None else ""]
    result = run_cli(*args)
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 2, 3), result.output
    refused = (log_loss and picture is None) or (command != "fit" and save in ("", "missing/best.json"))
    assert (result.exit_code == 2) == refused, result.output
    if not refused and not quiet:
        assert ("this will take about" in result.stderr) == estimated, result.stderr
    if command != "fit" and save == "best.json" and not refused:
        if lr == "10" and command == "compare":
            assert not target.exists()  # its one run diverged
        else:
            assert json.loads(target.read_text())["format"].startswith("gdcli-run/")
            assert run_cli("predict", target, "50").exit_code == 0
    if target is not None and refused:
        assert not target.exists()
