"""The cost of --sharpness: the book's network trained with and without it, in one process.

The book's chapter 6 network (Linear(1, 8), Tanh, Linear(8, 1)) with its preset (sgd, lr 1e-3,
5000 epochs, float32, full batch, autograd): a Trainer with --sharpness N against the same
Trainer without, each timed whole from construction to result (the sharpness hook runs at the
sync points, outside the loop's own timer), medians over interleaved repeats; ratio with / without,
goal <= 2 for N = 10. Also a network past FULL_MAX parameters (hidden 40: 121 parameters), where
the tracker runs warm-started block power iteration instead of forming the Hessian.

Run: PYTHONPATH=. python benchmarks/bench_sharpness.py [--repeats N] [--threads N] [--quick]
"""

import argparse
import statistics
import time

import torch

from gdcli.train import Trainer, resolve

GOAL = 2.0
EVERY = (10, 50, 1)  # --sharpness values timed against none


def trained(sharpness: int | None, epochs: int, hidden: int = 8) -> tuple[float, Trainer]:
    """Seconds to build, train and summarize the book's network (with --sharpness N or without)."""
    cfg = resolve(dataset="celsius", model="mlp", epochs=epochs, hidden=hidden, sharpness=sharpness, device="cpu")
    start = time.perf_counter()
    trainer = Trainer([cfg])
    for _ in trainer.chunks():
        pass
    trainer.results()
    return time.perf_counter() - start, trainer


def compare(label: str, every: int, epochs: int, repeats: int, hidden: int = 8) -> float:
    """Median times with and without, interleaved; prints one row and returns the ratio."""
    trained(every, 200, hidden), trained(None, 200, hidden)  # first-call costs, not the steady state
    plain, sharp = [], []
    for _ in range(repeats):
        plain.append(trained(None, epochs, hidden)[0])
        seconds, trainer = trained(every, epochs, hidden)
        sharp.append(seconds)
    measured = len(trainer.results()[0].sharpness)
    tp, ts = statistics.median(plain), statistics.median(sharp)
    print(f"{label:<24} {every:>6} {measured:>9} {tp:>9.3f} {ts:>9.3f} {ts / tp:>8.2f} {(ts - tp) / measured * 1e3:>12.3f}")
    return ts / tp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--quick", action="store_true", help="2 repeats, 1000 epochs, --sharpness 10 only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    repeats, epochs = (2, 1000) if args.quick else (args.repeats, 5000)
    everies = EVERY[:1] if args.quick else EVERY
    print(f"celsius mlp (sgd, lr 1e-3), {epochs} epochs, torch {torch.__version__}, median of {repeats} interleaved runs")
    print(f"{'network':<24} {'every':>6} {'measured':>9} {'plain s':>9} {'sharp s':>9} {'ratio':>8} {'ms/measure':>12}")
    ratios = {every: compare("1-8-1 (25 params)", every, epochs, repeats) for every in everies}
    if not args.quick:
        compare("1-40-1 (121 params)", 10, epochs, repeats, hidden=40)
    verdict = "met" if ratios[10] <= GOAL else "MISSED"
    print(f"goal: --sharpness 10 <= {GOAL:g}x without: {ratios[10]:.2f}x, {verdict}")


if __name__ == "__main__":
    main()
