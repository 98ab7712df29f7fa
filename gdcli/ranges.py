"""The values of a distribution's parameter (`gdcli sample`): a number, a list, or a range `a:b[:step]`.

Both front ends take a parameter's values as text too (the CLI's `--mean 1:10`, the API's
`mean="1:10"`), so the grammar lives here. A range includes both ends and reads like this:
  - `a:b:step`          from a towards b in steps of `step`;
  - `a:b`, integer ends  steps of +1 or -1, so `1:10` is 1, 2, ..., 10;
  - `a:b`, otherwise     evenly spaced from a to b, with as many values as the other parameter
                         (or the last dimension of the shape) has, so mean 1:10 with std 1:0.1 gives
                         the notebook's torch.arange(1., 11.) and torch.arange(1, 0, -0.1) exactly.
Messages name the parameter through gdcli.errors.param: the CLI shows it as its flag.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gdcli.errors import GdcliError, param
from gdcli.text import number

# Values a range may hold; beyond this the statistics and the json stop being quick.
MAX_VALUES = 1_000_000


@dataclass(frozen=True)
class Span:
    """A range `a:b[:step]` as typed; its values are known once its length is."""

    start: float
    stop: float
    step: float | None
    text: str

    @property
    def sized(self) -> bool:
        """Whether the range knows its own length: a step, or integer ends."""
        return self.step is not None or (self.start.is_integer() and self.stop.is_integer())


Values = list[float] | Span


def parse_number(text: str, what: str) -> float:
    """One float from text, or a GdcliError naming `what` (a parameter, e.g. `param("mean")`)."""
    try:
        return number(text.strip())
    except ValueError:
        hint = "write numbers like 0.5, -3 or 1e-3"
        raise GdcliError(f"{what}: {text.strip()!r} is not a number", hint=hint) from None


def parse_values(text: str, name: str) -> Values:
    """A number, a comma list or a range `a:b[:step]` (see the module docstring) for the parameter `name`."""
    if ":" in text:
        parts = text.split(":")
        if len(parts) not in (2, 3):
            raise GdcliError(f"{param(name)} {text!r} is not a range", hint="write a range as a:b or a:b:step, e.g. 1:10")
        start, stop = (parse_number(p, param(name)) for p in parts[:2])
        step = parse_number(parts[2], param(name)) if len(parts) == 3 else None
        return Span(start, stop, step, text)
    return [parse_number(part, param(name)) for part in text.split(",")]


def span_values(span: Span, length: int | None, name: str) -> list[float]:
    """The values of a range; `length` (from the other parameter or the shape) sizes a fractional one."""
    start, stop, step = span.start, span.stop, span.step
    shown = f"{param(name)} {span.text!r}"
    if not (math.isfinite(start) and math.isfinite(stop) and (step is None or math.isfinite(step))):
        raise GdcliError(f"{shown}: the ends and step of a range must be finite numbers",
                         "for example 0:1 (whole steps) or 0:1:0.25")
    if step is None and start.is_integer() and stop.is_integer():
        step = 1.0 if stop >= start else -1.0
    if step is None:
        if length is None:
            raise GdcliError(
                f"{shown}: cannot tell how many values this range has",
                hint=f"give a step (a:b:step), integer ends, or a {param('shape')} / other parameter with that many values",
            )
        step = (stop - start) / (length - 1) if length > 1 else 0.0
        count = length
    else:
        if step == 0 or (stop - start) * step < 0:
            raise GdcliError(f"{shown}: the step must be non-zero and point from a towards b",
                         "for example 0:1:0.25 counts up, 1:0:-0.25 counts down")
        # The small slack keeps the end when (b - a) / step is a whole number up to rounding.
        count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_VALUES:
        raise GdcliError(f"{shown} has more than {MAX_VALUES:,} values", hint="use a coarser step")
    # start + step * i is how torch.arange computes (in double), so 1:0.1 matches torch.arange(1, 0, -0.1).
    return [start + step * i for i in range(count)]


def resolve(specs: dict[str, Values], shape: tuple[int, ...] | None) -> dict[str, list[float]]:
    """Turn every range into numbers, sizing fractional ranges from the other parameters or the shape."""
    resolved = {name: spec if isinstance(spec, list) else span_values(spec, None, name)
                for name, spec in specs.items() if isinstance(spec, list) or spec.sized}
    lengths = [len(v) for v in resolved.values() if len(v) > 1]
    length = lengths[0] if lengths else (shape[-1] if shape else None)
    for name, spec in specs.items():
        if name not in resolved:
            resolved[name] = span_values(spec, length, name)
    return {name: resolved[name] for name in specs}
