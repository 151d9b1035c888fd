"""The peers a user would pick today to read an OpenAlex snapshot offline, run on the benchmark's files.

They live in their own virtual environment, ``bench/.peers-venv`` (created on demand with ``uv``), never
in cordiale's dependencies. This module is both the parent side (``ensure_venv``, ``command``) and the
child side: ``bench/.peers-venv/bin/python bench/peers.py <peer> ...`` runs one peer and prints one JSON
object. Only the standard library is imported at the top, so the child runs without cordiale's venv.

- ``openalex-raw`` (0.3.2): ``OpenAlex(path).rawEntities("works")`` streams every ``*.gz`` under
  ``<path>/data/works/`` (Python ``gzip`` + ``ujson``, one process, no parallelism) and counts them from
  ``<path>/data/works/manifest``. It predates the ``data/jsonl/`` layout, so it is pointed at a view
  folder of symbolic links to the snapshot's partitions (nothing is copied). Each record's needed fields
  are read, as a user's loop would.
- ``openalex-metrics`` (``oam``, 0.1.0): builds its tables from the OpenAlex *Parquet* snapshot. Offline it
  runs from a local manifest (cached in its data folder) whose URLs are local paths; its build step 1
  (``store``: per-file projection to works_status / works_scope / edges and the resolve rows, PyArrow +
  DuckDB) and step 2 (``metrics``: citation counts, bins, per-work scores) run offline. Step 3
  (``resolve``) fetches the entity manifest over the network and is not run. The JSON Lines snapshot is
  converted to Parquet first (DuckDB, full records, ``abstract_inverted_index`` as JSON text); the
  conversion is input preparation, cached and not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
VENV = BENCH_DIR / ".peers-venv"
# openalex-metrics 0.1.0 asks for duckdb>=1.2 but its SQL uses the `x -> ...` lambda syntax that
# DuckDB 2.0 refuses ("Deprecated lambda arrow"), so the newest DuckDB it runs with is pinned.
PEER_PACKAGES = ("openalex-raw==0.3.2", "openalex-metrics[build]==0.1.0", "duckdb<2")
PEERS = ("openalex-raw", "openalex-metrics")
SOURCE = BENCH_DIR.parent.parent / "shared" / "data" / "openalex" / "works-kfupm-2026.jsonl.gz"


# --- parent side -----------------------------------------------------------------------------------


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> Path:
    """Create ``bench/.peers-venv`` with the peers installed (``uv venv`` + ``uv pip install``)."""
    py = venv_python()
    marker = VENV / ".installed"
    wanted = "\n".join(PEER_PACKAGES)
    if py.exists() and marker.is_file() and marker.read_text() == wanted:
        return py
    uv = shutil.which("uv")
    if uv is None:
        raise RuntimeError("uv is needed to create bench/.peers-venv (https://docs.astral.sh/uv/)")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    subprocess.run([uv, "venv", "-q", "--allow-existing", "--python", version, str(VENV)], check=True)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(py), *PEER_PACKAGES], check=True)
    marker.write_text(wanted)
    return py


def command(peer: str, *args: str) -> list[str]:
    return [str(venv_python()), str(Path(__file__).resolve()), peer, *args]


# --- child side ------------------------------------------------------------------------------------


def _usage() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, time.perf_counter()


def _result(name: str, cpu0: float, wall0: float, **extra: Any) -> dict[str, Any]:
    cpu1, wall1 = _usage()
    return {"step": name, "cpu_s": cpu1 - cpu0, "wall_s": wall1 - wall0, **extra}


def run_openalex_raw(snapshot: Path, view: Path) -> dict[str, Any]:
    """Stream every work with openalex-raw, reading the needed fields of each."""
    works_dir = snapshot / "data" / "jsonl" / "works"
    shutil.rmtree(view, ignore_errors=True)
    target = view / "data" / "works"
    target.mkdir(parents=True)
    for part_dir in sorted(works_dir.glob("updated_date=*")):
        (target / part_dir.name).symlink_to(part_dir.resolve(), target_is_directory=True)
    shutil.copyfile(works_dir / "manifest.json", target / "manifest")

    import openalexraw  # type: ignore[import-not-found]  # only in bench/.peers-venv

    cpu0, wall0 = _usage()
    oa = openalexraw.OpenAlex(openAlexPath=view)
    expected = oa.getRawEntityCount("works")
    works = 0
    links = 0
    for work in oa.rawEntities("works"):
        works += 1
        _ = (work["id"], work.get("publication_year"), work.get("type"), work.get("updated_date"))
        _ = (work.get("cited_by_count"), work.get("primary_topic"), work.get("open_access"))
        for authorship in work.get("authorships") or ():
            _ = (authorship.get("author") or {}).get("id")
            for inst in authorship.get("institutions") or ():
                _ = (inst.get("id"), inst.get("lineage"), inst.get("country_code"), inst.get("type"))
                links += 1
    return _result("stream", cpu0, wall0, works=works, expected=expected, institution_links=links)


def _duckdb_columns(con: Any) -> str:
    """A ``columns=`` struct for read_ndjson, inferred from all real works (the resampled records)."""
    rows = con.execute(
        "DESCRIBE SELECT * FROM read_ndjson(?, sample_size=-1, hive_partitioning=false)", [str(SOURCE)]
    ).fetchall()
    types = {name: typ for name, typ, *_ in rows}
    types["abstract_inverted_index"] = "JSON"
    return "{" + ", ".join(f"'{n}': '{t.replace(chr(39), chr(39) * 2)}'" for n, t in types.items()) + "}"


def to_parquet(snapshot: Path, out: Path) -> dict[str, Any]:
    """The JSON Lines snapshot as an OpenAlex-style Parquet snapshot, one Parquet file per part."""
    import duckdb

    out = out.resolve()
    done = out / "data" / "parquet" / "works" / "manifest.json"
    if done.is_file():
        return {"step": "to-parquet", "cached": True, "path": str(out)}
    cpu0, wall0 = _usage()
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    con = duckdb.connect()
    con.execute("SET threads=2")
    con.execute("SET preserve_insertion_order=false")
    columns = _duckdb_columns(con)
    manifest = json.loads((snapshot / "data" / "jsonl" / "works" / "manifest.json").read_text())
    files = []
    for entry in manifest["entries"]:
        rel = entry["url"].split("/data/jsonl/works/", 1)[1]
        src = snapshot / "data" / "jsonl" / "works" / rel
        dst = tmp / "data" / "parquet" / "works" / rel.replace(".gz", ".parquet")
        dst.parent.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"COPY (SELECT * FROM read_ndjson('{src}', columns={columns}, hive_partitioning=false,"
            f" maximum_object_size=268435456)) TO '{dst}' (FORMAT PARQUET, COMPRESSION ZSTD)"
        )
        files.append((dst, entry["meta"]["record_count"]))
    entries = [
        {
            "url": str(out / p.relative_to(tmp)),
            "meta": {"record_count": n, "content_length": p.stat().st_size},
        }
        for p, n in files
    ]
    pq_manifest = {
        "files": entries,
        "date": "synthetic",
        "record_count": sum(n for _, n in files),
        "synthetic": True,
    }
    (tmp / "data" / "parquet" / "works" / "manifest.json").write_text(json.dumps(pq_manifest, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return _result("to-parquet", cpu0, wall0, cached=False, path=str(out))


def run_openalex_metrics(parquet: Path, data_dir: Path, workers: int) -> list[dict[str, Any]]:
    """oam's build steps 1 (store) and 2 (metrics) from the local Parquet snapshot."""
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    os.environ["OAM_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("OAM_THREADS", str(os.cpu_count() or 1))
    import oam  # type: ignore[import-not-found]  # only in bench/.peers-venv
    from oam import config, metrics, store

    oam.set_data_dir(data_dir)
    config.MANIFEST_PATH.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(parquet / "data" / "parquet" / "works" / "manifest.json", config.MANIFEST_PATH)
    expected = json.loads(config.MANIFEST_PATH.read_text())["record_count"]
    results = []
    cpu0, wall0 = _usage()
    ok = store.build(workers=workers)
    st = store.status()
    results.append(_result("store", cpu0, wall0, ok=bool(ok), works=st.get("works"), expected=expected))
    cpu0, wall0 = _usage()
    try:
        ok = metrics.build()
        error = None
    except Exception as exc:  # a peer's failure is a finding, not a crash of the benchmark
        ok, error = False, f"{type(exc).__name__}: {exc}"
    results.append(_result("metrics", cpu0, wall0, ok=bool(ok), error=error))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="peer", required=True)
    p_raw = sub.add_parser("openalex-raw")
    p_raw.add_argument("snapshot", type=Path)
    p_raw.add_argument("view", type=Path)
    p_pq = sub.add_parser("to-parquet")
    p_pq.add_argument("snapshot", type=Path)
    p_pq.add_argument("out", type=Path)
    p_oam = sub.add_parser("openalex-metrics")
    p_oam.add_argument("parquet", type=Path)
    p_oam.add_argument("data_dir", type=Path)
    p_oam.add_argument("--workers", type=int, default=2)
    p_oam.add_argument("--log", type=Path)
    args = parser.parse_args(argv)

    result: Any
    if args.peer == "openalex-raw":
        result = run_openalex_raw(args.snapshot, args.view)
    elif args.peer == "to-parquet":
        result = to_parquet(args.snapshot, args.out)
    else:
        # oam prints its progress; keep stdout for the one JSON line.
        real_stdout = sys.stdout
        with open(args.log or os.devnull, "w") as log:
            sys.stdout = log
            try:
                result = run_openalex_metrics(args.parquet, args.data_dir, args.workers)
            finally:
                sys.stdout = real_stdout
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
