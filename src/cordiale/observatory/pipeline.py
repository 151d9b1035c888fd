"""The per-work pipeline: a linear list of SQL steps, each building one table and saying what a row is.

The SQL is written once, in DuckDB's dialect, using only constructs that SQLGlot transpiles faithfully to
Spark SQL (no DuckDB list functions, ``CAST(1 AS DOUBLE)`` rather than ``1.0`` which Spark reads as a
decimal). Values are inlined as literals through ``query.lit`` so that the same text runs on both
engines without a parameter-binding layer.

Counting (see the README's methods): a work with N authorships gives each authorship 1/N, split evenly
over its distinct direct institutions after curation; an institution's share is credited in full to each
unit it rolls up to under the rule (``direct``: itself; ``lineage``: OpenAlex lineage; ``ror``: ROR parents,
up to three levels); a partner's weight is min(1, Σ shares rolling up to it).
"""

from __future__ import annotations

from dataclasses import dataclass

from cordiale.ids import ror_id_sql
from cordiale.observatory.curation import Curation
from cordiale.observatory.families import joint_institutions_sql
from cordiale.observatory.query import ObsQuery, lit, lit_list, values_table

ROR_LEVELS = 3  # ROR hierarchies are shallow (CNRS → institute → lab); deeper chains are cut here


@dataclass(frozen=True)
class Step:
    name: str
    sql: str
    view: bool = False  # a view rather than a table: read once, or cheaper to re-read than to store


def _scope(q: ObsQuery, source: str = "works", extra: str = "") -> str:
    years = f"AND w.publication_year BETWEEN {q.years[0]} AND {q.years[1]}" if q.years else ""
    retracted = "" if q.include_retracted else "AND w.is_retracted IS NOT TRUE"
    field = (
        f"AND w.id IN (SELECT work_id FROM work_topics WHERE is_primary AND field_id = {lit(q.field)})"
        if q.field is not None
        else ""
    )
    labels = (  # the SDG filter reads the labels of the query's SDG source
        "SELECT work_id FROM work_sdgs WHERE"
        if q.sdg_source == "openalex"
        else "SELECT work_id FROM sdg_scores WHERE assigned AND"
    )
    sdg = f"AND w.id IN ({labels} sdg = {int(q.sdg)})" if q.sdg is not None else ""
    return f"""
    SELECT w.id AS work_id, w.publication_year AS year, w.type AS type,
           COALESCE(w.is_authors_truncated, FALSE) AS trunc, w.authors_count AS authors_count,
           w.oa_status AS oa_status, w.fwci AS fwci, w.citation_normalized_percentile AS cnp,
           w.is_in_top_10_percent AS top10_openalex, w.cited_by_count AS cited_by_count,
           w.primary_topic_id AS primary_topic_id{extra}
    FROM {source} w
    WHERE w.type IN ({lit_list(q.types)}) AND w.publication_year IS NOT NULL {years} {retracted}
          {field} {sdg}"""


def _rollup(rule: str, links: str = "o_links") -> str:
    """Each row: one (direct institution on a link of ``links``, unit it counts for) under ``rule``."""
    if rule == "direct":
        return f"SELECT DISTINCT institution_id, institution_id AS unit FROM {links}"
    if rule == "lineage":
        return f"""
        SELECT DISTINCT l.institution_id, u.unit
        FROM (SELECT DISTINCT institution_id FROM {links}) l
        JOIN institutions i ON i.id = l.institution_id
        CROSS JOIN UNNEST(i.lineage) AS u(unit)
        UNION
        SELECT DISTINCT institution_id, institution_id AS unit FROM {links}"""
    # ror: an institution's ROR id and its ROR parents (and theirs), mapped back to OpenAlex ids
    parts = [
        f"WITH o_ror0 AS (SELECT DISTINCT i.id AS institution_id, {ror_id_sql('i.ror')} AS ror "
        "FROM institutions i "
        f"JOIN (SELECT DISTINCT institution_id FROM {links}) l ON l.institution_id = i.id "
        "WHERE i.ror IS NOT NULL)"
    ]
    for k in range(1, ROR_LEVELS + 1):
        parts.append(
            f", o_ror{k} AS (SELECT DISTINCT p.institution_id, r.related_ror_id AS ror FROM o_ror{k - 1} p "
            "JOIN ror_relations r ON r.ror_id = p.ror AND r.type = 'parent')"
        )
    union = " UNION ".join(f"SELECT institution_id, ror FROM o_ror{k}" for k in range(ROR_LEVELS + 1))
    return (
        "".join(parts) + f", o_ror_all AS ({union})\n"
        "SELECT DISTINCT a.institution_id, i.id AS unit\n"
        f"FROM o_ror_all a JOIN institutions i ON {ror_id_sql('i.ror')} = a.ror\n"
        f"UNION SELECT DISTINCT institution_id, institution_id AS unit FROM {links}"
    )


def per_work_steps(q: ObsQuery, cur: Curation) -> list[Step]:
    """The steps that build ``o_perwork`` (one row per work with at least one partner) and its inputs."""
    partners = values_table(
        [("partner", "VARCHAR"), ("pidx", "INTEGER")], [(p, i) for i, p in enumerate(q.partners)]
    )
    link_cols = [("work_id", "VARCHAR"), ("position", "INTEGER"), ("institution_id", "VARCHAR")]
    steps = [
        # Each row in o_partners is one partner, with its index (column w_<pidx> of o_perwork).
        Step("o_partners", partners),
        # Each row in o_scope is one work in scope: type selected, year in range, not retracted (and, when
        # asked, its primary topic in the field, the SDG among its labels).
        Step("o_scope", _scope(q)),
        # Each row in o_cur_add / o_cur_del is one curated link (position -1: the whole work).
        Step("o_cur_add", values_table(link_cols, cur.adds)),
        Step("o_cur_del", values_table(link_cols, cur.removes)),
        # Each row in o_cur_authors is one author id merged into another.
        Step("o_cur_authors", values_table([("from_id", "VARCHAR"), ("into_id", "VARCHAR")], cur.author_map)),
        # Each row in o_cur_patterns is one (raw-affiliation regex, institution) rule.
        Step(
            "o_cur_patterns",
            values_table([("pattern", "VARCHAR"), ("institution_id", "VARCHAR")], cur.patterns),
        ),
        # Each row in o_auth is one authorship of a work in scope, with its author id after merges.
        Step(
            "o_auth",
            """
            SELECT a.work_id, a.position, COALESCE(m.into_id, a.author_id) AS author_id,
                   a.author_id AS raw_author_id
            FROM authorships a JOIN o_scope s ON s.work_id = a.work_id
            LEFT JOIN o_cur_authors m ON m.from_id = a.author_id""",
        ),
        # Each row in o_regex_links is one authorship whose raw affiliation matches a curation pattern.
        Step(
            "o_regex_links",
            """
            SELECT DISTINCT r.work_id, r.position, c.institution_id
            FROM (
                SELECT a.work_id, a.position, x.raw
                FROM authorships a CROSS JOIN UNNEST(a.raw_affiliation_strings) AS x(raw)
            ) r
            JOIN o_scope s ON s.work_id = r.work_id
            JOIN o_cur_patterns c ON regexp_matches(r.raw, c.pattern)""",
        ),
        # Each row in o_del is one (authorship, institution) link a curation removes.
        Step(
            "o_del",
            """
            SELECT DISTINCT d.work_id, a.position, d.institution_id
            FROM o_cur_del d JOIN o_auth a ON a.work_id = d.work_id
             AND (d.position = -1 OR d.position = a.position)""",
        ),
        # Each row in o_links0 is one (authorship, direct institution) link after curation.
        Step("o_links0", _links0(cur)),
        # Each row in o_links is one link with its share: 1/N split over the authorship's institutions;
        # a whole-work addition is a link at position -1 with share 0 (it counts in full, not in fractions).
        Step("o_links", _links(cur)),
        # Each row in o_rollup is one (direct institution, unit it counts for) under the rule.
        Step("o_rollup", _rollup(q.rule)),
        # Each row in o_units is one (link, unit) pair: a link counts for every unit it rolls up to.
        Step(
            "o_units",
            """
            SELECT DISTINCT l.work_id, l.position, l.institution_id, l.share, r.unit
            FROM o_links l JOIN o_rollup r ON r.institution_id = l.institution_id""",
        ),
        # Each row in o_wp is one (work, partner): the partner's fractional weight, capped at 1.
        Step(
            "o_wp",
            """
            SELECT u.work_id, p.pidx, p.partner, LEAST(CAST(1 AS DOUBLE), SUM(u.share)) AS w
            FROM o_units u JOIN o_partners p ON p.partner = u.unit
            GROUP BY u.work_id, p.pidx, p.partner""",
        ),
        # Each row in o_perwork is one work with at least one partner: its weights per partner (NULL when
        # the partner is absent), flags, classes and the share its unaffiliated authorships leave unassigned.
        Step("o_perwork", perwork_sql(q)),
        # Each row in o_members is one (work, unit of analysis): each partner's works ("side") and each
        # joint group's works ("joint"), with the fractional weight that unit has on the work.
        Step("o_members", _members(q)),
        # Each row in o_years is one publication year with works in scope (the rows of every series).
        Step("o_years", "SELECT DISTINCT year FROM o_scope"),
        # Each row in o_levels is one (work in scope, level, class) of its primary topic, at the four
        # OpenAlex levels (domain, field, subfield, topic): the reference table of the fields family.
        Step("o_levels", _levels()),
        # Each row in o_ref_classes is one (level, class): the reference set's works in that class.
        Step("o_ref_classes", REF_CLASSES_FROM_LEVELS),
        *cross_steps(cross_authors_sql(), len(q.partners)),
        Step("o_unit_works", UNIT_WORKS_SQL),
        # Each row in o_names is one author of a cross-partner pair, with a display name.
        Step("o_names", names_sql("authorships")),
        # Each row in o_changed is one work in scope whose links or author ids a curation changed.
        Step("o_changed", _changed(cur)),
        Step("o_inst", joint_institutions_sql()),
    ]
    return steps


# Each row in o_unit_works is one (partner, joint work, direct institution on it rolling up to the
# partner): the joint works of each of a partner's units (the people family's units section).
UNIT_WORKS_SQL = """
            SELECT DISTINCT p.partner, u.institution_id, u.work_id
            FROM o_units u JOIN o_partners p ON p.partner = u.unit
            JOIN o_perwork pw ON pw.work_id = u.work_id AND pw.n_partners >= 2"""


def cross_steps(pa_sql: str, n_partners: int, authors: str = "") -> list[Step]:
    """o_cross: each (cross-partner pair, year) with the pair's works that year, counted straight from the
    self-join of ``pa_sql`` (one row per work, author and partner index), so the 2M+ per-work rows of a
    large partnership are never stored; partner ids are joined to the counts, not to each row. The
    per-work rows stay a view (o_cross_works) for the web app's drill-downs. With two partners the
    condition x.pidx < y.pidx is written as each side's own filter (partner 0 joined to partner 1), the
    same rows, so that each side of the join reads its own rows only. ``authors``: a table of
    (author_id, ak) when ``pa_sql`` gives integer author keys (ak) instead of ids and the work's year;
    the keys are compared in the self-join and turned into ids on the counted pairs only."""
    sides = (
        "(SELECT * FROM pa WHERE pidx = 0) x JOIN (SELECT * FROM pa WHERE pidx = 1) y "
        "ON y.work_id = x.work_id"
        if n_partners == 2
        else "pa x JOIN pa y ON y.work_id = x.work_id AND x.pidx < y.pidx"
    )
    pairs = f"""
            FROM {sides} AND x.author_id <> y.author_id"""
    if not authors:  # pa without the work's year: it comes from o_perwork
        pairs += """
            JOIN o_perwork pw ON pw.work_id = x.work_id"""
    year = "x.year" if authors else "pw.year"
    named = """
            JOIN o_partners p1 ON p1.pidx = c.pidx_1 JOIN o_partners p2 ON p2.pidx = c.pidx_2"""
    a1, a2 = "c.author_1", "c.author_2"
    if authors:
        named += f"""
            JOIN {authors} a1 ON a1.ak = c.author_1 JOIN {authors} a2 ON a2.ak = c.author_2"""
        a1, a2 = "a1.author_id", "a2.author_id"
    return [
        # Each row in o_cross_works is one cross-partner co-authorship: a work, an author on an authorship
        # rolling up to partner i and a different author on one rolling up to partner j > i.
        Step(
            "o_cross_works",
            f"""
            WITH pa AS ({pa_sql}
            ),
            c AS (
                SELECT x.work_id, {year} AS year, x.author_id AS author_1, x.pidx AS pidx_1,
                       y.author_id AS author_2, y.pidx AS pidx_2{pairs}
            )
            SELECT c.work_id, c.year, {a1} AS author_1, p1.partner AS partner_1, {a2} AS author_2,
                   p2.partner AS partner_2
            FROM c{named}""",
            view=True,
        ),
        # Each row in o_cross is one (cross-partner pair, year) with the pair's works that year.
        Step(
            "o_cross",
            f"""
            WITH pa AS ({pa_sql}
            ),
            c AS (
                SELECT x.author_id AS author_1, x.pidx AS pidx_1, y.author_id AS author_2, y.pidx AS pidx_2,
                       {year} AS year, COUNT(*) AS works{pairs}
                GROUP BY x.author_id, x.pidx, y.author_id, y.pidx, {year}
            )
            SELECT {a1} AS author_1, p1.partner AS partner_1, {a2} AS author_2, p2.partner AS partner_2,
                   c.year, CAST(c.works AS BIGINT) AS works
            FROM c{named}""",
        ),
    ]


def cross_authors_sql(prepared: bool = False, joint_only: bool = False) -> str:
    """pa, the input of o_cross: each row one (work, author, partner index) of a cross-partner candidate.
    Its authors come from o_auth (after merges), or, on prepared reference tables (no curation, so no
    merges), from the author id each prepared link carries. Only joint works can hold a cross-partner
    pair, so the prepared form reads those alone (``joint_only``: o_units holds only joint works' links
    already). Distinct per (work, author, partner), so a pair's row per work is unique."""
    if prepared or joint_only:
        joint = "" if joint_only else " JOIN o_perwork j ON j.work_id = u.work_id AND j.n_partners >= 2"
        return f"""
                SELECT DISTINCT u.work_id, u.author_id, p.pidx
                FROM o_units u JOIN o_partners p ON p.partner = u.unit{joint}
                WHERE u.author_id IS NOT NULL"""
    return """
                SELECT DISTINCT u.work_id, a.author_id, p.pidx
                FROM o_units u JOIN o_partners p ON p.partner = u.unit
                JOIN o_auth a ON a.work_id = u.work_id AND a.position = u.position
                WHERE a.author_id IS NOT NULL"""


def names_sql(source: str) -> str:
    """o_names: a display name for each author in o_cross, from ``source`` (author_id, author_name)."""
    return f"""
            SELECT a.author_id, MAX(a.author_name) AS name
            FROM {source} a
            JOIN (SELECT author_1 AS author_id FROM o_cross UNION SELECT author_2 FROM o_cross) c
              ON c.author_id = a.author_id
            GROUP BY a.author_id"""


def perwork_sql(q: ObsQuery, prepared: bool = False) -> str:
    """o_perwork from o_wp and o_scope; the unaffiliated share from the linked authorships (o_links), or,
    on prepared reference tables, from the scope's ``n_linked`` (the same count, made once per work)."""
    w_names = ", ".join(f"pw.w_{i}" for i in range(len(q.partners)))
    w_cols = ",\n                       ".join(
        f"MAX(CASE WHEN p.pidx = {i} THEN p.w END) AS w_{i}" for i in range(len(q.partners))
    )
    lp = """,
            lp AS (
                SELECT l.work_id, COUNT(DISTINCT l.position) AS n_linked
                FROM o_links l JOIN pw ON pw.work_id = l.work_id
                WHERE l.position >= 0 GROUP BY l.work_id
            )"""
    n_linked = "COALESCE(lp.n_linked, 0)"
    lp_join = "LEFT JOIN lp ON lp.work_id = pw.work_id"
    if prepared:
        lp, n_linked, lp_join = "", "s.n_linked", ""
    return f"""
            WITH pw AS (
                SELECT p.work_id, COUNT(*) AS n_partners, SUM(p.w) AS w_sum,
                       {w_cols}
                FROM o_wp p GROUP BY p.work_id
            ){lp}
            SELECT s.work_id, s.year, s.type, s.trunc, s.authors_count, s.oa_status, s.fwci, s.cnp,
                   s.top10_openalex, s.cited_by_count, s.primary_topic_id,
                   pw.n_partners, pw.w_sum, {w_names},
                   CAST(s.authors_count - {n_linked} AS DOUBLE) / s.authors_count
                       AS unaffiliated_share
            FROM pw JOIN o_scope s ON s.work_id = pw.work_id
            {lp_join}"""


def link_share_sql(links: str, works: str, works_key: str) -> str:
    """Each row: one (authorship, direct institution) link of ``links`` with its author-level share,
    1 / (N authorships × the authorship's institutions), N from ``works``."""
    return f"""
    SELECT l.work_id, l.position, l.institution_id,
           CAST(1 AS DOUBLE) / (s.authors_count * COUNT(*) OVER (PARTITION BY l.work_id, l.position)) AS share
    FROM {links} l JOIN {works} s ON s.{works_key} = l.work_id"""


def _links0(cur: Curation) -> str:
    base = (
        "SELECT ai.work_id, ai.position, ai.institution_id "
        "FROM authorship_institutions ai JOIN o_scope s ON s.work_id = ai.work_id"
    )
    if cur.size == 0:
        return base
    return f"""
    SELECT u.work_id, u.position, u.institution_id FROM (
        {base}
        UNION
        SELECT c.work_id, c.position, c.institution_id
        FROM o_cur_add c JOIN o_auth a ON a.work_id = c.work_id AND a.position = c.position
        UNION
        SELECT work_id, position, institution_id FROM o_regex_links
    ) u
    LEFT JOIN o_del d
      ON d.work_id = u.work_id AND d.position = u.position AND d.institution_id = u.institution_id
    WHERE d.work_id IS NULL"""


def _links(cur: Curation) -> str:
    sql = link_share_sql("o_links0", "o_scope", "work_id")
    if not any(pos == -1 for _, pos, _ in cur.adds):
        return sql
    return (
        sql
        + """
    UNION ALL
    SELECT c.work_id, -1 AS position, c.institution_id, CAST(0 AS DOUBLE) AS share
    FROM o_cur_add c JOIN o_scope s ON s.work_id = c.work_id
    WHERE c.position = -1
      AND NOT EXISTS (SELECT 1 FROM o_links0 l
                      WHERE l.work_id = c.work_id AND l.institution_id = c.institution_id)"""
    )


def _changed(cur: Curation) -> str:
    if cur.size == 0:
        return "SELECT work_id FROM o_scope WHERE 1 = 0"
    return """
            SELECT DISTINCT c.work_id FROM (
                SELECT x.work_id FROM (
                    SELECT work_id, position, institution_id FROM o_links0
                    EXCEPT
                    SELECT ai.work_id, ai.position, ai.institution_id
                    FROM authorship_institutions ai JOIN o_scope s ON s.work_id = ai.work_id
                ) x
                UNION
                SELECT d.work_id FROM o_del d JOIN authorship_institutions ai
                  ON ai.work_id = d.work_id AND ai.position = d.position
                 AND ai.institution_id = d.institution_id
                UNION
                SELECT work_id FROM o_links WHERE position = -1
                UNION
                SELECT work_id FROM o_auth WHERE author_id <> raw_author_id
            ) c"""


LEVELS = ("domain", "field", "subfield", "topic")


def _levels(works: str = "o_scope") -> str:
    """Each row: one (work of ``works``, level, class) of its primary topic."""
    parts = [
        f"SELECT t.work_id, '{lv}' AS level, t.{lv}_id AS class_id, t.{lv}_name AS class_name "
        f"FROM work_topics t JOIN {works} s ON s.work_id = t.work_id WHERE t.is_primary"
        for lv in LEVELS
    ]
    return "\nUNION ALL\n".join(parts)


def prepared_ref_classes_sql(q: ObsQuery) -> str:
    """o_ref_classes from the prepared class counts: the reference set's works per (level, class) in the
    query's types, years and retracted rule."""
    years = f"AND c.year BETWEEN {q.years[0]} AND {q.years[1]}" if q.years else ""
    retracted = "" if q.include_retracted else "AND NOT c.retracted"
    return f"""
            SELECT c.level, c.class_id, MAX(c.class_name) AS class_name, CAST(SUM(c.n) AS BIGINT) AS n
            FROM obs_ref_class_counts c
            WHERE c.type IN ({lit_list(q.types)}) {years} {retracted}
            GROUP BY c.level, c.class_id"""


REF_CLASSES_FROM_LEVELS = """
    SELECT level, class_id, MAX(class_name) AS class_name, CAST(COUNT(*) AS BIGINT) AS n
    FROM o_levels GROUP BY level, class_id"""


def _members(q: ObsQuery, sides: bool = True) -> str:
    """o_members; ``sides=False``: the joint rows only (the side figures then come from elsewhere)."""
    side = "SELECT work_id, year, 'side' AS kind, partner AS unit_key, w"
    side += " FROM o_wp JOIN o_perwork USING (work_id)"
    parts = [side] if sides else []
    for name, idx in q.groups:
        present = " AND ".join(f"w_{i} IS NOT NULL" for i in idx)
        need = "n_partners >= 2" if name == "all" else present
        wsum = " + ".join(f"COALESCE(w_{i}, 0)" for i in idx)
        parts.append(
            f"SELECT work_id, year, 'joint' AS kind, {lit(name)} AS unit_key, {wsum} AS w "
            f"FROM o_perwork WHERE {need}"
        )
    return "\nUNION ALL\n".join(parts)


def invariant_checks(q: ObsQuery, prepared: bool = False, links: bool = True) -> list[tuple[str, str]]:
    """(what, SQL returning a count of violations): each must be zero.

    On prepared reference tables o_links holds the joint works only, so the sum-to-1 check runs on
    those here; ``cordiale observe prepare`` checks it for every work of the store. ``links``: whether
    the run built o_links at all (the fast path's per-work lists do without; then the sum-to-1 check is
    prepare's alone, the weights coming from the same checked tables)."""
    joint_only = "WHERE p.n_partners >= 2" if prepared else ""
    w_bad = " OR ".join(f"w_{i} < 0 OR w_{i} > 1" for i in range(len(q.partners)))
    checks = [
        ("a partner's weight outside [0, 1]", f"SELECT COUNT(*) FROM o_perwork WHERE {w_bad}"),
        ("a work counted twice", "SELECT COUNT(*) - COUNT(DISTINCT work_id) FROM o_perwork"),
        (
            "a work counted twice for a unit",
            "SELECT COALESCE(SUM(t.n - 1), 0) FROM ("
            "SELECT COUNT(*) AS n FROM o_members GROUP BY work_id, kind, unit_key) t WHERE t.n > 1",
        ),
    ]
    if links:
        checks.append(
            (
                "direct weights plus the unaffiliated share differ from 1",
                f"""SELECT COUNT(*) FROM (
                    SELECT p.work_id, p.unaffiliated_share + COALESCE(SUM(l.share), 0) AS total
                    FROM o_perwork p LEFT JOIN o_links l ON l.work_id = p.work_id AND l.position >= 0
                    {joint_only}
                    GROUP BY p.work_id, p.unaffiliated_share
                ) t WHERE ABS(t.total - 1) > 1e-9""",
            )
        )
    return checks
