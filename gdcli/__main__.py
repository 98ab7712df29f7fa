"""The `gdcli` console script and `python -m gdcli`: the app, behind a Ctrl-C guard that is in
place before anything heavy loads.

Importing the app (Typer, Rich) takes a few tenths of a second, and Ctrl-C may land there,
before the app's own guard exists: it still ends as every Ctrl-C does, with one line and
exit 130 (128 + SIGINT, as a shell reports Ctrl-C), never a traceback. So this module
imports nothing at load time but the standard library.
"""

import signal
import sys


def main() -> None:
    """Console-script entry point: run the app; Ctrl-C anywhere outside a command's guard exits 130."""
    try:
        from gdcli.cli import main as app_main

        app_main()
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second press must not interrupt the goodbye
        print("aborted (Ctrl-C): nothing was saved", file=sys.stderr)  # usage.ABORTED, not importable here
        sys.exit(130)


if __name__ == "__main__":
    main()
