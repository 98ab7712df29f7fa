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
    from gdcli import data, emit, report

    if name is None:
        emit.emit(report.DatasetsView(data.BUILTINS, data.shapes()), output.value)
        return
    entry = data.BUILTINS.get(name)
    if entry is not None and entry.generated:
        # Drawn as shown: the table's first rows, or every row block by block as it is written.
        head, n_rows, blocks = data.generated_preview(name, seed=seed, rows=rows, features=features, head=report.SHOWN_ROWS)
        emit.emit(report.DatasetView(head, n_rows, blocks), output.value)
        return
    emit.emit(report.DatasetView(data.load_dataset(name, rows=rows, seed=seed, features=features)), output.value)
