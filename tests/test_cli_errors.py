"""Bad paths, bad settings and damaged inputs: one line naming the problem and the documented exit code,
never a traceback, and nothing lost or left behind."""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
from typer.testing import CliRunner

from cordiale.cli.main import app
from cordiale.store.connection import reader
from cordiale.store.parts import copy_store

runner = CliRunner()
PAIR = ["I134085113", "I4210143841"]
OFFLINE = {"OPENALEX_API_URL": "http://127.0.0.1:9"}  # connection refused at once


def _one_line_error(output: str, *needles: str) -> None:
    assert "Traceback" not in output, output
    assert all(n in output for n in needles), output


def test_a_store_path_duckdb_reads_as_a_data_file_is_refused(tmp_path: Path, fixtures_2025: Path) -> None:
    data = tmp_path / "notes.json"
    data.write_text('{"a": 1}\n')
    before = data.read_bytes()
    result = runner.invoke(app, ["ingest", str(fixtures_2025), "--db", str(data)])
    assert result.exit_code == 4
    _one_line_error(result.output, "notes.json", "not a DuckDB store")
    assert data.read_bytes() == before  # nothing written to memory and reported as stored
    result = runner.invoke(app, ["institutions", "search", "imperial", "--db", str(data)])
    assert result.exit_code == 4
    _one_line_error(result.output, "not a DuckDB store")


def test_a_duckdb_file_that_is_not_a_cordiale_store(tmp_path: Path) -> None:
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    result = runner.invoke(app, ["pair", *PAIR, "--db", str(other)])
    assert result.exit_code == 4
    _one_line_error(result.output, "other.duckdb", "not a cordiale store")


def test_bad_settings_are_usage_errors_naming_the_setting(tmp_path: Path, kfupm_store: Path) -> None:
    cases = [
        (
            {"CORDIALE_MEMORY_LIMIT": "bogus"},
            ["pair", *PAIR, "--db", str(kfupm_store)],
            "CORDIALE_MEMORY_LIMIT",
        ),
        (
            {"CORDIALE_WORKERS": "abc"},
            ["ingest", str(tmp_path), "--db", str(tmp_path / "w.duckdb")],
            "CORDIALE_WORKERS",
        ),
        (
            {**OFFLINE, "OPENALEX_RATE_LIMIT": "abc"},
            ["pair", *PAIR, "--fetch", "--db", str(tmp_path / "f.duckdb")],
            "OPENALEX_RATE_LIMIT",
        ),
    ]
    for env, args, name in cases:
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 2, (name, result.output)
        _one_line_error(result.output, name)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "config.toml").write_text("[[openalex\n")
    result = runner.invoke(
        app,
        ["pair", *PAIR, "--fetch", "--db", str(tmp_path / "g.duckdb")],
        env={**OFFLINE, "CORDIALE_DATA_DIR": str(data_dir)},
    )
    assert result.exit_code == 2
    _one_line_error(result.output, "config.toml", "not valid TOML")


def test_a_name_on_a_store_without_institutions_is_exit_4(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    db = tmp_path / "e.duckdb"
    runner.invoke(app, ["ingest", str(empty), "--db", str(db)])
    assert db.is_file()
    result = runner.invoke(app, ["pair", "Imperial College London", PAIR[1], "--db", str(db)])
    assert result.exit_code == 4
    _one_line_error(result.output, "no institution names", "cordiale ror load")


def test_institution_search_checks_its_options(kfupm_store: Path) -> None:
    result = runner.invoke(
        app, ["institutions", "search", "king", "--format", "xml", "--db", str(kfupm_store)]
    )
    assert result.exit_code == 2 and "xml" in result.output
    result = runner.invoke(app, ["institutions", "search", "king", "--limit", "0", "--db", str(kfupm_store)])
    assert result.exit_code == 2
    result = runner.invoke(app, ["institutions", "search", "king", "--limit", "1", "--db", str(kfupm_store)])
    assert result.exit_code == 0 and "King" in result.output


def test_export_to_a_file_is_a_usage_error(tmp_path: Path, kfupm_store: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("keep me")
    result = runner.invoke(app, ["export", str(target), "--db", str(kfupm_store)])
    assert result.exit_code == 2
    _one_line_error(result.output, "out.csv", "is a file")
    assert target.read_text() == "keep me"


def test_serve_refuses_a_bad_or_busy_port(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--port", "99999"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["serve", "--threads", "0"])
    assert result.exit_code == 2
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "CORDIALE_DATA_DIR": str(tmp_path / "data")}
        env.pop("CORDIALE_WEB_DB", None)
        proc = subprocess.run(
            [sys.executable, "-m", "cordiale.cli.main", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    assert proc.returncode == 2, proc.stderr
    _one_line_error(proc.stderr, f"cannot listen on 127.0.0.1:{port}")


def test_corrupt_gzip_keeps_what_came_before_and_says_where_it_stopped(tmp_path: Path, kfupm: Path) -> None:
    """Zeroed bytes in the middle of the compressed stream: the records before decode, the garbage after
    is quarantined, and the line where the stream stopped is printed even past the capped samples."""
    data = bytearray(kfupm.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 200] = bytes(200)
    damaged = tmp_path / "damaged.jsonl.gz"
    damaged.write_bytes(bytes(data))
    db = tmp_path / "d.duckdb"
    result = runner.invoke(app, ["ingest", str(damaged), "--db", str(db)])
    assert result.exit_code == 0
    _one_line_error(result.stderr, "damaged.jsonl.gz:", "corrupt input: stops at line")
    with reader(db) as con:
        (stored,) = con.execute("SELECT count(*) FROM works").fetchone()  # type: ignore[misc]
        reasons = [r[0] for r in con.execute("SELECT reason FROM quarantine").fetchall()]
    assert stored > 0
    assert sum("corrupt input" in r for r in reasons) == 1
    if len(reasons) > 20:  # more than the samples shown: the rest is counted
        assert "more quarantined records" in result.stderr


def test_a_gz_file_with_no_record_is_unreadable_as_a_whole(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.jsonl.gz"
    garbage.write_bytes(b"garbage\n")
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(b'{"id": "https://openalex.org/W1"}\n')[:15])
    for path in (garbage, cut):
        result = runner.invoke(app, ["ingest", str(path), "--db", str(tmp_path / "g.duckdb")])
        assert result.exit_code == 2, result.output
        _one_line_error(result.stderr, path.name, "unreadable")


def test_an_offline_fetch_leaves_no_folder_or_empty_file(tmp_path: Path) -> None:
    db = tmp_path / "new" / "x.duckdb"
    result = runner.invoke(app, ["pair", *PAIR, "--db", str(db)], env=OFFLINE)
    assert result.exit_code == 6
    assert "cordiale ingest" in result.output
    assert not (tmp_path / "new").exists()


def test_report_event_outside_its_years_names_them(tmp_path: Path, kfupm_store: Path) -> None:
    result = runner.invoke(
        app,
        ["report", *PAIR, "--year", "2024", "--event", "2000", "--out", str(tmp_path / "r.html")],
        env={"CORDIALE_DB": str(kfupm_store)},
    )
    assert result.exit_code == 2
    _one_line_error(result.output, "--event 2000", "2015–2024")
    assert not (tmp_path / "r.html").exists()


def test_sdg_score_resolves_institutions_like_pair(tmp_path: Path, kfupm_store: Path) -> None:
    """Names and ROR ids are taken as `pair` takes them; an institution without works in the store is
    exit 3 instead of a silent score of nothing."""

    db = tmp_path / "s.duckdb"
    copy_store(kfupm_store, db)
    result = runner.invoke(app, ["sdg", "score", "--institutions", "I999", "--db", str(db)])
    assert result.exit_code == 3
    _one_line_error(result.output, "no works of I999")
    result = runner.invoke(app, ["sdg", "score", "--institutions", "Benha University", "--db", str(db)])
    assert result.exit_code == 0, result.output
    with reader(db) as con:
        (scored,) = con.execute("SELECT count(DISTINCT work_id) FROM sdg_scores").fetchall()[0]
    assert 0 < scored <= 200  # Benha's works only (109 in the shared data), not the store's 5,804


def test_paths_with_brackets_are_printed_as_they_are(tmp_path: Path, fixtures_2025: Path) -> None:
    """Rich reads ``[x]`` as markup: a path in a message or a table must come out unchanged."""
    folder = tmp_path / "d[x]"
    folder.mkdir()
    data = folder / "w[1].jsonl.gz"
    data.write_bytes(fixtures_2025.read_bytes())
    db = tmp_path / "store.duckdb"
    result = runner.invoke(app, ["ingest", str(data), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "w[1].jsonl.gz" in result.output  # the ingest table's file column
    missing = folder / "nope[2].jsonl"
    result = runner.invoke(app, ["ingest", str(missing), "--db", str(db)])
    assert result.exit_code == 2
    _one_line_error(result.output, f"{missing}: no such file or directory")


def test_spark_asked_without_pyspark_exits_5_naming_the_extra(kfupm_store: Path) -> None:
    """Without PySpark (blocked in a child process) the message gives the install command whole."""
    code = (
        "import sys; sys.modules['pyspark'] = None\n"
        "from cordiale.cli.main import app\n"
        f"app(['pair', '{PAIR[0]}', '{PAIR[1]}', '--show', 'oa', '--engine', 'spark',"
        f" '--db', r'{kfupm_store}'])\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 5, res.stderr
    _one_line_error(res.stderr, "PySpark", "pip install 'cordiale[spark]'")
