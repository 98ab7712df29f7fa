"""What a schedule and the early-stopping rules cost per epoch, measured in one process.

Each figure is the wall time of training to the end with the rule on, over the same
training without it (ratio 1.00: free), median of interleaved repeats. The rules are
set so that they never fire (a patience longer than the run, learning rates too small
to come within 1e-6 of the optimum), so both sides train the same epochs:

fit        celsius, autograd + gd, 5000 epochs, one run: per-epoch overhead where an
           epoch costs tens of microseconds, the worst case.
sweep      celsius, the same, 100 learning rates in one Trainer: the schedule steps one
           NumPy array for all runs, the rules scan all runs at once.
rows       synthetic, 1e6 rows, 100 epochs, one run: an epoch that reads real data.

Goals: every ratio at most 1.3 on the fit and sweep sections, at most 1.05 with 1e6 rows.
Nothing is asserted.

Run: python benchmarks/bench_stopping.py [--repeats N] [--device cpu|cuda] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from gdcli import grid as sw
from gdcli.config import resolve
from gdcli.train import Trainer

RULES = {
    "none": {},
    "cosine schedule": {"schedule": "cosine"},
    "onecycle schedule": {"schedule": "onecycle"},
    "--tol/--patience": {"tol": 0.0, "patience": 10**9},
    "--within": {"within": 1e-6},
}


def train(configs) -> float:
    started = time.perf_counter()
    trainer = Trainer(configs)
    for _ in trainer.chunks():
        pass
    trainer.results()
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def section(name: str, make, repeats: int) -> list[tuple[str, float]]:
    times: dict[str, list[float]] = {rule: [] for rule in RULES}
    train(make({}))  # warm-up
    for _ in range(repeats):
        for rule, options in RULES.items():
            times[rule].append(train(make(options)))
    base = statistics.median(times["none"])
    print(f"\n{name}: median of {repeats} interleaved repeats")
    ratios = []
    for rule in RULES:
        t = statistics.median(times[rule])
        print(f"  {rule:<20} {t * 1e3:9.1f} ms   x{t / base:.2f}")
        if rule != "none":
            ratios.append((f"{name}: {rule}", t / base))
    return ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dev = args.device
    print(f"bench_stopping: torch {torch.__version__}, device {dev}, {args.threads} thread(s)")

    def fit(options):
        return [resolve("celsius", epochs=5000, lr=1e-3, device=dev, **options)]

    def sweep(options):
        base = resolve("celsius", epochs=2000, device=dev, **options)
        lrs = torch.logspace(-5, -3, 100, dtype=torch.float64).tolist()
        return sw.expand(base, {"lr": lrs, "momentum": [0.0], "seed": [42], "batch_size": [None]})

    def rows(options):
        return [resolve("synthetic", rows=1_000_000, epochs=100, lr=1e-3, device=dev, **options)]

    results = section("fit", fit, args.repeats)
    results += section("sweep", sweep, args.repeats)
    results += section("rows", rows, max(3, args.repeats // 2))
    print("\ngoals")
    met_all = True
    for label, ratio in results:
        goal = 1.05 if label.startswith("rows") else 1.3
        met = ratio <= goal
        met_all &= met
        print(f"  {label:<36} x{ratio:.2f}  (goal <= {goal})  {'met' if met else 'NOT MET'}")
    print("all goals met" if met_all else "some goals NOT MET")
    return 0


if __name__ == "__main__":
    sys.exit(main())
