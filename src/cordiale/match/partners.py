"""Third partners: institutions of a region that work on a theme, and whether they already co-publish with
A, B or both.

Candidates are the institutions in the store (direct affiliations) whose country (OpenAlex's, else ROR's)
is in the region, other than A, B and their units. With a theme, an institution's score is the
recency-weighted number of its works on the theme (see ``themes.works_on_theme``); without one, the
cosine between its topic profile and the topic profile of A and B together, times n / (n + 5) for an
institution with n works in the store (a handful of works says little).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cordiale.ids import ror_id_sql
from cordiale.match.profiles import LEVEL_WEIGHTS, feature_level, recency
from cordiale.match.regions import parse_region
from cordiale.match.sides import require_partner_works, rollup_sql
from cordiale.match.text import work_text
from cordiale.match.themes import works_on_theme
from cordiale.store.connection import reader, require_rows, writer

SHRINK_WORKS = 5


@dataclass(frozen=True)
class PartnerQuery:
    partners: tuple[str, str]
    region: str
    theme: str | None = None
    top: int = 20


def suggest_partners(
    store: Path, q: PartnerQuery, on_step: Callable[[str], None] | None = None
) -> dict[str, Any]:
    step = on_step or (lambda _: None)
    region_name, countries = parse_region(q.region)
    with reader(store) as con:
        require_rows(con, store, ("works",), "ingest works with `cordiale ingest FILES…` first")
        require_partner_works(con, str(store), q.partners)
    notes: list[str] = []
    with writer(store) as con:
        names = dict(
            con.execute(
                "SELECT id, display_name FROM institutions WHERE id IN (SELECT unnest($p))",
                {"p": list(q.partners)},
            ).fetchall()
        )
        step("candidates")
        # Each row is one (candidate institution, work) link, the institution being in the region.
        links = con.execute(
            f"""
            WITH roll AS ({rollup_sql()}),
            region AS (
                SELECT i.id, i.display_name, coalesce(i.country_code, r.country_code) AS country
                FROM institutions i LEFT JOIN ror_organizations r ON r.ror_id = {ror_id_sql("i.ror")}
                WHERE coalesce(i.country_code, r.country_code) IN (SELECT unnest($countries))
                  AND i.id NOT IN (SELECT institution_id FROM roll)
            )
            SELECT DISTINCT region.id, region.display_name, region.country, ai.work_id, w.publication_year
            FROM authorship_institutions ai JOIN region ON region.id = ai.institution_id
            JOIN works w ON w.id = ai.work_id
            WHERE w.publication_year IS NOT NULL
            """,
            {"partners": list(q.partners), "countries": sorted(countries)},
        ).fetchall()
        if not links:
            notes.append(f"the store holds no works of institutions in {region_name}")
        joint = dict(
            ((r[0], int(r[1])), int(r[2]))
            for r in con.execute(
                f"""
                WITH roll AS ({rollup_sql()})
                SELECT ai.institution_id, r.k, count(DISTINCT ai.work_id)
                FROM authorship_institutions ai
                JOIN authorship_institutions p ON p.work_id = ai.work_id
                JOIN roll r ON r.institution_id = p.institution_id
                WHERE ai.institution_id IN (SELECT unnest($c))
                GROUP BY ALL
                """,
                {"partners": list(q.partners), "c": sorted({r[0] for r in links})},
            ).fetchall()
        )
        info = {r[0]: (r[1], r[2]) for r in links}
        works_of: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for inst, _, _, work, year in links:
            works_of[inst].append((work, int(year)))
        on_theme: dict[str, float] | None = None
        nearest: list[tuple[str, str, float]] = []
        scores: dict[str, float] = {}
        if q.theme and q.theme.strip():
            step("theme")
            rows = con.execute(
                "SELECT id, title, abstract_inverted_index FROM works WHERE id IN (SELECT unnest($w))",
                {"w": sorted({r[3] for r in links})},
            ).fetchall()
            on_theme = works_on_theme(
                con, q.theme, [(r[0], r[1], work_text(r[1], r[2])) for r in rows], nearest
            )
            for inst, ws in works_of.items():
                hits = [y for w, y in ws if w in on_theme]
                if hits:
                    scores[inst] = float(recency(np.array(hits)).sum() / recency(np.array([2025]))[0])
            if links and not scores:
                notes.append(f"no institution in {region_name} has a work on {q.theme!r} in the store")
        else:
            step("topics")
            scores = _topic_scores(con, q, works_of)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[: q.top]
        institutions = []
        for inst, score in ranked:
            with_a, with_b = joint.get((inst, 0), 0), joint.get((inst, 1), 0)
            institutions.append(
                {
                    "id": inst,
                    "name": info[inst][0] or inst,
                    "country": info[inst][1],
                    "score": round(score, 4),
                    "works": len(works_of[inst]),
                    "works_on_theme": None
                    if on_theme is None
                    else sum(1 for w, _ in works_of[inst] if w in on_theme),
                    "joint_with_a": with_a,
                    "joint_with_b": with_b,
                    "co_publishes_with": "both"
                    if with_a and with_b
                    else "A"
                    if with_a
                    else "B"
                    if with_b
                    else "neither",
                }
            )
    a, b = q.partners
    return {
        "partners": {"a": {"id": a, "name": names.get(a) or a}, "b": {"id": b, "name": names.get(b) or b}},
        "region": {"name": region_name, "countries": sorted(countries)},
        "theme": None
        if on_theme is None
        else {  # the shape of ``match people``'s theme, with institutions in place of authors
            "text": q.theme,
            "nearest_topics": [{"id": k, "name": n, "similarity": round(sim, 3)} for k, n, sim in nearest],
            "works_on_theme": len(on_theme),
            "institutions_on_theme": len(scores),
        },
        "institutions": institutions,
        "notes": notes,
    }


def _topic_scores(con: Any, q: PartnerQuery, works_of: dict[str, list[tuple[str, int]]]) -> dict[str, float]:
    """Cosine between each candidate's topic profile and that of A and B together (recency-weighted)."""
    rows = con.execute(
        f"""
        WITH roll AS ({rollup_sql()})
        SELECT 'pair', t.topic_id, t.subfield_id, t.field_id, t.score, w.publication_year
        FROM (SELECT DISTINCT ai.work_id
              FROM authorship_institutions ai JOIN roll r USING (institution_id)) pw
        JOIN works w ON w.id = pw.work_id JOIN work_topics t ON t.work_id = w.id
        WHERE w.publication_year IS NOT NULL
        UNION ALL
        SELECT ai.institution_id, t.topic_id, t.subfield_id, t.field_id, t.score, w.publication_year
        FROM authorship_institutions ai JOIN works w ON w.id = ai.work_id
        JOIN work_topics t ON t.work_id = w.id
        WHERE ai.institution_id IN (SELECT unnest($c)) AND w.publication_year IS NOT NULL
        """,
        {"partners": list(q.partners), "c": sorted(works_of)},
    ).fetchall()
    vectors: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for owner, tid, sid, fid, score, year in rows:
        weight = float(recency(np.array([year]))[0]) * float(score or 0.0)
        for key in (tid, sid, fid):
            if key:
                vectors[owner][key] += weight * LEVEL_WEIGHTS[feature_level(key)]
    pair = vectors.get("pair", {})
    norm_pair = float(np.sqrt(sum(v * v for v in pair.values()))) or 1.0
    out: dict[str, float] = {}
    for inst in works_of:
        vec = vectors.get(inst, {})
        norm = float(np.sqrt(sum(v * v for v in vec.values())))
        if norm:
            cosine = sum(v * pair.get(k, 0.0) for k, v in vec.items()) / (norm * norm_pair)
            n = len(works_of[inst])
            out[inst] = cosine * n / (n + SHRINK_WORKS)  # a handful of works says little
    return out
