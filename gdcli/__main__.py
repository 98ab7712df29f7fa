"""The `gdcli` console script and `python -m gdcli`: the app, behind a Ctrl-C guard that is in
place before anything heavy loads.

Every Ctrl-C ends the process the way an interrupted program should: gdcli says what it did
(one line, never a traceback), lets Python finish as usual (atexit handlers such as Ray's
shutdown run), and then dies by SIGINT itself. A shell reports that as 130 (128 + SIGINT), and a
shell loop around gdcli stops too, which a plain `exit 130` would not ask of it.

Dying by the signal is also the only ending Python guarantees: once a KeyboardInterrupt has
passed through code that Python runs from a string (a dataclass being defined while a module
imports), Python ends by SIGINT anyway, even after the interrupt was handled. So this module
imports nothing at load time but the standard library, and importing the app (Typer, Rich; a few
tenths of a second) is inside the guard.
"""

import signal
import sys


def main() -> None:
    """Console-script entry point: run the app; a run that Ctrl-C ended ends by SIGINT."""
    try:
        from gdcli import presses  # the standard library only

        presses.install()
        from gdcli.cli import main as app_main

        app_main()
        return
    except KeyboardInterrupt:  # Ctrl-C outside a command's own guard (while the app loads)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second press must not interrupt the goodbye
        print("aborted (Ctrl-C): nothing was saved", file=sys.stderr)  # usage.ABORTED, not importable here
    except SystemExit as exit:
        if exit.code != 130:  # the app's exit code for Ctrl-C, after it has reported
            raise
    _end_by_sigint()


def _end_by_sigint() -> None:
    """Leave by an unhandled KeyboardInterrupt that prints nothing: Python then finishes (flushes,
    runs atexit handlers) and ends the process by SIGINT."""
    sys.excepthook = _silent_interrupt
    raise KeyboardInterrupt


def _silent_interrupt(kind, value, traceback) -> None:
    if not issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, traceback)


if __name__ == "__main__":
    main()
