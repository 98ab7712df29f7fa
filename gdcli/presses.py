"""Ctrl-C presses from the start of the process, remembered even where a library swallows them.

Until a command's own guard is in place (gdcli.train.interrupt.catch), Ctrl-C raises
KeyboardInterrupt as usual. A library that catches every exception while it imports (torch
loads for seconds) may swallow that interrupt, and training would then start as if Ctrl-C had
never been pressed. So the console script installs this handler first: it remembers the press
and then raises as usual, and the guard, once it is in place, aborts for a press it did not
see. Standard library only: it is installed before anything heavy loads.
"""

import signal

_seen: list[int] = []


def install() -> None:
    """Remember every Ctrl-C from now on (then raise KeyboardInterrupt, as Python's own handler does).

    Only in place of Python's own handler: a process started with Ctrl-C ignored (a background
    job of a script) keeps ignoring it until training."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_press)


def _on_press(signum, frame) -> None:
    _seen.append(signum)
    raise KeyboardInterrupt


def seen() -> bool:
    """Whether Ctrl-C was pressed since `install` (whatever became of its KeyboardInterrupt)."""
    return bool(_seen)


def forget() -> None:
    """Start afresh (a program that runs several commands in one process, and the tests)."""
    _seen.clear()
