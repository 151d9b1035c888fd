"""Opening the store: one writer at a time, readers that never block it.

DuckDB lets one process hold a database file for writing, or several hold it read-only. cordiale keeps
every connection short: a writer opens the file for one unit of work (one input file) and closes it; a
reader opens it read-only for one query and closes it. Whoever finds the file locked waits briefly and
tries again, so a long-running reader (the web app) and ``cordiale ingest`` both work, the reader seeing
the last committed state.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from cordiale.errors import StoreError
from cordiale.store.schema import ALL_DDL, SCHEMA_VERSION

LOCK_WAIT_SECONDS = 120.0
_LOCK_MARKERS = ("Could not set lock", "Conflicting lock", "lock on file", "database is locked")


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc)
    return any(marker in text for marker in _LOCK_MARKERS)


def _connect(path: Path, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait
    delay = 0.005
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            if not _is_lock_error(exc) or time.monotonic() > deadline:
                raise StoreError(f"cannot open the store {path}: {exc}") from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def init_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table that does not exist yet and record the schema version."""
    for ddl in ALL_DDL:
        con.execute(ddl)
    rows = con.execute("SELECT value FROM store_meta WHERE key = 'schema_version'").fetchall()
    if not rows:
        con.execute("INSERT INTO store_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])


@contextmanager
def writer(path: Path, wait: float = LOCK_WAIT_SECONDS) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection for one unit of work; creates the store (and its folder) if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _connect(path, read_only=False, wait=wait)
    try:
        init_schema(con)
        yield con
    finally:
        con.close()


@contextmanager
def reader(path: Path, wait: float = LOCK_WAIT_SECONDS) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection; raises StoreError (exit 4) when the store does not exist."""
    if not path.is_file():
        raise StoreError(
            f"no store at {path}: run `cordiale ingest FILES…` (or `cordiale pair A B --fetch`) first"
        )
    con = _connect(path, read_only=True, wait=wait)
    try:
        yield con
    finally:
        con.close()


def table_counts(path: Path) -> dict[str, int]:
    """Rows per table (for summaries and checks)."""
    with reader(path) as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {n: int(con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]) for n in sorted(names)}  # type: ignore[index]
