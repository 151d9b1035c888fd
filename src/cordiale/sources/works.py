"""OpenAlex work records → rows of the store's tables.

One typed msgspec decoder per record (C speed, unknown fields skipped, the abstract kept as raw JSON
text without decoding it); every field optional so older schema vintages (nulls, ``host_venue`` and
``concepts`` instead of ``primary_location`` and ``topics``, Crossref-style types) load. A record that
cannot be decoded is returned as a quarantine row whose reason names the field (msgspec's ``$.path``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from msgspec import UNSET, Raw, Struct, UnsetType

from cordiale.ids import short_openalex_id, strip_openalex_prefix

OPENALEX = "https://openalex.org/"
_PREFIX_LEN = len(OPENALEX)


class Named(Struct, frozen=True):
    id: str | None = None
    display_name: str | None = None


class DehydratedInstitution(Struct):
    id: str | None = None
    display_name: str | None = None
    ror: str | None = None
    country_code: str | None = None
    type: str | None = None
    lineage: list[str] | None = None


class Author(Struct):
    id: str | None = None
    display_name: str | None = None
    orcid: str | None = None


class Authorship(Struct):
    author_position: str | None = None
    author: Author | None = None
    institutions: list[DehydratedInstitution] | None = None
    countries: list[str] | None = None
    is_corresponding: bool | None = None
    raw_author_name: str | None = None
    raw_affiliation_strings: list[str] | None = None
    raw_affiliation_string: str | None = None  # legacy vintages


class Source(Struct):
    id: str | None = None
    display_name: str | None = None
    type: str | None = None
    issn_l: str | None = None


class Location(Struct):
    source: Source | None = None


class OpenAccess(Struct):
    is_oa: bool | None = None
    oa_status: str | None = None
    oa_url: str | None = None


class Topic(Struct):
    id: str | None = None
    display_name: str | None = None
    score: float | None = None
    subfield: Named | None = None
    field: Named | None = None
    domain: Named | None = None


class Sdg(Struct):
    id: str | None = None
    display_name: str | None = None
    score: float | None = None


class Funder(Struct):
    id: str | None = None
    display_name: str | None = None


class Award(Struct):
    id: str | None = None
    funder_award_id: str | None = None
    funder_id: str | None = None
    funder_display_name: str | None = None


class Grant(Struct):
    funder: str | None = None
    funder_display_name: str | None = None
    award_id: str | None = None


class CountByYear(Struct):
    year: int | None = None
    cited_by_count: int | None = None


class NormalizedPercentile(Struct):
    value: float | None = None
    is_in_top_1_percent: bool | None = None
    is_in_top_10_percent: bool | None = None


class Work(Struct):
    """The fields of an OpenAlex work the store keeps; UNSET means the key was absent."""

    id: str | UnsetType | None = UNSET
    doi: str | UnsetType | None = UNSET
    title: str | UnsetType | None = UNSET
    display_name: str | UnsetType | None = UNSET
    abstract_inverted_index: Raw | UnsetType = UNSET
    language: str | UnsetType | None = UNSET
    type: str | UnsetType | None = UNSET
    publication_year: int | UnsetType | None = UNSET
    publication_date: str | UnsetType | None = UNSET
    updated_date: str | UnsetType | None = UNSET
    created_date: str | UnsetType | None = UNSET
    is_retracted: bool | UnsetType | None = UNSET
    is_paratext: bool | UnsetType | None = UNSET
    is_authors_truncated: bool | UnsetType | None = UNSET
    cited_by_count: int | UnsetType | None = UNSET
    counts_by_year: list[CountByYear] | UnsetType | None = UNSET
    fwci: float | UnsetType | None = UNSET
    citation_normalized_percentile: NormalizedPercentile | UnsetType | None = UNSET
    open_access: OpenAccess | UnsetType | None = UNSET
    primary_location: Location | UnsetType | None = UNSET
    host_venue: Source | UnsetType | None = UNSET  # legacy vintages
    primary_topic: Topic | UnsetType | None = UNSET
    topics: list[Topic] | UnsetType | None = UNSET
    authorships: list[Authorship] | UnsetType | None = UNSET
    sustainable_development_goals: list[Sdg] | UnsetType | None = UNSET
    referenced_works: list[str] | UnsetType | None = UNSET
    funders: list[Funder] | UnsetType | None = UNSET
    awards: list[Award] | UnsetType | None = UNSET
    grants: list[Grant] | UnsetType | None = UNSET


class InstitutionRecord(Struct):
    """A full OpenAlex institution record (``entities/institutions``)."""

    id: str | None = None
    display_name: str | None = None
    ror: str | None = None
    country_code: str | None = None
    type: str | None = None
    lineage: list[str] | None = None
    updated_date: str | None = None


WORK_DECODER = msgspec.json.Decoder(Work, strict=False)
_INSTITUTION_DECODER = msgspec.json.Decoder(InstitutionRecord, strict=False)

# Works columns (in table order, before input_path/input_line) and the top-level key each comes from.
WORK_COLUMN_KEYS: dict[str, tuple[str, ...]] = {
    "doi": ("doi",),
    "title": ("title", "display_name"),
    "abstract_inverted_index": ("abstract_inverted_index",),
    "language": ("language",),
    "type": ("type",),
    "publication_year": ("publication_year",),
    "publication_date": ("publication_date",),
    "updated_date": ("updated_date",),
    "created_date": ("created_date",),
    "is_retracted": ("is_retracted",),
    "is_paratext": ("is_paratext",),
    "is_authors_truncated": ("is_authors_truncated",),
    "authors_count": ("authorships",),
    "cited_by_count": ("cited_by_count",),
    "counts_by_year": ("counts_by_year",),
    "fwci": ("fwci",),
    "citation_normalized_percentile": ("citation_normalized_percentile",),
    "is_in_top_1_percent": ("citation_normalized_percentile",),
    "is_in_top_10_percent": ("citation_normalized_percentile",),
    "is_oa": ("open_access",),
    "oa_status": ("open_access",),
    "oa_url": ("open_access",),
    "source_id": ("primary_location", "host_venue"),
    "source_name": ("primary_location", "host_venue"),
    "source_type": ("primary_location", "host_venue"),
    "source_issn_l": ("primary_location", "host_venue"),
    "primary_topic_id": ("primary_topic",),
}

# Child tables and the top-level keys that carry them.
CHILD_TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "authorships": ("authorships",),
    "authorship_institutions": ("authorships",),
    "work_topics": ("topics", "primary_topic"),
    "work_sdgs": ("sustainable_development_goals",),
    "referenced_works": ("referenced_works",),
    "work_funding": ("funders", "awards", "grants"),
}

TRACKED_KEYS: tuple[str, ...] = tuple(
    sorted({k for keys in (*WORK_COLUMN_KEYS.values(), *CHILD_TABLE_KEYS.values()) for k in keys})
)


def _short(value: str | None) -> str | None:
    """Short OpenAlex id; fast path for the canonical URL form."""
    if value is None:
        return None
    if value.startswith(OPENALEX):
        return value[_PREFIX_LEN:]
    return short_openalex_id(value) or value


def _v(value: Any) -> Any:
    return None if value is UNSET else value


@dataclass
class Columns:
    """Column lists for one table, appended row by row, turned into Arrow at the end of a batch."""

    names: tuple[str, ...]
    data: dict[str, list[Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.data = {n: [] for n in self.names}

    def __len__(self) -> int:
        return len(self.data[self.names[0]])


@dataclass
class QuarantineRow:
    line: int
    record_id: str | None
    reason: str
    raw: str


@dataclass
class ParsedBatch:
    """Rows of every table for a batch of input lines (columns as Python lists)."""

    works: Columns
    authorships: Columns
    authorship_institutions: Columns
    work_topics: Columns
    work_sdgs: Columns
    referenced_works: Columns
    work_funding: Columns
    institutions: Columns
    quarantine: list[QuarantineRow]
    read: int = 0
    filtered: int = 0


WORK_COLUMNS = ("id", *WORK_COLUMN_KEYS.keys(), "input_path", "input_line", "_missing")
AUTHORSHIP_COLUMNS = (
    "work_id",
    "position",
    "author_position",
    "author_id",
    "author_name",
    "author_orcid",
    "raw_author_name",
    "is_corresponding",
    "raw_affiliation_strings",
    "countries",
    "institutions_count",
    "_line",
)
AUTHORSHIP_INSTITUTION_COLUMNS = ("work_id", "position", "institution_id", "_line")
TOPIC_COLUMNS = (
    "work_id",
    "topic_id",
    "topic_name",
    "score",
    "is_primary",
    "subfield_id",
    "subfield_name",
    "field_id",
    "field_name",
    "domain_id",
    "domain_name",
    "_line",
)
SDG_COLUMNS = ("work_id", "sdg", "display_name", "score", "_line")
REFERENCE_COLUMNS = ("work_id", "referenced_work_id", "_line")
FUNDING_COLUMNS = ("work_id", "funder_id", "funder_name", "award_id", "award_openalex_id", "origin", "_line")
INSTITUTION_COLUMNS = (
    "id",
    "display_name",
    "ror",
    "country_code",
    "type",
    "lineage",
    "seen_updated_date",
    "seen_input_path",
    "from_entity_record",
)


def new_batch() -> ParsedBatch:
    return ParsedBatch(
        works=Columns(WORK_COLUMNS),
        authorships=Columns(AUTHORSHIP_COLUMNS),
        authorship_institutions=Columns(AUTHORSHIP_INSTITUTION_COLUMNS),
        work_topics=Columns(TOPIC_COLUMNS),
        work_sdgs=Columns(SDG_COLUMNS),
        referenced_works=Columns(REFERENCE_COLUMNS),
        work_funding=Columns(FUNDING_COLUMNS),
        institutions=Columns(INSTITUTION_COLUMNS),
        quarantine=[],
    )


def _sdg_number(sdg_id: str | None) -> int | None:
    if not sdg_id:
        return None
    tail = sdg_id.rstrip("/").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _dedupe(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values)) if len(values) > 1 else values


class WorkRowBuilder:
    """Appends one decoded record's rows to a batch; applies the optional institution filter."""

    def __init__(
        self, input_path: str, partial: bool = False, institution_filter: frozenset[str] = frozenset()
    ):
        self.input_path = input_path
        self.partial = partial
        self.institution_filter = institution_filter
        self._inst_seen: dict[str, int] = {}

    def reset(self) -> None:
        self._inst_seen.clear()

    def add_line(self, batch: ParsedBatch, raw: bytes, line: int) -> None:
        """Decode one JSON line and add its rows (or a quarantine row) to ``batch``."""
        batch.read += 1
        try:
            work = WORK_DECODER.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            batch.quarantine.append(QuarantineRow(line, _guess_id(raw), _reason(exc), _text(raw)))
            return
        wid = _short(_v(work.id))
        if not wid:
            batch.quarantine.append(QuarantineRow(line, None, "record without id", _text(raw)))
            return
        if wid[0] == "W":
            self.add_work(batch, work, wid, line)
        elif wid[0] == "I":
            self._add_institution_record(batch, raw, line)
        else:
            reason = f"not a work or institution record (id {wid}); ingest takes works and institutions"
            batch.quarantine.append(QuarantineRow(line, wid, reason, _text(raw)))

    def add_record(self, batch: ParsedBatch, record: dict[str, Any], line: int) -> None:
        """Add one already-parsed record (e.g. a Parquet row) through the same typed path."""
        batch.read += 1
        try:
            work = msgspec.convert(record, Work, strict=False)
        except msgspec.ValidationError as exc:
            raw = msgspec.json.encode(record)
            batch.quarantine.append(QuarantineRow(line, _guess_id(raw), _reason(exc), _text(raw)))
            return
        wid = _short(_v(work.id))
        if not wid or wid[0] != "W":
            raw = msgspec.json.encode(record)
            batch.quarantine.append(QuarantineRow(line, wid, "record without a work id", _text(raw)))
            return
        self.add_work(batch, work, wid, line)

    def _passes_filter(self, authorships: list[Authorship]) -> bool:
        wanted = self.institution_filter
        for a in authorships:
            for inst in a.institutions or ():
                if inst.id and _short(inst.id) in wanted:
                    return True
                for lid in inst.lineage or ():
                    if _short(lid) in wanted:
                        return True
        return False

    def add_work(self, batch: ParsedBatch, w: Work, wid: str, line: int) -> None:
        authorships: list[Authorship] = _v(w.authorships) or []
        if self.institution_filter and not self._passes_filter(authorships):
            batch.filtered += 1
            return
        updated = _v(w.updated_date)
        path = self.input_path
        missing = [k for k in TRACKED_KEYS if getattr(w, k) is UNSET] if self.partial else []
        if missing and "title" in missing and w.display_name is not UNSET:
            missing.remove("title")

        cnp = _v(w.citation_normalized_percentile)
        oa = _v(w.open_access)
        loc = _v(w.primary_location)
        src = loc.source if loc is not None else None
        if src is None:
            src = _v(w.host_venue)
        ptopic = _v(w.primary_topic)
        cby = _v(w.counts_by_year)
        abstract = _v(w.abstract_inverted_index)
        abstract_text = None
        if abstract is not None:
            abstract_text = bytes(abstract).decode()
            if abstract_text == "null":
                abstract_text = None
        title = _v(w.title)
        if title is None:
            title = _v(w.display_name)

        d = batch.works.data
        d["id"].append(wid)
        d["doi"].append(_v(w.doi))
        d["title"].append(title)
        d["abstract_inverted_index"].append(abstract_text)
        d["language"].append(_v(w.language))
        d["type"].append(_v(w.type))
        d["publication_year"].append(_v(w.publication_year))
        d["publication_date"].append(_v(w.publication_date))
        d["updated_date"].append(updated)
        d["created_date"].append(_v(w.created_date))
        d["is_retracted"].append(_v(w.is_retracted))
        d["is_paratext"].append(_v(w.is_paratext))
        d["is_authors_truncated"].append(_v(w.is_authors_truncated))
        d["authors_count"].append(len(authorships))
        d["cited_by_count"].append(_v(w.cited_by_count))
        d["counts_by_year"].append(
            [{"year": c.year, "cited_by_count": c.cited_by_count} for c in cby] if cby is not None else None
        )
        d["fwci"].append(_v(w.fwci))
        d["citation_normalized_percentile"].append(cnp.value if cnp is not None else None)
        d["is_in_top_1_percent"].append(cnp.is_in_top_1_percent if cnp is not None else None)
        d["is_in_top_10_percent"].append(cnp.is_in_top_10_percent if cnp is not None else None)
        d["is_oa"].append(oa.is_oa if oa is not None else None)
        d["oa_status"].append(oa.oa_status if oa is not None else None)
        d["oa_url"].append(oa.oa_url if oa is not None else None)
        d["source_id"].append(_short(src.id) if src is not None else None)
        d["source_name"].append(src.display_name if src is not None else None)
        d["source_type"].append(src.type if src is not None else None)
        d["source_issn_l"].append(src.issn_l if src is not None else None)
        d["primary_topic_id"].append(_short(ptopic.id) if ptopic is not None else None)
        d["input_path"].append(path)
        d["input_line"].append(line)
        d["_missing"].append(missing)

        self._add_authorships(batch, wid, authorships, line, updated)

        topics: list[Topic] = _v(w.topics) or []
        if not topics and ptopic is not None:
            topics = [ptopic]
        if topics:
            t = batch.work_topics.data
            primary_id = ptopic.id if ptopic is not None else topics[0].id
            for tp in topics:
                sf, fd, dm = tp.subfield, tp.field, tp.domain
                t["work_id"].append(wid)
                t["topic_id"].append(_short(tp.id))
                t["topic_name"].append(tp.display_name)
                t["score"].append(tp.score)
                t["is_primary"].append(tp.id == primary_id)
                t["subfield_id"].append(strip_openalex_prefix(sf.id) if sf else None)
                t["subfield_name"].append(sf.display_name if sf else None)
                t["field_id"].append(strip_openalex_prefix(fd.id) if fd else None)
                t["field_name"].append(fd.display_name if fd else None)
                t["domain_id"].append(strip_openalex_prefix(dm.id) if dm else None)
                t["domain_name"].append(dm.display_name if dm else None)
                t["_line"].append(line)

        sdgs: list[Sdg] = _v(w.sustainable_development_goals) or []
        if sdgs:
            s = batch.work_sdgs.data
            for g in sdgs:
                num = _sdg_number(g.id)
                if num is None:
                    continue
                s["work_id"].append(wid)
                s["sdg"].append(num)
                s["display_name"].append(g.display_name)
                s["score"].append(g.score)
                s["_line"].append(line)

        refs: list[str] = _v(w.referenced_works) or []
        if refs:
            r = batch.referenced_works.data
            n = len(refs)
            r["work_id"].extend([wid] * n)
            r["referenced_work_id"].extend(refs)  # full URLs: the merge strips the prefix in SQL
            r["_line"].extend([line] * n)

        self._add_funding(batch, w, wid, line)

    def _add_authorships(
        self, batch: ParsedBatch, wid: str, authorships: list[Authorship], line: int, updated: str | None
    ) -> None:
        if not authorships:
            return
        a = batch.authorships.data
        ai = batch.authorship_institutions.data
        inst_cols = batch.institutions.data
        seen = self._inst_seen
        path = self.input_path
        for pos, au in enumerate(authorships):
            author = au.author
            raw_aff = au.raw_affiliation_strings
            if raw_aff is None and au.raw_affiliation_string:
                raw_aff = [au.raw_affiliation_string]
            ids: list[str] = []
            for inst in au.institutions or ():
                iid = _short(inst.id)
                if iid is None or iid in ids:
                    continue
                ids.append(iid)
                key_date = updated or ""
                prev = seen.get(iid)
                if prev is None or key_date >= (inst_cols["seen_updated_date"][prev] or ""):
                    lineage = [_short(x) or x for x in inst.lineage] if inst.lineage else [iid]
                    row = (
                        iid,
                        inst.display_name,
                        inst.ror,
                        inst.country_code,
                        inst.type,
                        _dedupe(lineage),
                        updated,
                        path,
                        False,
                    )
                    if prev is None:
                        seen[iid] = len(inst_cols["id"])
                        for name, value in zip(INSTITUTION_COLUMNS, row, strict=True):
                            inst_cols[name].append(value)
                    else:
                        for name, value in zip(INSTITUTION_COLUMNS, row, strict=True):
                            inst_cols[name][prev] = value
            a["work_id"].append(wid)
            a["position"].append(pos)
            a["author_position"].append(au.author_position)
            a["author_id"].append(_short(author.id) if author is not None else None)
            a["author_name"].append(author.display_name if author is not None else None)
            a["author_orcid"].append(author.orcid if author is not None else None)
            a["raw_author_name"].append(au.raw_author_name)
            a["is_corresponding"].append(au.is_corresponding)
            a["raw_affiliation_strings"].append(raw_aff)
            a["countries"].append(au.countries)
            a["institutions_count"].append(len(ids))
            a["_line"].append(line)
            n = len(ids)
            if n:
                ai["work_id"].extend([wid] * n)
                ai["position"].extend([pos] * n)
                ai["institution_id"].extend(ids)
                ai["_line"].extend([line] * n)

    @staticmethod
    def _add_funding(batch: ParsedBatch, w: Work, wid: str, line: int) -> None:
        f = batch.work_funding.data

        def add(fid: str | None, fname: str | None, award: str | None, gid: str | None, origin: str) -> None:
            f["work_id"].append(wid)
            f["funder_id"].append(_short(fid))
            f["funder_name"].append(fname)
            f["award_id"].append(award)
            f["award_openalex_id"].append(_short(gid))
            f["origin"].append(origin)
            f["_line"].append(line)

        for aw in _v(w.awards) or ():
            add(aw.funder_id, aw.funder_display_name, aw.funder_award_id, aw.id, "awards")
        for fu in _v(w.funders) or ():
            add(fu.id, fu.display_name, None, None, "funders")
        for gr in _v(w.grants) or ():
            add(gr.funder, gr.funder_display_name, gr.award_id, None, "grants")

    def _add_institution_record(self, batch: ParsedBatch, raw: bytes, line: int) -> None:
        try:
            rec = _INSTITUTION_DECODER.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            batch.quarantine.append(QuarantineRow(line, _guess_id(raw), _reason(exc), _text(raw)))
            return
        iid = _short(rec.id)
        lineage = _dedupe([_short(x) or x for x in rec.lineage]) if rec.lineage else [iid]
        row = (
            iid,
            rec.display_name,
            rec.ror,
            rec.country_code,
            rec.type,
            lineage,
            rec.updated_date,
            self.input_path,
            True,
        )
        cols = batch.institutions.data
        for name, value in zip(INSTITUTION_COLUMNS, row, strict=True):
            cols[name].append(value)


def _reason(exc: Exception) -> str:
    text = str(exc)
    if isinstance(exc, msgspec.DecodeError):
        return f"not valid JSON: {text}"
    return f"wrong field type: {text}"


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")


def _guess_id(raw: bytes) -> str | None:
    """Best-effort id of an undecodable record, for the quarantine table."""
    i = raw.find(b'"id"')
    if i < 0:
        return None
    j = raw.find(b'"', raw.find(b":", i) + 1)
    k = raw.find(b'"', j + 1)
    if j < 0 or k < 0:
        return None
    return _short(raw[j + 1 : k].decode("utf-8", errors="replace"))


def iter_lines(chunks: Iterable[bytes]) -> Iterable[bytes]:
    """Split a stream of byte chunks into lines (without the newline)."""
    rest = b""
    for chunk in chunks:
        if rest:
            chunk = rest + chunk
        lines = chunk.split(b"\n")
        rest = lines.pop()
        yield from lines
    if rest:
        yield rest
