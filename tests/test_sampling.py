"""gdcli.sampling: parsing, seeded draws equal to torch's own, and statistics against their expectations."""

import math

import pytest
import torch

from gdcli import sampling
from gdcli.errors import GdcliError


def gen(seed=42):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- parsing


def test_parse_values_number_list_and_ranges():
    assert sampling.parse_values("0.3", "--p") == [0.3]
    assert sampling.parse_values("0.1, 0.5,0.9", "--p") == [0.1, 0.5, 0.9]
    span = sampling.parse_values("1:10", "--mean")
    assert sampling._span_values(span, None, "--mean") == [float(i) for i in range(1, 11)]
    assert sampling._span_values(sampling.parse_values("3:1", "--mean"), None, "--mean") == [3.0, 2.0, 1.0]
    assert sampling._span_values(sampling.parse_values("0:1:0.25", "--mean"), None, "--mean") == [0, 0.25, 0.5, 0.75, 1]


def test_fractional_range_takes_its_length_and_matches_torch_arange_exactly():
    values = sampling._resolve({"--mean": sampling.parse_values("1:10", "m"), "--std": sampling.parse_values("1:0.1", "s")}, None)
    assert torch.equal(torch.tensor(values["--std"], dtype=torch.float32), torch.arange(1, 0, -0.1))
    assert torch.equal(torch.tensor(values["--mean"], dtype=torch.float32), torch.arange(1.0, 11.0))
    # Without another parameter, the last --shape dimension sizes it.
    assert len(sampling._resolve({"--p": sampling.parse_values("0.1:0.9", "--p")}, (2, 5))["--p"]) == 5


@pytest.mark.parametrize(
    "text",
    ["abc", "1,,2", "1:2:3:4", "1:2:0", "1:2:-1", "0.1:0.9", "1:x"],
)
def test_bad_values_are_refused(text):
    with pytest.raises(GdcliError):
        sampling._resolve({"--mean": sampling.parse_values(text, "--mean")}, None)


def test_parse_shape():
    assert sampling.parse_shape("4, 4") == (4, 4)
    for bad in ("0,4", "-1", "4,x", "", "2.5"):
        with pytest.raises(GdcliError):
            sampling.parse_shape(bad)


# ---------------------------------------------------------------- seeded draws equal torch's own


def test_bernoulli_equals_torch():
    s = sampling.draw_bernoulli("0.3", (4, 4), seed=42)
    assert torch.equal(s.first, torch.bernoulli(torch.full((4, 4), 0.3), generator=gen()))
    s = sampling.draw_bernoulli("0.1,0.5,0.9", seed=7)
    assert torch.equal(s.first, torch.bernoulli(torch.tensor([0.1, 0.5, 0.9]), generator=gen(7)))


def test_bernoulli_uniform_follows_the_notebook_recipe():
    g = gen()
    probs = torch.empty(4, 4).uniform_(0, 1, generator=g)
    expected = torch.bernoulli(probs, generator=g)
    assert torch.equal(sampling.draw_bernoulli("uniform", (4, 4)).first, expected)


def test_normal_equals_the_notebook_and_torch():
    s = sampling.draw_normal("1:10", "1:0.1")
    expected = torch.normal(mean=torch.arange(1.0, 11.0), std=torch.arange(1, 0, -0.1), generator=gen())
    assert torch.equal(s.first, expected)
    s = sampling.draw_normal("0.5", "1,2,3,4,5")
    assert torch.equal(s.first, torch.normal(0.5, torch.tensor([1.0, 2, 3, 4, 5]), generator=gen()))
    s = sampling.draw_normal("2", "3", (1, 4))
    assert torch.equal(s.first, torch.normal(2, 3, size=(1, 4), generator=gen()))


def test_uniform_and_multinomial_equal_torch():
    assert torch.equal(sampling.draw_uniform(0, 1, (4, 4)).first, torch.empty(4, 4).uniform_(0, 1, generator=gen()))
    w = "10,10,13,10,34,45,65,67,87,89,87,34"
    weights = torch.tensor([float(v) for v in w.split(",")])
    s = sampling.draw_multinomial(w, 3)
    assert torch.equal(s.first, torch.multinomial(weights, 3, False, generator=gen()))
    s = sampling.draw_multinomial(w, 20, replacement=True)
    assert torch.equal(s.first, torch.multinomial(weights, 20, True, generator=gen()))


def test_same_seed_same_draws_and_first_of_many_is_the_single_draw():
    a = sampling.draw_normal("0", "1", (3, 3), draws=5, seed=3)
    b = sampling.draw_normal("0", "1", (3, 3), draws=5, seed=3)
    assert torch.equal(a.draws, b.draws)
    assert torch.equal(a.first, sampling.draw_normal("0", "1", (3, 3), seed=3).first)
    assert not torch.equal(a.first, sampling.draw_normal("0", "1", (3, 3), seed=4).first)
    assert a.draws.shape == (5, 3, 3)


# ---------------------------------------------------------------- statistics against expectations


def test_bernoulli_mean_within_a_few_standard_errors():
    s = sampling.draw_bernoulli("0.3", (4, 4), draws=2000)
    row = s.moments[0]
    assert row.n == 32000 and row.expected_mean == pytest.approx(0.3)
    assert abs(row.mean - 0.3) < 4 * math.sqrt(0.3 * 0.7 / row.n)
    assert row.expected_variance == pytest.approx(0.21)
    assert sum(s.histogram.counts) == 32000


def test_bernoulli_per_element_probabilities():
    s = sampling.draw_bernoulli("0.1,0.5,0.9", draws=2000)
    per_element = s.moments[1:]
    assert [r.expected_mean for r in per_element] == pytest.approx([0.1, 0.5, 0.9])
    assert all(abs(r.z) < 4.5 for r in s.moments)


def test_normal_mean_and_std_match():
    s = sampling.draw_normal("0.5", "2", (50,), draws=200)
    row = s.moments[0]
    assert abs(row.mean - 0.5) < 4 * 2 / math.sqrt(row.n)
    # The sample variance has standard error sigma^2 * sqrt(2 / (n - 1)).
    assert abs(row.variance - 4) < 4 * 4 * math.sqrt(2 / (row.n - 1))


def test_normal_per_element_rows_follow_broadcast_parameters():
    s = sampling.draw_normal("1:10", "1:0.1", draws=2000)
    rows = s.moments[1:]
    assert [r.expected_mean for r in rows] == pytest.approx(list(range(1, 11)))
    assert [r.expected_variance for r in rows] == pytest.approx([(1 - 0.1 * i) ** 2 for i in range(10)], rel=1e-5)
    assert all(abs(r.z) < 4.5 for r in rows)
    # Pooled variance is the mean variance plus the spread of the means.
    assert s.moments[0].expected_variance == pytest.approx(sum(r.expected_variance for r in rows) / 10 + 8.25, rel=1e-6)


def test_uniform_moments():
    s = sampling.draw_uniform(-1, 3, (100,), draws=50)
    row = s.moments[0]
    assert row.expected_mean == 1 and row.expected_variance == pytest.approx(16 / 12)
    assert abs(row.z) < 4
    assert s.draws.min() >= -1 and s.draws.max() < 3
    assert sum(s.histogram.counts) == 5000 and len(s.histogram.edges) == 11


def test_multinomial_without_replacement_never_draws_zero_weights():
    s = sampling.draw_multinomial("0,1,0,2,3,0", 3, draws=500)
    assert set(s.draws.flatten().tolist()) == {1, 3, 4}
    assert all(len(set(row)) == 3 for row in s.draws.tolist())
    assert [c.count for c in s.categories] == [0, 500, 0, 500, 500, 0]


def test_multinomial_with_replacement_counts_follow_weights():
    s = sampling.draw_multinomial("1,2,3,4", 100, replacement=True, draws=50)
    total = 5000
    for row in s.categories:
        expected = total * row.weight_share
        assert abs(row.count - expected) < 4.5 * math.sqrt(expected * (1 - row.weight_share))


def test_histogram_of_constant_values():
    h = sampling.histogram(torch.full((7,), 2.0), bins=3)
    assert sum(h.counts) == 7 and h.edges[0] < 2 < h.edges[-1]


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "call",
    [
        lambda: sampling.draw_bernoulli("1.5"),
        lambda: sampling.draw_bernoulli("-0.1"),
        lambda: sampling.draw_bernoulli("nan"),
        lambda: sampling.draw_bernoulli("0.1,0.2", (3,)),
        lambda: sampling.draw_normal("0", "-1"),
        lambda: sampling.draw_normal("0", "nan"),
        lambda: sampling.draw_normal("inf", "1"),
        lambda: sampling.draw_normal("1,2,3", "1,2"),
        lambda: sampling.draw_normal("x", "1"),
        lambda: sampling.draw_normal("3e38", "3e38", (10,)),
        lambda: sampling.draw_uniform(1, 1),
        lambda: sampling.draw_uniform(2, 1),
        lambda: sampling.draw_uniform(0, math.inf),
        lambda: sampling.draw_multinomial("1,-1,2"),
        lambda: sampling.draw_multinomial("1,nan"),
        lambda: sampling.draw_multinomial("1,inf"),
        lambda: sampling.draw_multinomial("0,0,0"),
        lambda: sampling.draw_multinomial("0,1,0,2", 3),
        lambda: sampling.draw_multinomial("1,2", 0),
        lambda: sampling.draw_uniform(0, 1, (1000, 1000), draws=2),
        lambda: sampling.draw_uniform(0, 1, draws=0),
        lambda: sampling.draw_uniform(0, 1, seed=-1),
    ],
)
def test_bad_parameters_raise_gdcli_error(call):
    with pytest.raises(GdcliError) as err:
        call()
    assert str(err.value)


def test_num_samples_above_nonzero_weights_is_fine_with_replacement():
    s = sampling.draw_multinomial("0,1,0,2", 3, replacement=True)
    assert set(s.first.tolist()) <= {1, 3}
