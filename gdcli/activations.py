"""The MLP's nonlinearities, one registry entry each: --activation's choices.

An entry carries everything about its activation: the torch function, its derivative
written from the output h (and input z) for the hand-derived gradient, that derivative as
text (what `grad --explain` prints), the torch.nn module export builds, and the words of
--activation's help. A new activation is one `register` call:

    register(Activation("softplus", F.softplus, lambda h, z: torch.sigmoid(z),
                        "sigmoid(z)", torch.nn.Softplus, "log(1 + e^z)"))

The built-ins name torch's function and module lazily, so that listing them loads no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from gdcli.registry import Names, add, lookup, remove

if TYPE_CHECKING:
    from torch import Tensor


@dataclass(frozen=True)
class Activation:
    """A nonlinearity h = f(z) and everything gdcli reads of it."""

    name: str  # its --activation value
    forward: Callable[[Tensor], Tensor]  # z -> h, elementwise
    derivative: Callable[[Tensor, Tensor], Tensor]  # (h, z) -> dh/dz, elementwise
    formula: str  # the derivative as `grad --explain` writes it: "1 - h²"
    module: Callable[[], Any]  # the torch.nn module class (called with no arguments)
    description: str = ""  # what --activation's help says of it


ACTIVATIONS: dict[str, Activation] = {}  # --activation's choices, in the order registered
ACTIVATION_NAMES = Names(ACTIVATIONS)  # their names, as a tuple would list them


def register(entry: Activation) -> Activation:
    """Make an activation a choice of --activation and of the API, under its `name`."""
    return add(ACTIVATIONS, entry, "activation")


def unregister(entry) -> None:
    """Take a registered activation away again (what a test that registers one does after it). Given by its name or as itself."""
    remove(ACTIVATIONS, entry)


def get(name: str) -> Activation:
    """The activation called `name`; an unknown name is a GdcliError listing the registered ones."""
    return lookup(ACTIVATIONS, name, "activation")


def _torch_function(name: str) -> Callable:
    """torch.NAME, looked up when called: listing the built-ins imports no torch."""

    def forward(z):
        import torch

        return getattr(torch, name)(z)

    forward.__name__ = name
    return forward


def _nn_module(name: str) -> Callable[[], Any]:
    """A torch.nn.NAME module, built when called."""

    def module():
        import torch

        return getattr(torch.nn, name)()

    module.__name__ = name
    return module


register(Activation("tanh", _torch_function("tanh"), lambda h, z: 1 - h * h, "1 - h²", _nn_module("Tanh"),
                    "the book's (torch.nn.Tanh)"))
register(Activation("relu", _torch_function("relu"), lambda h, z: (z > 0).to(h.dtype), "1 where z > 0, else 0",
                    _nn_module("ReLU"), "max(0, z) (torch.nn.ReLU)"))
register(Activation("sigmoid", _torch_function("sigmoid"), lambda h, z: h * (1 - h), "h (1 - h)",
                    _nn_module("Sigmoid"), "1 / (1 + e^-z) (torch.nn.Sigmoid)"))
