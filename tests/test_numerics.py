"""gdcli.numerics: the one relative difference (over the reference's norm), and batched central differences against autograd."""

import math

import pytest
import torch

from gdcli.numerics import TINY, central_difference, differences


def f64(values):
    return torch.tensor(values, dtype=torch.float64)


# ---------------------------------------------------------------- differences


def test_differences_are_relative_to_the_reference_norm():
    # max |diff| = |1.5 - 1| = 0.5, over ||(1, 2)|| = sqrt(5).
    abs_diff, rel_diff = differences(f64([1.5, 2.2]), f64([1.0, 2.0]))
    assert abs_diff == 0.5 and rel_diff == pytest.approx(0.5 / math.sqrt(5), rel=1e-15)
    # The reference, not the larger of the two, is the denominator: 1 against 3 is 2/3 off, not 2/3 of 3.
    assert differences(f64([3.0]), f64([1.0])) == (2.0, 2.0)
    assert differences(f64([1.0]), f64([3.0])) == (2.0, pytest.approx(2 / 3, rel=1e-15))
    assert differences(f64([-4.0]), f64([-5.0])) == (1.0, 0.2)


def test_a_component_near_zero_does_not_dominate():
    # An element-wise ratio would read 1e-6 / 1e-9 = 1000 at the second component; the norm is 5.
    abs_diff, rel_diff = differences(f64([3.0, 1e-6 + 1e-9, 4.0]), f64([3.0, 1e-9, 4.0]))
    assert abs_diff == pytest.approx(1e-6, rel=1e-9) and rel_diff == pytest.approx(1e-6 / 5, rel=1e-9)


def test_differences_at_a_zero_reference():
    assert differences(f64([0.0, 2.0]), f64([0.0, 2.0])) == (0.0, 0.0)
    abs_diff, rel_diff = differences(f64([1e-300]), f64([0.0]))
    assert abs_diff == 1e-300 and rel_diff == pytest.approx(1e-300 / TINY)
    assert TINY == torch.finfo(torch.float64).tiny


def test_an_undefined_difference_is_nan_and_an_infinite_one_inf():
    assert all(math.isnan(d) for d in differences(f64([1.0, math.nan]), f64([1.0, 1.0])))
    assert all(math.isnan(d) for d in differences(f64([math.inf]), f64([math.inf])))
    assert differences(f64([math.inf]), f64([1.0])) == (math.inf, math.inf)


def test_differences_broadcast_mix_dtypes_and_accept_empty_tensors():
    assert differences(torch.tensor([1.0, 1.0], dtype=torch.float32), f64(1.0)) == (0.0, 0.0)
    # Broadcast, the reference is [[1, 1, 1], [2, 2, 2]]: norm sqrt(15).
    assert differences(torch.ones(2, 3), f64([[1.0], [2.0]])) == (1.0, pytest.approx(1 / math.sqrt(15), rel=1e-15))
    assert differences(torch.empty(0), torch.empty(0)) == (0.0, 0.0)


# ---------------------------------------------------------------- central_difference


def rosenbrock(p):
    return ((1 - p[..., :-1]) ** 2 + 100 * (p[..., 1:] - p[..., :-1] ** 2) ** 2).sum(-1)


def quadratic_form(p):
    # p is (..., 3, 2): a matrix per parameter set; trace(p^T A p) with a fixed A.
    A = f64([[2.0, 1.0, 0.0], [1.0, 3.0, -1.0], [0.0, -1.0, 4.0]])
    return torch.einsum("...ij,ik,...kj->...", p, A, p)


def smooth(p):
    return (torch.sin(p) * torch.exp(-(p**2)) + torch.log1p(p**2)).flatten(-2).sum(-1)


@pytest.mark.parametrize(
    "f, shape",
    [(rosenbrock, (4,)), (quadratic_form, (3, 2)), (smooth, (2, 2)), (lambda p: p.squeeze(-1) ** 3, (1,))],
)
def test_central_difference_matches_autograd(f, shape):
    x = torch.randn(5, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    value, grad = central_difference(f, x, 1e-6)
    assert value.shape == (5,) and grad.shape == (5, *shape)
    leaf = x.clone().requires_grad_()
    expected_value = torch.stack([f(point.unsqueeze(0)).squeeze(0) for point in leaf])
    (expected,) = torch.autograd.grad(expected_value.sum(), leaf)
    assert torch.equal(value, expected_value.detach())
    # Central differences err by O(delta^2) from truncation and O(eps / delta) from rounding.
    torch.testing.assert_close(grad, expected, rtol=1e-6, atol=1e-6)


def test_chunks_change_no_digit_and_respect_the_memory_bound():
    x = torch.randn(3, 4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    calls = []

    def f(sets):
        calls.append(tuple(sets.shape))
        return smooth(sets)

    whole = central_difference(f, x, 1e-5)
    assert calls == [(3, 41, 4, 5)]  # x and 2 x 20 perturbed copies, in one call
    calls.clear()
    chunked = central_difference(f, x, 1e-5, max_elements=3 * 20 * 7)
    assert all(b * m * 20 <= 3 * 20 * 7 for b, m, *_ in calls) and sum(m for _, m, *_ in calls) == 41
    assert len(calls) == math.ceil(41 / 7)
    assert torch.equal(whole[0], chunked[0]) and torch.equal(whole[1], chunked[1])
    calls.clear()
    central_difference(f, x, 1e-5, max_elements=1)  # below one set per call: still one set at a time
    assert calls[0] == (3, 1, 4, 5) and len(calls) == 41


def test_each_set_moves_one_element_by_exactly_delta():
    x = f64([[0.1, 0.2, 0.3]])
    seen = []

    def f(sets):
        seen.append(sets.clone())
        return sets.sum(-1)

    central_difference(f, x, 0.25)
    (sets,) = seen
    start = [0.1, 0.2, 0.3]
    up = [[a + 0.25 if j == i else a for j, a in enumerate(start)] for i in range(3)]
    down = [[a - 0.25 if j == i else a for j, a in enumerate(start)] for i in range(3)]
    assert sets[0].tolist() == [start, *up, *down]


def test_bad_arguments():
    with pytest.raises(ValueError):
        central_difference(rosenbrock, f64([[1.0, 2.0]]), 0.0)
    with pytest.raises(ValueError):
        central_difference(rosenbrock, f64(1.0), 1e-6)
    with pytest.raises(ValueError, match="shape"):
        central_difference(lambda sets: sets.sum(), f64([[1.0, 2.0]]), 1e-6)


@pytest.mark.parametrize("max_elements", [None, 1, 3])
def test_a_float64_step_is_taken_in_float64_whole_or_in_chunks(max_elements):
    """The perturbation is exactly +-delta in the point's dtype: a step rounded to float32 first
    would be off by 3e-9 relative, which the quotient by the float64 2 * delta would keep."""
    import torch

    x = torch.tensor([[3.0, -2.0]], dtype=torch.float64)
    values, grad = central_difference(lambda t: t.square().sum(-1), x, 1e-6, max_elements=max_elements)
    assert float(values[0]) == 13.0
    assert (grad - 2 * x).abs().max().item() < 1e-9
