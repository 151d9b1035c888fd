"""A local fake of the OpenAlex API, serving real OpenAlex records, with faults the tests schedule.

It answers in the API's documented format (``meta`` with count, db_response_time_ms, page, per_page,
next_cursor and groups_count; ``results``; ``group_by``) and enforces the API's limits (``per_page`` ≤ 100
records or 200 groups, ≤ 50 OR values, top-level ``select``, no cursor on a boolean ``group_by``, 10,000
records by basic paging).

    corpus = Corpus.load([works_gz], institutions_jsonl)      # once per session: ~2 s
    with FakeOpenAlex(corpus) as fake:
        fake.inject(Fault.http(429, retry_after=1), Fault.truncated())
        ... OpenAlexClient(ApiSettings(base_url=fake.url)) ...
        fake.requests                                         # what was asked, in order
"""

from __future__ import annotations

import base64
import collections
import functools
import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

import msgspec

OPENALEX = "https://openalex.org/"
ROR = "https://ror.org/"
MAX_PER_PAGE = 100
MAX_GROUPS_PER_PAGE = 200
MAX_OR_VALUES = 50
MAX_BASIC_PAGING = 10_000


def short_id(value: str) -> str:
    """``https://openalex.org/W1`` → ``W1`` (upper case), as the API accepts both forms."""
    value = value.strip()
    for prefix in (OPENALEX, "http://openalex.org/"):
        if value.lower().startswith(prefix):
            value = value[len(prefix) :]
    return value.upper()


def short_ror(value: str) -> str:
    value = value.strip().removeprefix("ror:")
    for prefix in (ROR, "http://ror.org/", "ror.org/"):
        if value.lower().startswith(prefix):
            value = value[len(prefix) :]
    return value.lower()


def _scalar_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class Record:
    """One stored record: its raw JSON and what the filters need."""

    id: str  # short: W…, I…
    raw: bytes
    scalars: dict[str, Any]  # top-level scalar fields
    multi: dict[str, frozenset[str]]  # multi-valued filter keys → short ids
    keys: tuple[str, ...]  # every top-level field

    def full(self) -> dict[str, Any]:
        return cast(dict[str, Any], msgspec.json.decode(self.raw))


def _work(raw: bytes) -> Record:
    rec = msgspec.json.decode(raw)
    direct: set[str] = set()
    lineage: set[str] = set()
    for authorship in rec.get("authorships") or []:
        for inst in authorship.get("institutions") or []:
            if inst.get("id"):
                direct.add(short_id(inst["id"]))
            lineage.update(short_id(i) for i in inst.get("lineage") or [])
    scalars = {k: v for k, v in rec.items() if v is None or isinstance(v, str | int | float | bool)}
    multi = {
        "authorships.institutions.id": frozenset(direct),
        "authorships.institutions.lineage": frozenset(lineage),
    }
    multi["institutions.id"] = multi["authorships.institutions.id"]
    return Record(short_id(rec["id"]), raw, scalars, multi, tuple(rec))


def _institution(raw: bytes) -> Record:
    rec = msgspec.json.decode(raw)
    scalars = {k: v for k, v in rec.items() if v is None or isinstance(v, str | int | float | bool)}
    multi = {"ror": frozenset({short_ror(rec["ror"])} if rec.get("ror") else set())}
    return Record(short_id(rec["id"]), raw, scalars, multi, tuple(rec))


@dataclass
class Entity:
    """The records of one endpoint, in file order, with their top-level field names."""

    records: list[Record] = field(default_factory=list)
    by_id: dict[str, Record] = field(default_factory=dict)
    fields: set[str] = field(default_factory=set)
    _cache: dict[tuple[str, str], list[Record]] = field(default_factory=dict, repr=False)

    def matching(self, filter_text: str | None, search: str | None) -> list[Record]:
        """The records a filter and search select, in file order (cached: paging asks again and again)."""
        key = (filter_text or "", search or "")
        if key not in self._cache:
            self._cache[key] = _filter(self, filter_text, search)
        return self._cache[key]

    def add(self, record: Record) -> None:
        if record.id in self.by_id:
            return  # the first copy of an id wins, as a deduplicated index would
        self.records.append(record)
        self.by_id[record.id] = record
        self.fields.update(record.keys)


@dataclass
class Corpus:
    """Everything the fake serves; load it once per test session and share it between servers."""

    works: Entity
    institutions: Entity

    @classmethod
    def load(cls, works_files: Sequence[Path], institutions_file: Path | None = None) -> Corpus:
        works = Entity()
        for path in works_files:
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rb") as fh:
                for line in fh:
                    if line.strip():
                        works.add(_work(line.rstrip(b"\r\n")))
        insts = Entity()
        if institutions_file is not None:
            with institutions_file.open("rb") as fh:
                for line in fh:
                    if line.strip():
                        insts.add(_institution(line.rstrip(b"\r\n")))
        return cls(works, insts)

    def entity(self, name: str) -> Entity | None:
        return {"works": self.works, "institutions": self.institutions}.get(name)


# ---------------------------------------------------------------------------------------------- faults


@dataclass(frozen=True)
class Fault:
    """What the fake does instead of (or before) answering one request."""

    kind: str  # ok / http / slow / truncated / invalid_json / no_results / drop
    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    message: str = "injected fault"

    @classmethod
    def ok(cls) -> Fault:
        """No fault: answer normally (to place a later fault on the n-th request)."""
        return cls("ok")

    @classmethod
    def http(
        cls, status: int, retry_after: float | str | None = None, message: str = "injected fault"
    ) -> Fault:
        """An HTTP error (429, 500, 503, ...), with a ``Retry-After`` header when given."""
        after = None if retry_after is None else str(retry_after)
        return cls("http", status=status, retry_after=after, message=message)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Sleep before answering normally (longer than the client's timeout → a read timeout)."""
        return cls("slow", delay=seconds)

    @classmethod
    def truncated(cls) -> Fault:
        """Announce the full Content-Length, send half the body, close the connection."""
        return cls("truncated")

    @classmethod
    def invalid_json(cls) -> Fault:
        """A complete 200 response whose body is the first half of the JSON (a proxy cut it)."""
        return cls("invalid_json")

    @classmethod
    def no_results(cls) -> Fault:
        """A well-formed 200 JSON body lacking ``meta`` and ``results``."""
        return cls("no_results")

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without answering."""
        return cls("drop")


@dataclass(frozen=True)
class LoggedRequest:
    """One request the fake received."""

    path: str
    params: dict[str, str]
    at: float  # time.monotonic() on arrival
    fault: str | None

    def or_values(self) -> int:
        """The most OR values in any one filter clause of this request."""
        flt = self.params.get("filter", "")
        return max((len(c.split(":", 1)[-1].split("|")) for c in flt.split(",") if c), default=0)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ---------------------------------------------------------------------------------------------- query


def _year_matcher(value: str) -> Callable[[Any], bool]:
    try:
        if value.startswith(">"):
            low = int(value[1:])
            return lambda y: y is not None and y > low
        if value.startswith("<"):
            high = int(value[1:])
            return lambda y: y is not None and y < high
        if "-" in value.strip("-") or value.endswith("-") or value.startswith("-"):
            a, b = value.split("-", 1)
            lo = int(a) if a else -(10**9)
            hi = int(b) if b else 10**9
            return lambda y: y is not None and lo <= y <= hi
        year = int(value)
    except ValueError as exc:
        raise ApiError(400, f"Invalid publication_year value: {value}") from exc
    return lambda y: y == year


ID_KEYS = {"id", "openalex", "openalex_id", "ids.openalex"}


def _any_of(entity: Entity, key: str, values: list[str]) -> Callable[[Record], bool]:
    """A predicate: the record's ``key`` matches one of ``values``."""
    if key in ID_KEYS:
        ids = {short_id(v) for v in values}
        return lambda r: r.id in ids
    if key == "publication_year":
        years = [_year_matcher(v) for v in values]
        return lambda r: any(m(r.scalars.get("publication_year")) for m in years)
    if entity.records and key in entity.records[0].multi:
        wanted = {short_ror(v) if key == "ror" else short_id(v) for v in values}
        return lambda r: not wanted.isdisjoint(r.multi[key])
    if key in entity.fields:
        texts = {v.lower() for v in values}
        return lambda r: (_scalar_text(r.scalars.get(key)) or "null").lower() in texts
    raise ApiError(400, f"{key} is not a valid field.")


def _clause(entity: Entity, key: str, value: str) -> Callable[[Record], bool]:
    """A predicate for one ``key:v1|v2|…`` (ORed; a ``!v`` value excludes)."""
    values = value.split("|")
    if len(values) > MAX_OR_VALUES:
        raise ApiError(
            400, f"Maximum number of values exceeded for {key}. Decrease values to {MAX_OR_VALUES} or below."
        )
    plain = [v for v in values if not v.startswith("!")]
    negated = [v[1:] for v in values if v.startswith("!")]
    positive = _any_of(entity, key, plain) if plain else None
    negative = _any_of(entity, key, negated) if negated else None
    return lambda r: (positive is None or positive(r)) and (negative is None or not negative(r))


def _filter(entity: Entity, text: str | None, search: str | None) -> list[Record]:
    predicates: list[Callable[[Record], bool]] = []
    for clause in (text or "").split(","):
        if not clause.strip():
            continue
        if ":" not in clause:
            raise ApiError(400, f"Invalid filter {clause!r}: filters look like key:value")
        key, value = clause.split(":", 1)
        predicates.append(_clause(entity, key.strip(), value.strip()))
    if search:
        needle = search.lower()

        def found(r: Record) -> bool:
            name = r.scalars.get("display_name") or r.scalars.get("title") or ""
            return needle in str(name).lower()

        predicates.append(found)
    return [r for r in entity.records if all(p(r) for p in predicates)]


@functools.lru_cache(maxsize=64)
def _selector(fields: tuple[str, ...]) -> msgspec.json.Decoder[Any]:
    """A decoder that reads only ``fields`` of a record (the rest is skipped unparsed)."""
    struct = msgspec.defstruct("Selected", [(name, Any, None) for name in fields])
    return msgspec.json.Decoder(struct)


def _encode_cursor(offset: int, key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "q": key}).encode()).decode()


def _decode_cursor(cursor: str, key: str) -> int:
    if cursor == "*":
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        offset = int(data["o"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiError(400, "Invalid cursor") from exc
    if data.get("q") != key:
        raise ApiError(400, "This cursor belongs to another query")
    return offset


# --------------------------------------------------------------------------------------------- server


class FakeOpenAlex:
    """The fake API on ``127.0.0.1:<free port>``, served from a thread; use it as a context manager."""

    def __init__(self, corpus: Corpus, *, delay: float = 0.0, page_cap: int | None = None) -> None:
        self.corpus = corpus
        self.page_cap = page_cap  # serve at most this many records a page, whatever per_page asks
        self.delay = delay  # added to every request (to make a run slow enough to kill)
        self.faults: collections.deque[Fault] = collections.deque()
        self.requests: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> FakeOpenAlex:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOpenAlex:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- scheduling and inspection

    def inject(self, *faults: Fault) -> None:
        """Apply these faults to the next requests, one each, in order."""
        with self._lock:
            self.faults.extend(faults)

    def clear(self) -> None:
        """Forget the request log and any faults not yet used."""
        with self._lock:
            self.faults.clear()
            self.requests.clear()

    def list_requests(self, entity: str = "works") -> list[LoggedRequest]:
        """The logged requests for the list endpoint ``/entity``."""
        return [r for r in self.requests if r.path.rstrip("/") == f"/{entity}"]

    def _next_fault(self, path: str, params: dict[str, str]) -> Fault | None:
        with self._lock:
            fault = self.faults.popleft() if self.faults else None
            self.requests.append(LoggedRequest(path, params, time.monotonic(), fault.kind if fault else None))
        return fault

    # -- answering

    def answer(self, path: str, params: dict[str, str]) -> dict[str, Any] | bytes:
        """The JSON body for a request (``bytes`` when spliced from raw records), or raise ApiError."""
        parts = [unquote(p) for p in path.strip("/").split("/", 1)]
        entity = self.corpus.entity(parts[0]) if parts and parts[0] else None
        if entity is None:
            raise ApiError(404, f"Unknown endpoint {path}")
        if len(parts) == 2:
            return self._single(parts[0], entity, parts[1], params)
        return self._list(entity, params)

    def _single(self, name: str, entity: Entity, key: str, params: dict[str, str]) -> dict[str, Any] | bytes:
        record: Record | None
        if name == "institutions" and (key.lower().startswith(("ror:", ROR, "ror.org/"))):
            ror = short_ror(key)
            record = next((r for r in entity.records if ror in r.multi["ror"]), None)
        else:
            record = entity.by_id.get(short_id(key))
        if record is None:
            raise ApiError(404, f"No {name[:-1]} found with id {key}")
        if "select" in params:
            fields = self._select_fields(entity, params["select"])
            full = record.full()
            return {k: full.get(k) for k in fields}
        return record.raw

    @staticmethod
    def _select_fields(entity: Entity, select: str) -> list[str]:
        fields = [f.strip() for f in select.split(",") if f.strip()]
        for name in fields:
            if "." in name:
                raise ApiError(400, f"select does not support nested fields: {name}")
            if name not in entity.fields:
                raise ApiError(400, f"{name} is not a valid select field.")
        return fields

    def _list(self, entity: Entity, params: dict[str, str]) -> dict[str, Any] | bytes:
        started = time.perf_counter()
        unknown = set(params) - {
            "filter",
            "search",
            "select",
            "group_by",
            "group-by",
            "per_page",
            "per-page",
            "cursor",
            "page",
            "sort",
            "api_key",
            "mailto",
            "seed",
            "sample",
        }
        if unknown:
            raise ApiError(400, f"{sorted(unknown)[0]} is not a valid parameter")
        per_page_text = params.get("per_page", params.get("per-page"))
        try:
            per_page = int(per_page_text) if per_page_text is not None else None
        except ValueError as exc:
            raise ApiError(400, "per_page must be an integer") from exc
        group_field = params.get("group_by", params.get("group-by"))
        limit = MAX_GROUPS_PER_PAGE if group_field else MAX_PER_PAGE
        if per_page is not None and not 1 <= per_page <= limit:
            raise ApiError(400, f"per_page must be between 1 and {limit}")
        cursor = params.get("cursor")
        if cursor is not None and "page" in params:
            raise ApiError(400, "cursor and page cannot be used together")
        matched = entity.matching(params.get("filter"), params.get("search"))
        query_key = f"{params.get('filter', '')}|{params.get('search', '')}|{params.get('group_by', '')}"

        if group_field:
            return self._groups(entity, matched, group_field, per_page, cursor, query_key, started)

        per_page = per_page or 25
        if cursor is not None:
            offset = _decode_cursor(cursor, query_key)
            page_no = None
        else:
            try:
                page_no = int(params.get("page", "1"))
            except ValueError as exc:
                raise ApiError(400, "page must be an integer") from exc
            if page_no < 1 or page_no * per_page > MAX_BASIC_PAGING:
                raise ApiError(400, f"Basic paging only reaches the first {MAX_BASIC_PAGING} results")
            offset = (page_no - 1) * per_page
        chosen = matched[offset : offset + min(per_page, self.page_cap or per_page)]
        next_cursor = None
        if cursor is not None and chosen:
            next_cursor = _encode_cursor(offset + len(chosen), query_key)
        meta = {
            "count": len(matched),
            "db_response_time_ms": int((time.perf_counter() - started) * 1000),
            "page": page_no,
            "per_page": per_page,
            "next_cursor": next_cursor,
            "groups_count": None,
        }
        if "select" in params:
            decoder = _selector(tuple(self._select_fields(entity, params["select"])))
            results = [msgspec.structs.asdict(decoder.decode(record.raw)) for record in chosen]
            return {"meta": meta, "results": results, "group_by": []}
        head = msgspec.json.encode(meta)
        body = b'{"meta":' + head + b',"results":[' + b",".join(r.raw for r in chosen) + b'],"group_by":[]}'
        return body

    def _groups(
        self,
        entity: Entity,
        matched: list[Record],
        group_field: str,
        per_page: int | None,
        cursor: str | None,
        query_key: str,
        started: float,
    ) -> dict[str, Any]:
        name, _, option = group_field.partition(":")
        if name not in entity.fields:
            raise ApiError(400, f"{name} is not a valid group_by field.")
        values = [r.scalars.get(name) for r in matched]
        if any(isinstance(v, list | dict) for v in values):
            raise ApiError(400, f"{name} cannot be grouped in this fake (not a scalar)")
        boolean = any(isinstance(v, bool) for v in values)
        if boolean and cursor is not None:
            raise ApiError(400, "Cursor paging is not supported for boolean group_by fields")
        counts = collections.Counter(_scalar_text(v) for v in values)
        unknown = counts.pop(None, 0)
        groups = [{"key": k, "key_display_name": k, "count": n} for k, n in counts.items() if k is not None]
        if option == "include_unknown" and unknown:
            groups.append({"key": "unknown", "key_display_name": "unknown", "count": unknown})
        size = per_page or MAX_GROUPS_PER_PAGE
        if cursor is not None:  # paging through groups: sorted by key
            groups.sort(key=lambda g: str(g["key"]))
            offset = _decode_cursor(cursor, query_key)
            chosen = groups[offset : offset + size]
            next_cursor = _encode_cursor(offset + len(chosen), query_key) if chosen else None
        else:  # one page: the largest groups first
            groups.sort(key=lambda g: (-int(str(g["count"])), str(g["key"])))
            chosen = groups[:size]
            next_cursor = None
        meta = {
            "count": len(matched),
            "db_response_time_ms": int((time.perf_counter() - started) * 1000),
            "page": None if cursor is not None else 1,
            "per_page": size,
            "next_cursor": next_cursor,
            "groups_count": len(chosen) or None,
        }
        return {"meta": meta, "results": [], "group_by": chosen}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAlex/1"
    disable_nagle_algorithm = True  # else headers and body in two writes meet delayed ACKs: 40 ms a call

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet

    def do_GET(self) -> None:
        fake = cast(FakeOpenAlex, self.server.fake)  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        fault = fake._next_fault(url.path, params)
        if fake.delay:
            time.sleep(fake.delay)
        try:
            if fault is not None and fault.kind == "slow":
                time.sleep(fault.delay)
            if fault is not None and fault.kind == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault is not None and fault.kind == "http":
                headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
                error = {"error": f"HTTP {fault.status}", "message": fault.message}
                self._send(fault.status, error, headers)
                return
            try:
                body = fake.answer(url.path, params)
            except ApiError as err:
                title = "Invalid query parameters error." if err.status == 400 else f"{err.status} error"
                self._send(err.status, {"error": title, "message": err.message})
                return
            data = body if isinstance(body, bytes) else msgspec.json.encode(body)
            if fault is not None and fault.kind == "no_results":
                data = b'{"error": null}'
            if fault is not None and fault.kind == "invalid_json":
                data = data[: len(data) // 2]
            if fault is not None and fault.kind == "truncated":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._send_bytes(200, data)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True  # the client gave up (timeout): nothing to answer

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._send_bytes(status, msgspec.json.encode(body), headers)

    def _send_bytes(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def ids_of(records: Iterable[dict[str, Any]]) -> list[str]:
    """Short ids of records, in order."""
    return [short_id(str(r["id"])) for r in records]
