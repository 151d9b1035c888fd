"""Django settings for the programmes web app.

Everything that varies comes from the environment, with embedded defaults:
``$CORDIALE_DATA_DIR`` (see :func:`cordiale.config.data_dir`) holds the SQLite database, the secret key
(generated once), uploaded files and collected static files. ``CORDIALE_DATABASE_URL`` (or
``DATABASE_URL``), e.g. ``postgres://user:pw@host/db``, switches to PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
from decimal import Decimal
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext

from cordiale.config import data_dir
from cordiale.web.keys import read_secret_key

django_stubs_ext.monkeypatch()  # generic admin/forms classes at run time, as typed

DATA_DIR = data_dir()
WEB_DIR = DATA_DIR / "web"


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


# The key generated once into the data folder by `cordiale serve` (or the WSGI module); a process that never
# served (type checks, one-off management commands) gets a throwaway key instead of writing one.
SECRET_KEY = os.environ.get("CORDIALE_SECRET_KEY") or read_secret_key(WEB_DIR) or secrets.token_urlsafe(50)
DEBUG = _env_bool("CORDIALE_DEBUG", False)
ALLOWED_HOSTS = os.environ.get("CORDIALE_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CORDIALE_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rules.apps.AutodiscoverRulesConfig",
    "auditlog",
    "cordiale.web.programmes",
    "cordiale.web.dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "cordiale.web.urls"
WSGI_APPLICATION = "cordiale.web.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

_db_url = os.environ.get("CORDIALE_DATABASE_URL") or os.environ.get("DATABASE_URL")
DATABASES: dict[str, Any] = {
    "default": dj_database_url.parse(_db_url, conn_max_age=60)
    if _db_url
    else {"ENGINE": "django.db.backends.sqlite3", "NAME": str(WEB_DIR / "programmes.sqlite3")}
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [Path(__file__).resolve().parent / "programmes" / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = str(WEB_DIR / "static")
MEDIA_ROOT = str(WEB_DIR / "media")  # uploaded PDFs: served only through a permission-checked view
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

EMAIL_BACKEND = os.environ.get("CORDIALE_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("CORDIALE_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("CORDIALE_EMAIL_PORT", "25"))
DEFAULT_FROM_EMAIL = os.environ.get("CORDIALE_FROM_EMAIL", "programmes@localhost")

# The activity log: every model change, with who and when (no IP addresses kept: personal data).
AUDITLOG_INCLUDE_ALL_MODELS = True
AUDITLOG_EXCLUDE_TRACKING_MODELS = ("sessions", "admin.logentry", "contenttypes")
AUDITLOG_DISABLE_REMOTE_ADDR = True
AUDITLOG_MASK_TRACKING_FIELDS = ("password",)

# Programme rules where the issue leaves a choice (README, "Programmes" methods).
CORDIALE_PDF_MAX_MB = int(os.environ.get("CORDIALE_PDF_MAX_MB", "10"))
CORDIALE_PHD_FUNDED_YEARS = 3
CORDIALE_PHD_MOBILITY_MONTHS = (
    Decimal(os.environ.get("CORDIALE_PHD_MOBILITY_MIN_MONTHS", "3")),
    Decimal(os.environ.get("CORDIALE_PHD_MOBILITY_MAX_MONTHS", "6")),
)
CORDIALE_SPLIT_MARGIN_PP = Decimal(os.environ.get("CORDIALE_SPLIT_MARGIN_PP", "5"))
CORDIALE_COI_COAUTHOR_YEARS = 3
CORDIALE_COI_AS_OF_YEAR: int | None = None  # None: the current year
CORDIALE_STORE: str | None = None  # None: the store every command finds (--db, CORDIALE_DB, data dir)
CORDIALE_DEADLINE_REMINDER_DAYS = 7
# Days after which personal data of each kind is purged (`cordiale manage purge_expired`).
CORDIALE_RETENTION_DAYS = {
    "draft_application": 365,  # drafts never submitted, counted from their last change
    "withdrawn_application": 730,
    "application_pdf": 365 * 5,  # the uploaded PDF of a decided application, from the decision
    "activity_log": 365 * 10,
    "inactive_account": 365 * 3,  # accounts never used since, without programme records
}
CONSENT_VERSION = "2026-1"
# The partnership the dashboard opens on (/dashboard/): two short OpenAlex institution ids (README,
# "Dashboard and report"); CNRS and Imperial College London by default.
CORDIALE_DASHBOARD_PARTNERS = tuple(
    os.environ.get("CORDIALE_DASHBOARD_PARTNERS", "I1294671590,I47508984").split(",")[:2]
)
