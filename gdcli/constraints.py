"""Every run setting in one table (SETTINGS), and the rules between settings (RULES).

A row says what a setting of config.RunConfig is: its type, its range or choices, its default
(and how help states it), an example for hints and a line about it. A rule is a small function
that refuses a combination of settings. config.validate checks a run against both; the API's
keyword types (settings.py), the options' help (cli/options.py), config files' examples
(cli/configfile.py) and gdcli.fit's docstring read the table instead of restating it.

Pure Python, no torch: choices are read from the registries when a value is checked, so an
entry registered later is a valid choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable

from gdcli import models
from gdcli.errors import GdcliError, names_in, param
from gdcli.text import number, one_of

MAX_HIDDEN = 1 << 16
REDUCTIONS = ("mean", "sum")
MISSING = ("error", "drop")  # what a gap in a data file does
DTYPES = ("float32", "float64")
DEVICES = ("auto", "cpu", "cuda", "mps")  # cuda also as cuda:N
MAX_SEED = 2**64 - 1  # torch.Generator.manual_seed takes an unsigned 64-bit integer
DTYPE_MAX = {"float32": 3.4028234663852886e38, "float64": 1.7976931348623157e308}  # the largest finite values
DTYPE_TINY = {"float32": 2.0**-149, "float64": 5e-324}  # the smallest positive (subnormal) values
PATIENCE = 10  # epochs without improvement before --tol stops a run, when --patience is not given


# ------------------------------------------------------------------------ checks


@dataclass(frozen=True)
class Range:
    """Numbers from `low` to `high` (None: unbounded); an open end leaves its bound out. A float
    must also be finite: NaN and infinity are in no range."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def holds(self, value) -> bool:
        """Whether `value` is in the range."""
        if isinstance(value, float) and not math.isfinite(value):
            return False
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def words(self, whole: bool) -> str:
        """The range as a message says it: "at least 1", "from 1 to 65536", "in [0, 1)"."""
        if whole and not self.low_open and not self.high_open:
            return f"at least {self.low}" if self.high is None else f"from {self.low} to {self.high}"
        if self.low == 0 and self.high is None:
            return "a positive finite number" if self.low_open else "zero or a positive finite number"
        return f"in {'(' if self.low_open else '['}{self.low}, {self.high}{')' if self.high_open else ']'}"


@dataclass(frozen=True)
class NonZero:
    """Any finite number but 0."""

    def holds(self, value) -> bool:
        """Whether `value` is finite and not 0."""
        return math.isfinite(value) and value != 0

    def words(self, whole: bool) -> str:
        """As a message says it."""
        return "a non-zero finite number"


@dataclass(frozen=True)
class Choices:
    """Names read from a registry at every check (`names`), and any value `also` accepts (cuda:N)."""

    names: Callable[[], Iterable[str]]
    also: Callable[[str], bool] | None = None

    def holds(self, value) -> bool:
        """Whether `value` is one of the names."""
        return value in tuple(self.names()) or (self.also is not None and self.also(value))

    def near(self, value) -> str:
        """ " (did you mean X?)" for a near miss of a name ("lin": linear), else nothing."""
        from gdcli.text import near

        meant = near(value, self.names())
        return f" (did you mean {meant}?)" if meant else ""

    def either(self) -> str:
        """The names as a hint offers them: "mean or sum", "one of tanh, relu, sigmoid"."""
        names = list(self.names())
        return " or ".join(names) if len(names) == 2 else f"one of {', '.join(names)}"


@dataclass(frozen=True)
class Parsed:
    """A value read by a function that raises GdcliError itself where it cannot read it (--init)."""

    read: Callable[[str], object]


# -------------------------------------------------------------------------- table


@dataclass(frozen=True)
class Setting:
    """One run setting: a field of config.RunConfig."""

    name: str
    kind: type  # float, int, bool, str, or tuple (of column names)
    default: object  # RunConfig's (None: not given; `shown` says what that means)
    about: str  # one line: what the setting is
    check: Range | NonZero | Choices | Parsed | None = None
    example: object = None  # a good value, for hints
    hint: str | Callable | None = None  # "{flag}" is the setting's flag; a callable takes the run's settings
    shown: str | None = None  # the default as help states it, where it is no plain value
    option: str | None = None  # the option's and the API keyword's name, where not the field's
    rounded: bool = False  # rounded to the training dtype: refused beyond its range or where it becomes 0
    applies: str | None = None  # "optim" or "schedule": only where that entry takes the setting
    at_load: bool = False  # checked where the dataset is made (data.py), which alone knows the dataset

    @property
    def key(self) -> str:
        """The option's and the API keyword's name."""
        return self.option or self.name

    def default_text(self) -> str:
        """The default as help states it: "0.01", "8", "the whole training set"."""
        if self.shown is not None:
            return self.shown
        return f"{self.default:g}" if isinstance(self.default, float) else str(self.default)

    def refuse(self, value, cfg) -> None:
        """Raise GdcliError where `value` is not a valid value of this setting."""
        if self.check is None or value is None or self.at_load:
            return
        if isinstance(self.check, Parsed):
            self.check.read(value)
        elif not self.check.holds(value):
            if isinstance(self.check, Choices):
                raise GdcliError(f"unknown {self.name} {value!r}{self.check.near(value)}",
                                 self._hint(cfg, f"choose {self.check.either()}"))
            words = self.check.words(self.kind is int)
            raise GdcliError(f"{param(self.name)} must be {words}, got {value}", self._hint(cfg))

    def _hint(self, cfg, fallback: str | None = None) -> str:
        if callable(self.hint):
            return self.hint(cfg)
        text = self.hint or fallback or "for example {flag} {example}"
        return text.format(flag=param(self.name), example=self.example)


def _methods() -> Iterable[str]:
    from gdcli.gradients import METHODS

    return METHODS


def _optimizers() -> Iterable[str]:
    from gdcli.optimizers import OPTIMIZERS

    return OPTIMIZERS


def _schedules() -> Iterable[str]:
    from gdcli.schedules import SCHEDULES

    return SCHEDULES


def _activations() -> Iterable[str]:
    from gdcli.activations import ACTIVATIONS

    return ACTIVATIONS


def device_ok(name: str) -> bool:
    """A --device value gdcli knows: auto, cpu, cuda, mps, or cuda:N."""
    kind, _, index = name.partition(":")
    return name in DEVICES or (kind == "cuda" and index.isdigit() and index.isascii())


def init_values(init: str) -> tuple[float, ...]:
    """The numbers of an explicit --init ("1,0"), or () for a named one."""
    if init in models.INITS:
        return ()
    try:
        values = tuple(number(v) for v in init.split(","))
    except ValueError:
        raise GdcliError(
            f"{param('init')} {init!r} is neither {', '.join(models.INITS)} nor a list of numbers",
            f"use {param('init')} ones, or explicit numbers such as {param('init')} 1,0 (weights row by row, then biases)",
        ) from None
    if not all(math.isfinite(v) for v in values):
        raise GdcliError(f"{param('init')} {init!r} holds a value that is not finite", "give finite numbers")
    return values


def _size(text: str) -> int:
    from gdcli.memory import parse_size

    return parse_size(text)


def _step_size_hint(cfg) -> str:
    from gdcli.schedules import default_step_size

    return f"for example {param('step_size')} {default_step_size(cfg.epochs)}"


POSITIVE, AT_LEAST_1, FRACTION = Range(0, low_open=True), Range(1), Range(0, 1, high_open=True)
ZERO_UP = Range(0)
_S = Setting
# In config.RunConfig's order, which is also the order in which config.validate checks them.
SETTINGS: tuple[Setting, ...] = (
    _S("dataset", str, "celsius", "a built-in dataset, or the path of a CSV or Parquet file or of a folder of parts (- for stdin)",
       example="celsius"),
    _S("model", str, models.DEFAULT, "what is fitted", Choices(lambda: models.MODELS), example=models.DEFAULT),
    _S("hidden", int, 8, "the MLP's hidden units", Range(1, MAX_HIDDEN), 8, "for example {flag} 8, the book's"),
    _S("activation", str, "tanh", "the MLP's nonlinearity", Choices(_activations), "tanh"),
    _S("method", str, "autograd", "how the gradient is computed", Choices(_methods), "autograd"),
    _S("optim", str, "gd", "the update rule", Choices(_optimizers), "gd"),
    _S("lr", float, 1e-2, "the learning rate", POSITIVE, 0.01, rounded=True),
    _S("epochs", int, 5000, "epochs to train", AT_LEAST_1, 100),
    _S("momentum", float, 0.0, "momentum of the optimizers that take it", FRACTION, 0.9, applies="optim"),
    _S("weight_decay", float, 0.0, "L2 weight decay of the optimizers that take it", ZERO_UP, 0.01, rounded=True,
       applies="optim"),
    _S("delta", float, 0.1, "the finite-diff method's step", POSITIVE, 0.01, rounded=True),
    _S("scale", float, 1.0, "the inputs are multiplied by this", NonZero(), 1,
       "use {flag} 1 to leave the inputs as they are"),
    _S("normalize", bool, False, "standardize the features by the training rows' mean and std", example=True),
    _S("val_fraction", float, 0.0, "the fraction of rows held out for validation", FRACTION, 0.2,
       "use 0.2 to hold out a fifth of the rows, or 0 for no split"),
    _S("batch_size", int, None, "rows per update; 1 is per-sample SGD", AT_LEAST_1, 1,
       "use 1 for per-sample updates, or leave it out for the whole training set", "the whole training set"),
    _S("reduction", str, "mean", "how the squared errors are reduced", Choices(lambda: REDUCTIONS), "mean"),
    _S("dtype", str, "float32", "the floating-point type", Choices(lambda: DTYPES), "float32"),
    _S("device", str, "auto", "where to compute; auto picks cuda, then mps, then cpu",
       Choices(lambda: DEVICES, device_ok), "cpu",
       f"choose one of {', '.join(DEVICES)}, or cuda:N for the GPU numbered N (cuda:0 is the first)"),
    _S("seed", int, 42, "seeds the split, the randn init, the batch order and synthetic data", Range(0, MAX_SEED),
       42, "any whole number from 0 up will do, for example {flag} 42"),
    _S("init", str, "ones", "the start: ones, zeros, randn, uniform or numbers (weights, then biases)",
       Parsed(init_values), "ones"),
    _S("targets", tuple, (), "the data file's target columns", example="y", shown="the last numeric column not left out",
       option="target"),
    _S("inputs", tuple, (), "the data file's input columns", example="x",
       shown="every numeric column but the targets and those that look like an id"),
    _S("drop", tuple, (), "the data file's columns left out", example="id", shown="none"),
    _S("missing", str, "error", "what a row with an empty or NA cell does: error, or drop (the row is left out)",
       Choices(lambda: MISSING), "drop"),
    _S("rows", int, None, "rows drawn for the synthetic dataset", AT_LEAST_1, 100, shown="100", at_load=True),
    _S("features", int, None, "features of the synthetic dataset", AT_LEAST_1, 1, shown="1", at_load=True),
    _S("compile", bool, False, "run the full-batch epoch step through torch.compile", example=True),
    _S("log_every", int, None, "epochs between logged rows", AT_LEAST_1, 100, shown="a tenth of the run"),
    _S("tol", float, None, "stop once the loss has not improved by this for patience epochs", ZERO_UP, 1e-6,
       "for example {flag} 1e-6: the loss must fall by that much to count as an improvement", "no early stop"),
    _S("patience", int, None, "epochs without an improvement of tol before a run stops", AT_LEAST_1, PATIENCE,
       f"for example {{flag}} {PATIENCE}: epochs without improvement before the run stops", f"{PATIENCE}, with {param('tol')}"),
    _S("within", float, None, "stop once the training loss is within this fraction of the least-squares optimum",
       POSITIVE, 0.01, "for example {flag} 0.01: stop within 1% of the least-squares optimum", "no such stop"),
    _S("schedule", str, "constant", "how the lr changes epoch by epoch", Choices(_schedules), "constant"),
    _S("step_size", int, None, "epochs between the lr's drops", AT_LEAST_1, 100, _step_size_hint,
       "a third of the epochs", applies="schedule"),
    _S("gamma", float, None, "the lr's factor per drop, or per epoch", POSITIVE, 0.5,
       "for example {flag} 0.5 to halve the lr at each step",
       "0.1 for step; exponential: down to a hundredth over the run", applies="schedule"),
    _S("max_lr", float, None, "the peak lr of the onecycle schedule", POSITIVE, 0.1, shown="the run's " + param("lr"),
       rounded=True, applies="schedule"),
    _S("sharpness", int, None, "epochs between measurements of the loss Hessian's largest eigenvalue (the sharpness)",
       AT_LEAST_1, 10, "for example {flag} 10: the sharpness at epoch 1 and every 10 epochs", "not measured"),
    _S("memory_limit", str, None, "the memory training may use (4GB, 512MB, 1.5GiB, 2e9 bytes): data that needs "
       "more is streamed, read again block by block for every pass, and split by a seeded hash of each row's place",
       Parsed(lambda text: _size(text)), "4GB", shown="80% of the memory available"),
)
BY_NAME = {s.name: s for s in SETTINGS}


def setting(name: str) -> Setting:
    """The table's row of a setting, by its field name or its option's name (target)."""
    return BY_NAME.get(name) or next(s for s in SETTINGS if s.key == name)


def shown(name: str) -> str:
    """A setting's default as help states it."""
    return setting(name).default_text()


def keys(kind: type) -> tuple[str, ...]:
    """The options' names of the settings of one type, in the table's order."""
    return tuple(s.key for s in SETTINGS if s.kind is kind)


def documented(skip: tuple[str, ...] = ()) -> str:
    """One line per setting, by its keyword, for a docstring: what it is, its choices and its default."""
    lines = []
    for s in SETTINGS:
        if s.key in skip:
            continue
        choices = f" ({one_of(s.check.names())})" if isinstance(s.check, Choices) and s.name != "device" else ""
        lines.append(f"{s.key}: {s.about}{choices} (default: {names_in(s.default_text())})")
    return "\n".join(lines)


def check(cfg) -> None:
    """Raise GdcliError for the first setting of `cfg` (a RunConfig) out of its range or choices."""
    for s in SETTINGS:
        s.refuse(getattr(cfg, s.name), cfg)
