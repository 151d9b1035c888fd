"""Parts: per-work rows kept as the Parquet files a parse worker wrote, beside the DuckDB database.

By default (``cordiale ingest --no-parts`` or ``CORDIALE_INGEST_PARTS=0`` turn it off) a parse worker
writes its file's per-work tables as Parquet. When the file holds at least ``CORDIALE_PART_MIN_WORKS``
works and every one is new to the store (a whole record, one version, not merged away), the writing
process does not insert those rows: it moves the files into ``<store>.parts/<part id>/`` and records the
part (``store_parts``, and each work id in ``part_works``) in the file's transaction. Each connection
that reads the store sees ``works`` and its child tables as views: the database's own rows, then every
recorded part's.

A work lives in one place only. A file that touches a work held by a part (a newer version, a re-read
file, a partial record, a merged id) first *dissolves* that part: its rows are inserted into the database
and the part is forgotten, in the same transaction; the usual merge then runs unchanged. Folders no part
record names (a dissolved part, or one left by a crash before its commit) are deleted when the next
ingest starts, so a reader that opened the store before a dissolve still finds its files.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import duckdb

from cordiale.errors import StoreError, UsageError
from cordiale.store.schema import PER_WORK_TABLES

PARTS_ENV = "CORDIALE_INGEST_PARTS"
MIN_WORKS_ENV = "CORDIALE_PART_MIN_WORKS"
# A smaller file merges row by row: every part costs each connection about 0.3 ms to open and each query
# that reads every work about 0.25 ms (500 parts of 12 works: 176 against 36 ms to open, 127 against 1 ms to
# count the works), so parts are for files of many works, as a snapshot's are.
MIN_WORKS = 5000


def min_works() -> int:
    """The fewest works a file needs to become a part (``CORDIALE_PART_MIN_WORKS``, default 5,000)."""
    value = os.environ.get(MIN_WORKS_ENV, str(MIN_WORKS)).strip()
    if not value.isdigit():
        raise UsageError(f"{MIN_WORKS_ENV}={value!r} is not a whole number of works")
    return int(value)


def parts_wanted(flag: bool | None = None) -> bool:
    """Whether an ingest keeps new works' rows as parts: ``--parts``/``--no-parts``, else the environment."""
    if flag is not None:
        return flag
    return os.environ.get(PARTS_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}


def parts_dir(db_path: Path) -> Path:
    """The folder of a store's parts: ``<store>.parts`` beside the database file."""
    return db_path.with_name(db_path.name + ".parts")


def _catalog(con: duckdb.DuckDBPyConnection) -> str:
    name = con.execute("SELECT current_database()").fetchall()[0][0]
    return '"' + str(name).replace('"', '""') + '"'


def sql_literal(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _has_parts_table(con: duckdb.DuckDBPyConnection) -> bool:
    sql = "SELECT 1 FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = 'store_parts'"
    return bool(con.execute(sql).fetchall())


def recorded_parts(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The ids of the parts the store holds (none in a store written before parts existed)."""
    if not _has_parts_table(con):
        return []
    return [r[0] for r in con.execute("SELECT part_id FROM store_parts ORDER BY part_id").fetchall()]


def columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    """(name, type) of each per-work table's columns in the database, in order."""
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'main' AND table_name IN "
        f"({', '.join(sql_literal(t) for t in PER_WORK_TABLES)}) ORDER BY table_name, column_index"
    ).fetchall()
    out: dict[str, list[tuple[str, str]]] = {t: [] for t in PER_WORK_TABLES}
    for table, name, kind in rows:
        out[str(table)].append((str(name), str(kind)))
    return out


def _select_part_rows(table_columns: list[tuple[str, str]], files: list[Path]) -> str:
    """SQL reading a table's rows from part files, with the database table's columns and types."""
    cols = ", ".join(f'"{n}"::{t} AS "{n}"' for n, t in table_columns)
    listing = ", ".join(sql_literal(str(f)) for f in files)
    return f"SELECT {cols} FROM read_parquet([{listing}])"


def create_views(con: duckdb.DuckDBPyConnection, db_path: Path) -> None:
    """Show each per-work table as its database rows plus its parts' rows (temporary views, this
    connection only). Without parts, the tables are read as they are."""
    parts = recorded_parts(con)
    if not parts:
        return
    folder = parts_dir(db_path)
    missing = [folder / p for p in parts if not (folder / p).is_dir()]
    if missing:
        raise StoreError(
            f"the store {db_path} records {len(parts)} part(s) kept in {folder}, but {missing[0]} is missing"
            f"{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}: move the database and its "
            "'.parts' folder together"
        )
    catalog = _catalog(con)
    table_columns = columns(con)
    for table in PER_WORK_TABLES:
        files = [folder / p / f"{table}.parquet" for p in parts]
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT * FROM {catalog}.main.{table} "
            f"UNION ALL {_select_part_rows(table_columns[table], files)}"
        )


def adoptable(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the staged file (``src_works``) holds only whole records of new works, each once, and at
    least ``min_works()`` of them. Its ids are read once, into ``src_part_ids`` (``adopt`` reuses them)."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE src_part_ids AS SELECT id, len(_missing) > 0 AS partial FROM src_works"
    )
    row = con.execute(
        f"""
        SELECT count(*) = 0 OR (
            count(*) >= {min_works()}
            AND count(*) = count(DISTINCT id)
            AND count(*) FILTER (WHERE partial) = 0
            AND NOT EXISTS (SELECT 1 FROM src_part_ids s JOIN merged_ids m ON m.id = s.id)
            AND NOT EXISTS (SELECT 1 FROM src_part_ids s JOIN works w ON w.id = s.id)
            AND NOT EXISTS (SELECT 1 FROM src_part_ids s JOIN part_works p ON p.id = s.id))
        FROM src_part_ids
        """
    ).fetchall()
    return bool(row[0][0])


def adopt(con: duckdb.DuckDBPyConnection, db_path: Path, staged: dict[str, Path], input_path: str) -> int:
    """Record the staged per-work Parquet files as a new part (caller holds the transaction; ``adoptable``
    said yes) and move them into the store's parts folder. Returns the works it holds."""
    n = int(con.execute("SELECT count(*) FROM src_part_ids").fetchall()[0][0])
    if n == 0:
        return 0
    part_id = uuid.uuid4().hex
    con.execute("INSERT INTO part_works SELECT ?, id FROM src_part_ids", [part_id])
    con.execute("INSERT INTO store_parts VALUES (?, ?, ?, now())", [part_id, input_path, n])
    target = parts_dir(db_path) / part_id
    target.mkdir(parents=True)
    for table in PER_WORK_TABLES:
        os.replace(staged[table], target / f"{table}.parquet")
    return n


def dissolve(con: duckdb.DuckDBPyConnection, db_path: Path, ids_sql: str) -> int:
    """Move the rows of every part holding one of the works ``ids_sql`` selects into the database, and
    forget those parts (caller holds the transaction; their folders go at the next ingest's start).
    Returns the parts dissolved."""
    if not recorded_parts(con):
        return 0
    touched = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT part_id FROM part_works WHERE id IN ({ids_sql}) ORDER BY part_id"
        ).fetchall()
    ]
    if not touched:
        return 0
    folder = parts_dir(db_path)
    catalog = _catalog(con)
    table_columns = columns(con)
    for part_id in touched:
        for table in PER_WORK_TABLES:
            names = ", ".join(f'"{n}"' for n, _ in table_columns[table])
            source = _select_part_rows(table_columns[table], [folder / part_id / f"{table}.parquet"])
            con.execute(f"INSERT INTO {catalog}.main.{table} ({names}) {source}")
        con.execute("DELETE FROM part_works WHERE part_id = ?", [part_id])
        con.execute("DELETE FROM store_parts WHERE part_id = ?", [part_id])
    return len(touched)


def copy_store(source: Path, target: Path) -> None:
    """Copy a closed store and its parts folder (a copy of the database file alone lacks its parts)."""
    shutil.copyfile(source, target)
    if parts_dir(source).is_dir():
        shutil.copytree(parts_dir(source), parts_dir(target))


def move_store(source: Path, target: Path) -> None:
    """Rename a closed store and its parts folder together."""
    source.rename(target)
    if parts_dir(source).exists():
        parts_dir(source).rename(parts_dir(target))


def collect_garbage(con: duckdb.DuckDBPyConnection, db_path: Path) -> int:
    """Delete the folders under the parts folder that no recorded part names. Returns how many went."""
    folder = parts_dir(db_path)
    if not folder.is_dir():
        return 0
    kept = set(recorded_parts(con))
    gone = 0
    for child in folder.iterdir():
        if child.name not in kept:
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
            gone += 1
    return gone
