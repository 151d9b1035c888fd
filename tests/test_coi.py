"""Conflict-of-interest rules, on small hand-built stores and on the real works of ../shared/data."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cordiale.cli.main import app
from cordiale.coi import CoiFinding, CoiPolicy, CoiStatus, Person, _coverage, check_conflict, check_conflicts
from cordiale.observatory.reference import prepare
from cordiale.store.connection import reader, writer
from tests.fake_openalex import FakeOpenAlex

LAB_A = "I100"  # a lab whose lineage rolls up to PARENT_A
PARENT_A = "I1000"
UNI_B = "I200"
UNI_C = "I300"
CNRS, IMPERIAL = "I1294671590", "I47508984"

# (work id, year, [(author id, [direct institution ids])])
Works = list[tuple[str, int, list[tuple[str | None, list[str]]]]]


def build_store(path: Path, works: Works, complete: bool = False) -> Path:
    """A real DuckDB store with the cordiale schema, holding exactly these works; ``complete``: recorded as
    ingested from a complete snapshot (``ingest_log.reference_complete``), as these works are all there is."""
    with writer(path) as con:
        if complete:
            con.execute(
                "INSERT INTO ingest_log (run_id, source, started_at, reference_complete, status) "
                "VALUES ('test', 'snapshot', now(), true, 'done')"
            )
        con.executemany(
            "INSERT INTO institutions (id, display_name, lineage) VALUES (?, ?, ?)",
            [
                [LAB_A, "Lab A", [LAB_A, PARENT_A]],
                [PARENT_A, "Parent A", [PARENT_A]],
                [UNI_B, "University B", [UNI_B]],
                [UNI_C, "University C", [UNI_C]],
            ],
        )
        for wid, year, authors in works:
            con.execute(
                "INSERT INTO works (id, title, publication_year, input_path, input_line) "
                "VALUES (?, ?, ?, 'test', 1)",
                [wid, f"work {wid}", year],
            )
            for pos, (aid, insts) in enumerate(authors):
                con.execute(
                    "INSERT INTO authorships (work_id, position, author_id, author_name, institutions_count) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [wid, pos, aid, aid, len(insts)],
                )
                for inst in insts:
                    con.execute("INSERT INTO authorship_institutions VALUES (?, ?, ?)", [wid, pos, inst])
    return path


ALICE = Person("person:1", "A1", (LAB_A,), "Alice")
BOB = Person("person:2", "A2", (UNI_B,), "Bob")
POLICY = CoiPolicy(coauthor_years=3, as_of_year=2026, min_works=1)  # one work is enough in these tiny stores


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    """Alice (lab A) and Bob (B) co-authored in 2025; Alice and Carol (B) in 2019 only; everyone publishes
    in 2024; Dave is at C, whose works stop in 2015; Erin (B) shares lab A on a 2024 work. Recorded as a
    complete snapshot."""
    return build_store(
        tmp_path / "store.duckdb",
        [
            ("W1", 2025, [("A1", [LAB_A]), ("A2", [UNI_B])]),
            ("W2", 2019, [("A1", [LAB_A]), ("A3", [UNI_B])]),
            ("W3", 2024, [("A1", [LAB_A])]),
            ("W4", 2024, [("A3", [UNI_B])]),
            ("W5", 2015, [("A4", [UNI_C])]),
            ("W6", 2024, [("A5", [UNI_B, LAB_A])]),
            ("W7", 2024, [("A6", [UNI_B]), (None, [UNI_B])]),
        ],
        complete=True,
    )


def test_coauthored_last_year_is_a_conflict(store: Path) -> None:
    finding = check_conflict(store, ALICE, BOB, POLICY)
    assert finding.status is CoiStatus.CONFLICT
    assert "co-authored W1 in 2025" in finding.reasons
    # symmetric
    assert check_conflict(store, BOB, ALICE, POLICY).status is CoiStatus.CONFLICT


def test_coauthorship_older_than_the_window_is_not(store: Path) -> None:
    carol = Person("person:3", "A3", (UNI_B,), "Carol")
    finding = check_conflict(store, ALICE, carol, POLICY)
    assert finding.status is CoiStatus.NONE, finding
    assert not any("W2" in r for r in finding.reasons)
    # a window that reaches 2019 finds it again, and the window's ends are included
    assert check_conflict(store, ALICE, carol, CoiPolicy(7, 2026, min_works=1)).status is CoiStatus.CONFLICT
    assert check_conflict(store, ALICE, carol, CoiPolicy(3, 2022, min_works=1)).status is CoiStatus.CONFLICT
    assert (
        check_conflict(store, ALICE, carol, CoiPolicy(3, 2023, min_works=1)).status is not CoiStatus.CONFLICT
    )
    # a joint work published after as_of_year is not held against them
    assert "co-authored W1 in 2025" not in check_conflict(store, ALICE, BOB, CoiPolicy(3, 2024)).reasons


def test_same_unit_from_the_store_and_from_given_ids(store: Path) -> None:
    erin = Person("person:5", "A5", (UNI_B,), "Erin")
    finding = check_conflict(store, ALICE, erin, POLICY)
    assert finding.status is CoiStatus.CONFLICT
    assert any(r.startswith("same unit") and LAB_A in r for r in finding.reasons)
    # shared institution ids given by the caller, without any store
    given = check_conflict(None, Person("k1", "A1", (UNI_C,)), Person("k2", "A9", (UNI_C,)), POLICY)
    assert given.status is CoiStatus.CONFLICT
    assert any(UNI_C in r for r in given.reasons)


def test_declared_conflicts_win_whatever_the_store_says(store: Path) -> None:
    carol = Person("person:3", "A3", (UNI_B,), "Carol", declared_conflicts=frozenset({"person:1"}))
    finding = check_conflict(store, ALICE, carol, POLICY)
    assert finding.status is CoiStatus.CONFLICT
    assert finding.reasons == ("Carol declared a conflict with Alice",)
    by_author_id = Person("person:9", None, (), "Zoe", declared_conflicts=frozenset({"A1"}))
    assert check_conflict(None, ALICE, by_author_id, POLICY).status is CoiStatus.CONFLICT
    assert check_conflict(None, by_author_id, ALICE, POLICY).status is CoiStatus.CONFLICT


def test_no_author_id_is_unknown_never_none(store: Path) -> None:
    anon = Person("person:7", None, (UNI_B,), "Anon")
    finding = check_conflict(store, ALICE, anon, POLICY)
    assert finding.status is CoiStatus.UNKNOWN
    assert any("no OpenAlex author id" in r for r in finding.reasons)


def test_store_without_the_institutions_works_is_unknown(store: Path) -> None:
    dave = Person("person:4", "A4", (UNI_C,), "Dave")  # C's works in the store stop in 2015
    finding = check_conflict(store, ALICE, dave, POLICY)
    assert finding.status is CoiStatus.UNKNOWN
    assert any("Dave has 0 work(s) in the store published in 2023–2026" in r for r in finding.reasons)
    # an institution the store never saw, and an author the store never saw (no institution given)
    stranger = Person("person:8", "A8", ("I999",), "Stranger")
    assert check_conflict(store, ALICE, stranger, POLICY).status is CoiStatus.UNKNOWN
    ghost = Person("person:10", "A10", (), "Ghost")
    assert check_conflict(store, ALICE, ghost, POLICY).status is CoiStatus.UNKNOWN


def _add_api_counts(path: Path, rows: list[tuple[str, str, int, int]]) -> None:
    """OpenAlex's yearly counts (institution, rule, year, works), as ``cordiale pair`` records them."""
    with writer(path) as con:
        con.executemany("INSERT INTO api_counts VALUES (?, ?, ?, ?, 'test', now())", [list(r) for r in rows])


def test_none_needs_the_store_to_hold_the_institutions_works(tmp_path: Path) -> None:
    """Without a complete snapshot, NONE needs OpenAlex's counts of each person's institution (or of an
    institution of its lineage) to be matched by the store's works of the window; otherwise UNKNOWN."""
    works: Works = [
        ("W1", 2019, [("A1", [LAB_A]), ("A3", [UNI_B])]),
        ("W3", 2024, [("A1", [LAB_A])]),
        ("W4", 2024, [("A3", [UNI_B])]),
        ("W5", 2025, [("A3", [UNI_B])]),
    ]
    path = build_store(tmp_path / "partial.duckdb", works)
    alice = Person("person:1", "A1", (LAB_A,), "Alice")
    carol = Person("person:3", "A3", (UNI_B,), "Carol")
    finding = check_conflict(path, alice, carol, POLICY)  # the store holds works of both: not enough
    assert finding.status is CoiStatus.UNKNOWN, finding
    assert any("OpenAlex's counts of I100 are not in the store" in r for r in finding.reasons)
    # the parent's lineage counts vouch for lab A; B's direct counts say it published 10 works, we hold 2
    _add_api_counts(path, [(PARENT_A, "lineage", 2024, 1), (PARENT_A, "lineage", 2018, 50)])
    _add_api_counts(path, [(UNI_B, "direct", 2024, 6), (UNI_B, "direct", 2025, 4)])
    finding = check_conflict(path, alice, carol, POLICY)
    assert finding.status is CoiStatus.UNKNOWN, finding
    assert not any("Alice" in r for r in finding.reasons), "lab A is covered through its parent's counts"
    assert any("holds 2 of the 10 works OpenAlex counts in 2023–2026 (direct)" in r for r in finding.reasons)
    # a later count replaces an earlier one for the same year: B now counts 2 works, both in the store
    with writer(path) as con:
        con.execute(
            "INSERT INTO api_counts VALUES (?, 'direct', 2024, 1, 'test', now() + INTERVAL 1 DAY), "
            "(?, 'direct', 2025, 1, 'test', now() + INTERVAL 1 DAY)",
            [UNI_B, UNI_B],
        )
    finding = check_conflict(path, alice, carol, POLICY)
    assert finding.status is CoiStatus.NONE, finding
    assert any("evidence: 1 and 2 works" in r for r in finding.reasons)


def test_none_needs_enough_works_of_each_person(store: Path) -> None:
    carol = Person("person:3", "A3", (UNI_B,), "Carol")  # one work (W4, 2024) in the window
    assert check_conflict(store, ALICE, carol, POLICY).status is CoiStatus.NONE
    finding = check_conflict(store, ALICE, carol, CoiPolicy(3, 2026, min_works=2))
    assert finding.status is CoiStatus.UNKNOWN
    assert finding.reasons == (
        "Carol has 1 work(s) in the store published in 2023–2026, fewer than the 2 needed to rule out a "
        "conflict",
    )
    with pytest.raises(ValueError):
        check_conflict(store, ALICE, carol, CoiPolicy(3, 2026, min_coverage=1.5))


def test_no_store_or_missing_store_or_foreign_file_is_unknown(store: Path, tmp_path: Path) -> None:
    carol = Person("person:3", "A3", (UNI_B,), "Carol")
    for where in (None, tmp_path / "absent.duckdb"):
        finding = check_conflict(where, ALICE, carol, POLICY)
        assert finding.status is CoiStatus.UNKNOWN, where
    foreign = tmp_path / "foreign.duckdb"
    import duckdb

    duckdb.connect(str(foreign)).close()  # a DuckDB file without cordiale's tables
    assert check_conflict(foreign, ALICE, carol, POLICY).status is CoiStatus.UNKNOWN
    empty = build_store(tmp_path / "empty.duckdb", [])
    assert check_conflict(empty, ALICE, carol, POLICY).status is CoiStatus.UNKNOWN
    # but a conflict already found stays a conflict without a store
    assert check_conflict(None, ALICE, Person("k", "A1"), POLICY).status is CoiStatus.CONFLICT


def test_check_conflicts_keeps_order_and_matches_single_checks(store: Path) -> None:
    others = [
        BOB,
        Person("person:3", "A3", (UNI_B,), "Carol"),
        Person("person:7", None, (UNI_B,), "Anon"),
        Person("person:6", "A6", (UNI_B,), "Frank"),
    ]
    batch = check_conflicts(store, ALICE, others, POLICY)
    assert [f.status for f in batch] == [
        CoiStatus.CONFLICT,
        CoiStatus.NONE,
        CoiStatus.UNKNOWN,
        CoiStatus.NONE,
    ]
    assert batch == [check_conflict(store, ALICE, o, POLICY) for o in others]
    assert all(isinstance(f, CoiFinding) and f.reasons for f in batch)


def test_ids_in_url_form_are_accepted(store: Path) -> None:
    a = Person("x", "https://openalex.org/A1", ("https://openalex.org/I100",))
    b = Person("y", "https://openalex.org/A2", ("https://openalex.org/I200",))
    assert "co-authored W1 in 2025" in check_conflict(store, a, b, POLICY).reasons


# --- the real works of ../shared/data ----------------------------------------------------------------


def test_real_coauthors_of_2025_are_a_conflict(kfupm_store: Path) -> None:
    """Pantelis Soupios and Mohammed M. Gad co-authored W4406035052 (2025), their only joint work."""
    a = Person("soupios", "A5008213975", name="Pantelis Soupios")
    b = Person("gad", "A5047938805", name="Mohammed M. Gad")
    finding = check_conflict(kfupm_store, a, b, POLICY)
    assert finding.status is CoiStatus.CONFLICT
    assert "co-authored W4406035052 in 2025" in finding.reasons


def test_real_coauthors_of_2019_only(kfupm_store: Path, kfupm_snapshot_store: Path) -> None:
    """A5046466285 and A5081695998 last co-authored in 2019 and list no common institution since; the
    first has one work in 2023–2026, too few to rule out a conflict, even in a complete store."""
    a = Person("a", "A5046466285")
    b = Person("b", "A5081695998")
    for store in (kfupm_store, kfupm_snapshot_store):
        recent = check_conflict(store, a, b, CoiPolicy(coauthor_years=3, as_of_year=2026))
        assert recent.status is CoiStatus.UNKNOWN, recent
        assert "A5046466285 has 1 work(s) in the store published in 2023–2026" in recent.reasons[0]
    then = check_conflict(kfupm_store, a, b, CoiPolicy(coauthor_years=3, as_of_year=2020))
    assert then.status is CoiStatus.CONFLICT
    assert any(r.startswith("co-authored") and "2019" in r for r in then.reasons)


REAL = CoiPolicy(coauthor_years=3, as_of_year=2026)  # the defaults: 3 works each, 95% of the counts


def test_real_none_needs_a_complete_store(kfupm_store: Path, kfupm_snapshot_store: Path) -> None:
    """Mohamed El-Ghali (46 works in 2023–2026) and Mohamed Mahmoud (178): the people-centred works file
    holds works of their institutions, but nothing says it holds all of them, so UNKNOWN; the same works
    ingested as a complete snapshot vouch for them: NONE."""
    a = Person("ghali", "A5044806143", name="Mohamed El-Ghali")
    b = Person("mahmoud", "A5049649985", name="Mohamed Mahmoud")
    partial = check_conflict(kfupm_store, a, b, REAL)
    assert partial.status is CoiStatus.UNKNOWN, partial
    assert any(
        r.startswith("the store is not known to hold all works of Mohamed El-Ghali's institution(s)")
        and "no complete snapshot was ingested" in r
        for r in partial.reasons
    ), partial
    assert not any("work(s) in the store" in r for r in partial.reasons), "both have enough works"
    full = check_conflict(kfupm_snapshot_store, a, b, REAL)
    assert full.status is CoiStatus.NONE, full
    assert "evidence: 46 and 178 works in 2023–2026" in full.reasons[1]


def test_real_few_works_at_imperial_are_unknown(kfupm_store: Path, kfupm_snapshot_store: Path) -> None:
    """The reviewer's case: the store holds ten Imperial works of 2023–2026. Cédric M. John (Imperial) and
    Pierre Bouilhol (CNRS) have two works each there: not enough to say "none", even in a complete store."""
    john = Person("john", "A5081422106", ("I47508984",), "Cédric M. John")
    bouilhol = Person("bouilhol", "A5080250034", ("I1294671590",), "Pierre Bouilhol")
    for store in (kfupm_store, kfupm_snapshot_store):
        finding = check_conflict(store, john, bouilhol, REAL)
        assert finding.status is CoiStatus.UNKNOWN, finding
        for name in ("Cédric M. John", "Pierre Bouilhol"):
            assert f"{name} has 2 work(s) in the store published in 2023–2026, fewer than the 3 needed " in (
                " ".join(finding.reasons)
            )
    coverage = check_conflict(kfupm_store, john, bouilhol, REAL).reasons
    assert any("OpenAlex's counts of I47508984 are not in the store" in r for r in coverage)
    # with one work enough, the complete store vouches for them
    assert check_conflict(kfupm_snapshot_store, john, bouilhol, replace(REAL, min_works=1)).status is (
        CoiStatus.NONE
    )


def test_real_author_at_an_institution_the_store_lacks_is_unknown(kfupm_store: Path) -> None:
    a = Person("a", "A5046466285")
    # an institution id the store never saw
    b = Person("b", "A5081695998", institution_ids=("I4210000001",))
    assert check_conflict(kfupm_store, a, b, POLICY).status is CoiStatus.UNKNOWN


def test_the_partnership_partners_are_not_units(store: Path) -> None:
    """Erin and Alice share lab A on their works: a conflict, unless lab A is one of the partnership's
    partners, which every reviewer shares with one side (the programmes app passes them)."""
    erin = Person("person:5", "A5", (UNI_B,), "Erin")
    assert check_conflict(store, ALICE, erin, POLICY).status is CoiStatus.CONFLICT
    partners = replace(POLICY, not_units=frozenset({LAB_A, UNI_B}))
    finding = check_conflict(store, ALICE, erin, partners)
    assert finding.status is CoiStatus.NONE, finding
    assert not any(r.startswith("same unit") for r in finding.reasons)
    # given ids too, in any id form
    given = CoiPolicy(3, 2026, not_units=frozenset({f"https://openalex.org/{UNI_C}"}))
    both_c = check_conflict(None, Person("k1", "A1", (UNI_C,)), Person("k2", "A9", (UNI_C,)), given)
    assert not any(UNI_C in r for r in both_c.reasons)


# --- OpenAlex's counts, through `cordiale pair` and a fake API serving the real works -------------------


def test_real_counts_from_the_api_decide_coverage(
    tmp_path: Path, fake_api: FakeOpenAlex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cordiale pair CNRS Imperial` stores the two joint works and OpenAlex's yearly counts: the store
    holds a sliver of what OpenAlex counts, so UNKNOWN, saying how much; after `--fetch-all` it holds every
    counted work and the counts vouch for both partners' people."""
    monkeypatch.setenv("OPENALEX_API_URL", fake_api.url)
    db = tmp_path / "s.duckdb"
    joint = CliRunner().invoke(app, ["pair", CNRS, IMPERIAL, "--db", str(db), "--format", "json"])
    assert joint.exit_code == 0, joint.output
    john = Person("john", "A5081422106", (IMPERIAL,), "Cédric M. John")
    bouilhol = Person("bouilhol", "A5080250034", (CNRS,), "Pierre Bouilhol")
    policy = CoiPolicy(coauthor_years=3, as_of_year=2026, min_works=2)
    finding = check_conflict(db, john, bouilhol, policy)
    assert finding.status is CoiStatus.UNKNOWN, finding
    with reader(db) as con:
        counted = con.execute(
            "SELECT sum(works_count) FROM api_counts WHERE institution_id = ? AND year BETWEEN 2023 AND 2026",
            [IMPERIAL],
        ).fetchone()
    assert counted is not None and counted[0] > 2
    held = f"holds 1 of the {counted[0]:,} works OpenAlex counts in 2023–2026 (lineage)"
    assert any("Cédric M. John's institution(s)" in r and held in r for r in finding.reasons), finding
    everything = CliRunner().invoke(
        app, ["pair", CNRS, IMPERIAL, "--db", str(db), "--fetch-all", "--format", "json"]
    )
    assert everything.exit_code == 0, everything.output
    full = check_conflict(db, john, bouilhol, policy)
    assert full.status is CoiStatus.NONE, full
    assert f"the store holds {counted[0]:,} of the {counted[0]:,} works" in full.reasons[1]
    # A prepared store counts its works from the pair view's (unit, work) rows: the same counts.
    prepare(db)
    with reader(db) as con:
        ids = [CNRS, IMPERIAL, *con.execute("SELECT DISTINCT institution_id FROM api_counts").fetchall()[0]]
        raw = _coverage(con, ids, (2023, 2026), 0.95, prepared=False)
        assert _coverage(con, ids, (2023, 2026), 0.95, prepared=True) == raw
        assert _coverage(con, ids, (2015, 2026), 0.95, prepared=True) == _coverage(
            con, ids, (2015, 2026), 0.95, prepared=False
        )
    assert check_conflict(db, john, bouilhol, policy) == full
