"""Which files a command reads and writes: outputs never land on inputs, paths in config and run
files are relative to those files, "-" is standard input for reading and never a file to write,
and a replayed run file says what it replays.

References are independent of the code under test: the bytes of the input files before and after,
the listing of the folder, and the same run typed on the command line.
"""

import json
import os
import signal

import pytest
from conftest import snapshot, untimed

from gdcli import files

CSV = "x,y\n1,2.1\n2,3.9\n3,6.2\n4,7.8\n5,10.1\n"
EPOCHS = ("--epochs", "3")


pytestmark = pytest.mark.usefixtures("wide_console")


@pytest.fixture
def no_training(monkeypatch):
    """Any training attempt fails loudly: the refusals under test must come first."""
    from gdcli import train

    def refuse(*args, **kwargs):
        raise AssertionError("training started before the files were checked")

    monkeypatch.setattr(train, "fit", refuse)


@pytest.fixture
def here(tmp_path, monkeypatch):
    """A fresh current folder holding data.csv."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text(CSV)
    return tmp_path




def as_json(run_cli, *args, **kwargs):
    result = run_cli(*args, "--output", "json", **kwargs)
    assert result.exit_code == 0, result.output
    return untimed(json.loads(result.stdout))


def refused(result, *phrases):
    """Exit 2, nothing on stdout, no traceback, each phrase in the message."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    text = " ".join(result.stderr.split())
    for phrase in phrases:
        assert phrase in text, (phrase, result.stderr)


# --- an output never replaces an input, nor another output ----------------------------------


@pytest.mark.parametrize("alias", ["same", "dot", "symlink", "hardlink"])
def test_save_over_the_dataset_is_refused_before_training(run_cli, here, no_training, alias):
    dataset = "data.csv"
    if alias == "symlink":
        os.symlink("data.csv", "link.csv")
        dataset = "link.csv"
    elif alias == "hardlink":
        os.link("data.csv", "hard.csv")
        dataset = "hard.csv"
    save = "./data.csv" if alias == "dot" else "data.csv"
    before = snapshot(here)
    result = run_cli("fit", "--dataset", dataset, *EPOCHS, "--quiet", "--save", save)
    refused(result, "--save", "is also the --dataset file", "write to another file")
    assert snapshot(here) == before


@pytest.mark.parametrize(
    "args, phrases",
    [
        (["--save", "same.png", "--plot-file", "./same.png"], ["--save and --plot-file both name 'same.png'"]),
        (["--plot-file", "cfg.png", "--config", "cfg.png"], ["--plot-file 'cfg.png' is also the --config file"]),
        (["--save", "cfg.png", "--config", "cfg.png"], ["--save 'cfg.png' is also the --config file"]),
        (["--plot-file", "data.png", "--dataset", "data.png"], ["--plot-file 'data.png' is also the --dataset file"]),
    ],
)
def test_outputs_apart_from_inputs_and_each_other(run_cli, here, no_training, args, phrases):
    (here / "cfg.png").write_text("epochs = 3\n")
    (here / "data.png").write_text(CSV)
    before = snapshot(here)
    refused(run_cli("fit", "--quiet", *args), *phrases)
    assert snapshot(here) == before


@pytest.mark.parametrize("command", ["compare", "sweep"])
def test_plot_file_over_the_dataset_in_compare_and_sweep(run_cli, here, no_training, command):
    (here / "d.png").write_text(CSV)
    before = snapshot(here)
    refused(run_cli(command, "--dataset", "d.png", "--plot-file", "d.png", "-q"), "is also the --dataset file")
    assert snapshot(here) == before


def test_a_dataset_from_a_config_is_guarded_too(run_cli, here, no_training):
    (here / "cfg").mkdir()
    (here / "cfg" / "d.csv").write_text(CSV)
    (here / "cfg" / "run.toml").write_text('dataset = "d.csv"\n')
    before = snapshot(here)
    refused(run_cli("fit", "--config", "cfg/run.toml", "--save", "cfg/d.csv", "-q"), "is also the --dataset file")
    assert snapshot(here) == before


@pytest.fixture
def saved_in_sub(run_cli, here):
    """A run trained on data.csv, saved in sub/ (so it names its dataset as ../data.csv)."""
    (here / "sub").mkdir()
    result = run_cli("fit", "--dataset", "data.csv", *EPOCHS, "--quiet", "--save", "sub/run.json", "--output", "json")
    assert result.exit_code == 0, result.output
    return here / "sub" / "run.json"


@pytest.mark.parametrize(
    "target, phrase",
    [
        ("sub/run.json", "MODEL_PT 'sub/run.json' is also RUN_FILE"),
        ("data.csv", "MODEL_PT 'data.csv' is also the dataset RUN_FILE names"),
        ("-", "MODEL_PT is '-'"),
    ],
)
def test_export_never_writes_over_its_run_or_the_runs_dataset(run_cli, here, saved_in_sub, target, phrase):
    before = snapshot(here)
    refused(run_cli("export", "sub/run.json", target), phrase, "model.pt")
    assert snapshot(here) == before


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["fit", "--save", "-"], "--save is '-'"),
        (["fit", "--plot-file", "-"], "--plot-file is '-'"),
        (["compare", "--plot-file", "-"], "--plot-file is '-'"),
        (["sample", "normal", "--plot-file", "-"], "--plot-file is '-'"),
    ],
)
def test_dash_is_never_a_file_to_write(run_cli, here, no_training, args, phrase):
    before = snapshot(here)
    refused(run_cli(*args, "-q") if args[0] != "sample" else run_cli(*args), phrase, "never to standard output")
    assert snapshot(here) == before


def test_same_file_compares_resolved_paths(tmp_path):
    (tmp_path / "a").write_text("x")
    os.symlink(tmp_path / "a", tmp_path / "l")
    assert files.same_file(tmp_path / "a", tmp_path / "l")
    assert files.same_file(tmp_path / "new", tmp_path / "." / "new")  # neither exists yet
    assert not files.same_file(tmp_path / "a", tmp_path / "b")


# --- relative paths in config and run files -------------------------------------------------


def test_a_configs_relative_dataset_is_relative_to_the_config(run_cli, here, tmp_path_factory):
    (here / "cfg").mkdir()
    (here / "cfg" / "d.csv").write_text(CSV)
    (here / "cfg" / "big.toml").write_text('dataset = "d.csv"\nepochs = 3\n')
    typed = as_json(run_cli, "fit", "--dataset", "cfg/d.csv", *EPOCHS)
    from_config = as_json(run_cli, "fit", "--config", "cfg/big.toml")
    assert from_config["final"] == typed["final"] and from_config["history"] == typed["history"]
    # From another folder, the same config finds the same file.
    os.chdir(tmp_path_factory.mktemp("elsewhere"))
    again = as_json(run_cli, "fit", "--config", here / "cfg" / "big.toml")
    assert again["final"] == typed["final"]


def test_a_missing_dataset_from_a_config_names_the_config(run_cli, here, no_training):
    (here / "cfg").mkdir()
    (here / "cfg" / "big.toml").write_text('dataset = "data.csv"\n')  # data.csv is here, not in cfg/
    result = run_cli("fit", "--config", "cfg/big.toml")
    refused(result, "config file 'cfg/big.toml' names the dataset 'data.csv'", "relative to the config file's folder",
            "fix dataset in 'cfg/big.toml'")
    assert "passed to --dataset" not in result.stderr


def test_a_typed_dataset_stays_relative_to_the_current_folder(run_cli, here):
    (here / "cfg").mkdir()
    (here / "cfg" / "big.toml").write_text('dataset = "nowhere.csv"\nepochs = 3\n')
    typed = as_json(run_cli, "fit", "--dataset", "data.csv", *EPOCHS)
    assert as_json(run_cli, "fit", "--config", "cfg/big.toml", "--dataset", "data.csv")["final"] == typed["final"]


def test_a_run_file_names_its_dataset_relative_to_itself(run_cli, here, saved_in_sub, tmp_path_factory):
    assert json.loads(saved_in_sub.read_text())["config"]["dataset"] == os.path.join("..", "data.csv")
    typed = as_json(run_cli, "fit", "--dataset", "data.csv", *EPOCHS)
    for cwd in (here, here / "sub", tmp_path_factory.mktemp("elsewhere")):
        os.chdir(cwd)
        replay = as_json(run_cli, "fit", "--config", saved_in_sub)
        assert replay["final"] == typed["final"] and replay["history"] == typed["history"], cwd


def test_an_absolute_dataset_is_saved_as_given(run_cli, here):
    assert run_cli("fit", "--dataset", here / "data.csv", *EPOCHS, "-q", "--save", "run.json").exit_code == 0
    assert json.loads((here / "run.json").read_text())["config"]["dataset"] == str(here / "data.csv")


def test_print_config_writes_an_absolute_dataset_path(run_cli, here, tmp_path_factory):
    printed = run_cli("fit", "--dataset", "data.csv", *EPOCHS, "--print-config")
    assert printed.exit_code == 0, printed.output
    assert f'dataset = "{here / "data.csv"}"' in printed.stdout
    # Saved in another folder, it still names the same data.
    other = tmp_path_factory.mktemp("cfgs") / "run.toml"
    other.write_text(printed.stdout)
    assert as_json(run_cli, "fit", "--config", other)["final"] == as_json(run_cli, "fit", "--dataset", "data.csv",
                                                                          *EPOCHS)["final"]


# --- replays --------------------------------------------------------------------------------


def test_an_interrupted_run_says_what_its_replay_reruns(run_cli, here):
    assert run_cli("fit", "--dataset", "data.csv", "--epochs", "4", "-q", "--save", "run.json").exit_code == 0
    data = json.loads((here / "run.json").read_text())
    data.update(interrupted=True, epochs_run=2)
    (here / "int.json").write_text(json.dumps(data))
    result = run_cli("fit", "--config", "int.json", "--output", "json")
    assert result.exit_code == 0, result.output
    assert "the run saved in 'int.json' was interrupted at epoch 2 of 4; this reruns all 4 epochs it asked for" in \
        " ".join(result.stderr.split())
    assert len(json.loads(result.stdout)["history"]) == 4
    typed = run_cli("fit", "--config", "int.json", "--epochs", "6", "--output", "json")
    assert "this trains the 6 epochs of --epochs" in " ".join(typed.stderr.split())
    assert "interrupted" not in run_cli("fit", "--config", "int.json", "-q", "--output", "json").stderr


@pytest.fixture
def stdin_run(run_cli, here):
    result = run_cli("fit", "--dataset", "-", *EPOCHS, "-q", "--save", "run.json", input=CSV)
    assert result.exit_code == 0, result.output
    return here / "run.json"


def test_a_stdin_run_replays_on_the_same_columns_with_a_note(run_cli, stdin_run):
    typed = as_json(run_cli, "fit", "--dataset", "-", *EPOCHS, input=CSV)
    result = run_cli("fit", "--config", stdin_run, "--output", "json", input=CSV)
    assert result.exit_code == 0, result.output
    assert untimed(json.loads(result.stdout))["final"] == typed["final"]
    assert "read its data from standard input; this trains on what is piped in now" in " ".join(result.stderr.split())


@pytest.mark.parametrize("piped", ["a,b,c\n1,2,3\n2,3,4\n", "x,z\n1,2\n2,3\n"])
def test_a_stdin_run_refuses_other_columns(run_cli, stdin_run, piped):
    result = run_cli("fit", "--config", stdin_run, input=piped)
    found = piped.split("\n")[0].replace(",", ", ")
    refused(result, "was trained on the columns x (features) and y (target)", f"standard input has the columns {found}")


def test_a_changed_data_file_is_refused_on_replay_and_a_typed_target_is_not(run_cli, here):
    assert run_cli("fit", "--dataset", "data.csv", *EPOCHS, "-q", "--save", "run.json").exit_code == 0
    (here / "data.csv").write_text("x,w,y\n1,0,2\n2,1,4\n3,0,6\n")
    refused(run_cli("fit", "--config", "run.json"), "trained on the columns x (features)", "'data.csv' has the columns x, w, y")
    assert run_cli("fit", "--config", "run.json", "--target", "w", "-q").exit_code == 0  # other columns on purpose


# --- "-" reads standard input ----------------------------------------------------------------


def test_config_dash_reads_stdin(run_cli, here):
    typed = as_json(run_cli, "fit", "--dataset", "data.csv", "--epochs", "4", "--lr", "0.02")
    piped = as_json(run_cli, "fit", "--config", "-", input='dataset = "data.csv"\nepochs = 4\nlr = 0.02\n')
    assert piped["final"] == typed["final"]
    saved_json = run_cli("fit", "--dataset", "data.csv", "--epochs", "4", "-q", "--save", "run.json")
    assert saved_json.exit_code == 0
    again = as_json(run_cli, "fit", "--config", "-", input=(here / "run.json").read_text())
    assert again["final"] == as_json(run_cli, "fit", "--dataset", "data.csv", "--epochs", "4")["final"]


@pytest.mark.parametrize(
    "args, text",
    [(["--dataset", "-"], "epochs = 3\n"), ([], 'epochs = 3\ndataset = "-"\n')],
    ids=["typed", "in-the-config"],
)
def test_config_dash_with_dataset_dash_is_refused(run_cli, here, no_training, args, text):
    refused(run_cli("fit", "--config", "-", *args, input=text), "--config - and --dataset - both read standard input")


# --- reading config files ------------------------------------------------------------------


def test_a_byte_order_mark_is_accepted(run_cli, here):
    typed = as_json(run_cli, "fit", "--dataset", "data.csv", *EPOCHS)
    (here / "bom.toml").write_bytes(b'\xef\xbb\xbfdataset = "data.csv"\nepochs = 3\n')
    assert as_json(run_cli, "fit", "--config", "bom.toml")["final"] == typed["final"]
    assert run_cli("fit", "--dataset", "data.csv", *EPOCHS, "-q", "--save", "run.json").exit_code == 0
    (here / "bom.json").write_bytes(b"\xef\xbb\xbf" + (here / "run.json").read_bytes())
    assert as_json(run_cli, "fit", "--config", "bom.json")["final"] == typed["final"]
    assert run_cli("predict", "bom.json", "1.5").exit_code == 0


def test_a_fifo_config_is_refused_without_blocking(run_cli, here):
    os.mkfifo("cfg.toml")
    old = signal.signal(signal.SIGALRM, lambda *a: pytest.fail("--config blocked on a FIFO"))
    signal.alarm(20)
    try:
        result = run_cli("fit", "--config", "cfg.toml")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    refused(result, "'cfg.toml' is not a regular file", "not a config file")


# --- options another command has -------------------------------------------------------------


@pytest.mark.parametrize("command", ["compare", "sweep"])
def test_save_on_compare_and_sweep_points_to_fit(run_cli, command):
    result = run_cli(command, "--save", "x.json")
    refused(result, f"gdcli {command} has no --save (an option of gdcli fit)", "rerun it with gdcli fit", "--save FILE")
    assert "--scale" not in result.stderr


def test_a_plural_of_an_option_is_still_suggested(run_cli):
    refused(run_cli("fit", "--seeds", "1,2"), "gdcli fit has no --seeds (an option of gdcli sweep); did you mean --seed?")
