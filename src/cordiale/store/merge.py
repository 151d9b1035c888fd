"""Step 2 of an ingest, in the writing process: one parsed file's staged rows → the store, in one transaction
(a file of new works staged as Parquet is kept as a part instead, ``parts.py``).

Each statement builds one table; the rule throughout: the version of a work with the latest
``updated_date`` wins, ties broken by the later input path (then the later line in one file), so any
ingest order gives the same store. A file with *partial* records (fetched with ``select``), or one that
touches a work whose fields came from several records, is merged field group by field group
(``merge_fields.py``).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from cordiale.errors import InputUnreadableError
from cordiale.sources.works import WORK_COLUMN_KEYS
from cordiale.store import parts
from cordiale.store.merge_fields import merge_by_field, needs_field_merge
from cordiale.store.parse_file import ParsedFile
from cordiale.store.schema import INGESTED_FILES_COLUMNS, PER_WORK_TABLES, ROR_TABLES, WORK_CHILD_TABLES
from cordiale.store.staging import SCHEMAS

_WORK_COLUMNS = ("id", *WORK_COLUMN_KEYS, "input_path", "input_line")


def _register(con: duckdb.DuckDBPyConnection, parsed: ParsedFile) -> list[str]:
    """Expose a parsed file's staging tables as ``src_<table>`` (Arrow IPC or Parquet, or an export's
    Parquet). Returns the Arrow tables registered (the rest are temporary views)."""
    if parsed.input.kind == "cordiale_export":
        return _stage_export(con, parsed.input.path)
    names = []
    for name, path in parsed.tables.items():
        if path.suffix == ".parquet":
            source = parts.sql_literal(str(path))
            con.execute(f"CREATE OR REPLACE TEMP VIEW src_{name} AS SELECT * FROM read_parquet({source})")
            continue
        with pa.memory_map(str(path)) as source:
            table = pa.ipc.open_stream(source).read_all()
        con.register(f"src_{name}", table)
        names.append(f"src_{name}")
    return names


def _stage_export(con: duckdb.DuckDBPyConnection, folder: Path) -> list[str]:
    """Views over a ``cordiale export`` folder shaped like the staging tables (one version per work)."""

    def pq(table: str) -> str:
        return f"read_parquet('{folder / (table + '.parquet')}')"

    con.execute(
        f"CREATE OR REPLACE TEMP VIEW src_works AS SELECT *, []::VARCHAR[] AS _missing FROM {pq('works')}"
    )
    for table in WORK_CHILD_TABLES:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW src_{table} AS SELECT c.*, w.input_line AS _line "
            f"FROM {pq(table)} c JOIN {pq('works')} w ON w.id = c.work_id"
        )
    con.execute(f"CREATE OR REPLACE TEMP VIEW src_institutions AS SELECT * FROM {pq('institutions')}")
    con.execute(
        "CREATE OR REPLACE TEMP VIEW src_quarantine AS "
        "SELECT NULL::BIGINT AS line, NULL AS record_id, NULL AS reason, NULL AS raw WHERE false"
    )
    # Tables that are not per work: add the rows the store lacks.
    for table in ("quarantine", "api_counts", "merged_ids", *ROR_TABLES):
        path = folder / f"{table}.parquet"
        if path.is_file():
            con.execute(f"INSERT INTO {table} SELECT * FROM {pq(table)} EXCEPT SELECT * FROM {table}")
    return []


def merge_parsed(
    con: duckdb.DuckDBPyConnection,
    parsed: ParsedFile,
    run_id: str,
    recorded_filter: list[str] | None = None,
    db_path: Path | None = None,
) -> int:
    """Merge one parsed file into the store (caller holds the transaction). Returns works stored.
    ``recorded_filter``: the institution filter its works were kept under ([]: none). ``db_path``: the
    store's path, where its parts are kept (store/parts.py): a file staged as Parquet whose works are all
    new becomes a part; any other file first dissolves the parts holding its works."""
    registered = _register(con, parsed)
    try:
        path = str(parsed.input.path)
        staged = {t: p for t, p in parsed.tables.items() if t in PER_WORK_TABLES}
        as_part = len(staged) == len(PER_WORK_TABLES) and all(p.suffix == ".parquet" for p in staged.values())
        if db_path is not None and as_part and parts.adoptable(con):
            stored = parts.adopt(con, db_path, staged, path)
        else:
            if db_path is not None:
                parts.dissolve(con, db_path, "SELECT id FROM src_works")
            stored = merge_by_field(con) if needs_field_merge(con) else _merge_whole_records(con)
        _merge_institutions(con)
        con.execute("DELETE FROM quarantine WHERE input_path = ?", [path])
        con.execute(
            "INSERT INTO quarantine SELECT ?, line, record_id, reason, raw FROM src_quarantine", [path]
        )
        _record_file(con, parsed, run_id, int(stored), recorded_filter or [])
        _quarantine_once(con, path, parsed.content_hash)
        return int(stored)
    finally:
        for name in registered:
            con.unregister(name)
        for name in ("works", "institutions", "quarantine", *WORK_CHILD_TABLES):
            if f"src_{name}" not in registered:
                con.execute(f"DROP VIEW IF EXISTS src_{name}")
        con.execute("DROP TABLE IF EXISTS src_part_ids")


def _merge_whole_records(con: duckdb.DuckDBPyConnection) -> int:
    """The usual case, full records only: each staged work wins or loses as a whole."""
    # Each row in `win` is one staged work that beats (or ties, from a later-or-same path) the stored one.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE win AS
        WITH s AS (
            SELECT id, input_line, coalesce(updated_date, '') AS ud, input_path
            FROM src_works
            QUALIFY row_number() OVER (PARTITION BY id ORDER BY coalesce(updated_date, '') DESC,
                                       input_line DESC) = 1
        )
        SELECT s.id, s.input_line, w.id IS NOT NULL AS existed
        FROM s LEFT JOIN works w ON w.id = s.id
        WHERE s.id NOT IN (SELECT id FROM merged_ids)
          AND (w.id IS NULL OR s.ud > coalesce(w.updated_date, '')
               OR (s.ud = coalesce(w.updated_date, '') AND s.input_path >= w.input_path))
        """
    )
    # Works already stored lose their old rows first; a file of new works (the usual case) skips the
    # deletes, whose scans would otherwise grow with the store.
    replacing, stored, staged = con.execute(
        "SELECT count(*) FILTER (existed), count(*), (SELECT count(*) FROM src_works) FROM win"
    ).fetchone()  # type: ignore[misc]
    # When every staged row wins (one version per work, none beaten by the store), rows are copied
    # as they are; otherwise they are joined to `win`.
    winners = "" if stored == staged else "JOIN win w ON w.id = s.{key} AND w.input_line = s.{line}"
    if replacing:
        con.execute("DELETE FROM works WHERE id IN (SELECT id FROM win WHERE existed)")
    con.execute(
        f"INSERT INTO works SELECT {', '.join('s.' + c for c in _WORK_COLUMNS)} FROM src_works s "
        + winners.format(key="id", line="input_line")
    )
    for table in WORK_CHILD_TABLES:
        if replacing:
            con.execute(f"DELETE FROM {table} WHERE work_id IN (SELECT id FROM win WHERE existed)")
        cols = [c for c in SCHEMAS[table].names if c != "_line"]
        col_sql = ", ".join(f"s.{c}" for c in cols)
        con.execute(
            f"INSERT INTO {table} ({', '.join(cols)}) SELECT {col_sql} FROM src_{table} s "
            + winners.format(key="work_id", line="_line")
        )
    return int(stored)


# Which staged description of an institution wins: the latest, then the later path, a full record, then
# the rest of the description (a total order, so the store does not depend on how batches were cut; the
# parse batches apply the same rule on ties, staging._beats). DuckDB sorts NULLs last either way.
INSTITUTION_ORDER = (
    "coalesce(seen_updated_date, '') DESC, seen_input_path DESC, from_entity_record DESC, "
    "lineage::VARCHAR DESC, display_name DESC, ror DESC, country_code DESC, type DESC"
)


def _merge_institutions(con: duckdb.DuckDBPyConnection) -> None:
    # Staged once per id (the compiled parser's files), the descriptions need no ranking (the window's sort
    # on eight keys was most of this merge's cost).
    once = con.execute("SELECT count(*) = count(DISTINCT id) FROM src_institutions").fetchall()[0][0]
    ranked = (
        "SELECT * FROM src_institutions"
        if once
        else f"""SELECT * FROM src_institutions
            QUALIFY row_number() OVER (PARTITION BY id ORDER BY {INSTITUTION_ORDER}) = 1"""
    )
    # Each row in `inst_new` is one institution whose staged description is newer than the stored one.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE inst_new AS
        WITH n AS ({ranked})
        SELECT n.* FROM n LEFT JOIN institutions i ON i.id = n.id
        WHERE i.id IS NULL
           OR coalesce(n.seen_updated_date, '') > coalesce(i.seen_updated_date, '')
           OR (coalesce(n.seen_updated_date, '') = coalesce(i.seen_updated_date, '')
               AND n.seen_input_path >= i.seen_input_path)
        """
    )
    con.execute("DELETE FROM institutions WHERE id IN (SELECT id FROM inst_new)")
    con.execute("INSERT INTO institutions SELECT * FROM inst_new")


def _record_file(
    con: duckdb.DuckDBPyConnection, parsed: ParsedFile, run_id: str, stored: int, recorded_filter: list[str]
) -> None:
    item = parsed.input
    con.execute("DELETE FROM ingested_files WHERE input_path = ?", [str(item.path)])
    con.execute(
        f"INSERT INTO ingested_files ({INGESTED_FILES_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, now(), ?, ?, ?)",
        [
            str(item.path),
            item.size,
            item.mtime,
            run_id,
            parsed.read,
            stored,
            parsed.rejected,
            recorded_filter,
            parsed.cut is None,
            parsed.content_hash,
        ],
    )


def _quarantine_once(con: duckdb.DuckDBPyConnection, path: str, content_hash: str | None) -> None:
    """A renamed (or moved) file is read again under its new path: the quarantine rows of the earlier
    paths that held the same bytes and are no longer on disk go, so its bad records count once."""
    if content_hash is None:
        return
    earlier = con.execute(
        "SELECT input_path FROM ingested_files WHERE content_hash = ? AND input_path <> ?",
        [content_hash, path],
    ).fetchall()
    gone = [[p] for (p,) in earlier if not Path(p).exists()]
    if gone:
        con.executemany("DELETE FROM quarantine WHERE input_path = ?", gone)


def apply_merged_ids(con: duckdb.DuckDBPyConnection, path: Path, db_path: Path | None = None) -> int:
    """Apply one ``merged_ids/works`` CSV: the merged-away ids leave the store and stay out (the parts
    holding them, when ``db_path`` is given, are dissolved first). InputUnreadableError naming the file
    when its header lacks a column."""
    columns = {
        r[0]
        for r in con.execute(
            "DESCRIBE SELECT * FROM read_csv(?, header = true, all_varchar = true)", [str(path)]
        ).fetchall()
    }
    lacking = [c for c in ("id", "merge_into_id", "merge_date") if c not in columns]
    if lacking:
        raise InputUnreadableError(
            f"{path}: merged ids CSV lacks the column(s) {', '.join(lacking)} "
            f"(header read: {', '.join(sorted(columns))}; expected merge_date,id,merge_into_id)"
        )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE merged_in AS
        SELECT DISTINCT regexp_replace(id::VARCHAR, '^https?://openalex.org/', '') AS id,
               regexp_replace(merge_into_id::VARCHAR, '^https?://openalex.org/', '') AS merge_into_id,
               merge_date::VARCHAR AS merge_date
        FROM read_csv(?, header = true, all_varchar = true)
        """,
        [str(path)],
    )
    if db_path is not None:
        parts.dissolve(con, db_path, "SELECT id FROM merged_in")
    con.execute("DELETE FROM merged_ids WHERE id IN (SELECT id FROM merged_in)")
    con.execute("INSERT INTO merged_ids SELECT id, merge_into_id, merge_date FROM merged_in")
    n = con.execute("SELECT count(*) FROM works WHERE id IN (SELECT id FROM merged_in)").fetchone()[0]  # type: ignore[index]
    con.execute("DELETE FROM works WHERE id IN (SELECT id FROM merged_in)")
    for table in (*WORK_CHILD_TABLES, "field_versions"):
        con.execute(f"DELETE FROM {table} WHERE work_id IN (SELECT id FROM merged_in)")
    return int(n)
