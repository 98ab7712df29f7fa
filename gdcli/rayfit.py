"""`gdcli fit --backend ray`: what is refused before Ray starts, and the rows of a fit whose Gram pass ran
on Ray (`OnRay`, which the trainer's plan reads instead of loading and preparing the rows here).

The gram method reads the rows once, for their Gram statistics; every epoch after is O(k^2) here.
That one pass is a task per part of the data (gdcli/raygram.py); the rows never come to this
process for it. The losses a run reports (start, final, the optimum's, the validation metrics)
are measured on the rows as read, in passes over the parts here (gdcli.stats.losses), as for a fit
here: they are exact where a quadratic form from the Gram statistics would cancel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gdcli import raygram, raypass
from gdcli.errors import GdcliError, param
from gdcli.raygram import Part, Reading
from gdcli.text import plural

if TYPE_CHECKING:
    from gdcli.config import RunConfig
    from gdcli.data import Dataset

BACKENDS = ("local", "ray")


def check(cfg: RunConfig, backend: str, address: str | None, pictures: tuple[str, ...] = ()) -> None:
    """Refuse, before Ray starts, what a fit cannot do on `backend` (`pictures`: the picture settings given)."""
    if backend not in BACKENDS:
        raise GdcliError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}",
                         "for example backend='ray'")
    if address is not None and backend != "ray":
        raise GdcliError(f"{param('address')} names a Ray cluster: it applies to {param('backend')} ray",
                         f"add {param('backend')} ray, or drop {param('address')}")
    if backend != "ray":
        return
    local = f"{param('backend')} local"
    if cfg.method != "gram":
        raise GdcliError(
            f"{param('method')} {cfg.method} reads every row each epoch; on Ray each epoch would be a pass over "
            "every part",
            f"use {param('method')} gram (a model linear in its parameters, full batch), or {local}",
        )
    _check_data(cfg, local)
    if cfg.sharpness is not None:
        raise GdcliError(f"{param('sharpness')} measures the Hessian by passes over the rows held here; on Ray the "
                         "rows stay with the workers", f"drop {param('sharpness')}, or use {local}")
    if cfg.device == "mps":
        raise GdcliError(f"{param('device')} mps with {param('backend')} ray: Apple's MPS device has no float64, "
                         "which the Gram statistics from Ray are kept in", f"use {param('device')} cpu, or {local}")
    if pictures:  # the pictures draw the data's rows
        raise GdcliError(f"{param(pictures[0])} draws the rows held here; on Ray the rows stay with the workers",
                         f"drop {param(pictures[0])}, or use {local}")
    from gdcli import raylink

    raylink.require_ray()
    if address is not None:
        raylink.check_address(address)


def _check_data(cfg: RunConfig, local: str) -> None:
    """Refuse data Ray's workers cannot read themselves, and models that derive columns from the rows here."""
    from gdcli import data, models

    if cfg.dataset == data.STDIN:
        raise GdcliError(f"{param('dataset')} - is read from standard input, which Ray's workers cannot read",
                         f"save the rows to a file and pass its path to {param('dataset')}, or use {local}")
    entry = data.BUILTINS.get(cfg.dataset)
    if entry is not None and not entry.generated:
        raise GdcliError(f"the built-in dataset {cfg.dataset!r} is a few rows held here: Ray reads data files",
                         f"pass the path of a data file (or a folder of parts) to {param('dataset')}, or use {local}")
    if models.get(cfg.model).name != models.DEFAULT:
        raise GdcliError(f"{param('model')} {cfg.model} derives its columns from the rows held here; on Ray the "
                         "rows stay with the workers", f"use {param('model')} {models.DEFAULT}, or {local}")


class OnRay:
    """The rows of one fit whose passes run on Ray, here or on the cluster at `address`: the plan reads
    its `dataset` and `prepared` instead of loading and preparing the rows here."""

    def __init__(self, address: str | None = None, quiet: bool = False, mapper=None):
        self.address, self.quiet, self.mapper = address, quiet, mapper
        self.passed: raypass.Passed | None = None
        self.parts: list[Part] = []
        self.cpus = 0.0

    def dataset(self, base: RunConfig) -> Dataset:
        """The dataset's columns and row count, after the passes over its parts (Ray joined and left here)."""
        from gdcli import data, raylink

        layout = _layout(base)
        self.parts = layout.parts
        reading = Reading(layout.features, layout.targets, base.missing, base.dataset, base.scale, base.normalize,
                          dtype=base.dtype, seed=base.seed if base.val_fraction > 0 else 0,
                          val_fraction=base.val_fraction)
        if self.mapper is not None:  # the passes here (a yardstick, a test)
            self.passed = raypass.run(self.parts, reading, self.mapper, layout.known)
        else:
            from gdcli.train import interrupt

            # Ctrl-C while Ray starts is heard once it has started, and while the tasks run between two
            # looks at them: Ray is then shut down before the command aborts (a Ray half started would
            # be left to the interpreter's exit).
            with interrupt.catch() as requests, raylink.connected(self.address, self.quiet) as ray:
                self.cpus = float(ray.cluster_resources().get("CPU", 0))
                stopped = lambda: requests.stop  # noqa: E731
                self.passed = raypass.run(self.parts, reading, raypass.on_ray(ray, stopped), layout.known)
        passed = self.passed
        return data.Dataset(
            layout.name, None, None, layout.features, layout.targets, layout.description, {},
            source=layout.source, columns=layout.header, left_out=layout.left_out, dropped=passed.dropped,
            blocks=lambda: _all_rows(self.parts, passed.reading), count=sum(passed.rows),
        )

    def decision(self):
        """The rows are not held here: streamed, as train.budget.Decision says it (no size to weigh)."""
        from gdcli.train.budget import Decision

        return Decision(True, None, None, None, False)

    def prepared(self, ds: Dataset, scale, normalize, val_fraction, seed, dtype, device):
        """The fit's rows as streamed data (data.streamed.Streamed): the Gram statistics those passes found,
        the losses read here by its reference passes."""
        from gdcli.data.streamed import Streamed
        from gdcli.data.transform import Transform

        passed = self.passed
        reading = passed.reading
        transform = Transform(scale, reading.mean, reading.std) if normalize else Transform(scale)
        rows = Streamed(ds, transform, val_fraction, seed, dtype, device, passed.n_train, passed.n_val,
                        passed.seconds)
        rows.cache.update(reference=passed.train_reference, training=passed.train, validation=passed.val)
        return rows

    def header(self) -> dict[str, str]:
        """The settings panel's rows on where the Gram pass ran and how long it took."""
        where = f"on Ray ({self.cpus:g} CPUs)" if self.mapper is None else "here"
        rows = {"Gram pass": f"{plural(len(self.parts), 'part')} {where}, {self.passed.seconds:.2f} s"}
        if self.passed.reading.val_fraction > 0:
            rows["split"] = "validation rows by a seeded hash of each row's place (as streamed data)"
        return rows


def _all_rows(parts: list[Part], reading: Reading):
    """Every row of the parts as float64 (X, y) blocks, read here."""
    for part in parts:
        for X, y, _, _ in raygram.blocks(part, reading):
            yield X, y


@dataclass
class Layout:
    """A dataset's parts and columns, known on the driver without reading its rows."""

    parts: list[Part]
    name: str
    description: str
    source: str
    header: tuple[str, ...]
    features: tuple[str, ...]
    targets: tuple[str, ...]
    left_out: dict = field(default_factory=dict)
    known: list | None = None  # rows per part where the footers say them


def _layout(cfg: RunConfig) -> Layout:
    """The parts of `cfg.dataset` and the columns the run reads."""
    from gdcli import data

    entry = data.BUILTINS.get(cfg.dataset)
    if entry is not None:  # generated rows: drawn by one task, from the seed
        from gdcli.data.generated import SYNTHETIC, SYNTHETIC_TARGETS, synthetic_features

        features = synthetic_features(cfg.features or 1)
        rows = cfg.rows if cfg.rows is not None else entry.default_rows
        part = Part("synthetic dataset", None, (cfg.seed, rows, cfg.features))
        return Layout([part], "synthetic", SYNTHETIC, "synthetic dataset", features + SYNTHETIC_TARGETS, features,
                      SYNTHETIC_TARGETS, known=[rows])
    return _file_layout(cfg)


def _file_layout(cfg: RunConfig) -> Layout:
    """The parts of a data file (one part) or of a folder or glob of parts, and the columns chosen from the first."""
    from pathlib import Path

    from gdcli import readers
    from gdcli.data import loading

    name = cfg.dataset
    paths, names, known, listed = [Path(name)], [name], None, None
    if readers.is_parts(name):  # a folder or a glob: its parts, and their rows where the footers say them
        listed = readers.listing(name)
        paths, names, known = list(listed.paths), list(listed.names), list(listed.rows)
    elif not readers.known(Path(name)) and not Path(name).exists():
        loading.load_dataset(name)  # refuses an unknown dataset in its own words
    picked = loading.Picked(tuple(cfg.targets), tuple(cfg.inputs), tuple(cfg.drop), cfg.missing)
    sampled: list = []

    def sample() -> tuple:
        sampled.append(readers.text_columns(Path(name), name))  # the header and the first rows, once
        return sampled[0]

    choice = loading._choose(sample, lambda: readers.read(Path(name)), name, picked)
    parts = [Part(shown, str(path)) for path, shown in zip(paths, names)]
    # Named and described as data.loading names a file or a folder of parts read here.
    stem = loading._stem(Path(listed.folder).resolve().name if listed else Path(name).name, readers.suffixes())
    described = listed.description if listed else f"data file {name}"
    return Layout(parts, stem, described, name, tuple(sampled[0][0]), choice.inputs, choice.targets,
                  dict(choice.left_out), known)
