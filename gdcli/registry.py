"""What every registry of gdcli shares: entries by name, in the order registered.

Activations, schedules, optimizers and gradient methods are each one dict of entries (an
entry carries everything about its thing, under its `name`). These helpers give each the
same `register`, `unregister` and a lookup that names the registered entries when a name
is unknown, and live views for the names that help and validation list (an entry
registered after import is listed too). Pure Python: the CLI reads registries without torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Iterator, TypeVar

from gdcli.errors import GdcliError

T = TypeVar("T")


def add(registry: dict[str, T], entry: T, kind: str) -> T:
    """Put `entry` in `registry` under its name; a missing or taken name is a ValueError, as is one
    that the command line could not give (a comma or a colon separates names in lists and pairs)."""
    name = getattr(entry, "name", "")
    if not name or not isinstance(name, str) or name in registry:
        raise ValueError(f"every {kind} needs a new name, got {name!r} (registered: {', '.join(registry)})")
    if any(c in ",:=" or c.isspace() for c in name) or name.startswith("-"):
        raise ValueError(f"a {kind}'s name is one word without commas, colons or '=', not starting with '-', got {name!r}")
    registry[name] = entry
    return entry


def remove(registry: dict[str, T], entry) -> None:
    """Take an entry away, given by its name or as itself; one that is not registered is left alone."""
    name = entry if isinstance(entry, str) else getattr(entry, "name", None)
    if isinstance(name, str) and (isinstance(entry, str) or registry.get(name) is entry):
        registry.pop(name, None)


def lookup(registry: Mapping[str, T], name: str, kind: str) -> T:
    """The entry called `name`; an unknown name is a GdcliError listing the registered ones."""
    try:
        return registry[name]
    except (KeyError, TypeError):
        raise GdcliError(f"unknown {kind} {name!r}", f"choose one of {', '.join(registry)}") from None


class Names(Sequence):
    """The registry's names, as a tuple would give them, read at every use."""

    def __init__(self, registry: Mapping[str, Any]) -> None:
        self._registry = registry

    def __getitem__(self, index):
        return tuple(self._registry)[index]

    def __len__(self) -> int:
        return len(self._registry)

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(self._registry))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._registry

    def __repr__(self) -> str:
        return repr(tuple(self))


class Field(Mapping):
    """name -> one attribute of each entry (a schedule's `takes`), read at every use."""

    def __init__(self, registry: Mapping[str, Any], attribute: str) -> None:
        self._registry, self._attribute = registry, attribute

    def __getitem__(self, name: str):
        return getattr(self._registry[name], self._attribute)

    def __len__(self) -> int:
        return len(self._registry)

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(self._registry))

    def __repr__(self) -> str:
        return repr(dict(self))
