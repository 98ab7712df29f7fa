"""Run Python source from stdin as an interactive session shows it, for the README's Python examples.

Each statement is echoed after `>>> ` and its value displayed as the interpreter would; an
exception shows as its last traceback line (`gdcli.errors.GdcliError: ...` and its hint), which
is what a notebook user reads first. Statements are one line each; blank lines are skipped.
"""

import sys
import traceback


def main() -> None:
    scope: dict = {"__name__": "__main__"}
    for line in sys.stdin.read().splitlines():
        if not line.strip():
            continue
        print(f">>> {line}", flush=True)
        try:
            exec(compile(line, "<session>", "single"), scope)
        except Exception as err:  # noqa: BLE001 - shown as a session shows it
            print("".join(traceback.format_exception_only(type(err), err)).rstrip())
        sys.stdout.flush()


if __name__ == "__main__":
    main()
