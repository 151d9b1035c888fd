"""`cordiale ror load` exits as `cordiale ingest` does: quarantined records are a success with a notice."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from typer.testing import CliRunner

from cordiale.cli.main import app
from cordiale.errors import ExitCode
from tests.shared_data import shared_path

runner = CliRunner()


def _bad_records() -> list[dict[str, object]]:
    """Two real ROR records (CNRS, Imperial) each spoilt in one field: neither fits the schema."""
    cnrs = json.loads(shared_path("ror", "cnrs_02feahw73.json").read_text())
    imperial = json.loads(shared_path("ror", "imperial_041kmwe10.json").read_text())
    del cnrs["id"]
    imperial["names"] = "Imperial College London"  # a list in the schema
    return [cnrs, imperial]


def _quarantined(db: Path) -> list[tuple[str, int]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT input_path, line FROM quarantine ORDER BY ALL").fetchall()
    finally:
        con.close()


def test_a_file_of_only_bad_records_exits_0_with_a_notice(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    lines = tmp_path / "bad.jsonl"
    lines.write_text("".join(json.dumps(r) + "\n" for r in _bad_records()))
    array = tmp_path / "bad.json"
    array.write_text(json.dumps(_bad_records()))
    for path in (lines, array):
        result = runner.invoke(app, ["ror", "load", str(path), "--db", str(db)])
        assert result.exit_code == ExitCode.OK, result.output
        flat = " ".join(result.stderr.split())
        assert f"notice: {path}: none of its 2 records could be stored; 2 quarantined" in flat
    assert _quarantined(db) == [(str(array), 1), (str(array), 2), (str(lines), 1), (str(lines), 2)]


def test_inputs_without_any_record_still_exit_1(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    result = runner.invoke(app, ["ror", "load", str(empty), "--db", str(tmp_path / "store.duckdb")])
    assert result.exit_code == ExitCode.NOTHING_DONE, result.output
    assert "no ROR record could be read from the inputs" in " ".join(result.stderr.split())
