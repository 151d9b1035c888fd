"""Per-partner ("side") tables and the per-work tables every family reads beside ``o_perwork``.

The families compute their joint figures from the joint works of ``o_perwork`` / ``o_members`` and
their side figures (each partner's whole output) from the ``o_side_*`` tables below, never from the
side rows themselves. So the side figures can come from two places with one family definition:

* here, aggregated from the full per-work tables (the raw and prepared paths, and Spark);
* ``units.py``, aggregated from the store-wide per-unit tables that ``cordiale observe prepare``
  builds, without materialising a partner's whole output per work (the DuckDB fast path).

Every statement is in the portable subset of ``pipeline.py`` (DuckDB dialect, transpiled for Spark).
"""

from __future__ import annotations

from cordiale.observatory.families import IMPACT_SUMS, Facts, impact_value_sql, side_values_sql
from cordiale.observatory.pipeline import Step
from cordiale.observatory.query import ObsQuery, values_table

# The side rows of o_members: one (partner, work) with the partner's weight.
_SIDE = "SELECT work_id, year, unit_key AS partner, w FROM o_members WHERE kind = 'side'"


def labels_sql(q: ObsQuery) -> str:
    """Each row: one (work, SDG) label of the query's SDG source."""
    if q.sdg_source == "openalex":
        return "SELECT DISTINCT work_id, sdg FROM work_sdgs"
    return "SELECT DISTINCT work_id, sdg FROM sdg_scores WHERE assigned"


def value_steps(q: ObsQuery, facts: Facts) -> list[Step]:
    """Per-work inputs of the impact, SDG and funders families, for the works of o_members."""
    return [
        # Each row in o_values is one work of o_perwork with its citation value and top-10% share.
        Step("o_values", impact_value_sql(facts)),
        # Each row in o_sdg_labels is one (work of o_members, SDG) label.
        Step(
            "o_sdg_labels",
            f"""
            SELECT l.work_id, l.sdg FROM ({labels_sql(q)}) l
            JOIN (SELECT DISTINCT work_id FROM o_members) m ON m.work_id = l.work_id"""
            if q.sdg_source == "openalex" or facts.has_sdg_scores
            else values_table([("work_id", "VARCHAR"), ("sdg", "INTEGER")], []),  # no scores: no labels
        ),
        # Each row in o_funding is one funding statement of a joint work.
        Step(
            "o_funding",
            """
            SELECT f.work_id, f.funder_id, f.funder_name, f.award_id FROM work_funding f
            JOIN (SELECT DISTINCT work_id FROM o_members WHERE kind = 'joint') m ON m.work_id = f.work_id""",
            view=True,  # read once, by the funders family
        ),
    ]


def side_steps() -> list[Step]:
    """The o_side_* tables from the full per-work tables (o_members' side rows). Views: each is read by
    one family (o_side_years by two), so on Spark a checkpoint job each would only add to the query."""
    return [
        # Each row in o_side_years is one (partner, year): its works and fractional count.
        Step(
            "o_side_years",
            f"""
            SELECT s.partner, s.year, CAST(COUNT(*) AS BIGINT) AS n, CAST(SUM(s.w) AS DOUBLE) AS f
            FROM ({_SIDE}) s GROUP BY s.partner, s.year""",
            view=True,
        ),
        # Each row in o_side_classes is one (partner, level, class) of the primary topics.
        Step(
            "o_side_classes",
            f"""
            SELECT s.partner, lv.level, lv.class_id, MAX(lv.class_name) AS class_name,
                   CAST(COUNT(*) AS BIGINT) AS n, CAST(SUM(s.w) AS DOUBLE) AS f
            FROM ({_SIDE}) s JOIN o_levels lv ON lv.work_id = s.work_id
            GROUP BY s.partner, lv.level, lv.class_id""",
            view=True,
        ),
        # Each row in o_side_oa is one (partner, year, OA status).
        Step(
            "o_side_oa",
            f"""
            SELECT s.partner, s.year, COALESCE(p.oa_status, 'unknown') AS oa_status,
                   CAST(COUNT(*) AS BIGINT) AS n, CAST(SUM(s.w) AS DOUBLE) AS f
            FROM ({_SIDE}) s JOIN o_perwork p ON p.work_id = s.work_id
            GROUP BY s.partner, s.year, COALESCE(p.oa_status, 'unknown')""",
            view=True,
        ),
        # Each row in o_side_sdg is one (partner, SDG, year).
        Step(
            "o_side_sdg",
            f"""
            SELECT s.partner, l.sdg, s.year, CAST(COUNT(*) AS BIGINT) AS n, CAST(SUM(s.w) AS DOUBLE) AS f
            FROM ({_SIDE}) s JOIN o_sdg_labels l ON l.work_id = s.work_id
            GROUP BY s.partner, l.sdg, s.year""",
            view=True,
        ),
        # Each row in o_side_impact is one (partner, year): the sums the impact family divides.
        Step(
            "o_side_impact",
            f"""
            SELECT s.partner, s.year, {IMPACT_SUMS.format(w="s.w")}
            FROM ({_SIDE}) s JOIN o_values v ON v.work_id = s.work_id
            GROUP BY s.partner, s.year""",
            view=True,
        ),
        # Each row in o_side_values is one (partner, measure, value, weight) with the works holding it:
        # the input of the bootstrap, reduced to distinct pairs.
        Step(
            "o_side_values",
            side_values_sql(_SIDE, "v.ncs", "v.top10", "JOIN o_values v ON v.work_id = s.work_id"),
            view=True,
        ),
        # Each row in o_side_units is one (partner, direct institution rolling up to it): its works.
        Step(
            "o_side_units",
            """
            SELECT p.partner, u.institution_id, CAST(COUNT(DISTINCT u.work_id) AS BIGINT) AS n
            FROM o_units u JOIN o_partners p ON p.partner = u.unit
            GROUP BY p.partner, u.institution_id""",
            view=True,
        ),
    ]
