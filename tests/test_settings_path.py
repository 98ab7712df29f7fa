"""How far a run's settings travel: the modules that receive its RunConfig while it trains.

A plan decides everything a run needs once, so a run's settings should reach few modules
and never climb back up into one that called down (train -> store -> data -> train). The
trace follows the RunConfig object itself: every gdcli function called with it as an
argument, during `train.fit` and training to the end. The RunConfig's own methods (`every`,
`logged`) read it and are not counted as a module it passes through.
"""

from __future__ import annotations

import sys

from gdcli import runner, train


class _Quiet:
    def note(self, text):
        pass

    def progress(self, done):
        pass

    def finished(self):
        pass

    def interrupted(self, epoch, not_started):
        pass


# The settings' own modules: RunConfig (config.py), the table it is checked against
# (constraints.py) and the rules between settings (rules.py). Checking a RunConfig there is
# reading the settings, not passing them on.
SETTINGS = ("gdcli.config", "gdcli.constraints", "gdcli.rules")


def _unit(module: str) -> str:
    # The training loop is one package whose parts a newcomer names (plan, loop, hooks, ...):
    # the settings reach "train" once however its files are cut.
    if module in SETTINGS:
        return "settings"
    return "gdcli.train" if module.startswith("gdcli.train.") else module


def trace(cfg, work) -> tuple[list[str], list[tuple[str, str, str]]]:
    """The units that receive `cfg` in `work()`, in order, and each climb back up: a call
    into a unit already on the stack of cfg's callers, other than the caller's own."""
    stack: list[tuple[str, object]] = []
    units: list[str] = []
    climbs: list[tuple[str, str, str]] = []

    def carries(frame) -> bool:
        if not frame.f_globals.get("__name__", "").startswith("gdcli"):
            return False
        if frame.f_locals.get("self") is cfg:
            return False  # RunConfig's own property or method
        return any(value is cfg for value in frame.f_locals.values())

    def profile(frame, event, arg):
        if event == "call" and carries(frame):
            unit = _unit(frame.f_globals["__name__"])
            if unit not in units:
                units.append(unit)
            callers = [u for u, _ in stack]
            if callers and unit != callers[-1] and unit in callers[:-1]:
                climbs.append((callers[-1], unit, frame.f_code.co_name))
            stack.append((unit, frame))
        elif event == "return" and stack and stack[-1][1] is frame:
            stack.pop()

    sys.setprofile(profile)
    try:
        work()
    finally:
        sys.setprofile(None)
    return units, climbs


def _fit(cfg):
    trainer = train.fit(cfg)
    runner.train([trainer], _Quiet())
    trainer.result()


def test_a_runs_settings_pass_through_at_most_six_modules_and_three_climbs():
    for settings in ({}, {"model": "mlp", "batch_size": 4, "val_fraction": 0.2}, {"tol": 1e-6, "schedule": "step"}):
        cfg = train.resolve(epochs=40, **settings)
        units, climbs = trace(cfg, lambda: _fit(cfg))
        assert "gdcli.train" in units  # the trace sees the training
        assert len(units) <= 6, (settings, units)
        assert len(climbs) <= 3, (settings, climbs)
