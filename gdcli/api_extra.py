"""What gdcli.fit, compare and sweep add to a run for Python: the long-run warning, the PNG of the
command's pictures (plot_file, log_loss) and the best run's file (save_best). Each is the CLI's
core, worded with the API's names (gdcli.settings.named)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from gdcli import console
from gdcli import settings as st
from gdcli.errors import GdcliError, flags_in, param, params_in

# A setting's marker with the choice after it ("method gram"): a keyword and a value in Python.
_CHOICE = re.compile(re.escape(param("NAME")).replace("NAME", "([a-z_]+)") + r" ([a-z][\w,:-]*)")


# The core's settings the API calls otherwise: compare's explicit pairs are runs= (the CLI's --run).
_RENAMED = {"run": "runs"}
# Settings that are switches: named alone on the command line (--compile), set to True in Python.
_SWITCHES = ("compile", "normalize", "plot", "log_loss", "quiet")


def api_words(text: str) -> str:
    """A core text as the API says it: method='gram' where the CLI says --method gram, compile=True
    where it says --compile."""
    for name in _SWITCHES:
        text = text.replace(param(name), f"{name}=True")
    text = _CHOICE.sub(lambda m: f"{_RENAMED.get(m[1], m[1])}='{m[2]}'", text)
    return flags_in(text, _RENAMED | {name: name for name in params_in(text) if name not in _RENAMED})


def warn_now(text: str, category=UserWarning) -> None:
    """warnings.warn at once, even inside settings.api_call (which hushes other libraries' warnings)."""
    was = console.quiet()
    console.set_quiet(False)
    try:
        warnings.warn(text, category, stacklevel=4)
    finally:
        console.set_quiet(was)


def warn_long_run(trainers: list, setting: str = "method") -> None:
    """Before training: a LongRun warning where the run will take over a minute (train.estimate)."""
    from gdcli.train import estimate

    text = estimate.advice(trainers, setting)
    if text:
        warn_now(api_words(text), estimate.LongRun)


def pictures(plot_file, log_loss) -> tuple[Path | None, bool]:
    """plot_file and log_loss checked before training: a PNG that can be written, and log_loss only with one."""
    log_loss = st.boolean("log_loss", log_loss)
    if plot_file is None:
        if log_loss:
            raise GdcliError("log_loss sets the loss axis of a picture, and none is drawn",
                             "add plot_file='out.png', or drop log_loss")
        return None, log_loss
    from gdcli import plots

    given = plot_file if isinstance(plot_file, str) else st.path("plot_file", plot_file)
    return plots.check_png_target(given), log_loss


def draw(plot_file: Path | None, panels: str, *args) -> None:
    """Write the command's pictures (gdcli.figures' `panels` function of `args`) to plot_file, where given."""
    if plot_file is not None:
        from gdcli import figures, plots

        plots.write_png(getattr(figures, panels)(*args), plot_file)


def best_target(save_best) -> Path | None:
    """save_best checked before training, as gdcli fit --save checks its file."""
    if save_best is None:
        return None
    from gdcli import best

    best.check(save_best if isinstance(save_best, str) else st.path("save_best", save_best))
    return Path(save_best)


def save_best(results: list, path: Path | None) -> None:
    """Write the best run's file where asked; a warning where every run diverged (nothing is written)."""
    if path is None:
        return
    from gdcli import best

    if best.save(results, path) is None:
        warnings.warn(best.not_saved(path), stacklevel=3)


def rows_source(cfg, backend, address, **pictures):
    """Where fit reads its rows (rayfit.OnRay for backend "ray"), or None for here; checked before Ray starts."""
    if backend == "local" and address is None:
        return None
    from gdcli import rayfit

    if not isinstance(backend, str):
        raise GdcliError(f"backend must be one of 'local', 'ray', got {backend!r}", "for example backend='ray'")
    if address is not None and not isinstance(address, str):
        raise GdcliError(f"address must be a string, got {address!r}", "for example address='auto' or 'HOST:PORT'")
    rayfit.check(cfg, backend, address, tuple(name for name, given in pictures.items() if given))
    return rayfit.OnRay(address, quiet=True) if backend == "ray" else None
