"""The store-wide reference tables (`cordiale observe prepare`): the same figures as the raw tables, on
hand-built stores with known answers and on the real works, never used once the store has changed."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from cordiale.cli.main import app
from cordiale.indicators import FAMILIES, ObsQuery, observe_store
from cordiale.observatory.engines import DuckDBEngine
from cordiale.observatory.reference import all_steps, prepare
from cordiale.observatory.run import Observation, observe
from cordiale.observatory.units import eligible
from cordiale.store.connection import reader
from cordiale.store.ingest import ingest
from cordiale.store.parts import copy_store
from tests.obs_stores import Inst, Work, build_store
from tests.shared_data import require_pyspark
from tests.test_observatory import fractions_store, impact_store, one, rows  # noqa: F401  (fixtures)

runner = CliRunner()
KFUPM, ARAMCO, KAUST = "I134085113", "I4210143841", "I71920554"


def _key(row: dict[str, Any]) -> list[tuple[bool, str]]:
    return [(v is None, str(v)) for v in row.values() if not isinstance(v, float)]


def assert_same_tables(raw: pa.Table, prep: pa.Table, where: str) -> None:
    """Equal rows after sorting by the non-float values: integers and text exactly, floats to 1e-12."""
    assert raw.schema.names == prep.schema.names, where
    a, b = sorted(raw.to_pylist(), key=_key), sorted(prep.to_pylist(), key=_key)
    assert len(a) == len(b), f"{where}: {len(a)} rows raw, {len(b)} prepared"
    for x, y in zip(a, b, strict=True):
        for col, vx in x.items():
            vy = y[col]
            if isinstance(vx, float) and isinstance(vy, float):
                assert math.isclose(vx, vy, rel_tol=1e-12, abs_tol=1e-15) or (
                    math.isnan(vx) and math.isnan(vy)
                ), (where, col, x, y)
            else:
                assert vx == vy, (where, col, x, y)


def prepared_copy(db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / f"prepared-{db.name}"
    copy_store(db, copy)
    report = prepare(copy)
    assert report.built and report.tables["obs_ref_works"] > 0
    return copy


def _temp_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
    return {str(r[0]) for r in rows}


def _observe_prepared(db: Path, q: ObsQuery, units: bool) -> Observation:
    """The run on prepared tables; on the fast path, two partners read the per-work lists (o_pj) and
    never the store's links, more partners the links (o_links)."""
    with reader(db) as con:
        obs = observe(DuckDBEngine(con), q, FAMILIES, units=units)
        if units and eligible(q):
            built = _temp_tables(con)
            lists = len(q.partners) == 2
            assert ("o_pj" in built) == lists and ("o_links" in built) == (not lists), sorted(built)
        return obs


def assert_prepared_equals_raw(db: Path, tmp_path: Path, queries: list[ObsQuery]) -> None:
    """Every section of every family equal from the raw tables, from the full per-work tables read from
    the reference tables, and from the per-unit fast path (when it answers the query)."""
    copy = prepared_copy(db, tmp_path)
    for q in queries:
        raw = observe_store(db, q, FAMILIES)
        assert raw.reference_tables == "raw" and raw.side_tables == "per-work"
        default = observe_store(copy, q, ["summary"])  # the fast path by default, where it answers
        assert default.side_tables == ("per-unit" if eligible(q) else "per-work")
        for units in (False, True):
            prep = _observe_prepared(copy, q, units)
            assert prep.reference_tables == "prepared"
            assert prep.side_tables == ("per-unit" if units and eligible(q) else "per-work")
            assert raw.joint_works == prep.joint_works
            for fam in FAMILIES:
                assert set(raw.sections[fam]) == set(prep.sections[fam]), fam
                for name, table in raw.sections[fam].items():
                    other = prep.sections[fam][name]
                    assert other.schema.metadata[b"reference_tables"] == b"prepared"
                    assert_same_tables(table, other, f"{q.rule} {q.partners} {prep.side_tables} {fam}.{name}")


def test_prepared_equals_raw_on_the_hand_built_fractions_store(
    fractions_store: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Author-level fractions, unaffiliated authors, a joint unit with two parents, a preprint and a
    retracted work out of scope: every family, under direct and lineage, also with retracted included."""
    assert_prepared_equals_raw(
        fractions_store,
        tmp_path,
        [
            ObsQuery(partners=("IA", "IB"), rule="direct"),
            ObsQuery(partners=("IA", "IB"), rule="lineage"),
            ObsQuery(partners=("IA", "IB", "IX"), rule="lineage", include_retracted=True, years=(2020, 2021)),
        ],
    )


def test_prepared_equals_raw_on_the_complete_reference_with_ties(
    impact_store: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """reference_complete: the fields reference comes from the prepared class counts, impact from the
    whole store (ties at the top-10% threshold, self-citations, a year without a full year of citations)."""
    assert_prepared_equals_raw(
        impact_store,
        tmp_path,
        [
            ObsQuery(partners=("IA", "IB"), rule="direct"),
            ObsQuery(partners=("IA", "IB", "IC"), rule="lineage", types=("article", "review", "dataset")),
        ],
    )


def test_prepared_equals_raw_when_a_retracted_work_moves_the_world(tmp_path: Path) -> None:
    """reference_complete with a highly cited retracted article in the class: the world without it (the
    default) and with it (``--include-retracted``) give each side different values, and the per-unit cube
    gives each exactly."""
    insts = [Inst("IA"), Inst("IB", country="GB")]
    works = [
        Work(f"W{100 + k}", authors=[["IA"], ["IB"]] if k < 3 else [["IA"] if k % 2 else ["IB"]])
        for k in range(12)
    ]
    works.append(Work("W500", authors=[["IA"], ["IB"]], retracted=True))
    cited = {"W100": 3, "W101": 1, "W104": 2, "W105": 6, "W500": 20}
    citers = [
        Work(f"W9{w[1:]}{j:02d}", year=2022, type="dataset", authors=[["IB"]], cites=[w])
        for w, c in cited.items()
        for j in range(c)
    ]
    db = build_store(tmp_path / "retracted.duckdb", insts, works + citers, reference_complete=True)
    queries = [ObsQuery(partners=("IA", "IB"), rule="direct", include_retracted=r) for r in (False, True)]
    mncs = [
        one(rows(observe_store(db, q, ["impact"]), "impact"), kind="side", unit_key="IA", year=2020)["mncs"]
        for q in queries
    ]
    assert mncs[0] != pytest.approx(mncs[1])
    assert_prepared_equals_raw(db, tmp_path, queries)


def test_prepared_equals_raw_under_the_ror_rule_with_coordinates(tmp_path: Path) -> None:
    insts = [
        Inst("IA", country="FR", ror="0aaaaaa00"),
        Inst("IB", country="GB", ror="0bbbbbb00"),
        Inst("IL", country="FR", ror="0llllll00"),  # a lab whose ROR parents are A and B
        Inst("IK", country="KE", type="company", ror="0kkkkkk00"),
        Inst("IU", country="US", ror=None),
    ]
    ror = [
        ("0aaaaaa00", 48.8566, 2.3522, []),
        ("0bbbbbb00", 51.4988, -0.1749, []),
        ("0llllll00", 48.71, 2.17, ["0aaaaaa00", "0bbbbbb00"]),
        ("0kkkkkk00", -1.2921, 36.8219, []),
    ]
    works = [
        Work(
            "W1",
            authors=[["IA"], ["IB"], ["IK"]],
            funders=[("F1", "G1")],
            sdgs=[7],
            author_ids=["A", "B", "K"],
        ),
        Work("W2", year=2021, authors=[["IL"], ["IU"], []], author_ids=["L", "U", "N"]),
        Work("W3", year=2021, authors=[["IL", "IA"], ["IA"]], sdgs=[13], author_ids=["L", "A"]),
        Work("W4", year=2019, authors=[["IB"]], author_ids=["B"]),
    ]
    db = build_store(tmp_path / "r.duckdb", insts, works, ror=ror)
    assert_prepared_equals_raw(
        db,
        tmp_path,
        [ObsQuery(partners=("IA", "IB"), rule="ror"), ObsQuery(partners=("IA", "IB"), rule="direct")],
    )


def test_prepared_equals_raw_on_the_real_works(kfupm_store: Path, tmp_path: Path) -> None:
    """Three partners (per-pair series too) on the 5,804 real works, under every rule."""
    assert_prepared_equals_raw(
        kfupm_store,
        tmp_path,
        [
            ObsQuery(partners=(KFUPM, ARAMCO, KAUST), rule="lineage", event=2020, resamples=200),
            ObsQuery(partners=(KFUPM, ARAMCO), rule="direct", resamples=100),
            ObsQuery(partners=(KFUPM, ARAMCO), rule="ror", resamples=100),
            # the dashboard's field and SDG filters narrow the prepared scope as they do the raw one
            ObsQuery(partners=(KFUPM, ARAMCO), field="fields/22", sdg=9, resamples=100),
        ],
    )


def _state(db: Path) -> str:
    with reader(db) as con:
        return DuckDBEngine(con).reference_state()


def test_prepare_is_idempotent_and_a_new_ingest_makes_the_tables_stale(
    kfupm_store: Path, fixtures_2025: Path, tmp_path: Path
) -> None:
    db = tmp_path / "store.duckdb"
    copy_store(kfupm_store, db)
    assert _state(db) == "missing"
    first = prepare(db)
    assert first.built and _state(db) == "fresh"
    again = prepare(db)
    assert not again.built and again.store_state == first.store_state and again.tables == first.tables
    q = ObsQuery(partners=(KFUPM, ARAMCO), rule="lineage", resamples=50)
    assert observe_store(db, q, ["summary"]).reference_tables == "prepared"

    ingest([fixtures_2025], db, workers=1)  # new works: the tables no longer describe the store
    assert _state(db) == "stale"
    stale = observe_store(db, q, FAMILIES)
    assert stale.reference_tables == "raw"
    assert any("stale" in n and "cordiale observe prepare" in n for n in stale.notices)

    rebuilt = prepare(db)
    assert rebuilt.built and rebuilt.store_state != first.store_state and _state(db) == "fresh"
    assert rebuilt.tables["obs_ref_works"] > first.tables["obs_ref_works"]
    fresh = observe_store(db, q, FAMILIES)
    assert fresh.reference_tables == "prepared" and not fresh.notices
    for fam in FAMILIES:
        for name, table in stale.sections[fam].items():
            assert_same_tables(table, fresh.sections[fam][name], f"after ingest {fam}.{name}")


def test_any_change_to_the_rows_the_tables_read_makes_them_stale(
    kfupm_rows_store: Path, tmp_path: Path
) -> None:
    """Not only an ingest: a changed institution lineage or one more authorship link is seen too."""
    import duckdb

    db = tmp_path / "store.duckdb"
    copy_store(kfupm_rows_store, db)
    prepare(db)
    con = duckdb.connect(str(db))
    con.execute("UPDATE institutions SET lineage = list_append(lineage, 'I999') WHERE id = ?", [ARAMCO])
    con.close()
    assert _state(db) == "stale"
    prepare(db)
    assert _state(db) == "fresh"
    con = duckdb.connect(str(db))
    con.execute(
        "INSERT INTO authorship_institutions SELECT work_id, position, ? FROM authorship_institutions "
        "WHERE institution_id = ? LIMIT 1",
        [ARAMCO, KFUPM],
    )
    con.close()
    assert _state(db) == "stale"


def test_cli_observe_prepare_builds_once_and_exit_codes(kfupm_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    copy_store(kfupm_store, db)
    res = runner.invoke(app, ["observe", "prepare", "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    body = json.loads(res.stdout)
    assert body["built"] is True and set(body["tables"]) == {s.name for s in all_steps()}
    res = runner.invoke(app, ["observe", "prepare", "--db", str(db), "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["built"] is False
    res = runner.invoke(app, ["observe", "prepare", "--db", str(tmp_path / "none.duckdb")])
    assert res.exit_code == 4 and "no store" in res.stderr


@pytest.mark.timeout(600)
def test_spark_reads_its_own_reference_tables_and_agrees_with_duckdb(
    kfupm_store: Path, tmp_path: Path
) -> None:
    """Without curation Spark builds the reference tables in its session (the same SQL) and runs the
    prepared per-work steps; every family equals DuckDB's raw computation."""
    require_pyspark()
    from cordiale.store.export import export_parquet
    from tests.test_observatory_spark import assert_same

    os.environ.setdefault("CORDIALE_SPARK_PARTITIONS", "1")
    export = tmp_path / "export"
    export_parquet(kfupm_store, export)
    q = ObsQuery(partners=(KFUPM, ARAMCO, KAUST), rule="lineage", event=2020, resamples=200)
    duck = observe_store(kfupm_store, q, FAMILIES)
    spark = observe_store(kfupm_store, q, FAMILIES, engine="spark", export_dir=export)
    assert duck.reference_tables == "raw" and spark.reference_tables == "prepared"
    for fam in FAMILIES:
        assert set(duck.sections[fam]) == set(spark.sections[fam]), fam
        for name, table in duck.sections[fam].items():
            assert_same(table, spark.sections[fam][name], f"{fam}.{name}")
