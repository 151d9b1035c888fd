"""Two engines for one definition: DuckDB on the store, Spark on the store's Parquet export.

Why SQL transpiled with SQLGlot rather than Ibis expressions or a DataFrame API: the Leiden Ranking's
own pipeline is SQL, bibliometricians audit SQL, and one linear list of commented SQL steps reads the
same on paper as it runs. The steps are written in DuckDB's dialect (the default engine runs them
untouched) and SQLGlot rewrites each for Spark (``UNNEST`` → ``LATERAL VIEW EXPLODE``,
``regexp_matches`` → ``RLIKE``, ``QUALIFY``/``FILTER`` where needed), so there is no second copy to keep
in step. Ibis would add a layer whose generated SQL nobody reads, and pins pyspark below 4.1.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa
import sqlglot

from cordiale.errors import EngineMissingError, StoreError


class Engine(Protocol):
    name: str

    def materialise(self, name: str, sql: str, view: bool = False) -> None:
        """Build the table ``name`` from ``sql`` (a temp table or a cached view); ``view``: a plain
        view, evaluated where it is read."""

    def query(self, sql: str) -> pa.Table:
        """Run ``sql`` and return its rows as Arrow."""

    def has_table(self, name: str) -> bool: ...

    def reference_state(self) -> str:
        """``fresh`` (prepared reference tables match the store), ``stale`` or ``missing``."""


class DuckDBEngine:
    """The embedded default: temp tables on an open (read-only) store connection."""

    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._views: set[str] = set()
        self._tables: set[str] = set()

    def materialise(self, name: str, sql: str, view: bool = False) -> None:
        if view:
            if name in self._tables:
                self.con.execute(f"DROP TABLE {name}").fetchall()
                self._tables.discard(name)
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}").fetchall()
            self._views.add(name)
            return
        if name in self._views:
            self.con.execute(f"DROP VIEW {name}").fetchall()
            self._views.discard(name)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}").fetchall()
        self._tables.add(name)

    def query(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def has_table(self, name: str) -> bool:
        rows = self.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary", [name]
        ).fetchall()
        return bool(rows[0][0])

    def reference_state(self) -> str:
        from cordiale.observatory.reference import is_fresh, recorded_state

        if not recorded_state(self.con):
            return "missing"
        return "fresh" if is_fresh(self.con) else "stale"


def to_spark(sql: str) -> str:
    """DuckDB-dialect SQL as Spark SQL."""
    out = sqlglot.transpile(sql, read="duckdb", write="spark")
    return ";\n".join(out)


_SESSION: Any = None


def spark_session() -> Any:
    """One local SparkSession per process (few shuffle partitions: the inputs are small per partition)."""
    global _SESSION
    if _SESSION is not None:
        return _SESSION
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise EngineMissingError(
            "the Spark engine needs PySpark: install the extra with `pip install 'cordiale[spark]'` "
            "(or `uv sync --extra spark`)"
        ) from exc
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        raise EngineMissingError("the Spark engine needs Java 17 (no `java` on PATH and no JAVA_HOME)")
    partitions = os.environ.get("CORDIALE_SPARK_PARTITIONS", "2")
    _SESSION = (
        SparkSession.builder.master(os.environ.get("CORDIALE_SPARK_MASTER", "local[2]"))
        .appName("cordiale")
        .config("spark.sql.shuffle.partitions", partitions)
        .config("spark.default.parallelism", partitions)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.maxPlanStringLength", "20000")
        # Spark 4.0 fails to rewrite inferred constraints of a UNION over checkpointed steps ("key not
        # found"); constraint inference buys nothing on these plans, so it is off.
        .config("spark.sql.constraintPropagation.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        # Spark plans joins from Parquet file sizes, and compressed ids understate a table's size in
        # memory tens of times (1M works' authorships: "8 MB", 4.8M rows, hundreds of MB as a hash
        # table): a broadcast sized that way filled the heap at 1M works and the task never finished.
        # So nothing is broadcast on a static estimate; adaptive execution still broadcasts a join side
        # whose shuffled size, measured at run time, is under 10 MB.
        .config("spark.sql.autoBroadcastJoinThreshold", "-1")
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.sql.adaptive.autoBroadcastJoinThreshold", "10MB")
        .config("spark.driver.memory", os.environ.get("CORDIALE_SPARK_MEMORY", "4g"))
        # At 1M works a task once died with java.lang.StackOverflowError: with the heap full (the
        # broadcast above), Spark's TaskMemoryManager.allocatePage retries itself recursively after each
        # failed allocation. The cause is gone; the larger stack (local-mode tasks run in the driver
        # JVM) stays as a margin, and costs only address space.
        .config("spark.driver.extraJavaOptions", "-Xss64m")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    _SESSION.sparkContext.setLogLevel("ERROR")
    return _SESSION


class SparkEngine:
    """Spark local mode over a Parquet export (``cordiale export``): one view per table, steps cached."""

    name = "spark"

    def __init__(self, export_dir: Path, label: str | None = None) -> None:
        self.spark = spark_session()
        self.export_label = label or str(export_dir)  # named in every section's metadata
        if not export_dir.is_dir():
            raise StoreError(f"no Parquet export at {export_dir}: run `cordiale export --format parquet DIR`")
        self.tables: set[str] = set()
        for f in sorted(export_dir.glob("*.parquet")):
            self.spark.read.parquet(str(f)).createOrReplaceTempView(f.stem)
            self.tables.add(f.stem)
        self._cached: list[str] = []
        self._ref_dir: Path | None = None
        self.prepared = False
        self.step_seconds: dict[str, float] = {}  # each reference table's build time (prepare)

    def prepare(self) -> None:
        """Build the store-wide reference tables in this session, from the export (the same SQL as
        ``cordiale observe prepare`` runs on the DuckDB store)."""
        from cordiale.observatory.reference import reference_steps

        if self.prepared:
            return
        # The reference tables are written as Parquet to a temporary folder and read back, not kept as
        # in-memory checkpoints: at 1M works they are millions of rows each, more than a local driver's
        # heap holds beside the queries that read them; Parquet also lets a query read only its columns.
        self._ref_dir = Path(tempfile.mkdtemp(prefix="cordiale-spark-ref-"))
        for step in reference_steps():
            t0 = time.perf_counter()
            try:
                target = self._ref_dir / step.name
                self.spark.sql(to_spark(step.sql)).write.parquet(str(target))
                self.spark.read.parquet(str(target)).createOrReplaceTempView(step.name)
                self._cached.append(step.name)
            except Exception as exc:
                exc.add_note(f"while building the reference table {step.name} on Spark")
                raise
            self.step_seconds[step.name] = time.perf_counter() - t0
        self.prepared = True

    def reference_state(self) -> str:
        return "fresh" if self.prepared else "missing"

    def materialise(self, name: str, sql: str, view: bool = False) -> None:
        if view:
            self.spark.sql(to_spark(sql)).createOrReplaceTempView(name)
            self._cached.append(name)
            return
        # A local checkpoint materialises the step and cuts its lineage, so each step is a table of its
        # own (as on DuckDB) and later plans do not carry every earlier step's plan inside them.
        df = self.spark.sql(to_spark(sql)).localCheckpoint(eager=True)
        df.createOrReplaceTempView(name)
        self._cached.append(name)

    def query(self, sql: str) -> pa.Table:
        table: pa.Table = self.spark.sql(to_spark(sql)).toArrow()
        return table

    def has_table(self, name: str) -> bool:
        return name in self.tables

    def close(self) -> None:
        for name in self._cached:
            self.spark.catalog.dropTempView(name)
        self._cached.clear()
        if self._ref_dir is not None:
            shutil.rmtree(self._ref_dir, ignore_errors=True)
            self._ref_dir = None
        self.prepared = False
