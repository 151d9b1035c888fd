"""The overview's charts as Vega-Lite specifications (Altair), drawn in the page by vega-embed and rendered
to SVG for the report by vl-convert. Labels go through Django's translations (the caller picks the language).

Each chart's data is a named inline data set (``joint``, ``shares``, ``growth``) so the page's script and
the tests can read back what a chart drew.
"""

from __future__ import annotations

from typing import Any

import altair as alt
from django.utils.translation import gettext as _

from cordiale.web.dashboard.labels import country_name, label
from cordiale.web.dashboard.overview import Overview

WIDTH = 640
PARTIAL_COLOR = "#b9c7d6"
FULL_COLOR = "#2f5d8a"
EVENT_COLOR = "#c0392b"


def _bars(rows: list[dict[str, Any]], name: str) -> alt.Chart:
    """Bars over a named inline data set, with a pointer: a click opens the works (or rows) behind a bar."""
    chart: alt.Chart = alt.Chart(alt.InlineData(values=rows, name=name)).mark_bar(cursor="pointer")
    return chart


def _tips(*fields: tuple[str, str] | tuple[str, str, str]) -> list[alt.Tooltip]:
    """Tooltips from ``(field:type, title)`` or ``(field:type, title, format)``."""
    return [
        alt.Tooltip(f[0], title=f[1], format=f[2]) if len(f) == 3 else alt.Tooltip(f[0], title=f[1])
        for f in fields
    ]


def joint_per_year(ov: Overview) -> dict[str, Any]:
    """Bars: joint works per year (full or fractional counting), partial years paler, the event a rule."""
    year_t, works_t = _("Year"), _("Joint works")
    status_t = _("Year status")
    complete_t, partial_t = _("complete"), _("partial (still being indexed)")
    rows = [
        {"year": r["year"], "value": r["value"], "status": partial_t if r["partial"] else complete_t}
        for r in ov.years
    ]
    bars = _bars(rows, "joint").encode(
        x=alt.X("year:O", title=year_t, axis=alt.Axis(labelAngle=0)),
        y=alt.Y(
            "value:Q",
            title=works_t + (f" ({_('fractional')})" if ov.filters.counting == "fractional" else ""),
        ),
        color=alt.Color(
            "status:N",
            title=status_t,
            scale=alt.Scale(domain=[complete_t, partial_t], range=[FULL_COLOR, PARTIAL_COLOR]),
            legend=alt.Legend(orient="top"),
        ),
        tooltip=[
            alt.Tooltip("year:O", title=year_t),
            alt.Tooltip(
                "value:Q", title=works_t, format=",.2f" if ov.filters.counting == "fractional" else ","
            ),
            alt.Tooltip("status:N", title=status_t),
        ],
    )
    chart: alt.TopLevelMixin = bars
    event = ov.filters.event
    if event is not None and any(r["year"] == event for r in ov.years):
        marker = alt.InlineData(
            values=[{"year": event, "label": _("event (%(year)s)") % {"year": event}}], name="event"
        )
        rule = (
            alt.Chart(marker)
            .mark_rule(color=EVENT_COLOR, strokeWidth=2, strokeDash=[6, 3])
            .encode(x="year:O")
        )
        text = (
            alt.Chart(marker)
            .mark_text(color=EVENT_COLOR, align="left", dx=4, dy=-4, baseline="bottom")
            .encode(x="year:O", y=alt.value(0), text="label:N")
        )
        chart = alt.layer(bars, rule, text)
    return _finish(chart, _("Joint works per year"), 280)


def shares(ov: Overview) -> dict[str, Any]:
    """Lines: each side's joint share (joint works / the partner's works) per year."""
    rows = [
        {
            "year": r["year"],
            "partner": ov.names.get(r["partner"], r["partner"]),
            "share": r["joint_share"],
            "partial": bool(r["partial"]),
        }
        for r in ov.shares
        if r["year"] is not None and r["joint_share"] is not None
    ]
    share_t = _("Share of the partner's works that are joint")
    chart = (
        alt.Chart(alt.InlineData(values=rows, name="shares"))
        .mark_line(point=True)
        .encode(
            x=alt.X("year:O", title=_("Year"), axis=alt.Axis(labelAngle=0)),
            y=alt.Y("share:Q", title=share_t, axis=alt.Axis(format="%")),
            color=alt.Color("partner:N", title=_("Partner"), legend=alt.Legend(orient="top")),
            strokeDash=alt.StrokeDash("partial:N", legend=None),
            tooltip=_tips(("partner:N", _("Partner")), ("year:O", _("Year")), ("share:Q", share_t, ".1%")),
        )
    )
    return _finish(chart, _("Each side's joint share"), 220)


def growth(ov: Overview) -> dict[str, Any]:
    """Points with 95% intervals: annual growth of joint works before and after the event."""
    rows = [
        {
            "window": r["window"],
            "window_label": label(r["window"], "window"),
            "value": r["value"],
            "low": r["ci_low"],
            "high": r["ci_high"],
        }
        for r in ov.growth
        if r["value"] is not None
    ]
    growth_t = _("Annual growth of joint works")
    data = alt.InlineData(values=rows, name="growth")
    base = alt.Chart(data).encode(y=alt.Y("window_label:N", title=_("Window"), sort=None))
    bars = base.mark_errorbar(ticks=True).encode(
        x=alt.X("low:Q", title=growth_t, axis=alt.Axis(format="%")), x2="high:Q"
    )
    # xgettext:no-python-format
    low_t = _("95% interval, low")
    # xgettext:no-python-format
    high_t = _("95% interval, high")
    points = base.mark_point(filled=True, size=80, color=FULL_COLOR).encode(
        x="value:Q",
        tooltip=_tips(
            ("window_label:N", _("Window")),
            ("value:Q", growth_t, ".1%"),
            ("low:Q", low_t, ".1%"),
            ("high:Q", high_t, ".1%"),
        ),
    )
    return _finish(alt.layer(bars, points), growth_t, 40 + 40 * max(1, len(rows)))


def _finish(chart: Any, title: str, height: int) -> dict[str, Any]:
    spec: dict[str, Any] = chart.properties(title=title, width=WIDTH, height=height).to_dict()
    return spec


STRENGTH_CLASSES = 25  # classes a strengths chart shows (those with the most works of either partner)


def strengths(st: Any) -> dict[str, Any]:
    """Dots: each partner's activity index per class (1 = the reference's profile), the strong and weak
    thresholds as rules; a click on a dot opens the class's joint works."""
    classes: list[str] = []
    for r in st.rows:
        if r["class_id"] not in classes:
            classes.append(r["class_id"])
    shown = set(classes[:STRENGTH_CLASSES])
    rows = [
        {
            "class_id": r["class_id"],
            "class_name": r["class_name"],
            "partner": st.names.get(r["partner"], r["partner"]),
            "activity_index": r["activity_index"],
            "works": r["works"],
            "strength": r["strength"],
            "strength_label": label(r["strength"], "strength"),
        }
        for r in st.rows
        if r["class_id"] in shown and r["activity_index"] is not None
    ]
    ai_t, class_t = _("Activity index"), _("Class")
    order = [r["class_name"] for r in rows if r["partner"] == st.names.get(st.filters.partners[0])]
    dots = (
        alt.Chart(alt.InlineData(values=rows, name="strengths"))
        .mark_point(filled=True, size=90, cursor="pointer")
        .encode(
            x=alt.X("activity_index:Q", title=ai_t),
            y=alt.Y("class_name:N", title=class_t, sort=order),
            color=alt.Color("partner:N", title=_("Partner"), legend=alt.Legend(orient="top")),
            tooltip=_tips(
                ("class_name:N", class_t),
                ("partner:N", _("Partner")),
                ("activity_index:Q", ai_t, ".2f"),
                ("works:Q", _("Works")),
                ("strength_label:N", _("Strength")),
            ),
        )
    )
    q = st.filters.query()
    marks = alt.InlineData(values=[{"x": q.weak}, {"x": 1.0}, {"x": q.strong}], name="thresholds")
    rules = alt.Chart(marks).mark_rule(color="#888", strokeDash=[4, 3]).encode(x="x:Q")
    return _finish(alt.layer(rules, dots), _("Where each side is strong"), 14 * max(4, len(shown)))


OA_COLORS = {
    "diamond": "#6a3d9a",
    "gold": "#e6a700",
    "hybrid": "#ff7f00",
    "bronze": "#a6611a",
    "green": "#33a02c",
    "closed": "#8c8c8c",
    "unknown": "#d9d9d9",
}


def open_access(oa: Any) -> dict[str, Any]:
    """Stacked bars: joint works per year by open-access status (OpenAlex's oa_status), partial years
    paler; a click on a segment opens its works."""
    rows = [
        {
            "year": r["year"],
            "oa_status": r["oa_status"],
            "oa_label": label(r["oa_status"], "oa"),
            "works": r["works"],
            "share": r["share"],
            "status": _("partial (still being indexed)") if r["partial"] else _("complete"),
        }
        for r in oa.years
    ]
    statuses = [s for s in OA_COLORS if any(r["oa_status"] == s for r in rows)]
    status_t = _("Open-access status")
    chart = _bars(rows, "oa").encode(
        x=alt.X("year:O", title=_("Year"), axis=alt.Axis(labelAngle=0)),
        y=alt.Y("works:Q", title=_("Joint works")),
        color=alt.Color(
            "oa_label:N",
            title=status_t,
            scale=alt.Scale(
                domain=[label(s, "oa") for s in statuses], range=[OA_COLORS[s] for s in statuses]
            ),
            legend=alt.Legend(orient="top"),
        ),
        order=alt.Order("oa_status:N"),
        opacity=alt.Opacity(
            "status:N",
            title=_("Year status"),
            scale=alt.Scale(domain=[_("complete"), _("partial (still being indexed)")], range=[1.0, 0.45]),
            legend=alt.Legend(orient="top"),
        ),
        tooltip=_tips(
            ("year:O", _("Year")),
            ("oa_label:N", status_t),
            ("works:Q", _("Joint works")),
            ("share:Q", _("Share"), ".1%"),
        ),
    )
    return _finish(chart, _("Open access of joint works"), 260)


# The UN's colours of the 17 goals (their communications guidelines), in goal order.
SDG_COLORS = (
    "#e5243b",
    "#dda63a",
    "#4c9f38",
    "#c5192d",
    "#ff3a21",
    "#26bde2",
    "#fcc30b",
    "#a21942",
    "#fd6925",
    "#dd1367",
    "#fd9d24",
    "#bf8b2e",
    "#3f7e44",
    "#0a97d9",
    "#56c02b",
    "#00689d",
    "#19486a",
)


def sdg_names() -> dict[int, str]:
    """The goals' short names, in the page's language."""
    names = (
        _("No poverty"),
        _("Zero hunger"),
        _("Good health and well-being"),
        _("Quality education"),
        _("Gender equality"),
        _("Clean water and sanitation"),
        _("Affordable and clean energy"),
        _("Decent work and economic growth"),
        _("Industry, innovation and infrastructure"),
        _("Reduced inequalities"),
        _("Sustainable cities and communities"),
        _("Responsible consumption and production"),
        _("Climate action"),
        _("Life below water"),
        _("Life on land"),
        _("Peace, justice and strong institutions"),
        _("Partnerships for the goals"),
    )
    return {i + 1: n for i, n in enumerate(names)}


def sdg_bars(goals: Any) -> dict[str, Any]:
    """Bars: joint works per SDG (all 17 goals, in the UN's colours); a click on a bar opens its works."""
    names = sdg_names()
    rows = [
        {"sdg": g["sdg"], "goal": f"{g['sdg']}. {names[g['sdg']]}", "works": g["works"]} for g in goals.goals
    ]
    goal_t, works_t = _("Sustainable Development Goal"), _("Joint works")
    chart = _bars(rows, "sdg").encode(
        y=alt.Y("goal:N", title=goal_t, sort=[r["goal"] for r in rows]),
        x=alt.X("works:Q", title=works_t),
        color=alt.Color(
            "goal:N",
            scale=alt.Scale(domain=[r["goal"] for r in rows], range=list(SDG_COLORS)),
            legend=None,
        ),
        tooltip=_tips(("goal:N", goal_t), ("works:Q", works_t)),
    )
    return _finish(chart, _("Joint works per SDG"), 17 * 22)


LAND_COLOR = "#e4e7eb"


def third_party_map(tp: Any, atlas_url: str) -> dict[str, Any]:
    """A world map (Equal Earth): countries shaded by the joint works with a third party there; a click on a
    country opens its works. The shapes are the ``world-atlas`` package's TopoJSON, served locally."""
    rows = [
        {
            "numeric": r["numeric"],
            "key": r["key"],
            "country": r["country"],
            "country_label": country_name(r["key"], r["country"]),
            "works": r["works"],
        }
        for r in tp.countries
        if r["numeric"]
    ]
    shapes = alt.UrlData(url=atlas_url, format=alt.TopoDataFormat(type="topojson", feature="countries"))
    country_t, works_t = _("Country"), _("Joint works with a third party there")
    land = alt.Chart(shapes).mark_geoshape(fill=LAND_COLOR, stroke="white", strokeWidth=0.5)
    shaded = (
        alt.Chart(shapes)
        .mark_geoshape(stroke="white", strokeWidth=0.5, cursor="pointer")
        .transform_lookup(
            lookup="id",
            from_=alt.LookupData(
                alt.InlineData(values=rows, name="countries"),
                "numeric",
                ["key", "country", "country_label", "works"],
            ),
        )
        .transform_filter("isValid(datum.works)")
        .encode(
            color=alt.Color(
                "works:Q",
                title=works_t,
                scale=alt.Scale(scheme="blues", type="log"),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=_tips(("country_label:N", country_t), ("works:Q", works_t)),
        )
    )
    spec: dict[str, Any] = (
        alt.layer(land, shaded)
        .project("equalEarth")
        .properties(title=_("Third parties of the joint works, by country"), width=WIDTH, height=340)
        .to_dict()
    )
    return spec


def continents(tp: Any) -> dict[str, Any]:
    """Bars: joint works with a third party per continent (Africa always listed, highlighted)."""
    rows = [
        {"continent": r["key"], "continent_label": label(r["key"], "continent"), "works": r["works"]}
        for r in tp.continents
    ]
    cont_t, works_t = _("Continent"), _("Joint works")
    chart = _bars(rows, "continents").encode(
        y=alt.Y("continent_label:N", title=cont_t, sort="-x"),
        x=alt.X("works:Q", title=works_t),
        color=alt.condition("datum.continent === 'Africa'", alt.value(EVENT_COLOR), alt.value(FULL_COLOR)),
        tooltip=_tips(("continent_label:N", cont_t), ("works:Q", works_t)),
    )
    return _finish(chart, _("Joint works with a third party, per continent"), 30 * len(rows))


def third_party_trend(tp: Any) -> dict[str, Any]:
    """Lines: joint works with a third party per year and continent."""
    rows = [
        {
            "year": r["year"],
            "continent": r["key"],
            "continent_label": label(r["key"], "continent"),
            "works": r["works"],
        }
        for r in tp.trend
    ]
    cont_t, works_t, year_t = _("Continent"), _("Joint works"), _("Year")
    chart = (
        alt.Chart(alt.InlineData(values=rows, name="trend"))
        .mark_line(point=True)
        .encode(
            x=alt.X("year:O", title=year_t, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("works:Q", title=works_t),
            color=alt.Color("continent_label:N", title=cont_t, legend=alt.Legend(orient="top")),
            tooltip=_tips(("year:O", year_t), ("continent_label:N", cont_t), ("works:Q", works_t)),
        )
    )
    return _finish(chart, _("Joint works with a third party per year, by continent"), 240)


PAIR_COLORS = ("#2f5d8a", "#9bbad6")  # new pairs, repeat pairs


def new_and_repeat_pairs(pe: Any) -> dict[str, Any]:
    """Stacked bars: cross-partner co-author pairs active each year, new (first joint work that year) or
    repeat; a click on a segment opens the works of that year those pairs wrote together."""
    new_t, repeat_t = _("new pairs"), _("repeat pairs")
    rows = [
        {"year": r["year"], "kind": kind, "label": label, "pairs": r[f"{kind}_pairs"]}
        for r in pe.years
        for kind, label in (("new", new_t), ("repeat", repeat_t))
    ]
    year_t, pairs_t, kind_t = _("Year"), _("Co-author pairs"), _("Pairs")
    chart = _bars(rows, "pairs").encode(
        x=alt.X("year:O", title=year_t, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("pairs:Q", title=pairs_t),
        color=alt.Color(
            "label:N",
            title=kind_t,
            scale=alt.Scale(domain=[new_t, repeat_t], range=list(PAIR_COLORS)),
            legend=alt.Legend(orient="top"),
        ),
        order=alt.Order("kind:N", sort="descending"),
        tooltip=_tips(("year:O", year_t), ("label:N", kind_t), ("pairs:Q", pairs_t)),
    )
    return _finish(chart, _("New and repeat cross-partner co-author pairs per year"), 240)


def units(pe: Any) -> dict[str, Any]:
    """Bars: each side's labs and units with the most joint works; a click opens a unit's joint works."""
    rows = [
        {
            "unit_id": u["unit_id"],
            "unit": u["unit_name"] or u["unit_id"],
            "partner": pe.names.get(p, p),
            "joint_works": u["joint_works"],
        }
        for p in pe.filters.partners
        for u in pe.units.get(p, [])
    ]
    unit_t, works_t, partner_t = _("Lab or unit"), _("Joint works"), _("Partner")
    chart = _bars(rows, "units").encode(
        y=alt.Y("unit:N", title=unit_t, sort=[r["unit"] for r in rows]),
        x=alt.X("joint_works:Q", title=works_t),
        color=alt.Color("partner:N", title=partner_t, legend=alt.Legend(orient="top")),
        tooltip=_tips(("unit:N", unit_t), ("partner:N", partner_t), ("joint_works:Q", works_t)),
    )
    return _finish(chart, _("Labs and units with the most joint works"), 22 * max(1, len(rows)))


STATUS_COLORS = ("#c77700", "#2f8a4f", "#2f5d8a")  # upcoming, open, closed


def calls_by_status(pr: Any) -> dict[str, Any]:
    """Bars: applications received per call, coloured by the call's status; a click lists them."""
    rows = [
        {
            "call_id": c["id"],
            "call": c["title"],
            "status": c["status_label"],
            "applications": c["applications"],
            "success_rate": c["success_rate"],
        }
        for c in pr.calls
    ]
    call_t, apps_t, status_t = _("Call"), _("Applications"), _("Status")
    rate_t = _("Success rate")
    chart = _bars(rows, "calls").encode(
        y=alt.Y("call:N", title=call_t, sort=None),
        x=alt.X("applications:Q", title=apps_t, axis=alt.Axis(tickMinStep=1)),
        color=alt.Color(
            "status:N",
            title=status_t,
            scale=alt.Scale(domain=[s["label"] for s in pr.statuses], range=list(STATUS_COLORS)),
            legend=alt.Legend(orient="top"),
        ),
        tooltip=_tips(
            ("call:N", call_t),
            ("status:N", status_t),
            ("applications:Q", apps_t),
            ("success_rate:Q", rate_t, ".0%"),
        ),
    )
    return _finish(chart, _("Applications per call"), 30 * max(1, len(rows)))


def money(pr: Any) -> dict[str, Any]:
    """Grouped bars: each partner's money committed and paid, in EUR (each line at its own date's rate);
    a click lists the budget lines behind a bar."""
    committed_t, paid_t = _("committed"), _("paid")
    rows = [
        {
            "partner_id": r["partner"].pk,
            "partner": str(r["partner"]),
            "kind": kind,
            "label": label,
            "eur": float(r[f"{kind}_EUR"]),
        }
        for r in pr.money_rows
        for kind, label in (("commitment", committed_t), ("payment", paid_t))
    ]
    partner_t, eur_t, kind_t = _("Partner"), _("EUR"), _("Money")
    chart = _bars(rows, "money").encode(
        y=alt.Y("partner:N", title=partner_t),
        yOffset=alt.YOffset("label:N", sort=[committed_t, paid_t]),
        x=alt.X("eur:Q", title=eur_t, axis=alt.Axis(format=",.0f")),
        color=alt.Color(
            "label:N",
            title=kind_t,
            scale=alt.Scale(domain=[committed_t, paid_t], range=list(PAIR_COLORS)),
            legend=alt.Legend(orient="top"),
        ),
        tooltip=_tips(("partner:N", partner_t), ("label:N", kind_t), ("eur:Q", eur_t, ",.2f")),
    )
    return _finish(chart, _("Money committed and paid per partner (EUR)"), 60 * max(1, len(pr.partners)))


def exchanges(pr: Any) -> dict[str, Any]:
    """Stacked bars: exchanges (visits) starting each year, by kind; a click lists that year's."""
    rows: dict[tuple[int, str], int] = {}
    for r in pr.exchanges:
        rows[(r["year"], r["kind"])] = rows.get((r["year"], r["kind"]), 0) + r["exchanges"]
    values = [{"year": y, "kind": k, "exchanges": n} for (y, k), n in sorted(rows.items())]
    year_t, n_t, kind_t = _("Year"), _("Exchanges"), _("Kind")
    chart = _bars(values, "exchanges").encode(
        x=alt.X("year:O", title=year_t, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("exchanges:Q", title=n_t, axis=alt.Axis(tickMinStep=1)),
        color=alt.Color("kind:N", title=kind_t, legend=alt.Legend(orient="top")),
        tooltip=_tips(("year:O", year_t), ("kind:N", kind_t), ("exchanges:Q", n_t)),
    )
    return _finish(chart, _("Exchanges per year"), 200)
