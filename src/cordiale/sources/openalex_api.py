"""A thin client for the OpenAlex REST API.

Two pieces, as in pyalex: a :class:`Query` whose chainable methods only record parameters, and an
:class:`OpenAlexClient` that sends them (API key and ``mailto``, a polite rate limit, retries with
back-off) and pages through the results with cursors. The API's limits are handled here, once:

- ``per_page`` is at most 100 (the documented maximum; the end of a listing is read from its cursor and
  count, never from a short page);
- an OR filter takes at most 50 values: a longer one is split into several requests whose results
  are concatenated (deduplicated by id when the parts can overlap) or whose counts are summed;
- ``group_by`` pages by 200 groups, with cursors except on boolean fields.

Paging is resumable: :meth:`OpenAlexClient.iter_pages` can keep its cursor in a state file, and
:func:`cordiale.sources.fetch.fetch_to_jsonl` builds a crash-safe download on :meth:`OpenAlexClient.pages`.
"""

from __future__ import annotations

import contextlib
import email.utils
import ipaddress
import itertools
import json
import logging
import math
import os
import random
import re
import socket
import threading
import time
import urllib.request
import warnings
from collections.abc import Generator, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
import msgspec

from cordiale import __version__
from cordiale.config import ApiSettings
from cordiale.errors import NetworkUnavailableError, UsageError
from cordiale.ids import short_openalex_id, short_ror_id

log = logging.getLogger(__name__)

ENTITIES = ("works", "authors", "sources", "institutions", "topics", "publishers", "funders", "concepts")
MAX_PER_PAGE = 100  # the API's largest documented page of records
GROUP_BY_PAGE = 200  # groups per group_by page
MAX_OR_VALUES = 50  # the API's largest OR filter
MAX_RATE = 100.0  # the API's ceiling, requests per second
OFFLINE_HINT = "work offline with `cordiale ingest FILES…`"

# Filter keys that hold one value per record: OR-split parts over them are disjoint, so their
# results need no deduplication and their counts add up exactly.
SINGLE_VALUED_KEYS = frozenset(
    {
        "id",
        "openalex",
        "openalex_id",
        "ids.openalex",
        "doi",
        "ids.doi",
        "ids.mag",
        "ids.pmid",
        "ids.pmcid",
        "pmid",
        "mag",
        "ror",
        "publication_year",
        "publication_date",
        "type",
        "language",
        "country_code",
        "primary_location.source.id",
        "primary_topic.id",
    }
)

FilterValue = str | int | bool
Expect = Literal["list", "group_by", "entity"]


class OpenAlexRequestError(UsageError):
    """The API refused a request (HTTP 4xx other than 429): a bad query, key or id."""

    def __init__(self, message: str, status: int, url: str) -> None:
        super().__init__(message)
        self.status = status
        self.url = url


class OpenAlexNotFoundError(OpenAlexRequestError):
    """A single record (``/works/W…``, ``/institutions/ror:…``) does not exist."""


class OpenAlexUnavailableError(NetworkUnavailableError):
    """The API kept failing (429, 5xx, timeouts, truncated bodies) after every retry."""


# --------------------------------------------------------------------------------------------- query


def _value_text(value: FilterValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    if not text:
        raise UsageError("filter values cannot be empty")
    if "," in text or "|" in text:
        raise UsageError(
            f"filter value {text!r} contains ',' or '|': pass OR values as separate arguments, "
            "and AND conditions as separate .filter() calls"
        )
    return text


def _flatten(values: Iterable[FilterValue | Iterable[FilterValue]]) -> list[str]:
    out: list[str] = []
    for value in values:
        if isinstance(value, str | int | bool):
            out.append(_value_text(value))
        else:
            out.extend(_value_text(v) for v in value)
    return list(dict.fromkeys(out))  # drop repeats, keep order


@dataclass(frozen=True)
class Query:
    """One OpenAlex list query. Every method returns a new query; nothing is sent until a client runs it.

    >>> Query("works").filter("authorships.institutions.lineage", "I1294671590").select("id", "doi")
    """

    entity: str
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    fields: tuple[str, ...] | None = None
    group_field: str | None = None
    search_text: str | None = None
    page_size: int | None = None

    def __post_init__(self) -> None:
        if self.entity not in ENTITIES:
            raise UsageError(f"unknown OpenAlex entity {self.entity!r}: use one of {', '.join(ENTITIES)}")

    def filter(self, key: str, *values: FilterValue | Iterable[FilterValue]) -> Query:
        """AND a condition: ``key`` is any of ``values`` (OR). Values may be given as one iterable."""
        key = key.strip()
        if not key or ":" in key or "," in key:
            raise UsageError(f"bad filter key {key!r}: use .filter('publication_year', 2020)")
        flat = _flatten(values)
        if not flat:
            raise UsageError(f"filter {key!r} needs at least one value")
        return replace(self, filters=(*self.filters, (key, tuple(flat))))

    def select(self, *fields: str | Iterable[str]) -> Query:
        """Return only these top-level fields (the API cannot select nested ones)."""
        names: list[str] = []
        for item in fields:
            names.extend(item.split(",") if isinstance(item, str) else item)
        names = [n.strip() for n in names if n.strip()]
        if not names:
            raise UsageError("select needs at least one field")
        nested = [n for n in names if "." in n]
        if nested:
            raise UsageError(
                f"select takes top-level fields only (got {', '.join(nested)}): "
                f"select {nested[0].split('.')[0]!r} and read the nested value from it"
            )
        return replace(self, fields=tuple(dict.fromkeys(names)))

    def group_by(self, field: str) -> Query:
        """Count records per value of ``field`` (run it with :meth:`OpenAlexClient.group_by`)."""
        if not field.strip():
            raise UsageError("group_by needs a field")
        return replace(self, group_field=field.strip())

    def search(self, text: str) -> Query:
        """Full-text search (the API's ``search=`` parameter)."""
        return replace(self, search_text=text)

    def per_page(self, n: int) -> Query:
        """Records per page, 1 to 100 (default: the settings' ``per_page``)."""
        if not 1 <= n <= MAX_PER_PAGE:
            raise UsageError(f"per_page must be between 1 and {MAX_PER_PAGE} (got {n})")
        return replace(self, page_size=n)

    # -- what gets sent

    def params(self) -> dict[str, str]:
        """This query's own parameters (no paging, key or mailto); OR lists must already be ≤ 50."""
        params: dict[str, str] = {}
        if self.filters:
            params["filter"] = ",".join(f"{key}:{'|'.join(values)}" for key, values in self.filters)
        if self.search_text:
            params["search"] = self.search_text
        if self.fields:
            params["select"] = ",".join(self.fields)
        if self.group_field:
            params["group_by"] = self.group_field
        return params

    def describe(self) -> str:
        """A readable, stable ``entity?params`` form, used in messages and to recognise a saved state."""
        params = self.params()
        return f"{self.entity}?{urlencode(params, safe=':|,.*')}" if params else self.entity

    def parts(self) -> list[Query]:
        """Split every OR filter with more than 50 values: the parts together select what this query does."""
        choices: list[list[tuple[str, tuple[str, ...]]]] = []
        for key, values in self.filters:
            chunks = [values[i : i + MAX_OR_VALUES] for i in range(0, len(values), MAX_OR_VALUES)]
            choices.append([(key, chunk) for chunk in chunks])
        if all(len(c) == 1 for c in choices):
            return [self]
        return [replace(self, filters=tuple(combo)) for combo in itertools.product(*choices)]

    @property
    def parts_may_overlap(self) -> bool:
        """Whether one record can match two parts (a split over a multi-valued key, e.g. institutions)."""
        split_keys = [key for key, values in self.filters if len(values) > MAX_OR_VALUES]
        return any(key not in SINGLE_VALUED_KEYS for key in split_keys)


def works() -> Query:
    """A query on ``/works``."""
    return Query("works")


def institutions() -> Query:
    """A query on ``/institutions``."""
    return Query("institutions")


def list_calls_needed(total: int, per_page: int) -> int:
    """List calls a cursor-paged download of ``total`` records takes at ``per_page`` (the paginator
    stops on the API's count, so no extra empty call)."""
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise UsageError(f"per_page must be between 1 and {MAX_PER_PAGE} (got {per_page})")
    return math.ceil(max(total, 0) / per_page)


# -------------------------------------------------------------------------------------------- paging


@dataclass
class PagingState:
    """Where a cursor-paged query stands: the OR-split part and the cursor within it."""

    part: int = 0
    cursor: str = "*"
    part_records: int = 0  # records the API returned so far in this part
    pages_done: int = 0
    records_done: int = 0
    done: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The fields as saved in a state file (``cursor`` saved as ``next_cursor``)."""
        data = asdict(self)
        data["next_cursor"] = data.pop("cursor")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PagingState:
        return cls(
            part=int(data.get("part", 0)),
            cursor=str(data.get("next_cursor") or data.get("cursor") or "*"),
            part_records=int(data.get("part_records", 0)),
            pages_done=int(data.get("pages_done", 0)),
            records_done=int(data.get("records_done", 0)),
            done=bool(data.get("done", False)),
        )


@dataclass(frozen=True)
class Page:
    """One page of results, with the state to resume from after it."""

    results: list[dict[str, Any]]
    after: PagingState
    count: int | None  # the API's meta.count for the current part


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_state(path: Path, query: Query) -> dict[str, Any] | None:
    """The state saved at ``path`` for ``query`` (None when there is none); another query's is an error."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the paging state {path}: {exc}; delete it to start over") from exc
    if not isinstance(data, dict) or data.get("query") != query.describe():
        saved = data.get("query") if isinstance(data, dict) else None
        raise UsageError(
            f"{path} holds the state of another query ({saved}), not {query.describe()}: "
            "delete it or choose another path"
        )
    return data


# -------------------------------------------------------------------------------------------- client


class _RateLimiter:
    """Spaces request starts at least ``1/rate`` seconds apart (a token bucket holding one token)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / min(rate, MAX_RATE) if rate > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    with contextlib.suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    return None


def _api_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip()
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("error", "message") if body.get(k)]
        if parts:
            return ": ".join(parts)
    return response.text[:300].strip()


_SLOW_DOWN = re.compile(r"rate.?limit|slow down|too many requests", re.IGNORECASE)


def _slow_down(response: httpx.Response) -> bool:
    """A 403 that OpenAlex documents as "rate limit exceeded; slow down" (retried), not a refused key."""
    return response.status_code == 403 and bool(_SLOW_DOWN.search(_api_message(response)))


def _valid(body: Any, expect: Expect) -> bool:
    if not isinstance(body, dict):
        return False
    if expect == "entity":
        return True  # a single record: any object (``select`` may leave out even the id)
    if not isinstance(body.get("meta"), dict):
        return False
    return isinstance(body.get("group_by" if expect == "group_by" else "results"), list)


def _is_boolean_field(name: str) -> bool:
    last = name.split(".")[-1].split(":")[0]
    return last.startswith(("is_", "has_"))


@dataclass
class _Attempts:
    retries: int = 0
    connect_timeouts: int = 0
    last: str = ""
    statuses: list[int] = field(default_factory=list)


class OpenAlexClient:
    """Runs :class:`Query` objects against the OpenAlex API.

    ``backoff_base`` and ``backoff_cap`` shape the exponential back-off between retries (seconds, with
    jitter); a ``Retry-After`` longer than ``max_retry_after`` ends the run at once (a spent daily quota).
    An unreachable API (name resolution, refused connection, connect timeout twice) raises
    :class:`~cordiale.errors.NetworkUnavailableError` without the long retry ladder.
    """

    def __init__(
        self,
        settings: ApiSettings | None = None,
        transport: httpx.BaseTransport | None = None,
        *,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        max_retry_after: float = 300.0,
        connect_timeout: float = 2.5,
    ) -> None:
        self.settings = settings or ApiSettings.load()
        if not 1 <= self.settings.per_page <= MAX_PER_PAGE:
            raise UsageError(f"per_page must be between 1 and {MAX_PER_PAGE} (got {self.settings.per_page})")
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self._limiter = _RateLimiter(self.settings.rate_limit)
        self.connect_timeout = min(connect_timeout, self.settings.timeout)
        # getaddrinfo ignores every timeout: check the name once, bounded, before the first request
        # (not with a caller's transport, nor through a proxy, which resolves names itself)
        self._resolved = transport is not None or bool(urllib.request.getproxies())
        agent = f"cordiale/{__version__}"
        if self.settings.email:
            agent += f" (mailto:{self.settings.email})"
        timeout = self.settings.timeout
        self._http = httpx.Client(
            base_url=self.settings.base_url.rstrip("/"),
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=self.connect_timeout),
            headers={"User-Agent": agent, "Accept": "application/json"},
            follow_redirects=True,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OpenAlexClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- one request, with retries

    def _display(self, path: str, params: dict[str, str]) -> str:
        shown = {k: v for k, v in params.items() if k != "api_key"}
        query = urlencode(shown, safe=":|,.*")
        return f"{self.settings.base_url.rstrip('/')}{path}" + (f"?{query}" if query else "")

    def _delay(self, retry: int) -> float:
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0**retry)
        return ceiling * (0.5 + random.random() / 2)  # "equal jitter": between half and all of it

    def request(self, path: str, params: dict[str, str], expect: Expect = "list") -> dict[str, Any]:
        """GET ``path`` with ``params`` (plus key and mailto) and return the decoded JSON body."""
        params = dict(params)
        if self.settings.api_key:
            params["api_key"] = self.settings.api_key
        if self.settings.email:
            params["mailto"] = self.settings.email
        shown = self._display(path, params)
        self._check_name()
        tries = _Attempts()
        while True:
            self._limiter.wait()
            wait: float | None = None
            try:
                response = self._http.get(path, params=params)
            except httpx.ConnectTimeout as exc:
                tries.connect_timeouts += 1
                if tries.connect_timeouts > 1 or tries.retries >= self.settings.max_retries:
                    raise NetworkUnavailableError(
                        f"OpenAlex API unreachable (connect timeout at {self.settings.base_url}): "
                        + OFFLINE_HINT
                    ) from exc
                tries.last = "connect timeout"
                wait = 0.0
            except (httpx.ConnectError, httpx.ProxyError) as exc:
                raise NetworkUnavailableError(
                    f"OpenAlex API unreachable ({exc or type(exc).__name__}; {self.settings.base_url}): "
                    f"{OFFLINE_HINT}"
                ) from exc
            except httpx.UnsupportedProtocol as exc:
                raise UsageError(f"bad OpenAlex API URL {self.settings.base_url!r}: {exc}") from exc
            except httpx.TimeoutException as exc:
                tries.last = f"{type(exc).__name__} after {self.settings.timeout:g} s"
            except httpx.TransportError as exc:  # connection dropped mid-response: a truncated body
                tries.last = f"truncated response ({type(exc).__name__}: {exc})"
            else:
                status = response.status_code
                if status == 200:
                    try:
                        body = msgspec.json.decode(response.content)
                    except msgspec.DecodeError:
                        body = None
                    if _valid(body, expect):
                        return dict(body)
                    tries.last = f"truncated or invalid JSON body ({len(response.content)} bytes)"
                elif status in (408, 429) or status >= 500 or _slow_down(response):
                    tries.statuses.append(status)
                    tries.last = f"HTTP {status}"
                    retry_after = _retry_after(response)
                    if retry_after is not None:
                        if retry_after > self.max_retry_after:
                            raise OpenAlexUnavailableError(
                                f"OpenAlex asks to wait {retry_after:.0f} s (HTTP {status}) before {shown}"
                                + self._quota_hint(status)
                            )
                        wait = max(retry_after, self._delay(tries.retries))
                else:
                    raise self._refusal(response, shown)
            if tries.retries >= self.settings.max_retries:
                raise OpenAlexUnavailableError(
                    f"OpenAlex API request failed after {tries.retries} retries (last: {tries.last}): {shown}"
                    + self._quota_hint(429 if 429 in tries.statuses else 0)
                    + f"; try again later, or {OFFLINE_HINT}"
                )
            wait = self._delay(tries.retries) if wait is None else wait
            tries.retries += 1
            log.warning("OpenAlex: %s; retry %d in %.2f s", tries.last, tries.retries, wait)
            time.sleep(wait)

    def _check_name(self) -> None:
        """Resolve the API's host name within the connect timeout, or raise NetworkUnavailableError."""
        if self._resolved:
            return
        url = httpx.URL(self.settings.base_url)
        host = url.host
        try:
            ipaddress.ip_address(host)
            self._resolved = True
            return
        except ValueError:
            pass
        outcome: list[OSError | None] = []

        def resolve() -> None:
            try:
                socket.getaddrinfo(host, url.port or 443, type=socket.SOCK_STREAM)
                outcome.append(None)
            except OSError as exc:
                outcome.append(exc)

        worker = threading.Thread(target=resolve, name="openalex-resolve", daemon=True)
        worker.start()
        worker.join(self.connect_timeout)
        if not outcome:
            reason = f"name resolution of {host} timed out after {self.connect_timeout:g} s"
        elif outcome[0] is not None:
            reason = f"cannot resolve {host}: {outcome[0]}"
        else:
            self._resolved = True
            return
        raise NetworkUnavailableError(f"OpenAlex API unreachable ({reason}): {OFFLINE_HINT}")

    def _quota_hint(self, status: int) -> str:
        if status != 429:
            return ""
        hint = " (rate limited: the daily quota may be spent"
        if not self.settings.api_key:
            hint += "; set OPENALEX_API_KEY, required since Feb 2026"
        return hint + ")"

    def _refusal(self, response: httpx.Response, shown: str) -> OpenAlexRequestError:
        status = response.status_code
        detail = _api_message(response)
        if status in (401, 403):
            what = (
                "the API key was rejected"
                if self.settings.api_key
                else "an API key is required: set OPENALEX_API_KEY or [openalex] api_key in config.toml"
            )
            return OpenAlexRequestError(f"OpenAlex refused {shown} (HTTP {status}): {what}", status, shown)
        if status == 404:
            return OpenAlexNotFoundError(f"not found in OpenAlex: {shown} ({detail})", status, shown)
        return OpenAlexRequestError(f"OpenAlex rejected {shown} (HTTP {status}): {detail}", status, shown)

    # -- single records, counts, groups

    def get(self, entity: str, id: str, select: Iterable[str] | None = None) -> dict[str, Any]:
        """One record: ``get("institutions", "ror:02feahw73")``, ``get("works", "W4400255569")``."""
        if entity not in ENTITIES:
            raise UsageError(f"unknown OpenAlex entity {entity!r}: use one of {', '.join(ENTITIES)}")
        key = id.strip()
        short = short_openalex_id(key)
        if short:
            key = short
        elif entity == "institutions" and (ror := short_ror_id(key.removeprefix("ror:"))):
            key = f"ror:{ror}"
        params = {"select": ",".join(select)} if select else {}
        return self.request(f"/{entity}/{key}", params, expect="entity")

    def count(self, query: Query) -> int:
        """How many records ``query`` selects (``meta.count``; summed over OR-split parts)."""
        if query.parts_may_overlap:
            warnings.warn(
                f"count of {query.describe()} sums {len(query.parts())} OR-split parts over a multi-valued "
                "key: a record matching several parts is counted once per part",
                stacklevel=2,
            )
        total = 0
        for part in query.parts():
            params = {**replace(part, fields=("id",), group_field=None).params(), "per_page": "1"}
            total += int(self.request(f"/{part.entity}", params)["meta"]["count"])
        return total

    def group_by(self, query: Query) -> list[dict[str, Any]]:
        """Every group of ``query.group_by(field)``: dicts with key, key_display_name, count (count desc).

        Pages through more than 200 groups with cursors (not possible, nor needed, for boolean fields);
        OR-split parts are merged by key with their counts summed.
        """
        if not query.group_field:
            raise UsageError("group_by needs a query with .group_by(field)")
        if query.parts_may_overlap:
            warnings.warn(
                f"group_by of {query.describe()} sums OR-split parts over a multi-valued key: "
                "a record matching several parts is counted once per part",
                stacklevel=2,
            )
        use_cursor = not _is_boolean_field(query.group_field)
        merged: dict[str, dict[str, Any]] = {}
        for part in query.parts():
            base = {**replace(part, fields=None).params(), "per_page": str(GROUP_BY_PAGE)}
            cursor: str | None = "*"
            while cursor:
                params = {**base, "cursor": cursor} if use_cursor else base
                body = self.request(f"/{part.entity}", params, expect="group_by")
                groups: list[dict[str, Any]] = body["group_by"]
                for group in groups:
                    key = str(group.get("key"))
                    if key in merged:
                        merged[key]["count"] += int(group.get("count", 0))
                    else:
                        merged[key] = {
                            "key": key,
                            "key_display_name": group.get("key_display_name"),
                            "count": int(group.get("count", 0)),
                        }
                cursor = body["meta"].get("next_cursor") if use_cursor else None
                if len(groups) < GROUP_BY_PAGE:
                    cursor = None
        return sorted(merged.values(), key=lambda g: (-g["count"], g["key"]))

    # -- cursor paging

    def url(self, query: Query) -> str:
        """The first request's URL for ``query`` (without the API key), for messages and state files."""
        return self._display(f"/{query.entity}", query.params())

    def page_size(self, query: Query) -> int:
        """Records per page for ``query``: its own ``per_page``, else the settings'."""
        return query.page_size or self.settings.per_page

    def pages(
        self, query: Query, start: PagingState | None = None, seen: set[str] | None = None
    ) -> Iterator[Page]:
        """The one paginator: every non-empty page of ``query``, from ``start`` (default: the beginning).

        Each :class:`Page` carries the state to resume from after it. When OR-split parts can overlap,
        records whose id is in ``seen`` are dropped and new ids added to it (pass the ids already
        delivered when resuming).
        """
        if query.group_field:
            raise UsageError("a group_by query has no records to page: use client.group_by(query)")
        parts = query.parts()
        dedupe = query.parts_may_overlap
        if dedupe and seen is None:
            seen = set()
        per_page = self.page_size(query)
        state = replace(start) if start else PagingState()
        while state.part < len(parts) and not state.done:
            part = parts[state.part]
            if dedupe and part.fields and "id" not in part.fields:
                part = replace(part, fields=("id", *part.fields))
            params = {**part.params(), "per_page": str(per_page), "cursor": state.cursor}
            body = self.request(f"/{part.entity}", params)
            raw: list[dict[str, Any]] = body["results"]
            meta: dict[str, Any] = body["meta"]
            count = meta.get("count")
            next_cursor = meta.get("next_cursor")
            part_records = state.part_records + len(raw)
            # The end: no records, no cursor, or the count reached. A short page is not an end: a server
            # may cap pages below the per_page asked for.
            finished = not raw or not next_cursor or (isinstance(count, int) and part_records >= count)
            results = raw
            if dedupe and seen is not None:
                results = [r for r in raw if r.get("id") not in seen]
                seen.update(str(r.get("id")) for r in results)
            last_part = state.part + 1 >= len(parts)
            state = PagingState(
                part=state.part + 1 if finished else state.part,
                cursor="*" if finished else str(next_cursor),
                part_records=0 if finished else part_records,
                pages_done=state.pages_done + (1 if results else 0),
                records_done=state.records_done + len(results),
                done=finished and last_part,
            )
            if results:
                yield Page(results, replace(state), count if isinstance(count, int) else None)

    def iter_pages(
        self, query: Query, state_path: Path | None = None
    ) -> Generator[list[dict[str, Any]], None, None]:
        """Each page's ``results`` for ``query``, cursor-paged.

        With ``state_path``, the run is resumable: once the caller asks for the next page (so has taken
        the previous one), the cursor after it is saved there atomically; a later call with the same
        path and query continues from it. A finished run deletes the state file.
        """
        start: PagingState | None = None
        seen: set[str] | None = set() if query.parts_may_overlap else None
        if state_path is not None:
            saved = read_state(state_path, query)
            if saved is not None:
                start = PagingState.from_dict(saved)
                if seen is not None:
                    seen.update(saved.get("seen", []))
        for page in self.pages(query, start, seen):
            yield page.results
            if state_path is not None:
                self._save_paging(state_path, query, page.after, seen)
        if state_path is not None:
            state_path.unlink(missing_ok=True)

    def iter_records(self, query: Query, state_path: Path | None = None) -> Iterator[dict[str, Any]]:
        """Every record of ``query``, one at a time (see :meth:`iter_pages`)."""
        for page in self.iter_pages(query, state_path):
            yield from page

    def _save_paging(self, path: Path, query: Query, state: PagingState, seen: set[str] | None) -> None:
        data: dict[str, Any] = {"query": query.describe(), "url": self.url(query), **state.as_dict()}
        if query.parts_may_overlap and seen is not None:
            data["seen"] = sorted(seen)
        write_json_atomic(path, data)


__all__ = [
    "MAX_OR_VALUES",
    "MAX_PER_PAGE",
    "OpenAlexClient",
    "OpenAlexNotFoundError",
    "OpenAlexRequestError",
    "OpenAlexUnavailableError",
    "Page",
    "PagingState",
    "Query",
    "institutions",
    "list_calls_needed",
    "works",
]
