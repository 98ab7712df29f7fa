"""gdcli sample and gdcli grad over drawn combinations of their options, and gdcli.sample / gdcli.grad
over the same: every run ends in exit 0 or 2 (never a traceback), and each front end names the
settings its own way (the CLI `--mean`, the API `mean`)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gdcli

QUICK = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ENDINGS = (0, 2, 3)


def maybe(option: str, values: list[str]):
    """An option with one of `values`, or nothing."""
    return st.one_of(st.just([]), st.sampled_from(values).map(lambda v: [option, v]))


SAMPLE_OPTIONS = st.tuples(
    maybe("--p", ["0.3", "0.1,0.9", "uniform", "0.1:0.9", "1:2:3:4", "x", "1.5", ""]),
    maybe("--mean", ["0", "1:3", "0.1:0.5", "abc", "1e39", "0:1:0.5"]),
    maybe("--std", ["1", "-1", "1,2", "1:0.1", "nan"]),
    maybe("--weights", ["1,2,3", "0,0", "1:4", "a", "0,1"]),
    maybe("--num-samples", ["1", "2", "5", "0"]),
    st.sampled_from([[], ["--replacement"]]),
    maybe("--low", ["0", "1", "abc", "inf"]),
    maybe("--high", ["1", "0", "2"]),
    maybe("--shape", ["3", "2,2", "0", "x", "1000,1001", "2, 5"]),
    maybe("--draws", ["1", "3", "0"]),
    maybe("--seed", ["0", "7", "-1"]),
    maybe("--output", ["table", "json"]),
)


def assert_ended_well(result) -> None:
    """Exit 0, 2 or 3, no traceback; a refusal writes nothing on stdout and names its problem."""
    assert result.exit_code in ENDINGS, result.output
    assert "Traceback" not in result.output and "\x1f" not in result.output, result.output
    if result.exit_code == 2:
        assert result.stdout == "" and "error" in result.stderr, result.output


@QUICK
@given(distribution=st.sampled_from(["bernoulli", "normal", "uniform", "multinomial", "cauchy"]), options=SAMPLE_OPTIONS)
def test_sample_option_combinations_end_in_0_or_2(run_cli, distribution, options):
    assert_ended_well(run_cli("sample", distribution, *[word for option in options for word in option]))


GRAD_OPTIONS = st.tuples(
    st.lists(st.sampled_from(["x=1", "x=1,2", "w=2", "b=3", "x", "x=abc", "1x=2", "x=inf", "y=0.5"]), max_size=3)
    .map(lambda items: [w for item in items for w in ("--at", item)]),
    st.lists(st.sampled_from(["x=2", "x=2,2", "w=0", "y=3", "x=a"]), max_size=2)
    .map(lambda items: [w for item in items for w in ("--shape", item)]),
    maybe("--wrt", ["x", "x,w", "y", ""]),
    maybe("--delta", ["1e-6", "0", "1e-30"]),
    maybe("--dataset", ["celsius"]),
    maybe("--params", ["1,0", "a", "1,2,3"]),
    st.sampled_from([[], ["--explain"]]),
    maybe("--dtype", ["float64"]),
    maybe("--output", ["table", "json"]),
)


@QUICK
@given(expr=st.sampled_from([None, "x", "w*x + b", "sum(x)", "x +", "log(x)", "x @ w", "", "x.real"]),
       options=GRAD_OPTIONS)
def test_grad_option_combinations_end_in_0_or_2(run_cli, expr, options):
    words = [word for option in options for word in option]
    assert_ended_well(run_cli("grad", *words, *([] if expr is None else ["--", expr])))


def api_ended_well(call) -> None:
    """A Report, or a GdcliError that names settings as parameters (mean), never as flags (--mean)."""
    try:
        call()
    except gdcli.GdcliError as err:
        assert "--" not in str(err) and "\x1f" not in str(err), str(err)


@QUICK
@given(distribution=st.sampled_from(["bernoulli", "normal", "uniform", "multinomial"]),
       p=st.sampled_from([None, 0.3, [0.1, 0.9], "uniform", "0.1:0.9", "x", 1.5]),
       mean=st.sampled_from([None, 0, "1:3", "0.1:0.5", 1e39]),
       weights=st.sampled_from([None, [1, 2, 3], [0, 0], "1:4", [0, 1]]),
       num_samples=st.sampled_from([None, 1, 5, 0]),
       shape=st.sampled_from([None, 3, (2, 2), (0,), (1000, 1001)]),
       draws=st.sampled_from([1, 3, 0]))
def test_api_sample_names_parameters(distribution, p, mean, weights, num_samples, shape, draws):
    api_ended_well(lambda: gdcli.sample(distribution, p=p, mean=mean, weights=weights, num_samples=num_samples,
                                        shape=shape, draws=draws))


@QUICK
@given(expr=st.sampled_from([None, "x", "w*x + b", "x +", "log(x)", ""]),
       at=st.sampled_from([None, {"x": 1}, {"x": [1, 2], "w": 2, "b": 3}, {"x": float("inf")}, {"1x": 2}, {"x": []}]),
       shape=st.sampled_from([None, {"x": 2}, {"y": 3}, {"x": (0,)}]),
       wrt=st.sampled_from([None, "x", "y", ["x", "w"]]),
       delta=st.sampled_from([None, 0, 1e-30]),
       dataset=st.sampled_from([None, "celsius"]))
def test_api_grad_names_parameters(expr, at, shape, wrt, delta, dataset):
    api_ended_well(lambda: gdcli.grad(expr, at=at, shape=shape, wrt=wrt, delta=delta, dataset=dataset))


def test_each_front_end_names_a_setting_of_another_distribution_its_own_way(run_cli):
    result = run_cli("sample", "bernoulli", "--mean", "1")
    assert result.exit_code == 2 and "--mean applies to normal only, not bernoulli" in result.stderr
    assert "drop --mean, or sample normal" in result.stderr
    with pytest.raises(gdcli.GdcliError) as err:
        gdcli.sample("bernoulli", mean=1)
    assert str(err.value) == "mean applies to normal only, not bernoulli\ndrop mean, or sample normal"


def test_a_range_and_a_list_draw_alike_from_both_front_ends(run_cli):
    import json

    import torch

    from_cli = json.loads(run_cli("sample", "normal", "--mean", "1:4", "--std", "0.5", "--output", "json").stdout)
    from_api = gdcli.sample("normal", mean="1:4", std=0.5)
    from_list = gdcli.sample("normal", mean=[1, 2, 3, 4], std=0.5)
    expected = torch.normal(torch.arange(1.0, 5.0), torch.full((4,), 0.5), generator=torch.Generator().manual_seed(42))
    assert from_cli["values"] == from_api["values"] == from_list["values"] == expected.tolist()


def test_an_unused_value_is_noted_in_each_front_ends_words(run_cli):
    import json

    cli = json.loads(run_cli("grad", "x", "--at", "x=1", "--at", "y=2", "--output", "json").stdout)
    assert "--at y is not in the expression and was ignored" in cli["notes"]
    assert "at y is not in the expression and was ignored" in gdcli.grad("x", at={"x": 1, "y": 2})["notes"]
