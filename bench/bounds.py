"""Bounds of other ingest designs: the least CPU each would spend on the same files, measured in one process.

The floor ratio gate (``floor(needed) / ingest CPU >= 0.5``) asks whether an ingest could do its whole job
for twice the cost of decoding the needed fields. Each level below does only part of an ingest's job: no
version comparison, no merge into existing rows, no quarantine, no commit. Its CPU is therefore a lower
bound for any ingest built that way, and ``floor(needed) / level CPU`` the best floor ratio it could reach.

- ``python-rows``: ISA-L + msgspec decode of every kept field + cordiale's own staging rows
  (``cordiale.store.staging.batch_tables``, Arrow record batches), written nowhere. What cordiale builds
  in Python before its store takes over.
- ``python-rows+parquet``: the same rows written as Parquet files (pyarrow, snappy): the cheapest store
  for rows built in Python.
- ``arrow-convert+parquet``: the decoded records handed whole to pyarrow's C++ converter
  (``msgspec.to_builtins`` then ``pa.array`` of one nested struct column, typed from the decoder's
  structs) and written as one nested Parquet table, not even split into the store's tables.
- ``duckdb-json+parquet``: no Python per record at all: ISA-L decompression (streamed, as in the gunzip
  floor; the uncompressed copies DuckDB reads are written before the timed part), then DuckDB's own JSON
  reader (one thread) parses every kept field with an explicit schema (typed from the
  same structs), and DuckDB writes the works, authorships, authorship-institution, topic and reference
  tables as Parquet (snappy).
- ``native-parse``: what a compiled decoder would spend: ISA-L decompression (streamed, as above), then
  ``native_parse.cpp`` (simdjson's on-demand parser, from Debian's ``libsimdjson-dev``, built here with
  g++) visits every value under every kept key; its own CPU for the parse alone is added. Nothing is built
  or stored: add the cost of writing rows (``python-rows+parquet`` minus ``python-rows``) for a native
  ingest's bound. Skipped, with the reason, when the probe cannot be built.

Usage: ``python bench/bounds.py --level duckdb-json+parquet FILE...`` prints one JSON object (CPU seconds
of the timed loop, works, and the Parquet bytes written), like ``floor.py``.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi
import pyarrow as pa
import pyarrow.parquet as pq
from isal import igzip

from cordiale.sources.chunks import gz_chunks
from cordiale.sources.works import ParsedBatch, Work, WorkRowBuilder, iter_lines
from cordiale.store.parse_file import BATCH_RECORDS, READ_CHUNK
from cordiale.store.staging import SCHEMAS, batch_tables
from floor import cpu_since

Level = tuple[int, float]  # works read, CPU seconds spent in child processes (added to the level's own)

# --- the decoder's structs as Arrow and DuckDB types -----------------------------------------------


def _strip_none(t: mi.Type) -> mi.Type:
    if isinstance(t, mi.UnionType):
        rest = [x for x in t.types if not isinstance(x, mi.NoneType)]
        if len(rest) == 1:
            return rest[0]
    return t


def arrow_type(t: mi.Type) -> pa.DataType:
    """The Arrow type of a msgspec field type (optional fields are nullable; raw JSON is a string)."""
    t = _strip_none(t)
    if isinstance(t, mi.StructType):
        return pa.struct([(f.encode_name, arrow_type(f.type)) for f in t.fields])
    if isinstance(t, mi.ListType):
        return pa.list_(arrow_type(t.item_type))
    simple: dict[type[mi.Type], pa.DataType] = {
        mi.StrType: pa.string(),
        mi.RawType: pa.string(),
        mi.IntType: pa.int64(),
        mi.FloatType: pa.float64(),
        mi.BoolType: pa.bool_(),
    }
    return simple[type(t)]


def duckdb_type(t: mi.Type) -> str:
    """The DuckDB type of a msgspec field type; raw JSON stays JSON text."""
    t = _strip_none(t)
    if isinstance(t, mi.StructType):
        return "STRUCT(" + ", ".join(f'"{f.encode_name}" {duckdb_type(f.type)}' for f in t.fields) + ")"
    if isinstance(t, mi.ListType):
        return duckdb_type(t.item_type) + "[]"
    simple: dict[type[mi.Type], str] = {
        mi.StrType: "VARCHAR",
        mi.RawType: "JSON",
        mi.IntType: "BIGINT",
        mi.FloatType: "DOUBLE",
        mi.BoolType: "BOOLEAN",
    }
    return simple[type(t)]


def _work_info() -> mi.StructType:
    info = mi.type_info(Work)
    assert isinstance(info, mi.StructType)
    return info


# --- the levels -------------------------------------------------------------------------------------


def _batches(files: Sequence[Path]) -> Iterator[tuple[str, ParsedBatch]]:
    """Decoded batches of every file, as the ingest's parse step makes them."""
    for path in files:
        builder = WorkRowBuilder(str(path))
        batch = ParsedBatch()
        for line, raw in enumerate(iter_lines(gz_chunks(path, READ_CHUNK)), start=1):
            builder.add_line(batch, raw, line)
            if batch.read >= BATCH_RECORDS:
                yield str(path), batch
                batch = ParsedBatch()
        yield str(path), batch


def python_rows(files: Sequence[Path], out: Path, write: bool) -> Level:
    writers = (
        {n: pq.ParquetWriter(out / f"{n}.parquet", s, compression="snappy") for n, s in SCHEMAS.items()}
        if write
        else {}
    )
    works = 0
    try:
        for path, batch in _batches(files):
            works += len(batch.works)
            for name, rb in batch_tables(batch, path).items():
                if name in writers and rb.num_rows:
                    writers[name].write_batch(rb)
    finally:
        for w in writers.values():
            w.close()
    return works, 0.0


def arrow_convert(files: Sequence[Path], out: Path) -> Level:
    work_type = arrow_type(_work_info())
    schema = pa.schema([("work", work_type)])
    works = 0

    def raw_text(value: Any) -> str:
        if isinstance(value, msgspec.Raw):
            return bytes(value).decode()
        raise TypeError(type(value))

    with pq.ParquetWriter(out / "works.parquet", schema, compression="snappy") as writer:
        for _, batch in _batches(files):
            works += len(batch.works)
            plain = msgspec.to_builtins(batch.works, enc_hook=raw_text)
            writer.write_batch(pa.record_batch([pa.array(plain, type=work_type)], schema=schema))
    return works, 0.0


# The store's per-work tables, in DuckDB SQL over the parsed works ``w``.
DUCKDB_TABLES: dict[str, str] = {
    "works": """
        SELECT id, doi, coalesce(title, display_name) AS title, abstract_inverted_index::VARCHAR AS abstract,
               language, type, publication_year, publication_date, updated_date, created_date, is_retracted,
               is_paratext, is_authors_truncated, len(authorships) AS authors_count, cited_by_count,
               counts_by_year, fwci, citation_normalized_percentile.value AS citation_normalized_percentile,
               citation_normalized_percentile.is_in_top_1_percent AS is_in_top_1_percent,
               citation_normalized_percentile.is_in_top_10_percent AS is_in_top_10_percent,
               open_access.is_oa, open_access.oa_status, open_access.oa_url,
               coalesce(primary_location.source.id, host_venue.id) AS source_id,
               coalesce(primary_location.source.display_name, host_venue.display_name) AS source_name,
               coalesce(primary_location.source.type, host_venue.type) AS source_type,
               coalesce(primary_location.source.issn_l, host_venue.issn_l) AS source_issn_l,
               primary_topic.id AS primary_topic_id
        FROM w""",
    "authorships": """
        SELECT work_id, position, a.author_position, a.author.id AS author_id,
               a.author.display_name AS author_name, a.author.orcid AS author_orcid,
               a.raw_author_name, a.is_corresponding,
               a.raw_affiliation_strings, a.countries, len(a.institutions) AS institutions_count
        FROM (SELECT id AS work_id, unnest(generate_series(1, len(authorships))) AS position,
                     unnest(authorships) AS a FROM w)""",
    "authorship_institutions": """
        SELECT work_id, position, unnest(a.institutions).id AS institution_id
        FROM (SELECT id AS work_id, unnest(generate_series(1, len(authorships))) AS position,
                     unnest(authorships) AS a FROM w)""",
    "work_topics": """
        SELECT work_id, t.id AS topic_id, t.display_name AS topic_name, t.score, t.subfield.id AS subfield_id,
               t.subfield.display_name AS subfield_name, t.field.id AS field_id,
               t.field.display_name AS field_name, t.domain.id AS domain_id,
               t.domain.display_name AS domain_name
        FROM (SELECT id AS work_id, unnest(topics) AS t FROM w)""",
    "work_sdgs": "SELECT id AS work_id, unnest(sustainable_development_goals, recursive := true) FROM w",
    "referenced_works": "SELECT id AS work_id, unnest(referenced_works) AS referenced_work_id FROM w",
}


def duckdb_json(files: Sequence[Path], out: Path) -> Level:
    import duckdb

    columns = (
        "{" + ", ".join(f"'{f.encode_name}': '{duckdb_type(f.type)}'" for f in _work_info().fields) + "}"
    )
    _gunzip(files)
    plain = out / "plain"
    con = duckdb.connect()
    con.execute("SET threads = 1")
    con.execute("SET preserve_insertion_order = false")
    con.execute(
        "CREATE TEMP TABLE w AS SELECT * FROM read_json(?, format = 'newline_delimited', "
        f"columns = {columns}, maximum_object_size = 1000000000)",
        [str(plain / "*.jsonl")],
    )
    works = int(con.execute("SELECT count(*) FROM w").fetchall()[0][0])
    for name, sql in DUCKDB_TABLES.items():
        con.execute(f"COPY ({sql}) TO '{out / name}.parquet' (FORMAT parquet, COMPRESSION snappy)")
    con.close()
    return works, 0.0


NATIVE_SOURCE = Path(__file__).resolve().parent / "native_parse.cpp"
NATIVE_BINARY = Path(__file__).resolve().parent / "out" / "native_parse"


class ProbeUnavailable(RuntimeError):
    """The native probe cannot be built here (no g++ or no simdjson headers)."""


def native_probe() -> Path:
    """The built probe, rebuilt when its source is newer; ProbeUnavailable with the compiler's words."""
    newest = max(NATIVE_SOURCE.stat().st_mtime, Path(__file__).stat().st_mtime)  # source or flags
    if NATIVE_BINARY.is_file() and NATIVE_BINARY.stat().st_mtime >= newest:
        return NATIVE_BINARY
    NATIVE_BINARY.parent.mkdir(parents=True, exist_ok=True)
    # -march=native: simdjson's on-demand parser compiles its SIMD kernels for the CPU it is built for
    # (without it, the scalar fallback kernel).
    cmd = ["g++", "-O2", "-march=native", "-std=c++17", str(NATIVE_SOURCE), "-lsimdjson"]
    cmd += ["-o", str(NATIVE_BINARY)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise ProbeUnavailable(f"no compiler: {exc}") from exc
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["failed"])[0]
        raise ProbeUnavailable(
            f"g++ could not build {NATIVE_SOURCE.name} (libsimdjson-dev installed?): {first}"
        )
    return NATIVE_BINARY


def native_parse(files: Sequence[Path], out: Path) -> Level:
    """ISA-L decompression (streamed, discarded), then the probe's parse of the plain copies (its own CPU
    for the parse alone, added by ``run``)."""
    probe = native_probe()
    _gunzip(files)
    plain = sorted((out / "plain").iterdir())
    keys = ",".join(f.encode_name for f in _work_info().fields)
    done = subprocess.run([str(probe), keys, *map(str, plain)], capture_output=True, text=True, check=True)
    res = json.loads(done.stdout)
    return int(res["records"]), float(res["cpu_s"])


def _plain_copies(files: Sequence[Path], out: Path) -> None:
    """Uncompressed copies of the files under ``out/plain`` (made before the timed part: writing them is
    no part of any design; ``_gunzip`` counts the decompression instead)."""
    plain = out / "plain"
    plain.mkdir()
    for i, path in enumerate(files):
        with igzip.open(path, "rb") as src, (plain / f"{i:05d}.jsonl").open("wb") as dst:  # type: ignore[no-untyped-call]
            shutil.copyfileobj(src, dst, 1 << 22)


def _gunzip(files: Sequence[Path]) -> None:
    """ISA-L decompression of every file, streamed and discarded, as the gunzip floor does it."""
    for path in files:
        with igzip.open(path, "rb") as fh:  # type: ignore[no-untyped-call]
            while fh.read(1 << 20):
                pass


PLAIN_LEVELS = ("duckdb-json+parquet", "native-parse")  # they read uncompressed copies
LEVELS: dict[str, Callable[[Sequence[Path], Path], Level]] = {
    "python-rows": lambda files, out: python_rows(files, out, write=False),
    "python-rows+parquet": lambda files, out: python_rows(files, out, write=True),
    "arrow-convert+parquet": arrow_convert,
    "duckdb-json+parquet": duckdb_json,
    "native-parse": native_parse,
}


def run(level: str, files: Sequence[Path], tmp_dir: Path | None = None) -> dict[str, Any]:
    """Run one level over the files; CPU seconds of this process (all its threads) for the level alone."""
    if level == "native-parse":
        try:
            native_probe()  # built before the timed part
        except ProbeUnavailable as exc:
            return {"level": level, "skipped": str(exc), "works": 0}
    with tempfile.TemporaryDirectory(prefix="bound-", dir=tmp_dir) as tmp:
        if level in PLAIN_LEVELS:
            _plain_copies(files, Path(tmp))
        gc.disable()  # as the ingest's parse step does (store/parse_file.py)
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        w0 = time.perf_counter()
        works, child_cpu = LEVELS[level](files, Path(tmp))
        cpu = cpu_since(r0, w0)
        gc.enable()
        written = sum(p.stat().st_size for p in Path(tmp).glob("*.parquet"))
    # the probe's parse runs in a child process: its own figure for the parse is added
    cpu = {**cpu, "user_s": cpu["user_s"] + child_cpu, "cpu_s": cpu["cpu_s"] + child_cpu}
    return {"level": level, "works": works, "parquet_bytes": written, **cpu}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--level", choices=sorted(LEVELS), required=True)
    parser.add_argument(
        "--tmp", type=Path, default=None, help="where the level writes (default: system temp)"
    )
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.level, args.files, args.tmp)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
