"""The compiled parser, when it is built: JSON Lines works → the staging tables' record batches.

``_native.cpp`` (simdjson) reads a file's decompressed chunks, splits them into lines and builds the
staging columns of every full, current-vintage work whose ids are canonical OpenAlex URLs. Any other line
comes back to Python and goes through ``WorkRowBuilder.add_line`` (msgspec), as every line does where the
extension is not built; both paths give the same rows (tests/test_native_rows.py). ``CORDIALE_NATIVE=0``
turns it off. Build: ``scripts/build_native.sh`` (run by ``scripts/setup.sh``; needs g++ and Debian's
libsimdjson-dev).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import pyarrow as pa

from cordiale.store.staging import SCHEMAS

_native: ModuleType | None
try:
    from cordiale.store import _native
except ImportError:  # not built here: the msgspec path does all the work
    _native = None

Columns = Mapping[str, tuple[Any, ...]]


def parser_module() -> ModuleType | None:
    """The compiled module, or None when it is not built or ``CORDIALE_NATIVE=0``."""
    if os.environ.get("CORDIALE_NATIVE", "1") == "0":
        return None
    return _native


def _buffer(data: bytes | None) -> pa.Buffer | None:
    return None if data is None else pa.py_buffer(data)


def to_array(desc: tuple[Any, ...], typ: pa.DataType) -> pa.Array:
    """One column's buffers from the extension (see ``_native.cpp``) → an Arrow array of ``typ``."""
    kind, length, nulls, valid = desc[:4]
    buffers = [_buffer(valid), pa.py_buffer(desc[4])]
    if kind == "s":
        return pa.Array.from_buffers(typ, length, [*buffers, pa.py_buffer(desc[5])], null_count=nulls)
    if kind == "list":
        child = to_array(desc[5], typ.value_type)
        return pa.Array.from_buffers(typ, length, buffers, null_count=nulls, children=[child])
    if kind == "cby":
        struct_type = typ.value_type
        fields = [struct_type.field(i) for i in range(struct_type.num_fields)]
        items = pa.StructArray.from_arrays(
            [to_array(desc[5], fields[0].type), to_array(desc[6], fields[1].type)], fields=fields
        )
        return pa.Array.from_buffers(typ, length, buffers, null_count=nulls, children=[items])
    return pa.Array.from_buffers(typ, length, buffers, null_count=nulls)


def batch_tables(raw: Mapping[str, Columns], input_path: str) -> dict[str, pa.RecordBatch]:
    """The extension's batch → one record batch per staging table (as ``staging.batch_tables``)."""
    works = raw["works"]
    ids = to_array(works["id"], pa.string())
    lines = to_array(works["input_line"], pa.int64())
    n = len(ids)
    out: dict[str, pa.RecordBatch] = {}
    for name, schema in SCHEMAS.items():
        cols = raw[name]
        owner = to_array(cols["_owner"], pa.int32()) if "_owner" in cols else None
        rows = len(owner) if owner is not None else len(to_array(cols["id"], pa.string()))
        arrays = []
        for f in schema:
            if f.name in cols:
                arrays.append(to_array(cols[f.name], f.type))
            elif f.name == "work_id" and owner is not None:
                arrays.append(ids.take(owner))
            elif f.name == "_line" and owner is not None:
                arrays.append(lines.take(owner))
            elif f.name in ("input_path", "seen_input_path"):
                arrays.append(pa.array([input_path] * rows, pa.string()))
            elif f.name == "_missing":  # full records only: no tracked key is missing
                empty = pa.array([0] * (n + 1), pa.int32())
                arrays.append(pa.ListArray.from_arrays(empty, pa.array([], pa.string())))
            elif f.name == "from_entity_record":
                arrays.append(pa.array([False] * rows, pa.bool_()))
            else:
                raise KeyError(f"the native parser gave no column {name}.{f.name}")
        out[name] = pa.RecordBatch.from_arrays(arrays, schema=schema)
    return out
