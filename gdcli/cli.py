"""The Typer app: one short function per command, parse -> core -> render.

Nothing here imports torch at module level, so `gdcli --help` stays fast.
"""

import functools
import sys
import time
from pathlib import Path
from typing import Annotated, Callable, Iterator, Optional

import typer
from rich.console import Console

from gdcli import cli_tools
from gdcli.errors import GdcliError
from gdcli.options import Output, run_options

app = typer.Typer(
    name="gdcli",
    help="Gradient descent experiments on small regression problems.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)

_state = {"debug": False}


def _fail(message: str, code: int) -> None:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def guarded(func: Callable) -> Callable:
    """Turn GdcliError into exit 2 and any other failure into exit 1, traceback only under --debug."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except GdcliError as err:
            _fail(str(err), 2)
        except Exception as err:  # noqa: BLE001 - the last line of defence
            if _state["debug"]:
                raise
            _fail(f"{type(err).__name__}: {err} (run with --debug for the traceback)", 1)

    return wrapper


def command(name: str | None = None, **kwargs) -> Callable:
    """Register a command on the app behind the error guard."""

    def register(func: Callable) -> Callable:
        app.command(name, **kwargs)(guarded(func))
        return func

    return register


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback of unexpected errors.")] = False,
) -> None:
    _state["debug"] = debug


def _out() -> Console:
    return Console(highlight=False)


def _err() -> Console:
    return Console(stderr=True, highlight=False)


def _progress(chunks: Iterator, total: int, label: str) -> Iterator:
    """Pass chunks through, showing a progress bar on a terminal once the run has lasted a second."""
    err = _err()
    started, bar, task = time.perf_counter(), None, None
    try:
        for chunk in chunks:
            if bar is None and err.is_terminal and time.perf_counter() - started > 1.0:
                from rich.progress import Progress

                bar = Progress(console=err, transient=True)
                bar.start()
                task = bar.add_task(label, total=total)
            if bar is not None:
                bar.update(task, completed=chunk.last)
            yield chunk
    finally:
        if bar is not None:
            bar.stop()


LogEvery = Annotated[
    Optional[int], typer.Option("--log-every", help="Epochs between table rows (default: a tenth of the run).")
]
OutputOpt = Annotated[Output, typer.Option("--output", help="table for people; json, jsonl or csv for programs.")]


@command("fit")
@run_options
def fit(
    run: dict,
    log_every: LogEvery = None,
    output: OutputOpt = Output.table,
    save: Annotated[
        Optional[Path], typer.Option("--save", help="Write config, scaling and learned parameters to this JSON file.")
    ] = None,
) -> None:
    """Train a linear model by gradient descent and compare it with the least-squares optimum."""
    from gdcli import report, runfile, train

    cfg = train.resolve(log_every=log_every, **run)
    trainer = train.fit(cfg)
    out, device = _out(), str(trainer.device)
    if output == Output.table:
        prep = trainer.prepared[0]
        out.print(report.header(cfg, trainer.dataset, len(prep.train_rows), len(prep.val_rows), device))
    for chunk in _progress(trainer.chunks(), cfg.epochs, f"{cfg.method} + {cfg.optim}"):
        if output == Output.jsonl:
            for record in train.chunk_records(chunk, 0):
                if record.weight is not None:
                    print(report.dumps(report.record_dict(record)), flush=True)
    result = trainer.result()
    if output == Output.table:
        out.print(report.epoch_table(result.records, result.val_loss is not None))
        out.print(report.footer(result))
    elif output == Output.json:
        print(report.dumps(report.result_dict(result, device=device)))
    elif output == Output.jsonl:
        print(report.dumps(report.result_dict(result, history=False, device=device)))
    else:
        sys.stdout.write(report.history_csv(result))
    if result.diverged:
        if save:
            _err().print(f"not saved to {save}: the run diverged")
        _fail(report.divergence(result), 3)
    if save:
        runfile.save_run(result, save)
        _err().print(f"saved to {save}; predict with: gdcli predict {save} VALUE ...")


@command("predict")
def predict(
    run_file: Annotated[Path, typer.Argument(help="A run saved by gdcli fit --save.", show_default=False)],
    values: Annotated[
        list[str],
        typer.Argument(help="Input rows in original units; comma-separate several features (70,0.1,0.043).", show_default=False),
    ],
    output: OutputOpt = Output.table,
) -> None:
    """Apply a saved model to new inputs, with the same scaling it was trained with."""
    from gdcli import report, runfile

    saved = runfile.load_run(run_file)
    rows = runfile.parse_rows(values, len(saved.features), saved.features)
    preds = runfile.predict(saved, rows)
    if output == Output.table:
        _out().print(report.predictions_table(saved.features, saved.targets, rows, preds))
    elif output in (Output.json, Output.jsonl):
        items = [{"input": dict(zip(saved.features, x)), "prediction": dict(zip(saved.targets, y))} for x, y in zip(rows, preds)]
        lines = [report.dumps(items)] if output == Output.json else [report.dumps(i) for i in items]
        print("\n".join(lines))
    else:
        print(",".join((*saved.features, *saved.targets)))
        for x, y in zip(rows, preds):
            print(",".join(repr(v) for v in (*x, *y)))


@command("datasets")
def datasets(
    name: Annotated[Optional[str], typer.Argument(help="Show this dataset's rows.", show_default=False)] = None,
    rows: Annotated[int, typer.Option("--rows", help="Rows for synthetic.")] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Seed for synthetic.")] = 42,
) -> None:
    """List the built-in datasets, or print one's rows."""
    from gdcli import data, report

    if name is None:
        shapes = {n: data.load_dataset(n, rows=1) if e.default_rows else data.load_dataset(n) for n, e in data.BUILTINS.items()}
        _out().print(report.datasets_table(data.BUILTINS, shapes))
        return
    _out().print(report.dataset_table(data.load_dataset(name, rows=rows, seed=seed)))


command("sample")(cli_tools.sample)
command("grad")(cli_tools.grad)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="gdcli")


if __name__ == "__main__":  # pragma: no cover
    main()
    sys.exit(0)
