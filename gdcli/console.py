"""The two consoles every command writes to: data on stdout, diagnostics on stderr."""

import os
import sys

from rich.console import Console


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # The reader went away (gdcli fit | head): stop quietly and successfully, as
        # Unix filters do, instead of Rich's exit status 1 ("unexpected error" here).
        self.quiet = True
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0)


def _console(stderr: bool) -> Console:
    # Piped output (a file, a CI log) gets a wide page instead of Rich's 80
    # columns, so tables keep their numbers whole; COLUMNS still wins. Rich
    # itself drops colour and animation when the stream is not a terminal.
    stream = sys.stderr if stderr else sys.stdout
    wide = not stream.isatty() and "COLUMNS" not in os.environ
    return _Console(stderr=stderr, highlight=False, width=160 if wide else None, soft_wrap=stderr)


def out() -> Console:
    """The console for results (stdout)."""
    return _console(stderr=False)


def err() -> Console:
    """The console for progress, notes and errors (stderr)."""
    return _console(stderr=True)


def show_plots(panels: list, plot: bool, plot_file, to_stderr: bool = False) -> None:
    """Draw panels in the terminal (--plot) and/or to a PNG (--plot-file)."""
    from gdcli import plots

    if plot:
        console = err() if to_stderr else out()
        width = min(console.width, 120)
        text = plots.render_terminal(panels, width=width, color=console.color_system is not None)
        console.out(text, highlight=False)
    if plot_file is not None:
        plots.write_png(panels, plot_file)
        err().print(f"wrote {plot_file}")
