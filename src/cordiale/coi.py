"""Conflicts of interest between two people, from what they declare and what the store shows.

Pure library code, shared by matchmaking (``cordiale match``) and the programmes web app. The rules:

- a conflict either person declares (listing the other's key or OpenAlex author id) is a CONFLICT,
  whatever the store says;
- one OpenAlex author id on both sides is the same person: a CONFLICT;
- co-authorship of a work published in ``as_of_year - coauthor_years`` … ``as_of_year`` (both ends
  included) is a CONFLICT;
- the same unit is a CONFLICT: an institution id given for both people, or a direct institution both
  authors list on their works of that window;
- otherwise the answer is NONE only when the store can vouch for both people: each has an author id, at
  least ``min_works`` works in the store published in the window, and an institution (the ones given,
  else the ones on their works in the store) whose works the store holds completely: the store was
  ingested from a complete snapshot (``ingest_log.reference_complete``), or it holds at least
  ``min_coverage`` of the works OpenAlex counts for the institution, or for an institution of its
  lineage, in the window (``api_counts``, recorded by ``cordiale pair``; the latest count per year).
  Anything less is UNKNOWN, never NONE, with the reason.

The store is opened read-only (``cordiale.store.connection.reader``), once per call.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import duckdb

from cordiale.errors import StoreError
from cordiale.ids import short_openalex_id
from cordiale.store.connection import reader
from cordiale.store.schema import LATEST_REFERENCE_COMPLETE

__all__ = ["CoiFinding", "CoiPolicy", "CoiStatus", "Person", "check_conflict", "check_conflicts"]


class CoiStatus(StrEnum):
    CONFLICT = "conflict"
    NONE = "none"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Person:
    key: str  # caller's stable key for the person (e.g. "person:17")
    author_id: str | None = None  # short OpenAlex author id, A..., or None
    institution_ids: tuple[str, ...] = ()  # short OpenAlex institution ids, I...
    name: str = ""
    # keys or author ids this person declares a conflict with
    declared_conflicts: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CoiPolicy:
    coauthor_years: int = 3  # co-authorship within this many years is a conflict
    as_of_year: int | None = None  # default: the current year
    # institution ids that never make two people "the same unit": the partnership's partners themselves,
    # which every reviewer shares with one side (short OpenAlex ids)
    not_units: frozenset[str] = frozenset()
    # NONE needs this many works of each person in the store in the window...
    min_works: int = 3
    # ...and the store to hold this share of the works OpenAlex counts for their institution in the window
    min_coverage: float = 0.95


@dataclass(frozen=True)
class CoiFinding:
    status: CoiStatus
    reasons: tuple[str, ...]  # human-readable, e.g. "co-authored W123 in 2024"


def check_conflict(store: Path | None, a: Person, b: Person, policy: CoiPolicy = CoiPolicy()) -> CoiFinding:
    """The conflict-of-interest finding for one pair of people."""
    return check_conflicts(store, a, [b], policy)[0]


def check_conflicts(
    store: Path | None, a: Person, others: Sequence[Person], policy: CoiPolicy = CoiPolicy()
) -> list[CoiFinding]:
    """One finding per person in ``others``, in order (the store is read once for all of them)."""
    if policy.coauthor_years < 0:
        raise ValueError("CoiPolicy.coauthor_years must be >= 0")
    if policy.min_works < 0 or not 0 <= policy.min_coverage <= 1:
        raise ValueError("CoiPolicy.min_works must be >= 0 and min_coverage in [0, 1]")
    year = policy.as_of_year if policy.as_of_year is not None else datetime.now(UTC).year
    window = (year - policy.coauthor_years, year)
    facts, store_problem = _read_facts(store, [a, *others], window, policy.min_coverage)
    not_units = frozenset(i for i in (short_openalex_id(u) for u in policy.not_units) if i)
    return [_judge(a, b, window, facts, store_problem, policy, not_units) for b in others]


# --- what the store says about each author ----------------------------------------------------------


def _author(person: Person) -> str | None:
    sid = short_openalex_id(person.author_id)
    return sid if sid and sid.startswith("A") else None


def _institutions(person: Person) -> frozenset[str]:
    ids = (short_openalex_id(i) for i in person.institution_ids)
    return frozenset(i for i in ids if i and i.startswith("I"))


def _label(person: Person) -> str:
    return person.name or person.author_id or person.key


@dataclass
class _AuthorFacts:
    """What the store holds about one author in the window."""

    coauthored: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # co-author → (work, year)
    units: set[str] = field(default_factory=set)  # direct institutions on the author's works in the window
    all_institutions: set[str] = field(default_factory=set)  # on the author's works, any year
    works_in_window: int = 0  # the author's works in the store published in the window
    covered: bool = False  # the store holds the works of one of the author's institutions completely
    coverage_note: str = ""  # why not, when not covered


def _read_facts(
    store: Path | None, people: Sequence[Person], window: tuple[int, int], min_coverage: float
) -> tuple[dict[str, _AuthorFacts], str | None]:
    """Facts per author id, or the reason the store cannot answer (None when it can)."""
    if store is None:
        return {}, "no store was given"
    authors = sorted({aid for p in people if (aid := _author(p))})
    if not authors:
        return {}, None
    try:
        with reader(store) as con:
            return _query_facts(con, authors, people, window, min_coverage), None
    except StoreError as exc:
        return {}, f"the store cannot be read ({exc})"
    except duckdb.Error as exc:  # a file that is not a cordiale store
        return {}, f"the store {store} cannot be read ({type(exc).__name__}: {exc})"


def _query_facts(
    con: duckdb.DuckDBPyConnection,
    authors: list[str],
    people: Sequence[Person],
    window: tuple[int, int],
    min_coverage: float,
) -> dict[str, _AuthorFacts]:
    lo, hi = window
    facts = {a: _AuthorFacts() for a in authors}
    # Each row is one (author, co-author, work) in the window, the author being one of ours.
    rows = con.execute(
        """
        SELECT DISTINCT x.author_id, y.author_id, w.id, w.publication_year
        FROM authorships x
        JOIN authorships y ON y.work_id = x.work_id AND y.author_id IS NOT NULL
             AND y.author_id <> x.author_id
        JOIN works w ON w.id = x.work_id
        WHERE x.author_id IN (SELECT unnest($authors))
          AND y.author_id IN (SELECT unnest($authors))
          AND w.publication_year BETWEEN $lo AND $hi
        ORDER BY w.publication_year DESC, w.id
        """,
        {"authors": authors, "lo": lo, "hi": hi},
    ).fetchall()
    for author, coauthor, work, year in rows:
        facts[author].coauthored.setdefault(coauthor, []).append((work, int(year)))
    # Each row is one author with their number of works in the window.
    for author, n in con.execute(
        """
        SELECT a.author_id, count(DISTINCT a.work_id) FROM authorships a JOIN works w ON w.id = a.work_id
        WHERE a.author_id IN (SELECT unnest($authors)) AND w.publication_year BETWEEN $lo AND $hi
        GROUP BY 1
        """,
        {"authors": authors, "lo": lo, "hi": hi},
    ).fetchall():
        facts[author].works_in_window = int(n)
    # Each row is one (author, direct institution, in the window?) over the author's works.
    rows = con.execute(
        """
        SELECT DISTINCT a.author_id, ai.institution_id,
               coalesce(w.publication_year BETWEEN $lo AND $hi, false)
        FROM authorships a
        JOIN authorship_institutions ai ON ai.work_id = a.work_id AND ai.position = a.position
        JOIN works w ON w.id = a.work_id
        WHERE a.author_id IN (SELECT unnest($authors))
        """,
        {"authors": authors, "lo": lo, "hi": hi},
    ).fetchall()
    for author, inst, in_window in rows:
        facts[author].all_institutions.add(inst)
        if in_window:
            facts[author].units.add(inst)
    # Coverage: one of the institutions to vouch for (given, else seen on the author's works) must be held
    # completely: a complete snapshot, or as many works in the window as OpenAlex counts (within tolerance).
    wanted: dict[str, set[str]] = defaultdict(set)
    for p in people:
        aid = _author(p)
        if aid:
            wanted[aid] |= set(_institutions(p)) or facts[aid].all_institutions
    every = sorted(set().union(*wanted.values())) if wanted else []
    judged = _coverage(con, every, window, min_coverage)
    for aid, insts in wanted.items():
        verdicts = [(i, *judged[i]) for i in sorted(insts)]
        good = [note for _, ok, note in verdicts if ok]
        facts[aid].covered = bool(good)
        uncounted = [i for i, _, note in verdicts if not note]
        notes = good[:1] or [note for _, _, note in verdicts if note]
        if uncounted and not good:
            notes.append(
                f"no complete snapshot was ingested and OpenAlex's counts of {', '.join(uncounted)} are not "
                "in the store (`cordiale pair A B` records them)"
            )
        facts[aid].coverage_note = "; ".join(notes) or "no institution of theirs is known"
    return facts


# The store's works of the window for one counted institution and rule: from the raw tables, or from
# the prepared pair view's (unit, work) rows (``cordiale observe prepare``; the same works: a unit's rows
# are the works with a link to it, or under ``lineage`` to an institution whose lineage holds it).
_STORE_COUNT_RAW = """
               (SELECT count(DISTINCT ai.work_id)
                FROM authorship_institutions ai JOIN works w ON w.id = ai.work_id
                LEFT JOIN institutions i ON i.id = ai.institution_id
                WHERE w.publication_year BETWEEN $lo AND $hi
                  AND (ai.institution_id = api.institution_id
                       OR (api.rule = 'lineage' AND list_contains(i.lineage, api.institution_id))))"""
_STORE_COUNT_PREPARED = """
               (CASE api.rule
                    WHEN 'lineage' THEN (SELECT count(*) FROM obs_ref_pair_lineage p
                                         WHERE p.unit = api.institution_id AND p.year BETWEEN $lo AND $hi)
                    ELSE (SELECT count(*) FROM obs_ref_pair_direct p
                          WHERE p.unit = api.institution_id AND p.year BETWEEN $lo AND $hi) END)"""


def _coverage(
    con: duckdb.DuckDBPyConnection,
    institutions: list[str],
    window: tuple[int, int],
    min_coverage: float,
    prepared: bool | None = None,
) -> dict[str, tuple[bool, str]]:
    """Per institution: whether the store holds its works of the window completely, and why (not); the
    reason is empty when no count of OpenAlex's vouches for it. ``prepared``: count the store's works
    from the prepared pair tables (by default when they are fresh: milliseconds against seconds for a
    partner of millions of works)."""
    from cordiale.observatory.reference import is_fresh

    lo, hi = window
    if not institutions:
        return {}
    row = con.execute(LATEST_REFERENCE_COMPLETE).fetchone()
    if row and row[0]:
        return {i: (True, f"{i}: the store holds a complete snapshot") for i in institutions}
    # The institutions whose counts vouch for each one: itself (direct or lineage counts) and the
    # institutions of its lineage (lineage counts only).
    lineage = dict(
        con.execute(
            "SELECT id, lineage FROM institutions WHERE id IN (SELECT unnest($ids))", {"ids": institutions}
        ).fetchall()
    )
    relevant = sorted({*institutions, *(c for ids in lineage.values() for c in ids or [])})
    if prepared is None:
        prepared = is_fresh(con)
    # Each row is one (counted institution, rule) with the API's total in the window (latest count per
    # year) and the store's works of the window selected the same way; only institutions that can vouch.
    store_count = _STORE_COUNT_PREPARED if prepared else _STORE_COUNT_RAW
    counted = con.execute(
        f"""
        WITH latest AS (
            SELECT institution_id, rule, year, arg_max(works_count, fetched_at) AS n
            FROM api_counts WHERE institution_id IN (SELECT unnest($relevant)) GROUP BY ALL
        ),
        api AS (
            SELECT institution_id, rule, sum(n) FILTER (WHERE year BETWEEN $lo AND $hi) AS n
            FROM latest GROUP BY ALL
        )
        SELECT api.institution_id, api.rule, coalesce(api.n, 0), {store_count}
        FROM api
        """,
        {"lo": lo, "hi": hi, "relevant": relevant},
    ).fetchall()
    by_id: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    for inst, rule, api_n, store_n in counted:
        by_id[inst].append((rule, int(api_n), int(store_n)))
    out: dict[str, tuple[bool, str]] = {}
    for inst in institutions:
        vouchers = [
            (c, rule, api_n, store_n)
            for c in dict.fromkeys([inst, *(lineage.get(inst) or [])])
            for rule, api_n, store_n in by_id.get(c, [])
            if c == inst or rule == "lineage"
        ]
        if not vouchers:
            out[inst] = (False, "")  # no counts: said once per person
            continue
        c, rule, api_n, store_n = max(vouchers, key=lambda v: (v[3] >= min_coverage * v[2], v[3] - v[2]))
        ok = store_n >= min_coverage * api_n
        via = "" if c == inst else f" (through {c})"
        out[inst] = (
            ok,
            f"{inst}{via}: the store holds {store_n:,} of the {api_n:,} works OpenAlex counts in {lo}–{hi} "
            f"({rule}){'' if ok else f', less than {min_coverage:.0%}'}",
        )
    return out


# --- the rules ----------------------------------------------------------------------------------------


def _declared(a: Person, b: Person) -> list[str]:
    reasons = []
    for declarer, other in ((a, b), (b, a)):
        names = {other.key, *(x for x in (other.author_id, _author(other)) if x)}
        if declarer.declared_conflicts & names:
            reasons.append(f"{_label(declarer)} declared a conflict with {_label(other)}")
    return reasons


def _judge(
    a: Person,
    b: Person,
    window: tuple[int, int],
    facts: dict[str, _AuthorFacts],
    store_problem: str | None,
    policy: CoiPolicy,
    not_units: frozenset[str] = frozenset(),
) -> CoiFinding:
    lo, hi = window
    conflicts = _declared(a, b)
    aid, bid = _author(a), _author(b)
    if aid and aid == bid:
        conflicts.append(f"{_label(a)} and {_label(b)} are the same OpenAlex author ({aid})")
    shared_given = sorted((_institutions(a) & _institutions(b)) - not_units)
    if shared_given:
        conflicts.append(f"same unit: both are at {', '.join(shared_given)}")
    unknowns: list[str] = []
    for person, pid in ((a, aid), (b, bid)):
        if pid is None:
            unknowns.append(f"{_label(person)} has no OpenAlex author id")
    if store_problem:
        unknowns.append(store_problem)
    elif aid and bid and aid != bid:
        fa, fb = facts[aid], facts[bid]
        joint = fa.coauthored.get(bid, [])
        for work, year in joint[:3]:
            conflicts.append(f"co-authored {work} in {year}")
        if len(joint) > 3:
            conflicts.append(f"… and {len(joint) - 3} more joint works in {lo}–{hi}")
        shared_units = sorted((fa.units & fb.units) - set(shared_given) - not_units)
        if shared_units:
            conflicts.append(f"same unit: both list {', '.join(shared_units)} on works of {lo}–{hi}")
        for person, f in ((a, fa), (b, fb)):
            if f.works_in_window < policy.min_works:
                unknowns.append(
                    f"{_label(person)} has {f.works_in_window} work(s) in the store published in {lo}–{hi}, "
                    f"fewer than the {policy.min_works} needed to rule out a conflict"
                )
            if not f.covered:
                unknowns.append(
                    f"the store is not known to hold all works of {_label(person)}'s institution(s) in "
                    f"{lo}–{hi}: {f.coverage_note}"
                )
    if conflicts:
        return CoiFinding(CoiStatus.CONFLICT, tuple(conflicts))
    if unknowns:
        return CoiFinding(CoiStatus.UNKNOWN, tuple(unknowns))
    return CoiFinding(
        CoiStatus.NONE,
        (
            f"no joint work and no shared unit in {lo}–{hi} in the store; no declared conflict",
            f"evidence: {fa.works_in_window} and {fb.works_in_window} works in {lo}–{hi}; "
            f"{fa.coverage_note}; {fb.coverage_note}",
        ),
    )
