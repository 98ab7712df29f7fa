"""Any terminal size (COLUMNS, which pytest-xdist's workers are started with and tests/conftest.py takes
back) under any output ends a command cleanly; with none, a table written to a pipe is never folded."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ALLOWED = {0, 2, 3}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    columns=st.sampled_from([None, "40", "80", "3000"]),
    command=st.sampled_from([["fit", "--epochs", "3"], ["grad", "x**2", "--at", "x=1.5,2.5", "--shape", "x=3,2"],
                             ["compare", "--epochs", "2", "--methods", "analytic,autograd"]]),
    output=st.sampled_from(["table", "json", "csv"]),
)
def test_any_terminal_size_ends_cleanly(run_cli, monkeypatch, columns, command, output):
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    result = run_cli(*command, "--output", output)
    assert result.exit_code in ALLOWED and "Traceback" not in result.output, (command, result.output)
    if columns is None and output == "table" and command[0] == "grad":
        # Written to a pipe with no COLUMNS, a table row is never folded onto a second line.
        row = next(line for line in result.stdout.splitlines() if "d/dx" in line)
        assert row.count("[[3, 5], [3, 5], [3, 5]]") == 2, row
