"""`gdcli datasets`: the built-in datasets, or the rows of one."""

from typing import Annotated, Optional

import typer

from gdcli.cli.options import Output


def datasets(
    name: Annotated[
        Optional[str],
        typer.Argument(metavar="NAME", help="Show this dataset's rows (a built-in, a data file, or - for stdin).", show_default=False),
    ] = None,
    rows: Annotated[Optional[int], typer.Option("--rows", help="Rows drawn for synthetic (default: 100).")] = None,
    features: Annotated[
        Optional[int], typer.Option("--features", help="Features drawn for synthetic (default: 1).")
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", min=0, max=2**64 - 1, help="Seed of synthetic's draw, 0 to 2**64 - 1.")
    ] = 42,
    output: Annotated[
        Output,
        typer.Option(
            "--output", help="Write a table for people, or json, jsonl or csv for programs: the list, or NAME's rows."
        ),
    ] = Output.table,
) -> None:
    """List the built-in datasets, or print the rows of one (a built-in, a data file or stdin)."""
    from gdcli import api, emit

    emit.emit(api.dataset_view(name, rows=rows, features=features, seed=seed), output.value)
