"""Saved runs: write a trained model atomically, read it back, and predict with it."""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from gdcli import __version__, files
from gdcli.data import Transform
from gdcli.text import number
from gdcli.errors import GdcliError

FORMAT = "gdcli-run/1"


def check_target(path: Path) -> None:
    """Raise GdcliError unless a run file can be written at path (commands call it before training)."""
    files.check_target(path, example="run.json")


def save_run(result, path: Path) -> None:
    """Save what predict needs (config, input transform, learned parameters) as JSON, atomically."""
    from gdcli.emit import clean

    data = {
        "format": FORMAT,
        "gdcli": __version__,
        "config": result.config.to_dict(),
        "features": list(result.features),
        "targets": list(result.targets),
        "transform": result.transform.to_dict(),
        "params": {"weight": result.weight, "bias": result.bias},
        "final_loss": clean(result.final_loss),
        "optimum_loss": clean(result.optimum_loss),
    }
    # allow_nan=False: a non-finite parameter is a bug upstream, never a file predict would refuse.
    files.write_atomic(path, json.dumps(data, indent=2, allow_nan=False) + "\n")


@dataclass(frozen=True)
class SavedRun:
    """A model read back from a run file."""

    features: tuple[str, ...]
    targets: tuple[str, ...]
    transform: Transform
    weight: list[list[float]]
    bias: list[float]


def load_run(path: Path) -> SavedRun:
    """Read and check a run file written by `gdcli fit --save`; any damage is a GdcliError naming the field."""
    hint = "pass a file written by: gdcli fit --save run.json"
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise GdcliError(f"run file {str(path)!r} not found", hint) from None
    except OSError as err:
        raise GdcliError(f"cannot read {str(path)!r} ({err.strerror or err})", hint) from None
    if stat.S_ISDIR(st.st_mode):
        raise GdcliError(f"{str(path)!r} is a folder, not a run file", hint)
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block, a device never end
        raise GdcliError(f"{str(path)!r} is not a regular file, so not a run file", hint)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise GdcliError(f"{str(path)!r} is damaged: its JSON is nested too deeply", hint) from None
    except (OSError, UnicodeDecodeError, ValueError) as err:  # ValueError: bad JSON, an integer too long
        raise GdcliError(f"{str(path)!r} is not a readable JSON file ({err})", hint) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise GdcliError(f"{str(path)!r} is not a gdcli run file", hint)
    try:
        return _check_run(data)
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


def _check_run(data: dict) -> SavedRun:
    """The explicit schema of a run file: every field predict uses, its type and its shape."""
    features = _names(_field(data, "features", ""), "features")
    targets = _names(_field(data, "targets", ""), "targets")
    k, t = len(features), len(targets)

    params = _obj(_field(data, "params", ""), "params")
    rows = _list(_field(params, "weight", "params."), "params.weight", t, "one row per target")
    weight = [
        [_number(v, f"params.weight[{i}][{j}]") for j, v in enumerate(
            _list(row, f"params.weight[{i}]", k, "one value per feature"))]
        for i, row in enumerate(rows)
    ]
    bias = [_number(v, f"params.bias[{i}]")
            for i, v in enumerate(_list(_field(params, "bias", "params."), "params.bias", t, "one value per target"))]

    tr = _obj(_field(data, "transform", ""), "transform")
    scale = _number(_field(tr, "scale", "transform."), "transform.scale")
    stats = {}
    for key in ("mean", "std"):
        value = tr.get(key)
        where = f"transform.{key}"
        stats[key] = None if value is None else [
            _number(v, f"{where}[{i}]") for i, v in enumerate(_list(value, where, k, "one value per feature"))]
    try:
        # Transform owns the rules on its values (scale non-zero, std positive, mean with std).
        transform = Transform.from_dict({"scale": scale, **stats}, k)
    except ValueError as err:
        raise _Damage(f"transform: {err}") from None
    return SavedRun(features, targets, transform, weight, bias)


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
    """The model's outputs for raw input rows, after the same scaling the training rows had."""
    import torch

    from gdcli import model

    X = run.transform.apply(torch.tensor(rows, dtype=torch.float64))
    theta = model.join_params(torch.tensor(run.weight, dtype=torch.float64), torch.tensor(run.bias, dtype=torch.float64))
    return model.predict(X, theta.unsqueeze(0))[:, 0].tolist()
