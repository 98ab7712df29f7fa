"""The built-in datasets' CSV files, shipped inside gdcli as the package gdcli.builtin_data (see pyproject.toml)."""
