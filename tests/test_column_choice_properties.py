"""Property: any mix of --inputs, --drop, --target and --missing on a small file with an id, a text
column and gaps ends in exit 0, 2 or 3, never a traceback."""

from __future__ import annotations

from conftest import property_settings
from hypothesis import given
from hypothesis import strategies as st

NAMES = ["id", "a", "b", "city", "y", "nope", ""]
TEXT = "id,a,b,city,y\n1,1.5,2,Paris,3\n2,,1,Lyon,4.5\n3,2,NA,Nice,6\n4,3,1,Paris,\n5,4,2,Lyon,9\n"
names = st.lists(st.sampled_from(NAMES), max_size=3).map(",".join)


@property_settings(25)
@given(
    inputs=st.one_of(st.none(), names),
    drop=st.one_of(st.none(), names),
    target=st.one_of(st.none(), st.sampled_from(NAMES)),
    missing=st.one_of(st.none(), st.sampled_from(["error", "drop", "skip"])),
    parquet=st.booleans(),
)
def test_column_options_never_end_in_a_traceback(run_cli, tmp_path_factory, inputs, drop, target, missing, parquet):
    folder = tmp_path_factory.mktemp("cols")
    path = folder / "d.csv"
    path.write_text(TEXT)
    if parquet:
        import pyarrow.csv as pcsv
        import pyarrow.parquet as pq

        path = folder / "d.parquet"
        pq.write_table(pcsv.read_csv(folder / "d.csv"), path)
    args = ["fit", "--dataset", str(path), "--epochs", "3", "--method", "gram"]
    for option, value in (("--inputs", inputs), ("--drop", drop), ("--target", target), ("--missing", missing)):
        if value is not None:
            args += [option, value]
    result = run_cli(*args)
    assert result.exit_code in (0, 2, 3), result.output
    assert "Traceback" not in result.output
