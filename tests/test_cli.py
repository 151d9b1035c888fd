"""The command line: older record vintages, ROR loading, institution search and the shared exit codes."""

from __future__ import annotations

import copy
import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
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
    for key in ("locations", "best_oa_location", "topics", "primary_topic", "keywords"):
        old.pop(key, None)  # a 2022 record had none of these
    # 2022 records classified works by concepts (level 0 = the broadest), not topics
    old["concepts"] = [
        {k: c.get(k) for k in ("id", "wikidata", "display_name", "level", "score")}
        for c in record.get("concepts") or []
    ]
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
    # the records really are of the older shape: host_venue and concepts, no primary_location or topics
    assert all(r["concepts"] and r["host_venue"] for r in legacy)
    assert not any({"primary_location", "topics", "primary_topic"} & r.keys() for r in legacy)
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
        kept = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT id, source_id, source_name, source_issn_l, primary_topic_id FROM works"
            ).fetchall()
        }
        n_topics = con.execute("SELECT count(*) FROM work_topics").fetchone()[0]  # type: ignore[index]
    # host_venue stands in for primary_location.source: its id (short), name and ISSN-L are the source's
    for r in legacy:
        hv = r["host_venue"]
        expected = ((hv["id"] or "").rsplit("/", 1)[-1] or None, hv["display_name"], hv["issn_l"])
        assert kept[r["id"].rsplit("/", 1)[-1]][:3] == expected
    assert sum(v[0] is not None for v in kept.values()) >= 15  # most of these records have a venue
    # concepts are another, retired taxonomy: they are not turned into topics (no primary topic, no rows)
    assert all(v[3] is None for v in kept.values()) and n_topics == 0
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


def test_store_path_precedence_db_then_env_then_data_dir(
    tmp_path: Path, cordiale_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--db` beats `CORDIALE_DB`, which beats `$CORDIALE_DATA_DIR/cordiale.duckdb`: each ingest writes
    exactly the file its rule names, and a reader without `--db` finds the same one."""
    records = list(raw_records(shared_path("openalex", "works-kfupm-2026.jsonl.gz")))[:3]
    src = tmp_path / "three.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in records))
    data_dir = Path(cordiale_env["CORDIALE_DATA_DIR"])
    default_db = data_dir / "cordiale.duckdb"
    env_db, flag_db = tmp_path / "env.duckdb", tmp_path / "flag.duckdb"
    candidates = (default_db, env_db, flag_db)

    def ingested(args: list[str]) -> set[Path]:
        for db in candidates:
            db.unlink(missing_ok=True)
        result = runner.invoke(app, ["ingest", str(src), *args])
        assert result.exit_code == 0, result.output
        return {db for db in candidates if db.exists()}

    # 1. only the data folder is set: the default file inside it
    assert ingested([]) == {default_db}
    # 2. CORDIALE_DB set: it wins over the data folder
    monkeypatch.setenv("CORDIALE_DB", str(env_db))
    assert ingested([]) == {env_db}
    with reader(env_db) as con:
        assert con.execute("SELECT count(*) FROM works").fetchone()[0] == 3  # type: ignore[index]
    out = tmp_path / "export"
    assert runner.invoke(app, ["export", str(out)]).exit_code == 0  # a reader finds the same store
    assert json.loads((out / "cordiale_export.json").read_text())["tables"]["works"] == 3
    # 3. --db given too: it wins over both
    assert ingested(["--db", str(flag_db)]) == {flag_db}
    with reader(flag_db) as con:
        assert con.execute("SELECT count(*) FROM works").fetchone()[0] == 3  # type: ignore[index]
