"""Property: `gdcli fit --animate` over models, scaling, learning rates that diverge and --plot ends in
exit 0, 2 or 3, never a traceback; a run that trained leaves its GIF, whole."""

import os
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from conftest import property_settings

os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="gdcli-mpl-"))

FOLDER = Path(tempfile.mkdtemp(prefix="gdcli-animate-"))


@property_settings(8)  # each writes a GIF: about a second
@given(
    model=st.sampled_from(["linear", "quadratic", "mlp"]),
    normalize=st.sampled_from([None, "--normalize", "--no-normalize"]),
    lr=st.sampled_from(["1e-4", "0.01", "1", "1e6"]),  # the last two diverge on celsius's raw feature
    plot=st.booleans(),
    name=st.sampled_from(["run.gif", "run.GIF", "run.png", "missing/run.gif"]),
)
def test_fit_animate_ends_cleanly(run_cli, model, normalize, lr, plot, name):
    target = FOLDER / name
    target.unlink(missing_ok=True)
    args = ["fit", "--model", model, "--lr", lr, "--epochs", "15", "--animate", target, "--quiet"]
    args += [normalize] if normalize else []
    args += ["--plot"] if plot else []
    result = run_cli(*args)
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 2, 3), result.output
    good = name.lower() == "run.gif"
    assert (result.exit_code != 2) == good, result.output
    if result.exit_code in (0, 3):
        assert target.read_bytes()[:6] in (b"GIF87a", b"GIF89a")
    assert not [p for p in FOLDER.iterdir() if p.name.startswith(".")]  # no temporary file left
