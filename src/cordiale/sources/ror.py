"""ROR loader: Research Organization Registry records (schema v1 and v2) into the store's ``ror_*`` tables.

Reads the official dump (one JSON array, as ``.json``, ``.json.gz`` or inside the release ``.zip``), a
single record (``.json``), or JSON Lines (``.jsonl``, ``.jsonl.gz``). Each record is decoded against a
typed description of both schemas; a record that does not fit (no id, a field of the wrong type) goes to
the ``quarantine`` table with its line (JSON Lines) or its position in the array (index + 1). A JSON Lines
file cut short or corrupt part-way keeps every complete record before the damage and quarantines the line
where it stops (as works ingest does); a JSON array cannot be read in part, so a cut one is unreadable.
Files are named in the store by their resolved absolute path.

One file is one unit of work: its rows are written in one transaction that first deletes every row of
the ROR ids it carries (and its own earlier quarantine rows), so loading a file twice changes nothing
and the last loaded version of a record replaces any earlier one. Rows go in by batches of Arrow tables.
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import duckdb
import isal.isal_zlib
import msgspec
import pyarrow as pa

from cordiale.errors import InputUnreadableError
from cordiale.ids import short_ror_id
from cordiale.sources.chunks import gz_chunks, plain_chunks
from cordiale.store.connection import writer
from cordiale.store.schema import ROR_TABLES

BATCH_RECORDS = 5_000
ProgressFn = Callable[[Path, int], None]
"""Called after each batch with the file and the number of records read from it so far."""

_READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    ValueError,  # msgspec.DecodeError, UnicodeDecodeError
    zipfile.BadZipFile,
    cast("type[Exception]", isal.isal_zlib.error),  # typed as an instance in isal's stubs
)


# ---------------------------------------------------------------------------------------------------------
# The records, as far as cordiale reads them. Unknown keys are ignored; a known key of the wrong type
# rejects the record. One struct covers both schemas: v2 has ``names``, v1 has ``name``.
# ---------------------------------------------------------------------------------------------------------
class _Name(msgspec.Struct):  # v2
    value: str
    types: list[str]
    lang: str | None = None


class _Label(msgspec.Struct):  # v1
    label: str
    iso639: str | None = None


class _Geonames(msgspec.Struct):  # v2 locations[].geonames_details
    country_code: str | None = None
    country_name: str | None = None
    name: str | None = None
    lat: float | None = None
    lng: float | None = None


class _Location(msgspec.Struct):  # v2
    geonames_details: _Geonames | None = None


class _GeonamesCity(msgspec.Struct):  # v1 addresses[].geonames_city
    city: str | None = None


class _Address(msgspec.Struct):  # v1
    lat: float | None = None
    lng: float | None = None
    city: str | None = None
    geonames_city: _GeonamesCity | None = None


class _Country(msgspec.Struct):  # v1
    country_code: str | None = None
    country_name: str | None = None


class _Relationship(msgspec.Struct):  # both
    id: str
    type: str
    label: str | None = None


class _ExternalIdV2(msgspec.Struct):
    type: str
    all: list[str] = []
    preferred: str | None = None


class _ExternalIdV1(msgspec.Struct):
    all: list[str] | str | None = None  # the v1 dump gives GRID's ``all`` as one string
    preferred: str | None = None


class _Record(msgspec.Struct):
    id: str
    names: list[_Name] | None = None  # v2
    name: str | None = None  # v1
    labels: list[_Label] | None = None
    aliases: list[str] | None = None
    acronyms: list[str] | None = None
    status: str | None = None
    types: list[str] | None = None
    established: int | None = None
    locations: list[_Location] | None = None
    country: _Country | None = None
    addresses: list[_Address] | None = None
    relationships: list[_Relationship] | None = None
    external_ids: list[_ExternalIdV2] | dict[str, _ExternalIdV1 | None] | None = None


_DECODER = msgspec.json.Decoder(_Record)
_ANY_DECODER = msgspec.json.Decoder()


class _Rejected(Exception):
    """A record that cannot be stored; the message is the quarantine reason."""


class _Unreadable(Exception):
    """The file as a whole cannot be read (missing, not gzip/zip, not JSON)."""


class _Cut(Exception):
    """A JSON Lines file stops being readable at ``line`` (truncated or corrupt part-way)."""

    def __init__(self, line: int, cause: BaseException) -> None:
        what = "truncated input: ends early" if isinstance(cause, EOFError) else "corrupt input: stops"
        super().__init__(f"{what} at line {line} ({cause or type(cause).__name__})")
        self.line = line


# ---------------------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------------------
@dataclass
class RorFileSummary:
    """What one input file gave: records read, stored (distinct ROR ids written), rejected."""

    path: Path
    records_read: int = 0
    records_stored: int = 0
    records_rejected: int = 0  # quarantine rows written, the cut of a truncated file included
    seconds: float = 0.0
    error: str | None = None  # set when the file could not be read (nothing of it was stored)
    cut: tuple[int, str] | None = None  # (line, reason) where a JSON Lines file stopped being readable


@dataclass
class RorLoadSummary:
    """Per-file results of one :func:`load_ror` call, with totals."""

    files: list[RorFileSummary] = field(default_factory=list)

    @property
    def records_read(self) -> int:
        return sum(f.records_read for f in self.files)

    @property
    def records_stored(self) -> int:
        return sum(f.records_stored for f in self.files)

    @property
    def records_rejected(self) -> int:
        return sum(f.records_rejected for f in self.files)


class RorInputUnreadableError(InputUnreadableError):
    """Some inputs could not be read; the others were loaded (see ``summary``)."""

    def __init__(self, message: str, summary: RorLoadSummary) -> None:
        super().__init__(message)
        self.summary = summary


# ---------------------------------------------------------------------------------------------------------
# Reading files: yields (line, raw bytes) per record
# ---------------------------------------------------------------------------------------------------------
READ_CHUNK = 1 << 18  # decompressed bytes per chunk: a corrupt stretch loses at most this much before it


def _open_input(path: Path) -> tuple[str, bytes | None, Iterator[bytes] | None]:
    """(inner name, whole content or None, decompressed chunks or None) for a plain, .gz or .zip file."""
    name = path.name.lower()
    if name.endswith(".zip"):
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.namelist() if m.lower().endswith((".json", ".jsonl"))]
            if not members:
                raise ValueError("the zip holds no .json file")
            # The release zips hold a v1 and a v2 file for a while (``…_schema_v2.json``): take v2.
            v2 = [m for m in members if "schema_v2" in m.lower() or Path(m).name.lower().startswith("v2")]
            member = sorted(v2 or members, key=lambda m: zf.getinfo(m).file_size)[-1]
            return member.lower(), zf.read(member), None
    if name.endswith(".gz"):
        return name[:-3], None, gz_chunks(path, READ_CHUNK)
    return name, None, plain_chunks(path, READ_CHUNK)


def _jsonl(lines: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield number, line


def _jsonl_chunks(chunks: Iterator[bytes]) -> Iterator[tuple[int, bytes]]:
    """Complete lines of a JSON Lines stream, numbered; a read error part-way raises :class:`_Cut`.

    The unfinished line a cut leaves behind is not a record: it is the line the cut names.
    """
    number = 0
    pending = b""
    try:
        for chunk in chunks:
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            for line in lines:
                number += 1
                if line.strip():
                    yield number, line
    except _READ_ERRORS as exc:
        raise _Cut(number + 1, exc) from exc
    if pending.strip():
        yield number + 1, pending


def _records(path: Path) -> Iterator[tuple[int, bytes]]:
    """Every record of the file as (line or array position, raw JSON bytes).

    Raises :class:`_Unreadable` when the file cannot be read as a whole, :class:`_Cut` when a JSON Lines
    file stops being readable part-way (the records before were yielded).
    """
    records = _read_records(path)
    while True:
        try:
            item = next(records)
        except StopIteration:
            return
        except _Cut:
            raise
        except _READ_ERRORS as exc:
            raise _Unreadable(f"{type(exc).__name__}: {exc}") from exc
        yield item


def _read_records(path: Path) -> Iterator[tuple[int, bytes]]:
    inner, content, chunks = _open_input(path)
    if chunks is not None:
        if inner.endswith((".jsonl", ".ndjson")):
            yield from _jsonl_chunks(chunks)
            return
        parts: list[bytes] = []
        try:
            for chunk in chunks:
                parts.append(chunk)
        except EOFError as exc:
            size = sum(map(len, parts))
            raise _Unreadable(
                f"truncated: the gzip stream ends early, after {size:,} bytes of JSON ({exc}); a JSON "
                "document cannot be read in part, so nothing of this file was loaded"
            ) from exc
        content = b"".join(parts)
    assert content is not None
    head = content[:4096].lstrip()[:1]
    if head == b"[":
        try:
            elements = msgspec.json.decode(content, type=list[msgspec.Raw])
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise _Unreadable(_array_error(content, exc)) from exc
        for index, raw in enumerate(elements):
            yield index + 1, bytes(raw)
        return
    if not inner.endswith((".jsonl", ".ndjson")):
        try:  # one record as a whole document (e.g. a record file from the ROR API)
            _ANY_DECODER.decode(content)
        except (msgspec.DecodeError, UnicodeDecodeError):
            pass
        else:
            yield 1, content
            return
    yield from _jsonl(content.splitlines())


def _array_error(content: bytes, exc: Exception) -> str:
    """The message for a JSON array dump that does not decode, with where it stops."""
    if "truncated" in str(exc).lower():
        line = content.count(b"\n") + (not content.endswith(b"\n"))
        return (
            f"truncated: the JSON array ends early, at byte {len(content):,} (line {line:,}) before its "
            "closing `]`; a JSON array dump cannot be read in part, so nothing of this file was loaded"
        )
    return f"not a valid JSON array: {exc}"


# ---------------------------------------------------------------------------------------------------------
# One record → rows
# ---------------------------------------------------------------------------------------------------------
@dataclass
class _Rows:
    """Column lists for one batch, one dict per table."""

    orgs: dict[str, list[Any]]
    names: dict[str, list[Any]]
    relations: dict[str, list[Any]]
    external_ids: dict[str, list[Any]]

    @classmethod
    def empty(cls) -> _Rows:
        return cls(
            orgs={c: [] for c in _ORG_SCHEMA.names},
            names={c: [] for c in _NAME_SCHEMA.names},
            relations={c: [] for c in _RELATION_SCHEMA.names},
            external_ids={c: [] for c in _EXTERNAL_SCHEMA.names},
        )


_ORG_SCHEMA = pa.schema(
    [
        ("ror_id", pa.string()),
        ("name", pa.string()),
        ("status", pa.string()),
        ("types", pa.list_(pa.string())),
        ("established", pa.int32()),
        ("country_code", pa.string()),
        ("country_name", pa.string()),
        ("city", pa.string()),
        ("lat", pa.float64()),
        ("lng", pa.float64()),
        ("schema_version", pa.string()),
        ("input_path", pa.string()),
    ]
)
_NAME_SCHEMA = pa.schema(
    [("ror_id", pa.string()), ("name", pa.string()), ("kind", pa.string()), ("lang", pa.string())]
)
_RELATION_SCHEMA = pa.schema(
    [
        ("ror_id", pa.string()),
        ("related_ror_id", pa.string()),
        ("type", pa.string()),
        ("related_name", pa.string()),
    ]
)
_EXTERNAL_SCHEMA = pa.schema(
    [
        ("ror_id", pa.string()),
        ("id_type", pa.string()),
        ("external_id", pa.string()),
        ("preferred", pa.bool_()),
    ]
)


@dataclass
class _Parsed:
    """One valid record, ready to be written."""

    org: tuple[Any, ...]  # in _ORG_SCHEMA order, without input_path
    names: list[tuple[str, str, str | None]]
    relations: list[tuple[str, str, str | None]]
    external_ids: list[tuple[str, str, bool]]


def _unique(items: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(items))


def _names_v2(names: list[_Name]) -> tuple[str, list[tuple[str, str, str | None]]]:
    display = next((n.value for n in names if "ror_display" in n.types), None)
    if not display:
        raise _Rejected("no name of type ror_display")
    rows = [(n.value, kind, n.lang) for n in names for kind in n.types if n.value]
    return display, _unique(rows)


def _names_v1(rec: _Record) -> tuple[str, list[tuple[str, str, str | None]]]:
    if not rec.name:
        raise _Rejected("empty name")
    rows: list[tuple[str, str, str | None]] = [(rec.name, "ror_display", None)]
    rows += [(lab.label, "label", lab.iso639) for lab in rec.labels or [] if lab.label]
    rows += [(alias, "alias", None) for alias in rec.aliases or [] if alias]
    rows += [(acronym, "acronym", None) for acronym in rec.acronyms or [] if acronym]
    return rec.name, _unique(rows)


def _external_ids(rec: _Record) -> list[tuple[str, str, bool]]:
    pairs: list[tuple[str, list[str], str | None]] = []
    if isinstance(rec.external_ids, list):
        pairs = [(e.type, e.all, e.preferred) for e in rec.external_ids]
    elif isinstance(rec.external_ids, dict):
        for id_type, ext in rec.external_ids.items():
            if ext is None:
                continue
            values = [ext.all] if isinstance(ext.all, str) else ext.all or []
            pairs.append((id_type, values, ext.preferred))
    rows: list[tuple[str, str, bool]] = []
    for id_type, values, preferred in pairs:
        kind = id_type.lower()
        listed = [v for v in values if v]
        if preferred and preferred not in listed:
            listed.append(preferred)
        rows += [(kind, v, v == preferred) for v in listed]
    return _unique(rows)


def _relations(rec: _Record) -> list[tuple[str, str, str | None]]:
    rows = []
    for rel in rec.relationships or []:
        related = short_ror_id(rel.id)
        if related is None:
            raise _Rejected(f"relationship id is not a ROR id: {rel.id!r}")
        rows.append((related, rel.type.lower(), rel.label))
    return _unique(rows)


def _parse(raw: bytes) -> tuple[str, _Parsed]:
    """(ror id, rows) for a valid record; raises _Rejected with the reason otherwise."""
    try:
        rec = _DECODER.decode(raw)
    except msgspec.DecodeError as exc:
        raise _Rejected(str(exc)) from exc
    except UnicodeDecodeError as exc:  # msgspec raises it, not a DecodeError, for bytes that are not UTF-8
        raise _Rejected(f"not valid UTF-8: {exc}") from exc
    ror_id = short_ror_id(rec.id)
    if ror_id is None:
        raise _Rejected(f"id is not a ROR id: {rec.id!r}")
    country_code = country_name = city = None
    lat = lng = None
    if rec.names is not None:
        version = "2"
        display, names = _names_v2(rec.names)
        geo = rec.locations[0].geonames_details if rec.locations else None
        if geo is not None:
            country_code, country_name, city, lat, lng = (
                geo.country_code,
                geo.country_name,
                geo.name,
                geo.lat,
                geo.lng,
            )
    elif rec.name is not None:
        version = "1"
        display, names = _names_v1(rec)
        if rec.country is not None:
            country_code, country_name = rec.country.country_code, rec.country.country_name
        if rec.addresses:
            address = rec.addresses[0]
            lat, lng = address.lat, address.lng
            city = address.city or (address.geonames_city.city if address.geonames_city else None)
    else:
        raise _Rejected("neither `names` (schema v2) nor `name` (schema v1)")
    org = (
        ror_id,
        display,
        rec.status.lower() if rec.status else None,
        _unique(t.lower() for t in rec.types or [] if t),
        rec.established,
        country_code.upper() if country_code else None,
        country_name,
        city,
        lat,
        lng,
        version,
    )
    return ror_id, _Parsed(org, names, _relations(rec), _external_ids(rec))


def _record_id(raw: bytes) -> str | None:
    """The id of a rejected record, when one can be read."""
    try:
        obj = _ANY_DECODER.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    value = obj.get("id") if isinstance(obj, dict) else None
    return value if isinstance(value, str) else None


# ---------------------------------------------------------------------------------------------------------
# Writing one file
# ---------------------------------------------------------------------------------------------------------
@dataclass
class _Batch:
    """One batch of parsed records as the rows of each ROR table, ready to replace those records."""

    ids: pa.Table  # ror_id: the records the batch replaces
    tables: dict[str, pa.Table]


def _batch_tables(batch: dict[str, _Parsed], input_path: str) -> _Batch:
    rows = _Rows.empty()
    for ror_id, parsed in batch.items():
        for column, value in zip(_ORG_SCHEMA.names, (*parsed.org, input_path), strict=True):
            rows.orgs[column].append(value)
        for child, items in (
            (rows.names, parsed.names),
            (rows.relations, parsed.relations),
            (rows.external_ids, parsed.external_ids),
        ):
            columns = list(child)  # ror_id first, then the item's fields
            for item in items:
                child[columns[0]].append(ror_id)
                for column, value in zip(columns[1:], item, strict=True):
                    child[column].append(value)
    return _Batch(
        ids=pa.table({"ror_id": pa.array(list(batch), pa.string())}),
        tables={
            "ror_organizations": pa.table(rows.orgs, schema=_ORG_SCHEMA),
            "ror_names": pa.table(rows.names, schema=_NAME_SCHEMA),
            "ror_relations": pa.table(rows.relations, schema=_RELATION_SCHEMA),
            "ror_external_ids": pa.table(rows.external_ids, schema=_EXTERNAL_SCHEMA),
        },
    )


def _write_batch(con: duckdb.DuckDBPyConnection, batch: _Batch) -> None:
    con.register("_ror_batch_ids", batch.ids)
    try:
        for table in ROR_TABLES:
            con.execute(f"DELETE FROM {table} WHERE ror_id IN (SELECT ror_id FROM _ror_batch_ids)")
        for table, arrow in batch.tables.items():
            con.register("_ror_batch", arrow)
            try:
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _ror_batch")
            finally:
                con.unregister("_ror_batch")
    finally:
        con.unregister("_ror_batch_ids")


_QUARANTINE_SCHEMA = pa.schema(
    [
        ("input_path", pa.string()),
        ("line", pa.int64()),
        ("record_id", pa.string()),
        ("reason", pa.string()),
        ("raw", pa.string()),
    ]
)


@dataclass
class _ParsedFile:
    """A ROR file read whole, before the store is touched: its batches and its quarantined records."""

    input_path: str
    batches: list[_Batch]
    rejected: pa.Table


def _parse_file(path: Path, summary: RorFileSummary, progress: ProgressFn | None) -> _ParsedFile:
    """Read and parse one file into Arrow batches (no store access, so no writer is held meanwhile)."""
    input_path = str(path.resolve())
    batch: dict[str, _Parsed] = {}
    batches: list[_Batch] = []
    stored: set[str] = set()
    rejected: dict[str, list[Any]] = {c: [] for c in _QUARANTINE_SCHEMA.names}

    def quarantine(line: int, record_id: str | None, reason: str, raw: str) -> None:
        for column, value in zip(
            _QUARANTINE_SCHEMA.names, (input_path, line, record_id, reason, raw), strict=True
        ):
            rejected[column].append(value)

    try:
        for line, raw in _records(path):
            summary.records_read += 1
            try:
                ror_id, parsed = _parse(raw)
            except _Rejected as exc:
                summary.records_rejected += 1
                quarantine(line, _record_id(raw), str(exc), raw.decode("utf-8", "replace").rstrip("\r\n"))
                continue
            batch.pop(ror_id, None)  # a later duplicate in the same batch wins (later batches replace)
            batch[ror_id] = parsed
            stored.add(ror_id)
            if len(batch) >= BATCH_RECORDS:
                batches.append(_batch_tables(batch, input_path))
                batch = {}
                if progress is not None:
                    progress(path, summary.records_read)
    except _Cut as cut:
        if summary.records_read == 0:  # not one record came out: unreadable as a whole
            raise _Unreadable(str(cut)) from cut
        reason = (
            f"{cut}; the {summary.records_read:,} records before it were read, each stored or quarantined "
            "as usual"
        )
        quarantine(cut.line, None, reason, "")
        summary.records_rejected += 1  # the cut is a quarantine row, as in works ingest
        summary.cut = (cut.line, reason)
    if batch:
        batches.append(_batch_tables(batch, input_path))
    summary.records_stored = len(stored)
    if progress is not None:
        progress(path, summary.records_read)
    return _ParsedFile(input_path, batches, pa.table(rejected, schema=_QUARANTINE_SCHEMA))


def _write_file(con: duckdb.DuckDBPyConnection, parsed: _ParsedFile) -> None:
    """Replace the file's records and quarantine rows (inside the caller's transaction)."""
    con.execute("DELETE FROM quarantine WHERE input_path = ?", [parsed.input_path])
    for batch in parsed.batches:
        _write_batch(con, batch)
    if parsed.rejected.num_rows:
        con.register("_ror_rejected", parsed.rejected)
        try:
            con.execute("INSERT INTO quarantine BY NAME SELECT * FROM _ror_rejected")
        finally:
            con.unregister("_ror_rejected")


def load_ror(paths: Sequence[Path], db_path: Path, progress: ProgressFn | None = None) -> RorLoadSummary:
    """Load ROR files into the store at ``db_path``, one transaction per file, each file parsed whole
    before the store's writer is taken (a ROR dump's rows take far less memory than its JSON).

    Files that cannot be read are skipped while the others load; then :class:`InputUnreadableError`
    names them all (its ``summary`` attribute holds the :class:`RorLoadSummary`).
    """
    summary = RorLoadSummary()
    for path in paths:
        path = Path(path)
        file_summary = RorFileSummary(path)
        summary.files.append(file_summary)
        started = time.perf_counter()
        if not path.is_file():
            file_summary.error = "no such file" if not path.exists() else "not a file"
            continue
        # Parsed whole before the writer is taken: readers (the web app) wait only for the write.
        try:
            parsed = _parse_file(path, file_summary, progress)
        except _Unreadable as exc:
            file_summary.error = str(exc)
            file_summary.records_read = file_summary.records_stored = file_summary.records_rejected = 0
        else:
            with writer(db_path) as con:
                con.begin()
                try:
                    _write_file(con, parsed)
                except BaseException:
                    con.rollback()
                    raise
                con.commit()
        file_summary.seconds = time.perf_counter() - started
    failed = [f for f in summary.files if f.error is not None]
    if failed:
        raise RorInputUnreadableError(
            "cannot read ROR input: " + "; ".join(f"{f.path} ({f.error})" for f in failed), summary
        )
    return summary
