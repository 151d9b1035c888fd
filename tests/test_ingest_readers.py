"""Readers during a long ingest: a reader waits for one file's merge at most, never for a file's parse."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.reader_wait import measure, resampled_works_file

from cordiale.errors import StoreError
from cordiale.store.connection import WriterSession, reader, writer
from cordiale.store.ingest import ingest
from tests.test_ingest import _split, snapshot

# Enough works that parsing the file takes seconds on any machine; few enough that the test stays well
# under 20 s on two cores.
LARGE_WORKS = 14_000


@pytest.fixture(scope="module")
def large_file(tmp_path_factory: pytest.TempPathFactory, kfupm: Path) -> Path:
    return resampled_works_file(
        tmp_path_factory.mktemp("large") / "large.jsonl.gz", LARGE_WORKS, source=kfupm
    )


@pytest.mark.parametrize(
    ("institutions", "bound"),
    [
        # Every work stored: the merge, commit and checkpoint (which a reader may have to wait for) are
        # about a quarter of the ingest; waiting for the parse as well took about 0.6 of it.
        ((), 0.5),
        # A filtered read (a partner's works out of a large file): the merge is small, the parse is
        # everything. A reader waits for about a tenth of the ingest; waiting for the parse, 0.75 of it.
        (("I60342839",), 1 / 4),
    ],
    ids=["all-works", "filtered"],
)
def test_readers_wait_for_a_merge_not_for_a_large_files_parse(
    tmp_path: Path,
    kfupm: Path,
    large_file: Path,
    institutions: tuple[str, ...],
    bound: float,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The msgspec parser: the writer's lock is the same for both, and only a parse long beside the merge
    # tells a reader kept out for the parse from one kept out for the merge (bench/reader_wait.py).
    monkeypatch.setenv("CORDIALE_NATIVE", "0")
    db = tmp_path / "s.duckdb"
    ingest([resampled_works_file(tmp_path / "small.jsonl.gz", 100, first=LARGE_WORKS, source=kfupm)], db)
    ingest_seconds, reads = measure(db, [large_file], institutions)
    longest = max(waited for waited, _ in reads)
    print(f"ingest {ingest_seconds:.2f} s; reader's longest wait {longest:.3f} s over {len(reads)} reads")
    assert longest < ingest_seconds * bound, (longest, ingest_seconds)
    with reader(db) as con:
        [(total,)] = con.execute("SELECT count(*) FROM works").fetchall()
        [(read, stored)] = con.execute(
            "SELECT records_read, records_stored FROM ingested_files WHERE input_path = ?", [str(large_file)]
        ).fetchall()
    assert read == LARGE_WORKS and stored > 0 and total == 100 + stored
    counts = [n for _, n in reads]
    assert counts == sorted(counts)  # committed states only
    assert set(counts) == {100, total}  # the one file is atomic: all of it or none
    assert counts[-1] == total  # and the last committed state is seen


def test_a_store_built_while_readers_come_and_go_is_the_same(tmp_path: Path, kfupm: Path) -> None:
    """Parallel parse workers, small commit groups, a reader in a loop (so the writer releases the store
    and takes it back many times): the store is the one built without readers, and the reader only ever
    saw committed states."""
    files = _split(kfupm, tmp_path, 6)
    clean = tmp_path / "clean.duckdb"
    ingest(files, clean, workers=2)
    db = tmp_path / "s.duckdb"
    ingest(files[:1], db, workers=1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CORDIALE_COMMIT_WORKS", "1000")  # about one file a transaction
        _, reads = measure(db, files, workers=2)
    assert snapshot(db) == snapshot(clean)
    counts = [n for _, n in reads]
    assert counts == sorted(counts) and counts[-1] == 5804


def test_a_released_session_lets_readers_in_and_keeps_other_writers_out(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    session = WriterSession(db)
    try:
        session.release()  # what the ingest does while a file is parsed and a reader waits
        assert session.released
        with reader(db, wait=0) as con:  # at once
            assert con.execute("SELECT count(*) FROM works").fetchall() == [(0,)]
        with pytest.raises(StoreError, match="writer session holds the store"), writer(db, wait=0.3):
            pass
        assert session.con.execute("SELECT count(*) FROM works").fetchall() == [(0,)]  # taken back
        assert not session.released
    finally:
        session.close()
    with writer(db, wait=0) as con:  # free once the session has ended
        con.execute("SELECT 1")
