"""Property: sweep's grid options and compare's strategy options, in any combination, end in exit 0, 2
or 3 with no traceback; and a setting the CLI refuses is worded with flags there, never in the API.

The command line parses the option text (gdcli.cli.parsing); the API gives the core the same
values as lists. Both reach one core (gdcli.grid, gdcli.comparison, gdcli.backends).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gdcli
from gdcli.cli import parsing
from gdcli.errors import GdcliError

SETTINGS = settings(max_examples=25, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

LR = st.sampled_from(["1e-3:1e-2", "0.01", "0.01,0.02", "0.1,0.1", "1e-2:1e-3", "abc", "", "0:1", "1:2:3", "inf"])
SEEDS = st.sampled_from(["1:2", "3", "3,3", "2:1", "x", "0,1", "-1"])
MOMENTUM = st.sampled_from(["0.5", "0,0.9", "1.5", "a"])
BATCH = st.sampled_from(["2", "2,4", "1.5", "0"])
SWEEP = st.fixed_dictionaries({}, optional={
    "--lr": LR, "--num": st.sampled_from(["1", "3", "20000"]), "--seeds": SEEDS, "--seed": st.sampled_from(["7"]),
    "--momentum": MOMENTUM, "--batch-size": BATCH, "--optim": st.sampled_from(["sgd", "rmsprop"]),
    "--schedule": st.sampled_from(["onecycle"]), "--max-lr": st.sampled_from(["0.1"]),
})
NAMES = st.sampled_from(["autograd", "analytic,gram", "nope", "gd,adam", "adam", "autograd,", "sgd"])
COMPARE = st.fixed_dictionaries({}, optional={
    "--methods": st.lists(NAMES, min_size=1, max_size=2), "--optims": st.lists(NAMES, min_size=1, max_size=2),
    "--run": st.lists(st.sampled_from(["autograd:adam", "analytic:gd", "gram", "nope:gd", "autograd:adam "]),
                      min_size=1, max_size=2),
    "--batch-size": st.sampled_from(["4"]), "--momentum": st.sampled_from(["0.9"]),
})


def _args(options: dict) -> list[str]:
    return [a for flag, value in options.items() for v in (value if isinstance(value, list) else [value])
            for a in (flag, v)]


def _check(result) -> None:
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 2, 3), result.output
    if result.exit_code == 2:
        assert "error: " in result.plain and "\x1f" not in result.output


def _api_lists(options: dict) -> dict | None:
    """The sweep's grid as the API takes it, from the same option text; None where the text itself is bad."""
    try:
        lists = parsing.grid_lists(lr=options.get("--lr"), num=int(options["--num"]) if "--num" in options else None,
                                   seeds=options.get("--seeds"), momentum=options.get("--momentum"),
                                   batch_size=options.get("--batch-size"))
    except GdcliError:
        return None
    return {name: values for name, values in lists.items() if values is not None}


@SETTINGS
@given(SWEEP)
def test_sweep_grid_options(run_cli, options):
    result = run_cli("sweep", "--epochs", "2", "--output", "json", *_args(options))
    _check(result)
    lists = _api_lists(options)
    if lists is None or ("--num" in options and "--lr" not in options):
        return  # text only the command line reads
    settings_ = {k.lstrip("-").replace("-", "_"): v for k, v in options.items()
                 if k in ("--optim", "--schedule", "--max-lr", "--seed")}
    settings_ = {k: float(v) if k == "max_lr" else int(v) if k == "seed" else v for k, v in settings_.items()}
    try:
        swept = gdcli.sweep(epochs=2, **lists, **settings_)
    except GdcliError as err:
        assert result.exit_code == 2 and "--" not in str(err), (str(err), result.output)
        return
    assert result.exit_code == 0 and len(swept) == len(json.loads(result.stdout)["runs"])


@SETTINGS
@given(COMPARE)
def test_compare_strategy_options(run_cli, options):
    _check(run_cli("compare", "--epochs", "2", "--output", "json", *_args(options)))


@pytest.mark.parametrize("args, message", [
    (["--seed", "7", "--seeds", "1:2"], "error: --seed and --seeds both given\ngive one seed with --seed, or several with --seeds"),
    (["--lr", "0.1,0.1"], "error: --lr lists a value twice\nlist each value once"),
    (["--schedule", "onecycle", "--max-lr", "0.1", "--lr", "0.01,0.02"],
     "error: --schedule onecycle --max-lr 0.1 gives every run the same lr, whatever its --lr\n"
     "drop --max-lr: each run's onecycle then peaks at its own --lr"),
])
def test_the_core_names_settings_that_the_cli_shows_as_flags(run_cli, args, message):
    result = run_cli("sweep", "--epochs", "2", *args)
    assert result.exit_code == 2 and message in result.plain


@pytest.mark.parametrize("call, message", [
    (lambda: gdcli.sweep(seed=7, seeds=[1, 2]), "seed and seeds both given\ngive one seed with seed, or several with seeds"),
    (lambda: gdcli.sweep(schedule="onecycle", max_lr=0.1, lr=[0.01, 0.02]),
     "schedule onecycle max_lr=0.1 gives every run the same lr, whatever its lr"),
    (lambda: gdcli.sweep(lr=[0.001 * (i + 1) for i in range(101)], seeds=range(100)), "use coarser grids (fewer values, fewer seeds)"),
    (lambda: gdcli.compare(runs=[("autograd", "adam")], methods=["gram"]), "runs lists the strategies itself"),
    (lambda: gdcli.compare(methods="autograd,nope"), "unknown method 'nope'"),
])
def test_the_api_names_the_same_settings_as_parameters(call, message):
    with pytest.raises(GdcliError) as caught:
        call()
    assert message in str(caught.value) and "--" not in str(caught.value)


def test_a_bad_strategy_is_named_as_given(run_cli):
    result = run_cli("compare", "--run", "autograd:adm")
    assert result.exit_code == 2
    assert "--run autograd:adm: unknown optim 'adm' (did you mean adam?)" in result.stderr
    twice = run_cli("compare", "--run", "autograd:gd", "--run", "analytic:gd", "--run", "autograd:gd")
    assert twice.exit_code == 2 and "--run lists autograd:gd twice" in twice.stderr
    assert "--optims lists gd twice" in run_cli("compare", "--optims", "gd,adam,gd").stderr
    assert "--methods: unknown method 'autgrad' (did you mean autograd?)" in run_cli("compare", "--methods", "autgrad").stderr
