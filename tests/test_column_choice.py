"""Choosing a data file's columns: --inputs, --target and --drop, the identifier guess, text columns
left out where unused and refused where used, and what the header, JSON, run file and API say."""

from __future__ import annotations

import json

import pytest
import torch

import gdcli
from gdcli.data import columns
from gdcli.data.columns import DROPPED, IDENTIFIER, TEXT, UNCHOSEN, choose
from gdcli.errors import GdcliError, flags_in
from conftest import plain

HOUSES = "id,sqft,rooms,city,price\n1,100,2,Paris,10\n2,150,3,Lyon,14\n3,200,3,Nice,19\n4,120,1,Paris,11\n5,90,2,Lyon,9\n"
ROWS = [(100, 2, 10), (150, 3, 14), (200, 3, 19), (120, 1, 11), (90, 2, 9)]
GRAM = ("--method", "gram", "--lr", "0.5", "--epochs", "5", "--normalize")


def _refused(call, *phrases):
    with pytest.raises(GdcliError) as err:
        call()
    text = flags_in(err.value.message + " | " + (err.value.hint or ""))
    for phrase in phrases:
        assert phrase in text, text
    return text


# --- the pure choice, on headers ---------------------------------------------------------------


def test_default_is_every_column_but_the_last():
    assert choose(["a", "b", "y"], "f.csv") == columns.Choice(("a", "b"), ("y",), {})


@pytest.mark.parametrize("name", ["id", "ID", "Id", "user_id", "USER_ID", "userId", "index", "Unnamed: 0"])
def test_an_identifier_is_left_out(name):
    got = choose([name, "x", "y"], "f.csv")
    assert got.inputs == ("x",) and got.left_out == {name: IDENTIFIER}


@pytest.mark.parametrize("name", ["paid", "valid", "Identity", "width", "Idx"])
def test_names_that_merely_contain_id_are_inputs(name):
    assert choose([name, "y"], "f.csv").inputs == (name,)


def test_the_unnamed_first_column_is_an_index():
    assert choose(["", "x", "y"], "f.csv").left_out == {"": IDENTIFIER}


def test_inputs_name_the_inputs_and_keep_an_identifier():
    got = choose(["id", "a", "b", "y"], "f.csv", inputs=["id,b"])
    assert got.inputs == ("id", "b") and got.targets == ("y",) and got.left_out == {"a": UNCHOSEN}


def test_drop_and_text_are_left_out_and_the_target_defaults_past_them():
    got = choose(["a", "b", "y", "name"], "f.csv", drop=["b"], text={"name": "f.csv, line 2 ..."})
    assert got.inputs == ("a",) and got.targets == ("y",) and got.left_out == {"b": DROPPED, "name": TEXT}


def test_a_name_not_in_the_file_is_named_with_the_columns_and_a_near_miss():
    _refused(lambda: choose(["sqft", "y"], "f.csv", inputs=["sqf"]), "--inputs names 'sqf'", "did you mean 'sqft'",
             "sqft, y")
    _refused(lambda: choose(["a", "y"], "f.csv", drop=["zzz"]), "--drop names 'zzz'", "a, y")
    _refused(lambda: choose(["a", "y"], "f.csv", targets=["q"]), "target column 'q' is not in f.csv")


def test_a_column_in_two_roles_is_refused():
    _refused(lambda: choose(["a", "y"], "f.csv", inputs=["a"], targets=["a"]), "both an input", "--target")
    _refused(lambda: choose(["a", "y"], "f.csv", inputs=["a"], drop=["a"]), "both used", "--drop")
    _refused(lambda: choose(["a", "y"], "f.csv", targets=["y"], drop=["y"]), "both used", "--drop")


def test_a_used_text_column_is_refused_with_its_cell():
    text = {"c": "f.csv, line 2, column 'c': 'Paris' is not a number (the column holds text)"}
    _refused(lambda: choose(["a", "c", "y"], "f.csv", inputs=["c"], text=text), "line 2", "'Paris'",
             "leave it out of --inputs")
    _refused(lambda: choose(["a", "c"], "f.csv", targets=["c"], text=text), "'Paris'", "encode it as numbers",
             "choose another --target")
    # Text columns that would be the only inputs: nothing is left to be one, said as such.
    _refused(lambda: choose(["c", "y"], "f.csv", text=text), "line 2, column 'c': 'Paris' is not a number",
             "no numeric column is left to be an input: encode it as numbers first, or name the inputs with --inputs")


def test_a_column_named_twice_is_refused():
    _refused(lambda: choose(["a", "b", "y"], "f.csv", inputs=["a,a"]), "--inputs names 'a' twice", "once")
    _refused(lambda: choose(["a", "b", "y"], "f.csv", drop=["b", "b"]), "--drop names 'b' twice")


def test_nothing_left_is_refused():
    _refused(lambda: choose(["id", "y"], "f.csv"), "no column is left to be an input", "--inputs")
    _refused(lambda: choose(["a", "y"], "f.csv", drop=["a", "y"]), "left to be the target")


# --- through the CLI and the API ---------------------------------------------------------------


def _houses(tmp_path, text=HOUSES, name="h.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _lstsq(rows):
    X = torch.tensor([r[:-1] for r in rows], dtype=torch.float64)
    y = torch.tensor([[r[-1]] for r in rows], dtype=torch.float64)
    A = torch.cat([X, torch.ones(len(rows), 1, dtype=torch.float64)], 1)
    return torch.linalg.lstsq(A, y).solution.flatten()


def test_fit_leaves_out_the_id_and_the_text_and_says_so(run_cli, tmp_path, wide_console):
    result = run_cli("fit", "--dataset", _houses(tmp_path), *GRAM)
    assert result.exit_code == 0, result.output
    assert "sqft, rooms -> price" in result.plain
    assert "id (looks like an identifier: use --inputs to include it)" in result.plain
    assert "city (holds text)" in result.plain


def test_a_file_used_whole_gets_no_new_header_line(run_cli, tmp_path, wide_console):
    result = run_cli("fit", "--dataset", _houses(tmp_path, "x,y\n1,2\n2,4.5\n3,6\n"), *GRAM)
    assert result.exit_code == 0 and "left out" not in result.plain and "dropped" not in result.plain


def test_json_names_the_columns_and_the_fit_matches_lstsq(run_cli, tmp_path):
    result = run_cli("fit", "--dataset", _houses(tmp_path), "--inputs", "sqft", "--inputs", "rooms", "--drop", "city",
                     "--method", "gram", "--lr", "1e-6", "--epochs", "3", "--dtype", "float64", "--output", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["columns"] == {"inputs": ["sqft", "rooms"], "targets": ["price"], "left_out": {"id": UNCHOSEN,
                                                                                            "city": DROPPED}}
    assert doc["dropped_rows"] == 0 and doc["config"]["inputs"] == ["sqft", "rooms"]
    expected = _lstsq(ROWS)
    got = doc["optimum"]["params"]
    assert torch.allclose(torch.tensor(got["weight"][0] + got["bias"], dtype=torch.float64), expected, atol=1e-6)


def test_a_chosen_text_column_is_exit_2(run_cli, tmp_path):
    result = run_cli("fit", "--dataset", _houses(tmp_path), "--inputs", "sqft,city", *GRAM)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "line 2, column 'city': 'Paris' is not a number" in plain(result.stderr)
    assert "leave it out of --inputs" in plain(result.stderr)


def test_pandas_to_csv_with_its_index(run_cli, tmp_path, wide_console):
    # What DataFrame.to_csv writes with its default index=True: an unnamed first column 0..n-1.
    text = ",x,y\n0,1.0,2.0\n1,2.0,4.1\n2,3.0,5.9\n3,4.0,8.2\n"
    result = run_cli("fit", "--dataset", _houses(tmp_path, text), *GRAM, "--output", "json")
    assert result.exit_code == 0, result.output
    # Named as pandas reads it back, so that --keep and --inputs can give it.
    assert json.loads(result.stdout)["columns"]["left_out"] == {"Unnamed: 0": IDENTIFIER}
    saved = tmp_path / "run.json"
    assert run_cli("fit", "--dataset", _houses(tmp_path, text), *GRAM, "--save", saved).exit_code == 0
    kept = run_cli("predict", saved, "--input", _houses(tmp_path, text), "--keep", "Unnamed: 0", "--output", "csv")
    assert kept.exit_code == 0 and kept.stdout.splitlines()[0] == "Unnamed: 0,x,y,y_predicted", kept.output
    assert [line.split(",")[0] for line in kept.stdout.splitlines()[1:]] == ["0", "1", "2", "3"]


def test_built_in_datasets_refuse_the_column_options(run_cli):
    for option, value in (("--inputs", "x"), ("--drop", "x"), ("--missing", "drop")):
        result = run_cli("fit", "--dataset", "celsius", option, value)
        assert result.exit_code == 2 and f"{option} applies to data files" in plain(result.stderr)


@pytest.mark.parametrize("command", ["compare", "sweep"])
def test_compare_and_sweep_take_the_options(run_cli, tmp_path, command):
    extra = ("--lr", "0.1:0.2", "--num", "2") if command == "sweep" else ()
    result = run_cli(command, "--dataset", _houses(tmp_path), "--inputs", "sqft", "--epochs", "3", "--normalize", *extra)
    assert result.exit_code == 0, result.output
    assert "left out" in result.plain


def test_grad_takes_the_options(run_cli, tmp_path):
    result = run_cli("grad", "--dataset", _houses(tmp_path), "--inputs", "sqft", "--normalize")
    assert result.exit_code == 0, result.output


def test_api_keywords_and_run_file(tmp_path):
    path = _houses(tmp_path)
    run = gdcli.fit(dataset=str(path), inputs="sqft,rooms", drop=["city"], method="gram", lr=0.5, epochs=5,
                    normalize=True)
    assert run.features == ("sqft", "rooms") and run.targets == ("price",)
    with pytest.raises(GdcliError, match="inputs names 'nope'"):
        gdcli.fit(dataset=str(path), inputs=["nope"], epochs=2)


def test_run_file_records_the_columns(run_cli, tmp_path):
    saved = tmp_path / "run.json"
    result = run_cli("fit", "--dataset", _houses(tmp_path), *GRAM, "--save", saved)
    assert result.exit_code == 0, result.output
    doc = json.loads(saved.read_text())
    assert doc["columns"] == {"inputs": ["sqft", "rooms"], "targets": ["price"],
                              "left_out": {"id": IDENTIFIER, "city": TEXT}}
    assert doc["missing"] == "error"
    from gdcli import runfile

    assert runfile.load_run(saved).missing == "error"
    del doc["missing"], doc["columns"]
    saved.write_text(json.dumps(doc))
    assert runfile.load_run(saved).missing == "error"  # an older file


def test_config_file_keys(run_cli, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(f'dataset = "{_houses(tmp_path)}"\ninputs = ["sqft"]\ndrop = ["city"]\nmissing = "drop"\n'
                      'method = "gram"\nepochs = 3\nnormalize = true\n')
    result = run_cli("fit", "--config", config, "--output", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["columns"]["inputs"] == ["sqft"] and doc["config"]["missing"] == "drop"


def test_a_run_file_replays_on_its_file_with_columns_left_out(run_cli, tmp_path):
    saved = tmp_path / "run.json"
    assert run_cli("fit", "--dataset", _houses(tmp_path), *GRAM, "--save", saved).exit_code == 0
    result = run_cli("fit", "--config", saved, "--output", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["columns"]["inputs"] == ["sqft", "rooms"]
