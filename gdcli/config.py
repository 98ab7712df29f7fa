"""Run settings: one frozen RunConfig per run, resolved from options and presets, validated.

Pure Python: the CLI builds and checks configs without loading torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from gdcli import data as datamod
from gdcli import models
from gdcli.text import one_of, plural
from gdcli.errors import GdcliError, param
from gdcli.schedules import TAKES, default_gamma, default_step_size
from gdcli import constraints
from gdcli.rules import RULES, schedule_takes

INITS = ("ones", "zeros", "randn", "uniform")  # as models.INITS (config stays free of torch)
from gdcli.activations import ACTIVATION_NAMES  # noqa: E402,F401 - a live view of the registry
# The settings' ranges live in the table of settings; their names stay importable from here.
from gdcli.constraints import (  # noqa: E402,F401
    DEVICES,
    DTYPE_MAX,
    DTYPE_TINY,
    DTYPES,
    MAX_HIDDEN,
    MAX_SEED,
    PATIENCE,
    REDUCTIONS,
    device_ok,
    init_values,
)
from gdcli.rules import rounds_to_zero  # noqa: E402,F401


def _default(name: str):
    return constraints.setting(name).default


@dataclass(frozen=True)
class RunConfig:
    """Every setting of one training run. Defaults from the table of settings (constraints.SETTINGS);
    dataset presets override them."""

    dataset: str = _default("dataset")
    model: str = _default("model")  # a key of models.MODELS
    hidden: int = _default("hidden")  # the MLP's hidden units
    activation: str = _default("activation")  # the MLP's nonlinearity
    method: str = _default("method")
    optim: str = _default("optim")
    lr: float = _default("lr")
    epochs: int = _default("epochs")
    momentum: float = _default("momentum")
    weight_decay: float = _default("weight_decay")
    delta: float = _default("delta")  # finite-difference step
    scale: float = _default("scale")  # inputs are multiplied by this (the book's 0.1)
    normalize: bool = _default("normalize")  # standardize features with the training rows' statistics
    val_fraction: float = _default("val_fraction")
    batch_size: int | None = _default("batch_size")  # None: the whole training set, one step per epoch
    reduction: str = _default("reduction")
    dtype: str = _default("dtype")  # float32 by default, so the numbers match PyTorch's own
    device: str = _default("device")
    seed: int = _default("seed")
    init: str = _default("init")  # ones, zeros, randn, uniform, or explicit numbers "1,0" (mlp: uniform)
    targets: tuple[str, ...] = _default("targets")  # CSV target columns; default the last one
    inputs: tuple[str, ...] = _default("inputs")  # CSV input columns; default every numeric one not left out
    drop: tuple[str, ...] = _default("drop")  # CSV columns left out
    missing: str = _default("missing")  # a row with a gap: "error", or "drop" it
    rows: int | None = _default("rows")  # rows drawn for the synthetic dataset (None: 100)
    features: int | None = _default("features")  # features of the synthetic dataset (None: 1)
    compile: bool = _default("compile")  # run the full-batch epoch step through torch.compile
    log_every: int | None = _default("log_every")  # None: a tenth of the run
    # Stopping early: no improvement by `tol` for `patience` epochs, or within `within` of the optimum.
    tol: float | None = _default("tol")
    patience: int | None = _default("patience")
    within: float | None = _default("within")
    # The lr schedule (schedules.SCHEDULES) and its settings; None where the schedule takes none.
    schedule: str = _default("schedule")
    step_size: int | None = _default("step_size")
    gamma: float | None = _default("gamma")
    max_lr: float | None = _default("max_lr")  # onecycle's peak (None: the run's lr)
    sharpness: int | None = _default("sharpness")  # epochs between sharpness measurements (None: none)
    memory_limit: str | None = _default("memory_limit")  # "4GB": beyond it data streams (None: what is available)

    @property
    def every(self) -> int:
        """Epochs between logged rows."""
        return self.log_every or max(1, self.epochs // 10)

    def logged(self, epoch: int) -> bool:
        """Whether an epoch gets a row in the table: 1-3, every `every`, and the last."""
        return epoch <= 3 or epoch % self.every == 0 or epoch == self.epochs

    def to_dict(self) -> dict:
        """JSON-ready form."""
        d = asdict(self)
        for name in ("targets", "inputs", "drop"):
            d[name] = list(getattr(self, name))
        return d


def resolve(dataset: str | None = "celsius", **given) -> RunConfig:
    """A validated RunConfig: explicit options over the dataset's preset over defaults."""
    if dataset is not None and not dataset.strip():
        raise GdcliError(f"{param('dataset')} is empty", "name a built-in dataset (gdcli datasets) or a CSV file")
    dataset = dataset or "celsius"
    options = {k: v for k, v in given.items() if v is not None}
    model = options.get("model", models.DEFAULT)
    entry = datamod.BUILTINS.get(dataset)
    kind = models.MODELS.get(model)
    preset = {**entry.preset, **(kind.presets.get(dataset, {}) if kind else {})} if entry is not None else {}
    if kind is not None:
        _model_defaults(kind, options, preset)
    settings = {**preset, **options}
    _stopping_defaults(settings)
    _schedule_defaults(settings)
    cfg = RunConfig(dataset=dataset, **settings)
    validate(cfg)
    return cfg


def _model_defaults(kind, options: dict, preset: dict) -> None:
    """The model's own defaults (its start; for a loss not quadratic in the parameters, a
    finite-difference step), and a refusal of the settings of other models."""
    for name in models.model_settings():
        if name in options and name not in kind.settings:
            owners = one_of(f"{param('model')} {owner}" for owner in models.claims(name))
            raise GdcliError(
                f"{param(name)} applies to {owners}, not to {param('model')} {kind.name}",
                f"drop {param(name)}, or add {owners}",
            )
    if kind.default_init != RunConfig.init:
        options.setdefault("init", kind.default_init)
    if not kind.linear_in_params:
        dtype = options.get("dtype", preset.get("dtype", "float32"))
        options.setdefault("delta", models.default_delta(kind.name, dtype))


def _stopping_defaults(settings: dict) -> None:
    """--tol alone waits PATIENCE epochs; --patience alone counts any improvement (tol 0)."""
    if settings.get("tol") is not None:
        settings.setdefault("patience", PATIENCE)
    elif settings.get("patience") is not None:
        settings["tol"] = 0.0


def _schedule_defaults(settings: dict) -> None:
    """The schedule's settings: refused where the schedule takes none, defaulted where it needs one."""
    schedule = settings.get("schedule", "constant")
    if schedule not in TAKES:
        return  # validate names it
    schedule_takes(schedule, {name: settings.get(name) for name in ("step_size", "gamma", "max_lr")})
    epochs = settings.get("epochs", RunConfig.epochs)
    if "step_size" in TAKES[schedule] and settings.get("step_size") is None:
        settings["step_size"] = default_step_size(epochs)
    if "gamma" in TAKES[schedule] and settings.get("gamma") is None:
        settings["gamma"] = default_gamma(schedule, epochs)


def validate(cfg: RunConfig) -> None:
    """Raise GdcliError for any setting that cannot train: each in its range (constraints.SETTINGS),
    then each rule between settings (rules.RULES)."""
    constraints.check(cfg)
    for rule in RULES:
        rule(cfg)


def resolve_device(name: str):
    """The torch.device for --device; auto prefers cuda, then mps, then cpu."""
    import torch

    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name.startswith("cuda") and not cuda:
        raise GdcliError(f"{param('device')} {name}: no CUDA device is available here", f"use {param('device')} cpu (or auto)")
    if name.startswith("cuda:"):
        count = torch.cuda.device_count()
        if int(name.split(":")[1]) >= count:
            raise GdcliError(
                f"{param('device')} {name}: this machine has {plural(count, 'CUDA device')}, numbered from cuda:0",
                f"use {param('device')} cuda:{count - 1} or lower, or {param('device')} cuda for the current one",
            )
    if name == "mps" and not mps:
        raise GdcliError(f"{param('device')} mps: no Apple MPS device is available here", f"use {param('device')} cpu (or auto)")
    return torch.device(name)
