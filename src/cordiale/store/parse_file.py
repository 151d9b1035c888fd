"""Step 1 of an ingest, run in worker processes: one input file → staging files, one per table (Arrow IPC,
or Parquet for the per-work tables when new works are kept as parts, ``parts.py``).

Streaming: records are decoded in batches and each batch is written out before the next is read, so
memory does not grow with the file. Nothing here touches the store.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq
from isal import isal_zlib

from cordiale.sources.chunks import gz_chunks, plain_chunks
from cordiale.sources.inputs import InputFile
from cordiale.sources.works import ParsedBatch, QuarantineRow, WorkRowBuilder, iter_lines
from cordiale.store import native_rows
from cordiale.store.schema import PER_WORK_TABLES
from cordiale.store.staging import QUARANTINE_SCHEMA, SCHEMAS, batch_tables

BATCH_RECORDS = 4000
READ_CHUNK = 1 << 24  # decompressed bytes per chunk
# The compiled parser takes smaller chunks: each is parsed while it is still in the CPU cache (a fifth less
# CPU for decompression and parse together than with READ_CHUNK).
NATIVE_READ_CHUNK = 3 << 18
# A compiled parser's batch is also cut at this many bytes of its lines, far below the 2 GB an Arrow string
# column's 32-bit offsets can address (4,000 works are about 64 MB).
NATIVE_BATCH_BYTES = 1 << 28
MAX_SAMPLES = 20
# Parts' Parquet files (store/parts.py): zstd at level 1, a little smaller than the same rows in DuckDB.
# Columns of (nearly) one value per row skip the dictionary, which would only be built and dropped; the
# long texts skip statistics no query prunes on.
PART_COMPRESSION = "zstd"
PART_NO_DICTIONARY = frozenset(
    {"id", "doi", "title", "abstract_inverted_index", "oa_url", "referenced_work_id"}
)
# Min/max statistics are kept where a filter can skip a part or a row group by them (ids, years, dates,
# types, counts, codes); names, titles and other free texts skip them (about 1% of a worker's CPU).
PART_NO_STATISTICS = frozenset(
    {
        "title",
        "abstract_inverted_index",
        "counts_by_year",
        "raw_affiliation_strings",
        "oa_url",
        "source_name",
        "author_name",
        "raw_author_name",
        "topic_name",
        "subfield_name",
        "field_name",
        "domain_name",
        "display_name",
        "funder_name",
        "award_id",
    }
)


def _part_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    names = [n for n in schema.names if not n.startswith("_")]
    return pq.ParquetWriter(
        str(path),
        schema,
        compression=PART_COMPRESSION,
        compression_level=1,
        use_dictionary=[n for n in names if n not in PART_NO_DICTIONARY],
        write_statistics=[n for n in names if n not in PART_NO_STATISTICS],
    )


_ISAL_ERROR: type[Exception] = getattr(isal_zlib, "IsalError")  # noqa: B009 (typed as a value in the stubs)


@dataclass
class ParsedFile:
    """What a worker hands back: where the staged tables are and the counts."""

    input: InputFile
    tables: dict[str, Path] = field(default_factory=dict)
    read: int = 0
    rejected: int = 0
    filtered: int = 0
    works: int = 0
    error: str | None = None  # the file could not be read as a whole
    samples: list[tuple[int, str]] = field(default_factory=list)  # first quarantined (line, reason)
    cut: tuple[int, str] | None = None  # where a truncated or corrupt file stopped being readable
    # Of the file's bytes, to know a renamed file's earlier quarantine rows. Only a file with bad records
    # is hashed: the same bytes quarantined nothing under their earlier name either, so there is nothing
    # to find (and hashing a snapshot's clean files costs ~4% of the ingest's CPU). None: not hashed.
    content_hash: str | None = None


def content_hash(path: Path) -> str:
    """BLAKE2b-128 of a file's bytes, hex: the same content under another name has the same hash."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, lambda: hashlib.blake2b(digest_size=16)).hexdigest()


class _TableWriter(Protocol):
    def write_batch(self, batch: pa.RecordBatch) -> None: ...

    def close(self) -> None: ...


class _Writers:
    """One writer per staging table: Arrow IPC streams, or for the per-work tables of an ingest that keeps
    parts (store/parts.py) Parquet files, the form they keep in the store."""

    def __init__(self, out_dir: Path, input_path: str, parts: bool = False) -> None:
        self.input_path = input_path
        out_dir.mkdir(parents=True, exist_ok=True)
        schemas = {**SCHEMAS, "quarantine": QUARANTINE_SCHEMA}
        self.paths: dict[str, Path] = {}
        self.writers: dict[str, _TableWriter] = {}
        for name, schema in schemas.items():
            if parts and name in PER_WORK_TABLES:
                self.paths[name] = out_dir / f"{name}.parquet"
                self.writers[name] = _part_writer(self.paths[name], schema)
            else:
                self.paths[name] = out_dir / f"{name}.arrow"
                self.writers[name] = pa.ipc.new_stream(str(self.paths[name]), schema)

    def write(self, batch: ParsedBatch) -> None:
        self.write_tables(batch_tables(batch, self.input_path))

    def write_tables(self, tables: dict[str, pa.RecordBatch]) -> None:
        for name, rb in tables.items():
            if rb.num_rows:
                self.writers[name].write_batch(rb)

    def close(self) -> None:
        for w in self.writers.values():
            w.close()


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a file is parsed.

    A batch allocates millions of lists and structs that hold no reference cycles (the msgspec structs
    are declared ``gc=False``), yet each allocation counts toward the collector's next pass, and those
    passes walk every live container: about a tenth of the parse's CPU on the benchmark's files.
    Reference counting still frees each batch as soon as it is written.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_file(
    item: InputFile, out_dir: Path, partial: bool, institution_filter: frozenset[str], parts: bool = False
) -> ParsedFile:
    """Parse one input file into staging files under ``out_dir`` (``parts``: the per-work tables as
    Parquet, ready to be kept as a part)."""
    with _cyclic_gc_paused():
        return _parse_file(item, out_dir, partial, institution_filter, parts)


def _parse_file(
    item: InputFile, out_dir: Path, partial: bool, institution_filter: frozenset[str], parts: bool
) -> ParsedFile:
    result = ParsedFile(item)
    builder = WorkRowBuilder(str(item.path), partial=partial, institution_filter=institution_filter)
    as_parts = parts and not partial and item.kind != "cordiale_export"
    writers = _Writers(out_dir, str(item.path), parts=as_parts)
    batch = ParsedBatch()
    module = native_rows.parser_module() if item.kind in ("jsonl", "jsonl.gz") and not partial else None
    native = module.Parser(sorted(institution_filter)) if module is not None else None

    def flush(last: bool = False) -> None:
        """Write the batch out. The compiled parser holds its institutions back until the file's ``last``
        batch, so they are staged once per file (the merge then skips ranking repeated descriptions)."""
        nonlocal batch
        if native is not None:
            _, read, filtered, works, _ = native.counts()
            result.read += read
            result.filtered += filtered
            result.works += works
            tables = native.take(institutions=last)
            writers.write_tables(native_rows.batch_tables(tables, str(item.path)))
        result.read += batch.read
        result.rejected += len(batch.quarantine)
        result.filtered += batch.filtered
        result.works += len(batch.works)
        room = MAX_SAMPLES - len(result.samples)
        result.samples.extend((q.line, q.reason) for q in batch.quarantine[: max(room, 0)])
        if batch.works or batch.institutions or batch.quarantine:  # often empty beside the compiled parser
            writers.write(batch)
        batch = ParsedBatch()

    if item.kind == "cordiale_export":  # merged straight from its Parquet tables
        writers.close()
        result.read = result.works = _export_rows(item.path)
        return result
    line_no = 0
    try:
        if item.kind == "parquet":
            for line_no, record in _parquet_records(item.path):
                builder.add_record(batch, record, line_no)
                if batch.read >= BATCH_RECORDS:
                    flush()
        else:
            size = READ_CHUNK if native is None else NATIVE_READ_CHUNK
            chunks = gz_chunks(item.path, size) if item.kind == "jsonl.gz" else plain_chunks(item.path, size)
            if native is not None:
                # The compiled parser takes whole chunks; the lines it hands back go through msgspec.
                for chunk in chunks:
                    for fallback_line, raw in native.feed(chunk):
                        builder.add_line(batch, raw, fallback_line)
                    line_no, read, _, _, batch_bytes = native.counts()
                    if read + batch.read >= BATCH_RECORDS or batch_bytes >= NATIVE_BATCH_BYTES:
                        flush()
                for fallback_line, raw in native.finish():
                    builder.add_line(batch, raw, fallback_line)
                line_no = native.counts()[0]
            else:
                for raw in iter_lines(chunks):
                    line_no += 1
                    builder.add_line(batch, raw, line_no)
                    if batch.read >= BATCH_RECORDS:
                        flush()
    except (EOFError, OSError, zlib.error, _ISAL_ERROR, pa.ArrowException) as exc:
        read_so_far = result.read + batch.read + (native.counts()[1] if native is not None else 0)
        if read_so_far == 0:  # not one record came out: the file is unreadable as a whole
            result.error = f"{item.path}: unreadable ({exc or type(exc).__name__})"
        else:
            line = line_no + 1
            what = "truncated input: ends early" if isinstance(exc, EOFError) else "corrupt input: stops"
            reason = (
                f"{what} at line {line} ({exc}); the {read_so_far} records before it were read, each "
                "stored or quarantined as usual"
            )
            batch.quarantine.append(QuarantineRow(line, None, reason, ""))
            result.cut = (line, reason)
    flush(last=True)
    writers.close()
    result.tables = writers.paths
    if result.error is None and (result.rejected or result.cut is not None):
        result.content_hash = content_hash(item.path)
    return result


def _parquet_records(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    """Rows of a Parquet file of OpenAlex-shaped works, streamed by record batch (1-based row numbers)."""
    pf = pq.ParquetFile(path)
    row = 0
    for rb in pf.iter_batches(batch_size=2000):
        for record in rb.to_pylist():
            row += 1
            yield row, record


def _export_rows(folder: Path) -> int:
    return int(pq.ParquetFile(folder / "works.parquet").metadata.num_rows)


# ---- the parse workers' entry points (this module, not the ingest's: a worker imports no more) --------


@dataclass(frozen=True)
class ParseOptions:
    partial: bool
    institution_filter: frozenset[str]
    keep_parts: bool


def parse_one(item: InputFile, out_dir: Path, opts: ParseOptions) -> ParsedFile:
    """One file, as a parse worker (or the ingest's thread) runs it."""
    return parse_file(item, out_dir, opts.partial, opts.institution_filter, parts=opts.keep_parts)


def yield_cpu_to_merge() -> None:
    """Parse workers run at a lower priority: the merge (one process, the pipeline's narrow end) gets a
    whole core when it needs one, the workers share what is left."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(5)
