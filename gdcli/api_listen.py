"""How gdcli.fit, compare and sweep tell progress in Python: nothing printed unless `progress` asks
(True: the CLI's progress line on stderr; a callable: told (done, total) after every chunk of epochs).
The runner's and the sweep backends' listeners, and the check of `progress=` itself."""

from __future__ import annotations

from gdcli import api_extra
from gdcli import settings as st


class Listener:
    """The API's runner.Listener: nothing printed, unless `progress` asks (True: the CLI's progress
    line on stderr; a callable: told (done, total) after every chunk of epochs)."""

    def __init__(self, progress, label: str, total: int, unit: str):
        from gdcli import console
        from gdcli import progress as progress_line

        self.shown = progress_line.Progress(console.err(), label, total, "auto", unit, redirect=False) \
            if progress is True else None
        self.tell = (lambda done: progress(done, total)) if callable(progress) else None

    def note(self, text: str) -> None:
        """Notes are not printed: a Run keeps them (`run.notes`)."""

    def progress(self, done: int) -> None:
        if self.shown is not None:
            self.shown.update(done)
        elif self.tell is not None:
            self.tell(done)

    def finished(self) -> None:
        if self.shown is not None:
            self.shown.close()

    def interrupted(self, epoch: int, not_started: int) -> None:
        """Nothing printed: the runs say they were interrupted."""


class SweepListener:
    """The API's backends.SweepListener: quiet (Ray's own reports dropped too), progress as asked."""

    quiet = True

    def __init__(self, progress, label: str):
        self.progress, self.label = progress, label

    def begin(self, trainer, device: str, notes: list[str]) -> None:
        """Nothing printed: the Sweep has the notes."""

    def training(self, total: int, unit: str, redirect: bool) -> Listener:
        return Listener(self.progress, self.label, total, unit)

    def long_run(self, trainers: list) -> None:
        api_extra.warn_long_run(trainers)

    def cancelling(self, runs: int) -> None:
        """Nothing printed: the Sweep says how many runs were cancelled."""

    def cancelled(self, trained: int, planned: int, cancelled: int) -> None:
        """As cancelling."""


def listen(progress, label: str):
    """The API's listener for runner.train_with: made once the run-epochs to train are known."""
    return lambda total, unit: Listener(progress, label, total, unit)


def check_progress(progress) -> None:
    """Refuse a progress= that is neither a bool nor a callable taking (done, total)."""
    if not (progress is None or isinstance(progress, bool) or callable(progress)):
        raise st.GdcliError(f"progress must be True, False or a callable (done, total), got {progress!r}",
                            "for example progress=True for a progress line on stderr")
    if callable(progress) and not isinstance(progress, bool):
        import inspect

        try:
            inspect.signature(progress).bind(0, 0)
        except TypeError:
            raise st.GdcliError("progress must take two arguments, (done, total)",
                                "for example progress=lambda done, total: print(done, total)") from None
        except ValueError:
            pass  # no signature to read (a builtin): it is called and may answer for itself
