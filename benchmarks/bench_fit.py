"""gdcli's training core against the book's plain loops, celsius.

Three sections, all timed in one process with medians over interleaved repeats:

1. The line (chapter 5), 5000 epochs, lr 1e-2: each method with gd, and autograd
   with sgd and adam, against the book's loop for it; ratio gdcli / book (which
   should be at most 1.0). As before, each side is timed whole (setup, loop, and
   for gdcli the result).
2. The MLP (chapter 6: Linear(1, 8), Tanh, Linear(8, 1), sgd lr 1e-3, 5000 epochs,
   float32, full batch) against the book's nn.Sequential loop, for the analytic,
   autograd and finite-diff methods: the training loop only on each side (the
   book's model and optimizer, gdcli's Trainer are built outside the timer); goal
   gdcli / book <= 1.0.
3. A sweep of 100 log-spaced learning rates 1e-5..1e-2 of the MLP, one Trainer,
   against one MLP fit with the same settings and method, 2000 epochs, training
   only; goal sweep / fit <= 3.

Run: PYTHONPATH=.:benchmarks python benchmarks/bench_fit.py [--repeats N]
[--mlp-repeats N] [--threads N] [--quick] [--only line|mlp|sweep] [--clock wall|cpu]
"""

import argparse
import io
import statistics
import time

import torch
from torch import nn

import book_loops as book
from gdcli.train import Trainer, fit, resolve

EPOCHS, LR = 5000, 1e-2
MLP_EPOCHS, MLP_LR = 5000, 1e-3
MLP_METHODS = ("analytic", "autograd", "finite-diff")
SWEEP_EPOCHS, SWEEP_RUNS, SWEEP_LO, SWEEP_HI = 2000, 100, 1e-5, 1e-2
MLP_GOAL, SWEEP_GOAL = 1.0, 3.0
WARMUP_EPOCHS = 200  # the MLP sections warm up on short runs (first-call costs, not the steady state)
SEED = 42  # gdcli's default; its --init uniform draws what torch.manual_seed(42) then nn.Linear would


def book_run(method: str, optim: str, epochs: int = EPOCHS):
    t_u, t_c = book.data()
    out = io.StringIO()
    if optim == "gd":
        loop = {"analytic": book.analytic_gd, "finite-diff": book.finite_diff_gd, "autograd": book.autograd_gd}[method]
        params = torch.tensor([1.0, 0.0], requires_grad=method == "autograd")
        return loop(epochs, LR, params, t_u, t_c, out)
    params = torch.tensor([1.0, 0.0], requires_grad=True)
    opt = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[optim]([params], lr=LR)
    return book.autograd_optim(epochs, opt, params, t_u, t_c, out)


def gdcli_run(method: str, optim: str, epochs: int = EPOCHS):
    trainer = Trainer([resolve("celsius", method=method, optim=optim, lr=LR, epochs=epochs, device="cpu")])
    for _ in trainer.chunks():
        pass
    return trainer.result()


# The clock: wall time, or (--clock cpu) this thread's CPU time, which a machine shared with
# other work inflates far less (torch runs on this thread with --threads 1).
CLOCK = time.perf_counter


def timed(fn, *args) -> float:
    start = CLOCK()
    fn(*args)
    return CLOCK() - start


# --- the MLP: setup outside the timer, the training loop inside -------------------------


def mlp_config(method: str, lr: float, epochs: int):
    return resolve(dataset="celsius", model="mlp", optim="sgd", lr=lr, epochs=epochs, method=method, device="cpu")


def book_mlp(epochs: int):
    """The book's chapter 6 model and optimizer, and a function running its loop (returns the last loss)."""
    t_u, t_c = book.data()
    t_u_train, t_c_train = t_u.unsqueeze(1), t_c.unsqueeze(1)  # (n, 1), as nn.Linear takes them
    torch.manual_seed(SEED)
    seq_model = book.seq_model()
    optimizer = torch.optim.SGD(seq_model.parameters(), lr=MLP_LR)
    out = io.StringIO()

    def train():
        return book.training_loop_nn(epochs, optimizer, seq_model, nn.MSELoss(), t_u_train, t_c_train, out).item()

    return train


def gdcli_trainer(trainer: Trainer):
    """A function consuming the trainer's chunks to the end (returns the last epoch's loss of run 0)."""

    def train():
        for _ in trainer.chunks():
            pass
        return float(trainer.history()[1][-1, 0])

    return train


def gdcli_mlp(method: str, epochs: int, lr: float = MLP_LR):
    return gdcli_trainer(fit(mlp_config(method, lr, epochs)))


def gdcli_mlp_sweep(method: str, epochs: int, lrs: list[float]):
    return gdcli_trainer(Trainer([mlp_config(method, lr, epochs) for lr in lrs]))


def timed_training(setup, *args) -> tuple[float, float]:
    """(seconds, last loss) of the function `setup(*args)` returns; the setup itself is not timed."""
    train = setup(*args)
    start = CLOCK()
    last = train()
    return CLOCK() - start, last


def verdicts(ratios: dict[str, float], goal: float) -> str:
    return ", ".join(f"{m} {'met' if r <= goal else 'NOT MET'} ({r:.2f})" for m, r in ratios.items())


def line_section(epochs: int, repeats: int) -> None:
    cases = [("finite-diff", "gd"), ("analytic", "gd"), ("autograd", "gd"), ("autograd", "sgd"), ("autograd", "adam")]
    print(f"celsius, {epochs} epochs, lr {LR}, torch {torch.__version__}, median of {repeats} interleaved runs")
    print(f"{'method':<12} {'optim':<5} {'book us/epoch':>14} {'gdcli us/epoch':>15} {'gdcli/book':>11}")
    for method, optim in cases:
        book_run(method, optim, epochs), gdcli_run(method, optim, epochs)  # warm up
        b, g = [], []
        for _ in range(repeats):
            b.append(timed(book_run, method, optim, epochs))
            g.append(timed(gdcli_run, method, optim, epochs))
        tb, tg = statistics.median(b), statistics.median(g)
        print(f"{method:<12} {optim:<5} {tb / epochs * 1e6:>14.1f} {tg / epochs * 1e6:>15.1f} {tg / tb:>11.2f}")


def mlp_section(epochs: int, repeats: int) -> None:
    print()
    print(
        f"mlp (Linear(1, 8), Tanh, Linear(8, 1)), celsius, sgd lr {MLP_LR}, {epochs} epochs, float32: "
        f"training loop only, median of {repeats} interleaved runs"
    )
    warm = min(epochs, WARMUP_EPOCHS)
    timed_training(book_mlp, warm)
    for method in MLP_METHODS:
        timed_training(gdcli_mlp, method, warm)
    book_s, book_loss = [], None
    gdcli_s = {m: [] for m in MLP_METHODS}
    gdcli_loss = {}
    for _ in range(repeats):
        seconds, book_loss = timed_training(book_mlp, epochs)
        book_s.append(seconds)
        for method in MLP_METHODS:
            seconds, gdcli_loss[method] = timed_training(gdcli_mlp, method, epochs)
            gdcli_s[method].append(seconds)
    tb = statistics.median(book_s)
    print(f"{'method':<12} {'book us/epoch':>14} {'gdcli us/epoch':>15} {'gdcli/book':>11} {'last loss book':>15} {'gdcli':>8}")
    ratios = {}
    for method in MLP_METHODS:
        tg = statistics.median(gdcli_s[method])
        ratios[method] = tg / tb
        print(
            f"{method:<12} {tb / epochs * 1e6:>14.1f} {tg / epochs * 1e6:>15.1f} {tg / tb:>11.2f} "
            f"{book_loss:>15.4f} {gdcli_loss[method]:>8.4f}"
        )
    print(f"goal: <= {MLP_GOAL}: {verdicts(ratios, MLP_GOAL)}")


def sweep_section(epochs: int, repeats: int) -> None:
    step = (SWEEP_HI / SWEEP_LO) ** (1 / (SWEEP_RUNS - 1))
    lrs = [SWEEP_LO * step**i for i in range(SWEEP_RUNS)]
    print()
    print(
        f"mlp sweep of {SWEEP_RUNS} lr ({SWEEP_LO:g}..{SWEEP_HI:g}, log-spaced, one Trainer) against one fit "
        f"(lr {MLP_LR}), sgd, {epochs} epochs, float32: training only, median of {repeats} interleaved runs"
    )
    print(f"{'method':<12} {'fit s':>8} {'sweep s':>8} {'sweep/fit':>10} {'sweep us/run-epoch':>19}")
    ratios = {}
    warm = min(epochs, WARMUP_EPOCHS)
    for method in MLP_METHODS:
        timed_training(gdcli_mlp, method, warm), timed_training(gdcli_mlp_sweep, method, warm, lrs)
        f, s = [], []
        for _ in range(repeats):
            f.append(timed_training(gdcli_mlp, method, epochs)[0])
            s.append(timed_training(gdcli_mlp_sweep, method, epochs, lrs)[0])
        tf, ts = statistics.median(f), statistics.median(s)
        ratios[method] = ts / tf
        per_run_epoch = ts / (epochs * SWEEP_RUNS) * 1e6
        print(f"{method:<12} {tf:>8.3f} {ts:>8.3f} {ts / tf:>10.2f} {per_run_epoch:>19.2f}")
    print(f"goal: <= {SWEEP_GOAL:g}x: {verdicts(ratios, SWEEP_GOAL)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7, help="repeats of the line section (default 7)")
    parser.add_argument("--mlp-repeats", type=int, default=3, help="repeats of the MLP sections (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: a tenth of the epochs, one repeat (unless given)"
    )
    parser.add_argument("--skip-line", action="store_true", help="only the MLP sections")
    parser.add_argument(
        "--clock", choices=("wall", "cpu"), default="wall", help="wall time, or this thread's CPU time (a busy machine)"
    )
    parser.add_argument("--only", choices=("line", "mlp", "sweep"), help="run this section alone")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    global CLOCK
    CLOCK = time.thread_time if args.clock == "cpu" else time.perf_counter
    epochs, mlp_epochs, sweep_epochs = EPOCHS, MLP_EPOCHS, SWEEP_EPOCHS
    if args.quick:
        epochs, mlp_epochs, sweep_epochs = epochs // 10, mlp_epochs // 10, sweep_epochs // 10
        defaults = parser.parse_args([])
        if args.repeats == defaults.repeats:
            args.repeats = 1
        if args.mlp_repeats == defaults.mlp_repeats:
            args.mlp_repeats = 1
    clock = ", cpu clock" if args.clock == "cpu" else ""
    print(f"threads {torch.get_num_threads()}{clock}" + (", --quick" if args.quick else ""))
    if not args.skip_line and args.only in (None, "line"):
        line_section(epochs, args.repeats)
    if args.only in (None, "mlp"):
        mlp_section(mlp_epochs, args.mlp_repeats)
    if args.only in (None, "sweep"):
        sweep_section(sweep_epochs, args.mlp_repeats)


if __name__ == "__main__":
    main()
