"""Small hand-built stores where the right answer of every counting convention is known by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from cordiale.store.connection import init_schema


@dataclass
class Inst:
    id: str
    name: str = ""
    country: str | None = "FR"
    type: str | None = "education"
    lineage: tuple[str, ...] = ()
    ror: str | None = None


@dataclass
class Work:
    id: str
    year: int = 2020
    type: str = "article"
    # one list of direct institution ids per authorship ([] = an author without institution)
    authors: list[list[str]] = field(default_factory=list)
    author_ids: list[str | None] | None = None
    subfield: str = "sf1"
    topic_id: str | None = None  # the primary topic; None: "T" + subfield
    field_id: str = "f1"  # the primary topic's field and domain
    domain_id: str = "d1"
    cites: list[str] = field(default_factory=list)  # works this work references
    oa_status: str | None = "gold"
    fwci: float | None = None
    top10: bool | None = None
    raw: list[list[str]] | None = None  # raw affiliation strings per authorship
    funders: list[tuple[str, str]] = field(default_factory=list)  # (funder id, award id)
    sdgs: list[int] = field(default_factory=list)
    retracted: bool = False
    truncated: bool = False


def build_store(
    path: Path,
    insts: list[Inst],
    works: list[Work],
    reference_complete: bool = False,
    updated: str = "2026-02-01T00:00:00",
    ror: list[tuple[str, float | None, float | None, list[str]]] | None = None,
) -> Path:
    """Write a store: ``ror`` rows are (ror id, lat, lng, parent ror ids)."""
    con = duckdb.connect(str(path))
    init_schema(con)
    for i in insts:
        lineage = list(dict.fromkeys([i.id, *i.lineage]))
        con.execute(
            "INSERT INTO institutions (id, display_name, ror, country_code, type, lineage) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [i.id, i.name or i.id, i.ror, i.country, i.type, lineage],
        )
    for w in works:
        con.execute(
            """INSERT INTO works (id, type, publication_year, updated_date, is_retracted,
                   is_authors_truncated, authors_count, oa_status, fwci, is_in_top_10_percent,
                   primary_topic_id, input_path, input_line)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'hand', 0)""",
            [
                w.id,
                w.type,
                w.year,
                updated,
                w.retracted,
                w.truncated,
                len(w.authors),
                w.oa_status,
                w.fwci,
                w.top10,
                w.topic_id or f"T{w.subfield}",
            ],
        )
        con.execute(
            """INSERT INTO work_topics (work_id, topic_id, topic_name, score, is_primary, subfield_id,
                   subfield_name, field_id, field_name, domain_id, domain_name)
               VALUES (?, ?, ?, 1, true, ?, ?, ?, ?, ?, ?)""",
            [
                w.id,
                w.topic_id or f"T{w.subfield}",
                f"Topic {w.topic_id or w.subfield}",
                w.subfield,
                f"Subfield {w.subfield}",
                w.field_id,
                "Field 1" if w.field_id == "f1" else f"Field {w.field_id}",
                w.domain_id,
                "Domain 1" if w.domain_id == "d1" else f"Domain {w.domain_id}",
            ],
        )
        for pos, inst_ids in enumerate(w.authors):
            aid = w.author_ids[pos] if w.author_ids else f"A{w.id[1:]}{pos}"
            raw = w.raw[pos] if w.raw else []
            con.execute(
                """INSERT INTO authorships (work_id, position, author_id, author_name,
                       raw_affiliation_strings, institutions_count) VALUES (?, ?, ?, ?, ?, ?)""",
                [w.id, pos, aid, f"Author {aid}", raw, len(set(inst_ids))],
            )
            for inst in dict.fromkeys(inst_ids):
                con.execute("INSERT INTO authorship_institutions VALUES (?, ?, ?)", [w.id, pos, inst])
        for ref in w.cites:
            con.execute("INSERT INTO referenced_works VALUES (?, ?)", [w.id, ref])
        for fid, award in w.funders:
            con.execute(
                "INSERT INTO work_funding (work_id, funder_id, funder_name, award_id, origin) "
                "VALUES (?, ?, ?, ?, 'awards')",
                [w.id, fid, f"Funder {fid}", award],
            )
        for s in w.sdgs:
            con.execute("INSERT INTO work_sdgs VALUES (?, ?, ?, 0.9)", [w.id, s, f"SDG {s}"])
    for rid, lat, lng, parents in ror or []:
        con.execute(
            "INSERT INTO ror_organizations (ror_id, name, lat, lng) VALUES (?, ?, ?, ?)", [rid, rid, lat, lng]
        )
        for p in parents:
            con.execute("INSERT INTO ror_relations VALUES (?, ?, 'parent', ?)", [rid, p, p])
    con.execute(
        """INSERT INTO ingest_log (run_id, source, started_at, institution_filter, reference_complete, status)
           VALUES ('r1', 'snapshot', now(), [], ?, 'done')""",
        [reference_complete],
    )
    con.close()
    return path


def ror_hierarchy_store(path: Path, ror_prefix: str = "https://ror.org/") -> Path:
    """Partners A and B, a lab L whose ROR parents are both, and a team M inside L: W1 (L alone) and W2
    (M with B) are joint only under the ``ror`` rule. No OpenAlex lineage: only ROR knows the parents.
    ``ror_prefix`` gives the institutions' ROR ids as OpenAlex does (URLs) or bare; the registry's are bare.
    """
    insts = [
        Inst("IA", ror=f"{ror_prefix}0aaaaaa00"),
        Inst("IB", ror=f"{ror_prefix}0bbbbbb00", country="GB"),
        Inst("IL", ror=f"{ror_prefix}0llllll00"),
        Inst("IM", ror=f"{ror_prefix}0mmmmmm00"),
    ]
    works = [Work("W1", authors=[["IL"]]), Work("W2", authors=[["IM"], ["IB"]])]
    ror = [
        ("0aaaaaa00", 48.8, 2.3, []),
        ("0bbbbbb00", 51.5, -0.18, []),
        ("0llllll00", 48.8, 2.3, ["0aaaaaa00", "0bbbbbb00"]),
        ("0mmmmmm00", 48.8, 2.3, ["0llllll00"]),
    ]
    return build_store(path, insts, works, ror=ror)
