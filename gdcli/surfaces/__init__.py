"""The loss surface with each run's path across it, computed from finished runs and their rows.

A line with one feature and one target is drawn over its two parameters (weight, bias) in
the coordinates it trained in; any other model as a 2-D slice through the final parameters of
the first drawn run that did not diverge (compare: the first strategy that converged; sweep:
the best run; see centre.py), along the directions its paths moved most or two named parameters. `for_fit`, `for_compare` and `for_sweep` build
one; `check` refuses a bad `surface_params` before training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gdcli.surfaces.build import SIZE, surface
from gdcli.surfaces.result import Axis, Surface, SurfacePath

if TYPE_CHECKING:
    from gdcli.train import RunResult

__all__ = ["Surface", "Axis", "SurfacePath", "SIZE", "surface", "check", "for_fit", "for_compare", "for_sweep",
           "MAX_PATHS", "Checked", "title"]

MAX_PATHS = 8  # paths a sweep's surface draws


def check(trainer, params) -> None:
    """Refuse `surface_params` that do not name two of the trainer's model's parameters (before training)."""
    if not params:
        return
    from gdcli.surfaces import names

    names.resolve(trainer.model, tuple(trainer.features), tuple(trainer.dataset.targets), params)


class Checked:
    """A sweep's listener (backends.SweepListener) that refuses a bad `surface_params` when the sweep
    begins, before any run trains; everything else is the listener's."""

    def __init__(self, listener, params):
        self.listener, self.params = listener, params

    def __getattr__(self, name: str):
        return getattr(self.listener, name)

    def begin(self, trainer, device: str, notes: list[str]) -> None:
        check(trainer, self.params)
        self.listener.begin(trainer, device, notes)


def rows_for(result: RunResult, trainers: list) -> tuple:
    """(prepared rows, model) a run trained on: its trainer's, or (a run trained elsewhere, on Ray)
    read and prepared again here from its settings."""
    for trainer in trainers:
        for run, found in enumerate(trainer.results()):
            if found is result:
                return trainer.plan.prepared[run], trainer.model
    from dataclasses import replace

    from gdcli.train import plan

    # Only the rows are wanted: read here, on the CPU, whatever device the run trained on.
    again = plan.make([replace(result.config, device="cpu")], history="logged")
    return again.prepared[0], again.model


def title(result: RunResult, dataset: str, what: str) -> str:
    """A surface's title: the dataset, the model unless the default, and whose paths it shows."""
    from gdcli.models import DEFAULT

    model = "" if result.config.model == DEFAULT else f"{result.config.model}, "
    return f"{dataset}: loss surface ({model}{what})"


def for_fit(result: RunResult, trainer, params=None) -> Surface:
    """A fit's surface: its one path."""
    cfg = result.config
    named = title(result, trainer.dataset.name, f"{cfg.method} + {cfg.optim}, lr {cfg.lr:g}")
    return surface([(f"{cfg.method}:{cfg.optim}", result)], trainer.plan.prepared[0], trainer.model, params,
                   title=named)


def for_compare(results: list, trainers: list, params=None) -> Surface:
    """A comparison's surface: one path per strategy, on the first one's rows."""
    prep, model = rows_for(results[0], trainers)
    drawn, notes = results, ()
    if len(results) > MAX_PATHS:  # more paths than markers and colours tell apart
        import math

        rest = sorted(results[1:], key=lambda r: r.ranking_loss if math.isfinite(r.ranking_loss) else math.inf)
        drawn = [results[0], *rest[: MAX_PATHS - 1]]
        notes = (f"paths of {MAX_PATHS} of the {len(results)} strategies: the first, and the {MAX_PATHS - 1} "
                 "others with the lowest final loss",)
    return surface([(f"{r.config.method}:{r.config.optim}", r) for r in drawn], prep, model, params, notes=notes,
                   title=title(results[0], prep.dataset.name, "a path per strategy"))


def for_sweep(best_first: list, dims: list[str], trainers: list, params=None) -> Surface:
    """A sweep's surface: one path per run, at most MAX_PATHS (the best and an even spread over lr)."""
    drawn, note = picked(best_first)
    prep, model = rows_for(drawn[0], trainers)
    labelled = list(zip(_labels(drawn, dims), drawn))
    return surface(labelled, prep, model, params, notes=(note,) if note else (),
                   title=title(drawn[0], prep.dataset.name, "a path per run"), called="the run ")


def picked(best_first: list) -> tuple[list, str]:
    """The runs whose paths a sweep draws, the best first, and a note where some are left out."""
    if len(best_first) <= MAX_PATHS:
        return list(best_first), ""
    by_lr = sorted(best_first[1:], key=lambda r: r.config.lr)
    count = MAX_PATHS - 1
    spread = [by_lr[round(k * (len(by_lr) - 1) / (count - 1))] for k in range(count)]
    return [best_first[0], *spread], (f"paths of {MAX_PATHS} of the {len(best_first)} runs: the best, and "
                                     f"{count} spread evenly over the learning rates")


def _labels(results: list[RunResult], dims: list[str]) -> list[str]:
    """Each sweep run's name on its path: the settings that vary ("lr 0.00543"), with as few digits
    as keep the names apart."""
    for digits in (3, 4, 6, 17):
        labels = [_label(r, dims, digits) for r in results]
        if len(set(labels)) == len(labels):
            break
    return labels


def _label(result: RunResult, dims: list[str], digits: int) -> str:
    values = [(d, getattr(result.config, d)) for d in dims]
    return ", ".join(f"{d} {v:.{digits}g}" if isinstance(v, float) else f"{d} {v}" for d, v in values) or "run"
