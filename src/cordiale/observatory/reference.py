"""Store-wide reference tables, built once, so that a partnership query only filters and aggregates.

Nothing here depends on the partners asked about: each link's author-level share, what every linked
institution rolls up to under each rule, each (unit, link) pair under each rule (sorted by unit, so that
reading one partner's rows skips the rest of the file), each work's primary-topic classes and the
reference set's class counts. ``cordiale observe prepare`` builds them in the store (``obs_ref_*``) and
records the store state they were built from (``obs_ref_state``); a reader uses them only when that state
is the store's current one, so a new ingest, a ROR load or any change to the rows they come from makes
them stale and the query falls back to the raw tables until the next ``prepare``.

The SQL is the pipeline's own (``pipeline.link_share_sql``, ``_rollup``, ``_levels``), run over the whole
store instead of one query's scope: one definition, two places it runs. Spark builds the same tables in
its session from the Parquet export (``SparkEngine.prepare``).

Curation changes links and author ids per query, so a query with a curation file reads the raw tables.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from cordiale.observatory.families import CITES_SQL, SELFCITE_SQL, joint_institutions_sql
from cordiale.observatory.pipeline import (
    LEVELS,
    UNIT_WORKS_SQL,
    Step,
    _levels,
    _members,
    _rollup,
    _scope,
    cross_authors_sql,
    cross_steps,
    link_share_sql,
    names_sql,
    perwork_sql,
    prepared_ref_classes_sql,
)
from cordiale.observatory.query import RULES, ObsQuery, lit_list, values_table
from cordiale.observatory.units import list_inputs, unit_steps

STATE_TABLE = "obs_ref_state"


@dataclass(frozen=True)
class RefStep:
    """One reference table: its SQL and, for the DuckDB store, the columns it is stored sorted by."""

    name: str
    sql: str
    sort: str = ""


def reference_steps() -> list[RefStep]:
    """The store-wide steps, in order (each reads the store's tables or the steps before it)."""
    steps = [
        # Each row in obs_ref_works is one work: the columns a query's scope reads, and how many of its
        # authorships have at least one institution (n_linked; the rest is the unaffiliated share).
        RefStep(
            "obs_ref_works",
            """
            SELECT w.id, w.publication_year, w.type, w.is_authors_truncated, w.authors_count, w.oa_status,
                   w.fwci, w.citation_normalized_percentile, w.is_in_top_10_percent, w.cited_by_count,
                   w.primary_topic_id, w.is_retracted, CAST(COALESCE(n.n_linked, 0) AS BIGINT) AS n_linked
            FROM works w LEFT JOIN (
                SELECT work_id, COUNT(DISTINCT position) AS n_linked
                FROM authorship_institutions WHERE position >= 0 GROUP BY work_id
            ) n ON n.work_id = w.id""",
        ),
        # Each row in obs_ref_links is one (authorship, direct institution) link of any work, with its
        # author-level share and the authorship's author id.
        RefStep(
            "obs_ref_links",
            f"""
            SELECT x.work_id, x.position, x.institution_id, x.share, a.author_id
            FROM ({link_share_sql("authorship_institutions", "works", "id")}) x
            LEFT JOIN authorships a ON a.work_id = x.work_id AND a.position = x.position""",
        ),
    ]
    for rule in RULES:
        steps += [
            # Each row in obs_ref_rollup_<rule> is one (linked institution, unit it counts for).
            RefStep(f"obs_ref_rollup_{rule}", _rollup(rule, "obs_ref_links")),
            # Each row in obs_ref_units_<rule> is one (link, unit) pair, sorted by unit.
            RefStep(
                f"obs_ref_units_{rule}",
                f"""
                SELECT DISTINCT r.unit, l.work_id, l.position, l.institution_id, l.share, l.author_id
                FROM obs_ref_links l JOIN obs_ref_rollup_{rule} r ON r.institution_id = l.institution_id""",
                sort="unit, work_id",
            ),
        ]
    level_cols = ", ".join(f"t.{lv}_id, t.{lv}_name" for lv in LEVELS)
    steps += [
        # Each row in obs_ref_primary is one work's primary topic with its four levels.
        RefStep(
            "obs_ref_primary",
            f"SELECT t.work_id, {level_cols} FROM work_topics t WHERE t.is_primary",
            sort="work_id",
        ),
        # Each row in obs_ref_class_counts is one (type, year, retracted, level, class): works in it.
        RefStep(
            "obs_ref_class_counts",
            f"""
            WITH lv AS ({_levels("(SELECT id AS work_id FROM works)")})
            SELECT w.type, w.publication_year AS year, COALESCE(w.is_retracted, FALSE) AS retracted,
                   lv.level, lv.class_id, MAX(lv.class_name) AS class_name, CAST(COUNT(*) AS BIGINT) AS n
            FROM lv JOIN works w ON w.id = lv.work_id
            WHERE w.publication_year IS NOT NULL
            GROUP BY w.type, w.publication_year, COALESCE(w.is_retracted, FALSE), lv.level, lv.class_id""",
        ),
        # Each row in obs_ref_cites is one cited work with its citations from store works, self-citations
        # excluded (the citation counts of the impact family, made once).
        RefStep("obs_ref_cites", f"WITH selfcite AS ({SELFCITE_SQL})\n{CITES_SQL}"),
        # Each row in obs_ref_authors is one author id with a display name.
        RefStep(
            "obs_ref_authors",
            "SELECT author_id, MAX(author_name) AS author_name FROM authorships "
            "WHERE author_id IS NOT NULL GROUP BY author_id",
        ),
    ]
    return steps


def pair_steps() -> list[RefStep]:
    """Store-only tables for the foundation's pair view (``indicators.pair.compute_pair``).

    Each row in obs_ref_work_keys is one work with a dense integer key; obs_ref_years holds the store's
    publication years. Each row in obs_ref_pair_<rule> is
    one (unit, work) with the unit's weight on the work (capped at 1) and the work's scope columns, keyed
    by the integer and sorted by unit and key: a pair's summary reads the two partners' ranges and joins
    them on integers, never reading the whole store or comparing id strings. Built from the reference
    tables above, so the weights are the observatory's; Spark does not run the pair view and does not
    build them."""
    steps = [
        RefStep(
            "obs_ref_work_keys", "SELECT id AS work_id, row_number() OVER (ORDER BY id) AS wk FROM works"
        ),
        # Each row in obs_ref_years is one publication year of the store's works (the pair view has a row
        # for each, partners' works or not).
        RefStep(
            "obs_ref_years",
            "SELECT DISTINCT publication_year AS year FROM works WHERE publication_year IS NOT NULL",
            sort="year",
        ),
    ]
    # obs_ref_pair_<rule> for every rule: the pair view reads direct and lineage; the observatory's fast
    # path (units.py) every rule, with the columns after unaffiliated_share: OA status, OpenAlex's
    # impact values, the primary topic's four levels and the store's own citation values.
    steps.append(
        RefStep(
            "obs_ref_ncs",
            dict((n, s) for n, s, _ in unit_steps())["obs_ref_ncs"],
        )
    )
    # The integer keys and per-work lists that obs_ref_pair_<rule> carries for the fast path.
    steps += [RefStep(n, s, sort) for n, s, sort in list_inputs()]
    level_cols = ", ".join(f"t.{lv}_id" for lv in LEVELS)
    for rule in RULES:
        steps.append(
            RefStep(
                f"obs_ref_pair_{rule}",
                f"""
                SELECT x.unit, k.wk, x.w, w.publication_year AS year, w.type,
                       COALESCE(w.is_retracted, FALSE) AS retracted,
                       COALESCE(w.is_authors_truncated, FALSE) AS trunc,
                       CAST(w.authors_count - w.n_linked AS DOUBLE) / w.authors_count AS unaffiliated_share,
                       w.oa_status, w.fwci, w.is_in_top_10_percent AS top10_openalex,
                       t.work_id IS NOT NULL AS has_primary, {level_cols},
                       v.ncs_x, v.top10_x, v.ncs_r, v.top10_r,
                       k.l_links, k.l_insts, k.l_fund, k.l_sdgs
                FROM (
                    SELECT unit, work_id, LEAST(CAST(1 AS DOUBLE), SUM(share)) AS w
                    FROM obs_ref_units_{rule} GROUP BY unit, work_id
                ) x
                JOIN obs_ref_works w ON w.id = x.work_id
                JOIN obs_ref_work_lists k ON k.work_id = x.work_id
                LEFT JOIN obs_ref_primary t ON t.work_id = x.work_id
                LEFT JOIN obs_ref_ncs v ON v.work_id = x.work_id
                WHERE w.publication_year IS NOT NULL""",
                sort="unit, wk",
            )
        )
    steps += [RefStep(n, s, sort) for n, s, sort in unit_steps() if n != "obs_ref_ncs"]
    return steps


def all_steps() -> list[RefStep]:
    """What ``prepare`` builds in the DuckDB store: the reference tables, then the pair view's."""
    return reference_steps() + pair_steps()


def reference_checks() -> list[tuple[str, str]]:
    """(what, SQL counting violations) over the whole store, run after ``prepare``: each must be zero.

    A link stored twice would also break this sum, so it guards the links' uniqueness as well."""
    return [
        (
            "direct weights plus the unaffiliated share differ from 1",
            """SELECT COUNT(*) FROM (
                SELECT w.id, CAST(w.authors_count - w.n_linked AS DOUBLE) / w.authors_count
                       + COALESCE(SUM(l.share), 0) AS total
                FROM obs_ref_works w LEFT JOIN obs_ref_links l ON l.work_id = w.id
                WHERE w.authors_count > 0
                GROUP BY w.id, w.authors_count, w.n_linked
            ) t WHERE ABS(t.total - 1) > 1e-9""",
        ),
    ] + [
        (
            f"{step.name}: a (unit, work) twice or a weight outside (0, 1]",
            f"""SELECT (COUNT(*) - COUNT(DISTINCT (unit, wk)))
                       + COUNT(*) FILTER (WHERE w <= 0 OR w > 1) FROM {step.name}""",
        )
        for step in pair_steps()
        if step.name.startswith("obs_ref_pair_")
    ]


def prepared_steps(q: ObsQuery) -> list[Step]:
    """The per-query steps on prepared reference tables (no curation): the same tables as
    ``pipeline.per_work_steps`` builds, with o_units, o_links and o_levels read for the partners' works
    (o_links: the joint works only, the only ones its readers ask about)."""
    partners = values_table(
        [("partner", "VARCHAR"), ("pidx", "INTEGER")], [(p, i) for i, p in enumerate(q.partners)]
    )
    levels = "\nUNION ALL\n".join(
        f"SELECT t.work_id, '{lv}' AS level, t.{lv}_id AS class_id, t.{lv}_name AS class_name FROM t"
        for lv in LEVELS
    )
    return [
        Step("o_partners", partners),
        # a view: the store's works in scope, read by the steps below, never stored again
        Step("o_scope", _scope(q, "obs_ref_works", ", w.n_linked AS n_linked"), view=True),
        Step(
            "o_units",
            f"""
            SELECT u.work_id, u.position, u.institution_id, u.share, u.unit, u.author_id
            FROM obs_ref_units_{q.rule} u JOIN o_scope s ON s.work_id = u.work_id
            WHERE u.unit IN ({lit_list(q.partners)})""",
        ),
        Step(
            "o_wp",
            """
            SELECT u.work_id, p.pidx, p.partner, LEAST(CAST(1 AS DOUBLE), SUM(u.share)) AS w
            FROM o_units u JOIN o_partners p ON p.partner = u.unit
            GROUP BY u.work_id, p.pidx, p.partner""",
        ),
        Step("o_perwork", perwork_sql(q, prepared=True)),
        Step(
            "o_links",
            """
            SELECT l.work_id, l.position, l.institution_id, l.share
            FROM obs_ref_links l JOIN o_perwork p ON p.work_id = l.work_id AND p.n_partners >= 2""",
        ),
        Step("o_rollup", f"SELECT institution_id, unit FROM obs_ref_rollup_{q.rule}"),
        Step("o_members", _members(q)),
        Step("o_years", "SELECT DISTINCT year FROM o_scope"),
        Step(
            "o_levels",
            "WITH t AS (SELECT t.* FROM obs_ref_primary t JOIN o_perwork p ON p.work_id = t.work_id)\n"
            + levels,
            view=True,  # read by the fields family only
        ),
        Step("o_ref_classes", prepared_ref_classes_sql(q)),
        *cross_steps(cross_authors_sql(prepared=True), len(q.partners)),
        Step("o_unit_works", UNIT_WORKS_SQL),
        Step("o_names", names_sql("obs_ref_authors")),
        Step("o_changed", "SELECT work_id FROM o_scope WHERE 1 = 0"),
        Step("o_inst", joint_institutions_sql(joint_only=True)),  # o_links holds joint works only
    ]


# --- the store state the tables were built from ----------------------------------------------------

_COUNTED = (
    "works",
    "authorships",
    "authorship_institutions",
    "work_topics",
    "institutions",
    "ror_relations",
    "ror_organizations",
    "work_sdgs",  # read by the fast path's SDG tables
    "work_funding",  # and funding statements
    "referenced_works",  # the store's own citation counts and values
)


def _definition_hash() -> str:
    """Changes when the reference SQL changes (a new cordiale version rebuilds what it must)."""
    text = "\n".join(f"{s.name}\n{s.sql}\n{s.sort}" for s in all_steps())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def store_state(con: duckdb.DuckDBPyConnection) -> str:
    """A fingerprint of what the reference tables are built from: every ingest run, the row counts of
    the tables they read, the latest record date, hashes of the (small) institution and ROR tables, and
    the reference SQL itself. Any ingest writes a new ingest_log row, so it changes the fingerprint."""
    parts = [_definition_hash()]
    parts.append(
        str(
            con.execute(
                "SELECT COUNT(*), CAST(MAX(finished_at) AS VARCHAR), CAST(MAX(started_at) AS VARCHAR) "
                "FROM ingest_log"
            ).fetchall()
        )
    )
    for table in _COUNTED:
        parts.append(f"{table}:{con.execute(f'SELECT COUNT(*) FROM {table}').fetchall()[0][0]}")
    parts.append(str(con.execute("SELECT CAST(MAX(updated_date) AS VARCHAR) FROM works").fetchall()))
    parts.append(
        str(
            con.execute(
                "SELECT bit_xor(hash(id, ror, lineage, country_code, type)) FROM institutions"
            ).fetchall()
        )
    )
    parts.append(
        str(con.execute("SELECT bit_xor(hash(ror_id, related_ror_id, type)) FROM ror_relations").fetchall())
    )
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def recorded_state(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """What ``obs_ref_state`` says (empty when the store was never prepared)."""
    exists = con.execute(
        "SELECT COUNT(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary", [STATE_TABLE]
    ).fetchall()[0][0]
    if not exists:
        return {}
    return {str(k): str(v) for k, v in con.execute(f"SELECT key, value FROM {STATE_TABLE}").fetchall()}


def is_fresh(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the reference tables exist and were built from the store's current state."""
    state = recorded_state(con)
    return bool(state) and state.get("store_state") == store_state(con)


@dataclass(frozen=True)
class PrepareReport:
    built: bool  # False: already fresh, nothing done
    seconds: float
    tables: dict[str, int]  # rows per reference table
    store_state: str


def prepare(
    db_path: Path, force: bool = False, on_step: Callable[[str, int, int], None] | None = None
) -> PrepareReport:
    """Build the reference tables in the store unless they are fresh (idempotent); check their
    invariants; record the state they were built from. Runs as one writer transaction.
    ``on_step(name, done, total)`` is called before each table (for a progress bar)."""
    from cordiale.errors import StoreError
    from cordiale.store.connection import writer

    if not db_path.is_file():
        raise StoreError(f"no store at {db_path}: run `cordiale ingest FILES…` first")
    with writer(db_path) as con:
        if not con.execute("SELECT COUNT(*) FROM works").fetchall()[0][0]:
            raise StoreError(f"the store {db_path} holds no works: run `cordiale ingest FILES…` first")
        state = store_state(con)
        if not force and recorded_state(con).get("store_state") == state:
            tables = {
                s.name: int(con.execute(f"SELECT COUNT(*) FROM {s.name}").fetchall()[0][0])
                for s in all_steps()
            }
            return PrepareReport(False, 0.0, tables, state)
        t0 = time.perf_counter()
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"DROP TABLE IF EXISTS {STATE_TABLE}")
            tables = {}
            steps = all_steps()
            for done, step in enumerate(steps):
                if on_step is not None:
                    on_step(step.name, done, len(steps))
                order = f" ORDER BY {step.sort}" if step.sort else ""
                con.execute(f"CREATE OR REPLACE TABLE {step.name} AS SELECT * FROM ({step.sql}) s{order}")
                tables[step.name] = int(con.execute(f"SELECT COUNT(*) FROM {step.name}").fetchall()[0][0])
            for what, sql in reference_checks():
                bad = int(con.execute(sql).fetchall()[0][0])
                if bad:
                    raise AssertionError(f"reference table invariant broken: {what} ({bad} rows)")
            seconds = time.perf_counter() - t0
            con.execute(f"CREATE TABLE {STATE_TABLE} (key VARCHAR, value VARCHAR)")
            con.executemany(
                f"INSERT INTO {STATE_TABLE} VALUES (?, ?)",
                [
                    ["store_state", state],
                    ["built_at", datetime.now(UTC).isoformat()],
                    ["build_seconds", f"{seconds:.3f}"],
                ],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("CHECKPOINT")
    return PrepareReport(True, seconds, tables, state)
