"""`python -m gdcli` runs the same app as the `gdcli` console script."""

from gdcli.cli import main

main()
