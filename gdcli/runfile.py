"""Saved runs: write a trained model atomically, read it back, and predict with it."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from gdcli import __version__, files
from gdcli.data import Transform, is_file
from gdcli.models import LineParams
from gdcli.text import number
from gdcli.errors import GdcliError, param

FORMAT = "gdcli-run/2"  # /2 names its model and its parameters by torch.nn name
FORMATS = ("gdcli-run/1", FORMAT)  # /1: a line, before models had names


def check_target(path: Path) -> None:
    """Raise GdcliError unless a run file can be written at path (commands call it before training)."""
    files.check_target(path, example="run.json")


def save_run(result, path: Path) -> None:
    """Save what predict needs (config, input transform, learned parameters) as JSON, atomically."""
    from gdcli.emit import clean

    config = result.config.to_dict()
    if is_file(config["dataset"]):
        # Relative to the run file's folder, where --config reads it from: the two can move together.
        config["dataset"] = files.relative_to(config["dataset"], Path(path).parent)
    data = {
        "format": FORMAT,
        "gdcli": __version__,
        "config": config,
        "model": {"name": result.model.name, "hidden": result.model.hidden, "activation": result.model.activation},
        "features": list(result.features),
        "targets": list(result.targets),
        # The data file's columns the run used and left out (with why), and what a gap did.
        "columns": {"inputs": list(result.features), "targets": list(result.targets),
                    "left_out": dict(getattr(result, "left_out", {}))},
        "missing": getattr(result.config, "missing", "error"),
        "transform": result.transform.to_dict(),
        "params": result.params,
        "final_loss": clean(result.final_loss),
        "optimum_loss": clean(result.optimum_loss),
        "epochs_run": result.epochs_run,
        # A run stopped early (--tol, --within) or by Ctrl-C says so; its config still asks for every epoch.
        "stopped": result.stop.to_dict(result.config, result.n_val > 0) if result.stop is not None else None,
        "interrupted": result.interrupted,
    }
    # allow_nan=False: a non-finite parameter is a bug upstream, never a file predict would refuse.
    files.write_atomic(path, json.dumps(data, indent=2, allow_nan=False) + "\n")


@dataclass(frozen=True)
class SavedRun(LineParams):
    """A model read back from a run file."""

    features: tuple[str, ...]  # the raw inputs predict takes
    targets: tuple[str, ...]
    transform: Transform  # of the model's input columns
    model: object  # models.Model
    params: dict[str, list]  # by torch.nn name
    dataset: str | None = None  # the data file it was trained on, as seen from the current folder
    missing: str = "error"  # what a gap in its data did: "error", or "drop" the row (older files: error)


def load_run(path: Path) -> SavedRun:
    """Read and check a run file written by `gdcli fit --save`; any damage is a GdcliError naming the field."""
    hint = "pass a file written by: gdcli fit --save run.json"
    files.check_source(path, "run file", hint)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))  # -sig: an editor's BOM is no damage
    except RecursionError:
        raise GdcliError(f"{str(path)!r} is damaged: its JSON is nested too deeply", hint) from None
    except (OSError, UnicodeDecodeError, ValueError) as err:  # ValueError: bad JSON, an integer too long
        raise GdcliError(f"{str(path)!r} is not a readable JSON file ({err})", hint) from None
    if not isinstance(data, dict) or data.get("format") not in FORMATS:
        raise GdcliError(f"{str(path)!r} is not a gdcli run file", hint)
    try:
        return _check_run(data, path)
    except _Damage as err:
        raise GdcliError(f"{str(path)!r} is damaged: {err}", hint) from None


class _Damage(Exception):
    """What is wrong with one field of a run file (load_run adds the file's name)."""


def _field(obj: dict, key: str, where: str):
    if key not in obj:
        raise _Damage(f"{where}{key} is missing")
    return obj[key]


def _got(value) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _obj(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise _Damage(f"{where} must be an object, got {_got(value)}")
    return value


def _list(value, where: str, length: int | None = None, what: str = "") -> list:
    if not isinstance(value, list):
        raise _Damage(f"{where} must be a list, got {_got(value)}")
    if not value:
        raise _Damage(f"{where} must not be empty")
    if length is not None and len(value) != length:
        raise _Damage(f"{where} must hold {what} ({length}), got {len(value)}")
    return value


def _number(value, where: str) -> float:
    # bool is an int in Python; in a run file true is no number, and neither is "5".
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Damage(f"{where} must be a number, got {_got(value)}")
    try:
        x = float(value)
    except OverflowError:
        x = math.inf
    if not math.isfinite(x):
        raise _Damage(f"{where} must be finite, got {_got(value)}")
    return x


def _names(value, where: str) -> tuple[str, ...]:
    names, seen = _list(value, where), set()
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise _Damage(f"{where}[{i}] must be a non-empty string, got {_got(name)}")
        if name in seen:
            raise _Damage(f"{where}[{i}] repeats the name {_got(name)}")
        seen.add(name)
    return tuple(names)


def _check_run(data: dict, path: Path) -> SavedRun:
    """The explicit schema of a run file: every field predict uses, its type and its shape."""
    from gdcli import models
    from gdcli.activations import ACTIVATION_NAMES
    from gdcli.config import MAX_HIDDEN

    features = _names(_field(data, "features", ""), "features")
    targets = _names(_field(data, "targets", ""), "targets")
    k, t = len(features), len(targets)

    if data["format"] == FORMAT:
        spec = _obj(_field(data, "model", ""), "model")
    elif "model" in data:
        raise _Damage("model: a gdcli-run/1 file holds a line and names no model")
    else:
        spec = {"name": models.Linear.name}  # a /1 file holds a line
    name = _field(spec, "name", "model.")
    if name not in models.MODELS:
        raise _Damage(f"model.name must be one of {', '.join(models.MODELS)}, got {_got(name)}")
    hidden, act = spec.get("hidden", 8), spec.get("activation", "tanh")
    if isinstance(hidden, bool) or not isinstance(hidden, int) or not 1 <= hidden <= MAX_HIDDEN:
        raise _Damage(f"model.hidden must be a whole number from 1 to {MAX_HIDDEN}, got {_got(hidden)}")
    if act not in ACTIVATION_NAMES:
        raise _Damage(f"model.activation must be one of {', '.join(ACTIVATION_NAMES)}, got {_got(act)}")
    model = models.build(name, k, t, hidden, act)

    params = _obj(_field(data, "params", ""), "params")
    names = [p.name for p in model.parameters()]
    extra = [key for key in params if key not in names]
    if extra:
        raise _Damage(f"params.{extra[0]} is not a parameter of the {name} model ({', '.join(names)})")
    checked = {p.name: _array(_field(params, p.name, "params."), f"params.{p.name}", p) for p in model.parameters()}

    tr = _obj(_field(data, "transform", ""), "transform")
    scale = _number(_field(tr, "scale", "transform."), "transform.scale")
    stats = {}
    for key in ("mean", "std"):
        value = tr.get(key)
        where = f"transform.{key}"
        stats[key] = None if value is None else [
            _number(v, f"{where}[{i}]") for i, v in enumerate(_list(value, where, model.inputs, model.parameters()[0].dims[1]))]
    try:
        # Transform owns the rules on its values (scale non-zero, std positive, mean with std).
        transform = Transform.from_dict({"scale": scale, **stats}, model.inputs)
    except ValueError as err:
        raise _Damage(f"transform: {err}") from None
    missing = data.get("missing", "error")
    if missing not in ("error", "drop"):
        raise _Damage(f"missing must be error or drop, got {_got(missing)}")
    return SavedRun(features, targets, transform, model, checked, _dataset(data, path), missing)


def _dataset(data: dict, path: Path) -> str | None:
    """The data file a run names, relative to the run file's folder, or None (a built-in, stdin, none)."""
    config = data.get("config")
    name = config.get("dataset") if isinstance(config, dict) else None
    if not isinstance(name, str) or not name or not is_file(name):
        return None
    return files.rebase(name, Path(path).parent)


def _array(value, where: str, param, depth: int = 0):
    """A parameter's nested lists, checked against its shape: numbers, one list per row."""
    size = param.shape[depth]
    what = param.dims[depth] if depth < len(param.dims) else f"{size} values"
    if depth == len(param.shape) - 1:
        return [_number(v, f"{where}[{i}]") for i, v in enumerate(_list(value, where, size, what))]
    return [_array(row, f"{where}[{i}]", param, depth + 1) for i, row in enumerate(_list(value, where, size, what))]


def parse_rows(values: list[str], n_features: int, names: tuple[str, ...]) -> list[list[float]]:
    """Each value is one input row: a number, or comma-separated numbers for several features."""
    rows = []
    for text in values:
        try:
            row = [number(v) for v in text.split(",")]
        except ValueError:
            example = ",".join(["1.5"] * n_features)
            raise GdcliError(f"{text!r} is not a number (or comma-separated numbers)", f"for example: {example}") from None
        if len(row) != n_features:
            raise GdcliError(
                f"{text!r} has {len(row)} value(s); this model takes {n_features} ({', '.join(names)})",
                "give one comma-separated row per input, for example " + ",".join(["1"] * n_features),
            )
        if not all(math.isfinite(v) for v in row):
            raise GdcliError(f"{text!r} holds a value that is not finite", "give finite numbers")
        rows.append(row)
    return rows


def predict(run: SavedRun, rows: list[list[float]]) -> list[list[float]]:
    """The model's outputs for raw input rows, after the same columns and scaling the training rows had."""
    import torch

    from gdcli.models import outputs

    return outputs(run.model, run.params, run.transform, torch.tensor(rows, dtype=torch.float64)).tolist()


PREDICT_ROWS = 1 << 16  # rows predicted at a time: a network's hidden layer stays small whatever the file


def output_blocks(run: SavedRun, X, rows: int | None = None) -> Iterator:
    """The model's outputs (block rows, targets) as float64 numpy, `rows` (PREDICT_ROWS) raw input rows
    of X (n, features) float64 numpy at a time: a network's hidden layer stays bounded by the block."""
    import torch

    from gdcli.models import outputs

    rows = rows or PREDICT_ROWS
    for start in range(0, X.shape[0], rows):
        yield outputs(run.model, run.params, run.transform, torch.from_numpy(X[start : start + rows])).numpy()


def predict_blocks(run: SavedRun, X, rows: int | None = None) -> Iterator[tuple[list, list]]:
    """(inputs, outputs) as lists of rows, `rows` (PREDICT_ROWS) at a time, for raw inputs X (n, features)
    float64 numpy: the memory a block takes is bounded, and a reader that stops early (a table's first
    rows) stops the work."""
    rows = rows or PREDICT_ROWS
    for start, out in zip(range(0, X.shape[0], rows), output_blocks(run, X, rows)):
        yield X[start : start + rows].tolist(), out.tolist()


def export_state(run: SavedRun) -> dict:
    """The run's parameters as a state_dict for the equivalent torch.nn module, taking raw inputs.

    The input transform x' = (x * scale - mean) / std is folded into the first layer:
    W x' + b = (W * scale / std) x + (b - W mean / std), exactly, in float64.
    """
    import torch

    if run.model.no_export:
        from gdcli.models import MODELS

        exportable = " or ".join(f"{param('model')} {name}" for name, entry in MODELS.items() if not entry.no_export)
        raise GdcliError(
            f"a {run.model.name} model has no plain torch.nn module to export: {run.model.no_export}",
            f"predict with: gdcli predict RUN_FILE VALUE ...; or train {exportable} to export",
        )
    state = {name: torch.tensor(value, dtype=torch.float64) for name, value in run.params.items()}
    first, bias = (p.name for p in run.model.parameters()[:2])  # the first layer: weight (out, inputs), bias
    state[first], state[bias] = run.transform.fold(state[first], state[bias])
    return state


# A float32 module may differ from predict by this fraction of the largest prediction before export warns:
# about a thousand float32 roundings, far above what evaluating in float32 costs a well-scaled layer.
DRIFT_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Drift:
    """How far a float32 module loaded with an exported state_dict strays from predict (float64)."""

    error: float  # the largest |float32 module - predict| over the probe inputs
    size: float  # the largest |prediction| there
    where: str  # which inputs were probed, in words

    @property
    def too_large(self) -> bool:
        """Whether the float32 module is off by more than DRIFT_TOLERANCE of the predictions' size."""
        return not self.error <= DRIFT_TOLERANCE * self.size


def float32_drift(run: SavedRun, state: dict) -> Drift | None:
    """The float32 module's error against predict on the saved scaling's range (mean +- 3 std of the
    training rows), or None where the run was not standardized: folding the standardization
    (W / std and b - W mean / std) is where float32 cancels, when the mean is large next to the std."""
    import torch

    from gdcli.models import outputs

    transform = run.transform
    if transform.mean is None:
        return None
    mean = torch.tensor(transform.mean, dtype=torch.float64)
    std = torch.tensor(transform.std, dtype=torch.float64)
    # Raw inputs whose standardized value runs from -3 to 3 in every feature at once.
    X = (torch.linspace(-3, 3, 13, dtype=torch.float64)[:, None] * std + mean) / transform.scale
    exact = outputs(run.model, run.params, transform, X)
    module = run.model.module().float()
    module.load_state_dict(state)  # copies (rounds) the float64 tensors into the float32 parameters
    with torch.no_grad():
        single = module(X.float()).double()
    error = float((single - exact).abs().max())
    return Drift(error, float(exact.abs().max()), "the training rows' mean +- 3 standard deviations")


def drift_warning(run: SavedRun, drift: Drift, target: Path) -> str:
    """The warning export prints when a float32 module would stray from predict, and how to get a float64 one."""
    load = f"load_state_dict(torch.load({str(target)!r}))"
    how = run.model.float64_recipe(load)
    return (
        f"warning: a float32 module built from these weights predicts up to {drift.error:.3g} away from gdcli "
        f"predict (whose predictions reach {drift.size:.3g}) over {drift.where}: folding the standardization into the first "
        f"layer loses digits in float32.\nUse a float64 module, which matches predict: {how}"
    )


def export(run_path: Path, target: Path) -> dict:
    """Write a saved run's state_dict (torch.save) to `target`, atomically; returns the state_dict."""
    import torch

    run = load_run(run_path)
    state = export_state(run)
    files.check_not_stdio(target, "model.pt", "MODEL_PT")
    files.check_apart({"MODEL_PT": target}, {"RUN_FILE": run_path, "the dataset RUN_FILE names": run.dataset}, "model.pt")
    files.check_target(target, example="model.pt")
    files.write_atomic(target, lambda tmp: torch.save(state, tmp))
    return state
