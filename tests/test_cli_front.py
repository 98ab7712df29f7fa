"""The command line's front: usage errors, typos, --version, completion, broken pipes and --help.

What a user sees before any training starts; the commands' results are tested elsewhere.
"""

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import plain

import gdcli
from gdcli import sampling

COMMANDS = ["fit", "compare", "sweep", "grad", "sample", "predict", "datasets"]


def assert_usage_error(result, message, hint=None):
    """Exit 2; on stderr exactly `error: ...` and a hint line: no usage box, no traceback, nothing on stdout."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = plain(result.stderr).strip().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("error: ") and message in lines[0], lines
    assert lines[1].startswith("run 'gdcli") and lines[1].endswith(("options", "arguments", "commands")), lines
    if hint is not None:
        assert lines[1] == hint, lines
    for boxed in ("Usage:", "╭", "│", "Try '", "Traceback"):
        assert boxed not in result.output, result.output


# ---------------------------------------------------------------- 1. usage errors


@pytest.mark.parametrize(
    "args, message, hint",
    [
        (["fit", "--method", "newton"], "--method: 'newton' is not one of finite-diff, analytic, autograd", "fit"),
        (["fit", "-m", "newton"], "--method: 'newton' is not one of", "fit"),
        (["fit", "--optim", "lbfgs"], "'lbfgs' is not one of gd, sgd, adam", "fit"),
        (["fit", "--output", "xml"], "--output: 'xml' is not one of table, json, jsonl, csv", "fit"),
        (["fit", "--lr", "abc"], "--lr needs a number, not 'abc'", "fit"),
        (["fit", "--epochs", "1.5"], "--epochs needs a whole number, not '1.5'", "fit"),
        (["fit", "--lrr", "0.1"], "unknown option --lrr (did you mean --lr?)", "fit"),
        (["fit", "--lr"], "--lr requires an argument", "fit"),
        (["fit", "extra"], "unexpected extra argument: extra", "fit"),
        (["predict"], "missing argument RUN_FILE", "predict"),
        (["sweep", "--top", "0"], "--top must be at least 1, not 0", "sweep"),
        (["sample", "normal", "--draws", "0"], "--draws must be at least 1, not 0", "sample"),
        (["sample", "normal", "--seed", "-1"], "--seed must be between 0 and", "sample"),
        (["sample", "cauchy"], "DISTRIBUTION: 'cauchy' is not one of bernoulli, multinomial, normal, uniform", "sample"),
        (["sample"], "missing argument DISTRIBUTION: one of bernoulli, multinomial, normal, uniform", "sample"),
        (["datasets", "--rows", "many"], "--rows needs a whole number", "datasets"),
        # A near miss of a choice says which one was meant, as an unknown option does.
        (["fit", "--model", "lin"], "--model: 'lin' is not one of linear, quadratic, mlp (did you mean linear?)", "fit"),
        (["fit", "--schedule", "cos"], "(did you mean cosine?)", "fit"),
        (["sample", "norm"], "'norm' is not one of bernoulli, multinomial, normal, uniform (did you mean normal?)", "sample"),
    ],
)
def test_usage_errors_are_one_line_and_a_hint(run_cli, args, message, hint):
    result = run_cli(*args)
    assert_usage_error(result, message)
    what = "the arguments" if message.startswith(("missing argument", "unexpected extra")) else "the options"
    assert plain(result.stderr).strip().splitlines()[1] == f"run 'gdcli {hint} --help' for {what}"


@pytest.mark.parametrize(
    "args, message",
    [
        (["fitt"], "unknown command 'fitt' (did you mean fit?)"),
        (["--debug"], "missing a command"),
        (["--verbose"], "unknown option --verbose"),
    ],
)
def test_usage_errors_of_the_app_itself(run_cli, args, message):
    result = run_cli(*args)
    assert_usage_error(result, message)


def test_the_installed_script_prints_usage_errors_the_same_way():
    done = subprocess.run(
        [sys.executable, "-m", "gdcli", "fit", "--lrr", "0.1"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "error: unknown option --lrr (did you mean --lr?)",
        "run 'gdcli fit --help' for the options",
    ]


def test_a_bad_parameter_raised_by_a_command_body_is_a_usage_error(monkeypatch, run_cli):
    import typer

    from gdcli import sampling as core

    def refuse(*args, **kwargs):
        raise typer.BadParameter("not today")

    monkeypatch.setattr(core, "draw_uniform", refuse)
    result = run_cli("sample", "uniform")
    assert_usage_error(result, "error: not today")


# ---------------------------------------------------------------- 2. typos swallowed as values


@pytest.mark.parametrize(
    "args, message",
    [
        (["grad", "--dataset", "celsius", "--explian"], "unknown option --explian (did you mean --explain?)"),
        (["grad", "x**2", "--at", "x=3", "--wrtt", "x"], "unknown option --wrtt (did you mean --wrt?)"),
        (["grad", "x", "--at=x=1", "--outptu=json"], "unknown option --outptu (did you mean --output?)"),
        (["predict", "run.json", "1", "--ouput", "json"], "unknown option --ouput (did you mean --output?)"),
        (["predict", "run.json", "--nothing-like-it"], "unknown option --nothing-like-it"),
    ],
)
def test_commands_that_take_dash_values_still_refuse_mistyped_long_options(run_cli, args, message):
    assert_usage_error(run_cli(*args), message)


def test_an_expression_may_start_with_a_minus(run_cli):
    result = run_cli("grad", "-x**2", "--at", "x=3")
    assert result.exit_code == 0, result.output
    assert "-x**2" in result.stdout and "-9" in result.stdout and "-6" in result.stdout


def test_the_value_of_an_option_is_not_taken_for_an_option(run_cli):
    # --output takes a value: "--json" is that value (and a bad one), not an unknown option.
    assert_usage_error(run_cli("predict", "run.json", "1", "--output", "--json"), "--output: '--json' is not one of")


def test_predict_takes_negative_values(run_cli, tmp_path):
    path = tmp_path / "run.json"
    assert run_cli("fit", "--epochs", "5", "--save", path).exit_code == 0
    result = run_cli("predict", path, "-5", "-40.5", "--output", "json")
    assert result.exit_code == 0, result.output
    assert "-40.5" in result.stdout


def test_after_a_double_dash_anything_is_a_value(run_cli):
    result = run_cli("predict", "missing.json", "--", "--5")
    assert result.exit_code == 2 and "unknown option" not in result.output


# ---------------------------------------------------------------- 3. --version and completion


def test_version(run_cli):
    result = run_cli("--version")
    assert result.exit_code == 0 and result.stdout == f"gdcli {gdcli.__version__}\n"


def test_completion_is_offered_and_works_without_torch():
    code = (
        "import os, sys\n"
        # Typer's own switch for naming the shell: without it, Typer looks for the shell among the
        # process's parents, and a test run detached from its shell has none.
        "os.environ['_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION'] = '1'\n"
        "from typer.testing import CliRunner\n"
        "from gdcli.cli import app\n"
        "r = CliRunner().invoke(app, ['--show-completion', 'bash'])\n"
        "assert r.exit_code == 0 and '_gdcli_completion' in r.output, r.output\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert '--install-completion' in r.output and '--show-completion' in r.output, r.output\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    env = {**os.environ, "_GDCLI_COMPLETE": "complete_bash", "COMP_WORDS": "gdcli fit --method ", "COMP_CWORD": "3"}
    done = subprocess.run([sys.executable, "-m", "gdcli"], capture_output=True, text=True, timeout=60, env=env)
    assert done.stdout.split() == ["finite-diff", "analytic", "autograd", "gram"], done.stderr


# ---------------------------------------------------------------- 4. broken pipes


@pytest.mark.parametrize("args", [["--help"], ["fit", "--help"], ["--version"], ["sample", "--help"]])
def test_a_reader_that_goes_away_ends_help_quietly(args):
    # The pipe's reading end is closed before gdcli writes a byte (gdcli --help | head -0).
    proc = subprocess.Popen(
        [sys.executable, "-m", "gdcli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 0, err
    assert err == ""


def test_help_into_head_exits_0():
    script = f"{sys.executable} -m gdcli --help | head -1 > /dev/null; exit ${{PIPESTATUS[0]}}"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr


# ---------------------------------------------------------------- 5. help text


def _helps(width: int) -> dict[str, str]:
    """Every command's --help as printed at this terminal width."""
    code = (
        "import json\n"
        "from typer.testing import CliRunner\n"
        "from gdcli.cli import app\n"
        f"names = {['', *COMMANDS]!r}\n"
        "out = {n: CliRunner().invoke(app, [n, '--help'] if n else ['--help']).output for n in names}\n"
        "print(json.dumps(out))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("TERMINAL_WIDTH", "FORCE_COLOR", "PY_COLORS")}
    env.update(COLUMNS=str(width), NO_COLOR="1")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    return {name: plain(text) for name, text in json.loads(done.stdout).items()}


@pytest.fixture(scope="module", params=[80, 120])
def helps(request):
    return request.param, _helps(request.param)


def _command(name):
    from typer.main import get_command

    from gdcli.cli import app

    group = get_command(app)
    return group if not name else group.commands[name]


def _params(name):
    import typer

    command = _command(name)
    return command.get_params(typer.Context(command, info_name=name or "gdcli"))


def test_help_fits_the_terminal_and_shows_no_python_types(helps):
    width, texts = helps
    for name, text in texts.items():
        assert max(len(line) for line in text.splitlines()) <= width, name
        for leak in ("<bool>", "<str>", "<int", "<float>", "<path>", "list[", "<=x", "x>=", "18446744073709551615"):
            assert leak not in text, (name, leak)
        assert not re.search(r"<[a-z]", text), name


def test_choice_lists_never_break_mid_word(helps):
    width, texts = helps
    for name in COMMANDS:
        text = texts[name]
        assert "|" not in text, (name, width)
        for param in _params(name):
            choices = getattr(param.type, "choices", None) or ()
            for choice in choices:
                # Each choice appears whole on one line of the help.
                assert getattr(choice, "value", choice) in text, (name, param.name, choice, width)


def test_panels_read_data_training_output(helps):
    _, texts = helps
    for name in COMMANDS:
        titles = re.findall(r"╭─ (\w+) ", texts[name])
        ranked = [t for t in titles if t in ("Data", "Training", "Output")]
        assert ranked == sorted(ranked, key=["Data", "Training", "Output"].index), (name, titles)
        if "Output" in titles:
            assert titles[-1] == "Output", (name, titles)


def test_usage_lines_show_no_braces(helps):
    _, texts = helps
    for name, text in texts.items():
        usage = next(line for line in text.splitlines() if "Usage:" in line)
        assert "{" not in usage and "}" not in usage, usage
    assert "Usage: gdcli predict [OPTIONS] RUN_FILE [VALUES]..." in texts["predict"]  # or --input FILE
    assert "Usage: gdcli datasets [OPTIONS] [NAME]" in texts["datasets"]


def test_defaults_are_noted_one_way(helps):
    _, texts = helps
    for name, text in texts.items():
        assert "[default:" not in text, name
        assert not re.search(r"default(?!:)", text.replace("default: ", "default:")), name
        assert not re.search(r"[^(]default:", text), name


@pytest.mark.parametrize("name", ["", *COMMANDS])
def test_every_help_sentence_starts_with_a_capital_and_ends_with_its_default(name):
    for param in _params(name):
        text = (param.help or "").strip()
        assert text, (name, param.name)
        assert text[0].isupper(), (name, param.name, text)
        assert text.count("(default:") <= 1, (name, param.name, text)
        if "(default:" in text:
            tail = text[text.index("(default:") :]
            # The note closes the sentence: nothing but its own parenthesis and a full stop after it.
            depth = 0
            for i, char in enumerate(tail):
                depth += {"(": 1, ")": -1}.get(char, 0)
                if depth == 0:
                    assert tail[i + 1 :] in ("", "."), (name, param.name, text)
                    break


def test_delta_help_starts_with_a_capital(helps):
    _, texts = helps
    assert "finite-diff step" not in texts["fit"]
    assert re.search(r"--delta\s+NUMBER\s+[A-Z]", texts["fit"])


def test_flags_and_the_normalize_switch_read_naturally(helps):
    _, texts = helps
    row = next(line for line in texts["fit"].splitlines() if "--normalize" in line)
    assert "--no-normalize" in row and "<" not in row
    assert re.search(r"--plot\s+Draw the pictures", texts["fit"])
    assert re.search(r"--debug\s+Show the full traceback", texts[""])


def test_sample_shape_help_tells_the_real_default():
    shape = next(p for p in _params("sample") if p.name == "shape")
    assert "the parameters' shape" not in shape.help
    assert "a single value, or as many as the --p, --mean or --std list has" in shape.help
    # What the help promises, from the core itself.
    assert sampling.draw_uniform(0.0, 1.0, None, 1, 42).asked["shape"] == []
    assert sampling.draw_normal(0, 1, None, 1, 42).asked["shape"] == []
    assert sampling.draw_normal([1, 2, 3], 1, None, 1, 42).asked["shape"] == [3]
    assert sampling.draw_bernoulli([0.1, 0.5], None, 1, 42).asked["shape"] == [2]


def test_grad_has_its_own_option_texts():
    helps = {p.name: p.help for p in _params("grad")}
    fit_helps = {p.name: p.help for p in _params("fit")}
    for name in ("dataset", "scale", "normalize", "seed", "val_fraction", "dtype", "device", "reduction"):
        assert helps[name] != fit_helps[name], name
        assert "preset" not in helps[name], (name, helps[name])
    assert "(default: celsius)" not in helps["dataset"]
    assert "randn" not in helps["seed"] and "batch order" not in helps["seed"]
    assert "(default: 1, the data as given)" in helps["scale"]


def test_an_option_retold_for_one_command_leaves_the_shared_declaration_as_it_was():
    import typing

    from gdcli.cli.options import SeedOpt, with_help

    before = typing.get_args(SeedOpt)[1].help
    told = with_help(SeedOpt, "Another text.")
    assert typing.get_args(told)[1].help == "Another text."
    assert typing.get_args(SeedOpt)[1].help == before != "Another text."


def test_root_help_lists_version_and_completion_cleanly(helps):
    _, texts = helps
    root = texts[""]
    for option in ("--version", "--install-completion", "--show-completion", "--debug"):
        assert option in root
    assert "<bool>" not in root and "[default:" not in root
