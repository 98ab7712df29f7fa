"""Ctrl-C while training: the first press stops the runs at the next synchronization point,
so the command still reports (and saves) what was trained; a second press aborts at once.

Training synchronizes with Python about twice a second (train.SYNC_SECONDS), so the first
press takes effect within a chunk. The handler only sets a flag: nothing is printed or
written from inside a signal handler. Signals reach Python's main thread only; elsewhere
(a library caller's worker thread) Ctrl-C keeps its usual meaning.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from dataclasses import dataclass
from typing import Iterator


@dataclass
class Requests:
    """Whether the user asked to stop."""

    stop: bool = False


@contextlib.contextmanager
def catch() -> Iterator[Requests]:
    """While inside: the first SIGINT sets `stop`; the second raises KeyboardInterrupt (abort)."""
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
