"""--save-best (compare, sweep) and save_best= (the API): the best run's run file, as `gdcli fit --save` writes it.

The best is the run the table ranks first (grid.ranked). A best that diverged (every run did)
is not written: predict would have nothing sound to read.
"""

from __future__ import annotations

from pathlib import Path


def check(path) -> None:
    """Raise GdcliError unless the run file can be written (before training, as fit's --save)."""
    from gdcli import runfile

    runfile.check_target(path)  # as given: "" is refused as empty, where Path("") would be the folder "."


def save(results: list, path) -> object | None:
    """Write the best of `results` (ranked as the table ranks them) to `path`; the RunResult written,
    or None where none trained or every run diverged (nothing is written then)."""
    from gdcli import grid, runfile

    ranked = grid.ranked(results)
    if not ranked or ranked[0].verdict.diverged:
        return None
    runfile.save_run(ranked[0], Path(path))
    return ranked[0]


def label(result) -> str:
    """Which run was saved, in a few words: method + optim and the settings a sweep varies."""
    cfg = result.config
    text = f"{cfg.method} + {cfg.optim}, lr {cfg.lr:g}"
    if cfg.momentum:
        text += f", momentum {cfg.momentum:g}"
    if cfg.batch_size is not None:
        text += f", batch size {cfg.batch_size}"
    which = "validation loss" if result.n_val else "final loss"
    return text + f", seed {cfg.seed}; lowest {which} {result.ranking_loss:.6g}"


def not_saved(path) -> str:
    """Why nothing was written: every run diverged."""
    return f"not saved to {path}: every run diverged, so there is no best run to predict with"
