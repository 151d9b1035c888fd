"""SDG scores in the store: 17 rows per work, incremental by text hash, kept across re-ingests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cordiale.cli.main import app
from cordiale.sdg.classify import model_version
from cordiale.sdg.store import score_store
from cordiale.store.connection import note_asked, reader
from cordiale.store.ingest import ingest
from cordiale.store.parts import copy_store
from tests.conftest import raw_records
from tests.shared_data import shared_path

runner = CliRunner()
N_WORKS = 40


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    """The first 40 real works of the shared KFUPM file (with and without abstracts)."""
    return list(raw_records(shared_path("openalex", "works-kfupm-2026.jsonl.gz")))[:N_WORKS]


def _write(path: Path, recs: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def _rows(db: Path) -> list[tuple[Any, ...]]:
    with reader(db) as con:
        return con.execute("SELECT * FROM sdg_scores ORDER BY work_id, sdg").fetchall()


def test_scores_stored_incrementally_and_survive_reingest(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    src = _write(tmp_path / "works.jsonl", records)
    db = tmp_path / "s.duckdb"
    ingest([src], db, workers=1)

    first = score_store(db, None)
    assert first.candidates == first.scored == N_WORKS and first.unchanged == 0
    rows = _rows(db)
    assert len(rows) == 17 * N_WORKS
    with reader(db) as con:
        per_work = con.execute(
            "SELECT count(*), count(DISTINCT sdg) FROM sdg_scores GROUP BY work_id"
        ).fetchall()
        assert set(per_work) == {(17, 17)}
        bad = con.execute("SELECT count(*) FROM sdg_scores WHERE score < 0 OR score > 1").fetchone()
        assert bad == (0,)
        versions = con.execute("SELECT DISTINCT model_version FROM sdg_scores").fetchall()
        assert versions == [(model_version(),)]
        reasons = con.execute("SELECT reasons FROM sdg_scores WHERE assigned").fetchall()
        for (text,) in reasons:
            assert json.loads(text)["evidence"], "an assigned SDG always says why"

    exported = runner.invoke(app, ["export", str(tmp_path / "export"), "--db", str(db)])
    assert exported.exit_code == 0, exported.output
    assert (tmp_path / "export" / "sdg_scores.parquet").is_file()

    again = score_store(db, None)
    assert again.scored == 0 and again.unchanged == N_WORKS

    ingest([src], db, workers=1, force=True)  # re-ingest the same records
    assert _rows(db) == rows
    assert score_store(db, None).scored == 0

    changed = dict(records[0])
    changed["title"] = "Solar photovoltaic electricity for rural households without access to energy"
    changed["updated_date"] = "2099-01-01T00:00:00"
    ingest([_write(tmp_path / "newer.jsonl", [changed])], db, workers=1)
    third = score_store(db, None)
    assert third.scored == 1 and third.unchanged == N_WORKS - 1
    with reader(db) as con:
        sdgs = con.execute(
            "SELECT sdg FROM sdg_scores WHERE work_id = ? AND assigned",
            [str(changed["id"]).rsplit("/", 1)[-1]],
        ).fetchall()
    assert (7,) in sdgs


def test_score_selects_institutions_and_needs_partners(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    db = tmp_path / "s.duckdb"
    ingest([_write(tmp_path / "works.jsonl", records)], db, workers=1)
    with reader(db) as con:
        inst, n = con.execute(
            "SELECT institution_id, count(DISTINCT work_id) FROM authorship_institutions "
            "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
        ).fetchone()  # type: ignore[misc]
    result = runner.invoke(app, ["sdg", "score", "--db", str(db)])
    assert result.exit_code == 2 and "--institutions" in result.output

    result = runner.invoke(app, ["sdg", "score", "--db", str(db), "--institutions", inst])
    assert result.exit_code == 0, result.output
    assert "a work counts once under each SDG it is assigned" in result.output
    with reader(db) as con:
        assert con.execute("SELECT count(DISTINCT work_id) FROM sdg_scores").fetchone() == (n,)

    note_asked(db, [inst])
    result = runner.invoke(app, ["sdg", "score", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert score_store(db, None, use_asked=True).unchanged == n


def test_score_errors(tmp_path: Path, kfupm_store: Path) -> None:
    result = runner.invoke(app, ["sdg", "score", "--db", str(tmp_path / "none.duckdb"), "--all"])
    assert result.exit_code == 4
    result = runner.invoke(app, ["sdg", "score", "--institutions", "X1", "--all"])
    assert result.exit_code == 2
    # institutions are resolved as `pair` resolves them: no store, then an unknown name
    result = runner.invoke(app, ["sdg", "score", "--db", str(tmp_path / "x.duckdb"), "--institutions", "foo"])
    assert result.exit_code == 4
    result = runner.invoke(app, ["sdg", "score", "--db", str(kfupm_store), "--institutions", "no such place"])
    assert result.exit_code == 3 and "no institution matches" in result.output


@pytest.fixture(scope="module")
def kfupm_copy(kfupm_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the real KFUPM store (scoring writes into it)."""

    db = tmp_path_factory.mktemp("sdg_kfupm") / "store.duckdb"
    copy_store(kfupm_store, db)
    return db


def _works_of(db: Path, *insts: str) -> int:
    with reader(db) as con:
        row = con.execute(  # lineage counts: the institution or one of its units
            "SELECT count(DISTINCT ai.work_id) FROM authorship_institutions ai "
            "LEFT JOIN institutions i ON i.id = ai.institution_id "
            "WHERE ai.institution_id IN (SELECT unnest($i)) OR list_has_any(i.lineage, $i)",
            {"i": list(insts)},
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_name_with_a_comma_is_one_institution(kfupm_copy: Path) -> None:
    beijing = "I204553293"  # China University of Petroleum, Beijing
    result = runner.invoke(
        app,
        ["sdg", "score", "--db", str(kfupm_copy), "--institutions", "China University of Petroleum, Beijing"],
    )
    assert result.exit_code == 0, result.output
    with reader(kfupm_copy) as con:
        scored = con.execute("SELECT count(DISTINCT work_id) FROM sdg_scores").fetchone()
    assert scored == (_works_of(kfupm_copy, beijing),)
    # in a list: the comma inside the name is kept, the one between the items splits
    both = runner.invoke(
        app,
        [
            "sdg",
            "score",
            "--db",
            str(kfupm_copy),
            "--institutions",
            "China University of Petroleum, Beijing, I4210143841",
        ],
    )
    assert both.exit_code == 0, both.output
    summary = " ".join(both.stderr.split())
    expected = _works_of(kfupm_copy, beijing, "I4210143841")
    assert f"│ {expected} │" in summary or f"│ {expected:,} │" in summary


@pytest.mark.parametrize(
    "form", ["https://openalex.org/I4210143841/", "openalex.org/I4210143841", "03ypap427/"]
)
def test_institution_id_forms(kfupm_copy: Path, form: str) -> None:
    result = runner.invoke(app, ["sdg", "score", "--db", str(kfupm_copy), "--institutions", form])
    assert result.exit_code == 0, result.output


def test_a_rerun_reports_the_works_in_scope(kfupm_copy: Path) -> None:
    aramco = "I4210143841"
    first = score_store(kfupm_copy, [aramco])
    again = score_store(kfupm_copy, [aramco])
    assert again.scored == 0 and again.unchanged == again.candidates == _works_of(kfupm_copy, aramco)
    with reader(kfupm_copy) as con:
        with_sdg = con.execute(
            "SELECT count(DISTINCT s.work_id) FROM sdg_scores s JOIN authorship_institutions a "
            "ON a.work_id = s.work_id LEFT JOIN institutions i ON i.id = a.institution_id "
            "WHERE (a.institution_id = $i OR list_contains(i.lineage, $i)) AND s.assigned",
            {"i": aramco},
        ).fetchone()
    assert with_sdg is not None and with_sdg[0] > 0
    assert again.assigned == first.assigned == with_sdg[0]
    assert again.title_only == first.title_only > 0
    result = runner.invoke(app, ["sdg", "score", "--db", str(kfupm_copy), "--institutions", aramco])
    assert "every work in scope" in " ".join(result.stderr.split())


def test_usage_errors_come_before_the_progress_bar(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    db = tmp_path / "s.duckdb"
    ingest([_write(tmp_path / "works.jsonl", records)], db, workers=1)
    result = runner.invoke(app, ["sdg", "score", "--db", str(db)])
    assert result.exit_code == 2 and "no partner institution recorded" in result.stderr
    assert "sdg score" not in result.stderr  # no progress bar drawn


def test_a_store_without_works_is_exit_4(tmp_path: Path) -> None:
    from cordiale.sources.ror import load_ror

    db = tmp_path / "ror.duckdb"
    load_ror([shared_path("ror", "cnrs_02feahw73.json")], db)
    result = runner.invoke(app, ["sdg", "score", "--db", str(db), "--institutions", "02feahw73"])
    assert result.exit_code == 4, result.output
    assert "cordiale ingest" in result.stderr and "--fetch" not in result.stderr
