"""The observatory's field and SDG filters (``ObsQuery.field``, ``.sdg``; ``cordiale pair --field --sdg``):
one clause of the scope step, the same on DuckDB and Spark; errors name the option; an unbounded Poisson
slope (a filtered series with counts at one end only) gives no growth value instead of a crash."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cordiale.cli.main import app
from cordiale.errors import UsageError
from cordiale.ids import field_id
from cordiale.indicators import ObsQuery, observe_store
from cordiale.observatory.growth import window_growth
from cordiale.store.connection import reader
from tests.shared_data import require_pyspark

KFUPM, ARAMCO = "I134085113", "I4210143841"
runner = CliRunner()


def _scope_count(store: Path, field: str | None, sdg: int | None, source: str = "openalex") -> int:
    """Works in the default types, not retracted, in the field and under the goal: straight from the store."""
    labels = "work_sdgs" if source == "openalex" else "sdg_scores"
    where = ["type IN ('article', 'review', 'book-chapter', 'book')", "is_retracted IS NOT TRUE"]
    where.append("publication_year IS NOT NULL")
    if field is not None:
        where.append(f"id IN (SELECT work_id FROM work_topics WHERE is_primary AND field_id = '{field}')")
    if sdg is not None:
        where.append(f"id IN (SELECT work_id FROM {labels} WHERE sdg = {sdg})")
    with reader(store) as con:
        row = con.execute(f"SELECT COUNT(*) FROM works WHERE {' AND '.join(where)}").fetchone()
    assert row is not None
    return int(row[0])


def test_field_and_sdg_narrow_the_scope(kfupm_store: Path) -> None:
    from cordiale.observatory.curation import EMPTY
    from cordiale.observatory.engines import DuckDBEngine
    from cordiale.observatory.run import build_per_work

    for field, sdg in ((None, None), ("fields/22", None), (None, 14), ("fields/19", 14)):
        q = ObsQuery(partners=(KFUPM, ARAMCO), field=field, sdg=sdg)
        with reader(kfupm_store) as con:
            eng = DuckDBEngine(con)
            build_per_work(eng, q, EMPTY)
            n = int(eng.query("SELECT COUNT(*) AS n FROM o_scope").to_pylist()[0]["n"])
        assert n == _scope_count(kfupm_store, field, sdg), (field, sdg)
    everything = observe_store(kfupm_store, ObsQuery(partners=(KFUPM, ARAMCO)), ["summary"])
    narrowed = observe_store(
        kfupm_store, ObsQuery(partners=(KFUPM, ARAMCO), field="fields/22", sdg=14), ["summary"]
    )
    assert 0 < narrowed.joint_works < everything.joint_works
    meta = narrowed.sections["summary"]["summary"].schema.metadata or {}
    assert meta[b"field"] == b"fields/22" and meta[b"sdg_filter"] == b"14 (openalex)"


def test_pair_cli_takes_field_and_sdg(kfupm_store: Path) -> None:
    args = ["pair", KFUPM, ARAMCO, "--show", "summary", "--format", "json", "--db", str(kfupm_store)]
    res = runner.invoke(app, [*args, "--field", "https://openalex.org/fields/22", "--sdg", "14"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.output[res.output.index("{") :])
    q = ObsQuery(partners=(KFUPM, ARAMCO), field="fields/22", sdg=14)
    assert payload["joint_works"] == observe_store(kfupm_store, q, ["summary"]).joint_works > 0
    res = runner.invoke(app, [*args, "--field", "physics"])
    assert res.exit_code == 2 and "--field must be an OpenAlex field id" in res.output
    res = runner.invoke(app, [*args, "--sdg", "14", "--sdg-source", "cordiale"])  # no scores in this store
    assert res.exit_code == 4 and "cordiale sdg score" in res.output
    res = runner.invoke(app, [*args, "--sdg", "18"])
    assert res.exit_code == 2 and "--sdg must be a goal from 1 to 17" in res.output
    assert field_id("22") == field_id("fields/22") == "fields/22" and field_id(" ") is None
    with pytest.raises(UsageError):
        ObsQuery(partners=(KFUPM, ARAMCO), sdg=0)


def test_an_unbounded_poisson_slope_gives_no_value() -> None:
    assert window_growth({2024: 3.0}, 2020, 2024) == (None, "poisson (no finite slope)")
    assert window_growth({}, 2020, 2024) == (None, "poisson (all zero)")
    value, method = window_growth({2023: 1.0, 2024: 3.0}, 2020, 2024)
    assert method == "poisson log-linear slope" and value is not None and value > 1


def test_filters_are_equal_on_duckdb_and_spark(kfupm_store: Path, tmp_path: Path) -> None:
    require_pyspark()
    from cordiale.store.export import export_parquet
    from tests.test_observatory_spark import assert_same

    os.environ.setdefault("CORDIALE_SPARK_PARTITIONS", "1")
    export = tmp_path / "parquet"
    export_parquet(kfupm_store, export)
    q = ObsQuery(
        partners=(KFUPM, ARAMCO), field="fields/22", sdg=14, types=("article", "review"), resamples=50
    )
    duck = observe_store(kfupm_store, q, ["summary"])
    spark = observe_store(kfupm_store, q, ["summary"], engine="spark", export_dir=export)
    assert duck.joint_works == spark.joint_works > 0
    for fam in ("summary",):
        for name, table in duck.sections[fam].items():
            assert_same(table, spark.sections[fam][name], f"filtered {fam}.{name}")


@pytest.mark.parametrize("scope", [["--types", "foo"], ["--years", "1800-1801"]], ids=["types", "years"])
def test_growth_of_an_empty_scope_is_an_empty_result_with_exit_0(kfupm_store: Path, scope: list[str]) -> None:
    db = ["--db", str(kfupm_store)]
    res = runner.invoke(
        app, ["pair", KFUPM, ARAMCO, *scope, "--show", "growth,summary", "--format", "json", *db]
    )
    assert res.exit_code == 0, res.output
    assert "no joint works" in res.output
    doc = json.loads(res.stdout[res.stdout.index("{") :])
    assert doc["joint_works"] == 0
    assert not any(r["value"] for r in doc["families"]["growth"]["growth"]["rows"])


def test_growth_windows_are_cut_to_the_query_years(kfupm_store: Path) -> None:
    db = ["--db", str(kfupm_store)]
    base = ["pair", KFUPM, ARAMCO, "--years", "2015-2025", "--show", "growth", "--format", "json", *db]
    res = runner.invoke(app, [*base, "--event", "2016"])
    assert res.exit_code == 0, res.output
    growth = {r["window"]: r for r in json.loads(res.stdout)["families"]["growth"]["growth"]["rows"]}
    before = next(r for w, r in growth.items() if w.startswith("before"))
    assert (before["first_year"], before["last_year"], before["window"]) == (2015, 2015, "before (2015–2015)")
    res = runner.invoke(app, base)
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)["families"]["growth"]["growth"]["rows"]
    assert {r["first_year"] for r in rows} == {2015}
    for event in ("2014", "2015"):
        res = runner.invoke(app, [*base, "--event", event])
        assert res.exit_code == 2, res.output
        assert f"--event {event}" in res.output and "--years 2015-2025" in res.output
