"""The dashboard's pages (sign-in required): a partnership's overview and the works behind a bar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from cordiale.config import store_path
from cordiale.errors import CordialeError, InstitutionError, StoreError, UsageError
from cordiale.ids import short_openalex_id
from cordiale.observatory.query import RULES
from cordiale.web.dashboard import charts
from cordiale.web.dashboard.overview import (
    COUNTINGS,
    LEVELS,
    filters_from,
    institution_names,
    joint_works,
    load_open_access,
    load_overview,
    load_sdg,
    load_strengths,
    load_third_parties,
)

FILTER_KEYS = ("from", "to", "rule", "counting", "event")
STRENGTH_KEYS = ("from", "to", "rule")


def _store() -> Path:
    return store_path(settings.CORDIALE_STORE)


def _partners(a: str, b: str) -> tuple[str, str]:
    ids = (short_openalex_id(a) or a, short_openalex_id(b) or b)
    return ids[0], ids[1]


def _problem(request: HttpRequest, partners: tuple[str, str], err: CordialeError) -> HttpResponse:
    status = 404 if isinstance(err, InstitutionError | StoreError) else 400
    return render(
        request,
        "dashboard/problem.html",
        {"partners": partners, "message": str(err), "params": request.GET},
        status=status,
    )


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The partnership set in settings (``CORDIALE_DASHBOARD_PARTNERS``)."""
    a, b = settings.CORDIALE_DASHBOARD_PARTNERS
    return redirect("dashboard_overview", a=a, b=b)


@login_required
def overview(request: HttpRequest, a: str, b: str) -> HttpResponse:
    partners = _partners(a, b)
    params = {k: str(v) for k, v in request.GET.items() if k in FILTER_KEYS}
    try:
        filters = filters_from(partners, params)
        ov = load_overview(_store(), filters)
    except CordialeError as err:
        return _problem(request, partners, err)
    query = urlencode({k: v for k, v in params.items() if v})
    specs: dict[str, Any] = {}
    if not ov.empty:
        specs = {"joint": charts.joint_per_year(ov), "shares": charts.shares(ov)}
        if any(r["value"] is not None for r in ov.growth):
            specs["growth"] = charts.growth(ov)
    share_rows = [r for r in ov.share_overall]
    return render(
        request,
        "dashboard/overview.html",
        {
            "ov": ov,
            "a": partners[0],
            "b": partners[1],
            "params": params,
            "query": query,
            "rules": RULES,
            "countings": COUNTINGS,
            "specs": specs,
            "has_charts": bool(specs),
            "share_rows": share_rows,
            "cli": "cordiale pair " + " ".join(filters.cli_args()) + " --format json",
        },
    )


@login_required
def strengths(request: HttpRequest, a: str, b: str) -> HttpResponse:
    """Fields and topics: where each side is strong (activity index), complementary classes, joint works."""
    partners = _partners(a, b)
    params = {k: str(v) for k, v in request.GET.items() if k in STRENGTH_KEYS}
    level = request.GET.get("level") or "field"
    try:
        filters = filters_from(partners, params)
        st = load_strengths(_store(), filters, level)
    except CordialeError as err:
        return _problem(request, partners, err)
    query = urlencode({k: v for k, v in params.items() if v})
    return render(
        request,
        "dashboard/strengths.html",
        {
            "st": st,
            "a": partners[0],
            "b": partners[1],
            "params": params,
            "query": query,
            "rules": RULES,
            "levels": LEVELS,
            "specs": {"strengths": charts.strengths(st)} if st.rows else {},
        },
    )


@login_required
def open_access(request: HttpRequest, a: str, b: str) -> HttpResponse:
    """Open access: joint works per year by status, and each side's and the joint shares over the years."""
    partners = _partners(a, b)
    params = {k: str(v) for k, v in request.GET.items() if k in STRENGTH_KEYS}
    try:
        filters = filters_from(partners, params)
        oa = load_open_access(_store(), filters)
    except CordialeError as err:
        return _problem(request, partners, err)
    query = urlencode({k: v for k, v in params.items() if v})
    return render(
        request,
        "dashboard/open_access.html",
        {
            "oa": oa,
            "a": partners[0],
            "b": partners[1],
            "params": params,
            "query": query,
            "rules": RULES,
            "specs": {"oa": charts.open_access(oa)} if oa.years else {},
        },
    )


@login_required
def sdg(request: HttpRequest, a: str, b: str) -> HttpResponse:
    """SDGs: the joint works under each of the 17 goals, by source (OpenAlex's labels or cordiale's)."""
    partners = _partners(a, b)
    params = {k: str(v) for k, v in request.GET.items() if k in STRENGTH_KEYS}
    source = request.GET.get("source") or "openalex"
    try:
        filters = filters_from(partners, params)
        goals = load_sdg(_store(), filters, source)
    except CordialeError as err:
        return _problem(request, partners, err)
    query = urlencode({k: v for k, v in params.items() if v})
    return render(
        request,
        "dashboard/sdg.html",
        {
            "goals": goals,
            "names": charts.sdg_names(),
            "a": partners[0],
            "b": partners[1],
            "params": params,
            "query": query,
            "source_query": urlencode({**{k: v for k, v in params.items() if v}, "source": source}),
            "rules": RULES,
            "specs": {} if goals.empty else {"sdg": charts.sdg_bars(goals)},
        },
    )


@login_required
def third_parties(request: HttpRequest, a: str, b: str) -> HttpResponse:
    """Third parties: a world map by country, continents (Africa visible), the trend, top institutions."""
    partners = _partners(a, b)
    params = {k: str(v) for k, v in request.GET.items() if k in STRENGTH_KEYS}
    try:
        filters = filters_from(partners, params)
        tp = load_third_parties(_store(), filters)
    except CordialeError as err:
        return _problem(request, partners, err)
    query = urlencode({k: v for k, v in params.items() if v})
    specs: dict[str, Any] = {}
    if not tp.empty:
        specs = {
            "map": charts.third_party_map(tp, static("dashboard/vendor/countries-110m.json")),
            "continents": charts.continents(tp),
            "trend": charts.third_party_trend(tp),
        }
    return render(
        request,
        "dashboard/third_parties.html",
        {
            "tp": tp,
            "a": partners[0],
            "b": partners[1],
            "params": params,
            "query": query,
            "rules": RULES,
            "specs": specs,
        },
    )


@login_required
def works(request: HttpRequest, a: str, b: str) -> HttpResponse:
    """The joint works behind one bar or dot: ``?year=`` (overview) or ``?level=&class=`` (strengths), plus
    the page's filters."""
    partners = _partners(a, b)
    params = {k: str(v) for k, v in request.GET.items() if k in FILTER_KEYS}
    year_raw = request.GET.get("year", "")
    level, class_id = request.GET.get("level"), request.GET.get("class")
    oa_status = request.GET.get("oa") or None
    sdg_raw = request.GET.get("sdg", "")
    try:
        filters = filters_from(partners, params)
        year: int | None = None
        sdg_goal: int | None = None
        if sdg_raw:
            if not sdg_raw.isdigit():
                raise UsageError(f"sdg must be a goal from 1 to 17, not {sdg_raw!r}")
            sdg_goal = int(sdg_raw)
        country = request.GET.get("country") or None
        if (class_id is None and sdg_goal is None and country is None) or year_raw:
            if not year_raw.isdigit():
                raise UsageError(f"year must be a year, not {year_raw!r}")
            year = int(year_raw)
        rows = joint_works(
            _store(),
            filters,
            year=year,
            level=level if class_id else None,
            class_id=class_id,
            oa_status=oa_status,
            sdg=sdg_goal,
            sdg_source=request.GET.get("source") or "openalex",
            country=request.GET.get("country") or None,
        )
        names = institution_names(_store(), partners)
    except CordialeError as err:
        return _problem(request, partners, err)
    return render(
        request,
        "dashboard/works.html",
        {
            "rows": rows,
            "year": year,
            "class_name": request.GET.get("name")
            or class_id
            or (f"{_('SDG')} {sdg_goal}" if sdg_goal is not None else None)
            or request.GET.get("country"),
            "oa_status": oa_status,
            "sdg": sdg_goal,
            "names": names,
            "a": partners[0],
            "b": partners[1],
            "query": urlencode({k: v for k, v in params.items() if v}),
        },
    )
