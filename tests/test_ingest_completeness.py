"""Ingest: `reference_complete` is the store's state (every snapshot part in whole, unfiltered), the
institution filter counts in the "unchanged input" check, and malformed snapshot inputs are named."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cordiale.cli.main import app
from cordiale.observatory.engines import DuckDBEngine
from cordiale.observatory.run import read_facts
from cordiale.store.connection import reader, writer
from cordiale.store.ingest import ingest
from cordiale.store.schema import LATEST_REFERENCE_COMPLETE
from tests.conftest import raw_records

runner = CliRunner()
PARTS = ("2025-01-01", "2025-06-01", "2025-11-01")
PER_PART = 300


def _part(root: Path, date: str) -> Path:
    return root / f"updated_date={date}" / "part_000.gz"


def _snapshot(root: Path, records: list[dict[str, Any]], manifest: Any = None) -> Path:
    """Three works parts of real records, a manifest listing them with record counts, one merged id."""
    entries = []
    for k, date in enumerate(PARTS):
        chunk = records[k * PER_PART : (k + 1) * PER_PART]
        path = _part(root, date)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in chunk).encode()))
        url = f"s3://openalex/data/works/updated_date={date}/part_000.gz"
        entries.append(
            {"url": url, "meta": {"content_length": path.stat().st_size, "record_count": len(chunk)}}
        )
    body = manifest if manifest is not None else {"entries": entries}
    (root / "manifest.json").write_text(body if isinstance(body, str) else json.dumps(body))
    merged = root / "merged_ids" / "works"
    merged.mkdir(parents=True, exist_ok=True)
    gone = records[0]["id"]
    (merged / "2025-11-02.csv.gz").write_bytes(
        gzip.compress(f"merge_date,id,merge_into_id\n2025-11-02,{gone},https://openalex.org/W1\n".encode())
    )
    return root


@pytest.fixture(scope="module")
def records(kfupm: Path) -> list[dict[str, Any]]:
    return list(raw_records(kfupm))[: len(PARTS) * PER_PART]


def _institutions(records: list[dict[str, Any]]) -> list[str]:
    """Institutions of the records, most works first (short ids)."""
    counts: Counter[str] = Counter()
    for r in records:
        ids = {
            i["id"].rsplit("/", 1)[-1]
            for a in r.get("authorships") or []
            for i in a.get("institutions") or []
        }
        counts.update(i for i in ids if i)
    return [i for i, _ in counts.most_common()]


def _complete(db: Path) -> bool:
    with reader(db) as con:
        row = con.execute(LATEST_REFERENCE_COMPLETE).fetchone()
        return bool(row and row[0])


def _facts_complete(db: Path) -> bool:
    with reader(db) as con:
        return read_facts(DuckDBEngine(con)).reference_complete


def _work_ids(db: Path) -> set[str]:
    with reader(db) as con:
        return {r[0] for r in con.execute("SELECT id FROM works").fetchall()}


def test_filtered_then_unfiltered_run_reingests_and_only_then_is_complete(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    """D1a/D2: the unfiltered run after a filtered one reads every part again; completeness follows."""
    snap = _snapshot(tmp_path / "snap", records)
    db = tmp_path / "s.duckdb"
    wanted = _institutions(records)[5]
    first = ingest([snap], db, institution_filter=[wanted], workers=1)
    assert 0 < first.stored < 100 and not _facts_complete(db)
    second = ingest([snap], db, workers=1)
    # every part read again (only the merged ids, applied whatever the filter, are skipped as unchanged)
    assert second.skipped == 1 and second.read == len(records)
    assert _facts_complete(db) and second.reference_complete is True
    assert len(_work_ids(db)) == len(records) - 1  # one id merged away
    third = ingest([snap], db, workers=1)  # unfiltered covers unfiltered: all skipped, still complete
    assert third.skipped == len(PARTS) + 1 and third.read == 0 and _facts_complete(db)
    # and an unfiltered store is not re-read for a filtered run
    assert ingest([snap], db, institution_filter=[wanted], workers=1).skipped == len(PARTS) + 1
    assert _facts_complete(db)


def test_widened_filter_reingests_narrower_one_is_skipped(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    """D2, both directions: A then A,B reads again (B's works come in); A,B then A is skipped."""
    snap = _snapshot(tmp_path / "snap", records)
    a, b = _institutions(records)[3], _institutions(records)[4]
    reference = tmp_path / "ab.duckdb"
    ingest([snap], reference, institution_filter=[a, b], workers=1)
    db = tmp_path / "s.duckdb"
    ingest([snap], db, institution_filter=[a], workers=1)
    only_a = _work_ids(db)
    assert only_a < _work_ids(reference)  # b brings works a lacks
    widened = ingest([snap], db, institution_filter=[a, b], workers=1)
    assert widened.skipped == 1 and widened.read == len(records)  # only the merged ids are skipped
    assert _work_ids(db) == _work_ids(reference)
    narrowed = ingest([snap], db, institution_filter=[b], workers=1)
    assert narrowed.read == 0 and narrowed.skipped == len(PARTS) + 1
    assert not _facts_complete(db)
    with reader(db) as con:
        filters = {
            tuple(r[0]) for r in con.execute("SELECT institution_filter FROM ingested_files").fetchall()
        }
    assert filters == {tuple(sorted([a, b])), ()}  # the parts; the merged ids file has no filter


def test_truncated_part_is_not_complete_until_read_whole(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    """D1b: a part cut short leaves the store incomplete, whatever earlier runs said; a whole copy
    heals it."""
    snap = _snapshot(tmp_path / "snap", records)
    db = tmp_path / "s.duckdb"
    ingest([snap], db, workers=1)
    assert _facts_complete(db)
    part = _part(snap, PARTS[1])
    whole = part.read_bytes()
    part.write_bytes(whole[: len(whole) // 2])
    cut = ingest([snap], db, workers=1)
    assert any(f.cut for f in cut.files)
    assert not _facts_complete(db)  # the latest state, not any run's in the history
    part.write_bytes(whole)
    assert ingest([snap], db, workers=1).reference_complete is True and _facts_complete(db)


def test_truncated_part_in_a_fresh_store_is_not_complete(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    snap = _snapshot(tmp_path / "snap", records)
    part = _part(snap, PARTS[2])
    part.write_bytes(part.read_bytes()[:-200])
    db = tmp_path / "s.duckdb"
    ingest([snap], db, workers=1)
    assert not _facts_complete(db)


def test_record_count_short_of_the_manifest_is_not_complete(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    snap = _snapshot(tmp_path / "snap", records)
    manifest = json.loads((snap / "manifest.json").read_text())
    manifest["entries"][0]["meta"]["record_count"] = PER_PART + 5
    (snap / "manifest.json").write_text(json.dumps(manifest))
    ingest([snap], tmp_path / "s.duckdb", workers=1)
    assert not _complete(tmp_path / "s.duckdb")


@pytest.mark.parametrize("manifest", [{"entries": []}, {"entries": [], "meta": {"record_count": 0}}])
def test_manifest_listing_no_works_is_not_complete(
    tmp_path: Path, records: list[dict[str, Any]], manifest: dict[str, Any]
) -> None:
    """D1c."""
    snap = _snapshot(tmp_path / "snap", records, manifest=manifest)
    summary = ingest([snap], tmp_path / "s.duckdb", workers=1)
    assert summary.stored == len(records) and not _complete(tmp_path / "s.duckdb")


@pytest.mark.parametrize(
    ("manifest", "named"), [('{"entries": [', "manifest.json"), ('{"entries":[{"url":5}]}', "entries[0].url")]
)
def test_malformed_manifest_exit_2_named_others_ingested(
    tmp_path: Path, records: list[dict[str, Any]], manifest: str, named: str
) -> None:
    """D4: exit 2 naming the manifest (and field), the parts still ingested, the store not complete."""
    snap = _snapshot(tmp_path / "snap", records, manifest=manifest)
    db = tmp_path / "s.duckdb"
    result = runner.invoke(app, ["ingest", str(snap), "--db", str(db), "--workers", "1"])
    assert result.exit_code == 2, result.output
    assert named in result.stderr and "Traceback" not in result.output
    assert len(_work_ids(db)) == len(records) - 1
    assert not _complete(db)
    with reader(db) as con:
        assert con.execute("SELECT status FROM ingest_log").fetchall() == [("done with errors",)]


def test_merged_ids_with_a_wrong_header_exit_2_named_log_closed(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    """D4: a merged ids CSV without the expected columns is named, the works stay, the log row is closed;
    a rerun with the file fixed applies it and completes the store."""
    snap = _snapshot(tmp_path / "snap", records)
    csv = snap / "merged_ids" / "works" / "2025-11-02.csv.gz"
    good = csv.read_bytes()
    csv.write_bytes(gzip.compress(f"merge_date;id\n2025-11-02;{records[0]['id']}\n".encode()))
    db = tmp_path / "s.duckdb"
    for _ in range(2):  # the rerun does not crash either
        result = runner.invoke(app, ["ingest", str(snap), "--db", str(db), "--workers", "1"])
        assert result.exit_code == 2, result.output
        assert "2025-11-02.csv.gz" in result.stderr and "merge_into_id" in result.stderr
        assert len(_work_ids(db)) == len(records)  # nothing merged away
        assert not _complete(db)
    with reader(db) as con:
        assert {r[0] for r in con.execute("SELECT status FROM ingest_log").fetchall()} == {"done with errors"}
    csv.write_bytes(good)
    result = runner.invoke(app, ["ingest", str(snap), "--db", str(db), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert len(_work_ids(db)) == len(records) - 1 and _complete(db)


def test_missing_manifest_part_is_reported_and_not_complete(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    """D8."""
    snap = _snapshot(tmp_path / "snap", records)
    _part(snap, PARTS[1]).unlink()
    db = tmp_path / "s.duckdb"
    result = runner.invoke(app, ["ingest", str(snap), "--db", str(db), "--workers", "1"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stderr.split())
    assert "1 works part" in text and f"updated_date={PARTS[1]}" in text and "not reference-complete" in text
    assert not _complete(db)


def test_zero_workers_is_a_usage_error(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    snap = _snapshot(tmp_path / "snap", records)
    result = runner.invoke(app, ["ingest", str(snap), "--db", str(tmp_path / "s.duckdb"), "--workers", "0"])
    assert result.exit_code == 2 and "--workers" in result.stderr


def test_wrong_field_type_is_named_not_called_invalid_json(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**records[0], "publication_year": "x"}) + "\n")
    db = tmp_path / "s.duckdb"
    ingest([bad], db, workers=1)
    with reader(db) as con:
        (reason,) = con.execute("SELECT reason FROM quarantine").fetchone()  # type: ignore[misc]
    assert "not valid JSON" not in reason and "publication_year" in reason


def test_a_killed_run_is_marked_interrupted_by_the_next(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    bad = tmp_path / "one.jsonl"
    bad.write_text(json.dumps(records[0]) + "\n")
    db = tmp_path / "s.duckdb"
    with writer(db) as con:  # what a run killed before it finished leaves
        con.execute(
            "INSERT INTO ingest_log (run_id, source, started_at, status) "
            "VALUES ('killed', 'files', now(), 'running')"
        )
    ingest([bad], db, workers=1)
    with reader(db) as con:
        rows = dict(con.execute("SELECT run_id, status FROM ingest_log").fetchall())
    assert rows.pop("killed") == "interrupted" and list(rows.values()) == ["done"]


def test_store_from_before_the_new_columns_is_upgraded(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    """An older store's ingested_files gets the filter of the run that read each file, and whether the file
    was read to its end; an unfiltered file read whole is then skipped as before."""
    snap = _snapshot(tmp_path / "snap", records)
    db = tmp_path / "s.duckdb"
    ingest([snap], db, workers=1)
    with writer(db) as con:
        con.execute("ALTER TABLE ingested_files DROP COLUMN institution_filter")
        con.execute("ALTER TABLE ingested_files DROP COLUMN read_to_end")
    again = ingest([snap], db, workers=1)
    assert again.read == 0 and again.reference_complete is True
