"""--config FILE and --print-config, through the CLI.

The trusted reference for a config is the same run typed on the command line: both
must give the same JSON (timings aside). A saved run file read back as a config must
reproduce its run bit for bit on CPU.
"""

import json
import math
import re
import sys

import pytest
from conftest import untimed

from gdcli.cli import configfile, tomlwrite

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

WIDE_CSV = "a,b,c,y\n" + "".join(f"{i},{i % 3},{i * i % 7},{2 * i - 1 + (i % 2)}\n" for i in range(12))


pytestmark = pytest.mark.usefixtures("wide_console")



def as_json(run_cli, *args):
    result = run_cli(*args, "--output", "json")
    assert result.exit_code == 0, result.output
    return untimed(json.loads(result.stdout))


def write(tmp_path, text, name="run.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def flat(text):
    return " ".join(text.split())


def assert_config_error(result, *phrases):
    """Exit 2, nothing on stdout, an error line and a hint line on stderr, no traceback."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: "), lines
    for phrase in phrases:
        assert phrase in flat(result.stderr), (phrase, lines)


# --- a config sets options as typed --------------------------------------------------------


@pytest.mark.parametrize(
    "toml, typed",
    [
        ("epochs = 30\nlr = 0.02\n", ["--epochs", "30", "--lr", "0.02"]),
        (
            'epochs = 12\nval-fraction = 0.25\nbatch_size = 4\noptim = "adam"\nlr = 0.05\nmodel = "mlp"\nhidden = 3\n'
            'activation = "relu"\nlog-every = 3\nhistory = "logged"\n',
            ["--epochs", "12", "--val-fraction", "0.25", "--batch-size", "4", "--optim", "adam", "--lr", "0.05",
             "--model", "mlp", "--hidden", "3", "--activation", "relu", "--log-every", "3", "--history", "logged"],
        ),
        (
            'dataset = "synthetic"\nrows = 40\nfeatures = 3\nepochs = 10\nnormalize = true\nseed = 7\ninit = [1, 1, 1, 0]\n',
            ["--dataset", "synthetic", "--rows", "40", "--features", "3", "--epochs", "10", "--normalize", "--seed", "7",
             "--init", "1,1,1,0"],
        ),
        ("epochs = 5\nnormalize = false\ncompile = false\n", ["--epochs", "5", "--no-normalize"]),
    ],
)
def test_fit_config_is_the_run_typed(run_cli, tmp_path, toml, typed):
    path = write(tmp_path, toml)
    assert as_json(run_cli, "fit", "--config", path) == as_json(run_cli, "fit", *typed)


def test_the_command_line_wins(run_cli, tmp_path):
    path = write(tmp_path, "epochs = 40\nlr = 0.5\nnormalize = true\n")
    # Also when --config comes last: the file gives defaults, whatever the order.
    via = as_json(run_cli, "fit", "--lr", "0.02", "--no-normalize", "--config", path)
    assert via == as_json(run_cli, "fit", "--epochs", "40", "--lr", "0.02", "--no-normalize")
    assert via["config"]["lr"] == 0.02 and via["config"]["epochs"] == 40 and via["config"]["normalize"] is False


@pytest.mark.parametrize("target", ['target = "b"', 'target = ["b"]'])
def test_target_as_string_or_list(run_cli, tmp_path, target):
    data = write(tmp_path, WIDE_CSV, "wide.csv")
    path = write(tmp_path, f'dataset = "{data}"\n{target}\nepochs = 5\nlr = 0.001\n')
    typed = as_json(run_cli, "fit", "--dataset", data, "--target", "b", "--epochs", "5", "--lr", "0.001")
    assert as_json(run_cli, "fit", "--config", path) == typed


def test_several_targets_and_the_command_lines_target(run_cli, tmp_path):
    data = write(tmp_path, WIDE_CSV, "wide.csv")
    path = write(tmp_path, f'dataset = "{data}"\ntarget = ["b", "y"]\nepochs = 5\nlr = 0.001\n')
    both = as_json(run_cli, "fit", "--config", path)
    assert both == as_json(run_cli, "fit", "--dataset", data, "--target", "b", "--target", "y", "--epochs", "5", "--lr", "0.001")
    assert both["dataset"]["targets"] == ["b", "y"]
    one = as_json(run_cli, "fit", "--config", path, "--target", "c")
    assert one["dataset"]["targets"] == ["c"]


def test_command_options_from_a_config(run_cli, tmp_path):
    """--output, --save and --log-every are options like any other."""
    saved = tmp_path / "saved.json"
    path = write(tmp_path, f'epochs = 6\nlog_every = 2\noutput = "json"\nsave = "{saved}"\n')
    result = run_cli("fit", "--config", path)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["config"]["log_every"] == 2
    assert json.loads(saved.read_text())["config"]["epochs"] == 6


def test_compare_methods_from_a_config(run_cli, tmp_path):
    path = write(tmp_path, 'methods = ["autograd", "analytic"]\noptims = "gd,adam"\nepochs = 5\ntol = 0.5\ncurves = true\n')
    typed = as_json(run_cli, "compare", "--methods", "autograd,analytic", "--optims", "gd,adam", "--epochs", "5",
                    "--tol", "0.5", "--curves")
    via = as_json(run_cli, "compare", "--config", path)
    assert via == typed
    assert len(via["runs"]) == 4


def test_sweep_range_from_a_config(run_cli, tmp_path):
    path = write(tmp_path, 'lr = "1e-3:1e-2"\nnum = 3\nseeds = [1, 2]\nepochs = 5\ntop = 2\n')
    typed = as_json(run_cli, "sweep", "--lr", "1e-3:1e-2", "--num", "3", "--seeds", "1,2", "--epochs", "5", "--top", "2")
    assert as_json(run_cli, "sweep", "--config", path) == typed
    one = write(tmp_path, "lr = 0.003\nepochs = 5\n", "one.toml")
    assert as_json(run_cli, "sweep", "--config", one) == as_json(run_cli, "sweep", "--lr", "0.003", "--epochs", "5")


# --- --print-config ------------------------------------------------------------------------


def printed(run_cli, *args):
    result = run_cli(*args, "--print-config")
    assert result.exit_code == 0, result.output
    assert "training" not in result.stdout and "gdcli fit ─" not in result.stdout  # no run, no header
    return result.stdout


def test_print_config_resolves_the_presets(run_cli):
    text = printed(run_cli, "fit")
    values = tomllib.loads(text)
    assert values["dataset"] == "celsius" and values["scale"] == 0.1  # the thermometer's preset
    assert values["method"] == "autograd" and values["epochs"] == 5000 and values["output"] == "table"
    assert "hidden" not in values  # applies to --model mlp only: stating it would be refused
    assert "save" not in values and "batch_size" not in values  # unset: TOML has no null
    net = tomllib.loads(printed(run_cli, "fit", "--model", "mlp", "--epochs", "7"))
    assert net["optim"] == "sgd" and net["lr"] == 1e-3 and net["init"] == "uniform" and net["hidden"] == 8
    assert net["epochs"] == 7


ROUND_TRIPS = [
    ["fit", "--epochs", "25"],
    ["fit", "--epochs", "8", "--model", "mlp", "--val-fraction", "0.2", "--batch-size", "3", "--optim", "adam"],
    ["fit", "--epochs", "8", "--dataset", "synthetic", "--rows", "50", "--features", "2", "--normalize", "--lr", "0.1"],
    ["compare", "--epochs", "6", "--optims", "gd,adam"],
    ["compare", "--epochs", "6", "--run", "autograd:sgd", "--momentum", "0.9"],
    ["sweep", "--epochs", "6", "--lr", "1e-4:1e-2", "--num", "4", "--seeds", "0:1"],
    ["sweep", "--epochs", "6", "--momentum", "0,0.5", "--optim", "sgd"],
]


@pytest.mark.parametrize("args", ROUND_TRIPS, ids=lambda a: " ".join(a))
def test_print_config_reruns_the_same_run(run_cli, tmp_path, args):
    path = write(tmp_path, printed(run_cli, *args))
    assert as_json(run_cli, args[0], "--config", path) == as_json(run_cli, *args)


def test_print_config_of_a_config_is_the_same_config(run_cli, tmp_path):
    first = printed(run_cli, "fit", "--epochs", "9", "--lr", "0.004", "--model", "quadratic")
    again = printed(run_cli, "fit", "--config", write(tmp_path, first))
    assert again == first


def test_print_config_refuses_what_the_run_would(run_cli):
    result = run_cli("fit", "--lr", "-1", "--print-config")
    assert_config_error(result, "--lr must be a positive finite number")


# --- run files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--epochs", "30"],
        ["--epochs", "10", "--val-fraction", "0.2", "--batch-size", "4", "--optim", "adam", "--model", "mlp"],
        ["--epochs", "10", "--dataset", "synthetic", "--rows", "60", "--features", "3", "--lr", "0.05"],
    ],
    ids=["celsius", "mlp-adam-batches", "synthetic"],
)
def test_a_saved_run_reruns_bit_for_bit(run_cli, tmp_path, args):
    saved = tmp_path / "run.json"
    first = as_json(run_cli, "fit", *args, "--save", saved)
    again = as_json(run_cli, "fit", "--config", saved)
    # Exact equality of every float: final parameters, losses, the whole history.
    assert again == first
    assert again["final"]["params"] == first["final"]["params"] and again["history"] == first["history"]


def test_a_run_file_without_json_suffix_is_read_as_json(run_cli, tmp_path):
    saved = tmp_path / "run.json"
    first = as_json(run_cli, "fit", "--epochs", "5", "--save", saved)
    bare = write(tmp_path, saved.read_text(), "saved-run")
    assert as_json(run_cli, "fit", "--config", bare) == first


@pytest.mark.parametrize("command", ["compare", "sweep"])
def test_a_run_file_for_other_commands(run_cli, tmp_path, command):
    """compare takes no --method/--optim: a run file's are left out, with a note; sweep takes them all."""
    saved = tmp_path / "run.json"
    assert run_cli("fit", "--epochs", "5", "--lr", "0.02", "--save", saved).exit_code == 0
    result = run_cli(command, "--config", saved, "--output", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["config" if command == "sweep" else "runs"]
    if command == "compare":
        assert "note: gdcli compare takes no method, optim" in result.stderr
    else:
        assert "note" not in result.stderr
        assert json.loads(result.stdout)["config"]["lr"] == 0.02


# --- mistakes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, phrases",
    [
        ("lrr = 0.1\n", ["unknown key 'lrr' (did you mean lr?)", "gdcli fit takes these keys: dataset, target"]),
        ('lr = "abc"\n', ['lr = "abc" is not a number', "lr = 0.01"]),
        ("epochs = 2.5\n", ["epochs = 2.5 is not a whole number"]),
        ("normalize = 1\n", ["normalize = 1 is not true or false"]),
        ("lr = true\n", ["lr = true is not a number"]),
        ("lr = [0.1, 0.2]\n", ["is not a number"]),
        ('method = "newton"\n', ['method = "newton": --method: \'newton\' is not one of']),
        ("lr = \n", ["is not valid TOML", "(at line 1, column"]),
        ("[fit]\nlr = 0.1\n", ["fit is a table ([fit])", "put the options at the top of the file"]),
        ("val-fraction = 0.2\nval_fraction = 0.3\n", ["sets val_fraction twice"]),
        ('config = "other.toml"\n', ["config cannot be set in a config file"]),
        ("print-config = true\n", ["print-config cannot be set in a config file"]),
    ],
)
def test_config_mistakes(run_cli, tmp_path, text, phrases):
    path = write(tmp_path, text, "bad.toml")
    assert_config_error(run_cli("fit", "--config", path), "bad.toml", *phrases)


def test_a_value_is_checked_as_if_typed(run_cli, tmp_path):
    """The option's own checks (a range) and the run's (a positive lr) give the command line's messages."""
    typed = run_cli("sweep", "--top", "0")
    via = run_cli("sweep", "--config", write(tmp_path, "top = 0\n"))
    assert_config_error(via, "top = 0", "--top must be at least 1, not 0")
    assert "--top must be at least 1, not 0" in typed.stderr
    typed = run_cli("fit", "--epochs", "0")
    path = write(tmp_path, "epochs = 0\n")
    via = run_cli("fit", "--config", path)
    # The same message, and where the value came from.
    first = typed.stderr.splitlines()[0]
    assert via.exit_code == typed.exit_code == 2
    assert via.stderr == typed.stderr.replace(first, f"{first} (--epochs is set in '{path}')")


def test_file_mistakes(run_cli, tmp_path):
    assert_config_error(run_cli("fit", "--config", tmp_path / "nope.toml"), "'" + str(tmp_path / "nope.toml"), "not found")
    assert_config_error(run_cli("fit", "--config", tmp_path), "is a folder", "--print-config")
    assert_config_error(run_cli("fit", "--config", write(tmp_path, "[1, 2]", "list.json")), "holds no JSON object")
    assert_config_error(run_cli("fit", "--config", write(tmp_path, "{", "broken.json")), "is not valid JSON")
    other = write(tmp_path, '{"format": "something/1", "config": {}}', "other.json")
    assert_config_error(run_cli("fit", "--config", other), "no gdcli run file")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    assert_config_error(run_cli("fit", "--config", binary), "is not UTF-8 text")


def test_a_plain_json_object_is_a_config(run_cli, tmp_path):
    path = write(tmp_path, '{"epochs": 7, "val-fraction": 0.2}', "options.json")
    assert as_json(run_cli, "fit", "--config", path) == as_json(run_cli, "fit", "--epochs", "7", "--val-fraction", "0.2")


def test_help_names_the_options(run_cli):
    for command in ("fit", "compare", "sweep"):
        text = run_cli(command, "--help").output
        assert "--config" in text and "--print-config" in text
    assert "--config" not in run_cli("grad", "--help").output


# --- the TOML writer -----------------------------------------------------------------------


def test_toml_writer_round_trips():
    values = {
        "small": 1e-300,
        "tenth": 0.1,
        "third": 1 / 3,
        "negative_zero": -0.0,
        "big": 1.7976931348623157e308,
        "inf": math.inf,
        "minus_inf": -math.inf,
        "whole": 2**64 - 1,
        "negative": -5,
        "yes": True,
        "no": False,
        "text": 'a "quoted" \\ back\nslash\ttab \x7f del \x01 ünïcødé 😀',
        "path": "C:\\data\\rows.csv",
        "list": [1, 2.5, "three"],
        "empty": [],
    }
    back = tomllib.loads(tomlwrite.dumps(values))
    assert back == values
    assert math.copysign(1, back["negative_zero"]) == -1
    assert math.isnan(tomllib.loads(tomlwrite.dumps({"nan": math.nan}))["nan"])
    assert re.fullmatch(r"(\w+ = .+\n)+", tomlwrite.dumps(values))  # flat: one key a line


def test_a_typed_list_wins_over_the_files_setting(run_cli, tmp_path):
    """sweep --seeds on the command line over a run file's seed: the typed list wins, as any typed option does."""
    saved = tmp_path / "run.json"
    assert run_cli("fit", "--epochs", "5", "--save", saved).exit_code == 0
    via = as_json(run_cli, "sweep", "--config", saved, "--seeds", "0:2")
    assert sorted(run["seed"] for run in via["runs"]) == [0, 1, 2]
    # Both in one file is the file's own contradiction: the command line's message.
    both = write(tmp_path, 'seed = 3\nseeds = "0:1"\nepochs = 2\n')
    assert "--seed and --seeds both given" in run_cli("sweep", "--config", both).stderr


@pytest.mark.parametrize("key, bad, phrase", [("epochs", "abc", 'epochs = "abc" is not a whole number'),
                                              ("lr", [1], "lr = [1] is not a number"),
                                              ("compile", "yes", 'compile = "yes" is not true or false')])
def test_a_damaged_run_file(run_cli, tmp_path, key, bad, phrase):
    saved = tmp_path / "run.json"
    assert run_cli("fit", "--epochs", "3", "--save", saved).exit_code == 0
    data = json.loads(saved.read_text())
    data["config"][key] = bad
    saved.write_text(json.dumps(data))
    assert_config_error(run_cli("fit", "--config", saved), "run.json", phrase)


def test_a_setting_refused_after_reading_names_the_file_it_came_from(run_cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("patience = -1\n")
    result = run_cli("fit", "--config", bad, "--epochs", "5")
    assert result.exit_code == 2 and f"--patience must be at least 1, got -1 (--patience is set in '{bad}')" in result.plain
    step = tmp_path / "step.toml"
    step.write_text('schedule = "step"\nstep_size = 5\n')
    over = run_cli("fit", "--config", step, "--schedule", "constant", "--epochs", "5")
    assert over.exit_code == 2 and "(--step-size is set in" in over.plain
    typed = run_cli("fit", "--patience", "-1", "--epochs", "5")
    assert typed.exit_code == 2 and "is set in" not in typed.plain


def test_a_damaged_value_in_a_run_file_is_the_one_named(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_cli("fit", "--epochs", "5", "--save", "run.json").exit_code == 0
    data = json.loads((tmp_path / "run.json").read_text())
    data["config"]["lr"] = -1  # the file also records hidden (8) for this line: it must not be blamed
    (tmp_path / "run.json").write_text(json.dumps(data))
    result = run_cli("fit", "--config", "run.json")
    assert result.exit_code == 2
    assert "--lr must be a positive finite number, got -1.0 (--lr is set in 'run.json')" in result.stderr
