"""The observatory on DuckDB: hand-built stores with known answers, real pairs vs the raw JSON, the CLI."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cordiale.cli.main import app
from cordiale.errors import UsageError
from cordiale.indicators import ObsQuery, load_curation, observe_store, per_work
from cordiale.indicators.pair import DEFAULT_TYPES, PairQuery, compute_pair
from cordiale.observatory import growth as g
from cordiale.observatory.engines import DuckDBEngine
from cordiale.observatory.pipeline import invariant_checks
from cordiale.observatory.query import DEFAULT_TYPES as OBS_DEFAULT_TYPES
from cordiale.observatory.regions import GLOBAL_SOUTH, country_regions
from cordiale.observatory.run import build_per_work
from cordiale.sources.ror import load_ror
from cordiale.store.connection import reader
from cordiale.store.parts import copy_store
from tests.conftest import raw_records
from tests.obs_stores import Inst, Work, build_store, ror_hierarchy_store
from tests.shared_data import shared_path

runner = CliRunner()
KFUPM, ARAMCO, KAUST = "I134085113", "I4210143841", "I71920554"


def rows(obs: Any, family: str, section: str | None = None) -> list[dict[str, Any]]:
    return list(obs.sections[family][section or family].to_pylist())


def one(items: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [r for r in items if all(r.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, found)
    return found[0]


# ---------------------------------------------------------------- hand-built stores: counting conventions


@pytest.fixture()
def fractions_store(tmp_path: Path) -> Path:
    insts = [
        Inst("IA", "A", country="FR"),
        Inst("IB", "B", country="GB"),
        Inst("IX", "X", country="KE", type="company"),
        Inst("IL", "Joint lab", country="FR", lineage=("IA", "IB")),  # a joint unit with two parents
    ]
    works = [
        # N = 4: [A] 1/4 to A; [A, B] 1/8 each; [] unaffiliated 1/4; [X] 1/4 to X
        Work("W1", authors=[["IA"], ["IA", "IB"], [], ["IX"]], funders=[("F1", "G1")], sdgs=[3, 13]),
        # one author in the joint lab only: joint under lineage (w_A = w_B = 1), not under direct
        Work("W2", year=2021, authors=[["IL"]], oa_status="closed"),
        Work("W3", year=2021, authors=[["IA"], ["IA"]]),  # A only
        Work("W4", year=2021, type="preprint", authors=[["IA"], ["IB"]]),  # type not selected
        Work("W5", year=2021, authors=[["IA"], ["IB"]], retracted=True),  # retracted: left out
    ]
    return build_store(tmp_path / "frac.duckdb", insts, works)


def test_author_level_fractions_and_unaffiliated_share(fractions_store: Path) -> None:
    table = per_work(fractions_store, ObsQuery(partners=("IA", "IB"), rule="direct"))
    got = {r["work_id"]: r for r in table.to_pylist()}
    assert set(got) == {"W1", "W2", "W3"} - {"W2"}  # W2's lab is neither A nor B under direct
    assert got["W1"]["w_0"] == pytest.approx(3 / 8) and got["W1"]["w_1"] == pytest.approx(1 / 8)
    assert got["W1"]["unaffiliated_share"] == pytest.approx(0.25)
    assert got["W1"]["n_partners"] == 2 and got["W3"]["n_partners"] == 1
    assert got["W3"]["w_0"] == pytest.approx(1.0) and got["W3"]["w_1"] is None
    obs = observe_store(fractions_store, ObsQuery(partners=("IA", "IB"), rule="direct"), ["summary"])
    total_a = one(rows(obs, "summary"), partner="IA", year=None)
    assert total_a["joint"] == 1 and total_a["joint_fractional"] == pytest.approx(0.5)
    assert total_a["partner_fractional"] == pytest.approx(3 / 8) and total_a["partner_total"] == 2
    assert total_a["unaffiliated_share"] == pytest.approx(0.25)
    assert total_a["joint_share"] == pytest.approx(0.5)


def test_joint_unit_with_two_parents_counts_for_both_under_lineage(fractions_store: Path) -> None:
    table = per_work(fractions_store, ObsQuery(partners=("IA", "IB"), rule="lineage"))
    w2 = one(table.to_pylist(), work_id="W2")
    assert (w2["w_0"], w2["w_1"], w2["n_partners"]) == (1.0, 1.0, 2)
    obs = observe_store(fractions_store, ObsQuery(partners=("IA", "IB"), rule="lineage"), ["summary"])
    row = one(rows(obs, "summary"), partner="IB", year=2021)
    assert row["joint"] == 1 and row["joint_fractional"] == pytest.approx(2.0)


# OpenAlex stores an institution's ROR id as the full URL, the ROR tables as the bare 9-character id
ROR_FORMS = pytest.mark.parametrize("ror_prefix", ["", "https://ror.org/"], ids=["bare", "url"])


@ROR_FORMS
def test_ror_rule_rolls_child_units_up_to_their_parents(tmp_path: Path, ror_prefix: str) -> None:
    db = ror_hierarchy_store(tmp_path / "ror.duckdb", ror_prefix)
    for rule, joint in (("direct", set()), ("lineage", set()), ("ror", {"W1", "W2"})):
        table = per_work(db, ObsQuery(partners=("IA", "IB"), rule=rule))
        assert {r["work_id"] for r in table.to_pylist() if r["n_partners"] == 2} == joint, rule
    w2 = one(per_work(db, ObsQuery(partners=("IA", "IB"), rule="ror")).to_pylist(), work_id="W2")
    assert w2["w_0"] == pytest.approx(0.5) and w2["w_1"] == pytest.approx(1.0)  # B: own 1/2 + M's 1/2


def test_document_types_and_retracted_scope(fractions_store: Path) -> None:
    q = ObsQuery(partners=("IA", "IB"), rule="direct", types=("article", "preprint"), include_retracted=True)
    ids = {r["work_id"] for r in per_work(fractions_store, q).to_pylist()}
    assert ids == {"W1", "W3", "W4", "W5"}


def test_invariant_checks_catch_a_broken_table(fractions_store: Path) -> None:
    q = ObsQuery(partners=("IA", "IB"), rule="lineage")
    with reader(fractions_store) as con:
        eng = DuckDBEngine(con)
        build_per_work(eng, q, load_curation_empty())
        con.execute("UPDATE o_perwork SET w_0 = 1.5 WHERE work_id = 'W1'")
        con.execute("INSERT INTO o_perwork SELECT * FROM o_perwork WHERE work_id = 'W3'")
        broken = {
            what for what, sql in invariant_checks(q) if next(iter(eng.query(sql).to_pylist()[0].values()))
        }
    assert {"a partner's weight outside [0, 1]", "a work counted twice"} <= broken


# Each corruption rewrites one per-work step's SQL (wrapping the real one) so that exactly one invariant
# breaks: the run must stop with that invariant named.
CORRUPTIONS = {
    # a weight above 1: W2's lab gives both partners weight 1 under lineage, times 1.5
    "a partner's weight outside [0, 1]": ("o_wp", "SELECT work_id, pidx, partner, w * 1.5 AS w FROM ({sql})"),
    # W3 twice in the per-work table
    "a work counted twice": (
        "o_perwork",
        "SELECT * FROM ({sql}) UNION ALL SELECT * FROM ({sql}) WHERE work_id = 'W3'",
    ),
    # a joint member row repeated (the per-work table itself stays right)
    "a work counted twice for a unit": (
        "o_members",
        "SELECT * FROM ({sql}) UNION ALL SELECT * FROM ({sql}) WHERE kind = 'joint'",
    ),
    # the unaffiliated share off by 0.1: weights are unchanged, the sum to 1 is broken
    "direct weights plus the unaffiliated share differ from 1": (
        "o_perwork",
        "SELECT * REPLACE (unaffiliated_share + 0.1 AS unaffiliated_share) FROM ({sql})",
    ),
}


@pytest.mark.parametrize("what", list(CORRUPTIONS))
def test_each_invariant_stops_the_run_when_its_rule_breaks(
    fractions_store: Path, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    from cordiale.observatory import run as run_module
    from cordiale.observatory.pipeline import Step

    q = ObsQuery(partners=("IA", "IB"), rule="lineage")
    assert {name for name, _ in invariant_checks(q)} == set(CORRUPTIONS)  # every check is exercised
    observe_store(fractions_store, q, ["summary"])  # the real steps pass every check
    step_name, wrapper = CORRUPTIONS[what]
    real_steps = run_module.per_work_steps

    def corrupted(query: ObsQuery, cur: Any) -> list[Step]:
        steps = real_steps(query, cur)
        assert step_name in {s.name for s in steps}
        return [Step(s.name, wrapper.format(sql=s.sql), s.view) if s.name == step_name else s for s in steps]

    monkeypatch.setattr(run_module, "per_work_steps", corrupted)
    with pytest.raises(AssertionError, match=r"per-work invariant broken: (.+) \(\d+ rows\)") as info:
        observe_store(fractions_store, q, ["summary"])
    assert str(info.value).startswith(f"per-work invariant broken: {what} (")


def load_curation_empty() -> Any:
    from cordiale.observatory.curation import EMPTY

    return EMPTY


@pytest.fixture()
def impact_store(tmp_path: Path) -> Path:
    """A complete reference: class (sf1, 2020, article) has 20 works: one with 10 citations, three tied at 5,
    the rest at 0; a review in the same subfield and year is a class of its own."""
    insts = [Inst("IA"), Inst("IB", country="GB"), Inst("IC", country="US")]
    citations = [10, 5, 5, 5] + [0] * 16
    works: list[Work] = []
    citers: list[Work] = []
    for k, c in enumerate(citations):
        wid = f"W{100 + k}"
        side = ["IA"] if k in (0, 1) else ["IB"] if k == 2 else ["IC"]
        authors = [side, ["IB"]] if k == 1 else [side]  # W101 is joint (A with B)
        works.append(Work(wid, year=2020, authors=authors))
        for j in range(c):
            citers.append(Work(f"W9{k:02d}{j:02d}", year=2022, type="dataset", authors=[["IC"]], cites=[wid]))
    # a self-citation (shares W100's first author) is left out
    citers.append(
        Work("W999999", year=2022, type="dataset", authors=[["IC"]], author_ids=["A1000"], cites=["W100"])
    )
    works.append(Work("W200", year=2020, type="review", authors=[["IA"]]))
    citers.append(Work("W300", year=2022, type="dataset", authors=[["IC"]], cites=["W200"]))
    works.append(Work("W400", year=2025, authors=[["IA"], ["IB"]]))  # less than a full year of citations
    return build_store(tmp_path / "impact.duckdb", insts, works + citers, reference_complete=True)


def test_pp_top10_ties_are_shared_fractionally_and_the_world_gets_exactly_ten_percent(
    impact_store: Path,
) -> None:
    q = ObsQuery(partners=("IA", "IB", "IC"), rule="direct", resamples=50)
    obs = observe_store(impact_store, q, ["impact"])
    impact = rows(obs, "impact")
    assert {r["source"] for r in impact} == {"store"}
    # every article of the class belongs to exactly one side except W101: the three sides' sums of top10
    # shares, minus the double count of W101, add up to 10% of 20 = 2 works
    a = one(impact, kind="side", unit_key="IA", year=2020)  # W100 (10 cit.: 1), W101 (5: 1/3), W200 review
    assert a["works_with_top10"] == 3
    # the review is alone in its class: 10% of one work, so its share is 0.1
    assert a["pp_top10"] == pytest.approx((1 + 1 / 3 + 0.1) / 3)
    b = one(impact, kind="side", unit_key="IB", year=2020)  # W101 (1/3), W102 (1/3)
    c = one(impact, kind="side", unit_key="IC", year=2020)  # W103 (1/3) and 16 zeros
    world = 1 + 1 / 3 + 1 / 3 + 1 / 3
    assert a["pp_top10"] * 3 - 0.1 + b["pp_top10"] * b["works_with_top10"] + c["pp_top10"] * c[
        "works_with_top10"
    ] - 1 / 3 == pytest.approx(world)
    assert world / 20 == pytest.approx(0.10)
    # MNCS: mean class citations = 25/20 = 1.25; W100: 10/1.25 = 8 (the self-citation left out)
    mean = 25 / 20
    assert a["mncs"] == pytest.approx((10 / mean + 5 / mean + 1.0) / 3)
    # W400 (2025) has less than a full calendar year of citations before the snapshot: left out
    assert all(r["year"] != 2025 for r in impact)
    joint = one(impact, kind="joint", unit_key="all", year=2020)
    assert joint["works_with_ncs"] == 1 and joint["mncs"] == pytest.approx(5 / mean)
    ivals = rows(obs, "impact", "impact-intervals")
    side_a = one(ivals, kind="side", unit_key="IA", measure="mncs")
    assert side_a["ci_low"] <= a["mncs"] <= side_a["ci_high"]


def test_impact_falls_back_to_openalex_values_and_says_so(fractions_store: Path, tmp_path: Path) -> None:
    works = [
        Work("W1", authors=[["IA"], ["IB"]], fwci=2.0, top10=True),
        Work("W2", authors=[["IA"]], fwci=1.0, top10=False),
        Work("W3", authors=[["IA"], ["IA"], ["IA"], ["IB"]], fwci=4.0, top10=None),
    ]
    db = build_store(tmp_path / "oa.duckdb", [Inst("IA"), Inst("IB")], works)
    obs = observe_store(db, ObsQuery(partners=("IA", "IB"), rule="direct", resamples=20), ["impact"])
    a = one(rows(obs, "impact"), kind="side", unit_key="IA", year=None)
    assert a["source"] == "openalex" and a["mncs"] == pytest.approx(7 / 3)
    # fractional: weights 1/2, 1, 3/4
    assert a["mncs_fractional"] == pytest.approx((0.5 * 2 + 1 * 1 + 0.75 * 4) / 2.25)
    assert a["pp_top10"] == pytest.approx(0.5) and a["works_with_top10"] == 2
    meta = obs.sections["impact"]["impact"].schema.metadata
    assert meta[b"source"] == b"openalex" and meta[b"seed"] == b"20260101"


def test_openalex_impact_leaves_out_years_without_a_full_year_of_citations(tmp_path: Path) -> None:
    # snapshot 2026-02-01: 2024 is the last year with a full calendar year of citations behind it
    works = [
        Work("W1", year=2024, authors=[["IA"], ["IB"]], fwci=2.0, top10=True),
        Work("W2", year=2025, authors=[["IA"]], fwci=9.0, top10=True),
        Work("W3", year=2026, authors=[["IA"], ["IB"]], fwci=7.0, top10=False),
    ]
    db = build_store(tmp_path / "recent.duckdb", [Inst("IA"), Inst("IB")], works)
    obs = observe_store(db, ObsQuery(partners=("IA", "IB"), rule="direct", resamples=20), ["impact"])
    impact = rows(obs, "impact")
    assert {r["year"] for r in impact} == {2024, None}
    a = one(impact, kind="side", unit_key="IA", year=None)
    assert a["source"] == "openalex" and a["works_with_ncs"] == 1 and a["mncs"] == pytest.approx(2.0)
    assert a["pp_top10"] == pytest.approx(1.0)
    note = obs.sections["impact"]["impact"].schema.metadata[b"note"].decode()
    assert "less than one full calendar year" in note and "2026-02-01" in note


def test_fields_activity_index_against_partners_reference(tmp_path: Path) -> None:
    works = [
        Work("W1", authors=[["IA"]], subfield="s1"),
        Work("W2", authors=[["IA"]], subfield="s1"),
        Work("W3", authors=[["IA"]], subfield="s2"),
        Work("W4", authors=[["IB"]], subfield="s2"),
        Work("W5", authors=[["IB"], ["IA"]], subfield="s2"),
        Work("W6", authors=[["IC"]], subfield="s1"),  # not a partner: outside the partners' reference
    ]
    db = build_store(tmp_path / "f.duckdb", [Inst("IA"), Inst("IB"), Inst("IC")], works)
    obs = observe_store(db, ObsQuery(partners=("IA", "IB"), rule="direct"), ["fields"])
    f = [r for r in rows(obs, "fields") if r["level"] == "subfield"]
    # reference = the partners' union (5 works): s1 2/5, s2 3/5; A: s1 2/4, s2 2/4; B: s1 0/2, s2 2/2
    a1 = one(f, class_id="s1", partner="IA")
    assert a1["activity_index"] == pytest.approx((2 / 4) / (2 / 5)) and a1["strength"] == "strong"
    b1 = one(f, class_id="s1", partner="IB")
    assert b1["activity_index"] == 0 and b1["strength"] == "weak" and b1["complementary"]
    b2 = one(f, class_id="s2", partner="IB")
    assert b2["activity_index"] == pytest.approx(1 / (3 / 5)) and b2["joint_share"] == pytest.approx(1 / 3)
    assert {r["reference"] for r in f} == {"partners"}


@ROR_FORMS
def test_collab_types_distance_and_third_parties(tmp_path: Path, ror_prefix: str) -> None:
    insts = [
        Inst("IA", country="FR", ror=f"{ror_prefix}0aaaaaa00"),
        Inst("IB", country="GB", ror=f"{ror_prefix}0bbbbbb00"),
        Inst("IK", country="KE", type="company", ror=f"{ror_prefix}0kkkkkk00"),
        Inst("IP", country="FR", ror=f"{ror_prefix}0pppppp00"),  # near A
        Inst("IU", country="US", ror=None),  # no coordinates
    ]
    ror = [
        ("0aaaaaa00", 48.8566, 2.3522, []),  # Paris
        ("0bbbbbb00", 51.4988, -0.1749, []),  # London, ~340 km
        ("0kkkkkk00", -1.2921, 36.8219, []),  # Nairobi, ~6,500 km from Paris
        ("0pppppp00", 48.7100, 2.1700, []),  # Orsay, ~21 km
    ]
    works = [
        Work("W1", authors=[["IA"], ["IB"], ["IK"]], funders=[("F1", "G1"), ("F1", "G2")], sdgs=[7]),
        Work("W2", authors=[["IA"], ["IB"], ["IU"]], funders=[("F2", "G3")]),
        Work("W3", authors=[["IA"], ["IB"]], year=2021, sdgs=[7, 13]),
    ]
    db = build_store(tmp_path / "c.duckdb", insts, works, ror=ror)
    obs = observe_store(
        db, ObsQuery(partners=("IA", "IB"), rule="direct"), ["collab", "third-parties", "funders", "sdg"]
    )
    c = {r["collaboration"]: r for r in rows(obs, "collab") if r["year"] is None}
    assert c["all joint works"]["works"] == 3
    assert c["third country"]["works"] == 2 and c["industry"]["works"] == 1
    assert c["long distance (>= 5,000 km)"]["works"] == 1  # W1: Paris–Nairobi
    assert c["medium distance"]["works"] == 1  # W3: Paris–London
    assert c["distance unknown"]["works"] == 1  # W2: US institution without coordinates
    assert c["distance known (coverage)"]["share"] == pytest.approx(2 / 3)
    t = [r for r in rows(obs, "third-parties") if r["year"] is None]
    assert one(t, level="continent", key="Africa")["works"] == 1
    assert one(t, level="global south", key="global south")["works"] == 1
    assert one(t, level="country", key="US")["works"] == 1
    assert {r["key"] for r in t if r["level"] == "institution"} == {"IK", "IU"}
    f = [r for r in rows(obs, "funders") if r["year"] is None]
    assert one(f, funder="F1")["works"] == 1 and one(f, funder="F1")["awards"] == 2
    s = [r for r in rows(obs, "sdg") if r["year"] is None and r["kind"] == "joint"]
    assert one(s, sdg=7)["works"] == 2 and one(s, sdg=13)["works"] == 1
    assert obs.sections["sdg"]["sdg"].schema.metadata[b"note"].startswith(b"a work counts once")


def _units_store(path: Path) -> Path:
    """Partners A (Paris) and B (London), each with a unit near Paris: L (a lab of A, in Paris) and P (a unit
    of B in Orsay, ~18 km from L), by OpenAlex lineage and by ROR parents alike; K a company in Nairobi."""
    insts = [
        Inst("IA", "A", country="FR", ror="0aaaaaa00"),
        Inst("IB", "B", country="GB", ror="0bbbbbb00"),
        Inst("IL", "A lab", country="FR", lineage=("IA",), ror="0llllll00"),
        Inst("IP", "B unit near Paris", country="FR", lineage=("IB",), ror="0pppppp00"),
        Inst("IK", "K", country="KE", type="company", ror="0kkkkkk00"),
    ]
    works = [
        Work("W1", year=2020, authors=[["IA"], ["IB"]]),  # joint: Paris–London, medium
        Work("W2", year=2021, authors=[["IL"], ["IP"]]),  # joint through both units: Paris–Orsay, short
        Work("W3", year=2021, authors=[["IA"], ["IP"], ["IK"]]),  # joint: Paris–Nairobi, long
        Work("W4", year=2020, authors=[["IL"]]),  # A only
        Work("W5", year=2021, authors=[["IB"], ["IB"]]),  # B only
    ]
    ror = [
        ("0aaaaaa00", 48.8566, 2.3522, []),
        ("0bbbbbb00", 51.4988, -0.1749, []),
        ("0llllll00", 48.8462, 2.3447, ["0aaaaaa00"]),
        ("0pppppp00", 48.7100, 2.1700, ["0bbbbbb00"]),
        ("0kkkkkk00", -1.2921, 36.8219, []),
    ]
    return build_store(path, insts, works, ror=ror)


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    (la1, lo1), (la2, lo2) = (tuple(math.radians(x) for x in p) for p in (a, b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def test_collab_short_distance_when_every_institution_is_within_100_km(tmp_path: Path) -> None:
    db = _units_store(tmp_path / "u.duckdb")
    paris, london, nairobi = (48.8566, 2.3522), (51.4988, -0.1749), (-1.2921, 36.8219)
    lab, orsay = (48.8462, 2.3447), (48.71, 2.17)
    assert _km(lab, orsay) <= 100 < _km(paris, london) < 5000 <= _km(paris, nairobi)  # the premises
    for rule in ("lineage", "ror"):
        obs = observe_store(db, ObsQuery(partners=("IA", "IB"), rule=rule), ["collab"])
        c = {r["collaboration"]: r["works"] for r in rows(obs, "collab") if r["year"] is None}
        assert c["all joint works"] == 3, rule
        assert c["short distance (<= 100 km)"] == 1, rule  # W2 alone: L and P, ~18 km apart
        assert c["medium distance"] == 1 and c["long distance (>= 5,000 km)"] == 1, rule
        assert "distance unknown" not in c and c["distance known (coverage)"] == 3, rule
        by_year = {
            r["year"]: r["works"]
            for r in rows(obs, "collab")
            if r["collaboration"] == "short distance (<= 100 km)" and r["year"] is not None
        }
        assert by_year == {2021: 1}, rule
    # under direct neither unit counts for its partner: W1 is the only joint work, and it is not short
    obs = observe_store(db, ObsQuery(partners=("IA", "IB"), rule="direct"), ["collab"])
    c = {r["collaboration"]: r["works"] for r in rows(obs, "collab") if r["year"] is None}
    assert c["all joint works"] == 1 and "short distance (<= 100 km)" not in c


def test_people_units_list_each_side_s_labs_with_works_and_joint_works(tmp_path: Path) -> None:
    db = _units_store(tmp_path / "u.duckdb")
    # by hand: A's units are A itself (W1, W3: both joint) and its lab L (W2 joint, W4 not);
    # B's are B itself (W1 joint, W5 not) and its unit P (W2, W3: both joint)
    expected = [
        ("IA", "IA", "A", 2, 2),
        ("IA", "IL", "A lab", 2, 1),
        ("IB", "IB", "B", 2, 1),
        ("IB", "IP", "B unit near Paris", 2, 2),
    ]
    for rule in ("lineage", "ror"):  # the units through OpenAlex lineage, or through ROR children
        obs = observe_store(db, ObsQuery(partners=("IA", "IB"), rule=rule), ["people"])
        got = sorted(
            (r["partner"], r["unit_id"], r["unit_name"], r["works"], r["joint_works"])
            for r in rows(obs, "people", "units")
        )
        assert got == expected, rule
    # under direct a partner's only unit is itself: W1 is the single joint work
    obs = observe_store(db, ObsQuery(partners=("IA", "IB"), rule="direct"), ["people"])
    units = rows(obs, "people", "units")
    got = sorted((r["partner"], r["unit_id"], r["works"], r["joint_works"]) for r in units)
    assert got == [("IA", "IA", 2, 1), ("IB", "IB", 2, 1)]


def test_fields_at_all_four_levels_by_hand(tmp_path: Path) -> None:
    """Domain, field, subfield and topic rows: works, activity index against the partners' union, strength,
    complementarity and joint share, recomputed here from the works' classes."""
    works = [
        Work("W1", authors=[["IA"]], topic_id="t1", subfield="s1", field_id="f1", domain_id="d1"),
        Work("W2", authors=[["IA"]], topic_id="t2", subfield="s2", field_id="f1", domain_id="d1"),
        Work("W3", authors=[["IA"], ["IB"]], topic_id="t3", subfield="s3", field_id="f3", domain_id="d1"),
        Work("W4", authors=[["IB"]], topic_id="t4", subfield="s4", field_id="f2", domain_id="d2"),
        Work("W5", authors=[["IB"]], topic_id="t5", subfield="s4", field_id="f2", domain_id="d2"),
        # not a partner: outside the reference
        Work("W6", authors=[["IC"]], topic_id="t1", subfield="s1", field_id="f1", domain_id="d1"),
    ]
    db = build_store(tmp_path / "f.duckdb", [Inst("IA"), Inst("IB"), Inst("IC")], works)
    obs = observe_store(db, ObsQuery(partners=("IA", "IB"), rule="direct"), ["fields"])
    got = rows(obs, "fields")
    sides = {p: [w for w in works if any(p in a for a in w.authors)] for p in ("IA", "IB")}
    union = {w.id: w for ws in sides.values() for w in ws}  # the reference: the partners' works
    joint = {w.id for w in sides["IA"]} & {w.id for w in sides["IB"]}
    classes = {
        "domain": lambda w: w.domain_id,
        "field": lambda w: w.field_id,
        "subfield": lambda w: w.subfield,
        "topic": lambda w: w.topic_id,
    }
    for level, cls in classes.items():
        level_rows = [r for r in got if r["level"] == level]
        assert {r["class_id"] for r in level_rows} == {cls(w) for w in union.values()}, level
        for c in {cls(w) for w in union.values()}:
            in_union = [w for w in union.values() if cls(w) == c]
            ai = {
                p: (sum(cls(w) == c for w in sides[p]) / len(sides[p])) / (len(in_union) / len(union))
                for p in sides
            }
            for p in sides:
                r = one(level_rows, class_id=c, partner=p)
                assert r["works"] == sum(cls(w) == c for w in sides[p]), (level, c, p)
                assert r["activity_index"] == pytest.approx(ai[p]), (level, c, p)
                strength = "strong" if ai[p] >= 1.2 else "weak" if ai[p] <= 0.8 else "neutral"
                assert r["strength"] == strength, (level, c, p)
                assert r["complementary"] == (max(ai.values()) >= 1.2 and min(ai.values()) <= 0.8)
                assert r["joint_share"] == pytest.approx(sum(w.id in joint for w in in_union) / len(in_union))
                assert r["reference"] == "partners"
    # spot checks by hand: B holds both works of domain d2 (AI (2/3)/(2/5) = 5/3), A none: complementary
    d2 = one(got, level="domain", class_id="d2", partner="IB")
    assert d2["activity_index"] == pytest.approx(5 / 3) and d2["complementary"] is True
    f3 = one(got, level="field", class_id="f3", partner="IA")  # the joint work's field: both strong
    assert f3["activity_index"] == pytest.approx(5 / 3) and f3["joint_share"] == 1 and not f3["complementary"]
    assert one(got, level="topic", class_id="t1", partner="IA")["class_name"] == "Topic t1"


def test_sdg_cordiale_source_without_scores_is_an_empty_result_with_a_message(fractions_store: Path) -> None:
    obs = observe_store(fractions_store, ObsQuery(partners=("IA", "IB"), sdg_source="cordiale"), ["sdg"])
    assert obs.sections["sdg"] == {}
    assert any("cordiale sdg score" in n for n in obs.notices)


def test_people_pairs_new_and_repeat_collaborators(tmp_path: Path) -> None:
    works = [
        Work("W1", year=2019, authors=[["IA"], ["IB"]], author_ids=["A1", "B1"]),
        Work("W2", year=2020, authors=[["IA"], ["IB"], ["IB"]], author_ids=["A1", "B1", "B2"]),
        Work("W3", year=2020, authors=[["IA"], ["IA"]], author_ids=["A1", "A2"]),  # same side: no pair
    ]
    db = build_store(tmp_path / "p.duckdb", [Inst("IA"), Inst("IB")], works)
    obs = observe_store(db, ObsQuery(partners=("IA", "IB"), rule="direct"), ["people"])
    pairs = rows(obs, "people", "pairs")
    assert [(r["author_1"], r["author_2"], r["works"]) for r in pairs] == [("A1", "B1", 2), ("A1", "B2", 1)]
    nr = {r["year"]: r for r in rows(obs, "people", "new-vs-repeat")}
    assert (nr[2019]["new_pairs"], nr[2019]["repeat_pairs"]) == (1, 0)
    assert (nr[2020]["new_pairs"], nr[2020]["repeat_pairs"], nr[2020]["active_pairs"]) == (1, 1, 2)


def test_curation_adds_removes_merges_and_maps_raw_affiliations(tmp_path: Path) -> None:
    works = [
        Work("W1", authors=[["IA"], []], raw=[["Univ A"], ["Joint Lab X, Paris"]], author_ids=["A1", "A9"]),
        Work("W2", authors=[["IA"], ["IB"]], author_ids=["A1", "B1"]),
        Work("W3", authors=[["IB"]], author_ids=["B1"]),
        Work("W4", authors=[["IA"], ["IB"]], author_ids=["A2", "B2"]),
    ]
    db = build_store(tmp_path / "cur.duckdb", [Inst("IA"), Inst("IB")], works)
    cur_path = tmp_path / "curation.toml"
    cur_path.write_text(
        """version = "2026-11-30.1"
[[institution]]
action = "add"
work = "W3"
institution = "IA"

[[institution]]
action = "remove"
work = "https://openalex.org/W2"
institution = "IB"

[[merge_authors]]
into = "A1"
ids = ["A2"]

[[affiliation]]
pattern = "(?i)joint lab x"
institutions = ["IA", "IB"]
""".replace('"IA"', '"I1"').replace('"IB"', '"I2"')
    )
    db2 = build_store(
        tmp_path / "cur2.duckdb",
        [Inst("I1"), Inst("I2")],
        [
            Work(
                w.id,
                authors=[[{"IA": "I1", "IB": "I2"}[i] for i in a] for a in w.authors],
                raw=w.raw,
                author_ids=w.author_ids,
            )
            for w in works
        ],
    )
    del db
    cur = load_curation(cur_path)
    q = ObsQuery(partners=("I1", "I2"), rule="direct")
    before = {r["work_id"]: r for r in per_work(db2, q).to_pylist()}
    after = {r["work_id"]: r for r in per_work(db2, q, cur).to_pylist()}
    assert before["W1"]["n_partners"] == 1 and after["W1"]["n_partners"] == 2  # the regex adds both
    assert after["W1"]["w_0"] == pytest.approx(0.5 + 0.25) and after["W1"]["w_1"] == pytest.approx(0.25)
    assert after["W1"]["unaffiliated_share"] == 0
    assert before["W2"]["n_partners"] == 2 and after["W2"]["n_partners"] == 1  # I2 removed
    assert after["W3"]["n_partners"] == 2 and after["W3"]["w_0"] == 0  # whole-work add: full, not fractional
    obs = observe_store(db2, q, ["people"], cur)
    assert obs.works_changed == 4  # W1 (regex), W2 (removed), W3 (added), W4 (author merged)
    assert obs.changed_works == ["W1", "W2", "W3", "W4"]
    meta = obs.sections["people"]["pairs"].schema.metadata
    assert meta[b"curation_version"] == b"2026-11-30.1" and meta[b"works_changed_by_curation"] == b"4"
    pairs = {(r["author_1"], r["author_2"]): r["works"] for r in rows(obs, "people", "pairs")}
    assert pairs[("A1", "B2")] == 1  # A2 merged into A1


def test_curation_errors_name_the_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "c.toml"
    bad.write_text('version = "1"\n[[institution]]\naction = "move"\nwork = "W1"\ninstitution = "I1"\n')
    with pytest.raises(UsageError, match=r"c\.toml.*institution\[0\]\.action"):
        load_curation(bad)
    bad.write_text('version = "1"\n[[affiliation]]\npattern = "(unclosed"\ninstitutions = ["I1"]\n')
    with pytest.raises(UsageError, match=r"affiliation\[0\]\.pattern"):
        load_curation(bad)
    bad.write_text('version = "1"\n[[merge_authors]]\ninto = "I5"\nids = ["A1"]\n')
    with pytest.raises(UsageError, match=r"merge_authors\[0\]\.into"):
        load_curation(bad)


def test_more_than_two_partners_joint_with_at_least_two_and_per_pair_series(tmp_path: Path) -> None:
    works = [
        Work("W1", authors=[["IA"], ["IB"]]),
        Work("W2", authors=[["IA"], ["IC"]]),
        Work("W3", authors=[["IA"], ["IB"], ["IC"]]),
        Work("W4", authors=[["IC"]]),
    ]
    db = build_store(tmp_path / "3.duckdb", [Inst("IA"), Inst("IB"), Inst("IC")], works)
    obs = observe_store(db, ObsQuery(partners=("IA", "IB", "IC"), rule="direct"), ["summary"])
    s = [r for r in rows(obs, "summary") if r["year"] is None]
    assert one(s, grp="all", partner="IA")["joint"] == 3
    assert one(s, grp="IA+IB", partner="IA")["joint"] == 2
    assert one(s, grp="IA+IC", partner="IC")["joint"] == 2
    assert one(s, grp="IB+IC", partner="IB")["joint"] == 1
    assert one(s, grp="all", partner="IC")["partner_total"] == 3


# ---------------------------------------------------------------- growth


def test_complete_years_need_six_months_after_the_year_end() -> None:
    from datetime import date

    assert g.complete_years(date(2026, 2, 7), [2024, 2025, 2026]) == {2024}
    assert g.complete_years(date(2026, 6, 30), [2025]) == {2025}


def test_cagr_and_poisson_slope_when_the_window_starts_at_zero() -> None:
    value, method = g.window_growth({2018: 10, 2019: 15, 2020: 40}, 2018, 2020)
    assert method == "cagr" and value == pytest.approx(1.0)
    counts = {2015: 0.0, 2016: 2.0, 2017: 3.0, 2018: 7.0}
    value, method = g.window_growth(counts, 2015, 2018)
    assert method == "poisson log-linear slope" and value is not None and value > 0
    # the maximum-likelihood fit satisfies the score equations: Σ(c - μ) = 0 and Σ t (c - μ) = 0
    t = np.arange(4, dtype=np.float64) - 1.5
    c = np.array(list(counts.values()))
    b = math.log(1 + value)
    a = math.log(c.sum() / np.exp(b * t).sum())
    mu = np.exp(a + b * t)
    assert (c - mu).sum() == pytest.approx(0, abs=1e-9) and ((c - mu) * t).sum() == pytest.approx(0, abs=1e-9)
    assert g.window_growth({2015: 0.0, 2016: 0.0}, 2015, 2016) == (None, "poisson (all zero)")


def test_window_growth_of_many_resamples_equals_one_at_a_time() -> None:
    """The vectorised growth of the bootstrap's resamples: CAGR rows, rows starting at zero (Poisson),
    all-zero rows (no value: NaN), a window year missing from the columns, and zero growth kept as 0."""
    years = [2015, 2016, 2017, 2019]  # 2018 has no column: it counts 0
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 4, size=(300, len(years))).astype(np.float64)
    counts[0] = [5.0, 1.0, 2.0, 5.0]  # zero growth over 2015-2019
    counts[1] = 0.0
    for y0, y1 in ((2015, 2019), (2016, 2017), (2017, 2018), (2018, 2019), (2019, 2019)):
        got = g.window_growth_rows(counts, years, y0, y1)
        for r in range(counts.shape[0]):
            value, _ = g.window_growth({y: counts[r, i] for i, y in enumerate(years)}, y0, y1)
            if value is None:
                assert math.isnan(got[r]), (y0, y1, r)
            else:
                assert got[r] == pytest.approx(value, rel=1e-12, abs=1e-15), (y0, y1, r)
    assert g.window_growth_rows(counts, years, 2015, 2019)[0] == 0.0


def test_event_year_outside_the_range_is_refused() -> None:
    with pytest.raises(UsageError, match="outside the range"):
        g.growth_windows(2030, 5, [2010, 2011, 2012])
    windows = g.growth_windows(2012, 5, list(range(2005, 2020)))
    assert [(w.first, w.last) for w in windows] == [(2007, 2011), (2012, 2019)]


def test_bootstrap_is_seeded_and_multinomial_over_cells() -> None:
    cells = [(2020, 3, 10), (2020, 1, 30), (2021, 3, 20)]
    k1, d1 = g.bootstrap_cells(cells, 200, seed=7)
    _, d2 = g.bootstrap_cells(cells, 200, seed=7)
    _, d3 = g.bootstrap_cells(cells, 200, seed=8)
    assert (d1 == d2).all() and not (d1 == d3).all()
    assert (d1.sum(axis=1) == 60).all() and k1 == [(2020, 3), (2020, 1), (2021, 3)]
    assert d1[:, 1].mean() == pytest.approx(30, rel=0.1)


def test_bootstrap_of_means_matches_resampling_works_one_by_one() -> None:
    rng = np.random.default_rng(3)
    values = rng.choice([0.0, 0.5, 1.0, 4.0], size=400)
    weights = rng.choice([0.25, 1.0], size=400)
    full, frac = g.bootstrap_means(values, weights, 2000, seed=11)
    idx = rng.integers(0, 400, size=(2000, 400))
    naive_full = values[idx].mean(axis=1)
    naive_frac = (values[idx] * weights[idx]).sum(axis=1) / weights[idx].sum(axis=1)
    assert full.mean() == pytest.approx(naive_full.mean(), rel=0.01)
    assert full.std() == pytest.approx(naive_full.std(), rel=0.1)
    assert frac.std() == pytest.approx(naive_frac.std(), rel=0.1)
    lo, hi = g.percentile_interval(full)
    assert lo is not None and hi is not None and lo < values.mean() < hi


def test_bootstrap_of_means_from_counted_pairs_draws_exactly_what_it_draws_from_works() -> None:
    """The fast path hands the bootstrap distinct (value, weight) rows with how many works hold each,
    in any order and with pairs split by the last bits of a weight: the draws are those of the works."""
    rng = np.random.default_rng(5)
    values = rng.choice([0.0, 0.5, 1.0, 4.0], size=300)
    weights = rng.choice([0.25, 1.0 / 3.0], size=300)
    full, frac = g.bootstrap_means(values, weights, 500, seed=13)
    pairs: dict[tuple[float, float], int] = {}
    for v, w in zip(values.tolist(), weights.tolist(), strict=True):
        w2 = w + 1e-16 if len(pairs) % 2 else w  # the same weight summed in another order
        pairs[(v, w2)] = pairs.get((v, w2), 0) + 1
    rows = list(pairs.items())[::-1]
    cv = np.array([v for (v, _), _ in rows])
    cw = np.array([w for (_, w), _ in rows])
    held = np.array([n for _, n in rows], dtype=np.int64)
    full2, frac2 = g.bootstrap_means(cv, cw, 500, seed=13, holders=held)
    assert np.array_equal(full, full2) and np.array_equal(frac, frac2)
    other, _ = g.bootstrap_means(cv, cw, 500, seed=13, holders=held + 1)
    assert not np.array_equal(full, other)


# ---------------------------------------------------------------- real works: independent figures


@pytest.fixture(scope="module")
def raw_latest(kfupm: Path) -> dict[str, dict[str, Any]]:
    """The raw JSON records, the latest version of each work (read once per module)."""
    latest: dict[str, dict[str, Any]] = {}
    for rec in raw_records(kfupm):
        wid = rec["id"].rsplit("/", 1)[-1]
        if wid not in latest or (rec.get("updated_date") or "") >= (latest[wid].get("updated_date") or ""):
            latest[wid] = rec
    return latest


def _raw_joint(latest: dict[str, dict[str, Any]], a: str, b: str, rule: str) -> dict[str, dict[str, Any]]:
    """Per work with both partners (computed from the raw JSON, without the store): year, weights, OA."""
    out: dict[str, dict[str, Any]] = {}
    for wid, rec in latest.items():
        if (
            rec.get("type") not in DEFAULT_TYPES
            or rec.get("is_retracted")
            or rec.get("publication_year") is None
        ):
            continue
        auths = rec.get("authorships") or []
        n = len(auths)
        w = {a: 0.0, b: 0.0}
        for au in auths:
            insts = list(
                dict.fromkeys(i["id"].rsplit("/", 1)[-1] for i in au.get("institutions") or [] if i.get("id"))
            )
            for inst in insts:
                units = {inst}
                if rule == "lineage":
                    for full in au["institutions"]:
                        if full.get("id", "").endswith("/" + inst):
                            units |= {x.rsplit("/", 1)[-1] for x in full.get("lineage") or []}
                for p in (a, b):
                    if p in units:
                        w[p] += 1 / (n * len(insts))
        present = [
            p
            for p in (a, b)
            if any(
                p == i["id"].rsplit("/", 1)[-1]
                or (rule == "lineage" and any(x.endswith("/" + p) for x in i.get("lineage") or []))
                for au in auths
                for i in au.get("institutions") or []
                if i.get("id")
            )
        ]
        if len(present) == 2:
            out[wid] = {
                "year": rec["publication_year"],
                "w": {p: min(1.0, w[p]) for p in (a, b)},
                "oa": (rec.get("open_access") or {}).get("oa_status") or "unknown",
                "sdgs": {
                    int(s["id"].rsplit("/", 1)[-1]) for s in rec.get("sustainable_development_goals") or []
                },
            }
    return out


@pytest.mark.parametrize("rule", ["direct", "lineage"])
def test_real_pair_matches_figures_computed_from_the_raw_json(
    raw_latest: dict[str, dict[str, Any]], kfupm_store: Path, rule: str
) -> None:
    expected = _raw_joint(raw_latest, KFUPM, ARAMCO, rule)
    assert len(expected) > 100
    q = ObsQuery(partners=(KFUPM, ARAMCO), rule=rule, resamples=50)
    obs = observe_store(kfupm_store, q, ["summary", "oa", "sdg"])
    summary = [r for r in rows(obs, "summary") if r["partner"] == KFUPM]
    by_year: Counter[int] = Counter(v["year"] for v in expected.values())
    frac: defaultdict[int, float] = defaultdict(float)
    for v in expected.values():
        frac[v["year"]] += v["w"][KFUPM] + v["w"][ARAMCO]
    for r in summary:
        if r["year"] is None:
            assert r["joint"] == len(expected)
            assert r["joint"] == sum(x["joint"] for x in summary if x["year"] is not None)  # totals = Σ years
        else:
            assert r["joint"] == by_year.get(r["year"], 0), r["year"]
            assert r["joint_fractional"] == pytest.approx(frac.get(r["year"], 0.0), rel=1e-9, abs=1e-12)
    oa = Counter(v["oa"] for v in expected.values())
    got_oa = {
        r["oa_status"]: r["works"] for r in rows(obs, "oa") if r["kind"] == "joint" and r["year"] is None
    }
    assert got_oa == dict(oa)
    sdg = Counter(s for v in expected.values() for s in v["sdgs"])
    got_sdg = {r["sdg"]: r["works"] for r in rows(obs, "sdg") if r["kind"] == "joint" and r["year"] is None}
    assert got_sdg == dict(sdg)


def _raw_side(latest: dict[str, dict[str, Any]], p: str) -> dict[str, dict[str, Any]]:
    """The works in scope with ``p`` on them under ``lineage`` (from the raw JSON), with their year."""
    out: dict[str, dict[str, Any]] = {}
    for wid, rec in latest.items():
        if rec.get("type") not in DEFAULT_TYPES or rec.get("is_retracted"):
            continue
        if rec.get("publication_year") is None:
            continue
        units = {
            x.rsplit("/", 1)[-1]
            for au in rec.get("authorships") or []
            for i in au.get("institutions") or []
            if i.get("id")
            for x in [i["id"], *(i.get("lineage") or [])]
        }
        if p in units:
            out[wid] = {"year": rec["publication_year"]}
    return out


def test_growth_windows_partial_years_and_intervals_on_real_works(
    raw_latest: dict[str, dict[str, Any]], kfupm_store: Path
) -> None:
    """`--event 2018` on the real works: the after-window ends at the last complete year (the snapshot, the
    latest updated_date in the raw JSON, at least six months past the year's end), later years are flagged
    partial, and CAGR, joint share and PP(top 10%) carry strict 95% intervals around their values, which are
    recomputed here from the raw JSON; raw counts carry none."""
    from datetime import date

    snapshot = date.fromisoformat(max(r["updated_date"] for r in raw_latest.values())[:10])
    last_complete = snapshot.year - 1 if (snapshot.month, snapshot.day) >= (6, 30) else snapshot.year - 2
    joint_raw = _raw_joint(raw_latest, KFUPM, ARAMCO, "lineage")
    sides = {p: _raw_side(raw_latest, p) for p in (KFUPM, ARAMCO)}
    assert set(joint_raw) == set(sides[KFUPM]) & set(sides[ARAMCO])
    joint_by_year = Counter(v["year"] for v in joint_raw.values())
    event = 2018
    q = ObsQuery(partners=(KFUPM, ARAMCO), rule="lineage", event=event)
    obs = observe_store(kfupm_store, q, ["growth", "impact", "summary", "oa", "collab"])
    assert obs.facts.snapshot_date == snapshot.isoformat()
    growth = rows(obs, "growth")
    after = one(growth, measure="joint works growth", first_year=event)
    before = one(growth, measure="joint works growth", last_year=event - 1)
    assert after["last_year"] == last_complete  # the last complete year, never a partial one
    assert before["first_year"] == event - 5
    for w in (before, after):
        start, end = joint_by_year[w["first_year"]], joint_by_year[w["last_year"]]
        assert (w["start"], w["end"]) == (start, end) and start > 0 and w["method"] == "cagr"
        assert w["value"] == pytest.approx((end / start) ** (1 / (w["last_year"] - w["first_year"])) - 1)
        assert w["ci_low"] < w["value"] < w["ci_high"]
    for p in (KFUPM, ARAMCO):
        share = one(growth, measure="joint share of the partner's output", partner=p)
        side = [v for v in sides[p].values() if v["year"] <= last_complete]
        joint = [v for v in joint_raw.values() if v["year"] <= last_complete]
        assert share["last_year"] == last_complete and len(side) >= 100
        assert share["value"] == pytest.approx(len(joint) / len(side))
        assert share["ci_low"] < share["value"] < share["ci_high"]
    # partial years: flagged in every yearly section; the totals are not years
    for fam, section in (("growth", "summary"), ("summary", None), ("impact", "impact"), ("oa", None)):
        yearly = rows(obs, fam, section)
        if fam == "impact":  # years with less than a full calendar year of citations are left out
            assert max(r["year"] for r in yearly if r["year"] is not None) == snapshot.year - 2
        else:
            assert any(r["year"] is not None and r["year"] > last_complete for r in yearly), fam
        for r in yearly:
            want = None if r["year"] is None else r["year"] > last_complete
            assert r["partial"] is want, (fam, r["year"])
    # PP(top 10%) (OpenAlex's flag here: the store is filtered) with its interval, per unit
    impact = rows(obs, "impact")
    intervals = rows(obs, "impact", "impact-intervals")
    cited = snapshot.year - 2  # the last year with a full calendar year of citations
    units = {
        ("joint", "all"): [w for w, v in joint_raw.items() if v["year"] <= cited],
        **{("side", p): [w for w, v in sides[p].items() if v["year"] <= cited] for p in (KFUPM, ARAMCO)},
    }
    for (kind, key), ids in units.items():
        cnps = [raw_latest[w].get("citation_normalized_percentile") or {} for w in ids]
        flags = [c["is_in_top_10_percent"] for c in cnps if c.get("is_in_top_10_percent") is not None]
        total = one(impact, kind=kind, unit_key=key, year=None)
        assert total["works_with_top10"] == len(flags) >= 100
        assert total["pp_top10"] == pytest.approx(sum(flags) / len(flags))
        iv = one(intervals, kind=kind, unit_key=key, measure="pp_top10")
        assert iv["works"] == len(flags)
        assert iv["ci_low"] < total["pp_top10"] < iv["ci_high"]
        assert iv["ci_low_fractional"] < total["pp_top10_fractional"] < iv["ci_high_fractional"]
    # raw counts (summary, open access, collaboration types) carry no interval columns
    for fam, section in (("summary", None), ("growth", "summary"), ("oa", None), ("collab", None)):
        cols = obs.sections[fam][section or fam].column_names
        assert not [c for c in cols if c.startswith("ci_")], (fam, cols)


CNRS, IMPERIAL, CNRS_ROR = "I1294671590", "I47508984", "02feahw73"


@pytest.fixture(scope="module")
def kfupm_ror_store(kfupm_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real works plus the ROR v2 registry (as `cordiale ror load` stores it)."""
    db = tmp_path_factory.mktemp("kfupm_ror") / "store.duckdb"
    copy_store(kfupm_store, db)
    load_ror([shared_path("ror", "ror_records_latest_v2schema.jsonl.gz")], db)
    return db


def test_ror_rule_climbs_the_real_ror_hierarchy(
    kfupm_ror_store: Path, raw_latest: dict[str, dict[str, Any]]
) -> None:
    """CNRS under ``ror`` = the works of CNRS or of any institution with CNRS up its ROR parents (from the
    raw JSON's full-URL ROR ids and the registry's relations), more than under ``direct``."""
    with reader(kfupm_ror_store) as con:
        parents: defaultdict[str, set[str]] = defaultdict(set)
        for child, parent in con.execute(
            "SELECT ror_id, related_ror_id FROM ror_relations WHERE type = 'parent'"
        ).fetchall():
            parents[child].add(parent)

    def under_cnrs(ror: str, depth: int = 3) -> bool:
        return depth > 0 and any(p == CNRS_ROR or under_cnrs(p, depth - 1) for p in parents[ror])

    expected = set()
    for wid, rec in raw_latest.items():
        if (
            rec.get("type") not in OBS_DEFAULT_TYPES
            or rec.get("is_retracted")
            or rec.get("publication_year") is None
        ):
            continue
        for a in rec.get("authorships") or []:
            for inst in a.get("institutions") or []:
                ror = (inst.get("ror") or "").rsplit("/", 1)[-1]
                if (inst.get("id") or "").endswith(CNRS) or (ror and under_cnrs(ror)):
                    expected.add(wid)
    totals = {}
    for rule in ("direct", "ror"):
        obs = observe_store(
            kfupm_ror_store, ObsQuery(partners=(CNRS, IMPERIAL), rule=rule), ["summary", "collab"]
        )
        totals[rule] = one(rows(obs, "summary"), partner=CNRS, year=None)["partner_total"]
        c = {r["collaboration"]: r for r in rows(obs, "collab") if r["year"] is None}
        assert c["distance known (coverage)"]["share"] == pytest.approx(1.0), rule  # ROR gives coordinates
    assert totals["ror"] == len(expected) > totals["direct"], totals


def test_summary_family_agrees_with_the_foundation_pair_view(kfupm_store: Path) -> None:
    obs = observe_store(kfupm_store, ObsQuery(partners=(KFUPM, ARAMCO), rule="lineage"), ["summary"])
    with reader(kfupm_store) as con:
        found = {r.year: r for r in compute_pair(con, PairQuery(partners=(KFUPM, ARAMCO), rule="lineage"))}
    for r in rows(obs, "summary"):
        if r["year"] is None:
            continue
        f = found[r["year"]]
        assert r["joint"] == f.joint
        assert r["joint_fractional"] == pytest.approx(f.joint_fractional, abs=1e-6)
        assert r["partner_fractional"] == pytest.approx(f.fractional[r["partner"]], abs=1e-6)
        assert r["partner_total"] == f.totals[r["partner"]]
        assert r["unaffiliated_share"] == pytest.approx(f.unaffiliated_share, abs=1e-6)
        assert r["approximate"] == f.approximate
    assert OBS_DEFAULT_TYPES == DEFAULT_TYPES


def test_global_south_and_continents_come_from_the_documented_lists() -> None:
    regions = {code: (cont, gs) for code, cont, gs in country_regions()}
    assert regions["KE"] == ("Africa", True) and regions["FR"] == ("Europe", False)
    assert regions["CN"][1] and regions["BR"] == ("South America", True) and not regions["US"][1]
    assert len(GLOBAL_SOUTH) >= 130 and set(regions) >= GLOBAL_SOUTH


# ---------------------------------------------------------------- the CLI


def test_cli_families_formats_and_all(kfupm_store: Path, tmp_path: Path) -> None:
    db = ["--db", str(kfupm_store)]
    res = runner.invoke(
        app, ["pair", KFUPM, ARAMCO, "--show", "growth", "--event", "2020", "--format", "json", *db]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    growth = doc["families"]["growth"]["growth"]["rows"]
    after = next(r for r in growth if r["window"].startswith("after"))
    assert after["method"] == "cagr" and after["ci_low"] <= after["value"] <= after["ci_high"]
    years = doc["families"]["growth"]["summary"]["rows"]
    assert any(r["partial"] for r in years if r["year"] == 2025)  # snapshot 2026-02: 2025 is partial
    assert doc["seed"] == 20260101 and doc["resamples"] == 1000
    res = runner.invoke(app, ["pair", KFUPM, ARAMCO, "--show", "oa,funders", "--format", "csv", *db])
    assert res.exit_code == 0 and "# oa.oa" in res.stdout and "# funders.funders" in res.stdout
    out = tmp_path / "all"
    res = runner.invoke(
        app, ["pair", KFUPM, ARAMCO, KAUST, "--all", "--out", str(out), "--resamples", "50", *db]
    )
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in out.iterdir())
    assert "impact.impact-intervals.parquet" in names and "third-parties.parquet" in names
    t = pq.read_table(out / "summary.parquet")
    assert t.schema.metadata[b"rule"] == b"lineage" and t.schema.metadata[b"snapshot_date"] == b"2026-02-07"
    assert f"{KFUPM}+{ARAMCO}".encode() in set(t.column("grp").to_pylist()) | {b""} or (
        f"{KFUPM}+{ARAMCO}" in t.column("grp").to_pylist()
    )
    res = runner.invoke(app, ["pair", KFUPM, ARAMCO, "--show", "fields", *db])
    assert res.exit_code == 0 and "fields" in res.stdout and "more rows in json/csv/parquet" in res.stdout


def test_cli_bad_input_and_exit_codes(kfupm_store: Path) -> None:
    db = ["--db", str(kfupm_store)]
    res = runner.invoke(app, ["pair", KFUPM, "I999999999", "--show", "oa", *db])
    assert res.exit_code == 3 and "I999999999" in res.output
    res = runner.invoke(app, ["pair", KFUPM, ARAMCO, "--show", "growth", "--event", "1900", *db])
    assert res.exit_code == 2 and "outside the range" in res.output
    res = runner.invoke(app, ["pair", KFUPM, ARAMCO, "--show", "nonsense", *db])
    assert res.exit_code == 2 and "--show" in res.output
    res = runner.invoke(app, ["pair", KFUPM, ARAMCO, "--all", *db])
    assert res.exit_code == 2 and "--out" in res.output
    res = runner.invoke(app, ["pair", KFUPM, ARAMCO, "--show", "oa", "--format", "parquet", *db])
    assert res.exit_code == 2 and "--out" in res.output


def test_cli_no_joint_works_is_an_empty_state_with_exit_0(kfupm_store: Path) -> None:
    with reader(kfupm_store) as con:
        lonely = con.execute(
            """SELECT i.id FROM institutions i WHERE i.id NOT IN (
                   SELECT ai.institution_id FROM authorship_institutions ai WHERE ai.work_id IN (
                       SELECT work_id FROM authorship_institutions WHERE institution_id = ?))
               AND i.id IN (SELECT institution_id FROM authorship_institutions) LIMIT 1""",
            [ARAMCO],
        ).fetchall()[0][0]
    res = runner.invoke(
        app, ["pair", ARAMCO, lonely, "--rule", "direct", "--show", "summary,oa", "--db", str(kfupm_store)]
    )
    assert res.exit_code == 0, res.output
    assert "no joint works" in res.output


def test_cli_tables_print_years_plain(kfupm_store: Path) -> None:
    db = ["--db", str(kfupm_store)]
    res = runner.invoke(app, ["pair", KFUPM, ARAMCO, "--show", "oa", "--years", "2015-2025", *db])
    assert res.exit_code == 0, res.output
    assert "│ 2019 │" in res.stdout and "2,019" not in res.stdout
    res = runner.invoke(app, ["pair", KFUPM, ARAMCO, "--show", "growth", "--event", "2020", *db])
    assert res.exit_code == 0, res.output
    assert "2020" in res.stdout and "2,020" not in res.stdout and "2,024" not in res.stdout


def test_cli_csv_says_how_it_was_counted(kfupm_store: Path, tmp_path: Path) -> None:
    db = ["--db", str(kfupm_store)]
    args = ["pair", KFUPM, ARAMCO, "--show", "oa", "--rule", "direct", "--years", "2015-2025", *db]
    res = runner.invoke(app, [*args, "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("kind,") and "counted" not in res.stdout  # the CSV itself stays plain
    (line,) = [x for x in res.stderr.splitlines() if x.startswith("# counted: ")]
    for part in ("rule=direct", "types=article,review,book-chapter,book", "years=2015-2025", "seed=20260101"):
        assert part in line, line
    assert "snapshot=2026-02-07" in line
    out = tmp_path / "csv"
    res = runner.invoke(app, [*args, "--show", "oa,growth", "--format", "csv", "--out", str(out)])
    assert res.exit_code == 0, res.output
    csvs = sorted(p.stem for p in out.glob("*.csv"))
    assert csvs == ["growth", "growth.summary", "oa"]
    for stem in csvs:
        meta = json.loads((out / f"{stem}.meta.json").read_text())
        assert meta["section"] == stem and meta["rule"] == "direct" and meta["years"] == [2015, 2025]
        assert meta["snapshot_date"] == "2026-02-07" and meta["seed"] == 20260101
        assert meta["metadata"]["rule"] == "direct" and meta["metadata"]["years"] == "2015-2025"
    assert json.loads((out / "oa.meta.json").read_text())["metadata"]["family"] == "oa"


def test_cli_out_that_cannot_be_a_folder_is_a_usage_error(kfupm_store: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "existing.txt"
    a_file.write_text("x")
    for bad, why in ((a_file, "is not a folder"), (Path("/proc/nope"), "cannot create the folder")):
        res = runner.invoke(
            app, ["pair", KFUPM, ARAMCO, "--show", "oa", "--out", str(bad), "--db", str(kfupm_store)]
        )
        assert res.exit_code == 2, res.output
        assert f"--out {bad}" in res.output and why in res.output
        assert res.exception is None or isinstance(res.exception, SystemExit)
