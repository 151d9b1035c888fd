"""OpenAlex work records → typed structs, a batch of input lines at a time.

One typed msgspec decoder per record (C speed, unknown fields skipped, the abstract kept as raw JSON
text without decoding it); every field optional so older schema vintages (nulls, ``host_venue`` and
``concepts`` instead of ``primary_location`` and ``topics``, Crossref-style types) load. A record that
cannot be decoded is returned as a quarantine row whose reason names the field (msgspec's ``$.path``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
from msgspec import UNSET, Raw, Struct, UnsetType

from cordiale.ids import short_openalex_id

OPENALEX = "https://openalex.org/"
_PREFIX_LEN = len(OPENALEX)


class Named(Struct, frozen=True, gc=False):
    id: str | None = None
    display_name: str | None = None


class DehydratedInstitution(Struct, gc=False):
    id: str | None = None
    display_name: str | None = None
    ror: str | None = None
    country_code: str | None = None
    type: str | None = None
    lineage: list[str] | None = None


class Author(Struct, gc=False):
    id: str | None = None
    display_name: str | None = None
    orcid: str | None = None


class Authorship(Struct, gc=False):
    author_position: str | None = None
    author: Author | None = None
    institutions: list[DehydratedInstitution] | None = None
    countries: list[str] | None = None
    is_corresponding: bool | None = None
    raw_author_name: str | None = None
    raw_affiliation_strings: list[str] | None = None
    raw_affiliation_string: str | None = None  # legacy vintages


class Source(Struct, gc=False):
    id: str | None = None
    display_name: str | None = None
    type: str | None = None
    issn_l: str | None = None


class Location(Struct, gc=False):
    source: Source | None = None


class OpenAccess(Struct, gc=False):
    is_oa: bool | None = None
    oa_status: str | None = None
    oa_url: str | None = None


class Topic(Struct, gc=False):
    id: str | None = None
    display_name: str | None = None
    score: float | None = None
    subfield: Named | None = None
    field: Named | None = None
    domain: Named | None = None


class Sdg(Struct, gc=False):
    id: str | None = None
    display_name: str | None = None
    score: float | None = None


class Funder(Struct, gc=False):
    id: str | None = None
    display_name: str | None = None


class Award(Struct, gc=False):
    id: str | None = None
    funder_award_id: str | None = None
    funder_id: str | None = None
    funder_display_name: str | None = None


class Grant(Struct, gc=False):
    funder: str | None = None
    funder_display_name: str | None = None
    award_id: str | None = None


class CountByYear(Struct, gc=False):
    year: int | None = None
    cited_by_count: int | None = None


class NormalizedPercentile(Struct, gc=False):
    value: float | None = None
    is_in_top_1_percent: bool | None = None
    is_in_top_10_percent: bool | None = None


class Work(Struct, gc=False):
    """The fields of an OpenAlex work the store keeps; absent keys and nulls alike are None."""

    id: str | None = None
    doi: str | None = None
    title: str | None = None
    display_name: str | None = None
    abstract_inverted_index: Raw | UnsetType = UNSET  # raw JSON, never decoded; UNSET when absent
    language: str | None = None
    type: str | None = None
    publication_year: int | None = None
    publication_date: str | None = None
    updated_date: str | None = None
    created_date: str | None = None
    is_retracted: bool | None = None
    is_paratext: bool | None = None
    is_authors_truncated: bool | None = None
    cited_by_count: int | None = None
    counts_by_year: list[CountByYear] | None = None
    fwci: float | None = None
    citation_normalized_percentile: NormalizedPercentile | None = None
    open_access: OpenAccess | None = None
    primary_location: Location | None = None
    host_venue: Source | None = None  # legacy vintages
    primary_topic: Topic | None = None
    topics: list[Topic] | None = None
    authorships: list[Authorship] | None = None
    sustainable_development_goals: list[Sdg] | None = None
    referenced_works: list[str] | None = None
    funders: list[Funder] | None = None
    awards: list[Award] | None = None
    grants: list[Grant] | None = None


class InstitutionRecord(Struct, gc=False):
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


# With ``--partial`` (records fetched with ``select``), which tracked keys a record carries.
_Presence = msgspec.defstruct("_Presence", [(k, Raw | UnsetType, UNSET) for k in TRACKED_KEYS])
_PRESENCE_DECODER = msgspec.json.Decoder(_Presence)


def short_id(value: str | None) -> str | None:
    """Short OpenAlex id; fast path for the canonical URL form."""
    if value is None:
        return None
    if value.startswith(OPENALEX):
        return value[_PREFIX_LEN:]
    return short_openalex_id(value) or value


PARTIAL_WITHOUT_DATE = (
    "partial record without updated_date: it cannot be ordered against the stored version (select it too)"
)


@dataclass
class QuarantineRow:
    line: int
    record_id: str | None
    reason: str
    raw: str


@dataclass
class ParsedBatch:
    """Decoded records of a batch of input lines; ``cordiale.store.staging`` turns them into table rows."""

    works: list[Work] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)  # short work ids, parallel to ``works``
    lines: list[int] = field(default_factory=list)
    missing: list[list[str]] = field(default_factory=list)  # tracked keys a partial record lacks
    institutions: list[InstitutionRecord] = field(default_factory=list)  # full institution records
    quarantine: list[QuarantineRow] = field(default_factory=list)
    read: int = 0
    filtered: int = 0


class WorkRowBuilder:
    """Decodes records into a batch (or quarantines them); applies the optional institution filter."""

    def __init__(
        self, input_path: str, partial: bool = False, institution_filter: frozenset[str] = frozenset()
    ):
        self.input_path = input_path
        self.partial = partial
        self.institution_filter = institution_filter

    def add_line(self, batch: ParsedBatch, raw: bytes | memoryview, line: int) -> None:
        """Decode one JSON line and add it (or a quarantine row) to ``batch``; a blank line is no record.

        ``raw`` may be a view into the decompressed chunk (no copy of the line is made unless it is
        quarantined).
        """
        try:
            work = WORK_DECODER.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            data = bytes(raw)
            if not data.strip():
                return
            batch.read += 1
            batch.quarantine.append(QuarantineRow(line, _guess_id(data), _reason(exc), _text(data)))
            return
        batch.read += 1
        wid = short_id(work.id)
        if not wid:
            batch.quarantine.append(QuarantineRow(line, None, "record without id", _text(bytes(raw))))
            return
        if wid[0] == "W":
            if self.partial and not work.updated_date:
                batch.quarantine.append(QuarantineRow(line, wid, PARTIAL_WITHOUT_DATE, _text(bytes(raw))))
                return
            missing = _missing_keys(_PRESENCE_DECODER.decode(raw)) if self.partial else []
            self._add_work(batch, work, wid, line, missing)
        elif wid[0] == "I":
            self._add_institution_record(batch, bytes(raw), line)
        else:
            reason = f"not a work or institution record (id {wid}); ingest takes works and institutions"
            batch.quarantine.append(QuarantineRow(line, wid, reason, _text(bytes(raw))))

    def add_record(self, batch: ParsedBatch, record: dict[str, Any], line: int) -> None:
        """Add one already-parsed record (e.g. a Parquet row) through the same typed path."""
        batch.read += 1
        fields = {k: v for k, v in record.items() if k != "abstract_inverted_index"}
        try:
            work = msgspec.convert(fields, Work, strict=False)
        except msgspec.ValidationError as exc:
            raw = msgspec.json.encode(record)
            batch.quarantine.append(QuarantineRow(line, _guess_id(raw), _reason(exc), _text(raw)))
            return
        wid = short_id(work.id)
        if not wid or wid[0] != "W":
            raw = msgspec.json.encode(record)
            batch.quarantine.append(QuarantineRow(line, wid, "record without a work id", _text(raw)))
            return
        if self.partial and not work.updated_date:
            raw = msgspec.json.encode(record)
            batch.quarantine.append(QuarantineRow(line, wid, PARTIAL_WITHOUT_DATE, _text(raw)))
            return
        work.abstract_inverted_index = _raw_abstract(record.get("abstract_inverted_index"))
        missing = [k for k in TRACKED_KEYS if k not in record] if self.partial else []
        self._add_work(batch, work, wid, line, _title_fallback(missing))

    def _passes_filter(self, authorships: list[Authorship]) -> bool:
        wanted = self.institution_filter
        for a in authorships:
            for inst in a.institutions or ():
                if inst.id and short_id(inst.id) in wanted:
                    return True
                for lid in inst.lineage or ():
                    if short_id(lid) in wanted:
                        return True
        return False

    def _add_work(self, batch: ParsedBatch, work: Work, wid: str, line: int, missing: list[str]) -> None:
        if self.institution_filter and not self._passes_filter(work.authorships or []):
            batch.filtered += 1
            return
        batch.works.append(work)
        batch.ids.append(wid)
        batch.lines.append(line)
        batch.missing.append(missing)

    def _add_institution_record(self, batch: ParsedBatch, raw: bytes, line: int) -> None:
        try:
            rec = _INSTITUTION_DECODER.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            batch.quarantine.append(QuarantineRow(line, _guess_id(raw), _reason(exc), _text(raw)))
            return
        batch.institutions.append(rec)


def _raw_abstract(value: Any) -> Raw | UnsetType:
    """The inverted index of a Parquet row as raw JSON: a JSON text, a mapping, or map entries."""
    if value is None:
        return UNSET
    if isinstance(value, str):
        return Raw(value.encode())
    if isinstance(value, list):  # an Arrow map column: [(word, positions), ...]
        value = dict(value)
    return Raw(msgspec.json.encode(value))


def _missing_keys(presence: Any) -> list[str]:
    return _title_fallback([k for k in TRACKED_KEYS if getattr(presence, k) is UNSET])


def _title_fallback(missing: list[str]) -> list[str]:
    """The title column also comes from ``display_name``: it is missing only when both keys are."""
    if "title" in missing and "display_name" not in missing:
        missing.remove("title")
    return missing


def _reason(exc: Exception) -> str:
    text = str(exc)
    # ValidationError is a DecodeError too: test it first (msgspec names the field, e.g. `$.publication_year`)
    if isinstance(exc, msgspec.ValidationError):
        return f"wrong field type: {text}"
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
    return short_id(raw[j + 1 : k].decode("utf-8", errors="replace"))


def iter_lines(chunks: Iterable[bytes]) -> Iterator[memoryview]:
    """Split a stream of byte chunks into lines (without the newline), as views into the chunks.

    No line is copied, except one that straddles two chunks; a view keeps its chunk alive as long as
    it (or a ``msgspec.Raw`` decoded from it) is referenced.
    """
    rest = b""
    for chunk in chunks:
        start = 0
        if rest:
            first = chunk.find(b"\n")
            if first < 0:
                rest += chunk
                continue
            yield memoryview(rest + chunk[:first])
            start = first + 1
        view = memoryview(chunk)
        find = chunk.find
        while (end := find(b"\n", start)) >= 0:
            yield view[start:end]
            start = end + 1
        rest = chunk[start:]
    if rest:
        yield memoryview(rest)
