"""Files gdcli reads and writes (run files, configs, PNGs): checks before the work, one atomic write after it.

`check_apart` refuses a command whose output would land on one of its inputs (`--save` over
the dataset) or on another of its outputs, comparing resolved paths; `check_source` refuses
an input that is no regular file before opening it (a FIFO would block).

`check_target` runs before training, so a bad `--save` or `--plot-file` fails in a second
rather than after a long run. `write_atomic` writes a temporary file in the target's folder
and renames it over the target, so the file appears whole or not at all; the result has
the mode a plain `open(path, "w")` would give it.

Both refuse anything at the target that is not a regular file. A rename replaces what is
there instead of writing through it: over a symbolic link it would replace the link (not
the file it points to), over /dev/null (as root) the device itself.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Callable, Union

from gdcli.errors import GdcliError, param

# What write_atomic accepts: the content itself, or a function that writes it to the path it is given.
Content = Union[str, bytes, Callable[[Path], None]]


def _show(path: Path | str) -> str:
    return repr(str(path))


def _not_regular(path: Path, st: os.stat_result, example: str | None = None) -> GdcliError | None:
    """The refusal for an existing target that is not a regular file, or None for a regular file."""
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return GdcliError(
            f"{_show(path)} is a symbolic link; gdcli replaces files atomically and will not replace a link",
            f"give the path the link points to instead: {os.path.realpath(path)}",
        )
    if stat.S_ISDIR(mode):
        inside = f", for example {Path(path, example)}" if example else ""
        return GdcliError(f"{_show(path)} is a folder", f"give a file name inside it{inside}")
    kind = (
        "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
        else "a socket" if stat.S_ISSOCK(mode)
        else "not a regular file"
    )
    return GdcliError(
        f"{_show(path)} is {kind}; gdcli writes only regular files, which it replaces atomically",
        "give the path of a regular file (new or existing)",
    )


STDIO = "-"  # standard input where gdcli reads, never a file name where it writes


def check_source(path: str | os.PathLike, what: str, hint: str) -> Path:
    """Raise GdcliError unless path is a regular file to read `what` (a run file, a config file) from.

    stat, not open: opening a FIFO would wait for a writer, reading a device might never end.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise GdcliError(f"{what} {_show(path)} not found", hint) from None
    except OSError as err:
        raise GdcliError(f"cannot read {what} {_show(path)} ({err.strerror or err})", hint) from None
    if stat.S_ISDIR(st.st_mode):
        raise GdcliError(f"{_show(path)} is a folder, not a {what}", hint)
    if not stat.S_ISREG(st.st_mode):
        raise GdcliError(f"{_show(path)} is not a regular file (a pipe, device or socket), so not a {what}", hint)
    return path


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file: the same inode (a hard link too), else the same resolved path.

    The resolved path (symbolic links followed, `./x` as `x`) decides where a file does not exist yet.
    """
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_apart(
    writes: dict[str, str | os.PathLike | None], reads: dict[str, str | os.PathLike | None], example: str | None = None
) -> None:
    """Raise GdcliError when a file a command writes is one it reads, or two of its writes are one file.

    Both map what the file is to the user (`param("save")`, "the --dataset file") to its path;
    None is no file. A path of "-" (standard input) is no file here: check_target refuses it
    as a target. Commands call this before any work, so nothing is overwritten.
    `example` is a file name for the hint (default: a sibling of the target).
    """
    targets = [(name, path) for name, path in writes.items() if path is not None and str(path) != STDIO]
    sources = [(name, path) for name, path in reads.items() if path is not None and str(path) != STDIO]
    for i, (name, path) in enumerate(targets):
        for other, source in sources:
            if same_file(path, source):
                raise GdcliError(
                    f"{name} {_show(path)} is also {other} ({_show(source)}): writing there would destroy it",
                    f"write to another file, for example {example or _example(path)}",
                )
        for other, earlier in targets[:i]:
            if same_file(path, earlier):
                raise GdcliError(
                    f"{other} and {name} both name {_show(path)}: one would overwrite the other",
                    f"give each its own file, for example {name} {_example(path)}",
                )


def _example(path: str | os.PathLike) -> str:
    """A sibling name for a hint: run.json -> run-new.json, v.csv.gz -> v-new.csv.gz."""
    path = Path(path)
    # Every suffix stays after the new stem: v.csv.gz -> v-new.csv.gz (a leading dot is no suffix).
    stem = path.name.lstrip(".")
    base, dot, suffixes = stem.partition(".")
    lead = path.name[: len(path.name) - len(stem)]
    return str(path.with_name(f"{lead}{base}-new{dot}{suffixes}"))


def rebase(path: str, folder: str | os.PathLike) -> str:
    """A path read from a file, as seen from the current folder: a relative one is relative to `folder`."""
    if os.path.isabs(path) or str(folder) in ("", "."):
        return path
    return os.path.join(folder, path)


def relative_to(path: str, folder: str | os.PathLike) -> str:
    """A path (relative to the current folder) as a file in `folder` stores it: relative to that folder,
    so that the two can move together; absolute where no relative path exists (another drive)."""
    if os.path.isabs(path):
        return path
    try:
        return os.path.relpath(os.path.abspath(path), os.path.abspath(folder))
    except ValueError:
        return os.path.abspath(path)


# The standard streams under their file names: writing there replaces no file, and the path a link
# such as /dev/stdout points to (a pipe of this process) is gone when the run ends.
_STREAMS = re.compile(r"/dev/std(in|out|err)|/dev/fd/[012]|/proc/(self|thread-self|\d+)/fd/[012]")


def _stream(path: str | os.PathLike) -> bool:
    """Whether `path` names one of this process's standard streams (/dev/stdout, /proc/self/fd/1, ...)."""
    text = os.path.normpath(str(path)) if str(path) else ""
    match = _STREAMS.fullmatch(text)
    return match is not None and match[2] in (None, "self", "thread-self", str(os.getpid()))


def check_not_stdio(path: str | os.PathLike, example: str, name: str = "the file to write") -> None:
    """Refuse "-" or a standard stream's name as a file to write: standard output carries the report,
    and a file named "-" is a trap. An empty name is refused as empty (Path("") would read as ".")."""
    if str(path) == "":
        raise GdcliError(f"{name} is empty", f"give a file name, for example {example}")
    if str(path) == STDIO or _stream(path):
        what = "'-'" if str(path) == STDIO else f"{_show(path)}, a standard stream"
        raise GdcliError(
            f"{name} is {what}: gdcli writes this file only to a path, never to standard output (which carries "
            "the report)",
            f"give a file name, for example {example}",
        )


def check_target(path: str | os.PathLike, example: str = "run.json") -> Path:
    """Raise GdcliError unless a file can be written at path; commands call it before any work.

    Refuses a missing or unwritable folder and anything at path that is not a regular file
    (folder, link, device, FIFO, socket) or that is read-only. The folder is tested by
    creating and removing a file in it: as root, os.access says yes even where a write fails.
    `example` is a file name for the hints.
    """
    check_not_stdio(path, example)
    path = Path(path)
    folder = path.parent
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        st = None  # the folder's turn below
    except OSError as err:
        raise GdcliError(f"cannot look at {_show(path)}: {err.strerror or err}", "check the path") from None
    if st is not None:
        refusal = _not_regular(path, st, example)
        if refusal is not None:
            raise refusal
        if not os.access(path, os.W_OK):
            raise GdcliError(f"{_show(path)} is read-only", f"make it writable (chmod u+w {path}), or write elsewhere")
    elif folder.exists() and not folder.is_dir():
        raise GdcliError(
            f"{_show(folder)} is a file, so {_show(path)} cannot be written inside it", f"write elsewhere than {path}"
        )
    elif not folder.is_dir():
        raise GdcliError(f"folder {_show(folder)} does not exist", f"create it first, or write elsewhere than {path}")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".gdcli-probe-")
    except OSError as err:
        raise GdcliError(
            f"cannot create files in folder {_show(folder)} ({err.strerror or err})",
            f"write to a folder you can write to, for example {example} in the current one",
        ) from None
    os.close(fd)
    os.unlink(probe)
    return path


def umask() -> int:
    """The process's umask, read without changing it where Linux allows (/proc/self/status)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    # Elsewhere: set and restore. Another thread creating a file in between would get 0o022.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, content: Content, fsync: bool = True) -> Path:
    """Write content to path whole or not at all: a temporary file in the same folder, then a rename.

    content is text (written as UTF-8), bytes, or a function called with the temporary file's
    path (its name keeps path's suffix, for writers that go by it, such as matplotlib's savefig).
    A new file gets mode 0o666 & ~umask, an existing one keeps its mode, as with open(path, "w").
    Anything at path that is not a regular file is refused, checked again just before the rename.
    OS errors become GdcliError; any other error from the writer propagates. Either way the
    temporary file is removed and path is left as it was.
    """
    path = Path(path)
    mode = _target_mode(path)
    try:
        # A short prefix: the temporary name must fit the file system's limit wherever path's does.
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem[:40]}.", suffix=f".tmp{path.suffix[:20]}")
    except OSError as err:
        raise _write_error(path, err) from None
    tmp = Path(name)
    try:
        if callable(content):
            os.close(fd)
            content(tmp)
            if fsync:
                _fsync_path(tmp)
        else:
            data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                if fsync:
                    f.flush()
                    os.fsync(f.fileno())
        os.chmod(tmp, mode)
        _target_mode(path)  # again: the target may have become a link or a device since the first look
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise _write_error(path, err) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _target_mode(path: Path) -> int:
    """The mode the written file gets: an existing regular file's own, else the default for a new file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return 0o666 & ~umask()
    except OSError as err:
        raise _write_error(path, err) from None
    refusal = _not_regular(path, st)
    if refusal is not None:
        raise refusal
    return stat.S_IMODE(st.st_mode)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_error(path: Path, err: OSError) -> GdcliError:
    return GdcliError(
        f"cannot write {_show(path)}: {err.strerror or err}",
        "check that the folder exists, is writable and has space, or write elsewhere",
    )


def check_picture_target(path: str | os.PathLike, setting: str, example: str, noun: str) -> Path:
    """Raise GdcliError unless matplotlib is installed and a file named like `example` (out.png,
    run.gif) can be written at path for `setting`."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise GdcliError(f"{param(setting)} needs matplotlib, which is not installed",
                         hint='install it with: pip install "matplotlib>=3.7"')
    check_not_stdio(path, example, param(setting))
    path, suffix = Path(path), Path(example).suffix
    if path.suffix.lower() != suffix:
        raise GdcliError(f"{param(setting)} {str(path)!r}: {noun} must end in {suffix}", hint=f"name it like {example}")
    return check_target(path, example=example)
