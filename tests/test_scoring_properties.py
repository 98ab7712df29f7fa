"""Property: predict and evaluate, with any mix of --input, --keep, --missing and --output, end with
exit 0, 2 or 3, never a traceback."""

import gzip
import tempfile
import traceback
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import property_settings
from gdcli.cli import app

FILES = Path(tempfile.mkdtemp(prefix="gdcli-scoring-"))
ROWS = "id,t_c,t_u,date\n007,1,30,2024-01-01\nr1,,31.5,\nr2,3,,x\nr3,4,33,y\n"
(FILES / "rows.csv").write_text(ROWS)
(FILES / "rows.csv.gz").write_bytes(gzip.compress(ROWS.encode()))
(FILES / "nolabel.csv").write_text("id,t_u\na,1\nb,2\n")
(FILES / "text.csv").write_text("t_u,t_c\nthree,4\n")
(FILES / "empty.csv").write_text("")
pq.write_table(pa.table({"t_u": [30.0, None], "t_c": [1.0, 2.0], "id": ["a", "b"]}), FILES / "rows.parquet")

runner = CliRunner()


@pytest.fixture(scope="module")
def saved_run() -> Path:
    path = FILES / "run.json"
    result = runner.invoke(app, ["fit", "--epochs", "5", "--save", str(path)], catch_exceptions=True)
    assert result.exit_code == 0, result.output
    return path


def check(args: list[str], stdin: str) -> None:
    """Run gdcli in-process; a crash fails with its traceback from a rerun under --debug."""
    result = runner.invoke(app, args, catch_exceptions=True, input=stdin)
    crashed = result.exit_code not in (0, 2, 3) or (
        result.exception is not None and not isinstance(result.exception, SystemExit)
    )
    if crashed or "Traceback" in result.output:
        again = runner.invoke(app, ["--debug", *args], catch_exceptions=True, input=stdin)
        trace = "".join(traceback.format_exception(*again.exc_info)) if again.exc_info else again.output
        pytest.fail(f"gdcli {' '.join(args)}\nexit {result.exit_code}\n{result.output}\n{trace}")


def pick(values) -> st.SearchStrategy[str]:
    return st.sampled_from([str(v) for v in values])


INPUTS = pick([FILES / n for n in ("rows.csv", "rows.csv.gz", "rows.parquet", "nolabel.csv", "text.csv",
                                    "empty.csv", "none.csv")] + [FILES, "-", ""])
OPTIONS = {
    "--input": INPUTS,
    "--keep": pick(["id", "date", "id,date", "t_c", "t_u", "nope", "", ",", "type", "t_c_predicted"]),
    "--missing": pick(["error", "drop", "maybe"]),
    "--output": pick(["table", "json", "jsonl", "csv", "xml"]),
}


@property_settings(25)
@given(
    st.sampled_from(["predict", "evaluate"]),
    st.fixed_dictionaries({}, optional=OPTIONS),
    st.lists(pick(["35.7", "1,2", "abc", "-5"]), max_size=2),
    st.sampled_from([ROWS, "", "t_u\n1\n"]),
)
@example("predict", {"--input": str(FILES / "rows.csv"), "--keep": "id", "--missing": "drop", "--output": "json"}, [], "")
@example("evaluate", {"--input": "-", "--missing": "drop"}, [], ROWS)
@example("evaluate", {"--input": str(FILES / "rows.parquet"), "--output": "csv"}, [], "")
def test_predict_and_evaluate_never_crash(saved_run, command, options, values, stdin):
    args = [command, str(saved_run)]
    if command == "predict":
        args += values
    else:
        options.pop("--keep", None)  # evaluate takes no --keep: a usage error, tried elsewhere
    for flag, value in options.items():
        args += [flag, value]
    check(args, stdin)
