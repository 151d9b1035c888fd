"""Ingest benchmark: the floor, ``cordiale ingest`` and the peers on one synthetic snapshot, with gates.

One run measures, on the same files (a synthetic snapshot resampled from real works, see ``synth.py``):

(a) the floor (``floor.py``): CPU seconds in one process to decompress (ISA-L) and decode the needed
    fields with typed msgspec structs; a second floor decodes every field the store keeps;
(b) ``cordiale ingest <snapshot> --db <tmp>`` as a subprocess, with 1 and 2 parse workers: user + sys
    CPU of the whole process tree (``os.wait4``, which includes the waited-for workers), wall time and
    peak memory (the largest process from ``ru_maxrss``, and the sum over the live tree from ``/proc``
    PSS samples);
(c) other designs' bounds (``bounds.py``): the least CPU an ingest would spend were it built on Python
    rows into Parquet, on pyarrow's C++ conversion, or on DuckDB's own JSON reader, and so the best floor
    ratio each could reach;
(d) the peers a user would pick today to read a snapshot offline (``peers.py``), installed in
    ``bench/.peers-venv``: openalex-raw streaming the JSON Lines, openalex-metrics building its tables
    from the same works as Parquet.

Figures go to a Rich table and to ``bench/out/ingest.json``. Gates (exit status 1 when one is missed):

- floor: floor CPU (needed fields) / ingest CPU >= 0.5, for the 1- and the 2-worker run;
- second core: wall(1 worker) / (2 x wall(2 workers)) >= 0.8;
- peers: ingest throughput (works per wall second, two workers, on this machine's cores) >= 3 x the best
  peer's, as the issue states the peer's figure ("works/s on 2 cores"); the ratio per CPU second is shown
  beside it (by default the best peer reading the same JSON Lines; ``--peer-gate all`` includes
  openalex-metrics, which reads a Parquet projection);
- memory: peak RSS <= 1.5 GB, and flat: peak with 2N works <= 1.2 x peak with N works (full form, or
  ``--doubling``);
- correctness: the store holds exactly the snapshot's works and quarantined none.

``--quick`` (for CI, e.g. ``--works 20000 --quick``) skips the doubling (``--doubling`` keeps it) and
judges the gates on marginal costs: each ingest run's fixed cost (start-up, store creation, worker
start) is measured on a tiny snapshot and subtracted, and the peers are judged on their timed loop
without interpreter start-up.
The full form (``python bench/ingest.py``, 200k works) judges totals. Each ingest setting runs ``--repeat``
times (3 by default; the doubling run once) and the fastest by wall time is kept: this shared VM's noise
moved one two-worker run from 18.4 to 23.1 s wall.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers
import synth

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
TMP_DIR = OUT_DIR / "tmp"
LOG_DIR = OUT_DIR / "logs"
DEFAULT_JSON = OUT_DIR / "ingest.json"
DEFAULT_CORDIALE = ROOT / ".venv" / "bin" / "cordiale"
TINY_WORKS = 400
# Whether scripts/build_native.sh built the compiled parser into this venv's cordiale: the ingest runs use it
# (and one more run measures the msgspec path alone against it).
NATIVE_BUILT = importlib.util.find_spec("cordiale.store._native") is not None

GATE_FLOOR_RATIO = 0.5
GATE_EFFICIENCY = 0.8
GATE_PEER_FACTOR = 3.0
GATE_PEAK_MB = 1500.0
GATE_FLAT_FACTOR = 1.2

PAGE = os.sysconf("SC_PAGE_SIZE")
CLK_TCK = os.sysconf("SC_CLK_TCK")

console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


# --- measuring a process tree ----------------------------------------------------------------------


@dataclass
class RunStats:
    """One measured subprocess (and its descendants)."""

    label: str
    cmd: list[str]
    returncode: int
    user_s: float
    sys_s: float
    wall_s: float
    max_rss_mb: float  # ru_maxrss: the largest single process of the tree
    tree_peak_mb: float  # the largest sampled sum of PSS (else RSS) over the live tree
    sampled_cpu_s: float  # CPU seen in /proc samples (a check that workers were waited for)
    processes: int  # distinct processes seen in the tree
    log: str
    others_cpu_s: float = 0.0  # CPU spent by processes outside the tree during the run (contention)
    iowait_s: float = 0.0
    sampler_cpu_s: float = 0.0  # this benchmark's own CPU while the run was measured
    root_cpu_s: float = 0.0  # CPU of the launched process itself (sampled), the rest is its children
    stdout: str = ""

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s

    @property
    def peak_mb(self) -> float:
        return max(self.max_rss_mb, self.tree_peak_mb)


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                kids.extend(int(x) for x in fh.read().split())
        except OSError:
            continue
    return kids


def _tree(root: int) -> list[int]:
    seen = [root]
    i = 0
    while i < len(seen):
        seen.extend(_children(seen[i]))
        i += 1
    return seen


def _memory_mb(pid: int) -> float:
    """PSS (shared pages split between sharers) in MB, or RSS when smaps_rollup is unreadable."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE / 2**20
    except OSError:
        return 0.0


def _cpu_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime
    except (OSError, IndexError, ValueError):
        return 0


class TreeSampler(threading.Thread):
    def __init__(self, root: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.interval = interval
        self.stop = threading.Event()
        self.peak_mb = 0.0
        self.ticks: dict[int, int] = {}

    def run(self) -> None:
        while not self.stop.is_set():
            total = 0.0
            for pid in _tree(self.root):
                total += _memory_mb(pid)
                self.ticks[pid] = max(self.ticks.get(pid, 0), _cpu_ticks(pid))
            self.peak_mb = max(self.peak_mb, total)
            self.stop.wait(self.interval)


def _system_ticks() -> tuple[int, int]:
    """(busy, iowait) clock ticks of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as fh:
        parts = [int(x) for x in fh.readline().split()[1:]]
    user, nice, system, _idle, iowait, irq, softirq, steal = (parts + [0] * 8)[:8]
    return user + nice + system + irq + softirq + steal, iowait


def measure(
    label: str,
    cmd: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    capture: bool = False,
    interval: float = 0.2,
) -> RunStats:
    """Run ``cmd``; CPU and ``ru_maxrss`` from ``os.wait4`` (the child and its waited-for descendants)."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{label}.log"
    out_path = LOG_DIR / f"{label}.out"
    with log_path.open("wb") as log, out_path.open("wb") as out:
        busy0, iowait0 = _system_ticks()
        self0 = time.process_time()  # this process (the sampler) is not "other" load
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out if capture else log, stderr=log, env=env, cwd=ROOT)
        sampler = TreeSampler(proc.pid, interval)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        busy1, iowait1 = _system_ticks()
        sampler.stop.set()
        sampler.join()
        own = time.process_time() - self0
        proc.returncode = os.waitstatus_to_exitcode(status)
    return RunStats(
        label=label,
        cmd=list(cmd),
        returncode=proc.returncode,
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        wall_s=wall,
        max_rss_mb=usage.ru_maxrss / 1024,
        tree_peak_mb=sampler.peak_mb,
        sampled_cpu_s=sum(sampler.ticks.values()) / CLK_TCK,
        processes=len(sampler.ticks),
        log=str(log_path),
        others_cpu_s=max(0.0, (busy1 - busy0) / CLK_TCK - usage.ru_utime - usage.ru_stime - own),
        sampler_cpu_s=own,
        root_cpu_s=sampler.ticks.get(proc.pid, 0) / CLK_TCK,
        iowait_s=(iowait1 - iowait0) / CLK_TCK,
        stdout=out_path.read_text() if capture else "",
    )


def _check(stats: RunStats) -> None:
    if stats.returncode != 0:
        tail = Path(stats.log).read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{stats.label} exited with {stats.returncode}: {' '.join(stats.cmd)}\n{tail}")


# --- the measured runs -----------------------------------------------------------------------------


@dataclass
class Figure:
    """One row of the results: a measured way of reading the snapshot's works."""

    name: str
    kind: str  # floor / ingest / peer
    works: int
    raw_bytes: int
    cpu_s: float
    wall_s: float
    peak_mb: float
    marginal_cpu_s: float | None = None  # without fixed costs (quick-form basis)
    marginal_wall_s: float | None = None
    note: str = ""
    others_cpu_s: float = 0.0  # CPU used by other processes on the machine during the run
    iowait_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def basis_cpu(self, marginal: bool) -> float:
        m = self.marginal_cpu_s
        return m if marginal and m is not None and m > 0 else self.cpu_s

    def basis_wall(self, marginal: bool) -> float:
        m = self.marginal_wall_s
        return m if marginal and m is not None and m > 0 else self.wall_s

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mb_s_per_core"] = _rate(self.raw_bytes / 1e6, self.cpu_s)
        d["works_s_per_core"] = _rate(self.works, self.cpu_s)
        d["works_s_wall"] = _rate(self.works, self.wall_s)
        if self.marginal_cpu_s is not None:
            d["marginal_mb_s_per_core"] = _rate(self.raw_bytes / 1e6, self.marginal_cpu_s)
            d["marginal_works_s_per_core"] = _rate(self.works, self.marginal_cpu_s)
        return d


def _rate(amount: float, seconds: float | None) -> float | None:
    return amount / seconds if seconds and seconds > 0 else None


def warm_cache(files: Sequence[Path]) -> None:
    for path in files:
        with path.open("rb") as fh:
            while fh.read(1 << 24):
                pass


def run_floor(level: str, snap: synth.SnapshotInfo) -> Figure:
    cmd = [sys.executable, str(BENCH_DIR / "floor.py"), "--level", level, *map(str, snap.files)]
    stats = measure(f"floor-{level}-n{snap.works}", cmd, capture=True)
    _check(stats)
    res = json.loads(stats.stdout)
    if res["works"] != snap.works:
        raise RuntimeError(f"floor {level} decoded {res['works']} works, expected {snap.works}")
    notes = {
        "gunzip": "ISA-L igzip only",
        "needed": "+ msgspec, needed fields",
        "kept": "+ msgspec, every kept field",
    }
    return _timed_loop_figure(f"floor: {level}", "floor", res, stats, notes[level])


def _timed_loop_figure(name: str, kind: str, res: dict[str, Any], stats: RunStats, note: str) -> Figure:
    """A figure from a script that timed its own loop (``floor.py``, ``bounds.py``): its CPU and wall
    figures, the process's peak and the machine's other load from ``measure``."""
    return Figure(
        name=name,
        kind=kind,
        works=res["works"],
        raw_bytes=res["raw_bytes"],
        cpu_s=res["cpu_s"],
        wall_s=res["wall_s"],
        peak_mb=stats.peak_mb,
        note=note,
        others_cpu_s=stats.others_cpu_s,
        iowait_s=stats.iowait_s,
        extra={"process_cpu_s": stats.cpu_s},
    )


BOUND_NOTES = {
    "python-rows": "decode + cordiale's staging rows, no store",
    "python-rows+parquet": "+ rows written as Parquet (pyarrow)",
    "arrow-convert+parquet": "decode + pyarrow C++ conversion, 1 nested table",
    "duckdb-json+parquet": "DuckDB's JSON reader, tables as Parquet",
    "native-parse": "gunzip + simdjson (C++) visiting every kept value",
}
BOUND_LEFT_OUT = {
    "native-parse": "building rows, store, merge, versions, quarantine",
}


def run_bound(level: str, snap: synth.SnapshotInfo, say: Callable[[str], None]) -> Figure | None:
    """One other design's bound (``bounds.py``): the least CPU an ingest built that way would spend.
    None (and a line saying why) when the level cannot run here."""
    TMP_DIR.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(BENCH_DIR / "bounds.py"), "--level", level, "--tmp", str(TMP_DIR)]
    stats = measure(f"bound-{level}-n{snap.works}", [*cmd, *map(str, snap.files)], capture=True)
    _check(stats)
    res = json.loads(stats.stdout)
    if "skipped" in res:
        say(f"[yellow]bound {level} skipped:[/yellow] {res['skipped']}")
        return None
    if res["works"] != snap.works:
        raise RuntimeError(f"bound {level} read {res['works']} works, expected {snap.works}")
    res["raw_bytes"] = snap.raw_bytes
    fig = _timed_loop_figure(f"bound: {level}", "bound", res, stats, BOUND_NOTES[level])
    fig.extra["parquet_bytes"] = res["parquet_bytes"]
    return fig


def design_bounds(figs: dict[str, Figure]) -> list[tuple[str, float, str]]:
    """(design, least CPU s, what that figure leaves out) for each measured design, cheapest first.

    Besides the measured levels: a DuckDB store fed rows that cost nothing to build (kept-fields decode +
    store floor), and a native ingest (native parse + the CPU pyarrow spends writing the same rows as
    Parquet, i.e. ``python-rows+parquet`` minus ``python-rows``), into Parquet or into the DuckDB store.
    """
    rows = [
        (name, f.cpu_s, BOUND_LEFT_OUT.get(name, "merge, versions, quarantine, commit"))
        for f in figs.values()
        if f.kind == "bound" and (name := f.name.removeprefix("bound: "))
    ]
    store = figs.get("floor-store")
    if store is not None:
        rows.append(
            ("DuckDB store, rows free", figs["floor-kept"].cpu_s + store.cpu_s, "building rows, merge")
        )
    native, rows_only, rows_pq = (
        figs.get(f"bound-{k}") for k in ("native-parse", "python-rows", "python-rows+parquet")
    )
    if native and rows_only and rows_pq:
        write = max(rows_pq.cpu_s - rows_only.cpu_s, 0.0)
        left_out = "building rows in C++, merge, versions, quarantine"
        rows.append((f"native-parse + Parquet write ({write:.2f} s)", native.cpu_s + write, left_out))
        if store is not None:
            rows.append(("native-parse + DuckDB store", native.cpu_s + store.cpu_s, left_out))
    return sorted(rows, key=lambda r: r[1])


def bounds_table(figs: dict[str, Figure]) -> Table:
    """Each design's best floor ratio: floor(needed) over the least CPU that design spends."""
    floor = figs["floor-needed"].cpu_s
    t = Table(title=f"Best floor ratio of each design (the gate asks >= {GATE_FLOOR_RATIO})")
    for col in ("design", "least CPU s", "best floor ratio", "what it leaves out"):
        t.add_column(col, justify="left" if col in ("design", "what it leaves out") else "right")
    for name, cpu, left_out in design_bounds(figs):
        t.add_row(name, f"{cpu:.2f}", f"{floor / cpu:.2f}", left_out)
    return t


def _store_counts(db: Path) -> dict[str, int]:
    import duckdb

    from cordiale.store.parts import create_views

    con = duckdb.connect(str(db), read_only=True)
    try:
        create_views(con, db)
        return {
            t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
            for t in ("works", "quarantine", "merged_ids")
        }
    finally:
        con.close()


def run_ingest(
    cordiale: Path,
    snap: synth.SnapshotInfo,
    workers: int,
    *,
    label: str,
    keep_db: bool = False,
    native: bool = True,
    parts: bool = True,
) -> tuple[RunStats, dict[str, int]]:
    TMP_DIR.mkdir(parents=True, exist_ok=True)
    db = TMP_DIR / f"{label}.duckdb"
    _drop_db(label)
    env = {**os.environ, "CORDIALE_WORKERS": str(workers), "CORDIALE_DATA_DIR": str(TMP_DIR / "data")}
    env["CORDIALE_NATIVE"] = "1" if native else "0"
    env["CORDIALE_INGEST_PARTS"] = "1" if parts else "0"
    env.pop("CORDIALE_DB", None)
    cmd = [str(cordiale), "ingest", str(snap.path), "--db", str(db), "--workers", str(workers)]
    stats = measure(label, cmd, env=env)
    _check(stats)
    counts = _store_counts(db)
    counts["db_bytes"] = sum(
        f.stat().st_size for p in TMP_DIR.glob(f"{label}.duckdb*") for f in [p, *p.rglob("*")] if f.is_file()
    )
    if not keep_db:
        _drop_db(label)
    return stats, counts


def ingest_figure(
    cordiale: Path,
    snap: synth.SnapshotInfo,
    workers: int,
    fixed: RunStats | None,
    repeat: int,
    keep_db: bool = False,
    native: bool = True,
    parts: bool = True,
) -> Figure:
    """The fastest of ``repeat`` ingest runs; with ``keep_db`` its store stays (``extra["db"]``).
    Baselines: ``native=False``, the msgspec path alone (``CORDIALE_NATIVE=0``); ``parts=False``, every row
    inserted into the database (``CORDIALE_INGEST_PARTS=0``)."""
    best: tuple[RunStats, dict[str, int], str] | None = None
    parser = "compiled parser" if native and NATIVE_BUILT else "msgspec"
    layout = "parts" if parts else "rows"
    for r in range(repeat):
        label = f"ingest-w{workers}-n{snap.works}-{parser.split()[0]}-{layout}-r{r}"
        stats_r, counts_r = run_ingest(
            cordiale, snap, workers, label=label, keep_db=keep_db, native=native, parts=parts
        )
        if best is None or stats_r.wall_s < best[0].wall_s:
            if best is not None:
                _drop_db(best[2])
            best = (stats_r, counts_r, label)
        else:
            _drop_db(label)
    assert best is not None
    stats, counts, best_label = best
    note = f"{workers} worker{'s' if workers > 1 else ''}, {parser}, " + (
        "new works kept as parts" if parts else "every row in the database (--no-parts)"
    )
    if stats.processes > 1:
        note += f"; main process {stats.root_cpu_s:.1f} CPU s"
    if stats.sampled_cpu_s > stats.cpu_s * 1.05 + 0.5:
        note += "; WARNING: /proc saw more CPU than wait4 (workers not waited for?)"
    return Figure(
        name=f"cordiale ingest, {workers}w, {snap.works:,}"
        + ("" if parser != "msgspec" else ", msgspec")
        + ("" if parts else ", no parts"),
        kind="ingest" if native and parts else "baseline",
        works=snap.works,
        raw_bytes=snap.raw_bytes,
        cpu_s=stats.cpu_s,
        wall_s=stats.wall_s,
        peak_mb=stats.peak_mb,
        marginal_cpu_s=stats.cpu_s - fixed.cpu_s if fixed else None,
        marginal_wall_s=stats.wall_s - fixed.wall_s if fixed else None,
        note=note,
        others_cpu_s=stats.others_cpu_s,
        iowait_s=stats.iowait_s,
        extra={
            "workers": workers,
            "parser": parser,
            "parts": parts,
            "user_s": stats.user_s,
            "sys_s": stats.sys_s,
            "max_rss_mb": stats.max_rss_mb,
            "tree_peak_pss_mb": stats.tree_peak_mb,
            "sampled_cpu_s": stats.sampled_cpu_s,
            "processes": stats.processes,
            "sampler_cpu_s": stats.sampler_cpu_s,
            "main_process_cpu_s": stats.root_cpu_s,
            "child_processes_cpu_s": max(0.0, stats.sampled_cpu_s - stats.root_cpu_s),
            "store": counts,
            "fixed_cpu_s": fixed.cpu_s if fixed else None,
            "fixed_wall_s": fixed.wall_s if fixed else None,
            "log": stats.log,
            "db": str(TMP_DIR / f"{best_label}.duckdb") if keep_db else None,
        },
    )


def _drop_db(label: str) -> None:
    """Remove a benchmark store: the database, its write-ahead log and its parts folder."""
    for p in TMP_DIR.glob(f"{label}.duckdb*"):
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()


def run_store_floor(ingest: Figure, floor_kept: Figure) -> Figure:
    """The store floor (``store_floor.py``) on the store an ingest run left; the store is then removed."""
    db = Path(ingest.extra["db"])
    stats = measure(
        f"store-floor-n{ingest.works}",
        [sys.executable, str(BENCH_DIR / "store_floor.py"), str(db)],
        capture=True,
    )
    _drop_db(db.name.removesuffix(".duckdb"))
    _check(stats)
    res = json.loads(stats.stdout)
    if res["works"] != ingest.works:
        raise RuntimeError(f"store floor stored {res['works']} works, expected {ingest.works}")
    return Figure(
        name="floor: DuckDB store",
        kind="floor",
        works=res["works"],
        raw_bytes=floor_kept.raw_bytes,
        cpu_s=res["cpu_s"],
        wall_s=res["wall_s"],
        peak_mb=stats.peak_mb,
        note="insert + checkpoint of the built rows only",
        others_cpu_s=stats.others_cpu_s,
        iowait_s=stats.iowait_s,
        extra={"process_cpu_s": stats.cpu_s, "rows": res["rows"], "db_bytes": res["db_bytes"]},
    )


def run_peers(
    snap: synth.SnapshotInfo, workers: int, console_print: Callable[[str], None]
) -> dict[str, Figure]:
    figures: dict[str, Figure] = {}
    peers.ensure_venv()
    tag = f"n{snap.works}"
    # openalex-raw: streams the JSON Lines in one process.
    stats = measure(
        f"peer-openalex-raw-{tag}",
        peers.command("openalex-raw", str(snap.path), str(TMP_DIR / f"openalex-raw-view-{tag}")),
        capture=True,
    )
    if stats.returncode != 0:
        console_print(f"[red]openalex-raw failed[/red] (see {stats.log})")
        figures["peer-openalex-raw"] = _failed_peer("openalex-raw", snap, stats)
    else:
        res = json.loads(stats.stdout.strip().splitlines()[-1])
        figures["peer-openalex-raw"] = Figure(
            name="peer: openalex-raw 0.3.2",
            kind="peer",
            works=res["works"],
            raw_bytes=snap.raw_bytes,
            cpu_s=stats.cpu_s,
            wall_s=stats.wall_s,
            peak_mb=stats.peak_mb,
            marginal_cpu_s=res["cpu_s"],
            marginal_wall_s=res["wall_s"],
            note="JSONL, gzip + ujson, 1 process (no parallel mode)",
            others_cpu_s=stats.others_cpu_s,
            iowait_s=stats.iowait_s,
            extra={"input": "jsonl", "loop": res, "log": stats.log},
        )
    # openalex-metrics: Parquet in, build steps 1 and 2; the conversion is cached and not counted.
    parquet = snap.path.with_name(snap.path.name + "-parquet")
    conv = measure(f"peer-to-parquet-{tag}", peers.command("to-parquet", str(snap.path), str(parquet)))
    if conv.returncode != 0:
        console_print(f"[red]conversion to Parquet failed[/red] (see {conv.log})")
        figures["peer-openalex-metrics"] = _failed_peer("openalex-metrics", snap, conv)
        return figures
    stats = measure(
        f"peer-openalex-metrics-{tag}",
        peers.command(
            "openalex-metrics",
            str(parquet),
            str(TMP_DIR / f"oam-data-{tag}"),
            "--workers",
            str(workers),
            "--log",
            str(LOG_DIR / f"peer-openalex-metrics-{tag}.oam.log"),
        ),
        capture=True,
    )
    if stats.returncode != 0:
        console_print(f"[red]openalex-metrics failed[/red] (see {stats.log})")
        figures["peer-openalex-metrics"] = _failed_peer("openalex-metrics", snap, stats)
        return figures
    steps = {s["step"]: s for s in json.loads(stats.stdout.strip().splitlines()[-1])}
    store, metrics = steps["store"], steps["metrics"]
    pq_bytes = sum(p.stat().st_size for p in parquet.rglob("*.parquet"))
    ok = store["ok"] and store["works"] == snap.works
    figures["peer-openalex-metrics"] = Figure(
        name="peer: openalex-metrics 0.1.0 (store)",
        kind="peer",
        works=store["works"] or 0,
        raw_bytes=snap.raw_bytes,
        # The process ran step 2 too: count only step 1 (its own timing) plus start-up.
        cpu_s=stats.cpu_s - metrics["cpu_s"],
        wall_s=stats.wall_s - metrics["wall_s"],
        peak_mb=stats.peak_mb,
        marginal_cpu_s=store["cpu_s"],
        marginal_wall_s=store["wall_s"],
        note=f"Parquet ({pq_bytes / 1e6:.0f} MB), step 1, {workers} workers" + ("" if ok else "; FAILED"),
        others_cpu_s=stats.others_cpu_s,
        iowait_s=stats.iowait_s,
        extra={
            "input": "parquet",
            "parquet_bytes": pq_bytes,
            "steps": steps,
            "offline": "steps 1 (store) and 2 (metrics) run offline from a local manifest; "
            "step 3 (resolve) needs the entity manifest from the network and is not run",
            "duckdb_pin": "duckdb<2 (0.1.0's SQL uses lambda arrows that DuckDB 2.0 rejects)",
            "log": stats.log,
        },
    )
    figures["peer-openalex-metrics-step2"] = Figure(
        name="peer: openalex-metrics 0.1.0 (metrics)",
        kind="peer-extra",
        works=store["works"] or 0,
        raw_bytes=snap.raw_bytes,
        cpu_s=metrics["cpu_s"],
        wall_s=metrics["wall_s"],
        peak_mb=stats.peak_mb,
        note="step 2 (not an ingest; for reference)"
        + ("" if metrics["ok"] else f"; FAILED {metrics.get('error') or ''}"),
        extra={"input": "its store"},
    )
    return figures


def _failed_peer(name: str, snap: synth.SnapshotInfo, stats: RunStats) -> Figure:
    return Figure(
        name=f"peer: {name}",
        kind="peer-failed",
        works=0,
        raw_bytes=snap.raw_bytes,
        cpu_s=stats.cpu_s,
        wall_s=stats.wall_s,
        peak_mb=stats.peak_mb,
        note=f"FAILED (exit {stats.returncode}), see {stats.log}",
    )


# --- gates and output ------------------------------------------------------------------------------


@dataclass
class Gate:
    name: str
    value: float | None
    threshold: str
    passed: bool
    detail: str = ""


def evaluate(
    figs: dict[str, Figure], *, marginal: bool, peer_gate: str, expected_works: dict[str, int]
) -> list[Gate]:
    gates: list[Gate] = []
    floor = figs["floor-needed"]
    for key in ("ingest-w1", "ingest-w2"):
        ing = figs.get(key)
        if ing is None:
            continue
        ratio = floor.cpu_s / ing.basis_cpu(marginal)
        gates.append(
            Gate(
                f"floor CPU / ingest CPU ({ing.extra['workers']}w)",
                ratio,
                f">= {GATE_FLOOR_RATIO}",
                ratio >= GATE_FLOOR_RATIO,
                f"{floor.cpu_s:.2f} s / {ing.basis_cpu(marginal):.2f} s",
            )
        )
    w1, w2 = figs.get("ingest-w1"), figs.get("ingest-w2")
    if w1 and w2:
        eff = w1.basis_wall(marginal) / (2 * w2.basis_wall(marginal))
        gates.append(
            Gate(
                "second-core efficiency",
                eff,
                f">= {GATE_EFFICIENCY}",
                eff >= GATE_EFFICIENCY,
                f"{w1.basis_wall(marginal):.2f} s / (2 x {w2.basis_wall(marginal):.2f} s)",
            )
        )
    candidates = [
        f
        for f in figs.values()
        if f.kind == "peer" and f.works > 0 and (peer_gate == "all" or f.extra.get("input") == "jsonl")
    ]
    if w2 and candidates:
        # Throughput as the issue states the peer's ("works/s on 2 cores"): works per wall second, each run
        # on this machine's cores. Per CPU second is shown beside it (the gate before stop 23).
        best = max(candidates, key=lambda f: f.works / f.basis_wall(marginal))
        ours = w2.works / w2.basis_wall(marginal)
        theirs = best.works / best.basis_wall(marginal)
        per_cpu = (w2.works / w2.basis_cpu(marginal)) / (best.works / best.basis_cpu(marginal))
        gates.append(
            Gate(
                f"vs best peer ({best.name.removeprefix('peer: ')})",
                ours / theirs,
                f">= {GATE_PEER_FACTOR}x",
                ours >= GATE_PEER_FACTOR * theirs,
                f"{ours:,.0f} vs {theirs:,.0f} works per second on {os.cpu_count()} cores "
                f"({per_cpu:.2f}x per CPU second)",
            )
        )
    for key, ing in figs.items():
        if ing.kind != "ingest":
            continue
        gates.append(
            Gate(
                f"peak memory ({ing.name.removeprefix('cordiale ingest, ')})",
                ing.peak_mb,
                f"<= {GATE_PEAK_MB:.0f} MB",
                ing.peak_mb <= GATE_PEAK_MB,
                f"largest process {ing.extra['max_rss_mb']:.0f} MB, "
                f"tree PSS {ing.extra['tree_peak_pss_mb']:.0f} MB",
            )
        )
        store = ing.extra["store"]
        want = expected_works[key]
        ok = store["works"] == want and store["quarantine"] == 0
        gates.append(
            Gate(
                f"store complete ({ing.name.removeprefix('cordiale ingest, ')})",
                float(store["works"]),
                f"== {want} works, 0 quarantined",
                ok,
                f"{store['works']} works, {store['quarantine']} quarantined",
            )
        )
    d2 = figs.get("ingest-w2-double")
    if w2 and d2:
        factor = d2.peak_mb / w2.peak_mb
        gates.append(
            Gate(
                "peak memory flat when input doubles",
                factor,
                f"<= {GATE_FLAT_FACTOR}x",
                factor <= GATE_FLAT_FACTOR,
                f"{d2.peak_mb:.0f} MB ({d2.works:,} works) vs {w2.peak_mb:.0f} MB ({w2.works:,})",
            )
        )
    return gates


def _fmt(v: float | None, spec: str = ",.1f") -> str:
    return "-" if v is None else format(v, spec)


def figures_table(figs: Sequence[Figure], marginal: bool) -> Table:
    title = "Ingest benchmark" + (" (marginal: fixed costs subtracted)" if marginal else "")
    t = Table(title=title)
    for col in ("run", "works", "CPU s", "wall s", "MB/s/core", "works/s/core", "works/s wall", "peak MB"):
        t.add_column(col, justify="left" if col == "run" else "right")
    t.add_column("note")
    for f in figs:
        cpu = f.basis_cpu(marginal)
        wall = f.basis_wall(marginal)
        t.add_row(
            f.name,
            f"{f.works:,}",
            _fmt(cpu, ".2f"),
            _fmt(wall, ".2f"),
            _fmt(_rate(f.raw_bytes / 1e6, cpu), ",.0f"),
            _fmt(_rate(f.works, cpu), ",.0f"),
            _fmt(_rate(f.works, wall), ",.0f"),
            _fmt(f.peak_mb, ",.0f"),
            f.note,
        )
    return t


def store_bound(figs: dict[str, Figure]) -> float | None:
    """floor(needed) / (floor(kept) + store floor): the best floor ratio an ingest into a DuckDB store can
    reach, were building and comparing rows free."""
    store = figs.get("floor-store")
    if store is None:
        return None
    return figs["floor-needed"].cpu_s / (figs["floor-kept"].cpu_s + store.cpu_s)


def ratios(figs: dict[str, Figure], marginal: bool) -> dict[str, float]:
    out: dict[str, float] = {}
    bound = store_bound(figs)
    if bound is not None:
        out["floor_needed_cpu / (floor_kept_cpu + store_floor_cpu)"] = bound
    for name, cpu, _ in design_bounds(figs):
        out[f"floor_needed_cpu / bound({name})"] = figs["floor-needed"].cpu_s / cpu
    ing2 = figs.get("ingest-w2")
    for key in ("ingest-w2-msgspec", "ingest-w2-rows"):
        base = figs.get(key)
        if base is not None and ing2 is not None:
            out[f"{key}_cpu / ingest-w2_cpu"] = base.basis_cpu(marginal) / ing2.basis_cpu(marginal)
            out[f"{key}_wall / ingest-w2_wall"] = base.basis_wall(marginal) / ing2.basis_wall(marginal)
    for key in ("ingest-w1", "ingest-w2"):
        ing = figs.get(key)
        if ing is None:
            continue
        cpu = ing.basis_cpu(marginal)
        for level in ("gunzip", "needed", "kept"):
            out[f"floor_{level}_cpu / {key}_cpu"] = figs[f"floor-{level}"].cpu_s / cpu
        for f in figs.values():
            if f.kind == "peer" and f.works > 0:
                short = f.name.removeprefix("peer: ")
                out[f"{key} works/cpu-s / {short}"] = (ing.works / cpu) / (f.works / f.basis_cpu(marginal))
                out[f"{key} works/wall-s / {short}"] = (ing.works / ing.basis_wall(marginal)) / (
                    f.works / f.basis_wall(marginal)
                )
    return out


def gates_table(gates: Sequence[Gate]) -> Table:
    t = Table(title="Gates")
    for col in ("gate", "value", "threshold", "result", "detail"):
        t.add_column(col)
    for g in gates:
        t.add_row(
            g.name,
            _fmt(g.value, ",.2f"),
            g.threshold,
            "[green]pass[/green]" if g.passed else "[bold red]MISSED[/bold red]",
            g.detail,
        )
    return t


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--works", type=int, default=200_000, help="works in the snapshot (default 200k)")
    parser.add_argument("--quick", action="store_true", help="bounded CI form: no doubling, marginal gates")
    parser.add_argument("--seed", type=int, default=synth.SnapshotSpec.seed)
    parser.add_argument(
        "--repeat", type=int, default=3, help="ingest runs per setting, the fastest kept (default 3)"
    )
    parser.add_argument("--no-peers", action="store_true", help="skip the peers (and their gate)")
    parser.add_argument("--no-doubling", action="store_true", help="skip the 2N run (and the flatness gate)")
    parser.add_argument(
        "--doubling", action="store_true", help="run the 2N run (and the flatness gate) even with --quick"
    )
    parser.add_argument("--no-ingest", action="store_true", help="measure the floors and peers only")
    parser.add_argument("--no-bounds", action="store_true", help="skip the other designs' bounds (bounds.py)")
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the 2-worker baseline runs: the msgspec path alone (CORDIALE_NATIVE=0) and every row "
        "in the database (CORDIALE_INGEST_PARTS=0)",
    )
    parser.add_argument(
        "--peer-gate",
        choices=("jsonl", "all"),
        default="jsonl",
        help="which peers the 3x gate compares with (default: those reading the same JSON Lines)",
    )
    parser.add_argument(
        "--allow-missed",
        default="",
        help="comma-separated gate prefixes (e.g. 'floor,vs best peer') still measured and shown as MISSED "
        "but not failing the run: for gates an open issue tracks; every other gate still fails it",
    )
    parser.add_argument("--cordiale", type=Path, default=DEFAULT_CORDIALE, help="the cordiale executable")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write the figures")
    args = parser.parse_args(argv)
    marginal = args.quick
    doubling = (args.doubling or not args.quick) and not (args.no_doubling or args.no_ingest)
    workers_max = 2

    figs: dict[str, Figure] = {}
    expected: dict[str, int] = {}
    fixed: dict[int, RunStats] = {}
    snaps: dict[str, synth.SnapshotInfo] = {}
    ingest_error: str | None = None
    console.print(
        "cordiale parses with "
        + (
            "its compiled parser (msgspec for the lines it hands back)"
            if NATIVE_BUILT
            else "msgspec alone: the compiled parser is not built (scripts/build_native.sh)"
        )
    )

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:

        def snapshot(works: int, parts: int = 0) -> synth.SnapshotInfo:
            spec = synth.SnapshotSpec(works=works, seed=args.seed, parts=parts)
            task = progress.add_task(f"snapshot {works:,} works", total=spec.resolved_parts())
            info = synth.ensure_snapshot(spec, progress=lambda d, t: progress.update(task, completed=d))
            progress.update(task, completed=spec.resolved_parts())
            return info

        snaps["n"] = snapshot(args.works)
        if doubling:
            snaps["2n"] = snapshot(2 * args.works)
        if marginal and not args.no_ingest:
            snaps["tiny"] = snapshot(TINY_WORKS, parts=workers_max)
        snap = snaps["n"]
        warm_cache(snap.files)

        task = progress.add_task("floors", total=3)
        for level in ("gunzip", "needed", "kept"):
            figs[f"floor-{level}"] = run_floor(level, snap)
            progress.advance(task)

        if not args.no_bounds:
            task = progress.add_task("other designs' bounds", total=len(BOUND_NOTES))
            for level in BOUND_NOTES:
                bound_fig = run_bound(level, snap, console.print)
                if bound_fig is not None:
                    figs[f"bound-{level}"] = bound_fig
                progress.advance(task)

        if not args.no_ingest:
            baseline = (2 if NATIVE_BUILT else 1) if not args.no_baseline else 0
            steps = workers_max * (2 if marginal else 1) + (1 if doubling else 0) + baseline
            task = progress.add_task("cordiale ingest", total=steps)
            try:
                if not args.cordiale.exists():
                    raise RuntimeError(f"{args.cordiale} not found")
                for w in (1, workers_max):
                    if marginal:
                        tiny = snaps["tiny"]
                        fixed[w], _ = run_ingest(args.cordiale, tiny, w, label=f"ingest-fixed-w{w}")
                        progress.advance(task)
                    figs[f"ingest-w{w}"] = ingest_figure(
                        args.cordiale, snap, w, fixed.get(w), args.repeat, keep_db=w == 1
                    )
                    expected[f"ingest-w{w}"] = snap.works
                    progress.advance(task)
                    if w == 1:
                        figs["floor-store"] = run_store_floor(figs["ingest-w1"], figs["floor-kept"])
                if NATIVE_BUILT and not args.no_baseline:
                    figs["ingest-w2-msgspec"] = ingest_figure(
                        args.cordiale, snap, workers_max, fixed.get(workers_max), 1, native=False
                    )
                    expected["ingest-w2-msgspec"] = snap.works
                    progress.advance(task)
                if not args.no_baseline:
                    figs["ingest-w2-rows"] = ingest_figure(
                        args.cordiale, snap, workers_max, fixed.get(workers_max), 1, parts=False
                    )
                    expected["ingest-w2-rows"] = snap.works
                    progress.advance(task)
                if doubling:
                    big = snaps["2n"]
                    warm_cache(big.files)
                    figs["ingest-w2-double"] = ingest_figure(args.cordiale, big, workers_max, None, 1)
                    expected["ingest-w2-double"] = big.works
                    progress.advance(task)
            except RuntimeError as exc:
                ingest_error = str(exc)
                console.print(f"[bold red]cordiale ingest failed:[/bold red] {ingest_error}")

        if not args.no_peers:
            task = progress.add_task("peers", total=None)
            figs.update(run_peers(snap, workers_max, console.print))
            progress.update(task, total=1, completed=1)

    kinds = ("floor", "bound", "ingest", "baseline", "peer", "peer-extra", "peer-failed")
    order = sorted(figs.values(), key=lambda f: kinds.index(f.kind))
    console.print(figures_table(order, marginal))
    if marginal and fixed:
        console.print(
            "fixed costs (tiny snapshot, subtracted): "
            + ", ".join(f"{w}w {s.cpu_s:.2f} CPU s / {s.wall_s:.2f} wall s" for w, s in fixed.items())
        )
    cpus = os.cpu_count() or 1
    for f in order:
        if f.others_cpu_s > 0.1 * f.wall_s * cpus:
            console.print(
                f"[yellow]contention:[/yellow] other processes used {f.others_cpu_s:.1f} CPU s during "
                f"'{f.name}' ({f.wall_s:.1f} s wall on {cpus} CPUs): its wall time is not reliable"
            )
    rat = ratios(figs, marginal)
    gates = evaluate(figs, marginal=marginal, peer_gate=args.peer_gate, expected_works=expected)
    if ingest_error is not None:
        gates.insert(0, Gate("cordiale ingest ran", None, "exit 0", False, ingest_error.splitlines()[0]))
    console.print(gates_table(gates))
    bound = store_bound(figs)
    if bound is not None:
        kept, store = figs["floor-kept"].cpu_s, figs["floor-store"].cpu_s
        console.print(
            f"bound: with a DuckDB store the floor ratio cannot exceed {bound:.2f} "
            f"(floor {figs['floor-needed'].cpu_s:.2f} s / (kept-fields decode {kept:.2f} s + DuckDB "
            f"insert and checkpoint of the built rows {store:.2f} s))"
        )
    if any(f.kind == "bound" for f in figs.values()):
        console.print(bounds_table(figs))

    report = {
        "synthetic": True,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mode": "quick" if args.quick else "full",
        "basis": "marginal (fixed costs subtracted)" if marginal else "total",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "memory_gb": os.sysconf("SC_PHYS_PAGES") * PAGE / 1e9,
        },
        "snapshots": {
            k: {
                "path": str(s.path),
                "works": s.works,
                "files": len(s.files),
                "raw_bytes": s.raw_bytes,
                "compressed_bytes": s.compressed_bytes,
                "spec": asdict(s.spec),
            }
            for k, s in snaps.items()
        },
        "units": "MB = 1e6 bytes of uncompressed JSON; per core = per CPU second (user + sys)",
        "figures": {k: f.as_dict() for k, f in figs.items()},
        "fixed_costs": {f"w{w}": {"cpu_s": s.cpu_s, "wall_s": s.wall_s} for w, s in fixed.items()},
        "ratios": rat,
        "gates": [asdict(g) for g in gates],
        "ingest_error": ingest_error,
        "passed": all(g.passed for g in gates),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    console.print(f"figures written to {args.json}")
    allowed = tuple(p.strip() for p in args.allow_missed.split(",") if p.strip())
    missed = [g.name for g in gates if not g.passed]
    tolerated = [name for name in missed if allowed and name.startswith(allowed)]
    failing = [name for name in missed if name not in tolerated]
    if tolerated:
        console.print(
            "[bold yellow]gates missed, allowed by --allow-missed (still open):[/bold yellow] "
            + ", ".join(tolerated)
        )
    if failing:
        console.print(f"[bold red]gates missed:[/bold red] {', '.join(failing)}")
        return 1
    console.print("[green]all gates passed[/green]" if not tolerated else "other gates passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
