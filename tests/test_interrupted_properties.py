"""Ctrl-C after any number of the trainer's looks, under any mix of the options that shape what an
interrupted command reports: every command ends with 130 (or 0/3 when it finished first), never a traceback.

Interrupted in process (the in-process route: interrupt.catch yields a request that turns on after a
given number of looks); tests/test_signals.py and tests/test_stopping.py send real SIGINTs to real
processes, one per command.
"""

import json

from conftest import pressed_after
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdcli.train import interrupt

ALLOWED = {0, 2, 3, 130}  # 130: CliRunner's exit code for Ctrl-C


COMMANDS = {"fit": ["fit"], "compare": ["compare"], "sweep": ["sweep", "--lr", "1e-3,1e-2"]}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    command=st.sampled_from(sorted(COMMANDS)),
    looks=st.integers(0, 300),
    batch=st.sampled_from([None, "1", "4"]),
    output=st.sampled_from(["table", "json", "jsonl", "csv"]),
    quiet=st.booleans(),
    shown=st.sampled_from([None, "lines", "bar", "none"]),
    history=st.sampled_from([None, "all", "logged"]),
)
def test_ctrl_c_after_any_look_ends_the_command_cleanly(run_cli, monkeypatch, command, looks, batch, output, quiet,
                                                          shown, history):
    monkeypatch.setattr(interrupt, "catch", pressed_after(looks))
    args = [*COMMANDS[command], "--epochs", "400", "--output", output]
    args += (["--batch-size", batch] if batch else []) + (["--quiet"] if quiet else [])
    args += (["--progress", shown] if shown else []) + (["--history", history] if history and command == "fit" else [])
    result = run_cli(*args)
    assert result.exit_code in ALLOWED and "Traceback" not in result.output, (args, result.output)
    if result.exit_code == 130:
        assert "interrupted at epoch" in result.stderr, (args, result.stderr)
        if output == "json":
            assert json.loads(result.stdout)["interrupted"] is True
