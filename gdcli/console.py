"""The two consoles every command writes to: data on stdout, diagnostics on stderr."""

import os
import sys

from rich.console import Console

_reader = {"left": False}


def silence_stdout() -> None:
    """The reader went away (gdcli ... | head): send what is left to /dev/null so no later flush fails.

    The one place gdcli reacts to a broken pipe; the caller then ends quietly and
    successfully, as Unix filters do.
    """
    _reader["left"] = True
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a real file (a test runner's buffer)


def reader_left() -> bool:
    """Whether nobody reads stdout any more: a write found the pipe broken, or its reader closed it.

    A pipe whose reader closed polls as an error on Linux and the BSDs, before anything is
    written to it; elsewhere the first write finds out.
    """
    if _reader["left"]:
        return True
    import select

    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
    except (OSError, ValueError, AttributeError):
        return False  # not a real file (a test runner's buffer), or no poll on this platform
    poller.register(fd, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poller.poll(0))


def reader_back() -> None:
    """A new command starts: its stdout has a reader until a write or a poll says otherwise."""
    _reader["left"] = False


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # Instead of Rich's exit status 1 ("unexpected error" here): stop writing to the
        # reader that left, and let the command finish its work and choose its exit code.
        self.quiet = True
        silence_stdout()


def _console(stderr: bool) -> Console:
    # A pipe or a file (a CI log) has no width: instead of Rich's 80 columns, tables
    # get all they need, so numbers are never cut; COLUMNS still wins. Rich itself
    # drops colour and animation when the stream is not a terminal.
    stream = sys.stderr if stderr else sys.stdout
    wide = not stream.isatty() and "COLUMNS" not in os.environ
    # markup=False: every string is printed as the text it is. User text (a column
    # named "weight [kg]", a path) must never be read as Rich markup; styles come
    # from Text and style= arguments instead.
    return _Console(stderr=stderr, highlight=False, markup=False, width=100_000 if wide else None, soft_wrap=stderr)


def out() -> Console:
    """The console for results (stdout)."""
    return _console(stderr=False)


def err() -> Console:
    """The console for progress, notes and errors (stderr)."""
    return _console(stderr=True)


def error(message: str, hint: str | None = None) -> None:
    """`error: message` on stderr (the prefix in bold red on a terminal), then the hint on its own line."""
    from rich.text import Text

    line = Text.assemble(("error:", "bold red"), " ", message)
    if hint:
        line.append("\n" + hint)
    err().print(line)


_quiet = {"on": False}
_hushed: dict = {}  # what --quiet changed in the logging and warnings machinery, to put back


def set_quiet(on: bool) -> None:
    """--quiet: drop notes, and other libraries' warnings and log messages (gdcli's own warnings
    and errors still print)."""
    _quiet["on"] = on
    _hush_libraries(on)


def _hush_libraries(on: bool) -> None:
    """Silence what torch and Ray say through logging and warnings (torch's "No CUDA runtime is
    found" under --compile, for one) while --quiet is on; put it back when it goes off, for a
    program that runs several commands in one process."""
    import logging
    import warnings

    if on and not _hushed:
        saved = warnings.catch_warnings()
        saved.__enter__()  # left when --quiet goes off: the filters as they were
        _hushed.update(level=logging.root.manager.disable, warnings=saved)
        logging.disable(logging.WARNING)  # every logger's warnings and below; errors still show
        warnings.simplefilter("ignore")
    elif not on and _hushed:
        logging.disable(_hushed["level"])
        _hushed["warnings"].__exit__(None, None, None)
        _hushed.clear()


def quiet() -> bool:
    """Whether --quiet is on."""
    return _quiet["on"]


def note(message: str) -> None:
    """A note on stderr, printed as plain text, unless --quiet."""
    if not _quiet["on"]:
        err().print(message)


def warn(message: str) -> None:
    """A warning on stderr, printed as plain text even under --quiet."""
    err().print(message)


def show_plots(panels: list, plot: bool, plot_file, to_stderr: bool = False) -> None:
    """Draw panels in the terminal (--plot) and/or to a PNG (--plot-file)."""
    from gdcli import plots

    if plot:
        console = err() if to_stderr else out()
        width = min(console.width, 120)
        # Rich keeps a color_system on a terminal even under NO_COLOR (it only drops colour from its
        # own styles), and plotext writes ANSI codes itself: ask for colour only where it is wanted.
        color = console.color_system is not None and not console.no_color and not os.environ.get("NO_COLOR")
        text = plots.render_terminal(panels, width=width, color=color)
        console.out(text, highlight=False)
    if plot_file is not None:
        plots.write_png(panels, plot_file)
        err().print(f"wrote {plot_file}")
