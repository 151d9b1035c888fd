"""``cordiale manage send_deadline_reminders``: e-mail the applicants of drafts when a call closes soon."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from cordiale.web.programmes import notify
from cordiale.web.programmes.models import Application


class Command(BaseCommand):
    help = "Remind applicants whose draft is not submitted and whose call closes within N days (run daily)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=settings.CORDIALE_DEADLINE_REMINDER_DAYS)

    def handle(self, *args: Any, **options: Any) -> None:
        today = timezone.localdate()
        horizon = today + timedelta(days=options["days"])
        sent = 0
        drafts = Application.objects.filter(state="draft", call__closes__gte=today, call__closes__lte=horizon)
        for application in drafts.select_related("call", "applicant"):
            sent += notify.deadline(application, (application.call.closes - today).days)
        self.stdout.write(f"{sent} reminders sent")
