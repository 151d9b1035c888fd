"""The compiled parser (``store/_native.cpp``) gives the same staging rows as the msgspec path.

Each file is parsed twice through ``parse_file``, with ``CORDIALE_NATIVE=1`` and ``=0``, and every staging
table is compared row for row: on the real works, and on a file of edge cases built from a real record
(wrong types, nulls, legacy vintages, ids in other forms, escapes, invalid JSON, ...), where the lines
the compiled parser does not take come back to msgspec.
"""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from cordiale.sources.inputs import InputFile
from cordiale.store import native_rows, parse_file
from tests.conftest import raw_records
from tests.shared_data import require_native_parser, shared_path

Tables = dict[str, list[str]]


@pytest.fixture(autouse=True)
def _native_built() -> None:
    require_native_parser()


def _parse(
    path: Path,
    native: bool,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    batch: int = 10**9,
    institutions: frozenset[str] = frozenset(),
) -> tuple[parse_file.ParsedFile, Tables]:
    monkeypatch.setenv("CORDIALE_NATIVE", "1" if native else "0")
    monkeypatch.setattr(parse_file, "BATCH_RECORDS", batch)
    kind = "jsonl.gz" if path.suffix == ".gz" else "jsonl"
    out = tmp_path / ("native" if native else "msgspec") / path.name
    parsed = parse_file.parse_file(InputFile(path, kind, 0, 0.0), out, False, institutions)
    tables: Tables = {}
    for name, table_path in parsed.tables.items():
        with pa.memory_map(str(table_path)) as source:
            table = pa.ipc.open_stream(source).read_all()
        table.validate(full=True)
        tables[name] = sorted(json.dumps(r, sort_keys=True, default=str) for r in table.to_pylist())
    return parsed, tables


def _counts(p: parse_file.ParsedFile) -> tuple[Any, ...]:
    return (p.read, p.works, p.rejected, p.filtered, p.cut, p.error)


@pytest.mark.parametrize(
    "name",
    [
        "works-kfupm-2026.jsonl.gz",
        "works-fixtures-2025.jsonl.gz",
        "works_openalex-python_fixtures.jsonl",
        "works_openalexR_samples.jsonl",
    ],
)
def test_same_rows_as_msgspec_on_real_works(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = shared_path("openalex", name)
    slow, slow_tables = _parse(path, False, monkeypatch, tmp_path)
    fast, fast_tables = _parse(path, True, monkeypatch, tmp_path)
    assert slow.works > 0
    assert _counts(fast) == _counts(slow)
    for table, rows in slow_tables.items():
        assert fast_tables[table] == rows, table


def test_real_works_taken_natively() -> None:
    """The current-vintage works never fall back to msgspec (or the comparison above would prove little)."""
    module = native_rows.parser_module()
    assert module is not None
    for name in ("works-kfupm-2026.jsonl.gz", "works-fixtures-2025.jsonl.gz"):
        data = gzip.decompress(shared_path("openalex", name).read_bytes())
        parser = module.Parser()
        fallbacks = parser.feed(data) + parser.finish()
        lines, read, _, works, size = parser.counts()
        assert fallbacks == [] and works == read == lines > 300
        assert size == len(data) - data.count(b"\n")  # the bytes of the lines whose rows it holds


def test_batches_cut_by_bytes_give_the_same_rows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A batch of the compiled parser also ends after NATIVE_BATCH_BYTES of lines (its string columns stay far
    from Arrow's 2 GB offsets); cut every megabyte, the staged rows are the same."""
    path = shared_path("openalex", "works-kfupm-2026.jsonl.gz")
    _, whole = _parse(path, True, monkeypatch, tmp_path / "whole")
    monkeypatch.setattr(parse_file, "NATIVE_BATCH_BYTES", 1 << 20)
    cut, tables = _parse(path, True, monkeypatch, tmp_path / "cut")
    with pa.memory_map(str(cut.tables["works"])) as source:
        batches = sum(1 for _ in pa.ipc.open_stream(source))
    assert batches > 20
    for table, rows in whole.items():
        assert tables[table] == rows, table
    # The institutions are held back to the file's last batch: each staged once, its latest description.
    ids = [json.loads(r)["id"] for r in tables["institutions"]]
    assert len(ids) == len(set(ids)) > 100
    assert tables["institutions"] == _latest_institutions(tables["institutions"])


def test_same_rows_under_an_institution_filter(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = shared_path("openalex", "works-kfupm-2026.jsonl.gz")
    wanted = frozenset({"I1294671590", "I47508984", "I78577930"})  # CNRS, Imperial, KFUPM
    slow, slow_tables = _parse(path, False, monkeypatch, tmp_path, institutions=wanted)
    fast, fast_tables = _parse(path, True, monkeypatch, tmp_path, institutions=wanted)
    assert 0 < fast.works < fast.read and fast.filtered > 0
    assert _counts(fast) == _counts(slow)
    assert fast_tables == slow_tables


# --- edge cases -----------------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], Any]


def _set(path: str, value: Any) -> Mutation:
    """Set a dotted path (list indexes as numbers) of the record."""

    def apply(r: dict[str, Any]) -> dict[str, Any]:
        keys = path.split(".")
        node: Any = r
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        last = keys[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
        return r

    return apply


def _drop(key: str) -> Mutation:
    def apply(r: dict[str, Any]) -> dict[str, Any]:
        r.pop(key, None)
        return r

    return apply


def _legacy_affiliation(r: dict[str, Any]) -> dict[str, Any]:
    a = r["authorships"][0]
    a.pop("raw_affiliation_strings", None)
    a["raw_affiliation_string"] = "Department of Physics, Imperial College London"
    return r


def _duplicate_institution(r: dict[str, Any]) -> dict[str, Any]:
    insts = r["authorships"][0]["institutions"]
    insts.append(copy.deepcopy(insts[0]))
    return r


def _host_venue(r: dict[str, Any]) -> dict[str, Any]:
    r["host_venue"] = {"id": "https://openalex.org/S1", "display_name": "Old Journal", "issn_l": "1234-5678"}
    r["primary_location"] = None
    return r


def _duplicate_topic(r: dict[str, Any]) -> dict[str, Any]:
    r["topics"].append(copy.deepcopy(r["topics"][0]))
    return r


def _odd_sdgs(r: dict[str, Any]) -> dict[str, Any]:
    r["sustainable_development_goals"] = [
        {"id": None, "display_name": "none", "score": 0.5},
        {"id": "https://metadata.un.org/sdg/3/", "display_name": "slash", "score": 0.4},
        {"id": "https://metadata.un.org/sdg/x", "display_name": "letters", "score": 0.3},
        {"id": "https://metadata.un.org/sdg/13", "display_name": "Climate", "score": 1},
    ]
    return r


def _unicode_digit_sdg(r: dict[str, Any]) -> dict[str, Any]:
    r["sustainable_development_goals"] = [{"id": "https://metadata.un.org/sdg/\u0661", "score": 0.5}]
    return r


def _funding(r: dict[str, Any]) -> dict[str, Any]:
    r["grants"] = [{"funder": "https://openalex.org/F1", "funder_display_name": "ERC", "award_id": "101"}]
    r["funders"] = [{"id": "https://openalex.org/F2", "display_name": "EPSRC"}, {"id": None}]
    r["awards"] = [{"id": "https://openalex.org/G3", "funder_award_id": "EP/1", "funder_id": None}]
    return r


def _escapes(r: dict[str, Any]) -> dict[str, Any]:
    r["title"] = 'Caf\u00e9 "quoted" back\\slash \U0001f600 tab\there'
    r["authorships"][0]["author"]["display_name"] = "Zo\u00eb \u00c5ngstr\u00f6m"
    return r


MUTATIONS: dict[str, Mutation] = {
    "as is": lambda r: r,
    "year as a string": _set("publication_year", "2020"),
    "year as a float": _set("publication_year", 2020.0),
    "year null": _set("publication_year", None),
    "cited_by_count null": _set("cited_by_count", None),
    "title null": _set("title", None),
    "title and display_name null": lambda r: _set("display_name", None)(_set("title", None)(r)),
    "no authorships": _drop("authorships"),
    "authorships null": _set("authorships", None),
    "authorships empty": _set("authorships", []),
    "author null": _set("authorships.0.author", None),
    "institutions null": _set("authorships.0.institutions", None),
    "institution id null": _set("authorships.0.institutions.0.id", None),
    "lineage null": _set("authorships.0.institutions.0.lineage", None),
    "lineage empty": _set("authorships.0.institutions.0.lineage", []),
    "institution listed twice": _duplicate_institution,
    "legacy affiliation string": _legacy_affiliation,
    "legacy host_venue": _host_venue,
    "short work id": _set("id", "W2741809807"),
    "lower-case work id": _set("id", "https://openalex.org/w2741809808"),
    "no id": _drop("id"),
    "short author id": _set("authorships.0.author.id", "A5023888391"),
    "short topic id": _set("topics.0.id", "T10001"),
    "subfield id over http": _set("topics.0.subfield.id", "http://openalex.org/subfields/2505"),
    "subfield id without prefix": _set("topics.0.subfield.id", "subfields/2505"),
    "topic listed twice": _duplicate_topic,
    "primary topic not listed": _set("primary_topic", {"id": "https://openalex.org/T99", "score": 0.1}),
    "topics empty": _set("topics", []),
    "no topics at all": lambda r: _set("primary_topic", None)(_set("topics", None)(r)),
    "odd SDG ids": _odd_sdgs,
    "SDG number in Arabic-Indic digits": _unicode_digit_sdg,
    "funding from three sources": _funding,
    "counts_by_year null": _set("counts_by_year", None),
    "counts_by_year empty": _set("counts_by_year", []),
    "counts_by_year year null": _set("counts_by_year", [{"year": None, "cited_by_count": 3}]),
    "fwci an integer": _set("fwci", 2),
    "fwci a string": _set("fwci", "1.5"),
    "fwci a huge integer": _set("fwci", 10**30),
    "is_oa a string": _set("open_access.is_oa", "true"),
    "percentile null": _set("citation_normalized_percentile", None),
    "escapes and astral characters": _escapes,
    "abstract null": _set("abstract_inverted_index", None),
    "abstract absent": _drop("abstract_inverted_index"),
    "abstract a string": _set("abstract_inverted_index", "not an index"),
    "null reference": _set("referenced_works", [None]),
    "is_corresponding a string": _set("authorships.0.is_corresponding", "yes"),
    "institution record": lambda r: {"id": "https://openalex.org/I5", "display_name": "Lab", "lineage": None},
    "author record": lambda r: {"id": "https://openalex.org/A5", "display_name": "Someone"},
}


def _raw_variants(line: str) -> dict[str, str]:
    """Lines only raw text can express."""
    body = line[1:-1]
    record = json.loads(line)
    record.pop("abstract_inverted_index")
    bare = json.dumps(record)[1:-1]  # the record without its abstract
    return {
        "abstract with spaces": '{"abstract_inverted_index": {"a" : [0 , 2] , "b": [1] } , ' + bare + "}",
        "abstract last, escaped words": "{"
        + bare
        + ', "abstract_inverted_index" :{"caf\\u00e9": [0], "\\"q\\"}": [1]}}',
        "abstract key escaped": '{"abstract\\u005finverted_index": {"a": [0]}, ' + bare + "}",
        "the key as a word of the index": '{"abstract_inverted_index": {"abstract_inverted_index": [0]}, '
        + bare
        + "}",
        "the key nested after the abstract": "{" + body + ', "x": {"abstract_inverted_index": {"a": [1]}}}',
        "abstract twice": '{"abstract_inverted_index": {"a": [0]}, ' + body + "}",
        "title twice": '{"title": "first", ' + body + ', "title": "last"}',
        "invalid literal in an unread field": line[:-1] + ', "concepts": [tru]}',
        "leading zero in an unread field": line[:-1] + ', "x": 01}',
        "bad escape in an unread field": line[:-1] + ', "x": "\\q"}',
        "trailing characters": line + " x",
        "two objects": line + '{"a": 1}',
        "cut short": line[: len(line) // 2],
        "not JSON": "this is not JSON",
        "an array": "[1, 2]",
        "trailing comma": line[:-1] + ", }",
        "whitespace only": " \t ",
        "blank": "",
        "carriage return": line + "\r",
    }


def _edge_file(tmp_path: Path) -> tuple[Path, list[str]]:
    base = next(raw_records(shared_path("openalex", "works-fixtures-2025.jsonl.gz")))
    assert base["authorships"][0]["institutions"] and base["topics"], "the base record needs these lists"
    lines: list[str] = []
    names: list[str] = []
    for i, (name, mutate) in enumerate(MUTATIONS.items()):
        record = mutate(copy.deepcopy(base))
        if isinstance(record, dict) and str(record.get("id", "")).startswith("https://openalex.org/W"):
            record["id"] = f"https://openalex.org/W{9000000 + i}"
        if isinstance(record, dict):  # distinct dates: no institution description ties between lines
            record["updated_date"] = f"2026-01-01T00:00:{i:02d}"
        lines.append(json.dumps(record))
        names.append(name)
    plain = json.dumps({**base, "id": "https://openalex.org/W8999999", "updated_date": "2025-12-31"})
    for name, line in _raw_variants(plain).items():
        lines.append(line)
        names.append(name)
    path = tmp_path / "edge.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, names


def _latest_institutions(rows: list[str]) -> list[str]:
    """Institutions as the merge keeps them (``merge.INSTITUTION_ORDER``, one file): the latest description
    of each id, then a full record, then the greatest description, a missing value last."""

    def order(r: dict[str, Any]) -> tuple[Any, ...]:
        rest = (r["display_name"], r["ror"], r["country_code"], r["type"])
        return (
            r["seen_updated_date"] or "",
            r["from_entity_record"],
            "[" + ", ".join(r["lineage"]) + "]",
            *((v is not None, v or "") for v in rest),
        )

    best: dict[str, dict[str, Any]] = {}
    for text in rows:
        r = json.loads(text)
        seen = best.get(r["id"])
        if seen is None or order(r) > order(seen):
            best[r["id"]] = r
    return sorted(json.dumps(r, sort_keys=True) for r in best.values())


def test_same_rows_as_msgspec_on_edge_cases(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path, names = _edge_file(tmp_path)
    slow, slow_tables = _parse(path, False, monkeypatch, tmp_path)
    fast, fast_tables = _parse(path, True, monkeypatch, tmp_path)
    assert _counts(fast) == _counts(slow)
    assert slow.rejected >= 10  # the invalid lines above, quarantined by msgspec on both paths
    for table, rows in slow_tables.items():
        if table == "institutions":  # lines that fall back are staged in their own batch
            assert _latest_institutions(fast_tables[table]) == _latest_institutions(rows)
        else:
            assert fast_tables[table] == rows, table
    # The invalid JSON in fields cordiale does not read is quarantined, not stored.
    quarantined = {json.loads(r)["line"] for r in fast_tables["quarantine"]}
    for name in ("invalid literal in an unread field", "bad escape in an unread field", "two objects"):
        assert names.index(name) + 1 in quarantined, name


def test_abstract_text_taken_natively_only_where_its_key_is_unambiguous() -> None:
    """The abstract's text is cut from the line only for the record's own, unescaped key (else msgspec)."""
    module = native_rows.parser_module()
    assert module is not None
    base = next(raw_records(shared_path("openalex", "works-fixtures-2025.jsonl.gz")))
    variants = _raw_variants(json.dumps({**base, "id": "https://openalex.org/W8999999"}))
    native = ("abstract with spaces", "abstract last, escaped words")
    fallback = (
        "abstract key escaped",
        "the key as a word of the index",
        "the key nested after the abstract",
        "abstract twice",
    )
    for name in native + fallback:
        parser = module.Parser()
        back = parser.feed((variants[name] + "\n").encode()) + parser.finish()
        assert (back == []) == (name in native), name


def _plain(value: Any) -> Any:
    """take()'s columns with each buffer object (which owns a column's memory) as its bytes."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if value is None or isinstance(value, str | int):
        return value
    return bytes(memoryview(value))


def test_lines_split_across_chunks_give_the_same_batch(tmp_path: Path) -> None:
    module = native_rows.parser_module()
    assert module is not None
    path, _ = _edge_file(tmp_path)
    data = path.read_bytes()[:-1]  # the last line without its newline: finish() parses it

    def run(size: int) -> tuple[Any, ...]:
        parser = module.Parser()
        fallbacks = []
        for start in range(0, len(data), size):
            fallbacks += parser.feed(data[start : start + size])
        fallbacks += parser.finish()
        return parser.counts(), fallbacks, _plain(parser.take())

    whole = run(len(data))
    assert whole[0][0] == data.count(b"\n") + 1
    for size in (1, 7, 4096):
        assert run(size) == whole, size


def test_arrays_match_the_staging_schemas(tmp_path: Path) -> None:
    module = native_rows.parser_module()
    assert module is not None
    parser = module.Parser()
    parser.feed(shared_path("openalex", "works_openalexR_samples.jsonl").read_bytes())
    parser.finish()
    tables = native_rows.batch_tables(parser.take(), "x")
    for name, batch in tables.items():
        batch.validate(full=True)
        assert batch.schema == parse_file.SCHEMAS[name], name
    assert tables["works"].num_rows == 3 and tables["authorships"].num_rows > 3


def _described_twice(tmp_path: Path) -> Path:
    """Three works of one date naming CNRS with different types (as OpenAlex's records sometimes do)."""
    base = next(raw_records(shared_path("openalex", "works-fixtures-2025.jsonl.gz")))
    cnrs = {
        "id": "https://openalex.org/I1294671590",
        "display_name": "Centre National de la Recherche Scientifique",
        "ror": "https://ror.org/02feahw73",
        "country_code": "FR",
        "lineage": ["https://openalex.org/I1294671590"],
    }
    lines = []
    for n, types in enumerate((["funder", "government"], ["facility"], [None])):
        record = copy.deepcopy(base)
        record["id"] = f"https://openalex.org/W{7000000 + n}"
        record["updated_date"] = "2026-02-07T08:09:18.108334"
        authorship = record["authorships"][0]
        record["authorships"] = [
            {**copy.deepcopy(authorship), "institutions": [{**cnrs, "type": t}]} for t in types
        ]
        lines.append(json.dumps(record))
    path = tmp_path / "cnrs.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("batch", [1, 2, 4000])
@pytest.mark.parametrize("native", [True, False])
def test_institution_ties_resolved_alike_whatever_the_batches(
    batch: int, native: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """On a tie on date the description kept is the greatest by the merge's order (here the type
    'government'), in each batch and in the merge: both parsers, any batch size, the same store."""
    from cordiale.store.connection import reader
    from cordiale.store.ingest import ingest

    path = _described_twice(tmp_path)
    monkeypatch.setenv("CORDIALE_NATIVE", "1" if native else "0")
    monkeypatch.setattr(parse_file, "BATCH_RECORDS", batch)
    db = tmp_path / "store.duckdb"
    assert ingest([path], db, workers=1).stored == 3
    with reader(db) as con:
        rows = con.execute("SELECT type FROM institutions WHERE id = 'I1294671590'").fetchall()
    assert rows == [("government",)]
