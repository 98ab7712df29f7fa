"""The synthetic dataset: rows drawn from a seed, all at once or block by block, the same rows either way."""

from __future__ import annotations

from typing import Iterator

from gdcli.data.dataset import CHUNK_ROWS, Dataset
from gdcli.errors import param
from gdcli.preset_lr import HALF_BOUND

def synthetic_features(k: int) -> tuple[str, ...]:
    """The synthetic dataset's feature names: x for one feature, x1..xK for more."""
    return ("x",) if k == 1 else tuple(f"x{i}" for i in range(1, k + 1))


SYNTHETIC_TARGETS = ("y",)
SYNTHETIC = (
    f"y = 1 + 2x + 0.1*noise with x ~ U(0,1), drawn from {param('seed')} ({param('rows')} N); "
    f"{param('features')} K draws x1..xK and sums them"
)

# lr: half the exact stability bound of the drawn rows (gdcli.preset_lr), which grows with K.
SYNTHETIC_PRESET = {"lr": HALF_BOUND, "epochs": 1000}

# Float64 bytes of rows above which data is not held but read again block by block (a new draw
# for generated data, a new read for a file): the training tensors are then the one copy.
HOLD_BYTES = 32 * 1024**2


def held_bytes(rows: int, columns: int) -> bool:
    """Whether `rows` rows of `columns` float64 values are small enough to hold (HOLD_BYTES)."""
    return rows * columns * 8 <= HOLD_BYTES


def _synthetic(seed: int, rows: int, features: int | None = None) -> Dataset:
    """x ~ U(0,1)^K and y = 1 + 2 (x_1 + ... + x_K) + 0.1 noise, drawn in chunks from one seeded generator.

    All of x is drawn first, then the noise, as earlier versions drew them at once:
    with K = 1 and the same seed the rows are the same. Rows above HOLD_BYTES are not
    held: each read draws them again, block by block (`synthetic_blocks`).
    """
    import torch

    k = features or 1
    if not held_bytes(rows, k + 1):
        return _redrawn(seed, rows, k)
    gen = torch.Generator().manual_seed(seed)
    x = torch.empty(rows, k, dtype=torch.float64)
    flat = x.view(-1)
    for start in range(0, flat.numel(), CHUNK_ROWS):
        flat[start : start + CHUNK_ROWS].uniform_(generator=gen)  # drawn one value after another
    y = torch.empty(rows, 1, dtype=torch.float64)
    for start, stop in _normal_chunks(rows):
        noise = torch.randn(stop - start, generator=gen, dtype=torch.float64)
        total = x[start:stop, 0] if k == 1 else x[start:stop].sum(1)
        y[start:stop, 0] = 1.0 + 2.0 * total + 0.1 * noise
    return _synthetic_dataset(x.numpy(), y.numpy(), k)



def _synthetic_dataset(X, y, k: int) -> Dataset:
    """A synthetic Dataset of drawn rows."""
    return Dataset(
        "synthetic", X, y, synthetic_features(k), SYNTHETIC_TARGETS, SYNTHETIC, SYNTHETIC_PRESET,
        source="synthetic dataset",
    )


def _redrawn(seed: int, rows: int, k: int) -> Dataset:
    """The synthetic Dataset, not held: every read draws the rows again, 4 MB of float64 a block (drawing
    in much smaller blocks costs more per row; larger ones hold more at once)."""
    import dataclasses

    block = 16 * max(1, (CHUNK_ROWS // 2) // (k + 1) // 16)
    states: dict = {}  # the noise generator's state past the inputs, found on the first read
    ds = _synthetic_dataset(None, None, k)
    return dataclasses.replace(ds, count=rows, blocks=lambda: synthetic_blocks(seed, rows, k, block, states, reuse=True))


def _normal_chunks(rows: int) -> Iterator[tuple[int, int]]:
    """Chunks of CHUNK_ROWS rows, the last one merged into the one before when shorter.

    torch's CPU normal sampler transforms uniform draws 16 at a time and redraws the
    last 16 of a tensor whose size is not a multiple of 16; a final chunk shorter than
    16 would take another path. Chunks of a multiple of 16 and a long last one draw
    exactly what one call for all the rows draws.
    """
    start = 0
    while start < rows:
        stop = rows if rows - start < 2 * CHUNK_ROWS else start + CHUNK_ROWS
        yield start, stop
        start = stop


# Rows per block when generated data is streamed (`gdcli datasets synthetic`): a multiple of 16.
DRAW_BLOCK = 4096
# Draws the generator may step past to reach the noise of the first rows (about 7 s per 1e9 on one core).
MAX_STEPPED = 10**10


def synthetic_blocks(seed: int, rows: int, features: int | None = None, block: int = DRAW_BLOCK,
                     states: dict | None = None, reuse: bool = False):
    """The synthetic dataset's rows as (X, y) float64 numpy blocks, exactly the rows `_synthetic` draws,
    holding one block at a time.

    `_synthetic` draws all of x, then all of the noise, from one generator. Here a second
    generator with the same seed is stepped past the x draws (in blocks: torch draws uniform
    values one after another, so the stream does not depend on how it is cut) and draws the
    noise block by block; within each of `_normal_chunks`' chunks the blocks are multiples of
    16 rows with a last block of at least 16, which torch's normal sampler draws exactly as one
    call for the chunk (see `_normal_chunks`). `states`, kept between calls, saves stepping past
    the inputs again: it keeps the noise generator's state once stepped. With `reuse` each block
    overwrites the one before (the reader must be done with a block before it asks for the next).
    """
    import torch

    k = features or 1
    gen_x = torch.Generator().manual_seed(seed)
    gen_noise = torch.Generator().manual_seed(seed)
    if states is not None and "noise" in states:
        gen_noise.set_state(states["noise"])
    else:
        _skip_uniform(gen_noise, rows * k)
        if states is not None:
            states["noise"] = gen_noise.get_state()
    # With `reuse`, every block is drawn into the same buffers (a block is at most block + 15 rows):
    # a pass then allocates nothing per block.
    most = min(rows, block + 15) if reuse else 0
    bufs = [torch.empty(most, k, dtype=torch.float64), torch.empty(most, dtype=torch.float64),
            torch.empty(most, 1, dtype=torch.float64)]
    for start, stop in _normal_chunks(rows):
        for lo, hi in _blocks(start, stop, block):
            m = hi - lo
            x, noise, y = (b[:m] for b in bufs) if reuse else (torch.empty(m, k, dtype=torch.float64),
                                                               torch.empty(m, dtype=torch.float64),
                                                               torch.empty(m, 1, dtype=torch.float64))
            x.view(-1).uniform_(generator=gen_x)
            noise.normal_(generator=gen_noise)
            # 1 + 2 x + 0.1 noise in place, each operation rounded as `_synthetic` rounds it.
            if k == 1:
                torch.mul(x[:, 0], 2.0, out=y[:, 0])
            else:
                torch.sum(x, 1, out=y[:, 0]).mul_(2.0)
            y[:, 0].add_(1.0).add_(noise.mul_(0.1))
            yield x.numpy(), y.numpy()


def _skip_uniform(gen, count: int) -> None:
    """Step a generator past `count` uniform float64 draws, a chunk at a time (no memory for all of them)."""
    import torch

    step = CHUNK_ROWS // 4  # 2 MB of scratch
    scratch = torch.empty(min(count, step), dtype=torch.float64)
    for start in range(0, count, step):
        scratch[: min(step, count - start)].uniform_(generator=gen)


def _blocks(start: int, stop: int, block: int) -> Iterator[tuple[int, int]]:
    """[start, stop) in blocks of `block` rows, the last one merged into the one before when shorter than 16."""
    lo = start
    while lo < stop:
        hi = stop if stop - (lo + block) < 16 else lo + block
        yield lo, hi
        lo = hi

