"""`gdcli sweep --backend ray`: a sweep's groups of runs as Ray tasks, on this machine or a cluster.

gdcli schedules nothing itself. The unit of work is what a local sweep trains as one
tensor program (`sweep.groups`), cut only where the pieces round exactly as the whole
(`sweep.slices`), so that every run's numbers on the CPU are bit for bit those of
`--backend local`. Each task builds its Trainer on the worker and returns its runs'
RunResults: losses of the logged epochs, final and initial parameters, never the data.

Data: a built-in dataset is loaded (or drawn) on the worker from its settings. Any
other (a file, standard input) is read once, here, and put into Ray's object store
once; every task reads it from there, so no node needs the file.

Threads: torch splits an operation across threads only past a few tens of thousands
of elements, and a sum split in two adds in another order. A task small enough never
to split trains on one CPU, so that a machine's CPUs train as many tasks at once; a
larger one asks Ray for as many CPUs as torch uses here, and trains with that many
threads, so that its sums add as they would in a local sweep.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Protocol

from gdcli.errors import GdcliError, param
from gdcli.grid import Failed, Outcome
# Reaching Ray lives in raylink; its names are read from here too.
from gdcli.raylink import (  # noqa: F401
    INSTALL,
    _first_line,
    _native_stderr_dropped,
    check_address,
    connected,
    driver_prints,
    parse_address,
    require_ray,
)
from gdcli.text import plural
from gdcli.train import interrupt

if TYPE_CHECKING:
    from gdcli.config import RunConfig
    from gdcli.data import Dataset
    from gdcli.train import Trainer

# torch's grain: an operation on fewer elements never splits across threads.
ONE_THREAD_ELEMENTS = 32_768
# Below this many elements a task takes a quarter of a GPU, so that four share one.
WHOLE_GPU_ELEMENTS = 10_000_000
RETRIES = 3  # Ray runs a task again this many times when its worker or node dies
POLL_SECONDS = 0.25  # how often the driver looks for finished tasks and Ctrl-C

# For tests only: called on the worker with a piece's configs before it trains (to make a
# task fail, or its worker die). It travels with each task, so it must pickle by value.
_task_hook: Callable[[list], None] | None = None


def check_device(device: str) -> None:
    """Ray hands a task its GPU: a sweep on it names no GPU of its own."""
    if device.startswith("cuda:"):
        raise GdcliError(
            f"{param('device')} {device} with {param('backend')} ray: Ray chooses the GPU of each task",
            f"use {param('device')} cuda",
        )
    if device == "mps":
        raise GdcliError(
            f"{param('device')} mps with {param('backend')} ray: Ray does not hand out Apple GPUs",
            f"use {param('device')} cpu, or {param('backend')} local",
        )


@dataclass
class Plan:
    """A sweep ready for Ray: its groups, the data to ship, and what sizes its tasks."""

    units: list[list[RunConfig]]  # sweep.groups, in the order a local sweep trains them
    data: Dataset | None  # rows read here, to ship; None: each worker loads its built-in dataset
    n_rows: int
    n_train: int
    n_targets: int
    device: str  # what the tasks train on ("cpu" or "cuda"), as the reports show it

    @property
    def order(self) -> list[RunConfig]:
        """Every run, in the order a local sweep reports them."""
        return [cfg for unit in self.units for cfg in unit]


def plan(units: list[list[RunConfig]]) -> tuple[Plan, Trainer]:
    """The plan, and a trainer of the first run on the CPU here: it checks the settings and the
    data before any task starts, and gives the report's header its rows and split."""
    from gdcli.data import BUILTINS
    from gdcli.store import columns, load
    from gdcli.train import Trainer

    base = units[0][0]
    probe = Trainer([replace(base, device="cpu")], history="logged")
    data = None
    # Streamed data is never read whole here: each task streams the file itself, as the run decides.
    if base.dataset not in BUILTINS and not probe.plan.streamed:
        # A bound locate() would drag the whole file's columns along: rows are found by number.
        data = replace(load(base.dataset, tuple(base.targets), base.seed, base.rows, base.features, columns=columns(base)), locate=None)
    device = "cuda" if base.device == "cuda" else "cpu"
    ds = probe.dataset
    return Plan(units, data, ds.n_rows, probe.n_train, len(ds.targets), device), probe


@dataclass(frozen=True)
class Piece:
    """One task: its runs, their positions in `Plan.order`, and what it asks Ray for."""

    configs: list[RunConfig]
    positions: list[int]
    cpus: int
    gpus: float
    threads: int
    narrowed: bool = False  # large, on nodes narrower than the threads torch uses here


def pieces(plan: Plan, cpus: int, widest: int, gpus: int, threads_here: int) -> list[Piece]:
    """The tasks for a cluster of `cpus` CPUs (`widest` on its largest node) and `gpus` GPUs,
    when torch here trains with `threads_here` threads."""
    from gdcli import models
    from gdcli.grid import slices

    index = {id(cfg): i for i, cfg in enumerate(plan.order)}
    out = []
    for unit in plan.units:
        width = models.of(unit[0], 1, plan.n_targets).row_width()
        large = len(unit) * plan.n_rows * width >= ONE_THREAD_ELEMENTS
        if plan.device == "cuda":
            task_cpus, threads, slots = 1, 1, gpus
        else:
            task_cpus = threads = max(1, min(threads_here, widest)) if large else 1
            slots = cpus // task_cpus
        for piece in slices(unit, max(1, slots), plan.n_train):
            share = 0.0
            if plan.device == "cuda":
                share = 1.0 if len(piece) * plan.n_rows * width >= WHOLE_GPU_ELEMENTS else 0.25
            narrowed = large and plan.device != "cuda" and threads < threads_here
            out.append(Piece(piece, [index[id(c)] for c in piece], task_cpus, share, threads, narrowed))
    return out


def _cluster(ray, device: str) -> tuple[int, int, int]:
    """(CPUs, CPUs of the largest node, GPUs) of the cluster's live nodes."""
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    cpus = [int(r.get("CPU", 0)) for r in nodes]
    gpus = sum(int(r.get("GPU", 0)) for r in nodes)
    if device == "cuda" and not gpus:
        raise GdcliError(
            f"{param('device')} cuda: the Ray cluster has no GPU",
            f"drop {param('device')} cuda to train on its CPUs, or add a node with a GPU",
        )
    return sum(cpus), max(cpus, default=1), gpus


class Listener(Protocol):
    """What the command hears of a sweep on Ray while it runs (the core prints nothing)."""

    def done(self, runs: int) -> None: ...  # runs finished since the last call (often 0: a heartbeat)

    def note(self, text: str) -> None: ...  # a trainer's note, from a worker

    def stopped(self) -> bool: ...  # whether Ctrl-C asked to stop

    def cancelling(self, runs: int) -> None: ...  # Ctrl-C heard: these runs' tasks are being cancelled

    quiet: bool  # --quiet: Ray's own reports of its nodes are dropped (see `driver_prints`)


def run(ray, plan: Plan, listener: Listener) -> Outcome:
    """Train every run on the Ray that `connected` joined, keeping every finished result; on Ctrl-C
    cancel the tasks left."""
    import torch

    # Ray's driver prints what its nodes report (a worker that died) to stdout: while the
    # tasks run, that is stderr (or nowhere), so that stdout holds the report alone (--output json).
    with driver_prints(listener.quiet):
        cpus, widest, gpus = _cluster(ray, plan.device)
        threads = torch.get_num_threads()
        work = pieces(plan, cpus, widest, gpus, threads)
        if any(p.narrowed for p in work):
            listener.note(
                f"no node of the Ray cluster has {threads} CPUs, as this machine does: the larger tasks train "
                f"with {widest} threads, and their last bits may differ from a local sweep's"
            )
        if listener.stopped():  # Ctrl-C while Ray started: submit nothing
            listener.cancelling(len(plan.order))
            return Outcome([], cancelled=len(plan.order))
        data = ray.put(plan.data) if plan.data is not None else None  # once, for every task
        # A worker keeps the first GPU it is handed: on a GPU, a worker per task (Ray's own
        # rule for GPU functions, which .options(num_gpus=...) alone does not apply).
        task = ray.remote(max_calls=1)(_train_piece) if plan.device == "cuda" else ray.remote(_train_piece)
        refs = {
            task.options(num_cpus=p.cpus, num_gpus=p.gpus, max_retries=RETRIES).remote(
                p.configs, data, p.threads, _task_hook
            ): p
            for p in work
        }
        return _collect(ray, plan, refs, listener)


def _collect(ray, plan: Plan, refs: dict, listener: Listener) -> Outcome:
    """Wait for the tasks, keeping every finished result, until all are in or Ctrl-C."""
    results: list = [None] * len(plan.order)
    failed: list[Failed] = []

    def take(ready: list) -> int:
        """Keep the results (or the failures) of finished tasks; the number of their runs."""
        runs = 0
        for ref in ready:
            piece = refs[ref]
            try:
                found, notes = ray.get(ref)
            except ray.exceptions.RayError as err:
                reason = _reason(ray, err)
                failed.extend(Failed(cfg, reason) for cfg in piece.configs)
            else:
                for text in notes:
                    listener.note(text)
                for position, result in zip(piece.positions, found):
                    results[position] = result
            runs += len(piece.configs)
        return runs

    pending = list(refs)
    while pending and not listener.stopped():
        ready, pending = ray.wait(pending, num_returns=len(pending), timeout=POLL_SECONDS)
        listener.done(take(ready))  # every poll: the progress lines keep their beat while tasks run
    if pending:  # Ctrl-C: keep what finished meanwhile, cancel the rest
        ready, pending = ray.wait(pending, num_returns=len(pending), timeout=0)
        take(ready)
    cancelled = sum(len(refs[ref].configs) for ref in pending)
    if pending:
        listener.cancelling(cancelled)
        with interrupt.held():
            for ref in pending:
                with contextlib.suppress(Exception):  # a task that finished meanwhile cannot be cancelled
                    ray.cancel(ref, force=True)
    position = {id(cfg): i for i, cfg in enumerate(plan.order)}
    failed.sort(key=lambda f: position[id(f.config)])
    return Outcome([r for r in results if r is not None], failed, cancelled)


def _reason(ray, err: Exception) -> str:
    """Why a task failed, in one line: the worker's exception, or what Ray saw happen to it."""
    cause = getattr(err, "cause", None)
    if isinstance(err, ray.exceptions.RayTaskError) and cause is not None:
        return f"{type(cause).__name__}: {_first_line(cause)}"
    died = (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.OutOfMemoryError)
    after = f" (after {plural(RETRIES, 'retry', 'retries')})" if isinstance(err, died) else ""
    return f"{type(err).__name__}: {_first_line(err)}{after}"


def _train_piece(configs: list[RunConfig], data: Dataset | None, threads: int, hook) -> tuple[list, list[str]]:
    """On the worker: train the runs as one Trainer and return their results and notes."""
    import warnings

    import torch

    from gdcli import runner, store
    from gdcli.train import Trainer

    if data is not None:
        store.keep(configs[0], data)
    if hook is not None:
        hook(configs)
    # A task that asked Ray for no GPU trains on the CPU, whatever the worker can see.
    runs = [replace(cfg, device="cpu") if cfg.device == "auto" else cfg for cfg in configs]
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with warnings.catch_warnings():
            # The object store's arrays are read-only; torch only reads them.
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            trainer = Trainer(runs, history="logged")
            runner.train([trainer], _Unheard())
            if trainer.interrupted:
                # A SIGINT that reached the worker: the task ends as it always has, by KeyboardInterrupt
                # (the driver cancels it), not as finished runs that stopped early.
                raise KeyboardInterrupt
            results = trainer.results()
    finally:
        torch.set_num_threads(before)
    for result, cfg in zip(results, configs):
        # The config as trained (a preset's lr rule becomes its value for the run's rows in the plan, here
        # on the worker), with the device as asked ("auto"), so that reports read as a local sweep's.
        result.config = replace(result.config, device=cfg.device)
    return results, trainer.notes


class _Unheard:
    """runner's Listener on a worker: nobody watches there (the notes go back with the results)."""

    def note(self, text: str) -> None:
        """Notes travel back with the results."""

    def progress(self, done: int) -> None:
        """The driver counts finished tasks, not epochs."""

    def finished(self) -> None:
        """Nothing to close."""

    def interrupted(self, epoch: int, not_started: int) -> None:
        """_train_piece raises KeyboardInterrupt itself."""
