"""The table of run settings (gdcli.constraints) and its rules: one row per RunConfig field, every
range refused just past its edges and taken at them, help and gdcli.fit's docstring reading the table."""

from __future__ import annotations

import dataclasses
import math
import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import gdcli
from gdcli import constraints
from gdcli.config import RunConfig, resolve
from gdcli.constraints import NonZero, Range
from gdcli.errors import GdcliError

# What a setting needs beside it for its own value to be taken (a model, optimizer or schedule that takes it).
NEEDS = {
    "hidden": dict(model="mlp"),
    "momentum": dict(optim="sgd"),
    "weight_decay": dict(optim="sgd"),
    "step_size": dict(schedule="step"),
    "gamma": dict(schedule="exponential"),
    "max_lr": dict(schedule="onecycle"),
    "within": dict(model="linear"),
}
RANGED = [s for s in constraints.SETTINGS if isinstance(s.check, Range)]


def test_every_runconfig_field_has_one_row_and_every_row_one_field():
    fields = [f.name for f in dataclasses.fields(RunConfig)]
    assert [s.name for s in constraints.SETTINGS] == fields
    defaults = RunConfig()
    for s in constraints.SETTINGS:
        assert getattr(defaults, s.name) == s.default
        assert s.example is not None, s.name
        assert s.about and "\n" not in s.about


def _edges(s) -> tuple[list, list]:
    """(values just inside the range, values just outside it), computed from the bounds alone."""
    r, whole = s.check, s.kind is int
    inside, outside = [], []
    for bound, is_open, away in ((r.low, r.low_open, -math.inf), (r.high, r.high_open, math.inf)):
        if bound is None:
            continue
        toward = -away
        if whole:
            inside.append(bound), outside.append(bound - 1 if away < 0 else bound + 1)
        elif is_open:
            inside.append(math.nextafter(bound, toward)), outside.append(float(bound))
        else:
            inside.append(float(bound)), outside.append(math.nextafter(bound, away))
    if not whole:
        outside += [math.nan, math.inf]
    return inside, outside


@pytest.mark.parametrize("row", RANGED, ids=lambda s: s.name)
def test_each_range_is_refused_past_its_edges_through_gdcli_fit(row):
    _, outside = _edges(row)
    dataset = "synthetic" if row.at_load else "celsius"
    for value in outside:
        with pytest.raises(GdcliError) as err:
            gdcli.fit(dataset, **{"epochs": 1, **NEEDS.get(row.name, {}), row.key: value})
        assert err.value.message.startswith(f"{row.key} must be "), err.value.message
        assert f"got {value}" in err.value.message and "--" not in err.value.message


@pytest.mark.parametrize("row", [s for s in RANGED if not s.at_load], ids=lambda s: s.name)
def test_each_range_takes_its_edges(row):
    inside, _ = _edges(row)
    for value in inside:
        # float64: float32 would round the smallest positive float to 0 (a rule of its own).
        cfg = resolve("celsius", **{**NEEDS.get(row.name, {}), row.name: value, "dtype": "float64"})
        assert getattr(cfg, row.name) == value


def test_a_range_is_named_the_same_way_for_the_cli(run_cli):
    result = run_cli("fit", "--model", "mlp", "--hidden", str(constraints.MAX_HIDDEN + 1))
    assert result.exit_code == 2
    assert f"--hidden must be from 1 to {constraints.MAX_HIDDEN}, got {constraints.MAX_HIDDEN + 1}" in result.plain
    result = run_cli("fit", "--scale", "0")
    assert result.exit_code == 2 and "--scale must be a non-zero finite number, got 0.0" in result.plain
    assert NonZero().holds(-0.5) and not NonZero().holds(math.inf)


def test_choices_are_read_from_the_registry_when_checked(monkeypatch):
    from gdcli import schedules

    with pytest.raises(GdcliError, match="unknown schedule 'flat'"):
        resolve("celsius", schedule="flat")
    schedules.register(schedules.LrSchedule("flat", "the same lr every epoch"))
    try:
        assert resolve("celsius", schedule="flat").schedule == "flat"
    finally:
        schedules.unregister("flat")


@pytest.mark.parametrize("option, name", [("--hidden", "hidden"), ("--seed", "seed"), ("--reduction", "reduction"),
                                          ("--batch-size", "batch_size"), ("--momentum", "momentum")])
def test_help_states_the_tables_defaults(run_cli, option, name):
    lines = [line for line in run_cli("fit", "--help").plain.splitlines() if re.search(rf"{option}\b", line)]
    assert lines and f"(default: {constraints.shown(name)})" in lines[0], lines


def test_fits_docstring_names_every_setting():
    doc = gdcli.fit.__doc__
    for s in constraints.SETTINGS:
        assert re.search(rf"^\s*{s.key}\b", doc, re.MULTILINE) or s.key == "log_every", s.key
    assert "{settings}" not in doc


def test_the_api_types_come_from_the_table():
    from gdcli import settings as api_settings

    assert set(api_settings.FLOATS) == {s.key for s in constraints.SETTINGS if s.kind is float}
    assert "target" in api_settings.RUN and "targets" not in api_settings.RUN
    with pytest.raises(GdcliError, match="epochs must be a whole number"):
        gdcli.fit(epochs=2.5)


FLOATY = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -1.0, 1e-50, 1e39]))
ARGS = st.fixed_dictionaries(
    {},
    optional={
        "--lr": st.one_of(FLOATY, st.sampled_from([0.01, 0.1])),
        "--momentum": st.one_of(FLOATY, st.sampled_from([0.0, 0.5, 0.99])),
        "--weight-decay": st.one_of(FLOATY, st.just(0.01)),
        "--val-fraction": st.sampled_from([0.0, 0.3, 0.99, 1.0, -0.1]),
        "--batch-size": st.integers(-2, 6),
        "--seed": st.one_of(st.integers(-1, 3), st.just(constraints.MAX_SEED + 1)),
        "--optim": st.sampled_from(["gd", "sgd", "adam"]),
        "--method": st.sampled_from(["autograd", "gram", "analytic"]),
        "--dtype": st.sampled_from(["float32", "float64"]),
        "--schedule": st.sampled_from(["constant", "step", "onecycle"]),
        "--gamma": st.one_of(FLOATY, st.just(0.5)),
        "--max-lr": st.one_of(FLOATY, st.just(0.05)),
        "--model": st.sampled_from(["linear", "mlp"]),
        "--hidden": st.integers(-1, 3),
        "--within": st.sampled_from([0.01, 0.0, -1.0]),
    },
)


@settings(max_examples=int(os.environ.get("GDCLI_PROPERTY_EXAMPLES", "25")), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(ARGS)
def test_any_mix_of_settings_ends_in_0_2_or_3_without_a_traceback(options):
    from gdcli.cli import app

    args = ["fit", "--epochs", "3", "--quiet"]
    for flag, value in options.items():
        args += [flag, str(value)]
    result = CliRunner().invoke(app, args, catch_exceptions=True)
    assert result.exit_code in (0, 2, 3), (args, result.output, result.exception)
    assert "Traceback" not in result.output, (args, result.output)


def test_a_growing_schedule_whose_lr_leaves_the_dtype_is_refused_before_training(run_cli):
    # gamma 2 doubles the lr every epoch: 0.01 * 2**199 is about 8e57, beyond float32's 3.4e38.
    with pytest.raises(GdcliError, match=r"gamma=?2 grows the lr to 8\.03\d*e\+57 by the last epoch, beyond the range of float32"):
        gdcli.fit(schedule="exponential", gamma=2.0, epochs=200)
    result = run_cli("fit", "--schedule", "step", "--gamma", "2e20", "--epochs", "3")
    assert result.exit_code == 2 and "--gamma 2e+20 grows the lr to 4e+38" in result.stderr
    assert gdcli.fit(schedule="exponential", gamma=2.0, epochs=200, dtype="float64").diverged  # within float64: it trains


def test_a_start_beyond_the_dtypes_range_is_refused_before_training(run_cli):
    result = run_cli("fit", "--init", "1e39,0")
    assert result.exit_code == 2 and "--init 1e+39 is beyond the range of float32 (at most 3.403e+38)" in result.stderr
    assert gdcli.fit(init=[1e39, 0.0], dtype="float64", epochs=2).initial["weight"].item() == 1e39
