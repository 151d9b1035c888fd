"""Real ``sdg_scores`` rows broken down by the observatory (``cordiale pair ... --sdg-source cordiale``).

The joint KFUPM–Aramco works of the shared data (found from the raw JSON, without the store) are ingested,
scored by ``cordiale sdg score``, and the pair's SDG breakdown is checked against the stored rows: a work
counts once under each SDG it is assigned.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from cordiale.cli.main import app
from cordiale.store.connection import reader
from cordiale.store.parts import copy_store
from tests.conftest import raw_records
from tests.test_observatory import ARAMCO, KFUPM, _raw_joint

runner = CliRunner()


def test_pair_breaks_down_real_sdg_scores_by_sdg(tmp_path: Path, kfupm: Path) -> None:
    latest: dict[str, dict[str, Any]] = {}
    for rec in raw_records(kfupm):
        wid = rec["id"].rsplit("/", 1)[-1]
        if wid not in latest or (rec.get("updated_date") or "") >= (latest[wid].get("updated_date") or ""):
            latest[wid] = rec
    joint = _raw_joint(latest, KFUPM, ARAMCO, "direct")
    assert len(joint) > 100
    src = tmp_path / "joint.jsonl"
    src.write_text("".join(json.dumps(latest[w]) + "\n" for w in sorted(joint)))
    db = tmp_path / "s.duckdb"
    assert runner.invoke(app, ["ingest", str(src), "--db", str(db)]).exit_code == 0

    scored = runner.invoke(app, ["sdg", "score", "--db", str(db), "--all"])
    assert scored.exit_code == 0, scored.output
    with reader(db) as con:
        assigned = con.execute("SELECT work_id, sdg FROM sdg_scores WHERE assigned").fetchall()
        n_rows = con.execute("SELECT count(*) FROM sdg_scores").fetchone()
    assert n_rows == (17 * len(joint),)
    expected = Counter(sdg for wid, sdg in assigned if wid in joint)
    assert sum(expected.values()) >= 10, "the fixture should give the breakdown something to count"
    multi = Counter(wid for wid, _ in assigned)
    assert any(n > 1 for n in multi.values()), "some work carries several SDGs (counted under each)"

    args = ["pair", KFUPM, ARAMCO, "--db", str(db), "--show", "sdg", "--sdg-source", "cordiale"]
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    text = json.dumps(doc)
    assert "counts once" in text
    sdg_rows = _sdg_rows(doc)
    got = {r["sdg"]: r["works"] for r in sdg_rows if r["kind"] == "joint" and r["year"] is None}
    assert got == dict(expected)
    assert {r["source"] for r in sdg_rows} == {"cordiale"}
    # Per-year rows add up to the totals.
    per_year: Counter[int] = Counter()
    for r in sdg_rows:
        if r["kind"] == "joint" and r["year"] is not None:
            per_year[r["sdg"]] += r["works"]
    assert dict(per_year) == dict(expected)


def _sdg_rows(doc: Any) -> list[dict[str, Any]]:
    """The rows of the SDG family, wherever the JSON document nests them."""
    if isinstance(doc, list):
        if doc and all(isinstance(r, dict) and "sdg" in r and "works" in r for r in doc):
            return doc
        return [r for x in doc for r in _sdg_rows(x)]
    if isinstance(doc, dict):
        return [r for v in doc.values() for r in _sdg_rows(v)]
    return []


def test_a_partly_scored_store_says_how_many_works_lack_a_score(tmp_path: Path, kfupm_store: Path) -> None:
    import re

    db = tmp_path / "s.duckdb"
    copy_store(kfupm_store, db)
    assert runner.invoke(app, ["sdg", "score", "--db", str(db), "--institutions", ARAMCO]).exit_code == 0
    args = ["pair", KFUPM, ARAMCO, "--db", str(db), "--show", "sdg", "--sdg-source", "cordiale"]
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    notices = [n for n in json.loads(result.stdout)["notices"] if "no cordiale SDG score" in n]
    assert len(notices) == 1, result.stdout[:2000]
    found = re.match(r"([\d,]+) of ([\d,]+) works in scope", notices[0])
    assert found is not None
    missing, total = (int(x.replace(",", "")) for x in found.groups())
    assert 0 < missing < total
    assert "notice:" in result.stderr and "no cordiale SDG score" in " ".join(result.stderr.split())
    # once every work is scored, no such notice
    assert runner.invoke(app, ["sdg", "score", "--db", str(db), "--all"]).exit_code == 0
    again = runner.invoke(app, [*args, "--format", "json"])
    assert again.exit_code == 0 and "no cordiale SDG score" not in again.stdout
