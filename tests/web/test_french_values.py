"""French pages say the observatory's values in French: growth windows and methods, strengths, open-access
statuses, continents, work types, levels and counting (translated at display time, the data attributes,
chart keys and exports keeping the English keys); the filters' errors; the report's counting rules (HTML
and PDF). English pages show the observatory's values byte for byte."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import translation

from cordiale.observatory.growth import growth_windows, window_growth
from cordiale.observatory.regions import CONTINENT_NAMES
from cordiale.observatory.run import COUNTING
from cordiale.web.dashboard import labels
from cordiale.web.dashboard.charts import OA_COLORS
from cordiale.web.dashboard.report import ReportRequest, report_html, write_report
from tests.web.dash_common import ARAMCO, KFUPM, DataAttrs, cli_json
from tests.web.factories import PASSWORD, World

pytestmark = pytest.mark.django_db
BASE = f"/dashboard/{KFUPM}/{ARAMCO}"
SPECS = '<script id="chart-specs" type="application/json">'


class Cells(HTMLParser):
    """The visible text of a page (no attributes, scripts or styles), and the cells of rows of a class."""

    def __init__(self, row_class: str = "") -> None:
        super().__init__()
        self.row_class = row_class
        self.text: list[str] = []
        self.rows: list[list[str]] = []
        self._skip = 0
        self._in_row = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        cls = (dict(attrs).get("class") or "").split()
        if tag == "tr":
            self._in_row = bool(self.row_class) and self.row_class in cls
            if self._in_row:
                self.rows.append([])
        if tag == "td" and self._in_row:
            self.rows[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1
        if tag == "tr":
            self._in_row = False

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text.append(data)
        if self._in_row and self.rows and self.rows[-1]:
            self.rows[-1][-1] += data


def visible(html: str, row_class: str = "") -> tuple[str, list[list[str]]]:
    p = Cells(row_class)
    p.feed(html)
    return " ".join("".join(p.text).split()), [[" ".join(c.split()) for c in r] for r in p.rows]


def specs_of(html: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(html.split(SPECS)[1].split("</script>")[0])
    return out


@pytest.fixture()
def en(db: None) -> Client:
    User.objects.create_user("director", password="a-long-test-password-42")
    c = Client()
    c.login(username="director", password="a-long-test-password-42")
    return c


@pytest.fixture()
def fr(en: Client, settings: Any) -> Client:
    en.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    return en


# --- the labels themselves: every value the observatory can emit has a French label; English unchanged


def test_every_observatory_value_has_a_french_label_and_english_is_the_value() -> None:
    emitted = {
        "strength": ["strong", "weak", "neutral"],  # families.py's CASE
        "oa": [*OA_COLORS],  # OpenAlex's oa_status and the family's "unknown"
        "continent": [*CONTINENT_NAMES.values(), "unknown", "global south", "global north"],
        "method": [
            "cagr",
            "poisson log-linear slope",
            "poisson (all zero)",
            "poisson (no finite slope)",
            window_growth({}, 2020, 2020)[1],  # "window too short"
            "share",
        ],
        "measure": ["joint works growth", "joint share of the partner's output"],
        "collaboration": [*labels.COLLABORATIONS],
        "counting": ["full", "fractional"],
        "level": ["domain", "field", "subfield", "topic"],
        "type": ["article", "review", "book-chapter", "preprint", "dataset"],
        "window": [w.name for w in growth_windows(2018, 5, list(range(2010, 2024)))]
        + [w.name for w in growth_windows(None, 5, list(range(2010, 2024)))]
        + ["complete years (2010–2023)", "no complete year"],
    }
    for category, values in emitted.items():
        for value in values:
            with translation.override("en"):
                assert labels.label(value, category) == value, (category, value)
            with translation.override("fr"):
                french = labels.label(value, category)
            if value not in ("bronze", "Europe", "article", "erratum"):  # the same word in French
                assert french != value, (category, value)
    with translation.override("fr"):
        assert labels.label("before (2013–2017)", "window") == "avant (2013–2017)"
        assert labels.label("after (2018–2023)", "window") == "après (2018–2023)"
        assert labels.label("complete years (2010–2023)", "window") == "années complètes (2010–2023)"
        assert labels.label("Africa", "continent") == "Afrique"
        assert labels.label("a free text", "strength") == "a free text"  # no label: shown as it is


def test_the_counting_rules_of_the_observatory_are_all_translated() -> None:
    note = json.dumps(COUNTING)
    with translation.override("en"):
        assert [(k, t) for k, _, t in labels.counting_rules(note)] == list(COUNTING.items())
    with translation.override("fr"):
        french = labels.counting_rules(note)
    assert [k for k, _, _ in french] == list(COUNTING)
    for (key, name, text), english in zip(french, COUNTING.values(), strict=True):
        assert text != english and name, key
    # a rule the observatory rewords keeps its own (English) words rather than a stale translation
    with translation.override("fr"):
        (row,) = labels.counting_rules(json.dumps({"full": "reworded"}))
    assert row == ("full", "entier", "reworded")


# --- the dashboard's pages


def test_overview_growth_windows_methods_and_counting_in_french(fr: Client, store: Path) -> None:
    html = fr.get(f"{BASE}/?from=2012&event=2019&counting=fractional").content.decode()
    text, rows = visible(html, "growth-row")
    windows = [r[0] for r in rows]
    assert windows[0].startswith("avant (2") and windows[1] == "après (2019–2024)", windows
    assert all(r[-1] in ("TCAC", "pente log-linéaire de Poisson") for r in rows), rows
    assert "années complètes (" in text and "comptage: fractionnaire" in text
    for english in ("before (", "after (", "complete years (", "cagr", "poisson", "counting: "):
        assert english not in text, english
    # the data attributes keep the observatory's keys; the chart shows the labels, keyed by the windows
    shown = {d["data-window"] for d in _data(html) if "growth-row" in d.get("class", "")}
    assert shown == {"before (2014–2018)", "after (2019–2024)"}
    growth = specs_of(html)["growth"]
    assert {(v["window"], v["window_label"]) for v in _values(growth, "growth")} == {
        ("before (2014–2018)", "avant (2014–2018)"),
        ("after (2019–2024)", "après (2019–2024)"),
    }
    assert '"field": "window_label"' in json.dumps(growth)


def test_overview_in_english_shows_the_observatory_values_as_they_are(en: Client, store: Path) -> None:
    html = en.get(f"{BASE}/?from=2012&event=2019").content.decode()
    text, rows = visible(html, "growth-row")
    payload = cli_json(store, [KFUPM, ARAMCO, "--show", "growth", "--years", "2012-9999", "--event", "2019"])
    growth = [r for r in payload["families"]["growth"]["growth"]["rows"] if r["method"] != "share"]
    growth.sort(key=lambda g: g["first_year"])
    assert [(r[0], r[-1]) for r in rows] == [(g["window"], g["method"]) for g in growth]
    share = next(r for r in payload["families"]["growth"]["growth"]["rows"] if r["method"] == "share")
    assert share["window"] in text and "counting: full" in text


def test_strengths_and_levels_in_french(fr: Client, store: Path) -> None:
    html = fr.get(f"{BASE}/fields/?level=field").content.decode()
    _, rows = visible(html, "strength-row")
    strengths = {r[4] for r in rows}
    assert strengths <= {"fort", "faible", "neutre"} and {"fort", "faible"} <= strengths, strengths
    assert '<option value="subfield" >sous-domaine</option>' in html.replace("selected", "")
    text, _ = visible(html)
    assert "référence: l’entrepôt" in text or "référence: les partenaires" in text, text[-400:]
    spec = specs_of(html)["strengths"]
    values = _values(spec, "strengths")
    assert {v["strength_label"] for v in values} <= {"fort", "faible", "neutre"}
    assert {v["strength"] for v in values} <= {"strong", "weak", "neutral"}  # the keys stay


def test_open_access_statuses_and_work_types_in_french(fr: Client, store: Path) -> None:
    html = fr.get(f"{BASE}/open-access/?from=2018").content.decode()
    text, rows = visible(html, "oa-row")
    statuses = {r[1] for r in rows}
    assert "fermé" in statuses and "closed" not in statuses and "gold" not in statuses, statuses
    assert "article (" in text.replace("  ", " ") or "revue de littérature" in text
    assert "book-chapter" not in text and "chapitre de livre" in text
    spec = specs_of(html)["oa"]
    values = _values(spec, "oa")
    assert {v["oa_label"] for v in values if v["oa_status"] == "closed"} == {"fermé"}
    assert "fermé" in json.dumps(spec["encoding"]["color"]["scale"]["domain"], ensure_ascii=False)
    # a segment's drill-down: the heading says the status in French, the works their types
    res = fr.get(f"{BASE}/works/?year=2021&oa=closed&from=2018")
    text, _ = visible(res.content.decode())
    assert res.status_code == 200 and "Accès ouvert: fermé" in text, text[:300]


def test_continents_in_french(fr: Client, store: Path) -> None:
    html = fr.get(f"{BASE}/third-parties/?from=2012").content.decode()
    _, rows = visible(html, "continent-row")
    names = {r[0] for r in rows}
    assert (
        "Afrique" in names and "Asie" in names and not names & (set(CONTINENT_NAMES.values()) - {"Europe"})
    ), names
    keys = {d["data-key"] for d in _data(html) if "continent-row" in d.get("class", "")}
    assert "Africa" in keys  # the rows keep the observatory's keys
    specs = specs_of(html)
    bars = _values(specs["continents"], "continents")
    assert {(v["continent"], v["continent_label"]) for v in bars} >= {("Africa", "Afrique")}
    assert "datum.continent === 'Africa'" in json.dumps(specs["continents"])  # Africa's colour, by key
    assert {v["continent_label"] for v in _values(specs["trend"], "trend")} & {"Asie", "Europe"}


def test_country_names_in_french(fr: Client, en: Client, store: Path, settings: Any) -> None:
    html = fr.get(f"{BASE}/third-parties/?from=2012").content.decode()
    _, rows = visible(html, "country-row")
    keys = [d["data-key"] for d in _data(html) if "country-row" in d.get("class", "")]
    names = dict(zip(keys, (r[0] for r in rows), strict=True))
    assert names["US"] == "États-Unis" and names["GB"] == "Royaume-Uni", names
    assert names["unknown"] == "inconnu"  # institutions without a country
    drawn = _values(specs_of(html)["map"], "countries")
    assert {(v["key"], v["country_label"]) for v in drawn} >= {("US", "États-Unis")}
    assert "country_label" in json.dumps(specs_of(html)["map"]["layer"][1]["encoding"]["tooltip"])
    # English: GeoNames' names, as before
    en.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = en.get(f"{BASE}/third-parties/?from=2012").content.decode()
    _, rows = visible(html, "country-row")
    assert "United States" in {r[0] for r in rows}


@pytest.mark.parametrize(
    ("url", "english", "french"),
    [
        ("/?from=2020&to=2010", "years: 2020 is after 2010", "années : 2020 est après 2010"),
        ("/?counting=half", "counting must be full or fractional, not 'half'", "le comptage doit être"),
        ("/?rule=mine", "rule must be one of", "la règle de rattachement doit être l’une de"),
        ("/?from=abc", "from must be a year, not 'abc'", "from doit être une année, pas 'abc'"),
        ("/?goal=x", "goal (SDG) must be a goal from 1 to 17", "l’objectif (ODD) doit être"),
        ("/?goal=19", "sdg must be a goal from 1 to 17, not 19", "l’ODD doit être un objectif de 1 à 17"),
        (
            "/?event=1900",
            "--event 1900 is outside the range",
            "l’année d’événement 1900 est hors de la plage",
        ),
        ("/fields/?level=class", "level must be one of", "le niveau doit être l’un de"),
        ("/sdg/?source=mine", "sdg source must be openalex or cordiale", "la source des ODD doit être"),
        ("/works/?year=abc", "year must be a year, not 'abc'", "year doit être une année, pas 'abc'"),
        ("/works/?sdg=x", "sdg must be a goal from 1 to 17, not 'x'", "sdg doit être un objectif de 1 à 17"),
        ("/works/?year=2020&pairs=odd", "pairs must be new or repeat", "les paires doivent être new"),
        ("/works/?country=FR&rule=ror", "the country list is available under", "la liste par pays"),
    ],
)
def test_filter_errors_in_the_page_language(
    en: Client, store: Path, settings: Any, url: str, english: str, french: str
) -> None:
    res = en.get(BASE + url)
    assert res.status_code == 400
    assert english in _problem(res.content.decode())
    en.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    res = en.get(BASE + url)
    message = _problem(res.content.decode())
    assert res.status_code == 400 and french in message and english not in message, message


def test_unknown_institution_is_explained_in_french(fr: Client, store: Path) -> None:
    res = fr.get(f"/dashboard/{KFUPM}/I999999999/")
    message = _problem(res.content.decode())
    assert res.status_code == 404 and "établissement(s) inconnu(s) dans cet entrepôt : I999999999" in message


def test_programme_drill_down_errors_in_french(world: World, settings: Any) -> None:
    c = Client()
    assert c.login(username="director", password=PASSWORD)
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    rows = "/dashboard/I1294671590/I47508984/programmes/rows/"
    for query, french in [
        ("", "indiquez quel chiffre"),
        ("?status=lost", "le statut doit être l’un de"),
        ("?call=x", "call doit être un nombre, pas 'x'"),
        ("?call=999999", "l’appel 999999 n’est pas un appel de ce partenariat"),
        ("?partner=1&kind=gift", "le type doit être commitment (engagement) ou payment"),
        ("?partner=999999", "le partenaire 999999 n’est pas un partenaire de ce partenariat"),
    ]:
        res = c.get(rows + query)
        assert res.status_code == 400 and french in _problem(res.content.decode()), query


# --- the report, HTML and PDF


def test_report_in_french_says_the_values_and_counting_rules_in_french(
    kfupm_store: Path, tmp_path: Path
) -> None:
    types = ("article", "review", "book-chapter")
    req = ReportRequest(partners=(KFUPM, ARAMCO), year=2024, lang="fr", event=2019, types=types)
    html = report_html(kfupm_store, req)
    text, _ = visible(html)
    flat = text.replace("\xa0", " ")
    with translation.override("fr"):
        rules = [str(labels.COUNTING_RULES[k]) for k in COUNTING]
    for rule in rules:
        assert rule in flat, rule
    for english in [*COUNTING.values(), "before (", "after (", "complete years (", "counting: full"]:
        assert english not in flat, english
    assert "avant (2015–2018)" in flat and "après (2019–2024)" in flat and "comptage: entier" in flat
    assert "Afrique" in flat and "Africa" not in flat and "États-Unis" in flat
    assert " fort " in f" {flat} " or "faible" in flat
    assert "types de documents : article, revue de littérature, chapitre de livre" in flat
    assert not any(f">{s}<" in html for s in ("strong", "weak", "neutral", "cagr"))
    # the PDF says the same
    if shutil.which("pdftotext") is None:
        reason = "pdftotext missing: run scripts/report_deps.sh (poppler-utils)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    pdf = write_report(kfupm_store, req, tmp_path / "rapport.pdf")
    pdf_text = " ".join(
        subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert "Méthodes" in pdf_text and "avant (2015–2018)" in pdf_text and "Afrique" in pdf_text
    assert " ".join(rules[0].split()) in pdf_text and "year NULL is the total" not in pdf_text
    assert "a work counts 1 for each unit" not in pdf_text and "before (" not in pdf_text


def test_report_in_english_keeps_the_observatory_words(kfupm_store: Path) -> None:
    html = report_html(kfupm_store, ReportRequest(partners=(KFUPM, ARAMCO), year=2024, event=2019))
    text, _ = visible(html)
    for key, rule in COUNTING.items():
        assert f"{key}: {rule}" in text, key
    assert "before (2015–2018)" in text and "after (2019–2024)" in text and "Africa" in text


def _data(html: str) -> list[dict[str, str]]:
    p = DataAttrs()
    p.feed(html)
    return p.items


def _values(spec: Any, name: str) -> list[dict[str, Any]]:
    """The rows of a spec's named inline data set, wherever it sits (top level or a layer)."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("name") == name and isinstance(node.get("values"), list):
                found.extend(node["values"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    for key, rows in (spec.get("datasets") or {}).items():
        if key == name:
            found.extend(rows)
    assert found, name
    return found


def _problem(html: str) -> str:
    return html.split('id="problem"')[1].split("</p>")[0].replace("&#x27;", "'").replace("&#39;", "'")
