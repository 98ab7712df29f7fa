"""Property: whatever files fit and export are pointed at (equal, aliased, symlinked, "-"), a run ends
in exit 0 or 2, never a traceback; a refusal (exit 2) changes no file and creates none, and no run
ever changes an input it read."""

import json
import os
import tempfile

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import property_settings, snapshot

from gdcli.cli import app

CSV = "x,y\n1,2.1\n2,3.9\n3,6.2\n4,7.8\n"
# Some names are one file under another spelling (./data.csv, link.csv), some are "-".
POOL = ["data.csv", "./data.csv", "link.csv", "cfg.toml", "run.json", "out.png", "other.png", "-"]
MAYBE = st.one_of(st.none(), st.sampled_from(POOL))
SETTINGS = property_settings(25)
runner = CliRunner()


@pytest.fixture(scope="module")
def run_bytes():
    """A run file trained on data.csv (named relative to itself), to copy into each example's folder."""
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "data.csv"), "w") as f:
            f.write(CSV)
        result = runner.invoke(app, ["fit", "--dataset", os.path.join(folder, "data.csv"), "--epochs", "2", "-q",
                                     "--save", os.path.join(folder, "run.json")])
        assert result.exit_code == 0, result.output
        data = json.loads(open(os.path.join(folder, "run.json")).read())
    data["config"]["dataset"] = "data.csv"
    return json.dumps(data).encode()


@pytest.fixture(autouse=True)
def quiet_env(monkeypatch, tmp_path):
    monkeypatch.setenv("COLUMNS", "3000")
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))



def invoke_in_fresh_folder(args: list[str], stdin: str | None, run_bytes: bytes):
    """Run gdcli in a new folder holding data.csv, link.csv -> data.csv, cfg.toml and run.json."""
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            with open("data.csv", "w") as f:
                f.write(CSV)
            os.symlink("data.csv", "link.csv")
            with open("cfg.toml", "w") as f:
                f.write("epochs = 2\n")
            with open("run.json", "wb") as f:
                f.write(run_bytes)
            before = snapshot(folder)
            result = runner.invoke(app, args, input=stdin)
            after = snapshot(folder)
        finally:
            os.chdir(cwd)
    return result, before, after


def check(result, before: dict, after: dict, inputs: list[str]) -> None:
    assert "Traceback" not in result.output, result.output
    assert result.exit_code in (0, 2), (result.exit_code, result.output)
    if result.exit_code == 2:
        assert after == before, result.output  # nothing changed, nothing appeared
    for name in inputs:
        name = os.path.normpath(name)
        if name in before:
            # An input is never written, even by a run that succeeds (link.csv: its target, data.csv).
            real = "data.csv" if name == "link.csv" else name
            assert after.get(real) == before[real], (name, result.output)


@SETTINGS
@given(dataset=MAYBE, config=MAYBE, save=MAYBE, plot_file=MAYBE)
def test_fit_never_writes_over_what_it_reads(run_bytes, dataset, config, save, plot_file):
    args = ["fit", "--epochs", "2", "-q", "--output", "json"]
    for flag, value in (("--dataset", dataset), ("--config", config), ("--save", save), ("--plot-file", plot_file)):
        if value is not None:
            args += [flag, value]
    stdin = "epochs = 2\n" if config == "-" else CSV
    result, before, after = invoke_in_fresh_folder(args, stdin, run_bytes)
    check(result, before, after, [p for p in (dataset, config) if p not in (None, "-")])


@SETTINGS
@given(run_file=st.sampled_from(POOL), target=st.sampled_from(POOL + ["model.pt"]))
def test_export_never_writes_over_what_it_reads(run_bytes, run_file, target):
    result, before, after = invoke_in_fresh_folder(["export", run_file, target], CSV, run_bytes)
    check(result, before, after, [run_file, "data.csv"] if run_file != "-" else ["data.csv"])
