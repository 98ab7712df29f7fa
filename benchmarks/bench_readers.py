"""gdcli.readers against pyarrow alone: a million-row, two-column CSV read and turned into a matrix.

gdcli's read adds its checks (every cell a finite number, the header) and the float
matrix to pyarrow.csv.read_csv. Prints the best of a few reads of each and the ratio
gdcli / pyarrow (bench_scale.py holds the whole load to at most 1.5x pyarrow's read).
Run: python benchmarks/bench_readers.py [--rows N] [--repeats N]
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from gdcli.readers import read


def best(func, repeats: int) -> float:
    """The fastest of `repeats` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    """Write the CSV once, time both readers on it, print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.csv"
        pcsv.write_csv(pa.table({"x": rng.random(args.rows), "y": rng.normal(size=args.rows)}), path)
        ours = best(lambda: read(path).matrix(["x", "y"]), args.repeats)
        arrow = best(lambda: pcsv.read_csv(path), args.repeats)
    print(f"{args.rows:,} rows: read() + matrix() {ours * 1e3:.0f} ms, pyarrow.csv.read_csv alone {arrow * 1e3:.0f} ms: "
          f"{ours / arrow:.2f}x")


if __name__ == "__main__":
    main()
