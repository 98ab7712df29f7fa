"""A sweep of 100 learning rates against one fit, and compare against three fits.

Celsius (its preset: scale 0.1, 5000 epochs), measured in one process, median of
interleaved repeats. Prints the ratios the issue bounds: sweep / fit (at most
3x) and compare / (sum of its three fits) (at most 1.1x).
Run: python benchmarks/bench_sweep.py [--repeats N]
"""

import argparse
import statistics
import time

import torch

from gdcli import compare as cmp
from gdcli import sweep as sw
from gdcli.config import resolve
from gdcli.train import Trainer


def train(trainers):
    for trainer in trainers:
        for _ in trainer.chunks():
            pass


def one_fit(optim, lr):
    trainer = Trainer([resolve("celsius", optim=optim, lr=lr, device="cpu")])
    train([trainer])
    return trainer.result()


def one_sweep(optim, lrs):
    base = resolve("celsius", optim=optim, device="cpu")
    configs = sw.expand(base, {"lr": lrs, "momentum": [0.0], "seed": [42], "batch_size": [None]})
    trainers, notes = sw.plan(configs)
    assert not notes and len(trainers) == 1
    train(trainers)
    return [r for t in trainers for r in t.results()]


def compare_default():
    configs = [resolve("celsius", method=m, optim=o, device="cpu") for m, o in cmp.parse_pairs([], [], [])]
    trainers = [Trainer([c]) for c in configs]
    cmp.agreement(trainers[0])
    train(trainers)
    return [t.result() for t in trainers]


def three_fits():
    for method in ("finite-diff", "analytic", "autograd"):
        trainer = Trainer([resolve("celsius", method=method, device="cpu")])
        train([trainer])
        trainer.result()


def timed(fn, *args):
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def median_pair(a, b, repeats):
    a(), b()  # warm up
    ta, tb = [], []
    for _ in range(repeats):
        ta.append(timed(a))
        tb.append(timed(b))
    return statistics.median(ta), statistics.median(tb)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    lrs = sw.parse_lrs("1e-4:1e-1", 100)
    print(f"celsius, 5000 epochs, torch {torch.__version__}, median of {args.repeats} interleaved runs")
    for optim, lr in (("gd", 1e-2), ("adam", 1e-2)):
        fit_s, sweep_s = median_pair(lambda: one_fit(optim, lr), lambda: one_sweep(optim, lrs), args.repeats)
        print(f"sweep of 100 lr, autograd+{optim:<4}: fit {fit_s:.3f} s, sweep {sweep_s:.3f} s, sweep/fit {sweep_s / fit_s:.2f} (bound 3)")
    fits_s, compare_s = median_pair(three_fits, compare_default, args.repeats)
    print(f"compare default (3 runs): 3 fits {fits_s:.3f} s, compare {compare_s:.3f} s, ratio {compare_s / fits_s:.2f} (bound 1.1)")


if __name__ == "__main__":
    main()
