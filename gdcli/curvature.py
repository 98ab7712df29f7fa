"""The loss surface's sharpest direction at a point, for models without a closed form.

For a line the Hessian is constant and stats.py reads its largest eigenvalue off the
Gram matrix. A network's Hessian changes from point to point; at the starting
parameters its largest eigenvalue lambda says how large a step plain descent can take
there (lr < 2 / lambda) before the error along that direction grows. It is found by
block power iteration: multiply a few vectors by the Hessian (Hessian-vector products,
never the P x P matrix) until the best of their combinations stops turning. The
sharpness tracker (train/sharpness.py) runs the same iteration, warm-started.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

if TYPE_CHECKING:
    from torch import Tensor

    from gdcli.models import Model

ITERATIONS = 100  # at most this many block iterations per eigenvalue
TOLERANCE = 1e-6  # stop when the top Ritz pair's residual is below this, relative to its value
BLOCK = 8  # vectors iterated together
# The estimate at the start reads at most this many training rows, evenly spread: every block iteration
# reads its rows once per vector, and on 1e6 rows the book's network spent minutes there after a
# 3-epoch fit. The sharpness of the mean loss over an even spread of the rows is the whole data's to
# the spread's sampling error (a few percent for smooth data), and a local estimate besides.
START_ROWS = 1 << 16


def sharpness(
    model: Model,
    theta: Tensor,
    chunks: Callable[[], Iterable[tuple[Tensor, Tensor]]],
    n_rows: int,
    reduction: str,
) -> float:
    """The largest eigenvalue of the loss Hessian at one run's parameters theta (P,), in float64.

    `chunks()` gives the training rows afresh, chunk by chunk (float64); `n_rows` is
    their count. The largest eigenvalue (the most positive: a saddle's negative directions do
    not limit the step) comes from block power iteration (`largest`).
    """
    import torch

    theta = theta.detach().to(torch.float64).clone().requires_grad_(True)
    scale = 1.0 / (n_rows * model.targets) if reduction == "mean" else 1.0

    def hvp(block: Tensor) -> Tensor:
        total = torch.zeros_like(block)
        for X, y in chunks():
            residual = model.residuals(X, y, theta.view(1, -1))
            loss = residual.square().sum() * scale
            (grad,) = torch.autograd.grad(loss, theta, create_graph=True)
            for j in range(block.shape[1]):
                (hv,) = torch.autograd.grad(grad @ block[0, j], theta, retain_graph=True)
                total[0, j] += hv
        return total

    with torch.enable_grad():
        return float(largest(hvp, start_block(1, theta.shape[0]))[0][0])


def spread(chunks: Callable[[], Iterable[tuple[Tensor, Tensor]]], n_rows: int,
           most: int | None = None) -> tuple[Callable[[], Iterable[tuple[Tensor, Tensor]]], int]:
    """(chunks of every step-th row, their count): at most `most` (START_ROWS) of the `n_rows` rows
    that `chunks()` gives, evenly spread across its chunks (every row where there are no more)."""
    step = _spread_step(n_rows, most)
    if step == 1:
        return chunks, n_rows

    kept: list[tuple[Tensor, Tensor]] = []

    def every_step():
        # Read once, on the first call, and kept (at most `most` rows): every Hessian-vector product
        # reads the rows, and reading them is a pass over every row (their transform applied again).
        if not kept:
            start = 0
            for X, y in chunks():
                first = -start % step  # the first row of this chunk on the step's grid
                start += X.shape[0]
                if first < X.shape[0]:
                    kept.append((X[first::step].clone(), y[first::step].clone()))
        return kept

    return every_step, spread_rows(n_rows, most)


def spread_rows(n_rows: int, most: int | None = None) -> int:
    """How many of `n_rows` rows `spread` reads: every step-th row, the smallest step that leaves at
    most `most` (START_ROWS)."""
    return -(-n_rows // _spread_step(n_rows, most))


def _spread_step(n_rows: int, most: int | None) -> int:
    """The smallest step that leaves at most `most` (START_ROWS) of `n_rows` rows, every step-th read."""
    return max(1, -(-n_rows // (most or START_ROWS)))


def start_block(runs: int, size: int) -> Tensor:
    """A cold start for `largest`: BLOCK seeded random vectors (fewer for a small model) per run."""
    import torch

    gen = torch.Generator().manual_seed(0)
    return torch.randn(runs, min(BLOCK, size), size, generator=gen, dtype=torch.float64)


def largest(hvp: Callable[[Tensor], Tensor], start: Tensor, residual: float = TOLERANCE) -> tuple[Tensor, Tensor]:
    """The largest eigenvalue (runs,) of each run's Hessian, and the block to start the next search
    from (runs, k, P), by block power iteration from `start` (runs, k, P): `hvp` maps blocks of
    vectors (runs, k, P) to each run's H v for each.

    Iterating k vectors together and taking the best combination of them (Rayleigh-Ritz) converges
    at the ratio of the (k+1)-th eigenvalue to the first rather than the second to the first: the
    book's network starts with its two largest 2% apart, where plain power iteration takes
    hundreds of products. A run stops once |H x - lambda x| <= residual * |lambda| for its top Ritz
    pair (x, lambda), which puts lambda that close to an eigenvalue however close the others are;
    a start near the answer (the last measurement's block) settles in a few iterations.
    """
    import torch

    block = _orthonormal(start)
    runs = block.shape[0]
    top = torch.zeros(runs, dtype=torch.float64, device=block.device)
    done = torch.zeros(runs, dtype=torch.bool, device=block.device)
    for _ in range(ITERATIONS):
        products = hvp(block)  # (runs, k, P)
        small = block @ products.transpose(1, 2)  # the Hessian in the block's span, (runs, k, k)
        values, vectors = torch.linalg.eigh((small + small.transpose(1, 2)) / 2)
        best = vectors[:, :, -1].unsqueeze(1)  # (runs, 1, k): the top Ritz vector's coordinates
        x, hx = (best @ block).squeeze(1), (best @ products).squeeze(1)
        value = values[:, -1]
        miss = torch.linalg.vector_norm(hx - value.unsqueeze(1) * x, dim=1)
        top = torch.where(done, top, value)
        settled = (miss <= residual * value.abs()) | (torch.linalg.vector_norm(products.flatten(1), dim=1) == 0)
        moving = ~(done | settled)
        block = torch.where(moving.view(-1, 1, 1), _orthonormal(products), block)
        done = done | settled
        if bool(done.all()):
            break
    return top, block


def _orthonormal(block: Tensor) -> Tensor:
    """Orthonormal rows spanning each run's block (runs, k, P)."""
    import torch

    return torch.linalg.qr(block.transpose(1, 2)).Q.transpose(1, 2)


def edge(optim: str, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> float | None:
    """The edge of stability: the sharpness past which full-batch descent at `lr` grows the error along
    the top eigenvector, 2/lr (2(1 + m)/lr with heavy-ball momentum m; weight decay wd adds wd to every
    eigenvalue, so the loss's own edge is wd lower). None for adaptive optimizers, whose step is
    rescaled per parameter and which have no such edge."""
    if optim not in ("gd", "sgd") or not lr > 0:
        return None
    return 2.0 * (1.0 + momentum) / lr - weight_decay
