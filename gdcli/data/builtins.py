"""The built-in datasets: the packaged CSVs (the package gdcli.builtin_data, the top-level
datasets/ folder) and the synthetic dataset, each with the preset that trains it well."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Callable

from gdcli.data.dataset import Dataset, from_table
from gdcli.data import generated
from gdcli.data.generated import SYNTHETIC, SYNTHETIC_PRESET, SYNTHETIC_TARGETS, synthetic_features


@dataclass(frozen=True)
class Shape:
    """What a listing shows of a built-in dataset, known without generating its rows."""

    name: str
    n_rows: int  # the default row count where the rows are generated
    features: tuple[str, ...]
    targets: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class Builtin:
    """A registry entry: how to get the rows, and the preset that trains them well."""

    description: str
    preset: dict
    load: Callable[..., Dataset]  # (seed, rows, features) -> Dataset
    shape: Callable[[], Shape]  # without loading the rows
    default_rows: int | None = None  # generated data: the rows drawn when --rows is not given
    units: dict[str, str] = field(default_factory=dict)

    @property
    def generated(self) -> bool:
        """Whether the rows are drawn (from --seed, --rows, --features) rather than read."""
        return self.default_rows is not None


def shapes() -> dict[str, Shape]:
    """Every built-in's name, rows, features, targets and description, without torch: for `gdcli datasets`."""
    return {name: entry.shape() for name, entry in BUILTINS.items()}


def _packaged(
    name: str,
    description: str,
    preset: dict,
    targets: tuple[str, ...] = (),
    units: dict[str, str] | None = None,
) -> Builtin:
    where = f"built-in dataset {name}"

    def load(seed: int = 0, rows: int | None = None, features: int | None = None) -> Dataset:
        from gdcli import readers

        with resources.as_file(resources.files("gdcli.builtin_data").joinpath(f"{name}.csv")) as path:
            table = readers.read(path, where)
        return replace(from_table(name, table, targets, description, preset), units=units or {})

    def shape() -> Shape:
        # The packaged files are a few lines long: their header and line count say it all.
        text = resources.files("gdcli.builtin_data").joinpath(f"{name}.csv").read_text(encoding="utf-8-sig")
        lines = [line for line in text.splitlines() if line.strip()]
        header = tuple(c.strip() for c in lines[0].split(","))
        target = targets or header[-1:]
        return Shape(name, len(lines) - 1, tuple(c for c in header if c not in target), tuple(target), description)

    return Builtin(description, preset, load, shape, units=units or {})



# Presets pick a scale and learning rate that converge for gd; any option given
# on the command line wins over them.
BUILTINS: dict[str, Builtin] = {
    "celsius": _packaged(
        "celsius",
        "Thermometer readings in unknown units t_u against Celsius t_c "
        "(Deep Learning with PyTorch, chapter 5)",
        {"scale": 0.1, "lr": 1e-2, "epochs": 5000},
        units={"t_u": "unknown units", "t_c": "°C"},  # a model's presets for it live on the model (models/)
    ),
    "height-weight": _packaged(
        "height-weight",
        "Height (in) against weight (lb) of 15 people (classic height/weight table)",
        {"normalize": True, "lr": 0.1, "epochs": 500},
        units={"weight_lb": "lb", "height_in": "in"},
    ),
    "iphone": _packaged(
        "iphone",
        "Toy iPhone sales (thousands) against income, price and tax (thousands)",
        {"normalize": True, "lr": 0.1, "epochs": 3000},
        units={"income": "thousands", "price": "thousands", "tax": "thousands", "sales": "thousands"},
    ),
    "crops": _packaged(
        "crops",
        "Apple and orange yields against temperature, rainfall and humidity (two targets)",
        {"normalize": True, "lr": 0.1, "epochs": 1000},
        targets=("apples", "oranges"),
    ),
    "synthetic": Builtin(
        SYNTHETIC,
        SYNTHETIC_PRESET,
        lambda *args: generated._synthetic(*args),  # looked up when drawn: a test may stand in for it
        lambda: Shape("synthetic", 100, synthetic_features(1), SYNTHETIC_TARGETS, SYNTHETIC),
        default_rows=100,
    ),
}
