"""Institution resolution on the real ROR v2 registry and the institutions of the real OpenAlex works."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import isal.igzip
import msgspec
import pyarrow as pa
import pytest

from cordiale.errors import InstitutionError
from cordiale.resolve import (
    EXACT,
    Candidate,
    Institution,
    resolve_institution,
    ror_descendants,
    search_institutions,
)
from cordiale.sources.ror import load_ror
from cordiale.store.connection import writer
from tests.shared_data import shared_path

CNRS, CNRS_ROR = "I1294671590", "02feahw73"
IMPERIAL, IMPERIAL_ROR = "I47508984", "041kmwe10"


# ---------------------------------------------------------------------------------------------------------
# Institutions and authorship links from the real works (parsed here, independently of the ingest)
# ---------------------------------------------------------------------------------------------------------
class _Inst(msgspec.Struct):
    id: str | None = None
    display_name: str | None = None
    ror: str | None = None
    country_code: str | None = None
    type: str | None = None


class _Authorship(msgspec.Struct):
    institutions: list[_Inst] | None = None


class _Work(msgspec.Struct):
    id: str
    authorships: list[_Authorship] | None = None


def _short(url: str | None) -> str | None:
    return url.rsplit("/", 1)[-1] if url else None


def works_institutions(path: Path) -> tuple[pa.Table, pa.Table]:
    """(institutions, authorship_institutions) as Arrow tables, from an OpenAlex works file."""
    decoder = msgspec.json.Decoder(_Work)
    institutions: dict[str, tuple[str | None, ...]] = {}
    links: set[tuple[str, int, str]] = set()
    with isal.igzip.open(path, "rb") as fh:  # type: ignore[no-untyped-call]
        for line in fh:
            work = decoder.decode(line)
            for position, authorship in enumerate(work.authorships or []):
                for inst in authorship.institutions or []:
                    iid = _short(inst.id)
                    if iid is None:
                        continue
                    institutions[iid] = (inst.display_name, _short(inst.ror), inst.country_code, inst.type)
                    links.add((str(_short(work.id)), position, iid))
    ids = sorted(institutions)
    inst_table = pa.table(
        {
            "id": ids,
            **{
                column: [institutions[i][k] for i in ids]
                for k, column in enumerate(("display_name", "ror", "country_code", "type"))
            },
        }
    )
    work_ids, positions, inst_ids = zip(*sorted(links), strict=True)
    link_table = pa.table(
        {
            "work_id": list(work_ids),
            "position": pa.array(positions, pa.int32()),
            "institution_id": list(inst_ids),
        }
    )
    return inst_table, link_table


def add_works_institutions(db: Path, inst: pa.Table, links: pa.Table) -> None:
    with writer(db) as con:
        con.begin()
        con.register("_inst", inst)
        con.register("_links", links)
        con.execute("INSERT INTO institutions BY NAME SELECT * FROM _inst")
        con.execute("INSERT INTO authorship_institutions BY NAME SELECT * FROM _links")
        con.commit()


def data_file(*parts: str) -> Path:
    return shared_path(*parts)


@pytest.fixture(scope="module")
def works_tables() -> tuple[pa.Table, pa.Table]:
    return works_institutions(data_file("openalex", "works-kfupm-2026.jsonl.gz"))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, works_tables: tuple[pa.Table, pa.Table]) -> Path:
    """The ROR v2 registry plus the institutions of the 5,804 real works."""
    db = tmp_path_factory.mktemp("resolve") / "store.duckdb"
    load_ror([data_file("ror", "ror_records_latest_v2schema.jsonl.gz")], db)
    add_works_institutions(db, *works_tables)
    return db


@pytest.fixture(scope="module")
def no_ror_store(tmp_path_factory: pytest.TempPathFactory, works_tables: tuple[pa.Table, pa.Table]) -> Path:
    """Only the institutions of the works: no ROR data loaded."""
    db = tmp_path_factory.mktemp("resolve_no_ror") / "store.duckdb"
    add_works_institutions(db, *works_tables)
    return db


@pytest.fixture()
def con(store: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect(str(store), read_only=True) as connection:
        yield connection


def test_the_works_carry_cnrs_and_imperial(works_tables: tuple[pa.Table, pa.Table]) -> None:
    inst, _ = works_tables
    rows = {r["id"]: r for r in inst.to_pylist()}
    assert rows[CNRS]["ror"] == CNRS_ROR
    assert rows[IMPERIAL]["ror"] == IMPERIAL_ROR


# ---------------------------------------------------------------------------------------------------------
# Ids
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        CNRS,
        CNRS.lower(),
        f"https://openalex.org/{CNRS}",
        f"https://openalex.org/{CNRS.lower()}",
        f"  {CNRS} ",
        f"https://openalex.org/{CNRS}/",  # trailing slash
        f"openalex.org/{CNRS}",  # host only, no scheme
        f"openalex.org/institutions/{CNRS}//",
        f"https://api.openalex.org/institutions/{CNRS}",
    ],
)
def test_openalex_id_forms(con: duckdb.DuckDBPyConnection, text: str) -> None:
    assert resolve_institution(con, text) == Institution(
        CNRS, "Centre National de la Recherche Scientifique", CNRS_ROR, "FR"
    )


def test_an_openalex_id_not_in_the_store_keeps_the_id_as_name(con: duckdb.DuckDBPyConnection) -> None:
    assert resolve_institution(con, "I4210000001") == Institution("I4210000001", "I4210000001")


def test_an_openalex_id_of_another_kind_is_refused(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(InstitutionError, match="not an institution"):
        resolve_institution(con, "https://openalex.org/W4400255569")


@pytest.mark.parametrize(
    "text",
    [
        CNRS_ROR,
        f"https://ror.org/{CNRS_ROR}",
        f"ror.org/{CNRS_ROR}",
        f"HTTPS://ROR.ORG/{CNRS_ROR.upper()}",
        f"https://ror.org/{CNRS_ROR}/",  # trailing slash
        f"{CNRS_ROR}/",
    ],
)
def test_ror_id_forms(con: duckdb.DuckDBPyConnection, text: str) -> None:
    found = resolve_institution(con, text)
    assert (found.id, found.ror) == (CNRS, CNRS_ROR)


def test_a_ror_id_without_openalex_institution(con: duckdb.DuckDBPyConnection) -> None:
    ror = "038b4c997"  # Zorginstituut Nederland: in the registry, not in the works
    assert con.execute("SELECT count(*) FROM institutions WHERE ror = ?", [ror]).fetchone() == (0,)
    with pytest.raises(InstitutionError, match=r"038b4c997 \(Zorginstituut Nederland\) has no OpenAlex"):
        resolve_institution(con, f"https://ror.org/{ror}")
    asked: list[str] = []

    def lookup(r: str) -> tuple[str, str] | None:
        asked.append(r)
        return ("https://openalex.org/I4210000002", "Zorginstituut Nederland (OpenAlex)")

    found = resolve_institution(con, ror, lookup_ror=lookup)
    assert found == Institution("I4210000002", "Zorginstituut Nederland (OpenAlex)", ror, "NL")
    assert asked == [ror]
    with pytest.raises(InstitutionError, match="OpenAlex has no institution"):
        resolve_institution(con, ror, lookup_ror=lambda r: None)


# ---------------------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Imperial College London", IMPERIAL),
        ("imperial college london", IMPERIAL),
        ("IMPERIAL COLLEGE-LONDON", IMPERIAL),
        ("Coleg Imperial Llundain", IMPERIAL),  # Welsh label
        ("Centre National de la Recherche Scientifique", CNRS),
        ("French National Centre for Scientific Research", CNRS),  # English label of a French display name
        ("bureau de recherches geologiques et minieres", "I4210158893"),  # BRGM: accents ignored
    ],
)
def test_names_resolve(con: duckdb.DuckDBPyConnection, text: str, expected: str) -> None:
    assert resolve_institution(con, text).id == expected


def test_imperial_is_among_the_candidates(
    con: duckdb.DuckDBPyConnection, works_tables: tuple[pa.Table, pa.Table]
) -> None:
    _, links = works_tables
    works = len({r["work_id"] for r in links.to_pylist() if r["institution_id"] == IMPERIAL})
    candidates = search_institutions(con, "imperial")
    imperial = [c for c in candidates if c.ror == IMPERIAL_ROR]
    assert len(imperial) == 1
    assert imperial[0].openalex_id == IMPERIAL
    assert (imperial[0].name, imperial[0].country_code, imperial[0].works) == (
        "Imperial College London",
        "GB",
        works,
    )
    assert imperial[0].types == ["education", "funder"]
    assert works > 0
    assert candidates[0] == imperial[0]  # no exact match: the one with works comes first among prefixes
    assert [c.rank for c in candidates] == sorted(c.rank for c in candidates)
    assert len(candidates) <= 20


def test_exact_before_prefix_before_substring(con: duckdb.DuckDBPyConnection) -> None:
    candidates = search_institutions(con, "Imperial College London", limit=50)
    assert candidates[0].ror == IMPERIAL_ROR and candidates[0].rank == EXACT
    assert any(c.rank > EXACT for c in candidates[1:])  # e.g. Imperial College London Diabetes Centre
    assert [c.rank for c in candidates] == sorted(c.rank for c in candidates)


def test_an_ambiguous_acronym_lists_candidates(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(InstitutionError, match="ambiguous") as info:
        resolve_institution(con, "CNRS")
    ids = [c[0] for c in info.value.candidates]
    assert 2 <= len(ids) <= 10
    assert set(ids[:2]) == {CNRS, "00x9ewr78"}  # the French and the Lebanese CNRS, both exact acronyms
    assert all(len(c) == 3 and c[1] for c in info.value.candidates)


def test_an_active_exact_match_wins_over_a_withdrawn_one(con: duckdb.DuckDBPyConnection) -> None:
    exact = [c for c in search_institutions(con, "Zorginstituut Nederland") if c.rank == EXACT]
    assert {(c.ror, c.status) for c in exact} == {("038b4c997", "active"), ("000kng648", "withdrawn")}
    found = resolve_institution(con, "Zorginstituut Nederland", lookup_ror=lambda r: ("I4210000003", r))
    assert (found.id, found.name, found.ror) == ("I4210000003", "038b4c997", "038b4c997")


def test_a_single_candidate_resolves(con: duckdb.DuckDBPyConnection) -> None:
    candidates = search_institutions(con, "Bureau de Recherches Géologiques")
    assert len(candidates) == 1 and candidates[0].rank > EXACT
    assert resolve_institution(con, "Bureau de Recherches Géologiques").id == "I4210158893"


def test_no_match(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(InstitutionError, match="no institution matches"):
        resolve_institution(con, "Qwxzy Nonexistent Institute of Nowhere")
    with pytest.raises(InstitutionError):
        resolve_institution(con, "   ")
    assert search_institutions(con, "...") == []


def test_search_by_id(con: duckdb.DuckDBPyConnection) -> None:
    by_ror = search_institutions(con, f"https://ror.org/{IMPERIAL_ROR}")
    by_openalex = search_institutions(con, IMPERIAL)
    assert [(c.openalex_id, c.ror) for c in by_ror] == [(IMPERIAL, IMPERIAL_ROR)]
    assert [(c.openalex_id, c.ror) for c in by_openalex] == [(IMPERIAL, IMPERIAL_ROR)]
    for text in (
        f"https://ror.org/{IMPERIAL_ROR}/",
        f"openalex.org/{IMPERIAL}",
        f"https://openalex.org/{IMPERIAL}/",
    ):
        assert [(c.openalex_id, c.ror) for c in search_institutions(con, text)] == [(IMPERIAL, IMPERIAL_ROR)]


# ---------------------------------------------------------------------------------------------------------
# Stores without ROR data
# ---------------------------------------------------------------------------------------------------------
def test_a_store_without_ror_data_searches_openalex_names(no_ror_store: Path) -> None:
    with duckdb.connect(str(no_ror_store), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ror_names").fetchone() == (0,)
        assert resolve_institution(con, "Imperial College London") == Institution(
            IMPERIAL, "Imperial College London", IMPERIAL_ROR, "GB"
        )
        assert resolve_institution(con, IMPERIAL_ROR).id == IMPERIAL
        candidates = search_institutions(con, "imperial")
        assert [(c.openalex_id, c.ror, c.status) for c in candidates] == [(IMPERIAL, IMPERIAL_ROR, None)]
        assert candidates[0].types == ["education"]


def test_a_store_missing_the_tables_still_answers() -> None:
    with duckdb.connect() as con:
        con.execute(
            "CREATE TABLE institutions "
            "(id VARCHAR, display_name VARCHAR, ror VARCHAR, country_code VARCHAR, type VARCHAR)"
        )
        con.execute(
            "INSERT INTO institutions VALUES (?, ?, ?, ?, ?)",
            [
                CNRS,
                "Centre National de la Recherche Scientifique",
                f"https://ror.org/{CNRS_ROR}",
                "FR",
                "government",
            ],
        )
        assert resolve_institution(con, "centre national de la recherche scientifique").id == CNRS
        assert resolve_institution(con, CNRS_ROR).id == CNRS  # institutions.ror given as a URL
        assert search_institutions(con, "recherche")[0].works == 0
        assert ror_descendants(con, CNRS_ROR) == []


# ---------------------------------------------------------------------------------------------------------
# ROR child units
# ---------------------------------------------------------------------------------------------------------
def test_cnrs_descendants_hold_its_child_units(con: duckdb.DuckDBPyConnection) -> None:
    children = {
        r
        for (r,) in con.execute(
            "SELECT related_ror_id FROM ror_relations WHERE ror_id = ? AND type = 'child'", [CNRS_ROR]
        ).fetchall()
    }
    assert len(children) == 1_019
    descendants = ror_descendants(con, f"https://ror.org/{CNRS_ROR}")
    assert children <= set(descendants)
    assert CNRS_ROR not in descendants
    assert len(descendants) == len(set(descendants))
    assert ror_descendants(con, IMPERIAL_ROR)  # Imperial has child units too


def test_descendants_are_cycle_safe() -> None:
    with duckdb.connect() as con:
        con.execute(
            "CREATE TABLE ror_relations "
            "(ror_id VARCHAR, related_ror_id VARCHAR, type VARCHAR, related_name VARCHAR)"
        )
        a, b, c, d, e = "0aaaaaa00", "0bbbbbb00", "0cccccc00", "0dddddd00", "0eeeeee00"
        con.executemany(
            "INSERT INTO ror_relations VALUES (?, ?, ?, NULL)",
            [
                (a, b, "child"),
                (b, c, "child"),
                (c, a, "child"),  # a cycle back to the root
                (d, b, "parent"),  # only the child's side names the link
                (a, e, "related"),
            ],
        )
        assert ror_descendants(con, a) == [b, c, d]
        assert ror_descendants(con, d) == []
        with pytest.raises(InstitutionError):
            ror_descendants(con, "not-a-ror-id")


def test_candidate_lists_say_work_in_the_singular() -> None:
    def detail(n: int) -> str:
        return Candidate("I1", None, "X", None, works=n, rank=EXACT, matched="X").detail()

    assert detail(1).startswith("1 work in the store ·")
    assert detail(0).startswith("0 works in") and detail(2345).startswith("2,345 works in")
