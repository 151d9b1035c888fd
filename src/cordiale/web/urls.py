"""Project URLs: the programmes app, accounts (sign-in), the language switch and the admin."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("dashboard/", include("cordiale.web.dashboard.urls")),
    path("", include("cordiale.web.programmes.urls")),
]
