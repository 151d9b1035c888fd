"""Run the observatory on one engine: facts, the per-work steps, invariants, then the asked families.

Every section comes back as an Arrow table whose schema metadata says how it was counted (rule, types,
source, snapshot date, seed, curation), so a table saved to Parquet carries its own provenance.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cordiale import __version__
from cordiale.errors import InstitutionError, StoreError, UsageError
from cordiale.observatory import growth as g
from cordiale.observatory.curation import EMPTY, Curation
from cordiale.observatory.curation_checks import curation_notices, refuse_unknown_institutions
from cordiale.observatory.engines import Engine
from cordiale.observatory.families import Facts, family_sections, impact_values_sql
from cordiale.observatory.pipeline import invariant_checks, per_work_steps
from cordiale.observatory.query import FAMILIES, ObsQuery, lit_list
from cordiale.observatory.reference import prepared_steps
from cordiale.observatory.sides import side_steps, value_steps
from cordiale.observatory.units import anchor_partner, eligible, fast_steps, listed
from cordiale.store.schema import LATEST_REFERENCE_COMPLETE

COUNTING = {
    "full": "a work counts 1 for each unit (partner or joint group) it belongs to",
    "fractional": "author-level 1/N split over the authorship's direct institutions; a unit's weight is "
    "min(1, Σ shares of the institutions rolling up to it); a joint group's weight is the sum of its "
    "partners' weights",
    "joint": "a work is joint when at least two partners are on it after the rule's roll-up",
    "totals": "year NULL is the total over the years",
}

SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "summary": ("grp", "partner", "year"),
    "growth": ("measure", "grp", "partner", "window"),
    "fields": ("level", "class_id", "partner"),
    "impact": ("kind", "unit_key", "year"),
    "impact-intervals": ("kind", "unit_key"),
    "oa": ("kind", "unit_key", "year", "oa_status"),
    "collab": ("grp", "year", "collaboration"),
    "third-parties": ("grp", "level", "key", "year"),
    "funders": ("grp", "funder", "year"),
    "sdg": ("kind", "unit_key", "sdg", "year"),
    "new-vs-repeat": ("year",),
    "units": ("partner", "unit_id"),
}


@contextmanager
def traced(what: str) -> Iterator[None]:
    """With CORDIALE_TRACE=1, print how long each step and section took (stderr)."""
    if not os.environ.get("CORDIALE_TRACE"):
        yield
        return
    t0 = time.perf_counter()
    yield
    print(f"trace: {what} {time.perf_counter() - t0:.3f} s", file=sys.stderr, flush=True)


@dataclass
class Observation:
    """What one run produced: sections per family, facts, and notices for people."""

    query: ObsQuery
    facts: Facts
    engine: str
    curation: Curation
    works_changed: int
    sections: dict[str, dict[str, pa.Table]] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    joint_works: int = 0
    changed_works: list[str] = field(default_factory=list)
    reference_tables: str = "raw"  # "prepared": per-work tables read from the store-wide reference tables
    side_tables: str = "per-work"  # "per-unit": the partners' figures from the per-unit tables (units.py)
    export: str = ""  # Spark: the Parquet export the sections were computed from


def read_facts(engine: Engine) -> Facts:
    row = engine.query(
        "SELECT CAST(MAX(updated_date) AS VARCHAR) AS snap, MIN(publication_year) AS y0, "
        "MAX(publication_year) AS y1 FROM works"
    ).to_pylist()[0]
    if row["snap"] is None:
        raise StoreError("the store holds no works: run `cordiale ingest FILES…` first")
    # The store's state as its latest finished ingest found it, not any run's in its history.
    rows = engine.query(LATEST_REFERENCE_COMPLETE).to_pylist()
    ref = bool(rows and rows[0]["rc"])
    has_sdg = engine.has_table("sdg_scores") and bool(
        engine.query("SELECT COUNT(*) AS n FROM sdg_scores").to_pylist()[0]["n"]
    )
    return Facts(
        snapshot_date=str(row["snap"])[:10],
        reference_complete=bool(ref),
        has_sdg_scores=has_sdg,
        first_year=row["y0"],
        last_year=row["y1"],
    )


def check_partners(engine: Engine, q: ObsQuery) -> None:
    known = {
        r["id"]
        for r in engine.query(
            f"SELECT DISTINCT id FROM institutions WHERE id IN ({lit_list(q.partners)})"
        ).to_pylist()
    }
    unknown = [p for p in q.partners if p not in known]
    if unknown:
        raise InstitutionError(
            f"unknown institution(s) in this store: {', '.join(unknown)} (no work names them; "
            "fetch them with `cordiale pair A B --fetch` or ingest their works)"
        )


def unscored_notice(engine: Engine, obs: Observation) -> None:
    """With ``--sdg-source cordiale``: a notice giving how many in-scope works have no cordiale score (a
    store scored for some institutions only would otherwise undercount the SDG table silently)."""
    row = engine.query(
        """
        SELECT COUNT(*) AS total, COUNT(s.work_id) AS scored
        FROM (SELECT DISTINCT work_id FROM o_members) m
        LEFT JOIN (SELECT DISTINCT work_id FROM sdg_scores) s ON s.work_id = m.work_id
        """
    ).to_pylist()[0]
    total, missing = int(row["total"]), int(row["total"]) - int(row["scored"])
    if missing:
        obs.notices.append(
            f"{missing:,} of {total:,} works in scope have no cordiale SDG score and are not counted in the "
            f"sdg table: score them with `cordiale sdg score --institutions {','.join(obs.query.partners)}`"
        )


def use_prepared(engine: Engine, cur: Curation) -> bool:
    """Whether the per-work tables can be read from fresh reference tables (never with a curation)."""
    return cur.size == 0 and engine.reference_state() == "fresh"


def build_per_work(
    engine: Engine,
    q: ObsQuery,
    cur: Curation,
    prepared: bool | None = None,
    facts: Facts | None = None,
    units: bool = False,
) -> int:
    """Materialise the per-work tables and the families' inputs, assert their invariants; returns the
    works curation changed.

    ``prepared``: read the store-wide reference tables (``cordiale observe prepare``) instead of the raw
    ones; by default when they are fresh and there is no curation. ``units``: the fast path instead
    (``units.py``; the caller checks ``units.eligible`` and freshness): per-work rows for joint works only."""
    if cur.size:
        refuse_unknown_institutions(engine, cur)
    if prepared is None:
        prepared = use_prepared(engine, cur)
    if facts is None:
        facts = read_facts(engine)
    if units:
        counts = {
            str(r["unit"]): int(r["n"])
            for r in engine.query(
                f"SELECT unit, COUNT(*) AS n FROM obs_ref_pair_{q.rule} "
                f"WHERE unit IN ({lit_list(q.partners)}) GROUP BY unit"
            ).to_pylist()
        }
        anchor = anchor_partner(counts)
        steps = fast_steps(q, replace(facts, prepared=True, joint_only=True), anchor)
        links = not listed(q, anchor)
    else:
        links = True
        if prepared:
            facts = replace(facts, prepared=True)
        steps = (
            (prepared_steps(q) if prepared else per_work_steps(q, cur)) + value_steps(q, facts) + side_steps()
        )
    for step in steps:
        with traced(step.name):
            engine.materialise(step.name, step.sql, step.view)
    for what, sql in invariant_checks(q, prepared, links):
        with traced(f"check: {what}"):
            bad = int(next(iter(engine.query(sql).to_pylist()[0].values())))
        if bad:
            raise AssertionError(f"per-work invariant broken: {what} ({bad} rows)")
    return int(engine.query("SELECT COUNT(*) AS n FROM o_changed").to_pylist()[0]["n"])


def _meta(obs: Observation, family: str) -> dict[str, str]:
    q, f = obs.query, obs.facts
    source = {
        "impact": "store" if f.reference_complete else "openalex",
        "sdg": q.sdg_source,
    }.get(family, "store")
    meta = {
        "family": family,
        "partners": ",".join(q.partners),
        "rule": q.rule,
        "types": ",".join(q.types),
        "include_retracted": str(q.include_retracted).lower(),
        "source": source,
        "snapshot_date": f.snapshot_date,
        "reference": "store" if f.reference_complete else "partners",
        "seed": str(q.seed),
        "resamples": str(q.resamples),
        "engine": obs.engine,
        "counting": json.dumps(COUNTING),
        "curation_version": obs.curation.version,
        "curation_file": obs.curation.path,
        "works_changed_by_curation": str(obs.works_changed),
        "curation_changed_works": ",".join(obs.changed_works[:1000]),
        "cordiale_version": __version__,
        "reference_tables": obs.reference_tables,
        "side_tables": obs.side_tables,
    }
    if obs.export:
        meta["export"] = obs.export
    if q.years:
        meta["years"] = f"{q.years[0]}-{q.years[1]}"
    if q.field is not None:
        meta["field"] = q.field
    if q.sdg is not None:
        meta["sdg_filter"] = f"{q.sdg} ({q.sdg_source})"
    if family == "sdg":
        meta["note"] = "a work counts once under each SDG it is assigned"
    if family == "impact":
        meta["note"] = (
            "CWTS: class = primary-topic subfield × publication year × document type; citation window: "
            f"publication to the snapshot ({f.snapshot_date}), years with less than one full calendar year "
            "left out; self-citations excluded; ties at the top-10% threshold shared fractionally"
            if f.reference_complete
            else "OpenAlex fwci and is_in_top_10_percent (citation_normalized_percentile), "
            "source = openalex; years with less than one full calendar year of citations before the "
            f"snapshot ({f.snapshot_date}) left out, as for the store's own values"
        )
    if family == "growth":
        meta["note"] = "partial years never enter growth; a window starting at zero uses a Poisson slope"
    return meta


def _sorted(table: pa.Table, keys: Sequence[str]) -> pa.Table:
    present = [k for k in keys if k in table.column_names]
    if not present or table.num_rows == 0:
        return table
    return table.sort_by([(k, "ascending") for k in present], null_placement="at_end")


def _with_meta(table: pa.Table, meta: dict[str, str]) -> pa.Table:
    return table.replace_schema_metadata({k: v for k, v in meta.items()})


def _partial_column(table: pa.Table, complete: set[int]) -> pa.Table:
    """``partial``: the row's year is not complete (NULL on the total rows)."""
    years = table.column("year")
    done = pc.is_in(years, value_set=pa.array(sorted(complete), type=years.type))
    flags = pc.if_else(pc.is_null(years), pa.scalar(None, pa.bool_()), pc.invert(done))
    return table.append_column("partial", flags)


def growth_cells(engine: Engine, q: ObsQuery) -> list[tuple[int, int, int]]:
    """(year, partner mask, works) for every non-empty cell: the joint works' masks from o_perwork; a
    partner's works with no other partner are its side total less its joint works of that year."""
    mask_expr = " + ".join(
        f"(CASE WHEN w_{i} IS NOT NULL THEN {1 << i} ELSE 0 END)" for i in range(len(q.partners))
    )
    joint = [
        (int(r["year"]), int(r["mask"]), int(r["n"]))
        for r in engine.query(
            f"SELECT year, {mask_expr} AS mask, COUNT(*) AS n FROM o_perwork WHERE n_partners >= 2 "
            f"GROUP BY year, {mask_expr}"
        ).to_pylist()
    ]
    index = {p: i for i, p in enumerate(q.partners)}
    alone: dict[tuple[int, int], int] = {}
    for r in engine.query("SELECT partner, year, n FROM o_side_years").to_pylist():
        key = (int(r["year"]), 1 << index[str(r["partner"])])
        alone[key] = alone.get(key, 0) + int(r["n"])
    for year, mask, n in joint:
        for i in range(len(q.partners)):
            if mask & (1 << i):
                alone[(year, 1 << i)] -= n
    return joint + [(y, m, n) for (y, m), n in alone.items() if n > 0]


def growth_section(engine: Engine, q: ObsQuery, facts: Facts, complete: set[int]) -> pa.Table:
    """CAGR windows of joint works (group ``all``) and each partner's joint share, with intervals."""
    cells = sorted(growth_cells(engine, q))  # sorted: the seeded draws do not depend on the row order
    keys, draws = g.bootstrap_cells(cells, q.resamples, q.seed)
    observed = np.array([[c for _, _, c in cells]], dtype=np.int64)
    joint_cols = np.array([bin(m).count("1") >= 2 for _, m in keys], dtype=bool)
    years_present = sorted({y for y, _ in keys})
    complete_sorted = sorted(y for y in years_present if y in complete)
    if facts.first_year is not None and facts.last_year is not None:
        # the windows span the years with works, cut to the query's years when it names some
        first, last = facts.first_year, facts.last_year
        if q.years:
            first, last = max(first, q.years[0]), min(last, q.years[1])
        store_complete = sorted(
            g.complete_years(date.fromisoformat(facts.snapshot_date), list(range(first, last + 1)))
        )
    else:
        store_complete = []
    if q.event is not None and q.years and not q.years[0] < q.event <= q.years[1]:
        raise UsageError(
            f"--event {q.event} is outside the range of --years {q.years[0]}-{q.years[1]}: it must lie in "
            f"{q.years[0] + 1}–{q.years[1]} (the window before the event needs a year of --years)"
        )
    windows = g.growth_windows(q.event, q.window, store_complete)
    rows: list[dict[str, object]] = []

    # The joint works per complete year, observed and in each resample: the cells summed per year by
    # one product with a (cell × year) indicator of the joint cells.
    joint_years = sorted({y for (y, _), j in zip(keys, joint_cols, strict=True) if j and y in complete})
    to_year = np.zeros((len(keys), len(joint_years)))
    for j, (y, _) in enumerate(keys):
        if joint_cols[j] and y in complete:
            to_year[j, joint_years.index(y)] = 1.0
    obs_by_year = observed.astype(np.float64) @ to_year
    boot_by_year = draws.astype(np.float64) @ to_year
    obs_joint = {y: float(obs_by_year[0, i]) for i, y in enumerate(joint_years)}
    for w in windows:
        value, method = g.window_growth(obs_joint, w.first, w.last)
        boot = g.window_growth_rows(boot_by_year, joint_years, w.first, w.last)
        lo, hi = g.percentile_interval(boot) if value is not None else (None, None)
        rows.append(
            {
                "measure": "joint works growth",
                "grp": "all",
                "partner": None,
                "window": w.name,
                "first_year": w.first,
                "last_year": w.last,
                "start": obs_joint.get(w.first, 0.0),
                "end": obs_joint.get(w.last, 0.0),
                "value": value,
                "ci_low": lo,
                "ci_high": hi,
                "method": method,
            }
        )
    # each partner's joint share over complete years
    in_complete = np.array([y in complete for y, _ in keys], dtype=bool)
    for i, p in enumerate(q.partners):
        has_p = np.array([bool(m & (1 << i)) for _, m in keys], dtype=bool)
        sel_tot = has_p & in_complete
        sel_joint = sel_tot & joint_cols

        def share(mat: np.ndarray, st: np.ndarray = sel_tot, sj: np.ndarray = sel_joint) -> np.ndarray:
            tot = mat[:, st].sum(axis=1).astype(np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                out: np.ndarray = mat[:, sj].sum(axis=1) / tot
            return out

        value = float(share(observed)[0]) if observed[:, sel_tot].sum() else None
        lo, hi = g.percentile_interval(share(draws)) if value is not None else (None, None)
        rows.append(
            {
                "measure": "joint share of the partner's output",
                "grp": "all",
                "partner": p,
                "window": f"complete years ({complete_sorted[0]}–{complete_sorted[-1]})"
                if complete_sorted
                else "no complete year",
                "first_year": complete_sorted[0] if complete_sorted else None,
                "last_year": complete_sorted[-1] if complete_sorted else None,
                "start": None,
                "end": None,
                "value": value,
                "ci_low": lo,
                "ci_high": hi,
                "method": "share",
            }
        )
    schema = pa.schema(
        [
            ("measure", pa.string()),
            ("grp", pa.string()),
            ("partner", pa.string()),
            ("window", pa.string()),
            ("first_year", pa.int64()),
            ("last_year", pa.int64()),
            ("start", pa.float64()),
            ("end", pa.float64()),
            ("value", pa.float64()),
            ("ci_low", pa.float64()),
            ("ci_high", pa.float64()),
            ("method", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _floats(col: pa.ChunkedArray) -> np.ndarray:
    """A numeric Arrow column as float64 numpy, NULL as NaN."""
    out: np.ndarray = pc.fill_null(pc.cast(col, pa.float64()), np.nan).to_numpy()
    return out


def impact_intervals(engine: Engine, q: ObsQuery) -> pa.Table:
    """95% stability intervals of MNCS and PP(top 10%), full and fractional, per unit over all years."""
    vals = engine.query(impact_values_sql())
    # Arrow columns straight to numpy (NULL → NaN); (unit, measure) as integer codes, so that each one's
    # rows are one boolean mask over arrays rather than Python lists.
    unit_text = pc.binary_join_element_wise(
        pc.cast(vals.column("kind"), pa.string()),
        pc.cast(vals.column("unit_key"), pa.string()),
        pc.cast(vals.column("measure"), pa.string()),
        "\x1f",
    )
    enc = pc.dictionary_encode(unit_text).combine_chunks()
    codes = enc.indices.to_numpy(zero_copy_only=False)
    labels = [tuple(str(x).split("\x1f", 2)) for x in enc.dictionary.to_pylist()]
    code_of = {lab: i for i, lab in enumerate(labels)}
    units = sorted({(kind, key) for kind, key, _ in labels})
    w_all = _floats(vals.column("w"))
    v_all = _floats(vals.column("v"))
    n_all = pc.cast(vals.column("n"), pa.int64()).to_numpy()
    jobs = []
    for kind, key in units:
        for measure in ("mncs", "pp_top10"):
            sel = codes == code_of.get((kind, key, measure), -1)
            v, w, held = v_all[sel], w_all[sel], n_all[sel]
            ok = np.isfinite(v)
            jobs.append((kind, key, measure, v[ok], w[ok], held[ok]))
    # Each (unit, measure) draws from its own seeded generator, so the draws run on threads (numpy's
    # multinomial releases the GIL) and give the same intervals in any order.
    with ThreadPoolExecutor(max_workers=max(1, min(len(jobs), os.cpu_count() or 1))) as pool:
        draws = list(pool.map(lambda j: g.bootstrap_means(j[3], j[4], q.resamples, q.seed, j[5]), jobs))
    rows: list[dict[str, object]] = []
    for (kind, key, measure, _, _, held), (full, frac) in zip(jobs, draws, strict=True):
        flo, fhi = g.percentile_interval(full)
        rlo, rhi = g.percentile_interval(frac)
        rows.append(
            {
                "kind": kind,
                "unit_key": key,
                "measure": measure,
                "works": int(held.sum()),
                "ci_low": flo,
                "ci_high": fhi,
                "ci_low_fractional": rlo,
                "ci_high_fractional": rhi,
            }
        )
    schema = pa.schema(
        [
            ("kind", pa.string()),
            ("unit_key", pa.string()),
            ("measure", pa.string()),
            ("works", pa.int64()),
            ("ci_low", pa.float64()),
            ("ci_high", pa.float64()),
            ("ci_low_fractional", pa.float64()),
            ("ci_high_fractional", pa.float64()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def observe(
    engine: Engine,
    q: ObsQuery,
    families: Sequence[str] = ("summary",),
    curation: Curation = EMPTY,
    intervals: bool = True,
    reuse_per_work: bool = False,
    units: bool | None = None,
) -> Observation:
    """Build the per-work tables once (``reuse_per_work``: already built on this engine for ``q`` and
    ``curation``), then every asked family."""
    for fam in families:
        if fam not in FAMILIES:
            raise KeyError(fam)
    facts = read_facts(engine)
    if q.sdg is not None and q.sdg_source == "cordiale" and not facts.has_sdg_scores:
        raise StoreError("--sdg with --sdg-source cordiale needs SDG scores: run `cordiale sdg score` first")
    check_partners(engine, q)
    ref_state = engine.reference_state()
    prepared = curation.size == 0 and ref_state == "fresh"
    fast = prepared and units is not False and engine.name == "duckdb" and eligible(q)
    if reuse_per_work:
        changed = int(engine.query("SELECT COUNT(*) AS n FROM o_changed").to_pylist()[0]["n"])
    else:
        changed = build_per_work(engine, q, curation, prepared, facts, units=fast)
    obs = Observation(query=q, facts=facts, engine=engine.name, curation=curation, works_changed=changed)
    obs.reference_tables = "prepared" if prepared else "raw"
    obs.side_tables = "per-unit" if fast else "per-work"
    obs.export = str(getattr(engine, "export_label", ""))
    if prepared:
        facts = replace(facts, prepared=True, joint_only=fast)
        obs.facts = facts
    if ref_state == "stale":
        obs.notices.append(
            "the reference tables are stale (the store changed since `cordiale observe prepare`): "
            "this query read the raw tables; run `cordiale observe prepare` again for fast queries"
        )
    if curation.size and not reuse_per_work:
        obs.notices.extend(curation_notices(engine, curation))
    obs.changed_works = [
        str(r["work_id"]) for r in engine.query("SELECT work_id FROM o_changed ORDER BY work_id").to_pylist()
    ]
    obs.joint_works = int(
        engine.query("SELECT COUNT(*) AS n FROM o_perwork WHERE n_partners >= 2").to_pylist()[0]["n"]
    )
    if obs.joint_works == 0:
        obs.notices.append("no joint works in the store for these partners, rule, types and years")
    snap = date.fromisoformat(facts.snapshot_date)
    years = [int(r["year"]) for r in engine.query("SELECT DISTINCT year FROM o_years").to_pylist()]
    complete = g.complete_years(snap, years)
    for fam in families:
        meta = _meta(obs, fam)
        if fam == "sdg" and q.sdg_source == "cordiale" and not facts.has_sdg_scores:
            obs.notices.append("no cordiale SDG scores in the store: run `cordiale sdg score` first")
            obs.sections[fam] = {}
            continue
        if fam == "sdg" and q.sdg_source == "cordiale":
            unscored_notice(engine, obs)
        out: dict[str, pa.Table] = {}
        for name, sql in family_sections(fam, q, facts).items():
            with traced(f"{fam}.{name}"):
                table = _sorted(engine.query(sql), SECTION_KEYS.get(name, ()))
            if "year" in table.column_names and name != "new-vs-repeat":
                table = _partial_column(table, complete)
            out[name] = _with_meta(table, meta)
        if fam == "growth":
            with traced("growth.bootstrap"):
                gs = growth_section(engine, q, facts, complete)
            out["growth"] = _with_meta(_sorted(gs, SECTION_KEYS["growth"]), meta)
        if fam == "impact" and intervals:
            with traced("impact.bootstrap"):
                iv = impact_intervals(engine, q)
            out["impact-intervals"] = _with_meta(_sorted(iv, SECTION_KEYS["impact-intervals"]), meta)
        obs.sections[fam] = out
    return obs
