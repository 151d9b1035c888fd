"""The command line: older record vintages, ROR loading, institution search and the shared exit codes."""

from __future__ import annotations

import copy
import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from cordiale.cli.main import app
from cordiale.store.connection import reader
from tests.conftest import raw_records
from tests.shared_data import shared_path

runner = CliRunner()


def _legacy(record: dict[str, Any]) -> dict[str, Any]:
    """The same real work shaped like a 2022 snapshot record: host_venue, concepts, a Crossref type, nulls."""
    old = copy.deepcopy(record)
    source = (old.pop("primary_location") or {}).get("source") or {}
    old["host_venue"] = {
        "id": source.get("id"),
        "display_name": source.get("display_name"),
        "issn_l": source.get("issn_l"),
        "type": "journal",
    }
    old.pop("topics", None)
    old.pop("primary_topic", None)
    old.pop("sustainable_development_goals", None)
    old.pop("awards", None)
    old.pop("funders", None)
    old["type"] = "journal-article"
    old["fwci"] = None
    old["citation_normalized_percentile"] = None
    old["open_access"] = None
    for au in old["authorships"]:
        au.pop("raw_affiliation_strings", None)
        au["raw_affiliation_string"] = "Somewhere, Some city"
        au["countries"] = None
    return old


def test_older_schema_vintages_load(tmp_path: Path) -> None:
    records = list(raw_records(shared_path("openalex", "works-kfupm-2026.jsonl.gz")))[:20]
    legacy = [_legacy(r) for r in records]
    path = tmp_path / "legacy.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in legacy))
    db = tmp_path / "s.duckdb"
    result = runner.invoke(app, ["ingest", str(path), "--db", str(db)])
    assert result.exit_code == 0, result.output
    with reader(db) as con:
        assert con.execute("SELECT count(*) FROM works WHERE type = 'journal-article'").fetchone()[0] == 20  # type: ignore[index]
        assert con.execute("SELECT count(*) FROM works WHERE source_type = 'journal'").fetchone()[0] == 20  # type: ignore[index]
        raw_aff = con.execute("SELECT DISTINCT raw_affiliation_strings FROM authorships").fetchall()
        assert raw_aff == [(["Somewhere, Some city"],)]
        assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0  # type: ignore[index]
    # legacy types are matched exactly by --types
    pairs: Counter[tuple[str, str]] = Counter()
    for r in legacy:
        ids = {i["id"].rsplit("/", 1)[-1] for au in r["authorships"] for i in au["institutions"] if i["id"]}
        pairs.update(itertools.combinations(sorted(ids), 2))
    (a, b), _ = pairs.most_common(1)[0]
    result = runner.invoke(
        app, ["pair", a, b, "--db", str(db), "--types", "journal-article", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert "journal-article" not in result.stderr  # a legacy type present in the store is not warned about
    assert json.loads(result.stdout)["joint_total"] > 0


def test_ror_load_search_and_resolution_exit_codes(tmp_path: Path, kfupm: Path) -> None:
    db = tmp_path / "s.duckdb"
    assert runner.invoke(app, ["ingest", str(kfupm), "--db", str(db)]).exit_code == 0
    ror = shared_path("ror", "ror_records_latest_v2schema.jsonl.gz")
    result = runner.invoke(app, ["ror", "load", str(ror), "--db", str(db)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["institutions", "search", "imperial", "--db", str(db), "--format", "json"])
    assert result.exit_code == 0
    hits = json.loads(result.stdout)
    assert any(h["openalex_id"] == "I47508984" for h in hits)
    # names and ROR URLs resolve; an ambiguous name lists candidates with exit 3
    result = runner.invoke(
        app,
        ["pair", "https://ror.org/02feahw73", "Imperial College London", "--db", str(db), "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    assert [p["id"] for p in json.loads(result.stdout)["partners"]] == ["I1294671590", "I47508984"]
    result = runner.invoke(app, ["pair", "CNRS", "I47508984", "--db", str(db)])
    assert result.exit_code == 3
    assert "candidates" in result.stderr and "I1294671590" in result.stderr
    result = runner.invoke(app, ["pair", "no such institution anywhere", "I47508984", "--db", str(db)])
    assert result.exit_code == 3


def test_missing_store_and_missing_ror_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["institutions", "search", "imperial", "--db", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 4
    assert "cordiale ingest" in result.stderr
    result = runner.invoke(
        app, ["ror", "load", str(tmp_path / "nope.json"), "--db", str(tmp_path / "s.duckdb")]
    )
    assert result.exit_code == 2
    assert "nope.json" in result.stderr


def test_an_empty_store_is_exit_4(tmp_path: Path) -> None:
    from cordiale.store.connection import writer

    db = tmp_path / "empty.duckdb"
    with writer(db):
        pass  # the schema, no rows
    for args in (["institutions", "search", "imperial"], ["export", str(tmp_path / "out")]):
        result = runner.invoke(app, [*args, "--db", str(db)])
        assert result.exit_code == 4, (args, result.output)
        assert "empty" in result.stderr and "cordiale" in result.stderr
    assert not (tmp_path / "out").exists()


def test_version_and_usage() -> None:
    assert runner.invoke(app, ["--version"]).exit_code == 0
    assert runner.invoke(app, ["pair"]).exit_code == 2
    assert runner.invoke(app, ["no-such-command"]).exit_code == 2
