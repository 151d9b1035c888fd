"""The pair view on real works: joint works, full and fractional, direct and lineage, against the raw JSON."""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cordiale.cli.main import app
from cordiale.indicators.pair import PairQuery, compute_pair
from cordiale.observatory.reference import prepare
from cordiale.store.connection import reader
from cordiale.store.ingest import ingest
from cordiale.store.parts import copy_store
from tests.conftest import raw_records

CNRS, IMPERIAL = "I1294671590", "I47508984"
DEFAULT_TYPES = {"article", "review", "book-chapter", "book"}
runner = CliRunner()


def _short(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def _expected(records: list[dict[str, Any]], a: str, b: str, rule: str) -> dict[int, dict[str, float]]:
    """Reference counts straight from the raw JSON, written independently of the package."""
    latest_lineage: dict[str, list[str]] = {}
    for rec in records:  # the store keeps each institution's lineage from the latest work that names it
        for au in rec["authorships"]:
            for inst in au["institutions"]:
                if not inst.get("id"):
                    continue
                key = (rec.get("updated_date") or "", _short(inst["id"]))
                prev = latest_lineage.get(key[1])
                if prev is None or key[0] >= prev[0]:
                    latest_lineage[key[1]] = [key[0], [_short(x) for x in inst.get("lineage") or []]]  # type: ignore[list-item]
    out: dict[int, dict[str, float]] = defaultdict(lambda: Counter())  # type: ignore[arg-type]
    for rec in records:
        if (
            rec.get("type") not in DEFAULT_TYPES
            or rec.get("is_retracted")
            or rec.get("publication_year") is None
        ):
            continue
        n = len(rec["authorships"])
        weights = {a: 0.0, b: 0.0}
        for au in rec["authorships"]:
            ids = list(dict.fromkeys(_short(i["id"]) for i in au["institutions"] if i.get("id")))
            for iid in ids:
                share = 1.0 / (n * len(ids))
                units = {iid}
                if rule == "lineage":
                    units |= set(latest_lineage[iid][1])  # type: ignore[arg-type]
                for p in (a, b):
                    if p in units:
                        weights[p] += share
        has = {
            p: any(
                p == _short(i["id"]) or (rule == "lineage" and p in set(latest_lineage[_short(i["id"])][1]))  # type: ignore[arg-type]
                for au in rec["authorships"]
                for i in au["institutions"]
                if i.get("id")
            )
            for p in (a, b)
        }
        year = rec["publication_year"]
        row = out[year]
        for p in (a, b):
            row[f"total_{p}"] += has[p]
        if has[a] and has[b]:
            row["joint"] += 1
            row["unaffiliated"] += sum(1.0 / n for au in rec["authorships"] if not au["institutions"])
            row["approximate"] += bool(rec.get("is_authors_truncated"))
            row["joint_fractional"] += min(1.0, weights[a]) + min(1.0, weights[b])
            row[f"w_{a}"] += min(1.0, weights[a])
            row[f"w_{b}"] += min(1.0, weights[b])
    return out


@pytest.fixture(scope="module")
def records(kfupm: Path) -> list[dict[str, Any]]:
    return list(raw_records(kfupm))


def _joint_ids(db: Path, a: str, b: str, rule: str) -> set[str]:
    with reader(db) as con:
        compute_pair(con, PairQuery((a, b), rule=rule, types=("article", "review", "book-chapter", "book")))
        return {
            r[0]
            for r in con.execute(
                "SELECT work_id FROM p_pair WHERE w_a IS NOT NULL AND w_b IS NOT NULL"
            ).fetchall()
        }


def test_cnrs_imperial_joint_works_by_rule(kfupm_store: Path) -> None:
    assert _joint_ids(kfupm_store, CNRS, IMPERIAL, "direct") == {"W4400255569"}
    assert _joint_ids(kfupm_store, CNRS, IMPERIAL, "lineage") == {"W4400255569", "W4391670111"}


def test_worked_example_fractional_weights(kfupm_store: Path) -> None:
    # W4400255569 has 5 authorships, so each carries 1/5. Two authors list both CNRS and its unit
    # LMGC (I4210115072, lineage ⊃ CNRS): 1/5 split over two institutions = 1/10 each.
    # direct: CNRS gets 1/10 + 1/10 = 0.2. lineage: LMGC's 1/10 is credited in full to CNRS as well,
    # so each of the two authorships gives 2/10, and CNRS gets 0.4. Imperial: one authorship alone, 0.2.
    for rule, w_cnrs in (("direct", 0.2), ("lineage", 0.4)):
        with reader(kfupm_store) as con:
            compute_pair(con, PairQuery((CNRS, IMPERIAL), rule=rule))
            w_a, w_b = con.execute("SELECT w_a, w_b FROM p_pair WHERE work_id = 'W4400255569'").fetchone()  # type: ignore[misc]
        assert w_a == pytest.approx(w_cnrs)
        assert w_b == pytest.approx(0.2)


def _top_pairs(records: list[dict[str, Any]], k: int) -> list[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for rec in records:
        ids = sorted(
            {_short(i["id"]) for au in rec["authorships"] for i in au["institutions"] if i.get("id")}
        )
        counts.update(itertools.combinations(ids, 2))
    return [p for p, _ in counts.most_common(k)]


@pytest.fixture(scope="module")
def prepared_store(kfupm_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real works with the reference tables built (``cordiale observe prepare``)."""
    db = tmp_path_factory.mktemp("prepared") / "store.duckdb"
    copy_store(kfupm_store, db)
    assert prepare(db).built
    return db


@pytest.mark.parametrize("path", ["raw", "prepared"])
@pytest.mark.parametrize("rule", ["direct", "lineage"])
def test_other_pairs_match_raw_json(
    kfupm_store: Path, prepared_store: Path, records: list[dict[str, Any]], rule: str, path: str
) -> None:
    """Both ways of computing the pair view (the raw tables, the prepared pair tables) against the JSON."""
    store = prepared_store if path == "prepared" else kfupm_store
    pairs = [*_top_pairs(records, 6), (CNRS, IMPERIAL)]
    checked = 0
    unaffiliated = 0.0
    for a, b in pairs:
        expected = _expected(records, a, b, rule)
        with reader(store) as con:
            rows = {
                r.year: r
                for r in compute_pair(con, PairQuery((a, b), rule=rule), prepared=path == "prepared")
            }
        for year, exp in expected.items():
            got = rows[year]
            assert got.joint == exp["joint"], (a, b, year)
            assert got.totals == {a: exp[f"total_{a}"], b: exp[f"total_{b}"]}, (a, b, year)
            assert got.joint_fractional == pytest.approx(exp["joint_fractional"], abs=1e-6)
            assert got.fractional[a] == pytest.approx(exp[f"w_{a}"], abs=1e-6)
            assert got.fractional[b] == pytest.approx(exp[f"w_{b}"], abs=1e-6)
            assert got.unaffiliated_share == pytest.approx(exp["unaffiliated"], abs=1e-6)
            assert got.approximate == exp["approximate"]
            checked += exp["joint"]
            unaffiliated += exp["unaffiliated"]
        assert sum(r.joint for r in rows.values()) == sum(e["joint"] for e in expected.values())
    assert checked > 100  # the pairs really overlap: the test is not vacuous
    assert unaffiliated > 0  # some joint works have authorships without an institution


def test_prepared_pair_tables_give_exactly_the_raw_rows(
    prepared_store: Path, records: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every field of every year, for the top pairs, both rules, and narrowed scopes; the default reads the
    prepared tables only while they are fresh."""
    import cordiale.indicators.pair as pair_mod

    scopes: list[dict[str, Any]] = [
        {},
        {"years": (2015, 2020)},
        {"types": ("article",), "include_retracted": True},
        {"types": ("journal-article", "monograph")},  # legacy values: nothing in scope, every year 0
    ]
    compared = 0
    with reader(prepared_store) as con:
        for a, b in [*_top_pairs(records, 6), (CNRS, IMPERIAL)]:
            for rule in ("direct", "lineage"):
                for scope in scopes:
                    q = PairQuery((a, b), rule=rule, **scope)
                    fast, raw = compute_pair(con, q, prepared=True), compute_pair(con, q, prepared=False)
                    assert fast == raw, (a, b, rule, scope)
                    compared += sum(r.joint for r in raw)
    assert compared > 500
    used: list[str] = []
    real = pair_mod._prepared_rows
    monkeypatch.setattr(pair_mod, "_prepared_rows", lambda con, q: used.append("prepared") or real(con, q))
    with reader(prepared_store) as con:
        compute_pair(con, PairQuery((CNRS, IMPERIAL)))
    assert used == ["prepared"]


def test_a_stale_store_reads_the_raw_tables(
    prepared_store: Path, fixtures_2025: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cordiale.indicators.pair as pair_mod

    db = tmp_path / "store.duckdb"
    copy_store(prepared_store, db)
    ingest([fixtures_2025], db, workers=1)  # the pair tables no longer describe the store
    monkeypatch.setattr(pair_mod, "_prepared_rows", lambda con, q: pytest.fail("read stale pair tables"))
    with reader(db) as con:
        rows = compute_pair(con, PairQuery((CNRS, IMPERIAL)))
    assert sum(r.joint for r in rows) == 2


def test_pair_cli_json_shape(kfupm_store: Path) -> None:
    result = runner.invoke(
        app,
        [
            "pair",
            "https://openalex.org/i1294671590",
            IMPERIAL,
            "--db",
            str(kfupm_store),
            "--format",
            "json",
            "--rule",
            "lineage",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [p["id"] for p in data["partners"]] == [CNRS, IMPERIAL]
    assert data["partners"][0]["name"] == "Centre National de la Recherche Scientifique"
    assert data["rule"] == "lineage"
    assert data["types"] == ["article", "review", "book-chapter", "book"]
    assert data["joint_total"] == 2
    years = {y["year"]: y for y in data["years"]}
    assert years[2024]["joint"] == 1 and years[2011]["joint"] == 1
    assert years[2024]["joint_fractional"] == pytest.approx(0.6)
    assert years[2024]["fractional"] == {CNRS: pytest.approx(0.4), IMPERIAL: pytest.approx(0.2)}
    assert set(years[2024]["totals"]) == {CNRS, IMPERIAL}
    assert data["store"]["path"] == str(kfupm_store) and data["store"]["latest_updated_date"]
    assert data["cordiale_version"]
    # every publication year in the store is listed when --years is not given
    with reader(kfupm_store) as con:
        all_years = {
            r[0]
            for r in con.execute(
                "SELECT DISTINCT publication_year FROM works WHERE publication_year IS NOT NULL"
            ).fetchall()
        }
    assert set(years) == all_years


def test_pair_years_types_and_csv(kfupm_store: Path) -> None:
    result = runner.invoke(
        app,
        [
            "pair",
            CNRS,
            IMPERIAL,
            "--db",
            str(kfupm_store),
            "--format",
            "csv",
            "--years",
            "2020-2025",
            "--rule",
            "lineage",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("year,rule,joint,joint_fractional")
    assert [int(line.split(",")[0]) for line in lines[1:]] == list(range(2020, 2026))
    # book-chapter left out: only the 2024 article remains; an unknown type warns, it does not fail
    result = runner.invoke(
        app,
        [
            "pair",
            CNRS,
            IMPERIAL,
            "--db",
            str(kfupm_store),
            "--format",
            "json",
            "--types",
            "article,no-such-type",
        ],
    )
    assert result.exit_code == 0
    assert "no-such-type" in result.stderr
    assert json.loads(result.stdout)["joint_total"] == 1


def test_retracted_works_left_out_unless_asked(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    joint = next(r for r in records if r["id"].endswith("W4400255569"))
    path = tmp_path / "w.jsonl"
    path.write_text(json.dumps(dict(joint, is_retracted=True)) + "\n")
    db = tmp_path / "s.duckdb"
    assert runner.invoke(app, ["ingest", str(path), "--db", str(db)]).exit_code == 0
    base = ["pair", CNRS, IMPERIAL, "--db", str(db), "--format", "json", "--rule", "direct"]
    result = runner.invoke(app, base)
    assert result.exit_code == 0 and json.loads(result.stdout)["joint_total"] == 0
    assert "no joint works" in result.stderr
    result = runner.invoke(app, [*base, "--include-retracted"])
    assert result.exit_code == 0 and json.loads(result.stdout)["joint_total"] == 1


def test_pair_empty_result_is_success_with_notice(kfupm_store: Path) -> None:
    result = runner.invoke(app, ["pair", CNRS, IMPERIAL, "--db", str(kfupm_store), "--years", "1900-1901"])
    assert result.exit_code == 0
    assert "no joint works" in result.stderr


def test_pair_missing_store_and_bad_usage(tmp_path: Path, kfupm_store: Path) -> None:
    result = runner.invoke(app, ["pair", CNRS, IMPERIAL, "--db", str(kfupm_store), "--rule", "nope"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["pair", CNRS, CNRS, "--db", str(kfupm_store)])
    assert result.exit_code == 2
