"""What the Python API hands back: plain objects built from what the CLI's commands compute.

Each shows in Jupyter as the CLI's own output (`__rich__`, and a plain-text rendering for
notebooks without Rich's extension) and has a short `__repr__`. Nothing here prints.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Callable

from gdcli.errors import GdcliError, names_in
from gdcli.models import DEFAULT
from gdcli import settings
from gdcli.settings import api_call

RENDER_WIDTH = 120  # columns of a notebook's plain-text rendering


def _render(renderable) -> str:
    """A Rich renderable as plain text, as a notebook shows it."""
    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=RENDER_WIDTH, color_system=None, markup=False, highlight=False).print(renderable)
    return buffer.getvalue()


class Shown:
    """Jupyter shows an object through `__rich__` (with Rich's extension) or as its text rendering."""

    def __rich__(self):
        raise NotImplementedError

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """Jupyter's display: the CLI's rendering as text."""
        return {"text/plain": _render(self)}


def _tensors(params: dict | None) -> dict | None:
    """Parameters by torch.nn name as float64 tensors."""
    if params is None:
        return None
    import torch

    return {name: torch.tensor(value, dtype=torch.float64) for name, value in params.items()}


class Run(Shown):
    """One trained (or loaded) run.

    Attributes: `config` (every setting, a dict), `params` and `initial` (parameters by torch.nn
    name, float64 tensors), `loss`, `val_loss`, `start_loss`, `optimum` (the least-squares loss;
    `optimum_params`), `gap`, `stable_lr` (the stability bound, None where none applies),
    `verdict` (converging, unstable or diverged) with its `reason`, `diverged`, `diverged_at`,
    `stopped` (why it stopped early, or None), `interrupted`, `epochs_run`, `history` (one dict per
    kept epoch: epoch, train_loss, val_loss, lr with a schedule, sharpness and edge with `sharpness=N`),
    `sharpness` ((epoch, value) pairs with `sharpness=N`, else None), `notes`, `features`, `targets`,
    `surface` (the loss surface with the run's path, when asked for; else None), `metrics` (with
    val_fraction: the validation rows' rows, mse, rmse, mae and r2 by target; else None), `data` ("held" or
    "streamed": memory_limit, or the memory available, decides) and `memory` (that decision and why, with
    memory_limit or streamed data; else None).
    A run read by `load_run` has no history and no verdict.
    """

    surface = None  # a gdcli.surfaces.Surface, set where the call asked for one

    def __init__(self, *, model, features, targets, transform, params: dict, config: dict, result=None,
                 saved: dict | None = None, device: str | None = None, batches: bool = False, notes=()):
        self._model, self._transform, self._result, self._device, self._batches = model, transform, result, device, batches
        self.features, self.targets, self.config, self.notes = tuple(features), tuple(targets), config, list(notes)
        self.params = _tensors(params)
        saved = saved or {}
        r = result
        self.initial = _tensors(r.initial_params) if r else None
        self.loss = r.final_loss if r else saved.get("final_loss")
        self.val_loss = r.final_val_loss if r else None
        self.start_loss = r.start_loss if r else None
        self.optimum = r.optimum_loss if r else saved.get("optimum_loss")
        self.optimum_params = _tensors(r.optimum_params) if r else None
        self.gap = r.gap if r else (self.loss - self.optimum if None not in (self.loss, self.optimum) else math.nan)
        self.stable_lr = r.stable_lr if r else None
        self.verdict = r.verdict.kind if r else None
        self.reason = r.verdict.reason if r else None
        self.diverged = r.verdict.diverged if r else False
        self.diverged_at = r.verdict.epoch if r else None
        self.stopped = (r.stop.to_dict(r.config, r.n_val > 0, _named) if r.stop else None) if r else saved.get("stopped")
        self.interrupted = r.interrupted if r else bool(saved.get("interrupted"))
        self.epochs_run = r.epochs_run if r else saved.get("epochs_run")
        self.unmoved = r.unmoved if r else None
        # With sharpness=N: (epoch, the loss Hessian's largest eigenvalue there) at each measured epoch.
        self.sharpness = _sharpness(r)
        # With a split: the validation rows' {target: {"rows", "mse", "rmse", "mae", "r2"}} at the end.
        self.metrics = r.val_metrics if r else None
        # "held" or "streamed"; `memory`: with memory_limit or streamed data, that decision and why.
        self.data = (r.data or {}).get("data", "held") if r else None
        self.memory = {**r.data, "why": names_in(r.data["why"])} if r and r.data else None

    @classmethod
    def of(cls, result, device: str | None = None, batches: bool = False, notes=()) -> "Run":
        """A Run from a trainer's RunResult."""
        return cls(model=result.model, features=result.features, targets=result.targets, transform=result.transform,
                   params=result.params, config=result.config.to_dict(), result=result, device=device,
                   batches=batches, notes=notes)

    @property
    def history(self) -> list[dict]:
        """One record per kept epoch: epoch, train_loss (before its update), val_loss, and lr under a schedule."""
        if self._result is None:
            return []
        from gdcli.report import history_stream

        return [item for block in history_stream(self._result).blocks() for item in block]

    @property
    def advice(self) -> str:
        """Why the run diverged or is unstable, and what to change ("" when neither)."""
        if self._result is None:
            return ""
        from gdcli import report
        from gdcli.settings import named

        text = report.advice(self._result)
        return named(GdcliError(text), _SETTING_NAMES).message if text else ""

    def to_dict(self) -> dict:
        """The run as `gdcli fit --output json` writes it (history included)."""
        if self._result is None:
            raise GdcliError("a run read from a file has only its parameters, not its training", "train it with gdcli.fit")
        from gdcli.emit import clean
        from gdcli.report import run_dict

        data = run_dict(self._result, history=False, device=self._device)
        data["history"] = self.history
        if self.surface is not None:
            data["surface"] = self.surface.to_dict()
        return clean(data)

    def to_pandas(self):
        """The history as a pandas DataFrame, one row per kept epoch (needs pandas)."""
        try:
            import pandas
        except ImportError:
            raise GdcliError("Run.to_pandas needs pandas, which is not installed", "install it with pip install pandas") from None
        return pandas.DataFrame(self.history, columns=_columns(self.config))

    def _saved(self):
        from gdcli.runfile import SavedRun

        return SavedRun(self.features, self.targets, self._transform, self._model,
                        {k: v.tolist() for k, v in self.params.items()}, missing=self.config.get("missing") or "error")

    def predict(self, X):
        """The model's outputs (rows, targets) for raw inputs X: a number, a row, rows, or an array of shape (rows, features)."""
        from gdcli.models import outputs

        with api_call(("X",)):
            rows = _rows(X, self.features)
            return outputs(self._model, self._saved().params, self._transform, rows)

    def evaluate(self, input, missing=None) -> Report:  # noqa: A002 - the CLI's --input
        """The run's metrics on the labelled rows of a data file, as gdcli.evaluate(run, input) gives them."""
        with api_call(("input", "missing"), rename={"dataset": "input"}):
            return evaluation(self._saved(), settings.path("input", input), None, missing)

    def save(self, path) -> Path:
        """Write the run file `gdcli fit --save` writes (loadable by gdcli predict and gdcli.load_run)."""
        from gdcli import runfile

        path = settings.path("path", path)
        with api_call(("path",)):
            if self._result is None:
                raise GdcliError("a run read from a file is saved already", "copy the file it was read from")
            if self.diverged:
                raise GdcliError(f"not saved to {path}: the run diverged", "fix the run first: see run.advice")
            runfile.check_target(path)
            runfile.save_run(self._result, path)
        return path

    def export(self, path) -> dict:
        """Write the parameters as a torch.nn state_dict taking raw inputs, as `gdcli export` does; returns it."""
        return _export(self, settings.path("path", path))

    def __rich__(self):
        if self._result is None:
            return _loaded_text(self)
        from rich.console import Group

        from gdcli.report import FitView

        return Group(*FitView(self._result, None, self._device, self._batches).table())

    def __repr__(self) -> str:
        c = self.config
        state = self.verdict or "loaded"
        loss = f"loss {self.loss:.6g}" if isinstance(self.loss, float) else "loss -"
        state += ", interrupted" if getattr(self, "interrupted", False) else ""
        return (f"Run({c.get('dataset')}, {c.get('model')}, {c.get('method')}+{c.get('optim')}, lr={c.get('lr'):g}, "
                f"{self.epochs_run} epochs: {loss}, {state})")


def _export(run: Run, path: Path) -> dict:
    """Run.export's work: the state_dict written atomically, and a warning where float32 drifts."""
    import warnings

    import torch

    from gdcli import files, runfile

    with api_call(("path",)):
        if run._result is not None and run.diverged:  # as save: no file of a diverged run
            raise GdcliError(f"not exported to {path}: the run diverged", "fix the run first: see run.advice")
        saved = run._saved()
        state = runfile.export_state(saved)
        files.check_not_stdio(path, "model.pt", "path")
        files.check_target(path, example="model.pt")
        files.write_atomic(path, lambda tmp: torch.save(state, tmp))
        drift = runfile.float32_drift(saved, state)
    if drift is not None and drift.too_large:
        warnings.warn(runfile.drift_warning(saved, drift, path).removeprefix("warning: "), stacklevel=3)
    return state


# Every setting name the API takes, for advice worded in them.
def _named(text: str) -> str:
    """A core text's settings as Python names them: "(tol=0.001, patience=5)", never "--tol"."""
    from gdcli.settings import named

    return named(GdcliError(text), ()).message


_SETTING_NAMES = ("lr", "max_lr", "schedule", "scale", "normalize", "init", "batch_size", "dtype", "delta", "method")


def _loaded_text(run: Run):
    """A run read from a file has no training to show: what it fits, its final loss and parameters."""
    from rich.text import Text

    from gdcli.report import fmt, fmt_params

    return Text(f"run of {run.config.get('model', DEFAULT)} on {run.config.get('dataset')}: "
                f"{', '.join(run.features)} -> {', '.join(run.targets)}\n"
                f"final loss {fmt(run.loss)}  {fmt_params({k: v.tolist() for k, v in run.params.items()})}")


def _sharpness(result) -> list[tuple[int, float]] | None:
    """A run's measured sharpness as (epoch, value) pairs (nan where its parameters were not finite)."""
    if result is None or result.sharpness_epochs is None:
        return None
    return list(zip(result.sharpness_epochs.tolist(), result.sharpness.tolist()))


def _columns(config: dict) -> list[str]:
    from gdcli.report import history_columns

    return history_columns(config.get("schedule", "constant") != "constant", config.get("sharpness") is not None)


def _rows(X, features: tuple[str, ...]):
    """Raw inputs as a float64 tensor (rows, features), checked as gdcli predict checks its VALUES."""
    import torch

    k = len(features)
    try:
        t = torch.as_tensor(X, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise GdcliError(f"X must be numbers: a number, a row, rows, or an array (rows, {k})",
                         f"for example X=[[{', '.join(['1.5'] * k)}]]") from None
    if t.dim() == 0 or (t.dim() == 1 and k == 1):
        t = t.reshape(-1, 1)
    elif t.dim() == 1:
        t = t.reshape(1, -1)
    if t.dim() != 2 or t.shape[1] != k:
        raise GdcliError(f"X has shape {tuple(t.shape)}; this model takes rows of {k} ({', '.join(features)})",
                         f"give an array of shape (rows, {k})")
    if not torch.isfinite(t).all():
        raise GdcliError("X holds a value that is not finite", "give finite numbers")
    return t


class _Many(Shown):
    """Runs trained together (compare, sweep): in training order, and ranked best first; `surface`
    (the loss surface with the runs' paths) when asked for, else None."""

    surface = None  # a gdcli.surfaces.Surface, set where the call asked for one

    def __init__(self, runs: list[Run], ranking: list[Run], view):
        self.runs, self.ranking, self._view = runs, ranking, view

    @property
    def best(self) -> Run | None:
        """The best run by its final (or, with a split, validation) loss; None when none trained."""
        return self.ranking[0] if self.ranking else None

    def __iter__(self):
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    def __getitem__(self, i: int) -> Run:
        return self.runs[i]

    def to_dict(self) -> dict:
        """What the command writes with --output json (histories as lists)."""
        from gdcli.emit import clean

        data = _materialized(self._view.document())
        if self.surface is not None:
            data["surface"] = self.surface.to_dict()
        return clean(data)

    def __rich__(self):
        from rich.console import Group

        return Group(*self._view.table())


def _materialized(value):
    """A document with its streams (histories) written out as lists."""
    from gdcli.emit import Stream

    if isinstance(value, Stream):
        return [item for block in value.blocks() for item in block]
    if isinstance(value, dict):
        return {k: _materialized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_materialized(v) for v in value]
    return value


class Comparison(_Many):
    """`gdcli compare`'s runs (`runs`, one per method:optim), `ranking` best first, `best`, and `agreement`:
    each method's loss and gradient at the start against autograd's."""

    def __init__(self, runs: list[Run], ranking: list[Run], view, agreement: list[dict], within: list):
        super().__init__(runs, ranking, view)
        self.agreement, self.within = agreement, within

    def __repr__(self) -> str:
        labels = ", ".join(f"{r.config['method']}:{r.config['optim']}" for r in self.runs)
        best = self.best
        return f"Comparison({_runs(self.runs)}: {labels}; best {best.config['method']}:{best.config['optim']})" \
            if best else f"Comparison({_runs(self.runs)})"


class Sweep(_Many):
    """`gdcli sweep`'s runs: `runs` in training order, `ranking` best first, `best`, the grid's
    `dims` that vary, and `failed` runs (on Ray: config and reason)."""

    def __init__(self, runs: list[Run], ranking: list[Run], view, dims: list[str], failed: list[dict], cancelled: int):
        super().__init__(runs, ranking, view)
        self.dims, self.failed, self.cancelled = dims, failed, cancelled

    def __repr__(self) -> str:
        best = self.best
        if best is None:
            return f"Sweep({_runs(self.runs)})"
        where = ", ".join(f"{d}={best.config[d]}" for d in self.dims)
        return f"Sweep({_runs(self.runs)} over {', '.join(self.dims)}; best {where}: loss {best.loss:.6g})"


def _runs(runs: list) -> str:
    return "1 run" if len(runs) == 1 else f"{len(runs)} runs"


class Report(Shown):
    """A tool's result (gdcli grad, gdcli sample, gdcli datasets): `data` is what --output json
    writes (also by key: report["gradients"]), and it shows as the CLI's table."""

    def __init__(self, kind: str, data, parts: Callable[[], list], **extra):
        self.kind, self.data, self._parts = kind, data, parts
        self.__dict__.update(extra)

    def __getitem__(self, key):
        return self.data[key]

    def to_dict(self):
        """The JSON the command writes with --output json."""
        return self.data

    def __rich__(self):
        from rich.console import Group

        return Group(*self._parts())

    def __repr__(self) -> str:
        keys = list(self.data) if isinstance(self.data, dict) else f"{len(self.data)} items"
        return f"{self.kind.capitalize()}({keys})"


def evaluation(saved, source, name: str | None, missing: str | None = None) -> Report:
    """gdcli evaluate's Report of a SavedRun (from the run file `name`, or None) on the labelled rows of
    `source` ("-" for stdin): `data` as --output json writes it (an undefined R² None), `metrics` floats."""
    from gdcli import emit, report, scoring

    data = scoring.evaluation(saved, source, name, missing, scoring.PIPE.format("evaluate"))
    return Report("evaluate", emit.clean(data), report.EvaluateView(data).table, metrics=data["metrics"])
