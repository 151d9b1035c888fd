"""The people page and the filters: its numbers are `cordiale pair … --show people --format json`'s for the
same filters (document types, field and SDG included); each figure drills down to as many works."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from cordiale.store.connection import reader
from tests.web.dash_common import (
    ARAMCO,
    KFUPM,
    DataAttrs,
    cli_args_on_page,
    cli_json,
    lonely_partner,
    page_numbers,
)

pytestmark = pytest.mark.django_db


@pytest.fixture()
def client_in(db: None) -> Client:
    User.objects.create_user("director", password="a-long-test-password-42")
    c = Client()
    c.login(username="director", password="a-long-test-password-42")
    return c


def _rows(html: str, cls: str) -> list[dict[str, str]]:
    p = DataAttrs()
    p.feed(html)
    return [d for d in p.items if cls in d.get("class", "").split()]


def _works(client: Client, url: str) -> int:
    res = client.get(url)
    assert res.status_code == 200, res.content.decode()[:500]
    body = res.content.decode()
    return body.count('class="work"')


def test_people_numbers_equal_the_cli_json_and_drill_down(client_in: Client, store: Path) -> None:
    base = f"/dashboard/{KFUPM}/{ARAMCO}"
    html = client_in.get(f"{base}/people/?from=2012").content.decode()
    args = cli_args_on_page(html)
    assert args[:4] == [KFUPM, ARAMCO, "--show", "people"] and "2012-9999" in args
    family = cli_json(store, args)["families"]["people"]
    pairs = {(d["data-author-1"], d["data-author-2"]): int(d["data-works"]) for d in _rows(html, "pair-row")}
    expected = {(r["author_1"], r["author_2"]): r["works"] for r in family["pairs"]["rows"]}
    assert pairs == expected and len(pairs) >= 10
    years = {
        int(d["data-year"]): (int(d["data-active"]), int(d["data-new"]), int(d["data-repeat"]))
        for d in _rows(html, "pairs-year")
    }
    assert years == {
        r["year"]: (r["active_pairs"], r["new_pairs"], r["repeat_pairs"])
        for r in family["new-vs-repeat"]["rows"]
    }
    assert any(r for _, _, r in years.values()), "some pairs publish again"
    units = {(d["data-partner"], d["data-unit"]): int(d["data-joint"]) for d in _rows(html, "unit-row")}
    all_units = {(r["partner"], r["unit_id"]): r["joint_works"] for r in family["units"]["rows"]}
    assert units and all(all_units[k] == v for k, v in units.items())
    assert {p for p, _ in units} == {KFUPM, ARAMCO}, "each side's labs and units"
    # the chart draws the family's yearly rows, new and repeat
    script = '<script id="chart-specs" type="application/json">'
    specs = json.loads(html.split(script)[1].split("</script>")[0])
    drawn = {(d["year"], d["kind"]): d["pairs"] for d in specs["pairs"]["data"]["values"]}
    assert drawn == {(y, k): v[1 if k == "new" else 2] for y, v in years.items() for k in ("new", "repeat")}
    # drill-downs: the top pair's works, the top unit's joint works, a year's new pairs' works
    (a1, a2), n = max(pairs.items(), key=lambda kv: kv[1])
    assert _works(client_in, f"{base}/works/?author_1={a1}&author_2={a2}&from=2012") == n > 0
    (_, unit), joint = max(units.items(), key=lambda kv: kv[1])
    assert _works(client_in, f"{base}/works/?unit={unit}&from=2012") == joint > 0
    year = max(years, key=lambda y: years[y][1])
    listed = _works(client_in, f"{base}/works/?year={year}&pairs=new&from=2012")
    assert 0 < listed <= years[year][1]  # a pair has at least one work; a work may hold several pairs
    body = client_in.get(f"{base}/works/?author_1={a1}&author_2={a2}&from=2012").content.decode()
    assert 'class="doi" href="https://doi.org/' in body
    assert client_in.get(f"{base}/works/?year=2020&pairs=old").status_code == 400


def _field_of_most_joint_works(store: Path) -> str:
    with reader(store) as con:
        row = con.execute(
            "SELECT field_id FROM work_topics WHERE is_primary "
            "GROUP BY field_id ORDER BY COUNT(*) DESC LIMIT 1"
        ).fetchone()
    assert row is not None
    return str(row[0])


def test_types_field_and_sdg_filters_reach_the_observatory(client_in: Client, store: Path) -> None:
    field = _field_of_most_joint_works(store)
    base = f"/dashboard/{KFUPM}/{ARAMCO}"
    query = f"from=2010&types=article&types=book-chapter&field={field}&goal=14"
    html = client_in.get(f"{base}/?{query}").content.decode()
    args = cli_args_on_page(html)
    assert args[args.index("--types") + 1] == "article,book-chapter"
    assert args[args.index("--field") + 1] == field and args[args.index("--sdg") + 1] == "14"
    shown = page_numbers(html)
    payload = cli_json(store, args)
    summary = payload["families"]["summary"]["summary"]["rows"]
    mine = [r for r in summary if r["grp"] == "all" and r["partner"] == KFUPM]
    assert shown["years"] == {
        r["year"]: (float(r["joint"]), bool(r["partial"])) for r in mine if r["year"] is not None
    }
    filtered = shown["total-joint"]
    unfiltered = page_numbers(client_in.get(f"{base}/?from=2010").content.decode())["total-joint"]
    assert filtered is not None and unfiltered is not None and 0 < filtered < unfiltered
    # independently: the joint works of the store with those types, field and goal
    assert filtered == _independent_joint(store, field, 14, ("article", "book-chapter"), 2010)
    # the filter form keeps them, and the drill-down lists the filtered works only
    assert 'value="book-chapter" checked' in html and f'<option value="{field}" selected' in html
    assert '<option value="14" selected' in html
    year = max(shown["years"], key=lambda y: shown["years"][y][0])
    assert _works(client_in, f"{base}/works/?year={year}&{query}") == shown["years"][year][0]
    # the people page with the same filters equals its CLI too
    html = client_in.get(f"{base}/people/?{query}").content.decode()
    args = cli_args_on_page(html)
    assert "--field" in args and "--sdg" in args and "--types" in args
    family = cli_json(store, args)["families"]["people"]
    listed = {(d["data-author-1"], d["data-author-2"]): int(d["data-works"]) for d in _rows(html, "pair-row")}
    assert listed == {(r["author_1"], r["author_2"]): r["works"] for r in family["pairs"]["rows"]}
    # bad filters are explained
    res = client_in.get(f"{base}/?goal=18")
    assert res.status_code == 400 and "18" in res.content.decode()
    res = client_in.get(f"{base}/people/?field=physics")
    assert res.status_code == 400 and "field" in res.content.decode()


def _independent_joint(store: Path, field: str, goal: int, types: tuple[str, ...], first: int) -> int:
    """Joint works (lineage rule, retracted left out) counted straight from the store's tables."""
    sql = """
    WITH scope AS (
        SELECT w.id FROM works w
        WHERE list_contains(?, w.type) AND w.publication_year >= ? AND w.is_retracted IS NOT TRUE
          AND w.id IN (SELECT work_id FROM work_topics WHERE is_primary AND field_id = ?)
          AND w.id IN (SELECT work_id FROM work_sdgs WHERE sdg = ?)
    ),
    sides AS (
        SELECT DISTINCT ai.work_id, p.partner
        FROM authorship_institutions ai JOIN scope s ON s.id = ai.work_id
        JOIN institutions i ON i.id = ai.institution_id
        JOIN (SELECT unnest(?) AS partner) p
          ON ai.institution_id = p.partner OR list_contains(i.lineage, p.partner)
    )
    SELECT COUNT(*) FROM (SELECT work_id FROM sides GROUP BY work_id HAVING COUNT(*) = 2)"""
    with reader(store) as con:
        row = con.execute(sql, [list(types), first, field, goal, [KFUPM, ARAMCO]]).fetchone()
    assert row is not None
    return int(row[0])


def test_people_empty_state_and_french(client_in: Client, store: Path, settings: Any) -> None:
    lonely = lonely_partner(store)
    res = client_in.get(f"/dashboard/{ARAMCO}/{lonely}/people/?rule=direct")
    html = res.content.decode()
    assert res.status_code == 200 and 'id="empty-state"' in html and "No cross-partner co-authors yet" in html
    assert 'id="chart-pairs"' not in html
    client_in.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    html = client_in.get(f"/dashboard/{KFUPM}/{ARAMCO}/people/").content.decode()
    script = '<script id="chart-specs" type="application/json">'
    specs = json.loads(html.split(script)[1].split("</script>")[0])
    title = "Paires de coauteurs entre partenaires, nouvelles et répétées, par année"
    assert specs["pairs"]["title"] == title
    assert "Laboratoires et unités" in html and "Top co-author pairs" not in html
