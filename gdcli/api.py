"""gdcli from Python: `gdcli.fit`, `compare`, `sweep`, `grad`, `sample`, `load_run`, `datasets`, `predict`
and `evaluate`.

Each function takes the CLI options' parameter names as keywords, with the same defaults,
presets and checks, runs the same core as the command, and returns a plain object
(gdcli.runs). Nothing is printed: progress only when asked (`progress=True` for the CLI's
progress line on stderr, or a callable given (done, total)). A bad setting raises
gdcli.GdcliError with the CLI's message, naming the parameter (`lr`) where the CLI names
its flag (`--lr`). Ctrl-C (a notebook's interrupt) stops training at the last whole epoch
and returns what was trained, marked `interrupted`; a second one stops at once.
"""

from __future__ import annotations

from gdcli import settings as st
from gdcli.models import DEFAULT
from gdcli.runner import AfterTraining
from gdcli.runs import Comparison, Report, Run, Sweep
from gdcli import api_extra, surfaces
from gdcli.api_listen import SweepListener, check_progress, listen

__all__ = ["fit", "compare", "sweep", "grad", "sample", "load_run", "datasets", "predict", "evaluate", "Run", "Comparison",
           "Sweep", "Report"]

FIT = st.RUN + ("log_every", "history", "progress", "surface", "surface_params", "animate", "plot_file", "log_loss",
                "backend", "address")


def fit(dataset="celsius", model=DEFAULT, *, log_every: int | None = None, history: str = "all", progress=None,
        surface: bool | None = None, surface_params=None, animate=None, plot_file=None, log_loss: bool = False,
        backend: str = "local", address: str | None = None, **settings) -> Run:
    """Train a model by gradient descent, as `gdcli fit` does, and return the Run.

    Settings, by the CLI options' names, each defaulting to the dataset's preset or the CLI's default:

    {settings}

    log_every (which epochs keep their parameters), history ("all" or "logged" epochs' losses),
    progress (True, or a callable). A run that diverges is returned with `diverged` True (the CLI
    exits 3); `run.advice` says why. surface=True gives `run.surface` (gdcli.surfaces.Surface): the
    loss over a grid with the run's path; surface_params=("NAME", "NAME") slices it along two
    parameters (names as the model's labels give them; implies surface). animate (a .gif file) writes
    the run as an animation, with the path growing on the surface where one is asked for (needs matplotlib).
    plot_file (a .png) writes the pictures `gdcli fit --plot-file` writes; log_loss=True draws their loss
    axis on a log scale. A run expected to take over a minute warns first (gdcli.train.estimate.LongRun).
    backend "ray" (method "gram" only) reads the rows in one Ray task per part of the data for the Gram
    pass, on a Ray instance started here or the cluster at `address` ("auto", or HOST:PORT); `run.notes` says
    how long it took.
    """
    given = {"dataset": dataset, "model": model, **settings}
    with st.api_call(FIT):
        st.check_names(settings, FIT, "fit")
        check_progress(progress)
        surface, surface_params = _surface(surface, surface_params)
        if history not in ("all", "logged"):
            raise st.GdcliError(f"history must be 'all' or 'logged', got {history!r}", "for example history='logged'")
        plot_path, log_loss = api_extra.pictures(plot_file, log_loss)
        if animate is not None:
            from gdcli import animation

            # A string as given ("" is refused as empty); anything else must be a path.
            animation.check_target(animate if isinstance(animate, str) else st.path("animate", animate))
        from gdcli import runner, train

        cfg = train.resolve(log_every=st.typed("log_every", log_every), **st.run_dict(given))
        source = api_extra.rows_source(cfg, backend, address, plot_file=plot_path, animate=animate, surface=surface)
        trainer = train.fit(cfg, history=history, source=source)
        surfaces.check(trainer, surface_params)
        api_extra.warn_long_run([trainer])
        runner.train_with([trainer], listen(progress, f"gdcli fit ({cfg.method} + {cfg.optim})"))
        result = trainer.result()
        api_extra.draw(plot_path, "fit_panels", result, trainer.dataset, log_loss)
        notes = [api_extra.api_words(n) for n in trainer.notes]
        notes += [f"{k}: {v}" for k, v in source.header().items()] if source else []
        run = Run.of(result, str(trainer.device), trainer.batch_size is not None, notes)
        after = AfterTraining()
        run.surface = after.run("the loss surface", lambda: surfaces.for_fit(result, trainer, surface_params)) \
            if surface else None
        if animate is not None:
            surface_map = run.surface.panel() if run.surface is not None else None
            after.run(str(animate), lambda: animation.write(animate, animation.frames_of(result, trainer.dataset),
                                                            surface=surface_map))
    _warn_skipped(after)
    return run


def _warn_skipped(after) -> None:
    """A warning per picture Ctrl-C skipped after training (outside api_call, which silences warnings)."""
    import warnings

    for what in after.skipped:
        warnings.warn(after.message(what), stacklevel=3)


def _surface(surface, surface_params) -> tuple[bool, tuple[str, str] | None]:
    """surface and surface_params checked: two parameter names imply a surface (surface None: not
    given); beside surface=False they are a contradiction."""
    from gdcli.surfaces import names

    if surface_params is None:
        return surface is not None and st.boolean("surface", surface), None
    if surface is not None and not st.boolean("surface", surface):
        raise st.GdcliError(f"surface=False contradicts surface_params={surface_params!r}, which asks for a surface",
                            "drop surface=False (surface_params implies surface=True), or drop surface_params")
    return True, names.pair(surface_params)


# fit's settings paragraph, from the table of settings: one line each, by the API's names.
fit.__doc__ = fit.__doc__.replace("{settings}", st.constraints.documented(skip=("log_every",)).replace("\n", "\n    "))


COMPARE = tuple(n for n in st.RUN if n not in ("method", "optim")) + ("methods", "optims", "runs", "curves",
                                                                     "log_every", "progress", "surface",
                                                                     "surface_params", "plot_file", "log_loss",
                                                                     "save_best")


def _names(name: str, value) -> list[str]:
    """methods / optims: a name, a list of names, or a comma list of them (as the CLI's repeated option)."""
    if value is None:
        return []
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
        raise st.GdcliError(f"{name} must be a list of names, got {value!r}", f"for example {name}=['autograd', 'analytic']")
    names = [item.strip() for v in values for item in v.split(",")]
    if not all(names):
        raise st.GdcliError(f"{name} {value!r} has an empty name", f"for example {name}=['autograd', 'analytic']")
    return names


def _pairs(runs) -> list[tuple[str, str]]:
    """runs: (method, optim) pairs, or "method:optim" strings."""
    if runs is None:
        return []
    if isinstance(runs, str) or (isinstance(runs, tuple) and len(runs) == 2 and all(isinstance(v, str) for v in runs)):
        runs = [runs]  # one run: "autograd:adam" or ("autograd", "adam")
    if not isinstance(runs, (list, tuple)):
        raise st.GdcliError(f"runs must be a list of (method, optim) pairs, got {runs!r}",
                            "for example runs=[('autograd', 'adam')]")
    out = []
    for item in runs:
        if isinstance(item, str) and ":" in item:
            item = tuple(part.strip() for part in item.split(":", 1))
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and all(isinstance(v, str) for v in item)):
            raise st.GdcliError(f"runs holds {item!r}, not a (method, optim) pair", "for example runs=[('autograd', 'adam')]")
        out.append((item[0], item[1]))
    return out


def compare(dataset="celsius", model=DEFAULT, *, methods=None, optims=None, runs=None, curves: bool = False,
            log_every: int | None = None, progress=None, surface: bool | None = None, surface_params=None,
            plot_file=None, log_loss: bool = False, save_best=None, **settings) -> Comparison:
    """Run one problem under several gradient methods and optimizers, as `gdcli compare` does.

    methods (default: every method that can run), optims (default: ["gd"]), or runs: explicit
    (method, optim) pairs; every other setting as `gdcli.fit` takes it (but method and optim).
    surface, surface_params: `comparison.surface`, one path per strategy (as `gdcli.fit`'s). plot_file,
    log_loss: the loss curves as a PNG (as `gdcli.fit`'s). save_best (a .json): the best run's file, as
    `gdcli fit --save` writes it (not where every run diverged: a warning says so).
    """
    given = {"dataset": dataset, "model": model, **settings}
    with st.api_call(COMPARE, {"run": "runs"}):
        st.check_names(settings, COMPARE, "compare")
        curves = st.boolean("curves", curves)
        check_progress(progress)
        surface, surface_params = _surface(surface, surface_params)
        plot_path, log_loss = api_extra.pictures(plot_file, log_loss)
        target = api_extra.best_target(save_best)
        from gdcli import comparison as cmp

        run = st.run_dict(given)
        methods, optims, pairs = _names("methods", methods), _names("optims", optims), _pairs(runs)
        plan = cmp.plan(run, methods, optims, pairs, st.typed("log_every", log_every))
        surfaces.check(plan.trainers[0], surface_params)
        api_extra.warn_long_run(plan.trainers, "run" if pairs else "methods")
        agreement = cmp.agreement(plan.trainers[0], {m for m, _ in plan.strategies}, bool(methods or pairs))
        ran, results, view = cmp.compared(plan.configs, plan.trainers, agreement, listen(progress, "gdcli compare"),
                                          curves)
        dataset = plan.trainers[0].dataset.name
        api_extra.draw(plot_path, "compare_panels", view.labels, results, dataset, log_loss)
        after = AfterTraining()
        drawn = after.run("the loss surface", lambda: surfaces.for_compare(results, ran, surface_params)) \
            if surface and results else None
    _warn_skipped(after)
    api_extra.save_best(results, target)
    device = str(plan.trainers[0].device)
    comparison = Comparison(*_ranked(results, device, ran), view, [vars(a) for a in agreement[0]], view.within)
    comparison.surface = drawn
    return comparison


def _ranked(results: list, device: str, trainers: list) -> tuple[list[Run], list[Run]]:
    """The runs in training order, and best first (sweep's ranking)."""
    from gdcli import grid as sw

    batches = {id(r): t.batch_size is not None for t in trainers for r in t.results()}
    runs = {id(r): Run.of(r, device, batches.get(id(r), False)) for r in results}
    return [runs[id(r)] for r in results], [runs[id(r)] for r in sw.ranked(results)]


SWEEP = tuple(st.RUN) + ("seeds", "top", "backend", "address", "log_every", "progress", "surface", "surface_params",
                         "plot_file", "log_loss", "save_best")


def sweep(dataset="celsius", model=DEFAULT, *, lr=None, seeds=None, momentum=None, batch_size=None,
          backend: str = "local", address: str | None = None, top: int | None = None, log_every: int | None = None,
          progress=None, surface: bool | None = None, surface_params=None, plot_file=None, log_loss: bool = False,
          save_best=None, **settings) -> Sweep:
    """Train a grid of settings, as `gdcli sweep` does, and rank the runs by final (or validation) loss.

    lr, momentum: lists of numbers; seeds, batch_size: lists of whole numbers (one value is a list
    of one; default: the dataset's preset). backend "local" trains here; "ray" as Ray tasks, here
    or on the cluster at `address` ("auto", or HOST:PORT). Other settings as `gdcli.fit` takes them.
    surface, surface_params: `sweep.surface`, one path per run (at most 8: the best and a spread over lr).
    plot_file, log_loss, save_best: as `gdcli.compare` takes them.
    """
    given = {"dataset": dataset, "model": model, **settings}
    # The core's hint on a grid too large names the CLI's --num: for Python, fewer values.
    with st.api_call(SWEEP, {"num": "fewer values"}):
        st.check_names(settings, SWEEP, "sweep")
        check_progress(progress)
        surface, surface_params = _surface(surface, surface_params)
        top = _top(top)
        plot_path, log_loss = api_extra.pictures(plot_file, log_loss)
        target = api_extra.best_target(save_best)
        from gdcli import backends

        if backend not in backends.BACKENDS:
            raise st.GdcliError(f"backend must be one of {', '.join(map(repr, backends.BACKENDS))}, got {backend!r}",
                                "for example backend='ray'")
        if address is not None and not isinstance(address, str):
            raise st.GdcliError(f"address must be a string, got {address!r}", "for example address='auto' or 'HOST:PORT'")
        if address is not None and backend != "ray":
            raise st.GdcliError("address names a Ray cluster: it applies to backend 'ray'", "add backend='ray', or drop address")
        from gdcli import train
        from gdcli import grid as sw

        run = st.run_dict(given)
        base = train.resolve(log_every=st.typed("log_every", log_every), **run)
        lists = {"lr": lr, "seeds": seeds, "momentum": momentum, "batch_size": batch_size}
        lists = {name: _numbers(name, value) for name, value in lists.items()}
        grid, configs = sw.planned(base, lists, run.get("seed") is not None)
        listener = surfaces.Checked(SweepListener(progress, f"gdcli sweep of {len(configs)} runs"), surface_params)
        swept = backends.sweep(base, grid, configs, backend, listener, address, top=top)
        after = AfterTraining()
        drawn = after.run("the loss surface", lambda: surfaces.for_sweep(swept.best, swept.dims, swept.trained.ran,
                                                                         surface_params)) if surface and swept.best else None
        if swept.best:
            dataset = swept.trained.trainer.dataset.name
            api_extra.draw(plot_path, "sweep_panels", swept.best, swept.dims, dataset, log_loss)
    _warn_skipped(after)
    api_extra.save_best(swept.trained.outcome.results, target)
    outcome = swept.trained.outcome
    runs, ranking = _ranked(outcome.results, swept.trained.device, swept.trained.ran)
    failed = [{"config": f.config.to_dict(), "reason": f.reason} for f in outcome.failed]
    result = Sweep(runs, ranking, swept.view, swept.dims, failed, outcome.cancelled)
    result.surface = drawn
    return result


def _numbers(name: str, value) -> list | None:
    """A grid setting as the core's list of numbers (whole for seeds and batch_size), or None."""
    return None if value is None else st.numbers_list(name, value, name in ("seeds", "batch_size"))


def _top(top) -> int | None:
    """top: show only the best N runs in the table (N at least 1, as --top)."""
    if top is None:
        return None
    top = st.number("top", top, whole=True)
    if top < 1:
        raise st.GdcliError(f"top must be at least 1, got {top}", "for example top=5")
    return top


def load_run(path) -> Run:
    """Read a run file written by `gdcli fit --save` or `Run.save`: predict and export with it."""
    import json

    from gdcli import runfile

    path = st.path("path", path)
    with st.api_call(("path",)):
        saved = runfile.load_run(path)
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    return Run(model=saved.model, features=saved.features, targets=saved.targets, transform=saved.transform,
               params=saved.params, config=data.get("config") or {}, saved=data)


def datasets(name=None, *, rows: int | None = None, features: int | None = None, seed: int = 42) -> Report:
    """The built-in datasets, as `gdcli datasets --output json` lists them (name, rows, features, targets,
    preset); or, given a `name` (a built-in, a CSV/Parquet path), that dataset's rows as
    `gdcli datasets NAME --output json` writes them: its description, columns and every row.
    `rows`, `features` and `seed` draw the synthetic dataset."""
    from gdcli.emit import Stream

    with st.api_call(("name", "rows", "features", "seed")):
        import os

        from gdcli.constraints import MAX_SEED

        if name is not None and not isinstance(name, (str, os.PathLike)):
            raise st.GdcliError(f"name must be a dataset's name or a data file's path, got {name!r}",
                                "for example gdcli.datasets('celsius'), or gdcli.datasets() for the list")
        name = os.fspath(name) if name is not None else None
        seed = 42 if seed is None else seed  # as fit takes seed=None: the default
        picked = {k: st.typed(k, v) for k, v in (("rows", rows), ("features", features), ("seed", seed))}
        if not 0 <= picked["seed"] <= MAX_SEED:
            raise st.GdcliError(f"seed must be from 0 to {MAX_SEED}, got {seed}", "for example seed=42")
        view = dataset_view(name, **picked)
        document = view.document()
        if isinstance(document, dict):  # one dataset's rows come as blocks: a list here
            document = {k: ([row for block in v.blocks() for row in block] if isinstance(v, Stream) else v)
                        for k, v in document.items()}
        return Report("datasets", document, view.table)


def dataset_view(name: str | None, rows: int | None = None, features: int | None = None, seed: int = 42):
    """What `gdcli datasets [NAME]` shows: the list of built-ins, or one dataset's rows (generated data is
    drawn as it is written). The one body of the command and of `gdcli.datasets`."""
    from gdcli import data, report

    if name is None:
        return report.DatasetsView(data.BUILTINS, data.shapes())
    entry = data.BUILTINS.get(name)
    if entry is not None and entry.generated:
        head, n_rows, blocks = data.generated_preview(name, seed=seed, rows=rows, features=features,
                                                      head=report.SHOWN_ROWS)
        return report.DatasetView(head, n_rows, blocks)
    return report.DatasetView(data.load_dataset(name, rows=rows, seed=seed, features=features))


# grad and sample build no runs: they live apart, and are part of this API all the same.
from gdcli.api_tools import grad, sample  # noqa: E402
from gdcli.api_scoring import evaluate, predict  # noqa: E402
