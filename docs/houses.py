"""Write a practitioner's raw files for the README's walk-through: houses.csv and houses_test.csv.

Each row is a house: an `id`, its floor area `sqft`, its `rooms`, its `age` in years, the `city`
it is in (text), and its `price` in thousands. Like a real export, the files carry an id column
that is no feature, a text column, and gaps: about one row in 200 has an empty `sqft` or `age`.
The price is linear in the features plus noise, so the least-squares weights are known:

    price = 120 + 0.25 * sqft + 15 * rooms - 1.5 * age + noise(sd 20)

    python docs/houses.py                 # 2,000,000 training rows, 200,000 held out
    python docs/houses.py --rows 10000    # a smaller pair

Seeded: the same command writes the same files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

CITIES = np.array(["Lyon", "Porto", "Graz", "Leeds", "Turku"])


def houses(rows: int, first_id: int, rng: np.random.Generator) -> pa.Table:
    """`rows` houses with ids from `first_id`, gaps included."""
    sqft = rng.normal(1500, 400, rows).round()
    rooms = rng.integers(1, 7, rows).astype(np.float64)
    age = rng.uniform(0, 80, rows).round(1)
    price = 120 + 0.25 * sqft + 15 * rooms - 1.5 * age + rng.normal(0, 20, rows)
    # A gap where the export had no value: an empty cell in the CSV.
    sqft_gap, age_gap = rng.random(rows) < 0.003, rng.random(rows) < 0.002
    return pa.table({
        "id": np.arange(first_id, first_id + rows),
        "sqft": pa.array(sqft, mask=sqft_gap),
        "rooms": rooms,
        "age": pa.array(age, mask=age_gap),
        "city": CITIES[rng.integers(0, len(CITIES), rows)],
        "price": price.round(2),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="training rows (held out: a tenth as many)")
    parser.add_argument("--folder", type=Path, default=Path("."), help="where to write the two files")
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    held = max(1, args.rows // 10)
    for name, table in (("houses.csv", houses(args.rows, 1, rng)),
                        ("houses_test.csv", houses(held, args.rows + 1, rng))):
        path = args.folder / name
        with pa.OSFile(str(path), "wb") as f:  # the header as a spreadsheet writes it: no quotes
            f.write((",".join(table.column_names) + "\n").encode())
            pcsv.write_csv(table, f, pcsv.WriteOptions(include_header=False, quoting_style="none"))
        print(f"wrote {path}: {table.num_rows:,} rows, columns {', '.join(table.column_names)}")


if __name__ == "__main__":
    main()
