"""Template filters of the dashboard and the report."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def get_item(mapping: dict[str, Any], key: str) -> Any:
    return mapping.get(key, key)


@register.filter
def percent(value: float | None) -> str:
    """0.123 → "12.3 %" (localised decimal separator); None → "—"."""
    if value is None:
        return "—"
    return f"{number_format(value * 100, 1)} %"


@register.filter(name="label")
def label_filter(value: object, category: str) -> str:
    """An observatory value shown to people, in the page's language: ``{{ r.strength|label:"strength" }}``
    (categories: ``cordiale.web.dashboard.labels.CATEGORIES``)."""
    from cordiale.web.dashboard.labels import label

    return label(value, category)


@register.filter(name="country")
def country_filter(code: str, english: str) -> str:
    """A country of the observatory (ISO alpha-2 ``code``) by name in the page's language:
    ``{{ r.key|country:r.country }}``."""
    from cordiale.web.dashboard.labels import country_name

    return country_name(code, english)
