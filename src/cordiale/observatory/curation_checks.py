"""Curation entries checked against the store before and after the per-work steps.

An institution id the store does not know is most likely a typo, and it would still change works (a
whole-work addition of ``I999`` makes links nobody counts, a removal of it nothing): it is refused (exit 2)
naming the entry. Entries that can apply to nothing (a work not in the store, an authorship position past
the work's last, an author id on no authorship, a pattern matching no raw affiliation of a work in scope)
change no figure; each gives a notice naming the entry, so a typo does not pass unseen.
"""

from __future__ import annotations

from cordiale.errors import UsageError
from cordiale.observatory.curation import Curation
from cordiale.observatory.engines import Engine
from cordiale.observatory.query import values_table


def refuse_unknown_institutions(engine: Engine, cur: Curation) -> None:
    """Exit 2 when an entry names an institution absent from the store's ``institutions``."""
    if not cur.institution_refs:
        return
    refs = values_table([("loc", "VARCHAR"), ("inst", "VARCHAR")], cur.institution_refs)
    rows = engine.query(
        f"SELECT r.loc, r.inst FROM ({refs}) r LEFT JOIN institutions i ON i.id = r.inst WHERE i.id IS NULL"
    ).to_pylist()
    if rows:
        listed = "; ".join(f"{r['loc']}: {r['inst']}" for r in sorted(rows, key=lambda r: str(r["loc"])))
        raise UsageError(
            f"{cur.path}: institutions not in the store (a typo?): {listed}; correct or remove these entries"
        )


def curation_notices(engine: Engine, cur: Curation) -> list[str]:
    """One notice per entry that applies to nothing; run after the per-work steps (reads ``o_scope``)."""
    notices: list[str] = []
    where = cur.path
    if cur.work_refs:
        refs = values_table([("loc", "VARCHAR"), ("work", "VARCHAR"), ("pos", "INTEGER")], cur.work_refs)
        rows = engine.query(
            f"""SELECT r.loc, r.work, r.pos, w.id AS found, n.n AS n
            FROM ({refs}) r LEFT JOIN works w ON w.id = r.work
            LEFT JOIN (
                SELECT a.work_id, COUNT(*) AS n FROM authorships a
                JOIN (SELECT DISTINCT work FROM ({refs}) x) k ON k.work = a.work_id GROUP BY a.work_id
            ) n ON n.work_id = r.work"""
        ).to_pylist()
        for r in sorted(rows, key=lambda r: str(r["loc"])):
            if r["found"] is None:
                notices.append(
                    f"{where}: {r['loc']}.work: {r['work']} is not in the store; the entry changes nothing"
                )
            elif r["pos"] >= 0 and r["pos"] >= (r["n"] or 0):
                notices.append(
                    f"{where}: {r['loc']}.position: {r['work']} has {r['n'] or 0} authorships "
                    f"(positions from 0), none at {r['pos']}; the entry changes nothing"
                )
    if cur.author_refs:
        refs = values_table([("loc", "VARCHAR"), ("author", "VARCHAR")], cur.author_refs)
        rows = engine.query(
            f"""SELECT r.loc, r.author FROM ({refs}) r LEFT JOIN (
                SELECT DISTINCT a.author_id FROM authorships a
                JOIN (SELECT DISTINCT author FROM ({refs}) x) k ON k.author = a.author_id
            ) f ON f.author_id = r.author WHERE f.author_id IS NULL"""
        ).to_pylist()
        for r in sorted(rows, key=lambda r: str(r["loc"])):
            notices.append(
                f"{where}: {r['loc']}: {r['author']} is on no authorship in the store; nothing merged"
            )
    if cur.pattern_refs:
        refs = values_table([("loc", "VARCHAR"), ("pattern", "VARCHAR")], cur.pattern_refs)
        rows = engine.query(
            f"""SELECT r.loc, r.pattern FROM ({refs}) r LEFT JOIN (
                SELECT DISTINCT c.pattern FROM (
                    SELECT x.raw FROM authorships a JOIN o_scope s ON s.work_id = a.work_id
                    CROSS JOIN UNNEST(a.raw_affiliation_strings) AS x(raw)
                ) t JOIN ({refs}) c ON regexp_matches(t.raw, c.pattern)
            ) m ON m.pattern = r.pattern WHERE m.pattern IS NULL"""
        ).to_pylist()
        for r in sorted(rows, key=lambda r: str(r["loc"])):
            notices.append(
                f"{where}: {r['loc']}: {r['pattern']!r} matches no raw affiliation of a work in scope; "
                "the entry changes nothing"
            )
    return notices
