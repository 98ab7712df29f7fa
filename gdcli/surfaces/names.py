"""The names a surface's axes go by: every parameter value by its torch.nn name (`weight[0, 0]`,
`hidden_linear.bias[3]`), with the shorthands a user types (`hidden_linear.weight[3]` for a
one-column weight, `output_linear.bias` for a one-value bias) and the model's own labels."""

from __future__ import annotations

import itertools

from gdcli.errors import GdcliError, param

EXAMPLE = "hidden_linear.weight[3],output_linear.bias"


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
            names = {f"{p.name}[{','.join(map(str, index))}]", labels[flat]}
            # Trailing dimensions of size one may be left out: weight[3] of an (8, 1) weight.
            for cut in range(len(p.shape) - 1, -1, -1):
                if any(size != 1 for size in p.shape[cut:]):
                    break
                names.add(f"{p.name}[{','.join(map(str, index[:cut]))}]" if cut else p.name)
            for name in names:
                found.setdefault(_key(name), set()).add(flat)
            flat += 1
    return {name: next(iter(at)) for name, at in found.items() if len(at) == 1}


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
    """The flat indexes of the two parameters named (GdcliError, with a near miss, for a name the model lacks)."""
    from gdcli.text import near

    first, second = pair(given)
    known = aliases(model, features, targets)
    names = canonical(model)
    found = []
    for name in (first, second):
        if _key(name) not in known:
            meant = near(name, names)
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            raise GdcliError(
                f"{param('surface_params')}: {model.called()} has no parameter {name!r}"
                + (f" (did you mean {meant}?)" if meant else ""),
                f"name two of its {len(names)} parameters: {shown}",
            )
        found.append(known[_key(name)])
    if found[0] == found[1]:
        raise GdcliError(f"{param('surface_params')} names {names[found[0]]} twice",
                         "name two different parameters, one per axis")
    return found[0], found[1]
