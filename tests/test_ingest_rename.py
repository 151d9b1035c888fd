"""A renamed works file read again: its bad records are counted once, the rest of the store is unchanged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from cordiale.store.connection import reader
from cordiale.store.ingest import ingest
from cordiale.store.schema import WORK_CHILD_TABLES
from tests.conftest import raw_records

DATA_TABLES = ("works", *WORK_CHILD_TABLES, "institutions", "merged_ids")


def _file_with_bad_records(path: Path, kfupm: Path) -> Path:
    """60 real works and three records that cannot be stored (not JSON, no id, a year that is text)."""
    records = [r for _, r in zip(range(60), raw_records(kfupm), strict=False)]
    no_id = {k: v for k, v in records[1].items() if k != "id"}
    text_year = {**records[2], "publication_year": "twenty twenty"}
    lines = [json.dumps(r) for r in records]
    lines[10:10] = ['{"id": "https://openalex.org/W1", "title": ', json.dumps(no_id), json.dumps(text_year)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _data(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the data tables, without the columns naming the input file (provenance)."""
    out = {}
    with reader(db) as con:
        for table in DATA_TABLES:
            cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall() if "input_path" not in r[0]]
            out[table] = con.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY ALL").fetchall()
    return out


def _quarantine(db: Path) -> list[tuple[Any, ...]]:
    with reader(db) as con:
        sql = "SELECT input_path, line, record_id, reason FROM quarantine ORDER BY ALL"
        return con.execute(sql).fetchall()


def test_a_renamed_file_keeps_one_set_of_quarantine_rows(tmp_path: Path, kfupm: Path) -> None:
    db = tmp_path / "s.duckdb"
    first = _file_with_bad_records(tmp_path / "bad.jsonl", kfupm)
    summary = ingest([first], db, workers=1)
    assert (summary.stored, summary.rejected) == (60, 3)
    before_rows, before_data = _quarantine(db), _data(db)
    assert [r[:2] for r in before_rows] == [(str(first), 11), (str(first), 12), (str(first), 13)]

    renamed = first.rename(tmp_path / "renamed.jsonl")
    again = ingest([renamed], db, workers=1)
    assert (again.stored, again.rejected) == (60, 3)  # read again under its new name
    after_rows = _quarantine(db)
    assert after_rows == [(str(renamed), *r[1:]) for r in before_rows]  # not doubled: moved to the new name
    assert _data(db) == before_data
    with reader(db) as con:
        assert con.execute("SELECT DISTINCT input_path FROM works").fetchall() == [(str(renamed),)]


def test_a_copy_still_on_disk_is_another_input(tmp_path: Path, kfupm: Path) -> None:
    """Only a path that is gone hands its rows over: two files on disk are two inputs, each with its rows."""
    db = tmp_path / "s.duckdb"
    first = _file_with_bad_records(tmp_path / "bad.jsonl", kfupm)
    ingest([first], db, workers=1)
    before_data = _data(db)
    copy = shutil.copy(first, tmp_path / "copy.jsonl")
    ingest([copy], db, workers=1)
    paths = [r[0] for r in _quarantine(db)]
    assert paths == [str(first)] * 3 + [str(copy)] * 3
    assert _data(db) == before_data


def test_only_files_with_bad_records_are_hashed(tmp_path: Path, kfupm: Path) -> None:
    """A clean file has no quarantine rows to hand over, so its bytes are not hashed (NULL); a file with bad
    records is (the fingerprint a later rename is matched by)."""
    db = tmp_path / "s.duckdb"
    bad = _file_with_bad_records(tmp_path / "bad.jsonl", kfupm)
    clean = tmp_path / "clean.jsonl"
    clean.write_text(
        "".join(json.dumps(r) + "\n" for _, r in zip(range(20), raw_records(kfupm), strict=False))
    )
    ingest([bad, clean], db, workers=1)
    with reader(db) as con:
        hashes = dict(con.execute("SELECT input_path, content_hash FROM ingested_files").fetchall())
    assert hashes[str(clean)] is None
    assert hashes[str(bad)] is not None and len(hashes[str(bad)]) == 32
