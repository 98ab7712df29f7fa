"""The Typer app: one short function per command, parse -> core -> render.

Nothing here imports torch at module level, so `gdcli --help` stays fast.
"""

import functools
from enum import Enum
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from gdcli import __version__, backends, cli_tools, console, options, usage
from gdcli.configfile import ConfigOpt, PrintConfigOpt
from gdcli.errors import GdcliError, flags_in, param
from gdcli.text import plural
from gdcli.options import (
    MOMENTUM_OPTIMIZERS,
    OUTPUT,
    TRAINING,
    Method,
    choices,
    Output,
    PlotFileOpt,
    PlotOpt,
    ProgressOpt,
    QuietOpt,
    one_of,
    run_settings,
    written_path,
    DatasetOpt,
    TargetOpt,
    RowsOpt,
    FeaturesOpt,
    ScaleOpt,
    NormalizeOpt,
    ValFractionOpt,
    BatchSizeOpt,
    ModelOpt,
    HiddenOpt,
    ActivationOpt,
    MethodOpt,
    OptimOpt,
    LrOpt,
    EpochsOpt,
    MomentumOpt,
    WeightDecayOpt,
    DeltaOpt,
    ReductionOpt,
    InitOpt,
    DtypeOpt,
    DeviceOpt,
    SeedOpt,
    CompileOpt,
    TolOpt,
    PatienceOpt,
    WithinOpt,
    ScheduleOpt,
    StepSizeOpt,
    GammaOpt,
    MaxLrOpt,
)

app = typer.Typer(
    name="gdcli",
    help="Gradient descent experiments: fit a line, the book's quadratic or a small network to a built-in, "
    "synthetic or CSV, .csv.gz or Parquet dataset (or stdin) of up to tens of millions of rows; compare gradient "
    "methods and optimizers, sweep settings (here or on Ray), check gradients and draw samples.",
    cls=usage.GdcliGroup,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=True,
)

_state = {"debug": False}


def _fail(message: str, code: int) -> None:
    usage.print_error(message)
    raise typer.Exit(code)


def guarded(func: Callable) -> Callable:
    """Turn GdcliError into exit 2 and any other failure into exit 1, traceback only under --debug."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, usage.UsageError):
            raise  # a usage error (typer.BadParameter) prints as one, through the app's group
        except KeyboardInterrupt:
            # Ctrl-C before training started, or a second one during it: stop at once. Files are
            # written atomically, so nothing is left half-written.
            console.warn(usage.ABORTED)
            raise typer.Exit(130) from None
        except GdcliError as err:
            # A setting a config file gave is named with the file (the command's ctx, where it takes one).
            _fail(str(options.blamed(err, kwargs.get("ctx"))), 2)
        except BrokenPipeError:
            console.silence_stdout()
            raise typer.Exit(0) from None
        except Exception as err:  # noqa: BLE001 - the last line of defence
            if _state["debug"]:
                raise
            _fail(f"{type(err).__name__}: {err} (run with --debug for the traceback)", 1)
        finally:
            console.set_quiet(False)  # other libraries may speak again (a program may run more commands)

    return wrapper


def command(name: str | None = None, **kwargs) -> Callable:
    """Register a command on the app behind the error guard, in gdcli's help and error style."""

    def register(func: Callable) -> Callable:
        app.command(name, cls=usage.GdcliCommand, **kwargs)(guarded(func))
        return func

    return register


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"gdcli {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback of unexpected errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print gdcli's version and exit.")
    ] = False,
) -> None:
    _state["debug"] = debug
    console.set_quiet(False)  # fit, compare and sweep turn it on with --quiet
    console.reader_back()  # (a program may run several commands in one process)


_out, _err, show_plots = console.out, console.err, console.show_plots


class _Shown:
    """How the CLI listens to training (runner.Listener): notes, the --progress bar and Ctrl-C, on stderr."""

    def __init__(self, bar):
        self.bar = bar

    def note(self, text: str) -> None:
        console.note(f"note: {flags_in(text)}")

    def progress(self, done: int) -> None:
        self.bar.update(done)

    def finished(self) -> None:
        self.bar.close()

    def interrupted(self, epoch: int, not_started: int) -> None:
        skipped = f"; {plural(not_started, 'group')} of runs not started" if not_started else ""
        console.warn(f"interrupted at epoch {epoch}{skipped}")


def _train(trainers: list, label: str, progress: str | None, each_chunk: Callable | None = None,
           for_reader: bool = False) -> list:
    """Train every trainer (gdcli.runner) with progress on stderr (--progress); returns those that ran.

    `for_reader`: stdout is all the training is for (nothing to save or draw), so a reader
    that went away (gdcli ... | head) stops it, and the command ends as on any closed pipe.
    """
    from gdcli import progress as progress_mod
    from gdcli import runner

    total, unit = runner.totals(trainers)
    shown = _Shown(progress_mod.Progress(_err(), label, total, _progress_mode(progress), unit))
    return runner.train(trainers, shown, each_chunk, console.reader_left if for_reader else None)


def _progress_mode(progress: str | None) -> str:
    """--progress as given (an explicit mode wins over --quiet); else none under --quiet, auto otherwise."""
    return progress or ("none" if console.quiet() else "auto")


def _for_reader(output, plot: bool, *files) -> bool:
    """Whether stdout's reader is all that a command's training is for: no file to write, no
    picture for stderr (--plot with json, jsonl or csv draws there)."""
    return all(f is None for f in files) and not (plot and output != Output.table)


def _exit_if_interrupted(trainers: list) -> None:
    """Exit 130 (128 + SIGINT, as a shell reports Ctrl-C) once an interrupted command has reported."""
    from gdcli import runner

    if runner.interrupted(trainers):
        raise typer.Exit(130)


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


Backend = choices("Backend", backends.BACKENDS)  # where sweep trains its runs: local, ray


WHERE = "Where it runs"


class History(str, Enum):
    """Which epochs' losses fit keeps for --output json and csv."""

    all = "all"
    logged = "logged"


HistoryOpt = Annotated[
    History,
    typer.Option(
        "--history",
        help="The epochs whose losses json, jsonl and csv output hold: all of them, or only the logged ones.",
        rich_help_panel=OUTPUT,
    ),
]


@command("fit")
def fit(
    ctx: typer.Context,
    log_every: LogEvery = None,
    history: HistoryOpt = History.all,
    output: OutputOpt = Output.table,
    save: Annotated[
        Optional[str],  # a Path from written_path, or "" to be refused as empty
        typer.Option(
            "--save",
            parser=written_path,
            help="Write config, scaling and learned parameters to this JSON file (not for a run that diverged).",
            rich_help_panel=OUTPUT,
            metavar="FILE",
        ),
    ] = None,
    plot: PlotOpt = False,
    plot_file: PlotFileOpt = None,
    quiet: QuietOpt = False,
    progress: ProgressOpt = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
    rows: RowsOpt = None,
    features: FeaturesOpt = None,
    scale: ScaleOpt = None,
    normalize: NormalizeOpt = None,
    val_fraction: ValFractionOpt = None,
    batch_size: BatchSizeOpt = None,
    model: ModelOpt = None,
    hidden: HiddenOpt = None,
    activation: ActivationOpt = None,
    method: MethodOpt = None,
    optim: OptimOpt = None,
    lr: LrOpt = None,
    epochs: EpochsOpt = None,
    momentum: MomentumOpt = None,
    weight_decay: WeightDecayOpt = None,
    delta: DeltaOpt = None,
    reduction: ReductionOpt = None,
    init: InitOpt = None,
    dtype: DtypeOpt = None,
    device: DeviceOpt = None,
    seed: SeedOpt = None,
    compile: CompileOpt = None,
    tol: TolOpt = None,
    patience: PatienceOpt = None,
    within: WithinOpt = None,
    schedule: ScheduleOpt = None,
    step_size: StepSizeOpt = None,
    gamma: GammaOpt = None,
    max_lr: MaxLrOpt = None,
    config: ConfigOpt = None,
    print_config: PrintConfigOpt = False,
) -> None:
    """Train a model (--model: a line, a quadratic or a network) by gradient descent and compare it with the best fit."""
    from gdcli import emit, figures, plots, report, runfile, train

    run = run_settings(ctx)
    if run is None:
        return  # --print-config printed the settings

    console.set_quiet(quiet)
    if plot_file is not None:
        plots.check_png_target(plot_file)
    if save is not None:
        runfile.check_target(save)
    cfg = train.resolve(log_every=log_every, **run)
    trainer = train.fit(cfg, history=history.value)
    if output == Output.table:
        _header(trainer, cfg, "gdcli fit")

    def stream(chunk) -> None:
        # jsonl writes each epoch (or each logged one) as soon as its chunk is done.
        epochs = chunk.epochs if history == History.all else sorted(chunk.snapshots)
        for epoch in epochs:
            emit.json_line(report.record_dict(train.record_at(chunk, epoch, 0)))

    written = emit.begin(output.value, header=report.fit_csv_header(cfg))
    _train([trainer], f"gdcli fit ({cfg.method} + {cfg.optim})", progress, stream if output == Output.jsonl else None,
           for_reader=_for_reader(output, plot, save, plot_file))
    result = trainer.result()
    view = report.FitView(result, trainer.dataset, str(trainer.device), trainer.batch_size is not None)
    emit.emit(view, output.value, written=written)
    if plot or plot_file:
        show_plots(figures.fit_panels(result, trainer.dataset), plot, plot_file, to_stderr=output != Output.table)
    if result.verdict.diverged:
        if save:
            # A warning, not a note: --quiet must not hide that the file asked for was never written.
            console.warn(f"warning: not saved to {save}: the run diverged")
        _fail(report.advice(result), 3)
    if result.verdict.kind == "unstable":
        console.warn("warning: " + report.advice(result))
    if result.unmoved:
        console.warn("warning: " + report.unmoved_advice(result))
    if save:
        runfile.save_run(result, save)
        marked = " (marked interrupted)" if trainer.interrupted else ""
        console.note(f"saved to {save}{marked}; predict with: gdcli predict {save} VALUE ... (or --input rows.csv)")
    _exit_if_interrupted([trainer])


def _header(trainer, cfg, title: str, changes: dict | None = None, device: str | None = None) -> None:
    """The settings panel, printed before training so that a long run shows what it is doing (not under --quiet)."""
    from gdcli import report

    if console.quiet():
        return
    prep = trainer.prepared[0]
    device = device or str(trainer.device)
    panel = report.header(cfg, trainer.dataset, prep.n_train, prep.n_val, device, title, changes)
    _out().print(panel)


@command("predict", context_settings={"ignore_unknown_options": True})
def predict(
    run_file: Annotated[
        Path, typer.Argument(metavar="RUN_FILE", help="A run saved by gdcli fit --save.", show_default=False)
    ],
    values: Annotated[
        Optional[list[str]],
        typer.Argument(
            metavar="VALUES",
            help="Input rows in original units; comma-separate several features (70,0.1,0.043). Or use --input.",
            show_default=False,
        ),
    ] = None,
    input_file: Annotated[
        Optional[str],
        typer.Option(
            "--input",
            help="Predict every row of this CSV, .csv.gz or Parquet file (- for stdin); its header names the run's "
            "features, and other columns are ignored.",
            metavar="FILE",
            show_default=False,
        ),
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Apply a saved model to new inputs, with the same scaling it was trained with."""
    from gdcli import data, emit, report, runfile

    if bool(values) == (input_file is not None):
        example = f"gdcli predict {run_file} 35.7 81.9, or gdcli predict {run_file} --input rows.csv"
        problem = "give the input rows either as VALUES or with --input, not both" if values else "no input rows given"
        raise GdcliError(problem, f"give VALUES or --input FILE, for example: {example}")
    saved = runfile.load_run(run_file)
    if input_file is not None:
        try:
            inputs = data.load_inputs(input_file, saved.features)
        except GdcliError as err:
            raise GdcliError(err.render({"dataset": "--input"})) from None  # the readers' hints say --dataset
    else:
        import numpy as np

        inputs = np.array(runfile.parse_rows(values, len(saved.features), saved.features), dtype=np.float64)
    view = report.PredictView(
        saved.features, saved.targets, lambda: runfile.predict_blocks(saved, inputs), inputs.shape[0]
    )
    emit.emit(view, output.value)


@command("datasets")
def datasets(
    name: Annotated[
        Optional[str],
        typer.Argument(metavar="NAME", help="Show this dataset's rows (a built-in, a data file, or - for stdin).", show_default=False),
    ] = None,
    rows: Annotated[Optional[int], typer.Option("--rows", help="Rows drawn for synthetic (default: 100).")] = None,
    features: Annotated[
        Optional[int], typer.Option("--features", help="Features drawn for synthetic (default: 1).")
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", min=0, max=2**64 - 1, help="Seed of synthetic's draw, 0 to 2**64 - 1.")
    ] = 42,
    output: Annotated[
        Output,
        typer.Option(
            "--output", help="Write a table for people, or json, jsonl or csv for programs: the list, or NAME's rows."
        ),
    ] = Output.table,
) -> None:
    """List the built-in datasets, or print the rows of one (a built-in, a data file or stdin)."""
    from gdcli import data, emit, report

    if name is None:
        emit.emit(report.DatasetsView(data.BUILTINS, data.shapes()), output.value)
        return
    entry = data.BUILTINS.get(name)
    if entry is not None and entry.generated:
        # Drawn as shown: the table's first rows, or every row block by block as it is written.
        head, n_rows, blocks = data.generated_preview(name, seed=seed, rows=rows, features=features, head=report.SHOWN_ROWS)
        emit.emit(report.DatasetView(head, n_rows, blocks), output.value)
        return
    emit.emit(report.DatasetView(data.load_dataset(name, rows=rows, seed=seed, features=features)), output.value)


@command("compare")
def compare(
    ctx: typer.Context,
    methods: Annotated[
        Optional[list[str]],
        typer.Option(
            "--methods",
            help=f"Gradient methods, comma-separated or repeated: {one_of(m.value for m in Method)} (default: all).",
            rich_help_panel=TRAINING,
            metavar="METHODS",
        ),
    ] = None,
    optims: Annotated[
        Optional[list[str]],
        typer.Option(
            "--optims",
            help="Optimizers, comma-separated or repeated; the names --optim takes (default: gd).",
            rich_help_panel=TRAINING,
            metavar="OPTIMS",
        ),
    ] = None,
    pairs: Annotated[
        Optional[list[str]],
        typer.Option(
            "--run",
            help="An explicit METHOD:OPTIM run, repeatable; replaces --methods x --optims.",
            rich_help_panel=TRAINING,
            metavar="METHOD:OPTIM",
        ),
    ] = None,
    curves: Annotated[
        bool, typer.Option("--curves", help="Also show each run's loss at the logged epochs.", rich_help_panel=OUTPUT)
    ] = False,
    log_every: LogEvery = None,
    output: OutputOpt = Output.table,
    plot: PlotOpt = False,
    plot_file: PlotFileOpt = None,
    quiet: QuietOpt = False,
    progress: ProgressOpt = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
    rows: RowsOpt = None,
    features: FeaturesOpt = None,
    scale: ScaleOpt = None,
    normalize: NormalizeOpt = None,
    val_fraction: ValFractionOpt = None,
    batch_size: BatchSizeOpt = None,
    model: ModelOpt = None,
    hidden: HiddenOpt = None,
    activation: ActivationOpt = None,
    lr: LrOpt = None,
    epochs: EpochsOpt = None,
    momentum: MomentumOpt = None,
    weight_decay: WeightDecayOpt = None,
    delta: DeltaOpt = None,
    reduction: ReductionOpt = None,
    init: InitOpt = None,
    dtype: DtypeOpt = None,
    device: DeviceOpt = None,
    seed: SeedOpt = None,
    compile: CompileOpt = None,
    tol: TolOpt = None,
    patience: PatienceOpt = None,
    within: WithinOpt = None,
    schedule: ScheduleOpt = None,
    step_size: StepSizeOpt = None,
    gamma: GammaOpt = None,
    max_lr: MaxLrOpt = None,
    config: ConfigOpt = None,
    print_config: PrintConfigOpt = False,
) -> None:
    """Run one problem under several gradient methods and optimizers, side by side."""
    from gdcli import comparison as cmp
    from gdcli import emit, figures, plots, report_many

    run = run_settings(ctx)  # without --method and --optim: compare chooses them
    if run is None:
        return

    console.set_quiet(quiet)
    if plot_file is not None:
        plots.check_png_target(plot_file)
    configs, strategies, trainers = cmp.plan(run, methods or [], optims or [], pairs or [], log_every)
    if output == Output.table:
        labels = ", ".join(f"{m}:{o}" for m, o in strategies)
        _header(trainers[0], configs[0], "gdcli compare", {"method": None, "optim": None, "runs": labels})
    agreement = cmp.agreement(trainers[0])
    written = emit.begin(output.value, report_many.compare_csv_header(configs), report_many.gradient_lines(agreement[0]))
    ran = _train(trainers, "gdcli compare", progress, for_reader=_for_reader(output, plot, plot_file))
    results = [t.result() for t in ran]
    within_tol, within = cmp.within_all(configs, results)
    view = report_many.CompareView(results, agreement, within, within_tol, curves, str(trainers[0].device), configs)
    emit.emit(view, output.value, written=written)
    if plot or plot_file:
        panels = figures.compare_panels(view.labels, results, trainers[0].dataset.name)
        show_plots(panels, plot, plot_file, to_stderr=output != Output.table)
    _exit_if_interrupted(ran)


@command("sweep")
def sweep(
    ctx: typer.Context,
    num: Annotated[
        Optional[int],
        typer.Option(
            "--num", help="How many log-spaced learning rates a LOW:HIGH range gives (default: 10).", rich_help_panel=TRAINING
        ),
    ] = None,
    seeds: Annotated[
        Optional[str],
        typer.Option(
            "--seeds",
            help="Seeds A:B (inclusive) or a comma list; each changes the split, randn init and batch order (default: 42).",
            rich_help_panel=TRAINING,
            metavar="SEEDS",
        ),
    ] = None,
    top: Annotated[
        Optional[int],
        typer.Option("--top", min=1, help="Show only the best N runs in the table, N at least 1.", rich_help_panel=OUTPUT, metavar="N"),
    ] = None,
    log_every: LogEvery = None,
    output: OutputOpt = Output.table,
    plot: PlotOpt = False,
    plot_file: PlotFileOpt = None,
    quiet: QuietOpt = False,
    progress: ProgressOpt = None,
    backend: Annotated[
        Backend,
        typer.Option(
            "--backend",
            help='Where the runs train: local, here; or ray, as Ray tasks on this machine or a cluster '
            '(needs pip install "gdcli\\[ray]").',
            rich_help_panel=WHERE,
        ),
    ] = Backend.local,
    address: Annotated[
        Optional[str],
        typer.Option(
            "--address",
            help="The Ray cluster to run on: HOST:PORT, or auto for the one this machine belongs to "
            "(default: a Ray instance started here).",
            rich_help_panel=WHERE,
            metavar="ADDR",
        ),
    ] = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
    rows: RowsOpt = None,
    features: FeaturesOpt = None,
    scale: ScaleOpt = None,
    normalize: NormalizeOpt = None,
    val_fraction: ValFractionOpt = None,
    batch_size: Annotated[
        Optional[str],
        typer.Option(
            "--batch-size",
            help="Batch sizes, a comma list (default: the whole training set).",
            rich_help_panel="Data",
            metavar="SIZES",
        ),
    ] = None,
    model: ModelOpt = None,
    hidden: HiddenOpt = None,
    activation: ActivationOpt = None,
    method: MethodOpt = None,
    optim: OptimOpt = None,
    lr: Annotated[
        Optional[str],
        typer.Option(
            "--lr",
            help="Learning rates: LOW:HIGH log-spaced (--num of them) or a comma list (default: the dataset's preset).",
            rich_help_panel=TRAINING,
            metavar="LRS",
        ),
    ] = None,
    epochs: EpochsOpt = None,
    momentum: Annotated[
        Optional[str],
        typer.Option(
            "--momentum",
            help=f"Momentum values, a comma list, for {one_of(MOMENTUM_OPTIMIZERS)} (default: 0).",
            rich_help_panel=TRAINING,
            metavar="VALUES",
        ),
    ] = None,
    weight_decay: WeightDecayOpt = None,
    delta: DeltaOpt = None,
    reduction: ReductionOpt = None,
    init: InitOpt = None,
    dtype: DtypeOpt = None,
    device: DeviceOpt = None,
    seed: SeedOpt = None,
    compile: CompileOpt = None,
    tol: TolOpt = None,
    patience: PatienceOpt = None,
    within: WithinOpt = None,
    schedule: ScheduleOpt = None,
    step_size: StepSizeOpt = None,
    gamma: GammaOpt = None,
    max_lr: MaxLrOpt = None,
    config: ConfigOpt = None,
    print_config: PrintConfigOpt = False,
) -> None:
    """Train a grid of learning rates, momenta, seeds and batch sizes (vectorized here, or as Ray tasks); rank the runs by final (or validation) loss."""
    from gdcli import emit, figures, plots, report_many, train
    from gdcli import grid as sw

    if print_config:  # the grid's own texts are printed as given: they must parse first
        sw.check_texts(lr=lr, num=num, seeds=seeds, momentum=momentum, batch_size=batch_size)
    run = run_settings(ctx, own=("lr", "momentum", "batch_size"))
    if run is None:
        return
    console.set_quiet(quiet)
    if plot_file is not None:
        plots.check_png_target(plot_file)
    if address is not None and backend != Backend.ray:
        raise GdcliError(
            f"{param('address')} names a Ray cluster: it applies to {param('backend')} ray",
            f"add {param('backend')} ray, or drop {param('address')}",
        )
    base = train.resolve(log_every=log_every, **run)
    grid = sw.grid(
        base, lr=lr, num=num, seeds=seeds, seed_given=run.get("seed") is not None, momentum=momentum, batch_size=batch_size
    )
    configs = sw.expand(base, grid)
    entry = backends.BACKENDS[backend.value]
    # Rows go out before training only where the reader's leaving is watched (not on Ray).
    written = emit.begin(output.value, report_many.SWEEP_CSV, [report_many.grid_line(base, grid, len(configs))]) \
        if entry.streams else 0
    shown = _SweepShown(base, grid, output, f"gdcli sweep of {len(configs)} runs", progress)
    reader_left = console.reader_left if _for_reader(output, plot, plot_file) else None
    trainer, device, notes, outcome, _ = entry.run(base, configs, shown, address, reader_left)
    best = sw.ranked(outcome.results)
    dims = sw.varying([r.config for r in outcome.results] + [f.config for f in outcome.failed]) or ["lr"]
    view = report_many.SweepView(best, dims, grid, notes, top, device, base, outcome.failed, outcome.cancelled)
    emit.emit(view, output.value, written=written)
    if (plot or plot_file) and best:
        panels = figures.sweep_panels(best, dims, trainer.dataset.name)
        show_plots(panels, plot, plot_file, to_stderr=output != Output.table)
    if outcome.interrupted:
        raise typer.Exit(130)
    if outcome.failed:
        console.warn(f"{plural(len(outcome.failed), 'run')} failed: see {_FAILED_RUNS[output]}")
        raise typer.Exit(1)


# Where each output lists a sweep's failed runs, with the reason.
_FAILED_RUNS = {
    Output.table: "the failed runs above",
    Output.json: 'the "failed" list of the JSON on stdout',
    Output.jsonl: 'the lines of "type": "failed" on stdout',
    Output.csv: 'the rows whose verdict is "failed" on stdout',
}


class _SweepShown:
    """How the CLI listens to a sweep (backends.SweepListener): header, notes, progress and Ctrl-C on stderr."""

    def __init__(self, base, grid: dict, output, label: str, progress: str | None):
        self.base, self.grid, self.table, self.label = base, grid, output == Output.table, label
        self.mode, self.quiet = _progress_mode(progress), console.quiet()

    def begin(self, trainer, device: str, notes: list[str]) -> None:
        from gdcli import report_many

        if self.table:
            _header(trainer, self.base, "gdcli sweep", report_many.grid_header(self.base, self.grid), device=device)
        for note in notes:
            console.note(f"note: {note}")

    def training(self, total: int, unit: str, redirect: bool) -> _Shown:
        from gdcli import progress as progress_mod

        return _Shown(progress_mod.Progress(_err(), self.label, total, self.mode, unit, redirect=redirect))

    def cancelling(self, runs: int) -> None:
        console.warn(f"interrupted: cancelling the tasks of {plural(runs, 'run')} (a few seconds)")

    def cancelled(self, trained: int, planned: int, cancelled: int) -> None:
        console.warn(f"interrupted: {trained} of {plural(planned, 'run')} trained; {cancelled} cancelled")


@command("export")
def export(
    run_file: Annotated[
        Path, typer.Argument(metavar="RUN_FILE", help="A run saved by gdcli fit --save.", show_default=False)
    ],
    target: Annotated[
        str,  # a Path from written_path, or "" to be refused as empty
        typer.Argument(metavar="MODEL_PT", parser=written_path, help="Where to write the state_dict (torch.save).", show_default=False),
    ],
) -> None:
    """Write a saved run as a torch.nn state_dict that takes raw inputs (scaling folded into the first layer).

    A linear run loads into torch.nn.Linear(k, t); an mlp run into the book's
    nn.Sequential(OrderedDict(hidden_linear=Linear, hidden_activation=..., output_linear=Linear)).

    The tensors are float64: a module built with dtype=torch.float64 (or .double()) matches gdcli predict; a float32 one rounds them, and export warns when that changes the predictions.
    """
    from gdcli import runfile

    state = runfile.export(run_file, target)
    keys = ", ".join(state)
    console.note(f"wrote {target}: {keys}; load with module.load_state_dict(torch.load({str(target)!r}))")
    run = runfile.load_run(run_file)
    drift = runfile.float32_drift(run, state)
    if drift is not None and drift.too_large:
        console.warn(runfile.drift_warning(run, drift, target))


command("sample")(cli_tools.sample)
# An expression may start with "-" ("-x**2"): not an option, so let it through as EXPR.
command("grad", context_settings={"ignore_unknown_options": True})(cli_tools.grad)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="gdcli")


if __name__ == "__main__":  # pragma: no cover
    main()
