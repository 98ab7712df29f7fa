"""gdcli at scale: load time, per-epoch time, peak memory and a sweep, on one machine, in one run.

Six sections, each measured in this one process (the memory section in child
processes, since peak RSS is a property of a whole process):

load       A 1e7-row, 2-column file (x, y = 1 + 2x + noise), written once to a temporary
           folder as CSV and as Parquet. gdcli's load (`gdcli.data.load_dataset(path)`,
           reading, checking and building X and y) against pyarrow.csv.read_csv alone
           (and pyarrow.parquet.read_table), and against pandas.read_csv (default
           engine) where pandas is installed. Best of interleaved repeats. The goal:
           gdcli's CSV load at most 1.5x pyarrow's own read.
epoch      Microseconds per epoch, full batch, float32, gd, on the synthetic dataset
           at 1e5, 1e6 and 1e7 rows (1e8 where MemAvailable leaves room), with 1 and
           10 features: analytic, autograd and gram, each eager and through
           torch.compile (--compile). Each figure is the steady state of one Trainer:
           its first chunk (warm-up, and compilation, which gdcli times apart) is left
           out, then it trains until about a second and a half of epochs are timed
           (gram: thousands of epochs). The yardstick is the read floor: the best of
           several `X.sum() + y.sum()` on the run's own float32 training tensors, one
           pass that reads the data once, which no epoch that looks at every row can
           beat. scikit-learn's SGDRegressor (max_iter=1, tol=None: one epoch, float32
           data) is shown where installed. Compiled graphs: dynamo's cache is cleared
           for each feature count; a new row count first recompiles (with a dynamic
           row dimension), later ones reuse that graph; the compile time of every
           trainer is printed. Goals: compiled analytic at 1e7 rows at most 2x the
           read floor, eager analytic at most 6x; gram at most 100 us/epoch at any rows.
rss        Peak RSS of whole `gdcli fit` processes at 1e7 rows (a `python -c` wrapper
           reads getrusage(RUSAGE_CHILDREN).ru_maxrss), synthetic and a CSV file of the
           same rows, and 1e8 rows x 10 features with --method gram where MemAvailable
           allows, against the bytes of X and y in float32 (the one copy gdcli holds)
           and against a baseline (the largest of a process that imports torch and
           gdcli and a celsius fit). Goal: peak at most that baseline + 2x the data's bytes.
ray        fit --backend ray's Gram pass over a folder of 8 Parquet parts (2e7 rows) on a local Ray of 2
           CPUs against the same pass here, Ray's start-up apart (bench_scale_ray.py).
sweep      One Trainer of 100 runs differing in lr (log-spaced 1e-3..0.5) against one
           fit, 1e6 rows, the same epochs, autograd (the default), analytic and gram, and
           finite-diff at 1e5 rows: wall time of building the trainer, training and its
           results, with the data already drawn (cached), median of interleaved repeats;
           training-loop time alone is shown too, and the sweep against 100 separate fits
           (100 x one fit). Goals: every method's sweep at most 100 separate fits; on the
           CPU, analytic's and autograd's at most 100/3 x one fit. Then (unless
           --skip-compile) the sweep under --compile (every run's residual fused into one
           pass over the rows) against one fit, eager and compiled, analytic and autograd:
           steady-state us/epoch in the loop, each trainer's compile time printed apart.
           Goal: the compiled sweep at most 100/3 x one eager fit.

A final block lists each goal, the measured figure, and met / NOT MET. Nothing is
asserted. With 2 cores, other work on the machine (a test run) makes torch's two
threads wait on each other: the load average is printed, and --threads 1 gives
steadier figures there.

stream     A Parquet file of 4e6 rows (x, y; row groups of 2.5e5) fitted with a --memory-limit of a
           quarter of what holding it would take, so that it streams: the one pass that gives
           the gram method its Gram statistics (the training dtype's and float64's) against
           pyarrow reading the same file in the same batches (to NumPy), best of interleaved
           repeats; the time per pass (per epoch) of analytic and autograd full batch; and the
           peak RSS of a whole streamed `gdcli fit` against a process that only imports torch and
           gdcli. Goals: gram's pass at most 3x pyarrow's read; the fit's RSS above the baseline
           within the --memory-limit.

Run: python benchmarks/bench_scale.py [--quick] [--device cpu|cuda] [--skip-compile]
     [--max-rows N] [--threads N] [--sections load,epoch,rss,sweep,stream,ray]
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import importlib.util
import json
import logging
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import torch

from gdcli import data as datamod
from gdcli.cli import parsing
from gdcli import store
from gdcli.config import resolve
from gdcli.errors import GdcliError
from gdcli.train import Trainer, budget

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("load", "epoch", "rss", "sweep", "stream", "ray")
METHODS = ("analytic", "autograd", "gram")
LR = 0.1  # stable for 1 and 10 features of the synthetic data (the preset 0.5 diverges with 10)
T0 = time.perf_counter()
GOALS: list[tuple[str, str, bool | None]] = []  # (goal, measured, met; None: not measured)


def progress(message: str) -> None:
    print(f"[{time.perf_counter() - T0:7.1f} s] {message}", file=sys.stderr, flush=True)


def out(line: str = "") -> None:
    print(line, flush=True)


def goal(text: str, measured: str, met: bool | None) -> None:
    GOALS.append((text, measured, met))


def rows_name(n: int) -> str:
    exponent = round(math.log10(n)) if n > 0 else 0
    return f"1e{exponent}" if 10**exponent == n else f"{n:,}"


def mib(nbytes: float) -> str:
    value = nbytes / 2**20
    return f"{value:,.0f} MiB" if abs(value) >= 10 else f"{value:.2f} MiB"


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def fresh() -> None:
    """Forget every dataset and training tensor gdcli keeps for the process, so the next load is fresh."""
    store.load.cache_clear()
    store.prepared.cache_clear()
    gc.collect()


def best_of(fn, repeats: int, device: str = "cpu") -> float:
    """Seconds of the fastest of `repeats` calls (after one warm-up call)."""
    fn()
    sync(device)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - start)
    return best


# --- load -------------------------------------------------------------------------------


def write_files(folder: Path, rows: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    x = rng.random(rows)
    y = 1.0 + 2.0 * x + 0.1 * rng.standard_normal(rows)
    table = pa.table({"x": x, "y": y})
    csv_path, parquet_path = folder / "scale.csv", folder / "scale.parquet"
    try:
        options = pcsv.WriteOptions(quoting_style="none")  # a plain header, as most files have
    except TypeError:  # an older pyarrow: a quoted header, which gdcli reads the same
        options = pcsv.WriteOptions()
    pcsv.write_csv(table, csv_path, write_options=options)
    pq.write_table(table, parquet_path)
    return csv_path, parquet_path


def loaded(path: Path):
    """gdcli's load of `path` up to every row read once as float64: load_dataset, and for rows it does
    not hold, the one read of their blocks that the pass building the training tensors makes."""
    ds = datamod.load_dataset(str(path))
    if not ds.held:
        for _ in ds.row_blocks():
            pass
    return ds


def section_load(args) -> None:
    rows = min(args.scale(10**7), args.max_rows)
    progress(f"load: writing {rows:,} rows as CSV and Parquet")
    try:
        import pandas
    except ImportError:
        pandas = None
    with tempfile.TemporaryDirectory(prefix="gdcli-bench-") as tmp:
        started = time.perf_counter()
        csv_path, parquet_path = write_files(Path(tmp), rows)
        out(f"== load: {rows:,} rows x 2 columns; CSV {mib(csv_path.stat().st_size)}, "
            f"Parquet {mib(parquet_path.stat().st_size)} (written in {time.perf_counter() - started:.1f} s); "
            f"best of {args.repeats}, interleaved; pyarrow {pa.__version__} on {pa.cpu_count()} threads")
        out("   gdcli's load: load_dataset, then (rows it does not hold) the one read of every row that training makes")

        # gdcli's load: read, checked, X and y built (load_dataset itself keeps nothing between calls).
        # Rows over HOLD_BYTES are not held (data/onepass.py): load_dataset then counts them (a CSV's
        # pass, a Parquet footer) and training reads them once more, block by block, as here.
        cases = {
            "gdcli load_dataset(csv)": lambda: loaded(csv_path),
            "pyarrow.csv.read_csv": lambda: pcsv.read_csv(csv_path),
            "gdcli load_dataset(parquet)": lambda: loaded(parquet_path),
            "pyarrow.parquet.read_table": lambda: pq.read_table(parquet_path),
        }
        if pandas is not None:
            cases["pandas.read_csv (default engine)"] = lambda: pandas.read_csv(csv_path)
        for fn in cases.values():
            fn()  # warm the file cache and the imports
        times = {name: math.inf for name in cases}
        for _ in range(args.repeats):
            for name, fn in cases.items():
                fresh()  # the previous result freed, outside the timing (a gc pass takes 0.1 s with torch loaded)
                start = time.perf_counter()
                result = fn()
                times[name] = min(times[name], time.perf_counter() - start)
                del result
        sizes = {"csv": csv_path.stat().st_size, "parquet": parquet_path.stat().st_size}
        fresh()
    out(f"{'reader':<34} {'seconds':>8} {'MB/s':>7} {'Mrows/s':>8}  ratio")
    for name, seconds in times.items():
        ratio = ""
        if name == "gdcli load_dataset(csv)":
            ratio = f"{seconds / times['pyarrow.csv.read_csv']:.2f}x pyarrow.csv.read_csv"
            if pandas is not None:
                ratio += f", {seconds / times['pandas.read_csv (default engine)']:.2f}x pandas"
        elif name == "gdcli load_dataset(parquet)":
            ratio = f"{seconds / times['pyarrow.parquet.read_table']:.2f}x pyarrow.parquet.read_table"
        elif name.startswith("pandas"):
            ratio = f"{seconds / times['pyarrow.csv.read_csv']:.2f}x pyarrow.csv.read_csv"
        mbps = sizes["parquet" if "parquet" in name else "csv"] / seconds / 1e6
        out(f"{name:<34} {seconds:>8.3f} {mbps:>7.0f} {rows / seconds / 1e6:>8.1f}  {ratio}")
    if pandas is None:
        out("pandas is not installed here: its read_csv is skipped")
    csv_ratio = times["gdcli load_dataset(csv)"] / times["pyarrow.csv.read_csv"]
    goal(f"CSV load at {rows_name(rows)} rows <= 1.5x pyarrow.csv.read_csv", f"{csv_ratio:.2f}x", csv_ratio <= 1.5)


# --- per-epoch ----------------------------------------------------------------------------


@dataclasses.dataclass
class Rate:
    us: float  # microseconds per epoch of the fastest chunk after the first
    mean_us: float  # over every epoch after the first chunk
    epochs: int  # epochs timed (after the first chunk)
    compile_s: float
    new_graphs: int  # graphs dynamo compiled for this trainer (0: reused an earlier one)
    diverged: int | None


class RecompileLimit(logging.Handler):
    """Counts dynamo's "hit config.recompile_limit" warnings: past it, a changed guard runs eager, silently."""

    hits = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "recompile_limit" in message or "cache_size_limit" in message:
            RecompileLimit.hits += 1


logging.getLogger("torch._dynamo").addHandler(RecompileLimit(logging.WARNING))


def unique_graphs() -> int:
    try:
        return int(torch._dynamo.utils.counters["stats"]["unique_graphs"])
    except Exception:
        return 0


def epoch_rate(cfg, target_s: float, min_epochs: int) -> tuple[Rate, Trainer]:
    """Steady-state time per epoch of one run: its first chunk left out, then about target_s of epochs."""
    return runs_rate([cfg], target_s, min_epochs)


def runs_rate(configs, target_s: float, min_epochs: int) -> tuple[Rate, Trainer]:
    """Steady-state time per epoch of one Trainer of `configs` (its first chunk, where a compiled step
    compiles, left out), then about target_s of epochs; the first run's divergence epoch."""
    graphs = unique_graphs()
    trainer = Trainer(configs, history="logged")
    start = last = None
    best = math.inf
    for _ in trainer.chunks():
        now = (trainer.seconds, trainer.epochs_computed)
        if start is None:
            start = last = now
            continue
        best = min(best, (now[0] - last[0]) / (now[1] - last[1]))
        last = now
        if now[0] - start[0] >= target_s and now[1] - start[1] >= min_epochs:
            break
    start = start or (0.0, 0)
    seconds, epochs = trainer.seconds - start[0], trainer.epochs_computed - start[1]
    mean = seconds / epochs * 1e6 if epochs else math.nan
    us = best * 1e6 if epochs else math.nan
    rate = Rate(us, mean, epochs, trainer.compile_seconds, unique_graphs() - graphs, trainer.diverged_at[0])
    return rate, trainer


def sklearn_epoch(X: torch.Tensor, y: torch.Tensor, repeats: int) -> tuple[float, str]:
    from sklearn.linear_model import SGDRegressor

    Xn, yn = X.cpu().numpy(), y.cpu().numpy().ravel()
    best, dtype = math.inf, "?"
    for _ in range(repeats):
        model = SGDRegressor(max_iter=1, tol=None, random_state=0)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: one epoch is what is asked
            model.fit(Xn, yn)
        best = min(best, time.perf_counter() - start)
        dtype = str(model.coef_.dtype)
    return best, dtype


def fits_in_memory(rows: int, features: int) -> tuple[bool, str]:
    # What gdcli's own check counts (float64 as drawn, the float32 copy, ...), twice: every Trainer
    # checks that count against MemAvailable before it looks in its cache, so the second
    # trainer at a size is refused unless the memory held by the first one's data is
    # there again. Plus room for an epoch's temporaries (about four float32 values a
    # row) and 1 GiB.
    data = datamod.generated_bytes(rows, features, 4)
    need = 2 * data + 4 * rows * 4 + 2**30
    have = datamod.available_memory()
    if have is None:
        return True, "MemAvailable unknown"
    why = (f"needs about {need / 2**30:.1f} GiB (2x the {data / 2**30:.1f} GiB gdcli's check counts: it checks "
           f"MemAvailable for every trainer, the cached data not counted as had), MemAvailable {have / 2**30:.1f} GiB")
    return need <= have, why


def section_epoch(args) -> None:
    sizes = [args.scale(10**e) for e in (5, 6, 7, 8)]
    sizes = [n for n in sizes if n <= args.max_rows] or [args.max_rows]
    compile_sizes = set(sizes) if not args.quick else {max(sizes)}
    target, min_epochs = (0.1, 2) if args.quick else (1.5, 3)
    floor_repeats = 3 if args.quick else 7
    has_sklearn = importlib.util.find_spec("sklearn") is not None
    out(f"== per-epoch time: full batch, float32, gd, lr {LR}, synthetic data, device {args.device}, "
        f"torch {torch.__version__} on {torch.get_num_threads()} threads")
    out(f"   steady state after the first chunk, about {target} s of epochs each (at least {min_epochs}); "
        f"read floor = best of {floor_repeats} X.sum() + y.sum() on the float32 training tensors")
    if args.skip_compile:
        out("   compiled runs skipped (--skip-compile)")
    elif args.quick:
        out(f"   --quick: compiled runs at {rows_name(max(sizes))} rows only")
    if not has_sklearn:
        out("   scikit-learn is not installed here: SGDRegressor is skipped")
    out("   us/epoch: the fastest chunk after the first (as the floor is the fastest pass); mean: all epochs timed")
    out(f"{'k':>3} {'rows':>6} {'what':<20} {'epochs':>7} {'us/epoch':>12} {'mean':>12} {'x floor':>8} "
        f"{'compile s':>10}  note")
    results = {}
    for features in (1, 10):
        limit_hit = False
        if not args.skip_compile:
            torch._dynamo.reset()  # one cache per feature count: no entries of another count's graphs
        for rows in sizes:
            ok, why = fits_in_memory(rows, features)
            fresh()
            if not ok:
                out(f"{features:>3} {rows_name(rows):>6} skipped: {why}")
                continue
            progress(f"epoch: {features} feature(s), {rows:,} rows")
            started = time.perf_counter()
            base = resolve(
                "synthetic", rows=rows, features=features, lr=LR, epochs=10**9, dtype="float32",
                device=args.device, optim="gd",
            )
            decision = budget.decide(base, 1)
            if decision.streamed:  # an epoch is then a pass that draws every row again: the stream section
                out(f"{features:>3} {rows_name(rows):>6} skipped: gdcli streams it ({decision.line()})")
                continue
            # Draw and prepare the data once for every trainer at this size (gdcli caches both).
            try:
                trainer = Trainer([dataclasses.replace(base, epochs=1)], history="logged")
            except GdcliError as err:
                out(f"{features:>3} {rows_name(rows):>6} refused by gdcli: {err}")
                continue
            prep = trainer.prepared[0]
            X, y = prep.X_train, prep.y_train
            del trainer
            setup = time.perf_counter() - started
            floor = best_of(lambda: X.sum() + y.sum(), floor_repeats, args.device) * 1e6
            floor_note = ""
            if args.device == "cpu" and torch.get_num_threads() > 1:
                # The fastest one pass, on all threads or one: on a small shared VM a parallel
                # region can stall for milliseconds, which would flatter every ratio below.
                threads = torch.get_num_threads()
                torch.set_num_threads(1)
                one = best_of(lambda: X.sum() + y.sum(), floor_repeats) * 1e6
                torch.set_num_threads(threads)
                if one < floor:
                    floor_note = f"; on 1 thread (on {threads}: {floor:,.1f} us)"
                    if floor > 3 * one and floor > 1000:
                        floor_note += (f" WARNING: {threads}-thread parallel regions stall here; the figures below "
                                       "time this machine's scheduler: compare with --threads 1")
                    floor = one
            nbytes = X.numel() * X.element_size() + y.numel() * y.element_size()
            results[features, rows, "floor"] = floor
            out(f"{features:>3} {rows_name(rows):>6} {'read floor':<20} {'':>7} {floor:>12,.1f} {'':>12} {1:>8.2f} "
                f"{'':>10}  "
                f"X, y float32 {mib(nbytes)}, {nbytes / floor / 1e3:.1f} GB/s; data drawn and prepared in {setup:.1f} s"
                f"{floor_note}")
            modes = [False] + ([True] if not args.skip_compile and rows in compile_sizes else [])
            for method in METHODS:
                for compiled in modes:
                    name = f"{method} {'compiled' if compiled else 'eager'}"
                    progress(f"epoch: {features} feature(s), {rows:,} rows, {name}")
                    cfg = dataclasses.replace(base, method=method, compile=compiled)
                    hits = RecompileLimit.hits
                    try:
                        rate, trainer = epoch_rate(cfg, target, min_epochs)
                    except GdcliError as err:
                        out(f"{features:>3} {rows_name(rows):>6} {name:<20} refused by gdcli: {err}")
                        continue
                    del trainer
                    limit_hit = limit_hit or RecompileLimit.hits > hits
                    note = ""
                    if compiled:
                        note = "compiled a new graph" if rate.new_graphs else "reused the graph compiled before"
                        if limit_hit and not rate.new_graphs:
                            note = "dynamo's recompile limit was hit: may have run EAGER (not counted)"
                    if not (compiled and limit_hit and not rate.new_graphs):
                        results[features, rows, method, compiled] = rate
                    if rate.diverged is not None:
                        note += f" DIVERGED at epoch {rate.diverged}: figure not comparable"
                    comp = f"{rate.compile_s:.2f}" if compiled else ""
                    out(f"{features:>3} {rows_name(rows):>6} {name:<20} {rate.epochs:>7} {rate.us:>12,.1f} "
                        f"{rate.mean_us:>12,.1f} {rate.us / floor:>8.2f} {comp:>10}  {note}")
            if has_sklearn:
                if rows > 10**7:
                    out(f"{features:>3} {rows_name(rows):>6} {'sklearn SGDRegressor':<20} skipped above 1e7 rows "
                        "(about 0.3 us a row: minutes)")
                else:
                    progress(f"epoch: {features} feature(s), {rows:,} rows, sklearn")
                    seconds, dtype = sklearn_epoch(X, y, 1 if rows >= 10**7 else 2)
                    us = seconds * 1e6
                    results[features, rows, "sklearn"] = us
                    out(f"{features:>3} {rows_name(rows):>6} {'sklearn SGDRegressor':<20} {1:>7} {us:>12,.1f} "
                        f"{'':>12} {us / floor:>8.2f} {'':>10}  one fit(max_iter=1, tol=None), coef {dtype}")
            X = y = prep = None  # this size's data freed before the next is drawn
        fresh()
    epoch_goals(args, results, sizes)


def epoch_goals(args, results: dict, sizes: list[int]) -> None:
    for features in (1, 10):
        measured = [n for n in sizes if (features, n, "floor") in results]
        if not measured:
            continue
        upto = [n for n in measured if n <= 10**7]
        if not upto:
            continue
        at = max(upto)  # 1e7 where measured
        where = rows_name(at) + ("" if at == 10**7 else " (1e7 not measured)")
        floor = results[features, at, "floor"]
        for compiled, bound in ((True, 2.0), (False, 6.0)):
            text = f"{'compiled' if compiled else 'eager'} analytic, {features} feature(s), at {where} rows <= {bound:g}x read floor"
            rate = results.get((features, at, "analytic", compiled))
            if rate is None:
                why = "--skip-compile" if args.skip_compile else "not run at this size"
                goal(text, f"not measured ({why})", None)
            else:
                ratio = rate.us / floor
                goal(text, f"{ratio:.2f}x ({rate.us:,.0f} us vs {floor:,.0f} us)", ratio <= bound)
    for compiled in (False, True):
        rates = [(k, rows, r) for (k, rows, *rest), r in results.items()
                 if rest and rest[0] == "gram" and rest[1] is compiled]
        text = f"gram {'compiled' if compiled else 'eager'} <= 100 us/epoch at any rows"
        if not rates:
            goal(text, "not measured", None)
            continue
        k, rows, worst = max(rates, key=lambda t: t[2].us)
        goal(text, f"worst {worst.us:,.1f} us ({k} feature(s), {rows_name(rows)} rows)", worst.us <= 100)


# --- peak RSS -----------------------------------------------------------------------------

WRAPPER = (
    "import json, resource, subprocess, sys\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "print(json.dumps({'rc': p.returncode, 'maxrss_kib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
    " 'stdout': p.stdout, 'stderr': p.stderr[-3000:]}))\n"
)


def data_bytes_of(rows: int, features: int) -> int:
    """X and y in float32, the one copy gdcli holds of data too big to hold twice: (k + 1) x 4 bytes a row."""
    return rows * (features + 1) * 4


def peak_rss(argv: list[str], env: dict) -> dict:
    """Peak RSS (bytes) of one child process, from a fresh wrapper whose only child it is."""
    started = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", WRAPPER, *argv], capture_output=True, text=True, env=env, cwd=ROOT)
    report = json.loads(p.stdout)
    report["peak"] = report["maxrss_kib"] * 1024  # Linux reports KiB
    report["wall"] = time.perf_counter() - started
    return report


def rss_fits(args, rows: int) -> list[tuple[str, list[str], int, int]]:
    """(name, gdcli fit arguments, rows, features) of each fit whose peak is measured."""
    fits = [("autograd", 1, False)]
    if not args.quick:
        fits += [("analytic", 1, False), ("autograd", 10, False)] + [("analytic", 1, True)] * (not args.skip_compile)
    found = []
    for method, features, compiled in fits:
        argv = ["--dataset", "synthetic", "--rows", str(rows), "--features", str(features), "--method", method,
                "--epochs", "20", "--lr", str(LR)] + (["--compile"] if compiled else [])
        found.append((f"gdcli fit --method {method} --features {features}" + (" --compile" if compiled else ""),
                      argv, rows, features))
    big, k = min(10**8, args.max_rows), 10
    need = datamod.generated_bytes(big, k, 4) + 2**30
    have = datamod.available_memory() or 0
    name = f"gdcli fit --rows {rows_name(big)} --features {k} --method gram"
    if args.quick or need > have:
        out(f"   {name}: not run ({'--quick' if args.quick else f'needs about {mib(need)}, MemAvailable {mib(have)}'})")
    else:
        found.append((name, ["--dataset", "synthetic", "--rows", str(big), "--features", str(k), "--method", "gram",
                             "--epochs", "100", "--lr", "0.05"], big, k))
    return found


def write_csv(folder: str, rows: int) -> str:
    """The synthetic dataset's rows (one feature) as a CSV file in `folder`, written block by block."""
    path = os.path.join(folder, "rows.csv")
    with pcsv.CSVWriter(path, pa.schema([("x", pa.float64()), ("y", pa.float64())])) as writer:
        for X, y in datamod.synthetic_blocks(42, rows, 1, block=1 << 20):
            writer.write_table(pa.table({"x": X[:, 0], "y": y[:, 0]}))
    return path


def section_rss(args) -> None:
    rows = min(args.scale(10**7), args.max_rows)
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    py = sys.executable
    baselines = {
        "python -c 'import torch'": [py, "-c", "import torch"],
        "python -c 'import torch, gdcli.cli, gdcli.train'": [py, "-c", "import torch, gdcli.cli, gdcli.train"],
        "gdcli fit --dataset celsius": [py, "-m", "gdcli", "fit", "--dataset", "celsius", "--output", "json"],
    }
    out(f"== peak RSS of whole processes (getrusage RUSAGE_CHILDREN ru_maxrss), {rows:,} rows, device {args.device}")
    base_peak = 0
    for name, argv in baselines.items():
        progress(f"rss: {name}")
        report = peak_rss(argv, env)
        base_peak = max(base_peak, report["peak"])  # the goal's baseline: the largest of these
        out(f"{name:<52} {mib(report['peak']):>10}")
    fits = rss_fits(args, rows)
    folder = None if args.quick else tempfile.mkdtemp(prefix="gdcli-rss-")
    try:
        if folder is not None:
            progress("rss: writing a CSV file")
            fits.append(("gdcli fit --dataset rows.csv (a CSV file)", ["--dataset", write_csv(folder, rows), "--epochs",
                                                                       "20", "--lr", str(LR)], rows, 1))
        worst = rss_measure(args, fits, base_peak, env)
    finally:
        if folder is not None:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
    out("data bytes counted: X and y in float32, the one training copy, (k + 1) x 4 bytes a row "
        f"({mib(data_bytes_of(rows, 1))} for k = 1)")
    text = f"peak RSS <= baseline + 2x the float32 data bytes (one copy)"
    if worst is None:
        goal(text, "not measured (every fit failed)", None)
    else:
        excess, name, peak, bound, times = worst
        goal(text, f"worst {name}: {mib(peak)} vs {mib(bound)} (baseline + {times:.2f}x)", peak <= bound)


def rss_measure(args, fits: list, base_peak: int, env: dict):
    """Measure each fit's peak; print it against baseline + 2x its float32 data; the worst (peak/bound, ...)."""
    worst = None
    for name, given, rows, features in fits:
        data_bytes = data_bytes_of(rows, features)
        argv = [sys.executable, "-m", "gdcli", "fit", *given, "--device", args.device, "--output", "json",
                "--history", "logged"]
        progress(f"rss: {name}")
        report = peak_rss(argv, env)
        if report["rc"] != 0:
            out(f"{name:<52} FAILED (exit {report['rc']}): {report['stderr'].strip()[-600:]}")
            continue
        per_epoch = json.loads(report["stdout"]).get("seconds_per_epoch")
        over = report["peak"] - base_peak
        bound = base_peak + 2 * data_bytes
        out(f"{name:<52} {mib(report['peak']):>10}  baseline + {mib(over)} = {over / data_bytes:.2f}x the float32 "
            f"data's {mib(data_bytes)}; bound {mib(bound)}; {per_epoch * 1e6:,.0f} us/epoch (its JSON), "
            f"{report['wall']:.1f} s wall")
        excess = report["peak"] / bound
        if worst is None or excess > worst[0]:
            worst = (excess, name, report["peak"], bound, over / data_bytes)
    return worst


# --- sweep --------------------------------------------------------------------------------


def train_wall(configs) -> tuple[float, float]:
    """(wall seconds of build + train + results, training-loop seconds) of one Trainer."""
    started = time.perf_counter()
    trainer = Trainer(configs, history="logged")
    for _ in trainer.chunks():
        pass
    trainer.results()
    return time.perf_counter() - started, trainer.seconds


def section_sweep(args) -> None:
    rows = min(args.scale(10**6), args.max_rows)
    lrs = parsing.lr_list("1e-3:0.5", 100)
    runs = len(lrs)
    target = 0.3 if args.quick else 2.0
    out(f"== sweep of {runs} lr (log-spaced {lrs[0]:g}..{lrs[-1]:g}) in one Trainer against one fit (lr {LR}), "
        f"1 feature, gd, same epochs, data drawn once (cached); median of {args.repeats} interleaved; "
        f"{runs} separate fits = {runs} x one fit")
    out(f"{'method':<11} {'rows':>9} {'epochs':>6} {'fit s':>8} {'sweep s':>8} {'sweep/fit':>9} "
        f"{'/' + str(runs) + ' fits':>9} {'loop only':>9}  (fit, sweep us/epoch in the loop)")
    fresh()
    # gram: the whole-data gradient from the Gram matrix, so 100 runs cost 100 small products;
    # the others touch a residual per row and run, a block of rows at a time (gradients/blocks.py).
    # finite-diff evaluates 2P + 1 = 5 parameter sets per run: at a tenth of the rows.
    for method, n in (("autograd", rows), ("analytic", rows), ("gram", rows), ("finite-diff", max(1, rows // 10))):
        fw, sw_, fl, sl, epochs = _sweep_times(args, method, n, lrs, target)
        out(f"{method:<11} {n:>9,} {epochs:>6} {fw:>8.3f} {sw_:>8.3f} {sw_ / fw:>9.2f} {sw_ / (runs * fw):>9.3f} "
            f"{sl / fl:>9.2f}  ({fl / epochs * 1e6:,.0f}, {sl / epochs * 1e6:,.0f})")
        where = f"at {rows_name(n)} rows, {method}"
        goal(f"sweep of {runs} lr {where}, <= {runs} separate fits", f"{sw_ / fw:.2f}x one fit", sw_ / fw <= runs)
        if method in ("analytic", "autograd"):
            goal(f"sweep of {runs} lr {where}, <= {runs}/3 x one fit on the CPU", f"{sw_ / fw:.2f}x",
                 sw_ / fw <= runs / 3)
    fresh()
    if args.skip_compile:
        out("   compiled sweeps skipped (--skip-compile)")
    else:
        compiled_sweeps(args, rows, lrs, target)


def compiled_sweeps(args, rows: int, lrs: list, target: float) -> None:
    """--compile on the sweep (gdcli/train/fused.py: every run's residual fused into one pass over the rows)
    against one fit, eager and compiled: steady-state training-loop time per epoch, median of interleaved
    repeats, each trainer's compile time apart."""
    runs = len(lrs)
    out(f"-- sweep --compile: steady-state us/epoch in the training loop (first chunk, which compiles, left out), "
        f"median of {args.repeats} interleaved; compile s = the trainer's torch.compile time (a later trainer "
        "reuses the graph: its figure is the first one's)")
    out(f"{'method':<11} {'rows':>9} {'fit':>9} {'fit comp':>9} {'sweep comp':>11} {'/fit':>7} {'/fit comp':>9} "
        f"{'compile s (fit, sweep)':>23}")
    for method in ("analytic", "autograd"):
        progress(f"sweep --compile: {method} at {rows:,} rows")
        base = resolve("synthetic", rows=rows, features=1, method=method, lr=LR, epochs=10**9, device=args.device)
        sweep_cfgs = [dataclasses.replace(base, lr=lr, compile=True) for lr in lrs]
        kinds = {"fit": [base], "fit comp": [dataclasses.replace(base, compile=True)], "sweep comp": sweep_cfgs}
        times: dict[str, list[float]] = {k: [] for k in kinds}
        first_compile: dict[str, float] = {}
        for _ in range(args.repeats):
            for name, configs in kinds.items():
                rate, trainer = runs_rate(configs, target, 5)
                times[name].append(rate.us)
                first_compile.setdefault(name, rate.compile_s)
                del trainer
        fit, fitc, sweep = (statistics.median(times[k]) for k in kinds)
        out(f"{method:<11} {rows:>9,} {fit:>9,.0f} {fitc:>9,.0f} {sweep:>11,.0f} {sweep / fit:>7.1f} "
            f"{sweep / fitc:>9.1f} {first_compile['fit comp']:>11.1f}, {first_compile['sweep comp']:>9.1f}")
        goal(f"sweep --compile of {runs} lr at {rows_name(rows)} rows, {method}, <= {runs}/3 x one eager fit (CPU)",
             f"{sweep / fit:.1f}x", sweep / fit <= runs / 3)


def section_stream(args) -> None:
    from gdcli.data.streamed import stream
    from gdcli.train import budget
    from gdcli.train.trainer import Trainer

    rows = args.scale(4 * 10**6)
    out(f"\n== stream: {rows_name(rows)} rows of Parquet, streamed under a small --memory-limit ==")
    with tempfile.TemporaryDirectory() as folder:
        rng = np.random.default_rng(0)
        x = rng.random(rows)
        table = pa.table({"x": x, "y": 1.0 + 2.0 * x + 0.1 * rng.standard_normal(rows)})
        path = Path(folder) / "stream.parquet"
        pq.write_table(table, path, row_group_size=max(1, rows // 16))
        del table, x
        need = datamod.generated_bytes(rows, 1, 4)
        limit = f"{need // 4}"
        cfg = resolve(str(path), method="gram", epochs=20, lr=0.5, memory_limit=limit, device=args.device)
        decision = budget.decide(cfg, 1)
        out(f"holding it would take {mib(need)}; --memory-limit {mib(need // 4)}: streamed={decision.streamed}")
        ds = budget.load(cfg, 42, decision.limit)
        prep = stream(ds, 1.0, False, 0.0, 0, torch.float32, torch.device(args.device))

        def gram_pass():
            prep.cache.clear()
            prep.gram("training")

        def arrow_pass():
            for batch in pq.ParquetFile(path).iter_batches(1 << 16):
                batch.column(0).to_numpy(), batch.column(1).to_numpy()

        def timed(fn) -> float:
            start = time.perf_counter()
            fn()
            return time.perf_counter() - start

        ours, theirs = [], []
        for _ in range(args.repeats):  # interleaved: the machine's load falls on both alike
            ours.append(timed(gram_pass)), theirs.append(timed(arrow_pass))
        g, a = min(ours), min(theirs)
        out(f"gram's one pass {g:.3f} s, pyarrow's read {a:.3f} s: {g / a:.2f}x  (first counting pass {prep.pass_seconds:.3f} s)")
        goal(f"streamed gram pass at {rows_name(rows)} rows <= 3x pyarrow's read", f"{g / a:.2f}x", g / a <= 3)
        for method in ("analytic", "autograd"):
            trainer = Trainer([dataclasses.replace(cfg, method=method, epochs=3)])
            for _ in trainer.chunks():
                pass
            per = trainer.seconds / max(1, trainer.epochs_computed)
            out(f"{method:<9} full batch: {per:.3f} s a pass (an epoch), {per / a:.2f}x pyarrow's read; "
                f"final loss {trainer.result().final_loss:.6f}, optimum {trainer.result().optimum_loss:.6f}")
        # Peak RSS of whole processes: the streamed fit against one that only imports torch and gdcli.
        py, env = sys.executable, dict(os.environ)
        base = peak_rss([py, "-c", "import torch, gdcli.cli, gdcli.train"], env)["peak"]
        fitted = peak_rss([py, "-m", "gdcli", "fit", "--dataset", str(path), "--method", "analytic", "--epochs", "2",
                           "--memory-limit", limit, "--output", "json", "--device", args.device], env)
        read = peak_rss([py, "-c", "import sys, torch, gdcli.train, pyarrow.parquet as pq\n"
                         "for b in pq.ParquetFile(sys.argv[1]).iter_batches(1 << 16): pass", str(path)], env)["peak"]
        out(f"peak RSS: streamed fit {mib(fitted['peak'])} (rc {fitted['rc']}), import baseline {mib(base)}: "
            f"{mib(fitted['peak'] - base)} above it, against {mib(need)} to hold the rows; pyarrow's own read of "
            f"the file alone {mib(read - base)} above it")
        goal("streamed fit's peak RSS above the baseline <= --memory-limit", mib(fitted["peak"] - base),
             fitted["peak"] - base <= need // 4)
    fresh()


def _sweep_times(args, method: str, rows: int, lrs: list, target: float):
    """(fit wall s, sweep wall s, fit loop s, sweep loop s, epochs): medians of interleaved repeats, the
    epochs picked so that the sweep takes about `target` seconds."""
    progress(f"sweep: {method} at {rows:,} rows, calibrating")
    base = resolve("synthetic", rows=rows, features=1, method=method, lr=LR, epochs=10**9, device=args.device)
    configs = [dataclasses.replace(base, lr=lr) for lr in lrs]
    rate, trainer = epoch_rate(configs[0], target, 2)  # warms the data cache too
    del trainer
    # The sweep's rate, from a time-bounded trainer of all the runs, picks the epochs.
    graphs = Trainer(configs, history="logged")
    timed = None
    for _ in graphs.chunks():
        if timed is None:
            timed = (graphs.seconds, graphs.epochs_computed)
        elif graphs.seconds - timed[0] >= target / 2:
            break
    sweep_us = (graphs.seconds - timed[0]) / max(1, graphs.epochs_computed - timed[1]) * 1e6
    del graphs
    epochs = max(5, min(100_000, int(target * 1e6 / max(sweep_us, 1e-3))))
    fit_cfg = dataclasses.replace(base, epochs=epochs)
    sweep_cfgs = [dataclasses.replace(c, epochs=epochs) for c in configs]
    progress(f"sweep: {method}, {epochs} epochs x {args.repeats} repeats")
    fit_w, fit_l, sweep_w, sweep_l = [], [], [], []
    for _ in range(args.repeats):
        w, loop = train_wall([fit_cfg])
        fit_w.append(w), fit_l.append(loop)
        w, loop = train_wall(sweep_cfgs)
        sweep_w.append(w), sweep_l.append(loop)
    return (*(statistics.median(v) for v in (fit_w, sweep_w, fit_l, sweep_l)), epochs)


# --- main ---------------------------------------------------------------------------------


def section_ray(args) -> None:
    """fit --backend ray's Gram pass on a local Ray of 2 CPUs against the same pass here (bench_scale_ray.py)."""
    from bench_scale_ray import section_ray as ray_section

    ray_section(args, out, progress)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="sizes / 100, short timings: checks the script in a minute or so")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--skip-compile", action="store_true", help="no torch.compile runs")
    parser.add_argument("--max-rows", type=int, default=10**9, help="no size above this many rows")
    parser.add_argument("--threads", type=int, default=None, help="torch (and pyarrow) threads; default: theirs")
    parser.add_argument("--repeats", type=int, default=None, help="repeats of the load and sweep timings (default 3, --quick 1)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma list of {', '.join(SECTIONS)}")
    args = parser.parse_args()
    args.scale = (lambda n: n // 100) if args.quick else (lambda n: n)
    args.repeats = args.repeats or (1 if args.quick else 3)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}: choose from {', '.join(SECTIONS)}")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device here")
    if args.threads:
        torch.set_num_threads(args.threads)
        pa.set_cpu_count(args.threads)
    load1 = os.getloadavg()[0]
    mem = datamod.available_memory()
    out(f"bench_scale: torch {torch.__version__}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, "
        f"MemAvailable {mem / 2**30:.1f} GiB, load average {load1:.2f} at start"
        + (" (other work is running: timings are noisy)" if load1 > 0.5 else "")
        + (", --quick" if args.quick else ""))
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "gdcli"], capture_output=True, text=True, cwd=ROOT).stdout.split()
        changed = [d for d in dirty if d.startswith("gdcli/")]
        out(f"gdcli at {head or '?'}" + (f", with uncommitted changes to {', '.join(changed)}" if changed else ""))
    except OSError:
        pass
    for name in sections:
        progress(f"section {name}")
        started = time.perf_counter()
        {"load": section_load, "epoch": section_epoch, "rss": section_rss, "sweep": section_sweep,
         "stream": section_stream, "ray": section_ray}[name](args)
        out(f"   ({name}: {time.perf_counter() - started:.0f} s)")
        out()
    out(f"== goals (load average {os.getloadavg()[0]:.2f} at the end; {time.perf_counter() - T0:.0f} s in all)")
    for text, measured, met in GOALS:
        status = "not measured" if met is None else "met" if met else "NOT MET"
        out(f"{status:<12} {text}: {measured}")


if __name__ == "__main__":
    main()
