"""`gdcli fit`: one run, its table, its verdict, its pictures and its saved file."""

from enum import Enum
from typing import Annotated, Optional

import typer

from gdcli import console
from gdcli.cli.app import fail
from gdcli.cli.configfile import ConfigOpt, PrintConfigOpt
from gdcli.cli.gather import run_settings
from gdcli.cli import options
from gdcli.cli.options import (
    OUTPUT,
    ActivationOpt,
    BatchSizeOpt,
    CompileOpt,
    DatasetOpt,
    DeltaOpt,
    DeviceOpt,
    DtypeOpt,
    EpochsOpt,
    FeaturesOpt,
    GammaOpt,
    HiddenOpt,
    InitOpt,
    LrOpt,
    MaxLrOpt,
    MethodOpt,
    ModelOpt,
    MomentumOpt,
    NormalizeOpt,
    OptimOpt,
    Output,
    PatienceOpt,
    ProgressOpt,
    QuietOpt,
    ReductionOpt,
    RowsOpt,
    ScaleOpt,
    ScheduleOpt,
    SharpnessOpt,
    MemoryLimitOpt,
    SeedOpt,
    StepSizeOpt,
    TargetOpt,
    InputsOpt,
    DropOpt,
    MissingOpt,
    TolOpt,
    ValFractionOpt,
    WeightDecayOpt,
    WithinOpt,
    written_path,
)
from gdcli.cli.pictures import AnimateOpt, LogLossOpt, PlotFileOpt, PlotOpt, SurfaceOpt, SurfaceParamsOpt, check_log_loss
from gdcli.cli.shared import (
    after_training,
    LogEvery,
    OutputOpt,
    exit_if_interrupted,
    for_reader,
    listen,
    print_header,
    reader_left,
    show_with_surface,
    surface_shown,
    surface_wanted,
    tell_long_run,
)


class FitBackend(str, Enum):
    """Where fit's Gram pass reads the rows: here, or as Ray tasks (rayfit.BACKENDS)."""

    local = "local"
    ray = "ray"


FitBackendOpt = Annotated[
    FitBackend,
    typer.Option(
        "--backend",
        help="Where the rows are read: local, here; or ray, a Ray task per part of the data (a file, or each "
        "part of a folder) for --method gram's one pass, here or on a cluster (needs pip install \"gdcli\\[ray]\").",
        rich_help_panel=options.WHERE,
    ),
]


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
    log_loss: LogLossOpt = False,
    surface: SurfaceOpt = None,
    surface_params: SurfaceParamsOpt = None,
    animate: AnimateOpt = None,
    quiet: QuietOpt = False,
    progress: ProgressOpt = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
    inputs: InputsOpt = None,
    drop: DropOpt = None,
    missing: MissingOpt = None,
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
    sharpness: SharpnessOpt = None,
    memory_limit: MemoryLimitOpt = None,
    backend: FitBackendOpt = FitBackend.local,
    address: options.AddressOpt = None,
    config: ConfigOpt = None,
    print_config: PrintConfigOpt = False,
) -> None:
    """Train a model (--model: a line, a quadratic or a network) by gradient descent and compare it with the best fit."""
    from gdcli import emit, report, runner, surfaces, train  # figures, plots and runfile only when asked for

    run = run_settings(ctx)
    if run is None:
        return  # --print-config printed the settings

    console.set_quiet(quiet)
    wanted, names = surface_wanted(surface, surface_params, output, plot or plot_file is not None or animate is not None)
    check_log_loss(log_loss, plot or plot_file is not None)
    if plot_file is not None:
        from gdcli import plots

        plots.check_png_target(plot_file)
    if animate is not None:
        from gdcli import animation

        animation.check_target(animate)
    if save is not None:
        from gdcli import runfile

        runfile.check_target(save)
    cfg = train.resolve(log_every=log_every, **run)
    source = _rows_source(cfg, backend, address, quiet, dict(plot=plot, plot_file=plot_file, animate=animate,
                                                              surface=wanted))
    trainer = train.fit(cfg, history=history.value, source=source)
    surfaces.check(trainer, names)
    from gdcli.train.streamed import refuse_pictures

    refuse_pictures(trainer.plan, {"plot": plot, "plot_file": plot_file is not None, "animate": animate is not None})
    if output == Output.table:
        print_header(trainer, cfg, "gdcli fit", source.header() if source is not None else None)
    tell_long_run([trainer])

    def stream(chunk) -> None:
        # jsonl writes each epoch (or each logged one) as soon as its chunk is done.
        epochs = chunk.epochs if history == History.all else sorted(chunk.snapshots)
        for epoch in epochs:
            emit.json_line(report.record_dict(train.record_at(chunk, epoch, 0), cfg.sharpness is not None))

    written = emit.begin(output.value, header=report.fit_csv_header(cfg))
    watch = reader_left(for_reader(output, plot, save, plot_file, animate))
    runner.train_with([trainer], listen(f"gdcli fit ({cfg.method} + {cfg.optim})", progress),
                      stream if output == Output.jsonl else None, watch)
    result = trainer.result()
    after = after_training()
    drawn = after.run("the loss surface", lambda: surfaces.for_fit(result, trainer, names)) if wanted else None
    view = report.FitView(result, trainer.dataset, str(trainer.device), trainer.batch_size is not None)
    emit.emit(surface_shown(view, drawn), output.value, written=written)
    if plot or plot_file or drawn is not None:
        from gdcli import figures

        show_with_surface(lambda: figures.fit_panels(result, trainer.dataset, log_loss), drawn, plot, plot_file, output)
    if animate is not None:
        from gdcli import animation

        surface = drawn.panel() if drawn is not None else None
        if after.run(str(animate), lambda: animation.write(animate, animation.frames_of(result, trainer.dataset),
                                                           surface=surface)):
            console.err().print(f"wrote {animate}", markup=False, highlight=False)
    if result.verdict.diverged:
        if save:
            # A warning, not a note: --quiet must not hide that the file asked for was never written.
            console.warn(f"warning: not saved to {save}: the run diverged")
        fail(report.advice(result), 3)
    if result.verdict.kind == "unstable":
        console.warn("warning: " + report.advice(result))
    if result.unmoved:
        console.warn("warning: " + report.unmoved_advice(result))
    if save:
        from gdcli import runfile

        runfile.save_run(result, save)
        marked = " (marked interrupted)" if trainer.interrupted else ""
        console.note(f"saved to {save}{marked}; predict with: gdcli predict {save} VALUE ... (or --input rows.csv)")
    exit_if_interrupted([trainer], bool(after.skipped))


def _rows_source(cfg, backend: FitBackend, address, quiet: bool, pictures: dict):
    """Where the rows are read (rayfit.OnRay), or None for here; refused before Ray starts where it cannot be."""
    if backend == FitBackend.local and address is None:
        return None
    from gdcli import rayfit

    rayfit.check(cfg, backend.value, address, tuple(name for name, given in pictures.items() if given))
    return rayfit.OnRay(address, quiet) if backend == FitBackend.ray else None
