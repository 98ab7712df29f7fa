"""Saved runs: write a trained model atomically, read it back, and predict with it."""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gdcli import __version__
from gdcli.data import Transform
from gdcli.errors import GdcliError

FORMAT = "gdcli-run/1"


def check_target(path: Path) -> None:
    """Raise GdcliError unless a file can be written at path (commands call it before training)."""
    if not path.parent.is_dir():
        raise GdcliError(f"folder {str(path.parent)!r} does not exist", f"create it first, or save elsewhere than {path}")
    if path.is_dir():
        raise GdcliError(f"{str(path)!r} is a folder", "give a file name, for example run.json")


def write_atomic(path: Path, text: str) -> None:
    """Write text to path via a temporary file in the same folder and a rename: never half-written."""
    check_target(path)
    folder = path.parent
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_run(result, path: Path) -> None:
    """Save what predict needs (config, input transform, learned parameters) as JSON."""
    data = {
        "format": FORMAT,
        "gdcli": __version__,
        "config": result.config.to_dict(),
        "features": list(result.features),
        "targets": list(result.targets),
        "transform": result.transform.to_dict(),
        "params": {"weight": result.weight, "bias": result.bias},
        "final_loss": result.final_loss,
        "optimum_loss": result.optimum_loss,
    }
    write_atomic(path, json.dumps(data, indent=2) + "\n")


@dataclass(frozen=True)
class SavedRun:
    """A model read back from a run file."""

    features: tuple[str, ...]
    targets: tuple[str, ...]
    transform: Transform
    weight: list[list[float]]
    bias: list[float]


def load_run(path: Path) -> SavedRun:
    """Read and check a run file written by `gdcli fit --save`."""
    hint = "pass a file written by: gdcli fit --save run.json"
    if path.is_dir():
        raise GdcliError(f"{str(path)!r} is a folder, not a run file", hint)
    if not path.is_file():
        raise GdcliError(f"run file {str(path)!r} not found", hint)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise GdcliError(f"{str(path)!r} is not a readable JSON file ({err})", hint) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise GdcliError(f"{str(path)!r} is not a gdcli run file", hint)
    try:
        features, targets = tuple(data["features"]), tuple(data["targets"])
        weight = [[float(v) for v in row] for row in data["params"]["weight"]]
        bias = [float(v) for v in data["params"]["bias"]]
        transform = Transform.from_dict(data["transform"], len(features))
        if not all(math.isfinite(v) for row in weight for v in row) or not all(math.isfinite(v) for v in bias):
            raise ValueError("parameters must be finite")
    except (KeyError, TypeError, ValueError) as err:
        what = f"{err.args[0]!r} is missing" if isinstance(err, KeyError) else str(err)
        raise GdcliError(f"{str(path)!r} is damaged: {what}", hint) from None
    if len(weight) != len(targets) or any(len(row) != len(features) for row in weight) or len(bias) != len(targets):
        raise GdcliError(f"{str(path)!r} is damaged: parameter shapes do not match its columns", hint)
    return SavedRun(features, targets, transform, weight, bias)


def parse_rows(values: list[str], n_features: int, names: tuple[str, ...]) -> list[list[float]]:
    """Each value is one input row: a number, or comma-separated numbers for several features."""
    rows = []
    for text in values:
        try:
            row = [float(v) for v in text.split(",")]
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
    return model.predict(model.augment(X).unsqueeze(0), theta.unsqueeze(0))[0].tolist()
