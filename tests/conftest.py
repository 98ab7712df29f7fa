"""Shared test setup: plain, wide, colourless terminal output for CliRunner."""

import contextlib
import os
import re
import signal
import struct
import threading

# Before anything imports typer: no forced colour, and lines wide enough for any table.
os.environ["_TYPER_FORCE_DISABLE_TERMINAL"] = "1"
os.environ["TERMINAL_WIDTH"] = "3000"
os.environ.pop("FORCE_COLOR", None)
os.environ.pop("PY_COLORS", None)
os.environ["NO_COLOR"] = "1"

import pytest  # noqa: E402

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


_LAST_TEST = [""]  # the test this process ran before the current one


@pytest.fixture(autouse=True)
def _ctrl_c_as_python_has_it(request):
    """Every test starts with Python's own Ctrl-C handler, whatever a test before it left in this
    process: a child process inherits an ignored SIGINT, and a real-signal test would then see
    its Ctrl-C lost. (Where tests share a worker, pytest-xdist runs them in another order.)"""
    if threading.current_thread() is threading.main_thread():
        before = signal.getsignal(signal.SIGINT)
        if before is not signal.default_int_handler:
            with open(os.environ.get("GDCLI_SIGLEAK_LOG", os.devnull), "a") as log:
                log.write(f"{before!r} after {_LAST_TEST[0]}\n")
            signal.signal(signal.SIGINT, signal.default_int_handler)
    _LAST_TEST[0] = request.node.nodeid
    yield

# The terminal size pytest-xdist's workers are started with (COLUMNS=80, LINES=24), which a plain
# run does not have: Rich would wrap at 80 columns where gdcli writes a pipe as wide as it needs.
SIZE = ("COLUMNS", "LINES")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """(pytest-xdist, in the controlling process) Hand each worker the terminal size of this run."""
    node.workerinput["gdcli_size"] = {name: os.environ.get(name) for name in SIZE}


def pytest_configure(config):
    """In a pytest-xdist worker, put back the run's own terminal size, so each test sees what it would in one process."""
    for name, value in getattr(config, "workerinput", {}).get("gdcli_size", {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


# Wall-clock fields of a command's JSON, which differ between any two runs.
TIMINGS = ("seconds_per_epoch", "compile_seconds", "seconds", "time")


def untimed(value):
    """A command's JSON without wall-clock fields, so two runs of the same settings compare equal."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


def snapshot(folder) -> dict:
    """Every file under folder with its bytes (links as their target), to prove nothing changed."""
    out = {}
    for root, dirs, names in os.walk(folder):
        for name in names + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, folder)
            if os.path.islink(path):
                out[rel] = ("link", os.readlink(path))
            elif os.path.isfile(path):
                with open(path, "rb") as f:
                    out[rel] = f.read()
            else:
                out[rel] = "special"
    return out


def plain(text: str) -> str:
    """Text with any ANSI escape removed (a backstop: colour is off already)."""
    return ANSI.sub("", text)


@pytest.fixture
def run_cli():
    """Invoke the gdcli app in-process; returns the typer Result with output stripped of ANSI."""
    from typer.testing import CliRunner

    from gdcli.cli import app

    runner = CliRunner()

    def invoke(*args: str, **kwargs):
        result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False, **kwargs)
        result.plain = plain(result.output)
        return result

    return invoke


@pytest.fixture
def wide_console(monkeypatch):
    """Rich wraps at 80 columns off a terminal; widen it so a message is one line per thought."""
    monkeypatch.setenv("COLUMNS", "3000")


def compile_as_identity():
    """torch.compile as the identity, while inside: the compiled path's code runs as written, without
    seconds of compiling (each compiled path against eager has its own test)."""
    from unittest import mock

    return mock.patch("torch.compile", lambda fn, *args, **kwargs: fn)


def invoke_uncompiled(args: list[str], optional=(), switches=()):
    """gdcli in-process on `args`, then each (flag, value) of `optional` whose value is not None and each
    (flag, on) of `switches` that is on, with torch.compile as the identity; the Typer result."""
    from typer.testing import CliRunner

    from gdcli.cli import app

    args = list(args)
    for flag, value in optional:
        if value is not None:
            args += [flag, value]
    args += [flag for flag, on in switches if on]
    with compile_as_identity():
        return CliRunner().invoke(app, args), args


def trained(trainer):
    """Run a trainer (or a list of them) through every chunk to its end; return it."""
    for one in trainer if isinstance(trainer, (list, tuple)) else [trainer]:
        for _ in one.chunks():
            pass
    return trainer


def png_size(path) -> tuple[int, int]:
    """Width and height from the PNG header: signature, then the IHDR chunk."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def _cli(*args: str):
    """One in-process gdcli command for session fixtures (which cannot take run_cli)."""
    from typer.testing import CliRunner

    from gdcli.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="session")
def iphone_run(tmp_path_factory):
    """A saved 30-epoch fit of the iphone dataset (three features), shared by the predict tests."""
    path = tmp_path_factory.mktemp("iphone") / "iphone.json"
    _cli("fit", "--dataset", "iphone", "--epochs", "30", "--save", path)
    return path


@pytest.fixture(scope="session")
def book_run():
    """The book's run through the library (celsius's preset: scale 0.1, lr 1e-2, 5000 epochs), trained
    once per method per pytest run: book_run(method) -> (records, result). Read it, never change it."""
    from gdcli.config import resolve
    from gdcli.train import fit

    done = {}

    def run(method: str = "autograd"):
        if method not in done:
            trainer = fit(resolve("celsius", method=method))
            done[method] = (list(trainer.records()), trainer.result())
        return done[method]

    return run


@pytest.fixture(scope="session")
def book_fit(tmp_path_factory):
    """`gdcli fit --method M --output json --save run.json` with the book's preset, once per method per
    pytest run: book_fit(method) -> (the JSON document, the saved run's path, alone in its folder)."""
    import json

    done = {}

    def run(method: str = "autograd"):
        if method not in done:
            path = tmp_path_factory.mktemp(f"book-{method}") / "run.json"
            result = _cli("fit", "--method", method, "--output", "json", "--save", path)
            done[method] = (json.loads(result.stdout), path)
        return done[method]

    return run


@pytest.fixture(scope="session")
def book_table():
    """`gdcli fit` as printed for people (the book's preset, 3000 columns wide), once per pytest run."""
    wide = pytest.MonkeyPatch()
    wide.setenv("COLUMNS", "3000")
    try:
        return _cli("fit")
    finally:
        wide.undo()


def pressed_after(looks: int):
    """A stand-in for gdcli.train.interrupt.catch whose Ctrl-C is pressed once training has looked `looks` times
    (monkeypatch it over interrupt.catch): the in-process route to an interrupted command."""
    from gdcli.train import interrupt

    class PressedAfter(interrupt.Requests):
        def __init__(self):
            self.looks = looks

        @property
        def stop(self) -> bool:
            self.looks -= 1
            return self.looks < 0

    @contextlib.contextmanager
    def catch():
        yield PressedAfter()

    return catch


def property_settings(examples: int):
    """Hypothesis settings of a property test over the CLI's options: `examples` runs by default, and
    GDCLI_PROPERTY_EXAMPLES=500 to look harder (minutes); no deadline (a run trains), no database."""
    from hypothesis import HealthCheck, settings

    return settings(
        max_examples=int(os.environ.get("GDCLI_PROPERTY_EXAMPLES", str(examples))),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
