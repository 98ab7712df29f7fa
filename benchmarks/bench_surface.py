"""The loss surface's cost, apart from training, in one process (medians over repeats):

1. celsius, the line, 200 x 200 grid (from the Gram statistics): goal < 1 s.
2. A line at 1e7 rows (--dataset synthetic --rows 10000000 --method gram): the surface alone,
   loading and training apart; goal < 2 s (it costs what it costs at 11 rows).
3. The book's network on celsius (a forward pass per grid point, 40,000 "runs").

Run: PYTHONPATH=. python benchmarks/bench_surface.py [--repeats N] [--quick]
(--quick: 1e5 rows and one repeat, to check the script itself).
"""

import argparse
import statistics
import time

from gdcli import surfaces
from gdcli.train import fit, resolve

GOALS = {"celsius line": 1.0, "line at 1e7 rows": 2.0}


def trained(**settings):
    """A trained single run: its trainer and result (the surface's inputs)."""
    trainer = fit(resolve(device="cpu", **settings))
    for _ in trainer.chunks():
        pass
    return trainer, trainer.result()


def seconds_of(trainer, result, repeats: int) -> tuple[float, float]:
    """(first call, median of all calls) of the surface's computation."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        surfaces.for_fit(result, trainer)
        times.append(time.perf_counter() - start)
    return times[0], statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    rows = 100_000 if args.quick else 10_000_000
    cases = [
        ("celsius line", dict(dataset="celsius", epochs=3000)),
        ("line at 1e7 rows" if not args.quick else "line at 1e5 rows",
         dict(dataset="synthetic", rows=rows, features=1, method="gram", epochs=100)),
        ("celsius network", dict(dataset="celsius", model="mlp", epochs=1000 if args.quick else 5000)),
    ]
    print(f"{'surface (200 x 200)':<24}{'train s':>10}{'first s':>10}{'median s':>10}{'goal s':>9}")
    for name, settings in cases:
        start = time.perf_counter()
        trainer, result = trained(**settings)
        train_seconds = time.perf_counter() - start
        first, seconds = seconds_of(trainer, result, repeats)
        goal = GOALS.get(name)
        verdict = "" if goal is None else ("  ok" if max(first, seconds) < goal else "  OVER")
        print(f"{name:<24}{train_seconds:>10.3f}{first:>10.4f}{seconds:>10.4f}{goal if goal else '-':>9}{verdict}")


if __name__ == "__main__":
    main()
