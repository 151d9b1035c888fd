"""Decompressed chunks of a gzip file: every member, bounded chunks, and all that precedes a cut."""

from __future__ import annotations

import gzip
import zlib
from itertools import pairwise
from pathlib import Path

import pytest

from cordiale.sources.chunks import gz_chunks

DATA = b"".join(b'{"id": "https://openalex.org/W%d", "n": %d}\n' % (i, i * i) for i in range(60_000))


@pytest.mark.parametrize("size", [7, 4096, 3 << 18, 1 << 24])
def test_every_member_read_in_bounded_chunks(tmp_path: Path, size: int) -> None:
    path = tmp_path / "multi.jsonl.gz"
    cuts = (0, 1_000_000, 1_000_100, 1_000_100, len(DATA))  # an empty member among them
    path.write_bytes(b"".join(gzip.compress(DATA[a:b]) for a, b in pairwise(cuts)))
    chunks = list(gz_chunks(path, size))
    assert b"".join(chunks) == DATA
    assert max(len(c) for c in chunks) <= size


@pytest.mark.parametrize("cut", [0.3, 0.5, 0.9])
def test_a_cut_stream_yields_what_precedes_the_cut(tmp_path: Path, cut: float) -> None:
    whole = gzip.compress(DATA)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: int(len(whole) * cut)])
    got: list[bytes] = []
    with pytest.raises(EOFError, match="ends before its end-of-stream marker"):
        for chunk in gz_chunks(path, 3 << 18):
            got.append(chunk)
    expected = zlib.decompressobj(wbits=31).decompress(whole[: int(len(whole) * cut)])
    # ISA-L may hold back the last byte before the cut (zlib returns it): a cut line is incomplete anyway.
    assert len(expected) - 1 <= len(b"".join(got)) <= len(expected)
    assert expected.startswith(b"".join(got)) and len(got) > 1


def test_an_empty_file_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl.gz"
    path.write_bytes(b"")
    assert list(gz_chunks(path, 1024)) == []
