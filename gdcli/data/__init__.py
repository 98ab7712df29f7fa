"""Datasets: the built-in registry, file loading, the split, scaling, and the memory a run needs.

A Dataset holds its columns as float64 numpy arrays from the moment they are read
(gdcli.readers reads CSV, gzip CSV and Parquet through pyarrow): no row is ever a
Python object. Data above HOLD_BYTES is not held: generated rows are drawn again,
a file's rows read again, block by block, and the training tensors are its one copy. Loading and listing never import torch, so `gdcli datasets`
answers at once and a bad file is reported before torch loads. `prepare` makes
the training tensors: it owns the train/validation split (index tensors), the
input transform that `predict` later replays, and the cast to the training dtype,
all in chunks, so that no second float64 copy of the data exists. The built-in
CSVs ship as the package `gdcli.builtin_data` (the top-level datasets/ folder).

Modules: dataset (Dataset), builtins (the registry of built-ins), generated (the
synthetic dataset), loading (a dataset by name), transform and tensors (the
training tensors), streamed (rows too many to hold, read again for every pass).
Here: the memory checks of generated data.
"""

from __future__ import annotations

# Read here as data.available_memory, so that one replacement (a test's) reaches every memory check.
from gdcli.memory import HEADROOM, available_memory  # noqa: F401
from gdcli.errors import GdcliError, param
from gdcli.text import plural
from gdcli.data.builtins import BUILTINS, Builtin, Shape, shapes  # noqa: F401
from gdcli.data.dataset import CHUNK_ROWS, STDIN, Dataset  # noqa: F401
from gdcli.data.generated import (  # noqa: F401
    DRAW_BLOCK,
    HOLD_BYTES,
    MAX_STEPPED,
    SYNTHETIC,
    SYNTHETIC_TARGETS,
    _synthetic,
    _synthetic_dataset,
    held_bytes,
    synthetic_blocks,
    synthetic_features,
)
from gdcli.data.loading import (  # noqa: F401
    _check_shape,
    is_file,
    load_csv,
    load_dataset,
    load_file,
    load_inputs,
    load_stdin,
    unheld,
)
from gdcli.data.tensors import Prepared, prepare, split_rows  # noqa: F401
from gdcli.data.transform import Transform  # noqa: F401


def generated_preview(name: str, *, seed: int, rows: int | None, features: int | None, head: int):
    """Generated data without drawing all of it: (a Dataset of its first `head` rows, its row count,
    a function giving every row block by block). The rows are those a fit with the same seed sees."""
    entry = BUILTINS[name]
    _check_shape(name, entry, rows, features)
    rows = entry.default_rows if rows is None else rows
    k = features or 1
    if rows * k > MAX_STEPPED:
        # The noise comes after every row's inputs in the generator's stream: torch steps through them one by one.
        raise GdcliError(
            f"{param('rows')} {rows:,} x {plural(k, 'feature')}: the targets of the first rows are drawn after all "
            f"{rows * k:.1e} inputs, too many to step past (at most {MAX_STEPPED:.0e})",
            f"use at most {MAX_STEPPED // k:,} {param('rows')}",
        )
    shown = min(rows, head)
    # Only the shown rows (or one block of rows) are held at a time: size those, not all the rows.
    check_memory(max(shown, min(rows, 16)), k, None)
    block = 16 * max(1, min(DRAW_BLOCK, CHUNK_ROWS // k) // 16)
    X, y = [], []
    for bx, by in synthetic_blocks(seed, rows, features, block=max(16, -(-shown // 16) * 16)):
        X.append(bx), y.append(by)
        if sum(b.shape[0] for b in X) >= shown:
            break
    import numpy as np

    ds = _synthetic_dataset(np.concatenate(X)[:shown], np.concatenate(y)[:shown], features or 1)
    return ds, rows, lambda: synthetic_blocks(seed, rows, features, block)


def generated_bytes(rows: int, features: int, itemsize: int) -> int:
    """Memory generated data takes: float64 as drawn where it is held (see HOLD_BYTES; rows above it are
    drawn again block by block), plus (to train, `itemsize` bytes a value) the training copy and the
    epoch's work: a residual, its square and a gradient term per row (autograd keeps about that many),
    and, for held rows, the split's gathered rows."""
    if held_bytes(rows, features + 1):
        return rows * ((features + 1) * 8 + ((features + 1) * 2 + 4) * itemsize)
    # One block of float64 rows at a time, and the split's place of each row (8 bytes).
    return rows * ((features + 1 + 4) * itemsize + (8 if itemsize else 0)) + HOLD_BYTES


def check_memory(rows: int, features: int, dtype: str | None) -> None:
    """Refuse generated data that would not fit in the memory available now, before drawing a row.

    `dtype` is the training dtype (a float32 or float64 copy is made to train), or None
    when the rows are only drawn (`gdcli datasets`).
    """
    itemsize = {"float32": 4, "float64": 8, None: 0}[dtype]
    need = generated_bytes(rows, features, itemsize)
    have = available_memory()
    if have is None or need <= HEADROOM * have:
        return
    held = held_bytes(rows, features + 1)
    per_row = generated_bytes(rows, features, itemsize) / rows
    fits = int(HEADROOM * have / per_row)
    kinds = ("float64 as drawn" + (f", {dtype} to train" if dtype else "")) if held else f"{dtype} to train"
    if fits < 1000:
        hint = f"use fewer {param('features')}"
    else:
        hint = f"use at most about {fits:,} rows here" + (f", or {param('dtype')} float32" if dtype == "float64" else "")
    raise GdcliError(
        f"{param('rows')} {rows:,} x {plural(features, 'feature')} needs about {need / 1024**3:.1f} GiB of memory"
        f" ({kinds}); {have / 1024**3:.1f} GiB is available",
        hint,
    )
