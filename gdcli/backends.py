"""Where a sweep's runs train: one entry per backend (`BACKENDS`), each printing nothing itself.

A backend takes the sweep's base settings and runs and a SweepListener, and returns what it
trained (`Trained`): the trainer the settings header describes (a local sweep's first, or
Ray's probe, which checks the settings and the data here and trains nothing), the device
shown, the notes on the grouping, and the sweep.Outcome. Ctrl-C stops either backend with
every finished run kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple, Protocol


class SweepListener(Protocol):
    """What a caller hears of a sweep while it runs (the CLI: the header, notes and progress on stderr)."""

    quiet: bool  # --quiet: Ray's own reports of its nodes are dropped too

    def begin(self, trainer, device: str, notes: list[str]) -> None:
        """Training is about to start (on Ray: the cluster is joined): what it will train, and where."""

    def training(self, total: int, unit: str, redirect: bool):
        """The runner.Listener for the training itself: `total` run-epochs, counted in `unit`."""

    def long_run(self, trainers: list) -> None:
        """Before a local sweep trains: its trainers, to say how long a long one will take (train.estimate)."""

    def cancelling(self, runs: int) -> None:
        """Ctrl-C heard on Ray: these runs' tasks are being cancelled."""

    def cancelled(self, trained: int, planned: int, cancelled: int) -> None:
        """Ctrl-C stopped a sweep on Ray: `trained` of `planned` runs trained, `cancelled` cancelled."""


class Trained(NamedTuple):
    """What a backend trained: the header's trainer, the device shown, the notes, the sweep.Outcome,
    and the trainers that trained here (none on Ray: its trainers live in its workers)."""

    trainer: object
    device: str
    notes: list[str]
    outcome: object
    ran: list


@dataclass(frozen=True)
class Backend:
    """One place a sweep can train: its name, how it runs, and whether it can stream rows while it trains
    (a reader that goes away is watched locally; on Ray nothing is written before the end)."""

    name: str
    run: Callable[..., Trained]  # (base, configs, listener, address, reader_left) -> Trained
    streams: bool


def _local(base, configs: list, listener: SweepListener, address: str | None, reader_left) -> Trained:
    """A sweep's runs trained here, grouped into vectorized trainers (sweep.plan)."""
    from gdcli import runner
    from gdcli import grid as sw

    trainers, notes = sw.plan(configs)
    device = str(trainers[0].device)
    listener.begin(trainers[0], device, notes)
    listener.long_run(trainers)
    total, unit = runner.totals(trainers)
    ran = runner.train(trainers, listener.training(total, unit, True), reader_left=reader_left)
    results = [r for t in ran for r in t.results()]
    return Trained(trainers[0], device, notes, sw.Outcome(results, stopped=runner.interrupted(ran)), ran)


class _OnRay:
    """The progress, notes and Ctrl-C of a sweep on Ray (cluster.Listener), passed on to the listeners."""

    def __init__(self, listener: SweepListener, shown, epochs: int, requests, notes: list[str]):
        self.listener, self.shown, self.epochs, self.requests = listener, shown, epochs, requests
        self.finished, self.notes, self.quiet = 0, set(notes), listener.quiet

    def done(self, runs: int) -> None:
        self.finished += runs  # failed runs too: they are finished with
        self.shown.progress(self.finished * self.epochs)

    def note(self, text: str) -> None:
        if text not in self.notes:  # each worker's trainer says it again
            self.notes.add(text)
            self.shown.note(text)

    def stopped(self) -> bool:
        return self.requests.stop

    def cancelling(self, runs: int) -> None:
        self.listener.cancelling(runs)


def _ray(base, configs: list, listener: SweepListener, address: str | None, reader_left) -> Trained:
    """A sweep's runs as Ray tasks, on a Ray instance started here or the cluster at `address`."""
    from gdcli import cluster
    from gdcli.train import interrupt
    from gdcli import grid as sw

    cluster.require_ray()
    cluster.check_device(base.device)
    if address is not None:
        cluster.check_address(address)  # before the header: nothing to show for a cluster that is not there
    units, notes = sw.groups(configs)
    plan, probe = cluster.plan(units)
    with interrupt.catch() as requests, cluster.connected(address, listener.quiet) as ray:
        listener.begin(probe, plan.device, notes)  # joined first: no header for a cluster that is none
        shown = listener.training(base.epochs * len(configs), "run-epochs", False)
        try:
            outcome = cluster.run(ray, plan, _OnRay(listener, shown, base.epochs, requests, notes))
        finally:
            shown.finished()
    if outcome.cancelled:
        listener.cancelled(len(outcome.results), len(configs), outcome.cancelled)
    return Trained(probe, plan.device, notes, outcome, [])


BACKENDS = {
    "local": Backend("local", _local, streams=True),
    "ray": Backend("ray", _ray, streams=False),
}


class Swept(NamedTuple):
    """A sweep trained and ranked: what the backend trained (`Trained`), the results best first, the
    grid's dimensions that varied, and the sweep's view (report.sweep.SweepView)."""

    trained: Trained
    best: list
    dims: list[str]
    view: object


def sweep(base, grid: dict, configs: list, backend: str, listener: SweepListener, address: str | None = None,
          reader_left: Callable[[], bool] | None = None, top: int | None = None) -> Swept:
    """Train a sweep's runs (grid.planned) on `backend`, telling `listener`, and rank them: the one body of
    `gdcli sweep` and gdcli.sweep, which differ only in how they listen and what they show."""
    from gdcli import grid as sw
    from gdcli.report.sweep import SweepView

    trained = BACKENDS[backend].run(base, configs, listener, address, reader_left)
    outcome = trained.outcome
    best = sw.ranked(outcome.results)
    dims = sw.varying([r.config for r in outcome.results] + [f.config for f in outcome.failed]) or ["lr"]
    view = SweepView(best, dims, grid, trained.notes, top, trained.device, base, outcome.failed,
                                 outcome.cancelled)
    return Swept(trained, best, dims, view)
