"""The built-in datasets' CSV files, shipped inside gdcli as the package gdcli.datasets (see pyproject.toml)."""
