"""``cordiale sdg classify``: one JSON line per input line, clear answers for bad and empty input."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cordiale.cli.main import app

runner = CliRunner()


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_classify_file_json_shape(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"id": "a", "text": "Access to safe drinking water and sanitation for rural households."})
        + "\n\n"
        + json.dumps({"id": 7, "title": "Coral reefs under ocean acidification", "abstract": ""})
        + "\n"
        + json.dumps({"id": "empty", "text": "   "})
        + "\n"
    )
    result = runner.invoke(app, ["sdg", "classify", "--file", str(src)])
    assert result.exit_code == 0, result.output
    out = _lines(result.stdout)
    assert [o["id"] for o in out] == ["a", 7, "empty"]
    for o in out:
        assert set(o) >= {"id", "sdgs", "scores", "reasons", "status"}
        assert sorted(o["scores"], key=int) == [str(s) for s in range(1, 18)]  # type: ignore[arg-type]
        assert all(0.0 <= v <= 1.0 for v in o["scores"].values())  # type: ignore[attr-defined]
        assert set(o["reasons"]) == {str(s) for s in o["sdgs"]}  # type: ignore[attr-defined]
    assert 6 in out[0]["sdgs"]  # type: ignore[operator]
    assert out[1]["status"] == "title only" and 14 in out[1]["sdgs"]  # type: ignore[operator]
    assert out[2]["status"] == "no text" and out[2]["sdgs"] == []


def test_malformed_lines_are_named_and_answered(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1, "text": "Renewable energy."}\nnot json\n{"id": 3}\n{"id": 4, "text": 5}\n[1]\n')
    result = runner.invoke(app, ["sdg", "classify", "--file", str(src)])
    # The rule (as for ingest's quarantine): malformed lines are answered and counted, exit 0.
    assert result.exit_code == 0, result.output
    assert "4 of 5 line(s)" in result.stderr and "malformed" in result.stderr
    out = _lines(result.stdout)
    assert len(out) == 5
    assert out[0]["id"] == 1 and out[0]["status"] == "scored"
    assert [o.get("line") for o in out[1:]] == [2, 3, 4, 5]
    assert all(o["status"] == "error" for o in out[1:])
    assert "field 'text' is not a string" in str(out[3]["error"])
    assert f"{src}:2:" in result.stderr


def test_classify_text_and_usage_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sdg", "classify", "--format", "json", "Tuberculosis and malaria control."])
    assert result.exit_code == 0, result.output
    assert 3 in json.loads(result.stdout)["sdgs"]
    result = runner.invoke(app, ["sdg", "classify", "Tuberculosis and malaria control."])
    assert result.exit_code == 0 and "query 3.3" in result.stdout
    result = runner.invoke(app, ["sdg", "classify", ""])
    assert result.exit_code == 0 and "no text" in result.stderr
    assert runner.invoke(app, ["sdg", "classify"]).exit_code == 2
    assert runner.invoke(app, ["sdg", "classify", "x", "--file", "y"]).exit_code == 2
    missing = runner.invoke(app, ["sdg", "classify", "--file", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2 and "nope.jsonl" in missing.output
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes(b'{"id": 1, "text": "caf\xe9"}\n')
    assert runner.invoke(app, ["sdg", "classify", "--file", str(bad)]).exit_code == 2


def test_an_error_line_keeps_the_id_it_gave(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "t6", "text": 42}\n{"id": "t7", "abstract_inverted_index": [1]}\nnot json\n')
    result = runner.invoke(app, ["sdg", "classify", "--file", str(src)])
    assert result.exit_code == 0, result.output
    assert [(o["id"], o["status"]) for o in _lines(result.stdout)] == [
        ("t6", "error"),
        ("t7", "error"),
        (None, "error"),  # not JSON: no id to keep
    ]


def test_a_byte_order_mark_is_not_part_of_line_1(tmp_path: Path) -> None:
    src = tmp_path / "bom.jsonl"
    src.write_bytes(
        b"\xef\xbb\xbf" + json.dumps({"id": "w", "text": "Clean drinking water."}).encode() + b"\n"
    )
    result = runner.invoke(app, ["sdg", "classify", "--file", str(src)])
    assert result.exit_code == 0, result.output
    (line,) = _lines(result.stdout)
    assert line["id"] == "w" and line["status"] != "error" and "malformed" not in result.stderr


def test_an_empty_file_is_a_success_with_a_notice(tmp_path: Path) -> None:
    src = tmp_path / "empty.jsonl"
    src.write_text("\n  \n")
    result = runner.invoke(app, ["sdg", "classify", "--file", str(src)])
    assert result.exit_code == 0 and result.stdout == ""
    assert "notice:" in result.stderr and "nothing to classify" in result.stderr


def test_a_directory_is_named_as_such(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sdg", "classify", "--file", str(tmp_path)])
    assert result.exit_code == 2
    assert "is a directory" in result.stderr and "no such file" not in result.stderr


def test_format_table_with_a_file_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": 1, "text": "Clean drinking water."}) + "\n")
    result = runner.invoke(app, ["sdg", "classify", "--file", str(src), "--format", "table"])
    assert result.exit_code == 2 and "JSON Lines" in result.stderr
    assert result.stdout == ""
    ok = runner.invoke(app, ["sdg", "classify", "--file", str(src), "--format", "json"])
    assert ok.exit_code == 0 and _lines(ok.stdout)[0]["id"] == 1


def test_a_raw_openalex_work_is_scored_on_its_rebuilt_abstract(tmp_path: Path) -> None:
    abstract = "We measure arsenic in groundwater wells used for drinking water in rural villages."
    index: dict[str, list[int]] = {}
    for pos, word in enumerate(abstract.split()):
        index.setdefault(word, []).append(pos)
    work = {
        "id": "https://openalex.org/W1",
        "display_name": "A field survey",
        "abstract_inverted_index": index,
    }
    src = tmp_path / "works.jsonl"
    src.write_text(json.dumps(work) + "\n")
    result = runner.invoke(app, ["sdg", "classify", "--file", str(src)])
    assert result.exit_code == 0, result.output
    (line,) = _lines(result.stdout)
    assert line["id"] == "https://openalex.org/W1"
    assert line["status"] == "scored", line  # not "title only"
    assert 6 in line["sdgs"]  # type: ignore[operator]


def test_why_names_goal_texts_as_goals() -> None:
    result = runner.invoke(app, ["sdg", "classify", "Sustainable cities and communities"])
    assert result.exit_code == 0, result.output
    why = " ".join(result.stdout.split())
    assert "UN goal 11" in why and "UN target 11 " not in why
