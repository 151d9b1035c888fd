"""Matchmaking on the real works of ../shared/data: profiles, sides, suggestions, themes, exit codes."""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from cordiale.cli.main import app
from cordiale.match import themes
from cordiale.match.profiles import Corpus, build_profiles, update_profiles
from cordiale.match.regions import CONTINENTS
from cordiale.match.sides import assign_sides, coauthor_pairs
from cordiale.match.suggest import MatchQuery, suggest_pairs
from cordiale.match.text import work_text
from cordiale.store.connection import reader, writer
from cordiale.store.ingest import ingest
from cordiale.store.parts import copy_store
from tests.conftest import raw_records
from tests.test_coi import build_store

KFUPM = "I134085113"
ARAMCO = "I4210143841"
runner = CliRunner()


@pytest.fixture(scope="module")
def match_store(kfupm_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the real KFUPM store (matchmaking writes its own tables into it)."""
    db = tmp_path_factory.mktemp("match") / "store.duckdb"
    copy_store(kfupm_store, db)
    return db


@pytest.fixture(scope="module", autouse=True)
def fewer_titles() -> Any:
    """Themes embed at most 60 titles here (200 in use): the multilingual model is the tests' main cost."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(themes, "MAX_TITLES", 60)
        yield


@pytest.fixture(scope="module")
def people(match_store: Path) -> dict[str, Any]:
    result = suggest_pairs(match_store, MatchQuery(partners=(KFUPM, ARAMCO), top=30))
    return result.to_json()


@pytest.fixture(scope="module")
def people_all(match_store: Path) -> dict[str, Any]:
    """Existing co-authors included, and a 1-year inactivity rule (inactive authors kept, flagged)."""
    query = MatchQuery(
        partners=(KFUPM, ARAMCO), top=40, include_existing=True, inactive_years=1, include_inactive=True
    )
    return suggest_pairs(match_store, query).to_json()


def _invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


@functools.cache
def _works_with_a_year(store: Path, author: str) -> tuple[int, int]:
    """(works with a publication year, latest year) of an author in the store, read directly."""
    with reader(store) as con:
        row = con.execute(
            """
            SELECT count(DISTINCT w.id), max(w.publication_year) FROM authorships a
            JOIN works w ON w.id = a.work_id WHERE a.author_id = $a AND w.publication_year IS NOT NULL
            """,
            {"a": author},
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def assert_explained(store: Path, pairs: list[dict[str, Any]]) -> None:
    """Each pair is explained like `match people`: shared topics, examples from each side, flags, COI.

    Examples: three works per side, fewer only when the author has fewer than three works (with a year)
    in the store, so two or three whenever the author has at least two."""
    seen_three = False
    for p in pairs:
        assert p["shared_topics"], p  # at least one topic both work on
        assert all(t["id"].startswith("T") and t["name"] for t in p["shared_topics"])
        for side in ("a", "b"):
            examples = p["examples"][side]
            n_works, _ = _works_with_a_year(store, p[side]["id"])
            assert len(examples) == min(3, n_works), (p[side]["id"], n_works, examples)
            if n_works >= 2:
                assert 2 <= len(examples) <= 3
            seen_three |= len(examples) == 3
            assert len({e["id"] for e in examples}) == len(examples)
            assert all(e["id"].startswith("W") and e["year"] > 1900 for e in examples)
        assert isinstance(p["flags"], list)
        assert p["coi"]["status"] in ("none", "conflict", "unknown") and p["coi"]["reasons"]
        assert ("conflict-of-interest" in p["flags"]) == (p["coi"]["status"] == "conflict")
        assert ("conflict-of-interest-unknown" in p["flags"]) == (p["coi"]["status"] == "unknown")
    assert seen_three


# --- suggestions on real pairs --------------------------------------------------------------------


def test_real_pair_gives_explained_suggestions(match_store: Path, people: dict[str, Any]) -> None:
    pairs = people["pairs"]
    assert len(pairs) == 30
    scores = [p["score"] for p in pairs]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0
    for p in pairs:
        assert set(p) >= {"a", "b", "score", "shared_topics", "examples", "flags"}
        assert p["a"]["institution"] == KFUPM and p["b"]["institution"] == ARAMCO
        assert p["a"]["id"].startswith("A") and p["a"]["id"][1:].isdigit()
        assert p["b"]["unit"].startswith("I")
        assert "already-coauthors" not in p["flags"]
    assert_explained(match_store, pairs)


def _assert_inactive_rule(store: Path, result: dict[str, Any], years: int) -> int:
    """``inactive-a``/``inactive-b`` flag exactly the authors with no work in the last ``years`` years
    (latest year read from the store); returns how many were flagged."""
    as_of = result["as_of_year"]
    flagged = 0
    for p in result["pairs"]:
        for side in ("a", "b"):
            _, last = _works_with_a_year(store, p[side]["id"])
            assert p[side]["last_year"] == last
            inactive = last <= as_of - years
            assert (f"inactive-{side}" in p["flags"]) == inactive, (p[side], p["flags"], as_of)
            flagged += inactive
    return flagged


def test_inactive_authors_are_flagged(
    match_store: Path, people: dict[str, Any], people_all: dict[str, Any]
) -> None:
    _assert_inactive_rule(match_store, people, 3)  # the default: no work in the last 3 years
    # with a 1-year rule, authors without a work in the latest year are flagged, the others are not
    flagged = _assert_inactive_rule(match_store, people_all, 1)
    assert 0 < flagged < 2 * len(people_all["pairs"]), "the rule separates some authors from others here"


@functools.cache
def _works_in(store: Path, author: str, lo: int, hi: int) -> int:
    with reader(store) as con:
        row = con.execute(
            """
            SELECT count(DISTINCT w.id) FROM authorships a JOIN works w ON w.id = a.work_id
            WHERE a.author_id = $a AND w.publication_year BETWEEN $lo AND $hi
            """,
            {"a": author, "lo": lo, "hi": hi},
        ).fetchone()
    return int(row[0]) if row else 0


def test_thin_or_inactive_profiles_do_not_lead_the_ranking(match_store: Path, people: dict[str, Any]) -> None:
    """Each pair's score is weighted by the evidence of both profiles, n / (n + 1) for n works at their
    partner in the window, and inactive authors (no work in the last 3 years) are left out. Without this,
    the real data's top pairs were led by authors with one or two works (an author id that OpenAlex split
    off a prolific author, a one-off Aramco co-author); now every author of the top 30 has at least two
    works in the window and a recent one, and each score is its components times that weight."""
    as_of = people["as_of_year"]
    with reader(match_store) as con:
        sides = assign_sides(con, [KFUPM, ARAMCO], (as_of - 4, as_of))
    for p in people["pairs"]:
        for side in ("a", "b"):
            assert _works_in(match_store, p[side]["id"], as_of - 4, as_of) >= 2, p[side]
            assert p[side]["last_year"] > as_of - 3, p[side]
            assert f"inactive-{side}" not in p["flags"]
        c = p["components"]
        n_a, n_b = (sides[p[k]["id"]].works_in_window for k in ("a", "b"))
        assert c["evidence"] == pytest.approx(n_a / (n_a + 1) * n_b / (n_b + 1), abs=1e-4)
        aa = c["network_adamic_adar"]
        base = 0.35 * c["topics"] + 0.35 * c["words"] + 0.30 * aa / (1 + aa)
        assert p["score"] == pytest.approx(base * c["evidence"], abs=1e-3)
    # inactive authors come back with include_inactive, flagged
    loose = suggest_pairs(
        match_store, MatchQuery(partners=(KFUPM, ARAMCO), top=30, include_inactive=True, inactive_years=1)
    )
    assert any("inactive-a" in p["flags"] or "inactive-b" in p["flags"] for p in loose.pairs)
    # a hard floor is honoured, and a floor below 1 is a usage error
    strict = suggest_pairs(match_store, MatchQuery(partners=(KFUPM, ARAMCO), top=10, min_works=8))
    assert strict.pairs and all(
        _works_in(match_store, p[s]["id"], as_of - 4, as_of) >= 8 for p in strict.pairs for s in ("a", "b")
    )
    bad = _invoke("match", "people", KFUPM, ARAMCO, "--min-works", "0", "--db", str(match_store))
    assert bad.exit_code == 2 and "--min-works" in bad.output


def test_coi_in_matchmaking_says_unknown_on_a_partial_store(
    match_store: Path, people: dict[str, Any]
) -> None:
    """The shared works file is centred on people, not complete for any institution, and holds no API
    counts: no pair can be cleared ("none"); each says why, in JSON and in the table."""
    statuses = {p["coi"]["status"] for p in people["pairs"]}
    assert statuses <= {"unknown", "conflict"} and "unknown" in statuses
    for p in people["pairs"]:
        if p["coi"]["status"] == "unknown":
            assert any("no complete snapshot was ingested" in r for r in p["coi"]["reasons"]), p["coi"]
    args = ["match", "people", KFUPM, ARAMCO, "--top", "2", "--db", str(match_store)]
    table = runner.invoke(app, args, env={"COLUMNS": "400"})  # wide enough to keep the reasons whole
    assert table.exit_code == 0, table.output
    flat = " ".join(table.stdout.split())
    assert "conflict of interest" in flat and "unknown" in flat and "not known to hold all works" in flat


def test_coauthors_of_last_year_are_never_suggested_as_new(
    match_store: Path, people: dict[str, Any], people_all: dict[str, Any]
) -> None:
    as_of = people["as_of_year"]
    with reader(match_store) as con:
        sides = assign_sides(con, [KFUPM, ARAMCO], (as_of - 4, as_of))
        a_side = [a for a, s in sides.items() if s.side == 0]
        b_side = [b for b, s in sides.items() if s.side == 1]
        recent = {
            (r[0], r[1])
            for r in con.execute(
                """
                SELECT DISTINCT x.author_id, y.author_id FROM authorships x
                JOIN authorships y ON y.work_id = x.work_id JOIN works w ON w.id = x.work_id
                WHERE w.publication_year = $y AND x.author_id IN (SELECT unnest($a))
                  AND y.author_id IN (SELECT unnest($b))
                """,
                {"y": as_of - 1, "a": a_side, "b": b_side},
            ).fetchall()
        }
    assert len(recent) > 20  # the real data holds many such pairs
    suggested = {(p["a"]["id"], p["b"]["id"]) for p in people["pairs"]}
    assert not suggested & recent
    # with --include-existing they may come back, flagged as co-authors and as a conflict of interest
    back = [p for p in people_all["pairs"] if (p["a"]["id"], p["b"]["id"]) in recent]
    assert back, "the best-matched pairs include last year's co-authors"
    for p in back:
        assert "already-coauthors" in p["flags"]
        assert "conflict-of-interest" in p["flags"]
        assert any(r.startswith("co-authored W") for r in p["coi"]["reasons"])


def test_cli_people_json_and_table(match_store: Path) -> None:
    result = _invoke(
        "match", "people", KFUPM, ARAMCO, "--top", "3", "--format", "json", "--db", str(match_store)
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    for p in payload["pairs"]:
        assert {"id", "name", "institution"} <= set(p["a"]) and {"id", "name", "institution"} <= set(p["b"])
    assert len(payload["pairs"]) == 3
    table = _invoke("match", "people", KFUPM, ARAMCO, "--top", "2", "--db", str(match_store))
    assert table.exit_code == 0, table.output
    assert "King Fahd University" in table.stdout and "researcher" in table.stdout and "score" in table.stdout


# --- profiles: incremental, sides ------------------------------------------------------------------


def test_profiles_are_incremental(
    match_store: Path, people: dict[str, Any], kfupm: Path, tmp_path: Path
) -> None:
    again = update_profiles(match_store, [KFUPM, ARAMCO])
    assert again.recomputed == 0 and again.authors > 1000
    with reader(match_store) as con:
        work, authors = con.execute(
            """
            SELECT a.work_id, count(DISTINCT a.author_id) FROM authorships a
            JOIN match_profiles p ON p.author_id = a.author_id
            GROUP BY 1 HAVING count(DISTINCT a.author_id) BETWEEN 2 AND 6 ORDER BY 1 LIMIT 1
            """
        ).fetchone()  # type: ignore[misc]
    # a newer version of that work arrives (its part goes into the database, store/parts.py)
    record = next(r for r in raw_records(kfupm) if r["id"].endswith("/" + work))
    newer = tmp_path / "newer.jsonl"
    newer.write_text(json.dumps(dict(record, updated_date="2099-01-01T00:00:00")) + "\n")
    ingest([newer], match_store, workers=1)
    changed = update_profiles(match_store, [KFUPM, ARAMCO])
    assert changed.recomputed == authors


def test_an_author_at_both_partners_goes_to_the_most_frequent(tmp_path: Path) -> None:
    store = build_store(
        tmp_path / "s.duckdb",
        [
            ("W1", 2024, [("A1", ["I100"])]),
            ("W2", 2024, [("A1", ["I200"])]),
            ("W3", 2023, [("A1", ["I200"])]),
            ("W4", 2015, [("A1", ["I100"])]),
            ("W5", 2015, [("A1", ["I100"])]),
            ("W6", 2024, [("A2", ["I100", "I200"])]),
        ],
    )
    with reader(store) as con:
        sides = assign_sides(con, ["I1000", "I200"], (2021, 2025))  # I100 rolls up to I1000 (lineage)
    assert sides["A1"].side == 1 and sides["A1"].partner == "I200"  # 2 works at B in the window vs 1 at A
    assert sides["A2"].side == 0  # a tie goes to A
    with reader(store) as con:
        older = assign_sides(con, ["I1000", "I200"], (2011, 2016))
        assert older["A1"].side == 0 and older["A1"].unit == "I100"
        assert coauthor_pairs(con, ["A1"], ["A2"]) == set()


def test_profiles_weigh_recent_work_more() -> None:
    corpus = Corpus(
        work_ids=["W1", "W2"],
        years=np.array([2010, 2022]),
        texts=["seismic tomography", "carbonate reservoirs"],
        topics=[
            (0, "T1", "Seismology", None, None, None, None, 1.0),
            (1, "T2", "Reservoirs", None, None, None, None, 1.0),
        ],
        authors=["A1"],
        names=["One"],
        link_author=np.array([0, 0]),
        link_work=np.array([0, 1]),
    )
    p = build_profiles(corpus)
    row = p.topics.toarray()[0]
    assert row[p.topic_keys.index("T2")] == pytest.approx(
        16 * row[p.topic_keys.index("T1")]
    )  # 12 years: 2**4
    assert p.first_year[0] == 2010 and p.last_year[0] == 2022 and p.works[0] == 2


# --- themes in French and English -------------------------------------------------------------------


@pytest.mark.timeout(300)  # embeds titles with the multilingual model (slow on a busy machine)
def test_themes_in_english_and_french_meet(match_store: Path) -> None:
    query = MatchQuery(partners=(KFUPM, ARAMCO), theme="seismic tomography", top=10)
    en = suggest_pairs(match_store, query)
    # the French theme reaches fewer people, most of whom co-author already or have few works here
    fr_query = replace(query, theme="tomographie sismique", include_existing=True, include_inactive=True)
    fr = suggest_pairs(match_store, fr_query)
    assert en.pairs and fr.pairs
    assert en.theme is not None and fr.theme is not None
    assert "seismic" in en.theme.terms and not fr.theme.terms  # these French words are in no profile
    assert fr.theme.matched_works, "the French theme reaches English titles through the multilingual model"
    assert set(en.theme.matched_works) & set(fr.theme.matched_works), "some works are on the theme in both"
    on_en, on_fr = en.theme.authors_on_theme(), fr.theme.authors_on_theme()
    assert on_en & on_fr, "both languages find some of the same researchers"
    for side in (KFUPM, ARAMCO):  # at both partners
        assert any(p["a" if side == KFUPM else "b"]["id"] in on_fr for p in fr.pairs)
    # an unrelated theme finds none of them
    assert not (on_en & _on_theme(match_store, "poésie médiévale"))


STORAGE_OF_GAS = ("co2", "co<sub>2", "carbon dioxide", "hydrogen", "h2", "h<sub>2", "gas")


def _is_gas_storage(title: str) -> bool:
    t = title.lower()
    return "storage" in t and any(g in t for g in STORAGE_OF_GAS) and "dna" not in t


@pytest.mark.timeout(300)  # embeds titles with the multilingual model
def test_a_theme_s_words_count_jointly(match_store: Path) -> None:
    """ "DNA data storage": the shared works hold no work on it, but dozens on CO₂ and hydrogen storage,
    which used to fill the results through the word "storage"; none may appear now. A theme the data does
    hold, "hydrogen storage", still finds its works and researchers."""
    dna = suggest_pairs(match_store, MatchQuery(partners=(KFUPM, ARAMCO), theme="DNA data storage", top=10))
    assert dna.theme is not None
    with reader(match_store) as con:
        titles = dict(con.execute("SELECT id, title FROM works WHERE title IS NOT NULL").fetchall())
        gas_authors = {
            r[0]
            for r in con.execute(
                "SELECT DISTINCT author_id FROM authorships WHERE work_id IN (SELECT unnest($w))",
                {"w": [w for w, t in titles.items() if _is_gas_storage(t)]},
            ).fetchall()
        }
    assert len(gas_authors) > 50
    assert not dna.theme.authors_on_theme() & gas_authors
    assert not any(_is_gas_storage(titles.get(w, "")) for w in dna.theme.matched_works)
    for p in dna.pairs:
        for side in ("a", "b"):
            assert not any(_is_gas_storage(e["title"] or "") for e in p["examples"][side]), p
    # third partners: no institution's work on the theme is a gas-storage paper
    with writer(match_store) as con:
        works = [
            (w, t, work_text(t, a))
            for w, t, a in con.execute("SELECT id, title, abstract_inverted_index FROM works").fetchall()
        ]
        dna_works = themes.works_on_theme(con, "DNA data storage", works)
        h2_works = themes.works_on_theme(con, "hydrogen storage", works)
    assert not [titles[w] for w in dna_works if _is_gas_storage(titles.get(w, ""))]
    assert sum("hydrogen" in titles.get(w, "").lower() for w in h2_works) >= 20
    h2 = suggest_pairs(match_store, MatchQuery(partners=(KFUPM, ARAMCO), theme="hydrogen storage", top=5))
    assert h2.pairs and h2.theme is not None and "hydrogen" in h2.theme.terms
    assert len(h2.theme.authors_on_theme() & gas_authors) >= 10


def _on_theme(store: Path, theme: str) -> set[str]:
    result = suggest_pairs(store, MatchQuery(partners=(KFUPM, ARAMCO), theme=theme, top=5))
    return result.theme.authors_on_theme() if result.theme else set()


@pytest.mark.timeout(300)  # embeds titles with the multilingual model (slow on a busy machine)
def test_theme_with_no_match_says_so(match_store: Path) -> None:
    result = _invoke(
        "match",
        "people",
        KFUPM,
        ARAMCO,
        "--theme",
        "poésie médiévale",
        "--format",
        "json",
        "--db",
        str(match_store),
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["pairs"] == []
    assert "no author of either partner works on" in result.stderr


@pytest.mark.timeout(300)  # embeds titles with the multilingual model (slow on a busy machine)
def test_supervisors_for_a_project_text(match_store: Path, tmp_path: Path) -> None:
    text = tmp_path / "project.txt"
    text.write_text(
        "Récupération assistée du pétrole dans les réservoirs carbonatés par injection de tensioactifs. "
        "Surfactant flooding for enhanced oil recovery in carbonate reservoirs.",
        encoding="utf-8",
    )
    result = _invoke(
        "match",
        "supervisors",
        KFUPM,
        ARAMCO,
        "--file",
        str(text),
        "--top",
        "5",
        "--format",
        "json",
        "--db",
        str(match_store),
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["mode"] == "supervisors" and len(payload["pairs"]) == 5
    for p in payload["pairs"]:
        assert p["components"]["fit"] > 0
        assert p["a"]["institution"] == KFUPM and p["b"]["institution"] == ARAMCO
    assert_explained(match_store, payload["pairs"])  # explained the same way as `match people`
    missing = _invoke("match", "supervisors", KFUPM, ARAMCO, "--db", str(match_store))
    assert missing.exit_code == 2 and "--text or --file" in missing.output


def _joint_works(store: Path, institution: str, partner: str) -> int:
    """Works the institution co-publishes with the partner or one of its units (lineage), read directly."""
    with reader(store) as con:
        row = con.execute(
            """
            SELECT count(DISTINCT x.work_id) FROM authorship_institutions x
            JOIN authorship_institutions y ON y.work_id = x.work_id
            LEFT JOIN institutions i ON i.id = y.institution_id
            WHERE x.institution_id = $c AND (y.institution_id = $p OR list_contains(i.lineage, $p))
            """,
            {"c": institution, "p": partner},
        ).fetchone()
    return int(row[0]) if row else 0


def _countries(store: Path, ids: list[str]) -> dict[str, str | None]:
    """Each institution's country: OpenAlex's, else ROR's."""
    with reader(store) as con:
        return dict(
            con.execute(
                """
                SELECT i.id, coalesce(i.country_code, r.country_code) FROM institutions i
                LEFT JOIN ror_organizations r ON r.ror_id = lower(right(i.ror, 9))
                WHERE i.id IN (SELECT unnest($i))
                """,
                {"i": ids},
            ).fetchall()
        )


def _partners(store: Path, *args: str) -> list[dict[str, Any]]:
    result = _invoke("match", "partners", KFUPM, ARAMCO, *args, "--format", "json", "--db", str(store))
    assert result.exit_code == 0, result.output
    institutions: list[dict[str, Any]] = json.loads(result.stdout)["institutions"]
    scores = [i["score"] for i in institutions]
    assert scores == sorted(scores, reverse=True)  # ranked by score (shown rounded to 4 places)
    return institutions


def test_third_partners_in_a_region(match_store: Path) -> None:
    institutions = _partners(match_store, "--region", "europe", "--top", "200")
    assert institutions
    europe = CONTINENTS["europe"]
    countries = _countries(match_store, [i["id"] for i in institutions])
    labels: dict[str, int] = {}
    for inst in institutions:
        assert inst["id"].startswith("I") and inst["id"] not in (KFUPM, ARAMCO)
        assert countries[inst["id"]] == inst["country"] and inst["country"] in europe
        with_a, with_b = inst["joint_with_a"], inst["joint_with_b"]
        expected = "both" if with_a and with_b else "A" if with_a else "B" if with_b else "neither"
        assert inst["co_publishes_with"] == expected
        labels[expected] = labels.get(expected, 0) + 1
    assert {"A", "B", "both", "neither"} <= set(labels), labels  # the real data holds every case
    for label in ("A", "B", "both"):  # the joint counts behind one institution of each label, from the store
        inst = next(i for i in institutions if i["co_publishes_with"] == label)
        assert inst["joint_with_a"] == _joint_works(match_store, inst["id"], KFUPM)
        assert inst["joint_with_b"] == _joint_works(match_store, inst["id"], ARAMCO)


def test_third_partners_in_africa(match_store: Path) -> None:
    institutions = _partners(match_store, "--region", "africa")
    assert len(institutions) >= 5
    countries = _countries(match_store, [i["id"] for i in institutions])
    for inst in institutions:
        assert countries[inst["id"]] in CONTINENTS["africa"], inst  # African per OpenAlex / ROR country
        assert inst["country"] == countries[inst["id"]]
    bad = _invoke("match", "partners", KFUPM, ARAMCO, "--region", "atlantis", "--db", str(match_store))
    assert bad.exit_code == 2 and "continent" in bad.output


@pytest.mark.timeout(300)  # embeds titles with the multilingual model
def test_third_partners_on_a_theme(match_store: Path) -> None:
    inst = _partners(match_store, "--region", "FR,GB,DE", "--theme", "tomographie sismique")
    assert inst and all(i["works_on_theme"] > 0 and i["country"] in ("FR", "GB", "DE") for i in inst)


# --- clear messages and the shared exit codes -------------------------------------------------------


def test_unknown_institution_is_exit_3(match_store: Path) -> None:
    result = _invoke("match", "people", "Université de Nulle Part Xyzzy", ARAMCO, "--db", str(match_store))
    assert result.exit_code == 3, result.output
    assert "no institution matches 'Université de Nulle Part Xyzzy'" in " ".join(result.output.split())


def test_empty_or_missing_store_is_exit_4(tmp_path: Path) -> None:
    empty = build_store(tmp_path / "empty.duckdb", [])
    result = _invoke("match", "people", KFUPM, ARAMCO, "--db", str(empty))
    assert result.exit_code == 4, result.output
    assert "empty" in result.output
    missing = _invoke("match", "people", KFUPM, ARAMCO, "--db", str(tmp_path / "none.duckdb"))
    assert missing.exit_code == 4 and "no store" in missing.output


def test_partner_without_works_in_the_store_is_exit_4(match_store: Path) -> None:
    result = _invoke("match", "people", KFUPM, "I4210000001", "--db", str(match_store))  # no work of it here
    assert result.exit_code == 4, result.output
    assert "holds no works of I4210000001" in result.output


def test_bad_format_is_exit_2(match_store: Path) -> None:
    result = _invoke("match", "people", KFUPM, ARAMCO, "--format", "xml", "--db", str(match_store))
    assert result.exit_code == 2


@pytest.mark.parametrize("top", ["0", "-5"])
@pytest.mark.parametrize("command", ["people", "supervisors", "partners"])
def test_top_below_one_is_exit_2_in_every_command(match_store: Path, command: str, top: str) -> None:
    extra = {"supervisors": ["--text", "oil"], "partners": ["--region", "europe"]}.get(command, [])
    result = _invoke("match", command, KFUPM, ARAMCO, *extra, "--top", top, "--db", str(match_store))
    assert result.exit_code == 2, result.output
    assert "--top must be at least 1" in result.output


@pytest.mark.parametrize("years", ["0", "-1"])
def test_inactive_years_below_one_is_exit_2(match_store: Path, years: str) -> None:
    result = _invoke("match", "people", KFUPM, ARAMCO, "--inactive-years", years, "--db", str(match_store))
    assert result.exit_code == 2, result.output
    assert "--inactive-years must be at least 1" in result.output


@pytest.fixture(scope="module")
def ror_only_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding two ROR records (CNRS, Imperial) and no works."""
    from cordiale.sources.ror import load_ror
    from tests.shared_data import shared_path

    db = tmp_path_factory.mktemp("ror_only") / "store.duckdb"
    load_ror([shared_path("ror", "cnrs_02feahw73.json"), shared_path("ror", "imperial_041kmwe10.json")], db)
    return db


@pytest.mark.parametrize(
    "args",
    [
        ["match", "people"],
        ["match", "supervisors", "--text", "ocean acidification"],
        ["match", "partners", "--region", "europe"],
    ],
)
def test_a_store_without_works_is_exit_4_before_resolution(ror_only_store: Path, args: list[str]) -> None:
    result = _invoke(*args[:2], "02feahw73", "041kmwe10", *args[2:], "--db", str(ror_only_store))
    assert result.exit_code == 4, result.output
    assert "cordiale ingest" in result.output and "--fetch" not in result.output


def test_a_ror_id_without_openalex_institution_points_to_pair_fetch(match_store: Path) -> None:
    result = _invoke("match", "people", KFUPM, "https://ror.org/038b4c997/", "--db", str(match_store))
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())
    assert "`cordiale pair A B --fetch`" in text and "(--fetch)" not in text


@pytest.mark.timeout(300)  # embeds titles with the multilingual model (slow on a busy machine)
def test_a_long_project_text_is_cut_with_a_notice(match_store: Path, tmp_path: Path) -> None:
    from cordiale.sdg.text import MAX_CHARS

    sentence = "Surfactant flooding for enhanced oil recovery in carbonate reservoirs. "
    text = tmp_path / "long.txt"
    text.write_text(sentence * (MAX_CHARS // len(sentence) + 50), encoding="utf-8")
    args = ["--top", "1", "--format", "json", "--db", str(match_store)]
    result = _invoke("match", "supervisors", KFUPM, ARAMCO, "--file", str(text), *args)
    assert result.exit_code == 0, result.output
    assert f"only the first {MAX_CHARS:,} are used" in " ".join(result.stderr.split())
    assert len(json.loads(result.stdout)["theme"]["text"]) == MAX_CHARS
    short = _invoke("match", "supervisors", KFUPM, ARAMCO, "--text", sentence, *args)
    assert short.exit_code == 0 and "are used" not in short.stderr


@pytest.mark.timeout(300)  # embeds titles with the multilingual model
def test_partners_theme_has_the_object_shape_of_people(match_store: Path) -> None:
    theme = "tomographie sismique"
    common = [KFUPM, ARAMCO, "--theme", theme, "--top", "3", "--format", "json", "--db", str(match_store)]
    partners = _invoke("match", "partners", *common[:2], "--region", "FR,GB,DE", *common[2:])
    people = _invoke("match", "people", *common)
    assert partners.exit_code == 0 and people.exit_code == 0, partners.output + people.output
    pt, pe = json.loads(partners.stdout)["theme"], json.loads(people.stdout)["theme"]
    assert isinstance(pt, dict) and isinstance(pe, dict)
    assert pt["text"] == pe["text"] == theme
    assert set(pt) >= {"text", "nearest_topics", "works_on_theme", "institutions_on_theme"}
    # topics near the theme among each command's works (region's works vs the partners'), shaped alike
    assert pt["nearest_topics"] and pe["nearest_topics"]
    assert {frozenset(t) for t in pt["nearest_topics"] + pe["nearest_topics"]} == {
        frozenset({"id", "name", "similarity"})
    }
    assert pt["works_on_theme"] >= 1 and pt["institutions_on_theme"] >= 1
    without = _invoke(
        "match", "partners", KFUPM, ARAMCO, "--region", "europe", "--format", "json", "--db", str(match_store)
    )
    assert json.loads(without.stdout)["theme"] is None
