"""Projects (from awards or entered), their partners' agreed split, members, PhD students and milestones."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from cordiale.web.programmes.models.calls import Application, CallKind
from cordiale.web.programmes.models.people import Partner, Person


class Project(models.Model):
    """A funded project; an award becomes one."""

    title = models.CharField(_("title"), max_length=300)
    kind = models.CharField(_("kind"), max_length=20, choices=CallKind.choices)
    application = models.OneToOneField(
        Application,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="project",
        verbose_name=_("application"),
    )
    start = models.DateField(_("start"))
    end = models.DateField(_("end"))
    drift_margin_pp = models.DecimalField(
        _("split drift margin (percentage points)"), max_digits=5, decimal_places=2, null=True, blank=True
    )

    class Meta:
        ordering = ["-start"]

    def __str__(self) -> str:
        return self.title


class ProjectPartner(models.Model):
    """A partner in a project with its agreed share of the co-financing, in percent."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="partner_shares", verbose_name=_("project")
    )
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, verbose_name=_("partner"))
    agreed_share = models.DecimalField(
        _("agreed share (%)"), max_digits=5, decimal_places=2, default=Decimal(50)
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "partner"], name="partner_once")]

    def __str__(self) -> str:
        return f"{self.partner}: {self.agreed_share}%"


class ProjectMember(models.Model):
    """A person in a project: PI, co-supervisor, doctoral student or member, at one partner."""

    class Kind(models.TextChoices):
        PI = "pi", _("PI")
        CO_SUPERVISOR = "co_supervisor", _("co-supervisor")
        STUDENT = "student", _("doctoral student")
        MEMBER = "member", _("member")

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="members", verbose_name=_("project")
    )
    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("person")
    )
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, verbose_name=_("partner"))
    kind = models.CharField(_("role"), max_length=20, choices=Kind.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "person", "kind"], name="member_once")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} @ {self.partner}"


class PhdStudent(models.Model):
    """One doctoral student of a joint PhD project, funded by their home partner, hosted by the other."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="students", verbose_name=_("project")
    )
    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="phd_records", verbose_name=_("person")
    )
    home_partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="+", verbose_name=_("home partner")
    )
    host_partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="+", verbose_name=_("host partner")
    )
    funding_start = models.DateField(_("funded from"))
    funding_end = models.DateField(_("funded until"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "home_partner"], name="one_student_per_partner")
        ]

    def __str__(self) -> str:
        return f"doctoral student #{self.pk} @ {self.home_partner}"


class MobilityStay(models.Model):
    """One stay of a doctoral student in the partner's lab (part of the student's mobility plan)."""

    student = models.ForeignKey(
        PhdStudent, on_delete=models.CASCADE, related_name="stays", verbose_name=_("doctoral student")
    )
    start = models.DateField(_("from"))
    end = models.DateField(_("to"))
    lab = models.CharField(_("host lab"), max_length=200, blank=True)

    class Meta:
        ordering = ["start"]

    def __str__(self) -> str:
        return f"stay {self.start} – {self.end}"


class Milestone(models.Model):
    """A project milestone."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="milestones", verbose_name=_("project")
    )
    title = models.CharField(_("milestone"), max_length=300)
    due = models.DateField(_("due"))
    done_on = models.DateField(_("done on"), null=True, blank=True)

    class Meta:
        ordering = ["due"]

    def __str__(self) -> str:
        return self.title
