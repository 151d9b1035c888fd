"""The indicator families: each one aggregate query (or a few sections) over the per-work tables.

Units of analysis come from ``o_members``: ``kind = 'side'`` rows are one partner's works, ``kind =
'joint'`` rows one joint group's works (``all``: at least two partners; ``A+B``: that pair, given when
there are more than two partners). ``w`` is the unit's fractional weight on the work, so every family
gives full (count of works) and fractional (Σ w) figures. ``year`` NULL is the total over the years
(GROUPING SETS), so totals and yearly rows come from one query and always agree.

All counts are cast to BIGINT and all ratios to DOUBLE, so both engines return the same Arrow types.
"""

from __future__ import annotations

from dataclasses import dataclass

from cordiale.ids import ror_id_sql
from cordiale.observatory.query import ObsQuery, lit, values_table
from cordiale.observatory.regions import country_regions


@dataclass(frozen=True)
class Facts:
    """What the store says about itself (read through the same engine as the indicators)."""

    snapshot_date: str  # YYYY-MM-DD: the latest updated_date of any work
    reference_complete: bool
    has_sdg_scores: bool
    first_year: int | None
    last_year: int | None
    prepared: bool = False  # the run reads the store-wide reference tables (obs_ref_*)
    # o_perwork holds the joint works alone and o_levels carries their n_partners (the fast path)
    joint_only: bool = False


# The sums behind MNCS and PP(top 10%), full and fractional, over rows with a value (v.ncs, v.top10)
# and a weight ({w}).
IMPACT_SUMS = """CAST(COUNT(v.ncs) AS BIGINT) AS c_ncs, CAST(SUM(v.ncs) AS DOUBLE) AS s_ncs,
                   CAST(SUM({w} * v.ncs) AS DOUBLE) AS sw_ncs,
                   CAST(SUM(CASE WHEN v.ncs IS NOT NULL THEN {w} END) AS DOUBLE) AS w_ncs,
                   CAST(COUNT(v.top10) AS BIGINT) AS c_top10, CAST(SUM(v.top10) AS DOUBLE) AS s_top10,
                   CAST(SUM({w} * v.top10) AS DOUBLE) AS sw_top10,
                   CAST(SUM(CASE WHEN v.top10 IS NOT NULL THEN {w} END) AS DOUBLE) AS w_top10"""


def summary_sql(q: ObsQuery) -> str:
    """Each row: one (joint group, partner of the group, year or total): joint works and the partner's.

    Joint figures: one pass over the joint works of o_perwork with conditional aggregates (one set per
    group and partner); the partner's own output from o_side_years; then unpivoted.
    """
    aggs: list[str] = []
    for g, (name, idx) in enumerate(q.groups):
        cond = "n_partners >= 2" if name == "all" else " AND ".join(f"w_{i} IS NOT NULL" for i in idx)
        wsum = " + ".join(f"COALESCE(w_{i}, 0)" for i in idx)
        aggs.append(
            f"COUNT(*) FILTER (WHERE {cond}) AS j_{g}, SUM({wsum}) FILTER (WHERE {cond}) AS jf_{g}, "
            f"SUM(unaffiliated_share) FILTER (WHERE {cond}) AS ju_{g}, "
            f"COUNT(*) FILTER (WHERE {cond} AND trunc) AS ja_{g}"
        )
        for i in idx:
            aggs.append(f"SUM(w_{i}) FILTER (WHERE {cond}) AS jp_{g}_{i}")
    rows: list[str] = []
    for g, (name, idx) in enumerate(q.groups):
        for i in idx:
            p = lit(q.partners[i])
            rows.append(
                f"""SELECT {lit(name)} AS grp, {p} AS partner, y.year,
                   CAST(COALESCE(a.j_{g}, 0) AS BIGINT) AS joint,
                   CAST(COALESCE(a.jf_{g}, 0) AS DOUBLE) AS joint_fractional,
                   CAST(COALESCE(a.jp_{g}_{i}, 0) AS DOUBLE) AS partner_fractional,
                   CAST(COALESCE(s.n, 0) AS BIGINT) AS partner_total,
                   CAST(COALESCE(s.f, 0) AS DOUBLE) AS partner_total_fractional,
                   CAST(COALESCE(a.j_{g}, 0) AS DOUBLE) / NULLIF(s.n, 0) AS joint_share,
                   CAST(COALESCE(a.ju_{g}, 0) AS DOUBLE) AS unaffiliated_share,
                   CAST(COALESCE(a.ja_{g}, 0) AS BIGINT) AS approximate
                FROM y LEFT JOIN a ON COALESCE(a.year, -1) = COALESCE(y.year, -1)
                LEFT JOIN s ON s.partner = {p} AND COALESCE(s.year, -1) = COALESCE(y.year, -1)"""
            )
    union = "\nUNION ALL\n".join(rows)
    return f"""
    WITH a AS (
        SELECT year, {", ".join(aggs)}
        FROM o_perwork WHERE n_partners >= 2 GROUP BY GROUPING SETS ((year), ())
    ),
    s AS (
        SELECT partner, year, SUM(n) AS n, SUM(f) AS f
        FROM o_side_years GROUP BY GROUPING SETS ((partner, year), (partner))
    ),
    y AS (SELECT year FROM o_years UNION ALL SELECT CAST(NULL AS INTEGER) AS year)
    {union}"""


def fields_sql(q: ObsQuery, facts: Facts) -> str:
    """Each row: one (level, class, partner): works, activity index, strength, joint share of the class.

    Each partner's works per class from o_side_classes; the joint works per class from o_perwork; the
    union of the partners' works as Σ sides minus each joint work's extra partners; unpivoted per partner.
    """
    per_partner = ", ".join(
        f"COALESCE(SUM(CASE WHEN s.partner = {lit(p)} THEN s.n END), 0) AS n_{i}, "
        f"SUM(CASE WHEN s.partner = {lit(p)} THEN s.f END) AS f_{i}"
        for i, p in enumerate(q.partners)
    )
    joint = (
        "SELECT lv.level, lv.class_id, COUNT(*) AS joint_n, SUM(lv.n_partners - 1) AS extra "
        "FROM o_levels lv GROUP BY lv.level, lv.class_id"
        if facts.joint_only
        else """
        SELECT lv.level, lv.class_id, COUNT(*) AS joint_n, SUM(p.n_partners - 1) AS extra
        FROM o_levels lv JOIN o_perwork p ON p.work_id = lv.work_id
        WHERE p.n_partners >= 2 GROUP BY lv.level, lv.class_id"""
    )
    if facts.reference_complete:  # o_ref_classes: the whole store's works in scope, per class
        ref = "SELECT level, class_id, class_name, n FROM o_ref_classes"
    else:
        ref = "SELECT level, class_id, class_name, union_n AS n FROM c"
    unpivot = "\nUNION ALL\n".join(
        f"""SELECT c.level, c.class_id, r.class_name, {lit(p)} AS partner,
               CAST(c.n_{i} AS BIGINT) AS works, CAST(COALESCE(c.f_{i}, 0) AS DOUBLE) AS fractional,
               CAST(c.n_{i} AS DOUBLE) / NULLIF(SUM(c.n_{i}) OVER (PARTITION BY c.level), 0) AS partner_share,
               CAST(r.n AS DOUBLE) / rt.n AS reference_share,
               c.joint_n, c.union_n
           FROM c JOIN r ON r.level = c.level AND r.class_id = c.class_id JOIN rt ON rt.level = c.level"""
        for i, p in enumerate(q.partners)
    )
    return f"""
    WITH sc AS (
        SELECT s.level, s.class_id, MAX(s.class_name) AS class_name, SUM(s.n) AS side_n, {per_partner}
        FROM o_side_classes s GROUP BY s.level, s.class_id
    ),
    j AS ({joint}),
    c AS (
        SELECT sc.*, COALESCE(j.joint_n, 0) AS joint_n, sc.side_n - COALESCE(j.extra, 0) AS union_n
        FROM sc LEFT JOIN j ON j.level = sc.level AND j.class_id IS NOT DISTINCT FROM sc.class_id
    ),
    r AS ({ref}),
    rt AS (SELECT level, SUM(n) AS n FROM r GROUP BY level),
    ai AS (
        SELECT level, class_id, class_name, partner, works, fractional, partner_share, reference_share,
               partner_share / reference_share AS activity_index,
               CAST(joint_n AS BIGINT) AS joint_works, CAST(union_n AS BIGINT) AS union_works,
               CAST(joint_n AS DOUBLE) / union_n AS joint_share
        FROM ({unpivot}) u
    )
    SELECT level, class_id, class_name, partner, works, fractional, partner_share, reference_share,
           activity_index,
           CASE WHEN activity_index >= {q.strong!r} THEN 'strong'
                WHEN activity_index <= {q.weak!r} THEN 'weak' ELSE 'neutral' END AS strength,
           (MAX(activity_index) OVER (PARTITION BY level, class_id) >= {q.strong!r}
            AND MIN(activity_index) OVER (PARTITION BY level, class_id) <= {q.weak!r}) AS complementary,
           joint_works, union_works, joint_share,
           {lit("store" if facts.reference_complete else "partners")} AS reference
    FROM ai"""


# Each row: one (citing, cited) pair of store works sharing an author id (a self-citation).
SELFCITE_SQL = """
        SELECT DISTINCT r.work_id AS citing, r.referenced_work_id AS cited
        FROM referenced_works r
        JOIN authorships a1 ON a1.work_id = r.work_id
        JOIN authorships a2 ON a2.work_id = r.referenced_work_id AND a2.author_id = a1.author_id
        WHERE a1.author_id IS NOT NULL"""

# Each row: one cited work with its citations from works in the store, self-citations excluded.
CITES_SQL = """
        SELECT r.referenced_work_id AS work_id, COUNT(DISTINCT r.work_id) AS c
        FROM referenced_works r
        JOIN works citing ON citing.id = r.work_id
        LEFT JOIN selfcite sc ON sc.citing = r.work_id AND sc.cited = r.referenced_work_id
        WHERE sc.citing IS NULL
        GROUP BY r.referenced_work_id"""


def impact_value_sql(facts: Facts, world: bool = False) -> str:
    """Each row: one work in o_perwork with a citation value (ncs) and its top-10% share (top10);
    ``world``: every classified work in scope instead (a complete reference: MNCS 1, PP(top 10%) 10%)."""
    last_year = int(facts.snapshot_date[:4]) - 2  # at least one full calendar year of citations
    if not facts.reference_complete:  # OpenAlex's values, under the same citation-window rule
        return f"""
        SELECT work_id, year, fwci AS ncs,
               CASE WHEN top10_openalex IS NULL THEN CAST(NULL AS DOUBLE)
                    WHEN top10_openalex THEN CAST(1 AS DOUBLE) ELSE CAST(0 AS DOUBLE) END AS top10
        FROM o_perwork
        WHERE (fwci IS NOT NULL OR top10_openalex IS NOT NULL) AND year <= {last_year}"""
    cites = "SELECT work_id, c FROM obs_ref_cites" if facts.prepared else CITES_SQL
    values = store_values_sql("o_scope", str(last_year), cites)
    if world:
        return values
    return f"SELECT r.* FROM ({values}) r JOIN o_perwork p ON p.work_id = r.work_id"


def store_values_sql(scope: str, last_year: str, cites: str) -> str:
    """Each row: one classified work of ``scope`` (work_id, year, type) published up to ``last_year``
    (SQL), with its normalised citation score and top-10% share in its class (``cites``: the citation
    counts, self-citations excluded)."""
    return f"""
    WITH selfcite AS ({SELFCITE_SQL}),
    cites AS ({cites}),
    cls AS (
        SELECT s.work_id, s.year, s.type, t.subfield_id, CAST(COALESCE(c.c, 0) AS DOUBLE) AS cit
        FROM {scope} s JOIN work_topics t ON t.work_id = s.work_id AND t.is_primary
        LEFT JOIN cites c ON c.work_id = s.work_id
        WHERE s.year <= {last_year}
    ),
    ranked AS (
        SELECT work_id, year, cit,
               AVG(cit) OVER (PARTITION BY subfield_id, year, type) AS mean_cit,
               COUNT(*) OVER (PARTITION BY subfield_id, year, type) AS n,
               RANK() OVER (PARTITION BY subfield_id, year, type ORDER BY cit DESC) - 1 AS n_above,
               COUNT(*) OVER (PARTITION BY subfield_id, year, type, cit) AS n_tied
        FROM cls
    )
    SELECT r.work_id, r.year, r.cit / NULLIF(r.mean_cit, 0) AS ncs,
           GREATEST(CAST(0 AS DOUBLE), LEAST(CAST(1 AS DOUBLE),
               (CAST(r.n AS DOUBLE) / 10 - r.n_above) / r.n_tied)) AS top10
    FROM ranked r"""


def impact_sql(facts: Facts) -> str:
    """Each row: one (unit, year or total): MNCS and PP(top 10%), full and fractional; the partners'
    from o_side_impact, the joint groups' from their works' values (o_values)."""
    source = "store" if facts.reference_complete else "openalex"
    return f"""
    WITH x AS (
        SELECT 'side' AS kind, partner AS unit_key, year, c_ncs, s_ncs, sw_ncs, w_ncs,
               c_top10, s_top10, sw_top10, w_top10
        FROM o_side_impact
        UNION ALL
        SELECT m.kind, m.unit_key, m.year, {IMPACT_SUMS.format(w="m.w")}
        FROM o_members m JOIN o_values v ON v.work_id = m.work_id
        WHERE m.kind = 'joint' GROUP BY m.kind, m.unit_key, m.year
    )
    SELECT kind, unit_key, year,
           CAST(SUM(c_ncs) AS BIGINT) AS works_with_ncs,
           CAST(SUM(s_ncs) / NULLIF(SUM(c_ncs), 0) AS DOUBLE) AS mncs,
           CAST(SUM(sw_ncs) / NULLIF(SUM(w_ncs), 0) AS DOUBLE) AS mncs_fractional,
           CAST(SUM(c_top10) AS BIGINT) AS works_with_top10,
           CAST(SUM(s_top10) / NULLIF(SUM(c_top10), 0) AS DOUBLE) AS pp_top10,
           CAST(SUM(sw_top10) / NULLIF(SUM(w_top10), 0) AS DOUBLE) AS pp_top10_fractional,
           {lit(source)} AS source
    FROM x GROUP BY GROUPING SETS ((kind, unit_key, year), (kind, unit_key))"""


def impact_values_sql() -> str:
    """Each row: one (unit, measure, value, weight) with the works holding it, for the bootstrap
    (computed in Python): the partners' from o_side_values, the joint groups' from o_values."""
    joint = "SELECT unit_key AS partner, work_id, w FROM o_members WHERE kind = 'joint'"
    return f"""
    SELECT 'side' AS kind, partner AS unit_key, measure, v, w, n FROM o_side_values
    UNION ALL
    SELECT 'joint' AS kind, partner AS unit_key, measure, v, w, n FROM ({
        side_values_sql(joint, "v.ncs", "v.top10", "JOIN o_values v ON v.work_id = s.work_id")
    }) j"""


def side_values_sql(rows: str, ncs: str, top10: str, join: str = "") -> str:
    """(partner, measure, v, w, n) over ``rows`` (aliased s, with partner and w) and a value source:
    the bootstrap's input reduced to distinct (value, weight) pairs and the works holding each."""
    # One pass over the rows, a grouping set per measure; a set's NULL group (works without that value)
    # is dropped after.
    return f"""
            SELECT g.partner, g.measure, g.v, g.w, g.n FROM (
                SELECT x.partner,
                       CASE WHEN GROUPING(x.ncs_v) = 0 THEN 'mncs' ELSE 'pp_top10' END AS measure,
                       CASE WHEN GROUPING(x.ncs_v) = 0 THEN x.ncs_v ELSE x.top10_v END AS v,
                       x.w, CAST(COUNT(*) AS BIGINT) AS n
                FROM (SELECT s.partner, s.w, {ncs} AS ncs_v, {top10} AS top10_v FROM ({rows}) s {join}) x
                GROUP BY GROUPING SETS ((x.partner, x.ncs_v, x.w), (x.partner, x.top10_v, x.w))
            ) g WHERE g.v IS NOT NULL"""


def oa_sql() -> str:
    """Each row: one (unit, year or total, OA status): works, fractional and share of the unit's works."""
    return """
    WITH x AS (
        SELECT 'side' AS kind, partner AS unit_key, year, oa_status, n, f FROM o_side_oa
        UNION ALL
        SELECT m.kind, m.unit_key, m.year, COALESCE(p.oa_status, 'unknown') AS oa_status,
               COUNT(*) AS n, SUM(m.w) AS f
        FROM o_members m JOIN o_perwork p ON p.work_id = m.work_id
        WHERE m.kind = 'joint' GROUP BY m.kind, m.unit_key, m.year, COALESCE(p.oa_status, 'unknown')
    ),
    a AS (
        SELECT kind, unit_key, year, oa_status, CAST(SUM(n) AS BIGINT) AS works,
               CAST(SUM(f) AS DOUBLE) AS fractional
        FROM x GROUP BY GROUPING SETS ((kind, unit_key, year, oa_status), (kind, unit_key, oa_status))
    )
    SELECT kind, unit_key, year, oa_status, works, fractional,
           CAST(works AS DOUBLE) / SUM(works) OVER (PARTITION BY kind, unit_key, year) AS share
    FROM a"""


_EARTH_KM = "CAST(6371.0088 AS DOUBLE)"


def collab_sql(q: ObsQuery) -> str:
    """Each row: one (joint group, year or total, collaboration type): works, fractional, share."""
    return f"""
    WITH jw AS (SELECT work_id, unit_key AS grp, year, w FROM o_members WHERE kind = 'joint'),
    inst AS (SELECT work_id, institution_id, country_code, type, lat, lng FROM o_inst),
    home AS (
        SELECT DISTINCT i.country_code FROM institutions i JOIN o_partners p ON p.partner = i.id
        WHERE i.country_code IS NOT NULL
    ),
    located AS (SELECT DISTINCT work_id, lat, lng FROM inst WHERE lat IS NOT NULL AND lng IS NOT NULL),
    dist AS (
        SELECT a.work_id,
               MAX(2 * {_EARTH_KM} * ASIN(SQRT(
                   POWER(SIN(RADIANS(b.lat - a.lat) / 2), 2)
                   + COS(RADIANS(a.lat)) * COS(RADIANS(b.lat)) * POWER(SIN(RADIANS(b.lng - a.lng) / 2), 2)
               ))) AS km
        FROM located a JOIN located b ON b.work_id = a.work_id
        GROUP BY a.work_id
    ),
    flags AS (
        SELECT i.work_id,
               MAX(CASE WHEN i.country_code IS NOT NULL AND h.country_code IS NULL THEN 1 ELSE 0 END)
                   AS third_country,
               MAX(CASE WHEN i.type = 'company' THEN 1 ELSE 0 END) AS industry,
               MAX(CASE WHEN i.lat IS NULL THEN 1 ELSE 0 END) AS unlocated
        FROM inst i LEFT JOIN home h ON h.country_code = i.country_code
        GROUP BY i.work_id
    ),
    typed AS (
        SELECT j.grp, j.year, j.w, t.ctype
        FROM jw j JOIN flags f ON f.work_id = j.work_id LEFT JOIN dist d ON d.work_id = j.work_id
        CROSS JOIN UNNEST([
            CASE WHEN f.third_country = 1 THEN 'third country' END,
            CASE WHEN f.industry = 1 THEN 'industry' END,
            CASE WHEN f.unlocated = 1 OR d.km IS NULL THEN 'distance unknown'
                 WHEN d.km <= 100 THEN 'short distance (<= 100 km)'
                 WHEN d.km >= 5000 THEN 'long distance (>= 5,000 km)'
                 ELSE 'medium distance' END,
            CASE WHEN f.unlocated = 0 AND d.km IS NOT NULL THEN 'distance known (coverage)' END,
            'all joint works'
        ]) AS t(ctype)
        WHERE t.ctype IS NOT NULL
    ),
    a AS (
        SELECT grp, year, ctype, CAST(COUNT(*) AS BIGINT) AS works, CAST(SUM(w) AS DOUBLE) AS fractional
        FROM typed GROUP BY GROUPING SETS ((grp, year, ctype), (grp, ctype))
    )
    SELECT a.grp, a.year, a.ctype AS collaboration, a.works, a.fractional,
           CAST(a.works AS DOUBLE) / t.works AS share
    FROM a JOIN a t ON t.grp = a.grp AND COALESCE(t.year, -1) = COALESCE(a.year, -1)
                   AND t.ctype = 'all joint works'"""


def institution_attrs_sql(ids: str) -> str:
    """Each row: one institution of ``ids`` (SQL giving distinct institution_id) with what the
    collaboration and third-party families read of it: name, country, type, coordinates (ROR), region."""
    regions = values_table(
        [("country_code", "VARCHAR"), ("continent", "VARCHAR"), ("global_south", "BOOLEAN")],
        country_regions(),
    )
    return f"""
        WITH regions AS ({regions})
        SELECT x.institution_id, i.display_name, i.country_code, i.type, ro.lat, ro.lng, rg.continent,
               rg.global_south
        FROM ({ids}) x
        LEFT JOIN institutions i ON i.id = x.institution_id
        LEFT JOIN ror_organizations ro ON ro.ror_id = {ror_id_sql("i.ror")}
        LEFT JOIN regions rg ON rg.country_code = i.country_code"""


def joint_institutions_sql(joint_only: bool = False) -> str:
    """o_inst: each row one (joint work, direct institution on one of its authorships) with the
    institution's attributes (``institution_attrs_sql``). Built once for both families. ``joint_only``:
    o_links holds the joint works' links alone, so no work needs to be checked against o_perwork."""
    joint = "" if joint_only else " JOIN o_perwork p ON p.work_id = l.work_id AND p.n_partners >= 2"
    return f"""
    WITH wi AS (
        SELECT DISTINCT l.work_id, l.institution_id FROM o_links l{joint}
    ),
    attrs AS ({institution_attrs_sql("SELECT DISTINCT institution_id FROM wi")})
    SELECT wi.work_id, a.* FROM wi JOIN attrs a ON a.institution_id = wi.institution_id"""


def third_parties_sql() -> str:
    """Each row: one (joint group, level, key, year or total): joint works with such a third party (a
    work has one year, so its distinct rows per year also count it once in the total).
    A row of ``third`` is unique per (group, work, institution): o_inst is, and o_members has one row per
    (work, kind, unit), which the invariants check; so the institution level counts its rows as they are,
    and the other levels count the distinct (work, country) first (a country gives its continent and
    its global-south flag)."""
    return """
    WITH partner_units AS (
        SELECT DISTINCT r.institution_id FROM o_rollup r JOIN o_partners p ON p.partner = r.unit
    ),
    third AS (
        SELECT m.unit_key AS grp, m.work_id, m.year, i.institution_id,
               i.display_name, i.country_code, i.continent, i.global_south
        FROM o_members m JOIN o_inst i ON i.work_id = m.work_id
        LEFT JOIN partner_units pu ON pu.institution_id = i.institution_id
        WHERE m.kind = 'joint' AND pu.institution_id IS NULL
    ),
    countries AS (
        SELECT DISTINCT grp, work_id, year, country_code, continent, global_south FROM third
    ),
    regions AS (
        SELECT grp, work_id, year, COALESCE(continent, 'unknown') AS continent,
               CASE WHEN global_south THEN 'global south' WHEN global_south IS NULL THEN 'unknown'
                    ELSE 'global north' END AS south
        FROM countries
    ),
    d AS (
        SELECT grp, 'institution' AS level, institution_id AS key, display_name AS name, year, work_id
        FROM third
        UNION ALL
        SELECT grp, 'country', COALESCE(country_code, 'unknown'), COALESCE(country_code, 'unknown'), year,
               work_id
        FROM countries
        UNION ALL
        SELECT DISTINCT grp, 'continent', continent, continent, year, work_id FROM regions
        UNION ALL
        SELECT DISTINCT grp, 'global south', south, south, year, work_id FROM regions
    )
    SELECT grp, level, key, MAX(name) AS name, year, CAST(COUNT(*) AS BIGINT) AS works
    FROM d GROUP BY GROUPING SETS ((grp, level, key, year), (grp, level, key))"""


def funders_sql() -> str:
    """Each row: one (joint group, funder, year or total): joint works funded, distinct award ids."""
    return """
    WITH f AS (
        SELECT m.unit_key AS grp, m.work_id, m.year,
               COALESCE(f.funder_id, f.funder_name, 'unknown') AS funder,
               f.funder_name, f.award_id
        FROM o_members m JOIN o_funding f ON f.work_id = m.work_id WHERE m.kind = 'joint'
    )
    SELECT grp, funder, MAX(funder_name) AS funder_name, year,
           CAST(COUNT(DISTINCT work_id) AS BIGINT) AS works,
           CAST(COUNT(DISTINCT award_id) AS BIGINT) AS awards
    FROM f GROUP BY GROUPING SETS ((grp, funder, year), (grp, funder))"""


def sdg_sql(q: ObsQuery) -> str:
    """Each row: one (unit, SDG, year or total): works assigned that SDG (a work counts once per SDG);
    the partners' from o_side_sdg, the joint groups' from their works' labels (o_sdg_labels)."""
    return f"""
    WITH x AS (
        SELECT 'side' AS kind, partner AS unit_key, sdg, year, n, f FROM o_side_sdg
        UNION ALL
        SELECT m.kind, m.unit_key, s.sdg, m.year, COUNT(*) AS n, SUM(m.w) AS f
        FROM o_members m JOIN o_sdg_labels s ON s.work_id = m.work_id
        WHERE m.kind = 'joint' GROUP BY m.kind, m.unit_key, s.sdg, m.year
    )
    SELECT kind, unit_key, sdg, year, CAST(SUM(n) AS BIGINT) AS works,
           CAST(SUM(f) AS DOUBLE) AS fractional, {lit(q.sdg_source)} AS source
    FROM x GROUP BY GROUPING SETS ((kind, unit_key, sdg, year), (kind, unit_key, sdg))"""


def people_pairs_sql(q: ObsQuery) -> str:
    """Each row: one cross-partner co-author pair (top by joint works; ties by ids). A row of o_cross is
    one (pair, year) with the pair's works that year; names are joined to the top pairs only."""
    order = "works DESC, author_1, author_2, partner_1, partner_2"
    return f"""
    WITH top AS (
        SELECT author_1, partner_1, author_2, partner_2, CAST(SUM(works) AS BIGINT) AS works,
               MIN(year) AS first_year, MAX(year) AS last_year
        FROM o_cross GROUP BY author_1, partner_1, author_2, partner_2
        ORDER BY {order} LIMIT {int(q.top_pairs)}
    )
    SELECT c.author_1, n1.name AS name_1, c.partner_1, c.author_2, n2.name AS name_2, c.partner_2,
           c.works, c.first_year, c.last_year
    FROM top c LEFT JOIN o_names n1 ON n1.author_id = c.author_1
    LEFT JOIN o_names n2 ON n2.author_id = c.author_2
    ORDER BY {order}"""


def people_new_sql() -> str:
    """Each row: one year: cross-partner co-author pairs active that year, new ones and repeat ones."""
    return """
    WITH pairs AS (SELECT author_1, partner_1, author_2, partner_2, year FROM o_cross),
    firsts AS (
        SELECT author_1, partner_1, author_2, partner_2, MIN(year) AS first_year FROM pairs
        GROUP BY author_1, partner_1, author_2, partner_2
    )
    SELECT p.year, CAST(COUNT(*) AS BIGINT) AS active_pairs,
           CAST(SUM(CASE WHEN f.first_year = p.year THEN 1 ELSE 0 END) AS BIGINT) AS new_pairs,
           CAST(SUM(CASE WHEN f.first_year < p.year THEN 1 ELSE 0 END) AS BIGINT) AS repeat_pairs
    FROM pairs p JOIN firsts f ON f.author_1 = p.author_1 AND f.partner_1 = p.partner_1
     AND f.author_2 = p.author_2 AND f.partner_2 = p.partner_2
    GROUP BY p.year"""


def people_units_sql() -> str:
    """Each row: one (partner, unit): a direct institution rolling up to the partner; its works (from
    o_side_units) and joint works (from o_unit_works)."""
    return """
    WITH j AS (
        SELECT d.partner, d.institution_id, COUNT(*) AS n FROM o_unit_works d
        GROUP BY d.partner, d.institution_id
    ),
    names AS (
        SELECT i.id, MAX(i.display_name) AS name FROM institutions i
        JOIN (SELECT DISTINCT institution_id FROM o_side_units) s ON s.institution_id = i.id
        GROUP BY i.id
    )
    SELECT s.partner, s.institution_id AS unit_id, nm.name AS unit_name, CAST(s.n AS BIGINT) AS works,
           CAST(COALESCE(j.n, 0) AS BIGINT) AS joint_works
    FROM o_side_units s
    LEFT JOIN j ON j.partner = s.partner AND j.institution_id = s.institution_id
    LEFT JOIN names nm ON nm.id = s.institution_id"""


def family_sections(family: str, q: ObsQuery, facts: Facts) -> dict[str, str]:
    """The SQL of each section of a family (most families have one section, named after it)."""
    if family in ("summary", "growth"):
        return {"summary": summary_sql(q)}
    if family == "fields":
        return {"fields": fields_sql(q, facts)}
    if family == "impact":
        return {"impact": impact_sql(facts)}
    if family == "oa":
        return {"oa": oa_sql()}
    if family == "collab":
        return {"collab": collab_sql(q)}
    if family == "third-parties":
        return {"third-parties": third_parties_sql()}
    if family == "funders":
        return {"funders": funders_sql()}
    if family == "sdg":
        return {"sdg": sdg_sql(q)}
    if family == "people":
        return {"pairs": people_pairs_sql(q), "new-vs-repeat": people_new_sql(), "units": people_units_sql()}
    raise KeyError(family)
