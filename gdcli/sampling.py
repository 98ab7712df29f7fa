"""Seeded draws from the distributions used to initialise weights, and how they compare with what was asked.

A parameter's values are typed (gdcli.ranges): a list of numbers (one per element, or one for
all) or a Span, a range `a:b[:step]` whose values are known once its length is. Draws are float32
(torch's default) from a torch.Generator seeded with `seed`; the first of several draws is exactly
what a single torch call with that seed returns. Messages name the settings through
gdcli.errors.param (the CLI shows `--mean`, the API `mean`). Nothing here prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

from gdcli.errors import GdcliError, param
from gdcli.ranges import MAX_VALUES as MAX_ELEMENTS
from gdcli.ranges import Span, Values, resolve
from gdcli.sample_stats import Histogram, MomentRow, histogram, moments

if TYPE_CHECKING:
    import torch

FLOAT32_MAX = 3.4028234663852886e38
Shape = tuple[int, ...]
# Which distribution each distribution-specific parameter belongs to.
OWNERS = {"p": "bernoulli", "weights": "multinomial", "num_samples": "multinomial", "replacement": "multinomial",
          "mean": "normal", "std": "normal", "low": "uniform", "high": "uniform"}
__all__ = ["Histogram", "MomentRow", "Sample", "Span", "check_parameters", "check_shape", "draw", "histogram", "moments"]


@dataclass(frozen=True)
class CategoryRow:
    """One multinomial category: how often it was drawn against its share of the weights."""

    index: int
    weight: float
    count: int
    share: float
    weight_share: float


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


# ---------------------------------------------------------------- checks


def check_shape(dims: Sequence[int], shown: str | None = None) -> Shape:
    """A shape of positive whole numbers, not too large; `shown` is how it was written (for messages)."""
    shown = ",".join(str(d) for d in dims) if shown is None else shown
    if any(d < 1 for d in dims):
        raise GdcliError(f"shape {shown!r} has a dimension below 1", hint="every dimension must be at least 1, e.g. 4,4")
    if math.prod(dims) > MAX_ELEMENTS:
        raise GdcliError(f"shape {shown!r} has more than {MAX_ELEMENTS:,} elements", hint="choose a smaller shape")
    return tuple(dims)


def check_parameters(distribution: str, given: Sequence[str], shape_given: bool) -> None:
    """Refuse a parameter of another distribution (`given`: the parameters set), and a shape for multinomial."""
    for name in given:
        owner = OWNERS[name]
        if owner != distribution:
            raise GdcliError(f"{param(name)} applies to {owner} only, not {distribution}",
                             f"drop {param(name)}, or sample {owner}")
    if shape_given and distribution == "multinomial":
        hint = f"set how many indices each draw has with {param('num_samples')}"
        raise GdcliError(f"{param('shape')} does not apply to multinomial", hint=hint)


def draw(distribution: str, given: dict, shape: Shape | None = None, draws: int = 1, seed: int = 42) -> Sample:
    """Draw from `distribution` with its parameters `given` (typed; None: the default), as gdcli sample does."""
    check_parameters(distribution, [n for n, v in given.items() if v is not None and v is not False], shape is not None)
    value = {name: given.get(name) for name in OWNERS}
    if distribution == "bernoulli":
        return draw_bernoulli(_or(value["p"], 0.5), shape, draws, seed)
    if distribution == "normal":
        return draw_normal(_or(value["mean"], 0), _or(value["std"], 1), shape, draws, seed)
    if distribution == "uniform":
        return draw_uniform(_or(value["low"], 0.0), _or(value["high"], 1.0), shape, draws, seed)
    if value["weights"] is None:
        hint = f"for example: {param('weights')} 10,10,13,10,34 {param('num_samples')} 3"
        raise GdcliError(f"multinomial needs {param('weights')}", hint=hint)
    return draw_multinomial(value["weights"], _or(value["num_samples"], 1), bool(value["replacement"]), draws, seed)


def _or(value, default):
    return default if value is None else value


def _values(spec: Values | float) -> Values:
    """A parameter's values: a number becomes a list of one."""
    if isinstance(spec, Span):
        return spec
    return [float(v) for v in spec] if isinstance(spec, (list, tuple)) else [float(spec)]


def _tensor(values: list[float]) -> "torch.Tensor":
    """float32 tensor; a single value becomes a scalar so it broadcasts to any shape."""
    import torch

    return torch.tensor(values[0] if len(values) == 1 else values, dtype=torch.float32)


def _asked(values: list[float]) -> float | list[float]:
    return values[0] if len(values) == 1 else values


def _check(values: list[float], name: str, ok: Callable[[float], bool], rule: str, hint: str) -> None:
    bad = [v for v in values if not ok(v)]
    if bad:
        raise GdcliError(f"{param(name)} must be {rule}; got {bad[0]:g}", hint=hint)


def _target_shape(param_shapes: Sequence[Shape], shape: Shape | None, what: str) -> Shape:
    """The shape of one draw: the parameters broadcast together, and to the shape when given."""
    import torch

    shapes = [*param_shapes, *([shape] if shape else [])]
    do = "do" if " and " in what else "does"  # "--mean and --std do", "--p does"
    try:
        target = tuple(torch.broadcast_shapes(*shapes))
    except RuntimeError:
        raise GdcliError(
            f"{what} {do} not broadcast: shapes {', '.join(str(list(s)) for s in shapes)}",
            hint=f"give lists of equal length, a single value, or a {param('shape')} whose last dimension matches the list",
        ) from None
    if shape and target != shape:
        message = f"{what} of shape {list(target)} {do} not fit {param('shape')} {list(shape)}"
        raise GdcliError(message, hint=f"make {param('shape')} the full shape")
    return target


def _check_size(shape: Shape, draws: int) -> None:
    if draws < 1:
        raise GdcliError(f"{param('draws')} must be at least 1; got {draws}", f"for example {param('draws')} 1000")
    if math.prod(shape) * draws > MAX_ELEMENTS:
        from gdcli.text import plural

        raise GdcliError(
            f"{plural(draws, 'draw')} of shape {list(shape)} would be more than {MAX_ELEMENTS:,} values",
            hint=f"use fewer {param('draws')} or a smaller {param('shape')}",
        )


def _generator(seed: int) -> "torch.Generator":
    import torch

    if not 0 <= seed < 2**64:
        raise GdcliError(f"{param('seed')} must be between 0 and 2**64 - 1; got {seed}", f"for example {param('seed')} 42")
    return torch.Generator().manual_seed(seed)


def _repeat(draw_once: Callable[[], "torch.Tensor"], draws: int) -> "torch.Tensor":
    import torch

    # One call per draw, so the first draw is bit-identical to a single torch call with this seed.
    return torch.stack([draw_once() for _ in range(draws)])


# ---------------------------------------------------------------- distributions


def draw_bernoulli(p: Values | float | str = 0.5, shape: Shape | None = None, draws: int = 1, seed: int = 42) -> Sample:
    """0/1 draws with probability p: one, one per element, or "uniform" (p ~ U(0, 1) per draw, as in the notebook)."""
    import torch

    gen = _generator(seed)
    if p == "uniform":
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
        values = resolve({"p": _values(p)}, shape)["p"]
        P = param("p")
        _check(values, "p", lambda v: 0 <= v <= 1, "a probability in [0, 1]", f"write {P} 0.3, {P} 0.1,0.5,0.9 or {P} uniform")
        probs = _tensor(values)
        target = _target_shape([tuple(probs.shape)], shape, P)
        _check_size(target, draws)
        probs = probs.expand(target).contiguous()
        result = _repeat(lambda: torch.bernoulli(probs, generator=gen), draws)
        asked = {"p": _asked(values), "shape": list(target)}
        stats = moments(result, probs, probs * (1 - probs), per_element=len(values) > 1)
    counts = [int((result == 0).sum()), int((result == 1).sum())]
    return Sample("bernoulli", asked, seed, result, moments=stats, histogram=Histogram(["0", "1"], counts))


def draw_normal(mean: Values | float = 0.0, std: Values | float = 1.0, shape: Shape | None = None, draws: int = 1,
                seed: int = 42, bins: int = 10) -> Sample:
    """Normal draws with torch.normal's broadcasting of mean and std (each a number, list or range)."""
    import torch

    gen = _generator(seed)
    values = resolve({"mean": _values(mean), "std": _values(std)}, shape)
    M, S = param("mean"), param("std")
    finite, hint = (lambda v: abs(v) <= FLOAT32_MAX), f"write {M} 0.5, {M} 1,2,3 or {M} 1:10"
    _check(values["mean"], "mean", finite, f"a number within float32's range (±{FLOAT32_MAX:.4g})", hint)
    hint = "a standard deviation cannot be negative or NaN"
    _check(values["std"], "std", lambda v: 0 <= v <= FLOAT32_MAX, f"from 0 to float32's largest value ({FLOAT32_MAX:.4g})", hint)
    mu, sigma = _tensor(values["mean"]), _tensor(values["std"])
    target = _target_shape([tuple(mu.shape), tuple(sigma.shape)], shape, f"{M} and {S}")
    _check_size(target, draws)
    if mu.dim() == 0 and sigma.dim() == 0:
        # torch.normal(float, float, size) is its own code path; call it so the draws match it.
        m, s = values["mean"][0], values["std"][0]
        result = _repeat(lambda: torch.normal(m, s, size=target, generator=gen), draws)
    else:
        mu_t, sigma_t = mu.expand(target).contiguous(), sigma.expand(target).contiguous()
        result = _repeat(lambda: torch.normal(mu_t, sigma_t, generator=gen), draws)
    if not torch.isfinite(result).all():
        raise GdcliError("some draws overflow float32 (inf)", hint=f"use a smaller {M} or {S}")
    expected, sd = mu.expand(target), sigma.expand(target)
    stats = moments(result, expected, sd**2, per_element=mu.dim() > 0 or sigma.dim() > 0)
    asked = {"mean": _asked(values["mean"]), "std": _asked(values["std"]), "shape": list(target)}
    return Sample("normal", asked, seed, result, moments=stats, histogram=histogram(result, bins))


def draw_uniform(
    low: float = 0.0, high: float = 1.0, shape: Shape | None = None, draws: int = 1, seed: int = 42, bins: int = 10
) -> Sample:
    """Draws from U(low, high) via Tensor.uniform_."""
    import torch

    gen = _generator(seed)
    lo, hi = param("low"), param("high")
    if not (math.isfinite(low) and math.isfinite(high)) or high - low > FLOAT32_MAX:
        raise GdcliError(f"{lo} {low:g} and {hi} {high:g} must be finite and less than {FLOAT32_MAX:.3g} apart",
                         f"for example {lo} -1 {hi} 1")
    if low >= high:
        raise GdcliError(f"{lo} ({low:g}) must be below {hi} ({high:g})", hint=f"for example: {lo} 0 {hi} 1")
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
    weights: Values, num_samples: int = 1, replacement: bool = False, draws: int = 1, seed: int = 42
) -> Sample:
    """Category indices drawn with probability proportional to `weights`, with or without replacement."""
    import torch

    gen = _generator(seed)
    values = resolve({"weights": _values(weights)}, None)["weights"]
    _check_weights(values)
    _check_count(num_samples, replacement, sum(v > 0 for v in values))
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


def _check_weights(values: list[float]) -> None:
    W = param("weights")
    hint = "weights are relative frequencies, e.g. 10,10,13,34"
    _check(values, "weights", lambda v: 0 <= v <= FLOAT32_MAX, f"from 0 to float32's largest value ({FLOAT32_MAX:.4g})", hint)
    if sum(values) == 0:
        raise GdcliError(f"{W} are all zero: no category can be drawn", hint="give at least one positive weight")
    if sum(values) > FLOAT32_MAX or len(values) > 2**24:
        raise GdcliError(f"{W} are too many or too large for float32", hint="scale them down; only their ratios matter")


def _check_count(num_samples: int, replacement: bool, nonzero: int) -> None:
    N = param("num_samples")
    if num_samples < 1:
        raise GdcliError(f"{N} must be at least 1; got {num_samples}", f"for example {N} 10")
    # torch does not check this: it silently fills the rest with zero-weight categories.
    if not replacement and num_samples > nonzero:
        from gdcli.text import plural

        raise GdcliError(
            f"{N} {num_samples} is more than the {plural(nonzero, 'category', 'categories')} with a non-zero weight",
            hint=f"without replacement each category is drawn at most once: use {N} {nonzero} or less, "
            f"or {param('replacement')}",
        )
