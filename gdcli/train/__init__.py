"""Training: RunConfig in, per-epoch records and RunResults out.

`Trainer` trains one or more runs that share a gradient method and optimizer as a
single tensor program; `fit` is a Trainer with one run. Its parts:

- plan.py: what will run (model, rows, groups of runs, start, optimizer settings), checked first;
- loop.py: one epoch, top to bottom, wrapped by the chunks between synchronizations;
- steps.py: the full-batch step (forward, loss, gradient, update), bound once per chunk;
- hooks.py: what happens at a synchronization point (divergence, stopping, history, Ctrl-C);
- summary.py: how every run ended (final losses, optimum, stability bound, verdict);
- stopping.py, interrupt.py, compiling.py: the stopping rules, Ctrl-C, --compile.
"""

from gdcli.config import RunConfig, resolve
from gdcli.result import Chunk, EpochRecord, RunResult, chunk_records, record_at
from gdcli.train.loop import SYNC_SECONDS
from gdcli.train.plan import HISTORY, MAX_CHUNK_ELEMENTS, MAX_HISTORY_BYTES, PER_RUN
from gdcli.train.summary import stable_lr_for
from gdcli.train.trainer import Trainer, fit

__all__ = [
    "Trainer",
    "EpochRecord",
    "RunResult",
    "Chunk",
    "fit",
    "resolve",
    "RunConfig",
    "record_at",
    "chunk_records",
    "stable_lr_for",
    "HISTORY",
    "MAX_CHUNK_ELEMENTS",
    "MAX_HISTORY_BYTES",
    "PER_RUN",
    "SYNC_SECONDS",
]
