"""Stopping early, from outside: Ctrl-C within an epoch, at start-up and at any time; a reader
that goes away; --quiet and --progress; compile time kept apart from the epochs' time."""

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from gdcli import progress, train
from gdcli.train import interrupt, loop
from gdcli.config import resolve

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "GDCLI_PROGRESS_SECONDS": "0.2", "NO_COLOR": "1"}
LONG = ["--epochs", "50000000", "--log-every", "10000000"]
INTERRUPTED = -signal.SIGINT  # the process ended by SIGINT, which a shell reports as 130
# Under pytest-xdist, the tests that time real processes run one after another on one worker.
pytestmark = pytest.mark.xdist_group("signals")


def start(args: list[str], cwd: Path, *python: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *python, "-m", "gdcli", *args], cwd=cwd, env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for_training(proc: subprocess.Popen) -> str:
    """Read stderr up to the first progress line (--progress lines): training has started."""
    line, deadline = proc.stderr.readline(), time.monotonic() + 60
    while ("epochs" not in line or line.startswith("note:")) and line and time.monotonic() < deadline:
        line = proc.stderr.readline()
    assert "epochs" in line, line
    return line


def line_csv(path: Path, rows: int) -> Path:
    """y = 3x + 1 plus a wobble, as a CSV file (the reference needs no gdcli)."""
    path.write_text("x,y\n" + "".join(f"{i / rows},{3 * i / rows + 1 + (i % 7) * 0.01}\n" for i in range(rows)))
    return path


# ---- Ctrl-C within an epoch -------------------------------------------------------------------------


def test_ctrl_c_stops_within_a_long_epoch_and_reports_whole_epochs(tmp_path):
    """An epoch of 10,000 batches of one row takes seconds: Ctrl-C still stops within a batch."""
    data = line_csv(tmp_path / "rows.csv", 10_000)
    proc = start(["fit", "--dataset", data, "--batch-size", "1", "--epochs", "1000", "--progress", "lines",
                  "--output", "json"], tmp_path)
    wait_for_training(proc)  # the first epoch is done; the second has just begun
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == INTERRUPTED, err
    assert time.monotonic() - sent < 2.5, "Ctrl-C waited for the epoch to end"
    assert "Traceback" not in err
    epoch = int(err.split("interrupted at epoch ")[1].split()[0])
    report = json.loads(out)
    assert report["interrupted"] is True and report["epochs_run"] == epoch == report["stopped"]["epoch"]
    assert [h["epoch"] for h in report["history"]] == list(range(1, epoch + 1))  # no partial epoch among them


def stop_after(calls: int):
    """A should_stop that says stop on its `calls`-th question."""
    asked = []

    def should_stop() -> bool:
        asked.append(1)
        return len(asked) >= calls

    return should_stop


@pytest.mark.parametrize("calls", [1, 2, 5, 14, 23])
def test_a_stop_within_an_epoch_ends_the_run_at_the_last_whole_epoch(calls):
    """celsius has 11 rows: batches of 4 make 3 steps an epoch, each asked about. Stopped part way,
    the run equals a run of exactly its whole epochs, bit for bit (the partial epoch is undone)."""
    settings_ = dict(dataset="celsius", batch_size=4, epochs=40, optim="adam", lr=0.1)
    trainer = train.fit(resolve(**settings_))
    trainer.should_stop = stop_after(calls)
    list(trainer.chunks())
    whole = trainer.epochs_done
    assert whole < 40 and trainer.interrupted
    result = trainer.result()
    assert result.epochs_run == whole and result.stop.epoch == whole and result.seconds >= 0
    assert result.epoch_numbers.tolist() == list(range(1, whole + 1))
    if whole == 0:
        assert result.params == result.initial_params
        return
    reference = train.fit(resolve(**{**settings_, "epochs": whole}))
    list(reference.chunks())
    expected = reference.result()
    assert result.params == expected.params and result.final_loss == expected.final_loss
    assert result.train_history.tolist() == expected.train_history.tolist()


def test_a_full_batch_run_stops_between_epochs():
    trainer = train.fit(resolve("celsius", epochs=500))
    trainer.should_stop = stop_after(8)
    list(trainer.chunks())
    assert trainer.interrupted and trainer.epochs_done == 7  # asked before each epoch


@contextlib.contextmanager
def pressed():
    """interrupt.catch, with Ctrl-C pressed as training starts."""
    yield interrupt.Requests(stop=True)


@pytest.mark.parametrize("output", ["table", "json", "jsonl", "csv"])
def test_ctrl_c_before_the_first_epoch_ends_reports_epoch_0(run_cli, monkeypatch, output):
    monkeypatch.setattr(interrupt, "catch", pressed)
    result = run_cli("fit", "--batch-size", "4", "--epochs", "100", "--output", output)
    assert result.exit_code == 130 and "interrupted at epoch 0" in result.stderr
    if output == "json":
        report = json.loads(result.stdout)
        assert report["epochs_run"] == 0 and report["history"] == []
        assert report["final"]["params"] == report["initial"]["params"]
    elif output == "table":
        assert "epoch 0  interrupted (Ctrl-C)" in result.stdout


# ---- a reader that goes away --------------------------------------------------------------------------


def test_a_closed_pipe_stops_the_training(tmp_path):
    proc = start(["fit", "--output", "jsonl", *LONG], tmp_path)
    assert json.loads(proc.stdout.readline())["type"] == "epoch"
    proc.stdout.close()  # gdcli ... | head -1
    closed = time.monotonic()
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert proc.returncode == 0 and time.monotonic() - closed < 5, err
    assert "Traceback" not in err


def test_a_pipe_closed_before_anything_is_written_stops_the_training(tmp_path):
    proc = start(["fit", "--output", "json", "--progress", "lines", *LONG], tmp_path)
    wait_for_training(proc)
    proc.stdout.close()  # the reader left before the report: found at the next look
    closed = time.monotonic()
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert proc.returncode == 0 and time.monotonic() - closed < 5, err
    assert "Traceback" not in err and "interrupted" not in err


@pytest.mark.parametrize("command", [["fit"], ["compare"], ["sweep", "--lr", "1e-3,1e-2"]])
def test_a_reader_gone_stops_the_training_unless_there_is_a_file_to_write(run_cli, monkeypatch, tmp_path, command):
    from gdcli import console

    monkeypatch.setattr(console, "reader_left", lambda: True)  # as with gdcli ... | head, once head is done
    gone = run_cli(*command, "--epochs", "3000", "--output", "json")
    assert gone.exit_code == 0 and gone.stderr == ""
    if command == ["fit"]:
        kept = run_cli("fit", "--epochs", "3000", "--output", "json", "--save", tmp_path / "run.json")
        assert kept.exit_code == 0 and json.loads(kept.stdout)["epochs_run"] == 3000
        assert json.loads((tmp_path / "run.json").read_text())["epochs_run"] == 3000


# ---- Ctrl-C at start-up -------------------------------------------------------------------------------


def test_ctrl_c_while_gdcli_loads_ends_by_sigint_with_one_line(tmp_path):
    """-X importtime says when a module has loaded: gdcli.presses is the first that gdcli's entry
    point imports inside its Ctrl-C guard, so Python's own start-up (and runpy's, which may still
    import after the gdcli package) is over, and Ctrl-C from there on, during the imports, is
    gdcli's to answer."""
    for delay in (0.0, 0.03, 0.08, 0.15):
        proc = start(["fit", "--epochs", "10"], tmp_path, "-X", "importtime")
        line = proc.stderr.readline()
        while not line.rstrip().endswith("| gdcli.presses"):
            line = proc.stderr.readline()
            assert line, "gdcli never loaded"
        assert proc.stderr.readline().startswith("import time:")
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        own = [x for x in err.splitlines() if not x.startswith("import time:")]
        assert proc.returncode == INTERRUPTED and "Traceback" not in err, err
        assert own == ["aborted (Ctrl-C): nothing was saved"], own


def test_ctrl_c_stops_a_shell_loop_around_gdcli_and_the_shell_reports_130(tmp_path):
    """A terminal's Ctrl-C reaches the shell and gdcli alike (one process group). A shell carries on
    with its loop when the command exited by itself, even with 130; it stops only when the command
    died by SIGINT. The shell's own `$?` is 130 all the same."""
    loop = (f'for lr in 1e-4 1e-3; do "{sys.executable}" -m gdcli fit --lr $lr {" ".join(LONG)} --progress lines; '
            'echo "exit $?"; done; echo "loop finished"')
    proc = subprocess.Popen(["bash", "-c", loop], cwd=tmp_path, env=ENV, text=True, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_training(proc)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert "interrupted at epoch" in err and "Traceback" not in err, err
    assert "loop finished" not in out and "exit" not in out, out  # the shell stopped with gdcli
    assert proc.returncode == INTERRUPTED

    # Ctrl-C to gdcli alone: the shell carries on, and says what it saw.
    shell = subprocess.Popen(["bash", "-c", f'"{sys.executable}" -m gdcli fit {" ".join(LONG)} --progress lines; '
                              'echo "exit $?"'], cwd=tmp_path, env=ENV, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_training(shell)
    gdcli = Path(f"/proc/{shell.pid}/task/{shell.pid}/children").read_text().split()
    os.kill(int(gdcli[0]), signal.SIGINT)
    out, err = shell.communicate(timeout=60)
    assert out.splitlines()[-1] == "exit 130" and shell.returncode == 0, err


# ---- --progress and --quiet ---------------------------------------------------------------------------


@pytest.mark.parametrize("given, shown", [
    ([], False),
    (["--quiet"], False),
    (["--progress", "bar"], True),  # stderr is not a terminal: lines instead of a bar that cannot show
    (["--quiet", "--progress", "bar"], True),  # an explicit --progress wins over --quiet
    (["--quiet", "--progress", "lines"], True),
    (["--progress", "none"], False),
])
def test_progress_shows_what_was_asked_where_it_can(run_cli, monkeypatch, given, shown):
    monkeypatch.setattr(progress, "LINE_SECONDS", 0.0)
    monkeypatch.setenv("GDCLI_PROGRESS_SECONDS", "0")
    result = run_cli("fit", "--epochs", "300", "--output", "json", *given)
    lines = [x for x in result.stderr.splitlines() if x.startswith("gdcli fit")]
    if not given:
        shown = bool(lines)  # auto: lines when stderr is not a terminal, as before
        assert shown
    assert bool(lines) == shown, result.stderr
    if shown:
        assert lines[-1].startswith("gdcli fit (autograd + gd): 300 of 300 epochs (100%)")


def test_the_help_says_which_wins(run_cli):
    text = " ".join(run_cli("fit", "--help").plain.split())
    assert "a --progress given wins over --quiet" in text and "lines where stderr is not a terminal" in text
    assert "or progress (unless --progress is given)" in text


def test_a_progress_line_ends_where_the_work_ended():
    import io

    from rich.console import Console

    stream = io.StringIO()
    shown = progress.Progress(Console(file=stream, width=200), "work", 10, "bar", "runs")
    assert shown.mode == "lines"  # not a terminal
    shown.last_line -= 100  # as if the first line's time had come
    shown.update(5)
    shown.update(10)  # too soon for a line of its own
    shown.close()
    assert [x.split(",")[0] for x in stream.getvalue().splitlines()] == ["work: 5 of 10 runs (50%)",
                                                                       "work: 10 of 10 runs (100%)"]


def library_noise(*args, **kwargs):
    """What torch says while compiling on a machine with a CUDA build and no GPU."""
    logging.getLogger("torch.utils.cpp_extension").warning("No CUDA runtime is found, using CUDA_HOME='/usr'")
    warnings.warn("a library's UserWarning", UserWarning)
    return eager_step(*args, **kwargs)


def eager_step(trainer):
    def step():
        loss = trainer.method.fill(trainer.theta, trainer.rows, trainer.spec)
        trainer.optimizer.step()
        return loss

    step.setup_seconds = 0.0
    return step


def test_quiet_silences_other_libraries(run_cli, monkeypatch, caplog, recwarn):
    """(torch's loggers write through handlers of their own, so the test listens to the records.)"""
    monkeypatch.setattr(loop, "compiled_step", library_noise)
    # Some torch releases (2.2) stop their loggers' records from reaching the root: listen to it directly.
    noisy = logging.getLogger("torch.utils.cpp_extension")
    monkeypatch.setattr(noisy, "handlers", [*noisy.handlers, caplog.handler])  # put back once the test ends
    args = ["fit", "--compile", "--method", "analytic", "--epochs", "20", "--output", "json"]
    loud = run_cli(*args)
    assert loud.exit_code == 0 and "No CUDA runtime is found" in caplog.text and len(recwarn) == 1
    caplog.clear()
    recwarn.clear()
    quiet = run_cli(*args, "--quiet")
    assert quiet.exit_code == 0 and quiet.stderr == "" and caplog.text == "" and len(recwarn) == 0
    assert logging.root.manager.disable == logging.NOTSET  # put back once the command is over
    warnings.warn("after the command", UserWarning)
    assert len(recwarn) == 1


def test_quiet_drops_what_native_code_writes_to_stderr_while_ray_starts(capfd, monkeypatch):
    from gdcli import cluster

    monkeypatch.setattr(sys, "stderr", sys.__stderr__)  # a real file descriptor, as in a terminal
    for quiet in (True, False):
        with cluster._native_stderr_dropped(quiet):
            os.write(2, b"rpc_client.h:153: Failed to connect to GCS\n")
        os.write(2, b"gdcli's own line\n")
    err = capfd.readouterr().err
    assert err.count("Failed to connect to GCS") == 1 and err.count("gdcli's own line") == 2


# ---- compile time -------------------------------------------------------------------------------------


def test_compile_time_is_kept_apart_once(monkeypatch):
    """The compiler's setup (before the first chunk) and the first call (within it) are compile time;
    the epochs' time is what remains, never below zero."""
    setup, first_call = 0.2, 0.3

    def slow_to_compile(trainer):
        time.sleep(setup)  # loading the compiler
        step, calls = eager_step(trainer), []

        def run():
            if not calls:
                time.sleep(first_call)  # tracing and code generation
            calls.append(1)
            return step()

        run.setup_seconds = setup
        return run

    monkeypatch.setattr(loop, "compiled_step", slow_to_compile)
    trainer = train.fit(resolve("celsius", method="analytic", epochs=200, compile=True))
    list(trainer.chunks())
    result = trainer.result()
    assert setup + first_call <= result.compile_seconds < setup + first_call + 0.2
    assert 0 <= result.seconds < first_call and result.seconds_per_epoch >= 0


def test_a_ctrl_c_that_a_library_swallowed_still_aborts_before_training(run_cli):
    """A press whose KeyboardInterrupt was caught while something imported (torch loads for
    seconds) is remembered: the guard aborts before anything trains, nothing is written."""
    from gdcli import presses

    try:
        presses._on_press(signal.SIGINT, None)
    except KeyboardInterrupt:
        pass  # what a library's catch-all does during its import
    try:
        result = run_cli("fit", "--epochs", "50", "--output", "json")
    finally:
        presses.forget()
    assert result.exit_code == 130 and result.stdout == ""
    assert "aborted (Ctrl-C): nothing was saved" in result.plain and "Traceback" not in result.plain
    assert run_cli("fit", "--epochs", "5", "--quiet").exit_code == 0  # forgotten: the next command runs


def test_presses_take_python_s_handler_only():
    """Installed in place of Python's own handler; a process that ignores Ctrl-C keeps ignoring it."""
    code = ("import signal; from gdcli import presses; signal.signal(signal.SIGINT, signal.SIG_IGN); "
            "presses.install(); print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN); "
            "signal.signal(signal.SIGINT, signal.default_int_handler); presses.install(); "
            "print(signal.getsignal(signal.SIGINT) is presses._on_press)")
    out = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True"]
