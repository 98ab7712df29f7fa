"""Run settings: one frozen RunConfig per run, resolved from options and presets, validated.

Pure Python: the CLI builds and checks configs without loading torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from gdcli import data as datamod
from gdcli import models
from gdcli.text import number, one_of, plural
from gdcli.errors import GdcliError, param
from gdcli.activations import ACTIVATION_NAMES  # a live view of the registry (the CLI imports it from here)
from gdcli.schedules import SCHEDULES, TAKES, default_gamma, default_step_size

INITS = ("ones", "zeros", "randn", "uniform")  # as models.INITS (config stays free of torch)
MAX_HIDDEN = 1 << 16
REDUCTIONS = ("mean", "sum")
DTYPES = ("float32", "float64")
DEVICES = ("auto", "cpu", "cuda", "mps")  # cuda also as cuda:N
MAX_SEED = 2**64 - 1  # torch.Generator.manual_seed takes an unsigned 64-bit integer
DTYPE_MAX = {"float32": 3.4028234663852886e38, "float64": 1.7976931348623157e308}  # the largest finite values
DTYPE_TINY = {"float32": 2.0**-149, "float64": 5e-324}  # the smallest positive (subnormal) values


@dataclass(frozen=True)
class RunConfig:
    """Every setting of one training run. Defaults here; dataset presets override them."""

    dataset: str = "celsius"
    model: str = models.DEFAULT  # a key of models.MODELS
    hidden: int = 8  # the MLP's hidden units
    activation: str = "tanh"  # the MLP's nonlinearity
    method: str = "autograd"
    optim: str = "gd"
    lr: float = 1e-2
    epochs: int = 5000
    momentum: float = 0.0
    weight_decay: float = 0.0
    delta: float = 0.1  # finite-difference step
    scale: float = 1.0  # inputs are multiplied by this (the book's 0.1)
    normalize: bool = False  # standardize features with the training rows' statistics
    val_fraction: float = 0.0
    batch_size: int | None = None  # None: the whole training set, one step per epoch
    reduction: str = "mean"
    dtype: str = "float32"  # float32 by default, so the numbers match PyTorch's own
    device: str = "auto"
    seed: int = 42
    init: str = "ones"  # ones, zeros, randn, uniform, or explicit numbers "1,0" (mlp: uniform)
    targets: tuple[str, ...] = ()  # CSV target columns; default the last one
    rows: int | None = None  # rows drawn for the synthetic dataset (None: 100)
    features: int | None = None  # features of the synthetic dataset (None: 1)
    compile: bool = False  # run the full-batch epoch step through torch.compile
    log_every: int | None = None  # None: a tenth of the run
    # Stopping early: no improvement by `tol` for `patience` epochs, or within `within` of the optimum.
    tol: float | None = None
    patience: int | None = None
    within: float | None = None
    # The lr schedule (schedules.SCHEDULES) and its settings; None where the schedule takes none.
    schedule: str = "constant"
    step_size: int | None = None
    gamma: float | None = None
    max_lr: float | None = None  # onecycle's peak (None: the run's lr)

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
        d["targets"] = list(self.targets)
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


PATIENCE = 10  # epochs without improvement before --tol stops a run, when --patience is not given


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
    for name in ("step_size", "gamma", "max_lr"):
        if settings.get(name) is not None and name not in TAKES[schedule]:
            users = [k for k, v in TAKES.items() if name in v]
            raise GdcliError(
                f"{param(name)} applies to {param('schedule')} {' or '.join(users)}, not to {param('schedule')} {schedule}",
                f"drop {param(name)}, or add {param('schedule')} {users[0]}",
            )
    epochs = settings.get("epochs", RunConfig.epochs)
    if "step_size" in TAKES[schedule] and settings.get("step_size") is None:
        settings["step_size"] = default_step_size(epochs)
    if "gamma" in TAKES[schedule] and settings.get("gamma") is None:
        settings["gamma"] = default_gamma(schedule, epochs)


def validate(cfg: RunConfig) -> None:
    """Raise GdcliError for any setting that cannot train."""
    from gdcli.gradients import METHODS
    from gdcli.optimizers import OPTIMIZERS

    def need(ok: bool, message: str, hint: str) -> None:
        if not ok:
            raise GdcliError(message, hint)

    need(cfg.model in models.MODELS, f"unknown model {cfg.model!r}", f"choose one of {', '.join(models.MODELS)}")
    need(cfg.method in METHODS, f"unknown method {cfg.method!r}", f"choose one of {', '.join(METHODS)}")
    need(
        1 <= cfg.hidden <= MAX_HIDDEN,
        f"{param('hidden')} must be from 1 to {MAX_HIDDEN}, got {cfg.hidden}",
        f"for example {param('hidden')} 8, the book's",
    )
    need(
        cfg.activation in ACTIVATION_NAMES,
        f"unknown activation {cfg.activation!r}",
        f"choose one of {', '.join(ACTIVATION_NAMES)}",
    )
    kind = models.get(cfg.model)
    need(
        not (METHODS[cfg.method].needs_gram and not kind.linear_in_params),
        f"{param('method')} gram needs a model linear in its parameters "
        f"({one_of(models.names(lambda m: m.linear_in_params))}): {kind.called()}'s loss "
        f"is no quadratic form of X^T X and X^T y",
        f"use {param('method')} analytic, autograd or finite-diff with {param('model')} {kind.name}",
    )
    need(cfg.optim in OPTIMIZERS, f"unknown optim {cfg.optim!r}", f"choose one of {', '.join(OPTIMIZERS)}")
    for name in ("lr", "delta"):
        value = getattr(cfg, name)
        need(
            math.isfinite(value) and value > 0,
            f"{param(name)} must be a positive finite number, got {value}",
            f"for example {param(name)} 0.01",
        )
    need(
        not (cfg.method == "gram" and cfg.batch_size is not None),
        f"{param('method')} gram needs the whole training set: it steps on X^T X and X^T y summed over "
        f"every row, which no mini-batch has",
        f"drop {param('batch_size')}, or use {param('method')} analytic for mini-batches",
    )
    need(
        not (cfg.compile and cfg.batch_size is not None),
        f"{param('compile')} compiles the full-batch epoch step; mini-batches of changing size would recompile",
        f"drop {param('batch_size')} or {param('compile')}",
    )
    need(cfg.epochs >= 1, f"{param('epochs')} must be positive, got {cfg.epochs}", f"for example {param('epochs')} 100")
    need(
        cfg.batch_size is None or cfg.batch_size >= 1,
        f"{param('batch_size')} must be positive, got {cfg.batch_size}",
        "use 1 for per-sample updates, or leave it out for the whole training set",
    )
    need(
        cfg.log_every is None or cfg.log_every >= 1,
        f"{param('log_every')} must be positive, got {cfg.log_every}",
        f"for example {param('log_every')} 100",
    )
    need(
        math.isfinite(cfg.momentum) and 0 <= cfg.momentum < 1,
        f"{param('momentum')} must be in [0, 1), got {cfg.momentum}",
        f"for example {param('momentum')} 0.9",
    )
    need(
        math.isfinite(cfg.weight_decay) and cfg.weight_decay >= 0,
        f"{param('weight_decay')} must be zero or positive, got {cfg.weight_decay}",
        f"for example {param('weight_decay')} 0.01",
    )
    need(
        math.isfinite(cfg.scale) and cfg.scale != 0,
        f"{param('scale')} must be a non-zero number, got {cfg.scale}",
        f"use {param('scale')} 1 to leave the inputs as they are",
    )
    need(
        0 <= cfg.val_fraction < 1,
        f"{param('val_fraction')} must be in [0, 1), got {cfg.val_fraction}",
        "use 0.2 to hold out a fifth of the rows, or 0 for no split",
    )
    need(cfg.reduction in REDUCTIONS, f"unknown reduction {cfg.reduction!r}", "choose mean or sum")
    need(cfg.dtype in DTYPES, f"unknown dtype {cfg.dtype!r}", "choose float32 or float64")
    need(
        device_ok(cfg.device),
        f"unknown device {cfg.device!r}",
        f"choose one of {', '.join(DEVICES)}, or cuda:N for the GPU numbered N (cuda:0 is the first)",
    )
    # The update rounds lr, weight decay and the step to the training dtype: a value
    # beyond its range cannot be applied at all (torch refuses it, it does not overflow).
    largest = DTYPE_MAX.get(cfg.dtype, DTYPE_MAX["float64"])
    for name in ("lr", "weight_decay", "delta"):
        value = getattr(cfg, name)
        need(
            abs(value) <= largest,
            f"{param(name)} {value:g} is beyond the range of {cfg.dtype} (at most {largest:.4g})",
            f"use a smaller {param(name)}" + (f", or {param('dtype')} float64" if cfg.dtype == "float32" else ""),
        )
    # Below the smallest positive value of the dtype a setting rounds to 0: an lr of 0 leaves the
    # parameters where they start, and the run would report its start as a result.
    for name in ("lr", "weight_decay", "delta", "max_lr"):
        value = getattr(cfg, name)
        if value is not None and 0 < value < math.inf and rounds_to_zero(value, cfg.dtype):
            need(
                False,
                f"{param(name)} {value:.3g} rounds to 0 in {cfg.dtype} (its smallest positive value is "
                f"{DTYPE_TINY[cfg.dtype]:.4g})",
                f"use a larger {param(name)}" + (f", or {param('dtype')} float64" if cfg.dtype == "float32" else ""),
            )
    takes = OPTIMIZERS[cfg.optim].takes
    for name in ("momentum", "weight_decay"):
        if getattr(cfg, name) != 0 and name not in takes:
            users = ", ".join(k for k, v in OPTIMIZERS.items() if name in v.takes)
            need(False, f"{param(name)} does not apply to {param('optim')} {cfg.optim}", f"use it with one of {users}, or leave it out")
    need(
        0 <= cfg.seed <= MAX_SEED,
        f"{param('seed')} must be in [0, {MAX_SEED}], got {cfg.seed}",
        f"any whole number from 0 up will do, for example {param('seed')} 42",
    )
    _validate_stopping(cfg, need)
    _validate_schedule(cfg, need)
    init_values(cfg.init)  # raises for a malformed --init


def _validate_stopping(cfg: RunConfig, need) -> None:
    need(
        cfg.tol is None or (math.isfinite(cfg.tol) and cfg.tol >= 0),
        f"{param('tol')} must be zero or a positive number, got {cfg.tol}",
        f"for example {param('tol')} 1e-6: the loss must fall by that much to count as an improvement",
    )
    need(
        cfg.patience is None or cfg.patience >= 1,
        f"{param('patience')} must be at least 1, got {cfg.patience}",
        f"for example {param('patience')} {PATIENCE}: epochs without improvement before the run stops",
    )
    need(
        cfg.within is None or (math.isfinite(cfg.within) and cfg.within > 0),
        f"{param('within')} must be a positive number, got {cfg.within}",
        f"for example {param('within')} 0.01: stop within 1% of the least-squares optimum",
    )
    need(
        cfg.within is None or models.get(cfg.model).linear_in_params,
        f"{param('within')} stops a run near its least-squares optimum, and {param('model')} {cfg.model} has none",
        f"stop the {models.get(cfg.model).noun} with {param('tol')} and {param('patience')} instead",
    )


def _validate_schedule(cfg: RunConfig, need) -> None:
    need(cfg.schedule in SCHEDULES, f"unknown schedule {cfg.schedule!r}", f"choose one of {', '.join(SCHEDULES)}")
    need(
        cfg.step_size is None or cfg.step_size >= 1,
        f"{param('step_size')} must be at least 1, got {cfg.step_size}",
        f"for example {param('step_size')} {default_step_size(cfg.epochs)}",
    )
    need(
        cfg.gamma is None or (math.isfinite(cfg.gamma) and cfg.gamma > 0),
        f"{param('gamma')} must be a positive number, got {cfg.gamma}",
        f"for example {param('gamma')} 0.5 to halve the lr at each step",
    )
    need(
        cfg.max_lr is None or (math.isfinite(cfg.max_lr) and 0 < cfg.max_lr <= DTYPE_MAX.get(cfg.dtype, math.inf)),
        f"{param('max_lr')} must be a positive finite number, got {cfg.max_lr}",
        f"for example {param('max_lr')} 0.1",
    )
    need(
        not (cfg.compile and cfg.schedule != "constant"),
        f"{param('compile')} bakes the lr into the compiled step; {param('schedule')} {cfg.schedule} changes it every epoch",
        f"drop {param('compile')} or {param('schedule')}",
    )


def init_values(init: str) -> tuple[float, ...]:
    """The numbers of an explicit --init ("1,0"), or () for a named one."""
    if init in INITS:
        return ()
    try:
        values = tuple(number(v) for v in init.split(","))
    except ValueError:
        raise GdcliError(
            f"{param('init')} {init!r} is neither {', '.join(INITS)} nor a list of numbers",
            f"use {param('init')} ones, or explicit numbers such as {param('init')} 1,0 (weights row by row, then biases)",
        ) from None
    if not all(math.isfinite(v) for v in values):
        raise GdcliError(f"{param('init')} {init!r} holds a value that is not finite", "give finite numbers")
    return values


def rounds_to_zero(value: float, dtype: str) -> bool:
    """Whether a non-zero setting becomes 0 once rounded to the training dtype (pure Python: no torch)."""
    if dtype != "float32":
        return value == 0  # a Python float is a float64 already
    import struct

    try:
        return struct.unpack("f", struct.pack("f", value))[0] == 0
    except OverflowError:
        return False  # beyond the range: refused as such


def device_ok(name: str) -> bool:
    """A --device value gdcli knows: auto, cpu, cuda, mps, or cuda:N."""
    kind, _, index = name.partition(":")
    return name in DEVICES or (kind == "cuda" and index.isdigit() and index.isascii())


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
