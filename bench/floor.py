"""The floor: the least CPU any ingest of these files can spend, measured in one process.

Three levels, each a streaming loop over the gzip JSON Lines files:

- ``gunzip``: ISA-L ``igzip`` decompression alone (1 MiB reads).
- ``needed``: decompression + a ``msgspec`` decoder of typed structs that declare exactly the fields the
  indicators need (id, publication_year, type, updated_date, cited_by_count, authorships[].author.id,
  authorships[].institutions[].{id, lineage, country_code, type}, primary_topic.{id, field.id,
  subfield.id, domain.id}, open_access.{oa_status, is_oa}); every other key is skipped by msgspec.
- ``kept``: decompression + a decoder of every field the store keeps (``src/cordiale/store/schema.py``):
  the works columns (``abstract_inverted_index`` as ``msgspec.Raw``), authorships with names, raw
  affiliation strings and countries, institutions, topics, SDGs, referenced works, funders / awards /
  grants, counts by year, the normalised percentile and the primary location's source.

Nothing is stored: this is the parse cost alone, the floor an ingest is compared with.

Usage: ``python bench/floor.py --level needed FILE...`` prints one JSON object (CPU seconds of the
timed loop, works and bytes).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
from isal import igzip
from msgspec import Struct

from cordiale.sources.works import Work

READ_SIZE = 1 << 20

# --- level "needed": exactly the fields the indicators read ---------------------------------------


class NId(Struct):
    id: str | None = None


class NInstitution(Struct):
    id: str | None = None
    lineage: list[str] | None = None
    country_code: str | None = None
    type: str | None = None


class NAuthorship(Struct):
    author: NId | None = None
    institutions: list[NInstitution] | None = None


class NPrimaryTopic(Struct):
    id: str | None = None
    field: NId | None = None
    subfield: NId | None = None
    domain: NId | None = None


class NOpenAccess(Struct):
    oa_status: str | None = None
    is_oa: bool | None = None


class NeededWork(Struct):
    id: str | None = None
    publication_year: int | None = None
    type: str | None = None
    updated_date: str | None = None
    cited_by_count: int | None = None
    authorships: list[NAuthorship] | None = None
    primary_topic: NPrimaryTopic | None = None
    open_access: NOpenAccess | None = None


# --- level "kept": every field the store keeps: the ingest's own typed decoder -----------------------


LEVELS: dict[str, type[Struct] | None] = {"gunzip": None, "needed": NeededWork, "kept": Work}


def run(level: str, files: Sequence[Path]) -> dict[str, Any]:
    """Stream every file through the level's loop; CPU seconds of this process for the loop alone."""
    struct = LEVELS[level]
    decoder: msgspec.json.Decoder[Any] | None = msgspec.json.Decoder(struct) if struct else None
    works = 0
    raw_bytes = 0
    compressed = sum(p.stat().st_size for p in files)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    w0 = time.perf_counter()
    for path in files:
        with igzip.open(path, "rb") as fh:  # type: ignore[no-untyped-call]
            rest = b""
            while True:
                chunk = fh.read(READ_SIZE)
                if not chunk:
                    break
                raw_bytes += len(chunk)
                if decoder is None:
                    works += chunk.count(b"\n")
                    continue
                # Decode whole lines in place (a memoryview, no copy of the chunk); only the line
                # that straddles two chunks is joined.
                first = chunk.find(b"\n") + 1
                if not first:
                    rest += chunk
                    continue
                works += len(decoder.decode_lines(rest + chunk[:first]))
                cut = chunk.rfind(b"\n") + 1
                if cut > first:
                    works += len(decoder.decode_lines(memoryview(chunk)[first:cut]))
                rest = chunk[cut:]
            if decoder is not None and rest.strip():
                works += len(decoder.decode_lines(rest))
    return {
        "level": level,
        "works": works,
        "raw_bytes": raw_bytes,
        "compressed_bytes": compressed,
        **cpu_since(r0, w0),
    }


def cpu_since(r0: resource.struct_rusage, w0: float) -> dict[str, float]:
    """This process's user, system and total CPU seconds since ``r0``, and the wall seconds since ``w0``."""
    wall = time.perf_counter() - w0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    user = r1.ru_utime - r0.ru_utime
    sys_ = r1.ru_stime - r0.ru_stime
    return {"user_s": user, "sys_s": sys_, "cpu_s": user + sys_, "wall_s": wall}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--level", choices=sorted(LEVELS), default="needed")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.level, args.files)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
