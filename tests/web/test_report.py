"""`cordiale report`: the PDF renders to PNG pages (pdftoppm) that are not blank; HTML in French; errors."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from cordiale.cli.main import app
from tests.web.dash_common import ARAMCO, ARTIFACTS, KFUPM

runner = CliRunner()
# the report reads the programmes database too (the tests' PostgreSQL, empty here: "no programme data")
pytestmark = pytest.mark.django_db


def _ink(png: Path) -> float:
    """The share of a page's pixels that are not near-white."""
    img = Image.open(png).convert("L")
    hist = img.histogram()
    return sum(hist[:230]) / (img.width * img.height)


def test_report_pdf_pages_render_and_are_not_blank(kfupm_store: Path, tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None:
        reason = "pdftoppm missing: run scripts/report_deps.sh (poppler-utils)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    out = tmp_path / "report.pdf"
    res = runner.invoke(
        app,
        [
            "report",
            KFUPM,
            ARAMCO,
            "--year",
            "2025",
            "--event",
            "2019",
            "--db",
            str(kfupm_store),
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:5] == b"%PDF-"
    pages_dir = ARTIFACTS / "report-pages"
    shutil.rmtree(pages_dir, ignore_errors=True)
    pages_dir.mkdir(parents=True)
    shutil.copy(out, ARTIFACTS / "report-2025.pdf")
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(out), str(pages_dir / "page")], check=True)
    pngs = sorted(pages_dir.glob("page-*.png"))
    assert len(pngs) >= 3  # summary, charts, tables and methods
    inks = [_ink(p) for p in pngs]
    assert all(i > 0.002 for i in inks), inks
    # the charts (SVG from vl-convert) were drawn into the PDF: the charts page carries much ink
    assert max(inks[1:]) > 0.05, inks
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert "Partnership report 2025" in text and "Methods" in text and "Joint works per year" in text
    assert "Fields and strengths" in text and "Engineering" in text
    assert "2026-02-07" in text or "Data snapshot" in text
    assert "Sustainable Development Goals" in text and "Life below water" in text
    assert "Third parties" in text and "Africa" in text
    assert "Programmes in 2025" in text and "No programme data for these partners in 2025." in text


def test_report_html_in_french_and_errors(kfupm_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "rapport.html"
    res = runner.invoke(
        app,
        [
            "report",
            KFUPM,
            ARAMCO,
            "--year",
            "2024",
            "--lang",
            "fr",
            "--db",
            str(kfupm_store),
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    assert '<html lang="fr">' in html and "Méthodes" in html and "Rapport de partenariat 2024" in html
    # joint, shares, growth (complete years), fields, SDGs, the world map, continents
    assert html.count("data:image/svg+xml;base64,") == 7
    assert "Objectifs de développement durable" in html and "Aucune donnée de programmes" in html
    res = runner.invoke(
        app, ["report", KFUPM, ARAMCO, "--year", "2024", "--db", str(kfupm_store), "--out", "r.docx"]
    )
    assert res.exit_code == 2 and ".pdf or .html" in res.output
    res = runner.invoke(
        app, ["report", KFUPM, "I999999999", "--year", "2024", "--db", str(kfupm_store), "--out", str(out)]
    )
    assert res.exit_code == 3
    res = runner.invoke(
        app,
        [
            "report",
            KFUPM,
            ARAMCO,
            "--year",
            "2024",
            "--lang",
            "de",
            "--db",
            str(kfupm_store),
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 2 and "--lang" in res.output


def test_report_reads_the_programmes_database_given(kfupm_store: Path, tmp_path: Path) -> None:
    """``--web-db``: a database that cannot be read gives an explicit note, not a failure (a separate
    process: Django reads the database setting when it starts)."""
    import sys

    out = tmp_path / "r.html"
    missing = tmp_path / "nowhere" / "programmes.sqlite3"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["CORDIALE_DATA_DIR"] = str(tmp_path / "data")
    cmd = [sys.executable, "-m", "cordiale.cli.main", "report", KFUPM, ARAMCO, "--year", "2024"]
    cmd += ["--db", str(kfupm_store), "--out", str(out), "--web-db", str(missing)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    html = out.read_text(encoding="utf-8")
    assert 'id="no-programme-data"' in html and "the programmes database cannot be read" in html
    assert "no such file" in res.stderr
    assert not missing.exists() and not missing.parent.exists()  # a report only reads: nothing created


def test_report_of_an_empty_scope_is_written_with_exit_0(kfupm_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    res = runner.invoke(
        app,
        [
            "report",
            KFUPM,
            ARAMCO,
            "--year",
            "2023",
            "--types",
            "foo",
            "--out",
            str(out),
            "--db",
            str(kfupm_store),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "No joint works" in out.read_text(encoding="utf-8")
