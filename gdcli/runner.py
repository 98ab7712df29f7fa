"""Train trainers to the end, telling a listener how it goes; nothing is printed here.

Ctrl-C stops at the last whole epoch (a trainer looks before every mini-batch): the trainer
in progress marks its runs interrupted, the ones not started are left out of the list
returned, and the listener hears where it stopped. A second Ctrl-C raises KeyboardInterrupt
at once (gdcli.train.interrupt). A command reports what was trained, then ends as an interrupted
command does (`interrupted`).
"""

from __future__ import annotations

from typing import Callable, Protocol


class Listener(Protocol):
    """What a caller hears while trainers train (the CLI: notes, a progress bar, a warning on stderr)."""

    def note(self, text: str) -> None:
        """A trainer's note about its settings, once each, before training."""

    def progress(self, done: int) -> None:
        """Run-epochs trained so far, after every chunk of epochs."""

    def finished(self) -> None:
        """Training is over: finished, stopped or aborted."""

    def interrupted(self, epoch: int, not_started: int) -> None:
        """Ctrl-C stopped training at `epoch` of the last trainer that ran; `not_started` trainers never ran."""


def train(trainers: list, listener: Listener, each_chunk: Callable | None = None,
          reader_left: Callable[[], bool] | None = None) -> list:
    """Train every trainer to the end and return those that ran (all of them, unless Ctrl-C came).

    `each_chunk` is called with each chunk of epochs as it is done (fit's jsonl rows).
    `reader_left`: whether stdout's reader went away (gdcli ... | head); training is then
    stopped and BrokenPipeError raised, as for any closed pipe.
    """
    from gdcli.train import interrupt

    for note in dict.fromkeys(n for trainer in trainers for n in trainer.notes):
        listener.note(note)
    done, ran = 0, []
    try:
        with interrupt.catch() as requests:
            stop = interrupt.Watch(requests, reader_left)
            for trainer in trainers:
                ran.append(trainer)
                done += _train_one(trainer, stop, listener, each_chunk, done)
                if stop():
                    trainer.interrupt()  # (the trainer may have done so itself: once is enough)
                    break
    finally:
        listener.finished()
    if stop.reader_gone:
        raise BrokenPipeError
    if requests.stop:
        listener.interrupted(ran[-1].epochs_done, len(trainers) - len(ran))
    return ran


def train_with(trainers: list, listen: Callable[[int, str], Listener], each_chunk: Callable | None = None,
               reader_left: Callable[[], bool] | None = None) -> list:
    """`train`, told by the listener that `listen(total, unit)` makes for these trainers' run-epochs (`totals`)."""
    total, unit = totals(trainers)
    return train(trainers, listen(total, unit), each_chunk, reader_left)


def _train_one(trainer, stop, listener: Listener, each_chunk: Callable | None, before: int) -> int:
    """Train one trainer chunk by chunk until it ends or `stop` says so; the run-epochs it was planned for."""
    runs = len(trainer.configs)
    trainer.should_stop = stop
    for chunk in trainer.chunks():
        listener.progress(before + chunk.last * runs)
        if each_chunk is not None:
            each_chunk(chunk)
        if stop():
            break
    return trainer.base.epochs * runs


def totals(trainers: list) -> tuple[int, str]:
    """The run-epochs these trainers train, and what progress counts them in ("epochs" for a single run)."""
    total = sum(t.base.epochs * len(t.configs) for t in trainers)
    return total, "epochs" if total == trainers[0].base.epochs else "run-epochs"


def interrupted(trainers: list) -> bool:
    """Whether Ctrl-C interrupted any of these trainers' runs."""
    return any(t.interrupted for t in trainers)


class AfterTraining:
    """Work done after training (the loss surface, an animation) that Ctrl-C skips rather than aborts: the
    trained runs still report. `skipped` names what was skipped; `told(text)`, where given, hears it at once."""

    def __init__(self, told: Callable[[str], None] | None = None):
        self.skipped: list[str] = []
        self.told = told

    def run(self, what: str, work: Callable):
        """work(), or None where Ctrl-C stopped it (`what` names it)."""
        try:
            return work()
        except KeyboardInterrupt:
            self.skipped.append(what)
            if self.told is not None:
                self.told(self.message(what))
            return None

    @staticmethod
    def message(what: str) -> str:
        """What a listener says of something skipped."""
        return f"interrupted: {what} skipped"
