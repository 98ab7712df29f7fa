"""Write a folder of Parquet parts for the README's data-at-scale examples: readings/.

The book's thermometer, many times over: each row is a reading `t_u` of an uncalibrated
thermometer (unknown units) with an `id`, against the Celsius temperature `t_c`, as Spark
writes a table: `part-00000.snappy.parquet` ... and an empty `_SUCCESS` file. The readings
follow the line the book fits, plus noise, so the least-squares weights are known:

    t_c = 0.5358 * t_u - 17.30 + noise(sd 1.5)

    python docs/parts.py                           # 8 parts of 1,250,000 rows: 10,000,000 readings
    python docs/parts.py --parts 3 --rows 1000     # a small folder

Seeded: the same command writes the same folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def readings(rows: int, first_id: int, rng: np.random.Generator) -> pa.Table:
    """`rows` readings with ids from `first_id`."""
    t_u = rng.uniform(20.0, 90.0, rows).round(1)
    t_c = 0.5358 * t_u - 17.30 + rng.normal(0.0, 1.5, rows)
    return pa.table({"id": np.arange(first_id, first_id + rows), "t_u": t_u, "t_c": t_c.round(2)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, default=8)
    parser.add_argument("--rows", type=int, default=1_250_000, help="rows per part")
    parser.add_argument("--folder", default="readings")
    args = parser.parse_args()
    folder = Path(args.folder)
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(5)
    for i in range(args.parts):
        pq.write_table(readings(args.rows, i * args.rows, rng), folder / f"part-{i:05d}.snappy.parquet",
                       row_group_size=250_000)
    (folder / "_SUCCESS").touch()
    print(f"wrote {args.parts} parts of {args.rows:,} rows to {folder}/")


if __name__ == "__main__":
    main()
