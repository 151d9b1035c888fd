"""Download a query's records to a JSON Lines file, resumably.

The file grows one page at a time; after each page is written and fsync'd, a state file beside it
(``works.jsonl`` → ``works.state.json``) records the cursor and the file's length. A run that is killed
restarts by cutting the file back to that length and asking for the saved cursor again, so every
record ends up in the file exactly once. A finished download removes its state file.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from cordiale.errors import UsageError
from cordiale.sources.openalex_api import (
    OpenAlexClient,
    PagingState,
    Query,
    read_state,
    write_json_atomic,
)


@dataclass(frozen=True)
class FetchResult:
    """What a fetch left: the file, its records and pages so far, and whether the query is exhausted."""

    path: Path
    records: int
    pages: int
    complete: bool


class _Id(msgspec.Struct):
    id: str | None = None


def state_path_for(out_path: Path) -> Path:
    """The state file kept beside ``out_path`` while its download is unfinished."""
    return out_path.with_suffix(".state.json")


def _ids_in(path: Path, length: int) -> set[str]:
    """The ids of the records in the first ``length`` bytes of ``path``."""
    decoder = msgspec.json.Decoder(_Id)
    ids: set[str] = set()
    with path.open("rb") as fh:
        for line in fh.read(length).splitlines():
            if line.strip():
                rid = decoder.decode(line).id
                if rid:
                    ids.add(rid)
    return ids


def fetch_to_jsonl(
    client: OpenAlexClient,
    query: Query,
    out_path: Path,
    progress: Callable[[int, int], None] | None = None,
    *,
    max_pages: int | None = None,
) -> FetchResult:
    """Write every record of ``query`` to ``out_path`` (one JSON object a line), continuing a killed run.

    ``progress(records_done, total)`` is called after each page (``total`` is the API's count).
    ``max_pages`` stops after that many pages in this call, leaving the state to continue from
    (``complete`` is then False).
    """
    out_path = Path(out_path)
    state_path = state_path_for(out_path)
    saved = read_state(state_path, query)
    start = PagingState.from_dict(saved) if saved else PagingState()
    offset = int(saved.get("offset", 0)) if saved else 0
    if saved and (not out_path.exists() or out_path.stat().st_size < offset):
        raise UsageError(
            f"{out_path} is shorter than its saved state says ({offset} bytes): "
            f"delete {state_path} to download again from the start"
        )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    seen = _ids_in(out_path, offset) if query.parts_may_overlap and offset else None
    if query.parts_may_overlap and seen is None:
        seen = set()

    total: int | None = None
    if progress is not None and len(query.parts()) > 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            total = client.count(query)  # an upper bound when the parts overlap

    state = start
    pages_now = 0
    with out_path.open("ab") as fh:
        fh.truncate(offset)  # drop a page that was being written when the last run died
        fh.flush()
        os.fsync(fh.fileno())
        for page in client.pages(query, start, seen):
            data = b"".join(msgspec.json.encode(record) + b"\n" for record in page.results)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            offset += len(data)
            state = page.after
            _save(state_path, client, query, state, offset)
            pages_now += 1
            if progress is not None:
                progress(state.records_done, total if total is not None else (page.count or 0))
            if max_pages is not None and pages_now >= max_pages and not state.done:
                return FetchResult(out_path, state.records_done, state.pages_done, complete=False)
    state_path.unlink(missing_ok=True)
    return FetchResult(out_path, state.records_done, state.pages_done, complete=True)


def _save(path: Path, client: OpenAlexClient, query: Query, state: PagingState, offset: int) -> None:
    data: dict[str, Any] = {
        "query": query.describe(),
        "url": client.url(query),
        "offset": offset,
        **state.as_dict(),
    }
    write_json_atomic(path, data)
