"""The staging tables: one batch of decoded records → one Arrow record batch per store table.

Built column by column (list comprehensions over the batch, then one Arrow conversion per column), never
row by row: this is the ingest's hot path. OpenAlex ids are shortened vectorised, in Arrow. Each staging
table carries the store's columns plus the input line of its work (``_line``), which the merge joins on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate, chain
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
from msgspec import UNSET

from cordiale.ids import strip_openalex_prefix
from cordiale.sources.works import (
    OPENALEX,
    WORK_COLUMN_KEYS,
    DehydratedInstitution,
    ParsedBatch,
    Work,
    short_id,
)

S = pa.string()
I32 = pa.int32()
I64 = pa.int64()
F64 = pa.float64()
B = pa.bool_()
LS = pa.list_(S)
COUNT_BY_YEAR = pa.struct([("year", I32), ("cited_by_count", I32)])

T = TypeVar("T")

# Each staging table: (column, Arrow type), in the store's column order, then provenance columns.
WORK_FIELDS: tuple[tuple[str, pa.DataType], ...] = (
    ("id", S),
    ("doi", S),
    ("title", S),
    ("abstract_inverted_index", S),
    ("language", S),
    ("type", S),
    ("publication_year", I32),
    ("publication_date", S),
    ("updated_date", S),
    ("created_date", S),
    ("is_retracted", B),
    ("is_paratext", B),
    ("is_authors_truncated", B),
    ("authors_count", I32),
    ("cited_by_count", I32),
    ("counts_by_year", pa.list_(COUNT_BY_YEAR)),
    ("fwci", F64),
    ("citation_normalized_percentile", F64),
    ("is_in_top_1_percent", B),
    ("is_in_top_10_percent", B),
    ("is_oa", B),
    ("oa_status", S),
    ("oa_url", S),
    ("source_id", S),
    ("source_name", S),
    ("source_type", S),
    ("source_issn_l", S),
    ("primary_topic_id", S),
    ("input_path", S),
    ("input_line", I64),
    ("_missing", LS),
)
assert [n for n, _ in WORK_FIELDS[1:-3]] == list(WORK_COLUMN_KEYS), "works columns out of step"

AUTHORSHIP_FIELDS = (
    ("work_id", S),
    ("position", I32),
    ("author_position", S),
    ("author_id", S),
    ("author_name", S),
    ("author_orcid", S),
    ("raw_author_name", S),
    ("is_corresponding", B),
    ("raw_affiliation_strings", LS),
    ("countries", LS),
    ("institutions_count", I32),
    ("_line", I64),
)
AUTHORSHIP_INSTITUTION_FIELDS = (("work_id", S), ("position", I32), ("institution_id", S), ("_line", I64))
TOPIC_FIELDS = (
    ("work_id", S),
    ("topic_id", S),
    ("topic_name", S),
    ("score", F64),
    ("is_primary", B),
    ("subfield_id", S),
    ("subfield_name", S),
    ("field_id", S),
    ("field_name", S),
    ("domain_id", S),
    ("domain_name", S),
    ("_line", I64),
)
SDG_FIELDS = (("work_id", S), ("sdg", I32), ("display_name", S), ("score", F64), ("_line", I64))
REFERENCE_FIELDS = (("work_id", S), ("referenced_work_id", S), ("_line", I64))
FUNDING_FIELDS = (
    ("work_id", S),
    ("funder_id", S),
    ("funder_name", S),
    ("award_id", S),
    ("award_openalex_id", S),
    ("origin", S),
    ("_line", I64),
)
INSTITUTION_FIELDS = (
    ("id", S),
    ("display_name", S),
    ("ror", S),
    ("country_code", S),
    ("type", S),
    ("lineage", LS),
    ("seen_updated_date", S),
    ("seen_input_path", S),
    ("from_entity_record", B),
)

SCHEMAS: dict[str, pa.Schema] = {
    name: pa.schema(list(fields))
    for name, fields in (
        ("works", WORK_FIELDS),
        ("authorships", AUTHORSHIP_FIELDS),
        ("authorship_institutions", AUTHORSHIP_INSTITUTION_FIELDS),
        ("work_topics", TOPIC_FIELDS),
        ("work_sdgs", SDG_FIELDS),
        ("referenced_works", REFERENCE_FIELDS),
        ("work_funding", FUNDING_FIELDS),
        ("institutions", INSTITUTION_FIELDS),
    )
}
QUARANTINE_SCHEMA = pa.schema([("line", I64), ("record_id", S), ("reason", S), ("raw", S)])


# --- vectorised helpers ---------------------------------------------------------------------------


def short_ids(values: Sequence[str | None]) -> pa.Array:
    """OpenAlex URLs → short ids (``W…``, ``I…``), in Arrow; other forms go through ``short_id``."""
    return _strip_prefix(values, short_id)


def stripped_ids(values: Sequence[str | None]) -> pa.Array:
    """OpenAlex URLs of topics, fields, domains → their path, in Arrow (``subfields/2505``)."""
    return _strip_prefix(values, strip_openalex_prefix)


def _strip_prefix(values: Sequence[str | None], slow: Callable[[str | None], str | None]) -> pa.Array:
    return _strip_prefix_array(pa.array(values, S), slow)


def _strip_prefix_array(arr: pa.Array, slow: Callable[[str | None], str | None] = short_id) -> pa.Array:
    if len(arr) == 0:
        return arr
    canonical = pc.starts_with(arr, OPENALEX)
    if pc.all(pc.or_kleene(canonical, pc.is_null(arr))).as_py():
        # Every value opens with the prefix: dropping its one occurrence there equals slicing it off
        # (and is about twice as cheap as the UTF-8 aware slicing kernel).
        return pc.replace_substring(arr, OPENALEX, "", max_replacements=1)
    return pa.array([slow(v) for v in arr.to_pylist()], S)


def _attr(items: Sequence[Any], name: str) -> list[Any]:
    """``item.name`` for each item, None where the item itself is None."""
    return [getattr(x, name) if x is not None else None for x in items]


def _flatten(lists: Sequence[list[T] | None]) -> tuple[list[T], pa.Array]:
    """The items of every list, and the index of the list each one came from."""
    items = list(chain.from_iterable(x for x in lists if x))
    offsets = pa.array(list(accumulate((len(x) if x else 0 for x in lists), initial=0)), I32)
    owner = pc.list_parent_indices(pa.ListArray.from_arrays(offsets, pa.nulls(len(items))))
    return items, owner


def _positions(lists: Sequence[list[T] | None]) -> list[int]:
    """Each item's position within its list, in ``_flatten``'s order."""
    return [p for x in lists if x for p in range(len(x))]


def _batch(schema: pa.Schema, columns: dict[str, Any]) -> pa.RecordBatch:
    arrays = [
        col if isinstance(col, pa.Array) else pa.array(col, f.type)
        for f, col in ((f, columns[f.name]) for f in schema)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


# --- the tables -----------------------------------------------------------------------------------


def batch_tables(batch: ParsedBatch, input_path: str) -> dict[str, pa.RecordBatch]:
    """One Arrow record batch per staging table (quarantine included)."""
    ws = batch.works
    ids = pa.array(batch.ids, S)
    lines = pa.array(batch.lines, I64)
    latest: _Latest = {}  # filled by _authorships, read by _institutions
    out = {
        "works": _works(batch, ids, lines, input_path),
        **_authorships(ws, ids, lines, latest),
        "work_topics": _topics(ws, ids, lines),
        "work_sdgs": _sdgs(ws, ids, lines),
        "referenced_works": _references(ws, ids, lines),
        "work_funding": _funding(ws, ids, lines),
        "institutions": _institutions(batch, input_path, latest),
    }
    q = batch.quarantine
    out["quarantine"] = pa.RecordBatch.from_arrays(
        [
            pa.array([r.line for r in q], I64),
            pa.array([r.record_id for r in q], S),
            pa.array([r.reason for r in q], S),
            pa.array([r.raw for r in q], S),
        ],
        schema=QUARANTINE_SCHEMA,
    )
    return out


def _works(batch: ParsedBatch, ids: pa.Array, lines: pa.Array, input_path: str) -> pa.RecordBatch:
    """The works rows, in one pass over the works (see ``_authorships``)."""
    ws = batch.works
    n = len(ws)
    plain: dict[str, list[Any]] = {name: [None] * n for name in _PLAIN_WORK_COLUMNS}
    doi, title, language, type_ = plain["doi"], plain["title"], plain["language"], plain["type"]
    year, date, updated, created = (
        plain["publication_year"],
        plain["publication_date"],
        plain["updated_date"],
        plain["created_date"],
    )
    retracted, paratext = plain["is_retracted"], plain["is_paratext"]
    truncated = plain["is_authors_truncated"]
    authors, cited, fwci = plain["authors_count"], plain["cited_by_count"], plain["fwci"]
    pct, top1, top10 = (
        plain["citation_normalized_percentile"],
        plain["is_in_top_1_percent"],
        plain["is_in_top_10_percent"],
    )
    is_oa, oa_status, oa_url = plain["is_oa"], plain["oa_status"], plain["oa_url"]
    source_id, source_name, source_type, source_issn = (
        plain["source_id"],
        plain["source_name"],
        plain["source_type"],
        plain["source_issn_l"],
    )
    topic_id = plain["primary_topic_id"]
    abstract: list[bytes | None] = [None] * n
    cby_offsets = [0] * (n + 1)
    cby_null = [False] * n
    cby_year: list[int | None] = []
    cby_count: list[int | None] = []
    total = 0
    for i, w in enumerate(ws):
        doi[i] = w.doi
        title[i] = w.title if w.title is not None else w.display_name
        raw = w.abstract_inverted_index
        if raw is not UNSET:
            data = bytes(raw)
            abstract[i] = None if data == b"null" else data
        language[i] = w.language
        type_[i] = w.type
        year[i] = w.publication_year
        date[i] = w.publication_date
        updated[i] = w.updated_date
        created[i] = w.created_date
        retracted[i] = w.is_retracted
        paratext[i] = w.is_paratext
        truncated[i] = w.is_authors_truncated
        authors[i] = len(w.authorships) if w.authorships else 0
        cited[i] = w.cited_by_count
        counts = w.counts_by_year
        if counts is None:
            cby_null[i] = True
        elif counts:
            total += len(counts)
            for c in counts:
                cby_year.append(c.year)
                cby_count.append(c.cited_by_count)
        cby_offsets[i + 1] = total
        fwci[i] = w.fwci
        cnp = w.citation_normalized_percentile
        if cnp is not None:
            pct[i] = cnp.value
            top1[i] = cnp.is_in_top_1_percent
            top10[i] = cnp.is_in_top_10_percent
        oa = w.open_access
        if oa is not None:
            is_oa[i] = oa.is_oa
            oa_status[i] = oa.oa_status
            oa_url[i] = oa.oa_url
        loc = w.primary_location
        src = (loc.source if loc is not None else None) or w.host_venue
        if src is not None:
            source_id[i] = src.id
            source_name[i] = src.display_name
            source_type[i] = src.type
            source_issn[i] = src.issn_l
        topic = w.primary_topic
        if topic is not None:
            topic_id[i] = topic.id
    counts_by_year = pa.ListArray.from_arrays(
        pa.array(cby_offsets, I32),
        pa.StructArray.from_arrays(
            [pa.array(cby_year, I32), pa.array(cby_count, I32)], fields=list(COUNT_BY_YEAR)
        ),
        mask=pa.array(cby_null, B),
    )
    columns: dict[str, Any] = {
        **plain,
        "id": ids,
        "abstract_inverted_index": pa.array(abstract, pa.binary()).cast(S),
        "counts_by_year": counts_by_year,
        "source_id": short_ids(source_id),
        "primary_topic_id": short_ids(topic_id),
        "input_path": pa.array([input_path] * n, S),
        "input_line": lines,
        "_missing": batch.missing,
    }
    return _batch(SCHEMAS["works"], columns)


_PLAIN_WORK_COLUMNS = tuple(
    name
    for name, _ in WORK_FIELDS
    if name not in {"id", "abstract_inverted_index", "counts_by_year", "input_path", "input_line", "_missing"}
)


# Per institution id (as given): the latest updated_date of a work describing it ("" when none), that
# date as given, and the description.
_Latest = dict[str, tuple[str, str | None, DehydratedInstitution]]


def _beats(new: DehydratedInstitution, kept: DehydratedInstitution, key: str) -> bool:
    """Whether ``new`` wins a tie on date against ``kept``, by the merge's order
    (``merge.INSTITUTION_ORDER``): the greater lineage as text, then name, ROR, country, type, a missing value
    last. The same rule in each batch and in the merge keeps the store independent of where batches begin."""
    if new is kept or new == kept:
        return False
    return _tie_key(new, key) > _tie_key(kept, key)


def _tie_key(i: DehydratedInstitution, key: str) -> tuple[object, ...]:
    lineage = _lineage(short_id(key) or key, i.lineage)
    return (
        "[" + ", ".join(lineage) + "]",  # DuckDB's text of a VARCHAR[]
        *((v is not None, v or "") for v in (i.display_name, i.ror, i.country_code, i.type)),
    )


def _authorships(
    ws: Sequence[Work], ids: pa.Array, lines: pa.Array, latest: _Latest
) -> dict[str, pa.RecordBatch]:
    """The authorships, and their links to their distinct direct institutions.

    One pass over the authorships fills every column: each object is visited once while it is in the
    CPU's cache (a pass per column cost about twice as much on the benchmark's files). The same pass keeps
    in ``latest`` each institution's description on its latest work (the first one on ties), for
    ``_institutions``.
    """
    owner: list[int] = []
    position: list[int] = []
    author_position: list[str | None] = []
    author_id: list[str | None] = []
    author_name: list[str | None] = []
    author_orcid: list[str | None] = []
    raw_name: list[str | None] = []
    corresponding: list[bool | None] = []
    affiliations: list[list[str] | None] = []
    countries: list[list[str] | None] = []
    institutions_count: list[int] = []
    link_owner: list[int] = []
    link_position: list[int] = []
    link_ids: list[str] = []
    for wi, w in enumerate(ws):
        aus = w.authorships
        if not aus:
            continue
        updated = w.updated_date
        date = updated or ""
        for p, a in enumerate(aus):
            owner.append(wi)
            position.append(p)
            author_position.append(a.author_position)
            x = a.author
            if x is None:
                author_id.append(None)
                author_name.append(None)
                author_orcid.append(None)
            else:
                author_id.append(x.id)
                author_name.append(x.display_name)
                author_orcid.append(x.orcid)
            raw_name.append(a.raw_author_name)
            corresponding.append(a.is_corresponding)
            strings = a.raw_affiliation_strings
            if strings is None and a.raw_affiliation_string:  # legacy vintages
                strings = [a.raw_affiliation_string]
            affiliations.append(strings)
            countries.append(a.countries)
            # The authorship's distinct direct institution ids (as given, URLs), in record order; the
            # one-institution case, by far the most common, skips the de-duplication.
            insts = a.institutions
            if not insts:
                institutions_count.append(0)
                continue
            for inst in insts:
                key = inst.id
                if key:
                    seen = latest.get(key)
                    if seen is None or date > seen[0] or (date == seen[0] and _beats(inst, seen[2], key)):
                        latest[key] = (date, updated, inst)
            if len(insts) == 1:
                iid = insts[0].id
                if iid:
                    link_owner.append(wi)
                    link_position.append(p)
                    link_ids.append(iid)
                    institutions_count.append(1)
                else:
                    institutions_count.append(0)
            else:
                distinct = list(dict.fromkeys(i.id for i in insts if i.id))
                link_owner.extend([wi] * len(distinct))
                link_position.extend([p] * len(distinct))
                link_ids.extend(distinct)
                institutions_count.append(len(distinct))
    owners = pa.array(owner, I32)
    columns: dict[str, Any] = {
        "work_id": ids.take(owners),
        "position": position,
        "author_position": author_position,
        "author_id": short_ids(author_id),
        "author_name": author_name,
        "author_orcid": author_orcid,
        "raw_author_name": raw_name,
        "is_corresponding": corresponding,
        "raw_affiliation_strings": affiliations,
        "countries": countries,
        "institutions_count": institutions_count,
        "_line": lines.take(owners),
    }
    link_owners = pa.array(link_owner, I32)
    link_columns: dict[str, Any] = {
        "work_id": ids.take(link_owners),
        "position": link_position,
        "institution_id": short_ids(link_ids),
        "_line": lines.take(link_owners),
    }
    return {
        "authorships": _batch(SCHEMAS["authorships"], columns),
        "authorship_institutions": _batch(SCHEMAS["authorship_institutions"], link_columns),
    }


def _topics(ws: Sequence[Work], ids: pa.Array, lines: pa.Array) -> pa.RecordBatch:
    """A work's topics (or, when it lists none, its primary topic), in one pass like the authorships.
    A topic id listed twice is kept once, and one row at most is the primary (a record naming its primary
    topic twice would otherwise count twice in every class)."""
    owner: list[int] = []
    topic_id: list[str | None] = []
    is_primary: list[bool] = []
    name: list[str | None] = []
    score: list[float | None] = []
    sub_id: list[str | None] = []
    sub_name: list[str | None] = []
    field_id: list[str | None] = []
    field_name: list[str | None] = []
    domain_id: list[str | None] = []
    domain_name: list[str | None] = []
    for wi, w in enumerate(ws):
        topics = w.topics
        primary = w.primary_topic
        if topics:
            primary_key = primary.id if primary is not None else topics[0].id
        elif primary is not None:
            topics = [primary]
            primary_key = primary.id
        else:
            continue
        seen: set[str] = set()
        marked = False
        for t in topics:
            if t.id is not None:
                if t.id in seen:
                    continue
                seen.add(t.id)
            first = not marked and t.id == primary_key  # equal ids, or no id on either side
            marked = marked or first
            owner.append(wi)
            topic_id.append(t.id)
            is_primary.append(first)
            name.append(t.display_name)
            score.append(t.score)
            x = t.subfield
            sub_id.append(x.id if x is not None else None)
            sub_name.append(x.display_name if x is not None else None)
            x = t.field
            field_id.append(x.id if x is not None else None)
            field_name.append(x.display_name if x is not None else None)
            x = t.domain
            domain_id.append(x.id if x is not None else None)
            domain_name.append(x.display_name if x is not None else None)
    owners = pa.array(owner, I32)
    topic_ids = pa.array(topic_id, S)
    columns: dict[str, Any] = {
        "work_id": ids.take(owners),
        "topic_id": _strip_prefix_array(topic_ids),
        "topic_name": name,
        "score": score,
        "is_primary": pa.array(is_primary, pa.bool_()),
        "subfield_id": stripped_ids(sub_id),
        "subfield_name": sub_name,
        "field_id": stripped_ids(field_id),
        "field_name": field_name,
        "domain_id": stripped_ids(domain_id),
        "domain_name": domain_name,
        "_line": lines.take(owners),
    }
    return _batch(SCHEMAS["work_topics"], columns)


def _sdg_number(sdg_id: str | None) -> int | None:
    if not sdg_id:
        return None
    tail = sdg_id.rstrip("/").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _sdgs(ws: Sequence[Work], ids: pa.Array, lines: pa.Array) -> pa.RecordBatch:
    sdgs, owner = _flatten([w.sustainable_development_goals for w in ws])
    numbers = [_sdg_number(g.id) for g in sdgs]
    keep = [i for i, n in enumerate(numbers) if n is not None]
    if len(keep) < len(sdgs):
        sdgs = [sdgs[i] for i in keep]
        owner = owner.take(pa.array(keep, I32))
        numbers = [numbers[i] for i in keep]
    columns = {
        "work_id": ids.take(owner),
        "sdg": numbers,
        "display_name": [g.display_name for g in sdgs],
        "score": [g.score for g in sdgs],
        "_line": lines.take(owner),
    }
    return _batch(SCHEMAS["work_sdgs"], columns)


def _references(ws: Sequence[Work], ids: pa.Array, lines: pa.Array) -> pa.RecordBatch:
    refs = pa.array([w.referenced_works for w in ws], LS)
    owner = pc.list_parent_indices(refs)
    columns = {
        "work_id": ids.take(owner),
        "referenced_work_id": _strip_prefix_array(refs.flatten()),
        "_line": lines.take(owner),
    }
    return _batch(SCHEMAS["referenced_works"], columns)


_Funding = tuple[str | None, str | None, str | None, str | None, str]


def _work_funding(w: Work) -> list[_Funding] | None:
    if not (w.awards or w.funders or w.grants):
        return None
    rows: list[_Funding] = [
        (a.funder_id, a.funder_display_name, a.funder_award_id, a.id, "awards") for a in w.awards or ()
    ]
    rows += [(f.id, f.display_name, None, None, "funders") for f in w.funders or ()]
    rows += [(g.funder, g.funder_display_name, g.award_id, None, "grants") for g in w.grants or ()]
    return rows


def _funding(ws: Sequence[Work], ids: pa.Array, lines: pa.Array) -> pa.RecordBatch:
    rows, owner = _flatten([_work_funding(w) for w in ws])
    columns = {
        "work_id": ids.take(owner),
        "funder_id": [short_id(r[0]) for r in rows],
        "funder_name": [r[1] for r in rows],
        "award_id": [r[2] for r in rows],
        "award_openalex_id": [short_id(r[3]) for r in rows],
        "origin": [r[4] for r in rows],
        "_line": lines.take(owner),
    }
    return _batch(SCHEMAS["work_funding"], columns)


def _lineage(iid: str, lineage: Iterable[str] | None) -> list[str]:
    """An institution's lineage as short ids, repeated ids dropped; itself when OpenAlex gives none."""
    if not lineage:
        return [iid]
    return list(dict.fromkeys(short_id(x) or x for x in lineage))


def _institutions(batch: ParsedBatch, input_path: str, latest: _Latest) -> pa.RecordBatch:
    """Each institution once per batch: the description on its latest work (the first one on ties; found
    by ``_authorships``); full institution records (``entities/institutions``) as they are."""
    rows = []
    for key, (_, updated, i) in latest.items():
        iid = short_id(key) or key
        rows.append(
            (iid, i.display_name, i.ror, i.country_code, i.type, _lineage(iid, i.lineage), updated, False)
        )
    for rec in batch.institutions:  # the builder keeps only records with an id
        rid = short_id(rec.id) or str(rec.id)
        lineage = _lineage(rid, rec.lineage)
        rows.append(
            (rid, rec.display_name, rec.ror, rec.country_code, rec.type, lineage, rec.updated_date, True)
        )
    columns = {
        "id": [r[0] for r in rows],
        "display_name": [r[1] for r in rows],
        "ror": [r[2] for r in rows],
        "country_code": [r[3] for r in rows],
        "type": [r[4] for r in rows],
        "lineage": [r[5] for r in rows],
        "seen_updated_date": [r[6] for r in rows],
        "seen_input_path": [input_path] * len(rows),
        "from_entity_record": [r[7] for r in rows],
    }
    return _batch(SCHEMAS["institutions"], columns)
