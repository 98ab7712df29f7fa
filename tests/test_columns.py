"""Column names: wide headers checked in linear work, and replays that find their columns by name."""

import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gdcli import readers
from gdcli.errors import GdcliError


class Counted(str):
    """A column name that counts the equality tests made on it (strip keeps the count going)."""

    compared = 0

    def __eq__(self, other):
        Counted.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__

    def strip(self, *chars):
        return self


def counted(k: int) -> list[Counted]:
    Counted.compared = 0
    return [Counted(f"x{i}") for i in range(k)]


def test_csv_header_check_is_linear_in_columns():
    names = counted(5000)
    assert readers._check_header(1, names, "w.csv") == names
    # A pairwise check makes k*(k-1)/2 = 12.5 million tests; a set makes about none.
    assert Counted.compared < 5 * len(names)


def test_parquet_header_check_is_linear_in_columns():
    names = counted(5000)
    readers._check_parquet_header(names, "w.parquet", None)
    assert Counted.compared < 5 * len(names)


@pytest.mark.parametrize("check", ["csv", "parquet"])
def test_a_repeated_name_is_still_refused_with_its_message(check):
    names = [f"x{i}" for i in range(3000)] + ["x7", "x2"]
    if check == "csv":
        with pytest.raises(GdcliError) as err:
            readers._check_header(1, names, "w")
        assert err.value.message == "w names the column 'x7' twice in its header"
    else:
        with pytest.raises(GdcliError) as err:
            readers._check_parquet_header(names, "w", None)
        assert err.value.message == "w names the column 'x7' twice"
    assert err.value.hint == "give every column its own name"


def test_a_picked_column_is_found_in_linear_work():
    names = counted(5000)
    assert readers._pick(names, list(reversed(names)), "w.csv", "") == list(range(4999, -1, -1))
    assert Counted.compared < 5 * len(names)


def test_a_wide_csv_and_parquet_read_in_seconds(tmp_path):
    k, rows = 20_000, 5
    header = [f"x{i}" for i in range(k - 1)] + ["y"]
    lines = [",".join(header)] + [",".join(str(r + j % 7) for j in range(k)) for r in range(rows)]
    (tmp_path / "w.csv").write_text("\n".join(lines) + "\n")
    pq.write_table(pa.table({n: [float(r + j % 7) for r in range(rows)] for j, n in enumerate(header)}), tmp_path / "w.parquet")
    for name in ("w.csv", "w.parquet"):
        start = time.perf_counter()
        table = readers.read(tmp_path / name)
        assert time.perf_counter() - start < 5
        assert table.header == tuple(header) and table.n_rows == rows
        assert table.columns["x8"].tolist() == [float(r + 1) for r in range(rows)]


# --- a replayed run file finds its columns by name ----------------------------------------------------------

CSV = "x,y\n1,2.1\n2,3.9\n3,6.2\n4,7.8\n5,10.1\n"
SWAPPED = "y,x\n2.1,1\n3.9,2\n6.2,3\n7.8,4\n10.1,5\n"


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "3000")
    return tmp_path


def final(result) -> dict:
    import json

    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["final"]


@pytest.mark.parametrize("source", ["stdin", "file"])
def test_a_replay_takes_the_runs_columns_in_another_order(run_cli, here, source):
    (here / "data.csv").write_text(CSV)
    dataset = "-" if source == "stdin" else "data.csv"
    saved = run_cli("fit", "--dataset", dataset, "--epochs", "3", "-q", "--save", "run.json", input=CSV)
    assert saved.exit_code == 0, saved.output
    expected = final(run_cli("fit", "--dataset", "data.csv", "--epochs", "3", "--output", "json"))
    (here / "data.csv").write_text(SWAPPED)
    replayed = run_cli("fit", "--config", "run.json", "--output", "json", input=SWAPPED)
    got = final(replayed)
    # The same column is the target: the same numbers, trained as before.
    assert got["loss"] == expected["loss"] and got["params"] == expected["params"]


def test_a_replay_on_other_columns_says_which_differ(run_cli, here):
    saved = run_cli("fit", "--dataset", "-", "--epochs", "3", "-q", "--save", "run.json", input=CSV)
    assert saved.exit_code == 0, saved.output
    result = run_cli("fit", "--config", "run.json", input="x,z,w\n1,2,3\n2,3,4\n")
    assert result.exit_code == 2 and "Traceback" not in result.output
    text = " ".join(result.stderr.split())
    assert "standard input has the columns x, z, w (without y; z and w are not the run's)" in text, text


# --- compare leaves out a default method that cannot run here, and its hints name its own options -------------

WIDE = ("--dataset", "synthetic", "--features", "30", "--rows", "4", "--epochs", "2")


@pytest.fixture
def few_for_finite_diff(monkeypatch):
    """finite-diff's limit lowered from 10,000 parameters to 20, so that 30 features (31 parameters) pass it
    as 10,000 would: the same refusal and note, without training 10,001 parameters three ways."""
    from gdcli import gradients

    monkeypatch.setattr(gradients, "FD_MAX_PARAMS", 20)


def test_compare_leaves_finite_diff_out_of_its_default_list_with_a_note(run_cli, few_for_finite_diff):
    import json

    result = run_cli("compare", *WIDE, "--output", "json")
    assert result.exit_code == 0, result.output
    methods = {run["method"] for run in json.loads(result.stdout)["runs"]}
    assert "finite-diff" not in methods and {"analytic", "autograd"} <= methods
    text = " ".join(result.stderr.split())
    assert "note: finite-diff is left out: it evaluates the loss twice per parameter every step" in text, text


@pytest.mark.parametrize("how", [("--methods", "analytic,finite-diff"), ("--run", "finite-diff:gd")])
def test_compare_refuses_a_named_method_with_a_hint_of_its_own_options(run_cli, few_for_finite_diff, how):
    result = run_cli("compare", *WIDE, *how)
    assert result.exit_code == 2 and "Traceback" not in result.output
    text = " ".join(result.stderr.split())
    assert "finite-diff evaluates the loss twice per parameter" in text
    assert "--method " not in text and f"leave finite-diff out of {how[0]}" in text, text


@pytest.mark.parametrize("command", ["sweep", "compare"])
@pytest.mark.parametrize("typed", ["--sav", "--sa"])
def test_a_prefix_of_the_commands_own_option_is_guessed_before_a_look_alike(run_cli, command, typed):
    result = run_cli(command, typed, "x.json")
    assert result.exit_code == 2 and "Traceback" not in result.output
    text = " ".join(result.stderr.split())
    assert f"unknown option {typed} (did you mean --save-best?)" in text and "--scale" not in text, text


@pytest.mark.parametrize("command", ["sweep", "compare"])
def test_fits_save_on_a_run_command_points_to_save_best(run_cli, command):
    result = run_cli(command, "--save", "x.json")
    assert result.exit_code == 2 and "Traceback" not in result.output
    text = " ".join(result.stderr.split())
    assert f"unknown option --save: gdcli {command} has no --save (an option of gdcli fit)" in text, text
    assert f"gdcli {command} saves its best run with --save-best FILE" in text


def test_a_prefix_of_the_commands_own_option_still_gets_its_guess(run_cli):
    text = " ".join(run_cli("sweep", "--sca", "2").stderr.split())
    assert "unknown option --sca (did you mean --scale?)" in text, text


# --- file names to write: standard streams, the empty name, compressed names -------------------------------


@pytest.mark.parametrize("name", ["/dev/stdout", "/dev/stderr", "/dev/fd/1", "/proc/self/fd/1", "/dev/stdin"])
@pytest.mark.parametrize("option", ["--save", "--plot-file"])
def test_a_standard_stream_is_no_file_to_write(run_cli, here, name, option):
    result = run_cli("fit", option, name, "--epochs", "1", "-q")
    assert result.exit_code == 2 and "Traceback" not in result.output and result.stdout == ""
    text = " ".join(result.stderr.split())
    assert f"{option} is {name!r}" in text and "never to standard output" in text, text
    assert "/proc/" not in text.replace(name, ""), text  # no path of a pipe that is gone when the run ends


def test_an_empty_name_to_write_is_called_empty(run_cli, here):
    result = run_cli("fit", "--save", "", "--epochs", "1", "-q")
    assert result.exit_code == 2 and "Traceback" not in result.output
    text = " ".join(result.stderr.split())
    assert "--save is empty" in text and "'.'" not in text, text
    assert "give a file name, for example run.json" in text


@pytest.mark.parametrize("name, example", [("v.csv.gz", "v-new.csv.gz"), ("run.json", "run-new.json"), ("data", "data-new")])
def test_a_refused_name_suggests_a_sibling_with_every_suffix_kept(run_cli, here, name, example):
    (here / name).write_text("x,y\n1,2\n2,4\n3,6\n")
    if name.endswith(".gz"):
        import gzip

        (here / name).write_bytes(gzip.compress(b"x,y\n1,2\n2,4\n3,6\n"))
    result = run_cli("fit", "--dataset", name, "--save", name, "--epochs", "1", "-q")
    if name == "data":  # not a data file name: refused as such, before any collision
        return
    assert result.exit_code == 2
    assert f"write to another file, for example {example}" in " ".join(result.stderr.split())


# --- a config printed by fit is taken by compare, as a run file is ------------------------------------------


def test_compare_takes_fits_printed_config_leaving_method_and_optim_out(run_cli, here):
    import json

    printed = run_cli("fit", "--epochs", "5", "--lr", "0.02", "--method", "analytic", "--print-config")
    assert printed.exit_code == 0, printed.output
    (here / "c.toml").write_text(printed.stdout)
    result = run_cli("compare", "--config", "c.toml", "--output", "json")
    assert result.exit_code == 0, result.output
    assert "note: gdcli compare takes no method, optim, backend, history: left out of the config file 'c.toml'" in " ".join(
        result.stderr.split()
    )
    typed = run_cli("compare", "--epochs", "5", "--lr", "0.02", "--output", "json")
    strip = lambda out: [(r["method"], r["optim"], r["final"]) for r in json.loads(out)["runs"]]  # noqa: E731
    assert strip(result.stdout) == strip(typed.stdout)


def test_compare_still_refuses_an_unknown_key_in_a_config(run_cli, here):
    for key in ("methodz", "save"):  # no run is saved: a save stays refused
        (here / "c.toml").write_text(f"epochs = 5\n{key} = 'x.json'\n")
        result = run_cli("compare", "--config", "c.toml")
        assert result.exit_code == 2 and f"unknown key '{key}'" in result.stderr, result.output
