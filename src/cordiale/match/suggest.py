"""People to bring together: pairs (one researcher at A, one at B), each explained and checked for conflicts.

``suggest_pairs`` serves ``cordiale match people`` (pairs who do not co-author yet, optionally on a theme)
and ``cordiale match supervisors`` (co-supervisors for a project text: fit to the project first).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from scipy import sparse

from cordiale.coi import CoiPolicy, Person, check_conflicts
from cordiale.errors import UsageError
from cordiale.match.profiles import ProfileSet, feature_level, load_profiles, update_profiles
from cordiale.match.rank import (
    ContentVectors,
    PairComponents,
    adamic_adar_matrix,
    blocks,
    coauthor_graph,
    pair_components,
)
from cordiale.match.sides import Side, assign_sides, coauthor_pairs, require_partner_works
from cordiale.match.themes import ThemeMatch, match_theme
from cordiale.store.connection import reader, require_rows, writer

MAX_AUTHORS_PER_WORK = 20  # larger author lists (consortia) say little about who works with whom
SUPERVISOR_FIT_WEIGHT = 0.7


@dataclass(frozen=True)
class MatchQuery:
    partners: tuple[str, str]
    mode: str = "people"  # people / supervisors
    theme: str | None = None  # a theme (people) or a project's title and abstract (supervisors)
    top: int = 20
    include_existing: bool = False
    inactive_years: int = 3  # no work in the last N years → inactive: not ranked (flagged if kept)
    min_works: int = 1  # fewer works at the partner in the window → not ranked
    include_inactive: bool = False  # rank inactive authors too (flagged)
    window_years: int = 5  # sides and the co-author network use works of the last N years
    as_of_year: int | None = None  # default: the latest publication year in the store
    coi_years: int = 3


@dataclass
class MatchResult:
    query: MatchQuery
    as_of_year: int
    partner_names: dict[str, str]
    authors: tuple[int, int]  # authors placed on each side
    pairs: list[dict[str, Any]] = field(default_factory=list)
    theme: ThemeMatch | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        a, b = self.query.partners
        theme = None
        if self.theme is not None:
            theme = {
                "text": self.theme.text,
                "nearest_topics": [
                    {"id": k, "name": n, "similarity": round(s, 3)} for k, n, s in self.theme.topics
                ],
                "words_found": self.theme.terms,
                "works_on_theme": len(self.theme.matched_works),
                "authors_on_theme": int(self.theme.on_theme().sum()),
            }
        return {
            "mode": self.query.mode,
            "partners": {
                "a": {"id": a, "name": self.partner_names.get(a, a), "authors": self.authors[0]},
                "b": {"id": b, "name": self.partner_names.get(b, b), "authors": self.authors[1]},
            },
            "as_of_year": self.as_of_year,
            "theme": theme,
            "pairs": self.pairs,
            "notes": self.notes,
        }


def _as_of(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT max(publication_year) FROM works").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def window_graph(
    con: duckdb.DuckDBPyConnection, window: tuple[int, int], max_authors: int = MAX_AUTHORS_PER_WORK
) -> tuple[dict[str, int], sparse.csr_matrix, np.ndarray]:
    """The co-authorship graph of the window's works (author index, adjacency, degrees)."""
    rows = con.execute(
        """
        SELECT DISTINCT a.work_id, a.author_id FROM authorships a JOIN works w ON w.id = a.work_id
        WHERE a.author_id IS NOT NULL AND w.publication_year BETWEEN $lo AND $hi AND w.authors_count <= $m
        """,
        {"lo": window[0], "hi": window[1], "m": max_authors},
    ).fetchall()
    index: dict[str, int] = {}
    members: dict[str, list[int]] = defaultdict(list)
    for work, author in rows:
        members[work].append(index.setdefault(author, len(index)))
    adj, degree = coauthor_graph(len(index), list(members.values()))
    return index, adj, degree


def _graph_rows(
    index: dict[str, int], matrix: sparse.csr_matrix, authors: Sequence[str]
) -> sparse.csr_matrix:
    """Rows of ``matrix`` for ``authors`` (zero rows for authors outside the graph)."""
    pick = np.array([index.get(a, -1) for a in authors])
    ok = pick >= 0
    select = sparse.csr_matrix(
        (np.ones(int(ok.sum())), (np.flatnonzero(ok), pick[ok])), shape=(len(authors), matrix.shape[0])
    )
    return (select @ matrix).tocsr()


def suggest_pairs(store: Path, q: MatchQuery, on_step: Callable[[str], None] | None = None) -> MatchResult:
    """Ranked, explained pairs for the query (profiles are brought up to date first)."""
    step = on_step or (lambda _: None)
    if q.mode == "supervisors" and not (q.theme and q.theme.strip()):
        raise UsageError("supervisors need a project text (--text or --file)")
    with reader(store) as con:
        require_rows(con, store, ("works",), "ingest works with `cordiale ingest FILES…` first")
        require_partner_works(con, str(store), q.partners)
    step("profiles")
    update_profiles(store, q.partners, on_batch=lambda d, t: step(f"profiles {d:,}/{t:,} authors"))
    with writer(store) as con:
        as_of = q.as_of_year or _as_of(con)
        window = (as_of - q.window_years + 1, as_of)
        names = dict(
            con.execute(
                "SELECT id, display_name FROM institutions WHERE id IN (SELECT unnest($p))",
                {"p": list(q.partners)},
            ).fetchall()
        )
        step("sides")
        sides = assign_sides(con, q.partners, window)
        a_side = sorted(a for a, s in sides.items() if s.side == 0)
        b_side = sorted(a for a, s in sides.items() if s.side == 1)
        result = MatchResult(q, as_of, {k: v for k, v in names.items() if v}, (len(a_side), len(b_side)))
        if not a_side or not b_side:
            result.notes.append("one partner has no author with an OpenAlex author id in the store")
            return result
        profiles = load_profiles(con, a_side + b_side)
        content = ContentVectors.of(profiles)
        theme = None
        if q.theme and q.theme.strip():
            step("theme")
            theme = match_theme(con, profiles, content, q.theme, phrase=q.mode == "people")
            result.theme = theme
            on = theme.on_theme()
            index = profiles.index()
            counts = [sum(bool(on[index[x]]) for x in side) for side in (a_side, b_side)]
            if not on.any():
                result.notes.append(
                    f"no author of either partner works on {q.theme!r} in the store (no word of it in their "
                    "works, and no title close enough in meaning)"
                )
                return result
            for n, pid in zip(counts, q.partners, strict=True):
                if n == 0:
                    result.notes.append(f"no author at {pid} works on {q.theme!r} in the store")
                    return result
        step("network")
        gindex, adj, degree = window_graph(con, window)
        aa = adamic_adar_matrix(adj, degree)
        existing = coauthor_pairs(con, a_side, b_side)
        step("ranking")
        ranked_a, ranked_b = (_rankable(profiles, sides, side, q, as_of) for side in (a_side, b_side))
        candidates = _rank(profiles, content, ranked_a, ranked_b, gindex, aa, adj, existing, theme, q, sides)
        if not candidates:
            result.notes.append(
                "no pair left to suggest (every pair on the theme already co-authors, or its authors are "
                "inactive or have few works: see --include-existing and --include-inactive)"
            )
            return result
        step("explaining")
        result.pairs = _explain(con, profiles, sides, candidates, existing, theme, q, as_of)
    step("conflicts of interest")
    _add_conflicts(store, result.pairs, sides, CoiPolicy(coauthor_years=q.coi_years, as_of_year=as_of))
    return result


def _add_conflicts(
    store: Path, pairs: list[dict[str, Any]], sides: dict[str, Side], policy: CoiPolicy
) -> None:
    """Check each pair for conflicts of interest (``cordiale.coi``) and flag them."""
    people = {
        p[k]["id"]: Person(
            key=p[k]["id"], author_id=p[k]["id"], institution_ids=(sides[p[k]["id"]].unit,), name=p[k]["name"]
        )
        for p in pairs
        for k in ("a", "b")
    }
    by_a: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in pairs:
        by_a[p["a"]["id"]].append(p)
    for a, group in by_a.items():
        found = check_conflicts(store, people[a], [people[p["b"]["id"]] for p in group], policy)
        for p, finding in zip(group, found, strict=True):
            if finding.status == "conflict":
                p["flags"].append("conflict-of-interest")
            elif finding.status == "unknown":
                p["flags"].append("conflict-of-interest-unknown")
            p["coi"] = {"status": str(finding.status), "reasons": list(finding.reasons)}


def _rankable(
    profiles: ProfileSet, sides: dict[str, Side], authors: list[str], q: MatchQuery, as_of: int
) -> list[str]:
    """The authors who may be ranked: at least ``min_works`` works at their partner in the window, and a
    work in the last ``inactive_years`` years unless ``include_inactive``."""
    return [
        x
        for x in authors
        if sides[x].works_in_window >= q.min_works
        and (q.include_inactive or int(profiles.last_year[profiles.row(x)]) > as_of - q.inactive_years)
    ]


def evidence(works_in_window: np.ndarray) -> np.ndarray:
    """How far an author's profile can be trusted: n / (n + 1) for n works at their partner in the window
    (one work ½, two ⅔, ten 0.91): a profile of one or two works is sharp and narrow, and its cosine
    with anyone in the same niche is high for want of evidence."""
    n = np.asarray(works_in_window, dtype=float)
    return np.asarray(n / (n + 1.0))


@dataclass(frozen=True)
class _Candidate:
    a: str
    b: str
    score: float
    topic: float
    text: float
    network: float
    fit: float  # theme or project fit (geometric mean of both sides), 1 when there is no theme
    evidence: float  # evidence(a) × evidence(b)


def _rank(
    profiles: ProfileSet,
    content: ContentVectors,
    a_side: list[str],
    b_side: list[str],
    gindex: dict[str, int],
    aa: sparse.csr_matrix,
    adj: sparse.csr_matrix,
    existing: set[tuple[str, str]],
    theme: ThemeMatch | None,
    q: MatchQuery,
    sides: dict[str, Side],
) -> list[_Candidate]:
    index = profiles.index()
    if theme is not None:
        keep = theme.on_theme()
        a_side = [a for a in a_side if keep[index[a]]]
        b_side = [b for b in b_side if keep[index[b]]]
    a_rows = np.array([index[a] for a in a_side], dtype=int)
    b_rows = np.array([index[b] for b in b_side], dtype=int)
    graph_b = _graph_rows(gindex, adj, b_side)
    rel = theme.relevance if theme is not None else np.ones(len(profiles.authors))
    ev_a, ev_b = (evidence(np.array([sides[x].works_in_window for x in s])) for s in (a_side, b_side))
    b_pos = {b: j for j, b in enumerate(b_side)}
    existing_by_a: dict[str, list[int]] = defaultdict(list)
    for a, b in existing:
        if b in b_pos:
            existing_by_a[a].append(b_pos[b])
    want = q.top * 4 + 50
    found: list[_Candidate] = []
    for part in blocks(len(a_rows)):
        rows = a_rows[part]
        comps: PairComponents = pair_components(
            content,
            rows,
            b_rows,
            _graph_rows(gindex, aa, [a_side[i] for i in range(part.start, part.stop)]),
            graph_b,
        )
        fit = np.sqrt(np.outer(rel[rows], rel[b_rows]))
        trust = np.outer(ev_a[part], ev_b)
        score = comps.score * trust
        if theme is not None:
            score = (
                SUPERVISOR_FIT_WEIGHT * fit + (1 - SUPERVISOR_FIT_WEIGHT) * score
                if q.mode == "supervisors"
                else score * fit
            )
        if not q.include_existing and q.mode == "people":
            for i, a in enumerate(a_side[part]):
                score[i, existing_by_a.get(a, [])] = -np.inf
        flat = score.ravel()
        take = min(want, int(np.isfinite(flat).sum()))
        if take <= 0:
            continue
        best = np.argpartition(-flat, take - 1)[:take]
        for k in best:
            i, j = divmod(int(k), len(b_rows))
            if not np.isfinite(flat[k]) or flat[k] <= 0:
                continue
            found.append(
                _Candidate(
                    a_side[part.start + i],
                    b_side[j],
                    float(flat[k]),
                    float(comps.topic[i, j]),
                    float(comps.text[i, j]),
                    float(comps.network[i, j]),
                    float(fit[i, j]),
                    float(trust[i, j]),
                )
            )
    found.sort(key=lambda c: (-c.score, c.a, c.b))
    return found[: q.top]


def _shared_topics(profiles: ProfileSet, a: str, b: str, limit: int = 5) -> list[dict[str, Any]]:
    ia, ib = profiles.row(a), profiles.row(b)
    ra, rb = profiles.topics.getrow(ia), profiles.topics.getrow(ib)
    wa = dict(zip(ra.indices, ra.data / max(ra.data.sum(), 1e-12), strict=True))
    wb = dict(zip(rb.indices, rb.data / max(rb.data.sum(), 1e-12), strict=True))
    common = [
        (min(wa[k], wb[k]), k)
        for k in wa.keys() & wb.keys()
        if feature_level(profiles.topic_keys[k]) == "topic"
    ]
    common.sort(reverse=True)
    return [
        {"id": profiles.topic_keys[k], "name": profiles.topic_names[profiles.topic_keys[k]]}
        for _, k in common[:limit]
    ]


def _examples(
    con: duckdb.DuckDBPyConnection, author: str, topics: set[str], matched: dict[str, float], limit: int = 3
) -> list[dict[str, Any]]:
    """The author's works that best show the shared ground: on the theme, on shared topics, then recent."""
    rows = con.execute(
        """
        SELECT w.id, w.title, w.publication_year,
               list(DISTINCT t.topic_id) FILTER (WHERE t.topic_id IS NOT NULL)
        FROM authorships a JOIN works w ON w.id = a.work_id LEFT JOIN work_topics t ON t.work_id = w.id
        WHERE a.author_id = $a AND w.publication_year IS NOT NULL
        GROUP BY ALL
        """,
        {"a": author},
    ).fetchall()
    ranked = sorted(
        rows,
        key=lambda r: (-(r[0] in matched), -len(set(r[3] or []) & topics), -int(r[2]), r[0]),
    )
    return [{"id": r[0], "title": r[1], "year": int(r[2])} for r in ranked[:limit]]


def _explain(
    con: duckdb.DuckDBPyConnection,
    profiles: ProfileSet,
    sides: dict[str, Side],
    candidates: list[_Candidate],
    existing: set[tuple[str, str]],
    theme: ThemeMatch | None,
    q: MatchQuery,
    as_of: int,
) -> list[dict[str, Any]]:
    matched = theme.matched_works if theme is not None else {}
    pairs = []
    for c in candidates:
        shared = _shared_topics(profiles, c.a, c.b)
        shared_ids = {t["id"] for t in shared}
        flags = []
        if (c.a, c.b) in existing:
            flags.append("already-coauthors")
        for key, author in (("a", c.a), ("b", c.b)):
            last = int(profiles.last_year[profiles.row(author)])
            if last <= as_of - q.inactive_years:
                flags.append(f"inactive-{key}")
        pairs.append(
            {
                "a": _person_json(profiles, sides, c.a),
                "b": _person_json(profiles, sides, c.b),
                "score": round(c.score, 4),
                "components": {
                    "topics": round(c.topic, 4),
                    "words": round(c.text, 4),
                    "network_adamic_adar": round(c.network, 4),
                    "evidence": round(c.evidence, 4),
                    **({"fit": round(c.fit, 4)} if theme is not None else {}),
                },
                "shared_topics": shared,
                "examples": {
                    "a": _examples(con, c.a, shared_ids, matched),
                    "b": _examples(con, c.b, shared_ids, matched),
                },
                "flags": flags,
            }
        )
    return pairs


def _person_json(profiles: ProfileSet, sides: dict[str, Side], author: str) -> dict[str, Any]:
    row = profiles.row(author)
    side = sides[author]
    return {
        "id": author,
        "name": profiles.names[row],
        "institution": side.partner,
        "unit": side.unit,
        "works": int(profiles.works[row]),
        "last_year": int(profiles.last_year[row]),
    }
