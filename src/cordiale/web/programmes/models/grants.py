"""Exchanges (visits), external grants and the outputs linked to projects."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from cordiale.web.programmes.models.finance import Currency
from cordiale.web.programmes.models.people import Partner, Person
from cordiale.web.programmes.models.projects import Project
from cordiale.web.programmes.validators import validate_not_negative, validate_positive


class Exchange(models.Model):
    """A staff or student visit from one partner to the other."""

    class Kind(models.TextChoices):
        STAFF = "staff", _("staff")
        STUDENT = "student", _("student")

    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="exchanges", verbose_name=_("person")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    from_partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="+", verbose_name=_("from partner")
    )
    to_partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="+", verbose_name=_("to partner")
    )
    start = models.DateField(_("from"))
    end = models.DateField(_("to"))
    purpose = models.CharField(_("purpose"), max_length=300)
    funding_amount = models.DecimalField(
        _("funding"), max_digits=12, decimal_places=2, default=0, validators=[validate_not_negative]
    )
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices, default=Currency.EUR)
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("project")
    )

    class Meta:
        ordering = ["-start"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} visit {self.from_partner} → {self.to_partner} ({self.start})"


class Grant(models.Model):
    """An external grant (Horizon Europe, ERC, national) with the partners involved and linked projects."""

    class Scheme(models.TextChoices):
        HORIZON = "horizon_europe", "Horizon Europe"
        ERC = "erc", "ERC"
        NATIONAL = "national", _("national")
        OTHER = "other", _("other")

    funder = models.CharField(_("funder"), max_length=200)
    scheme = models.CharField(_("scheme"), max_length=20, choices=Scheme.choices)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    title = models.CharField(_("title"), max_length=300)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, validators=[validate_positive])
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices, default=Currency.EUR)
    start = models.DateField(_("start"), null=True, blank=True)
    end = models.DateField(_("end"), null=True, blank=True)
    partners = models.ManyToManyField(Partner, blank=True, verbose_name=_("partners"))
    projects = models.ManyToManyField(Project, blank=True, related_name="grants", verbose_name=_("projects"))

    class Meta:
        ordering = ["funder", "title"]

    def __str__(self) -> str:
        return f"{self.funder}: {self.title}"

    def clean(self) -> None:
        if self.start and self.end and self.end < self.start:
            raise ValidationError({"end": _("The grant ends before it starts.")})


class Output(models.Model):
    """A work (DOI or OpenAlex id) linked to a project."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="outputs", verbose_name=_("project")
    )
    work_id = models.CharField(_("OpenAlex id"), max_length=20, blank=True)
    doi = models.CharField(_("DOI"), max_length=200, blank=True)
    title = models.CharField(_("title"), max_length=500, blank=True)
    year = models.PositiveSmallIntegerField(_("year"), null=True, blank=True)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-year", "title"]

    def __str__(self) -> str:
        return self.title or self.work_id or self.doi
