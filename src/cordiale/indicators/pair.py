"""The pair view: joint works of two partners per year, full and fractional, under one roll-up rule.

A linear pipeline; each step builds one temporary table and says what a row is.

Counting (see the README's methods section):
- full: a work counts 1 for each partner on it; it is joint when, after the rule's roll-up, the
  institutions over all its authorships include both partners (one author affiliated to both is enough);
- fractional (author-level, CWTS Leiden Ranking): a work with N authorships gives each 1/N, split evenly
  over the authorship's distinct direct institutions; an authorship without institutions leaves its 1/N
  unassigned (``unaffiliated_share``). Under ``lineage`` an institution's share is credited in full to each
  of its ancestors (never split again) and a partner's weight on a work is min(1, Σ shares rolling up to
  it). ``joint_fractional`` = Σ over joint works of (w_A + w_B).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from cordiale import __version__
from cordiale.errors import UsageError
from cordiale.observatory.query import lit_list

RULES = ("direct", "lineage")
DEFAULT_TYPES: tuple[str, ...] = ("article", "review", "book-chapter", "book")
# OpenAlex's current work types plus legacy (Crossref-style) values still found in older records.
KNOWN_TYPES = frozenset(
    {
        "article",
        "book-chapter",
        "dataset",
        "preprint",
        "dissertation",
        "book",
        "review",
        "paratext",
        "libguides",
        "letter",
        "other",
        "reference-entry",
        "report",
        "editorial",
        "peer-review",
        "erratum",
        "standard",
        "grant",
        "supplementary-materials",
        "retraction",
        "journal-article",
        "proceedings-article",
        "posted-content",
        "monograph",
        "journal-issue",
        "component",
        "proceedings",
        "book-section",
        "report-series",
        "edited-book",
        "reference-book",
        "book-part",
        "book-series",
        "book-track",
        "journal",
        "journal-volume",
        "database",
        "report-component",
    }
)


@dataclass(frozen=True)
class PairQuery:
    partners: tuple[str, str]
    rule: str = "lineage"
    years: tuple[int, int] | None = None
    types: tuple[str, ...] = DEFAULT_TYPES
    include_retracted: bool = False

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise UsageError(f"--rule must be one of {', '.join(RULES)}, not {self.rule!r}")
        if len(set(self.partners)) != 2:
            raise UsageError("a pair needs two different institutions")


@dataclass
class YearRow:
    year: int
    joint: int
    joint_fractional: float
    fractional: dict[str, float]
    totals: dict[str, int]
    unaffiliated_share: float
    approximate: int
    api_totals: dict[str, int] = field(default_factory=dict)


def parse_years(text: str | None) -> tuple[int, int] | None:
    """``2015-2025`` or ``2020`` → (first, last)."""
    if not text:
        return None
    try:
        if "-" in text:
            a, b = text.split("-", 1)
            first, last = int(a), int(b)
        else:
            first = last = int(text)
    except ValueError as exc:
        raise UsageError(f"--years must look like 2015-2025 or 2020, not {text!r}") from exc
    if first > last:
        raise UsageError(f"--years {text}: the first year is after the last")
    return first, last


def warn_unknown_types(con: duckdb.DuckDBPyConnection, types: tuple[str, ...]) -> list[str]:
    """Types neither known to OpenAlex (current or legacy) nor present in the store: warned, not refused."""
    stored = {r[0] for r in con.execute("SELECT DISTINCT type FROM works WHERE type IS NOT NULL").fetchall()}
    unknown = [t for t in types if t not in KNOWN_TYPES and t not in stored]
    for t in unknown:
        print(
            f"warning: work type {t!r} is neither an OpenAlex type nor present in the store", file=sys.stderr
        )
    return unknown


def compute_pair(con: duckdb.DuckDBPyConnection, q: PairQuery, prepared: bool | None = None) -> list[YearRow]:
    """Run the pipeline on an open store connection; one row per year (every year in the store by default).

    ``prepared``: read the pair tables that ``cordiale observe prepare`` built (two unit ranges, joined)
    instead of the raw tables; by default when the store's reference tables are fresh. Both give the same
    rows (tests compare them on real works)."""
    if prepared is None:
        from cordiale.observatory.reference import is_fresh

        prepared = is_fresh(con)
    rows = _prepared_rows(con, q) if prepared else _raw_rows(con, q)
    return _year_rows(con, q, rows)


def _prepared_rows(con: duckdb.DuckDBPyConnection, q: PairQuery) -> list[tuple[Any, ...]]:
    """The per-year rows from ``obs_ref_pair_<rule>``: each partner's (unit, work) range in scope, the
    joint works as the join of the two ranges on the work's integer key. Each (unit, work) is one row
    with its capped weight (``prepare`` checks both), so the pipeline's invariants hold by construction."""
    a, b = q.partners
    first, last = q.years if q.years else (None, None)
    types = lit_list(q.types)  # quoted literals: DuckDB plans a constant IN list faster than a bound list
    return con.execute(
        f"""WITH sa AS (
            SELECT wk, w, year, trunc, unaffiliated_share FROM obs_ref_pair_{q.rule}
            WHERE unit = $a AND type IN ({types}) AND ($incl OR NOT retracted)
              AND ($first IS NULL OR year BETWEEN $first AND $last)
        ),
        sb AS (
            SELECT wk, w, year FROM obs_ref_pair_{q.rule}
            WHERE unit = $b AND type IN ({types}) AND ($incl OR NOT retracted)
              AND ($first IS NULL OR year BETWEEN $first AND $last)
        ),
        joint AS (
            SELECT sa.year, count(*) AS joint, sum(sa.w + sb.w) AS joint_frac, sum(sa.w) AS frac_a,
                   sum(sb.w) AS frac_b, sum(sa.unaffiliated_share) AS unaff,
                   count(*) FILTER (WHERE sa.trunc) AS approx
            FROM sa JOIN sb ON sb.wk = sa.wk
            GROUP BY sa.year
        ),
        ta AS (SELECT year, count(*) AS total_a FROM sa GROUP BY year),
        tb AS (SELECT year, count(*) AS total_b FROM sb GROUP BY year),
        years AS (
            SELECT year FROM obs_ref_years WHERE $first IS NULL OR year BETWEEN $first AND $last
        )
        SELECT y.year, coalesce(joint, 0), coalesce(joint_frac, 0), coalesce(frac_a, 0), coalesce(frac_b, 0),
               coalesce(total_a, 0), coalesce(total_b, 0), coalesce(unaff, 0), coalesce(approx, 0)
        FROM years y LEFT JOIN joint USING (year) LEFT JOIN ta USING (year) LEFT JOIN tb USING (year)
        ORDER BY y.year""",
        {
            "a": a,
            "b": b,
            "incl": q.include_retracted,
            "first": first,
            "last": last,
        },
    ).fetchall()


def _raw_rows(con: duckdb.DuckDBPyConnection, q: PairQuery) -> list[tuple[Any, ...]]:
    """The per-year rows from the raw tables: scope, shares, roll-up, weights, then the aggregate."""
    a, b = q.partners
    year_clause = ""
    params: list[Any] = [list(q.types)]
    if q.years:
        year_clause = "AND publication_year BETWEEN ? AND ?"
        params += list(q.years)
    retracted_clause = "" if q.include_retracted else "AND is_retracted IS NOT TRUE"

    # Each row in p_works is one work in scope: its type is selected, its year in range, not retracted.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE p_works AS
        SELECT id AS work_id, publication_year AS year, authors_count,
               coalesce(is_authors_truncated, false) AS trunc
        FROM works
        WHERE type IN (SELECT unnest(?)) AND publication_year IS NOT NULL {year_clause} {retracted_clause}""",
        params,
    )
    # Each row in p_shares is one (work, authorship, direct institution) with the authorship's 1/N share
    # split evenly over its distinct direct institutions.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE p_shares AS
        SELECT ai.work_id, ai.position, ai.institution_id,
               1.0 / (w.authors_count * au.institutions_count) AS share
        FROM authorship_institutions ai
        JOIN p_works w USING (work_id)
        JOIN authorships au ON au.work_id = ai.work_id AND au.position = ai.position"""
    )
    # Each row in p_units is one (work, authorship, direct institution, unit it counts for) under the rule;
    # lineage ids are deduplicated, and an institution missing from `institutions` counts for itself only.
    if q.rule == "direct":
        con.execute("CREATE OR REPLACE TEMP TABLE p_units AS SELECT *, institution_id AS unit FROM p_shares")
    else:
        con.execute(
            """CREATE OR REPLACE TEMP TABLE p_units AS
            SELECT DISTINCT s.work_id, s.position, s.institution_id, s.share, u.unit
            FROM p_shares s
            LEFT JOIN institutions i ON i.id = s.institution_id
            CROSS JOIN LATERAL (
                SELECT unnest(list_distinct(list_append(coalesce(i.lineage, []), s.institution_id))) AS unit
            ) u"""
        )
    # Each row in p_weights is one (work, partner): the partner's fractional weight, capped at 1.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE p_weights AS
        SELECT work_id, unit AS partner, least(1.0, sum(share)) AS w
        FROM p_units WHERE unit IN (?, ?)
        GROUP BY work_id, unit""",
        [a, b],
    )
    # Each row in p_pair is one work with at least one partner: its year, flags and weights.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE p_pair AS
        SELECT w.work_id, w.year, w.trunc,
               max(CASE WHEN pw.partner = $a THEN pw.w END) AS w_a,
               max(CASE WHEN pw.partner = $b THEN pw.w END) AS w_b
        FROM p_weights pw JOIN p_works w USING (work_id)
        GROUP BY w.work_id, w.year, w.trunc""",
        {"a": a, "b": b},
    )
    # Invariants: no work counted twice; no weight above 1.
    dup, over = con.execute(
        "SELECT count(*) - count(DISTINCT work_id), count(*) FILTER (WHERE w_a > 1 OR w_b > 1) FROM p_pair"
    ).fetchone()  # type: ignore[misc]
    assert dup == 0 and over == 0, "pair pipeline invariant broken"

    # The result: one row per year (every year in the store, or in --years), joint and each side's counts.
    return con.execute(
        """WITH years AS (
            SELECT DISTINCT publication_year AS year FROM works
            WHERE publication_year IS NOT NULL
              AND ($first IS NULL OR publication_year BETWEEN $first AND $last)
        ),
        agg AS (
            SELECT year,
                   count(*) FILTER (WHERE w_a IS NOT NULL AND w_b IS NOT NULL) AS joint,
                   sum(w_a + w_b) AS joint_frac,  -- NULL unless both weights exist: joint works only
                   sum(w_a) FILTER (WHERE w_b IS NOT NULL) AS frac_a,
                   sum(w_b) FILTER (WHERE w_a IS NOT NULL) AS frac_b,
                   count(w_a) AS total_a,
                   count(w_b) AS total_b,
                   count(*) FILTER (WHERE w_a IS NOT NULL AND w_b IS NOT NULL AND trunc) AS approx
            FROM p_pair GROUP BY year
        ),
        -- each row: one joint work's share left unassigned by authorships without an institution
        unaff AS (
            SELECT j.year, sum(u) AS unaff FROM (
                SELECT p.year,
                       count(*) FILTER (WHERE au.institutions_count = 0) / any_value(pw.authors_count) AS u
                FROM p_pair p
                JOIN authorships au ON au.work_id = p.work_id
                JOIN p_works pw ON pw.work_id = p.work_id
                WHERE p.w_a IS NOT NULL AND p.w_b IS NOT NULL
                GROUP BY p.work_id, p.year
            ) j GROUP BY j.year
        )
        SELECT y.year, coalesce(joint, 0), coalesce(joint_frac, 0), coalesce(frac_a, 0), coalesce(frac_b, 0),
               coalesce(total_a, 0), coalesce(total_b, 0), coalesce(unaff, 0), coalesce(approx, 0)
        FROM years y LEFT JOIN agg USING (year) LEFT JOIN unaff USING (year)
        ORDER BY y.year""",
        {"first": q.years[0] if q.years else None, "last": q.years[1] if q.years else None},
    ).fetchall()


def _year_rows(con: duckdb.DuckDBPyConnection, q: PairQuery, rows: list[tuple[Any, ...]]) -> list[YearRow]:
    a, b = q.partners
    api = _api_totals(con, q)
    out = []
    for year, joint, jf, fa, fb, ta, tb, unaff, approx in rows:
        out.append(
            YearRow(
                year=int(year),
                joint=int(joint),
                joint_fractional=round(float(jf), 6),
                fractional={a: round(float(fa), 6), b: round(float(fb), 6)},
                totals={a: int(ta), b: int(tb)},
                unaffiliated_share=round(float(unaff), 6),
                approximate=int(approx),
                api_totals={p: api[p][year] for p in (a, b) if year in api.get(p, {})},
            )
        )
    return out


def _api_totals(con: duckdb.DuckDBPyConnection, q: PairQuery) -> dict[str, dict[int, int]]:
    """Each partner's yearly totals from the API's group_by, for the same rule, latest fetch."""
    rows = con.execute(
        """SELECT institution_id, year, works_count FROM api_counts
        WHERE rule = ? AND institution_id IN (?, ?)
        QUALIFY row_number() OVER (PARTITION BY institution_id, year ORDER BY fetched_at DESC) = 1""",
        [q.rule, *q.partners],
    ).fetchall()
    out: dict[str, dict[int, int]] = {}
    for inst, year, n in rows:
        out.setdefault(inst, {})[int(year)] = int(n)
    return out


def store_facts(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, Any]:
    latest = con.execute("SELECT max(updated_date) FROM works").fetchone()[0]  # type: ignore[index]
    return {"path": str(path.resolve()), "latest_updated_date": latest}


def pair_json(
    q: PairQuery, names: dict[str, str], rows: list[YearRow], facts: dict[str, Any]
) -> dict[str, Any]:
    """The documented JSON shape of ``cordiale pair --format json``."""
    return {
        "partners": [{"id": p, "name": names.get(p, p)} for p in q.partners],
        "rule": q.rule,
        "counting": {
            "full": "a work counts 1 for each partner; joint when both partners are on it after roll-up",
            "fractional": "author-level 1/N split over direct institutions; lineage credits ancestors in "
            "full; partner weight capped at 1",
            "totals": "works in the store with the partner under the rule (api_totals: OpenAlex group_by)",
        },
        "types": list(q.types),
        "include_retracted": q.include_retracted,
        "years": [
            {
                "year": r.year,
                "joint": r.joint,
                "joint_fractional": r.joint_fractional,
                "fractional": r.fractional,
                "totals": r.totals,
                "api_totals": r.api_totals,
                "unaffiliated_share": r.unaffiliated_share,
                "approximate_works": r.approximate,
            }
            for r in rows
        ],
        "joint_total": sum(r.joint for r in rows),
        "joint_fractional_total": round(sum(r.joint_fractional for r in rows), 6),
        "store": facts,
        "cordiale_version": __version__,
    }
