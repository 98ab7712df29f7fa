"""gdcli's command line: a thin layer of Typer commands over gdcli's core and API.

Each command is a module here (fit, saved, datasets, compare, sweep, tools); this file puts
them on the app, in the order `gdcli --help` lists them. Shared option declarations live in
options.py, the config-file layer in configfile.py, and gdcli's error voice in usage.py.
"""

from gdcli.cli import compare, datasets, fit, saved, sweep, tools
from gdcli.cli.app import app, command, main
from gdcli.cli.sweep import Backend

command("fit")(fit.fit)
command("predict", context_settings={"ignore_unknown_options": True})(saved.predict)
command("evaluate")(saved.evaluate)
command("datasets")(datasets.datasets)
command("compare")(compare.compare)
command("sweep")(sweep.sweep)
command("export")(saved.export)
command("sample")(tools.sample)
# An expression may start with "-" ("-x**2"): not an option, so let it through as EXPR.
command("grad", context_settings={"ignore_unknown_options": True})(tools.grad)

__all__ = ["app", "main", "Backend"]
