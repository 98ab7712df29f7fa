"""A practitioner's file end to end: evaluate and predict against the floor of one read, their memory
against the file's size, and the long-run estimate against the real time.

- evaluate: `gdcli evaluate` streams the file in blocks and accumulates the metrics; the floor is
  pyarrow reading the same columns whole plus numpy's metrics on them (which holds the file in memory).
- predict: `gdcli predict --keep id --output csv` (every row out, with its id as written), as rows a second.
- memory: each command's peak resident memory on N and 4N rows, in a fresh process: bounded by the
  block, it should barely move (the process itself, with torch, is most of it).
- estimate: the probe's estimate of a run's time against the run's real time (1.0 is exact), per method.

Run: PYTHONPATH=. python benchmarks/bench_scoring.py [--rows N]
"""

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.csv as pcsv

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs"))
import houses  # noqa: E402  (docs/houses.py: the README's raw files)


def write(folder: Path, rows: int) -> Path:
    """A houses file of `rows` rows (with its id, city and gaps), as the README's walk-through writes it."""
    path = folder / f"houses_{rows}.csv"
    table = houses.houses(rows, 1, np.random.default_rng(2026))
    with open(path, "wb") as f:
        f.write((",".join(table.column_names) + "\n").encode())
        pcsv.write_csv(table, f, pcsv.WriteOptions(include_header=False, quoting_style="none"))
    return path


def gdcli(*args: str, cwd: Path) -> tuple[float, int]:
    """Seconds and peak resident memory (MB) of one gdcli command in a fresh process."""
    # VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's (Linux keeps it across fork and exec).
    code = ("import sys, runpy; sys.argv = ['gdcli', *sys.argv[1:]]\n"
            "try:\n    runpy.run_module('gdcli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "hwm = next(line for line in open('/proc/self/status') if line.startswith('VmHWM'))\n"
            "print(int(hwm.split()[1]) // 1024, file=sys.stderr)")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    took = time.perf_counter() - start
    return took, int(done.stderr.strip().splitlines()[-1])


def floor(path: Path, run_file: Path) -> float:
    """Seconds for pyarrow to read the columns whole and numpy to score the saved line on them."""
    import json

    start = time.perf_counter()
    table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(include_columns=["sqft", "rooms", "age", "price"]))
    X = np.column_stack([table.column(c).to_numpy(zero_copy_only=False) for c in ("sqft", "rooms", "age")])
    y = table.column("price").to_numpy(zero_copy_only=False)
    keep = ~np.isnan(X).any(axis=1)
    run = json.loads(run_file.read_text())
    t, w, b = run["transform"], np.array(run["params"]["weight"]), np.array(run["params"]["bias"])
    Z = (X[keep] * t["scale"] - np.array(t["mean"])) / np.array(t["std"])
    error = Z @ w.T[:, 0] + b[0] - y[keep]
    _ = (np.mean(error ** 2), np.mean(np.abs(error)), 1 - np.sum(error ** 2) / np.sum((y[keep] - y[keep].mean()) ** 2))
    return time.perf_counter() - start


def estimate_ratios(path: Path) -> dict[str, float]:
    """Real time over the probe's estimate, per method, for a run the probe puts at about two seconds."""
    from gdcli import train
    from gdcli.train import estimate

    ratios = {}
    for method in ("finite-diff", "analytic", "autograd"):
        settings = dict(dataset=str(path), targets=("price",), missing="drop", normalize=True, lr=0.5, optim="gd",
                        method=method)
        probe = train.fit(train.resolve(epochs=1, **settings))
        step = estimate.step_seconds(probe, probe.plan.n_train)
        epochs = int(min(max(2.0 / step, 5), 20_000))
        trainer = train.fit(train.resolve(epochs=epochs, **settings))
        guess = estimate.seconds([trainer]) or epochs * step
        start = time.perf_counter()
        for _ in trainer.chunks():
            pass
        ratios[f"{method} ({epochs:,} epochs)"] = (time.perf_counter() - start) / guess
    return ratios


def evaluate_seconds(path: Path, run_file: Path) -> float:
    """Seconds gdcli.evaluate takes in this process (torch already loaded), the fastest of two."""
    import gdcli

    times = []
    for _ in range(2):
        start = time.perf_counter()
        gdcli.evaluate(str(run_file), str(path))
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    """Write the files, time and size every command, print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="the smaller file's rows (the larger: 4x)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        small, large = write(folder, args.rows), write(folder, 4 * args.rows)
        gdcli("fit", "--dataset", str(small), "--target", "price", "--missing", "drop", "--normalize", "--method",
              "gram", "--lr", "0.5", "--epochs", "100", "--save", "run.json", "--quiet", cwd=folder)
        run_file = folder / "run.json"
        for path, rows in ((small, args.rows), (large, 4 * args.rows)):
            _, memory = gdcli("evaluate", "run.json", "--input", str(path), cwd=folder)
            took = evaluate_seconds(path, run_file)
            least = min(floor(path, run_file) for _ in range(2))
            wrote, predicted_memory = gdcli("predict", "run.json", "--input", str(path), "--keep", "id", "--output",
                                            "csv", cwd=folder)
            print(f"{rows:>10,} rows: evaluate {took:.2f} s, {took / least:.2f}x pyarrow + numpy on the whole file "
                  f"({least:.2f} s); peak {memory} MB | predict --keep id --output csv {rows / wrote / 1e3:.0f}k rows/s, "
                  f"peak {predicted_memory} MB")
        ratios = estimate_ratios(small)
        print("estimate: real time / the probe's estimate on "
              f"{args.rows:,} rows: " + ", ".join(f"{m} {r:.2f}" for m, r in ratios.items()))
    print(f"this process: peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")


if __name__ == "__main__":
    main()
