"""People: the observatory's ``people`` family shaped for a page (top cross-partner co-author pairs, each
side's labs and units, new and repeat pairs per year) and the works behind a pair, a unit or a year.

The rows are the observatory's (``cordiale pair A B --show people``); the drill-downs read the same
per-work tables the family is computed from (``o_cross_works``: one row per cross-partner co-authorship
of a work; ``o_links``: one row per direct affiliation link), so a list has as many works as the figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from cordiale.errors import UsageError
from cordiale.indicators import observe_store
from cordiale.observatory.curation import EMPTY
from cordiale.observatory.engines import DuckDBEngine
from cordiale.observatory.query import lit
from cordiale.observatory.run import build_per_work, check_partners
from cordiale.store.connection import reader
from cordiale.web.dashboard.overview import Filters, institution_names

TOP_UNITS = 12  # labs and units listed per partner (those with the most joint works)


@dataclass
class People:
    """Top co-author pairs, new and repeat pairs per year, and each partner's units with joint works."""

    filters: Filters
    names: dict[str, str]
    snapshot_date: str
    pairs: list[dict[str, Any]] = field(default_factory=list)  # the family's order: most joint works first
    years: list[dict[str, Any]] = field(default_factory=list)  # year, active_pairs, new_pairs, repeat_pairs
    units: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # partner → its top units

    @property
    def empty(self) -> bool:
        return not self.pairs


def load_people(db_path: Path, filters: Filters) -> People:
    obs = observe_store(db_path, filters.query(), ["people"])
    secs = obs.sections["people"]
    units = [u for u in secs["units"].to_pylist() if u["joint_works"]]
    by_partner = {
        p: sorted(
            (u for u in units if u["partner"] == p),
            key=lambda u: (-int(u["joint_works"]), -int(u["works"]), str(u["unit_id"])),
        )[:TOP_UNITS]
        for p in filters.partners
    }
    return People(
        filters=filters,
        names=institution_names(db_path, filters.partners),
        snapshot_date=obs.facts.snapshot_date,
        pairs=secs["pairs"].to_pylist(),
        years=sorted(secs["new-vs-repeat"].to_pylist(), key=lambda r: int(r["year"])),
        units=by_partner,
    )


def _ids(db_path: Path, filters: Filters, sql: str) -> set[str]:
    """Work ids from one query over the observatory's per-work tables, built for ``filters``."""
    q = filters.query()
    with reader(db_path) as con:
        eng = DuckDBEngine(con)
        check_partners(eng, q)
        build_per_work(eng, q, EMPTY)
        return {str(r["work_id"]) for r in eng.query(sql).to_pylist()}


def pair_work_ids(db_path: Path, filters: Filters, author_1: str, author_2: str) -> set[str]:
    """The works of one cross-partner co-author pair (as the family counts them: ``works``)."""
    return _ids(
        db_path,
        filters,
        "SELECT DISTINCT work_id FROM o_cross_works "
        f"WHERE author_1 = {lit(author_1)} AND author_2 = {lit(author_2)}",
    )


def unit_work_ids(db_path: Path, filters: Filters, unit_id: str) -> set[str]:
    """The joint works with an author directly affiliated to one unit (the family's ``joint_works``)."""
    return _ids(
        db_path,
        filters,
        "SELECT DISTINCT l.work_id FROM o_links l JOIN o_perwork pw ON pw.work_id = l.work_id "
        f"WHERE pw.n_partners >= 2 AND l.institution_id = {lit(unit_id)}",
    )


def new_pair_work_ids(db_path: Path, filters: Filters, year: int, kind: str) -> set[str]:
    """The works of ``year`` on which a ``new`` pair (first co-authored that year) or a ``repeat`` pair
    (co-authored before) worked together."""
    if kind not in ("new", "repeat"):
        raise UsageError(_("pairs must be new or repeat, not %(value)s") % {"value": repr(kind)})
    op = "=" if kind == "new" else "<"
    return _ids(
        db_path,
        filters,
        f"""WITH f AS (SELECT author_1, partner_1, author_2, partner_2, MIN(year) AS first_year
                      FROM o_cross_works GROUP BY author_1, partner_1, author_2, partner_2)
            SELECT DISTINCT c.work_id FROM o_cross_works c JOIN f ON f.author_1 = c.author_1
              AND f.partner_1 = c.partner_1 AND f.author_2 = c.author_2 AND f.partner_2 = c.partner_2
            WHERE c.year = {int(year)} AND f.first_year {op} {int(year)}""",
    )
