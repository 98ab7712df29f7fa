"""How much memory a new allocation may take, for data (generated rows) and stats (the solves) alike."""

from __future__ import annotations

import os

# Memory left aside when sizing an allocation: the process itself, torch, the heap's slack.
HEADROOM = 0.8


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux's MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


# Units a size may carry: decimal (GB = 1e9 bytes) and binary (GiB = 2^30 bytes); a bare number is bytes.
UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}
SIZE_FORMS = "bytes or a size with a unit: 4GB, 512MB, 1.5GiB or 2e9"


def parse_size(text: str) -> int:
    """Bytes of a size written as 4GB, 512MB, 1.5GiB, 2e9 (bytes); GdcliError naming the forms accepted."""
    import math
    import re

    from gdcli.errors import GdcliError, param

    found = re.fullmatch(r"\s*([0-9.]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
    unit = found.group(2).lower() if found else None
    if found is None or unit not in UNITS:
        raise GdcliError(f"{param('memory_limit')} {text!r} is not a size", f"give {SIZE_FORMS}")
    try:
        value = float(found.group(1)) * UNITS[unit]
    except ValueError:
        raise GdcliError(f"{param('memory_limit')} {text!r} is not a size", f"give {SIZE_FORMS}") from None
    if not math.isfinite(value):
        raise GdcliError(f"{param('memory_limit')} {text!r} is past any memory", f"give {SIZE_FORMS}")
    if value < 1:
        raise GdcliError(f"{param('memory_limit')} {text!r} must be at least one byte", f"give {SIZE_FORMS}")
    return int(value)


def size_text(size: float) -> str:
    """A size in decimal units for messages: "77 MB", "9.1 GB"."""
    for unit, factor in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= factor:
            return f"{size / factor:.2g} {unit}" if size / factor < 10 else f"{size / factor:.0f} {unit}"
    return f"{int(size)} byte" if int(size) == 1 else f"{int(size)} bytes"


def budget(limit: str | None) -> tuple[int | None, bool]:
    """(bytes training may use, whether the user set them): --memory-limit, else what is available x HEADROOM."""
    if limit is not None:
        return parse_size(limit), True
    have = available_memory()
    return (None if have is None else int(HEADROOM * have)), False
