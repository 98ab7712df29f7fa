"""Before a run that a config file set up: what the file gave, checked where the command line left it.

`--config -` and `--dataset -` cannot share standard input; a dataset path from the file that is
not there is named with the file that gave it (a relative one is relative to the file's folder);
and a replayed run file says what it replays (an interrupted run, data from stdin) and refuses
data whose columns are not those the run was trained on.
"""

from __future__ import annotations

from pathlib import Path

from typer import Context

from gdcli import console, data
from gdcli.cli.configfile import FROM_FILE, META, STDIN, TYPED, name_of, source
from gdcli.errors import GdcliError, flags_in, param


def check(ctx: Context, run: dict, path) -> None:
    """What a config gave the run, checked before any work where the command line left it in place:
    stdin asked for twice, a dataset path that is not there (naming the file that gave it), and a
    replayed run file (what is replayed, and whether the data has the columns it was trained on)."""
    meta, name = ctx.meta.get(META, {}), name_of(path)
    dataset = run.get("dataset")
    from_file = lambda option: source(ctx, option) == FROM_FILE  # noqa: E731
    if str(path) == STDIN and dataset == data.STDIN:
        raise GdcliError(
            f"{param('config')} - and {param('dataset')} - both read standard input, which holds only one of them",
            f"save the config to a file and give {param('config')} FILE, or give the dataset as a file",
        )
    if from_file("dataset") and isinstance(dataset, str) and data.is_file(dataset) and not _there(dataset):
        given = meta.get("given", {}).get("dataset", dataset)
        where = "the current folder" if str(path) == STDIN else "the config file's folder"
        raise GdcliError(
            f"config file {name} names the dataset {given!r}, which is not there ({dataset!r}: a relative "
            f"path in a config file is relative to {where})",
            f"fix dataset in {name}, or give {param('dataset')} on the command line",
        )
    if meta.get("run") is not None:
        typed = source(ctx, "epochs") == TYPED
        _replay(run, meta["run"], name, from_file, typed)


def _there(dataset: str) -> bool:
    """Whether a data path is there: a file, a folder of parts, or a glob that matches."""
    from gdcli import readers

    return Path(dataset).exists() or readers.parts_found(dataset)


def _replay(run: dict, saved: dict, name: str, from_file, epochs_typed: bool) -> None:
    """Say what a replayed run file reruns, and refuse data whose columns it was not trained on."""
    done, asked = saved.get("epochs_run"), saved["config"].get("epochs")
    if saved.get("interrupted") is True and isinstance(done, int) and isinstance(asked, int):
        now = run.get("epochs")
        again = f"reruns all {asked} epochs it asked for"
        if epochs_typed:
            again = f"trains the {now} epochs of {param('epochs')}"
        console.note(flags_in(f"note: the run saved in {name} was interrupted at epoch {done} of {asked}; "
                              f"this {again}, from the start"))
    dataset = run.get("dataset")
    if not from_file("dataset") or not isinstance(dataset, str) or dataset in data.BUILTINS:
        return
    if dataset == data.STDIN:
        console.note(f"note: the run saved in {name} read its data from standard input; this trains on what "
                     "is piped in now")
    if not from_file("target"):
        return  # another target, typed: other columns on purpose
    _check_columns(run, saved, name, dataset)


def _check_columns(run: dict, saved: dict, name: str, dataset: str) -> None:
    """Refuse data whose features and targets are not the run file's (read from the header alone)."""
    from gdcli import readers

    features, targets = saved.get("features"), saved.get("targets")
    names = (features or []) + (targets or []) if isinstance(features, list) and isinstance(targets, list) else None
    if not names or not all(isinstance(c, str) for c in names):
        return  # a damaged run file: its own checks say what is wrong
    header = readers.header_of(dataset)
    if header is None:
        return  # loading the data says what is wrong with it
    where = "standard input" if dataset == data.STDIN else repr(dataset)
    columns = saved.get("columns")
    left_out = columns.get("left_out") if isinstance(columns, dict) else None
    if isinstance(left_out, dict):  # the columns the run left out (an id, a text column) are no change
        header = tuple(c for c in header if c not in left_out)
    if len(header) == len(names) and set(header) == set(names):
        # The run's columns in any order: its targets are picked by name, as predict picks its inputs.
        run["targets"] = tuple(targets)
        chosen = set(targets)
        order = [c for c in header if c not in chosen]
        if order != features:
            console.note(f"note: {where} has the run's columns in another order; this takes the features in "
                         f"its order: {', '.join(order)}")
        return
    expected = f"{', '.join(features)} (features) and {', '.join(targets)} (target{'s' * (len(targets) > 1)})"
    again = "pipe in the data it was trained on" if dataset == data.STDIN else f"restore {dataset!r} as it was"
    raise GdcliError(
        f"the run saved in {name} was trained on the columns {expected}, but {where} has the columns "
        f"{', '.join(header)}{_differs(header, names)}",
        f"{again}, or give {param('dataset')} (and {param('target')}) to train on other data",
    )


def _differs(header: tuple[str, ...], names: list[str]) -> str:
    """What sets the header apart from the run's columns: " (without y; z and w are not the run's)"."""
    have, want = set(header), set(names)
    missing = [c for c in names if c not in have]
    extra = [c for c in header if c not in want]
    parts = [f"without {_and(missing)}"] if missing else []
    if extra:
        parts.append(f"{_and(extra)} {'are' if len(extra) > 1 else 'is'} not the run's")
    return f" ({'; '.join(parts)})" if parts else " (a column twice)"


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
