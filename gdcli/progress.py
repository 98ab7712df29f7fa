"""Progress of a long training on stderr: a Rich bar on a terminal, plain lines in a log.

`--progress auto` draws the bar when stderr is a terminal and otherwise writes one
line every LINE_SECONDS (a CI log or nohup.out gets a heartbeat, not a bar's control
codes); `lines` forces the lines; `bar` asks for the bar, which only a terminal can
show, so elsewhere it writes the lines too; `none` is silent. Nothing shows for a run
that ends within its first second (bar) or its first LINE_SECONDS (lines); once a line
has shown, the last one says where the work ended (100%, or where it stopped).
GDCLI_PROGRESS_SECONDS sets LINE_SECONDS (a log that wants a denser heartbeat; tests).
"""

from __future__ import annotations

import os
import time

MODES = ("auto", "bar", "lines", "none")
BAR_AFTER = 1.0  # seconds before the bar appears


def _seconds(text: str | None, default: float = 10.0) -> float:
    """GDCLI_PROGRESS_SECONDS as a number of seconds; anything else (unset, "abc", -1) is the default."""
    try:
        value = float(text) if text is not None else default
    except ValueError:
        return default
    return value if value >= 0 else default


LINE_SECONDS = _seconds(os.environ.get("GDCLI_PROGRESS_SECONDS"))  # seconds between plain lines


class Progress:
    """Report `done` out of `total` units of work (run-epochs), in the chosen mode."""

    def __init__(self, console, label: str, total: int, mode: str = "auto", unit: str = "epochs", redirect: bool = True):
        """`redirect`: the bar routes what is printed to stdout meanwhile above itself (fit's rows);
        off where stdout is already redirected while the bar runs (a sweep on Ray), since the bar
        puts back, when it stops, the stdout it found when it started."""
        if mode in ("auto", "bar"):
            # Rich draws nothing on a stream that is not a terminal: lines say something there.
            mode = "bar" if console.is_terminal else "lines"
        self.console, self.label, self.total, self.mode, self.unit = console, label, max(1, total), mode, unit
        self.redirect = redirect
        self.started = self.last_line = time.perf_counter()
        self._bar = self._task = None
        self.done, self.shown = 0, None  # the work done, and what the last line printed said

    def update(self, done: int) -> None:
        """`done` units of work are done (a bar moves at once; a line waits for its time)."""
        now = time.perf_counter()
        self.done = done
        if self.mode == "bar":
            if self._bar is None and now - self.started > BAR_AFTER:
                from rich.progress import Progress as Bar

                self._bar = Bar(console=self.console, transient=True, redirect_stdout=self.redirect,
                                redirect_stderr=self.redirect)
                self._bar.start()
                self._task = self._bar.add_task(self.label, total=self.total)
            if self._bar is not None:
                self._bar.update(self._task, completed=done)
        elif self.mode == "lines" and now - self.last_line >= LINE_SECONDS:
            self._print_line(now)

    def _print_line(self, now: float) -> None:
        self.last_line, self.shown = now, self.done
        self.console.print(self.line(self.done, now - self.started), soft_wrap=True)

    def line(self, done: int, elapsed: float) -> str:
        """'gdcli fit: 1,200 of 5,000 epochs (24%), 10 s, about 32 s left'."""
        share = done / self.total
        left = elapsed * (1 - share) / share if share > 0 else float("nan")
        eta = f", about {left:.0f} s left" if 0 < share < 1 else ""  # the last line has nothing left
        return f"{self.label}: {done:,} of {self.total:,} {self.unit} ({share:.0%}), {elapsed:.0f} s{eta}"

    def close(self) -> None:
        """Take the bar away; or, when lines have shown, end with a line that says where the work ended."""
        if self._bar is not None:
            self._bar.stop()
        elif self.shown is not None and self.shown != self.done:
            self._print_line(time.perf_counter())
