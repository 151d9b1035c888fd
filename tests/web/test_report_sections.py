"""The report's SDG, third-party and programme sections: their numbers are the CLI's JSON (SDGs, third
parties) and an independent SQL query on the programmes database (calls, money), for the report year."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from typer.testing import CliRunner

from cordiale.cli.main import app
from cordiale.errors import ExitCode
from cordiale.web.dashboard.report import ReportRequest, report_html
from tests.web.dash_common import ARAMCO, KFUPM, cli_json
from tests.web.factories import World
from tests.web.test_dashboard_programmes import MONEY_SQL, _cent, _rows, _sql, make_programme


def test_report_sections_equal_the_cli_and_the_programmes_database(world: World, store: Path) -> None:
    make_programme(world)
    # the programme partners are the store's partnership here (their ids are what links the two)
    world.cnrs.openalex_id, world.icl.openalex_id = KFUPM, ARAMCO
    world.cnrs.save()
    world.icl.save()
    year = timezone.localdate().year  # the world's calls close this year
    html = report_html(store, ReportRequest(partners=(KFUPM, ARAMCO), year=year))
    first = year - 9
    # SDGs: the joint works per goal over the report's ten years
    rows = cli_json(store, [KFUPM, ARAMCO, "--show", "sdg", "--years", f"{first}-{year}"])["families"]["sdg"]
    joint = {
        r["sdg"]: r["works"]
        for r in rows["sdg"]["rows"]
        if r["kind"] == "joint" and r["unit_key"] == "all" and r["year"] is None
    }
    assert {int(d["data-sdg"]): int(d["data-works"]) for d in _rows(html, "report-sdg")} == joint
    assert len(joint) >= 5
    # third parties: the top countries and every continent (Africa always listed)
    payload = cli_json(store, [KFUPM, ARAMCO, "--show", "third-parties", "--years", f"{first}-{year}"])
    tp = [
        r
        for r in payload["families"]["third-parties"]["third-parties"]["rows"]
        if r["grp"] == "all" and r["year"] is None
    ]
    countries = {d["data-key"]: int(d["data-works"]) for d in _rows(html, "report-country")}
    expected = {r["key"]: r["works"] for r in tp if r["level"] == "country"}
    assert countries and all(expected[k] == v for k, v in countries.items())
    assert min(countries.values()) >= max(v for k, v in expected.items() if k not in countries)
    continents = {d["data-key"]: int(d["data-works"]) for d in _rows(html, "report-continent")}
    assert "Africa" in continents
    assert {k: v for k, v in continents.items() if v} == {
        r["key"]: r["works"] for r in tp if r["level"] == "continent"
    }
    # programmes: the calls closing in the report year, and money dated in it
    calls = {
        int(d["data-call"]): (int(d["data-applications"]), int(d["data-awarded"]))
        for d in _rows(html, "report-call")
    }
    assert calls == {
        i: (n, aw)
        for i, n, aw in _sql(
            """SELECT c.id, COUNT(DISTINCT a.id) FILTER (WHERE a.state <> 'draft'),
                      COUNT(DISTINCT d.id) FILTER (WHERE d.outcome = 'award')
               FROM programmes_call c LEFT JOIN programmes_application a ON a.call_id = c.id
               LEFT JOIN programmes_decision d ON d.application_id = a.id
               WHERE EXTRACT(YEAR FROM c.closes) = %s GROUP BY c.id""",
            [year],
        )
    }
    assert len(calls) == 2
    money = {int(d["data-partner"]): d for d in _rows(html, "report-money")}
    expected_money = _sql(MONEY_SQL, [KFUPM, ARAMCO, year, year])
    assert expected_money
    for partner, kind, eur, gbp in expected_money:
        key = "committed" if kind == "commitment" else "paid"
        assert Decimal(money[partner][f"data-{key}-eur"]) == _cent(eur)
        assert Decimal(money[partner][f"data-{key}-gbp"]) == _cent(gbp)
    assert html.count("data:image/svg+xml;base64,") >= 7  # the money chart among them
    assert 'id="no-programme-data"' not in html


@pytest.mark.django_db
def test_report_takes_the_types_field_and_sdg_filters(store: Path, tmp_path: Path) -> None:
    year = 2025
    first = year - 9
    only = ["--types", "article", "--field", "fields/22", "--sdg", "14", "--years", f"{first}-{year}"]
    html = report_html(
        store,
        ReportRequest(partners=(KFUPM, ARAMCO), year=year, types=("article",), field="fields/22", sdg=14),
    )
    # the report says what it is restricted to
    assert 'id="report-filters"' in html and "fields/22" in html and "SDG 14" in html
    # its SDG table is the CLI's under the same filters, and the filters bite
    rows = cli_json(store, [KFUPM, ARAMCO, "--show", "sdg", *only])["families"]["sdg"]["sdg"]["rows"]
    joint = {
        r["sdg"]: r["works"]
        for r in rows
        if r["kind"] == "joint" and r["unit_key"] == "all" and r["year"] is None
    }
    assert {int(d["data-sdg"]): int(d["data-works"]) for d in _rows(html, "report-sdg")} == joint
    assert joint.get(14, 0) > 0 and joint[14] == max(joint.values())
    french = report_html(
        store, ReportRequest(partners=(KFUPM, ARAMCO), year=year, lang="fr", field="fields/22", sdg=14)
    )
    assert "Uniquement" in french and "ODD 14 (étiquettes d’OpenAlex)" in french
    whole = report_html(store, ReportRequest(partners=(KFUPM, ARAMCO), year=year))
    assert 'id="report-filters"' not in whole
    assert {int(d["data-sdg"]): int(d["data-works"]) for d in _rows(whole, "report-sdg")}[14] > joint[14]
    # the command line takes them too, and says what is wrong with a bad one
    out = tmp_path / "r.html"
    base = ["report", KFUPM, ARAMCO, "--year", str(year), "--db", str(store), "--out", str(out)]
    res = CliRunner().invoke(app, [*base, "--types", "article", "--field", "22", "--sdg", "14"])
    assert res.exit_code == 0, res.output
    assert 'id="report-filters"' in out.read_text(encoding="utf-8")
    res = CliRunner().invoke(app, [*base, "--sdg", "18"])
    assert res.exit_code == ExitCode.USAGE and "--sdg must be a goal from 1 to 17" in res.output
    res = CliRunner().invoke(app, [*base, "--types", " , "])
    assert res.exit_code == ExitCode.USAGE and "--types is empty" in res.output
    res = CliRunner().invoke(app, [*base, "--field", "geology"])
    assert res.exit_code == ExitCode.USAGE and "--field must be an OpenAlex field id" in res.output
