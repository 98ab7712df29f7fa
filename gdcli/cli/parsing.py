"""Option text into typed values: sweep's grids (`--lr 1e-3:1e-1 --num 5`, `--seeds 1:5`, comma lists)
and compare's strategies (`--methods a,b`, `--run METHOD:OPTIM`).

Only the command line reads these texts, so only it words their mistakes with flags; the core
(gdcli.grid, gdcli.comparison) takes the lists these functions return.
"""

from __future__ import annotations

import math

from gdcli.config import MAX_SEED
from gdcli.errors import GdcliError
from gdcli.grid import MAX_RUNS
from gdcli.text import number

# A value each grid option accepts, for its hints.
EXAMPLES = {"--lr": "0.01", "--momentum": "0.9", "--batch-size": "32"}


def _number(text: str, option: str) -> float:
    try:
        value = number(text)
    except ValueError:
        raise GdcliError(f"{option} {text!r} is not a number", f"for example {option} {EXAMPLES[option]}") from None
    if not math.isfinite(value):
        raise GdcliError(f"{option} {text!r} is not finite", "give finite numbers")
    return value


def _items(text: str, option: str) -> list[str]:
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in items):
        raise GdcliError(f"{option} {text!r} has an empty entry", f"give a comma list such as {option} 1,2,3")
    return items


def lr_list(text: str, num: int | None) -> list[float]:
    """Learning rates: "a:b" is `num` (default 10) log-spaced values from a to b, "a,b,c" a list."""
    if text.count(":") > 1:
        raise GdcliError(f"--lr {text!r} has more than one ':'", "write LOW:HIGH and give the count with --num")
    if ":" not in text:
        if num is not None:
            raise GdcliError("--num applies to a LOW:HIGH range of learning rates", f"write --lr LOW:HIGH --num {num}, or drop --num")
        values = [_number(t, "--lr") for t in _items(text, "--lr")]
        if any(v <= 0 for v in values):
            raise GdcliError(f"--lr {text!r}: learning rates must be positive", "for example --lr 0.001,0.01,0.1")
        return values
    lo_text, _, hi_text = text.partition(":")
    return _lr_range(text, lo_text, hi_text, 10 if num is None else num)


def _lr_range(text: str, lo_text: str, hi_text: str, num: int) -> list[float]:
    """`num` learning rates log-spaced from LOW to HIGH, both included."""
    if not 2 <= num <= MAX_RUNS:
        hint = f"for one learning rate write --lr {_example_lr(lo_text)}; for a range, --num 2 or more"
        raise GdcliError(
            f"--num must be from 2 to {MAX_RUNS:,} for a range, got {num:,}",
            hint if num < 2 else f"use --num {MAX_RUNS} or fewer, for example --num 20",
        )
    lo, hi = _number(lo_text, "--lr"), _number(hi_text, "--lr")
    if lo <= 0 or hi <= 0:
        raise GdcliError(f"--lr {text!r}: learning rates must be positive", "for example --lr 1e-4:1e-1")
    if lo >= hi:
        hint = f"write it low:high, --lr {hi_text}:{lo_text}" if lo > hi else f"for one learning rate write --lr {lo_text}"
        raise GdcliError(f"--lr {text!r} is {'a reversed' if lo > hi else 'an empty'} range", hint)
    step = (math.log(hi) - math.log(lo)) / (num - 1)
    # Twelve significant digits: 1e-4:1e-1 gives 0.001, not 0.0009999999999999998.
    inner = [float(f"{math.exp(math.log(lo) + i * step):.12g}") for i in range(1, num - 1)]
    return [lo] + inner + [hi]


def _example_lr(text: str) -> str:
    """The user's own learning rate where it is a usable one, else 0.01."""
    try:
        value = number(text)
    except ValueError:
        return "0.01"
    return text.strip() if math.isfinite(value) and value > 0 else "0.01"


def seed_list(text: str) -> list[int]:
    """Seeds: "a:b" is every integer from a to b inclusive, "a,b,c" a list."""
    def integer(t: str) -> int:
        try:
            return int(t)
        except ValueError:
            raise GdcliError(f"--seeds {t!r} is not an integer", "for example --seeds 0:9") from None

    if ":" in text:
        lo_text, _, hi_text = text.partition(":")
        lo, hi = integer(lo_text.strip()), integer(hi_text.strip())
        if lo > hi:
            raise GdcliError(f"--seeds {text!r} is a reversed range", f"write it low:high, --seeds {hi}:{lo}")
        if hi - lo + 1 > MAX_RUNS:
            raise GdcliError(
                f"--seeds {text!r} gives {hi - lo + 1:,} seeds; a sweep holds at most {MAX_RUNS:,} runs",
                f"for example --seeds {lo}:{lo + 9}",
            )
        found = list(range(lo, hi + 1))
    else:
        found = [integer(t) for t in _items(text, "--seeds")]
    if any(not 0 <= s <= MAX_SEED for s in found):
        raise GdcliError(f"--seeds {text!r}: seeds must lie in [0, {MAX_SEED}]", "for example --seeds 0:9")
    if len(set(found)) != len(found):
        raise GdcliError(f"--seeds {text!r} lists a seed twice", "list each seed once")
    return found


def number_list(text: str, option: str, kind=float) -> list:
    """A comma list of numbers for --momentum or --batch-size."""
    values = [_number(t, option) for t in _items(text, option)]
    if kind is int:
        if any(v != int(v) for v in values):
            raise GdcliError(f"{option} {text!r} must hold whole numbers", f"for example {option} 1,4,16")
        values = [int(v) for v in values]
    return values


def grid_lists(*, lr: str | None, num: int | None, seeds: str | None, momentum: str | None,
               batch_size: str | None) -> dict[str, list | None]:
    """Each grid option's text as its list of values (None: not given), as gdcli.grid.grid takes them."""
    return {
        "lr": lr_list(lr, num) if lr is not None else None,
        "momentum": number_list(momentum, "--momentum") if momentum is not None else None,
        "seeds": seed_list(seeds) if seeds is not None else None,
        "batch_size": number_list(batch_size, "--batch-size", int) if batch_size is not None else None,
    }


def sweep_lists(*, lr: str | None, num: int | None, seeds: str | None, seed_given: bool, momentum: str | None,
                batch_size: str | None) -> dict[str, list | None]:
    """sweep's grid options as lists, refusing first what the options say together (--seed with --seeds,
    --num without a range)."""
    from gdcli import grid as sw

    sw.check_seed_options(seeds is not None, seed_given)
    if lr is None and num is not None:
        raise GdcliError("--num applies to a LOW:HIGH range of learning rates", "write --lr LOW:HIGH --num N")
    return grid_lists(lr=lr, num=num, seeds=seeds, momentum=momentum, batch_size=batch_size)


def strategies(methods: list[str], optims: list[str], runs: list[str]) -> tuple[list[str], list[str], list]:
    """compare's --methods and --optims (comma lists, repeatable) and --run METHOD:OPTIM entries, as
    (methods, optims, pairs) for gdcli.comparison."""
    from gdcli import comparison as cmp

    cmp.check_one_way(bool(runs), bool(methods or optims))
    pairs = []
    for text in runs:
        method, sep, optim = text.partition(":")
        if not sep:
            raise GdcliError(f"--run {text!r} is not METHOD:OPTIM", "for example --run autograd:adam")
        pairs.append((method.strip(), optim.strip()))
    return _split(methods, "--methods"), _split(optims, "--optims"), pairs


def _split(values: list[str], option: str) -> list[str]:
    """Names from a repeatable option whose every value may be a comma list."""
    items = [item.strip() for text in values for item in text.split(",")]
    if any(not item for item in items):
        from gdcli.gradients import METHODS

        example = ",".join(METHODS) if option == "--methods" else "gd,adam"
        raise GdcliError(f"{option} {','.join(values)!r} has an empty entry", f"for example {option} {example}")
    return items


def surface_params(text: str | None) -> tuple[str, str] | None:
    """--surface-params NAME,NAME as two names (commas inside brackets, as in weight[3, 0], kept)."""
    from gdcli.surfaces.names import EXAMPLE, split

    if text is None:
        return None
    names = [n.strip() for n in split(text)]
    if len(names) != 2 or not all(names):
        raise GdcliError(f"--surface-params {text!r} does not name two parameters",
                         f"give two names separated by a comma, for example --surface-params {EXAMPLE}")
    return names[0], names[1]
