"""Property: fit and evaluate on a folder (or glob) of parts, with any kinds of part, column choices,
gaps, empty or odd parts and bookkeeping files, end in exit 0, 2 or 3, never a traceback."""

import gzip
import os
import tempfile

from hypothesis import given
from hypothesis import strategies as st

from conftest import property_settings
from typer.testing import CliRunner

from gdcli.cli import app

SETTINGS = property_settings(25)
runner = CliRunner()
KINDS = ["csv", "csv.gz", "parquet"]
COLUMNS = ["x", "z", "y", "id"]
CELLS = ["1", "2.5", "-3", "", "NA", "nan", "inf", "a"]

part = st.fixed_dictionaries({
    "kind": st.sampled_from(KINDS),
    "columns": st.sampled_from([COLUMNS, ["y", "x", "z", "id"], ["x", "y"], ["x", "z", "y", "id", "w"]]),
    "rows": st.lists(st.lists(st.sampled_from(CELLS), min_size=5, max_size=5), max_size=4),
})


def write(folder: str, i: int, spec: dict) -> None:
    """One part: its rows cut to its columns; a cell of text stays text in CSV, a gap in Parquet."""
    columns, path = spec["columns"], os.path.join(folder, f"part-{i}.{spec['kind']}")
    rows = [row[: len(columns)] for row in spec["rows"]]
    if spec["kind"] == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        def number(cell):
            return None if cell in ("", "NA", "a") else float(cell)

        pq.write_table(pa.table({c: pa.array([number(r[j]) for r in rows], pa.float64())
                                 for j, c in enumerate(columns)}), path)
        return
    text = ",".join(columns) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    with (gzip.open if spec["kind"] == "csv.gz" else open)(path, "wt") as f:
        f.write(text)


def check(result) -> None:
    assert "Traceback" not in result.output, result.output
    assert result.exit_code in (0, 2, 3), (result.exit_code, result.output)


@SETTINGS
@given(
    parts=st.lists(part, min_size=0, max_size=3),
    glob=st.sampled_from([None, "*", "*.csv", "part-[01].*", "**/*.parquet"]),
    target=st.sampled_from([None, "y", "x", "w"]),
    inputs=st.sampled_from([None, "x", "x,z", "id"]),
    missing=st.sampled_from([None, "drop", "error"]),
    extra=st.sampled_from([None, "_SUCCESS", ".crc", "README.md", "sub/part-9.csv"]),
    command=st.sampled_from(["fit", "evaluate"]),
)
def test_fit_and_evaluate_on_parts(parts, glob, target, inputs, missing, extra, command):
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as root:
        os.chdir(root)
        try:
            os.mkdir("data")
            for i, spec in enumerate(parts):
                write("data", i, spec)
            if extra is not None:
                os.makedirs(os.path.dirname(os.path.join("data", extra)) or "data", exist_ok=True)
                with open(os.path.join("data", extra), "w") as f:
                    f.write("x,z,y,id\n1,2,3,4\n")
            with open("run.csv", "w") as f:
                f.write("x,z,y,id\n1,2,3,4\n2,1,5,5\n3,0,7,6\n")
            dataset = "data" if glob is None else os.path.join("data", glob)
            options = [*(["--target", target] if target else []), *(["--inputs", inputs] if inputs else []),
                       *(["--missing", missing] if missing else [])]
            if command == "fit":
                check(runner.invoke(app, ["fit", "--dataset", dataset, "--epochs", "2", "-q", *options]))
            else:
                saved = runner.invoke(app, ["fit", "--dataset", "run.csv", "--epochs", "2", "-q", "--save", "r.json",
                                            "--inputs", "x,z", "--target", "y"])
                assert saved.exit_code == 0, saved.output
                check(runner.invoke(app, ["evaluate", "r.json", "--input", dataset,
                                          *(["--missing", missing] if missing else [])]))
        finally:
            os.chdir(cwd)
