"""E-mail notifications through Django's mail backend (console by default, SMTP when configured)."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.mail import send_mail
from django.utils.translation import gettext as _

from cordiale.web.programmes.models import Application, Person, RoleKind


def _send(subject: str, body: str, people: Iterable[Person]) -> int:
    to = sorted({p.email for p in people if p.email and p.erased_at is None})
    if not to:
        return 0
    return send_mail(subject, body, None, to, fail_silently=False)


def call_officers(application: Application) -> list[Person]:
    partners = application.call.partners.all()
    return list(Person.objects.filter(roles__kind=RoleKind.OFFICER, roles__partner__in=partners).distinct())


def submitted(application: Application) -> int:
    subject = _("Application submitted: %(title)s") % {"title": application.title}
    body = _("The application “%(title)s” to the call “%(call)s” was submitted.") % {
        "title": application.title,
        "call": application.call.title,
    }
    return _send(subject, body, [application.applicant, *call_officers(application)])


def assigned(application: Application, reviewer: Person) -> int:
    subject = _("Review assignment: %(title)s") % {"title": application.title}
    body = _("You were asked to review the application “%(title)s” (call “%(call)s”).") % {
        "title": application.title,
        "call": application.call.title,
    }
    return _send(subject, body, [reviewer])


def decided(application: Application, outcome: str) -> int:
    subject = _("Decision on your application: %(title)s") % {"title": application.title}
    body = _("The panel decided: %(outcome)s.") % {"outcome": outcome}
    return _send(subject, body, [application.applicant, *(pi.person for pi in application.pis.all())])


def deadline(application: Application, days_left: int) -> int:
    subject = _("Deadline in %(days)d days: %(call)s") % {"days": days_left, "call": application.call.title}
    body = _("Your draft “%(title)s” is not submitted yet; the call closes on %(closes)s.") % {
        "title": application.title,
        "closes": application.call.closes.isoformat(),
    }
    return _send(subject, body, [application.applicant])
