"""gdcli: gradient descent experiments on regression problems, from eleven rows to tens of millions.

From Python: `gdcli.fit(...)`, `compare`, `sweep`, `grad`, `sample`, `load_run` and `datasets`
(see gdcli.api). They load torch when first called, so `import gdcli` stays light.
"""

import importlib as _importlib
import sys as _sys
import types as _types

from gdcli.errors import GdcliError

__version__ = "0.3.0"

# The built-in CSVs are the subpackage gdcli.datasets. Imported now, it will not bind the
# name again when the data is read, which would replace the function gdcli.datasets().
_importlib.import_module("gdcli.datasets")
del datasets  # noqa: F821 - bound by the import above; __getattr__ hands out the function



class _Callable(_types.ModuleType):
    """A core module that is also the API's function of its name: gdcli.compare(...) runs a comparison
    while `from gdcli import compare` still gives the core module to the CLI."""

    def __call__(self, *args, **kwargs):
        from gdcli import api

        return getattr(api, self.__name__.rpartition(".")[2])(*args, **kwargs)


def _module_and_function(name: str) -> property:
    """gdcli.NAME: the submodule gdcli.NAME, made callable (imported on first use)."""

    def get(package):
        module = _sys.modules.get(f"gdcli.{name}") or _importlib.import_module(f"gdcli.{name}")
        if not isinstance(module, _Callable):
            module.__class__ = _Callable
        return module

    def bind(package, value) -> None:
        """The import system binds the submodule here; `get` finds it in sys.modules."""

    return property(get, bind, doc=f"gdcli.{name}(...) (see gdcli.api.{name}), and the core module gdcli.{name}")


class _Package(_types.ModuleType):
    """The gdcli package, where compare and sweep are both core modules and API functions."""

    compare = _module_and_function("compare")
    sweep = _module_and_function("sweep")


_sys.modules[__name__].__class__ = _Package

_API = ("fit", "grad", "sample", "load_run", "datasets", "Run", "Comparison", "Sweep", "Report")
__all__ = ["GdcliError", "__version__", "compare", "sweep", *_API]


def __getattr__(name: str):
    """The API's functions and result types, imported on first use."""
    if name in _API:
        from gdcli import api

        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gdcli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API) | {"compare", "sweep"})
