"""JSON Lines read as views into the decompressed chunks: the same lines, numbers and rows as a split."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from cordiale.sources.works import ParsedBatch, WorkRowBuilder, iter_lines
from cordiale.store import parse_file as pf
from cordiale.store.connection import reader
from cordiale.store.ingest import ingest
from cordiale.store.staging import batch_tables
from tests.conftest import raw_records
from tests.shared_data import shared_path


def _cut(data: bytes, rng: random.Random) -> list[bytes]:
    """``data`` in chunks of random sizes (empty ones included)."""
    chunks, i = [], 0
    while i < len(data):
        n = rng.choice([0, 1, 2, 7, 64, 1000])
        chunks.append(data[i : i + n])
        i += n
    return chunks


@pytest.mark.parametrize("seed", range(8))
def test_iter_lines_matches_a_plain_split(seed: int) -> None:
    rng = random.Random(seed)
    lines = [b"", b"  ", b"{}", b'{"a": "x\\ny"}', b"\r", b"abc" * rng.randint(1, 400)] * 5
    rng.shuffle(lines)
    data = b"\n".join(lines) + (b"\n" if seed % 2 else b"")
    got = [bytes(v) for v in iter_lines(_cut(data, rng))]
    expected = data.split(b"\n")
    if expected[-1] == b"":  # a final newline ends the last line; it opens no new one
        expected.pop()
    assert got == expected


def test_blank_bad_and_straddling_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blank lines are no records; a bad line is quarantined with its number and whole text; records that
    straddle read chunks are stored as they are."""
    records = list(raw_records(shared_path("openalex", "works-fixtures-2025.jsonl.gz")))[:30]
    text = [json.dumps(r) for r in records]
    text.insert(3, "")
    text.insert(7, "   \t")
    text.insert(11, '{"id": "https://openalex.org/W1", "publication_year": "x"}')
    text.insert(15, "{not json")
    text[20] += "\r"  # a CRLF line
    path = tmp_path / "works.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(text) + "\n").encode()))
    monkeypatch.setattr(pf, "READ_CHUNK", 997)  # many chunks, records cut across them
    db = tmp_path / "store.duckdb"
    summary = ingest([path], db, workers=1)
    assert (summary.read, summary.stored, summary.rejected) == (32, 30, 2)
    with reader(db) as con:
        rows = con.execute("SELECT line, reason, raw FROM quarantine ORDER BY line").fetchall()
        assert [r[0] for r in rows] == [12, 16]
        assert "publication_year" in rows[0][1] and rows[1][2] == "{not json"
        assert con.execute("SELECT count(*) FROM works").fetchone() == (30,)


def test_views_and_bytes_build_the_same_tables() -> None:
    """A record decoded from a view into its chunk gives the same staging rows as from its own bytes."""
    path = shared_path("openalex", "works-fixtures-2025.jsonl.gz")
    raws = [json.dumps(r).encode() for r in raw_records(path)]
    builder = WorkRowBuilder("x.jsonl")
    from_bytes, from_views = ParsedBatch(), ParsedBatch()
    for i, raw in enumerate(raws, 1):
        builder.add_line(from_bytes, raw, i)
    for i, view in enumerate(iter_lines([b"\n".join(raws)]), 1):
        builder.add_line(from_views, view, i)
    a, b = batch_tables(from_bytes, "x.jsonl"), batch_tables(from_views, "x.jsonl")
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].equals(b[name]), name
    assert a["works"].num_rows == len(raws)
