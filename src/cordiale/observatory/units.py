"""The DuckDB fast path: per-unit tables built at ``prepare``, so that a query reads each partner's
rows once and materialises per work only the joint works.

A partnership query on a large store spends its time on the partners' whole output (at 10M works,
4.4M works on either side against 0.4M joint ones). The families only ever aggregate that output (a
partner's works per year, class, OA status, SDG, unit; its citation sums), so here those aggregates are
computed straight from ``obs_ref_pair_<rule>``: one row per (unit, work), sorted by unit and keyed by
an integer, carrying every per-work column a family reads, citation values included. The joint works
are the keys held by two partners or more; only they get per-work rows (``o_perwork``, ``o_members``).
With two partners their links, institutions, funding and SDG labels come as lists of integer keys with
the anchor partner's rows (``obs_ref_work_lists``, carried by ``obs_ref_pair_<rule>``), so the query never
reads the store's links; with more partners they are read through integer-keyed copies of the link,
funding and SDG tables (``o_links``, ``o_units``).

Same family SQL, same figures as the raw tables (``tests/test_observatory_reference.py``). Used when the
reference tables are fresh, there is no curation, no field or SDG filter and the SDG source is OpenAlex's
labels (those filters and cordiale's scores change what is in scope after ``prepare``); otherwise the
full per-work tables are built as before. Spark keeps the full per-work path.
"""

from __future__ import annotations

from cordiale.observatory.families import (
    Facts,
    impact_value_sql,
    institution_attrs_sql,
    joint_institutions_sql,
    side_values_sql,
    store_values_sql,
)
from cordiale.observatory.pipeline import (
    LEVELS,
    UNIT_WORKS_SQL,
    Step,
    _members,
    cross_authors_sql,
    cross_steps,
    names_sql,
    prepared_ref_classes_sql,
)
from cordiale.observatory.query import RULES, ObsQuery, lit, lit_list, values_table

# The year up to which works have a full calendar year of citations (snapshot year − 2), in SQL.
LAST_CITED_YEAR = "(SELECT CAST(SUBSTR(MAX(updated_date), 1, 4) AS INTEGER) - 2 FROM works)"


def eligible(q: ObsQuery) -> bool:
    """Whether the per-unit tables answer ``q`` (a curation is checked by the caller)."""
    return q.field is None and q.sdg is None and q.sdg_source == "openalex"


def list_inputs() -> list[tuple[str, str, str]]:
    """(name, SQL, sort) of the integer keys and per-work lists built before obs_ref_pair_<rule>, which
    carries them, so that a two-partner query finds every link-derived input of its joint works in the
    rows it already reads (one partner's range) instead of joining the store's links to them."""
    return [
        # Each row in obs_ref_ikeys is one linked institution with a dense integer key.
        (
            "obs_ref_ikeys",
            "SELECT institution_id, CAST(row_number() OVER (ORDER BY institution_id) AS INTEGER) AS ik "
            "FROM (SELECT DISTINCT institution_id FROM obs_ref_links)",
            "ik",
        ),
        # Each row in obs_ref_akeys is one author on a link with a dense integer key.
        (
            "obs_ref_akeys",
            "SELECT author_id, CAST(row_number() OVER (ORDER BY author_id) AS INTEGER) AS ak "
            "FROM (SELECT DISTINCT author_id FROM obs_ref_links WHERE author_id IS NOT NULL)",
            "ak",
        ),
        # Each row in obs_ref_work_lists is one work with its integer key and lists: its links as (author
        # key, institution key) pairs (l_links; the author key NULL where the authorship has no author id),
        # its distinct direct institutions (l_insts, keys), funding statements (l_fund) and OpenAlex SDG
        # labels (l_sdgs).
        (
            "obs_ref_work_lists",
            """
            SELECT k.work_id, k.wk, li.l_links, li.l_insts, lf.l_fund, ls.l_sdgs
            FROM obs_ref_work_keys k
            LEFT JOIN (
                SELECT l.work_id, list({'a': a.ak, 'i': i.ik}) AS l_links, list(DISTINCT i.ik) AS l_insts
                FROM obs_ref_links l JOIN obs_ref_ikeys i ON i.institution_id = l.institution_id
                LEFT JOIN obs_ref_akeys a ON a.author_id = l.author_id
                GROUP BY l.work_id
            ) li ON li.work_id = k.work_id
            LEFT JOIN (
                SELECT work_id,
                       list({'funder_id': funder_id, 'funder_name': funder_name, 'award_id': award_id})
                           AS l_fund
                FROM work_funding GROUP BY work_id
            ) lf ON lf.work_id = k.work_id
            LEFT JOIN (
                SELECT work_id, list(DISTINCT sdg) AS l_sdgs FROM work_sdgs GROUP BY work_id
            ) ls ON ls.work_id = k.work_id""",
            "",
        ),
    ]


def unit_steps() -> list[tuple[str, str, str]]:
    """(name, SQL, sort) of the store-wide tables of this path, built by ``prepare`` after the pair
    view's ``obs_ref_work_keys`` and the reference tables."""
    scope = (
        "(SELECT id AS work_id, publication_year AS year, type FROM obs_ref_works "
        "WHERE publication_year IS NOT NULL{})"
    )
    cites = "SELECT work_id, c FROM obs_ref_cites"
    out = [
        # Each row in obs_ref_ncs is one classified work with its citation values in a world without
        # retracted works (_x, the default scope) and with them (_r, --include-retracted).
        (
            "obs_ref_ncs",
            f"""
            SELECT COALESCE(x.work_id, r.work_id) AS work_id, x.ncs AS ncs_x, x.top10 AS top10_x,
                   r.ncs AS ncs_r, r.top10 AS top10_r
            FROM ({store_values_sql(scope.format(" AND is_retracted IS NOT TRUE"), LAST_CITED_YEAR, cites)}) x
            FULL OUTER JOIN ({store_values_sql(scope.format(""), LAST_CITED_YEAR, cites)}) r
              ON r.work_id = x.work_id""",
            "",
        ),
        # Each row in obs_ref_class_names is one (level, class) with its name.
        (
            "obs_ref_class_names",
            "\nUNION ALL\n".join(
                f"SELECT '{lv}' AS level, {lv}_id AS class_id, MAX({lv}_name) AS class_name "
                f"FROM obs_ref_primary GROUP BY {lv}_id"
                for lv in LEVELS
            ),
            "",
        ),
        # Each row in obs_ref_scope_years is one (year, type, retracted) that some work has.
        (
            "obs_ref_scope_years",
            "SELECT DISTINCT publication_year AS year, type, COALESCE(is_retracted, FALSE) AS retracted "
            "FROM obs_ref_works WHERE publication_year IS NOT NULL",
            "",
        ),
        # Each row in obs_ref_links_wk is one link of obs_ref_links, keyed by the work's integer.
        (
            "obs_ref_links_wk",
            "SELECT k.wk, l.position, l.institution_id, l.share, l.author_id "
            "FROM obs_ref_links l JOIN obs_ref_work_keys k ON k.work_id = l.work_id",
            "wk",
        ),
        # Each row in obs_ref_funding_wk is one funding statement, keyed by the work's integer.
        (
            "obs_ref_funding_wk",
            "SELECT k.wk, f.funder_id, f.funder_name, f.award_id "
            "FROM work_funding f JOIN obs_ref_work_keys k ON k.work_id = f.work_id",
            "wk",
        ),
        # Each row in obs_ref_sdgs_wk is one OpenAlex SDG label, keyed by the work's integer.
        (
            "obs_ref_sdgs_wk",
            "SELECT DISTINCT k.wk, s.sdg FROM work_sdgs s JOIN obs_ref_work_keys k ON k.work_id = s.work_id",
            "wk",
        ),
    ]
    for rule in RULES:
        out += [
            # Each row in obs_ref_unit_insts_<rule> is one (unit, direct institution rolling up to it,
            # year, type, retracted): the works with an author at that institution.
            (
                f"obs_ref_unit_insts_{rule}",
                f"""
                SELECT u.unit, u.institution_id, w.publication_year AS year, w.type,
                       COALESCE(w.is_retracted, FALSE) AS retracted,
                       CAST(COUNT(DISTINCT u.work_id) AS BIGINT) AS n
                FROM obs_ref_units_{rule} u JOIN obs_ref_works w ON w.id = u.work_id
                WHERE w.publication_year IS NOT NULL
                GROUP BY u.unit, u.institution_id, w.publication_year, w.type,
                         COALESCE(w.is_retracted, FALSE)""",
                "unit",
            ),
            (f"obs_ref_unit_cube_{rule}", cube_sql(rule), "unit"),
            # Each row in obs_ref_unit_sdgs_<rule> is one (unit, OpenAlex SDG, year, type, retracted).
            (
                f"obs_ref_unit_sdgs_{rule}",
                f"""
                SELECT x.unit, s.sdg, x.year, x.type, x.retracted, CAST(COUNT(*) AS BIGINT) AS n,
                       CAST(SUM(x.w) AS DOUBLE) AS f
                FROM obs_ref_pair_{rule} x JOIN obs_ref_sdgs_wk s ON s.wk = x.wk
                GROUP BY x.unit, s.sdg, x.year, x.type, x.retracted""",
                "unit",
            ),
        ]
    return out


# The value sources a query may read (``_value_source``): the store's own citation values without
# retracted works in the world (x) or with them (r), and OpenAlex's (o). Each is (ncs, top10, has a value)
# over a row of obs_ref_pair (alias u); OpenAlex's year bound is applied when the cube is read.
_CUBE_VALUES = {
    "x": ("u.ncs_x", "u.top10_x", "u.top10_x IS NOT NULL"),
    "r": ("u.ncs_r", "u.top10_r", "u.top10_r IS NOT NULL"),
    "o": (
        "u.fwci",
        "CASE WHEN u.top10_openalex IS NULL THEN CAST(NULL AS DOUBLE) "
        "WHEN u.top10_openalex THEN CAST(1 AS DOUBLE) ELSE CAST(0 AS DOUBLE) END",
        "(u.fwci IS NOT NULL OR u.top10_openalex IS NOT NULL)",
    ),
}
_SUM_NAMES = ("c_ncs", "s_ncs", "sw_ncs", "w_ncs", "c_top10", "s_top10", "sw_top10", "w_top10")
CUBE_DIMS = ("year", "type", "retracted", "oa_status", "has_primary", *(f"{lv}_id" for lv in LEVELS))


def cube_sql(rule: str) -> str:
    """obs_ref_unit_cube_<rule>: each row is one (unit, year, type, retracted, OA status, primary topic)
    with its works, fractional count and, per value source, the impact family's sums (IMPACT_SUMS) over
    the works holding a value (``nv_<source>``: how many). Every side aggregate of a query is a sum of
    these cells, so a query reads a few cells per partner instead of each of its works."""
    sums = []
    for v, (ncs, top10, has) in _CUBE_VALUES.items():
        sums.append(f"CAST(COUNT(CASE WHEN {has} THEN 1 END) AS BIGINT) AS nv_{v}")
        for name, expr in (("ncs", ncs), ("top10", top10)):
            val = f"CASE WHEN {has} THEN {expr} END"
            sums += [
                f"CAST(COUNT({val}) AS BIGINT) AS c_{name}_{v}",
                f"CAST(SUM({val}) AS DOUBLE) AS s_{name}_{v}",
                f"CAST(SUM(u.w * ({val})) AS DOUBLE) AS sw_{name}_{v}",
                f"CAST(SUM(CASE WHEN ({val}) IS NOT NULL THEN u.w END) AS DOUBLE) AS w_{name}_{v}",
            ]
    dims = ", ".join(f"u.{d}" for d in CUBE_DIMS)
    return f"""
                SELECT u.unit, {dims}, CAST(COUNT(*) AS BIGINT) AS n, CAST(SUM(u.w) AS DOUBLE) AS f,
                       {", ".join(sums)}
                FROM obs_ref_pair_{rule} u GROUP BY u.unit, {dims}"""


def _value_source(q: ObsQuery, facts: Facts) -> tuple[str, str]:
    """The value source ``q`` reads (a key of _CUBE_VALUES) and the year bound its values need, as a
    condition on an alias's ``year`` ({a}): OpenAlex's values need a full year of citations."""
    if facts.reference_complete:
        return ("r" if q.include_retracted else "x"), ""
    return "o", f" AND {{a}}.year <= {int(facts.snapshot_date[:4]) - 2}"


def cube_side_steps(q: ObsQuery, facts: Facts) -> list[Step]:
    """o_side_years, o_side_classes, o_side_oa and o_side_impact from the partners' cells of the cube."""
    cells = (
        f"SELECT c.unit AS partner, c.* FROM obs_ref_unit_cube_{q.rule} c "
        f"WHERE c.unit IN ({lit_list(q.partners)}) AND {_scope(q, 'c')}"
    )
    v, bound = _value_source(q, facts)
    valued = f"c.nv_{v} > 0" + bound.format(a="c")
    level_ids = ", ".join(f"c.{lv}_id" for lv in LEVELS)
    classes = f"""
        WITH t AS (
            SELECT c.partner, {level_ids}, SUM(c.n) AS n, SUM(c.f) AS f
            FROM o_side_cells c WHERE c.has_primary GROUP BY c.partner, {level_ids}
        )\n""" + "\nUNION ALL\n".join(
        f"""SELECT c.partner, '{lv}' AS level, c.class_id, nm.class_name, c.n, c.f FROM (
                SELECT t.partner, t.{lv}_id AS class_id, CAST(SUM(t.n) AS BIGINT) AS n,
                       CAST(SUM(t.f) AS DOUBLE) AS f
                FROM t GROUP BY t.partner, t.{lv}_id
            ) c LEFT JOIN obs_ref_class_names nm ON nm.level = '{lv}'
                AND nm.class_id IS NOT DISTINCT FROM c.class_id"""
        for lv in LEVELS
    )
    impact = ", ".join(
        f"CAST(SUM(c.{name}_{v}) AS {'BIGINT' if name.startswith('c_') else 'DOUBLE'}) AS {name}"
        for name in _SUM_NAMES
    )
    return [
        # Each row in o_side_cells is one cell of the cube for a partner, in scope.
        Step("o_side_cells", cells),
        Step(
            "o_side_years",
            "SELECT c.partner, c.year, CAST(SUM(c.n) AS BIGINT) AS n, CAST(SUM(c.f) AS DOUBLE) AS f "
            "FROM o_side_cells c GROUP BY c.partner, c.year",
        ),
        Step("o_side_classes", classes),
        Step(
            "o_side_oa",
            """
            SELECT c.partner, c.year, COALESCE(c.oa_status, 'unknown') AS oa_status,
                   CAST(SUM(c.n) AS BIGINT) AS n, CAST(SUM(c.f) AS DOUBLE) AS f
            FROM o_side_cells c GROUP BY c.partner, c.year, COALESCE(c.oa_status, 'unknown')""",
        ),
        Step(
            "o_side_impact",
            f"SELECT c.partner, c.year, {impact} FROM o_side_cells c WHERE {valued} "
            "GROUP BY c.partner, c.year",
        ),
    ]


def _scope(q: ObsQuery, alias: str) -> str:
    years = f" AND {alias}.year BETWEEN {q.years[0]} AND {q.years[1]}" if q.years else ""
    retracted = "" if q.include_retracted else f" AND NOT {alias}.retracted"
    return f"{alias}.type IN ({lit_list(q.types)}){years}{retracted}"


def _value_columns(q: ObsQuery, facts: Facts) -> tuple[str, str, str]:
    """(ncs, top10, has a value) over a row of obs_ref_pair (alias u), by the impact source."""
    v, bound = _value_source(q, facts)
    ncs, top10, has = _CUBE_VALUES[v]
    return ncs, top10, has + bound.format(a="u")


def joint_weights_sql(q: ObsQuery) -> str:
    """o_jw: each joint work's key and each partner's weight on it (NULL when absent)."""
    if len(q.partners) == 2:
        a, b = (
            f"SELECT u.wk, u.w FROM obs_ref_pair_{q.rule} u WHERE u.unit = {lit(p)} AND {_scope(q, 'u')}"
            for p in q.partners
        )
        return f"SELECT a.wk, a.w AS w_0, b.w AS w_1 FROM ({a}) a JOIN ({b}) b ON b.wk = a.wk"
    w_cols = ", ".join(f"MAX(CASE WHEN pidx = {i} THEN w END) AS w_{i}" for i in range(len(q.partners)))
    return f"SELECT wk, {w_cols} FROM o_pu GROUP BY wk HAVING COUNT(*) >= 2"


def anchor_partner(counts: dict[str, int]) -> str | None:
    """The partner with the fewest (unit, work) rows (ties: the first id), whose range o_perwork reads."""
    return min(sorted(counts), key=lambda p: counts[p]) if counts else None


# The per-work columns of o_perwork (beside the key and the weights), read from a partner's rows of
# obs_ref_pair.
_PERWORK_NAMES = (
    "year",
    "type",
    "trunc",
    "oa_status",
    "fwci",
    "top10_openalex",
    "has_primary",
    *(f"{lv}_id" for lv in LEVELS),
    "ncs_x",
    "top10_x",
    "ncs_r",
    "top10_r",
)
_PERWORK_COLS = "c.wk AS work_id, " + ", ".join(f"c.{n}" for n in _PERWORK_NAMES)


def _perwork_sql(q: ObsQuery, w: dict[int, str], source: str, lists: str = "") -> str:
    idx = range(len(q.partners))
    return f"""
            SELECT {_PERWORK_COLS},
                   {" + ".join(f"(CASE WHEN {w[i]} IS NULL THEN 0 ELSE 1 END)" for i in idx)} AS n_partners,
                   {" + ".join(f"COALESCE({w[i]}, 0)" for i in idx)} AS w_sum,
                   {", ".join(f"{w[i]} AS w_{i}" for i in idx)}, c.unaffiliated_share{lists}
            {source}"""


def _wp_step(q: ObsQuery) -> Step:
    # Each row in o_wp is one (joint work, partner) with the partner's weight (a view: no family reads it
    # on this path, which takes the side rows from the per-unit tables).
    return Step(
        "o_wp",
        "\nUNION ALL\n".join(
            f"SELECT wk AS work_id, {i} AS pidx, {lit(p)} AS partner, w_{i} AS w FROM o_jw "
            f"WHERE w_{i} IS NOT NULL"
            for i, p in enumerate(q.partners)
        ),
        view=True,
    )


def _listed_joint_steps(q: ObsQuery, anchor: str) -> list[Step]:
    """Two partners: o_pj, the join of the other partner's weights to the anchor's rows (one pass over
    each range), carrying the anchor's per-work lists; o_perwork, o_jw and o_wp are views over it."""
    a = q.partners.index(anchor)
    other = 1 - a
    source = f"""FROM (
                SELECT * FROM obs_ref_pair_{q.rule} u WHERE u.unit = {lit(anchor)} AND {_scope(q, "u")}
            ) c JOIN (
                SELECT u.wk, u.w FROM obs_ref_pair_{q.rule} u
                WHERE u.unit = {lit(q.partners[other])} AND {_scope(q, "u")}
            ) o ON o.wk = c.wk"""
    lists = ", c.l_links, c.l_insts, c.l_fund, c.l_sdgs"
    weights = ("n_partners", "w_sum", "w_0", "w_1", "unaffiliated_share")
    scalar = ", ".join(("work_id", *_PERWORK_NAMES, *weights))
    return [
        # Each row in o_pj is one joint work: its weights per partner, flags, classes and values, read
        # from the anchor's range (the partner with fewest rows), and its lists: its links (author and
        # institution keys), institutions, funding statements and SDG labels.
        Step("o_pj", _perwork_sql(q, {a: "c.w", other: "o.w"}, source, lists)),
        # Each row in o_perwork is one joint work without its lists (the per-work table of every path).
        Step("o_perwork", f"SELECT {scalar} FROM o_pj", view=True),
        # Each row in o_jw is one joint work with each partner's weight (w_<i>).
        Step("o_jw", "SELECT work_id AS wk, w_0, w_1 FROM o_pj", view=True),
        Step("o_joint_keys", "SELECT wk FROM o_jw", view=True),
        _wp_step(q),
    ]


def _linked_joint_steps(q: ObsQuery) -> list[Step]:
    """Any number of partners: o_jw first, then o_perwork reads every partner's rows for its works (a
    joint work need not include any one partner)."""
    idx = range(len(q.partners))
    columns = "SELECT DISTINCT ON (wk) * FROM o_pu WHERE wk IN (SELECT wk FROM o_jw)"
    return [
        # Each row in o_jw is one joint work (two partners or more) with each partner's weight (w_<i>,
        # NULL when absent).
        Step("o_jw", joint_weights_sql(q)),
        Step("o_joint_keys", "SELECT wk FROM o_jw", view=True),
        _wp_step(q),
        # Each row in o_perwork is one joint work, its per-work columns read from every partner's rows.
        Step(
            "o_perwork",
            _perwork_sql(q, {i: f"j.w_{i}" for i in idx}, f"FROM o_jw j JOIN ({columns}) c ON c.wk = j.wk"),
        ),
    ]


def _listed_steps(q: ObsQuery) -> list[Step]:
    """The link-derived inputs of the families from o_pj's lists (two partners with an anchor)."""
    return [
        # Each row in o_prollup is one (institution key, partner index): the institution rolls up to the
        # partner (a few thousand rows: the partners' units).
        Step(
            "o_prollup",
            f"""
            SELECT k.ik, p.pidx FROM obs_ref_rollup_{q.rule} r
            JOIN obs_ref_ikeys k ON k.institution_id = r.institution_id
            JOIN o_partners p ON p.partner = r.unit""",
        ),
        # Each row in o_plinks is one link of a joint work rolling up to a partner: the work, its year,
        # the partner's index and the link's author key (a link can roll up to both partners).
        Step(
            "o_plinks",
            """
            SELECT x.work_id, x.year, r.pidx, struct_extract(x.lk, 'a') AS ak
            FROM (SELECT work_id, year, UNNEST(l_links) AS lk FROM o_pj) x
            JOIN o_prollup r ON r.ik = struct_extract(x.lk, 'i')""",
        ),
        # Each row in o_inst_keys is one (joint work, direct institution key): its list l_insts unnested.
        Step("o_inst_keys", "SELECT work_id, UNNEST(l_insts) AS ik FROM o_pj"),
        # Each row in o_unit_works is one (partner, joint work, direct institution on it rolling up to
        # the partner): unique without a DISTINCT, a work's institutions (l_insts) being distinct.
        Step(
            "o_unit_works",
            """
            SELECT p.partner, k.institution_id, x.work_id
            FROM o_inst_keys x
            JOIN o_prollup r ON r.ik = x.ik
            JOIN obs_ref_ikeys k ON k.ik = x.ik JOIN o_partners p ON p.pidx = r.pidx""",
        ),
        # o_cross from the partners' author keys, turned into ids on the counted pairs.
        *cross_steps(
            "SELECT DISTINCT work_id, year, pidx, ak AS author_id FROM o_plinks WHERE ak IS NOT NULL",
            2,
            authors="obs_ref_akeys",
        ),
        Step(
            "o_sdg_labels",
            "SELECT work_id, UNNEST(l_sdgs) AS sdg FROM o_pj",
            view=True,  # read once, by the SDG family
        ),
        # o_inst as on the other paths, kept as keys: each joint work's institution keys (o_inst_keys), the
        # attributes of each institution once (o_inst_attrs), and a view joining them for the two
        # families that read it (storing the 1M joined rows at 10M works cost more than joining twice).
        Step(
            "o_inst_attrs",
            f"""
            SELECT k.ik, a.* FROM ({
                institution_attrs_sql(
                    "SELECT k.institution_id FROM (SELECT DISTINCT ik FROM o_inst_keys) x "
                    "JOIN obs_ref_ikeys k ON k.ik = x.ik"
                )
            }) a JOIN obs_ref_ikeys k ON k.institution_id = a.institution_id""",
        ),
        Step(
            "o_inst",
            "SELECT x.work_id, a.* EXCLUDE (ik) FROM o_inst_keys x JOIN o_inst_attrs a ON a.ik = x.ik",
            view=True,
        ),
        Step(
            "o_funding",
            """
            SELECT x.work_id, struct_extract(x.f, 'funder_id') AS funder_id,
                   struct_extract(x.f, 'funder_name') AS funder_name,
                   struct_extract(x.f, 'award_id') AS award_id
            FROM (SELECT work_id, UNNEST(l_fund) AS f FROM o_pj) x""",
            view=True,  # read once, by the funders family
        ),
    ]


def _linked_steps(q: ObsQuery) -> list[Step]:
    """The link-derived inputs of the families from the store's links of the joint works (o_links)."""
    joint = "(SELECT wk FROM o_joint_keys)"
    return [
        Step(
            "o_links",
            "SELECT l.wk AS work_id, l.position, l.institution_id, l.share, l.author_id "
            "FROM obs_ref_links_wk l SEMI JOIN o_jw j ON j.wk = l.wk",
        ),
        # Each row in o_units is one (link of a joint work, partner it rolls up to); unique without a
        # DISTINCT: a link is stored once, and each (institution, unit) once in the roll-up. Only the
        # columns read on this path (the weights come from the partners' rows, not from the links' shares).
        Step(
            "o_units",
            f"""
            SELECT l.work_id, l.institution_id, r.unit, l.author_id
            FROM o_links l JOIN (
                SELECT institution_id, unit FROM obs_ref_rollup_{q.rule}
                WHERE unit IN ({lit_list(q.partners)})
            ) r ON r.institution_id = l.institution_id""",
        ),
        Step("o_unit_works", UNIT_WORKS_SQL),
        *cross_steps(cross_authors_sql(prepared=True, joint_only=True), len(q.partners)),
        Step(
            "o_sdg_labels",
            f"SELECT s.wk AS work_id, s.sdg FROM obs_ref_sdgs_wk s WHERE s.wk IN {joint}",
            view=True,  # read once, by the SDG family
        ),
        Step("o_inst", joint_institutions_sql(joint_only=True)),
        Step(
            "o_funding",
            "SELECT f.wk AS work_id, f.funder_id, f.funder_name, f.award_id "
            f"FROM obs_ref_funding_wk f WHERE f.wk IN {joint}",
            view=True,  # read once, by the funders family
        ),
    ]


def listed(q: ObsQuery, anchor: str | None) -> bool:
    """Whether the query reads the per-work lists (two partners, one of them the anchor) rather than
    the store's links."""
    return anchor is not None and len(q.partners) == 2


def fast_steps(q: ObsQuery, facts: Facts, anchor: str | None = None) -> list[Step]:
    """Every per-query table the families read, from the per-unit tables (see the module's note).
    ``anchor``: the partner whose range gives the joint works' per-work columns and lists (two
    partners); otherwise the joint works' links are read from the store."""
    partners = values_table(
        [("partner", "VARCHAR"), ("pidx", "INTEGER")], [(p, i) for i, p in enumerate(q.partners)]
    )
    rule = q.rule
    ncs, top10, has_value = _value_columns(q, facts)
    valued = f"SELECT u.partner, u.year, u.w, {ncs} AS ncs, {top10} AS top10 FROM o_pu u WHERE {has_value}"
    levels = "\nUNION ALL\n".join(
        f"SELECT work_id, '{lv}' AS level, {lv}_id AS class_id, CAST(NULL AS VARCHAR) AS class_name, "
        "n_partners FROM o_perwork WHERE has_primary"
        for lv in LEVELS
    )
    value_sql = (
        f"SELECT work_id, year, {ncs.replace('u.', '')} AS ncs, {top10.replace('u.', '')} AS top10 "
        f"FROM o_perwork WHERE {has_value.replace('u.', '')}"
        if facts.reference_complete
        else impact_value_sql(facts)
    )
    lists = anchor if listed(q, anchor) else None
    pidx = "CASE u.unit " + " ".join(f"WHEN {lit(p)} THEN {i}" for i, p in enumerate(q.partners)) + " END"
    return [
        Step("o_partners", partners),
        # Each row in o_years is one publication year with works in scope.
        Step("o_years", f"SELECT DISTINCT c.year FROM obs_ref_scope_years c WHERE {_scope(q, 'c')}"),
        # A view: each row is one (partner, work in scope) with every per-work column (obs_ref_pair).
        Step(
            "o_pu",
            f"""
            SELECT u.unit AS partner, {pidx} AS pidx, u.* FROM obs_ref_pair_{rule} u
            WHERE u.unit IN ({lit_list(q.partners)}) AND {_scope(q, "u")}""",
            view=True,  # the partner index by a CASE, not a join: the view spans millions of rows
        ),
        *(_listed_joint_steps(q, lists) if lists else _linked_joint_steps(q)),
        Step("o_members", _members(q, sides=False)),
        Step("o_rollup", f"SELECT institution_id, unit FROM obs_ref_rollup_{rule}"),
        Step("o_levels", levels, view=True),
        Step("o_ref_classes", prepared_ref_classes_sql(q)),
        *(_listed_steps(q) if lists else _linked_steps(q)),
        Step("o_names", names_sql("obs_ref_authors")),
        Step("o_changed", values_table([("work_id", "VARCHAR")], [])),
        Step("o_values", value_sql),
        # The sides: each partner's whole output, aggregated from its cells of the cube (its rows for
        # the bootstrap's values and its SDG labels).
        *cube_side_steps(q, facts),
        Step(
            "o_side_sdg",
            f"""
            SELECT c.unit AS partner, c.sdg, c.year, CAST(SUM(c.n) AS BIGINT) AS n,
                   CAST(SUM(c.f) AS DOUBLE) AS f
            FROM obs_ref_unit_sdgs_{rule} c
            WHERE c.unit IN ({lit_list(q.partners)}) AND {_scope(q, "c")}
            GROUP BY c.unit, c.sdg, c.year""",
        ),
        # a view: read once, by the bootstrap
        Step("o_side_values", side_values_sql(valued, "s.ncs", "s.top10"), view=True),
        Step(
            "o_side_units",
            f"""
            SELECT c.unit AS partner, c.institution_id, CAST(SUM(c.n) AS BIGINT) AS n
            FROM obs_ref_unit_insts_{rule} c
            WHERE c.unit IN ({lit_list(q.partners)}) AND {_scope(q, "c")}
            GROUP BY c.unit, c.institution_id""",
        ),
    ]
