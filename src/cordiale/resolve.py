"""Institution resolution: from what a user types (OpenAlex id, ROR id, a name) to one OpenAlex institution.

Names are searched over every ROR name (display name, labels in every language, aliases, acronyms) and
over the OpenAlex institution names in the store, ignoring case, accents and punctuation. Candidates come
in this order: exact match of a display name, label or acronym; exact match of an alias; prefix;
substring; within each, ROR status ``active`` first, then the most works in the store.

A name resolves when exactly one candidate is an exact match of a display name, label or acronym (or,
among several, exactly one is active), or when the search finds one candidate only. Otherwise
:class:`InstitutionError` lists the candidates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from cordiale.errors import InstitutionError, StoreError
from cordiale.ids import short_openalex_id, short_ror_id

RorLookup = Callable[[str], tuple[str, str] | None]
"""Given a 9-character ROR id, the OpenAlex institution (id, display name) that carries it, or None."""

MAX_LISTED = 10

# Match ranks, best first.
EXACT, EXACT_ALIAS, PREFIX, SUBSTRING = 0, 1, 2, 3
_MATCH_WORDS = {EXACT: "exact", EXACT_ALIAS: "exact alias", PREFIX: "prefix", SUBSTRING: "substring"}


def works_phrase(n: int) -> str:
    """``1 work``, ``2 works``, ``1,234 works``."""
    return f"{n:,} work" if n == 1 else f"{n:,} works"


@dataclass(frozen=True)
class Institution:
    """One resolved OpenAlex institution."""

    id: str  # short OpenAlex id, e.g. I1294671590
    name: str
    ror: str | None = None  # 9-character ROR id
    country_code: str | None = None


@dataclass(frozen=True)
class Candidate:
    """One search hit: an OpenAlex institution, a ROR organisation, or both (linked by ROR id)."""

    openalex_id: str | None
    ror: str | None
    name: str
    country_code: str | None
    types: list[str] = field(default_factory=list)
    status: str | None = None  # ROR status (active / inactive / withdrawn)
    works: int = 0  # works in the store with this institution on an authorship
    rank: int = SUBSTRING  # EXACT, EXACT_ALIAS, PREFIX or SUBSTRING
    matched: str = ""  # the name that matched

    @property
    def key(self) -> str:
        """What a user can type to pick this candidate: the OpenAlex id, else the ROR id."""
        return self.openalex_id or self.ror or self.name

    @property
    def is_active(self) -> bool:
        return self.status is None or self.status == "active"

    def detail(self) -> str:
        """One line: ROR id, country, types, status, works, and what matched."""
        parts = []
        if self.ror:
            parts.append(f"ROR {self.ror}")
        if self.country_code:
            parts.append(self.country_code)
        if self.types:
            parts.append(", ".join(self.types))
        if not self.is_active:
            parts.append(f"ROR status {self.status}")
        if not self.openalex_id:
            parts.append("no OpenAlex id in the store")
        parts.append(f"{works_phrase(self.works)} in the store")
        parts.append(f"{_MATCH_WORDS[self.rank]} match: {self.matched}")
        return " · ".join(parts)

    def as_tuple(self) -> tuple[str, str, str]:
        """(id, name, detail), as :class:`InstitutionError` lists candidates."""
        return (self.key, self.name, self.detail())


# ---------------------------------------------------------------------------------------------------------
# Tables, with empty stand-ins when a store lacks one (an old store, or one without ROR data)
# ---------------------------------------------------------------------------------------------------------
_EMPTY = {
    "ror_names": "SELECT NULL::VARCHAR AS ror_id, NULL::VARCHAR AS name, NULL::VARCHAR AS kind",
    "ror_organizations": (
        "SELECT NULL::VARCHAR AS ror_id, NULL::VARCHAR AS name, NULL::VARCHAR AS status, "
        "NULL::VARCHAR[] AS types, NULL::VARCHAR AS country_code"
    ),
    "ror_relations": (
        "SELECT NULL::VARCHAR AS ror_id, NULL::VARCHAR AS related_ror_id, NULL::VARCHAR AS type"
    ),
    "institutions": (
        "SELECT NULL::VARCHAR AS id, NULL::VARCHAR AS display_name, NULL::VARCHAR AS ror, "
        "NULL::VARCHAR AS country_code, NULL::VARCHAR AS type"
    ),
    "authorship_institutions": "SELECT NULL::VARCHAR AS work_id, NULL::VARCHAR AS institution_id",
}


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Each table this module reads → its name, or an empty subquery with the same columns."""
    present = {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() AND schema_name = current_schema()"
        ).fetchall()
    }
    return {name: name if name in present else f"({empty} WHERE false)" for name, empty in _EMPTY.items()}


def _norm(expr: str) -> str:
    """SQL folding case, accents and punctuation: "King's College-London" → "kings college london"."""
    return (
        f"trim(regexp_replace(regexp_replace(strip_accents(lower({expr})), '[''\u2019]', '', 'g'), "
        r"'[\s\p{P}\p{S}]+', ' ', 'g'))"
    )


def _inst_cte(tables: dict[str, str]) -> str:
    """One row per OpenAlex institution, its ROR id in the 9-character form."""
    return f"""
    inst AS (
        SELECT id, any_value(display_name) AS display_name,
               any_value(lower(right(nullif(trim(ror), ''), 9))) AS ror,
               any_value(country_code) AS country_code, any_value(type) AS type
        FROM {tables["institutions"]} GROUP BY id
    )"""


# ---------------------------------------------------------------------------------------------------------
# Search
# ---------------------------------------------------------------------------------------------------------
def search_institutions(con: duckdb.DuckDBPyConnection, text: str, limit: int = 20) -> list[Candidate]:
    """Institutions whose ROR names or OpenAlex display name contain ``text``, best matches first.

    An OpenAlex institution id or a ROR id (any form) also finds the institution it names.
    """
    t = _tables(con)
    # fetchall, not fetchone, everywhere: DuckDB 2 keeps a half-read result open on the caller's connection
    ((query,),) = con.execute(f"SELECT {_norm('?')}", [text]).fetchall()
    if not query:
        return []
    sql = f"""
    WITH {_inst_cte(t)},
    ror_match AS (
        SELECT ror_id, name,
               CASE WHEN nn = $q THEN (CASE WHEN kind = 'alias' THEN {EXACT_ALIAS} ELSE {EXACT} END)
                    WHEN starts_with(nn, $q) THEN {PREFIX} ELSE {SUBSTRING} END AS rank
        FROM (SELECT ror_id, name, kind, {_norm("name")} AS nn FROM {t["ror_names"]})
        WHERE contains(nn, $q)
    ),
    inst_match AS (
        SELECT id, display_name AS name,
               CASE WHEN nn = $q THEN {EXACT} WHEN starts_with(nn, $q) THEN {PREFIX}
                    ELSE {SUBSTRING} END AS rank
        FROM (SELECT id, display_name, {_norm("display_name")} AS nn FROM inst)
        WHERE contains(nn, $q)
    ),
    hits AS (
        SELECT i.id AS openalex_id, m.ror_id, m.rank, m.name
        FROM ror_match m LEFT JOIN inst i ON i.ror = m.ror_id
        UNION ALL
        SELECT m.id, i.ror, m.rank, m.name FROM inst_match m JOIN inst i ON i.id = m.id
        UNION ALL  -- the text is an id: the institution or organisation it names
        SELECT i.id, i.ror, {EXACT}, i.id FROM inst i WHERE i.id = $oid OR i.ror = $ror
        UNION ALL
        SELECT i.id, o.ror_id, {EXACT}, o.ror_id FROM {t["ror_organizations"]} o
        LEFT JOIN inst i ON i.ror = o.ror_id WHERE o.ror_id = $ror
    ),
    cand AS (
        SELECT openalex_id, ror_id, min(rank) AS rank, arg_min(name, rank) AS matched
        FROM hits GROUP BY openalex_id, ror_id
    ),
    works AS (
        SELECT institution_id, count(DISTINCT work_id) AS works FROM {t["authorship_institutions"]}
        WHERE institution_id IN (SELECT openalex_id FROM cand) GROUP BY institution_id
    )
    SELECT c.openalex_id, c.ror_id, coalesce(i.display_name, o.name, c.matched) AS name,
           coalesce(o.country_code, i.country_code) AS country_code,
           coalesce(o.types, CASE WHEN i.type IS NULL THEN [] ELSE [i.type] END) AS types,
           o.status, coalesce(w.works, 0) AS works, c.rank, c.matched
    FROM cand c
    LEFT JOIN inst i ON i.id = c.openalex_id
    LEFT JOIN {t["ror_organizations"]} o ON o.ror_id = c.ror_id
    LEFT JOIN works w ON w.institution_id = c.openalex_id
    ORDER BY c.rank, coalesce(o.status, 'active') <> 'active', works DESC, name, c.openalex_id, c.ror_id
    LIMIT $limit
    """
    oid = short_openalex_id(text)
    params = {"q": query, "oid": oid, "ror": short_ror_id(text), "limit": limit}
    rows = con.execute(sql, params).fetchall()
    return [
        Candidate(
            openalex_id=oid,
            ror=ror,
            name=name,
            country_code=country,
            types=list(types or []),
            status=status,
            works=int(works),
            rank=int(rank),
            matched=matched,
        )
        for oid, ror, name, country, types, status, works, rank, matched in rows
    ]


# ---------------------------------------------------------------------------------------------------------
# Resolution
# ---------------------------------------------------------------------------------------------------------
def resolve_institution(
    con: duckdb.DuckDBPyConnection, text: str, lookup_ror: RorLookup | None = None
) -> Institution:
    """The one OpenAlex institution meant by an OpenAlex id or URL, a ROR id or URL, or a name.

    ``lookup_ror`` (optional) maps a ROR id to an OpenAlex institution when the store has none for it
    (the CLI wires it to the OpenAlex API). Raises :class:`InstitutionError` when nothing or several
    institutions match (with the candidates), or when a ROR organisation has no OpenAlex id.
    """
    raw = text.strip()
    if not raw:
        raise InstitutionError("no institution given: type an OpenAlex id, a ROR id or a name")
    openalex_id = short_openalex_id(raw)
    if openalex_id is not None and openalex_id.startswith("I"):
        return _by_openalex_id(con, openalex_id)
    if openalex_id is not None and "openalex.org" in raw.lower():
        raise InstitutionError(
            f"{raw} is an OpenAlex id but not an institution's (institution ids start with I)"
        )
    ror = short_ror_id(raw)
    if ror is not None:
        return _by_ror(con, ror, lookup_ror)
    return _by_name(con, raw, lookup_ror)


def _by_openalex_id(con: duckdb.DuckDBPyConnection, openalex_id: str) -> Institution:
    t = _tables(con)
    rows = con.execute(
        f"WITH {_inst_cte(t)} SELECT display_name, ror, country_code FROM inst WHERE id = ?", [openalex_id]
    ).fetchall()
    if not rows:
        return Institution(openalex_id, openalex_id)
    name, ror, country = rows[0]
    return Institution(openalex_id, name or openalex_id, ror, country)


def _ror_name(con: duckdb.DuckDBPyConnection, t: dict[str, str], ror: str) -> tuple[str | None, str | None]:
    rows = con.execute(
        f"SELECT name, country_code FROM {t['ror_organizations']} WHERE ror_id = ?", [ror]
    ).fetchall()
    return (rows[0][0], rows[0][1]) if rows else (None, None)


def _by_ror(con: duckdb.DuckDBPyConnection, ror: str, lookup_ror: RorLookup | None) -> Institution:
    t = _tables(con)
    rows = con.execute(
        f"""WITH {_inst_cte(t)}
        SELECT i.id, i.display_name, i.country_code,
               (SELECT count(DISTINCT work_id) FROM {t["authorship_institutions"]} a
                WHERE a.institution_id = i.id) AS works
        FROM inst i WHERE i.ror = ? ORDER BY works DESC, i.id""",
        [ror],
    ).fetchall()
    if len(rows) == 1:
        oid, name, country, _ = rows[0]
        return Institution(oid, name or oid, ror, country)
    if len(rows) > 1:
        candidates = [
            (oid, name or oid, f"ROR {ror} · {country or '?'} · {works_phrase(works)}")
            for oid, name, country, works in rows
        ]
        raise InstitutionError(
            f"ROR {ror} is carried by several OpenAlex institutions", candidates[:MAX_LISTED]
        )
    return _ror_to_openalex(con, t, ror, lookup_ror)


def _ror_to_openalex(
    con: duckdb.DuckDBPyConnection, t: dict[str, str], ror: str, lookup_ror: RorLookup | None
) -> Institution:
    """The OpenAlex institution of a ROR organisation the store does not link to one."""
    ror_name, country = _ror_name(con, t, ror)
    label = f"ROR {ror}" + (f" ({ror_name})" if ror_name else "")
    if lookup_ror is None:
        raise InstitutionError(
            f"{label} has no OpenAlex institution in the store: ingest works that carry it, "
            "give its OpenAlex id (I…), or fetch the pair from the OpenAlex API first "
            "(`cordiale pair A B --fetch`)"
        )
    found = lookup_ror(ror)
    openalex_id = short_openalex_id(found[0]) if found else None
    if found is None or openalex_id is None or not openalex_id.startswith("I"):
        raise InstitutionError(f"OpenAlex has no institution for {label}")
    return Institution(openalex_id, found[1] or ror_name or openalex_id, ror, country)


def _by_name(con: duckdb.DuckDBPyConnection, text: str, lookup_ror: RorLookup | None) -> Institution:
    candidates = search_institutions(con, text)
    if not candidates:
        if not _has_names(con):
            raise StoreError(
                f"no institution matches {text!r}: the store holds no institution names yet "
                "(load them with `cordiale ror load` or `cordiale ingest`, or give an OpenAlex id)"
            )
        raise InstitutionError(f"no institution matches {text!r}")
    chosen = _choose(candidates)
    if chosen is None:
        raise InstitutionError(
            f"{text!r} is ambiguous: give one of these ids", [c.as_tuple() for c in candidates[:MAX_LISTED]]
        )
    if chosen.openalex_id is not None:
        return Institution(chosen.openalex_id, chosen.name, chosen.ror, chosen.country_code)
    assert chosen.ror is not None  # a candidate has an OpenAlex id or a ROR id
    return _ror_to_openalex(con, _tables(con), chosen.ror, lookup_ror)


def _has_names(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the store holds any institution to search by name (OpenAlex records or ROR)."""
    t = _tables(con)
    for table in ("institutions", "ror_organizations"):
        if con.execute(f"SELECT 1 FROM {t[table]} LIMIT 1").fetchall():
            return True
    return False


def _choose(candidates: list[Candidate]) -> Candidate | None:
    """The one candidate a name designates, or None when it is ambiguous."""
    exact = [c for c in candidates if c.rank == EXACT]
    if len(exact) > 1:
        exact = [c for c in exact if c.is_active]
    if len(exact) == 1:
        return exact[0]
    if len(candidates) == 1:
        return candidates[0]
    return None


# ---------------------------------------------------------------------------------------------------------
# ROR hierarchy
# ---------------------------------------------------------------------------------------------------------
def ror_descendants(con: duckdb.DuckDBPyConnection, ror_id: str) -> list[str]:
    """Every child unit of a ROR organisation, recursively (sorted, cycle-safe, the root excluded).

    A child is named by the parent's ``child`` relation or by the child's ``parent`` relation (the
    registry may hold only one side).
    """
    root = short_ror_id(ror_id)
    if root is None:
        raise InstitutionError(f"{ror_id!r} is not a ROR id")
    relations = _tables(con)["ror_relations"]
    rows = con.execute(
        f"""
        WITH RECURSIVE edges AS (
            SELECT ror_id AS parent, related_ror_id AS child FROM {relations} WHERE type = 'child'
            UNION
            SELECT related_ror_id, ror_id FROM {relations} WHERE type = 'parent'
        ),
        down(id) AS (
            SELECT child FROM edges WHERE parent = $root
            UNION
            SELECT e.child FROM edges e JOIN down d ON e.parent = d.id
        )
        SELECT id FROM down WHERE id <> $root ORDER BY id
        """,
        {"root": root},
    ).fetchall()
    return [r[0] for r in rows]
