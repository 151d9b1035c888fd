"""An input file read as decompressed chunks: a file cut short still yields what precedes the cut."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from isal import isal_zlib


def gz_chunks(path: Path, read_size: int) -> Iterator[bytes]:
    """Decompressed data of a (possibly multi-member) gzip file, ``read_size`` compressed bytes at a time;
    EOFError after the last data when the stream is cut before its end-of-stream marker."""
    d = isal_zlib.decompressobj(wbits=31)
    fed = False  # whether the current member has been given any input
    with path.open("rb") as fh:
        while raw := fh.read(read_size):
            while raw:
                fed = True
                yield d.decompress(raw)
                if not d.eof:
                    break
                raw = d.unused_data
                d = isal_zlib.decompressobj(wbits=31)
                fed = False
    if fed and not d.eof:
        yield d.flush()
        raise EOFError("the gzip stream ends before its end-of-stream marker")


def plain_chunks(path: Path, read_size: int) -> Iterator[bytes]:
    """An uncompressed file, ``read_size`` bytes at a time."""
    with path.open("rb") as fh:
        while chunk := fh.read(read_size):
            yield chunk
