"""Matchmaking evaluation: does the method predict who co-authors next, better than simple baselines?

Time split on the real works of ``../shared/data/openalex`` (both works files, ingested into a temporary
store). Over the ten institution pairs with the most cross co-authorships, for each of the last five
complete years t:

- candidates are (a, b) with a at A and b at B, sides judged by their works in t-3 … t-1 (an author on
  both sides goes to the partner of most of those works), with no joint work before t;
- for each a with a new B co-author in t (a joint work published in t), every candidate b is ranked;
- recall@k, precision@k (k = 5, 10, 20) and MRR are averaged over such authors, then over years, with a
  bootstrap 95% interval (authors resampled within each year, 1,000 times, the same draws for every
  method);
- the method (``cordiale.match``: topics + words + co-author network) is compared with four baselines on
  the same candidates: random, common neighbours, Adamic–Adar, topic overlap (Jaccard);
- the method's score is weighted by the evidence of each profile, n / (n + 1) for n works at the
  partner in the window, as ``match people`` does; ``method_unweighted`` is the score without it (as
  before that weight), shown for comparison; the gate is on ``method``.

Each pair is evaluated in both directions (A → B and B → A). Works with more than 20 authors are left out
of the co-author network and of the new co-authorships (consortium papers say little about who works
with whom); profiles use every work in the window.

Gate: the method's recall@20 must beat the best baseline's by more than the larger of the two intervals'
half-widths, else the closing note says so and the benchmark exits 1.

Scale (``--synthetic N``): a store of N works resampled from the real ones with new work and author ids
(labelled synthetic in ``store_meta``), then the time and peak memory of building every profile of a
partner pair, of an incremental run with nothing changed and with 1% of works changed, and of ranking.

Usage: ``python bench/match_eval.py`` (real data, then a 1M-work synthetic store);
``--synthetic 0`` skips the scale part; ``--quick`` is CI's bounded form.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from scipy import sparse

from cordiale.match.profiles import build_profiles, load_corpus
from cordiale.match.rank import ContentVectors, adamic_adar_matrix, coauthor_graph, pair_components
from cordiale.match.sides import assign_sides, coauthor_pairs
from cordiale.match.suggest import evidence
from cordiale.store.connection import reader
from cordiale.store.ingest import ingest

BENCH_DIR = Path(__file__).resolve().parent
DATA = BENCH_DIR.parent.parent / "shared" / "data" / "openalex"
WORKS_FILES = ("works-kfupm-2026.jsonl.gz", "works-fixtures-2025.jsonl.gz")
KS = (5, 10, 20)
MAX_AUTHORS = 20
WINDOW = 3
METHODS = ("method", "method_unweighted", "random", "common_neighbours", "adamic_adar", "topic_overlap")
BASELINES = ("random", "common_neighbours", "adamic_adar", "topic_overlap")
SEED = 20261130

console = Console(stderr=True)


# --- the ten pairs and the years -------------------------------------------------------------------


def top_pairs(con: Any, n: int = 10) -> list[tuple[str, str, int]]:
    """Institution pairs by distinct cross co-author pairs (a at I1, b ≠ a at I2, same work of ≤ 20
    authors, direct affiliations), most first; ties by ids."""
    return [
        (r[0], r[1], int(r[2]))
        for r in con.execute(
            f"""
            WITH ai AS (
                SELECT DISTINCT a.work_id, a.author_id, x.institution_id AS inst
                FROM authorships a
                JOIN authorship_institutions x ON x.work_id = a.work_id AND x.position = a.position
                JOIN works w ON w.id = a.work_id
                WHERE a.author_id IS NOT NULL AND w.authors_count <= {MAX_AUTHORS}
            )
            SELECT p.inst, q.inst, count(DISTINCT (p.author_id, q.author_id)) AS n
            FROM ai p JOIN ai q ON q.work_id = p.work_id AND q.author_id <> p.author_id AND p.inst < q.inst
            GROUP BY ALL ORDER BY n DESC, p.inst, q.inst LIMIT {n}
            """
        ).fetchall()
    ]


def evaluation_years(con: Any, n: int = 5) -> list[int]:
    """The last n complete years: the latest year is left out when it holds under half the works of
    the year before (a year still being indexed)."""
    counts = dict(
        con.execute(
            "SELECT publication_year, count(*) FROM works WHERE publication_year IS NOT NULL GROUP BY 1"
        ).fetchall()
    )
    last = max(counts)
    if counts[last] < 0.5 * counts.get(last - 1, 0):
        last -= 1
    return list(range(last - n + 1, last + 1))


# --- one year: candidates, positives, scores -------------------------------------------------------


@dataclass
class Query:
    year: int
    pair: str
    scores: dict[str, np.ndarray]  # method → score per candidate
    positive: np.ndarray  # bool per candidate


def new_coauthors(con: Any, year: int) -> set[tuple[str, str]]:
    rows = con.execute(
        f"""
        SELECT DISTINCT x.author_id, y.author_id FROM authorships x
        JOIN authorships y ON y.work_id = x.work_id AND y.author_id <> x.author_id
        JOIN works w ON w.id = x.work_id
        WHERE w.publication_year = {int(year)} AND w.authors_count <= {MAX_AUTHORS}
          AND x.author_id IS NOT NULL AND y.author_id IS NOT NULL
        """
    ).fetchall()
    return {(r[0], r[1]) for r in rows}


def year_queries(
    con: Any, year: int, pairs: Sequence[tuple[str, str, int]], rng: np.random.Generator
) -> list[Query]:
    window = (year - WINDOW, year - 1)
    sides_by_pair = {(a, b): assign_sides(con, [a, b], window, require_window=True) for a, b, _ in pairs}
    authors = sorted({x for sides in sides_by_pair.values() for x in sides})
    if not authors:
        return []
    corpus = load_corpus(con, authors, years=window)
    profiles = build_profiles(corpus)
    content = ContentVectors.of(profiles)
    pindex = profiles.index()
    topic_sets = _topic_sets(profiles)
    links = con.execute(
        f"""
        SELECT DISTINCT a.work_id, a.author_id FROM authorships a JOIN works w ON w.id = a.work_id
        WHERE a.author_id IS NOT NULL AND w.authors_count <= {MAX_AUTHORS}
          AND w.publication_year BETWEEN {window[0]} AND {window[1]}
        """
    ).fetchall()
    gindex: dict[str, int] = {}
    members: dict[str, list[int]] = defaultdict(list)
    for work, author in links:
        members[work].append(gindex.setdefault(author, len(gindex)))
    adj, degree = coauthor_graph(len(gindex), list(members.values()))
    aa = adamic_adar_matrix(adj, degree)
    fresh = new_coauthors(con, year)
    queries: list[Query] = []
    for a_id, b_id, _ in pairs:
        sides = sides_by_pair[(a_id, b_id)]
        for src, dst, label in ((0, 1, f"{a_id}→{b_id}"), (1, 0, f"{b_id}→{a_id}")):
            a_side = sorted(x for x, s in sides.items() if s.side == src and x in pindex)
            b_side = sorted(x for x, s in sides.items() if s.side == dst and x in pindex)
            if not a_side or not b_side:
                continue
            before = coauthor_pairs(con, a_side, b_side, before=year)
            b_rows = np.array([pindex[b] for b in b_side])
            g_b = _rows(gindex, adj, b_side)
            for a in a_side:
                positive = np.array([(a, b) in fresh and (a, b) not in before for b in b_side])
                if not positive.any():
                    continue
                keep = np.array([(a, b) not in before for b in b_side])
                comps = pair_components(
                    content, np.array([pindex[a]]), b_rows[keep], _rows(gindex, aa, [a]), g_b[keep]
                )
                cn = np.asarray((_rows(gindex, adj, [a]) @ g_b[keep].T).toarray()).ravel()
                ta = topic_sets[pindex[a]]
                overlap = np.array(
                    [len(ta & topic_sets[r]) / max(1, len(ta | topic_sets[r])) for r in b_rows[keep]]
                )
                # `match people` weighs each pair by the evidence of both profiles (a's is the same for
                # every candidate of the query); every author here has a work in the window: all active
                trust = evidence(np.array([sides[b].works_in_window for b in b_side]))[keep]
                queries.append(
                    Query(
                        year=year,
                        pair=label,
                        scores={
                            "method": comps.score.ravel() * trust,
                            "method_unweighted": comps.score.ravel(),
                            "random": rng.random(int(keep.sum())),
                            "common_neighbours": cn,
                            "adamic_adar": comps.network.ravel(),
                            "topic_overlap": overlap,
                        },
                        positive=positive[keep],
                    )
                )
    return queries


def _rows(index: dict[str, int], matrix: sparse.csr_matrix, authors: Sequence[str]) -> sparse.csr_matrix:
    pick = np.array([index.get(a, -1) for a in authors])
    ok = pick >= 0
    select = sparse.csr_matrix(
        (np.ones(int(ok.sum())), (np.flatnonzero(ok), pick[ok])), shape=(len(authors), matrix.shape[0])
    )
    return (select @ matrix).tocsr()


def _topic_sets(profiles: Any) -> list[set[int]]:
    topics = profiles.topics.tocsr()
    keys = profiles.topic_keys
    level_topic = np.array([not k.startswith(("subfields/", "fields/")) for k in keys], dtype=bool)
    out = []
    for r in range(topics.shape[0]):
        cols = topics.indices[topics.indptr[r] : topics.indptr[r + 1]]
        out.append({int(c) for c in cols if level_topic[c]})
    return out


# --- metrics ------------------------------------------------------------------------------------------


def query_metrics(scores: np.ndarray, positive: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """[recall@5, @10, @20, precision@5, @10, @20, reciprocal rank] of one query (ties broken at random,
    the same way for every method)."""
    order = np.lexsort((tiebreak, -scores))
    hits = positive[order]
    n_pos = positive.sum()
    recall = [hits[:k].sum() / n_pos for k in KS]
    precision = [hits[:k].sum() / k for k in KS]
    first = np.flatnonzero(hits)
    rr = 1.0 / (first[0] + 1) if len(first) else 0.0
    return np.array([*recall, *precision, rr])


METRIC_NAMES = [f"recall@{k}" for k in KS] + [f"precision@{k}" for k in KS] + ["MRR"]


@dataclass
class Evaluation:
    years: list[int]
    pairs: list[tuple[str, str, int]]
    per_query: dict[str, np.ndarray]  # method → (queries × metrics)
    query_years: np.ndarray
    queries_per_year: dict[int, int]
    mean: dict[str, np.ndarray] = field(default_factory=dict)
    low: dict[str, np.ndarray] = field(default_factory=dict)
    high: dict[str, np.ndarray] = field(default_factory=dict)
    diff_r20: tuple[float, float, float] = (0.0, 0.0, 0.0)
    best_baseline: str = ""


def year_mean(values: np.ndarray, years: np.ndarray, year_list: Sequence[int]) -> np.ndarray:
    """Mean over queries within each year, then over years (years without queries left out)."""
    means = [values[years == y].mean(axis=0) for y in year_list if (years == y).any()]
    return np.mean(means, axis=0)


def evaluate(
    queries: list[Query], years: list[int], pairs: list[tuple[str, str, int]], reps: int
) -> Evaluation:
    rng = np.random.default_rng(SEED)
    per_query: dict[str, list[np.ndarray]] = {m: [] for m in METHODS}
    for q in queries:
        tiebreak = rng.random(len(q.positive))
        for m in METHODS:
            per_query[m].append(query_metrics(q.scores[m], q.positive, tiebreak))
    qy = np.array([q.year for q in queries])
    ev = Evaluation(
        years=years,
        pairs=pairs,
        per_query={m: np.array(v) for m, v in per_query.items()},
        query_years=qy,
        queries_per_year={y: int((qy == y).sum()) for y in years},
    )
    groups = [np.flatnonzero(qy == y) for y in years if (qy == y).any()]
    boot: dict[str, list[np.ndarray]] = {m: [] for m in METHODS}
    for _ in range(reps):
        draw = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])
        for m in METHODS:
            boot[m].append(year_mean(ev.per_query[m][draw], qy[draw], years))
    for m in METHODS:
        ev.mean[m] = year_mean(ev.per_query[m], qy, years)
        stack = np.array(boot[m])
        ev.low[m] = np.percentile(stack, 2.5, axis=0)
        ev.high[m] = np.percentile(stack, 97.5, axis=0)
    r20 = METRIC_NAMES.index("recall@20")
    ev.best_baseline = max(BASELINES, key=lambda b: ev.mean[b][r20])
    diffs = np.array(boot["method"])[:, r20] - np.array(boot[ev.best_baseline])[:, r20]
    ev.diff_r20 = (
        float(ev.mean["method"][r20] - ev.mean[ev.best_baseline][r20]),
        float(np.percentile(diffs, 2.5)),
        float(np.percentile(diffs, 97.5)),
    )
    return ev


# --- the scale part: a synthetic store -----------------------------------------------------------------


def synthetic_store(real: Path, target: Path, works: int) -> dict[str, int]:
    """A store of ``works`` works resampled from ``real``: replica r of a work gets id W8 + r + seq and
    its authors ids A8 + r + original digits, so each replica is a new set of people at the same
    institutions (labelled synthetic in store_meta)."""
    import duckdb

    target.unlink(missing_ok=True)
    con = duckdb.connect(str(target))
    con.execute(f"ATTACH '{real}' AS real (READ_ONLY)")
    con.execute("SET preserve_insertion_order = false")
    for table in (
        "works",
        "authorships",
        "authorship_institutions",
        "institutions",
        "work_topics",
        "store_meta",
    ):
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM real.{table} LIMIT 0")
    n_real = int(con.execute("SELECT count(*) FROM real.works").fetchone()[0])  # type: ignore[index]
    replicas = -(-works // n_real)
    con.execute(
        f"""
        CREATE TEMP TABLE pick AS
        SELECT r, id AS src, 'W8' || lpad(r::VARCHAR, 4, '0') || lpad(k::VARCHAR, 7, '0') AS new_id
        FROM (SELECT id, row_number() OVER (ORDER BY id) AS k FROM real.works) w, range({replicas}) t(r)
        ORDER BY r, k LIMIT {int(works)}
        """
    )
    con.execute(
        """
        INSERT INTO works SELECT * REPLACE (p.new_id AS id) FROM real.works w JOIN pick p ON p.src = w.id
        """.replace("SELECT *", "SELECT w.*")
    )
    con.execute(
        """
        INSERT INTO authorships SELECT a.* REPLACE (
            p.new_id AS work_id,
            CASE WHEN a.author_id IS NULL THEN NULL
                 ELSE 'A8' || lpad(p.r::VARCHAR, 4, '0') || substr(a.author_id, 2) END AS author_id)
        FROM real.authorships a JOIN pick p ON p.src = a.work_id
        """
    )
    con.execute(
        "INSERT INTO authorship_institutions SELECT x.* REPLACE (p.new_id AS work_id) "
        "FROM real.authorship_institutions x JOIN pick p ON p.src = x.work_id"
    )
    con.execute(
        "INSERT INTO work_topics SELECT t.* REPLACE (p.new_id AS work_id) "
        "FROM real.work_topics t JOIN pick p ON p.src = t.work_id"
    )
    con.execute("INSERT INTO institutions SELECT * FROM real.institutions")
    con.execute("INSERT INTO store_meta SELECT * FROM real.store_meta")
    con.execute(
        "INSERT INTO store_meta VALUES ('synthetic', 'resampled from the real works by bench/match_eval.py')"
    )
    counts = {
        t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
        for t in ("works", "authorships")
    }
    con.execute("DETACH real")
    con.close()
    return counts


def _child(args: list[str]) -> dict[str, Any]:
    """Run a step of the scale part in a fresh process: wall time and peak memory (max RSS)."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"step {args} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    return result


def _peak_mb() -> float:
    """This process's peak resident memory: VmHWM (reset at exec, unlike ru_maxrss, which a child keeps
    from the process it was forked from)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_main(args: list[str]) -> int:
    """One measured step (run by ``_child``)."""
    from cordiale.match.profiles import update_profiles
    from cordiale.match.suggest import MatchQuery, suggest_pairs

    step, store, a, b = args[0], Path(args[1]), args[2], args[3]
    t0 = time.perf_counter()
    info: dict[str, Any] = {}
    if step == "profiles":
        s = update_profiles(store, [a, b])
        info = {"authors": s.authors, "recomputed": s.recomputed}
    elif step == "touch":
        import duckdb

        con = duckdb.connect(str(store))
        con.execute("UPDATE works SET updated_date = '2099-01-01' WHERE hash(id) % 100 = 0")
        con.close()
    elif step == "rank":
        r = suggest_pairs(store, MatchQuery(partners=(a, b), top=20))
        info = {"pairs": len(r.pairs), "authors": list(r.authors)}
    info["seconds"] = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    info["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 1)
    info["peak_mb"] = _peak_mb()
    print(json.dumps(info))
    return 0


def scale_part(real: Path, works: int, pair: tuple[str, str], tmp: Path) -> list[tuple[str, dict[str, Any]]]:
    store = tmp / f"synthetic-{works}.duckdb"
    t0 = time.perf_counter()
    counts = synthetic_store(real, store, works)
    console.print(
        f"synthetic store (SYNTHETIC, resampled): {counts['works']:,} works, "
        f"{counts['authorships']:,} authorships in {time.perf_counter() - t0:.0f} s"
    )
    steps = []
    for name, args in (
        ("profiles, first run", ["profiles"]),
        ("profiles, nothing changed", ["profiles"]),
        ("touch 1% of works", ["touch"]),
        ("profiles, 1% of works changed", ["profiles"]),
        ("ranking (match people, top 20)", ["rank"]),
    ):
        res = _child([args[0], str(store), *pair])
        console.print(f"  {name}: {res['wall_s']:.1f} s, peak {res['peak_mb']:,.0f} MB {res}")
        steps.append((name, res))
    store.unlink(missing_ok=True)
    table = Table(title=f"scale: {works:,} works (SYNTHETIC, resampled from the real ones)")
    for col in ("step", "seconds (in process)", "CPU s", "wall s (with start-up)", "peak MB", "detail"):
        table.add_column(col, justify="left" if col in ("step", "detail") else "right")
    for name, res in steps:
        detail = ", ".join(
            f"{k}={v}" for k, v in res.items() if k not in ("seconds", "wall_s", "peak_mb", "cpu_s")
        )
        table.add_row(
            name,
            f"{res['seconds']:.1f}",
            f"{res['cpu_s']:.1f}",
            f"{res['wall_s']:.1f}",
            f"{res['peak_mb']:,.0f}",
            detail,
        )
    Console(width=200).print(table)
    return steps


# --- report ---------------------------------------------------------------------------------------------


def report(ev: Evaluation, names: dict[str, str]) -> tuple[bool, str]:
    table = Table(title="time-split evaluation (real works), mean over authors then years [95% bootstrap]")
    table.add_column("method")
    for m in METRIC_NAMES:
        table.add_column(m, justify="right")
    for m in METHODS:
        table.add_row(
            m,
            *[
                f"{ev.mean[m][i]:.3f} [{ev.low[m][i]:.3f}, {ev.high[m][i]:.3f}]"
                for i in range(len(METRIC_NAMES))
            ],
        )
    Console(width=200).print(table)
    r20 = METRIC_NAMES.index("recall@20")
    half_m = (ev.high["method"][r20] - ev.low["method"][r20]) / 2
    half_b = (ev.high[ev.best_baseline][r20] - ev.low[ev.best_baseline][r20]) / 2
    half = max(half_m, half_b)
    margin = ev.mean["method"][r20] - ev.mean[ev.best_baseline][r20]
    ok = bool(margin > half)
    note = (
        f"recall@20: method {ev.mean['method'][r20]:.3f} vs best baseline {ev.best_baseline} "
        f"{ev.mean[ev.best_baseline][r20]:.3f}: margin {margin:+.3f}, half-width {half:.3f} "
        f"(paired bootstrap difference {ev.diff_r20[0]:+.3f} "
        f"[{ev.diff_r20[1]:+.3f}, {ev.diff_r20[2]:+.3f}]). "
        + (
            "GATE MET: the method beats the best baseline by more than the interval's half-width."
            if ok
            else "GATE MISSED: the method does NOT beat the best baseline by more than the interval's "
            "half-width."
        )
    )
    return ok, note


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--child":
        return child_main(argv[1:])
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--synthetic", type=int, default=1_000_000, help="works in the synthetic store (0: skip)"
    )
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="CI's bounded form: 200 resamples, 20k works")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.quick:
        args.bootstrap = min(args.bootstrap, 200)
        args.synthetic = min(args.synthetic, 20_000)
    files = [DATA / f for f in WORKS_FILES]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        console.print(f"[red]missing real data: {', '.join(missing)}")
        return 2
    with tempfile.TemporaryDirectory(prefix="match-eval-") as tmp_name:
        tmp = Path(tmp_name)
        store = tmp / "real.duckdb"
        t0 = time.perf_counter()
        ingest(files, store, workers=1, keep_parts=False)  # attached and changed in place below
        console.print(f"ingested {len(files)} real works files in {time.perf_counter() - t0:.1f} s")
        rng = np.random.default_rng(SEED)
        with reader(store) as con:
            pairs = top_pairs(con)
            years = evaluation_years(con)
            names = dict(con.execute("SELECT id, display_name FROM institutions").fetchall())
            console.print(f"years {years[0]}–{years[-1]}; the ten pairs (distinct cross co-author pairs):")
            for a, b, n in pairs:
                console.print(f"  {a} {names.get(a)} × {b} {names.get(b)}: {n}")
            t0 = time.perf_counter()
            queries: list[Query] = []
            for year in years:
                qs = year_queries(con, year, pairs, rng)
                console.print(f"  {year}: {len(qs)} authors with a new co-author on the other side")
                queries.extend(qs)
            eval_s = time.perf_counter() - t0
        if not queries:
            console.print("[red]no author with a new cross co-author in the evaluation years")
            return 1
        ev = evaluate(queries, years, pairs, args.bootstrap)
        ok, note = report(ev, names)
        console.print(
            f"scoring every query took {eval_s:.1f} s; {len(queries)} queries "
            f"({', '.join(f'{y}: {n}' for y, n in ev.queries_per_year.items())}); "
            f"candidates per query: mean {np.mean([len(q.positive) for q in queries]):.0f}, "
            f"new co-authors per query: mean {np.mean([q.positive.sum() for q in queries]):.2f}"
        )
        steps: list[tuple[str, dict[str, Any]]] = []
        if args.synthetic:
            steps = scale_part(store, args.synthetic, (pairs[0][0], pairs[0][1]), tmp)
    print(note)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "years": years,
                    "pairs": pairs,
                    "queries": len(queries),
                    "queries_per_year": ev.queries_per_year,
                    "metrics": {
                        m: {
                            n: [ev.mean[m][i], ev.low[m][i], ev.high[m][i]]
                            for i, n in enumerate(METRIC_NAMES)
                        }
                        for m in METHODS
                    },
                    "best_baseline": ev.best_baseline,
                    "gate_met": ok,
                    "note": note,
                    "synthetic": {"works": args.synthetic, "steps": dict(steps)},
                },
                indent=2,
                default=float,
            )
        )
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    sys.exit(main())
