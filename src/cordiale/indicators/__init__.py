"""The typed Python API of the observatory: Arrow tables with their provenance in the schema metadata.

    from cordiale.indicators import observe_store, ObsQuery
    obs = observe_store(Path("cordiale.duckdb"), ObsQuery(partners=("I1294671590", "I47508984")),
                        families=["summary", "impact"])
    table = obs.sections["impact"]["impact"]          # a pyarrow.Table
    table.schema.metadata[b"source"]                   # b"openalex" or b"store"

``engine="spark"`` runs the same definitions on PySpark over the store's Parquet export (``export_dir``,
else a temporary export made for the call).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported lazily below: `cordiale pair` must start fast (sqlglot and pyarrow are heavy)
    import pyarrow as pa

    from cordiale.observatory.curation import Curation
    from cordiale.observatory.query import ObsQuery
    from cordiale.observatory.run import Observation

__all__ = [
    "FAMILIES",
    "RULES",
    "Curation",
    "ObsQuery",
    "Observation",
    "load_curation",
    "observe_store",
    "per_work",
]


_LAZY = {
    "FAMILIES": "cordiale.observatory.query",
    "RULES": "cordiale.observatory.query",
    "ObsQuery": "cordiale.observatory.query",
    "Curation": "cordiale.observatory.curation",
    "load_curation": "cordiale.observatory.curation",
    "Observation": "cordiale.observatory.run",
}


def __getattr__(name: str) -> Any:
    """The re-exported names, imported on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)


def observe_store(
    db_path: Path,
    query: ObsQuery,
    families: Sequence[str] = ("summary",),
    curation: Curation | None = None,
    engine: str = "duckdb",
    export_dir: Path | None = None,
) -> Observation:
    """Run the asked families for a partnership on one engine (``duckdb`` or ``spark``)."""
    import tempfile

    from cordiale.observatory.curation import EMPTY
    from cordiale.observatory.engines import DuckDBEngine, SparkEngine, spark_session
    from cordiale.observatory.run import observe
    from cordiale.store.connection import reader

    curation = curation or EMPTY
    if engine == "duckdb":
        with reader(db_path) as con:
            return observe(DuckDBEngine(con), query, families, curation)
    if engine != "spark":
        from cordiale.errors import UsageError

        raise UsageError(f"--engine must be duckdb or spark, not {engine!r}")
    if export_dir is not None:  # a stale or foreign export is refused (exit 2) before Spark starts
        from cordiale.store.export import check_export_matches

        check_export_matches(db_path, export_dir)
    spark_session()  # fails early (exit 5) when PySpark or Java is missing
    if export_dir is not None:
        eng = SparkEngine(export_dir)
        try:
            if curation.size == 0:  # the reference tables, built in this session from the export
                eng.prepare()
            return observe(eng, query, families, curation)
        finally:
            eng.close()
    from cordiale.store.export import export_parquet

    with tempfile.TemporaryDirectory(prefix="cordiale-export-") as tmp:
        target = Path(tmp) / "export"
        export_parquet(db_path, target)
        eng = SparkEngine(target, label=f"temporary export of {db_path}")
        try:
            if curation.size == 0:
                eng.prepare()
            return observe(eng, query, families, curation)
        finally:
            eng.close()


def per_work(db_path: Path, query: ObsQuery, curation: Curation | None = None) -> pa.Table:
    """The per-work table (one row per work with at least one partner: weights ``w_<i>`` per partner in
    the order given, flags, classes), after curation, its invariants asserted."""
    from cordiale.observatory.curation import EMPTY
    from cordiale.observatory.engines import DuckDBEngine
    from cordiale.observatory.run import build_per_work, check_partners
    from cordiale.store.connection import reader

    curation = curation or EMPTY
    with reader(db_path) as con:
        eng = DuckDBEngine(con)
        check_partners(eng, query)
        build_per_work(eng, query, curation)
        return eng.query("SELECT * FROM o_perwork ORDER BY work_id")
