"""Opening the store: one writer at a time, readers that never block it.

DuckDB lets one process hold a database file for writing, or several hold it read-only. A reader opens it
read-only for one query and closes it. A long writer (``cordiale ingest``) commits one input file at a
time and, between two files, hands the file over to any reader that is waiting: a reader that finds the
file locked leaves a ``<store>.wait`` mark and retries; the writer sees the mark, closes, lets the readers
in and reopens. While it has nothing to write (a file is being parsed) and sees the mark, it closes until
it has (``WriterSession.release``). So a long-running reader (the web app) and an ingest both work,
readers seeing the last committed state.
"""

from __future__ import annotations

import fcntl
import functools
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from cordiale.errors import StoreError, UsageError
from cordiale.store.parts import create_views
from cordiale.store.schema import ALL_DDL, INGESTED_FILES_ADDED, SCHEMA_VERSION

LOCK_WAIT_SECONDS = 120.0
_LOCK_MARKERS = ("Could not set lock", "Conflicting lock", "lock on file", "database is locked")


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc)
    return any(marker in text for marker in _LOCK_MARKERS)


def wait_mark(path: Path) -> Path:
    """The file a blocked reader leaves so that the writer hands the store over."""
    return path.with_name(path.name + ".wait")


def writing_mark(path: Path) -> Path:
    """The file a released ``WriterSession`` holds locked (``flock``): other writers wait for it as for the
    store itself, readers ignore it."""
    return path.with_name(path.name + ".writing")


def _held_by_a_session(path: Path) -> bool:
    """Whether a ``WriterSession`` has released the store for readers only (see ``writing_mark``)."""
    try:
        fd = os.open(writing_mark(path), os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the probe's own lock
    return False


def memory_limit(variable: str = "CORDIALE_MEMORY_LIMIT", default: str = "1GB") -> str:
    """DuckDB's memory limit for cordiale's connections (``CORDIALE_MEMORY_LIMIT``, default 1GB)."""
    value = os.environ.get(variable, default)
    if not _is_memory_size(value):
        raise UsageError(f"{variable}={value!r} is not a memory size DuckDB takes (e.g. 512MB, 2GB, 50%)")
    return value


@functools.cache
def _is_memory_size(value: str) -> bool:
    """Whether DuckDB accepts ``value`` as a memory limit (asked of DuckDB itself, once per value)."""
    con = duckdb.connect()
    try:
        con.execute("SELECT 1")
        con.execute(f"SET memory_limit = '{value.replace(chr(39), '')}'")
    except duckdb.Error:
        return False
    finally:
        con.close()
    return "'" not in value


def _connect(
    path: Path, read_only: bool, wait: float, session_hold: bool = False, part_views: bool = True
) -> duckdb.DuckDBPyConnection:
    """Open the store, retrying while it is locked. A writer also waits while a released ``WriterSession``
    holds it (``session_hold``: this is that session taking it back). ``part_views``: show the per-work
    tables with their parts' rows (every connection but the ingest's own, see store/parts.py)."""
    deadline = time.monotonic() + wait
    delay = 0.005
    mark = wait_mark(path)
    while True:
        try:
            if not read_only and not session_hold and _held_by_a_session(path):
                raise duckdb.IOException("Could not set lock: a cordiale writer session holds the store")
            con = duckdb.connect(str(path), read_only=read_only, config={"memory_limit": memory_limit()})
        except duckdb.CatalogException as exc:  # read-only, on a path DuckDB takes for a data file
            raise _not_a_store(path) from exc
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            if not _is_lock_error(exc) or time.monotonic() > deadline:
                raise StoreError(f"cannot open the store {path}: {exc}") from exc
            if read_only:
                mark.touch(exist_ok=True)
            time.sleep(delay)
            delay = min(delay * 2, 0.05 if read_only else 0.2)
        else:
            if read_only:
                mark.unlink(missing_ok=True)
            _require_database_file(con, path)
            if part_views:
                try:
                    create_views(con, path)
                except BaseException:
                    con.close()
                    raise
            return con


def _require_database_file(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """DuckDB opens a path ending in a data file's extension (``.json``, ``.csv``, ``.parquet``…) as an
    in-memory database over that file: what was written there would be lost. Refuse it."""
    # fetchall, not fetchone: DuckDB 2 keeps a half-read result open on the connection
    sql = "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    rows = con.execute(sql).fetchall()
    if not rows or not rows[0][0]:
        con.close()
        raise _not_a_store(path)


def _not_a_store(path: Path) -> StoreError:
    return StoreError(
        f"{path} is not a DuckDB store (DuckDB reads it as a data file); "
        "give the store a path of its own, e.g. cordiale.duckdb"
    )


def init_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table that does not exist yet and record the schema version."""
    for ddl in ALL_DDL:
        con.execute(ddl)
    _add_ingested_files_columns(con)
    rows = con.execute("SELECT value FROM store_meta WHERE key = 'schema_version'").fetchall()
    if not rows:
        con.execute("INSERT INTO store_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])


def _add_ingested_files_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Stores written before ``ingested_files`` recorded each file's content hash, the filter and whether
    each file was read to its end: add the columns. The hash stays NULL for files read before; the filter
    and read-to-end are filled from what the store knows (the run's filter; a truncated or corrupt file
    left a quarantine row saying so)."""
    names = {r[0] for r in con.execute("DESCRIBE ingested_files").fetchall()}
    if "content_hash" not in names:  # earlier files keep NULL: no fingerprint to compare
        con.execute(INGESTED_FILES_ADDED[-1])
    if {"institution_filter", "read_to_end"} <= names:
        return
    for ddl in INGESTED_FILES_ADDED:
        con.execute(ddl)
    con.execute(
        """UPDATE ingested_files f SET institution_filter = coalesce(l.institution_filter, [])
           FROM ingest_log l WHERE l.run_id = f.run_id"""
    )
    con.execute(
        """UPDATE ingested_files f SET read_to_end = NOT EXISTS (
               SELECT 1 FROM quarantine q WHERE q.input_path = f.input_path
               AND (q.reason LIKE 'truncated input%' OR q.reason LIKE 'corrupt input%'))"""
    )


def _open_writer(
    path: Path, wait: float, session_hold: bool = False, part_views: bool = True
) -> duckdb.DuckDBPyConnection:
    con = _connect(path, read_only=False, wait=wait, session_hold=session_hold, part_views=part_views)
    init_schema(con)
    _fold_asked(con, path)
    return con


# --- institutions a user asked about ---------------------------------------------------------------


def asked_dir(path: Path) -> Path:
    """Where ``note_asked`` leaves its records while another process holds the store."""
    return path.with_name(path.name + ".asked")


def note_asked(path: Path, institution_ids: Sequence[str]) -> None:
    """Record that a user asked about these institutions, never waiting for the store: straight into
    ``asked_institutions`` when the store is free, else as a small file the next writer folds in."""
    now = datetime.now(UTC).replace(tzinfo=None)
    try:
        with writer(path, wait=0) as con:
            con.executemany(
                "INSERT INTO asked_institutions VALUES (?, ?)", [[i, now] for i in institution_ids]
            )
        return
    except StoreError:
        pass
    folder = asked_dir(path)
    folder.mkdir(exist_ok=True)
    name = uuid.uuid4().hex
    tmp = folder / f".{name}.tmp"
    tmp.write_text("".join(f"{i}\t{now.isoformat()}\n" for i in institution_ids))
    tmp.rename(folder / f"{name}.tsv")  # appears whole or not at all


def _fold_asked(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    folder = asked_dir(path)
    if not folder.is_dir():
        return
    for file in sorted(folder.glob("*.tsv")):
        rows = [line.split("\t") for line in file.read_text().splitlines() if line]
        con.executemany(
            "INSERT INTO asked_institutions VALUES (?, ?)",
            [[i, datetime.fromisoformat(t)] for i, t in rows],
        )
        file.unlink()
    with suppress(OSError):
        folder.rmdir()


@contextmanager
def writer(path: Path, wait: float = LOCK_WAIT_SECONDS) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection for one unit of work; creates the store (and its folder) if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _open_writer(path, wait)
    try:
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
        if not con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = 'store_meta'").fetchall():
            raise StoreError(
                f"{path} is a DuckDB file but not a cordiale store (it has no store_meta table): "
                "give the store's own path, or ingest into a new one"
            )
        yield con
    finally:
        con.close()


class WriterSession:
    """A writer connection held across several units of work, handed to waiting readers in between.

    ``release`` closes it for a while (the writer has nothing to write, e.g. while a file is parsed):
    readers come and go freely, other writers still wait (``writing_mark``), and the next use of ``con``
    takes the store back."""

    def __init__(
        self,
        path: Path,
        wait: float = LOCK_WAIT_SECONDS,
        handover_seconds: float = 2.0,
        part_views: bool = True,
    ) -> None:
        self.path = path
        self.part_views = part_views
        self.wait = wait
        self.handover_seconds = handover_seconds
        path.parent.mkdir(parents=True, exist_ok=True)
        self._hold: int | None = None  # the locked writing mark while released
        self._con: duckdb.DuckDBPyConnection | None = self._open()

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The writer connection, reopened (waiting for the readers in the store) after ``release``."""
        if self._con is None:
            self._await_readers()
            self._con = self._open()
            self._drop_hold()
        return self._con

    def _await_readers(self) -> None:
        """A reader still waiting (its mark is there) gets in first, for up to ``handover_seconds``: it
        retries with a back-off, so a writer taking the store straight back could starve it."""
        mark = wait_mark(self.path)
        deadline = time.monotonic() + self.handover_seconds
        while mark.exists() and time.monotonic() < deadline:
            time.sleep(0.005)

    def _drop_hold(self) -> None:
        if self._hold is not None:
            os.close(self._hold)  # unlocks
            self._hold = None

    def _open(self) -> duckdb.DuckDBPyConnection:
        con = _open_writer(
            self.path, self.wait, session_hold=self._hold is not None, part_views=self.part_views
        )
        # The parse workers use the other cores; fewer, larger checkpoints cost less CPU in all.
        con.execute(f"SET threads = {int(os.environ.get('CORDIALE_WRITER_THREADS', '1'))}")
        con.execute("SET checkpoint_threshold = '64MB'")
        # Bounded memory, whatever the input size: DuckDB spills to disk beyond this.
        con.execute(f"SET memory_limit = '{memory_limit('CORDIALE_INGEST_MEMORY_LIMIT', '512MB')}'")
        return con

    @property
    def released(self) -> bool:
        return self._con is None

    def readers_waiting(self) -> bool:
        return wait_mark(self.path).exists()

    def release(self) -> None:
        """Close the connection (no transaction may be open) until ``con`` is next used; other writers
        keep waiting meanwhile."""
        if self._con is None:
            return
        fd = os.open(writing_mark(self.path), os.O_RDWR | os.O_CREAT, 0o644)
        try:  # taken before the store is let go: no writer slips in between
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # being probed this instant (or another session's): keep the store
            os.close(fd)
            return
        self._hold = fd
        self._con.close()
        self._con = None

    def yield_to_readers(self) -> None:
        """Between two units of work: if a reader is waiting, close, let it in, reopen."""
        mark = wait_mark(self.path)
        if self._con is None or not mark.exists():
            return  # released: readers are not kept out
        self._con.close()
        self._con = None
        self._await_readers()
        self._con = self._open()

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
        self._drop_hold()

    def __enter__(self) -> WriterSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def require_rows(con: duckdb.DuckDBPyConnection, path: Path, tables: Sequence[str], hint: str) -> None:
    """Raise StoreError (exit 4) when every one of ``tables`` is empty: the store holds nothing to use."""
    for table in tables:
        try:
            if con.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchall():
                return
        except duckdb.CatalogException:  # a DuckDB file without cordiale's tables
            continue
    raise StoreError(f"the store {path} is empty ({', '.join(tables)}): {hint}")


def table_counts(path: Path) -> dict[str, int]:
    """Rows per table (for summaries and checks)."""
    with reader(path) as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {n: int(con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]) for n in sorted(names)}  # type: ignore[index]
