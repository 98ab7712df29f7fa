"""Update rules: turn theta.grad into a step.

`gd` is the book's hand-written update; the others are torch.optim's own
optimizers, used as they are. Every one of these acts on each parameter entry
independently, so running it on a (runs, ...) tensor is the same as running it
once per run, provided the runs share their hyper-parameters. When a sweep gives
each run its own learning rate (or momentum), torch.optim cannot take a tensor of
them; for gd, sgd and adam the batched rules below follow torch.optim's
arithmetic step for step with a hyper-parameter per run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from gdcli.registry import add, lookup, remove

from gdcli.errors import param

if TYPE_CHECKING:
    from torch import Tensor


class GD:
    """Plain gradient descent, p <- p - lr * grad, as the book writes it under no_grad."""

    def __init__(self, params: list[Tensor], lr: float | Tensor, **_: float):
        self.params = params
        # Aliases sharing storage with the leaves: in-place updates on them need
        # no no_grad() block, and the step happens after backward, so autograd
        # never sees a modified saved tensor.
        self._data = [p.detach() for p in params]
        self.lr = lr
        self._per_run = not isinstance(lr, (int, float))
        # torch rounds alpha to the parameters' dtype: so does this.
        self._neg_lr = (-lr).to(params[0].device, params[0].dtype) if self._per_run else None

    def set_lr(self, lr) -> None:
        """A schedule's new lr: (runs,) float64 values, one per run (all equal for a shared lr)."""
        if self._per_run:
            self._neg_lr.copy_(_column(-lr, self._neg_lr))
        else:
            self.lr = float(lr[0])

    def step(self) -> None:
        """Apply one update."""
        for p, data in zip(self.params, self._data):
            if self._per_run:
                # addcmul_ rounds p + g * (-lr) once, exactly as add_(g, alpha=-lr) does.
                data.addcmul_(p.grad, self._neg_lr)
            else:
                data.sub_(p.grad, alpha=self.lr)


class BatchedSGD:
    """torch.optim.SGD's update (momentum, no dampening) with a learning rate and momentum per run."""

    def __init__(self, params: list[Tensor], lr: Tensor, momentum: Tensor, weight_decay: float = 0.0, **_):
        self.params, self._data = params, [p.detach() for p in params]
        device, dtype = params[0].device, params[0].dtype
        self.lr, self.weight_decay = lr, weight_decay
        self.momentum = momentum.to(device, dtype)
        self._neg_lr = (-lr).to(device, dtype)
        self._buf: list[Tensor | None] = [None] * len(params)

    def set_lr(self, lr) -> None:
        """A schedule's new lr per run ((runs,) float64)."""
        self._neg_lr.copy_(_column(-lr, self._neg_lr))

    def step(self) -> None:
        """Apply one update."""
        for i, (p, data) in enumerate(zip(self.params, self._data)):
            d_p = p.grad if self.weight_decay == 0 else p.grad.add(data, alpha=self.weight_decay)
            buf = self._buf[i]
            # The first step seeds the buffer with the gradient itself, as torch does.
            buf = d_p.clone() if buf is None else buf.mul_(self.momentum).add_(d_p)
            self._buf[i] = buf
            # One rounding, as torch.optim.SGD's add_(buf, alpha=-lr).
            data.addcmul_(buf, self._neg_lr)


class BatchedAdam:
    """torch.optim.Adam's update (amsgrad off) with a learning rate per run."""

    def __init__(
        self,
        params: list[Tensor],
        lr: Tensor,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        **_,
    ):
        import torch

        self.params, self._data = params, [p.detach() for p in params]
        # torch.optim divides the (double) learning rate by the bias correction in
        # double precision; keep lr in float64 so each step size rounds the same way.
        # It lives on the parameters' device (copied once, not every step), except
        # where that device has no float64.
        device = params[0].device
        self.lr = lr.to(device if device.type != "mps" else "cpu", torch.float64)
        self.betas, self.eps, self.weight_decay = betas, eps, weight_decay

        self._m = [torch.zeros_like(p) for p in params]
        self._v = [torch.zeros_like(p) for p in params]
        self._step = 0

    def set_lr(self, lr) -> None:
        """A schedule's new lr per run ((runs,) float64), kept in float64 as torch.optim keeps it."""
        self.lr.copy_(_column(lr, self.lr))

    def step(self) -> None:
        """Apply one update."""
        beta1, beta2 = self.betas
        self._step += 1
        bias1 = 1 - beta1**self._step
        bias2_sqrt = math.sqrt(1 - beta2**self._step)
        for p, data, m, v in zip(self.params, self._data, self._m, self._v):
            grad = p.grad if self.weight_decay == 0 else p.grad.add(data, alpha=self.weight_decay)
            m.lerp_(grad, 1 - beta1)
            v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (v.sqrt() / bias2_sqrt).add_(self.eps)
            # torch's addcdiv_(m, denom, value=-lr/bias1) computes p + (value * m) / denom:
            # the same order here, so every run rounds as it would alone.
            data.add_((-self.lr / bias1).to(data.device, data.dtype) * m / denom)


def _column(values, like: Tensor) -> Tensor:
    """(runs,) NumPy values as a (runs, 1) tensor of `like`'s dtype (copied to its device by copy_)."""
    import torch

    return torch.from_numpy(values).to(like.dtype).view(-1, 1)


@dataclass(frozen=True)
class Optimizer:
    """A registry entry: an update rule, the settings it takes, how it is built, and its words."""

    name: str  # its --optim value
    description: str  # what help says of it
    takes: tuple[str, ...] = ("lr",)  # which of SETTINGS it takes
    torch_class: str | type | None = None  # the torch.optim class it builds (or its name there)
    rule: Callable[..., object] | None = None  # or gdcli's own update rule (gd), where it has no torch class
    batched: Callable[..., object] | None = None  # the rule with a hyper-parameter per run, where it has one

    def build(self, params: list[Tensor], **hp: float) -> object:
        """The optimizer over `params` with hyper-parameters shared by every run."""
        if self.rule is not None:
            return self.rule(params, **hp)
        import torch

        cls = getattr(torch.optim, self.torch_class) if isinstance(self.torch_class, str) else self.torch_class
        return cls(params, **{k: v for k, v in hp.items() if k in self.takes})


SETTINGS = ("lr", "momentum", "weight_decay")  # the settings an optimizer may take
OPTIMIZERS: dict[str, Optimizer] = {}  # --optim's choices, in the order registered


def register(entry: Optimizer) -> Optimizer:
    """Make an update rule a choice of --optim and of the API, under its `name`."""
    if "lr" not in entry.takes or any(name not in SETTINGS for name in entry.takes):
        raise ValueError(f"an optimizer takes lr and any of {', '.join(SETTINGS[1:])}, got {entry.takes}")
    if (entry.torch_class is None) == (entry.rule is None):
        raise ValueError(f"optimizer {entry.name!r} needs a torch.optim class or a rule (one of them)")
    return add(OPTIMIZERS, entry, "optimizer")


def unregister(entry) -> None:
    """Take a registered optimizer away again (what a test that registers one does after it). Given by its name or as itself."""
    remove(OPTIMIZERS, entry)


def get(name: str) -> Optimizer:
    """The optimizer called `name`; an unknown name is a GdcliError listing the registered ones."""
    return lookup(OPTIMIZERS, name, "optim")


_DECAY = ("lr", "weight_decay")
_MOMENTUM = ("lr", "momentum", "weight_decay")
register(Optimizer("gd", "p <- p - lr * grad, by hand under no_grad", ("lr",), rule=GD, batched=GD))
register(Optimizer("sgd", f"torch.optim.SGD ({param('momentum')})", _MOMENTUM, "SGD", batched=BatchedSGD))
register(Optimizer("adam", "torch.optim.Adam", _DECAY, "Adam", batched=BatchedAdam))
register(Optimizer("adamw", f"torch.optim.AdamW (decoupled {param('weight_decay')})", _DECAY, "AdamW"))
register(Optimizer("rmsprop", f"torch.optim.RMSprop ({param('momentum')})", _MOMENTUM, "RMSprop"))
register(Optimizer("adagrad", "torch.optim.Adagrad", _DECAY, "Adagrad"))
register(Optimizer("adamax", "torch.optim.Adamax", _DECAY, "Adamax"))
register(Optimizer("nadam", "torch.optim.NAdam", _DECAY, "NAdam"))
register(Optimizer("radam", "torch.optim.RAdam", _DECAY, "RAdam"))
register(Optimizer("rprop", "torch.optim.Rprop (sign-based, full batch)", ("lr",), "Rprop"))


def build(name: str, params: list[Tensor], **hp: float | Tensor) -> object:
    """An optimizer over `params`. Tensor hyper-parameters (one per run) need the batched form."""
    entry = get(name)
    scalars = all(isinstance(v, (int, float)) for v in hp.values())
    if name == "sgd" and scalars and not hp.get("momentum") and not hp.get("weight_decay"):
        # Without momentum or decay torch.optim.SGD's step (on the CPU, and for one tensor on a
        # GPU) is p.add_(grad, alpha=-lr): GD's update to the bit, without torch.optim's
        # per-step bookkeeping, which costs more than the update on a small model.
        return GD(params, hp["lr"])
    if not scalars:
        if entry.batched is None:
            raise ValueError(f"{name} has no batched form")
        return entry.batched(params, **hp)
    return entry.build(params, **hp)
