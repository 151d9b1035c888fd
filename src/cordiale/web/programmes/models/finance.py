"""Co-financing: dated reference rates and each partner's commitments and payments per project."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from cordiale.web.programmes.validators import validate_positive


class Currency(models.TextChoices):
    EUR = "EUR", "EUR"
    GBP = "GBP", "GBP"


class ReferenceRate(models.Model):
    """The EUR value of one unit of ``currency`` on ``day`` (entered or imported from CSV; never fetched)."""

    day = models.DateField(_("date"))
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    eur_per_unit = models.DecimalField(
        _("EUR per unit"), max_digits=12, decimal_places=6, validators=[validate_positive]
    )
    source = models.CharField(_("source"), max_length=200, blank=True)

    class Meta:
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["day", "currency"], name="one_rate_per_day")]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.eur_per_unit} EUR on {self.day}"

    def clean(self) -> None:
        if self.currency == Currency.EUR:
            raise ValidationError({"currency": _("EUR needs no rate: 1 EUR is always 1 EUR.")})


class LedgerEntry(models.Model):
    """One budget line: a partner's commitment or payment to a project, in its own currency."""

    class Kind(models.TextChoices):
        COMMITMENT = "commitment", _("commitment")
        PAYMENT = "payment", _("payment")

    project = models.ForeignKey(
        "programmes.Project", on_delete=models.PROTECT, related_name="ledger", verbose_name=_("project")
    )
    partner = models.ForeignKey(
        "programmes.Partner", on_delete=models.PROTECT, related_name="ledger", verbose_name=_("partner")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, validators=[validate_positive])
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    day = models.DateField(_("date"))
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        ordering = ["day", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency} ({self.day})"
