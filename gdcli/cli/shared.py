"""What the run commands (fit, compare, sweep) share: how they listen to training, their output options, the settings panel."""

from typing import Annotated, Callable, Optional

import typer

from gdcli import console
from gdcli.cli.options import OUTPUT, Output, written_path
from gdcli.errors import flags_in
from gdcli.text import plural

show_plots = console.show_plots


class Shown:
    """How the CLI listens to training (runner.Listener): notes, the --progress bar and Ctrl-C, on stderr."""

    def __init__(self, bar):
        self.bar = bar

    def note(self, text: str) -> None:
        print_notes([text])

    def progress(self, done: int) -> None:
        self.bar.update(done)

    def finished(self) -> None:
        self.bar.close()

    def interrupted(self, epoch: int, not_started: int) -> None:
        skipped = f"; {plural(not_started, 'group')} of runs not started" if not_started else ""
        console.warn(f"interrupted at epoch {epoch}{skipped}")


def listen(label: str, progress: str | None) -> Callable[[int, str], Shown]:
    """The CLI's listener for runner.train_with: the --progress bar of `label`, once the run-epochs are known."""
    from gdcli import progress as progress_mod

    return lambda total, unit: Shown(progress_mod.Progress(console.err(), label, total, progress_mode(progress), unit))


def reader_left(for_reader: bool) -> Callable[[], bool] | None:
    """Whether stdout's reader went away (gdcli ... | head), watched only where stdout is all that the
    training is for (`for_reader`): the command then stops and ends as on any closed pipe."""
    return console.reader_left if for_reader else None


def print_notes(notes: list[str]) -> None:
    """The core's notes on stderr, each setting named as its flag."""
    for note in notes:
        console.note(f"note: {flags_in(note)}")


def tell_long_run(trainers: list, setting: str = "method") -> None:
    """Before training, on stderr (not under --quiet): how long a run of over a minute will take, and a
    faster choice (gdcli.train.estimate)."""
    from gdcli.train import estimate

    if not console.quiet():
        print_notes([text for text in [estimate.advice(trainers, setting)] if text])


def progress_mode(progress: str | None) -> str:
    """--progress as given (an explicit mode wins over --quiet); else none under --quiet, auto otherwise."""
    return progress or ("none" if console.quiet() else "auto")


def for_reader(output, plot: bool, *files) -> bool:
    """Whether stdout's reader is all that a command's training is for: no file to write, no
    picture for stderr (--plot with json, jsonl or csv draws there)."""
    return all(f is None for f in files) and not (plot and output != Output.table)


def exit_if_interrupted(trainers: list, skipped: bool = False) -> None:
    """Exit 130 (128 + SIGINT, as a shell reports Ctrl-C) once an interrupted command has reported: its
    training was interrupted, or (`skipped`) Ctrl-C cut a picture short after training."""
    from gdcli import runner

    if skipped or runner.interrupted(trainers):
        raise typer.Exit(130)


def after_training():
    """A runner.AfterTraining whose skips are warned on stderr as they happen."""
    from gdcli.runner import AfterTraining

    return AfterTraining(told=console.warn)


LogEvery = Annotated[
    Optional[int],
    typer.Option("--log-every", help="Epochs between table rows (default: a tenth of the run).", rich_help_panel=OUTPUT),
]
OutputOpt = Annotated[
    Output,
    typer.Option(
        "--output", help="Write a table for people, or json, jsonl or csv for programs.", rich_help_panel=OUTPUT
    ),
]


SaveBestOpt = Annotated[Optional[str], typer.Option(  # a Path from written_path, or "" to be refused as empty
    "--save-best", parser=written_path, rich_help_panel=OUTPUT, metavar="FILE",
    help="Write the best run (lowest final loss; validation loss with --val-fraction) as gdcli fit --save does, "
    "for predict, evaluate and export; when every run diverged nothing is written and gdcli exits 3.")]


def check_save_best(path) -> None:
    """Refuse a --save-best file that cannot be written, before training."""
    if path is not None:
        from gdcli import best

        best.check(path)


def save_best(results: list, path) -> bool:
    """With --save-best: write the best run and say so, or warn (even under --quiet) that nothing was
    written; whether what was asked for is done (the command exits 3 where it is not)."""
    if path is None:
        return True
    from gdcli import best

    written = best.save(results, path)
    if written is None:
        console.warn("warning: " + best.not_saved(path))
        return False
    marked = " (marked interrupted)" if written.interrupted else ""
    console.note(f"saved the best run ({best.label(written)}) to {path}{marked}; "
                 f"predict with: gdcli predict {path} VALUE ... (or --input rows.csv)")
    return True


def print_header(trainer, cfg, title: str, changes: dict | None = None, device: str | None = None) -> None:
    """The settings panel, printed before training so that a long run shows what it is doing (not under --quiet)."""
    import dataclasses

    from gdcli import preset_lr, report

    if console.quiet():
        return
    prep = trainer.prepared[0]
    device = device or str(trainer.device)
    if preset_lr.is_rule(cfg.lr):  # the preset's rule, as the plan applied it to the rows
        cfg = dataclasses.replace(cfg, lr=trainer.plan.base.lr)
    from gdcli.train.budget import header_line

    line = header_line(trainer.plan)
    if line is not None:  # only with --memory-limit or streamed data: the panel is otherwise as it was
        from gdcli.errors import flags_in

        changes = {**(changes or {}), "data": flags_in(line.removeprefix("data: "))}
    panel = report.header(cfg, trainer.dataset, prep.n_train, prep.n_val, device, title, changes)
    console.out().print(panel)


def surface_wanted(surface: bool | None, surface_params: str | None, output, drawn: bool) -> tuple[bool, tuple | None]:
    """(--surface or --surface-params given, the two names): refused before training where nothing would
    show it: jsonl and csv have no place for it, unless a picture (`drawn`: --plot, --plot-file, --animate) does."""
    from gdcli.cli import parsing
    from gdcli.errors import GdcliError

    names = parsing.surface_params(surface_params)
    wanted = bool(surface) or names is not None
    if wanted and not drawn and output in (Output.jsonl, Output.csv):
        given = "--surface-params" if names is not None and not surface else "--surface"
        raise GdcliError(f"{given} has no place in --output {output.value}: the surface is a block of --output json "
                         "or a picture", f"use --output json, add --plot-file out.png, or drop {given}")
    return wanted, names


class WithSurface:
    """A command's view (emit.View) whose JSON document also holds the surface block."""

    def __init__(self, view, surface):
        self.view, self.surface = view, surface

    def __getattr__(self, name: str):
        return getattr(self.view, name)

    def document(self) -> dict:
        return {**self.view.document(), "surface": self.surface.to_dict()}


def surface_shown(view, surface):
    """The view to emit: with the surface block where there is a surface."""
    return view if surface is None else WithSurface(view, surface)


def show_with_surface(panels: Callable[[], list], surface, plot: bool, plot_file, output) -> None:
    """The command's pictures (`panels()`, for --plot and --plot-file) with the surface panel after them;
    with table output and neither, the surface alone in the terminal (--surface asked for the picture)."""
    shown = [surface.panel()] if surface is not None else []
    if plot or plot_file:
        show_plots([*panels(), *shown], plot, plot_file, to_stderr=output != Output.table)
    elif shown and output == Output.table:
        show_plots(shown, True, None)
