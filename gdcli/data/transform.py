"""The input transform x' = (x * scale - mean) / std that a run trains on and `predict` replays."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor


@dataclass(frozen=True)
class Transform:
    """The input transform x' = (x * scale - mean) / std, kept so predict can replay it."""

    scale: float = 1.0
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def apply(self, X: Tensor) -> Tensor:
        """Transform raw inputs (..., k) the way the training rows were."""
        X = X * self.scale
        if self.mean is not None:
            import torch

            mean = torch.tensor(self.mean, dtype=X.dtype, device=X.device)
            std = torch.tensor(self.std, dtype=X.dtype, device=X.device)
            X = (X - mean) / std
        return X

    def fold(self, weight: Tensor, bias: Tensor) -> tuple[Tensor, Tensor]:
        """A layer W x' + b on transformed inputs as one on raw inputs, exactly, in the tensors' dtype:
        with x' = (x * scale - mean) / std it is (W * scale / std) x + (b - W mean / std)."""
        import torch

        k = weight.shape[-1]
        factor = torch.full((k,), float(self.scale), dtype=weight.dtype)
        shift = torch.zeros(k, dtype=weight.dtype)
        if self.mean is not None:
            std = torch.tensor(self.std, dtype=weight.dtype)
            factor, shift = factor / std, torch.tensor(self.mean, dtype=weight.dtype) / std
        return weight * factor, bias - weight @ shift

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"scale": self.scale, "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, d: dict, n_features: int) -> Transform:
        """Inverse of to_dict, checked: raises ValueError for anything to_dict cannot have written."""
        scale = float(d["scale"])
        mean, std = d.get("mean"), d.get("std")
        if not math.isfinite(scale) or scale == 0:
            raise ValueError("scale must be a non-zero finite number")
        if (mean is None) != (std is None):
            raise ValueError("mean and std come together")
        if mean is not None:
            mean, std = tuple(float(v) for v in mean), tuple(float(v) for v in std)
            if len(mean) != n_features or len(std) != n_features:
                raise ValueError(f"mean and std need one value per feature ({n_features})")
            if not all(math.isfinite(v) for v in mean) or not all(math.isfinite(v) and v > 0 for v in std):
                raise ValueError("mean must be finite and std positive")
        return cls(scale, mean, std)


def merge_spread(count: int, mean: Tensor | None, var: Tensor | None, chunk: Tensor):
    """(count, mean, population variance) of each column with one more block of rows merged in, as
    Chan, Golub and LeVeque merge them: stable for 1e8 + i, where sums of squares cancel. The first
    block gives exactly torch's own mean and variance of its rows; an empty block changes nothing."""
    m = chunk.shape[0]
    if m == 0:
        return count, mean, var
    chunk_mean, chunk_var = chunk.mean(0), chunk.var(0, unbiased=False)
    if mean is None:
        return m, chunk_mean, chunk_var
    total = count + m
    delta = chunk_mean - mean
    var = (count * var + m * chunk_var + delta.square() * (count * m / total)) / total
    return total, mean + delta * (m / total), var


def standardizing(ds, scale: float, mean: Tensor, std: Tensor) -> Transform:
    """The transform that standardizes each input of the dataset `ds` with the training rows' mean and
    std (float64); a column too large to standardize in float64 is a GdcliError naming it."""
    import torch

    from gdcli.errors import GdcliError, param

    for col, m, s in zip(ds.features, mean.tolist(), std.tolist()):
        if not (math.isfinite(m) and math.isfinite(s)):
            raise GdcliError(
                f"{ds.source or ds.name}, column {col!r}: values too large to standardize in float64",
                f"shrink the values with {param('scale')} first (for example {param('scale')} 1e-100)",
            )
    # A constant column has no spread to divide by: centre it and leave it.
    std = torch.where(std > 0, std, torch.ones_like(std))
    # Standardize in float64, then round once: in float32, 1e8 + i would already be
    # rounded to steps of 8 before its mean is taken.
    return Transform(scale, tuple(mean.tolist()), tuple(std.tolist()))
