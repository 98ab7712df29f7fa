"""`gdcli compare`: one problem under several gradient methods and optimizers, side by side."""

from typing import Annotated, Optional

import typer

from gdcli import console
from gdcli.cli.configfile import ConfigOpt, PrintConfigOpt
from gdcli.cli.gather import run_settings
from gdcli.cli.options import (
    OUTPUT,
    TRAINING,
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
    Method,
    ModelOpt,
    MomentumOpt,
    NormalizeOpt,
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
    exit_if_interrupted,
    for_reader,
    listen,
    print_header,
    print_notes,
    reader_left,
    show_with_surface,
    surface_shown,
    surface_wanted,
    tell_long_run,
)


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
    log_loss: LogLossOpt = False,
    save_best: SaveBestOpt = None,
    surface: SurfaceOpt = None,
    surface_params: SurfaceParamsOpt = None,
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
    config: ConfigOpt = None,
    print_config: PrintConfigOpt = False,
) -> None:
    """Run one problem under several gradient methods and optimizers, side by side."""
    from gdcli import comparison as cmp
    from gdcli import emit, figures, plots, surfaces
    from gdcli.cli import parsing
    from gdcli.errors import flags_in
    from gdcli.train import estimate
    from gdcli.report.compare import compare_csv_header, gradient_lines

    run = run_settings(ctx)  # without --method and --optim: compare chooses them
    if run is None:
        return

    console.set_quiet(quiet)
    wanted, names = surface_wanted(surface, surface_params, output, plot or plot_file is not None)
    check_log_loss(log_loss, plot or plot_file is not None)
    if plot_file is not None:
        plots.check_png_target(plot_file)
    check_save_best(save_best)
    plan = cmp.plan(run, *parsing.strategies(methods or [], optims or [], pairs or []), log_every)
    surfaces.check(plan.trainers[0], names)
    print_notes(plan.notes)
    chosen_by = "run" if pairs else "methods"  # the option that lists the strategies, for a faster choice
    if output == Output.table:
        labels = ", ".join(f"{m}:{o}" for m, o in plan.strategies)
        fd_cost = estimate.finite_diff_cost(plan.trainers[0], {m for m, _ in plan.strategies}, chosen_by)
        print_header(plan.trainers[0], plan.configs[0], "gdcli compare",
                     {"method": None, "optim": None, "runs": labels, "finite-diff": fd_cost and flags_in(fd_cost)})
    tell_long_run(plan.trainers, chosen_by)
    agreement = cmp.agreement(plan.trainers[0], {m for m, _ in plan.strategies}, bool(methods or pairs))
    written = emit.begin(output.value, compare_csv_header(plan.configs),
                         gradient_lines(agreement[0]))
    ran, results, view = cmp.compared(plan.configs, plan.trainers, agreement, listen("gdcli compare", progress), curves,
                                      reader_left(for_reader(output, plot, plot_file, save_best)))
    after = after_training()
    drawn = after.run("the loss surface", lambda: surfaces.for_compare(results, ran, names)) \
        if wanted and results else None
    emit.emit(surface_shown(view, drawn), output.value, written=written)
    dataset = plan.trainers[0].dataset.name
    show_with_surface(lambda: figures.compare_panels(view.labels, results, dataset, log_loss), drawn, plot, plot_file,
                      output)
    saved = save_best_run(results, save_best)
    exit_if_interrupted(ran, bool(after.skipped))
    if not saved:
        raise typer.Exit(3)  # the file asked for is not there: every run diverged
