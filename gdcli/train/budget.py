"""Whether a run's rows are held in memory or streamed, decided before a row is read.

`decide` counts what the data would cost to train held (its rows, from Parquet metadata,
the generated count, or a CSV's size over the bytes of its first rows, times what a row
costs: gdcli.data.generated_bytes and the hidden layer plan.check_work_memory counts)
against the memory budget (--memory-limit, else what is available). Data that fits is held
exactly as before; data that does not is loaded as a Dataset that reads its rows again,
block by block (`load`), and prepared by gdcli.data.streamed (`prepared`). What cannot
stream is refused here (`refuse`); the header's and the JSON's words on it come from here.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from gdcli import data as datamod
from gdcli.errors import GdcliError, param
from gdcli.memory import budget, size_text

if TYPE_CHECKING:
    from gdcli.config import RunConfig

# Rows per block of generated data drawn for a pass (a multiple of 16), before any budget shrinks it.
BLOCK_ROWS = 1 << 16
# The first bytes of a CSV read to measure its bytes per row.
SAMPLE_BYTES = 1 << 20


@dataclass(frozen=True)
class Decision:
    """Whether a run's rows are held or streamed, and why."""

    streamed: bool
    rows: int | None  # the data's rows (estimated for a CSV), None where not counted
    need: int | None  # bytes training them held would take
    limit: int | None  # the budget, in bytes
    given: bool  # the budget is --memory-limit
    estimated: bool = False

    def line(self, pass_seconds: float | None = None, passes: str | None = None, split: bool = False) -> str | None:
        """The header's line: "data: streamed, ..." or "data: held in memory (77 MB)"; None where
        neither --memory-limit was given nor the data streams."""
        if not (self.given or self.streamed) or self.need is None:
            return None
        if not self.streamed:
            return f"data: held in memory ({size_text(self.need)})"
        against = f"{param('memory_limit')} {size_text(self.limit)}" if self.given else \
            f"the {size_text(self.limit)} available"
        about = "about " if self.estimated else ""
        count = f"{self.rows:.2g}".replace("e+0", "e").replace("e+", "e")
        text = f"data: streamed, {about}{count} rows need about {size_text(self.need)} > {against}"
        text += f"; {passes}" if passes else ""
        if pass_seconds is not None:
            text += f", about {pass_seconds:.2g} s a pass"
        return text + ("; validation rows by a seeded hash of each row's place" if split else "")

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"data": "streamed" if self.streamed else "held", "rows": self.rows, "bytes": self.need,
                "memory_limit": self.limit, "memory_limit_given": self.given}


def decide(cfg: RunConfig, runs: int) -> Decision:
    """Held or streamed, decided before a row is read (data piped into stdin and small built-ins are held)."""
    from gdcli import models

    limit, given = budget(cfg.memory_limit)
    shape = _shape(cfg)
    if shape is None:
        return Decision(False, None, None, limit, given)
    rows, k, t, estimated = shape
    itemsize = 8 if cfg.dtype == "float64" else 4
    kind = models.get(cfg.model)
    need = rows * datamod.generated_bytes(1, k * kind.load_width(), itemsize)
    work = 0
    if not kind.linear_in_params:  # the hidden layer of every run, for the rows of a step
        work = min(rows, cfg.batch_size or rows) * runs * (t + 4 * cfg.hidden) * itemsize
    # Without --memory-limit, a step's work beyond memory is refused for held rows as it always was
    # (plan.check_work_memory): only rows beyond memory stream.
    streamed = limit is not None and (need + work if given else need) > limit
    if streamed:
        _check_streamable(cfg, rows, k * kind.load_width(), given)
    return Decision(streamed, rows, need + work, limit, given, estimated)


def _check_streamable(cfg: RunConfig, rows: int, width: int, given: bool) -> None:
    """Refuse generated rows too many to draw again every pass (the noise comes after every input in
    the generator's stream): without --memory-limit, as rows beyond memory always were."""
    from gdcli.store import generated_rows

    if generated_rows(cfg) is None or rows * width <= datamod.MAX_STEPPED:
        return
    if not given:
        datamod.check_memory(rows, width, cfg.dtype)
    raise GdcliError(
        f"{param('rows')} {rows:,} x {width} columns: too many generated values to draw again every pass "
        f"(at most {datamod.MAX_STEPPED:.0e})",
        f"use at most {datamod.MAX_STEPPED // width:,} {param('rows')}",
    )


def _shape(cfg: RunConfig) -> tuple[int, int, int, bool] | None:
    """(rows, features, targets, whether rows are estimated) of a run's data, without reading its rows."""
    from gdcli.store import generated_rows

    generated = generated_rows(cfg)
    if generated is not None:
        return generated, cfg.features or 1, 1, False
    from gdcli.readers import parts

    name = cfg.dataset
    entry = datamod.BUILTINS.get(name)
    if entry is not None:  # a built-in table: small, read at once
        ds = entry.load()
        return ds.n_rows, len(ds.features), len(ds.targets), False
    if not datamod.is_file(name):
        return None
    if parts.claims(name):  # a folder or a glob of parts: counted part by part
        if not parts.found(name):
            return None  # loading names what is missing
        rows, estimated = _count_parts(parts.listing(name))
    elif Path(name).is_file():
        rows, estimated = count_rows(Path(name))
    else:
        return None
    choice = _choice(cfg)
    return rows, len(choice.inputs), len(choice.targets), estimated


def _count_parts(listing) -> tuple[int, bool]:
    """(rows, whether estimated) of parts: their metadata's counts (Parquet), else each part's estimate."""
    if listing.n_rows is not None:
        return listing.n_rows, False
    counted = [count_rows(path) for path in listing.paths]
    return sum(rows for rows, _ in counted), any(estimated for _, estimated in counted)


def _choice(cfg: RunConfig):
    """The file's columns as the run picks them (its header and first rows read, no more)."""
    from gdcli import readers
    from gdcli.data.loading import Picked, _choose

    path, where = Path(cfg.dataset), cfg.dataset
    picked = Picked(tuple(cfg.targets), tuple(cfg.inputs), tuple(cfg.drop), cfg.missing)
    return _choose(lambda: readers.text_columns(path, where), lambda: readers.read(path), where, picked)


def count_rows(path: Path) -> tuple[int, bool]:
    """(rows, whether estimated): a Parquet file's from its metadata, a CSV's from its size over the
    bytes per row of its first SAMPLE_BYTES (the whole file, counted, when smaller)."""
    import gzip

    from gdcli import readers

    if readers.reader_for(path).name.lower() == "parquet":
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(path).metadata.num_rows, False
        except Exception:  # the read names what is wrong with the file
            return 0, True
    if os.path.isdir(path):  # a folder claimed by a reader other than the parts' (none is registered so)
        return 0, True
    from gdcli.readers.csvrules import GZIP_ERRORS

    size = os.path.getsize(path)
    try:
        with open(path, "rb") as raw:
            gz = raw.read(2) == b"\x1f\x8b"
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
            sample = f.read(SAMPLE_BYTES)
            whole = not f.read(1)
            consumed = f.fileobj.tell() if gz else len(sample)
    except (OSError, *GZIP_ERRORS):  # a cut or corrupt file: its read names the problem, in its words
        return 0, True
    lines = sample.count(b"\n") + (0 if sample.endswith(b"\n") or not sample else 1)
    if whole:
        return max(0, lines - 1), False
    per_row = len(sample) / max(1, lines)
    text_size = size * len(sample) / max(1, consumed)
    return max(1, int(text_size / per_row) - 1), True


def load(cfg: RunConfig, seed: int, limit: int | None) -> datamod.Dataset:
    """The run's data as a Dataset whose rows are read again, block by block, at every call of `blocks`."""
    from gdcli.store import generated_rows

    rows = generated_rows(cfg)
    if rows is not None:
        k = cfg.features or 1
        block = BLOCK_ROWS
        if limit is not None:  # a block of a quarter of the budget, at least 16 rows
            block = max(16, min(BLOCK_ROWS, limit // (4 * datamod.generated_bytes(1, k, 8))) // 16 * 16)
        ds = datamod._synthetic_dataset(None, None, k)
        return _streaming(ds, lambda: datamod.synthetic_blocks(seed, rows, cfg.features, block), rows)
    return _file(cfg)


def _file(cfg: RunConfig) -> datamod.Dataset:
    """A data file's rows, read again block by block at every pass."""
    from gdcli import readers
    from gdcli.data.loading import _stem

    path, where = Path(cfg.dataset), cfg.dataset
    choice = _choice(cfg)
    rows = _shape(cfg)[0]
    blocks = Blocks(path, where, choice, cfg.missing)
    return datamod.Dataset(_stem(path.name, readers.suffixes()), None, None, choice.inputs, choice.targets,
                           f"data file {path}", {}, source=where, left_out=dict(choice.left_out), blocks=blocks,
                           count=rows)


class Blocks:
    """A data file's (X, y) float64 blocks, read again at every call; for a folder or glob of parts, also
    `units`: a function per part giving that part's blocks, so that a pass may visit the parts in any order."""

    def __init__(self, path: Path, where: str, choice, missing: str):
        from gdcli.readers import parts

        self.path, self.where, self.choice, self.missing = path, where, choice, missing
        self.units = None
        self.left_out: dict[str, int] = {}  # rows left out for a gap (missing "drop"), by part, at its last read
        if parts.claims(where):
            listing = parts.listing(where)
            self.units = [functools.partial(self._of, part, name) for part, name in zip(listing.paths, listing.names)]

    def __call__(self):
        return self._of(self.path, self.where)

    def _of(self, path: Path, where: str):
        from gdcli import readers
        from gdcli.readers.table import NoRows

        left_out = 0
        try:
            for table in readers.blocks(path, where, self.choice.used, missing=self.missing):
                left_out += table.dropped
                if table.n_rows:
                    yield table.matrix(self.choice.inputs), table.matrix(self.choice.targets)
        except NoRows as err:
            if path is self.path:
                raise
            # One part with no row (left): it adds none, as it does to the parts read whole.
            left_out += err.dropped
        self.left_out[where] = left_out

    @property
    def dropped(self) -> int:
        """Rows left out for a gap, as the last read of each part (or of the whole) counted them."""
        return sum(self.left_out.values())


def _streaming(ds: datamod.Dataset, blocks: Callable, rows: int) -> datamod.Dataset:
    """`ds` without its arrays, its rows read by `blocks`."""
    from dataclasses import replace

    return replace(ds, X=None, y=None, blocks=blocks, count=rows)


def design(ds: datamod.Dataset, model) -> datamod.Dataset:
    """The streamed dataset with the columns the model reads (the quadratic's squares made block by block)."""
    if model.inputs == model.features:
        return ds
    from dataclasses import replace

    return replace(ds, features=model.input_names(ds.features),
                   blocks=lambda: ((model.design(X), y) for X, y in ds.row_blocks()))


@functools.lru_cache(maxsize=8)
def prepared(ds: datamod.Dataset, scale, normalize, val_fraction, seed, dtype, device):
    """A streamed dataset's rows, counted (and standardized) once per process for every trainer sharing them."""
    from gdcli.data.streamed import stream

    return stream(ds, scale, normalize, val_fraction, seed, dtype, device)


def refuse(cfg: RunConfig, decision: Decision, seeds: int = 1) -> None:
    """Refuse what cannot stream: settings that need the rows in memory or many passes per epoch, and
    mini-batches of several seeds that each split the rows their own way (`seeds` of them)."""
    why = None
    if cfg.batch_size and cfg.val_fraction > 0 and seeds > 1:
        why = (f"{param('val_fraction')} with {param('batch_size')} splits the rows for each of {seeds} seeds its own "
               "way, which one pass of mini-batches cannot read for all of them",
               f"use {param('val_fraction')} 0, train one seed at a time")
    elif cfg.batch_size and seeds > 1:
        why = (f"{param('batch_size')} with {seeds} seeds: each seed's rows are streamed apart, and one pass of "
               "mini-batches reads the rows for one of them", "train one seed at a time")
    elif cfg.sharpness is not None:
        why = f"{param('sharpness')} measures the Hessian by many passes over the rows", f"drop {param('sharpness')}"
    elif cfg.compile and cfg.method != "gram":
        why = f"{param('compile')} compiles an epoch over rows held in memory", f"drop {param('compile')}"
    if why is None:
        return
    raise GdcliError(
        f"{why[0]}, and this data is streamed: {decision.line().removeprefix('data: streamed, ')}",
        f"{why[1]}, or raise {param('memory_limit')} above {size_text(decision.need)} to hold the rows",
    )


def header_line(plan) -> str | None:
    """The header's data line of a plan (None where neither --memory-limit was given nor data streams)."""
    decision = plan.decision
    if decision is None:
        return None
    if not decision.streamed:
        return decision.line()
    passes = "the Gram statistics in one pass before training" if plan.method.needs_gram else \
        "one pass per epoch" if plan.batch_size is None else "the mini-batches of a pass per epoch"
    return decision.line(plan.prepared[0].pass_seconds, passes, plan.base.val_fraction > 0)


def record(plan) -> dict | None:
    """The data's decision as JSON records it (None where the header has no data line)."""
    line = header_line(plan)
    if line is None:
        return None
    # "why" names settings as param() does: the CLI's JSON shows flags, the API keywords.
    return {**plan.decision.to_dict(), "why": line.removeprefix("data: ")}
