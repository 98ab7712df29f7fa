"""Seeded draws from the distributions used to initialise weights, and how they compare with what was asked.

Numeric parameters are written as text: a number (`0.3`), a comma list (`0.1,0.5,0.9`, one value per
element) or a range `a:b[:step]`. A range includes both ends and reads like this:
  - `a:b:step`          from a towards b in steps of `step`;
  - `a:b`, integer ends  steps of +1 or -1, so `1:10` is 1, 2, ..., 10;
  - `a:b`, otherwise     evenly spaced from a to b, with as many values as the other parameter
                         (or the last dimension of the shape) has, so `--mean 1:10 --std 1:0.1` gives
                         the notebook's torch.arange(1., 11.) and torch.arange(1, 0, -0.1) exactly.
Draws are float32 (torch's default) from a torch.Generator seeded with `seed`; the first of several
draws is exactly what a single torch call with that seed returns. Nothing here prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

from gdcli.errors import GdcliError
from gdcli.text import number

if TYPE_CHECKING:
    import torch

# Draws times elements; beyond this the statistics and the json stop being quick.
MAX_ELEMENTS = 1_000_000
# Per-element statistics are shown only for tensors this small; larger ones get the pooled row.
MAX_ELEMENT_ROWS = 32
FLOAT32_MAX = 3.4028234663852886e38
Shape = tuple[int, ...]
RANGE_HELP = "a number, a comma list (one value per element) or a range a:b[:step] with both ends included"


@dataclass(frozen=True)
class Span:
    """A range `a:b[:step]` as typed; its values are known once its length is."""

    start: float
    stop: float
    step: float | None
    text: str


@dataclass(frozen=True)
class MomentRow:
    """Empirical against expected mean and variance over `n` drawn values."""

    label: str
    n: int
    mean: float
    expected_mean: float
    stderr: float  # standard error of the empirical mean under the expected distribution
    variance: float | None  # None when n == 1
    expected_variance: float

    @property
    def z(self) -> float | None:
        """How many standard errors the empirical mean is from the expected one."""
        if self.stderr == 0:
            return 0.0 if self.mean == self.expected_mean else None
        return (self.mean - self.expected_mean) / self.stderr


@dataclass(frozen=True)
class CategoryRow:
    """One multinomial category: how often it was drawn against its share of the weights."""

    index: int
    weight: float
    count: int
    share: float
    weight_share: float


@dataclass(frozen=True)
class Histogram:
    """Counts per bin; `edges` has one more entry than `counts` for continuous values, else None."""

    labels: list[str]
    counts: list[int]
    edges: list[float] | None = None


@dataclass(frozen=True)
class Sample:
    """What was drawn (`draws[0]` is the first draw), what was asked, and the statistics."""

    distribution: str
    asked: dict[str, object]
    seed: int
    draws: "torch.Tensor"  # shape (number of draws, *shape of one draw)
    moments: list[MomentRow] = field(default_factory=list)
    categories: list[CategoryRow] = field(default_factory=list)
    histogram: Histogram | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def first(self) -> "torch.Tensor":
        """The first draw: what `torch.<distribution>` returns for this seed."""
        return self.draws[0]


# ---------------------------------------------------------------- parsing


def parse_number(text: str, what: str) -> float:
    """One float from text, or a GdcliError naming `what`."""
    try:
        return number(text.strip())
    except ValueError:
        hint = "write numbers like 0.5, -3 or 1e-3"
        raise GdcliError(f"{what}: {text.strip()!r} is not a number", hint=hint) from None


def parse_shape(text: str) -> Shape:
    """A shape like `4,4` as a tuple of positive ints."""
    dims = []
    for part in text.split(","):
        try:
            dims.append(int(part.strip()))
        except ValueError:
            message = f"shape {text!r}: {part.strip()!r} is not a whole number"
            raise GdcliError(message, hint="write a shape like 4,4") from None
    if any(d < 1 for d in dims):
        raise GdcliError(f"shape {text!r} has a dimension below 1", hint="every dimension must be at least 1, e.g. 4,4")
    if math.prod(dims) > MAX_ELEMENTS:
        raise GdcliError(f"shape {text!r} has more than {MAX_ELEMENTS:,} elements", hint="choose a smaller shape")
    return tuple(dims)


def parse_values(text: str, option: str) -> list[float] | Span:
    """A number, a comma list or a range `a:b[:step]` (see the module docstring)."""
    if ":" in text:
        parts = text.split(":")
        if len(parts) not in (2, 3):
            raise GdcliError(f"{option} {text!r} is not a range", hint="write a range as a:b or a:b:step, e.g. 1:10")
        start, stop = (parse_number(p, option) for p in parts[:2])
        step = parse_number(parts[2], option) if len(parts) == 3 else None
        return Span(start, stop, step, text)
    return [parse_number(part, option) for part in text.split(",")]


def _span_values(span: Span, length: int | None, option: str) -> list[float]:
    """The values of a range; `length` (from the other parameter or the shape) sizes a fractional one."""
    start, stop, step = span.start, span.stop, span.step
    if not (math.isfinite(start) and math.isfinite(stop) and (step is None or math.isfinite(step))):
        raise GdcliError(f"{option} {span.text!r}: the ends and step of a range must be finite numbers")
    if step is None and start.is_integer() and stop.is_integer():
        step = 1.0 if stop >= start else -1.0
    if step is None:
        if length is None:
            raise GdcliError(
                f"{option} {span.text!r}: cannot tell how many values this range has",
                hint="give a step (a:b:step), integer ends, or a --shape / other parameter with that many values",
            )
        step = (stop - start) / (length - 1) if length > 1 else 0.0
        count = length
    else:
        if step == 0 or (stop - start) * step < 0:
            raise GdcliError(f"{option} {span.text!r}: the step must be non-zero and point from a towards b")
        # The small slack keeps the end when (b - a) / step is a whole number up to rounding.
        count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_ELEMENTS:
        raise GdcliError(f"{option} {span.text!r} has more than {MAX_ELEMENTS:,} values", hint="use a coarser step")
    # start + step * i is how torch.arange computes (in double), so 1:0.1 matches torch.arange(1, 0, -0.1).
    return [start + step * i for i in range(count)]


def _resolve(specs: dict[str, list[float] | Span], shape: Shape | None) -> dict[str, list[float]]:
    """Turn every range into numbers, sizing fractional ranges from the other parameters or the shape."""
    resolved: dict[str, list[float]] = {}
    for option, spec in specs.items():
        if isinstance(spec, list):
            resolved[option] = spec
        elif spec.step is not None or (spec.start.is_integer() and spec.stop.is_integer()):
            resolved[option] = _span_values(spec, None, option)
    lengths = [len(v) for v in resolved.values() if len(v) > 1]
    length = lengths[0] if lengths else (shape[-1] if shape else None)
    for option, spec in specs.items():
        if option not in resolved:
            resolved[option] = _span_values(spec, length, option)
    return resolved


def _tensor(values: list[float]) -> "torch.Tensor":
    """float32 tensor; a single value becomes a scalar so it broadcasts to any shape."""
    import torch

    return torch.tensor(values[0] if len(values) == 1 else values, dtype=torch.float32)


def _asked(values: list[float]) -> float | list[float]:
    return values[0] if len(values) == 1 else values


def _check(values: list[float], option: str, ok: Callable[[float], bool], rule: str, hint: str) -> None:
    bad = [v for v in values if not ok(v)]
    if bad:
        raise GdcliError(f"{option} must be {rule}; got {bad[0]:g}", hint=hint)


def _target_shape(param_shapes: Sequence[Shape], shape: Shape | None, what: str) -> Shape:
    """The shape of one draw: the parameters broadcast together, and to --shape when given."""
    import torch

    shapes = [*param_shapes, *([shape] if shape else [])]
    do = "do" if " and " in what else "does"  # "--mean and --std do", "--p does"
    try:
        target = tuple(torch.broadcast_shapes(*shapes))
    except RuntimeError:
        raise GdcliError(
            f"{what} {do} not broadcast: shapes {', '.join(str(list(s)) for s in shapes)}",
            hint="give lists of equal length, a single value, or a --shape whose last dimension matches the list",
        ) from None
    if shape and target != shape:
        message = f"{what} of shape {list(target)} {do} not fit --shape {list(shape)}"
        raise GdcliError(message, hint="make --shape the full shape")
    return target


def _check_size(shape: Shape, draws: int) -> None:
    if draws < 1:
        raise GdcliError(f"--draws must be at least 1; got {draws}")
    if math.prod(shape) * draws > MAX_ELEMENTS:
        from gdcli.text import plural

        raise GdcliError(
            f"{plural(draws, 'draw')} of shape {list(shape)} would be more than {MAX_ELEMENTS:,} values",
            hint="use fewer --draws or a smaller --shape",
        )


def _generator(seed: int) -> "torch.Generator":
    import torch

    if not 0 <= seed < 2**64:
        raise GdcliError(f"--seed must be between 0 and 2**64 - 1; got {seed}")
    return torch.Generator().manual_seed(seed)


def _repeat(draw_once: Callable[[], "torch.Tensor"], draws: int) -> "torch.Tensor":
    import torch

    # One call per draw, so the first draw is bit-identical to a single torch call with this seed.
    return torch.stack([draw_once() for _ in range(draws)])


# ---------------------------------------------------------------- statistics


def histogram(values: "torch.Tensor", bins: int = 10) -> Histogram:
    """Counts of `values` in equal-width bins with round edges, at most `bins` + 1 of them, spanning their range.

    The edges are round numbers (a multiple of 1, 2, 2.5 or 5 times a power of ten), so each label
    shows its bin's edges exactly: [a, b) holds a <= value < b, and the last bin [a, b] holds b too.
    """
    import torch

    flat = values.detach().flatten().double()
    if flat.numel() == 0 or not bool(torch.isfinite(flat).all()):
        raise ValueError("a histogram needs at least one value, and only finite ones")
    low, high = flat.min().item(), flat.max().item()
    if low == high:  # every value equal: a unit-wide range around it
        low, high = low - 0.5, high + 0.5
    if low == high:  # too large for a unit to move it: one bin holding every value
        text = _edge_text(low)
        return Histogram([f"[{text}, {text}]"], [flat.numel()], [low, high])
    edges = _round_edges(low, high, bins)
    counts, _ = torch.histogram(flat, bins=torch.tensor(edges, dtype=torch.float64))
    texts = [_edge_text(e) for e in edges]
    labels = [f"[{a}, {b})" for a, b in zip(texts, texts[1:])]
    labels[-1] = labels[-1][:-1] + "]"  # torch's last bin includes its upper edge
    return Histogram(labels, [int(c) for c in counts.tolist()], edges)


def _round_edges(low: float, high: float, bins: int) -> list[float]:
    """Edges k * step from at or below `low` to at or above `high`: step is the smallest round
    number (1, 2, 2.5 or 5 times a power of ten) at least (high - low) / bins."""
    from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

    raw = (Decimal(high) - Decimal(low)) / bins  # exact: float64 could overflow
    power = Decimal(1).scaleb(raw.adjusted())  # 10 ** floor(log10(raw))
    step = next(m * power for m in map(Decimal, ("1", "2", "2.5", "5", "10")) if m * power >= raw)
    first = (Decimal(low) / step).to_integral_value(ROUND_FLOOR)
    last = (Decimal(high) / step).to_integral_value(ROUND_CEILING)
    # Decimal division rounds to 28 digits: make sure the ends really enclose the values.
    while float(first * step) > low:
        first -= 1
    while float(last * step) < high:
        last += 1
    edges = [float(k * step) for k in range(int(first), int(last) + 1)]
    # At float64's ends an outer edge can overflow (use the value itself) and a subnormal step
    # can round edges together (keep each once): every label still shows its edge exactly.
    edges[0] = low if math.isinf(edges[0]) else edges[0]
    edges[-1] = high if math.isinf(edges[-1]) else edges[-1]
    return sorted(set(edges))


def _edge_text(edge: float) -> str:
    """An edge as its shortest exact text: 0.3, 1.00004, 1e+20 (a round edge has few digits)."""
    text = f"{edge:.15g}"
    return text if float(text) == edge else repr(edge)


def moments(
    draws: "torch.Tensor", expected_mean: "torch.Tensor", element_variance: "torch.Tensor", per_element: bool
) -> list[MomentRow]:
    """Pooled (and, when asked and small, per-element) mean and variance against their expectations.

    `expected_mean` and `element_variance` have the shape of one draw. Pooled over elements with
    different means, the expected variance is the mean variance plus the spread of the means.
    """
    n = draws.numel()
    mean_var = element_variance.double().mean().item()
    rows = [
        MomentRow(
            "all",
            n,
            draws.double().mean().item(),
            expected_mean.double().mean().item(),
            math.sqrt(mean_var / n),
            draws.double().var().item() if n > 1 else None,
            mean_var + expected_mean.double().var(correction=0).item(),
        )
    ]
    shape = tuple(draws.shape[1:])
    if not per_element or draws.shape[0] < 2 or math.prod(shape) > MAX_ELEMENT_ROWS:
        return rows
    columns = draws.double().reshape(draws.shape[0], -1)
    for i, (mu, var) in enumerate(zip(expected_mean.flatten().tolist(), element_variance.flatten().tolist())):
        col = columns[:, i]
        n = col.numel()
        label = _index_label(i, shape)
        rows.append(MomentRow(label, n, col.mean().item(), mu, math.sqrt(var / n), col.var().item(), var))
    return rows


def _index_label(flat: int, shape: Shape) -> str:
    index = []
    for dim in reversed(shape):
        flat, rest = divmod(flat, dim)
        index.append(rest)
    return "[" + ", ".join(str(i) for i in reversed(index)) + "]"


# ---------------------------------------------------------------- distributions


def draw_bernoulli(p: str = "0.5", shape: Shape | None = None, draws: int = 1, seed: int = 42) -> Sample:
    """0/1 draws with probability p: one, one per element, or `uniform` (p ~ U(0, 1) per draw, as in the notebook)."""
    import torch

    gen = _generator(seed)
    if p.strip() == "uniform":
        target = shape or ()
        _check_size(target, draws)
        # The notebook: probabilities from U(0, 1) first, then one Bernoulli draw per probability.
        result = _repeat(
            lambda: torch.bernoulli(torch.empty(target).uniform_(0, 1, generator=gen), generator=gen), draws
        )
        expected = torch.full(target, 0.5)
        asked: dict[str, object] = {"p": "uniform", "shape": list(target)}
        stats = moments(result, expected, expected * (1 - expected), per_element=False)
    else:
        values = _resolve({"--p": parse_values(p, "--p")}, shape)["--p"]
        hint = "write --p 0.3, --p 0.1,0.5,0.9 or --p uniform"
        _check(values, "--p", lambda v: 0 <= v <= 1, "a probability in [0, 1]", hint)
        probs = _tensor(values)
        target = _target_shape([tuple(probs.shape)], shape, "--p")
        _check_size(target, draws)
        probs = probs.expand(target).contiguous()
        result = _repeat(lambda: torch.bernoulli(probs, generator=gen), draws)
        asked = {"p": _asked(values), "shape": list(target)}
        stats = moments(result, probs, probs * (1 - probs), per_element=len(values) > 1)
    counts = [int((result == 0).sum()), int((result == 1).sum())]
    return Sample("bernoulli", asked, seed, result, moments=stats, histogram=Histogram(["0", "1"], counts))


def draw_normal(
    mean: str = "0", std: str = "1", shape: Shape | None = None, draws: int = 1, seed: int = 42, bins: int = 10
) -> Sample:
    """Normal draws with torch.normal's broadcasting of mean and std (each a number, list or range)."""
    import torch

    gen = _generator(seed)
    values = _resolve({"--mean": parse_values(mean, "--mean"), "--std": parse_values(std, "--std")}, shape)
    finite, hint = (lambda v: abs(v) <= FLOAT32_MAX), "write --mean 0.5, --mean 1,2,3 or --mean 1:10"
    _check(values["--mean"], "--mean", finite, f"a number within float32's range (±{FLOAT32_MAX:.4g})", hint)
    hint = "a standard deviation cannot be negative or NaN"
    _check(values["--std"], "--std", lambda v: 0 <= v <= FLOAT32_MAX, f"from 0 to float32's largest value ({FLOAT32_MAX:.4g})", hint)
    mu, sigma = _tensor(values["--mean"]), _tensor(values["--std"])
    target = _target_shape([tuple(mu.shape), tuple(sigma.shape)], shape, "--mean and --std")
    _check_size(target, draws)
    if mu.dim() == 0 and sigma.dim() == 0:
        # torch.normal(float, float, size) is its own code path; call it so the draws match it.
        m, s = values["--mean"][0], values["--std"][0]
        result = _repeat(lambda: torch.normal(m, s, size=target, generator=gen), draws)
    else:
        mu_t, sigma_t = mu.expand(target).contiguous(), sigma.expand(target).contiguous()
        result = _repeat(lambda: torch.normal(mu_t, sigma_t, generator=gen), draws)
    if not torch.isfinite(result).all():
        raise GdcliError("some draws overflow float32 (inf)", hint="use a smaller --mean or --std")
    expected, sd = mu.expand(target), sigma.expand(target)
    stats = moments(result, expected, sd**2, per_element=mu.dim() > 0 or sigma.dim() > 0)
    asked = {"mean": _asked(values["--mean"]), "std": _asked(values["--std"]), "shape": list(target)}
    return Sample("normal", asked, seed, result, moments=stats, histogram=histogram(result, bins))


def draw_uniform(
    low: float = 0.0, high: float = 1.0, shape: Shape | None = None, draws: int = 1, seed: int = 42, bins: int = 10
) -> Sample:
    """Draws from U(low, high) via Tensor.uniform_."""
    import torch

    gen = _generator(seed)
    if not (math.isfinite(low) and math.isfinite(high)) or high - low > FLOAT32_MAX:
        raise GdcliError(f"--low {low:g} and --high {high:g} must be finite and less than {FLOAT32_MAX:.3g} apart")
    if low >= high:
        raise GdcliError(f"--low ({low:g}) must be below --high ({high:g})", hint="for example: --low 0 --high 1")
    target = shape or ()
    _check_size(target, draws)
    result = _repeat(lambda: torch.empty(target).uniform_(low, high, generator=gen), draws)
    # In float64: the variance of a wide range (1e30 apart) is beyond float32.
    expected = torch.full(target, (low + high) / 2, dtype=torch.float64)
    variance = torch.full(target, (high - low) ** 2 / 12, dtype=torch.float64)
    stats = moments(result, expected, variance, per_element=False)
    asked = {"low": low, "high": high, "shape": list(target)}
    return Sample("uniform", asked, seed, result, moments=stats, histogram=histogram(result, bins))


def draw_multinomial(
    weights: str, num_samples: int = 1, replacement: bool = False, draws: int = 1, seed: int = 42
) -> Sample:
    """Category indices drawn with probability proportional to `weights`, with or without replacement."""
    import torch

    gen = _generator(seed)
    values = _resolve({"--weights": parse_values(weights, "--weights")}, None)["--weights"]
    hint = "weights are relative frequencies, e.g. 10,10,13,34"
    _check(values, "--weights", lambda v: 0 <= v <= FLOAT32_MAX, f"from 0 to float32's largest value ({FLOAT32_MAX:.4g})", hint)
    if sum(values) == 0:
        raise GdcliError("--weights are all zero: no category can be drawn", hint="give at least one positive weight")
    if sum(values) > FLOAT32_MAX or len(values) > 2**24:
        hint = "scale them down; only their ratios matter"
        raise GdcliError("--weights are too many or too large for float32", hint=hint)
    if num_samples < 1:
        raise GdcliError(f"--num-samples must be at least 1; got {num_samples}")
    nonzero = sum(v > 0 for v in values)
    # torch does not check this: it silently fills the rest with zero-weight categories.
    if not replacement and num_samples > nonzero:
        from gdcli.text import plural

        raise GdcliError(
            f"--num-samples {num_samples} is more than the {plural(nonzero, 'category', 'categories')} "
            "with a non-zero weight",
            hint=f"without replacement each category is drawn at most once: use --num-samples {nonzero} or less, "
            "or --replacement",
        )
    _check_size((num_samples,), draws)
    w = torch.tensor(values, dtype=torch.float32)
    result = _repeat(lambda: torch.multinomial(w, num_samples, replacement, generator=gen), draws)
    counts = torch.bincount(result.flatten(), minlength=len(values)).tolist()
    total, weight_sum = result.numel(), sum(values)
    rows = [CategoryRow(i, v, c, c / total, v / weight_sum) for i, (v, c) in enumerate(zip(values, counts))]
    notes = []
    if not replacement and num_samples > 1:
        notes.append("without replacement, later picks favour the lighter categories, so shares move towards uniform")
    asked = {"weights": values, "num_samples": num_samples, "replacement": replacement}
    hist = Histogram([str(i) for i in range(len(values))], counts)
    return Sample("multinomial", asked, seed, result, categories=rows, histogram=hist, notes=notes)
