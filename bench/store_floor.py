"""The store floor: CPU seconds DuckDB itself spends to store rows that are already built.

Reads every per-work table of a finished store into Arrow (not timed), then, in one process and with
the ingest writer's settings (one thread, a 64 MB checkpoint threshold), creates an empty store with
cordiale's schema, inserts the tables as they are and checkpoints. No JSON is read, no row is built or
compared: this is what any ingest into a DuckDB store pays on top of decoding its input.

``floor(kept) + store floor`` is therefore the least CPU an ingest with this store can spend, and
``floor(needed) / (floor(kept) + store floor)`` the best floor ratio it can reach.

Usage: ``python bench/store_floor.py STORE.duckdb`` prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from cordiale.store.connection import init_schema
from cordiale.store.parts import create_views
from cordiale.store.schema import WORK_CHILD_TABLES
from floor import cpu_since

TABLES = ("works", *WORK_CHILD_TABLES, "institutions")


def run(store: Path) -> dict[str, Any]:
    src = duckdb.connect(str(store), read_only=True)
    try:
        create_views(src, store)  # the rows of the store's parts, if any
        tables = {t: src.sql(f"SELECT * FROM {t}").to_arrow_table() for t in TABLES}
    finally:
        src.close()
    with tempfile.TemporaryDirectory(prefix="store-floor-", dir=store.parent) as tmp:
        con = duckdb.connect(str(Path(tmp) / "floor.duckdb"))
        con.execute("SET threads = 1")
        con.execute("SET checkpoint_threshold = '64MB'")
        init_schema(con)
        con.execute("CHECKPOINT")
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        w0 = time.perf_counter()
        con.execute("BEGIN TRANSACTION")
        for name, table in tables.items():
            con.register("staged", table)
            con.execute(f"INSERT INTO {name} SELECT * FROM staged")
            con.unregister("staged")
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
        con.close()
        cpu = cpu_since(r0, w0)
        db_bytes = sum(p.stat().st_size for p in Path(tmp).iterdir())
    return {
        "works": tables["works"].num_rows,
        "rows": {name: t.num_rows for name, t in tables.items()},
        "arrow_bytes": sum(t.nbytes for t in tables.values()),
        "db_bytes": db_bytes,
        **cpu,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.store)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
