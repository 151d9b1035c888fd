"""`cordiale pair` and the OpenAlex API: fetch what the pair needs and no more; offline fails fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cordiale.cli.main import app
from cordiale.store.connection import reader
from tests.conftest import raw_records
from tests.fake_openalex import FakeOpenAlex
from tests.shared_data import shared_path

CNRS, IMPERIAL = "I1294671590", "I47508984"
runner = CliRunner()


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


FILTER_KEYS = {"direct": "authorships.institutions.id", "lineage": "authorships.institutions.lineage"}


@pytest.mark.parametrize("rule", ["direct", "lineage"])
def test_fetch_sends_the_rule_s_filter_and_stores_what_it_selects(
    tmp_path: Path, fake_api: FakeOpenAlex, monkeypatch: pytest.MonkeyPatch, rule: str
) -> None:
    """`--rule direct` ANDs `authorships.institutions.id`, `--rule lineage` ANDs
    `authorships.institutions.lineage`; the joint works stored and the yearly API counts are what that
    filter selects in the raw records (computed here from the JSON)."""
    monkeypatch.setenv("OPENALEX_API_URL", fake_api.url)
    fake_api.clear()
    db = tmp_path / "s.duckdb"
    result = runner.invoke(
        app, ["pair", CNRS, IMPERIAL, "--db", str(db), "--rule", rule, "--fetch", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    key = FILTER_KEYS[rule]
    requests = fake_api.list_requests("works")
    list_calls = [r for r in requests if "group_by" not in r.params]
    group_calls = [r for r in requests if "group_by" in r.params]
    assert list_calls
    for r in list_calls:
        assert sorted(r.params["filter"].split(",")) == sorted([f"{key}:{CNRS}", f"{key}:{IMPERIAL}"])
    assert sorted(r.params["filter"] for r in group_calls) == sorted([f"{key}:{CNRS}", f"{key}:{IMPERIAL}"])

    def units(inst: dict[str, Any]) -> set[str]:
        own = {inst["id"].rsplit("/", 1)[-1]}
        return own | {x.rsplit("/", 1)[-1] for x in inst.get("lineage") or []} if rule == "lineage" else own

    selected: dict[str, set[str]] = {}  # work id -> the partners the rule's filter finds on it
    years: dict[str, int] = {}
    for rec in raw_records(shared_path("openalex", "works-kfupm-2026.jsonl.gz")):
        wid = rec["id"].rsplit("/", 1)[-1]
        found = {
            p
            for au in rec.get("authorships") or []
            for inst in au.get("institutions") or []
            if inst.get("id")
            for p in units(inst) & {CNRS, IMPERIAL}
        }
        selected.setdefault(wid, set()).update(found)
        years[wid] = rec["publication_year"]
    joint = {w for w, ps in selected.items() if ps == {CNRS, IMPERIAL}}
    assert joint == ({"W4400255569", "W4391670111"} if rule == "lineage" else {"W4400255569"})
    with reader(db) as con:
        assert {r[0] for r in con.execute("SELECT id FROM works").fetchall()} == joint
        counts = con.execute(
            "SELECT institution_id, year, works_count, filter, rule FROM api_counts"
        ).fetchall()
    for partner in (CNRS, IMPERIAL):
        expected = Counter(years[w] for w, ps in selected.items() if partner in ps)
        got = {y: n for p, y, n, f, ru in counts if p == partner and f == f"{key}:{partner}" and ru == rule}
        assert got == dict(expected), partner
