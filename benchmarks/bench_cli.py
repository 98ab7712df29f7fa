"""gdcli as a whole process against the book's plain loop script, celsius, 5000 epochs.

Both are started fresh each time, so the figure includes Python's start-up and
every import: what a user waits for. The book's side is benchmarks/book_loops.py
run as a script (import torch, the autograd loop, a print every 500 epochs);
gdcli's side is `gdcli fit --method autograd --output json`, which also writes
every epoch's loss as JSON. Prints the median of interleaved runs and the ratio
gdcli / book (the goal is at most 1.0). Run: python benchmarks/bench_cli.py [--repeats N]

Both run as an installed program does, from cached bytecode: pip compiles a package's
modules when it installs them, and a checkout's first run writes them. Where the
environment forbids writing bytecode (PYTHONDONTWRITEBYTECODE) and none is cached yet,
every start compiles gdcli's modules again, a tenth of a second that no installed gdcli
spends, while torch's come compiled: so the children run without that setting, and the
warm-up run writes gdcli's bytecode (--no-bytecode keeps the setting).
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

BOOK = [sys.executable, str(HERE / "book_loops.py")]
GDCLI = [sys.executable, "-m", "gdcli", "fit", "--method", "autograd", "--output", "json", "--device", "cpu"]


# The children's environment (main() drops PYTHONDONTWRITEBYTECODE unless --no-bytecode).
ENV = dict(os.environ)


def timed(argv: list[str]) -> float:
    env = {**ENV, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--no-bytecode", action="store_true", help="keep PYTHONDONTWRITEBYTECODE (gdcli compiled at every start where none is cached)"
    )
    args = parser.parse_args()
    if not args.no_bytecode:
        ENV.pop("PYTHONDONTWRITEBYTECODE", None)
    timed(BOOK), timed(GDCLI)  # warm the file cache (and write gdcli's bytecode)
    book, gdcli = [], []
    for _ in range(args.repeats):
        book.append(timed(BOOK))
        gdcli.append(timed(GDCLI))
    tb, tg = statistics.median(book), statistics.median(gdcli)
    cached = "the environment's bytecode setting" if args.no_bytecode else "bytecode cached"
    print(f"celsius, 5000 epochs, autograd + gd, whole processes ({cached}), median of {args.repeats} interleaved runs")
    print(f"book script {tb:.3f} s, gdcli fit --output json {tg:.3f} s, gdcli/book {tg / tb:.2f}")


if __name__ == "__main__":
    main()
