"""The sharpness over training (--sharpness N): a sync-point hook that measures, for every run at
once, the largest eigenvalue of the full-batch training loss's Hessian, in float64.

Epoch e's loss is taken before its update, at the parameters after epoch e - 1 (epoch 1: the
start): that is where epoch e's sharpness is measured, at epoch 1, every N epochs, at the logged
epochs (so a table row always has one) and at each run's end; a run is not measured past its end.

How, from cheapest to most general:
- a model linear in its parameters has a constant Hessian, scale * [X 1]^T [X 1]: its top
  eigenvalue comes once from the decomposition that also gives the optimum;
- a small model with a hand gradient (P <= FULL_MAX): the whole Hessian from central differences
  of the gradient, 2P parameter sets per measurement as extra runs of one batched call, then
  eigvalsh. On a few rows autograd's double backward costs mostly per-call overhead; this is one
  call for every measurement of a chunk;
- otherwise: power iteration (curvature.largest) on Hessian-vector products, warm-started from
  each run's last eigenvector so that a measurement takes a few products; a product is a central
  difference of the hand gradient along v (two parameter sets per run), or autograd's double
  backward where the model has no hand gradient.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from gdcli import curvature, models
from gdcli.train.hooks import Ends, Sync, logged_epochs
from gdcli.train.plan import by_prep

if TYPE_CHECKING:
    from torch import Tensor

    from gdcli.train.plan import Plan

FULL_MAX = 64  # parameters up to which the whole Hessian is formed (2P gradients) rather than iterated
STEP = 6e-6  # central differences: about eps^(1/3) of float64, times max(1, |theta|)
RESIDUAL = 1e-6  # power iteration stops once |H v - lambda v| <= this * lambda: lambda is then that close
SET_ELEMENTS = 1 << 22  # parameter sets x rows x values per row one gradient call may hold


def wanted(every: int, base, first: int, last: int, ends: set) -> list[int]:
    """The epochs of first..last measured: 1, every `every`, the logged ones, and runs' ends."""
    found = set(range(-(-first // every) * every, last + 1, every))
    found.update(logged_epochs(base, first, last))
    found.update(e for e in ends if e is not None and first <= e <= last)
    if first == 1:
        found.add(1)
    return sorted(found)


class Sharpness:
    """Measure every run's sharpness at the chunk's measured epochs, and hand them to the chunk
    (`Chunk.sharpness`) and to each run's result (`of`)."""

    def __init__(self, plan: Plan, ends: Ends):
        import torch

        self.plan, self.ends, self.every = plan, ends, plan.base.sharpness
        # Per chunk: (its measured epochs, the sharpness (epochs, runs) float64 with nan where a run was
        # not measured, the edges (epochs, runs), which were measured (epochs, runs) bool).
        self.parts: list[tuple[list[int], Tensor, Tensor, Tensor]] = []
        self.stacked: tuple | None = None  # the parts joined, once results read them
        self.measure = Measure(plan)
        self.edge = torch.tensor([_edge(c, c.lr) for c in plan.configs], dtype=torch.float64)

    def at_sync(self, sync: Sync) -> None:
        """Measure the chunk's epochs for the runs still training there; runs after Snapshots."""
        import torch

        first, count = sync.first, sync.train.shape[0]
        last = first + count - 1
        epochs = wanted(self.every, self.plan.base, first, last, self.ends.all())
        if sync.stopped:
            epochs = sorted(set(epochs) | {last})  # Ctrl-C: the row of the last whole epoch
        runs = self.plan.runs
        ends = [self.ends.end(r) for r in range(runs)]
        pairs = [(e, r) for e in epochs for r in range(runs) if ends[r] is None or e <= ends[r]]
        if not pairs:
            return
        # The parameters each measured epoch's loss was taken at: after the epoch before (the chunk's
        # start for its first epoch), gathered on the device, then float64 on the CPU.
        at = {e: i for i, e in enumerate(epochs)}
        found = [sync.before if e == first else sync.thetas[e - 1 - first] for e in epochs]
        points = torch.stack(found).to("cpu", torch.float64)  # (epochs, runs, P)
        rows, index = torch.tensor([at[e] for e, _ in pairs]), torch.tensor([r for _, r in pairs])
        values = torch.full((len(epochs), runs), float("nan"), dtype=torch.float64)
        measured = torch.zeros(len(epochs), runs, dtype=torch.bool)
        values[rows, index], measured[rows, index] = self.measure(points[rows, index], index), True
        edges = torch.stack([self.edges_at(sync, e - first) for e in epochs])
        self.parts.append((epochs, values, edges, measured))
        self.stacked = None
        chunk = {e: (values[i], edges[i], measured[i]) for i, e in enumerate(epochs)}
        if sync.chunk is not None:
            sync.chunk.sharpness = chunk

    def edges_at(self, sync: Sync, row: int) -> Tensor:
        """Every run's edge of stability at one epoch of the chunk: of the epoch's lr under a schedule."""
        import torch

        if sync.lrs is None:
            return self.edge
        lrs = sync.lrs[row].tolist()
        return torch.tensor([_edge(c, lr) for c, lr in zip(self.plan.configs, lrs)], dtype=torch.float64)

    def of(self, run: int) -> tuple[Tensor, Tensor, Tensor]:
        """(epochs (m,) int64, sharpness (m,) float64, edge (m,) float64, nan without one) of one run."""
        import torch

        if self.stacked is None:
            parts = self.parts or [([], torch.empty(0, self.plan.runs, dtype=torch.float64),
                                    torch.empty(0, self.plan.runs, dtype=torch.float64),
                                    torch.empty(0, self.plan.runs, dtype=torch.bool))]
            epochs = torch.tensor([e for part in parts for e in part[0]], dtype=torch.int64)
            self.stacked = (epochs, *(torch.cat([part[i] for part in parts]) for i in (1, 2, 3)))
        epochs, values, edges, measured = self.stacked
        mine = measured[:, run]
        return epochs[mine], values[mine, run], edges[mine, run]


def _edge(cfg, lr: float) -> float:
    value = curvature.edge(cfg.optim, lr, cfg.momentum, cfg.weight_decay)
    return float("nan") if value is None else value


class Measure:
    """The sharpness of parameter sets (S, P) float64, each of the run `index` (S,) names, on that
    run's training rows (float64, as the final losses are measured)."""

    def __init__(self, plan: Plan):
        import torch

        self.plan, self.model, self.reduction = plan, plan.model, plan.base.reduction
        self.groups = by_prep(plan.prepared)
        self.hand = type(self.model).gradient is not models.Model.gradient
        self.blocks: Tensor | None = None  # each run's last block (runs, k, P): the next iteration's start
        self.rows: dict[int, list] = {}
        self.constant = None
        if self.model.linear_in_params:
            self.constant = torch.full((plan.runs,), float("nan"), dtype=torch.float64)
            for runs, prep in self.groups:
                top = prep.solution(plan.solve_plan).top
                if top is not None:
                    scale = models.loss_scale(prep.n_train, len(prep.dataset.targets), self.reduction)
                    self.constant[runs] = scale * top

    def __call__(self, thetas: Tensor, index: Tensor) -> Tensor:
        """The sharpness of every set, nan where its parameters are not finite."""
        import torch

        if self.constant is not None:
            return self.constant[index]
        out = torch.full((thetas.shape[0],), float("nan"), dtype=torch.float64)
        finite = torch.isfinite(thetas).all(1)
        for runs, prep in self.groups:
            mine = finite & torch.isin(index, torch.tensor(runs))
            if bool(mine.any()):
                out[mine] = self._measure(thetas[mine], index[mine], prep)
        return out

    def _measure(self, thetas: Tensor, index: Tensor, prep) -> Tensor:
        import torch

        if self.hand and self.model.size <= FULL_MAX:
            return self._full(thetas, prep)
        if self.blocks is None:
            self.blocks = curvature.start_block(self.plan.runs, self.model.size)
        values = torch.empty(thetas.shape[0], dtype=torch.float64)
        # Epoch by epoch (the sets come epoch-major, each run once an epoch), every run of an epoch at
        # once, each starting from its last block.
        for part in _epochs(index.tolist()):
            runs = index[part]
            hvp = self._hvp(thetas[part], prep)
            with torch.enable_grad():
                top, blocks = curvature.largest(hvp, self.blocks[runs], RESIDUAL)
            values[part] = top
            fine = torch.isfinite(blocks).flatten(1).all(1)
            self.blocks[runs[fine]] = blocks[fine]
        return values

    def _full(self, thetas: Tensor, prep) -> Tensor:
        """The whole Hessian of each set by central differences of the hand gradient, then eigvalsh."""
        import torch

        S, P = thetas.shape
        steps = STEP * thetas.abs().clamp(min=1.0)  # (S, P)
        # Row i of set s: theta_s + h_i e_i, then theta_s - h_i e_i; each is one more "run" of one call.
        offsets = torch.diag_embed(steps)  # (S, P, P)
        shifted = torch.stack([thetas.unsqueeze(1) + offsets, thetas.unsqueeze(1) - offsets], 2)  # (S, P, 2, P)
        grads = self.gradient(shifted.view(S * P * 2, P), prep).view(S, P, 2, P)
        hessian = (grads[:, :, 0] - grads[:, :, 1]) / (2 * steps.unsqueeze(2))  # row i: d(grad)/d(theta_i)
        hessian = (hessian + hessian.transpose(1, 2)) / 2
        out = torch.full((S,), float("nan"), dtype=torch.float64)
        ok = torch.isfinite(hessian).flatten(1).all(1)
        if bool(ok.any()):
            out[ok] = torch.linalg.eigvalsh(hessian[ok])[:, -1]
        return out

    def _hvp(self, thetas: Tensor, prep) -> Callable[[Tensor], Tensor]:
        """Blocks (S, k, P) -> H v at each set's parameters (S, P): central differences of the hand
        gradient (2k sets per set, one call), or double backward."""
        import torch

        if self.hand:
            steps = STEP * thetas.abs().amax(1).clamp(min=1.0).view(-1, 1, 1)  # (S, 1, 1)

            def by_difference(block: Tensor) -> Tensor:
                S, k, P = block.shape
                ahead, back = thetas.unsqueeze(1) + steps * block, thetas.unsqueeze(1) - steps * block
                grads = self.gradient(torch.stack([ahead, back], 2).view(S * k * 2, P), prep).view(S, k, 2, P)
                return (grads[:, :, 0] - grads[:, :, 1]) / (2 * steps)

            return by_difference
        point = thetas.clone().requires_grad_(True)

        def by_autograd(block: Tensor) -> Tensor:
            total = torch.zeros_like(block)
            for X, y in self._rows(prep):
                residual = self.model.residuals(X, y, point)
                loss = residual.square().sum() * self._scale(prep)  # the sets' losses are independent
                (grad,) = torch.autograd.grad(loss, point, create_graph=True)
                for j in range(block.shape[1]):
                    (hv,) = torch.autograd.grad((grad * block[:, j]).sum(), point, retain_graph=True)
                    total[:, j] += hv
            return total

        return by_autograd

    def _scale(self, prep) -> float:
        return 1.0 / (prep.n_train * self.model.targets) if self.reduction == "mean" else 1.0

    def gradient(self, thetas: Tensor, prep) -> Tensor:
        """The full-batch gradient (S, P) of every set, by the model's hand gradient, a bounded number of
        sets and rows at a time."""
        import torch

        total = torch.zeros_like(thetas)
        width = self.model.row_width()
        for X, y in self._rows(prep):
            weight = X.shape[0] / prep.n_train if self.reduction == "mean" else 1.0
            block = max(1, SET_ELEMENTS // max(1, X.shape[0] * width))
            for start in range(0, thetas.shape[0], block):
                part = thetas[start : start + block]
                total[start : start + block] += weight * self.model.gradient(X, y, part, self.reduction)[1]
        return total

    def _rows(self, prep) -> list:
        """The training rows in float64 chunks; kept when they are one chunk (small data is read once)."""
        from gdcli import stats

        if id(prep) in self.rows:
            return self.rows[id(prep)]
        chunks = prep.reference("train")
        if prep.n_train > stats.CHUNK_ROWS:
            return chunks
        self.rows[id(prep)] = list(chunks)
        return self.rows[id(prep)]


def _epochs(runs: list[int]) -> list[slice]:
    """The sets of each measured epoch: runs of increasing run numbers (the sets come epoch-major)."""
    parts, start = [], 0
    for i in range(1, len(runs) + 1):
        if i == len(runs) or runs[i] <= runs[i - 1]:
            parts.append(slice(start, i))
            start = i
    return parts
