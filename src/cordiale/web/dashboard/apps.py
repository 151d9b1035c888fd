"""The dashboard app."""

from __future__ import annotations

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "cordiale.web.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"
