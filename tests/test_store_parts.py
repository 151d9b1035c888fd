"""Parts (store/parts.py): new works' rows kept as Parquet files give the same store as rows inserted into
the database, whatever comes after (newer versions, re-read files, partial records, merged ids), and
every connection but the ingest's sees them."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from cordiale.errors import StoreError, UsageError
from cordiale.store.connection import reader, writer
from cordiale.store.ingest import ingest
from cordiale.store.parts import parts_dir, parts_wanted
from cordiale.store.schema import PER_WORK_TABLES
from tests.conftest import raw_records
from tests.test_ingest import DATA_TABLES, _snapshot_dir, snapshot, write_jsonl


@pytest.fixture(autouse=True)
def _small_files_make_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests' files are small: any file of new works may become a part."""
    monkeypatch.setenv("CORDIALE_PART_MIN_WORKS", "1")


def _parts(db: Path) -> list[tuple[str, str, int]]:
    with reader(db) as con:
        return [
            tuple(r) for r in con.execute("SELECT part_id, input_path, works FROM store_parts").fetchall()
        ]  # type: ignore[misc]


def _database_rows(db: Path, table: str) -> int:
    """Rows in the database's own table (not its parts)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return int(con.execute(f"SELECT count(*) FROM main.{table}").fetchall()[0][0])
    finally:
        con.close()


def _both(files_in_order: list[list[Path]], tmp_path: Path, **kw: Any) -> tuple[Path, Path]:
    """The same ingests run with parts and without; returns (with, without)."""
    stores = []
    for keep in (True, False):
        db = tmp_path / f"{'parts' if keep else 'rows'}.duckdb"
        for files in files_in_order:
            ingest(files, db, workers=1, keep_parts=keep, **kw)
        stores.append(db)
    return stores[0], stores[1]


def test_real_works_as_parts_equal_rows_in_the_database(
    tmp_path: Path, kfupm: Path, fixtures_2025: Path
) -> None:
    with_parts, without = _both([[kfupm, fixtures_2025]], tmp_path)
    assert snapshot(with_parts) == snapshot(without)
    parts = _parts(with_parts)
    assert sorted(p[1] for p in parts) == sorted([str(kfupm.resolve()), str(fixtures_2025.resolve())])
    with reader(with_parts) as con:
        works = con.execute("SELECT count(*) FROM works").fetchall()[0][0]
    assert works == sum(p[2] for p in parts) > 5000
    # the rows live in the parts' files, not in the database
    for table in PER_WORK_TABLES:
        assert _database_rows(with_parts, table) == 0
    for part_id, _, _ in parts:
        folder = parts_dir(with_parts) / part_id
        assert sorted(f.name for f in folder.iterdir()) == sorted(f"{t}.parquet" for t in PER_WORK_TABLES)
        meta = pq.ParquetFile(folder / "works.parquet").metadata
        column = meta.schema.names.index("abstract_inverted_index")
        assert meta.row_group(0).column(column).compression == "ZSTD"


def test_newer_versions_dissolve_the_part_that_held_them(tmp_path: Path, kfupm: Path) -> None:
    records = list(raw_records(kfupm))[:300]
    a = write_jsonl(tmp_path / "a.jsonl", records[:200])
    other = write_jsonl(tmp_path / "other.jsonl", records[200:])
    newer = write_jsonl(
        tmp_path / "b.jsonl",
        [dict(r, updated_date="2099-01-01T00:00:00", title=f"newer {r['title']}") for r in records[150:160]],
    )
    with_parts, without = _both([[a, other], [newer]], tmp_path)
    assert snapshot(with_parts) == snapshot(without)
    # a's part went into the database (its works now merge row by row); the untouched part stays
    assert [p[1] for p in _parts(with_parts)] == [str(other.resolve())]
    assert _database_rows(with_parts, "works") == 200
    with reader(with_parts) as con:
        assert con.execute("SELECT count(*) FROM works WHERE title LIKE 'newer %'").fetchall()[0][0] == 10
        assert con.execute("SELECT count(*) FROM works").fetchall()[0][0] == 300
    # the dissolved part's folder stays until the next ingest starts (a reader may still read it)
    assert len(list(parts_dir(with_parts).iterdir())) == 2
    ingest([other], with_parts, workers=1)
    assert len(list(parts_dir(with_parts).iterdir())) == 1


def test_reread_partial_and_merged_ids_match_rows_in_the_database(tmp_path: Path, kfupm: Path) -> None:
    records = list(raw_records(kfupm))[:120]
    partial = write_jsonl(
        tmp_path / "partial.jsonl",
        [{"id": r["id"], "updated_date": "2099-01-01T00:00:00", "cited_by_count": 4242} for r in records[:5]],
    )
    gone = records[7]["id"].rsplit("/", 1)[-1]
    stores = []
    for keep in (True, False):
        root = _snapshot_dir(tmp_path / "snap", records, {"2025-01-01/part_000.gz": slice(0, 120)})
        part = root / "data" / "jsonl" / "works" / "updated_date=2025-01-01" / "part_000.gz"
        db = tmp_path / f"{keep}.duckdb"
        ingest([root], db, workers=1, keep_parts=keep)
        ingest([partial], db, workers=1, partial=True)
        write_jsonl(part, records[:60] + [dict(r, title="again") for r in records[60:]], gz=True)  # changed
        ingest([root], db, workers=1, keep_parts=keep)
        merged = root / "data" / "merged_ids" / "works"
        merged.mkdir(parents=True)
        (merged / "2025-02-01.csv.gz").write_bytes(
            gzip.compress(f"merge_date,id,merge_into_id\n2025-02-01,{gone},W1\n".encode())
        )
        ingest([root], db, workers=1, keep_parts=keep)
        shutil.rmtree(tmp_path / "snap")
        stores.append(db)
    assert snapshot(stores[0]) == snapshot(stores[1])
    with reader(stores[0]) as con:
        assert con.execute("SELECT count(*) FROM works WHERE cited_by_count = 4242").fetchall()[0][0] == 5
        assert con.execute("SELECT count(*) FROM works WHERE title = 'again'").fetchall()[0][0] == 60
        assert con.execute("SELECT count(*) FROM works WHERE id = ?", [gone]).fetchall()[0][0] == 0
        assert con.execute("SELECT count(*) FROM works").fetchall()[0][0] == 119
    assert _parts(stores[0]) == []  # the partial records dissolved the part; the rest merged row by row


def test_other_writers_and_readers_see_the_parts(tmp_path: Path, kfupm: Path) -> None:
    db = tmp_path / "s.duckdb"
    ingest([kfupm], db, workers=1, keep_parts=True)
    with reader(db) as con:
        expected = con.execute("SELECT count(*) FROM works").fetchall()[0][0]
    with writer(db) as con:  # e.g. the SDG scorer and the matchmaking profiles read works this way
        assert con.execute("SELECT count(*) FROM works").fetchall()[0][0] == expected > 5000
        joined = con.execute(
            "SELECT count(DISTINCT a.work_id) FROM authorships a JOIN works w ON w.id = a.work_id"
        ).fetchall()[0][0]
        assert joined > 5000


def test_an_unrecorded_folder_is_removed_and_a_missing_one_named(tmp_path: Path, kfupm: Path) -> None:
    db = tmp_path / "s.duckdb"
    records = list(raw_records(kfupm))[:50]
    ingest([write_jsonl(tmp_path / "a.jsonl", records)], db, workers=1, keep_parts=True)
    before = snapshot(db)
    crashed = parts_dir(db) / "0123456789abcdef0123456789abcdef"  # as a crash before the commit leaves it
    crashed.mkdir()
    (crashed / "works.parquet").write_bytes(b"not read")
    assert snapshot(db) == before  # not recorded: never read
    ingest([write_jsonl(tmp_path / "b.jsonl", list(raw_records(kfupm))[50:60])], db, workers=1)
    assert not crashed.exists()
    (part_id, _, _) = _parts(db)[0]
    (parts_dir(db) / part_id).rename(tmp_path / "moved")
    with pytest.raises(StoreError, match=rf"{part_id} is missing"):
        snapshot(db, DATA_TABLES)


def test_a_file_of_few_works_merges_in_the_database(
    tmp_path: Path, kfupm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORDIALE_PART_MIN_WORKS", "50")
    records = list(raw_records(kfupm))[:80]
    db = tmp_path / "s.duckdb"
    ingest([write_jsonl(tmp_path / "few.jsonl", records[:20])], db, workers=1)
    ingest([write_jsonl(tmp_path / "enough.jsonl", records[20:])], db, workers=1)
    assert [(p[1], p[2]) for p in _parts(db)] == [(str((tmp_path / "enough.jsonl").resolve()), 60)]
    assert _database_rows(db, "works") == 20
    monkeypatch.setenv("CORDIALE_PART_MIN_WORKS", "many")
    with pytest.raises(UsageError, match="CORDIALE_PART_MIN_WORKS"):
        ingest([write_jsonl(tmp_path / "more.jsonl", list(raw_records(kfupm))[80:90])], db, workers=1)


def test_parts_are_the_default_and_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CORDIALE_INGEST_PARTS", raising=False)
    assert parts_wanted() is True
    monkeypatch.setenv("CORDIALE_INGEST_PARTS", "0")
    assert parts_wanted() is False
    assert parts_wanted(True) is True
    monkeypatch.setenv("CORDIALE_INGEST_PARTS", "yes")
    assert parts_wanted() is True and parts_wanted(False) is False


def test_a_file_with_two_versions_of_a_work_merges_in_the_database(tmp_path: Path, kfupm: Path) -> None:
    records = list(raw_records(kfupm))[:30]
    twice = [*records, dict(records[3], updated_date="2099-01-01T00:00:00", title="second")]
    path = tmp_path / "twice.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in twice))
    with_parts, without = _both([[path]], tmp_path)
    assert snapshot(with_parts) == snapshot(without)
    assert _parts(with_parts) == []
    assert _database_rows(with_parts, "works") == 30
