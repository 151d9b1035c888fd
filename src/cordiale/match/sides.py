"""Which side of the partnership each author is on, and who already co-authors with whom."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from cordiale.errors import StoreError


@dataclass(frozen=True)
class Side:
    """An author's side: partner 0 (A) or 1 (B), the partner id and their most frequent unit there."""

    author_id: str
    side: int
    partner: str
    unit: str
    works_in_window: int
    last_year: int


def rollup_sql() -> str:
    """SQL for a table (institution_id, partner, k): institutions rolling up (lineage) to partner k."""
    return """
        WITH p AS (SELECT unnest($partners) AS partner, generate_subscripts($partners, 1) - 1 AS k)
        SELECT i.id AS institution_id, p.partner, p.k
        FROM institutions i JOIN p ON list_contains(i.lineage, p.partner)
        UNION SELECT p.partner, p.partner, p.k FROM p
    """


def assign_sides(
    con: duckdb.DuckDBPyConnection,
    partners: Sequence[str],
    window: tuple[int, int],
    require_window: bool = False,
    max_authors_per_work: int | None = None,
) -> dict[str, Side]:
    """Each author of a partner goes to the partner of most of their works in the window (then of most of
    their works up to its end, then of their latest work, then A). With ``require_window`` only authors
    with a partner work in the window are placed."""
    lo, hi = window
    size_sql = "" if max_authors_per_work is None else f" AND w.authors_count <= {int(max_authors_per_work)}"
    rows = con.execute(
        f"""
        WITH roll AS ({rollup_sql()}),
        links AS (
            SELECT DISTINCT a.author_id, a.work_id, ai.institution_id, r.partner, r.k, w.publication_year AS y
            FROM authorships a
            JOIN authorship_institutions ai ON ai.work_id = a.work_id AND ai.position = a.position
            JOIN roll r ON r.institution_id = ai.institution_id
            JOIN works w ON w.id = a.work_id
            WHERE a.author_id IS NOT NULL AND w.publication_year <= $hi{size_sql}
        ),
        per_partner AS (
            SELECT author_id, partner, k,
                   count(DISTINCT work_id) FILTER (WHERE y >= $lo) AS n_window,
                   count(DISTINCT work_id) AS n_all,
                   max(y) AS last_year
            FROM links GROUP BY ALL
        ),
        chosen AS (
            SELECT *, row_number() OVER (
                PARTITION BY author_id ORDER BY n_window DESC, n_all DESC, last_year DESC, k) AS rank
            FROM per_partner
        ),
        units AS (
            SELECT author_id, partner, institution_id, count(DISTINCT work_id) AS n, max(y) AS last
            FROM links GROUP BY ALL
        )
        SELECT c.author_id, c.k, c.partner,
               arg_max(u.institution_id, (u.n, u.last)) AS unit, c.n_window, c.last_year
        FROM chosen c JOIN units u ON u.author_id = c.author_id AND u.partner = c.partner
        WHERE c.rank = 1 {"AND c.n_window > 0" if require_window else ""}
        GROUP BY ALL
        ORDER BY c.author_id
        """,
        {"partners": list(partners), "lo": lo, "hi": hi},
    ).fetchall()
    return {r[0]: Side(r[0], int(r[1]), r[2], r[3], int(r[4]), int(r[5])) for r in rows}


def coauthor_pairs(
    con: duckdb.DuckDBPyConnection,
    a_authors: Sequence[str],
    b_authors: Sequence[str],
    before: int | None = None,
) -> set[tuple[str, str]]:
    """(a, b) pairs with at least one joint work in the store (published before ``before`` if given)."""
    year_sql = "" if before is None else f" AND w.publication_year < {int(before)}"
    rows = con.execute(
        f"""
        SELECT DISTINCT x.author_id, y.author_id
        FROM authorships x
        JOIN authorships y ON y.work_id = x.work_id
        JOIN works w ON w.id = x.work_id
        WHERE x.author_id IN (SELECT unnest($a)) AND y.author_id IN (SELECT unnest($b)){year_sql}
        """,
        {"a": list(a_authors), "b": list(b_authors)},
    ).fetchall()
    return {(r[0], r[1]) for r in rows}


def partner_has_works(con: duckdb.DuckDBPyConnection, partner: str) -> bool:
    row = con.execute(
        """
        SELECT 1 FROM authorship_institutions ai LEFT JOIN institutions i ON i.id = ai.institution_id
        WHERE ai.institution_id = $p OR list_contains(i.lineage, $p) LIMIT 1
        """,
        {"p": partner},
    ).fetchone()
    return row is not None


def require_partner_works(con: duckdb.DuckDBPyConnection, store: str, partners: Sequence[str]) -> None:
    for p in partners:
        if not partner_has_works(con, p):
            raise StoreError(
                f"the store {store} holds no works of {p}: ingest its works (`cordiale ingest FILES…`) "
                f"or fetch the pair (`cordiale pair {partners[0]} {partners[1]} --fetch-all`)"
            )
