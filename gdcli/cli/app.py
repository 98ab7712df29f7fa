"""The Typer app: the root command, the error guard every command runs behind, and the entry point.

Nothing here imports torch at module level, so `gdcli --help` stays fast.
"""

import functools
from typing import Annotated, Callable

import typer

from gdcli import __version__, console
from gdcli.cli import commands, gather, usage
from gdcli.errors import GdcliError

app = typer.Typer(
    name="gdcli",
    help="Gradient descent experiments: fit a line, the book's quadratic or a small network to a built-in, "
    "synthetic or CSV, .csv.gz or Parquet dataset (or stdin) of up to tens of millions of rows; compare gradient "
    "methods and optimizers, sweep settings (here or on Ray), score saved models on held-out rows, check gradients "
    "and draw samples.",
    cls=commands.GdcliGroup,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=True,
)

_state = {"debug": False}


def fail(message: str, code: int) -> None:
    usage.print_error(message)
    raise typer.Exit(code)


def guarded(func: Callable) -> Callable:
    """Turn GdcliError into exit 2 and any other failure into exit 1, traceback only under --debug."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, usage.UsageError):
            raise  # a usage error (typer.BadParameter) prints as one, through the app's group
        except KeyboardInterrupt:
            # Ctrl-C before training started, or a second one during it: stop at once. Files are
            # written atomically, so nothing is left half-written.
            console.warn(usage.ABORTED)
            raise typer.Exit(130) from None
        except GdcliError as err:
            # A setting a config file gave is named with the file (the command's ctx, where it takes one).
            fail(str(gather.blamed(err, kwargs.get("ctx"))), 2)
        except BrokenPipeError:
            console.silence_stdout()
            raise typer.Exit(0) from None
        except Exception as err:  # noqa: BLE001 - the last line of defence
            if _state["debug"]:
                raise
            fail(f"{type(err).__name__}: {err} (run with --debug for the traceback)", 1)
        finally:
            console.set_quiet(False)  # other libraries may speak again (a program may run more commands)

    return wrapper


def command(name: str | None = None, **kwargs) -> Callable:
    """Register a command on the app behind the error guard, in gdcli's help and error style."""

    def register(func: Callable) -> Callable:
        app.command(name, cls=commands.GdcliCommand, **kwargs)(guarded(func))
        return func

    return register


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"gdcli {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback of unexpected errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print gdcli's version and exit.")
    ] = False,
) -> None:
    _state["debug"] = debug
    console.set_quiet(False)  # fit, compare and sweep turn it on with --quiet
    console.reader_back()  # (a program may run several commands in one process)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="gdcli")


if __name__ == "__main__":  # pragma: no cover
    main()
