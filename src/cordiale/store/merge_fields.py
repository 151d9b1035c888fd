"""Per-field versioning: the merge used when a file holds partial records, or touches a work that has them.

A *field group* is the set of top-level record keys that one stored column, or one child table, comes from
(``title`` and ``display_name`` give ``works.title``; ``authorships`` gives ``works.authors_count``, the
``authorships`` and the ``authorship_institutions`` rows). For each work and each group the version that
wins is the one with the latest ``updated_date``, ties to the later input path and then the later line,
among the stored version and every staged record that carries the group. So a newer partial record
ingested *before* an older full record keeps the fields it carries, and the full record fills the others:
any ingest order gives the same store.

``field_versions`` remembers, for works whose fields came from more than one record, the version of
each group; a work whose every group came from one full record has no rows there, and its version is the
``works`` row's own (``updated_date``, ``input_path``, ``input_line``). The common case, a file of full
records none of which has such rows, never comes here (see ``merge.py``).
"""

from __future__ import annotations

import duckdb

from cordiale.sources.works import CHILD_TABLE_KEYS, WORK_COLUMN_KEYS
from cordiale.store.schema import WORK_CHILD_TABLES
from cordiale.store.staging import SCHEMAS

GROUPS: tuple[tuple[str, ...], ...] = tuple(
    dict.fromkeys((*WORK_COLUMN_KEYS.values(), *CHILD_TABLE_KEYS.values()))
)
_NAMES = {keys: "+".join(keys) for keys in GROUPS}


def _groups_sql() -> str:
    """The groups as an inline table ``(grp, keys)``."""
    rows = ", ".join(f"('{_NAMES[k]}', [{', '.join(repr(x) for x in k)}])" for k in GROUPS)
    return f"(VALUES {rows}) g(grp, keys)"


def needs_field_merge(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the staged file holds a partial record or a work whose fields have separate versions."""
    partial = con.execute("SELECT count(*) FROM src_works WHERE len(_missing) > 0").fetchone()
    if partial is not None and partial[0]:
        return True
    any_rows = con.execute("SELECT count(*) FROM (SELECT 1 FROM field_versions LIMIT 1)").fetchone()
    if any_rows is None or not any_rows[0]:
        return False
    mixed = con.execute(
        "SELECT count(*) FROM field_versions WHERE work_id IN (SELECT id FROM src_works)"
    ).fetchone()
    return bool(mixed and mixed[0])


def merge_by_field(con: duckdb.DuckDBPyConnection) -> int:
    """Merge the staged file group by group (caller holds the transaction). Returns works written."""
    # One row per (staged record, group it carries).
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fv_staged AS
        SELECT s.id, g.grp, coalesce(s.updated_date, '') AS ud, s.input_path AS path, s.input_line AS line
        FROM src_works s, {_groups_sql()}
        WHERE s.id NOT IN (SELECT id FROM merged_ids) AND NOT list_has_all(s._missing, g.keys)
        """
    )
    # One row per (stored work, group): its own rows, or the works row's version for every group.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fv_stored AS
        SELECT f.work_id AS id, f.grp, f.updated_date AS ud, f.input_path AS path, f.input_line AS line
        FROM field_versions f WHERE f.work_id IN (SELECT id FROM fv_staged)
        UNION ALL
        SELECT w.id, g.grp, coalesce(w.updated_date, ''), w.input_path, w.input_line
        FROM works w, {_groups_sql()}
        WHERE w.id IN (SELECT id FROM fv_staged)
          AND w.id NOT IN (SELECT work_id FROM field_versions)
        """
    )
    # One row per (work, group): the winning version; staged beats stored on an exact tie (re-ingest).
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fv_win AS
        SELECT * FROM (SELECT *, true AS staged FROM fv_staged
                       UNION ALL SELECT *, false AS staged FROM fv_stored)
        QUALIFY row_number() OVER (PARTITION BY id, grp ORDER BY ud DESC, path DESC, staged DESC,
                                   line DESC) = 1
        """
    )
    # One row per work that gains at least one group: the staged line each group comes from (or NULL).
    picks = ", ".join(
        f"max(line) FILTER (WHERE staged AND grp = '{_NAMES[k]}') AS g{i}" for i, k in enumerate(GROUPS)
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE fv_pick AS SELECT id, {picks} FROM fv_win GROUP BY id "
        "HAVING bool_or(staged)"
    )
    written = con.execute("SELECT count(*) FROM fv_pick").fetchone()
    n = int(written[0]) if written else 0
    if not n:
        return 0
    _write_works(con)
    _write_children(con)
    _write_versions(con)
    return n


def _write_works(con: duckdb.DuckDBPyConnection) -> None:
    group_index = {k: i for i, k in enumerate(GROUPS)}
    cols = ["p.id"]
    for col, keys in WORK_COLUMN_KEYS.items():
        i = group_index[keys]
        cols.append(f"CASE WHEN p.g{i} IS NOT NULL THEN s{i}.{col} ELSE o.{col} END")
    cols += ["u.path", "u.line"]  # provenance: the version of updated_date, the work's latest
    joins = " ".join(
        f"LEFT JOIN src_works s{i} ON s{i}.id = p.id AND s{i}.input_line = p.g{i}"
        for i in sorted({group_index[k] for k in WORK_COLUMN_KEYS.values()})
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE fv_old AS SELECT * FROM works WHERE id IN (SELECT id FROM fv_pick)"
    )
    con.execute("DELETE FROM works WHERE id IN (SELECT id FROM fv_pick)")
    con.execute(
        f"INSERT INTO works SELECT {', '.join(cols)} FROM fv_pick p {joins} "
        "LEFT JOIN fv_old o ON o.id = p.id "
        "JOIN fv_win u ON u.id = p.id AND u.grp = 'updated_date'"
    )


def _write_children(con: duckdb.DuckDBPyConnection) -> None:
    for table in WORK_CHILD_TABLES:
        i = GROUPS.index(CHILD_TABLE_KEYS[table])
        con.execute(f"DELETE FROM {table} WHERE work_id IN (SELECT id FROM fv_pick WHERE g{i} IS NOT NULL)")
        cols = [c for c in SCHEMAS[table].names if c != "_line"]
        con.execute(
            f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join('s.' + c for c in cols)} "
            f"FROM src_{table} s JOIN fv_pick p ON p.id = s.work_id AND p.g{i} = s._line"
        )


def _write_versions(con: duckdb.DuckDBPyConnection) -> None:
    """Keep per-group versions only for works whose groups came from more than one record."""
    con.execute("DELETE FROM field_versions WHERE work_id IN (SELECT id FROM fv_pick)")
    con.execute(
        f"""
        INSERT INTO field_versions
        SELECT id, grp, ud, path, line FROM fv_win
        WHERE id IN (SELECT id FROM fv_pick)
          AND id IN (SELECT id FROM fv_win GROUP BY id
                     HAVING count(DISTINCT (ud, path, line)) > 1 OR count(*) < {len(GROUPS)})
        """
    )
