"""Which files a folder of parts (or a glob) holds, as Spark, Dask and pyarrow write them: `listing`.

A folder is walked recursively (hive folders such as year=2024/ included); hidden and
underscore names (`_SUCCESS`, `_metadata`, `.part-0.crc`, `_temporary/`), `.crc` files and
empty files are skipped, and so is any file no reader's suffix names (a README). A glob
takes every file it matches (a folder it matches, walked), whatever its suffix. Parts come
in natural path order (part.2 before part.10, as Dask numbers them), must all be one kind
(CSV and gzip CSV mix), and must name the same columns, in any order.
pyarrow is imported inside functions: the CLI must start fast.
"""

from __future__ import annotations

import functools
import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from gdcli.errors import GdcliError, param
from gdcli.readers import csvrules, parquet, registry
from gdcli.readers.csvrules import GZIP_ERRORS, Gzipped
from gdcli.text import one_of, plural


@dataclass(frozen=True)
class Parts:
    """The parts of one dataset path, in reading order, with what is known of them without reading rows."""

    source: str  # the folder or glob as given: "data/", "data/*.parquet"
    folder: str  # the folder listed, or the glob's leading folder: "data"
    paths: tuple[Path, ...]
    names: tuple[str, ...]  # how messages name each part: "data/part-00003.csv"
    kind: str  # "CSV" (plain and gzip alike) or "Parquet", or another registered reader's name
    header: tuple[str, ...]  # the first part's column names (every part has these, in some order)
    rows: tuple[Optional[int], ...]  # each part's row count where its metadata says it (Parquet), else None
    row_groups: tuple[Optional[int], ...]  # each Parquet part's row groups (a unit of parallel reading)

    @property
    def n_rows(self) -> Optional[int]:
        """Rows in all the parts, where every part's count is known without reading (Parquet)."""
        return None if any(n is None for n in self.rows) else sum(self.rows)

    @property
    def description(self) -> str:
        """What the parts are, for `gdcli datasets`: "3 Parquet parts in data/"."""
        matched = "matching" if glob.has_magic(self.source) else "in"
        return f"{plural(len(self.paths), self.kind + ' part')} {matched} {self.source}"


def claims(name: str) -> bool:
    """Whether a dataset path names parts: a folder, or a glob (a name with * ? or [ that is no file)."""
    return os.path.isdir(name) or (glob.has_magic(name) and not os.path.lexists(name))


def found(name: str) -> bool:
    """Whether a path is there: a file or folder, or a glob that matches something."""
    return os.path.exists(name) or (glob.has_magic(name) and bool(glob.glob(name, recursive=True)))


def listing(path: str | os.PathLike) -> Parts:
    """The parts of a folder or glob, checked: at least one, one kind, the same columns; raises GdcliError."""
    source = str(path)
    if os.path.isdir(source):
        folder, chosen = source, _walk(source, source)
        if not chosen:
            _refuse_empty_folder(source)
    else:
        folder = _leading_folder(source)
        chosen = _matches(source)
        if not chosen:
            raise GdcliError(
                f"no data file matches {source!r} (hidden, _ and .crc files aside)",
                f"check the pattern passed to {param('dataset')}, and quote it so that the shell leaves it to gdcli",
            )
    names = [name for name, _ in chosen]
    kind = _one_kind(names, source, folder)
    facts = [_known_facts(name) for name in names]
    header = facts[0][0]
    for name, (columns, _, _) in zip(names[1:], facts[1:]):
        _check_same(columns, header, name, names[0])
    return Parts(source, folder, tuple(Path(n) for n in names), tuple(names), kind, header,
                 tuple(f[1] for f in facts), tuple(f[2] for f in facts))


def _skipped(name: str) -> bool:
    """Whether a file or folder name is bookkeeping, not data: hidden, underscore, a checksum."""
    return name.startswith((".", "_")) or name.lower().endswith(".crc")


def _natural(text: str) -> tuple:
    """A sort key that orders the numbers in a name by value: part.2 before part.10."""
    return tuple((0, int(piece), "") if piece.isdigit() else (1, 0, piece) for piece in re.split(r"(\d+)", text) if piece)


def _key(entry: tuple[str, str]) -> tuple:
    """The natural order of a path, folder by folder."""
    return tuple(_natural(part) for part in Path(entry[1]).parts)


def _walk(folder: str, shown: str, every: bool = False) -> list[tuple[str, str]]:
    """(name for messages, path relative to `folder`) of each data file under `folder`, in natural order;
    `every`: files of any suffix too (a folder a glob matched is still a folder: data files only)."""
    found = []
    for top, folders, files in os.walk(folder):
        folders[:] = [f for f in folders if not _skipped(f)]
        for name in files:
            full = os.path.join(top, name)
            if _skipped(name):
                continue
            if every or registry.known(name):
                _refuse_broken_link(full, os.path.join(shown, os.path.relpath(full, folder)))
            if not os.path.isfile(full) or not os.path.getsize(full):
                continue
            if every or registry.known(name):
                relative = os.path.relpath(full, folder)
                found.append((os.path.join(shown, relative), relative))
    return sorted(found, key=_key)


def _matches(pattern: str) -> list[tuple[str, str]]:
    """(name, name) of each data file a glob matches, a folder it matches walked, in natural order;
    bookkeeping under the glob's leading folder (data/_temporary/part-0.csv) is no match."""
    found, leading = [], _leading_folder(pattern)
    for match in glob.glob(pattern, recursive=True):
        if any(_skipped(part) for part in Path(os.path.relpath(match, leading)).parts if part not in (".", "..")):
            continue
        _refuse_broken_link(match, match)
        if os.path.isdir(match):
            found += [(name, name) for name, _ in _walk(match, match)]
        elif os.path.isfile(match) and os.path.getsize(match):
            found.append((match, match))
    return sorted(dict.fromkeys(found), key=_key)


def _refuse_broken_link(path: str, name: str) -> None:
    """A part that is a link to nothing is refused by name: left out, its rows would be missing unsaid."""
    if os.path.islink(path) and not os.path.exists(path):
        raise GdcliError(f"part {name} is a link to {os.readlink(path)}, which does not exist",
                         "restore what it links to, or remove the link")


def _leading_folder(pattern: str) -> str:
    """The folder a glob starts from: its components before the first with a wildcard ("." for none)."""
    plain = []
    for part in Path(pattern).parts[:-1]:
        if glob.has_magic(part):
            break
        plain.append(part)
    return os.path.join(*plain) if plain else "."


def _refuse_empty_folder(folder: str) -> None:
    """Name the folder with no data file, what was looked for, and the other files it holds."""
    others = _walk(folder, folder, every=True)
    looked = f"looked for {one_of(registry.suffixes())} files; hidden, _ and .crc files aside"
    hint = f"pass a folder of data files, a glob that matches them, or the path of {registry.kinds()} to {param('dataset')}"
    if others:
        first = others[0][0]
        looked += f"; it holds {plural(len(others), 'other file')}, such as {first!r}"
        suffix = Path(first).suffix
        if suffix:
            example = os.path.join(folder, f"*{suffix}")
            hint = f"to read the {suffix} files as CSV, pass a glob to {param('dataset')}: '{example}'"
    raise GdcliError(f"{folder!r} is a folder with no data file in it ({looked})", hint)


def _one_kind(names: list[str], source: str, folder: str) -> str:
    """The one kind of file the parts are; a mix (CSV and Parquet) is refused, naming one of each."""
    kinds: dict[str, str] = {}
    for name in names:
        reader = registry.reader_for(name)
        kinds.setdefault(reader.noun or reader.name, name)
    if len(kinds) > 1:
        (a, first), (b, second) = list(kinds.items())[:2]
        raise GdcliError(
            f"{source!r} mixes kinds of part: {first!r} is {a}, {second!r} is {b}",
            "keep one kind of part in a dataset, or pass a glob that matches one kind, such as "
            f"'{os.path.join(folder, '*' + Path(first).suffix)}'",
        )
    return next(iter(kinds))


def _known_facts(name: str) -> tuple[tuple[str, ...], Optional[int], Optional[int]]:
    """A part's `_facts`, read once a process while the file stays as it was: a fit lists its parts
    several times (deciding held or streamed, loading, each pass's parts), each a read of every footer."""
    stat = os.stat(name)
    return _facts_cached(name, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4096)
def _facts_cached(name: str, mtime_ns: int, size: int):
    return _facts(Path(name), name)


def _facts(path: Path, name: str) -> tuple[tuple[str, ...], Optional[int], Optional[int]]:
    """(column names, rows, row groups) of one part without reading its rows; counts None where unknown."""
    reader = registry.reader_for(path)
    try:
        if reader is registry.PARQUET:
            with parquet._open(path) as f:
                meta = f.metadata
                return tuple(f.schema_arrow.names), meta.num_rows, meta.num_row_groups
        if reader in (registry.CSV, registry.GZIP_CSV):
            source = Gzipped(path) if reader is registry.GZIP_CSV else path
            with csvrules.text(source) as f:
                line, cells = next(csvrules.records(f, name), (0, None))
            return tuple(csvrules.check_header(line, cells, name, least=1)), None, None
        columns = reader.header(path, name)
        if columns is not None:
            return tuple(columns), None, None
    except GdcliError as err:
        problem = err
    except (OSError, UnicodeDecodeError, ValueError, *GZIP_ERRORS, *_arrow_errors()):
        problem = GdcliError(f"cannot read the column names of {name!r}", "check that it is a whole data file")
    # The whole read names the problem as for one file (a broken quote further on outranks a bad header).
    registry.read(path, name)
    raise problem


def _arrow_errors() -> tuple:
    import pyarrow as pa

    return (pa.ArrowException,)


def _check_same(columns: tuple[str, ...], header: tuple[str, ...], name: str, first: str) -> None:
    """Refuse a part whose column names are not the first part's (any order is taken)."""
    if sorted(columns) == sorted(header):
        return
    lacks = [c for c in header if c not in columns]
    adds = [c for c in columns if c not in header]
    said = [f"it lacks {', '.join(map(repr, lacks))}"] * bool(lacks) + [f"it adds {', '.join(map(repr, adds))}"] * bool(adds)
    raise GdcliError(
        f"{name} has other columns than {first}: {'; '.join(said) or 'it repeats a name'}",
        "every part needs the same column names (in any order): fix that part, or pass a glob that leaves it out",
    )
