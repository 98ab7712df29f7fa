"""The driver's side of a fit's Gram pass (gdcli/raygram.py): the parts of a dataset, the passes
mapped over them (as Ray tasks, or here one after another), and their statistics merged in part order.

A run needs at most three passes over the parts, each a task per part: the rows of each part
where the validation split needs their positions and no footer says them (count), the
training rows' mean and std for --normalize (spread), and the Gram statistics (gram).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable

from gdcli import raygram
from gdcli.errors import GdcliError, param
from gdcli.raygram import Part, Reading

if TYPE_CHECKING:
    from gdcli.stats import Gram

Mapper = Callable[[Callable, list[tuple]], list]
WAIT_SECONDS = 0.2  # how often a pass on Ray looks whether Ctrl-C was pressed  # (task, each task's arguments) -> results, in order


@dataclass(frozen=True)
class Passed:
    """What the passes found: per-part rows, the merged Gram statistics, and the transform's statistics."""

    rows: tuple[int, ...]  # each part's rows (after any left out for a gap)
    dropped: int
    reading: Reading  # with the training rows' mean and std under --normalize
    train: Gram  # training rows as rounded to the training dtype
    train_reference: Gram  # training rows as read (float64), transformed
    val: Gram | None
    val_reference: Gram | None
    seconds: float  # the passes' wall time (Ray's start apart)

    @property
    def n_train(self) -> int:
        """Training rows."""
        return 0 if self.train is None else self.train.n

    @property
    def n_val(self) -> int:
        """Validation rows."""
        return 0 if self.val is None else self.val.n

    def offsets(self) -> list[int]:
        """The position of each part's first row in the data."""
        found, at = [], 0
        for rows in self.rows:
            found.append(at)
            at += rows
        return found


def here(task: Callable, arguments: list[tuple]) -> list:
    """The tasks run here, one after another (the local pass, and the yardstick of the Ray one)."""
    return [task(*args) for args in arguments]


def on_ray(ray, stopped: Callable[[], bool] = lambda: False) -> Mapper:
    """The tasks as Ray tasks of one CPU each; a task's GdcliError comes back as itself, without Ray's
    traceback. `stopped` (Ctrl-C) is asked before and while they run: KeyboardInterrupt is then raised."""

    def mapper(task: Callable, arguments: list[tuple]) -> list:
        if stopped():
            raise KeyboardInterrupt
        remote = ray.remote(num_cpus=1, max_retries=0)(raygram.on_one_cpu)
        refs = [remote.remote(task, *args) for args in arguments]
        waiting = refs
        # The tasks still running when a pass stops are not cancelled: Ray ends them with the
        # instance gdcli started, or with the job when this process leaves a cluster.
        try:
            while waiting:
                done, waiting = ray.wait(waiting, num_returns=1, timeout=WAIT_SECONDS)
                ray.get(done)  # a task's error at once, not after the whole pass
                if stopped():
                    raise KeyboardInterrupt
            return ray.get(refs)
        except ray.exceptions.RayTaskError as err:
            cause = getattr(err, "cause", None)
            if isinstance(cause, GdcliError):
                raise GdcliError(cause.message, cause.hint) from None
            raise

    return mapper


def run(parts: list[Part], reading: Reading, mapper: Mapper, known: list | None = None) -> Passed:
    """The passes over `parts` (a task per part each), merged; `known`: rows per part where a footer says them."""
    started = time.perf_counter()
    offsets = [0] * len(parts)
    if reading.val_fraction > 0:
        counted = _counts(parts, reading, mapper, known)
        offsets = [sum(counted[:i]) for i in range(len(parts))]
    if reading.normalize and reading.mean is None:
        reading = _standardized(parts, reading, mapper, offsets)
    found = mapper(raygram.gram, [(p, reading, o) for p, o in zip(parts, offsets)])
    train = raygram.merged([f.train for f in found])
    passed = Passed(
        tuple(f.rows for f in found), sum(f.dropped for f in found), reading, train,
        raygram.merged([f.train_reference for f in found]), raygram.merged([f.val for f in found]),
        raygram.merged([f.val_reference for f in found]), time.perf_counter() - started,
    )
    if not sum(passed.rows):
        gaps = f" ({passed.dropped:,} left out for a gap)" if passed.dropped else ""
        raise GdcliError(f"no part of {reading.where!r} holds a data row{gaps}",
                         f"check the parts passed to {param('dataset')}")
    _check_split(passed, reading)
    return passed


def _counts(parts: list[Part], reading: Reading, mapper: Mapper, known: list | None) -> list[int]:
    """Each part's rows: from the footers where known (and no gap is left out), else a count pass."""
    if known is not None and reading.missing != "drop" and all(n is not None for n in known):
        return list(known)
    return [rows for rows, _ in mapper(raygram.count, [(p, reading) for p in parts])]


def _standardized(parts: list[Part], reading: Reading, mapper: Mapper, offsets: list[int]) -> Reading:
    """The reading with the training rows' mean and (population) std of each scaled input, from a first pass,
    standardized as streamed data is (data.streamed._standardize)."""
    import torch

    from gdcli.data import streamed

    n, mean, m2 = 0, None, None
    for m, part_mean, part_m2 in mapper(raygram.spread, [(p, reading, o) for p, o in zip(parts, offsets)]):
        if m:
            n, mean, m2 = raygram.chan(n, mean, m2, m, part_mean, part_m2)
    if mean is None:
        streamed._check_split(_named(reading), 0, 0, reading.val_fraction)
    # torch.tensor copies: arrays from Ray's object store are read-only.
    transform = streamed._standardize(_named(reading), reading.scale, torch.tensor(mean), torch.tensor(m2 / n))
    return replace(reading, mean=transform.mean, std=transform.std)


def _check_split(passed: Passed, reading: Reading) -> None:
    """Refuse a split that leaves no training or no validation row, as for streamed data."""
    from gdcli.data import streamed

    streamed._check_split(_named(reading), passed.n_train, passed.n_val, reading.val_fraction)


def _named(reading: Reading):
    """A Dataset of no rows that names the columns, for the streamed data's checks."""
    from gdcli.data import Dataset

    return Dataset("the data", None, None, reading.features, reading.targets, source=reading.where)
