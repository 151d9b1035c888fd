"""What ``cordiale pair`` fetches from the OpenAlex API: what the pair needs and no more.

- the joint works as full records: one AND filter on both institutions (``lineage`` or direct ``id``
  per the rule), cursor-paged into a resumable JSON Lines file, then ingested like any file;
- each partner's yearly totals: one ``group_by=publication_year`` call each, stored in ``api_counts``
  and labelled as API counts;
- with ``fetch_all`` only, each partner's whole output, after printing what it costs in list calls.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from cordiale.config import ApiSettings
from cordiale.errors import CordialeError, NetworkUnavailableError
from cordiale.ids import short_openalex_id
from cordiale.sources.fetch import fetch_to_jsonl
from cordiale.sources.openalex_api import OpenAlexClient, Query, list_calls_needed, works
from cordiale.store.connection import writer
from cordiale.store.ingest import ingest

FREE_DAILY_CALLS = 10_000
_err = Console(stderr=True)


def filter_key(rule: str) -> str:
    """The works filter that selects an institution under a rule."""
    return "authorships.institutions.lineage" if rule == "lineage" else "authorships.institutions.id"


def lookup_ror_via_api(ror: str) -> tuple[str, str] | None:
    """ROR id → (short OpenAlex id, name) through ``/institutions/ror:…``; None when OpenAlex has none."""
    with OpenAlexClient() as client:
        try:
            rec = client.get("institutions", f"ror:{ror}")
        except CordialeError as exc:
            if exc.__class__.__name__ == "OpenAlexNotFoundError":
                return None
            raise
    sid = short_openalex_id(str(rec.get("id", "")))
    return (sid, str(rec.get("display_name") or sid)) if sid else None


def _fetch_and_ingest(client: OpenAlexClient, query: Query, out: Path, db_path: Path, label: str) -> int:
    from cordiale.cli.common import count_progress

    with count_progress() as progress:
        task = progress.add_task(label, total=None)

        def on_page(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total or None)

        result = fetch_to_jsonl(client, query, out, progress=on_page)
    summary = ingest([out], db_path, source="api", force=True)
    return int(result.records) if summary is not None else 0


def fetch_pair(db_path: Path, partners: tuple[str, str], rule: str, fetch_all: bool = False) -> None:
    """Fetch the pair's joint works and yearly totals (and, with ``fetch_all``, everything) into the store."""
    fetch_dir = db_path.parent / "fetched"
    created = [d for d in (db_path.parent, fetch_dir) if not d.exists()]
    fetch_dir.mkdir(parents=True, exist_ok=True)
    try:
        _fetch_pair(db_path, fetch_dir, partners, rule, fetch_all)
    except NetworkUnavailableError:
        _remove_unused(fetch_dir, created)
        raise


def _remove_unused(fetch_dir: Path, created: list[Path]) -> None:
    """After a fetch that could not reach the API: the empty files it opened (nothing to resume there),
    then the folders it made, when they are left empty."""
    for f in fetch_dir.glob("*.jsonl"):
        if f.stat().st_size == 0:
            f.unlink()
            f.with_suffix(".state.json").unlink(missing_ok=True)
    for folder in reversed(created):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty


def _fetch_pair(
    db_path: Path, fetch_dir: Path, partners: tuple[str, str], rule: str, fetch_all: bool
) -> None:
    a, b = partners
    key = filter_key(rule)
    settings = ApiSettings.load()
    with OpenAlexClient(settings) as client:
        joint = works().filter(key, a).filter(key, b)
        n = _fetch_and_ingest(
            client,
            joint,
            fetch_dir / f"joint-{a}-{b}-{rule}.jsonl",
            db_path,
            f"joint works {a} × {b} ({rule})",
        )
        _err.print(f"fetched {n:,} joint works of {a} and {b} ({rule})")
        now = datetime.now(UTC).replace(tzinfo=None)
        rows = []
        for partner in partners:
            q = works().filter(key, partner)
            for group in client.group_by(q.group_by("publication_year")):
                year = str(group.get("key", ""))
                if year.isdigit():
                    rows.append(
                        [partner, rule, int(year), int(group.get("count", 0)), f"{key}:{partner}", now]
                    )
        with writer(db_path) as con:
            con.executemany("INSERT INTO api_counts VALUES (?, ?, ?, ?, ?, ?)", rows)
        if fetch_all:
            for partner in partners:
                q = works().filter(key, partner)
                total = client.count(q)
                calls = list_calls_needed(total, settings.per_page)
                _err.print(
                    f"fetching all {total:,} works of {partner} takes {calls:,} list calls "
                    f"(a free key buys about {FREE_DAILY_CALLS:,} a day)"
                )
                _fetch_and_ingest(
                    client, q, fetch_dir / f"all-{partner}-{rule}.jsonl", db_path, f"all works of {partner}"
                )
