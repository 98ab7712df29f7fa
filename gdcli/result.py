"""What training hands out: its epochs (EpochRecord, Chunk) and how each run ended (RunResult).

One shape for fit, compare and sweep; the trainer fills them (Trainer.chunks,
Trainer.results), the reports read them.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

from gdcli import outcome
from gdcli.models import LineParams

if TYPE_CHECKING:
    from torch import Tensor

    from gdcli.config import RunConfig
    from gdcli.data import Transform
    from gdcli.models import Model
    from gdcli.train.stopping import Stop


@dataclass(frozen=True)
class EpochRecord(LineParams):
    """One epoch of one run. params and grad_norm are filled on logged epochs only."""

    epoch: int
    train_loss: float
    val_loss: float | None = None
    grad_norm: float | None = None
    params: dict[str, list] | None = None  # by torch.nn name: {"weight": [[...]], "bias": [...]} for a line
    lr: float | None = None  # the epoch's lr, when a schedule changes it
    # With --sharpness, on the measured epochs: the loss Hessian's largest eigenvalue where this epoch's
    # loss was taken, and the edge of stability 2/lr beside it (None for adaptive optimizers).
    sharpness: float | None = None
    edge: float | None = None


@dataclass
class Chunk:
    """Several epochs of every run: their losses on the CPU, and parameter snapshots of the
    logged and divergence epochs (on the training device).

    A chunk fresh from the loop holds consecutive epochs; one a trainer keeps with
    history "logged" holds only the logged and divergence epochs.
    """

    epochs: list[int]  # the epoch of each row: consecutive, or the logged ones a trainer kept
    train_loss: Tensor  # (epochs, runs), float64
    val_loss: Tensor | None
    snapshots: dict[int, tuple[Tensor, Tensor | None]]  # epoch -> (theta, grad), each (runs, P)
    model: Model | None = None  # names the parameters of the snapshots
    lrs: Tensor | None = None  # (epochs, runs) float64: each epoch's lr, when a schedule changes it
    # With --sharpness: measured epoch -> (sharpness, edge, measured), each (runs,) float64 (nan: none) or bool
    sharpness: dict[int, tuple[Tensor, Tensor, Tensor]] | None = None

    @property
    def first(self) -> int:
        """Epoch number of the chunk's first row."""
        return self.epochs[0]

    @property
    def last(self) -> int:
        """Epoch number of the chunk's last row."""
        return self.epochs[-1]

    def row(self, epoch: int) -> int:
        """The row holding an epoch."""
        return epoch - self.first if len(self.epochs) == self.last - self.first + 1 else self.epochs.index(epoch)


@dataclass
class RunResult(LineParams):
    """How one run ended, next to the best possible fit for its training rows, with its verdict."""

    config: RunConfig
    features: tuple[str, ...]  # the raw inputs (a quadratic model adds their squares itself)
    targets: tuple[str, ...]
    transform: Transform  # of the model's input columns
    # The kept epochs (every one, or the logged ones) and their losses, as tensors on
    # the CPU: ten million epochs are 80 MB of float64, not a list of Python floats.
    epoch_numbers: Tensor  # (kept,) int64
    train_history: Tensor  # (kept,) float64
    val_history: Tensor | None
    records: list[EpochRecord]
    model: Model
    params: dict[str, list]  # the final parameters by torch.nn name
    initial_params: dict[str, list]  # where the run started
    start_loss: float  # full-batch training loss at the starting parameters, float64
    final_loss: float  # full-batch training loss at the final parameters, float64
    final_val_loss: float | None
    optimum_params: dict[str, list] | None  # the least-squares line (weight, bias) on the model's inputs
    optimum_loss: float | None  # None (and optimum_reason says why) where too large to solve
    exact_fit: bool  # the optimum fits the training rows exactly
    zero_loss: float  # the loss of predicting zero: the targets' own size
    stable_lr: float | None  # for gd and sgd only; a local estimate at the start unless model.linear_in_params
    verdict: outcome.Verdict
    epochs_run: int  # epochs trained (fewer than asked when a lone run diverged)
    seconds: float
    n_train: int
    n_val: int
    epochs_computed: int  # epochs the loop ran, including any past a divergence inside a chunk
    compile_seconds: float = 0.0  # time torch.compile took (--compile), apart from `seconds`
    lr_history: Tensor | None = None  # (kept,) float64: each kept epoch's lr, when a schedule changes it
    stop: Stop | None = None  # why the run stopped before its last epoch (--tol, --within, Ctrl-C)
    # A diverged finite-diff run: its gradient at the start against autograd's (max diff / norm); else None.
    step_error: float | None = None
    optimum_reason: str | None = None  # why the optimum was not computed (None: it was)
    # The path the run took: its parameters (m, P) float64 at epochs (m,) int64, from epoch 0 (its start)
    # to its end, evenly spaced with the logged epochs among them (train/hooks.py's Path).
    path_epochs: Tensor | None = None
    path: Tensor | None = None
    # With --sharpness: the measured epochs (m,) int64, the sharpness there (m,) float64 (nan where the
    # parameters were not finite) and the edge of stability 2/lr (nan for adaptive optimizers).
    sharpness_epochs: Tensor | None = None
    sharpness: Tensor | None = None
    sharpness_edge: Tensor | None = None
    data: dict | None = None  # held or streamed, and why: only with --memory-limit or streamed data
    # A run that trained an epoch or more yet stood still: how (its parameters or its loss never changed)
    unmoved: str | None = None
    # With a split: the validation rows' metrics at the end, {target: {"rows", "mse", "rmse", "mae", "r2"}}
    # in the targets' units (gdcli/metrics.py); None without one.
    val_metrics: dict | None = None
    # A data file's columns not used -> why (columns.IDENTIFIER, ...), and its rows left out for a gap.
    left_out: dict[str, str] = field(default_factory=dict)
    dropped_rows: int = 0

    @functools.cached_property
    def epochs(self) -> list[int]:
        """The kept epochs as a list (materialized on first use)."""
        return self.epoch_numbers.tolist()

    @functools.cached_property
    def train_loss(self) -> list[float]:
        """The kept epochs' training losses as a list (materialized on first use)."""
        return self.train_history.tolist()

    @functools.cached_property
    def val_loss(self) -> list[float] | None:
        """The kept epochs' validation losses as a list, or None without a split."""
        return self.val_history.tolist() if self.val_history is not None else None

    @property
    def interrupted(self) -> bool:
        """Whether Ctrl-C stopped the run."""
        from gdcli.train.stopping import INTERRUPTED

        return self.stop is not None and self.stop.rule == INTERRUPTED

    @property
    def diverged_at(self) -> int | None:
        """The epoch at which the loss or the parameters stopped being finite."""
        return self.verdict.epoch

    @property
    def optimum_weight(self) -> list:
        """The least-squares line's weight."""
        return self.optimum_params["weight"]

    @property
    def optimum_bias(self) -> list:
        """The least-squares line's bias."""
        return self.optimum_params["bias"]

    @property
    def exact_optimum(self) -> bool:
        """Whether the optimum is the model's own (linear in its parameters), not the best straight line."""
        return self.model.linear_in_params

    @property
    def gap(self) -> float:
        """Final loss minus the least-squares optimum (negative: a network beat the best line); nan
        where the optimum was not computed."""
        return self.final_loss - self.optimum_loss if self.optimum_loss is not None else float("nan")

    @property
    def relative_gap(self) -> float | None:
        """The gap as a fraction of the optimum; None when the optimum is an exact fit or not computed."""
        if self.optimum_loss is None:
            return None
        return outcome.relative_gap(self.gap, self.optimum_loss, self.exact_fit)

    @property
    def seconds_per_epoch(self) -> float:
        """Wall time of the loop over epochs trained."""
        return self.seconds / max(1, self.epochs_computed)

    @property
    def ranking_loss(self) -> float:
        """The loss runs are ranked by: validation when there is a split, else training."""
        return self.final_val_loss if self.final_val_loss is not None else self.final_loss


def record_at(chunk: Chunk, epoch: int, run: int) -> EpochRecord:
    """One run's record of one epoch of a chunk, with parameters when the epoch was kept."""
    import torch

    i = chunk.row(epoch)
    val = float(chunk.val_loss[i, run]) if chunk.val_loss is not None else None
    lr = float(chunk.lrs[i, run]) if chunk.lrs is not None else None
    sharp = _sharpness_at(chunk, epoch, run)
    snap = chunk.snapshots.get(epoch)
    if snap is None:
        return EpochRecord(epoch, float(chunk.train_loss[i, run]), val, lr=lr, **sharp)
    theta, grad = snap
    params = chunk.model.named(theta[run].to("cpu", torch.float64))
    norm = float(torch.linalg.vector_norm(grad[run].double())) if grad is not None else None
    return EpochRecord(epoch, float(chunk.train_loss[i, run]), val, norm, params, lr, **sharp)


def _sharpness_at(chunk: Chunk, epoch: int, run: int) -> dict:
    """A record's sharpness and edge where the epoch was measured for the run (finite values only)."""
    found = chunk.sharpness.get(epoch) if chunk.sharpness else None
    if found is None or not bool(found[2][run]):
        return {}
    value, edge = float(found[0][run]), float(found[1][run])
    return {"sharpness": value if math.isfinite(value) else None, "edge": edge if math.isfinite(edge) else None}


def chunk_records(chunk: Chunk, run: int) -> Iterator[EpochRecord]:
    """Every EpochRecord of one run in a chunk; parameters and grad norm on the kept epochs."""
    for epoch in chunk.epochs:
        yield record_at(chunk, epoch, run)
