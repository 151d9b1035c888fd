"""Conflicts of interest between two people, from what they declare and what the store shows.

Pure library code, shared by matchmaking (``cordiale match``) and the programmes web app. The rules:

- a conflict either person declares (listing the other's key or OpenAlex author id) is a CONFLICT,
  whatever the store says;
- one OpenAlex author id on both sides is the same person: a CONFLICT;
- co-authorship of a work published in ``as_of_year - coauthor_years`` … ``as_of_year`` (both ends
  included) is a CONFLICT;
- the same unit is a CONFLICT: an institution id given for both people, or a direct institution both
  authors list on their works of that window;
- otherwise the answer is NONE only when the store can vouch for both people: each has an author id and
  the store holds works of their institutions (the ones given, else the ones on their works in the store)
  published in the window. Anything less is UNKNOWN, never NONE.

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
    year = policy.as_of_year if policy.as_of_year is not None else datetime.now(UTC).year
    window = (year - policy.coauthor_years, year)
    facts, store_problem = _read_facts(store, [a, *others], window)
    not_units = frozenset(i for i in (short_openalex_id(u) for u in policy.not_units) if i)
    return [_judge(a, b, window, facts, store_problem, not_units) for b in others]


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
    covered: bool = False  # the store holds works of the author's institutions in the window


def _read_facts(
    store: Path | None, people: Sequence[Person], window: tuple[int, int]
) -> tuple[dict[str, _AuthorFacts], str | None]:
    """Facts per author id, or the reason the store cannot answer (None when it can)."""
    if store is None:
        return {}, "no store was given"
    authors = sorted({aid for p in people if (aid := _author(p))})
    if not authors:
        return {}, None
    try:
        with reader(store) as con:
            return _query_facts(con, authors, people, window), None
    except StoreError as exc:
        return {}, f"the store cannot be read ({exc})"
    except duckdb.Error as exc:  # a file that is not a cordiale store
        return {}, f"the store {store} cannot be read ({type(exc).__name__}: {exc})"


def _query_facts(
    con: duckdb.DuckDBPyConnection, authors: list[str], people: Sequence[Person], window: tuple[int, int]
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
    # Coverage: the institutions to vouch for (given, else seen on the author's works) must have works
    # in the store in the window, directly or through an institution whose lineage includes them.
    wanted: dict[str, set[str]] = defaultdict(set)
    for p in people:
        aid = _author(p)
        if aid:
            wanted[aid] |= set(_institutions(p)) or facts[aid].all_institutions
    every = sorted(set().union(*wanted.values())) if wanted else []
    present: set[str] = set()
    if every:
        rows = con.execute(
            """
            WITH wanted AS (SELECT unnest($ids) AS id)
            SELECT DISTINCT wanted.id
            FROM authorship_institutions ai
            JOIN works w ON w.id = ai.work_id
            LEFT JOIN institutions i ON i.id = ai.institution_id
            JOIN wanted ON wanted.id = ai.institution_id OR list_contains(i.lineage, wanted.id)
            WHERE w.publication_year BETWEEN $lo AND $hi
            """,
            {"ids": every, "lo": lo, "hi": hi},
        ).fetchall()
        present = {r[0] for r in rows}
    for aid, insts in wanted.items():
        facts[aid].covered = bool(insts & present)
    return facts


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
            if not f.covered:
                unknowns.append(
                    f"the store holds no works of {_label(person)}'s institution(s) published in {lo}–{hi}"
                )
    if conflicts:
        return CoiFinding(CoiStatus.CONFLICT, tuple(conflicts))
    if unknowns:
        return CoiFinding(CoiStatus.UNKNOWN, tuple(unknowns))
    return CoiFinding(
        CoiStatus.NONE,
        (f"no joint work and no shared unit in {lo}–{hi} in the store; no declared conflict",),
    )
