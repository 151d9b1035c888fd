"""The dashboard's numbers are the CLI's: each overview number equals `cordiale pair … --format json` for
the same filters; the drill-down lists as many works as the bar; sign-in required; French; empty state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.web.dash_common import ARAMCO, KFUPM, cli_args_on_page, cli_json, lonely_partner, page_numbers

pytestmark = pytest.mark.django_db


@pytest.fixture()
def client_in(db: None) -> Client:
    User.objects.create_user("director", password="a-long-test-password-42")
    c = Client()
    c.login(username="director", password="a-long-test-password-42")
    return c


@pytest.mark.parametrize(
    ("query", "counting"),
    [
        ("from=2010&to=2025&event=2019", "full"),
        ("rule=direct&counting=fractional&from=2012&event=2020", "fractional"),
    ],
)
def test_overview_numbers_equal_the_cli_json(
    client_in: Client, store: Path, query: str, counting: str
) -> None:
    res = client_in.get(f"/dashboard/{KFUPM}/{ARAMCO}/?{query}")
    assert res.status_code == 200
    html = res.content.decode()
    shown = page_numbers(html)
    args = cli_args_on_page(html)
    payload = cli_json(store, args)
    summary = payload["families"]["summary"]["summary"]["rows"]
    mine = [r for r in summary if r["grp"] == "all" and r["partner"] == KFUPM]
    key = "joint_fractional" if counting == "fractional" else "joint"
    expected_years = {r["year"]: (float(r[key]), bool(r["partial"])) for r in mine if r["year"] is not None}
    assert shown["years"] == expected_years
    assert any(partial for _, partial in shown["years"].values()), "the store's last years are partial"
    total = next(r for r in mine if r["year"] is None)
    assert shown["total-joint"] == total["joint"] and shown["total-fractional"] == total["joint_fractional"]
    growth = payload["families"]["growth"]["growth"]["rows"]
    windows = {r["window"]: (r["value"], r["ci_low"], r["ci_high"]) for r in growth if r["method"] != "share"}
    assert shown["growth"] == windows and len(windows) == 2  # before and after the event
    shares = {r["partner"]: r["value"] for r in growth if r["method"] == "share"}
    assert shown["shares"] == shares and set(shares) == {KFUPM, ARAMCO}
    # the filters reached the observatory: the years asked are the years shown
    first = int(query.split("from=")[1].split("&")[0])
    assert min(shown["years"]) == first


def test_drill_down_lists_the_works_behind_a_bar(client_in: Client, store: Path) -> None:
    html = client_in.get(f"/dashboard/{KFUPM}/{ARAMCO}/?from=2015").content.decode()
    years = page_numbers(html)["years"]
    assert f"/dashboard/{KFUPM}/{ARAMCO}/works/?year=2020&amp;from=2015" in html
    res = client_in.get(f"/dashboard/{KFUPM}/{ARAMCO}/works/?year=2020&from=2015")
    body = res.content.decode()
    assert res.status_code == 200
    count = body.count('class="work"')
    assert count == years[2020][0] > 0
    assert body.count('class="doi" href="https://doi.org/') > count // 2
    assert client_in.get(f"/dashboard/{KFUPM}/{ARAMCO}/works/?year=abc").status_code == 400


def test_sign_in_required(db: None, store: Path) -> None:
    res = Client().get(f"/dashboard/{KFUPM}/{ARAMCO}/")
    assert res.status_code == 302 and res["Location"].startswith("/accounts/login/")
    assert Client().get(f"/dashboard/{KFUPM}/{ARAMCO}/works/?year=2020").status_code == 302


def test_empty_partnership_and_bad_filters_are_explained(client_in: Client, store: Path) -> None:
    lonely = lonely_partner(store)
    res = client_in.get(f"/dashboard/{ARAMCO}/{lonely}/?rule=direct")
    html = res.content.decode()
    assert res.status_code == 200 and 'id="empty-state"' in html
    assert "No joint works yet" in html and f"cordiale pair {ARAMCO} {lonely} --fetch" in html
    assert 'id="chart-joint"' not in html
    res = client_in.get(f"/dashboard/{KFUPM}/I999999999/")
    assert res.status_code == 404 and "I999999999" in res.content.decode()
    res = client_in.get(f"/dashboard/{KFUPM}/{ARAMCO}/?event=1900")
    assert res.status_code == 400 and "--event 1900" in res.content.decode()
    res = client_in.get(f"/dashboard/{KFUPM}/{ARAMCO}/?counting=half")
    assert res.status_code == 400 and "counting" in res.content.decode()


def test_overview_in_french(client_in: Client, store: Path, settings: Any) -> None:
    client_in.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    html = client_in.get(f"/dashboard/{KFUPM}/{ARAMCO}/?from=2015&event=2019").content.decode()
    assert 'lang="fr"' in html
    script = '<script id="chart-specs" type="application/json">'
    specs = json.loads(html.split(script)[1].split("</script>")[0])
    assert specs["joint"]["title"] == "Travaux conjoints par année"  # the chart's title, in its spec
    assert "Travaux conjoints" in html
    assert "Croissance avant et après l’événement" in html
    assert "Joint works per year" not in html


def test_strengths_numbers_equal_the_cli_json_and_drill_down(client_in: Client, store: Path) -> None:
    html = client_in.get(f"/dashboard/{KFUPM}/{ARAMCO}/fields/?level=field&from=2015").content.decode()
    shown = {
        (d["data-class"], d["data-partner"]): (
            int(d["data-works"]),
            float(d["data-ai"]),
            int(d["data-joint"]),
        )
        for d in _data_rows(html, "strength-row")
    }
    payload = cli_json(store, [KFUPM, ARAMCO, "--show", "fields", "--years", "2015-9999"])
    rows = payload["families"]["fields"]["fields"]["rows"]
    expected = {
        (r["class_id"], r["partner"]): (r["works"], r["activity_index"], r["joint_works"])
        for r in rows
        if r["level"] == "field"
    }
    assert shown == expected and len(shown) > 10
    assert "complementary" in html
    # the class with the most joint works: its list has exactly that many works
    (cls, _), (_, _, joint) = max(shown.items(), key=lambda kv: kv[1][2])
    res = client_in.get(f"/dashboard/{KFUPM}/{ARAMCO}/works/?level=field&class={cls}&from=2015")
    assert res.status_code == 200 and res.content.decode().count('class="work"') == joint > 0
    assert client_in.get(f"/dashboard/{KFUPM}/{ARAMCO}/fields/?level=galaxy").status_code == 400


def _data_rows(html: str, cls: str) -> list[dict[str, str]]:
    from tests.web.dash_common import DataAttrs

    p = DataAttrs()
    p.feed(html)
    return [d for d in p.items if cls in d.get("class", "").split()]


def test_open_access_numbers_equal_the_cli_json_and_drill_down(client_in: Client, store: Path) -> None:
    html = client_in.get(f"/dashboard/{KFUPM}/{ARAMCO}/open-access/?from=2018").content.decode()
    shown = {
        (d["data-kind"], d["data-unit"], d["data-status"]): (int(d["data-works"]), float(d["data-share"]))
        for d in _data_rows(html, "oa-row")
    }
    payload = cli_json(store, [KFUPM, ARAMCO, "--show", "oa", "--years", "2018-9999"])
    rows = payload["families"]["oa"]["oa"]["rows"]
    expected = {
        (r["kind"], r["unit_key"], r["oa_status"]): (r["works"], r["share"])
        for r in rows
        if r["year"] is None
    }
    assert shown == expected and ("joint", "all", "closed") in shown
    year_rows = [r for r in rows if r["kind"] == "joint" and r["year"] == 2021]
    gold = next(r for r in year_rows if r["works"] > 0)
    res = client_in.get(f"/dashboard/{KFUPM}/{ARAMCO}/works/?year=2021&oa={gold['oa_status']}&from=2018")
    assert res.content.decode().count('class="work"') == gold["works"]


def test_french_catalogue_of_the_dashboard_is_complete_and_compiled() -> None:
    import gettext

    import cordiale.web.dashboard
    from tests.web.test_i18n import _po_entries

    locale = Path(cordiale.web.dashboard.__file__).parent / "locale" / "fr" / "LC_MESSAGES"
    text = (locale / "django.po").read_text(encoding="utf-8")
    assert "fuzzy" not in text
    po = _po_entries(text)
    with (locale / "django.mo").open("rb") as fh:
        mo = gettext.GNUTranslations(fh)
    assert len(po) > 80 and [k for k, v in po.items() if not v] == []
    for msgid, msgstr in po.items():
        assert mo.gettext(msgid) == msgstr, msgid


def test_sdg_numbers_equal_the_cli_json_and_drill_down(client_in: Client, store: Path) -> None:
    html = client_in.get(f"/dashboard/{KFUPM}/{ARAMCO}/sdg/?from=2012").content.decode()
    goals = {int(d["data-sdg"]): int(d["data-works"]) for d in _data_rows(html, "sdg-goal")}
    partners = {
        (d["data-unit"], int(d["data-sdg"])): int(d["data-works"]) for d in _data_rows(html, "sdg-row")
    }
    assert sorted(goals) == list(range(1, 18)), "all 17 goals are shown, zeros too"
    assert "counts once under each SDG" in html
    args = cli_args_on_page(html)
    assert "--sdg-source" in args and args[args.index("--sdg-source") + 1] == "openalex"
    payload = cli_json(store, args)
    section = payload["families"]["sdg"]["sdg"]
    rows = [r for r in section["rows"] if r["year"] is None]
    note = section["metadata"]["note"]
    assert note == "a work counts once under each SDG it is assigned" and f'data-note="{note}"' in html
    joint = {r["sdg"]: r["works"] for r in rows if r["kind"] == "joint" and r["unit_key"] == "all"}
    assert {g: n for g, n in goals.items() if n} == joint and len(joint) >= 5
    mine = {(r["unit_key"], r["sdg"]): r["works"] for r in rows if r["unit_key"] in (KFUPM, ARAMCO)}
    assert partners == mine and len(mine) > len(joint)
    # the goal with the most joint works: its list has exactly that many works, with DOIs
    top = max(joint, key=lambda g: joint[g])
    assert f"/works/?sdg={top}&amp;from=2012&amp;source=openalex" in html
    body = client_in.get(f"/dashboard/{KFUPM}/{ARAMCO}/works/?sdg={top}&from=2012&source=openalex")
    text = body.content.decode()
    assert body.status_code == 200 and text.count('class="work"') == joint[top] > 0
    assert 'class="doi" href="https://doi.org/' in text
    assert client_in.get(f"/dashboard/{KFUPM}/{ARAMCO}/works/?sdg=18").status_code == 400
    assert client_in.get(f"/dashboard/{KFUPM}/{ARAMCO}/sdg/?source=mine").status_code == 400


def test_sdg_page_without_our_scores_says_how_to_get_them(client_in: Client, store: Path) -> None:
    res = client_in.get(f"/dashboard/{KFUPM}/{ARAMCO}/sdg/?source=cordiale")
    html = res.content.decode()
    assert res.status_code == 200 and 'id="empty-state"' in html and "cordiale sdg score" in html
    assert 'id="chart-sdg"' not in html


def test_sdg_page_in_french(client_in: Client, store: Path, settings: Any) -> None:
    client_in.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    html = client_in.get(f"/dashboard/{KFUPM}/{ARAMCO}/sdg/").content.decode()
    script = '<script id="chart-specs" type="application/json">'
    specs = json.loads(html.split(script)[1].split("</script>")[0])
    assert specs["sdg"]["title"] == "Travaux conjoints par ODD"
    assert "Un travail compte une fois sous chaque ODD" in html and "Vie aquatique" in html
    assert "Life below water" not in html and "Joint works per SDG" not in html


def test_third_parties_numbers_equal_the_cli_json_and_drill_down(client_in: Client, store: Path) -> None:
    html = client_in.get(f"/dashboard/{KFUPM}/{ARAMCO}/third-parties/?from=2012").content.decode()
    countries = {d["data-key"]: int(d["data-works"]) for d in _data_rows(html, "country-row")}
    continents = {d["data-key"]: int(d["data-works"]) for d in _data_rows(html, "continent-row")}
    payload = cli_json(store, cli_args_on_page(html))
    rows = [r for r in payload["families"]["third-parties"]["third-parties"]["rows"] if r["grp"] == "all"]
    totals = [r for r in rows if r["year"] is None]
    assert countries == {r["key"]: r["works"] for r in totals if r["level"] == "country"}
    expected = {r["key"]: r["works"] for r in totals if r["level"] == "continent"}
    assert {k: v for k, v in continents.items() if v or k in expected} == expected and "Africa" in continents
    assert len(countries) > 10
    script = '<script id="chart-specs" type="application/json">'
    specs = json.loads(html.split(script)[1].split("</script>")[0])
    trend = {(r["year"], r["key"]): r["works"] for r in rows if r["level"] == "continent" and r["year"]}
    drawn = specs["trend"]["data"]["values"]
    assert {(d["year"], d["continent"]): d["works"] for d in drawn} == trend
    urls = [u for u in json.dumps(specs["map"]).split('"url": "')[1:]]
    assert [u.split('"')[0] for u in urls] == ["/static/dashboard/vendor/countries-110m.json"]  # served here
    # the country with the most joint works (other than the partners' own): its list has that many works
    top = max(countries, key=lambda k: countries[k])
    body = client_in.get(f"/dashboard/{KFUPM}/{ARAMCO}/works/?country={top}&from=2012").content.decode()
    assert body.count('class="work"') == countries[top] > 0 and 'class="doi" href="https://doi.org/' in body


def test_third_parties_in_french(client_in: Client, store: Path, settings: Any) -> None:
    client_in.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    html = client_in.get(f"/dashboard/{KFUPM}/{ARAMCO}/third-parties/").content.decode()
    script = '<script id="chart-specs" type="application/json">'
    specs = json.loads(html.split(script)[1].split("</script>")[0])
    assert specs["map"]["title"] == "Tiers des travaux conjoints, par pays"
    assert "Cliquez sur un pays" in html and "Click a country" not in html
