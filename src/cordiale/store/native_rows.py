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
from array import array
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


# The constant columns are built from buffers: pa.array and pa.scalar import pandas on their first call
# (a quarter of a CPU second in each parse worker), which nothing else on this path needs.


def _repeated(value: str, n: int) -> pa.Array:
    data = value.encode()
    offsets = (
        array("i", range(0, len(data) * (n + 1), len(data) or 1)) if data else array("i", bytes(4 * (n + 1)))
    )
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data * n)])


def _empty_lists(n: int) -> pa.Array:
    child = pa.Array.from_buffers(pa.string(), 0, [None, pa.py_buffer(bytes(4)), pa.py_buffer(b"")])
    return pa.Array.from_buffers(
        pa.list_(pa.string()), n, [None, pa.py_buffer(bytes(4 * (n + 1)))], children=[child]
    )


def batch_tables(raw: Mapping[str, Columns], input_path: str) -> dict[str, pa.RecordBatch]:
    """The extension's batch → one record batch per staging table (as ``staging.batch_tables``)."""
    works = raw["works"]["id"][1]  # a column's descriptor: (kind, length, ...)
    out: dict[str, pa.RecordBatch] = {}
    for name, schema in SCHEMAS.items():
        cols = raw[name]
        rows = next(iter(cols.values()))[1]
        arrays = []
        for f in schema:
            if f.name in cols:
                arrays.append(to_array(cols[f.name], f.type))
            elif f.name in ("input_path", "seen_input_path"):
                arrays.append(_repeated(input_path, rows))
            elif f.name == "_missing":  # full records only: no tracked key is missing
                arrays.append(_empty_lists(works))
            elif f.name == "from_entity_record":
                arrays.append(
                    pa.Array.from_buffers(pa.bool_(), rows, [None, pa.py_buffer(bytes(-(-rows // 8)))])
                )
            else:
                raise KeyError(f"the native parser gave no column {name}.{f.name}")
        out[name] = pa.RecordBatch.from_arrays(arrays, schema=schema)
    return out
