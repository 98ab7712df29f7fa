"""Shared test setup: plain, wide, colourless terminal output for CliRunner."""

import os
import re

# Before anything imports typer: no forced colour, and lines wide enough for any table.
os.environ["_TYPER_FORCE_DISABLE_TERMINAL"] = "1"
os.environ["TERMINAL_WIDTH"] = "3000"
os.environ.pop("FORCE_COLOR", None)
os.environ.pop("PY_COLORS", None)
os.environ["NO_COLOR"] = "1"

import pytest  # noqa: E402

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


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
