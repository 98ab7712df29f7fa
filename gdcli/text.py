"""Small helpers for words and numbers in messages, tables and options."""

import re

# A number as gdcli reads it anywhere (a CSV cell, --init, --lr lists, predict's
# values): plain ASCII decimal or scientific notation, or nan/inf (refused later
# where they make no sense). Python's float() would also take "1_000" and
# non-ASCII digits, which no CSV or shell user means as numbers.
NUMBER = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|nan|inf|infinity)", re.IGNORECASE)


def number(text: str) -> float:
    """`text` as a float under gdcli's one number grammar; ValueError for anything else."""
    stripped = text.strip(" \t")
    if NUMBER.fullmatch(stripped) is None:
        raise ValueError(f"not a number: {text!r}")
    return float(stripped)


def plural(n: int, noun: str, many: str | None = None) -> str:
    """'1 epoch', '2 epochs', '1,000 rows': a count with its noun in the right number."""
    word = noun if n == 1 else many or noun + "s"
    return f"{n:,} {word}"


def per_epoch(seconds: float) -> str:
    """A time per epoch in the unit that reads best: '41.0 us/epoch', '12.3 ms/epoch', '1.60 s/epoch'."""
    if seconds < 0.01:
        return f"{seconds * 1e6:.1f} us/epoch"
    if seconds < 10:
        return f"{seconds * 1e3:.1f} ms/epoch" if seconds < 1 else f"{seconds:.2f} s/epoch"
    return f"{seconds:.0f} s/epoch"


def one_of(keys, last: str = "or") -> str:
    """Choices as a phrase: "a, b or c" (or "a, b and c")."""
    keys = [str(k) for k in keys]
    return keys[0] if len(keys) == 1 else f"{', '.join(keys[:-1])} {last} {keys[-1]}"


def near(given: str, names) -> str | None:
    """The name a near miss meant: the one name that `given` begins ("exp": exponential), else the
    closest by spelling ("lin": linear, "Adam": adam), else None."""
    import difflib

    names = [str(n) for n in names]
    typed = str(given).strip().lower()
    begun = [n for n in names if typed and n.lower().startswith(typed)]
    if len(begun) == 1:
        return begun[0]
    close = difflib.get_close_matches(typed, names, n=1, cutoff=0.5)
    return close[0] if close else None
