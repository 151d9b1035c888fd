"""Readers during a long ingest: a reader waits for one file's merge at most, never for a file's parse."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest
from bench.synth import work_id
from isal import igzip

from cordiale.store.connection import reader
from cordiale.store.ingest import ingest
from tests.conftest import raw_records

# Enough works that parsing the file takes seconds on any machine (the merge into a fresh store is a
# small share of the ingest); few enough that the test stays well under 20 s on two cores.
LARGE_WORKS = 16_000

_READER = """
import json, sys, time
from pathlib import Path
from cordiale.store.connection import reader
db, stop, ready = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
reads = []  # (seconds waited for the store, works seen)
while True:
    last = stop.exists()
    t0 = time.monotonic()
    with reader(db) as con:
        waited = time.monotonic() - t0
        reads.append((waited, con.execute("SELECT count(*) FROM works").fetchone()[0]))
    ready.touch()
    if last:
        break
    time.sleep(0.01)
print(json.dumps(reads))
"""


def resampled_works_file(path: Path, source: Path, count: int, first: int = 0) -> Path:
    """A gzip JSON Lines file of ``count`` real works from ``source``, cycled and given new ids
    (``bench.synth.work_id(first + k)``): real records, each id unique, as the benchmarks resample them."""
    encoder = msgspec.json.Encoder()
    records = [(r["id"].encode(), encoder.encode(r)) for r in raw_records(source)]
    lines = []
    for k in range(count):
        old_id, line = records[k % len(records)]
        lines.append(line.replace(old_id, b"https://openalex.org/" + work_id(first + k).encode()))
        lines.append(b"\n")
    path.write_bytes(igzip.compress(b"".join(lines), compresslevel=1))
    return path


@pytest.fixture(scope="module")
def large_file(tmp_path_factory: pytest.TempPathFactory, kfupm: Path) -> Path:
    return resampled_works_file(tmp_path_factory.mktemp("large") / "large.jsonl.gz", kfupm, LARGE_WORKS)


@pytest.mark.parametrize(
    ("institutions", "bound"),
    [
        # Every work stored: the merge (which a reader may have to wait for) is about a fifth of the
        # ingest; waiting for the parse as well took about two thirds of it.
        ((), 0.45),
        # A filtered read (a partner's works out of a large file): the merge is small, the parse is
        # everything. A reader waits for a small share of the ingest; waiting for the parse, most of it.
        (("I60342839",), 1 / 4),
    ],
    ids=["all-works", "filtered"],
)
def test_readers_wait_for_a_merge_not_for_a_large_files_parse(
    tmp_path: Path, kfupm: Path, large_file: Path, institutions: tuple[str, ...], bound: float
) -> None:
    db = tmp_path / "s.duckdb"
    ingest([resampled_works_file(tmp_path / "small.jsonl.gz", kfupm, 100, first=LARGE_WORKS)], db)
    stop, ready = tmp_path / "stop", tmp_path / "ready"
    proc = subprocess.Popen(
        [sys.executable, "-c", _READER, str(db), str(stop), str(ready)], stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ready.exists(), "the reader never read the store"
        t0 = time.monotonic()
        summary = ingest([large_file], db, workers=1, institution_filter=institutions)
        ingest_seconds = time.monotonic() - t0
    finally:
        stop.touch()
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    reads = json.loads(out)
    assert summary.read == LARGE_WORKS and summary.stored > 0
    longest = max(waited for waited, _ in reads)
    print(f"ingest {ingest_seconds:.2f} s; reader's longest wait {longest:.3f} s over {len(reads)} reads")
    assert longest < ingest_seconds * bound, (longest, ingest_seconds)
    total = 100 + summary.stored
    counts = [n for _, n in reads]
    assert counts == sorted(counts)  # committed states only
    assert set(counts) == {100, total}  # the one file is atomic: all of it or none
    assert counts[-1] == total  # and the last committed state is seen
    with reader(db) as con:
        assert con.execute("SELECT count(*) FROM works").fetchall() == [(total,)]
