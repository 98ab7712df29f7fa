"""The picture options of the run commands (--plot, --plot-file, --surface, --surface-params, --animate) and sample's."""

from typing import Annotated, Optional

import typer

from gdcli.cli.options import OUTPUT, written_path

PlotOpt = Annotated[bool, typer.Option("--plot", help="Draw the pictures in the terminal.", rich_help_panel=OUTPUT)]

# str, not Path: Typer would turn the parser's "" into Path("."); written_path gives a Path otherwise.
PlotFileOpt = Annotated[
    Optional[str],
    typer.Option(
        "--plot-file",
        parser=written_path,
        help='Write the pictures to this PNG (needs pip install "gdcli\\[plot]").',
        rich_help_panel=OUTPUT,
        metavar="PNG",
    ),
]
LogLossOpt = Annotated[bool, typer.Option(
    "--log-loss", rich_help_panel=OUTPUT,
    help="Draw the loss axis of --plot and --plot-file on a log scale (default: log where a curve spans more "
    "than two decades).")]


def check_log_loss(log_loss: bool, drawn: bool) -> None:
    """Refuse --log-loss where no picture is drawn (neither --plot nor --plot-file): it would do nothing."""
    from gdcli.errors import GdcliError

    if log_loss and not drawn:
        raise GdcliError("--log-loss sets the loss axis of a picture, and none is drawn",
                         "add --plot or --plot-file out.png, or drop --log-loss")


SurfaceOpt = Annotated[Optional[bool], typer.Option(
    "--surface", show_default=False, rich_help_panel=OUTPUT,
    help="Draw the loss surface with each run's path (a line's weight and bias, else a slice through the final "
    "parameters); with --output json, add it as a surface block.")]
SurfaceParamsOpt = Annotated[Optional[str], typer.Option(
    "--surface-params", rich_help_panel=OUTPUT, metavar="NAME,NAME",
    help="Slice the surface along two parameters, named as gdcli grad lists them, e.g. "
    "hidden_linear.weight[3],output_linear.bias (implies --surface).")]
AnimateOpt = Annotated[
    Optional[str],  # a Path from written_path, or "" to be refused as empty
    typer.Option(
        "--animate",
        parser=written_path,
        help='Write the run as an animated GIF: the fitted line moving epoch by epoch beside the loss curve, and the path growing on the surface with --surface '
        '(needs pip install "gdcli\\[plot]").',
        rich_help_panel=OUTPUT,
        metavar="GIF",
    ),
]
