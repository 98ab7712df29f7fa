"""Which columns of a data file a run uses: its inputs and targets, and those left out, with why.

A pure function of the header (`choose`): the columns named (inputs, targets, drop), the
columns that hold text (found by the readers from the first rows), and gdcli's guess at an
identifier column (`id`, `user_id`, `userId`, `index`, pandas' unnamed index) that would
otherwise become an input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from gdcli.errors import GdcliError, param

# Why a column is left out, as messages, the header and JSON say it.
IDENTIFIER = "looks like an identifier"
TEXT = "holds text"
DROPPED = "dropped"
UNCHOSEN = "not an input"
_ID_NAMES = {"id", "ID", "Id", "index", "Unnamed: 0", "__index_level_0__"}  # the last: pandas in Parquet


@dataclass(frozen=True)
class Choice:
    """The columns a run uses, in the order it uses them, and those left out with the reason."""

    inputs: tuple[str, ...]
    targets: tuple[str, ...]
    left_out: dict[str, str] = field(default_factory=dict)

    @property
    def used(self) -> list[str]:
        """Every column read as a number, each once, in the order of the header they were chosen from."""
        return list(dict.fromkeys(self.inputs + self.targets))


def looks_like_id(name: str, position: int) -> bool:
    """Whether a column's name says it numbers the rows rather than measures them."""
    if position == 0 and not name.strip():
        return True  # pandas' to_csv writes its 0..n-1 index as an unnamed first column
    return name in _ID_NAMES or name.lower().endswith("_id") or (name.endswith("Id") and name[:1].islower())


def names(values: Sequence[str]) -> tuple[str, ...]:
    """Column names as given, a comma list split ("a,b" -> a, b), blanks around each trimmed."""
    return tuple(part.strip() for value in values for part in str(value).split(",") if part.strip())


def choose(
    header: Sequence[str],
    where: str,
    *,
    inputs: Sequence[str] = (),
    targets: Sequence[str] = (),
    drop: Sequence[str] = (),
    text: Mapping[str, str] | None = None,
) -> Choice:
    """The inputs, targets and left-out columns of a file with this header.

    `text` maps each column that holds text to the message that names its first non-number. Without `inputs`, every numeric column but the targets, those dropped and those
    that look like an identifier is an input; the targets default to the last column not left out.
    """
    text = dict(text or {})
    inputs, drop, targets = names(inputs), names(drop), tuple(targets)
    for option, given in (("inputs", inputs), ("drop", drop)):
        twice = next((name for i, name in enumerate(given) if name in given[:i]), None)
        if twice is not None:
            raise GdcliError(f"{param(option)} names {twice!r} twice", f"name each column once in {param(option)}")
    _known(header, where, targets, inputs, drop)
    _apart(inputs, targets, drop)
    left_out = {name: DROPPED for name in drop}
    if not inputs:
        for position, name in enumerate(header):
            if name not in left_out and name not in targets and looks_like_id(name, position):
                left_out[name] = IDENTIFIER
    if not targets:
        rest = [name for name in header if name not in left_out and name not in inputs]
        if not rest:
            raise GdcliError(f"no column of {where} is left to be the target",
                             f"name the target with {param('target')}, or leave fewer columns out")
        numeric = [name for name in rest if name not in text]
        targets = ((numeric or rest)[-1],)  # a text column only where no other is left: refused below
    unused = [n for n in header if n in text and n not in left_out and n not in inputs and n not in targets]
    chosen = inputs or tuple(n for n in header if n not in left_out and n not in targets and n not in unused)
    if not chosen and unused:  # only text columns are left to be inputs: named by the first one's first non-number
        others = f" ({', '.join(unused[1:])} too)" if len(unused) > 1 else ""
        raise GdcliError(text[unused[0]], f"no numeric column is left to be an input{others}: encode it as numbers "
                                          f"first, or name the inputs with {param('inputs')}")
    left_out.update(dict.fromkeys(unused, TEXT))
    for name in header:
        if name not in chosen and name not in targets and name not in left_out:
            left_out[name] = UNCHOSEN
    _check_used(chosen, targets, text, header)
    return Choice(chosen, targets, {n: left_out[n] for n in header if n in left_out})


def _known(header: Sequence[str], where: str, targets, inputs, drop) -> None:
    """Refuse a name that is not a column of the file: name it, list the columns, suggest a near miss."""
    from gdcli.text import near

    columns = set(header)  # a set: a wide file's names are looked up in linear work
    for t in targets:
        if t not in columns:
            parts = [p.strip() for p in t.split(",")]
            several = len(parts) > 1 and all(p in columns for p in parts)  # "y1,y2": one name per target
            raise GdcliError(
                f"target column {t!r} is not in {where}",
                f"name the {len(parts)} targets one by one ({', '.join(parts)}), not as one name with commas"
                if several else f"choose {param('target')} from its columns: {', '.join(header)}",
            )
    for option, given in (("inputs", inputs), ("drop", drop)):
        for name in given:
            if name not in columns:
                meant = near(name, header)
                guess = f" (did you mean {meant!r}?)" if meant else ""
                raise GdcliError(f"{param(option)} names {name!r}, which is not a column of {where}{guess}",
                                 f"choose from its columns: {', '.join(header)}")


def _apart(inputs, targets, drop) -> None:
    """Refuse a column that is both an input and a target, or both used and dropped."""
    for name in inputs:
        if name in targets:
            raise GdcliError(f"column {name!r} is both an input ({param('inputs')}) and a target ({param('target')})",
                             f"name it in one of {param('inputs')} and {param('target')}")
    for name in drop:
        if name in inputs or name in targets:
            option = param("inputs") if name in inputs else param("target")
            raise GdcliError(f"column {name!r} is both used ({option}) and left out ({param('drop')})",
                             f"remove it from {param('drop')} to use it, or from {option} to leave it out")


def _check_used(chosen, targets, text: Mapping[str, str], header) -> None:
    """Refuse a run without inputs, and a used column that holds text."""
    if not chosen and set(targets) == set(header):
        raise GdcliError("every column is a target, so no feature is left", f"name fewer {param('target')} columns")
    if not chosen:
        raise GdcliError("no column is left to be an input",
                         f"name the inputs with {param('inputs')}, or leave fewer columns out")
    for name in (*chosen, *targets):
        if name in text:
            instead = f"choose another {param('target')}" if name in targets else f"leave it out of {param('inputs')}"
            raise GdcliError(text[name], f"encode it as numbers first, or {instead}")
