"""A sweep of 100 learning rates against one fit, and compare against three fits; with
--backends, the ray backend against the local one.

Default: celsius (its preset: scale 0.1, 5000 epochs), measured in one process, median
of interleaved repeats. Prints the ratios the issue bounds: sweep / fit (at most 3x)
and compare / (sum of its three fits) (at most 1.1x).

--backends: two grids that a local sweep cannot train as one program, each through
`gdcli sweep` in this process with --backend local, with --backend ray starting its
own Ray instance (what a user waits for), and with --backend ray on an instance already
running (a cluster's case): rmsprop x 32 lrs, 5000 epochs on celsius (32 one-run
tasks), and an MLP over 4 batch sizes on a 1e6-row synthetic (4 tasks).
Run: python benchmarks/bench_sweep.py [--repeats N] | [--backends]
"""

import argparse
import os
import statistics
import time

import torch

from gdcli import comparison as cmp
from gdcli import grid as sw
from gdcli.cli import parsing
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
    configs = [resolve("celsius", method=m, optim=o, device="cpu") for m, o in cmp.strategies([], [], [])]
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


BACKEND_GRIDS = {
    "rmsprop x 32 lrs, celsius, 5000 epochs": ["--optim", "rmsprop", "--lr", "1e-3:1e-1", "--num", "32"],
    "mlp x 4 batch sizes, synthetic 1e6 rows, 3 epochs": [
        "--dataset", "synthetic", "--rows", "1000000", "--model", "mlp", "--optim", "adam", "--lr", "0.01",
        "--batch-size", "4096,16384,65536,262144", "--epochs", "3",
    ],
}


def sweep_cli(args: list[str]) -> dict:
    """`gdcli sweep ARGS --output json` in this process; its JSON document."""
    import json

    from typer.testing import CliRunner

    from gdcli.cli import app

    result = CliRunner().invoke(app, ["sweep", *args, "--quiet", "--output", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def backends():
    import ray

    cpus = os.cpu_count()
    print(f"sweep --backend local against --backend ray on this machine's {cpus} CPUs, torch {torch.__version__}")
    for name, args in BACKEND_GRIDS.items():
        local_s = timed(sweep_cli, [*args, "--backend", "local"])
        cold_s = timed(sweep_cli, [*args, "--backend", "ray"])
        ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level="error")
        try:
            warm_s = timed(sweep_cli, [*args, "--backend", "ray"])
        finally:
            ray.shutdown()
        print(f"{name}: local {local_s:.1f} s; ray {cold_s:.1f} s starting its instance "
              f"(local/ray {local_s / cold_s:.2f}x), {warm_s:.1f} s on a running one ({local_s / warm_s:.2f}x)")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backends", action="store_true", help="time --backend ray against --backend local")
    args = parser.parse_args()
    if args.backends:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        backends()
        return
    torch.set_num_threads(1)
    lrs = parsing.lr_list("1e-4:1e-1", 100)
    print(f"celsius, 5000 epochs, torch {torch.__version__}, median of {args.repeats} interleaved runs")
    for optim, lr in (("gd", 1e-2), ("adam", 1e-2)):
        fit_s, sweep_s = median_pair(lambda: one_fit(optim, lr), lambda: one_sweep(optim, lrs), args.repeats)
        print(f"sweep of 100 lr, autograd+{optim:<4}: fit {fit_s:.3f} s, sweep {sweep_s:.3f} s, sweep/fit {sweep_s / fit_s:.2f} (bound 3)")
    fits_s, compare_s = median_pair(three_fits, compare_default, args.repeats)
    print(f"compare default (3 runs): 3 fits {fits_s:.3f} s, compare {compare_s:.3f} s, ratio {compare_s / fits_s:.2f} (bound 1.1)")


if __name__ == "__main__":
    main()
