"""Columns read as text (`text=`): every reader gives the cells as written, beside the numbers, whole
or block by block, and never checks them as numbers."""

from __future__ import annotations

import gzip
import io
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gdcli import readers
from gdcli.errors import GdcliError

CSV = 'id,date,x,y\n007, 2024-01-02 ,1.5,3\n"a,b",2024-01-03,2,4\n\n,,,\nx9,,3,5\n'
IDS = ["007", "a,b", "x9"]
DATES = ["2024-01-02", "2024-01-03", ""]


def _file(tmp_path, name, text=CSV):
    path = tmp_path / name
    raw = text.encode()
    path.write_bytes(gzip.compress(raw) if name.endswith(".gz") else raw)
    return path


@pytest.mark.parametrize("name", ["d.csv", "d.csv.gz"])
def test_csv_text_columns_come_back_as_written(tmp_path, name):
    table = readers.read(_file(tmp_path, name), columns=["x", "y"], text=["id", "date"])
    assert table.n_rows == 3 and table.dropped == 0
    assert table.text == {"id": IDS, "date": DATES}
    assert table.matrix(["x", "y"]).tolist() == [[1.5, 3.0], [2.0, 4.0], [3.0, 5.0]]
    assert table.locate(2).endswith("line 6")


def test_a_name_both_text_and_number(tmp_path):
    table = readers.read(_file(tmp_path, "d.csv", "x,y\n01,2\n2.50,3\n"), columns=["x", "y"], text=["x"])
    assert table.text == {"x": ["01", "2.50"]} and table.columns["x"].tolist() == [1.0, 2.5]


def test_columns_none_reads_every_other_column_as_numbers(tmp_path):
    table = readers.read(_file(tmp_path, "d.csv", "id,x,y\nabc,1,2\nd,3,4\n"), text=["id"])
    assert set(table.columns) == {"x", "y"} and table.text == {"id": ["abc", "d"]}


def test_a_missing_text_column_is_named(tmp_path):
    with pytest.raises(GdcliError, match="no column 'nope'"):
        readers.read(_file(tmp_path, "d.csv"), columns=["x"], text=["nope"])


def test_a_bad_number_is_still_named_beside_text(tmp_path):
    with pytest.raises(GdcliError, match="line 3, column 'x': 'abc' is not a number"):
        readers.read(_file(tmp_path, "d.csv", "id,x,y\na,1,2\nb,abc,4\n"), columns=["x", "y"], text=["id"])


def test_csv_chunks_stream_the_text(tmp_path):
    rows = "".join(f"{i:05d},{i},{2 * i}\n" for i in range(3000))
    path = _file(tmp_path, "d.csv", "id,x,y\n" + rows)
    blocks = list(readers.CSV.chunks(path, "d.csv", ["x", "y"], "", text=["id"], block=4096))
    assert len(blocks) > 1
    assert sum((b.text["id"] for b in blocks), []) == [f"{i:05d}" for i in range(3000)]
    assert np.concatenate([b.columns["x"] for b in blocks]).tolist() == list(range(3000))


def test_csv_chunks_hand_over_to_the_whole_read_with_text(tmp_path):
    path = _file(tmp_path, "d.csv", 'id,x,y\n"q",1,2\nb,"2",3\n')
    blocks = list(readers.CSV.chunks(path, "d.csv", ["x", "y"], "", text=["id"]))
    assert sum((b.text["id"] for b in blocks), []) == ["q", "b"]


def test_parquet_text_is_str_of_each_value(tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"id": [7, None, 9], "tag": ["007", "b", None], "x": [1.0, 2.0, 3.0],
                             "y": [1, 2, 3]}), path)
    table = readers.read(path, columns=["x", "y"], text=["id", "tag", "x"])
    assert table.text == {"id": ["7", "", "9"], "tag": ["007", "b", ""], "x": ["1.0", "2.0", "3.0"]}
    assert table.matrix(["x", "y"]).tolist() == [[1, 1], [2, 2], [3, 3]]
    blocks = list(readers.PARQUET.chunks(path, "p.parquet", ["y"], "", text=["tag"], rows=2))
    assert [b.text["tag"] for b in blocks] == [["007", "b"], [""]]


def test_stdin_text(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"id,x\n007,1\n008,2\n")))
    table = readers.read_stdin("cat d.csv | gdcli", columns=["x"], text=["id"])
    assert table.text == {"id": ["007", "008"]} and table.columns["x"].tolist() == [1.0, 2.0]
