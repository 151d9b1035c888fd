"""An input file read as decompressed chunks: a file cut short still yields what precedes the cut."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from isal import isal_zlib

READ_SIZE = 1 << 17  # compressed bytes read at a time


def gz_chunks(path: Path, size: int) -> Iterator[bytes]:
    """Decompressed data of a (possibly multi-member) gzip file, at most ``size`` bytes at a time; EOFError
    after the last data when the stream is cut before its end-of-stream marker.

    The decompressor is asked for at most ``size`` bytes per call, so it writes each chunk into a buffer of
    that size, which becomes the chunk: left unbounded, it gathers a read's output in blocks and copies
    them into one bytes object.
    """
    d = isal_zlib.decompressobj(wbits=31)
    fed = False  # whether the current member has been given any input
    with path.open("rb") as fh:
        while raw := fh.read(READ_SIZE):
            while raw:
                fed = True
                if chunk := d.decompress(raw, size):
                    yield chunk
                if d.eof:  # the next member starts in what this one left
                    raw = d.unused_data
                    d = isal_zlib.decompressobj(wbits=31)
                    fed = False
                else:
                    raw = d.unconsumed_tail
    if fed and not d.eof:
        yield d.flush()
        raise EOFError("the gzip stream ends before its end-of-stream marker")


def plain_chunks(path: Path, read_size: int) -> Iterator[bytes]:
    """An uncompressed file, ``read_size`` bytes at a time."""
    with path.open("rb") as fh:
        while chunk := fh.read(read_size):
            yield chunk
