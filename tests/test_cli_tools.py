"""`gdcli sample` and `gdcli grad` end to end through the run_cli fixture."""

import json
import re
import subprocess
import sys

import book
import pytest
import torch

WEIGHTS = "10,10,13,10,34,45,65,67,87,89,87,34"


def gen(seed=42):
    return torch.Generator().manual_seed(seed)


def as_json(result):
    assert result.exit_code == 0, result.plain
    return json.loads(result.stdout)


def assert_refused(result, *words):
    """Exit 2 with a message on stderr and no traceback."""
    assert result.exit_code == 2, result.plain
    assert "Traceback" not in result.plain and "RecursionError" not in result.plain
    for word in words:
        assert word in result.stderr, result.stderr


# ---------------------------------------------------------------- sample


def test_sample_bernoulli_table(run_cli):
    result = run_cli("sample", "bernoulli", "--p", "0.3", "--shape", "4,4")
    assert result.exit_code == 0, result.plain
    for words in ("bernoulli, seed 42", "drawn vs asked", "expected mean", "histogram of 16 values"):
        assert words in result.stdout
    assert result.stderr == ""


def test_sample_bernoulli_json_equals_torch(run_cli):
    data = as_json(run_cli("sample", "bernoulli", "--p", "0.3", "--shape", "4,4", "--seed", "7", "--output", "json"))
    assert data["values"] == torch.bernoulli(torch.full((4, 4), 0.3), generator=gen(7)).tolist()
    assert data["asked"] == {"p": 0.3, "shape": [4, 4]} and data["seed"] == 7
    assert data["statistics"][0]["expected_mean"] == pytest.approx(0.3)


def test_sample_bernoulli_many_draws_statistics(run_cli):
    data = as_json(run_cli("sample", "bernoulli", "--p", "0.1,0.5,0.9", "--draws", "2000", "--output", "json"))
    assert data["draws"] == 2000 and len(data["all_values"]) == 2000
    assert [row["label"] for row in data["statistics"]] == ["all", "[0]", "[1]", "[2]"]
    assert all(abs(row["z"]) < 4.5 for row in data["statistics"])
    assert sum(data["histogram"]["counts"]) == 6000


def test_sample_bernoulli_uniform(run_cli):
    data = as_json(run_cli("sample", "bernoulli", "--p", "uniform", "--shape", "4,4", "--output", "json"))
    g = gen()
    assert data["values"] == torch.bernoulli(torch.empty(4, 4).uniform_(0, 1, generator=g), generator=g).tolist()


def test_sample_normal_reproduces_the_notebook(run_cli):
    data = as_json(run_cli("sample", "normal", "--mean", "1:10", "--std", "1:0.1", "--output", "json"))
    expected = torch.normal(mean=torch.arange(1.0, 11.0), std=torch.arange(1, 0, -0.1), generator=gen())
    assert data["values"] == expected.tolist()
    assert data["asked"]["mean"] == [float(i) for i in range(1, 11)]


def test_sample_normal_table_and_broadcast(run_cli):
    result = run_cli("sample", "normal", "--mean", "0.5", "--std", "1,2,3,4,5", "--draws", "10")
    assert result.exit_code == 0 and "draw 1 of 10" in result.stdout and "[4]" in result.stdout


def test_sample_uniform(run_cli):
    data = as_json(run_cli("sample", "uniform", "--low", "0", "--high", "1", "--shape", "4,4", "--output", "json"))
    assert data["values"] == torch.empty(4, 4).uniform_(0, 1, generator=gen()).tolist()


def test_sample_multinomial_shows_indices_with_weights(run_cli):
    result = run_cli("sample", "multinomial", "--weights", WEIGHTS, "--num-samples", "3")
    assert result.exit_code == 0, result.plain
    picks = torch.multinomial(torch.tensor([float(w) for w in WEIGHTS.split(",")]), 3, generator=gen()).tolist()
    weights = WEIGHTS.split(",")
    for pick in picks:
        assert f"│ {pick:>5} │ {weights[pick]:>6} │" in result.stdout
    assert "weight share" in result.stdout


def test_sample_multinomial_json_never_draws_zero_weight(run_cli):
    args = ("sample", "multinomial", "--weights", "0,5,0,1,2", "--num-samples", "3", "--draws", "300", "--output", "json")
    data = as_json(run_cli(*args))
    assert {i for draw in data["all_values"] for i in draw} == {1, 3, 4}
    assert data["categories"][0]["count"] == 0


@pytest.mark.parametrize(
    "args, words",
    [
        (["bernoulli", "--p", "1.5"], "[0, 1]"),
        (["bernoulli", "--p", "nan"], "--p"),
        (["normal", "--std", "-1"], "--std"),
        (["normal", "--std", "nan"], "--std"),
        (["multinomial", "--weights", "1,-2,3"], "--weights"),
        (["multinomial", "--weights", "1,nan"], "--weights"),
        (["multinomial", "--weights", "1,inf"], "--weights"),
        (["multinomial", "--weights", "0,0"], "all zero"),
        (["multinomial", "--weights", "0,1,0,2", "--num-samples", "3"], "non-zero weight"),
        (["multinomial"], "--weights"),
        (["bernoulli", "--shape", "4,0"], "below 1"),
        (["normal", "--mean", "1,2,3", "--std", "1,2"], "broadcast"),
        (["normal", "--mean", "one"], "not a number"),
        (["uniform", "--low", "1", "--high", "0"], "below --high"),
        (["bernoulli", "--mean", "1"], "applies to normal only"),
        (["normal", "--replacement"], "applies to multinomial"),
        (["multinomial", "--weights", "1,2", "--shape", "2"], "--num-samples"),
    ],
)
def test_sample_bad_input_exits_2(run_cli, args, words):
    assert_refused(run_cli("sample", *args), "error:", words)


def test_one_value_is_spoken_of_in_the_singular(run_cli):
    result = run_cli("sample", "uniform")
    assert result.exit_code == 0, result.plain
    assert "histogram of 1 value\n" in result.stdout and "1 values" not in result.stdout
    result = run_cli("sample", "normal", "--shape", "12")
    assert "showing 10 of 12 values" in result.stdout and "1 row" not in result.stdout
    result = run_cli("sample", "multinomial", "--weights", "0,1,0", "--num-samples", "2")
    assert_refused(result, "more than the 1 category with a non-zero weight")


def histogram_lines(stdout: str) -> list[tuple[float, float, bool, int]]:
    """(low, high, closed, count) for each bar line of the histogram the table shows."""
    lines = stdout[stdout.index("histogram of") :].splitlines()[1:]
    bars = []
    for line in lines:
        label, _, rest = line.strip().partition(")") if ")" in line else line.strip().partition("]")
        low, high = (float(edge) for edge in label.strip("[").split(","))
        bars.append((low, high, line.strip().startswith(label + "]"), int(rest.split()[-1])))
    return bars


def test_sample_histogram_labels_count_the_drawn_values(run_cli):
    # A spread of 1e-4 around 1: three significant digits would label every bin "1".
    args = ("sample", "normal", "--mean", "1", "--std", "2e-5", "--shape", "50", "--draws", "4", "--seed", "3")
    result = run_cli(*args)
    assert result.exit_code == 0, result.plain
    bars = histogram_lines(result.stdout)
    g = gen(3)  # the same draws straight from torch: one torch.normal call per draw
    drawn = torch.cat([torch.normal(1.0, 2e-5, size=(50,), generator=g) for _ in range(4)]).double().tolist()
    assert sum(count for *_, count in bars) == len(drawn) == 200
    for i, (low, high, closed, count) in enumerate(bars):
        last = i == len(bars) - 1
        assert closed == last
        assert count == sum(1 for v in drawn if low <= v < high or (last and v == high)), bars[i]
    assert len({(low, high) for low, high, *_ in bars}) == len(bars) and all(lo < hi for lo, hi, *_ in bars)


def test_sample_typer_level_refusals(run_cli):
    assert run_cli("sample", "cauchy").exit_code == 2
    assert run_cli("sample", "normal", "--draws", "0").exit_code == 2
    assert run_cli("sample", "uniform", "--low", "abc").exit_code == 2


# ---------------------------------------------------------------- grad


def test_grad_linear_example(run_cli):
    data = as_json(run_cli("grad", "w*x + b", "--at", "x=2", "--at", "w=3", "--at", "b=4", "--output", "json"))
    assert data["value"] == 10 and data["dtype"] == "float64" and data["summed"] is False
    assert {k: v["autograd"] for k, v in data["gradients"].items()} == {"w": 2, "x": 3, "b": 1}
    assert all(v["max_abs_diff"] < 1e-6 for v in data["gradients"].values())


def test_grad_linear_example_table(run_cli):
    result = run_cli("grad", "w*x + b", "--at", "x=2", "--at", "w=3", "--at", "b=4")
    assert result.exit_code == 0, result.plain
    assert "value of w*x + b (float64): 10" in result.stdout
    assert "d/dw" in result.stdout and "finite difference" in result.stdout


def test_grad_tensor_example(run_cli):
    args = ("grad", "2*x**2 + 5*x + 6", "--at", "x=12.5", "--shape", "x=4,4")
    data = as_json(run_cli(*args, "--output", "json"))
    assert data["gradients"]["x"]["autograd"] == [[55.0] * 4] * 4 and data["summed"] is True
    result = run_cli(*args)
    assert "55 (every element, shape [4, 4])" in result.stdout and "backward with ones" in result.stdout


def test_grad_table_writes_both_gradients_in_six_significant_digits(run_cli):
    result = run_cli("grad", "x**2", "--at", "x=1.5,2.5", "--shape", "x=3,2")
    assert result.exit_code == 0, result.plain
    row = next(line for line in result.stdout.splitlines() if "d/dx" in line)
    # d(x**2)/dx = 2x: autograd exactly, central differences to within 1e-9, both shown alike.
    assert row.count("[[3, 5], [3, 5], [3, 5]]") == 2, row
    assert re.search(r"\d\.\d{6,}", result.stdout) is None, result.stdout
    assert "max diff / norm: largest |finite difference - autograd| over the norm of autograd's gradient" in result.stdout


def test_grad_finite_difference_limit_is_stated_as_enforced(run_cli):
    result = run_cli("grad", "x", "--at", "x=1", "--shape", "x=5000")
    assert_refused(result, "would compute 50,005,000 elements, more than its limit of 50,000,000")
    assert "10,001 times" in result.stderr


def test_grad_wrt_and_comma_list(run_cli):
    data = as_json(run_cli("grad", "sum(w*x)", "--at", "x=1,2,3", "--at", "w=2", "--wrt", "x", "--output", "json"))
    assert list(data["gradients"]) == ["x"] and data["gradients"]["x"]["autograd"] == [2, 2, 2]


@pytest.mark.parametrize(
    "expr, words",
    [
        ("__import__('os').system('true')", "attribute access"),
        ("().__class__", "attribute access"),
        ("x.__class__", "attribute access"),
        ("open('f')", "open()"),
        ("[x for x in y]", "list comprehension"),
        ("lambda: 1", "lambda"),
        ("x[0]", "indexing"),
        ('"s"', "string"),
        ("f(x=1)", "f()"),
        ("x" * 3000, "limit"),
        ("(" * 500 + "x" + ")" * 500, "nested"),
        ("-" * 10000 + "x", "limit"),
        ("-" * 1500 + "x", "nested"),
        ("y + 1", "not defined"),
        ("x +", "syntax error"),
    ],
)
def test_grad_refusals_exit_2_without_traceback(run_cli, expr, words):
    # After --, an expression that starts with '-' is not taken for an option.
    assert_refused(run_cli("grad", "--at", "x=1", "--", expr), "error:", words)


def test_grad_other_refusals(run_cli):
    assert_refused(run_cli("grad"), "give an expression")
    assert_refused(run_cli("grad", "x*2", "--at", "x=1", "--wrt", "y"), "--wrt y")
    assert_refused(run_cli("grad", "x @ w", "--at", "x=1", "--at", "w=1", "--shape", "x=4,4", "--shape", "w=3"), "[4, 4] and [3]")
    assert_refused(run_cli("grad", "x", "--at", "x"), "NAME=VALUE")
    assert_refused(run_cli("grad", "log(x)", "--at", "x=-1"), "not finite")


def test_caret_lines_up_on_stderr(run_cli):
    result = run_cli("grad", "x + y.real", "--at", "x=1")
    lines = result.stderr.splitlines()
    assert lines[1] == "  x + y.real" and lines[2] == "       ^"


def test_help_documents_ranges_and_the_whitelist(run_cli):
    assert "1:10" in run_cli("sample", "--help").plain
    assert "sigmoid" in run_cli("grad", "--help").plain


def test_importing_the_commands_does_not_import_torch():
    code = "import gdcli.cli.tools, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- grad --dataset: the linear model's loss and gradient by every method ----


def test_grad_dataset_celsius_at_the_book_start(run_cli):
    import json as _json

    result = run_cli("grad", "--dataset", "celsius", "--params", "1,0", "--output", "json")
    assert result.exit_code == 0, result.output
    data = _json.loads(result.stdout)
    assert [m["method"] for m in data["methods"]] == ["finite-diff", "analytic", "autograd", "gram"]
    for m in data["methods"]:
        assert m["loss"] == pytest.approx(book.START_LOSS, rel=book.REL)
        assert m["grad"] == pytest.approx(book.START_GRAD, rel=book.REL)
    assert data["methods"][0]["max_diff_over_norm"] < 1e-4


def test_grad_dataset_explain_shows_the_chain_rule_sums(run_cli):
    result = run_cli("grad", "--dataset", "celsius", "--params", "1,0", "--explain")
    assert result.exit_code == 0, result.output
    text = result.plain
    assert "dL/dy_hat_i = 2/11 * (y_hat_i - y_i)" in text
    dw, db = book.START_GRAD
    assert f"dL/dw_t_u = {dw:.4f}" in text and f"dL/db = {db:.4f}" in text


def test_chain_rule_matches_autograd_with_two_targets():
    import torch

    from gdcli import gradients
    from gdcli.data import load_dataset

    ds = load_dataset("crops")  # three features, two targets
    X, y = torch.tensor(ds.X, dtype=torch.float64), torch.tensor(ds.y, dtype=torch.float64)
    theta = torch.randn(8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))  # weight (2, 3), bias (2,)
    steps = gradients.chain_rule(theta, X, y, "mean")
    _, expected = gradients.gradient_at("autograd", theta[None], gradients.shared(X, y), gradients.LossSpec())
    # The chain rule's table holds the gradient as columns: W^T (3, 2) above b (1, 2).
    columns = torch.cat([expected[0, :6].view(2, 3).T, expected[0, 6:].view(1, 2)])
    torch.testing.assert_close(steps.grad, columns, rtol=1e-10, atol=1e-10)


def test_grad_expression_and_dataset_together_is_refused(run_cli):
    result = run_cli("grad", "w*x", "--at", "w=1", "--at", "x=2", "--dataset", "celsius")
    assert result.exit_code == 2 and "not for an expression" in result.plain
    result = run_cli("grad", "--dataset", "iphone", "--params", "1,2")
    assert result.exit_code == 2 and "needs 4" in result.plain
