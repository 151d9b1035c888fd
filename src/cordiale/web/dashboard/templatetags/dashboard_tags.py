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
