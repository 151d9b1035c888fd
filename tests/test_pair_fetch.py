"""`cordiale pair` and the OpenAlex API: fetch what the pair needs and no more; offline fails fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cordiale.cli.main import app
from cordiale.store.connection import reader
from tests.fake_openalex import Corpus, FakeOpenAlex
from tests.shared_data import shared_path

CNRS, IMPERIAL = "I1294671590", "I47508984"
runner = CliRunner()


@pytest.fixture(scope="module")
def fake_api() -> Iterator[FakeOpenAlex]:
    corpus = Corpus.load(
        [shared_path("openalex", "works-kfupm-2026.jsonl.gz")],
        shared_path("openalex", "entities", "institutions.jsonl"),
    )
    with FakeOpenAlex(corpus) as server:
        yield server


def test_pair_offline_stops_fast_with_exit_6(tmp_path: Path) -> None:
    env = dict(os.environ, CORDIALE_DATA_DIR=str(tmp_path), OPENALEX_API_URL="http://127.0.0.1:9")
    env.pop("CORDIALE_DB", None)
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "cordiale.cli.main", "pair", CNRS, IMPERIAL],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    elapsed = time.monotonic() - t0
    assert proc.returncode == 6, proc.stderr
    assert elapsed < 10
    assert "cordiale ingest" in proc.stderr


def test_pair_fetches_joint_works_and_yearly_totals(
    tmp_path: Path, fake_api: FakeOpenAlex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENALEX_API_URL", fake_api.url)
    monkeypatch.setenv("OPENALEX_API_KEY", "test-key")
    fake_api.clear()
    db = tmp_path / "s.duckdb"
    result = runner.invoke(app, ["pair", CNRS, IMPERIAL, "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["joint_total"] == 2  # W4400255569 and W4391670111 under lineage
    by_year = {y["year"]: y for y in data["years"]}
    assert by_year[2024]["api_totals"][CNRS] > 0 and by_year[2024]["api_totals"][IMPERIAL] > 0
    requests = fake_api.list_requests("works")
    group_calls = [r for r in requests if "group_by" in r.params]
    list_calls = [r for r in requests if "group_by" not in r.params]
    assert len(group_calls) == 2  # one per partner
    assert all(r.params["group_by"] == "publication_year" for r in group_calls)
    # the joint works come from one AND filter on both institutions, never a partner's whole output
    assert list_calls and all(
        CNRS in r.params["filter"] and IMPERIAL in r.params["filter"] for r in list_calls
    )
    assert all(r.params.get("api_key") == "test-key" for r in requests)
    with reader(db) as con:
        assert {r[0] for r in con.execute("SELECT id FROM works").fetchall()} == {
            "W4400255569",
            "W4391670111",
        }
        assert con.execute("SELECT count(DISTINCT institution_id) FROM api_counts").fetchone()[0] == 2  # type: ignore[index]
        assert con.execute("SELECT source FROM ingest_log").fetchall() == [("api",)]
    # the store now holds works for both partners: no fetch without --fetch
    fake_api.clear()
    result = runner.invoke(
        app, ["pair", CNRS, IMPERIAL, "--db", str(db), "--format", "json", "--rule", "direct"]
    )
    assert result.exit_code == 0
    assert fake_api.list_requests("works") == []
    assert json.loads(result.stdout)["joint_total"] == 1


def test_fetch_all_prints_the_cost_first(
    tmp_path: Path, fake_api: FakeOpenAlex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENALEX_API_URL", fake_api.url)
    monkeypatch.setenv("OPENALEX_PER_PAGE", "100")
    db = tmp_path / "s.duckdb"
    result = runner.invoke(app, ["pair", CNRS, IMPERIAL, "--db", str(db), "--fetch-all", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "list calls" in result.stderr and "10,000" in result.stderr
    with reader(db) as con:
        n = con.execute(
            "SELECT count(DISTINCT ai.work_id) FROM authorship_institutions ai JOIN institutions i "
            "ON i.id = ai.institution_id WHERE list_contains(i.lineage, ?)",
            [CNRS],
        ).fetchone()[0]  # type: ignore[index]
    assert n > 2  # the partner's whole output (as far as the fake API holds it) is in the store
