"""gdcli.sampling and gdcli.ranges: parsing, seeded draws equal to torch's own, and statistics against their expectations."""

import json
import math

import pytest
import torch

from gdcli import sampling
from gdcli.cli.tool_parsing import parse_shape
from gdcli.errors import GdcliError
from gdcli.ranges import parse_values


def gen(seed=42):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- parsing


def asked(run_cli, *args) -> dict:
    """What `gdcli sample ... --output json` says it was asked to draw from."""
    result = run_cli("sample", *args, "--output", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["asked"]


def test_parse_values_number_list_and_ranges(run_cli):
    assert parse_values("0.3", "p") == [0.3]
    assert parse_values("0.1, 0.5,0.9", "p") == [0.1, 0.5, 0.9]
    assert asked(run_cli, "normal", "--mean", "1:10")["mean"] == [float(i) for i in range(1, 11)]
    assert asked(run_cli, "normal", "--mean", "3:1")["mean"] == [3.0, 2.0, 1.0]
    assert asked(run_cli, "normal", "--mean", "0:1:0.25")["mean"] == [0, 0.25, 0.5, 0.75, 1]


def test_fractional_range_takes_its_length_and_matches_torch_arange_exactly(run_cli):
    values = asked(run_cli, "normal", "--mean", "1:10", "--std", "1:0.1")
    assert torch.equal(torch.tensor(values["std"], dtype=torch.float32), torch.arange(1, 0, -0.1))
    assert torch.equal(torch.tensor(values["mean"], dtype=torch.float32), torch.arange(1.0, 11.0))
    # Without another parameter, the last --shape dimension sizes it.
    assert asked(run_cli, "bernoulli", "--p", "0.1:0.9", "--shape", "2,5")["p"] == pytest.approx([0.1, 0.3, 0.5, 0.7, 0.9])


@pytest.mark.parametrize(
    "text",
    ["abc", "1,,2", "1:2:3:4", "1:2:0", "1:2:-1", "0.1:0.9", "1:x"],
)
def test_bad_values_are_refused(run_cli, text):
    result = run_cli("sample", "normal", f"--mean={text}")
    assert result.exit_code == 2 and result.stdout == "" and "Traceback" not in result.output
    assert "--mean" in result.stderr, result.stderr


def test_parse_shape():
    assert parse_shape("4, 4") == (4, 4)
    for bad in ("0,4", "-1", "4,x", "", "2.5"):
        with pytest.raises(GdcliError):
            parse_shape(bad)


# ---------------------------------------------------------------- seeded draws equal torch's own


def test_bernoulli_equals_torch():
    s = sampling.draw_bernoulli(0.3, (4, 4), seed=42)
    assert torch.equal(s.first, torch.bernoulli(torch.full((4, 4), 0.3), generator=gen()))
    s = sampling.draw_bernoulli([0.1, 0.5, 0.9], seed=7)
    assert torch.equal(s.first, torch.bernoulli(torch.tensor([0.1, 0.5, 0.9]), generator=gen(7)))


def test_bernoulli_uniform_follows_the_notebook_recipe():
    g = gen()
    probs = torch.empty(4, 4).uniform_(0, 1, generator=g)
    expected = torch.bernoulli(probs, generator=g)
    assert torch.equal(sampling.draw_bernoulli("uniform", (4, 4)).first, expected)


def test_normal_equals_the_notebook_and_torch():
    s = sampling.draw_normal(parse_values("1:10", "mean"), parse_values("1:0.1", "std"))
    expected = torch.normal(mean=torch.arange(1.0, 11.0), std=torch.arange(1, 0, -0.1), generator=gen())
    assert torch.equal(s.first, expected)
    s = sampling.draw_normal(0.5, [1, 2, 3, 4, 5])
    assert torch.equal(s.first, torch.normal(0.5, torch.tensor([1.0, 2, 3, 4, 5]), generator=gen()))
    s = sampling.draw_normal(2, 3, (1, 4))
    assert torch.equal(s.first, torch.normal(2, 3, size=(1, 4), generator=gen()))


def test_uniform_and_multinomial_equal_torch():
    assert torch.equal(sampling.draw_uniform(0, 1, (4, 4)).first, torch.empty(4, 4).uniform_(0, 1, generator=gen()))
    w = [10, 10, 13, 10, 34, 45, 65, 67, 87, 89, 87, 34]
    weights = torch.tensor(w, dtype=torch.float32)
    s = sampling.draw_multinomial(w, 3)
    assert torch.equal(s.first, torch.multinomial(weights, 3, False, generator=gen()))
    s = sampling.draw_multinomial(w, 20, replacement=True)
    assert torch.equal(s.first, torch.multinomial(weights, 20, True, generator=gen()))


def test_same_seed_same_draws_and_first_of_many_is_the_single_draw():
    a = sampling.draw_normal(0, 1, (3, 3), draws=5, seed=3)
    b = sampling.draw_normal(0, 1, (3, 3), draws=5, seed=3)
    assert torch.equal(a.draws, b.draws)
    assert torch.equal(a.first, sampling.draw_normal(0, 1, (3, 3), seed=3).first)
    assert not torch.equal(a.first, sampling.draw_normal(0, 1, (3, 3), seed=4).first)
    assert a.draws.shape == (5, 3, 3)


# ---------------------------------------------------------------- statistics against expectations


def test_bernoulli_mean_within_a_few_standard_errors():
    s = sampling.draw_bernoulli(0.3, (4, 4), draws=2000)
    row = s.moments[0]
    assert row.n == 32000 and row.expected_mean == pytest.approx(0.3)
    assert abs(row.mean - 0.3) < 4 * math.sqrt(0.3 * 0.7 / row.n)
    assert row.expected_variance == pytest.approx(0.21)
    assert sum(s.histogram.counts) == 32000


def test_bernoulli_per_element_probabilities():
    s = sampling.draw_bernoulli([0.1, 0.5, 0.9], draws=2000)
    per_element = s.moments[1:]
    assert [r.expected_mean for r in per_element] == pytest.approx([0.1, 0.5, 0.9])
    assert all(abs(r.z) < 4.5 for r in s.moments)


def test_normal_mean_and_std_match():
    s = sampling.draw_normal(0.5, 2, (50,), draws=200)
    row = s.moments[0]
    assert abs(row.mean - 0.5) < 4 * 2 / math.sqrt(row.n)
    # The sample variance has standard error sigma^2 * sqrt(2 / (n - 1)).
    assert abs(row.variance - 4) < 4 * 4 * math.sqrt(2 / (row.n - 1))


def test_normal_per_element_rows_follow_broadcast_parameters():
    s = sampling.draw_normal(parse_values("1:10", "mean"), parse_values("1:0.1", "std"), draws=2000)
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
    # Round edges every half unit from -1 to 3: bins of 625 values each on average.
    assert s.histogram.edges == [-1 + 0.5 * k for k in range(9)]
    assert s.histogram.labels[0] == "[-1, -0.5)" and s.histogram.labels[-1] == "[2.5, 3]"
    assert sum(s.histogram.counts) == 5000 and all(abs(c - 625) < 4.5 * math.sqrt(625) for c in s.histogram.counts)


def test_multinomial_without_replacement_never_draws_zero_weights():
    s = sampling.draw_multinomial([0, 1, 0, 2, 3, 0], 3, draws=500)
    assert set(s.draws.flatten().tolist()) == {1, 3, 4}
    assert all(len(set(row)) == 3 for row in s.draws.tolist())
    assert [c.count for c in s.categories] == [0, 500, 0, 500, 500, 0]


def test_multinomial_with_replacement_counts_follow_weights():
    s = sampling.draw_multinomial([1, 2, 3, 4], 100, replacement=True, draws=50)
    total = 5000
    for row in s.categories:
        expected = total * row.weight_share
        assert abs(row.count - expected) < 4.5 * math.sqrt(expected * (1 - row.weight_share))


def test_histogram_of_constant_values():
    h = sampling.histogram(torch.full((7,), 2.0), bins=3)
    assert sum(h.counts) == 7 and h.edges[0] < 2 < h.edges[-1]
    assert counts_by_label(h, [2.0] * 7) == h.counts


def counts_by_label(h, values):
    """How many values each label claims, reading [a, b) as a <= v < b and the closing ] as <= b."""
    claimed = []
    for label in h.labels:
        low, high = (float(edge) for edge in label[1:-1].split(", "))
        closed = label.endswith("]")
        claimed.append(sum(1 for v in values if low <= v and (v < high or (closed and v == high))))
    return claimed


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "values",
    [
        [0.99996, 1.00004],  # bins narrower than 3 significant digits can tell apart
        [0.99996, 0.99999, 1.0, 1.00001, 1.00004],
        [-2.5e-7, 1e-9, 3.3e-7],
        [123456.7, 123456.8, 123457.2],
        [-3e38, 0.0, 3e38],
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],  # values on the edges themselves
    ],
)
def test_histogram_labels_read_as_numbers_give_the_counts(values, dtype):
    drawn = torch.tensor(values, dtype=dtype)
    h = sampling.histogram(drawn)
    as_stored = drawn.double().tolist()  # what was binned: the float32 value, not the typed decimal
    assert counts_by_label(h, as_stored) == h.counts and sum(h.counts) == len(values)
    # Labels follow each other without gaps or overlaps: each bin ends where the next begins.
    ends = [label[1:-1].split(", ") for label in h.labels]
    assert all(a[1] == b[0] for a, b in zip(ends, ends[1:]))
    assert len(h.labels) <= 11  # bins=10: round edges add at most one bin


@pytest.mark.parametrize("values", [[-1.7e308, 1.7e308], [5e-324, 1e-323], [0.0, 5e-324]])
def test_histogram_labels_at_the_ends_of_float64(values):
    # Edges that would overflow, and steps below the smallest float: labels still read true.
    h = sampling.histogram(torch.tensor(values, dtype=torch.float64))
    assert counts_by_label(h, values) == h.counts and sum(h.counts) == 2
    assert all(math.isfinite(edge) for edge in h.edges) and h.edges == sorted(set(h.edges))


def test_histogram_puts_close_values_in_different_labelled_bins():
    h = sampling.histogram(torch.tensor([0.99996, 1.00004], dtype=torch.float64))
    full = [label for label, count in zip(h.labels, h.counts) if count]
    assert full == ["[0.99996, 0.99997)", "[1.00004, 1.00005]"]


def test_histogram_of_random_draws_at_many_scales():
    gen = torch.Generator().manual_seed(5)
    for scale in (1e-30, 1e-6, 1.0, 7.0, 1e6, 1e30):
        for shift in (0.0, 1.0, -1e3):
            drawn = (torch.randn(200, generator=gen, dtype=torch.float64) + shift) * scale
            h = sampling.histogram(drawn)
            assert counts_by_label(h, drawn.tolist()) == h.counts and sum(h.counts) == 200, (scale, shift)


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sampling.draw_bernoulli(1.5), "--p must be a probability in [0, 1]; got 1.5"),
        (lambda: sampling.draw_bernoulli(-0.1), "--p must be a probability in [0, 1]; got -0.1"),
        (lambda: sampling.draw_bernoulli(parse_values("nan", "p")), "--p must be a probability in [0, 1]; got nan"),
        (lambda: sampling.draw_bernoulli([0.1, 0.2], (3,)), "--p does not broadcast: shapes [2], [3]"),
        (lambda: sampling.draw_normal(0, -1), "--std must be from 0 to float32's largest value (3.403e+38); got -1"),
        (lambda: sampling.draw_normal(0, parse_values("nan", "std")), "--std must be from 0 to float32's largest value (3.403e+38); got nan"),
        (lambda: sampling.draw_normal(parse_values("inf", "mean"), 1), "--mean must be a number within float32's range (±3.403e+38); got inf"),
        (lambda: sampling.draw_normal([1, 2, 3], [1, 2]), "--mean and --std do not broadcast: shapes [3], [2]"),
        (lambda: sampling.draw_normal(parse_values("x", "mean"), 1), "--mean: 'x' is not a number"),
        (lambda: sampling.draw_normal(3e38, 3e38, (10,)), "some draws overflow float32 (inf)"),
        (lambda: sampling.draw_uniform(1, 1), "--low (1) must be below --high (1)"),
        (lambda: sampling.draw_uniform(2, 1), "--low (2) must be below --high (1)"),
        (lambda: sampling.draw_uniform(0, math.inf), "--low 0 and --high inf must be finite"),
        (lambda: sampling.draw_multinomial([1, -1, 2]), "--weights must be from 0 to float32's largest value (3.403e+38); got -1"),
        (lambda: sampling.draw_multinomial(parse_values("1,nan", "weights")), "--weights must be from 0 to float32's largest value (3.403e+38); got nan"),
        (lambda: sampling.draw_normal(1e39, 1), "--mean must be a number within float32's range (±3.403e+38); got 1e+39"),
        (lambda: sampling.draw_multinomial(parse_values("1,inf", "weights")), "--weights must be from 0 to float32's largest value (3.403e+38); got inf"),
        (lambda: sampling.draw_multinomial([0, 0, 0]), "--weights are all zero"),
        (
            lambda: sampling.draw_multinomial([0, 1, 0, 2], 3),
            "--num-samples 3 is more than the 2 categories with a non-zero weight",
        ),
        (
            lambda: sampling.draw_multinomial([0, 1, 0], 2),
            "--num-samples 2 is more than the 1 category with a non-zero weight",
        ),
        (lambda: sampling.draw_multinomial([1, 2], 0), "--num-samples must be at least 1; got 0"),
        (
            lambda: sampling.draw_uniform(0, 1, (1000, 1000), draws=2),
            "2 draws of shape [1000, 1000] would be more than 1,000,000 values",
        ),
        (
            lambda: sampling.draw_uniform(0, 1, (1000, 1001)),
            "1 draw of shape [1000, 1001] would be more than 1,000,000 values",
        ),
        (lambda: sampling.draw_uniform(0, 1, draws=0), "--draws must be at least 1; got 0"),
        (lambda: sampling.draw_uniform(0, 1, seed=-1), "--seed must be between 0 and 2**64 - 1; got -1"),
    ],
)
def test_bad_parameters_raise_gdcli_error(call, message):
    with pytest.raises(GdcliError) as err:
        call()
    assert message in str(err.value)


def test_num_samples_above_nonzero_weights_is_fine_with_replacement():
    s = sampling.draw_multinomial([0, 1, 0, 2], 3, replacement=True)
    assert set(s.first.tolist()) <= {1, 3}


@pytest.mark.parametrize("args", [("1e20", "1"), ("3.4e38", "1")])
def test_values_float32_cannot_spread_make_one_bin(args):
    sample = sampling.draw_normal(*args, shape=(3,), draws=10)
    assert len(sample.histogram.counts) == 1 and sample.histogram.counts[0] == 30


def test_a_uniform_range_whose_variance_float32_cannot_hold():
    sample = sampling.draw_uniform(1e30, 1.0000001e30, draws=100)
    assert sum(sample.histogram.counts) == 100
