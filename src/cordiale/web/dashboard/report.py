"""The annual report of a partnership: a designed HTML document (summary page, charts as SVG rendered
server-side by vl-convert, tables, methods) and its PDF through WeasyPrint.

The numbers are the dashboard's (``overview.load_overview``), hence the observatory's: the report never
computes an indicator itself. Django (settings, templates, translations) is set up by the caller.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import vl_convert
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from cordiale import __version__
from cordiale.errors import StoreError, UsageError
from cordiale.observatory.query import DEFAULT_TYPES
from cordiale.web.dashboard import charts
from cordiale.web.dashboard.labels import counting_rules, label
from cordiale.web.dashboard.overview import (
    Filters,
    Overview,
    filter_choices,
    load_overview,
    load_sdg,
    load_strengths,
    load_third_parties,
)

ATLAS = Path(__file__).parent / "static" / "dashboard" / "vendor" / "countries-110m.json"
ATLAS_URL = "atlas:countries-110m.json"  # a placeholder URL, replaced by the atlas itself (no fetch)
COUNTRIES_SHOWN = 15  # third-party countries in the report's table

YEARS_SHOWN = 10  # the report's series: the report year and the nine before it
FIELDS_SHOWN = 12  # fields in the report's strengths table (those with the most works of either partner)
LANGS = ("en", "fr")


@dataclass(frozen=True)
class ReportRequest:
    partners: tuple[str, str]
    year: int
    lang: str = "en"
    rule: str = "lineage"
    counting: str = "full"
    event: int | None = None
    types: tuple[str, ...] = DEFAULT_TYPES
    field: str | None = None  # an OpenAlex field id ("fields/22"): works whose primary topic is in it
    sdg: int | None = None  # works OpenAlex assigns this goal

    def filters(self) -> Filters:
        return Filters(
            partners=self.partners,
            rule=self.rule,
            counting=self.counting,
            years=(self.year - YEARS_SHOWN + 1, self.year),
            event=self.event,
            types=self.types,
            field=self.field,
            sdg=self.sdg,
        )


def filter_note(db_path: Path, req: ReportRequest) -> list[str]:
    """What the report is restricted to, for its first page (empty: the whole partnership)."""
    note: list[str] = []
    if req.types != DEFAULT_TYPES:
        note.append(
            str(_("document types: %(types)s") % {"types": ", ".join(label(t, "type") for t in req.types)})
        )
    if req.field is not None:
        names = dict(filter_choices(db_path).fields)
        name = names.get(req.field)
        shown = f"{name} ({req.field})" if name else req.field
        note.append(str(_("field: %(field)s") % {"field": shown}))
    if req.sdg is not None:
        note.append(str(_("SDG %(goal)d (OpenAlex's labels)") % {"goal": req.sdg}))
    return note


def svg_data_uri(spec: dict[str, Any]) -> str:
    """A Vega-Lite spec rendered to SVG (vl-convert, no browser), as a data URI for an <img>."""
    svg = vl_convert.vegalite_to_svg(spec)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _inline_atlas(node: Any, atlas: dict[str, Any]) -> Any:
    """The spec with every reference to the world atlas replaced by its TopoJSON, inline (vl-convert
    renders without reading files or the network)."""
    if isinstance(node, dict):
        if node.get("url") == ATLAS_URL:
            return {"values": atlas, "format": node.get("format", {})}
        return {k: _inline_atlas(v, atlas) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline_atlas(v, atlas) for v in node]
    return node


def map_spec(tp: Any) -> dict[str, Any]:
    """The third-party world map of the dashboard, with the atlas inline."""
    if not ATLAS.is_file():
        raise StoreError(f"the world atlas is missing ({ATLAS}): run scripts/report_deps.sh (npm ci)")
    atlas = json.loads(ATLAS.read_text(encoding="utf-8"))
    spec: dict[str, Any] = _inline_atlas(charts.third_party_map(tp, ATLAS_URL), atlas)
    return spec


def programme_figures(req: ReportRequest) -> tuple[Any, str]:
    """The report year's programme figures from the programmes database (the configured site database,
    or ``--web-db``), and a note when there are none: no such database, no tables, no rows."""
    from django.db import DatabaseError

    from cordiale.web.dashboard.programmes import load_programmes

    filters = dataclasses.replace(req.filters(), years=(req.year, req.year))
    try:
        pr = load_programmes(filters)
    except DatabaseError as err:
        return None, _("No programme data: the programmes database cannot be read (%(err)s).") % {"err": err}
    if pr.empty:
        return None, str(_("No programme data for these partners in %(year)d.") % {"year": req.year})
    return pr, ""


def _year_row(ov: Overview, year: int) -> dict[str, Any] | None:
    return next((r for r in ov.years if r["year"] == year), None)


def report_html(db_path: Path, req: ReportRequest) -> str:
    """The report as one self-contained HTML document (charts inlined as SVG data URIs)."""
    if req.lang not in LANGS:
        raise UsageError(f"--lang must be en or fr, not {req.lang!r}")
    with translation.override(req.lang):
        ov = load_overview(db_path, req.filters())
        this, before = _year_row(ov, req.year), _year_row(ov, req.year - 1)
        shares_year = [r for r in ov.shares if r["year"] == req.year]
        chart_uris: dict[str, str] = {}
        if not ov.empty:
            chart_uris = {
                "joint": svg_data_uri(charts.joint_per_year(ov)),
                "shares": svg_data_uri(charts.shares(ov)),
            }
            if any(r["value"] is not None for r in ov.growth):
                chart_uris["growth"] = svg_data_uri(charts.growth(ov))
        st = load_strengths(db_path, req.filters(), "field")
        field_rows = [r for r in st.rows if r["union_works"]][: 2 * FIELDS_SHOWN]
        if field_rows:
            chart_uris["strengths"] = svg_data_uri(charts.strengths(st))
        goals = load_sdg(db_path, req.filters(), "openalex")
        if not goals.empty:
            chart_uris["sdg"] = svg_data_uri(charts.sdg_bars(goals))
        tp = load_third_parties(db_path, req.filters())
        if not tp.empty:
            chart_uris["map"] = svg_data_uri(map_spec(tp))
            chart_uris["continents"] = svg_data_uri(charts.continents(tp))
        programmes, programme_note = programme_figures(req)
        if programmes is not None and programmes.money:
            chart_uris["money"] = svg_data_uri(charts.money(programmes))
        counting = counting_rules(ov.counting_note)
        return render_to_string(
            "dashboard/report.html",
            {
                "ov": ov,
                "req": req,
                "this": this,
                "before": before,
                "change": (this["value"] - before["value"]) if this and before else None,
                "shares_year": shares_year,
                "charts": chart_uris,
                "st": st,
                "field_rows": field_rows,
                "counting": counting,
                "version": __version__,
                "a": req.partners[0],
                "b": req.partners[1],
                "LANG": req.lang,
                "goals": goals,
                "sdg_names": charts.sdg_names(),
                "tp": tp,
                "countries": tp.countries[:COUNTRIES_SHOWN],
                "programmes": programmes,
                "programme_note": programme_note,
                "filter_note": filter_note(db_path, req),
            },
        )


def write_report(db_path: Path, req: ReportRequest, out: Path) -> Path:
    """Write ``out`` as HTML (``.html``) or PDF (``.pdf``, WeasyPrint)."""
    suffix = out.suffix.lower()
    if suffix not in (".html", ".htm", ".pdf"):
        raise UsageError(f"--out must end in .pdf or .html, not {out.name!r}")
    html = report_html(db_path, req)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".pdf":
        from weasyprint import HTML

        HTML(string=html, base_url=str(out.parent)).write_pdf(out)
    else:
        out.write_text(html, encoding="utf-8")
    return out
