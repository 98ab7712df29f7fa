"""gdcli.expressions: the whitelist, the evaluator against Python's math, and autograd against finite differences."""

import builtins
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdcli import expressions as ex
from gdcli.cli import tool_parsing
from gdcli.errors import GdcliError


def bind(**values):
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in values.items()}


def parse_bindings(at, shapes=()):
    """Tensors from gdcli grad's --at and --shape texts: read by the CLI, bound by the core."""
    return ex.bind(*tool_parsing.bindings(at, shapes))


# ---------------------------------------------------------------- the spec's numbers


def test_linear_example():
    check = ex.check_gradient("w*x + b", bind(x=2.0, w=3.0, b=4.0))
    assert check.value.item() == 10 and check.dtype == "float64" and not check.summed
    grads = {row.name: row.autograd.item() for row in check.rows}
    assert grads == {"w": 2, "x": 3, "b": 1}
    assert all(row.max_abs_diff < 1e-6 for row in check.rows)


def test_quadratic_on_a_4x4_tensor_has_gradient_55_everywhere():
    values = parse_bindings(["x=12.5"], ["x=4,4"])
    check = ex.check_gradient("2*x**2 + 5*x + 6", values)
    (row,) = check.rows
    assert torch.equal(row.autograd, torch.full((4, 4), 55.0, dtype=torch.float64))
    assert torch.allclose(row.finite_difference, row.autograd, atol=1e-5)
    assert check.summed and "backward with ones" in check.notes[0]
    assert check.value.shape == (4, 4) and check.value[0, 0].item() == 381


def test_wrt_limits_the_variables_and_unused_bindings_are_noted():
    check = ex.check_gradient("w*x + b", bind(x=2.0, w=3.0, b=4.0, z=1.0), wrt=["b"])
    assert [row.name for row in check.rows] == ["b"]
    assert any("z" in note for note in check.notes)


def test_matmul_gradient_matches_finite_differences():
    values = {"X": torch.arange(6.0, dtype=torch.float64).reshape(2, 3), "w": torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)}
    check = ex.check_gradient("sum((X @ w - 1)**2)", values)
    for row in check.rows:
        assert row.max_abs_diff < 1e-5
    X, w = values["X"], values["w"]
    assert torch.allclose(check.rows[1].autograd, 2 * X.T @ (X @ w - 1))


def test_bindings_lists_and_shapes():
    values = parse_bindings(["x=1,2,3", "y=5"], ["x=2,3", "y=2"])
    assert values["x"].tolist() == [[1, 2, 3], [1, 2, 3]] and values["y"].tolist() == [5, 5]
    assert values["x"].dtype == torch.float64


@pytest.mark.parametrize(
    "at, shapes",
    [(["x"], []), (["x="], []), (["x=abc"], []), (["_x=1"], []), (["sin=1"], []), (["x=1", "x=2"], []),
     (["x=nan"], []), (["x=1"], ["y=2"]), (["x=1,2,3"], ["x=2,2"]), (["x=1"], ["x=0,2"])],
)
def test_bad_bindings(at, shapes):
    with pytest.raises(GdcliError):
        parse_bindings(at, shapes)


# ---------------------------------------------------------------- refusals


REFUSED = [
    ("__import__('os').system('true')", "attribute access"),
    ("().__class__", "attribute access"),
    ("x.__class__", "attribute access"),
    ("open('f')", "open()"),
    ("[x for x in y]", "list comprehension"),
    ("lambda: 1", "lambda"),
    ("x[0]", "indexing"),
    ('"s"', "string"),
    ("f(x=1)", "f()"),
    ("sin(x=1)", "keyword"),
    ("__import__('os')", "underscore"),
    ("_x + 1", "underscore"),
    ("x < 1", "comparison"),
    ("x and y", "boolean"),
    ("x if y else z", "conditional"),
    ("x // 2", "//"),
    ("x % 2", "%"),
    ("~x", "~"),
    ("not x", "not"),
    ("(x, y)", "tuple"),
    ("{1: 2}", "dict"),
    ("f'{x}'", "f-string"),
    ("(y := 2)", ":="),
    ("True", "boolean"),
    ("1j", "complex"),
    ("sin(x, y)", "exactly one argument"),
    ("sin", "is a function"),
    ("x +", "syntax error"),
    ("x = 1", "syntax error"),
    ("", "empty"),
    ("x" * 2001, "limit"),
    ("(" * 500 + "x" + ")" * 500, "nested"),
    ("-" * 1500 + "x", "nested"),
    ("-" * 10000 + "x", "limit"),
    ("x" + "+x" * 150, "nested"),
    ("1" * 400, "too large"),
]


@pytest.mark.parametrize("text, words", REFUSED)
def test_refused_constructs(text, words):
    with pytest.raises(GdcliError) as err:
        ex.parse_expression(text)
    assert words in str(err.value)


@pytest.mark.parametrize("text, column", [("x.__class__", 1), ("y + x[0]", 4), ("x + 2 // y", 6), ("é + x.a", 5)])
def test_caret_points_at_the_offending_part(text, column):
    with pytest.raises(GdcliError) as err:
        ex.parse_expression(text)
    caret_line = str(err.value).splitlines()[2]
    assert caret_line == "  " + " " * column + "^"


def test_caret_stays_near_the_problem_in_a_long_expression():
    text = "x+" * 60 + "x.a" + "+x" * 30
    with pytest.raises(GdcliError) as err:
        ex.parse_expression(text)
    shown, caret = str(err.value).splitlines()[1:3]
    assert len(shown) < 80 and shown[len(caret) - 1] == "."


def test_undefined_variables_list_the_defined_ones():
    with pytest.raises(GdcliError) as err:
        ex.check_gradient("w*x + b", bind(x=1.0, w=2.0))
    assert "b is not defined" in str(err.value) and "defined: w, x" in str(err.value)


def test_wrt_must_be_in_the_expression():
    with pytest.raises(GdcliError, match="--wrt y"):
        ex.check_gradient("x*2", bind(x=1.0), wrt=["y"])


def test_mismatched_shapes_name_the_shapes():
    values = parse_bindings(["x=1", "w=1"], ["x=4,4", "w=3"])
    with pytest.raises(GdcliError) as err:
        ex.check_gradient("x @ w", values)
    assert "[4, 4] and [3]" in str(err.value)


def test_non_finite_value_and_bad_delta():
    with pytest.raises(GdcliError, match="not finite"):
        ex.check_gradient("log(x)", bind(x=-1.0))
    with pytest.raises(GdcliError, match="--delta"):
        ex.check_gradient("x", bind(x=1.0), delta=0)


def test_never_calls_eval_or_exec(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    assert ex.check_gradient("sin(x) * exp(y) - 1", bind(x=1.0, y=2.0)).value.item() == pytest.approx(math.sin(1) * math.exp(2) - 1)


# ---------------------------------------------------------------- properties


def sigmoid(v):
    return 1 / (1 + math.exp(-v))


# Each template keeps its argument in the function's smooth domain, away from kinks and poles,
# so autograd and finite differences must agree. Paired with a math reference for the value.
UNARY = [
    ("sin({})", math.sin),
    ("cos({})", math.cos),
    ("tan(sigmoid({}))", lambda v: math.tan(sigmoid(v))),
    ("exp(tanh({}))", lambda v: math.exp(math.tanh(v))),
    ("log(1 + ({})**2)", lambda v: math.log(1 + v**2)),
    ("sqrt(1 + ({})**2)", lambda v: math.sqrt(1 + v**2)),
    ("tanh({})", math.tanh),
    ("sigmoid({})", sigmoid),
    ("relu(sigmoid({}) + 0.5)", lambda v: max(0.0, sigmoid(v) + 0.5)),
    ("relu(sigmoid({}) - 2)", lambda v: max(0.0, sigmoid(v) - 2)),
    ("abs(sigmoid({}) - 2)", lambda v: abs(sigmoid(v) - 2)),
    ("-({})", lambda v: -v),
    ("+({})", lambda v: v),
    ("({})**2", lambda v: v**2),
    ("sum({})", lambda v: v),
    ("mean({})", lambda v: v),
]
BINARY = [
    ("({}) + ({})", lambda a, b: a + b),
    ("({}) - ({})", lambda a, b: a - b),
    ("({}) * ({})", lambda a, b: a * b),
    ("({}) / (1 + ({})**2)", lambda a, b: a / (1 + b**2)),
    ("sqrt(1 + ({})**2) ** tanh({})", lambda a, b: math.sqrt(1 + a**2) ** math.tanh(b)),
]
NAMES = ("x", "y", "z")


def leaves():
    names = st.sampled_from(NAMES).map(lambda n: (n, lambda env, n=n: env[n]))
    numbers = st.floats(0.25, 3).map(lambda v: (repr(v), lambda env, v=v: v))
    return names | numbers


def unary(children):
    return st.tuples(st.sampled_from(UNARY), children).map(
        lambda t: (t[0][0].format(t[1][0]), lambda env, f=t[0][1], c=t[1][1]: f(c(env)))
    )


def binary(children):
    def build(t):
        (template, f), (a_text, a), (b_text, b) = t
        b_uses = template.count("{}") - 1  # a template may use its second argument twice
        return template.format(a_text, *[b_text] * b_uses), lambda env: f(a(env), b(env))

    return st.tuples(st.sampled_from(BINARY), children, children).map(build)


def expression_strategy(depth=3):
    """Random whitelisted expressions of bounded depth, each with a math reference function."""
    if depth == 0:
        return leaves()
    inner = expression_strategy(depth - 1)
    return st.one_of(leaves(), unary(inner), binary(inner, ))


values = st.floats(-2, 2, allow_nan=False).filter(lambda v: abs(v) > 1e-3)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression_strategy(), st.tuples(values, values, values))
def test_scalar_values_match_math_and_gradients_match_finite_differences(expr, point):
    text, reference = expr
    env = dict(zip(NAMES, point))
    parsed = ex.parse_expression(text)
    check = ex.check_gradient(parsed, bind(**env))
    assert check.value.item() == pytest.approx(reference(env), rel=1e-9, abs=1e-12)
    scale = 1 + abs(check.value.item())
    for row in check.rows:
        a, f = row.autograd.item(), row.finite_difference.item()
        assert abs(a - f) <= 1e-5 * (1 + abs(a)) + 1e-8 * scale, (text, row.name, a, f)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression_strategy(2), st.lists(values, min_size=4, max_size=4))
def test_tensor_gradients_match_finite_differences(expr, numbers):
    text, _ = expr
    base = torch.tensor(numbers, dtype=torch.float64).reshape(2, 2)
    check = ex.check_gradient(text, {"x": base, "y": base.flip(0), "z": base.T.contiguous()})
    for row in check.rows:
        assert torch.allclose(row.autograd, row.finite_difference, rtol=1e-5, atol=1e-6), (text, row.name)


def test_broadcasting_blow_up_is_refused_before_allocating():
    values = parse_bindings(["x=1", "y=1", "z=1"], ["x=300,1,1", "y=1,300,1", "z=1,1,300"])
    with pytest.raises(GdcliError, match="would produce 27,000,000 elements"):
        ex.check_gradient("x+y+z", values, ["x"])


def test_finite_difference_work_is_budgeted():
    values = parse_bindings(["x=1", "y=1"], ["x=4096", "y=1000,1000"])
    with pytest.raises(GdcliError, match="finite-difference check would compute"):
        ex.check_gradient("sum(x)*sum(exp(y))", values, ["x"])


# The one rule: checking a variable of n elements evaluates the expression 2n + 1 times; each
# evaluation counts its inputs' elements and every operation's result; at most 50,000,000 in all.
@pytest.mark.parametrize(
    "expression, largest",
    [
        ("x", 4999),  # (2n + 1) * n: 9,999 * 4,999 = 49,985,001; 5,000 gives 50,005,000
        ("sum(x*2)", 3535),  # (2n + 1) * (n + n + 1) = 7,071**2 = 49,999,041; 3,536 gives 7,073**2
    ],
)
def test_the_stated_limit_is_the_real_one(expression, largest):
    assert ex.MAX_FD_WORK == 50_000_000
    check = ex.check_gradient(expression, parse_bindings(["x=0.5"], [f"x={largest}"]))
    assert check.rows[0].max_abs_diff < 1e-6
    with pytest.raises(GdcliError) as err:
        ex.check_gradient(expression, parse_bindings(["x=0.5"], [f"x={largest + 1}"]))
    n = largest + 1
    total = (2 * n + 1) * (n if expression == "x" else 2 * n + 1)
    assert f"would compute {total:,} elements, more than its limit of 50,000,000" in err.value.message
    assert f"checking {n:,} gradient elements evaluates the expression {2 * n + 1:,} times" in err.value.message


def test_the_rule_counts_every_checked_variable():
    # x: 1,000 elements, y: 1,000,000. An evaluation of sum(x) * sum(exp(y)) computes
    # 1,000 + 1,000,000 (inputs) + 1 + 1,000,000 + 1 + 1 (operations) = 2,001,003 elements.
    values = parse_bindings(["x=1", "y=0"], ["x=1000", "y=1000,1000"])
    with pytest.raises(GdcliError) as err:
        ex.check_gradient("sum(x)*sum(exp(y))", values, ["x"])
    assert f"would compute {2001 * 2_001_003:,} elements" in err.value.message
    # Two variables of 6 and 4 elements: 13 + 9 = 22 evaluations; 22 * 2,272,727 = 49,999,994.
    ex.fd_budget([6, 4], 2_272_727)
    with pytest.raises(GdcliError) as err:
        ex.fd_budget([6, 4], 2_272_728)  # 50,000,016
    assert "checking 10 gradient elements of 2 variables evaluates the expression 22 times" in err.value.message


def test_batched_evaluation_keeps_each_points_sum_mean_and_matmul():
    # Reductions and @ over one perturbed copy at a time: compare with autograd on plain torch code.
    A = torch.tensor([[1.0, -2.0, 0.5], [0.3, 0.0, 2.0]], dtype=torch.float64)
    w = torch.tensor([0.7, -1.2, 2.5], dtype=torch.float64)
    check = ex.check_gradient("sum(A @ w) * mean(w**2) + sum(sin(A))", {"A": A, "w": w})
    A_, w_ = A.clone().requires_grad_(), w.clone().requires_grad_()
    ((A_ @ w_).sum() * (w_**2).mean() + torch.sin(A_).sum()).backward()
    finite = {row.name: row.finite_difference for row in check.rows}
    torch.testing.assert_close(finite["A"], A_.grad, rtol=1e-7, atol=1e-8)
    torch.testing.assert_close(finite["w"], w_.grad, rtol=1e-7, atol=1e-8)


def test_max_diff_over_norm_is_relative_to_autograd():
    # At a kink finite differences miss: autograd says 0.1, the central difference
    # (relu(0.9e-6) + 0.1 * 0.9e-6 - 0.1 * -1.1e-6) / 2e-6 = 0.55, which is 4.5 times 0.1 away.
    check = ex.check_gradient("relu(x) + 0.1*x", bind(x=-1e-7))
    (row,) = check.rows
    assert row.autograd.item() == pytest.approx(0.1) and row.finite_difference.item() == pytest.approx(0.55)
    assert row.max_abs_diff == pytest.approx(0.45) and row.max_diff_over_norm == pytest.approx(4.5)


def test_an_undefined_gradient_fails_the_check_instead_of_reading_zero():
    check = ex.check_gradient("sqrt(x)", parse_bindings(["x=0"], []))
    assert math.isnan(check.rows[0].max_diff_over_norm)
