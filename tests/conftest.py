"""Shared fixtures: a store built once from the real OpenAlex records in ../shared/data."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cordiale.store.ingest import ingest
from tests.fake_openalex import Corpus, FakeOpenAlex
from tests.shared_data import shared_path


def raw_records(path: Path) -> Iterator[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


@pytest.fixture(scope="session")
def kfupm() -> Path:
    return shared_path("openalex", "works-kfupm-2026.jsonl.gz")


@pytest.fixture(scope="session")
def fixtures_2025() -> Path:
    return shared_path("openalex", "works-fixtures-2025.jsonl.gz")


@pytest.fixture(scope="session")
def kfupm_store(tmp_path_factory: pytest.TempPathFactory, kfupm: Path) -> Path:
    """A store holding the 5,804 real works (built once per session)."""
    db = tmp_path_factory.mktemp("kfupm") / "store.duckdb"
    ingest([kfupm], db, workers=1)
    return db


@pytest.fixture(scope="session")
def kfupm_rows_store(tmp_path_factory: pytest.TempPathFactory, kfupm: Path) -> Path:
    """The same works with every row in the database itself (no parts): for tests that change rows in
    place, as an older store or another tool would."""
    db = tmp_path_factory.mktemp("kfupm-rows") / "store.duckdb"
    ingest([kfupm], db, workers=1, keep_parts=False)
    return db


@pytest.fixture(autouse=True)
def _no_real_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach the real OpenAlex API: by default it is a port that refuses connections."""
    monkeypatch.setenv("OPENALEX_API_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("OPENALEX_API_KEY", raising=False)


@pytest.fixture()
def cordiale_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment with a private data dir and an API that refuses connections at once."""
    env = dict(os.environ)
    env["CORDIALE_DATA_DIR"] = str(tmp_path / "data")
    env.pop("CORDIALE_DB", None)
    env["OPENALEX_API_URL"] = "http://127.0.0.1:9"  # discard port: connection refused
    monkeypatch.setenv("CORDIALE_DATA_DIR", env["CORDIALE_DATA_DIR"])
    monkeypatch.delenv("CORDIALE_DB", raising=False)
    monkeypatch.setenv("OPENALEX_API_URL", env["OPENALEX_API_URL"])
    return env


@pytest.fixture(scope="session")
def kfupm_snapshot_store(tmp_path_factory: pytest.TempPathFactory, kfupm: Path) -> Path:
    """The 5,804 real works ingested as a complete snapshot (``ingest_log.reference_complete``): the file
    laid out as the snapshot's one works part, with a manifest that lists it. The records are real; that
    they are all of OpenAlex is the fixture's premise, which is what a conflict-of-interest check needs to
    say "none" (see ``cordiale.coi``)."""
    import shutil

    root = tmp_path_factory.mktemp("kfupm-snapshot")
    works = root / "snapshot" / "data" / "jsonl" / "works"
    part = works / "updated_date=2026-02-01" / "part_0000.gz"
    part.parent.mkdir(parents=True)
    shutil.copy(kfupm, part)
    manifest = {"entries": [{"url": "s3://openalex/data/jsonl/works/updated_date=2026-02-01/part_0000.gz"}]}
    (works / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    db = root / "store.duckdb"
    ingest([root / "snapshot"], db, workers=1)
    return db


@pytest.fixture(scope="module")
def fake_api() -> Iterator[FakeOpenAlex]:
    """A fake OpenAlex API on 127.0.0.1 serving the real works and institutions."""
    corpus = Corpus.load(
        [shared_path("openalex", "works-kfupm-2026.jsonl.gz")],
        shared_path("openalex", "entities", "institutions.jsonl"),
    )
    with FakeOpenAlex(corpus) as server:
        yield server
