"""The ROR loader on the real registry files in ../shared/data/ror (schema v1 and v2, dump and JSONL).

Expected counts are computed here straight from the raw JSON, independently of the loader.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import gzip
import json
import time
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from cordiale.cli.main import app
from cordiale.errors import ExitCode, InputUnreadableError
from cordiale.sources.ror import RorLoadSummary, load_ror
from tests.shared_data import shared_path

V2 = "ror_records_latest_v2schema.jsonl.gz"
V1 = "ror_records_latest_v1schema_only.jsonl.gz"
DUMP = "sample_official_dump_format_v1.17.1-2022-12-16-ror-data.json"
CNRS = "cnrs_02feahw73.json"
IMPERIAL = "imperial_041kmwe10.json"
ROR_TABLES = ("ror_organizations", "ror_names", "ror_relations", "ror_external_ids")


def ror_file(name: str) -> Path:
    return shared_path("ror", name)


# ---------------------------------------------------------------------------------------------------------
# Expectations from the raw JSON
# ---------------------------------------------------------------------------------------------------------
@functools.cache
def raw_records(path: Path) -> list[dict[str, Any]]:
    """The records of a file, parsed with the standard library (cached: do not modify them)."""
    if path.name.endswith(".jsonl.gz"):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, list) else [data]


def short(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def expected_counts(*files: Path) -> dict[str, int]:
    """Rows per ROR table once ``files`` are loaded in order (the last version of an id wins)."""
    latest: dict[str, dict[str, Any]] = {}
    for path in files:
        for rec in raw_records(path):
            latest[short(rec["id"])] = rec
    names = relations = external = 0
    for rec in latest.values():
        if "names" in rec:  # v2
            names += len({(n["value"], t, n["lang"]) for n in rec["names"] for t in n["types"]})
            ext = {(e["type"], v) for e in rec["external_ids"] for v in [*e["all"], e["preferred"]] if v}
        else:  # v1
            items = {(rec["name"], "ror_display", None)}
            items |= {(label["label"], "label", label["iso639"]) for label in rec["labels"]}
            items |= {(a, "alias", None) for a in rec["aliases"]}
            items |= {(a, "acronym", None) for a in rec["acronyms"]}
            names += len(items)
            ext = set()
            for kind, e in rec["external_ids"].items():
                values = [e["all"]] if isinstance(e["all"], str) else e["all"]
                ext |= {(kind.lower(), v) for v in [*values, e["preferred"]] if v}
        external += len(ext)
        relations += len({(r["id"], r["type"].lower()) for r in rec["relationships"]})
    return {
        "ror_organizations": len(latest),
        "ror_names": names,
        "ror_relations": relations,
        "ror_external_ids": external,
    }


def counts(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ROR_TABLES}  # type: ignore[index]


def snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the ROR tables and the quarantine, sorted."""
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in (*ROR_TABLES, "quarantine")
        }


def query(db: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


# ---------------------------------------------------------------------------------------------------------
# The v2 registry, loaded once for the module
# ---------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def v2_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RorLoadSummary, float]:
    path = ror_file(V2)
    db = tmp_path_factory.mktemp("ror_v2") / "store.duckdb"
    started = time.perf_counter()
    summary = load_ror([path], db)
    return db, summary, time.perf_counter() - started


def test_v2_counts_match_the_raw_file(v2_store: tuple[Path, RorLoadSummary, float]) -> None:
    db, summary, seconds = v2_store
    raw = raw_records(ror_file(V2))
    assert summary.records_read == summary.records_stored == len(raw) == 35_990
    assert summary.records_rejected == 0
    assert counts(db) == expected_counts(ror_file(V2))
    assert query(db, "SELECT count(*) FROM quarantine") == [(0,)]
    assert query(db, "SELECT DISTINCT schema_version FROM ror_organizations") == [("2",)]
    assert seconds < 30, f"loading the v2 file took {seconds:.1f} s"


def test_v2_one_row_per_organisation_and_display_name(v2_store: tuple[Path, RorLoadSummary, float]) -> None:
    db, _, _ = v2_store
    assert query(db, "SELECT count(*) - count(DISTINCT ror_id) FROM ror_organizations") == [(0,)]
    # every organisation has exactly one ror_display name, equal to its name
    assert query(
        db,
        """SELECT count(*) FROM ror_organizations o
           WHERE (SELECT count(*) FROM ror_names n WHERE n.ror_id = o.ror_id AND n.kind = 'ror_display'
                  AND n.name = o.name) <> 1""",
    ) == [(0,)]
    kinds = {k for (k,) in query(db, "SELECT DISTINCT kind FROM ror_names")}
    assert kinds == {"ror_display", "label", "alias", "acronym"}
    types = {t for (t,) in query(db, "SELECT DISTINCT type FROM ror_relations")}
    assert types == {"parent", "child", "related", "predecessor", "successor"}


def test_v2_fields_of_one_record_match_the_raw_json(v2_store: tuple[Path, RorLoadSummary, float]) -> None:
    db, _, _ = v2_store
    raw = next(r for r in raw_records(ror_file(V2)) if r["id"].endswith("000025p04"))
    geo = raw["locations"][0]["geonames_details"]
    row = query(db, "SELECT * EXCLUDE (input_path) FROM ror_organizations WHERE ror_id = '000025p04'")
    assert row == [
        (
            "000025p04",
            "Thailand Science Research and Innovation",
            raw["status"],
            raw["types"],
            raw["established"],
            geo["country_code"],
            geo["country_name"],
            geo["name"],
            geo["lat"],
            geo["lng"],
            "2",
        )
    ]
    assert query(
        db, "SELECT name, kind, lang FROM ror_names WHERE ror_id = '000025p04' ORDER BY ALL"
    ) == sorted((n["value"], t, n["lang"]) for n in raw["names"] for t in n["types"])
    assert query(db, "SELECT * EXCLUDE (ror_id) FROM ror_relations WHERE ror_id = '000025p04'") == [
        ("03gd1bh37", "predecessor", "Thailand Research Fund")
    ]
    assert query(db, "SELECT * EXCLUDE (ror_id) FROM ror_external_ids WHERE ror_id = '000025p04'") == [
        ("fundref", "501100017170", True)
    ]


# ---------------------------------------------------------------------------------------------------------
# Schema v1: the v1-only registry and the official dump format
# ---------------------------------------------------------------------------------------------------------
def test_v1_only_file(tmp_path: Path) -> None:
    path = ror_file(V1)
    db = tmp_path / "store.duckdb"
    summary = load_ror([path], db)
    assert summary.records_read == summary.records_stored == 15_380
    assert counts(db) == expected_counts(path)
    assert query(db, "SELECT DISTINCT schema_version FROM ror_organizations") == [("1",)]
    # types and relation types lower-case, as in v2
    assert {t for (t,) in query(db, "SELECT DISTINCT unnest(types) FROM ror_organizations")} <= {
        "education",
        "healthcare",
        "company",
        "archive",
        "nonprofit",
        "government",
        "facility",
        "other",
        "funder",
    }
    assert {t for (t,) in query(db, "SELECT DISTINCT type FROM ror_relations")} == {
        "parent",
        "child",
        "related",
        "predecessor",
        "successor",
    }
    row = query(db, "SELECT * EXCLUDE (input_path) FROM ror_organizations WHERE ror_id = '000050t83'")
    assert row == [
        (
            "000050t83",
            "Electronic Navigation Research Institute",
            "active",
            ["facility"],
            1961,
            "JP",
            "Japan",
            "Tokyo",
            35.6895,
            139.69171,
            "1",
        ),
    ]
    assert ("電子航法研究所", "label", "ja") in query(
        db, "SELECT name, kind, lang FROM ror_names WHERE ror_id = '000050t83'"
    )
    # GRID's `all` is one string in v1: kept as one preferred id
    assert query(
        db,
        "SELECT external_id, preferred FROM ror_external_ids WHERE ror_id = '000050t83' AND id_type = 'grid'",
    ) == [("grid.471421.5", True)]


def test_official_dump_sample(tmp_path: Path) -> None:
    path = ror_file(DUMP)
    db = tmp_path / "store.duckdb"
    summary = load_ror([path], db)
    raw = raw_records(path)
    assert summary.records_read == summary.records_stored == len(raw) == 29
    assert counts(db) == expected_counts(path)
    anu = next(r for r in raw if r["id"].endswith("019wvm592"))
    assert query(
        db, "SELECT name, country_code, city, lat, lng FROM ror_organizations WHERE ror_id = '019wvm592'"
    ) == [
        (
            "Australian National University",
            "AU",
            "Canberra",
            anu["addresses"][0]["lat"],
            anu["addresses"][0]["lng"],
        )
    ]
    children = sorted(short(r["id"]) for r in anu["relationships"] if r["type"] == "Child")
    assert [
        c
        for (c,) in query(
            db,
            "SELECT related_ror_id FROM ror_relations WHERE ror_id = '019wvm592' AND type = 'child' "
            "ORDER BY 1",
        )
    ] == children


def test_dump_inside_a_zip_and_gzipped(tmp_path: Path) -> None:
    """The release zip (with v1 and v2 members: v2 is read), and a gzipped dump, give the same rows."""
    dump, cnrs, imperial = ror_file(DUMP), ror_file(CNRS), ror_file(IMPERIAL)
    v2_array = json.dumps([json.loads(cnrs.read_text()), json.loads(imperial.read_text())])
    archive = tmp_path / "v1.17.1-2022-12-16-ror-data.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(dump, "v1.17.1-2022-12-16-ror-data.json")
        zf.writestr("v1.17.1-2022-12-16-ror-data_schema_v2.json", v2_array)
    summary = load_ror([archive], tmp_path / "zip.duckdb")
    assert summary.records_stored == 2
    assert counts(tmp_path / "zip.duckdb") == expected_counts(cnrs, imperial)

    only_v1 = tmp_path / "only-v1.zip"
    with zipfile.ZipFile(only_v1, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(dump, "v1.17.1-2022-12-16-ror-data.json")
    gz = tmp_path / "dump.json.gz"
    gz.write_bytes(gzip.compress(dump.read_bytes()))
    load_ror([dump], tmp_path / "plain.duckdb")
    load_ror([only_v1], tmp_path / "v1zip.duckdb")
    load_ror([gz], tmp_path / "gz.duckdb")
    plain = {k: v for k, v in snapshot(tmp_path / "plain.duckdb").items() if k != "ror_organizations"}
    for other in ("v1zip.duckdb", "gz.duckdb"):
        assert {k: v for k, v in snapshot(tmp_path / other).items() if k != "ror_organizations"} == plain
        assert query(tmp_path / other, "SELECT count(*) FROM ror_organizations") == [(29,)]


# ---------------------------------------------------------------------------------------------------------
# The CNRS and Imperial records
# ---------------------------------------------------------------------------------------------------------
def test_cnrs_record(tmp_path: Path) -> None:
    path = ror_file(CNRS)
    db = tmp_path / "store.duckdb"
    load_ror([path], db)
    raw = raw_records(path)[0]
    raw_children = [r for r in raw["relationships"] if r["type"] == "child"]
    assert len(raw_children) == 1_019
    stored = query(db, "SELECT count(*) FROM ror_relations WHERE ror_id = '02feahw73' AND type = 'child'")
    assert stored == [(len(raw_children),)]
    assert counts(db) == expected_counts(path)
    assert query(
        db, "SELECT name, country_code, lat, lng FROM ror_organizations WHERE ror_id = '02feahw73'"
    ) == [("Centre National de la Recherche Scientifique", "FR", 48.85341, 2.3488)]
    names = query(db, "SELECT name, kind, lang FROM ror_names WHERE ror_id = '02feahw73' ORDER BY ALL")
    assert ("Centre National de la Recherche Scientifique", "label", "fr") in names
    assert ("Centre National de la Recherche Scientifique", "ror_display", "fr") in names
    assert ("French National Centre for Scientific Research", "label", "en") in names
    assert ("CNRS", "acronym", None) in names


def test_imperial_record(tmp_path: Path) -> None:
    path = ror_file(IMPERIAL)
    db = tmp_path / "store.duckdb"
    load_ror([path], db)
    assert counts(db) == expected_counts(path)
    assert query(db, "SELECT * EXCLUDE (input_path) FROM ror_organizations") == [
        (
            "041kmwe10",
            "Imperial College London",
            "active",
            ["education", "funder"],
            1907,
            "GB",
            "United Kingdom",
            "London",
            51.50853,
            -0.12574,
            "2",
        ),
    ]
    assert ("Coleg Imperial Llundain", "label", "cy") in query(db, "SELECT name, kind, lang FROM ror_names")
    assert query(db, "SELECT type, count(*) FROM ror_relations GROUP BY 1 ORDER BY 1") == [
        ("child", 5),
        ("related", 15),
    ]


# ---------------------------------------------------------------------------------------------------------
# Idempotence and replacement
# ---------------------------------------------------------------------------------------------------------
def test_loading_twice_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "https://ror.org/041kmwe10", "names": 3}\n', encoding="utf-8")
    files = [ror_file(V1), ror_file(DUMP), ror_file(CNRS), bad]
    load_ror(files, db)
    first = snapshot(db)
    load_ror(files, db)
    assert snapshot(db) == first
    assert len(first["quarantine"]) == 1
    assert counts(db) == expected_counts(*files[:3])


def test_a_file_is_parsed_whole_before_the_writer_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Readers (the web app) wait for a ROR load's write only, never for its parse."""
    import cordiale.sources.ror as ror_module

    events: list[str] = []
    real_writer, real_parse = ror_module.writer, ror_module._parse

    @contextlib.contextmanager
    def spy_writer(*args: Any, **kwargs: Any) -> Iterator[duckdb.DuckDBPyConnection]:
        events.append("writer taken")
        with real_writer(*args, **kwargs) as con:
            yield con
        events.append("writer released")

    def spy_parse(raw: bytes) -> Any:
        events.append("parse")
        return real_parse(raw)

    monkeypatch.setattr(ror_module, "writer", spy_writer)
    monkeypatch.setattr(ror_module, "_parse", spy_parse)
    db = tmp_path / "s.duckdb"
    load_ror([ror_file(CNRS), ror_file(V1)], db)
    n1 = len(raw_records(ror_file(V1)))
    assert events.count("writer taken") == 2 and events.count("parse") == 1 + n1
    # each file: its records parsed, then the writer taken and released with no parse in between
    first, second = (i for i, e in enumerate(events) if e == "writer taken")
    assert events[:first] == ["parse"] and events[first + 1] == "writer released"
    assert events[first + 2 : second] == ["parse"] * n1 and events[second + 1 :] == ["writer released"]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT COUNT(*) FROM ror_organizations").fetchone() == (1 + n1,)


def test_a_later_record_replaces_the_earlier_one(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    imperial = ror_file(IMPERIAL)
    load_ror([imperial], db)
    record = json.loads(imperial.read_text())
    record["names"] = [
        {"lang": "en", "types": ["ror_display", "label"], "value": "Imperial College (renamed)"}
    ]
    record["relationships"] = record["relationships"][:1]
    record["locations"] = []
    newer = tmp_path / "newer.jsonl"
    newer.write_text(json.dumps(record) + "\n", encoding="utf-8")
    load_ror([newer], db)
    assert query(db, "SELECT name, lat, input_path FROM ror_organizations") == [
        ("Imperial College (renamed)", None, str(newer))
    ]
    assert query(db, "SELECT name, kind FROM ror_names ORDER BY ALL") == [
        ("Imperial College (renamed)", "label"),
        ("Imperial College (renamed)", "ror_display"),
    ]
    assert query(db, "SELECT count(*) FROM ror_relations") == [(1,)]
    assert query(db, "SELECT count(*) FROM ror_external_ids") == [(9,)]  # unchanged ids, not doubled


def test_a_duplicate_in_one_file_keeps_the_last(tmp_path: Path) -> None:
    record = json.loads(ror_file(IMPERIAL).read_text())
    second = dict(record, established=1908)
    path = tmp_path / "dup.jsonl"
    path.write_text(json.dumps(record) + "\n" + json.dumps(second) + "\n", encoding="utf-8")
    summary = load_ror([path], tmp_path / "store.duckdb")
    assert (summary.records_read, summary.records_stored, summary.records_rejected) == (2, 1, 0)
    assert query(tmp_path / "store.duckdb", "SELECT established FROM ror_organizations") == [(1908,)]
    assert counts(tmp_path / "store.duckdb") == expected_counts(ror_file(IMPERIAL))


# ---------------------------------------------------------------------------------------------------------
# Bad records and unreadable files
# ---------------------------------------------------------------------------------------------------------
def test_bad_records_are_quarantined_with_their_line(tmp_path: Path) -> None:
    good = json.loads(ror_file(IMPERIAL).read_text())
    no_id = {k: v for k, v in json.loads(ror_file(CNRS).read_text()).items() if k != "id"}
    wrong_type = dict(good, id="https://ror.org/02feahw73", established="1939")
    not_ror = dict(good, id="https://example.org/imperial")
    lines = [
        json.dumps(good),  # 1: stored
        '{"id": "https://ror.org/00x9ewr78", "names": [',  # 2: not JSON
        "",  # 3: blank, skipped
        json.dumps(no_id),  # 4: no id
        json.dumps(wrong_type),  # 5: established is text
        "[1, 2]",  # 6: not an object
        json.dumps(not_ror),  # 7: not a ROR id
        json.dumps({"id": "https://ror.org/03gd1bh37", "status": "active"}),  # 8: no name at all
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = tmp_path / "store.duckdb"
    summary = load_ror([path], db)
    assert (summary.records_read, summary.records_stored, summary.records_rejected) == (7, 1, 6)
    assert query(db, "SELECT ror_id FROM ror_organizations") == [("041kmwe10",)]
    rows = query(db, "SELECT input_path, line, record_id, reason, raw FROM quarantine ORDER BY line")
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (str(path), 2, None),
        (str(path), 4, None),
        (str(path), 5, "https://ror.org/02feahw73"),
        (str(path), 6, None),
        (str(path), 7, "https://example.org/imperial"),
        (str(path), 8, "https://ror.org/03gd1bh37"),
    ]
    reasons = [r[3] for r in rows]
    assert "id" in reasons[1] and "established" in reasons[2] and "ROR id" in reasons[4]
    assert [r[4] for r in rows] == [lines[i - 1] for i in (2, 4, 5, 6, 7, 8)]


def test_a_bad_element_of_a_json_array_gets_its_position(tmp_path: Path) -> None:
    dump = copy.deepcopy(raw_records(ror_file(DUMP)))
    dump[4]["types"] = "Education"  # a string instead of a list
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(dump, indent=2), encoding="utf-8")
    db = tmp_path / "store.duckdb"
    summary = load_ror([path], db)
    assert (summary.records_read, summary.records_stored, summary.records_rejected) == (29, 28, 1)
    assert query(db, "SELECT line, record_id FROM quarantine") == [(5, dump[4]["id"])]


def test_missing_and_unreadable_files_are_named_after_the_others_load(tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl.gz"
    not_gzip = tmp_path / "broken.jsonl.gz"
    not_gzip.write_bytes(b"this is not gzip")
    cut_before_any_record = tmp_path / "cut_early.jsonl.gz"  # not one complete line: unreadable as a whole
    cut_before_any_record.write_bytes(ror_file(V1).read_bytes()[:500])
    db = tmp_path / "store.duckdb"
    with pytest.raises(InputUnreadableError) as info:
        load_ror([missing, not_gzip, cut_before_any_record, ror_file(IMPERIAL)], db)
    message = str(info.value)
    assert str(missing) in message and str(not_gzip) in message and str(cut_before_any_record) in message
    assert "truncated input: ends early at line 1" in message
    assert str(ror_file(IMPERIAL)) not in message
    # the readable file was loaded; the unreadable ones left nothing behind (one transaction per file)
    assert query(db, "SELECT ror_id FROM ror_organizations") == [("041kmwe10",)]
    assert query(db, "SELECT count(*) FROM quarantine") == [(0,)]
    summary = info.value.summary  # type: ignore[attr-defined]
    assert [f.error is None for f in summary.files] == [False, False, False, True]


def complete_lines_of_cut_gzip(data: bytes) -> list[bytes]:
    """The complete lines (newline-terminated) a cut gzip holds, decompressed with the standard library."""
    text = zlib.decompressobj(wbits=31).decompress(data)
    return text.split(b"\n")[:-1]


def test_a_truncated_json_lines_gzip_keeps_every_record_before_the_cut(tmp_path: Path) -> None:
    cut = tmp_path / "t.jsonl.gz"
    cut.write_bytes(ror_file(V2).read_bytes()[:3_000_000])  # `head -c 3000000`
    complete = complete_lines_of_cut_gzip(cut.read_bytes())
    ids = sorted(short(json.loads(line)["id"]) for line in complete)
    assert len(ids) > 10_000
    db = tmp_path / "store.duckdb"
    summary = load_ror([cut], db)  # no error: the file was read in part
    f = summary.files[0]
    assert f.error is None
    assert (f.records_read, f.records_stored, f.records_rejected) == (len(ids), len(ids), 1)
    assert [r[0] for r in query(db, "SELECT ror_id FROM ror_organizations ORDER BY ror_id")] == ids
    rows = query(db, "SELECT input_path, line, record_id, reason, raw FROM quarantine")
    assert len(rows) == 1
    path, line, record_id, reason, raw = rows[0]
    assert (path, line, record_id, raw) == (str(cut.resolve()), len(ids) + 1, None, "")
    assert reason.startswith(f"truncated input: ends early at line {len(ids) + 1} (")
    assert f"the {len(ids):,} records before it were read" in reason
    assert f.cut == (len(ids) + 1, reason)
    # loading it again changes nothing (the cut's quarantine row is replaced, not added)
    before = snapshot(db)
    load_ror([cut], db)
    assert snapshot(db) == before


def test_a_cut_on_a_line_boundary_names_the_next_line(tmp_path: Path) -> None:
    records = raw_records(ror_file(DUMP))[:5]
    whole = gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode(), mtime=0)
    # cut inside the gzip trailer: every line is decompressed, only the end-of-stream check fails
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole[:-4])
    summary = load_ror([cut], tmp_path / "store.duckdb")
    assert summary.files[0].records_stored == 5
    assert summary.files[0].cut is not None and summary.files[0].cut[0] == 6


@pytest.mark.parametrize("compressed", [False, True])
def test_a_truncated_json_array_dump_is_a_clear_error(tmp_path: Path, compressed: bool) -> None:
    content = ror_file(DUMP).read_bytes()
    if compressed:
        path = tmp_path / "dump.json.gz"
        path.write_bytes(gzip.compress(content)[:-2_000])
        where = "the gzip stream ends early, after"
    else:
        path = tmp_path / "dump.json"
        path.write_bytes(content[:30_000])
        line = content[:30_000].count(b"\n") + 1
        where = f"the JSON array ends early, at byte 30,000 (line {line:,})"
    db = tmp_path / "store.duckdb"
    with pytest.raises(InputUnreadableError) as info:
        load_ror([path], db)
    message = str(info.value)
    assert str(path) in message and "truncated: " in message and where in message
    assert "nothing of this file was loaded" in message
    assert not db.exists()  # the file is parsed before the store is opened: nothing to write, no store


def test_the_quarantine_names_the_resolved_path_and_a_reload_replaces_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`rbad.jsonl` and `/abs/…/rbad.jsonl` are one file: one set of quarantine rows, absolute path."""
    (tmp_path / "sub").mkdir()
    bad = tmp_path / "rbad.jsonl"
    good = json.loads(ror_file(IMPERIAL).read_text())
    bad.write_text(
        json.dumps(good) + "\n" + '{"id": "https://ror.org/02feahw73", "names": 3}\n', encoding="utf-8"
    )
    db = tmp_path / "store.duckdb"
    monkeypatch.chdir(tmp_path / "sub")
    load_ror([Path("../rbad.jsonl")], db)
    monkeypatch.chdir(tmp_path)
    load_ror([Path("rbad.jsonl")], db)
    load_ror([bad], db)
    absolute = str(bad.resolve())
    assert query(db, "SELECT input_path, line, record_id FROM quarantine") == [
        (absolute, 2, "https://ror.org/02feahw73")
    ]
    assert query(db, "SELECT ror_id, input_path FROM ror_organizations") == [("041kmwe10", absolute)]


def test_progress_reports_records_read(tmp_path: Path) -> None:
    seen: list[tuple[Path, int]] = []
    path = ror_file(V1)
    load_ror([path], tmp_path / "store.duckdb", progress=lambda p, n: seen.append((p, n)))
    assert seen[-1] == (path, 15_380)
    assert [n for _, n in seen] == sorted(n for _, n in seen)


def test_json_lines_and_json_array_give_the_same_rows(tmp_path: Path) -> None:
    """The dump's records as plain JSON Lines (.jsonl) load exactly as the array does."""
    lines = tmp_path / "dump.jsonl"
    lines.write_text("".join(json.dumps(r) + "\n" for r in raw_records(ror_file(DUMP))), encoding="utf-8")
    load_ror([lines], tmp_path / "a.duckdb")
    load_ror([ror_file(DUMP)], tmp_path / "b.duckdb")
    a, b = snapshot(tmp_path / "a.duckdb"), snapshot(tmp_path / "b.duckdb")
    assert a["ror_organizations"] != b["ror_organizations"]  # input_path differs
    assert {k: v for k, v in a.items() if k != "ror_organizations"} == {
        k: v for k, v in b.items() if k != "ror_organizations"
    }
    assert query(
        tmp_path / "a.duckdb", "SELECT * EXCLUDE (input_path) FROM ror_organizations ORDER BY ALL"
    ) == query(tmp_path / "b.duckdb", "SELECT * EXCLUDE (input_path) FROM ror_organizations ORDER BY ALL")


def test_cli_exit_codes_for_truncated_inputs(tmp_path: Path) -> None:
    """A cut JSON Lines gzip: exit 0 (as works ingest), its file:line on stderr; a cut JSON array: exit 2."""
    runner = CliRunner()
    db = tmp_path / "store.duckdb"
    cut = tmp_path / "t.jsonl.gz"
    cut.write_bytes(ror_file(V2).read_bytes()[:3_000_000])
    n = len(complete_lines_of_cut_gzip(cut.read_bytes()))
    result = runner.invoke(app, ["ror", "load", str(cut), "--db", str(db)])
    assert result.exit_code == ExitCode.OK, result.output
    assert f"{cut}:{n + 1}: truncated input: ends early at line {n + 1}" in result.stderr
    assert counts(db)["ror_organizations"] == n
    dump = tmp_path / "dump.json"
    dump.write_bytes(ror_file(DUMP).read_bytes()[:30_000])
    result = runner.invoke(app, ["ror", "load", str(dump), "--db", str(db)])
    assert result.exit_code == ExitCode.USAGE
    flat = " ".join(result.stderr.split())
    assert "dump.json" in flat and "truncated: the JSON array ends early, at byte 30,000" in flat


def test_a_line_that_is_not_utf8_is_quarantined(tmp_path: Path) -> None:
    good = ror_file(IMPERIAL).read_text().replace("\n", " ").encode()
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b'{"id": "https://ror.org/02feahw73", "name": "CNRS \xaa"}\n' + good + b"\n")
    db = tmp_path / "store.duckdb"
    summary = load_ror([path], db)
    assert (summary.records_read, summary.records_stored, summary.records_rejected) == (2, 1, 1)
    [(line, record_id, reason)] = query(db, "SELECT line, record_id, reason FROM quarantine")
    assert (line, record_id) == (1, None) and reason.startswith("not valid UTF-8")


def test_a_gzip_corrupt_part_way_keeps_the_records_before(tmp_path: Path) -> None:
    data = bytearray(ror_file(V1).read_bytes())
    data[400_000:400_400] = bytes(b ^ 0xFF for b in data[400_000:400_400])
    path = tmp_path / "corrupt.jsonl.gz"
    path.write_bytes(bytes(data))
    db = tmp_path / "store.duckdb"
    summary = load_ror([path], db)
    f = summary.files[0]
    assert f.error is None and f.cut is not None
    assert f.cut[1].startswith(f"corrupt input: stops at line {f.cut[0]} (")
    stored = {r[0] for r in query(db, "SELECT ror_id FROM ror_organizations")}
    original = [short(r["id"]) for r in raw_records(ror_file(V1))]
    assert len(stored) > 1_000 and stored <= set(original)
    assert query(db, "SELECT count(*) FROM quarantine WHERE line = ? AND reason = ?", list(f.cut)) == [(1,)]
