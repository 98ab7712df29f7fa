"""Property: column orders on replay, names to write, compare's method lists on wide data, cut-short options
and fit's printed configs, in any combination, end in exit 0, 2 or 3, never a traceback."""

import os
import tempfile
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from conftest import property_settings
from typer.testing import CliRunner

from gdcli import gradients
from gdcli.cli import app

CSV = "x,z,y\n1,0,2.1\n2,1,3.9\n3,0,6.2\n4,1,7.8\n"
ORDERS = ["x,z,y", "y,z,x", "z,y,x", "x,y", "x,z,w"]
SAVES = [None, "", "-", "/dev/stdout", "/dev/stderr", "/dev/fd/1", "/proc/self/fd/1", "data.csv", "v.csv.gz", "r.json"]
METHODS = [None, "analytic", "finite-diff", "gram", "analytic,finite-diff", "autograd,gram"]
SETTINGS = property_settings(20)
runner = CliRunner()


def permuted(order: str) -> str:
    """CSV's rows with the columns `order` names (a name CSV lacks gets zeros)."""
    rows = [line.split(",") for line in CSV.splitlines()]
    index = {name: i for i, name in enumerate(rows[0])}
    names = order.split(",")
    return "\n".join([order] + [",".join(r[index[n]] if n in index else "0" for n in names) for r in rows[1:]]) + "\n"


_MADE: dict[str, bytes] = {}  # run.json (trained on stdin) and fit.toml (fit --print-config), made once


def made() -> dict[str, bytes]:
    if not _MADE:
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "run.json")
            saved = runner.invoke(app, ["fit", "--dataset", "-", "--epochs", "2", "-q", "--save", path], input=CSV)
            assert saved.exit_code == 0, saved.output
            _MADE["run.json"] = open(path, "rb").read()
        _MADE["fit.toml"] = runner.invoke(app, ["fit", "--epochs", "2", "--print-config"]).stdout.encode()
    return _MADE


def invoke(args: list[str], stdin: str | None = None):
    cwd, files = os.getcwd(), made()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            with open("data.csv", "w") as f:
                f.write(CSV)
            for name, data in files.items():
                with open(name, "wb") as f:
                    f.write(data)
            return runner.invoke(app, args, input=stdin)
        finally:
            os.chdir(cwd)


def check(result) -> None:
    assert "Traceback" not in result.output, result.output
    assert result.exit_code in (0, 2, 3), (result.exit_code, result.output)


@SETTINGS
@given(order=st.sampled_from(ORDERS), save=st.sampled_from(SAVES), config=st.sampled_from(["run.json", "fit.toml"]))
def test_fit_replays_and_names_to_write(order, save, config):
    args = ["fit", "--config", config, "--epochs", "2", "-q"] + ([] if save is None else ["--save", save])
    if config == "fit.toml":
        args += ["--dataset", "-"]
    check(invoke(args, permuted(order)))


@SETTINGS
@given(
    methods=st.sampled_from(METHODS),
    wide=st.booleans(),
    config=st.sampled_from([None, "fit.toml", "run.json"]),
    typo=st.sampled_from([None, "--sav", "--sa", "--pl", "--sca"]),
)
def test_compare_method_lists_configs_and_cut_short_options(methods, wide, config, typo):
    args = ["compare", "--epochs", "2", "-q", "--output", "json"]
    if wide:
        args += ["--dataset", "synthetic", "--features", "30", "--rows", "3"]  # past finite-diff's limit (lowered below)
    if methods is not None:
        args += ["--methods", methods]
    if config is not None:
        args += ["--config", config]
    if typo is not None:
        args += [typo, "x.json"]
    # finite-diff's limit lowered from 10,000 parameters to 20: 31 parameters are "wide" as 10,001 would be.
    with mock.patch.object(gradients, "FD_MAX_PARAMS", 20):
        check(invoke(args, CSV if config == "run.json" else None))
