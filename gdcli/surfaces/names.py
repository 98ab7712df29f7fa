"""The names a surface's axes go by: every parameter value by its torch.nn name (`weight[0, 0]`,
`hidden_linear.bias[3]`), with the shorthands a user types (`hidden_linear.weight[3]` for a
one-column weight, `weight[1]` for weight[0, 1] of a line with one target, `output_linear.bias`
for a one-value bias) and the model's own labels. A tensor of several values named whole is
refused with the values to pick from."""

from __future__ import annotations

import itertools
import re

from gdcli.errors import GdcliError, param

# Before the model is known (a name's text alone is wrong): a line's pair and a network's.
EXAMPLE = "weight[0],bias (a line's) or hidden_linear.weight[3],output_linear.bias (a network's)"


def canonical(model) -> list[str]:
    """Each parameter value's torch.nn name, in the flat order of theta."""
    names = []
    for p in model.parameters():
        names += [f"{p.name}[{', '.join(map(str, i))}]" for i in itertools.product(*map(range, p.shape))]
    return names


def _key(name: str) -> str:
    return "".join(name.split())


def aliases(model, features: tuple[str, ...], targets: tuple[str, ...]) -> dict[str, int]:
    """Every name a parameter value may be given by (spaces ignored) -> its flat index; a name
    that would fit two values is left out."""
    found: dict[str, set[int]] = {}
    labels = model.labels(features, targets)
    flat = 0
    for p in model.parameters():
        for index in itertools.product(*map(range, p.shape)):
            names = {f"{p.name}[{','.join(map(str, index))}]", labels[flat], _squeezed(p, index)}
            # Trailing dimensions of size one may be left out: weight[3] of an (8, 1) weight.
            for cut in range(len(p.shape) - 1, -1, -1):
                if any(size != 1 for size in p.shape[cut:]):
                    break
                names.add(f"{p.name}[{','.join(map(str, index[:cut]))}]" if cut else p.name)
            for name in names:
                found.setdefault(_key(name), set()).add(flat)
            flat += 1
    return {name: next(iter(at)) for name, at in found.items() if len(at) == 1}


def _squeezed(p, index: tuple) -> str:
    """A value's name with every dimension of size one left out: weight[1] of a (1, k) weight (one
    target), the bare name of a one-value tensor."""
    kept = [str(i) for i, size in zip(index, p.shape) if size != 1]
    return f"{p.name}[{','.join(kept)}]" if kept else p.name


def pair(given) -> tuple[str, str]:
    """surface_params as two names: a (name, name) pair, or one "name,name" text."""
    if isinstance(given, str):
        given = split(given)
    if not (isinstance(given, (list, tuple)) and len(given) == 2 and all(isinstance(n, str) for n in given)):
        raise GdcliError(f"{param('surface_params')} takes two parameter names, got {given!r}",
                         f"for example {EXAMPLE}")
    if not all(n.strip() for n in given):
        raise GdcliError(f"{param('surface_params')} {','.join(given)!r} has an empty name", f"for example {EXAMPLE}")
    return given[0].strip(), given[1].strip()


def split(text: str) -> list[str]:
    """A "name,name" text split at its commas outside brackets (weight[3, 0] keeps its comma)."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return parts + [current]


def resolve(model, features: tuple[str, ...], targets: tuple[str, ...], given) -> tuple[int, int]:
    """The flat indexes of the two parameters named (GdcliError, with a near miss, for a name the model
    lacks, and with the values to pick from for a name of several)."""
    first, second = pair(given)
    known = aliases(model, features, targets)
    names = canonical(model)
    for name in (first, second):
        if _key(name) not in known:
            _refuse(model, known, names, name, (first, second))
    found = known[_key(first)], known[_key(second)]
    if found[0] == found[1]:
        raise GdcliError(f"{param('surface_params')} names {names[found[0]]} twice",
                         "name two different parameters, one per axis")
    return found


def _refuse(model, known: dict, names: list[str], name: str, given: tuple[str, str]) -> None:
    """Refuse a name that is no single value of the model's: one that holds several, or none."""
    from gdcli.text import near

    several = _values(model, name)
    if len(several) > 1:
        shortest, used = _shortest(model, known), set()
        picks = [_pick(model, known, shortest, n, used) for n in given]
        raise GdcliError(
            f"{param('surface_params')}: {name} holds {len(several)} values of {model.called()}, and an axis "
            "is one value",
            f"name one of them, {shortest[several[0]]} to {shortest[several[-1]]}: for example {','.join(picks)}",
        )
    meant = near(name, names)
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    raise GdcliError(
        f"{param('surface_params')}: {model.called()} has no parameter {name!r}"
        + (f" (did you mean {meant}?)" if meant else ""),
        f"name two of its {len(names)} parameters: {shown}",
    )


def _values(model, name: str) -> list[int]:
    """The flat indexes of the values a tensor's name, or its name with fewer indexes than it has
    dimensions, covers (with every dimension of size one left out, or none): [] for anything else."""
    match = re.fullmatch(r"(.+?)(?:\[([\d,]*)\])?", _key(name))
    if match is None or (match[2] is not None and not all(match[2].split(","))):
        return []
    given = tuple(int(i) for i in match[2].split(",")) if match[2] else ()
    covered, flat = [], 0
    for p in model.parameters():
        for index in itertools.product(*map(range, p.shape)):
            squeezed = tuple(i for i, size in zip(index, p.shape) if size != 1)
            if p.name == match[1] and any(len(given) < len(full) and full[:len(given)] == given
                                          for full in (index, squeezed)):
                covered.append(flat)
            flat += 1
    return covered


def _shortest(model, known: dict) -> dict[int, str]:
    """Each value's shortest torch.nn name that gdcli takes (weight[1] for weight[0, 1] of one target)."""
    tensors = tuple(p.name for p in model.parameters())
    shortest: dict[int, str] = {}
    for name, flat in known.items():
        if name.startswith(tensors) and (flat not in shortest or (len(name), name) < (len(shortest[flat]),
                                                                                    shortest[flat])):
            shortest[flat] = name
    return {flat: name.replace(",", ", ") for flat, name in shortest.items()}  # spaced, as canonical


def _pick(model, known: dict, shortest: dict, name: str, used: set) -> str:
    """A name as given, or, where it holds several values, the first of them not yet picked."""
    several = [flat for flat in _values(model, name) if flat not in used] if _key(name) not in known else []
    if not several:
        return name
    used.add(several[0])
    return shortest[several[0]]
