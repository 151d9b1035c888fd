"""Display labels of the observatory's fixed English values, in the page's (or the report's) language.

The observatory's tables, JSON and CSV keep their English values: they are keys that programs, the
drill-down links and the engine-equality tests compare. The web layer translates them only where a person
reads them (tables, chart labels and tooltips, the report), through :func:`label` and the ``label``
template filter. In English every label is its value, byte for byte; a value with no label (a new one, or
free text such as an institution's name) is shown as it is.
"""

from __future__ import annotations

import gettext
import json
import re
from collections.abc import Callable, Mapping
from functools import cache

import pycountry
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy, pgettext_lazy

from cordiale.errors import CordialeError

Labels = Mapping[str, str | Promise]

# The fields family's strength of an activity index (families.py).
STRENGTHS: Labels = {
    "strong": pgettext_lazy("strength", "strong"),
    "weak": pgettext_lazy("strength", "weak"),
    "neutral": pgettext_lazy("strength", "neutral"),
}

# OpenAlex's oa_status, and the oa family's "unknown" for none.
OA_STATUSES: Labels = {
    "diamond": pgettext_lazy("open-access status", "diamond"),
    "gold": pgettext_lazy("open-access status", "gold"),
    "hybrid": pgettext_lazy("open-access status", "hybrid"),
    "bronze": pgettext_lazy("open-access status", "bronze"),
    "green": pgettext_lazy("open-access status", "green"),
    "closed": pgettext_lazy("open-access status", "closed"),
    "unknown": pgettext_lazy("open-access status", "unknown"),
}

# The third-parties family's continents (regions.CONTINENT_NAMES) and Global South groups.
CONTINENTS: Labels = {
    "Africa": pgettext_lazy("continent", "Africa"),
    "Antarctica": pgettext_lazy("continent", "Antarctica"),
    "Asia": pgettext_lazy("continent", "Asia"),
    "Europe": pgettext_lazy("continent", "Europe"),
    "North America": pgettext_lazy("continent", "North America"),
    "Oceania": pgettext_lazy("continent", "Oceania"),
    "South America": pgettext_lazy("continent", "South America"),
    "unknown": pgettext_lazy("continent", "unknown"),
    "global south": pgettext_lazy("continent", "global south"),
    "global north": pgettext_lazy("continent", "global north"),
}

# The collab family's collaboration types.
COLLABORATIONS: Labels = {
    "third country": pgettext_lazy("collaboration", "third country"),
    "industry": pgettext_lazy("collaboration", "industry"),
    "distance unknown": pgettext_lazy("collaboration", "distance unknown"),
    "short distance (<= 100 km)": pgettext_lazy("collaboration", "short distance (<= 100 km)"),
    "long distance (>= 5,000 km)": pgettext_lazy("collaboration", "long distance (>= 5,000 km)"),
    "medium distance": pgettext_lazy("collaboration", "medium distance"),
    "distance known (coverage)": pgettext_lazy("collaboration", "distance known (coverage)"),
    "all joint works": pgettext_lazy("collaboration", "all joint works"),
}

# The growth family's measures and methods (run.py, growth.window_growth).
MEASURES: Labels = {
    "joint works growth": pgettext_lazy("measure", "joint works growth"),
    "joint share of the partner's output": pgettext_lazy("measure", "joint share of the partner's output"),
}
METHODS: Labels = {
    "cagr": pgettext_lazy("growth method", "cagr"),
    "poisson log-linear slope": pgettext_lazy("growth method", "poisson log-linear slope"),
    "poisson (all zero)": pgettext_lazy("growth method", "poisson (all zero)"),
    "poisson (no finite slope)": pgettext_lazy("growth method", "poisson (no finite slope)"),
    "window too short": pgettext_lazy("growth method", "window too short"),
    "share": pgettext_lazy("growth method", "share"),
}

# The counting rules and the fields family's levels, as the filter form and the provenance lines show them.
COUNTINGS: Labels = {"full": gettext_lazy("full"), "fractional": gettext_lazy("fractional")}
LEVELS: Labels = {
    "domain": pgettext_lazy("topic level", "domain"),
    "field": pgettext_lazy("topic level", "field"),
    "subfield": pgettext_lazy("topic level", "subfield"),
    "topic": pgettext_lazy("topic level", "topic"),
}

# The fields family's reference for the activity index: the whole store, or the partners' works only.
REFERENCES: Labels = {
    "store": pgettext_lazy("activity reference", "store"),
    "partners": pgettext_lazy("activity reference", "partners"),
}

# OpenAlex's work types (the filter's check boxes, the works lists).
DOC_TYPES: Labels = {
    "article": pgettext_lazy("work type", "article"),
    "book": pgettext_lazy("work type", "book"),
    "book-chapter": pgettext_lazy("work type", "book-chapter"),
    "dataset": pgettext_lazy("work type", "dataset"),
    "dissertation": pgettext_lazy("work type", "dissertation"),
    "editorial": pgettext_lazy("work type", "editorial"),
    "erratum": pgettext_lazy("work type", "erratum"),
    "grant": pgettext_lazy("work type", "grant"),
    "letter": pgettext_lazy("work type", "letter"),
    "libguides": pgettext_lazy("work type", "libguides"),
    "other": pgettext_lazy("work type", "other"),
    "paratext": pgettext_lazy("work type", "paratext"),
    "peer-review": pgettext_lazy("work type", "peer-review"),
    "preprint": pgettext_lazy("work type", "preprint"),
    "reference-entry": pgettext_lazy("work type", "reference-entry"),
    "report": pgettext_lazy("work type", "report"),
    "retraction": pgettext_lazy("work type", "retraction"),
    "review": pgettext_lazy("work type", "review"),
    "standard": pgettext_lazy("work type", "standard"),
    "supplementary-materials": pgettext_lazy("work type", "supplementary-materials"),
}

# The observatory's counting rules (run.COUNTING), for the report's methods: same keys, same order.
COUNTING_RULES: Labels = {
    "full": pgettext_lazy(
        "counting rule", "a work counts 1 for each unit (partner or joint group) it belongs to"
    ),
    "fractional": pgettext_lazy(
        "counting rule",
        "author-level 1/N split over the authorship's direct institutions; a unit's weight is "
        "min(1, Σ shares of the institutions rolling up to it); a joint group's weight is the sum of its "
        "partners' weights",
    ),
    "joint": pgettext_lazy(
        "counting rule", "a work is joint when at least two partners are on it after the rule's roll-up"
    ),
    "totals": pgettext_lazy("counting rule", "year NULL is the total over the years"),
}
COUNTING_NAMES: Labels = {
    "full": gettext_lazy("full"),
    "fractional": gettext_lazy("fractional"),
    "joint": pgettext_lazy("counting rule name", "joint"),
    "totals": pgettext_lazy("counting rule name", "totals"),
}

# Growth windows carry their years: "before (2013–2017)", "after (2018–2023)", "complete years (…)".
_WINDOW = re.compile(r"^(before|after|complete years) \((\d+)–(\d+)\)$")
WINDOWS_WITH_YEARS: Labels = {
    "before": pgettext_lazy("growth window", "before (%(first)s–%(last)s)"),
    "after": pgettext_lazy("growth window", "after (%(first)s–%(last)s)"),
    "complete years": pgettext_lazy("growth window", "complete years (%(first)s–%(last)s)"),
}
WINDOWS: Labels = {
    "all complete years": pgettext_lazy("growth window", "all complete years"),
    "no complete year": pgettext_lazy("growth window", "no complete year"),
}


def window_label(value: str) -> str:
    """A growth window's name in the active language ("before (2013–2017)" → "avant (2013–2017)")."""
    m = _WINDOW.match(value)
    if m:
        return str(WINDOWS_WITH_YEARS[m.group(1)]) % {"first": m.group(2), "last": m.group(3)}
    return str(WINDOWS.get(value, value))


CATEGORIES: dict[str, Labels | Callable[[str], str]] = {
    "strength": STRENGTHS,
    "oa": OA_STATUSES,
    "continent": CONTINENTS,
    "collaboration": COLLABORATIONS,
    "measure": MEASURES,
    "method": METHODS,
    "counting": COUNTINGS,
    "level": LEVELS,
    "reference": REFERENCES,
    "type": DOC_TYPES,
    "counting_rule": COUNTING_RULES,
    "counting_name": COUNTING_NAMES,
    "window": window_label,
}


def counting_rules(note: str) -> list[tuple[str, str, str]]:
    """The observatory's counting rules (its tables' ``counting`` metadata, JSON of ``run.COUNTING``) as
    (key, name, text) in the active language. A rule whose English text is not the one translated here (the
    observatory reworded it) keeps the observatory's own text rather than a stale translation."""
    rules: dict[str, str] = json.loads(note) if note else {}
    out = []
    for key, text in rules.items():
        shown = text
        if key in COUNTING_RULES:
            with translation.override("en"):
                same = str(COUNTING_RULES[key]) == text
            shown = str(COUNTING_RULES[key]) if same else text
        out.append((key, label(key, "counting_name"), shown))
    return out


UNKNOWN_COUNTRY = pgettext_lazy("country", "unknown")


def country_name(code: str, english: str) -> str:
    """A country's name in the active language: in English the page's own name (GeoNames', as the
    observatory's tables and the map match them), otherwise the ISO 3166 name (its common form when it has
    one: "South Korea") from pycountry's translations; ``english`` when the code or the language has none."""
    lang = (translation.get_language() or "en").split("-")[0]
    if lang == "en":
        return english
    if code == "unknown":  # the family's key for an institution without a country
        return str(UNKNOWN_COUNTRY)
    return _iso_country_names(lang).get(code, english)


@cache
def _iso_country_names(lang: str) -> dict[str, str]:
    catalogue = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang], fallback=True)
    return {
        c.alpha_2: catalogue.gettext(getattr(c, "common_name", None) or c.name) for c in pycountry.countries
    }


def label(value: object, category: str) -> str:
    """The display label of an observatory value of one category (``CATEGORIES``); the value itself when
    it has none (None stays empty)."""
    if value is None:
        return ""
    text = str(value)
    table = CATEGORIES[category]
    if callable(table):
        return table(text)
    return str(table.get(text, text))


# Messages the observatory raises on a page's filters (CLI wording), as the pages say them.
_OBSERVATORY_MESSAGES: tuple[tuple[re.Pattern[str], Promise], ...] = (
    (
        re.compile(
            r"^--event (?P<event>\d+) is outside the range: it must lie in (?P<first>\d+)–(?P<last>\d+) "
            r"\(after the first year with works, up to the last complete year\)$"
        ),
        gettext_lazy(
            "--event %(event)s is outside the range: it must lie in %(first)s–%(last)s (after the first "
            "year with works, up to the last complete year)"
        ),
    ),
    (
        re.compile(r"^the store holds no works: run `cordiale ingest FILES…` first$"),
        gettext_lazy("the store holds no works: run `cordiale ingest FILES…` first"),
    ),
    (
        re.compile(
            r"^unknown institution\(s\) in this store: (?P<ids>.+) \(no work names them; fetch them with "
            r"`cordiale pair A B --fetch` or ingest their works\)$"
        ),
        gettext_lazy(
            "unknown institution(s) in this store: %(ids)s (no work names them; fetch them with "
            "`cordiale pair A B --fetch` or ingest their works)"
        ),
    ),
    (
        re.compile(r"^--sdg with --sdg-source cordiale needs SDG scores: run `cordiale sdg score` first$"),
        gettext_lazy("--sdg with --sdg-source cordiale needs SDG scores: run `cordiale sdg score` first"),
    ),
)


def error_message(err: CordialeError) -> str:
    """What a page says for an error: the web layer's own messages are already in the page's language;
    the observatory's known ones are said again in it (with their numbers); anything else as it is."""
    text = str(err)
    for pattern, template in _OBSERVATORY_MESSAGES:
        m = pattern.match(text)
        if m:
            return str(template) % m.groupdict()
    return text
