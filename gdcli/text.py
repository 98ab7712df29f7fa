"""Small helpers for words in messages and tables."""


def plural(n: int, noun: str, many: str | None = None) -> str:
    """'1 epoch', '2 epochs', '1,000 rows': a count with its noun in the right number."""
    word = noun if n == 1 else many or noun + "s"
    return f"{n:,} {word}"
