"""``cordiale export``: every table of the store as Parquet, written atomically (a folder, then renamed)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb

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
        fingerprint = store_fingerprint(con, existing)
    manifest = {
        "cordiale_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "store": str(db_path.resolve()),
        "fingerprint": fingerprint,
        "exported_at": datetime.now(UTC).isoformat(),
        "tables": counts,
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    if directory.exists():
        directory.rmdir()
    tmp.rename(directory)
    return counts


def store_fingerprint(con: duckdb.DuckDBPyConnection, existing: set[str]) -> dict[str, str]:
    """What changes whenever the store's content does, beside its row counts: the ingest runs (how
    many, the latest end) and the latest ``updated_date`` among the works."""
    out: dict[str, str] = {}
    if "ingest_log" in existing:
        row = con.execute(
            "SELECT count(*), CAST(max(coalesce(finished_at, started_at)) AS VARCHAR) FROM ingest_log"
        ).fetchone()
        out["ingest_runs"], out["last_ingest"] = str(row[0]) if row else "0", str(row[1]) if row else ""
    if "works" in existing:
        row = con.execute("SELECT max(updated_date) FROM works").fetchone()
        out["works_max_updated_date"] = str(row[0]) if row else ""
    return out


def store_identity(db_path: Path) -> dict[str, object]:
    """The store as an export's manifest records it: resolved path, rows per table, fingerprint."""
    with reader(db_path) as con:
        existing = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        counts = {
            t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
            for t in ALL_TABLES
            if t in existing
        }
        return {
            "store": str(db_path.resolve()),
            "tables": counts,
            "fingerprint": store_fingerprint(con, existing),
        }


def check_export_matches(db_path: Path, directory: Path) -> None:
    """Refuse (exit 2) an export folder that was not written from ``db_path`` as it is now: a stale or
    foreign export would silently give other numbers than the store named by ``--db``."""
    manifest_path = directory / MANIFEST
    if not directory.is_dir():
        return  # the engine reports a missing export
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"{directory} has no readable {MANIFEST}, so it cannot be checked against the store {db_path}: "
            f"write a fresh export with `cordiale export --format parquet NEWDIR --db {db_path}`, "
            "or leave out --export"
        ) from exc
    now = store_identity(db_path)
    differences = [
        what
        for what, key in (
            ("store path", "store"),
            ("row counts", "tables"),
            ("ingest fingerprint", "fingerprint"),
        )
        if manifest.get(key) != now[key]
    ]
    if differences:
        raise UsageError(
            f"the export {directory} does not match the store {db_path} (it was written from "
            f"{manifest.get('store', '?')} at {manifest.get('exported_at', '?')}; differs in "
            f"{', '.join(differences)}): write a fresh export with "
            f"`cordiale export --format parquet NEWDIR --db {db_path}` and pass it to --export, "
            "or leave out --export to export to a temporary folder"
        )
