"""What a model is: Param, Model (one registry entry) and the registry (MODELS, register, get).

Every model keeps its parameters in one flat tensor `theta` of shape (runs, P): one
row per run, the parameters in the order of the equivalent torch.nn module's
state_dict, so that `weight` and `bias` (or `hidden_linear.weight` ...) are named
views into it. The leading run dimension is what lets a sweep train a hundred runs
as one tensor program and finite differences evaluate 2P + 1 parameter sets as
extra runs; nothing downstream knows the layout.

An entry (a Model subclass, registered under its `name`) gives:
- `predict(X, theta)`: predictions (n, runs, targets), batched over runs;
- `parameters()`: the names and shapes of its parameters;
- `initial(...)`: its default and named initializations;
- `gradient(...)`: its loss and hand-derived gradient (the `analytic` method);
- `module()`: the equivalent torch.nn module, which export fills;
- `design(X)`: the columns it reads from the raw features (`columns_per_feature` each);
- `linear_in_params`: whether the loss is quadratic in theta, so that a closed-form
  optimum, an exact stability bound, the `gram` method and --within exist;
- its words and settings: `help`, `header`, `settings`, `presets`, `no_export` ...

Help, validation, reports, plots, predict and export read the entry, so a new model is
one class and one `register` call. torch is imported inside the functions, so the CLI
can list MODELS without loading it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, ClassVar

if TYPE_CHECKING:
    from torch import Tensor

INITS = ("ones", "zeros", "randn", "uniform")


def loss_scale(n_rows: int, n_targets: int, reduction: str) -> float:
    """dL/d(pred) = scale * residual: 2/(n*targets) for the mean, 2 for the sum."""
    return 2.0 / (n_rows * n_targets) if reduction == "mean" else 2.0


def by_run(residual: Tensor) -> Tensor:
    """Residuals (n, runs, targets) as rows (runs * targets, n), each run's row contiguous.

    Reduced along those rows, a run's loss sums its rows exactly as a lone run's would,
    whatever else it is trained with (a sum down a column of many runs would take
    another order). For one run and one target this is a free view.
    """
    n = residual.shape[0]
    return residual.reshape(n, -1).T.contiguous()


def loss(residual: Tensor, reduction: str) -> Tensor:
    """Squared error per run, (runs,), of residuals (n, runs, targets): mean or sum over rows and targets."""
    runs, t = residual.shape[1], residual.shape[2]
    sq = by_run(residual).square()
    per = (sq.mean(1) if reduction == "mean" else sq.sum(1)).view(runs, t)
    if t == 1:
        return per[:, 0]
    return per.mean(1) if reduction == "mean" else per.sum(1)


def squared_norms(residual: Tensor, reduction: str) -> Tensor:
    """The same loss as `loss`, from each run's squared norm: no temporary as large as the rows.

    It rounds a little differently from a mean of squares (the book's formula, which `loss`
    keeps): the two agree to the dtype's precision, not to the bit.
    """
    import torch

    n, runs, t = residual.shape
    flat = residual.reshape(n, runs * t)
    if runs * t == 1:
        norms = torch.linalg.vector_norm(flat, dim=0).square_()
    else:
        # One column per run and target, reduced down the rows a block at a time: each
        # block's squares stay in cache (a strided norm, or squares of all rows at once,
        # cost ten times as much).
        block = max(1, (1 << 20) // (runs * t))
        norms = sum(part.square().sum(0) for part in flat.split(block))
    norms = norms.view(runs, t)
    per = norms.div_(n) if reduction == "mean" else norms
    if t == 1:
        return per[:, 0]
    return per.mean(1) if reduction == "mean" else per.sum(1)


class LineParams:
    """`weight` and `bias` of anything holding `params` by torch.nn name: a line's, None for a network's."""

    params: dict[str, list] | None

    @property
    def weight(self) -> list | None:
        """A line's weight (targets, inputs)."""
        return self.params.get("weight") if self.params is not None else None

    @property
    def bias(self) -> list | None:
        """A line's bias (targets,)."""
        return self.params.get("bias") if self.params is not None else None


@dataclass(frozen=True)
class Param:
    """One named parameter: its torch.nn name and shape."""

    name: str
    shape: tuple[int, ...]
    dims: tuple[str, ...] = ()  # what each dimension runs over, for messages: ("one row per target", ...)

    @property
    def size(self) -> int:
        """Number of values."""
        return math.prod(self.shape)


class Initial:
    """Starting parameters drawn from a model's `parameters()`: the part of Model that draws them."""

    def parameters(self) -> tuple[Param, ...]:
        """Names and shapes, in the flat order (the torch.nn module's state_dict order)."""
        raise NotImplementedError

    def initial(self, kind: str, *, seed: int, values: tuple[float, ...] = ()) -> Tensor:
        """Starting parameters (P,) in float64.

        ones: every weight 1, every bias 0 (the book's start); zeros; randn: standard
        normal from `seed`, parameter by parameter; uniform: torch.nn.Linear's own
        initialization, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) per layer, drawn as
        torch.manual_seed(seed) then constructing the module would draw it; values:
        explicit numbers in flat order.
        """
        import torch

        params = self.parameters()
        if kind == "values":
            return torch.tensor(values, dtype=torch.float64)
        if kind == "uniform":
            return self._uniform(torch.Generator().manual_seed(seed))
        gen = torch.Generator().manual_seed(seed)
        parts = []
        for p in params:
            if kind == "ones":
                parts.append(torch.ones(p.size) if p.name.endswith("weight") else torch.zeros(p.size))
            elif kind == "zeros":
                parts.append(torch.zeros(p.size))
            else:
                parts.append(torch.randn(p.size, generator=gen))
        return torch.cat(parts).double()

    def _uniform(self, gen) -> Tensor:
        import torch

        parts = []
        for weight, bias in zip(self.parameters()[0::2], self.parameters()[1::2]):
            fan_in = weight.shape[1]
            # torch.nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)), whose bound works
            # out to 1/sqrt(fan_in), computed the same way so that it rounds the same way.
            gain = math.sqrt(2.0 / (1 + math.sqrt(5) ** 2))
            bound = math.sqrt(3.0) * (gain / math.sqrt(fan_in))
            parts.append(torch.empty(weight.shape).uniform_(-bound, bound, generator=gen).reshape(-1))
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            parts.append(torch.empty(bias.shape).uniform_(-bound, bound, generator=gen))
        return torch.cat(parts).double()


@dataclass(frozen=True)
class Model(Initial):
    """A model of `features` raw inputs and `targets` outputs; subclasses give the arithmetic."""

    features: int
    targets: int
    hidden: int = 8
    activation: str = "tanh"

    # What the entry tells the rest of gdcli; a new model sets these and the arithmetic below.
    name: ClassVar[str] = ""  # its --model value
    summary: ClassVar[str] = ""
    help: ClassVar[str] = ""  # what --model's help says of it: "linear (HELP)"
    title: ClassVar[str] = ""  # how a sentence names it ("the MLP's loss"); "" for "the NAME model"
    noun: ClassVar[str] = "model"  # what a hint calls it ("stop the network with ...")
    linear_in_params: ClassVar[bool] = False  # a closed-form optimum, gram and --within apply
    default_init: ClassVar[str] = "ones"
    settings: ClassVar[tuple[str, ...]] = ()  # settings only this kind of model takes (hidden, activation)
    smaller: ClassVar[str | None] = None  # the setting that shrinks its per-row memory, for hints
    columns_per_feature: ClassVar[int] = 1  # columns it reads per raw feature (the quadratic's squares: 2)
    presets: ClassVar[dict[str, dict]] = {}  # built-in dataset -> what it changes in the dataset's preset
    no_export: ClassVar[str] = ""  # why export has no torch.nn module for it ("" where it has one)

    @classmethod
    def header(cls, cfg) -> str:
        """The model as a run's header names it, from the run's settings."""
        return cls.name

    @classmethod
    def load_width(cls) -> int:
        """Copies of each raw column held while its rows load: the raw columns and, where it
        derives columns (the quadratic's squares), those it reads."""
        return 1 if cls.columns_per_feature == 1 else 1 + cls.columns_per_feature

    @classmethod
    def called(cls) -> str:
        """The model in a sentence: "the MLP", or "the quadratic model"."""
        return f"the {cls.title}" if cls.title else f"the {cls.name} model"

    def float64_recipe(self, load: str) -> str:
        """How to build a float64 torch.nn module for it and `load` an exported state_dict."""
        return f"build the module, call .double() on it, then .{load}"

    @property
    def straight(self) -> bool:
        """Whether it is a straight line in the raw inputs (plots draw it by slope and intercept)."""
        return False

    @property
    def inputs(self) -> int:
        """Columns the model reads: the raw features, or more where the model derives some."""
        return self.features * self.columns_per_feature

    def input_names(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """Names of the columns the model reads, from the raw feature names."""
        return tuple(names)

    def parameters(self) -> tuple[Param, ...]:
        """Names and shapes, in the flat order (the torch.nn module's state_dict order)."""
        raise NotImplementedError

    @property
    def size(self) -> int:
        """P: parameters per run."""
        return sum(p.size for p in self.parameters())

    @functools.cached_property
    def _layout(self) -> tuple[tuple[str, ...], tuple[int, ...], tuple[tuple[int, ...], ...]]:
        params = self.parameters()
        return tuple(p.name for p in params), tuple(p.size for p in params), tuple(p.shape for p in params)

    def views(self, theta: Tensor) -> dict[str, Tensor]:
        """Named views (runs, *shape) into theta (runs, P); no copy (one split, then a view each)."""
        names, sizes, shapes = self._layout
        runs = theta.shape[0]
        return {name: part.view(runs, *shape) for name, part, shape in zip(names, theta.split(sizes, 1), shapes)}

    def named(self, theta: Tensor) -> dict[str, list]:
        """One run's parameters (P,) as JSON-ready nested lists by name."""
        return {name: view[0].tolist() for name, view in self.views(theta.reshape(1, -1)).items()}

    def flat(self, params: dict[str, list]) -> Tensor:
        """Inverse of `named`: (P,) float64 from nested lists by name."""
        import torch

        return torch.cat([torch.tensor(params[p.name], dtype=torch.float64).reshape(-1) for p in self.parameters()])

    def labels(self, features: tuple[str, ...], targets: tuple[str, ...]) -> list[str]:
        """A short label per parameter value, in flat order (for --init and `gdcli grad`)."""
        labels = []
        for p in self.parameters():
            labels += [f"{p.name}[{', '.join(map(str, i))}]" for i in _indices(p.shape)]
        return labels

    def row_width(self) -> int:
        """Values one step holds per row and run: a residual per target (and a network's hidden
        layer four times: before and after the activation, and their gradients)."""
        return self.targets

    def predict(self, X: Tensor, theta: Tensor) -> Tensor:
        """Predictions (n, runs, targets) for model inputs X (n, inputs) and theta (runs, P)."""
        raise NotImplementedError

    def residuals(self, X: Tensor, y: Tensor, theta: Tensor, out: Tensor | None = None) -> Tensor:
        """predict - y, (n, runs, targets); `out` (n, runs * targets) may receive them."""
        return self.predict(X, theta).sub_(y.unsqueeze(1))

    def residual_rows(self, X: Tensor, y: Tensor, theta: Tensor, out: Tensor | None = None) -> Tensor:
        """The residuals as rows (runs * targets, n), one per run and target: `residuals` seen
        transposed. A model that writes them in place takes `out` (the line does); others ignore it."""
        return self.residuals(X, y, theta).reshape(X.shape[0], -1).T

    def predict_one(self, X: Tensor, theta: Tensor) -> Tensor:
        """One run's predictions (n, targets) from its parameters (P,): the fewest autograd nodes."""
        return self.predict(X, theta.unsqueeze(0))[:, 0]

    def predict_run(self, X: Tensor, theta: Tensor) -> Tensor:
        """predict_one from the lone run's parameters as they are held, (1, P)."""
        return self.predict_one(X, theta.view(-1))

    def gradient(self, X: Tensor, y: Tensor, theta: Tensor, reduction: str, out: Tensor | None = None):
        """(loss (runs,), dL/dtheta (runs, P)) derived by hand, no autograd."""
        raise NotImplementedError

    def bound_gradient(self, X: Tensor, y: Tensor, theta: Tensor, reduction: str) -> Callable[[Tensor], None] | None:
        """`gradient` bound to its rows and parameters for many calls (Linear's says how), or None."""
        return None

    def symmetric(self, kind: str) -> bool:
        """Whether an initialization makes every hidden unit identical (so they stay identical)."""
        return False

    def module(self):
        """The equivalent torch.nn module (float64), or None where torch.nn has none."""
        return None

    def design(self, X):
        """The model's input columns from raw features X (n, k): X itself unless the model derives more."""
        return X


MODELS: dict[str, type[Model]] = {}  # --model's choices, in the order registered
DEFAULT = "linear"  # the model a run fits unless told otherwise (a header names only the others)


def register(model: type[Model]) -> type[Model]:
    """Make a Model subclass a choice of --model and of the API, under its `name` (usable as a decorator)."""
    from gdcli.registry import add

    if not (isinstance(model, type) and issubclass(model, Model)):
        raise ValueError(f"a model is a subclass of gdcli.models.Model, got {model!r}")
    return add(MODELS, model, "model")


def unregister(model) -> None:
    """Take a registered model away again (what a test that registers one does after it), given by its
    name or as itself."""
    from gdcli.registry import remove

    remove(MODELS, model)


def get(name: str) -> type[Model]:
    """The registered model called `name` (KeyError where none is)."""
    return MODELS[name]


def names(where: Callable[[type[Model]], bool] = lambda entry: True) -> tuple[str, ...]:
    """The registered models' names, those `where` accepts, in order."""
    return tuple(name for name, entry in MODELS.items() if where(entry))


def claims(setting: str) -> tuple[str, ...]:
    """The models that take a model-specific setting (--hidden: mlp)."""
    return names(lambda entry: setting in entry.settings)


def model_settings() -> tuple[str, ...]:
    """Every model-specific setting, once each, in the order the models declare them."""
    return tuple(dict.fromkeys(s for entry in MODELS.values() for s in entry.settings))


def linear_in_params(name: str | None) -> bool:
    """Whether the model `name` (None: the default) is linear in its parameters; an unknown name counts
    as linear, so that the later check of the settings names it."""
    entry = MODELS.get(name or DEFAULT)
    return entry is None or entry.linear_in_params


def build(name: str, features: int, targets: int, hidden: int = 8, activation: str = "tanh") -> Model:
    """The model `name` for `features` raw inputs and `targets` outputs."""
    return MODELS[name](features, targets, hidden, activation)


def of(cfg, features: int, targets: int) -> Model:
    """The model a RunConfig asks for."""
    return build(cfg.model, features, targets, cfg.hidden, cfg.activation)


def outputs(model: Model, params: dict[str, list], transform, X: Tensor) -> Tensor:
    """Predictions (n, targets) for raw inputs X (n, features): the model's columns, the training
    transform, then the forward pass, in float64 (what predict and the plots show)."""
    import torch

    X = transform.apply(model.design(X.to(torch.float64)))
    return model.predict(X, model.flat(params).unsqueeze(0))[:, 0]


def default_delta(model: str, dtype: str) -> float:
    """The finite-difference step for a model's loss in a dtype.

    A model linear in its parameters has a quadratic loss, whose central difference
    is exact at any step: 0.1 (the book's). Any other loss has a third derivative, and
    the step balances truncation (step^2) against rounding (eps / step): eps^(1/3).
    """
    if MODELS[model].linear_in_params:
        return 0.1
    eps = 2.0**-23 if dtype == "float32" else 2.0**-52
    return float(f"{eps ** (1 / 3):.2g}")


def _indices(shape: tuple[int, ...]):
    if not shape:
        yield ()
        return
    for i in range(shape[0]):
        for rest in _indices(shape[1:]):
            yield (i, *rest)
