"""The OpenAlex client and the resumable fetch, against a local fake API serving real OpenAlex records.

Expected answers are computed here straight from the raw JSON files, independently of the fake.
"""

from __future__ import annotations

import collections
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from cordiale.config import ApiSettings
from cordiale.errors import NetworkUnavailableError, UsageError
from cordiale.sources.fetch import fetch_to_jsonl, state_path_for
from cordiale.sources.openalex_api import (
    OpenAlexClient,
    OpenAlexNotFoundError,
    OpenAlexRequestError,
    OpenAlexUnavailableError,
    Query,
    institutions,
    list_calls_needed,
    works,
)
from tests.fake_openalex import Corpus, FakeOpenAlex, Fault, ids_of, short_id
from tests.shared_data import shared_data

CNRS = "I1294671590"
IMPERIAL = "I47508984"
KFUPM = "I134085113"  # 2,431 works in the file: the "bigger" filter
MIDSIZE = "I4210143841"  # 497 works: big enough for 10 pages of 50
API_KEY = "test-key-123"
EMAIL = "tests@example.org"


# --------------------------------------------------------------------------------------------- oracle


@dataclass(frozen=True)
class RawWork:
    id: str
    lineage: frozenset[str]
    direct: frozenset[str]
    year: int | None
    type: str | None
    date: str | None
    is_retracted: bool | None


@dataclass(frozen=True)
class Raw:
    works: list[RawWork]
    records: dict[str, dict[str, Any]]  # a few full records, by id

    def ids(self, pred: Any) -> set[str]:
        return {w.id for w in self.works if pred(w)}


def _work_files() -> list[Path]:
    base = shared_data() / "openalex"
    return [base / "works-kfupm-2026.jsonl.gz", base / "works-fixtures-2025.jsonl.gz"]


@pytest.fixture(scope="session")
def raw() -> Raw:
    works_: list[RawWork] = []
    keep: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for path in _work_files():
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                wid = rec["id"].rsplit("/", 1)[-1]
                if wid in seen:
                    continue
                seen.add(wid)
                insts = [i for a in rec.get("authorships") or [] for i in a.get("institutions") or []]
                works_.append(
                    RawWork(
                        wid,
                        frozenset(x.rsplit("/", 1)[-1] for i in insts for x in i.get("lineage") or []),
                        frozenset(i["id"].rsplit("/", 1)[-1] for i in insts if i.get("id")),
                        rec.get("publication_year"),
                        rec.get("type"),
                        rec.get("publication_date"),
                        rec.get("is_retracted"),
                    )
                )
                if wid in {"W4400255569", "W4391670111"}:
                    keep[wid] = rec
    return Raw(works_, keep)


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    return Corpus.load(_work_files(), shared_data() / "openalex" / "entities" / "institutions.jsonl")


@pytest.fixture
def fake(corpus: Corpus) -> Iterator[FakeOpenAlex]:
    with FakeOpenAlex(corpus) as server:
        yield server


def make_client(
    base_url: str, transport: httpx.BaseTransport | None = None, **overrides: Any
) -> OpenAlexClient:
    settings = ApiSettings(
        base_url=base_url,
        api_key=overrides.pop("api_key", API_KEY),
        email=overrides.pop("email", EMAIL),
        per_page=overrides.pop("per_page", 100),
        rate_limit=overrides.pop("rate_limit", 0),  # no spacing unless a test asks for it
        timeout=overrides.pop("timeout", 2.0),
        max_retries=overrides.pop("max_retries", 3),
    )
    return OpenAlexClient(
        settings,
        transport,
        backoff_base=overrides.pop("backoff_base", 0.01),
        backoff_cap=overrides.pop("backoff_cap", 0.05),
        **overrides,
    )


@pytest.fixture
def client(fake: FakeOpenAlex) -> Iterator[OpenAlexClient]:
    with make_client(fake.url) as c:
        yield c


def all_ids(client: OpenAlexClient, query: Query) -> list[str]:
    return [i for page in client.iter_pages(query) for i in ids_of(page)]


# ----------------------------------------------------------------------------------------- the builder


def test_query_records_parameters_only() -> None:
    q = works().filter("authorships.institutions.lineage", CNRS).filter("publication_year", "2015-2020", 2024)
    q = q.filter("type", ["article", "review"]).select("id", "doi").per_page(50)
    assert q.params() == {
        "filter": f"authorships.institutions.lineage:{CNRS},"
        "publication_year:2015-2020|2024,type:article|review",
        "select": "id,doi",
    }
    assert q.page_size == 50
    assert works().filter("is_oa", True).params() == {"filter": "is_oa:true"}
    assert works().filter("x", "a", "a", "b").filters == (("x", ("a", "b")),)  # repeats dropped


@pytest.mark.parametrize(
    "make",
    [
        lambda: works().select("authorships.institutions"),
        lambda: works().per_page(201),
        lambda: works().per_page(0),
        lambda: works().filter("type", "a,b"),
        lambda: works().filter("type", "a|b"),
        lambda: works().filter("type"),
        lambda: Query("papers"),
    ],
)
def test_query_rejects_common_mistakes(make: Any) -> None:
    with pytest.raises(UsageError):
        make()


def test_or_filters_are_split_at_50_values() -> None:
    ids = [f"W{i}" for i in range(120)]
    q = works().filter("ids.openalex", ids).filter("type", "article")
    parts = q.parts()
    assert [len(p.filters[0][1]) for p in parts] == [50, 50, 20]
    assert [v for p in parts for v in p.filters[0][1]] == ids
    assert all(p.filters[1] == ("type", ("article",)) for p in parts)
    assert not q.parts_may_overlap  # one id per work: the parts are disjoint
    both = q.filter("authorships.institutions.lineage", [f"I{i}" for i in range(60)])
    assert len(both.parts()) == 3 * 2
    assert both.parts_may_overlap


def test_list_calls_needed() -> None:
    assert [list_calls_needed(n, 100) for n in (0, 1, 100, 101, 2431)] == [0, 1, 1, 2, 25]
    assert list_calls_needed(2431, 25) == 98
    with pytest.raises(UsageError):
        list_calls_needed(10, 101)


# ---------------------------------------------------------------------------------------------- paging


def test_cursor_paging_finds_the_two_cnrs_imperial_works(client: OpenAlexClient, raw: Raw) -> None:
    lineage = "authorships.institutions.lineage"
    q = works().filter(lineage, CNRS).filter(lineage, IMPERIAL)
    expected = raw.ids(lambda w: CNRS in w.lineage and IMPERIAL in w.lineage)
    assert expected == {"W4400255569", "W4391670111"}
    assert sorted(all_ids(client, q)) == sorted(expected)
    # direct affiliation only: W4391670111 reaches CNRS through a lab's lineage, so it drops out
    direct = works().filter("authorships.institutions.id", CNRS).filter(lineage, IMPERIAL)
    assert all_ids(client, direct) == ["W4400255569"]


@pytest.mark.parametrize("per_page", [100, 77])
def test_cursor_paging_a_bigger_filter_returns_each_record_once(
    fake: FakeOpenAlex, raw: Raw, per_page: int
) -> None:
    expected = raw.ids(lambda w: KFUPM in w.lineage)
    assert len(expected) > 2000
    with make_client(fake.url, per_page=per_page) as client:
        got = all_ids(client, works().filter("authorships.institutions.lineage", KFUPM))
    assert len(got) == len(set(got)) == len(expected)
    assert set(got) == expected
    calls = fake.list_requests()
    assert len(calls) == list_calls_needed(len(expected), per_page)  # no wasted call at the end
    assert calls[0].params["cursor"] == "*"
    assert all(c.params["per_page"] == str(per_page) for c in calls)
    assert all(c.params["cursor"] not in ("", "*") for c in calls[1:])


def test_a_server_that_serves_shorter_pages_is_read_to_the_end(corpus: Corpus, raw: Raw) -> None:
    """A page shorter than per_page is not the end of a listing: the cursor and the count are."""
    expected = raw.ids(lambda w: KFUPM in w.lineage)
    with FakeOpenAlex(corpus, page_cap=40) as capped, make_client(capped.url, per_page=100) as client:
        got = all_ids(client, works().filter("authorships.institutions.lineage", KFUPM))
    assert sorted(got) == sorted(expected)


def test_settings_from_environment_over_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORDIALE_DATA_DIR", str(tmp_path))
    for name in ("OPENALEX_PER_PAGE", "OPENALEX_RATE_LIMIT", "OPENALEX_EMAIL", "OPENALEX_API_URL"):
        monkeypatch.delenv(name, raising=False)
    defaults = ApiSettings.load()
    assert (defaults.per_page, defaults.rate_limit, defaults.api_key) == (100, 10.0, None)
    (tmp_path / "config.toml").write_text(
        '[openalex]\napi_key = "from-file"\nemail = "office@example.org"\nper_page = 50\nrate_limit = 0\n'
    )
    from_file = ApiSettings.load()
    assert (from_file.api_key, from_file.email, from_file.per_page, from_file.rate_limit) == (
        "from-file",
        "office@example.org",
        50,
        0.0,  # zero means unthrottled: not replaced by the default
    )
    monkeypatch.setenv("OPENALEX_API_KEY", "from-env")
    monkeypatch.setenv("OPENALEX_PER_PAGE", "25")
    from_env = ApiSettings.load()
    assert (from_env.api_key, from_env.per_page, from_env.email) == ("from-env", 25, "office@example.org")
    monkeypatch.setenv("OPENALEX_PER_PAGE", "200")  # over the documented maximum: refused, not truncated
    with pytest.raises(UsageError, match="per_page"):
        OpenAlexClient(ApiSettings.load())


def test_year_range_and_type_filters(client: OpenAlexClient, raw: Raw) -> None:
    q = works().filter("publication_year", "2015-2020").filter("type", "article", "review")
    expected = raw.ids(
        lambda w: w.year is not None and 2015 <= w.year <= 2020 and w.type in ("article", "review")
    )
    assert set(all_ids(client, q)) == expected
    assert client.count(q) == len(expected)


def test_select_returns_only_the_selected_fields(
    client: OpenAlexClient, fake: FakeOpenAlex, raw: Raw
) -> None:
    q = works().filter("authorships.institutions.lineage", CNRS).select("id", "doi", "publication_year")
    records = [r for page in client.iter_pages(q) for r in page]
    assert len(records) == len(raw.ids(lambda w: CNRS in w.lineage))
    assert all(set(r) == {"id", "doi", "publication_year"} for r in records)
    assert fake.list_requests()[0].params["select"] == "id,doi,publication_year"


def test_or_split_over_120_ids_returns_the_union(
    client: OpenAlexClient, fake: FakeOpenAlex, raw: Raw
) -> None:
    wanted = [*[w.id for w in raw.works[::40]][:117], "W1", "W2", "W3"]  # three ids that do not exist
    assert len(wanted) == 120
    got = all_ids(client, works().filter("ids.openalex", [f"https://openalex.org/{w}" for w in wanted]))
    assert sorted(got) == sorted(wanted[:117])
    calls = fake.list_requests()
    assert len(calls) == 3
    assert max(c.or_values() for c in fake.requests) == 50
    assert client.count(works().filter("openalex", wanted)) == 117


def test_or_split_over_an_institution_list_deduplicates(
    client: OpenAlexClient, fake: FakeOpenAlex, raw: Raw
) -> None:
    counts = collections.Counter(i for w in raw.works for i in w.lineage)
    insts = [i for i, _ in counts.most_common(70)]  # many works name several of these
    expected = raw.ids(lambda w: not w.lineage.isdisjoint(insts))
    got = all_ids(client, works().filter("authorships.institutions.lineage", insts).select("doi"))
    assert len(got) == len(set(got)) == len(expected)
    assert set(got) == expected
    assert all(c.or_values() <= 50 for c in fake.requests)
    assert {c.params["select"] for c in fake.list_requests()} == {"id,doi"}  # id added to deduplicate
    with pytest.warns(UserWarning, match="counted once per part"):
        summed = client.count(works().filter("authorships.institutions.lineage", insts))
    assert summed > len(expected)  # the parts overlap: a sum over them overcounts, and says so


# ------------------------------------------------------------------------------------ counts and groups


def test_count_and_group_by_publication_year(client: OpenAlexClient, fake: FakeOpenAlex, raw: Raw) -> None:
    assert client.count(works()) == len(raw.works)
    expected = collections.Counter(str(w.year) for w in raw.works if w.year is not None)
    groups = client.group_by(works().group_by("publication_year"))
    assert {g["key"]: g["count"] for g in groups} == expected
    assert [g["count"] for g in groups] == sorted(expected.values(), reverse=True)
    group_calls = [c for c in fake.requests if "group_by" in c.params]
    assert [c.params.get("cursor") for c in group_calls] == ["*"]  # under 200 groups: one page
    by_year = works().filter("authorships.institutions.lineage", KFUPM).group_by("publication_year")
    filtered = client.group_by(by_year)
    assert {g["key"]: g["count"] for g in filtered} == collections.Counter(
        str(w.year) for w in raw.works if KFUPM in w.lineage
    )


def test_group_by_pages_past_200_groups_and_not_on_booleans(
    client: OpenAlexClient, fake: FakeOpenAlex, raw: Raw
) -> None:
    expected = collections.Counter(w.date for w in raw.works if w.date)
    assert len(expected) > 400
    groups = client.group_by(works().group_by("publication_date"))
    assert {g["key"]: g["count"] for g in groups} == expected
    assert len(fake.list_requests()) == len(expected) // 200 + 1
    fake.clear()
    flags = client.group_by(works().group_by("is_retracted"))
    assert {g["key"]: g["count"] for g in flags} == collections.Counter(
        str(w.is_retracted).lower() for w in raw.works if w.is_retracted is not None
    )
    assert [("cursor" in c.params) for c in fake.requests] == [False]


def test_group_by_sums_over_split_parts(client: OpenAlexClient, raw: Raw) -> None:
    wanted = [w.id for w in raw.works[:130]]
    groups = client.group_by(works().filter("ids.openalex", wanted).group_by("type"))
    assert {g["key"]: g["count"] for g in groups} == collections.Counter(w.type for w in raw.works[:130])


def test_get_single_records(client: OpenAlexClient, raw: Raw) -> None:
    assert client.get("works", "https://openalex.org/W4400255569") == raw.records["W4400255569"]
    umich = client.get("institutions", "ror:00jmfr291")
    assert umich["display_name"] == "University of Michigan"
    assert client.get("institutions", "https://ror.org/00jmfr291")["id"] == umich["id"]
    assert client.get("institutions", "I27837315", select=["id", "ror"]) == {
        "id": "https://openalex.org/I27837315",
        "ror": "https://ror.org/00jmfr291",
    }
    assert client.get("works", "W4391670111", select=["publication_year"]) == {
        "publication_year": raw.records["W4391670111"]["publication_year"]
    }
    with pytest.raises(OpenAlexNotFoundError, match="ror:02feahw73"):
        client.get("institutions", "ror:02feahw73")  # CNRS is not among the fake's institutions


# ------------------------------------------------------------------------------ credentials, politeness


def test_api_key_and_mailto_are_sent(client: OpenAlexClient, fake: FakeOpenAlex) -> None:
    client.count(works())
    client.get("works", "W4400255569")
    list(client.iter_pages(works().filter("authorships.institutions.lineage", CNRS)))
    assert len(fake.requests) >= 3
    assert all(r.params.get("api_key") == API_KEY for r in fake.requests)
    assert all(r.params.get("mailto") == EMAIL for r in fake.requests)


def test_no_key_no_mailto_when_unset(fake: FakeOpenAlex) -> None:
    with make_client(fake.url, api_key=None, email=None) as client:
        client.count(works())
    assert "api_key" not in fake.requests[0].params and "mailto" not in fake.requests[0].params


def test_rate_limit_spaces_requests(fake: FakeOpenAlex) -> None:
    with make_client(fake.url, rate_limit=20) as client:
        started = time.monotonic()
        for _ in range(10):
            client.count(works().filter("publication_year", 2020))
        elapsed = time.monotonic() - started
    assert elapsed >= 0.45
    gaps = [b.at - a.at for a, b in zip(fake.requests, fake.requests[1:], strict=False)]
    assert min(gaps) >= 0.04


# ---------------------------------------------------------------------------------- retries and errors


@pytest.mark.parametrize(
    "fault",
    [
        Fault.http(429),
        Fault.http(500),
        Fault.http(503),
        Fault.slow(1.5),
        Fault.truncated(),
        Fault.invalid_json(),
        Fault.no_results(),
        Fault.drop(),
    ],
    ids=lambda f: f"{f.kind}-{f.status}" if f.kind == "http" else f.kind,
)
def test_retries_then_succeeds(fake: FakeOpenAlex, raw: Raw, fault: Fault) -> None:
    fake.inject(fault, fault)
    with make_client(fake.url, timeout=0.5) as client:
        got = all_ids(client, works().filter("authorships.institutions.lineage", CNRS))
    assert set(got) == raw.ids(lambda w: CNRS in w.lineage)
    faults = [r.fault for r in fake.requests]
    assert faults[:2] == [fault.kind, fault.kind] and len(faults) > 2
    assert all(f is None for f in faults[2:])


def test_retry_after_is_honoured(fake: FakeOpenAlex) -> None:
    fake.inject(Fault.http(429, retry_after=1))
    with make_client(fake.url) as client:
        started = time.monotonic()
        client.count(works())
    assert time.monotonic() - started >= 0.95
    assert len(fake.requests) == 2


def test_a_long_retry_after_ends_the_run_at_once(fake: FakeOpenAlex) -> None:
    fake.inject(Fault.http(429, retry_after=3600))
    with make_client(fake.url) as client, pytest.raises(OpenAlexUnavailableError, match="3600 s"):
        client.count(works())
    assert len(fake.requests) == 1


def test_gives_up_after_max_retries(fake: FakeOpenAlex) -> None:
    fake.inject(*[Fault.http(503)] * 10)
    with make_client(fake.url, max_retries=3) as client, pytest.raises(OpenAlexUnavailableError) as err:
        client.count(works())
    assert len(fake.requests) == 4
    message = str(err.value)
    assert "after 3 retries" in message and "HTTP 503" in message and "cordiale ingest" in message
    assert API_KEY not in message
    assert isinstance(err.value, NetworkUnavailableError)


def test_a_bad_request_is_not_retried(client: OpenAlexClient, fake: FakeOpenAlex) -> None:
    with pytest.raises(OpenAlexRequestError, match="not a valid field"):
        client.count(works().filter("no_such_field", "x"))
    assert len(fake.requests) == 1


def test_missing_api_key_is_explained(fake: FakeOpenAlex) -> None:
    fake.inject(Fault.http(401))
    client = make_client(fake.url, api_key=None)
    with client, pytest.raises(OpenAlexRequestError, match="OPENALEX_API_KEY"):
        client.count(works())


def test_a_403_rate_limit_is_retried_but_a_refused_key_is_not(fake: FakeOpenAlex) -> None:
    # OpenAlex documents 403 as "Rate limit exceeded; slow down": retried with back-off, like a 429
    fake.inject(Fault.http(403, message="Rate limit exceeded; slow down"))
    with make_client(fake.url) as client:
        assert client.count(works()) > 0
    assert [r.fault for r in fake.requests] == ["http", None]
    # a 403 that says nothing about rates is a refused key: one request, a clear message
    fake.requests.clear()
    fake.inject(Fault.http(403, message="Invalid API key"))
    with make_client(fake.url) as client, pytest.raises(OpenAlexRequestError, match="API key was rejected"):
        client.count(works())
    assert len(fake.requests) == 1


class CountingTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return self.inner.handle_request(request)


def test_refused_connection_fails_fast_without_retry() -> None:
    with socket.socket() as sock:  # a port on 127.0.0.1 that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    transport = CountingTransport(httpx.HTTPTransport())
    started = time.monotonic()
    url = f"http://127.0.0.1:{port}"
    client = make_client(url, transport, max_retries=6, backoff_base=1.0, backoff_cap=60)
    with client, pytest.raises(NetworkUnavailableError, match="cordiale ingest") as err:
        client.count(works())
    assert time.monotonic() - started < 10
    assert transport.calls == 1
    assert "unreachable" in str(err.value)


def test_name_resolution_failure_and_connect_timeout_fail_fast() -> None:
    def no_dns(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)

    dns = CountingTransport(httpx.MockTransport(no_dns))
    with make_client("https://api.openalex.org", dns) as client, pytest.raises(NetworkUnavailableError):
        client.get("works", "W1")
    assert dns.calls == 1

    def stuck(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    slow = CountingTransport(httpx.MockTransport(stuck))
    with (
        make_client("https://api.openalex.org", slow, max_retries=6) as client,
        pytest.raises(NetworkUnavailableError, match="connect timeout"),
    ):
        client.get("works", "W1")
    assert slow.calls == 2  # one retry at most


def test_a_hanging_name_lookup_is_cut_short(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    lookups: list[str] = []

    def hang(host: str, *args: Any, **kwargs: Any) -> Any:
        lookups.append(host)
        release.wait(10)
        raise socket.gaierror("released")

    monkeypatch.setattr(socket, "getaddrinfo", hang)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    started = time.monotonic()
    try:
        client = make_client("https://api.openalex.invalid", connect_timeout=0.3)
        with client, pytest.raises(NetworkUnavailableError, match=r"timed out.*cordiale ingest"):
            client.count(works())
    finally:
        release.set()
    assert time.monotonic() - started < 2
    assert lookups == ["api.openalex.invalid"]


# ----------------------------------------------------------------------------------------- resumption


class Crash(Exception):
    pass


def test_iter_pages_resumes_from_the_saved_cursor(fake: FakeOpenAlex, raw: Raw, tmp_path: Path) -> None:
    query = works().filter("authorships.institutions.lineage", KFUPM).select("id", "doi")
    state = tmp_path / "paging.json"
    delivered: list[str] = []
    with make_client(fake.url, per_page=100) as client:
        with pytest.raises(Crash):
            for n, page in enumerate(client.iter_pages(query, state), start=1):
                if n == 4:
                    raise Crash  # taken but not processed: page 4 must come again
                delivered.extend(ids_of(page))
        saved = json.loads(state.read_text())
        assert saved["pages_done"] == 3 and saved["records_done"] == 300
        assert saved["query"] == query.describe() and saved["next_cursor"] not in (None, "*")
        assert API_KEY not in state.read_text()
        requests_before = len(fake.requests)
        for page in client.iter_pages(query, state):
            delivered.extend(ids_of(page))
        assert fake.requests[requests_before].params["cursor"] == saved["next_cursor"]
        with pytest.raises(UsageError, match="another query"):
            state.write_text(json.dumps({**saved, "query": "works?filter=type:book"}))
            next(client.iter_pages(query, state))
    state.unlink()
    assert len(delivered) == len(set(delivered))
    assert set(delivered) == raw.ids(lambda w: KFUPM in w.lineage)


def test_iter_pages_resumes_a_split_query_without_duplicates(
    fake: FakeOpenAlex, raw: Raw, tmp_path: Path
) -> None:
    counts = collections.Counter(i for w in raw.works for i in w.lineage)
    insts = [i for i, _ in counts.most_common(70)]
    query = works().filter("authorships.institutions.lineage", insts).select("id")
    state = tmp_path / "paging.json"
    delivered: list[str] = []
    with make_client(fake.url, per_page=100) as client:
        pages = client.iter_pages(query, state)
        delivered.extend(ids_of(next(pages)))
        while not state.exists() or json.loads(state.read_text())["part"] == 0:  # into the second part
            delivered.extend(ids_of(next(pages)))
        delivered.extend(ids_of(next(pages)))
        pages.close()  # the consumer stops: the last page it took is not confirmed
        saved = json.loads(state.read_text())
        assert saved["part"] == 1 and saved["seen"]
        assert len(delivered) > saved["records_done"]
        delivered = delivered[: saved["records_done"]]
        delivered.extend(i for page in client.iter_pages(query, state) for i in ids_of(page))
    assert not state.exists()
    assert len(delivered) == len(set(delivered))
    assert set(delivered) == raw.ids(lambda w: not w.lineage.isdisjoint(insts))


def _jsonl_ids(path: Path) -> list[str]:
    return [short_id(json.loads(line)["id"]) for line in path.read_text(encoding="utf-8").splitlines()]


def test_fetch_to_jsonl_stops_and_resumes(fake: FakeOpenAlex, raw: Raw, tmp_path: Path) -> None:
    query = works().filter("authorships.institutions.lineage", MIDSIZE)
    out = tmp_path / "works.jsonl"
    expected = raw.ids(lambda w: MIDSIZE in w.lineage)
    seen_progress: list[tuple[int, int]] = []
    with make_client(fake.url, per_page=50, max_retries=0) as client:
        first = fetch_to_jsonl(client, query, out, max_pages=3)
        assert (first.records, first.pages, first.complete) == (150, 3, False)
        assert state_path_for(out).exists()
        # the next run dies on its third request, and left half a page in the file when it did
        fake.inject(Fault.ok(), Fault.ok(), Fault.http(500))
        with pytest.raises(OpenAlexUnavailableError):
            fetch_to_jsonl(client, query, out)
        with out.open("ab") as fh:
            fh.write(b'{"id": "https://openalex.org/W4400255569", "title": "a torn wri')
        done = fetch_to_jsonl(client, query, out, progress=lambda n, total: seen_progress.append((n, total)))
    assert done.complete and done.records == len(expected) and done.path == out
    assert not state_path_for(out).exists()
    ids = _jsonl_ids(out)
    assert len(ids) == len(set(ids)) == len(expected)
    assert set(ids) == expected
    assert seen_progress[-1] == (len(expected), len(expected))
    full = [json.loads(line) for line in out.read_text().splitlines()[:3]]
    assert all("authorships" in r and "abstract_inverted_index" in r for r in full)  # whole records


def test_fetch_to_jsonl_survives_a_killed_process(fake: FakeOpenAlex, raw: Raw, tmp_path: Path) -> None:
    out = tmp_path / "works.jsonl"
    state = state_path_for(out)
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from cordiale.config import ApiSettings
        from cordiale.sources.fetch import fetch_to_jsonl
        from cordiale.sources.openalex_api import OpenAlexClient, works
        client = OpenAlexClient(ApiSettings(base_url={fake.url!r}, per_page=50, rate_limit=0, max_retries=0))
        query = works().filter("authorships.institutions.lineage", {MIDSIZE!r})
        fetch_to_jsonl(client, query, Path({str(out)!r}))
        """
    )
    fake.delay = 0.05
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if state.exists():
                try:
                    if json.loads(state.read_text())["pages_done"] >= 4:
                        break
                except (ValueError, OSError):
                    pass
            assert proc.poll() is None, "the fetch ended before it could be killed"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    assert state.exists() and 0 < len(_jsonl_ids_lenient(out)) < 497
    fake.delay = 0.0
    with make_client(fake.url, per_page=50) as client:
        result = fetch_to_jsonl(client, works().filter("authorships.institutions.lineage", MIDSIZE), out)
    ids = _jsonl_ids(out)
    expected = raw.ids(lambda w: MIDSIZE in w.lineage)
    assert result.complete and result.records == len(expected)
    assert len(ids) == len(set(ids)) == len(expected)
    assert set(ids) == expected


def _jsonl_ids_lenient(path: Path) -> list[str]:
    out = []
    for line in path.read_bytes().splitlines():
        try:
            out.append(json.loads(line)["id"])
        except ValueError:
            break
    return out


def test_fetch_refuses_a_state_for_another_query(client: OpenAlexClient, tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    query = works().filter("authorships.institutions.lineage", KFUPM).per_page(10)
    fetch_to_jsonl(client, query, out, max_pages=1)
    with pytest.raises(UsageError, match="another query"):
        fetch_to_jsonl(client, institutions(), out)
