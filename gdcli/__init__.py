"""gdcli: gradient descent experiments on regression problems, from eleven rows to tens of millions.

From Python: `gdcli.fit(...)`, `compare`, `sweep`, `grad`, `sample`, `load_run`, `datasets`, `predict` and `evaluate`
(see gdcli.api). They load torch when first called, so `import gdcli` stays light.
"""

from gdcli.errors import GdcliError

__version__ = "0.3.0"

# The registries, each with its register/unregister: `gdcli.models.register(...)` after `import gdcli`.
_REGISTRIES = ("models", "activations", "schedules", "optimizers", "gradients", "readers", "backends")
_API = ("fit", "compare", "sweep", "grad", "sample", "load_run", "datasets", "predict", "evaluate", "Run", "Comparison",
        "Sweep", "Report")
__all__ = ["GdcliError", "__version__", *_API]


def __getattr__(name: str):
    """The API's functions and result types, imported on first use."""
    if name in _API:
        from gdcli import api

        value = getattr(api, name)
        globals()[name] = value
        return value
    if name in _REGISTRIES:
        import importlib

        return importlib.import_module(f"gdcli.{name}")
    raise AttributeError(f"module 'gdcli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API) | set(_REGISTRIES))
