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
