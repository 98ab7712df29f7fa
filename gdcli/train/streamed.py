"""Training on rows that are not held: the decision to stream, and the passes an epoch makes.

Before a row is read, `decide` counts what the data would cost to train held (its rows,
from Parquet metadata, the generated count, or a CSV's size over the bytes of its first
rows, times what a row costs: gdcli.data.generated_bytes and the hidden layer
plan.check_work_memory counts) against the memory budget (--memory-limit, else what is
available). Data that fits is held exactly as before; data that does not is streamed
(gdcli/data/streamed.py), and then:

- the gram method reads the rows once, before training, for the Gram statistics of the
  rows as rounded to the dtype and of the float64 rows; every epoch is O(k^2), as held;
- a full-batch epoch of the other methods is one pass: each block's loss and gradient,
  weighted by its rows for the mean (the sum of the blocks' sums for the sum), with the
  validation loss at the same parameters in the same pass;
- mini-batches come block by block: the parts of a folder in a seeded order each pass (a
  single file is read front to back), each block's training rows in a seeded order (one
  generator per seed, as held), a batch carried across a block's end, so a pass's batches
  cover every training row once.

The start, final and optimum losses are measured by reference passes over the float64 rows.
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
    from torch import Tensor

    from gdcli.config import RunConfig
    from gdcli.train.trainer import Trainer

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

    def line(self, pass_seconds: float | None = None, passes: str = "one pass per epoch", split: bool = False) -> str | None:
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
        text = f"data: streamed, {about}{count} rows need about {size_text(self.need)} > {against}; {passes}"
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
    per_row = datamod.generated_bytes(1, k * kind.load_width(), itemsize)
    if not kind.linear_in_params:  # the hidden layer of every run, for the rows of a step
        per_row += runs * (t + 4 * cfg.hidden) * itemsize
    need = rows * per_row
    return Decision(limit is not None and need > limit, rows, need, limit, given, estimated)


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
    size = os.path.getsize(path)
    with open(path, "rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
        sample = f.read(SAMPLE_BYTES)
        whole = not f.read(1)
        consumed = f.fileobj.tell() if gz else len(sample)
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
        if parts.claims(where):
            listing = parts.listing(where)
            self.units = [functools.partial(self._of, part, name) for part, name in zip(listing.paths, listing.names)]

    def __call__(self):
        return self._of(self.path, self.where)

    def _of(self, path: Path, where: str):
        from gdcli import readers

        for table in readers.blocks(path, where, self.choice.used, missing=self.missing):
            if table.n_rows:
                yield table.matrix(self.choice.inputs), table.matrix(self.choice.targets)


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


def refuse(cfg: RunConfig, decision: Decision) -> None:
    """Refuse what cannot stream: settings that need the rows in memory or many passes per epoch."""
    why = None
    if cfg.sharpness is not None:
        why = (param("sharpness"), "measures the Hessian by many passes over the rows")
    elif cfg.compile and cfg.method != "gram":
        why = (param("compile"), "compiles an epoch over rows held in memory")
    if why is None:
        return
    raise GdcliError(
        f"{why[0]} {why[1]}, and this data is streamed: {decision.line()}",
        f"drop {why[0]}, or raise {param('memory_limit')} above {size_text(decision.need)} to hold the rows",
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


# ---- the passes -----------------------------------------------------------------------------------


def _groups(trainer: Trainer) -> list:
    """(runs index or None, streamed rows) of each group of runs that share rows."""
    plan = trainer.plan
    return [(runs, plan.prepared[members[0]]) for members, runs in plan.groups]


def full_pass(trainer: Trainer, theta: Tensor, with_val: bool) -> tuple[Tensor, Tensor, Tensor | None]:
    """(loss, gradient, validation loss or None) of every run at `theta` (a leaf), in one pass of each
    group's rows: the blocks' losses and gradients weighted by their rows for the mean."""
    import torch

    from gdcli import gradients

    plan = trainer.plan
    fill, spec, mean = plan.method.fill, plan.spec, plan.base.reduction == "mean"
    loss = torch.zeros(theta.shape[0], dtype=torch.float64, device=theta.device)
    grad = torch.zeros_like(theta, dtype=torch.float64)
    val = torch.zeros_like(loss) if with_val else None
    for runs, prep in _groups(trainer):
        n, n_val = prep.n_train, prep.n_val
        for (X, y), held_out in prep.both():
            if X.shape[0]:
                theta.grad = None
                part = gradients.Rows((gradients.Part(runs, X, y),))
                weight = X.shape[0] / n if mean else 1.0
                block_loss = fill(theta, part, spec).detach().to(torch.float64)
                _add(loss, block_loss, runs, weight)
                _add(grad, theta.grad.to(torch.float64), runs, weight)
            if val is not None and held_out is not None and held_out[0].shape[0]:
                rows = gradients.Rows((gradients.Part(runs, *held_out),))
                with torch.no_grad():
                    block_val = gradients.loss_at(theta, rows, spec).to(torch.float64)
                _add(val, block_val, runs, held_out[0].shape[0] / n_val if mean else 1.0)
    return loss.to(theta.dtype), grad.to(theta.dtype), val.to(theta.dtype) if val is not None else None


def _add(total: Tensor, part: Tensor, runs: Tensor | None, weight: float) -> None:
    """total += weight * part, on the group's runs only (the others' rows of `part` are not theirs)."""
    if runs is None:
        total.add_(part, alpha=weight)
    else:
        total.index_add_(0, runs, part[runs], alpha=weight)


def full_batch_step(trainer: Trainer) -> tuple[Callable[[Tensor], None], Callable[[], Tensor | None]]:
    """(step, the validation loss of the step's pass): one pass per epoch gives the loss, the gradient
    and the validation loss at the parameters the epoch starts from; then the optimizer's update."""
    theta, update = trainer.theta, trainer.optimizer.step
    with_val = trainer.plan.val_rows is not None
    seen: list = [None]

    def step(row: Tensor) -> None:
        loss, grad, seen[0] = full_pass(trainer, theta, with_val)
        theta.grad = grad
        row.copy_(loss)
        update()

    return step, lambda: seen[0]


def val_loss(trainer: Trainer, data: Tensor) -> Tensor:
    """Every run's validation loss at `data`, from one pass of the validation rows."""
    import torch

    from gdcli import gradients

    plan = trainer.plan
    mean = plan.base.reduction == "mean"
    total = torch.zeros(data.shape[0], dtype=torch.float64, device=data.device)
    with torch.no_grad():
        for runs, prep in _groups(trainer):
            for X, y in prep.training("val"):
                block = gradients.loss_at(data, gradients.Rows((gradients.Part(runs, X, y),)), plan.spec)
                _add(total, block.to(torch.float64), runs, X.shape[0] / prep.n_val if mean else 1.0)
    return total.to(data.dtype)


def gradient_at(trainer: Trainer, theta: Tensor) -> Tensor:
    """The full-batch gradient of every run at `theta`, from one pass (theta untouched)."""
    import torch

    leaf = theta.detach().clone().requires_grad_(trainer.plan.method.needs_autograd)
    with torch.set_grad_enabled(trainer.plan.method.needs_autograd):
        return full_pass(trainer, leaf, False)[1]


def batches(trainer: Trainer):
    """One pass of (rows, size) mini-batches: each block's training rows in each seed's seeded order, the
    rows left over at a block's end carried into the next, so the batches cover every training row once."""
    import torch

    from gdcli import gradients

    plan = trainer.plan
    size, device = plan.batch_size, plan.device
    groups = _groups(trainer)
    if len({id(prep) for _, prep in groups}) > 1:
        raise GdcliError(
            f"streamed mini-batches of several seeds with {param('val_fraction')} read different rows per seed",
            f"train one seed at a time, use {param('val_fraction')} 0, or raise {param('memory_limit')}",
        )
    carry = [None] * len(groups)
    prep = groups[0][1]
    # Parts (a folder's files) in a seeded order each pass, drawn by the first seed's generator.
    order = torch.randperm(len(prep.starts), generator=trainer.orders[0]).tolist() if prep.starts else None
    for X, y in prep.training("train", order):
        shuffled = []
        for g, gen in enumerate(trainer.orders):
            order = torch.randperm(X.shape[0], generator=gen).to(device)
            bx, by = X[order], y[order]
            if carry[g] is not None:
                bx, by = torch.cat([carry[g][0], bx]), torch.cat([carry[g][1], by])
            shuffled.append((bx, by))
        whole = shuffled[0][0].shape[0] // size * size
        for start in range(0, whole, size):
            parts = [gradients.Part(runs, bx[start : start + size], by[start : start + size])
                     for (runs, _), (bx, by) in zip(groups, shuffled)]
            yield gradients.Rows(tuple(parts)), size
        carry = [(bx[whole:], by[whole:]) for bx, by in shuffled]
    if carry[0] is not None and carry[0][0].shape[0]:
        parts = [gradients.Part(runs, bx, by) for (runs, _), (bx, by) in zip(groups, carry)]
        yield gradients.Rows(tuple(parts)), carry[0][0].shape[0]


def method_at(trainer: Trainer, method: str, theta: Tensor, rows) -> tuple[Tensor, Tensor]:
    """(loss, gradient) of one method at `theta` on the first run's streamed rows: one pass, the blocks
    weighted by their rows for the mean (the gram method from its statistics in `rows`, no pass)."""
    import torch

    from gdcli import gradients

    plan = trainer.plan
    if gradients.METHODS[method].needs_gram:
        return gradients.gradient_at(method, theta, rows, plan.spec)
    prep, mean = plan.prepared[0], plan.base.reduction == "mean"
    loss = torch.zeros(theta.shape[0], dtype=torch.float64)
    grad = torch.zeros(theta.shape, dtype=torch.float64)
    for X, y in prep.training("train"):
        block_loss, block_grad = gradients.gradient_at(method, theta, gradients.shared(X, y), plan.spec)
        weight = X.shape[0] / prep.n_train if mean else 1.0
        loss += weight * block_loss.detach().to("cpu", torch.float64)
        grad += weight * block_grad.to("cpu", torch.float64)
    return loss.to(theta.device, theta.dtype), grad.to(theta.device, theta.dtype)


def refuse_pictures(plan, asked: dict[str, bool]) -> None:
    """Refuse the pictures that draw the rows themselves (a scatter of every row) where they are streamed."""
    given = [name for name, wanted in asked.items() if wanted]
    if not plan.streamed or not given:
        return
    raise GdcliError(
        f"{param(given[0])} draws every row, and this data is streamed: {plan.decision.line()}",
        f"drop {param(given[0])}, or raise {param('memory_limit')} above {size_text(plan.decision.need)} to hold the rows",
    )
