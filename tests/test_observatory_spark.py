"""One definition, two engines: every family on DuckDB and on Spark (local mode) over the real works agrees.

One SparkSession for the whole test session (started on first use), one shuffle partition: the inputs
are small. Rows are compared after sorting by their non-float values: integers and text exactly,
floats to a relative 1e-9.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from cordiale.indicators import FAMILIES, ObsQuery, load_curation, observe_store
from cordiale.observatory.engines import to_spark
from cordiale.store.export import export_parquet
from tests.obs_stores import ror_hierarchy_store
from tests.shared_data import require_pyspark

require_pyspark()

KFUPM, ARAMCO, KAUST = "I134085113", "I4210143841", "I71920554"


@pytest.fixture(scope="module")
def kfupm_export(kfupm_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    os.environ.setdefault("CORDIALE_SPARK_PARTITIONS", "1")
    target = tmp_path_factory.mktemp("export") / "parquet"
    export_parquet(kfupm_store, target)
    return target


def _key(row: dict[str, Any]) -> list[tuple[bool, str]]:
    return [(v is None, str(v)) for v in row.values() if not isinstance(v, float)]


def _plain(t: pa.DataType) -> str:
    return "string" if pa.types.is_large_string(t) or pa.types.is_string(t) else str(t)


def assert_same(duck: pa.Table, spark: pa.Table, where: str) -> None:
    assert duck.column_names == spark.column_names, where
    assert [_plain(f.type) for f in duck.schema] == [_plain(f.type) for f in spark.schema], where
    a = sorted(duck.to_pylist(), key=_key)
    b = sorted(spark.to_pylist(), key=_key)
    assert len(a) == len(b), f"{where}: {len(a)} rows on DuckDB, {len(b)} on Spark"
    for x, y in zip(a, b, strict=True):
        for col, vx in x.items():
            vy = y[col]
            if isinstance(vx, float) and isinstance(vy, float):
                same = math.isclose(vx, vy, rel_tol=1e-9, abs_tol=1e-12)
                assert same or (math.isnan(vx) and math.isnan(vy)), (where, col, x, y)
            else:
                assert vx == vy, (where, col, x, y)


@pytest.mark.timeout(900)  # Spark local mode on a shared 2-core machine: about 3 minutes
def test_every_family_is_equal_on_duckdb_and_spark(
    kfupm_store: Path, kfupm_export: Path, tmp_path: Path
) -> None:
    """Three partners (so per-pair series too), lineage, every family, with a curation file applied."""
    cur_path = tmp_path / "curation.toml"
    cur_path.write_text(
        f"""version = "ci-1"
[[institution]]
action = "add"
work = "W4400255569"
institution = "{ARAMCO}"

[[merge_authors]]
into = "A5002974432"
ids = ["A5013761915"]

[[affiliation]]
pattern = "(?i)dhahran"
institutions = ["{KFUPM}"]

[[affiliation]]
pattern = "(?i)no such laboratory anywhere"
institutions = ["{KFUPM}"]
"""
    )
    cur = load_curation(cur_path)
    q = ObsQuery(partners=(KFUPM, ARAMCO, KAUST), rule="lineage", event=2020, resamples=200)
    duck = observe_store(kfupm_store, q, FAMILIES, cur)
    spark = observe_store(kfupm_store, q, FAMILIES, cur, engine="spark", export_dir=kfupm_export)
    assert duck.works_changed == spark.works_changed > 0
    mine = [n for n in duck.notices if str(cur_path) in n]  # the entry matching nothing, on both engines
    assert len(mine) == 1 and "$.affiliation[1].pattern" in mine[0]
    assert mine == [n for n in spark.notices if str(cur_path) in n]
    assert duck.joint_works == spark.joint_works > 100
    for fam in FAMILIES:
        assert set(duck.sections[fam]) == set(spark.sections[fam]), fam
        for name, table in duck.sections[fam].items():
            assert table.num_rows > 0, (fam, name)
            assert_same(table, spark.sections[fam][name], f"{fam}.{name}")
            assert spark.sections[fam][name].schema.metadata[b"engine"] == b"spark"


def test_direct_and_ror_rule_summaries_are_equal_on_both_engines(
    kfupm_store: Path, kfupm_export: Path, tmp_path: Path
) -> None:
    q = ObsQuery(partners=(KFUPM, ARAMCO), rule="direct")
    duck = observe_store(kfupm_store, q, ["summary"])
    spark = observe_store(kfupm_store, q, ["summary"], engine="spark", export_dir=kfupm_export)
    assert spark.sections["summary"]["summary"].schema.metadata[b"export"] == str(kfupm_export).encode()
    for fam in ("summary",):
        for name, table in duck.sections[fam].items():
            assert_same(table, spark.sections[fam][name], f"direct {fam}.{name}")
    # ror: institutions carry OpenAlex's full-URL ROR ids, the registry the bare ids; a lab (L) and a team
    # in it (M) climb the ROR parents to both partners, so both works are joint only under this rule
    db = ror_hierarchy_store(tmp_path / "ror.duckdb")
    export_parquet(db, tmp_path / "ror-parquet")
    q = ObsQuery(partners=("IA", "IB"), rule="ror")
    duck = observe_store(db, q, ["summary", "collab"])
    spark = observe_store(db, q, ["summary", "collab"], engine="spark", export_dir=tmp_path / "ror-parquet")
    assert duck.joint_works == spark.joint_works == 2
    for fam in ("summary", "collab"):
        for name, table in duck.sections[fam].items():
            assert_same(table, spark.sections[fam][name], f"ror {fam}.{name}")


def test_the_spark_sql_is_transpiled_from_the_one_definition() -> None:
    sql = to_spark("SELECT a.x FROM t a CROSS JOIN UNNEST(a.xs) AS u(v) WHERE regexp_matches(a.s, 'x')")
    assert "LATERAL VIEW EXPLODE" in sql and "RLIKE" in sql


def test_spark_asked_without_java_exits_5(kfupm_store: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(Path(sys.executable).parent)  # the venv's bin: no java there
    res = subprocess.run(
        [
            str(Path(sys.executable).parent / "cordiale"),
            "pair",
            KFUPM,
            ARAMCO,
            "--show",
            "oa",
            "--engine",
            "spark",
            "--db",
            str(kfupm_store),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 5, res.stderr
    assert "Java" in res.stderr
