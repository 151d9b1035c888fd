"""``cordiale manage purge_expired``: apply the retention periods (CORDIALE_RETENTION_DAYS)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from cordiale.web.programmes.gdpr import purge_expired


class Command(BaseCommand):
    help = "Delete or anonymise personal data past its retention period."

    def handle(self, *args: Any, **options: Any) -> None:
        for kind, n in purge_expired().items():
            self.stdout.write(f"{kind}: {n}")
