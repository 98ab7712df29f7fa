"""--compile: the full-batch epoch step (gradient method, then optimizer step) through torch.compile.

torch.compile traces the step once and generates fused code for it: on big data the
elementwise passes of the loss and gradient merge into fewer reads of the rows. It
needs a platform TorchDynamo supports and a compiler for the generated code (a C++
compiler on the CPU, Triton on a GPU); where either is missing, gdcli says so
before training instead of failing inside the first epoch.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Callable

from gdcli.errors import GdcliError, param
from gdcli.train import fused

if TYPE_CHECKING:
    from torch import Tensor


def unavailable(device) -> str | None:
    """Why torch.compile cannot run on `device` here, or None when it can."""
    import torch

    try:
        import torch._dynamo

        if not torch._dynamo.is_dynamo_supported():
            return "TorchDynamo does not support this platform or Python version"
    except Exception as err:  # an import failure is the answer, whatever its type
        return f"TorchDynamo cannot load ({err})"
    if device.type == "cpu":
        compilers = [os.environ.get("CXX"), "g++", "c++", "clang++"]
        if not any(c and shutil.which(c) for c in compilers):
            return "no C++ compiler was found for the generated code (set CXX, or install g++ or clang++)"
    elif device.type == "cuda":
        from torch.utils._triton import has_triton

        if not has_triton():
            return "Triton, which compiles the generated GPU code, is not installed"
    elif device.type == "mps":
        return "torch.compile's MPS support is a prototype"
    return None


# Where compiling gains nothing on the CPU, as measured with benchmarks/bench_scale.py's epoch section
# (torch 2.13, float32, one thread). A compiled call costs about 0.1 ms of its own (guards, wrappers):
# the gram method's epoch, a few (k + 1)-square products, costs less than that, and so does the
# one-feature line's pass over fewer than about a million rows. With more than one column the line's
# X @ W (and autograd's) stays a library call the compiler cannot fuse with the sums around it, so
# the epoch reads the rows as often as eager's.
NO_GAIN_CPU = {
    "gram": "a compiled epoch took about 5x an eager one's time",
    "few rows": "at 1e5 rows a compiled epoch took about 1.4x an eager one's time; from about 1e6 rows on it is faster",
    "many columns": "at 10 columns a compiled epoch took about as long as an eager one",
}
FEW_ROWS = 10**6


def no_gain(method: str, columns: int, rows: int, device) -> str | None:
    """A note where --compile is measured no faster than eager for this method and model on the CPU, or None."""
    if device.type != "cpu":
        return None
    if method == "gram":
        what, measured = f"{param('method')} gram", NO_GAIN_CPU["gram"]
    elif method in ("analytic", "autograd") and columns > 1:
        what, measured = f"{param('method')} {method} on {columns} columns", NO_GAIN_CPU["many columns"]
    elif method == "analytic" and rows < FEW_ROWS:
        what, measured = f"{param('method')} analytic on {rows:,} rows", NO_GAIN_CPU["few rows"]
    else:
        return None
    return f"{param('compile')}: no faster than eager for {what} on the CPU (measured: {measured})"


def epoch_step(method, theta: Tensor, rows, spec, optimizer, device) -> Callable[[], Tensor]:
    """A function that runs one full-batch epoch, compiled, and returns the runs' losses.

    Its `setup_seconds` is the time spent before the first call (loading the compiler); `fused_sweep`
    says whether it is a sweep whose runs' residuals are fused into one pass over the rows (fused.py).
    """
    import time

    import torch

    started = time.perf_counter()
    why = unavailable(device)
    if why is not None:
        raise GdcliError(f"{param('compile')} is not available here: {why}", f"run without {param('compile')}")
    swept = fused.sweep_fill(method, rows, spec, theta.shape[0], device)
    fill, step = swept or elementwise_fill(method, rows, spec) or method.fill, optimizer.step

    def epoch() -> Tensor:
        loss = fill(theta, rows, spec)
        step()
        return loss

    compiled = torch.compile(epoch)

    def run() -> Tensor:
        try:
            return compiled()
        except GdcliError:
            raise
        except Exception as err:
            if "torch._dynamo" in type(err).__module__ or "torch._inductor" in type(err).__module__:
                raise GdcliError(
                    f"{param('compile')} failed to compile the epoch step: {str(err).splitlines()[0]}",
                    f"run without {param('compile')}",
                ) from None
            raise

    run.setup_seconds = time.perf_counter() - started  # type: ignore[attr-defined]
    run.fused_sweep = swept is not None  # type: ignore[attr-defined]
    return run


def elementwise_fill(method, rows, spec) -> Callable | None:
    """The analytic method for the line on one feature and one target, as elementwise work the
    compiler fuses (None for anything else: the method's own fill is traced).

    The residual x * w + b - y and the three sums the step needs (the loss, and the gradient's
    sum(r * x) and sum(r)) then run as one pass over x and y, where the eager model's product
    X @ W stays a library call of its own, which writes the residuals out and reads them back.
    """
    part = rows.parts[0]
    if method.name != "analytic" or len(rows.parts) != 1 or part.runs is not None:
        return None
    model = spec.model_for(part.X, part.y)
    if not model.linear_in_params or model.columns_per_feature != 1 or part.X.shape[1] != 1 or part.y.shape[1] != 1:
        return None
    return line_fill


def line_fill(theta: Tensor, rows, spec) -> Tensor:
    """Every run's loss and dL/dtheta (into theta.grad) of the line y = w x + b on one feature:
    the analytic method's numbers, written elementwise for the compiler to fuse."""
    import torch

    from gdcli.models import loss_scale

    part = rows.parts[0]
    x, y, data = part.X, part.y, theta.detach()  # x, y (n, 1); data (runs, 2)
    n = x.shape[0]
    residual = x * data[:, 0] + data[:, 1] - y  # (n, runs): the runs side by side
    loss = (residual * residual).sum(0)
    if spec.reduction == "mean":
        loss = loss / n
    grad = torch.stack([(residual * x).sum(0), residual.sum(0)], 1)
    theta.grad = grad * loss_scale(n, 1, spec.reduction)
    return loss


def would_fuse(trainer) -> bool:
    """Whether --compile would fuse this eager trainer's runs (what a long sweep's advice suggests): rows held,
    full batch, a constant lr (--compile's own rules), the fused fill's cases, and a compiler here."""
    plan = trainer.plan
    if plan.base.compile or plan.streamed or plan.batch_size or plan.base.schedule != "constant":
        return False
    fusible = fused.sweep_fill(plan.method, plan.rows, plan.spec, plan.runs, plan.device) is not None
    return fusible and unavailable(plan.device) is None
