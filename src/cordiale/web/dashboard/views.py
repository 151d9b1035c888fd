"""The dashboard's pages (sign-in required): a partnership's overview, fields, open access, SDGs, third
parties, people and programmes, and the works (or programme rows) behind a figure.

Every page goes through ``_page``: read the page's query parameters, build the filters (the same
``ObsQuery`` the CLI builds), run the page's loader, explain a bad filter or an unknown partner, render.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cordiale.config import store_path
from cordiale.errors import CordialeError, InstitutionError, StoreError, UsageError
from cordiale.ids import short_openalex_id
from cordiale.observatory.query import RULES
from cordiale.web.dashboard import charts
from cordiale.web.dashboard.labels import error_message
from cordiale.web.dashboard.overview import (
    COUNTINGS,
    LEVELS,
    Filters,
    filter_choices,
    filters_from,
    institution_names,
    joint_works,
    load_open_access,
    load_overview,
    load_sdg,
    load_strengths,
    load_third_parties,
)
from cordiale.web.programmes.actors import is_office

# The filters every observatory page takes; the overview adds its counting rule and event year.
PAGE_KEYS = ("from", "to", "rule", "types", "field", "goal")
FILTER_KEYS = (*PAGE_KEYS, "counting", "event")
TABS = (
    ("overview", "dashboard_overview", gettext_lazy("Overview")),
    ("strengths", "dashboard_strengths", gettext_lazy("Fields and strengths")),
    ("open-access", "dashboard_open_access", gettext_lazy("Open access")),
    ("sdg", "dashboard_sdg", gettext_lazy("SDGs")),
    ("third-parties", "dashboard_third_parties", gettext_lazy("Third parties")),
    ("people", "dashboard_people", gettext_lazy("People")),
    ("programmes", "dashboard_programmes", gettext_lazy("Programmes")),
)


def _store() -> Path:
    return store_path(settings.CORDIALE_STORE)


def _partners(a: str, b: str) -> tuple[str, str]:
    ids = (short_openalex_id(a) or a, short_openalex_id(b) or b)
    return ids[0], ids[1]


def _params(request: HttpRequest, keys: tuple[str, ...]) -> dict[str, str]:
    """The page's filters as given (a repeated parameter, e.g. ticked types, joined by commas)."""
    out = {}
    for k in keys:
        values = [v.strip() for v in request.GET.getlist(k) if v.strip()]
        if values:
            out[k] = ",".join(values)
    return out


def _problem(request: HttpRequest, partners: tuple[str, str], err: CordialeError) -> HttpResponse:
    status = 404 if isinstance(err, InstitutionError | StoreError) else 400
    return render(
        request,
        "dashboard/problem.html",
        {"partners": partners, "message": error_message(err), "params": request.GET},
        status=status,
    )


def _page(
    request: HttpRequest,
    a: str,
    b: str,
    template: str,
    build: Callable[[Filters], dict[str, Any]],
    keys: tuple[str, ...] = PAGE_KEYS,
) -> HttpResponse:
    """Parameters → filters → the page's loader (``build``) → an explained error or the page."""
    partners = _partners(a, b)
    params = _params(request, keys)
    try:
        filters = filters_from(partners, params)
        context = build(filters)
    except CordialeError as err:
        return _problem(request, partners, err)
    return render(
        request,
        template,
        {
            "a": partners[0],
            "b": partners[1],
            "filters": filters,
            "params": params,
            "query": urlencode(params),
            "rules": RULES,
            "countings": COUNTINGS,
            "choices": filter_choices(_store()),
            "sdg_goal_names": charts.sdg_names(),
            "tabs": [t for t in TABS if t[0] != "programmes" or is_office(request.user)],
            **context,
        },
    )


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The partnership set in settings (``CORDIALE_DASHBOARD_PARTNERS``)."""
    a, b = settings.CORDIALE_DASHBOARD_PARTNERS
    return redirect("dashboard_overview", a=a, b=b)


@login_required
def overview(request: HttpRequest, a: str, b: str) -> HttpResponse:
    def build(filters: Filters) -> dict[str, Any]:
        ov = load_overview(_store(), filters)
        specs: dict[str, Any] = {}
        if not ov.empty:
            specs = {"joint": charts.joint_per_year(ov), "shares": charts.shares(ov)}
            if any(r["value"] is not None for r in ov.growth):
                specs["growth"] = charts.growth(ov)
        return {
            "ov": ov,
            "specs": specs,
            "has_charts": bool(specs),
            "share_rows": list(ov.share_overall),
            "cli": filters.cli(),
        }

    return _page(request, a, b, "dashboard/overview.html", build, FILTER_KEYS)


@login_required
def strengths(request: HttpRequest, a: str, b: str) -> HttpResponse:
    """Fields and topics: where each side is strong (activity index), complementary classes, joint works."""
    level = request.GET.get("level") or "field"

    def build(filters: Filters) -> dict[str, Any]:
        st = load_strengths(_store(), filters, level)
        return {
            "st": st,
            "levels": LEVELS,
            "specs": {"strengths": charts.strengths(st)} if st.rows else {},
            "cli": filters.cli("fields"),
        }

    return _page(request, a, b, "dashboard/strengths.html", build)


@login_required
def open_access(request: HttpRequest, a: str, b: str) -> HttpResponse:
    """Open access: joint works per year by status, and each side's and the joint shares over the years."""

    def build(filters: Filters) -> dict[str, Any]:
        oa = load_open_access(_store(), filters)
        return {
            "oa": oa,
            "specs": {"oa": charts.open_access(oa)} if oa.years else {},
            "cli": filters.cli("oa"),
        }

    return _page(request, a, b, "dashboard/open_access.html", build)


@login_required
def sdg(request: HttpRequest, a: str, b: str) -> HttpResponse:
    """SDGs: the joint works under each of the 17 goals, by source (OpenAlex's labels or cordiale's)."""
    source = request.GET.get("source") or "openalex"

    def build(filters: Filters) -> dict[str, Any]:
        filters = dataclasses.replace(filters, sdg_source=source)
        goals = load_sdg(_store(), filters, source)
        query = {**_params(request, PAGE_KEYS), "source": source}
        return {
            "goals": goals,
            "names": charts.sdg_names(),
            "source_query": urlencode(query),
            "specs": {} if goals.empty else {"sdg": charts.sdg_bars(goals)},
            "cli": filters.cli("sdg", sdg_source=source),
        }

    return _page(request, a, b, "dashboard/sdg.html", build)


@login_required
def third_parties(request: HttpRequest, a: str, b: str) -> HttpResponse:
    """Third parties: a world map by country, continents (Africa visible), the trend, top institutions."""

    def build(filters: Filters) -> dict[str, Any]:
        tp = load_third_parties(_store(), filters)
        specs: dict[str, Any] = {}
        if not tp.empty:
            specs = {
                "map": charts.third_party_map(tp, static("dashboard/vendor/countries-110m.json")),
                "continents": charts.continents(tp),
                "trend": charts.third_party_trend(tp),
            }
        return {"tp": tp, "specs": specs, "cli": filters.cli("third-parties")}

    return _page(request, a, b, "dashboard/third_parties.html", build)


@login_required
def people(request: HttpRequest, a: str, b: str) -> HttpResponse:
    """People: top cross-partner co-author pairs, each side's labs and units, new and repeat pairs."""
    from cordiale.web.dashboard.people import load_people

    def build(filters: Filters) -> dict[str, Any]:
        pe = load_people(_store(), filters)
        specs: dict[str, Any] = {}
        if not pe.empty:
            specs = {"pairs": charts.new_and_repeat_pairs(pe), "units": charts.units(pe)}
        return {"pe": pe, "specs": specs, "cli": filters.cli("people")}

    return _page(request, a, b, "dashboard/people.html", build)


@login_required
def programmes(request: HttpRequest, a: str, b: str) -> HttpResponse:
    """Programmes: calls by status with applications and success rates, joint PhDs, exchanges, money
    committed and paid per partner (EUR and GBP), from the programmes app's database. For the partnership
    office only (any programme officer or partnership director), like the programmes' own lists."""
    if not is_office(request.user):
        raise PermissionDenied
    from cordiale.web.dashboard.programmes import load_programmes

    def build(filters: Filters) -> dict[str, Any]:
        pr = load_programmes(filters)
        specs: dict[str, Any] = {}
        if pr.calls:
            specs["calls"] = charts.calls_by_status(pr)
        if pr.money:
            specs["money"] = charts.money(pr)
        if pr.exchanges:
            specs["exchanges"] = charts.exchanges(pr)
        names = institution_names(_store(), filters.partners) if _store().is_file() else {}
        names = {**{p: p for p in filters.partners}, **names}
        names.update({p.openalex_id: p.name for p in pr.partners})
        return {"pr": pr, "specs": specs, "names": names}

    return _page(request, a, b, "dashboard/programmes.html", build, ("from", "to"))


@login_required
def programme_rows(request: HttpRequest, a: str, b: str) -> HttpResponse:
    """The rows behind a programme figure: ``?call=ID`` (its applications), ``?status=`` (its calls),
    ``?partner=ID&kind=`` (ledger lines), ``?phd=1`` (joint PhD projects), ``?exchanges=YEAR``. For the
    partnership office only."""
    if not is_office(request.user):
        raise PermissionDenied
    from cordiale.web.dashboard.programmes import drill_down

    def build(filters: Filters) -> dict[str, Any]:
        return {"dd": drill_down(filters, request.GET)}

    return _page(request, a, b, "dashboard/programme_rows.html", build, ("from", "to"))


def _goal(raw: str, what: str = "sdg") -> int | None:
    if not raw:
        return None
    if not raw.isdigit():
        raise UsageError(
            _("%(what)s must be a goal from 1 to 17, not %(value)s") % {"what": what, "value": repr(raw)}
        )
    return int(raw)


@login_required
def works(request: HttpRequest, a: str, b: str) -> HttpResponse:
    """The joint works behind one bar or dot: ``?year=`` (overview), ``?level=&class=`` (strengths),
    ``?oa=`` with a year, ``?sdg=``, ``?country=``, ``?author_1=&author_2=`` (a co-author pair),
    ``?unit=`` (a lab), ``?pairs=new|repeat`` with a year, plus the page's filters."""
    get = request.GET
    year_raw = get.get("year", "")
    level, class_id = get.get("level"), get.get("class")
    oa_status = get.get("oa") or None
    country = get.get("country") or None
    author_1, author_2 = get.get("author_1") or None, get.get("author_2") or None
    unit, pairs = get.get("unit") or None, get.get("pairs") or None

    def build(filters: Filters) -> dict[str, Any]:
        from cordiale.web.dashboard import people as pp

        if filters.sdg is not None and get.get("source"):  # the goal filter of the SDG page's source
            filters = dataclasses.replace(filters, sdg_source=get.get("source") or "openalex")
        sdg_goal = _goal(get.get("sdg", ""))
        by_person = author_1 is not None or unit is not None
        year: int | None = None
        if (class_id is None and sdg_goal is None and country is None and not by_person) or year_raw:
            if not year_raw.isdigit():
                raise UsageError(_("year must be a year, not %(value)s") % {"value": repr(year_raw)})
            year = int(year_raw)
        only: set[str] | None = None
        title = get.get("name") or class_id or (f"{_('SDG')} {sdg_goal}" if sdg_goal is not None else None)
        if author_1 is not None:
            only = pp.pair_work_ids(_store(), filters, author_1, author_2 or "")
        elif unit is not None:
            only = pp.unit_work_ids(_store(), filters, unit)
        elif pairs is not None:
            only = pp.new_pair_work_ids(_store(), filters, year or 0, pairs)
        rows = joint_works(
            _store(),
            filters,
            year=year,
            level=level if class_id else None,
            class_id=class_id,
            oa_status=oa_status,
            sdg=sdg_goal,
            sdg_source=get.get("source") or "openalex",
            country=country,
            only=only,
        )
        return {
            "rows": rows,
            "year": year,
            "class_name": title or country,
            "oa_status": oa_status,
            "sdg": sdg_goal,
            "pairs": pairs,
            "names": institution_names(_store(), filters.partners),
        }

    return _page(request, a, b, "dashboard/works.html", build, FILTER_KEYS)
