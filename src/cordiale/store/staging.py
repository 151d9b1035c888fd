"""Arrow schemas of the staging tables one parsed input file becomes (store columns + provenance)."""

from __future__ import annotations

import pyarrow as pa

from cordiale.sources.works import (
    AUTHORSHIP_COLUMNS,
    AUTHORSHIP_INSTITUTION_COLUMNS,
    FUNDING_COLUMNS,
    INSTITUTION_COLUMNS,
    REFERENCE_COLUMNS,
    SDG_COLUMNS,
    TOPIC_COLUMNS,
    WORK_COLUMNS,
    Columns,
    ParsedBatch,
)

S = pa.string()
I32 = pa.int32()
I64 = pa.int64()
F64 = pa.float64()
B = pa.bool_()
LS = pa.list_(S)

_TYPES: dict[str, pa.DataType] = {
    "publication_year": I32,
    "is_retracted": B,
    "is_paratext": B,
    "is_authors_truncated": B,
    "authors_count": I32,
    "cited_by_count": I32,
    "counts_by_year": pa.list_(pa.struct([("year", I32), ("cited_by_count", I32)])),
    "fwci": F64,
    "citation_normalized_percentile": F64,
    "is_in_top_1_percent": B,
    "is_in_top_10_percent": B,
    "is_oa": B,
    "input_line": I64,
    "_line": I64,
    "_missing": LS,
    "position": I32,
    "is_corresponding": B,
    "raw_affiliation_strings": LS,
    "countries": LS,
    "institutions_count": I32,
    "score": F64,
    "is_primary": B,
    "sdg": I32,
    "lineage": LS,
    "from_entity_record": B,
}


def _schema(columns: tuple[str, ...]) -> pa.Schema:
    return pa.schema([(name, _TYPES.get(name, S)) for name in columns])


SCHEMAS: dict[str, pa.Schema] = {
    "works": _schema(WORK_COLUMNS),
    "authorships": _schema(AUTHORSHIP_COLUMNS),
    "authorship_institutions": _schema(AUTHORSHIP_INSTITUTION_COLUMNS),
    "work_topics": _schema(TOPIC_COLUMNS),
    "work_sdgs": _schema(SDG_COLUMNS),
    "referenced_works": _schema(REFERENCE_COLUMNS),
    "work_funding": _schema(FUNDING_COLUMNS),
    "institutions": _schema(INSTITUTION_COLUMNS),
}
QUARANTINE_SCHEMA = pa.schema([("line", I64), ("record_id", S), ("reason", S), ("raw", S)])


def to_record_batch(cols: Columns, schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array(cols.data[f.name], type=f.type) for f in schema], schema=schema
    )


def batch_tables(batch: ParsedBatch) -> dict[str, pa.RecordBatch]:
    """One Arrow record batch per staging table."""
    out = {name: to_record_batch(getattr(batch, name), schema) for name, schema in SCHEMAS.items()}
    q = batch.quarantine
    out["quarantine"] = pa.RecordBatch.from_arrays(
        [
            pa.array([r.line for r in q], I64),
            pa.array([r.record_id for r in q], S),
            pa.array([r.reason for r in q], S),
            pa.array([r.raw for r in q], S),
        ],
        schema=QUARANTINE_SCHEMA,
    )
    return out
