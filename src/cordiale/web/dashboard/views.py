"""The dashboard's pages (sign-in required): a partnership's overview and the works behind a bar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode

from cordiale.config import store_path
from cordiale.errors import CordialeError, InstitutionError, StoreError
from cordiale.ids import short_openalex_id
from cordiale.observatory.query import RULES
from cordiale.web.dashboard import charts
from cordiale.web.dashboard.overview import (
    COUNTINGS,
    filters_from,
    joint_works_of_year,
    load_overview,
)

FILTER_KEYS = ("from", "to", "rule", "counting", "event")


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
def works(request: HttpRequest, a: str, b: str) -> HttpResponse:
    """The joint works behind one bar of the overview (``?year=`` plus the overview's filters)."""
    partners = _partners(a, b)
    params = {k: str(v) for k, v in request.GET.items() if k in FILTER_KEYS}
    year_raw = request.GET.get("year", "")
    try:
        filters = filters_from(partners, params)
        if not year_raw.isdigit():
            from cordiale.errors import UsageError

            raise UsageError(f"year must be a year, not {year_raw!r}")
        year = int(year_raw)
        rows = joint_works_of_year(_store(), filters, year)
        from cordiale.web.dashboard.overview import institution_names

        names = institution_names(_store(), partners)
    except CordialeError as err:
        return _problem(request, partners, err)
    return render(
        request,
        "dashboard/works.html",
        {
            "rows": rows,
            "year": year,
            "names": names,
            "a": partners[0],
            "b": partners[1],
            "query": urlencode({k: v for k, v in params.items() if v}),
            "fractional_total": sum(r["weight"] for r in rows),
        },
    )
