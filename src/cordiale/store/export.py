"""``cordiale export``: every table of the store as Parquet, written atomically (a folder, then renamed)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from cordiale import __version__
from cordiale.errors import UsageError
from cordiale.sources.inputs import EXPORT_MANIFEST as MANIFEST
from cordiale.store.connection import reader, require_rows
from cordiale.store.schema import ALL_TABLES, SCHEMA_VERSION

# A store with rows in none of these holds nothing worth exporting.
DATA_TABLES = ("works", "institutions", "ror_organizations", "api_counts")


def export_parquet(db_path: Path, directory: Path) -> dict[str, int]:
    """Write ``<directory>/<table>.parquet`` for every table and a manifest; returns rows per table."""
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} is a file, not a folder: choose a new folder")
    if directory.exists() and any(directory.iterdir()):
        raise UsageError(f"{directory} exists and is not empty: choose a new folder")
    with reader(db_path) as con:
        require_rows(con, db_path, DATA_TABLES, "run `cordiale ingest FILES…` or `cordiale ror load` first")
    tmp = directory.with_name(f".{directory.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    counts: dict[str, int] = {}
    with reader(db_path) as con:
        existing = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        for table in ALL_TABLES:
            if table not in existing:
                continue
            target = tmp / f"{table}.parquet"
            con.execute(f"COPY (SELECT * FROM {table}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
            counts[table] = int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
    manifest = {
        "cordiale_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "store": str(db_path),
        "exported_at": datetime.now(UTC).isoformat(),
        "tables": counts,
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    if directory.exists():
        directory.rmdir()
    tmp.rename(directory)
    return counts
