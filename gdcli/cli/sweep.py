"""`gdcli sweep`: a grid of settings trained here or on Ray, ranked."""

from typing import Annotated, Optional

import typer

from gdcli import backends, console
from gdcli.cli.configfile import ConfigOpt, PrintConfigOpt
from gdcli.cli.gather import run_settings
from gdcli.cli import options
from gdcli.cli.options import (
    MOMENTUM_OPTIMIZERS,
    OUTPUT,
    TRAINING,
    ActivationOpt,
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
    MaxLrOpt,
    MethodOpt,
    ModelOpt,
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
    choices,
    one_of,
)
from gdcli.cli.pictures import LogLossOpt, PlotFileOpt, PlotOpt, SurfaceOpt, SurfaceParamsOpt, check_log_loss
from gdcli.cli.shared import (
    LogEvery,
    OutputOpt,
    SaveBestOpt,
    check_save_best,
    save_best as save_best_run,
    after_training,
    Shown,
    for_reader,
    print_header,
    print_notes,
    progress_mode,
    reader_left,
    show_with_surface,
    surface_shown,
    surface_wanted,
    tell_long_run,
)
from gdcli.errors import GdcliError, param
from gdcli.text import plural

Backend = choices("Backend", backends.BACKENDS)  # where sweep trains its runs: local, ray




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
    log_loss: LogLossOpt = False,
    save_best: SaveBestOpt = None,
    surface: SurfaceOpt = None,
    surface_params: SurfaceParamsOpt = None,
    quiet: QuietOpt = False,
    progress: ProgressOpt = None,
    backend: Annotated[
        Backend,
        typer.Option(
            "--backend",
            help='Where the runs train: local, here; or ray, as Ray tasks on this machine or a cluster '
            '(needs pip install "gdcli\\[ray]").',
            rich_help_panel=options.WHERE,
        ),
    ] = Backend.local,
    address: options.AddressOpt = None,
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
    sharpness: SharpnessOpt = None,
    memory_limit: MemoryLimitOpt = None,
    config: ConfigOpt = None,
    print_config: PrintConfigOpt = False,
) -> None:
    """Train a grid of learning rates, momenta, seeds and batch sizes (vectorized here, or as Ray tasks); rank the runs by final (or validation) loss."""
    from gdcli import emit, figures, plots, surfaces, train
    from gdcli import grid as sw
    from gdcli.cli import parsing
    from gdcli.report.sweep import grid_line, sweep_csv

    if print_config:  # the grid's own texts are printed as given: they must parse first
        parsing.grid_lists(lr=lr, num=num, seeds=seeds, momentum=momentum, batch_size=batch_size)
    run = run_settings(ctx, own=("lr", "momentum", "batch_size"))
    if run is None:
        return
    console.set_quiet(quiet)
    wanted, names = surface_wanted(surface, surface_params, output, plot or plot_file is not None)
    check_log_loss(log_loss, plot or plot_file is not None)
    if plot_file is not None:
        plots.check_png_target(plot_file)
    check_save_best(save_best)
    if address is not None and backend != Backend.ray:
        raise GdcliError(
            f"{param('address')} names a Ray cluster: it applies to {param('backend')} ray",
            f"add {param('backend')} ray, or drop {param('address')}",
        )
    base = train.resolve(log_every=log_every, **run)
    seed_given = run.get("seed") is not None
    lists = parsing.sweep_lists(lr=lr, num=num, seeds=seeds, seed_given=seed_given, momentum=momentum,
                                batch_size=batch_size)
    grid, configs = sw.planned(base, lists, seed_given)
    # Rows go out before training only where the reader's leaving is watched (not on Ray).
    written = emit.begin(output.value, sweep_csv(base), [grid_line(base, grid, len(configs))]) \
        if backends.BACKENDS[backend.value].streams else 0
    shown = surfaces.Checked(_SweepShown(base, grid, output, f"gdcli sweep of {len(configs)} runs", progress), names)
    swept = backends.sweep(base, grid, configs, backend.value, shown, address,
                           reader_left(for_reader(output, plot, plot_file, save_best)), top)
    after = after_training()
    drawn = after.run("the loss surface", lambda: surfaces.for_sweep(swept.best, swept.dims, swept.trained.ran, names)) \
        if wanted and swept.best else None
    emit.emit(surface_shown(swept.view, drawn), output.value, written=written)
    if swept.best:
        dataset = swept.trained.trainer.dataset.name
        show_with_surface(lambda: figures.sweep_panels(swept.best, swept.dims, dataset, log_loss), drawn, plot,
                          plot_file, output)
    saved = save_best_run(swept.trained.outcome.results, save_best)
    _exit(swept.trained.outcome, output, bool(after.skipped))
    if not saved:
        raise typer.Exit(3)  # the file asked for is not there: every run diverged


def _exit(outcome, output, skipped: bool = False) -> None:
    """Exit 130 after Ctrl-C (in training, or of a picture after it), 1 (with a warning) where runs failed;
    else the command ends as it is."""
    if outcome.interrupted or skipped:
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
        self.mode, self.quiet = progress_mode(progress), console.quiet()

    def begin(self, trainer, device: str, notes: list[str]) -> None:
        from gdcli.report.sweep import grid_header

        if self.table:
            print_header(trainer, self.base, "gdcli sweep", grid_header(self.base, self.grid), device=device)
        print_notes(notes)

    def long_run(self, trainers: list) -> None:
        if not self.quiet:
            from gdcli.train import gram_note

            print_notes([text for text in [gram_note.note(trainers)] if text])
        tell_long_run(trainers)

    def training(self, total: int, unit: str, redirect: bool) -> Shown:
        from gdcli import progress as progress_mod

        return Shown(progress_mod.Progress(console.err(), self.label, total, self.mode, unit, redirect=redirect))

    def cancelling(self, runs: int) -> None:
        console.warn(f"interrupted: cancelling the tasks of {plural(runs, 'run')} (a few seconds)")

    def cancelled(self, trained: int, planned: int, cancelled: int) -> None:
        console.warn(f"interrupted: {trained} of {plural(planned, 'run')} trained; {cancelled} cancelled")
