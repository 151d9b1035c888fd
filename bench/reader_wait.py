"""Reader wait during a large single-file ingest: how long a reader querying in a loop is kept out.

One gzip JSON Lines file of N real works (``works-kfupm-2026.jsonl.gz`` cycled, each given a new id, as
``synth.py`` names them) is ingested into a store holding 100 other works, while a reader process opens
the store through ``cordiale.store.connection.reader`` every 10 ms and counts its works. Printed: the
ingest's wall time, the reader's longest wait to open the store, its number of reads, and their ratio.

Gate (exit 1 when missed): longest wait < ``--max-ratio`` x the ingest time (default 0.45; CI: 0.5, and
0.25 with ``--institutions``). A writer
that kept the store while it parsed the file keeps a reader out for the whole parse (about 0.6 of the
ingest, 0.75 with ``--institutions``); one that lets readers in during the parse keeps them out only for
the file's merge, commit and checkpoint (about 0.25; 0.1 with ``--institutions``, little being merged).

The file is parsed with msgspec alone (``CORDIALE_NATIVE=0``; ``--parser compiled`` for the compiled one):
what is measured is the writer's lock, which is the same for both parsers, and the compiled parser makes
the parse so short (about a third of the ingest) that the ratio would no longer tell a writer that waits
for the parse from one that does not.

Usage: ``python bench/reader_wait.py --works 60000 [--institutions I60342839]``.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import msgspec
from isal import igzip

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.synth import SOURCE, work_id  # noqa: E402

from cordiale.store.ingest import ingest  # noqa: E402

# A reader process: opens the store, counts works, every 10 ms until the stop file appears (then once
# more); prints [(seconds waited to open, works seen), ...]. It touches the ready file after each read.
READER_SCRIPT = """
import json, sys, time
from pathlib import Path
from cordiale.store.connection import reader
db, stop, ready = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
reads = []
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


@functools.cache
def _encoded_records(source: Path) -> list[tuple[bytes, bytes]]:
    """(id, JSON line) of each record of ``source``, read once per process."""
    encoder = msgspec.json.Encoder()
    with gzip.open(source, "rb") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    return [(r["id"].encode(), encoder.encode(r)) for r in records]


def resampled_works_file(path: Path, count: int, first: int = 0, source: Path = SOURCE) -> Path:
    """A gzip JSON Lines file of ``count`` real works from ``source``, cycled, the k-th given the id
    ``work_id(first + k)`` (in ``id`` and ``ids.openalex``): real records, each id unique."""
    encoded = _encoded_records(source)
    lines = []
    for k in range(count):
        old_id, line = encoded[k % len(encoded)]
        lines.append(line.replace(old_id, b"https://openalex.org/" + work_id(first + k).encode()))
        lines.append(b"\n")
    path.write_bytes(igzip.compress(b"".join(lines), compresslevel=1))
    return path


def measure(
    db: Path, inputs: Sequence[Path], institutions: Sequence[str] = (), workers: int = 1
) -> tuple[float, list[tuple[float, int]]]:
    """Ingest ``inputs`` into ``db`` (which must exist) while a reader process reads in a loop:
    (ingest seconds, the reader's reads)."""
    stop, ready = db.with_name("reader.stop"), db.with_name("reader.ready")
    stop.unlink(missing_ok=True)
    ready.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", READER_SCRIPT, str(db), str(stop), str(ready)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if not ready.exists():
            raise RuntimeError("the reader never read the store")
        t0 = time.monotonic()
        ingest(inputs, db, workers=workers, institution_filter=institutions)
        seconds = time.monotonic() - t0
    finally:
        stop.touch()
    out, _ = proc.communicate(timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"the reader failed (exit {proc.returncode})")
    return seconds, [(float(w), int(n)) for w, n in json.loads(out)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--works", type=int, default=60_000)
    parser.add_argument("--institutions", default="", help="comma-separated filter (e.g. I60342839)")
    parser.add_argument("--max-ratio", type=float, default=0.45)
    parser.add_argument("--parser", choices=("msgspec", "compiled"), default="msgspec")
    args = parser.parse_args(argv)
    os.environ["CORDIALE_NATIVE"] = "0" if args.parser == "msgspec" else "1"
    filt = [i for i in args.institutions.split(",") if i]
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="reader-wait-", dir=out) as tmp:
        db = Path(tmp) / "store.duckdb"
        ingest([resampled_works_file(Path(tmp) / "small.jsonl.gz", 100, first=args.works)], db)
        large = resampled_works_file(Path(tmp) / "large.jsonl.gz", args.works)
        seconds, reads = measure(db, [large], filt)
    longest = max(w for w, _ in reads)
    ratio = longest / seconds
    verdict = "ok" if ratio < args.max_ratio else "MISSED"
    print(
        f"{args.works:,} works{' filtered by ' + args.institutions if filt else ''}, {args.parser} parser: "
        f"ingest {seconds:.2f} s, "
        f"reader's longest wait {longest:.2f} s over {len(reads)} reads, ratio {ratio:.2f} "
        f"(gate < {args.max_ratio}: {verdict})"
    )
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
