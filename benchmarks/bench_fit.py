"""gdcli's training core against the book's plain loop, celsius, 5000 epochs.

Prints, for each method with gd and for autograd with sgd and adam, the median
time of each side over interleaved repeats and the ratio gdcli / book (which
should be at most 1.0). Run: python benchmarks/bench_fit.py [--repeats N]
"""

import argparse
import io
import statistics
import time

import torch

import book_loops as book
from gdcli.train import Trainer, resolve

EPOCHS, LR = 5000, 1e-2


def book_run(method: str, optim: str):
    t_u, t_c = book.data()
    out = io.StringIO()
    if optim == "gd":
        loop = {"analytic": book.analytic_gd, "finite-diff": book.finite_diff_gd, "autograd": book.autograd_gd}[method]
        params = torch.tensor([1.0, 0.0], requires_grad=method == "autograd")
        return loop(EPOCHS, LR, params, t_u, t_c, out)
    params = torch.tensor([1.0, 0.0], requires_grad=True)
    opt = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[optim]([params], lr=LR)
    return book.autograd_optim(EPOCHS, opt, params, t_u, t_c, out)


def gdcli_run(method: str, optim: str):
    trainer = Trainer([resolve("celsius", method=method, optim=optim, lr=LR, epochs=EPOCHS, device="cpu")])
    for _ in trainer.chunks():
        pass
    return trainer.result()


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cases = [("finite-diff", "gd"), ("analytic", "gd"), ("autograd", "gd"), ("autograd", "sgd"), ("autograd", "adam")]
    print(f"celsius, {EPOCHS} epochs, lr {LR}, torch {torch.__version__}, median of {args.repeats} interleaved runs")
    print(f"{'method':<12} {'optim':<5} {'book us/epoch':>14} {'gdcli us/epoch':>15} {'gdcli/book':>11}")
    for method, optim in cases:
        book_run(method, optim), gdcli_run(method, optim)  # warm up
        b, g = [], []
        for _ in range(args.repeats):
            b.append(timed(book_run, method, optim))
            g.append(timed(gdcli_run, method, optim))
        tb, tg = statistics.median(b), statistics.median(g)
        print(f"{method:<12} {optim:<5} {tb / EPOCHS * 1e6:>14.1f} {tg / EPOCHS * 1e6:>15.1f} {tg / tb:>11.2f}")


if __name__ == "__main__":
    main()
