"""Calls, applications, review assignments with scores, and panel decisions."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from cordiale.web.programmes.models.finance import Currency
from cordiale.web.programmes.models.people import Partner, Person
from cordiale.web.programmes.validators import validate_positive


class CallKind(models.TextChoices):
    SEED = "seed", _("seed fund")
    PHD = "phd", _("joint PhD call")
    EXCHANGE = "exchange", _("exchange grants")


class Call(models.Model):
    """One call for applications; its kind selects its workflow (see ``workflow.py``)."""

    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=CallKind.choices)
    description = models.TextField(_("description"), blank=True)
    partners = models.ManyToManyField(Partner, related_name="calls", verbose_name=_("partners"))
    opens = models.DateField(_("opens"))
    closes = models.DateField(_("closes"))
    budget_ceiling = models.DecimalField(_("budget ceiling"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices, default=Currency.EUR)
    pi_at_each_partner = models.BooleanField(_("one PI at each partner"), default=True)
    panel = models.ManyToManyField(
        Person, blank=True, related_name="panels", verbose_name=_("decision panel members")
    )
    panel_quorum = models.PositiveSmallIntegerField(
        _("panel quorum"),
        null=True,
        blank=True,
        help_text=_("Recommendations needed before a decision; empty: every panel member."),
    )

    class Meta:
        ordering = ["-closes"]

    def __str__(self) -> str:
        return self.title


class Criterion(models.Model):
    """One review criterion of a call, with its weight in the weighted score."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="criteria", verbose_name=_("call"))
    name = models.CharField(_("criterion"), max_length=200)
    weight = models.DecimalField(_("weight"), max_digits=5, decimal_places=2, default=Decimal(1))

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} (×{self.weight})"


def application_upload(instance: Application, filename: str) -> str:
    return f"applications/{instance.call_id}/{instance.pk or 'new'}-{filename}"


class Application(models.Model):
    """One application to a call; ``state`` moves only through the workflow service."""

    call = models.ForeignKey(
        Call, on_delete=models.PROTECT, related_name="applications", verbose_name=_("call")
    )
    applicant = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="applications", verbose_name=_("applicant")
    )
    title = models.CharField(_("title"), max_length=300)
    summary = models.TextField(_("summary"), blank=True)
    requested_amount = models.DecimalField(
        _("requested amount"), max_digits=14, decimal_places=2, validators=[validate_positive]
    )
    pdf = models.FileField(_("proposal (PDF)"), upload_to=application_upload, blank=True)
    state = models.CharField(_("state"), max_length=30, default="draft")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.title


class ApplicationPI(models.Model):
    """A principal investigator of an application, at one partner."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="pis", verbose_name=_("application")
    )
    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="pi_of", verbose_name=_("person")
    )
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, verbose_name=_("partner"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["application", "person"], name="pi_once")]

    def __str__(self) -> str:
        return f"PI @ {self.partner}"


class ReviewAssignment(models.Model):
    """A reviewer assigned to an application, with the conflict check and the review itself."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="assignments", verbose_name=_("application")
    )
    reviewer = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="assignments", verbose_name=_("reviewer")
    )
    assigned_by = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="+", verbose_name=_("assigned by")
    )
    assigned_at = models.DateTimeField(auto_now_add=True)
    coi_status = models.CharField(_("conflict of interest"), max_length=10)
    coi_reasons = models.TextField(blank=True)
    coi_confirmed_by = models.ForeignKey(
        Person,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("no conflict confirmed by"),
    )
    comment = models.TextField(_("comment"), blank=True)
    confidential = models.BooleanField(_("confidential (never shown to applicants)"), default=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["application", "reviewer"], name="review_once")]

    def __str__(self) -> str:
        return f"review #{self.pk} of application #{self.application_id}"

    def weighted_score(self) -> Decimal | None:
        """Σ weight × score / Σ weight over the criteria scored; None before any score."""
        scores = list(self.scores.select_related("criterion"))
        total_weight = sum((s.criterion.weight for s in scores), Decimal(0))
        if not scores or total_weight == 0:
            return None
        value = sum((s.criterion.weight * s.value for s in scores), Decimal(0)) / total_weight
        return value.quantize(Decimal("0.01"))


class Score(models.Model):
    """One criterion's score (0–5) in one review."""

    assignment = models.ForeignKey(
        ReviewAssignment, on_delete=models.CASCADE, related_name="scores", verbose_name=_("review assignment")
    )
    criterion = models.ForeignKey(Criterion, on_delete=models.PROTECT, verbose_name=_("criterion"))
    value = models.PositiveSmallIntegerField(validators=[MinValueValidator(0), MaxValueValidator(5)])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["assignment", "criterion"], name="score_once")]

    def __str__(self) -> str:
        return f"{self.criterion.name}: {self.value}"


class PanelRecommendation(models.Model):
    """One panel member's recommendation (award or reject) on one application, before the decision."""

    class Recommendation(models.TextChoices):
        AWARD = "award", _("award")
        REJECT = "reject", _("reject")

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="recommendations", verbose_name=_("application")
    )
    member = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="recommendations", verbose_name=_("panel member")
    )
    recommendation = models.CharField(_("recommendation"), max_length=10, choices=Recommendation.choices)
    comment = models.TextField(_("comment"), blank=True)
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["recorded_at"]
        constraints = [models.UniqueConstraint(fields=["application", "member"], name="recommend_once")]

    def __str__(self) -> str:
        return f"{self.get_recommendation_display()} on application #{self.application_id}"


class Decision(models.Model):
    """The panel's decision on one application (kept, anonymised, after an erasure)."""

    class Outcome(models.TextChoices):
        AWARD = "award", _("award")
        REJECT = "reject", _("reject")

    application = models.OneToOneField(
        Application, on_delete=models.PROTECT, related_name="decision", verbose_name=_("application")
    )
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    amount = models.DecimalField(_("amount awarded"), max_digits=14, decimal_places=2, null=True, blank=True)
    panel = models.CharField(_("panel members"), max_length=500, blank=True)
    feedback = models.TextField(_("feedback to the applicant"), blank=True)
    decided_by = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="+", verbose_name=_("decided by")
    )
    decided_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} for application #{self.application_id}"
