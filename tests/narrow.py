"""Checks for tables printed at a given width: every number shown whole, or its cut marked with "…"."""

import io
import re

from rich.console import Console

WIDE = 100_000
NOTE = re.compile(r"not shown at this width: (.*?) \(widen")
# Words split at spaces, box rules and the punctuation around numbers in cells and notes.
TOKEN = re.compile(r"[^\s,;:()\[\]=│┃┏┓┗┛┡┩└┘┌┐├┤┬┴┼━─╇╋┳┻]+")


def render(parts, width: int) -> str:
    """Renderables printed as a terminal of this width prints them (no colour), lines never cropped."""
    console = Console(file=io.StringIO(), width=width, color_system=None, markup=False, highlight=False)
    for part in parts:
        console.print(part, crop=False)
    return console.file.getvalue()


def tokens(text: str) -> list[str]:
    """The words of a text that hold a digit: numbers, and labels with numbers in them."""
    return [t for t in TOKEN.findall(text) if any(c.isdigit() for c in t)]


def dropped(text: str) -> str:
    """What the notes under the tables say was left out at this width ('' where nothing was)."""
    return " ".join(NOTE.findall(" ".join(text.split())))


def assert_nothing_cut(wide: str, narrow: str, width: int) -> None:
    """Every line fits the width, and every number shown narrow is one shown wide, or marked cut with '…'."""
    assert all(len(line) <= width for line in narrow.splitlines()), narrow
    whole = set(tokens(wide))
    for token in tokens(narrow):
        if token.endswith("…"):
            assert any(w.startswith(token[:-1]) for w in whole), (token, narrow)
        else:
            assert token in whole, (token, width, narrow)
