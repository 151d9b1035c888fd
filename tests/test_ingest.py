"""Ingest: every record stored or quarantined, idempotent, order-independent, crash-safe, incremental."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cordiale.cli.main import app
from cordiale.errors import StoreError
from cordiale.store.connection import WriterSession, asked_dir, reader, writer
from cordiale.store.ingest import ingest
from cordiale.store.parts import copy_store
from cordiale.store.schema import WORK_CHILD_TABLES
from tests.conftest import raw_records

DATA_TABLES = ("works", *WORK_CHILD_TABLES, "institutions", "quarantine", "merged_ids")
runner = CliRunner()
CLI = [sys.executable, "-m", "cordiale.cli.main"]


def snapshot(db: Path, tables: tuple[str, ...] = DATA_TABLES) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the data tables, sorted (provenance paths included)."""
    with reader(db) as con:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}


def write_jsonl(path: Path, records: list[dict[str, Any]], gz: bool = False) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in records)
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def _nonblank_lines(path: Path) -> int:
    """The input's record lines, counted on the decompressed bytes (independently of any JSON parsing)."""
    return sum(1 for line in gzip.decompress(path.read_bytes()).splitlines() if line.strip())


def test_every_fixture_record_stored_or_quarantined(tmp_path: Path, fixtures_2025: Path) -> None:
    """Exact: stored + quarantined equals the file's record lines. None is quarantined because every line
    is a well-formed work with an id (checked on the raw JSON), and each is stored as that work."""
    lines = _nonblank_lines(fixtures_2025)
    records = list(raw_records(fixtures_2025))
    assert len(records) == lines == 340
    # the right reason for an empty quarantine: every record is a work with a W id, its year an integer
    assert all(r["id"].rsplit("/", 1)[-1].startswith("W") for r in records)
    assert all(isinstance(r.get("publication_year"), int | None) for r in records)
    raw_years = {r["id"].rsplit("/", 1)[-1]: r.get("publication_year") for r in records}
    db = tmp_path / "s.duckdb"
    summary = ingest([fixtures_2025], db)
    with reader(db) as con:
        stored = dict(con.execute("SELECT id, publication_year FROM works").fetchall())
        quarantined = con.execute("SELECT record_id, reason FROM quarantine").fetchall()
    assert summary.read == lines
    assert len(stored) + len(quarantined) == lines
    assert quarantined == [] and summary.rejected == 0
    assert stored == raw_years  # every line stored as its own work (the ids are unique in the file)
    # the same file with two bad lines appended: still exact, the bad ones quarantined with a reason
    bad = tmp_path / "with-bad.jsonl.gz"
    broken = json.dumps(dict(records[0], id="https://openalex.org/W1", publication_year="soon"))
    text = gzip.decompress(fixtures_2025.read_bytes()).rstrip(b"\n")
    bad.write_bytes(gzip.compress(text + f"\n{broken}\n{{oops\n".encode()))
    assert _nonblank_lines(bad) == lines + 2
    summary = ingest([bad], tmp_path / "b.duckdb")
    with reader(tmp_path / "b.duckdb") as con:
        n_stored = con.execute("SELECT count(*) FROM works").fetchone()[0]  # type: ignore[index]
        quarantined = con.execute("SELECT line, reason FROM quarantine ORDER BY line").fetchall()
    assert summary.read == lines + 2 and n_stored + len(quarantined) == lines + 2
    assert [q[0] for q in quarantined] == [lines + 1, lines + 2]
    assert all(reason and reason.strip() for _, reason in quarantined)
    assert "publication_year" in quarantined[0][1]


def test_fields_kept_from_real_records(kfupm_store: Path) -> None:
    with reader(kfupm_store) as con:
        row = con.execute(
            """SELECT title, doi, type, publication_year, abstract_inverted_index, fwci, oa_status,
                      source_id, primary_topic_id, cited_by_count, len(counts_by_year), updated_date
               FROM works WHERE id = 'W4400255569'"""
        ).fetchone()
        assert row is not None
        assert row[2] == "article" and row[3] == 2024
        assert json.loads(row[4])  # the inverted index is kept as raw JSON
        assert row[7].startswith("S") and row[8].startswith("T")
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in DATA_TABLES}  # type: ignore[index]
    assert counts["works"] == 5804
    with reader(kfupm_store) as con:
        for table, col in (
            ("referenced_works", "referenced_work_id"),
            ("authorships", "author_id"),
            ("authorship_institutions", "institution_id"),
            ("work_topics", "topic_id"),
        ):
            long_ids = con.execute(f"SELECT count(*) FROM {table} WHERE {col} LIKE 'http%'").fetchone()[0]  # type: ignore[index]
            assert long_ids == 0, table  # ids are stored short
    for table in (
        "authorships",
        "authorship_institutions",
        "work_topics",
        "work_sdgs",
        "referenced_works",
        "work_funding",
        "institutions",
    ):
        assert counts[table] > 0, table


def test_abstracts_stored_with_zstd(kfupm_rows_store: Path) -> None:
    """The abstracts' column is compressed with zstd (README, "Data model and engine"); DuckDB versions
    that accept the syntax but cannot use it for strings would leave it uncompressed. (In parts, the
    Parquet column is zstd too: tests/test_store_parts.py.)"""
    with reader(kfupm_rows_store) as con:
        kinds = {
            r[0]
            for r in con.execute(
                "SELECT DISTINCT compression FROM pragma_storage_info('works') "
                "WHERE column_name = 'abstract_inverted_index' AND segment_type = 'VARCHAR'"
            ).fetchall()
        }
    assert kinds == {"ZSTD"}


def test_idempotent_second_run_changes_nothing(tmp_path: Path, kfupm: Path, fixtures_2025: Path) -> None:
    db = tmp_path / "s.duckdb"
    good = list(raw_records(kfupm))[:3]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps(good[0])
        + "\n{not json\n"
        + json.dumps(dict(good[1], id=None))
        + "\n"
        + json.dumps(dict(good[2], cited_by_count="many"))
        + "\n"
    )
    inputs = [kfupm, fixtures_2025, bad]
    ingest(inputs, db, workers=2)
    first = snapshot(db)
    assert len(first["quarantine"]) == 3
    ingest(inputs, db)  # skipped: unchanged files
    ingest(inputs, db, force=True)  # really re-read and merged
    assert snapshot(db) == first
    with reader(db) as con:
        assert con.execute("SELECT count(*) FROM ingest_log").fetchone()[0] == 3  # type: ignore[index]


def _variants(kfupm: Path, tmp_path: Path) -> list[Path]:
    """Three files overlapping on the same works with newer, equal and older updated_dates."""
    records = list(raw_records(kfupm))[:600]
    a = records[:400]
    newer = [
        dict(r, updated_date="2099-01-01T00:00:00", title="newer " + str(r["title"]))
        for r in records[100:200]
    ]
    tie = [dict(r, title="tie " + str(r["title"])) for r in records[300:600]]  # ties a on 300-399
    return [
        write_jsonl(tmp_path / "a.jsonl", a),
        write_jsonl(tmp_path / "b.jsonl.gz", newer, gz=True),
        write_jsonl(tmp_path / "c.jsonl", tie),
    ]


def test_order_independent(tmp_path: Path, kfupm: Path) -> None:
    files = _variants(kfupm, tmp_path)
    stores = []
    for i, order in enumerate([files, files[::-1], [files[1], files[0], files[2]]]):
        db = tmp_path / f"s{i}.duckdb"
        for f in order:
            ingest([f], db, workers=1)
        stores.append(snapshot(db))
    assert stores[0] == stores[1] == stores[2]
    with reader(tmp_path / "s0.duckdb") as con:
        titles = dict(con.execute("SELECT input_path, count(*) FROM works GROUP BY ALL").fetchall())
        assert con.execute("SELECT count(*) FROM works").fetchone()[0] == 600  # type: ignore[index]
        # newer updated_date wins (b); on equal dates the later path wins (c over a)
        assert titles == {str(files[0]): 200, str(files[1]): 100, str(files[2]): 300}
        assert con.execute("SELECT count(*) FROM works WHERE title LIKE 'tie %'").fetchone()[0] == 300  # type: ignore[index]


def test_partial_record_updates_only_its_fields(tmp_path: Path, kfupm: Path) -> None:
    rec = next(r for r in raw_records(kfupm) if r["id"].endswith("W4400255569"))
    db = tmp_path / "s.duckdb"
    ingest([write_jsonl(tmp_path / "full.jsonl", [rec])], db)
    partial = {
        "id": rec["id"],
        "updated_date": "2099-01-01T00:00:00",
        "cited_by_count": 12345,
        "title": "changed",
    }
    result = runner.invoke(
        app, ["ingest", str(write_jsonl(tmp_path / "sel.jsonl", [partial])), "--db", str(db), "--partial"]
    )
    assert result.exit_code == 0, result.output
    with reader(db) as con:
        row = con.execute("SELECT title, cited_by_count, doi, type FROM works").fetchone()
        assert row == ("changed", 12345, rec["doi"], "article")
        assert con.execute("SELECT count(*) FROM authorships").fetchone()[0] == 5  # type: ignore[index]
    # a partial record without updated_date cannot be ordered: quarantined with the reason, not dropped
    undated = {"id": rec["id"], "cited_by_count": 1}
    result = runner.invoke(
        app, ["ingest", str(write_jsonl(tmp_path / "undated.jsonl", [undated])), "--db", str(db), "--partial"]
    )
    assert result.exit_code == 0, result.output
    with reader(db) as con:
        assert con.execute("SELECT cited_by_count FROM works").fetchone()[0] == 12345  # type: ignore[index]
        reason = con.execute(
            "SELECT reason FROM quarantine WHERE input_path LIKE '%undated.jsonl'"
        ).fetchone()
        assert reason is not None and "updated_date" in reason[0]


def test_partial_records_versioned_per_field_group_in_any_order(tmp_path: Path, kfupm: Path) -> None:
    """A newer partial record ingested before an older full one keeps its fields; the full one fills the
    rest; a newer full record then wins everything. Every order of the files gives the same store."""
    rec = next(r for r in raw_records(kfupm) if r["id"].endswith("W4400255569"))
    old_full = dict(rec, updated_date="2024-01-01T00:00:00", doi="https://doi.org/10.1/old")
    partial = {
        "id": rec["id"],
        "updated_date": "2025-01-01T00:00:00",
        "title": "from the partial record",
        "cited_by_count": 777,
        "authorships": rec["authorships"][:2],
    }
    new_full = dict(rec, updated_date="2026-01-01T00:00:00", title="from the newest full record")
    old = write_jsonl(tmp_path / "a-old.jsonl", [old_full])
    sel = write_jsonl(tmp_path / "b-select.jsonl", [partial])
    new = write_jsonl(tmp_path / "c-new.jsonl", [new_full])
    tables = (*DATA_TABLES, "field_versions")

    def build(name: str, order: list[Path]) -> dict[str, list[tuple[Any, ...]]]:
        db = tmp_path / f"{name}.duckdb"
        for f in order:
            ingest([f], db, workers=1, partial=f == sel)
        return snapshot(db, tables)

    two = [build("os", [old, sel]), build("so", [sel, old])]
    assert two[0] == two[1]
    with reader(tmp_path / "so.duckdb") as con:
        row = con.execute("SELECT title, cited_by_count, doi, updated_date, input_path FROM works").fetchone()
        assert row == ("from the partial record", 777, old_full["doi"], "2025-01-01T00:00:00", str(sel))
        assert con.execute("SELECT count(*) FROM authorships").fetchone()[0] == 2  # type: ignore[index]
        groups = dict(con.execute("SELECT grp, input_path FROM field_versions").fetchall())
        assert groups["title+display_name"] == groups["authorships"] == str(sel)
        assert groups["doi"] == groups["topics+primary_topic"] == str(old)
    three = [
        build(f"o{i}", order)
        for i, order in enumerate([[old, sel, new], [sel, new, old], [new, sel, old], [sel, old, new]])
    ]
    assert all(s == three[0] for s in three)
    assert three[0]["field_versions"] == []
    with reader(tmp_path / "o0.duckdb") as con:
        row = con.execute("SELECT title, doi, authors_count, cited_by_count FROM works").fetchone()
        assert row == (
            "from the newest full record",
            rec["doi"],
            len(rec["authorships"]),
            rec["cited_by_count"],
        )


def test_bad_inputs_named_and_others_kept(tmp_path: Path, kfupm: Path) -> None:
    good = list(raw_records(kfupm))[:50]
    bad_types = dict(good[1], publication_year="nineteen")
    lines = [
        json.dumps(good[0]),
        "{not json",
        json.dumps({"title": "no id"}),
        json.dumps(bad_types),
        json.dumps(good[2]),
    ]
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("\n".join(lines) + "\n")
    whole = gzip.compress("".join(json.dumps(r) + "\n" for r in good[3:50]).encode())
    truncated = tmp_path / "truncated.jsonl.gz"
    truncated.write_bytes(whole[: len(whole) * 2 // 3])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    db = tmp_path / "s.duckdb"
    result = runner.invoke(
        app, ["ingest", str(mixed), str(truncated), str(empty), str(tmp_path / "nope.jsonl"), "--db", str(db)]
    )
    assert result.exit_code == 2, result.output  # a named input is missing
    assert "nope.jsonl" in result.stderr
    with reader(db) as con:
        q = {
            (Path(p).name, line): reason
            for p, line, reason in con.execute("SELECT input_path, line, reason FROM quarantine").fetchall()
        }
        stored = con.execute("SELECT count(*) FROM works").fetchone()[0]  # type: ignore[index]
    assert "not valid JSON" in q[("mixed.jsonl", 2)]
    assert q[("mixed.jsonl", 3)] == "record without id"
    assert "publication_year" in q[("mixed.jsonl", 4)]
    assert any(name == "truncated.jsonl.gz" and "truncated" in reason for (name, _), reason in q.items())
    assert "mixed.jsonl:2" in result.stderr  # the message names file and line
    assert stored >= 2 + 10  # the good records of mixed.jsonl and those before the cut


def test_exit_codes_for_whole_inputs(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = runner.invoke(app, ["ingest", str(empty), "--db", str(db)])
    assert result.exit_code == 1  # nothing could be read
    notgz = tmp_path / "bad.jsonl.gz"
    notgz.write_text("this is not gzip")
    result = runner.invoke(app, ["ingest", str(notgz), "--db", str(db)])
    assert result.exit_code == 2 and "bad.jsonl.gz" in result.stderr
    result = runner.invoke(app, ["pair", "I1294671590", "I47508984", "--db", str(tmp_path / "none.duckdb")])
    assert result.exit_code in (4, 6)


def _split(kfupm: Path, tmp_path: Path, parts: int) -> list[Path]:
    records = list(raw_records(kfupm))
    size = len(records) // parts + 1
    return [
        write_jsonl(tmp_path / f"part_{i:02d}.jsonl", records[i * size : (i + 1) * size])
        for i in range(parts)
    ]


@pytest.mark.parametrize("part_min_works", ["1", "5000"], ids=["parts", "rows"])
def test_crash_mid_ingest_then_rerun_equals_clean_run(
    tmp_path: Path, kfupm: Path, monkeypatch: pytest.MonkeyPatch, part_min_works: str
) -> None:
    """Killed part-way, rerun: the same store as a clean run, each file kept as a part (store/parts.py) or,
    below the parts' minimum size, merged row by row."""
    monkeypatch.setenv("CORDIALE_PART_MIN_WORKS", part_min_works)
    files = _split(kfupm, tmp_path, 8)
    clean = tmp_path / "clean.duckdb"
    ingest(files, clean, workers=1)
    crashed = tmp_path / "crashed.duckdb"
    env = dict(os.environ, CORDIALE_WORKERS="1", CORDIALE_COMMIT_WORKS="1000")  # ~2 files a transaction
    proc = subprocess.Popen(
        [*CLI, "ingest", *map(str, files), "--db", str(crashed)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    committed = 0
    while time.monotonic() < deadline and committed < 2:
        time.sleep(0.05)
        if crashed.exists():
            try:
                with reader(crashed, wait=5) as con:  # the writer hands the store over between files
                    committed = con.execute("SELECT count(*) FROM ingested_files").fetchone()[0]  # type: ignore[index]
            except StoreError:
                pass
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 2 <= committed < len(files), "the kill must land part-way"
    ingest(files, crashed, workers=1)
    assert snapshot(crashed) == snapshot(clean)
    with reader(crashed) as con:
        kept = con.execute("SELECT count(*) FROM store_parts").fetchall()[0][0]
    assert kept == (len(files) if part_min_works == "1" else 0)


def test_reader_never_blocks_writer(tmp_path: Path, kfupm: Path) -> None:
    files = _split(kfupm, tmp_path, 6)
    db = tmp_path / "s.duckdb"
    ingest(files[:1], db)
    script = (
        "import sys, time, json\n"
        "from pathlib import Path\n"
        "from cordiale.store.connection import reader\n"
        "counts = []\n"
        "stop = Path(sys.argv[2])\n"
        "while True:\n"
        "    last = stop.exists()\n"
        "    with reader(Path(sys.argv[1])) as con:\n"
        "        counts.append(con.execute('SELECT count(*) FROM works').fetchone()[0])\n"
        "    if last:\n"
        "        break\n"
        "    time.sleep(0.01)\n"
        "print(json.dumps(counts))\n"
    )
    # The reader polls until the ingest has finished (a stop file), then reads once more: the test
    # holds however long the ingest takes on a loaded machine.
    stop = tmp_path / "stop"
    web = subprocess.Popen(
        [sys.executable, "-c", script, str(db), str(stop)], stdout=subprocess.PIPE, text=True
    )
    try:
        result = subprocess.run(
            [*CLI, "ingest", *map(str, files), "--db", str(db)], capture_output=True, text=True, timeout=120
        )
    finally:
        stop.touch()
    out, _ = web.communicate(timeout=60)
    assert result.returncode == 0, result.stderr
    assert web.returncode == 0
    counts = json.loads(out)
    assert len(counts) > 5  # how many fit depends on the machine; what matters is checked below
    assert counts == sorted(counts)  # readers see committed states only, never a rollback
    assert counts[-1] == 5804
    assert len(set(counts)) >= 3  # reads completed while the ingest was still running


def test_pair_answers_while_a_writer_holds_the_store(tmp_path: Path, kfupm_store: Path) -> None:
    """`cordiale pair` only reads: it gets its answer between two units of a long writer's work, and
    the partners it was asked about reach the store through the next writer."""
    db = tmp_path / "s.duckdb"
    copy_store(kfupm_store, db)
    session = WriterSession(db)  # a long ingest, between two files
    try:
        proc = subprocess.Popen(
            [*CLI, "pair", "I1294671590", "I47508984", "--db", str(db), "--format", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            session.yield_to_readers()  # what the ingest does between files
            time.sleep(0.05)
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
        assert json.loads(proc.stdout.read() if proc.stdout else "")["joint_total"] == 2
    finally:
        session.close()
    with writer(db) as con:  # recorded at once, or folded in by the next writer
        rows = con.execute("SELECT institution_id FROM asked_institutions ORDER BY ALL").fetchall()
    assert rows == [("I1294671590",), ("I47508984",)]
    assert not asked_dir(db).exists()


def test_asking_never_waits_for_a_busy_store(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    session = WriterSession(db)
    try:
        script = "import sys; from pathlib import Path; from cordiale.store.connection import note_asked; "
        script += "note_asked(Path(sys.argv[1]), ['I1', 'I2'])"
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-c", script, str(db)], check=True, timeout=60)
        assert time.monotonic() - t0 < 10  # no waiting for the lock (LOCK_WAIT_SECONDS is 120)
        assert session.con.execute("SELECT count(*) FROM asked_institutions").fetchone()[0] == 0  # type: ignore[index]
        assert len(list(asked_dir(db).glob("*.tsv"))) == 1
    finally:
        session.close()
    session = WriterSession(db)  # the next writer folds the record in
    try:
        rows = session.con.execute("SELECT institution_id FROM asked_institutions ORDER BY ALL").fetchall()
    finally:
        session.close()
    assert rows == [("I1",), ("I2",)]
    assert not asked_dir(db).exists()


def _snapshot_dir(root: Path, records: list[dict[str, Any]], parts: dict[str, slice]) -> Path:
    works_dir = root / "data" / "jsonl" / "works"
    entries = []
    for name, sl in parts.items():
        date, part = name.split("/")
        folder = works_dir / f"updated_date={date}"
        folder.mkdir(parents=True, exist_ok=True)
        path = write_jsonl(folder / part, records[sl], gz=True)
        entries.append(
            {
                "url": f"s3://openalex/data/works/updated_date={date}/{part}",
                "meta": {"content_length": path.stat().st_size, "record_count": len(records[sl])},
            }
        )
    manifest = works_dir / "manifest.json"
    old = json.loads(manifest.read_text())["entries"] if manifest.exists() else []
    manifest.write_text(json.dumps({"entries": old + entries}))
    return root


def test_snapshot_2026_layout_combined_manifest_and_legacy_merged_ids(tmp_path: Path, kfupm: Path) -> None:
    """data/jsonl/ and data/parquet/ copies, one manifest for every entity, merged ids under legacy-data/."""
    records = list(raw_records(kfupm))[:200]
    root = tmp_path / "snap"
    jsonl = root / "data" / "jsonl"
    part = write_jsonl(_mkdir(jsonl / "works" / "updated_date=2026-06-24") / "part_0000.gz", records, gz=True)
    (
        _mkdir(root / "data" / "parquet" / "works" / "updated_date=2026-06-24") / "part_0000.parquet"
    ).write_bytes(b"the same data again: never read when the JSON Lines copy is there")
    entries = [
        {"url": "s3://openalex/data/jsonl/works/updated_date=2026-06-24/part_0000.gz", "meta": {}},
        {"url": "s3://openalex/data/jsonl/authors/updated_date=2026-06-24/part_0000.gz", "meta": {}},
    ]
    (jsonl / "manifest.json").write_text(json.dumps({"entries": entries}))
    gone = records[0]["id"].rsplit("/", 1)[-1]
    (_mkdir(root / "legacy-data" / "merged_ids" / "works") / "2026-06-24.csv.gz").write_bytes(
        gzip.compress(f"merge_date,id,merge_into_id\n2026-06-24,{gone},W1\n".encode())
    )
    db = tmp_path / "s.duckdb"
    summary = ingest([root], db)
    assert summary.stored == 200 and summary.rejected == 0
    with reader(db) as con:
        assert con.execute("SELECT count(*) FROM works").fetchone()[0] == 199  # type: ignore[index]
        assert con.execute("SELECT DISTINCT input_path FROM works").fetchall() == [(str(part.resolve()),)]
        # the authors entry is not a works part: the works listed are all present, so the store is complete
        assert con.execute("SELECT reference_complete FROM ingest_log").fetchone()[0] is True  # type: ignore[index]
    # a works part the manifest lists is missing (another one is there): not reference-complete
    part.rename(part.with_name("part_0001.gz"))
    assert ingest([root], tmp_path / "t.duckdb").stored == 200
    with reader(tmp_path / "t.duckdb") as con:
        assert con.execute("SELECT reference_complete FROM ingest_log").fetchone()[0] is False  # type: ignore[index]


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_snapshot_layout_incremental_and_merged_ids(tmp_path: Path, kfupm: Path) -> None:
    records = list(raw_records(kfupm))[:900]
    root = _snapshot_dir(
        tmp_path / "snap",
        records,
        {"2025-01-01/part_000.gz": slice(0, 300), "2025-01-01/part_001.gz": slice(300, 600)},
    )
    db = tmp_path / "s.duckdb"
    first = ingest([root], db)
    assert first.stored == 600 and first.skipped == 0
    _snapshot_dir(root, records, {"2025-02-01/part_000.gz": slice(600, 900)})
    merged = root / "data" / "merged_ids" / "works"
    merged.mkdir(parents=True)
    gone = records[0]["id"].rsplit("/", 1)[-1]
    (merged / "2025-02-01.csv.gz").write_bytes(
        gzip.compress(f"merge_date,id,merge_into_id\n2025-02-01,{gone},W1\n".encode())
    )
    second = ingest([root], db)
    assert second.skipped == 2  # only the new partition (and the merged ids) are read
    assert second.read == 300
    with reader(db) as con:
        assert con.execute("SELECT count(*) FROM works").fetchone()[0] == 899  # type: ignore[index]
        assert con.execute("SELECT count(*) FROM authorships WHERE work_id = ?", [gone]).fetchone()[0] == 0  # type: ignore[index]
        log = con.execute("SELECT reference_complete FROM ingest_log ORDER BY started_at").fetchall()
    assert log[-1][0] is True  # every manifest entry present and no institution filter
    # an institution filter keeps only what the partnership needs and is never reference-complete
    db2 = tmp_path / "f.duckdb"
    filtered = ingest([root], db2, institution_filter=["I1294671590"])
    assert filtered.stored < 100 and filtered.filtered > 0
    with reader(db2) as con:
        assert con.execute("SELECT reference_complete FROM ingest_log").fetchone()[0] is False  # type: ignore[index]


def _kept_by_filter(records: list[dict[str, Any]], wanted: str, lineage: bool) -> set[str]:
    """Works an institution filter keeps, from the raw JSON: any authorship institution whose id is
    ``wanted`` (or, with ``lineage``, whose lineage holds it)."""

    def short(x: str | None) -> str:
        return (x or "").rsplit("/", 1)[-1]

    kept = set()
    for r in records:
        for au in r.get("authorships") or []:
            for inst in au.get("institutions") or []:
                ids = {short(inst.get("id"))}
                if lineage:
                    ids |= {short(x) for x in inst.get("lineage") or []}
                if wanted in ids:
                    kept.add(short(r["id"]))
    return kept


def test_institution_filter_keeps_works_by_id_or_lineage(tmp_path: Path, kfupm: Path) -> None:
    """The filter keeps exactly the works with the id on an authorship institution or in its lineage: for
    CNRS (a parent whose units carry it only in their lineage) that is more than the direct-id works."""
    cnrs = "I1294671590"
    records = list(raw_records(kfupm))
    with_lineage = _kept_by_filter(records, cnrs, lineage=True)
    direct_only = _kept_by_filter(records, cnrs, lineage=False)
    assert direct_only < with_lineage  # the lineage brings works a direct-id filter would miss
    db = tmp_path / "f.duckdb"
    summary = ingest([kfupm], db, institution_filter=[cnrs])
    assert summary.stored == len(with_lineage) and summary.filtered == len(records) - len(with_lineage)
    with reader(db) as con:
        kept = {r[0] for r in con.execute("SELECT id FROM works").fetchall()}
        assert con.execute("SELECT institution_filter FROM ingest_log").fetchone()[0] == [cnrs]  # type: ignore[index]
    assert kept == with_lineage
    assert len(kept) > len(direct_only)


def test_export_parquet_and_reingest(tmp_path: Path, kfupm_store: Path) -> None:
    out = tmp_path / "export"
    result = runner.invoke(app, ["export", "--format", "parquet", str(out), "--db", str(kfupm_store)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "cordiale_export.json").read_text())
    assert manifest["tables"]["works"] == 5804
    con = duckdb.connect()
    for table, n in manifest["tables"].items():
        assert con.execute(f"SELECT count(*) FROM '{out / (table + '.parquet')}'").fetchone()[0] == n  # type: ignore[index]


def test_parquet_export_reingests_to_the_same_store(tmp_path: Path, kfupm_store: Path) -> None:
    out = tmp_path / "export"
    assert runner.invoke(app, ["export", str(out), "--db", str(kfupm_store)]).exit_code == 0
    copy = tmp_path / "copy.duckdb"
    result = runner.invoke(app, ["ingest", str(out), "--db", str(copy)])
    assert result.exit_code == 0, result.output
    assert snapshot(copy) == snapshot(kfupm_store)
    # merged with the same rules: a second import changes nothing
    ingest([out], copy, force=True)
    assert snapshot(copy) == snapshot(kfupm_store)


def test_openalex_shaped_parquet_ingests_like_its_json_lines(tmp_path: Path, kfupm: Path) -> None:
    """Works as Parquet rows, nested like the JSON (the inverted index as JSON text in one file, as an
    Arrow map in the other), store the same rows as the same works read from JSON Lines."""
    keep = ("id", "title", "type", "publication_year", "updated_date", "authorships", "cited_by_count")
    records = [
        {k: r.get(k) for k in (*keep, "abstract_inverted_index")} for r in list(raw_records(kfupm))[:60]
    ]
    assert sum(r["abstract_inverted_index"] is not None for r in records) > 20
    jsonl_db = tmp_path / "j.duckdb"
    ingest([write_jsonl(tmp_path / "w.jsonl", records)], jsonl_db)
    base = pa.Table.from_pylist([{k: r[k] for k in keep} for r in records])
    abstracts = [r["abstract_inverted_index"] for r in records]
    as_text = pa.array([json.dumps(a) if a is not None else None for a in abstracts], pa.string())
    as_map = pa.array(
        [list(a.items()) if a is not None else None for a in abstracts],
        pa.map_(pa.string(), pa.list_(pa.int32())),
    )
    query = {
        "works": "SELECT * EXCLUDE (input_path, input_line, abstract_inverted_index), "
        "json(abstract_inverted_index)::VARCHAR FROM works ORDER BY ALL",  # json(): minified
        "institutions": "SELECT * EXCLUDE (seen_input_path) FROM institutions ORDER BY ALL",
    }
    for name, column in (("text", as_text), ("map", as_map)):
        path = tmp_path / f"w-{name}.parquet"
        pq.write_table(base.append_column("abstract_inverted_index", column), path)
        db = tmp_path / f"p-{name}.duckdb"
        summary = ingest([path], db)
        assert summary.stored == 60 and summary.rejected == 0, name
        with reader(jsonl_db) as a, reader(db) as b:
            for table in ("works", "authorships", "authorship_institutions", "institutions"):
                sql = query.get(table, f"SELECT * FROM {table} ORDER BY ALL")
                assert a.execute(sql).fetchall() == b.execute(sql).fetchall(), (name, table)


def test_parse_pauses_the_cyclic_gc_and_restores_it(
    tmp_path: Path, fixtures_2025: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The collector is off while a file is parsed (its objects hold no cycles) and left as it was found,
    also when the file cannot be read. The msgspec path (the compiled parser allocates no Python objects
    per record)."""
    import gc

    monkeypatch.setenv("CORDIALE_NATIVE", "0")

    from cordiale.sources.inputs import plan_inputs
    from cordiale.store import parse_file as pf

    item = plan_inputs([fixtures_2025]).files[0]
    seen: list[bool] = []
    original = pf.WorkRowBuilder.add_line

    def spy(self: Any, batch: Any, raw: bytes, line: int) -> None:
        seen.append(gc.isenabled())
        original(self, batch, raw, line)

    pf.WorkRowBuilder.add_line = spy  # type: ignore[method-assign]
    try:
        assert gc.isenabled()
        parsed = pf.parse_file(item, tmp_path / "a", False, frozenset())
        assert gc.isenabled()
        assert parsed.read == 340 and seen and not any(seen)
        gc.disable()
        try:
            pf.parse_file(item, tmp_path / "b", False, frozenset())
            assert not gc.isenabled()
        finally:
            gc.enable()
        broken = tmp_path / "broken.jsonl.gz"
        broken.write_bytes(b"not gzip at all")
        bad = pf.parse_file(plan_inputs([broken]).files[0], tmp_path / "c", False, frozenset())
        assert bad.error and gc.isenabled()
    finally:
        pf.WorkRowBuilder.add_line = original  # type: ignore[method-assign]


def test_a_topic_listed_twice_is_stored_once_and_one_row_is_primary(tmp_path: Path, kfupm: Path) -> None:
    """A record naming its primary topic twice stored two primary rows: every class counted the work twice
    and `cordiale observe prepare` refused the store. Now one row per topic id, one primary."""
    from cordiale.observatory.reference import prepare

    records = [r for r in list(raw_records(kfupm))[:30] if r.get("topics")]
    first = records[0]
    first["topics"] = [first["topics"][0], *first["topics"]]
    db = tmp_path / "s.duckdb"
    ingest([write_jsonl(tmp_path / "dup.jsonl", records)], db)
    wid = first["id"].rsplit("/", 1)[-1]
    with reader(db) as con:
        rows = con.execute(
            "SELECT count(*), count(DISTINCT topic_id), count(*) FILTER (WHERE is_primary) "
            "FROM work_topics WHERE work_id = ?",
            [wid],
        ).fetchall()[0]
        [(twice,)] = con.execute(
            "SELECT count(*) FROM (SELECT work_id FROM work_topics WHERE is_primary "
            "GROUP BY work_id HAVING count(*) > 1)"
        ).fetchall()
    assert rows[0] == rows[1] == len(first["topics"]) - 1 and rows[2] == 1
    assert twice == 0
    assert prepare(db).built
