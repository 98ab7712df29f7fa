"""gdcli.readers: CSV, gzip CSV and Parquet through pyarrow, held to the verdicts of the pure-Python reader."""

import csv
import gzip
import io
import math
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import gdcli
from gdcli.errors import GdcliError
from gdcli.readers import Table, read
from gdcli.text import NUMBER

# --- the reference: gdcli.data's pure-Python reader as it was, kept here to hold the new one to it ---------


# The cells that are gaps, not numbers (blanks trimmed): empty, NA, NaN, nan, null.
GAP_CELLS = ("", "NA", "NaN", "nan", "null")

def old_read(data: bytes, where: str):
    """(header, rows of floats, lines) as the old load_csv gave them, or the GdcliError it raised."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise GdcliError(f"cannot read {where!r}: {err}", "pass a UTF-8 text CSV file") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records, last = [], 0
    while True:
        first = last + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            problem = "a quoted value is never closed" if "end of data" in str(err) else f"malformed CSV ({err})"
            raise GdcliError(
                f"{where}, line {first}: {problem}",
                'quote a value with "..." on one line, or leave numbers unquoted',
            ) from None
        last = reader.line_num
        if last > first:
            raise GdcliError(
                f"{where}, line {first}: a quoted value spans lines {first} to {last}",
                "every row must be on one line: close each quote on the line that opens it",
            )
        if row and any(c.strip() for c in row):
            records.append((first, row))
    is_number = lambda c: NUMBER.fullmatch(c.strip(" \t")) is not None  # noqa: E731

    def refuse_comment(line_no, row):
        if row[0].lstrip().startswith("#"):
            raise GdcliError(
                f"{where}, line {line_no} starts with '#': comment lines are not supported",
                "remove the comment lines; the first line must name the columns, every other line hold numbers",
            )

    if not records:
        raise GdcliError(f"{where} is empty", "a CSV needs a header row and at least one data row")
    first_line, first = records[0]
    refuse_comment(first_line, first)
    header = [c.strip() for c in first]
    if all(is_number(c) for c in header):
        raise GdcliError(
            f"{where} has no header row (its first line is all numbers)",
            "add a first line naming the columns, for example: x,y",
        )
    if len(header) < 2:
        separator = next((s for s in (";", "\t", "|") if s in first[0]), None)
        hint = "a CSV needs at least one feature and one target column"
        if separator:
            hint = f"its header looks separated by {separator!r}; gdcli reads comma-separated files"
        raise GdcliError(f"{where} has a single column", hint)
    for position, name in enumerate(header, 1):
        if not name and position > 1:
            raise GdcliError(
                f"{where}, line {first_line}: column {position} of the header has no name",
                "name every column in the first line (a trailing comma makes an empty last column)",
            )
    for position, name in enumerate(header):
        if name in header[:position]:
            raise GdcliError(f"{where} names the column {name!r} twice in its header", "give every column its own name")
    table = []
    for line_no, row in records[1:]:
        refuse_comment(line_no, row)
        if len(row) != len(header):
            raise GdcliError(
                f"{where}, line {line_no}: {len(row)} value(s) where the header has {len(header)} columns",
                "every row needs one value per column (the file is ragged)",
            )
        values = []
        for col, cell in zip(header, row):
            if cell.strip(" \t") in GAP_CELLS:
                data_rows = records[1:]
                gaps = sum(len(r) == len(header) and any(c.strip(" \t") in GAP_CELLS for c in r) for _, r in data_rows)
                what = repr(cell.strip(" \t")) if cell.strip(" \t") else "an empty cell"
                raise GdcliError(
                    f"{where}, line {line_no}, column {col!r}: the value is missing ({what})"
                    f"; {gaps} of {len(data_rows)} data rows have a gap",
                    "fill in the gaps, or leave the rows that have one out with \x1fmissing\x1f drop",
                )
            if not is_number(cell):
                raise GdcliError(
                    f"{where}, line {line_no}, column {col!r}: {cell.strip()!r} is not a number",
                    "every value must be a plain number such as 3, -0.5 or 1e-3",
                )
            value = float(cell)
            if not math.isfinite(value):
                raise GdcliError(
                    f"{where}, line {line_no}, column {col!r}: {cell.strip()} is not a finite number",
                    "remove or fill in rows holding NaN or inf",
                )
            values.append(value)
        table.append(values)
    if not table:
        raise GdcliError(f"{where} has a header but no data rows", "add at least one row of numbers")
    return header, table, [line for line, _ in records[1:]]


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a.view(np.int64), b.view(np.int64))


def write(tmp_path: Path, data, name: str) -> Path:
    """`data` (text or bytes) as `name`: gzip-compressed when the name ends in .gz."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    path = tmp_path / name
    path.write_bytes(gzip.compress(raw) if name.lower().endswith(".gz") else raw)
    return path


def assert_same_verdict(path: Path, data) -> Table | None:
    """read(path) agrees with the old reader on `data`: the same values bit for bit, or the same message and hint."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        header, rows, lines = old_read(raw, str(path))
    except GdcliError as old:
        with pytest.raises(GdcliError) as new:
            read(path)
        assert (new.value.message, new.value.hint) == (old.message, old.hint)
        return None
    table = read(path)
    assert table.header == tuple(header) and table.n_rows == len(rows) and table.source == str(path)
    assert same_bits(table.matrix(header), np.array(rows, dtype=np.float64).reshape(len(rows), len(header)))
    assert [table.locate(i) for i in range(table.n_rows)] == [f"{path}, line {n}" for n in lines]
    return table


# --- values: bit for bit what float() gave -------------------------------------------------------------


@pytest.mark.parametrize("name", ["celsius", "height-weight", "iphone", "crops"])
def test_packaged_csvs_read_bit_identical(name):
    with resources.as_file(resources.files("gdcli.builtin_data").joinpath(f"{name}.csv")) as path:
        header, rows, _ = old_read(path.read_bytes(), "x")
        table = read(path, f"built-in dataset {name}")
        assert table.source == f"built-in dataset {name}" and table.header == tuple(header)
        assert same_bits(table.matrix(header), np.array(rows))
        assert table.locate(0) == f"built-in dataset {name}, line 2"


HAND_MADE = [
    "a,b\n0.1,1e-300\n123456789.123456789,-0.0\n-0,5e-324\n1.7976931348623157e308,2.2250738585072014e-308\n",
    "a,b\n1e-400,2.4e-324\n+.5,5.\n1E-3,-1.5e+10\n00012,1.e5\n0.30000000000000004,9007199254740993\n",
    "a,b\n" + "".join(f"{i / 7!r},{-i * 1e-3!r}\n" for i in range(100)),
    "\ufeffa, b\n 1 , 2\n\n3,4\n",  # the BOM is not part of a's name; cells padded with spaces
    "a,b\n\"8\",\"-0.0\"\n , \n   \n,,,\n\t,\t\n3,4\n",  # quoted numbers; blank records of any width
    "a,b\r\n1,2\r\n\r\n3,4\r\n",
    "a,b\r1,2\r\r3,4",
    "a,b\n1,2",
    "\na,b\n1,2\n\n\n3,4\n,\n5,6\n",
    "a,b,c\n1,2,3\n\f,\v, \n4,5,6\n",  # a record of Unicode blanks only is skipped
    "x,y\n" + "".join(f"{'1' * 30}.{'9' * 30}e-{i},{'0' * 40}{i}\n" for i in range(30)),
]


@pytest.mark.parametrize("text", HAND_MADE, ids=range(len(HAND_MADE)))
def test_hand_made_csvs_read_bit_identical(tmp_path, text):
    for suffix in (".csv", ".csv.gz", ".txt", ".CSV.GZ"):
        assert assert_same_verdict(write(tmp_path, text, "data" + suffix), text) is not None


def test_random_doubles_in_many_spellings_read_bit_identical(tmp_path):
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**63, 3000, dtype=np.int64).view(np.float64)
    values = [v for v in np.concatenate([bits, rng.normal(0, 1e6, 3000), rng.random(3000) * 1e-200]) if np.isfinite(v)]
    spellings = [repr, lambda v: f"{v:.17g}", lambda v: f"{v:.3e}", lambda v: f"{v:.40g}", lambda v: f"{v:E}"]
    text = "a,b\n" + "".join(f"{spellings[i % 5](v)},{spellings[(i + 1) % 5](-v)}\n" for i, v in enumerate(values))
    assert_same_verdict(write(tmp_path, text, "r.csv"), text)


def test_table_matrix_is_a_fresh_c_array_and_columns_are_read_only(tmp_path):
    table = read(write(tmp_path, "a,b,c\n1,2,3\n4,5,6\n", "m.csv"))
    m = table.matrix(["c", "a"])
    assert m.flags.c_contiguous and m.flags.writeable and m.dtype == np.float64
    assert m.tolist() == [[3.0, 1.0], [6.0, 4.0]]
    m[0, 0] = 99
    assert table.columns["c"][0] == 3.0 and table.matrix(["c"]).shape == (2, 1)
    assert all(not c.flags.writeable and c.dtype == np.float64 for c in table.columns.values())
    with pytest.raises(IndexError):
        table.locate(2)


def test_parquet_round_trips_bit_identical(tmp_path):
    rng = np.random.default_rng(3)
    n = 5000
    cols = {"f64": rng.normal(size=n), "f32": rng.normal(size=n).astype(np.float32),
            "i64": rng.integers(-(2**62), 2**62, n), "i8": rng.integers(-128, 127, n).astype(np.int8),
            "u16": rng.integers(0, 65535, n).astype(np.uint16)}
    cols["f64"][:3] = [0.1, -0.0, 5e-324]
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table(cols), path, row_group_size=1000)  # several row groups: several chunks
    table = read(path)
    assert table.header == tuple(cols) and table.n_rows == n
    for name, values in cols.items():
        assert same_bits(table.columns[name], np.array([float(v) for v in values.tolist()]))
        assert not table.columns[name].flags.writeable
    assert same_bits(table.matrix(["f64", "i8"]), np.stack([cols["f64"], cols["i8"].astype(np.float64)], 1))
    assert table.locate(7) == f"{path}, row 8"
    assert read(path.rename(tmp_path / "t.PQ")).n_rows == n


# --- every message of the old reader, at its line and column, for CSV and gzip CSV ---------------------

BAD = [
    # tests/test_data.py's bad and malformed CSVs
    "", "\n\n", "a,b\n", "1,2\n3,4\n", "a,b\n1,2\n3\n", "a,b\n1,2\n3,4,5\n", "a,b\n1,x\n", "a,b\n1,nan\n2,3\n",
    "a,b\n1,2\ninf,3\n", "a,b\n1,-inf\n", "a\n1\n", 'a,b\n3,"6\n7"\n', 'a,b\n1,2\n3,"4\n', 'a,b\n1,"2"x\n',
    "a,b\n1_000,2\n", "a,b\n\u0661\u0662,2\n", "a,b\n1,\uff13\n", "a,b\n1,0x10\n", "a,b\n1,2\u00a0\n",
    "a,,b\n1,2,3\n", "a,b,\n1,2,\n", "a,b,a\n1,2,3\n", "# temperatures\na,b\n1,2\n", "a,b\n1,2\n# the end\n",
    "a,b\n\n1,2\n3\n",
    # what pyarrow would read but the old reader refuses
    'a,b\n1,"2" \n', 'a,b\n1,"2"3\n', "a,b\n1,nan(7)\n", "a,b\n1,2\n3,\n", "a,b\n,5\n", "a,b\n1,2\n1e400,3\n",
    "a,b\n1, \n", "a,b\n1,\t\n", "a,b\n1,2\f\n", "a,b\n1,NaN\n", "a,b\n1,Infinity\n", "a,b\n1,-nan\n",
    # what pyarrow refuses
    "a,b\n1e,2\n", "a,b\n1d,2\n", "a,b\n1.#INF,2\n", "a,b\n1,2\n\x00,3\n", "a;b\n1;2\n", "a\tb\n1\t2\n",
    "a,b", "  a , a \n1,2\n", " #a,b\n1,2\n", "a,b\n1,2\n  # late\n",
    # precedence: the old reader split the whole file into records before any other check
    '1,2\n3,"4\n', 'a\n1,"2\n', 'a,b\n1,x\n3,"4\n', '"a\nb",c\n1,2\n', "a,b\n1,x\n2,nan\n",
    "a,b\n1,nan,3\n", "a,b\n1,2,#\n", "a,b\nx,nan\n", "a,b\nnan,x\n",
]


@pytest.mark.parametrize("text", BAD, ids=range(len(BAD)))
def test_every_old_message_with_its_line_and_column(tmp_path, text):
    for suffix in (".csv", ".csv.gz"):
        assert assert_same_verdict(write(tmp_path, text, "data" + suffix), text) is None


@pytest.mark.parametrize(
    "data",
    [b"a,b\n1,\xff\n", b"\xef\xbb\xbfa,b\n1,\xe2\x82\n", b"a,b\n1,2\n\xe2\x82", b"a,\xc3b\n1,2\n",
     b"a,b\n" + b"1,2\n" * 30000 + b"\xe2\x82x\n", b"a,b\n1,x\n" + b"1,2\n" * 20000 + b"\xff"],
    ids=["invalid-start", "bom-and-cut", "cut-at-end", "in-header", "late-continuation", "outranks-a-bad-cell"],
)
def test_not_utf8_gives_the_old_message_and_byte_position(tmp_path, data):
    for suffix in (".csv", ".csv.gz"):
        assert assert_same_verdict(write(tmp_path, data, "data" + suffix), data) is None


def test_the_byte_position_is_right_across_chunks(tmp_path):
    for at in range(65530, 65540):  # the diagnosis decodes 64 KiB at a time
        data = b"\xef\xbb\xbfa,b\n" + b"1" * (at - 7) + b"\xe2\x82\xac\xe2\x82" + b",2\n"
        assert assert_same_verdict(write(tmp_path, data, "c.csv"), data) is None


CELLS = ["1", "-2.5", "+.5", "5.", ".5", "1e3", "1E-3", "-1.5e+10", " 7 ", "\t7\t", '"8"', '" 8"', "1_000", "Infinity",
         "-Infinity", "+inf", "iNf", "NaN", "-nan", "+nan", "nan(1)", "nan()", "1e", "1e+", "1d", "1f", "0x10",
         "1.#INF", "1.#IND", "N/A", "NA", "null", "#N/A", ".", "+", "-", "e5", ".e5", "1.e5", "00012", "1 000",
         "1\v", "\f1",
         "\u00a01", "1\u00a0", "\u0661", "\uff13", "\u2007" + "1", "1e400", "-1e400", "1e-400", "2.4e-324", "--1",
         "1ee5", "true", "'1'", "1,", "", " ", '""', '" "']


def test_every_spelling_of_a_cell_gets_the_old_verdict(tmp_path):
    rng = np.random.default_rng(11)
    alphabet = list("0123456789.eE+-naifINFty _\t\"x")
    fuzz = ["".join(rng.choice(alphabet, rng.integers(1, 7))) for _ in range(150)]
    for i, cell in enumerate(CELLS + fuzz):
        text = f"a,b\n{cell},1\n2,{cell}\n"
        assert_same_verdict(write(tmp_path, text, f"c{i}.csv"), text)


def test_nan_after_blank_lines_is_named_by_its_line_in_the_file(tmp_path):
    path = write(tmp_path, "\n\na,b\n1,2\n\n\n,\n3,4\n\n5,inf\n", "gaps.csv")
    with pytest.raises(GdcliError) as err:
        read(path)
    assert err.value.message == f"{path}, line 10, column 'b': inf is not a finite number"


@pytest.mark.parametrize(
    "cell, message", [("-Infinity", "-Infinity is not a finite number"), ("x", "'x' is not a number")]
)
def test_one_bad_cell_in_200k_rows_is_found_at_its_line(tmp_path, cell, message):
    lines = [f"{i},{i * 0.5}" for i in range(200_000)]
    lines[199_990] = f"{cell},1"
    lines[1000] = ""  # a blank line: counted
    path = write(tmp_path, "a,b\n" + "\n".join(lines) + "\n", "big.csv")
    with pytest.raises(GdcliError) as err:
        read(path)
    assert err.value.message == f"{path}, line 199992, column 'a': {message}"


def test_locate_counts_blank_lines_and_the_header(tmp_path):
    table = read(write(tmp_path, "\na,b\n1,2\n\n\n3,4\n,\n5,6\n", "l.csv"))
    assert [table.locate(i) for i in range(3)] == [f"{tmp_path / 'l.csv'}, line {n}" for n in (3, 6, 8)]
    table = read(write(tmp_path, "\na,b\n1,2\n\n\n3,4\n , \n\"5\",6\n", "q.csv.gz"), "my data")  # the string path
    assert [table.locate(i) for i in range(3)] == ["my data, line 3", "my data, line 6", "my data, line 8"]


# --- files that are not there, not files, not gzip -------------------------------------------------------


def test_missing_folder_and_special_files(tmp_path):
    with pytest.raises(GdcliError, match="CSV file '.*missing.csv' not found") as err:
        read(tmp_path / "missing.csv")
    assert "--dataset" in err.value.render()
    # A folder is read as a folder of parts (as Spark writes d.parquet/): one with none is refused.
    with pytest.raises(GdcliError, match="is a folder with no data file in it"):
        read(tmp_path)
    with pytest.raises(GdcliError, match="is a folder with no data file in it") as err:
        read(Path(tmp_path / "d.parquet").mkdir() or tmp_path / "d.parquet")
    assert "Parquet file (.csv, .gz, .parquet, .pq) to --dataset" in err.value.render()
    specials = [Path("/dev/null")] if Path("/dev/null").exists() else []
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.csv")  # opening it would block: read must not
        specials.append(tmp_path / "pipe.csv")
    for path in specials:
        with pytest.raises(GdcliError, match="not a regular file") as err:
            read(path)
        assert str(path) in err.value.message and "--dataset" in err.value.render()


GZ = gzip.compress(b"a,b\n" + b"1,2\n" * 500)


@pytest.mark.parametrize("data", [b"a,b\n1,2\n", GZ[: len(GZ) // 2], GZ[:-8] + bytes(4) + GZ[-4:], GZ + b"junk", b""],
                         ids=["not-gzip", "truncated", "bad-crc", "trailing-junk", "empty"])
def test_a_corrupt_gzip_is_named(tmp_path, data):
    path = tmp_path / "d.csv.gz"
    path.write_bytes(data)
    with pytest.raises(GdcliError) as err:
        read(path)
    assert str(path) in err.value.message and err.value.hint
    if data:
        assert "gzip" in err.value.message


# --- Parquet errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "columns, phrase",
    [({"a": [1.0, 2.0], "b": ["x", "y"]}, "column 'b' holds string values such as 'x', not numbers"),
     ({"a": [1.0, 2.0, 3.0], "b": [1, None, 3]}, "row 2, column 'b': the value is missing (null)"),
     ({"a": [1.0, np.nan], "b": [np.inf, 2.0]}, "row 1, column 'b': inf is not a finite number"),
     ({"a": [1.0, np.nan], "b": [0.0, 2.0]}, "row 2, column 'a': the value is missing (NaN); 1 of 2 rows have a gap"),
     ({"a": [1.0, 2.0]}, "has a single column"),
     ({"a": pa.array([], pa.float64()), "b": pa.array([], pa.int32())}, "has no data rows"),
     ({"a": [True], "b": [1]}, "column 'a' holds bool values")],
    ids=["string", "null", "inf", "nan", "one-column", "no-rows", "bool"],
)
def test_parquet_errors_name_the_row_and_column(tmp_path, columns, phrase):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table(columns), path)
    with pytest.raises(GdcliError) as err:
        read(path)
    assert err.value.message.startswith(str(path)) and phrase in err.value.message and err.value.hint


def test_parquet_duplicate_names_and_corrupt_files(tmp_path):
    path = tmp_path / "dup.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array([1.0]), pa.array([2.0])], names=["x", "x"]), path)
    with pytest.raises(GdcliError, match="names the column 'x' twice"):
        read(path)
    for data in (b"", b"not parquet at all"):
        path.write_bytes(data)
        with pytest.raises(GdcliError, match=re.escape(f"cannot read {str(path)!r} as a Parquet file")) as err:
            read(path)
        assert err.value.hint


def test_messages_name_parameters_not_flags():
    import ast

    import gdcli.readers

    # Every module of the package: the readers live in several.
    source = "\n".join(p.read_text() for p in sorted(Path(gdcli.readers.__file__).parent.glob("*.py")))
    tree = ast.parse(source)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "GdcliError"]
    assert len(calls) > 20
    for call in calls:
        assert len(call.args) == 2, f"line {call.lineno}: every GdcliError carries a hint"
        for node in ast.walk(call):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not re.search(r"--[a-z]", node.value), f"line {node.lineno}: write param(...), not a flag"


# --- no torch; speed --------------------------------------------------------------------------------------


def test_reading_csvs_and_their_errors_does_not_import_torch(tmp_path):
    # pyarrow and numpy load on the first read, not with the module: the CLI must start fast.
    good, bad = write(tmp_path, "a,b\n1,2\n", "good.csv"), write(tmp_path, "a,b\n1,x\n", "bad.csv.gz")
    code = f"""
import sys
from gdcli.errors import GdcliError
from gdcli.readers import read
assert "pyarrow" not in sys.modules and "numpy" not in sys.modules, "imported with gdcli.readers"
assert read({str(good)!r}).n_rows == 1
try:
    read({str(bad)!r})
except GdcliError:
    pass
else:
    raise SystemExit("bad.csv.gz read")
assert "torch" not in sys.modules, "torch was imported"
print("ok")
"""
    env = {**os.environ, "PYTHONPATH": str(Path(gdcli.__file__).parent.parent)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
