"""The `ray` section of bench_scale.py: fit --backend ray's Gram pass against the same pass here.

A folder of 8 Parquet parts (2e7 rows in all, x1, x2 and y = 1 + 2 x1 - x2 + noise; --quick: /100),
written once to a temporary folder. Timed in this process, interleaved, median of repeats:

- Ray's start-up alone: `ray.init(num_cpus=2)` to the first answer of a trivial task;
- the Gram pass on that local Ray (gdcli.raypass.run with raypass.on_ray: a task per part, each
  worker opening its part), the first pass apart (each worker imports torch and gdcli once);
- the same pass here (raypass.here: the parts one after another in this process, with torch's threads
  as --threads sets them: give --threads 1 to weigh one core against Ray's tasks of one CPU each);
- pyarrow reading the parts alone (pyarrow.parquet.read_table of each), the read floor of one core.

The ratio here / Ray is what 2 CPUs buy; nothing is asserted.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

PARTS, ROWS = 8, 2 * 10**7


def write_parts(folder: Path, rows: int, parts: int) -> list[Path]:
    """`parts` Parquet files of rows // parts rows each, drawn part by part."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    gen = np.random.default_rng(0)
    paths = []
    for i in range(parts):
        n = rows // parts
        x1, x2 = gen.uniform(0, 1, n), gen.uniform(-1, 1, n)
        y = 1 + 2 * x1 - x2 + 0.1 * gen.standard_normal(n)
        path = folder / f"part-{i:05d}.parquet"
        pq.write_table(pa.table({"x1": x1, "x2": x2, "y": y}), path)
        paths.append(path)
    return paths


def section_ray(args, out, progress) -> None:
    """Print the ray section (`out` prints a line, `progress` a note on stderr)."""
    try:
        import ray
    except ImportError:
        out('ray: skipped (Ray is not installed: pip install "ray>=2.9")')
        return
    from gdcli import raypass
    from gdcli.raygram import Part, Reading
    from gdcli.store import keep_freed_memory

    keep_freed_memory()  # as a fit does before its pass (and each Ray task does in its worker)

    rows = ROWS // 100 if args.quick else ROWS
    repeats = args.repeats or (1 if args.quick else 3)
    with tempfile.TemporaryDirectory() as tmp:
        progress(f"writing {PARTS} Parquet parts of {rows:,} rows in all")
        paths = write_parts(Path(tmp), rows, PARTS)
        parts = [Part(str(p), str(p)) for p in paths]
        reading = Reading(("x1", "x2"), ("y",), where=tmp)
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        started = time.perf_counter()
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="error")
        ray.get(ray.remote(lambda: None).remote())
        startup = time.perf_counter() - started
        try:
            on_ray = raypass.on_ray(ray)
            first = _timed(lambda: raypass.run(parts, reading, on_ray))
            here, there, floor = [], [], []
            for _ in range(repeats):
                here.append(_timed(lambda: raypass.run(parts, reading, raypass.here)))
                there.append(_timed(lambda: raypass.run(parts, reading, on_ray)))
                floor.append(_timed(lambda: _read_all(paths)))
        finally:
            ray.shutdown()
    med = {name: statistics.median(v) for name, v in (("here", here), ("ray", there), ("floor", floor))}
    out(f"ray: {PARTS} Parquet parts, {rows:,} rows, 2 features; load average {os.getloadavg()[0]:.1f}")
    out(f"  Ray start-up (local, 2 CPUs)         {startup:8.2f} s")
    out(f"  Gram pass on Ray, first (cold)       {first:8.2f} s")
    out(f"  Gram pass on Ray (median of {repeats})      {med['ray']:8.2f} s")
    out(f"  Gram pass here   (median of {repeats})      {med['here']:8.2f} s")
    out(f"  pyarrow read_table of every part     {med['floor']:8.2f} s")
    out(f"  here / Ray                           {med['here'] / med['ray']:8.2f}x")


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _read_all(paths: list[Path]) -> None:
    import pyarrow.parquet as pq

    for path in paths:
        pq.read_table(path)
