"""Ctrl-C while training: the first press stops the runs at the last whole epoch, so the
command still reports (and saves) what was trained; a second press aborts at once.

The trainer asks `Watch` before every epoch and every mini-batch (Trainer.should_stop), so
the first press takes effect within a batch, however long an epoch is. The handler only sets
a flag: nothing is printed or written from inside a signal handler. Signals reach Python's
main thread only; elsewhere (a library caller's worker thread) Ctrl-C keeps its usual meaning.

When stdout's reader is all the training is for (no file to save or draw), the reader going
away (gdcli ... | head) stops training too: nobody would read the rest.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator

# Seconds between looks at stdout's reader: a system call, too dear for every mini-batch.
READER_SECONDS = 0.1


@dataclass
class Requests:
    """Whether the user asked to stop."""

    stop: bool = False


class Watch:
    """Whether training should stop: Ctrl-C, or (with `reader_left`) stdout's reader went away."""

    def __init__(self, requests: Requests, reader_left: Callable[[], bool] | None = None):
        self.requests, self._reader_left = requests, reader_left
        self.reader_gone, self._next_look = False, 0.0

    def __call__(self) -> bool:
        """True once the trainer should stop; cheap enough to ask before every mini-batch."""
        if self.requests.stop or self.reader_gone:
            return True
        if self._reader_left is not None:
            now = time.monotonic()
            if now >= self._next_look:
                self._next_look = now + READER_SECONDS
                self.reader_gone = self._reader_left()
        return self.reader_gone


@contextlib.contextmanager
def catch() -> Iterator[Requests]:
    """While inside: the first SIGINT sets `stop`; the second raises KeyboardInterrupt (abort).

    A Ctrl-C pressed before (gdcli.presses) whose KeyboardInterrupt a library swallowed aborts
    here, before anything trains."""
    from gdcli import presses

    if presses.seen():
        raise KeyboardInterrupt
    requests = Requests()
    if threading.current_thread() is not threading.main_thread():
        yield requests
        return

    def handler(signum, frame):
        if requests.stop:
            raise KeyboardInterrupt
        requests.stop = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield requests
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """While inside, Ctrl-C is ignored: for cleanup that must finish (stopping a Ray instance,
    whose processes would otherwise outlive the command)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
