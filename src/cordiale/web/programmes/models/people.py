"""Partner institutions and the people who work with the partnership, with their roles per partner."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

openalex_institution = RegexValidator(r"^I\d+$", _("An OpenAlex institution id looks like I1294671590."))
openalex_author = RegexValidator(r"^A\d+$", _("An OpenAlex author id looks like A5023888391."))
orcid_format = RegexValidator(
    r"^\d{4}-\d{4}-\d{4}-\d{3}[\dX]$", _("An ORCID looks like 0000-0002-1825-0097.")
)


def orcid_check_digit(base_digits: str) -> str:
    """The ISO 7064 MOD 11-2 check character of an ORCID's first 15 digits ("0"–"9" or "X")."""
    total = 0
    for digit in base_digits:
        total = (total + int(digit)) * 2
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def validate_orcid(value: str) -> None:
    """An ORCID iD: 0000-0002-1825-0097 form, with a valid ISO 7064 MOD 11-2 check character."""
    from django.core.exceptions import ValidationError

    orcid_format(value)
    digits = value.replace("-", "")
    if orcid_check_digit(digits[:15]) != digits[15]:
        raise ValidationError(
            _("%(v)s is not a valid ORCID iD: its check character should be %(c)s."),
            code="orcid_checksum",
            params={"v": value, "c": orcid_check_digit(digits[:15])},
        )


ror_format = RegexValidator(r"^0[a-z0-9]{6}\d{2}$", _("A ROR id looks like 02feahw73."))


class Partner(models.Model):
    """One partner institution, linked to its OpenAlex and ROR ids in the store."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    short_name = models.CharField(_("short name"), max_length=40, blank=True)
    openalex_id = models.CharField(
        _("OpenAlex id"), max_length=20, blank=True, validators=[openalex_institution]
    )
    ror_id = models.CharField(_("ROR id"), max_length=9, blank=True, validators=[ror_format])
    country_code = models.CharField(_("country"), max_length=2, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.short_name or self.name

    def clean(self) -> None:
        """The ids must name an institution in the store (checked when a store exists)."""
        from django.core.exceptions import ValidationError

        from cordiale.web.programmes.store_links import partner_id_problems

        problems = partner_id_problems(self.openalex_id, self.ror_id)
        if problems:
            raise ValidationError({"openalex_id" if self.openalex_id else "ror_id": problems})


class RoleKind(models.TextChoices):
    DIRECTOR = "director", _("partnership director")
    OFFICER = "officer", _("programme officer")
    REVIEWER = "reviewer", _("reviewer")
    RESEARCHER = "researcher", _("researcher / PI")
    STUDENT = "student", _("doctoral student")


class Person(models.Model):
    """A person known to the programmes (with or without a sign-in account)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="person",
        verbose_name=_("sign-in account"),
    )
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail"), blank=True)
    orcid = models.CharField(_("ORCID"), max_length=19, blank=True, validators=[validate_orcid])
    openalex_author_id = models.CharField(
        _("OpenAlex author id"), max_length=20, blank=True, validators=[openalex_author]
    )
    unit_openalex_ids = models.CharField(
        _("unit (lab) OpenAlex ids"),
        max_length=200,
        blank=True,
        help_text=_("Comma-separated OpenAlex institution ids of the person's lab or unit."),
    )
    declared_conflicts = models.ManyToManyField(
        "self", blank=True, symmetrical=True, verbose_name=_("declared conflicts of interest")
    )
    consent_at = models.DateTimeField(_("consent given"), null=True, blank=True)
    consent_version = models.CharField(max_length=20, blank=True)
    erased_at = models.DateTimeField(_("erased"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def unit_ids(self) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.unit_openalex_ids.split(",") if part.strip())

    def partners_with(self, kind: str) -> set[int]:
        """Ids of the partners where this person holds role ``kind``."""
        return {r.partner_id for r in self.roles.all() if r.kind == kind}


class Role(models.Model):
    """One role a person holds at one partner."""

    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="roles", verbose_name=_("person")
    )
    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="roles", verbose_name=_("partner")
    )
    kind = models.CharField(_("role"), max_length=20, choices=RoleKind.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person", "partner", "kind"], name="one_role_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} @ {self.partner}"
