"""Field validators the models share (amounts and rates)."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def validate_positive(value: Decimal) -> None:
    """Amounts of money asked, committed, paid or granted, and exchange rates, are above zero."""
    if value is not None and value <= 0:
        raise ValidationError(_("Enter a number above 0."), code="not_positive")


def validate_not_negative(value: Decimal) -> None:
    """An exchange's funding may be 0 (an unfunded visit), never below."""
    if value is not None and value < 0:
        raise ValidationError(_("Enter 0 or a number above 0."), code="negative")
