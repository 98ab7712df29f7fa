"""The one target check and the one atomic writer: modes, refusals, and nothing left behind."""

import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gdcli import files
from gdcli.errors import GdcliError

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def umask():
    """Set the process umask for one test; restored afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def within(seconds: float, func, *args):
    """func(*args) in a thread; fail (instead of hanging) if it blocks, as an open() of a FIFO would."""
    out = {}

    def target():
        try:
            out["value"] = func(*args)
        except BaseException as err:  # noqa: BLE001 - handed back to the test
            out["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{func.__name__} blocked"
    if "error" in out:
        raise out["error"]
    return out["value"]


# --- writing -------------------------------------------------------------------------------


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_the_mode_open_would_give(tmp_path, umask, mask, expected):
    umask(mask)
    assert files.umask() == mask
    path = files.write_atomic(tmp_path / "run.json", "{}\n")
    assert mode(path) == expected and path.read_text() == "{}\n"
    # the reference: what a plain open() makes under the same umask
    with open(tmp_path / "plain.txt", "w"):
        pass
    assert mode(tmp_path / "plain.txt") == expected


def test_an_existing_file_keeps_its_mode(tmp_path, umask):
    umask(0o022)
    path = tmp_path / "run.json"
    path.write_text("old")
    path.chmod(0o640)
    files.write_atomic(path, "new")
    assert path.read_text() == "new" and mode(path) == 0o640


def test_text_bytes_and_a_writer_function(tmp_path):
    assert files.write_atomic(tmp_path / "a.txt", "é\n").read_bytes() == "é\n".encode("utf-8")
    assert files.write_atomic(tmp_path / "b.bin", b"\x00\xff").read_bytes() == b"\x00\xff"
    seen = []

    def writer(tmp: Path) -> None:
        seen.append(tmp)
        tmp.write_bytes(b"png")

    files.write_atomic(tmp_path / "c.png", writer, fsync=False)
    assert (tmp_path / "c.png").read_bytes() == b"png"
    # the writer got a temporary file in the same folder, with the target's suffix
    assert seen[0].parent == tmp_path and seen[0].suffix == ".png" and seen[0].name.startswith(".c.")
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "b.bin", "c.png"]


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.png"
    path.write_bytes(b"old")

    def broken(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        files.write_atomic(path, broken)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.png"]


def test_an_os_error_while_writing_is_a_user_error(tmp_path):
    def full(tmp: Path) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(GdcliError, match="No space left") as err:
        files.write_atomic(tmp_path / "run.json", full)
    assert "run.json" in err.value.message and err.value.hint
    assert os.listdir(tmp_path) == []


def test_a_long_file_name_still_fits(tmp_path):
    name = "r" * 250 + ".json"  # 255 bytes: the usual limit; the temporary name must not exceed it
    assert files.write_atomic(tmp_path / name, "{}").read_text() == "{}"
    assert os.listdir(tmp_path) == [name]


def test_a_target_that_turns_into_a_link_before_the_rename_is_not_replaced(tmp_path):
    # The race: the check passed, then someone put a link where the file goes.
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    path = tmp_path / "run.json"
    files.check_target(path)

    def writer(tmp: Path) -> None:
        tmp.write_text("new")
        path.symlink_to(victim)

    with pytest.raises(GdcliError, match="symbolic link"):
        files.write_atomic(path, writer)
    assert path.is_symlink() and os.readlink(path) == str(victim) and victim.read_text() == "keep"
    assert sorted(os.listdir(tmp_path)) == ["run.json", "victim.txt"]


# --- refusing ------------------------------------------------------------------------------


def refused(path, *phrases, listing=None):
    """Both the check and the writer refuse path with a GdcliError naming it; nothing left behind."""
    folder = Path(listing) if listing else None
    before = sorted(os.listdir(folder)) if folder else None
    for attempt in (lambda: files.check_target(path), lambda: files.write_atomic(path, "x")):
        with pytest.raises(GdcliError) as err:
            within(10, attempt)
        text = str(err.value)
        assert err.value.hint, text
        for phrase in phrases:
            assert phrase in text, (phrase, text)
        if folder:
            assert sorted(os.listdir(folder)) == before, "something was left behind"
    return err.value


def test_a_symlink_is_refused_and_left_alone(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("data")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    err = refused(link, "'" + str(link) + "' is a symbolic link", "will not replace a link", listing=tmp_path)
    assert str(target) in err.hint  # the way out: the link's target
    assert link.is_symlink() and target.read_text() == "data"


def test_a_dangling_symlink_is_refused(tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "nowhere.json")
    refused(link, "symbolic link", listing=tmp_path)
    assert link.is_symlink() and not (tmp_path / "nowhere.json").exists()


@pytest.mark.parametrize("device", ["/dev/null", "/dev/full"])
def test_a_device_is_refused(device):
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    refused(device, device, "is a device")
    assert stat.S_ISCHR(os.stat(device).st_mode)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    refused(fifo, "pipe.json", "named pipe", listing=tmp_path)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_socket_is_refused(tmp_path):
    path = tmp_path / "s.json"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        refused(path, "s.json", "socket", listing=tmp_path)


def test_a_folder_is_refused(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    refused(folder, "is a folder", listing=tmp_path)
    assert os.listdir(folder) == []
    with pytest.raises(GdcliError) as err:
        files.check_target(folder, example="fit.png")
    assert str(folder / "fit.png") in err.value.hint


def test_a_missing_folder_is_refused(tmp_path):
    path = tmp_path / "nodir" / "run.json"
    with pytest.raises(GdcliError, match="nodir.* does not exist"):
        files.check_target(path)
    with pytest.raises(GdcliError, match="nodir"):
        files.write_atomic(path, "x")
    assert os.listdir(tmp_path) == []


def test_a_file_used_as_a_folder_is_refused(tmp_path):
    (tmp_path / "plain").write_text("")
    with pytest.raises(GdcliError, match="is a file, so .* cannot be written inside it"):
        files.check_target(tmp_path / "plain" / "run.json")


@pytest.mark.skipif(not os.path.exists("/proc/version"), reason="needs Linux /proc")
def test_a_folder_that_takes_no_new_files_is_refused_even_for_root():
    # /proc/version is a regular file, and root passes os.access: only a real attempt tells.
    with pytest.raises(GdcliError, match="cannot create files in folder '/proc'"):
        files.check_target("/proc/version")
    with pytest.raises(GdcliError, match="/proc/version"):
        files.write_atomic("/proc/version", "x")


@pytest.mark.skipif(ROOT, reason="root writes to read-only folders")
def test_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        refused(folder / "run.json", "cannot", listing=folder)
    finally:
        folder.chmod(0o755)


@pytest.mark.skipif(ROOT, reason="root writes to read-only files")
def test_a_read_only_file_is_refused_by_the_check(tmp_path):
    path = tmp_path / "run.json"
    path.write_text("old")
    path.chmod(0o444)
    with pytest.raises(GdcliError, match="read-only"):
        files.check_target(path)


def test_a_good_target_passes_and_leaves_nothing(tmp_path):
    assert files.check_target(tmp_path / "run.json") == tmp_path / "run.json"
    (tmp_path / "old.json").write_text("x")
    files.check_target(tmp_path / "old.json")
    assert os.listdir(tmp_path) == ["old.json"]


def test_a_relative_name_is_checked_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files.check_target("run.json")
    files.write_atomic("run.json", "{}")
    assert os.listdir(tmp_path) == ["run.json"]


# --- the PNG writer goes through the same place --------------------------------------------


def test_png_files_get_the_usual_mode_and_the_same_refusals(tmp_path, umask):
    pytest.importorskip("matplotlib")
    from gdcli import plots

    umask(0o022)
    curves = plots.LossCurves({"run": ([1, 2, 3], [3.0, 2.0, 1.0])}, "loss")
    out = plots.write_png(curves, tmp_path / "fit.png", width_px=200, height_px=100)
    assert mode(out) == 0o644 and os.listdir(tmp_path) == ["fit.png"]
    link = tmp_path / "link.png"
    link.symlink_to(out)
    with pytest.raises(GdcliError, match="symbolic link"):
        plots.check_png_target(link)
    with pytest.raises(GdcliError, match="symbolic link"):
        plots.write_png(curves, link)
    assert link.is_symlink() and sorted(os.listdir(tmp_path)) == ["fit.png", "link.png"]


def test_importing_files_loads_no_torch():
    code = "import gdcli.files, sys; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
