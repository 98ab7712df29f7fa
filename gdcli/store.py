"""What a process keeps between trainers: the datasets read or drawn, their training tensors.

A file is read once and generated data drawn once per process, however many runs,
seeds, strategies and trainers use them; tensors prepared for one trainer serve every
other with the same data options. glibc is also asked, once, to keep freed memory.
"""

from __future__ import annotations

import functools
import os
import sys

from gdcli import data as datamod
from gdcli.config import RunConfig

_DATASETS: dict[tuple, datamod.Dataset] = {}  # the last few datasets loaded, oldest first
_KEEP = 8


def load(
    name: str,
    targets: tuple[str, ...],
    seed: int,
    rows: int | None,
    features: int | None = None,
    dtype: str | None = None,
    widen: int = 1,
    columns: tuple = ((), (), "error"),
) -> datamod.Dataset:
    """A dataset, read once per process however many runs, seeds and trainers use it.

    Generated data is sized before it is drawn (for training in `dtype`, when given, on
    `widen` times its columns: 3 for a model that adds each column's square beside it):
    data already in memory is not counted again.
    """
    entry = datamod.BUILTINS.get(name)
    generated = entry is not None and entry.generated
    key = _key(name, targets, seed, rows, features, columns)
    found = _DATASETS.pop(key, None)
    if found is None:
        if generated and rows is not None:
            datamod.check_memory(rows, (features or 1) * widen, dtype)
        inputs, drop, missing = columns
        found = datamod.load_dataset(name, targets=targets, seed=key[2], rows=rows, features=features,
                                     inputs=inputs, drop=drop, missing=missing)
        found = _one_copy(name, found, missing)
        if len(_DATASETS) >= _KEEP:
            _DATASETS.pop(next(iter(_DATASETS)))
    _DATASETS[key] = found  # the most recent last
    return found


load.cache_clear = _DATASETS.clear  # type: ignore[attr-defined]


def _one_copy(name: str, ds: datamod.Dataset, missing: str) -> datamod.Dataset:
    """A data file's rows too many to hold twice are dropped once read (and checked): the training tensors
    hold them, and each later read is a new pass over the file."""
    if not ds.held or not datamod.is_file(name):
        return ds
    if datamod.held_bytes(ds.n_rows, len(ds.features) + len(ds.targets)):
        return ds
    from pathlib import Path

    return datamod.unheld(ds, Path(name), missing)


def columns(cfg: RunConfig) -> tuple:
    """The settings that choose a data file's columns and rows: (inputs, drop, missing), for `load`."""
    return tuple(cfg.inputs), tuple(cfg.drop), cfg.missing


def _key(name: str, targets: tuple[str, ...], seed: int, rows: int | None, features: int | None,
         chosen: tuple = ((), (), "error")) -> tuple:
    """Where `load` keeps a dataset. Only generated data depends on the seed: a file is read once
    for every seed. Standard input is the stream it was read from (a test harness swaps sys.stdin
    between commands)."""
    entry = datamod.BUILTINS.get(name)
    generated = entry is not None and entry.generated
    stream = sys.stdin if name == datamod.STDIN else None
    # A file by its absolute path: a process that changes folder (a notebook, a test) reads another file.
    where = os.path.abspath(name) if datamod.is_file(name) else name
    return (where, targets, seed if generated else 0, rows, features, stream, chosen)


def keep(cfg: RunConfig, dataset: datamod.Dataset) -> None:
    """Hold rows read elsewhere (by a sweep's driver, for a Ray worker) as `load` would hold them
    for `cfg`, so that no trainer here reads the file again."""
    key = _key(cfg.dataset, tuple(cfg.targets), cfg.seed, cfg.rows, cfg.features, columns(cfg))
    _DATASETS.pop(key, None)
    if len(_DATASETS) >= _KEEP:
        _DATASETS.pop(next(iter(_DATASETS)))
    _DATASETS[key] = dataset

_DESIGNS: dict[tuple, tuple[datamod.Dataset, datamod.Dataset]] = {}  # (id(raw), model) -> (raw, derived)


def design(ds: datamod.Dataset, model) -> datamod.Dataset:
    """The dataset with the columns a model reads: itself, or (quadratic) its features and their
    squares, made once per dataset so that every trainer shares the derived rows and their tensors."""
    if model.inputs == model.features:
        return ds
    key = (id(ds), type(model))
    found = _DESIGNS.get(key)
    if found is None or found[0] is not ds:  # the raw dataset is held, so its id stays its own
        derived = datamod.Dataset(
            ds.name,
            model.design(ds.X) if ds.held else None,
            ds.y,
            model.input_names(ds.features),
            ds.targets,
            ds.description,
            ds.preset,
            ds.units,
            ds.source,
            locate=ds.locate,
            left_out=ds.left_out,
            dropped=ds.dropped,
            # Rows not held get their derived columns block by block, as they are read.
            blocks=None if ds.held else (lambda: ((model.design(X), y) for X, y in ds.row_blocks())),
            count=None if ds.held else ds.n_rows,
        )
        if len(_DESIGNS) >= _KEEP:
            _DESIGNS.pop(next(iter(_DESIGNS)))
        found = _DESIGNS[key] = (ds, derived)
    return found[1]


@functools.lru_cache(maxsize=8)
def prepared(ds: datamod.Dataset, scale, normalize, val_fraction, seed, dtype, device) -> datamod.Prepared:
    """A dataset's training tensors, made once per process for every trainer that shares them."""
    return datamod.prepare(
        ds, scale=scale, normalize=normalize, val_fraction=val_fraction, seed=seed, dtype=dtype, device=device
    )


def generated_rows(cfg: RunConfig) -> int | None:
    """Rows of generated data a config draws (None for data read from a file)."""
    entry = datamod.BUILTINS.get(cfg.dataset)
    if entry is None or not entry.generated:
        return None
    return cfg.rows if cfg.rows is not None else entry.default_rows


@functools.cache
def keep_freed_memory() -> None:
    """Ask glibc to keep freed memory for reuse instead of handing it back to the system.

    By default glibc returns any block above 128 KB (and the heap's free top) at once, so
    each epoch's temporaries are mapped and page-faulted anew: on a virtual machine that
    costs more than the arithmetic. Reusing them is what a caching allocator does on a GPU.
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl, for example): nothing to tune
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024)  # glibc's largest
    libc.mallopt(m_trim_threshold, 1024 * 1024 * 1024)
