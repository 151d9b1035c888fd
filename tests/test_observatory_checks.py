"""Checks the observatory makes before it counts: the Spark export matches the store named by ``--db``
(a stale or foreign export would give other numbers), and every curation entry can apply."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cordiale.cli.main import app
from cordiale.errors import UsageError
from cordiale.indicators import ObsQuery, observe_store
from cordiale.store.export import MANIFEST, check_export_matches, export_parquet
from tests.obs_stores import Inst, Work, build_store
from tests.shared_data import require_pyspark

runner = CliRunner()
INSTS = [Inst("I1", "One", country="FR"), Inst("I2", "Two", country="GB")]


def _store(path: Path, joint: int) -> Path:
    works = [Work(f"W{k}", authors=[["I1"], ["I2"]]) for k in range(1, joint + 1)]
    return build_store(path, INSTS, works)


# ---------------------------------------------------------------- D3: the export matches the store


def test_an_export_of_another_store_is_refused_naming_both(tmp_path: Path) -> None:
    a = _store(tmp_path / "a.duckdb", 2)
    b = _store(tmp_path / "b.duckdb", 5)
    export_parquet(a, tmp_path / "ex")
    check_export_matches(a, tmp_path / "ex")  # its own store: accepted
    q = ObsQuery(partners=("I1", "I2"), rule="direct")
    with pytest.raises(UsageError, match=r"export .*ex does not match the store .*b\.duckdb.*store path"):
        observe_store(b, q, ["summary"], engine="spark", export_dir=tmp_path / "ex")


def test_an_export_older_than_its_store_is_refused(tmp_path: Path) -> None:
    a = _store(tmp_path / "a.duckdb", 2)
    export_parquet(a, tmp_path / "ex")
    manifest = json.loads((tmp_path / "ex" / MANIFEST).read_text())
    assert manifest["store"] == str(a.resolve()) and manifest["fingerprint"]["works_max_updated_date"]
    con = duckdb.connect(str(a))  # a later update of one work: same row counts, newer updated_date
    con.execute("UPDATE works SET updated_date = '2027-01-01T00:00:00' WHERE id = 'W1'")
    con.close()
    with pytest.raises(UsageError, match=r"differs in ingest fingerprint"):
        check_export_matches(a, tmp_path / "ex")
    con = duckdb.connect(str(a))  # a work removed
    con.execute("DELETE FROM works WHERE id = 'W2'")
    con.close()
    with pytest.raises(UsageError, match=r"differs in row counts"):
        check_export_matches(a, tmp_path / "ex")
    (tmp_path / "ex" / MANIFEST).unlink()
    with pytest.raises(UsageError, match=r"no readable cordiale_export\.json"):
        check_export_matches(a, tmp_path / "ex")


def test_pair_with_a_foreign_export_exits_2_telling_to_re_export(tmp_path: Path) -> None:
    require_pyspark()
    a = _store(tmp_path / "a.duckdb", 2)
    b = _store(tmp_path / "b.duckdb", 5)
    export_parquet(a, tmp_path / "ex")
    args = ["pair", "I1", "I2", "--rule", "direct", "--show", "oa", "--engine", "spark"]
    res = runner.invoke(app, [*args, "--export", str(tmp_path / "ex"), "--db", str(b)])
    assert res.exit_code == 2, res.output
    assert "does not match the store" in res.output and "cordiale export --format parquet" in res.output


# ---------------------------------------------------------------- D5: patterns both engines run alike


def _curation(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text('version = "1"\n' + body)
    return path


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("(?i)imperial(?= college)", "lookahead"),
        ("(imperial) \\\\1", "backreference"),
        ("imperial\\\\Z", "not valid RE2 syntax"),
        ("(?P<lab>x)", "not Java syntax"),
        ("[[:alpha:]]+ lab", "POSIX"),
    ],
)
def test_a_pattern_outside_the_shared_re2_java_subset_is_refused_naming_file_and_field(
    tmp_path: Path, pattern: str, why: str
) -> None:
    from cordiale.indicators import load_curation

    ok = '[[affiliation]]\npattern = "(?i)joint lab"\ninstitutions = ["I1"]\n'
    path = _curation(tmp_path, ok + f'[[affiliation]]\npattern = "{pattern}"\ninstitutions = ["I1"]\n')
    with pytest.raises(UsageError, match=rf"c\.toml: \$\.affiliation\[1\]\.pattern.*{why}"):
        load_curation(path)


def test_pair_with_an_re2_invalid_pattern_exits_2_not_a_traceback(tmp_path: Path) -> None:
    db = _store(tmp_path / "a.duckdb", 2)
    rule = '[[affiliation]]\npattern = "(?i)imperial(?= college)"\ninstitutions = ["I1"]\n'
    path = _curation(tmp_path, rule)
    args = ["pair", "I1", "I2", "--rule", "direct", "--show", "oa", "--curation", str(path)]
    res = runner.invoke(app, [*args, "--db", str(db)])
    assert res.exit_code == 2, res.output
    assert "$.affiliation[0].pattern" in res.output and "Traceback" not in res.output


# ---------------------------------------------------------------- D6: entries that cannot apply


@pytest.fixture()
def curated_store(tmp_path: Path) -> Path:
    works = [
        Work("W1", authors=[["I1"], []], raw=[["Univ One"], ["Joint Lab X, Paris"]], author_ids=["A1", "A9"]),
        Work("W2", authors=[["I1"], ["I2"]], author_ids=["A1", "B1"]),
        Work("W3", authors=[["I2"]], author_ids=["B1"]),
    ]
    return build_store(tmp_path / "cur.duckdb", INSTS, works)


@pytest.mark.parametrize("pattern", ["", "x*", "(?i)(lab)?"])
def test_a_pattern_matching_the_empty_text_is_refused(tmp_path: Path, pattern: str) -> None:
    from cordiale.indicators import load_curation

    path = _curation(tmp_path, f'[[affiliation]]\npattern = "{pattern}"\ninstitutions = ["I1"]\n')
    with pytest.raises(UsageError, match=r"c\.toml: \$\.affiliation\[0\]\.pattern.*every affiliation"):
        load_curation(path)


def test_an_institution_absent_from_the_store_is_refused_naming_the_entry(
    tmp_path: Path, curated_store: Path
) -> None:
    body = (
        '[[institution]]\naction = "add"\nwork = "W3"\ninstitution = "I1"\n'
        '[[institution]]\naction = "add"\nwork = "W3"\ninstitution = "I999"\n'
        '[[affiliation]]\npattern = "(?i)joint lab"\ninstitutions = ["I2", "I998"]\n'
    )
    path = _curation(tmp_path, body)
    args = ["pair", "I1", "I2", "--rule", "direct", "--show", "oa", "--curation", str(path)]
    res = runner.invoke(app, [*args, "--db", str(curated_store)])
    assert res.exit_code == 2, res.output
    assert "$.institution[1].institution: I999" in res.output
    assert "$.affiliation[0].institutions[1]: I998" in res.output and "I1;" not in res.output


def test_entries_that_apply_to_nothing_give_notices_naming_them(tmp_path: Path, curated_store: Path) -> None:
    from cordiale.indicators import load_curation

    body = (
        '[[institution]]\naction = "add"\nwork = "W3"\ninstitution = "I1"\n'  # applies
        '[[institution]]\naction = "add"\nwork = "W777"\ninstitution = "I1"\n'  # no such work
        '[[institution]]\naction = "remove"\nwork = "W2"\ninstitution = "I2"\nposition = 5\n'  # W2 has 2
        '[[merge_authors]]\ninto = "A1"\nids = ["A9", "A404"]\n'  # A404 on no authorship
        '[[affiliation]]\npattern = "(?i)joint lab x"\ninstitutions = ["I2"]\n'  # applies (W1)
        '[[affiliation]]\npattern = "(?i)imperial"\ninstitutions = ["I2"]\n'  # matches nothing
    )
    cur = load_curation(_curation(tmp_path, body))
    obs = observe_store(curated_store, ObsQuery(partners=("I1", "I2"), rule="direct"), ["summary"], cur)
    mine = [n for n in obs.notices if "c.toml" in n]
    assert len(mine) == 4, obs.notices
    assert any("$.institution[1].work: W777 is not in the store" in n for n in mine)
    assert any("$.institution[2].position: W2 has 2 authorships" in n and "none at 5" in n for n in mine)
    assert any("$.merge_authors[0].ids[1]: A404 is on no authorship" in n for n in mine)
    assert any("$.affiliation[1].pattern: '(?i)imperial' matches no raw affiliation" in n for n in mine)
    assert obs.changed_works == ["W1", "W3"]  # the entries that apply still apply
    args = ["pair", "I1", "I2", "--rule", "direct", "--show", "summary", "--curation", str(cur.path)]
    res = runner.invoke(app, [*args, "--db", str(curated_store)])
    assert res.exit_code == 0, res.output
    assert "W777 is not in the store" in res.output
