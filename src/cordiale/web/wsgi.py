"""WSGI entry point for the programmes web app."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from cordiale.web.server import ensure_key

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cordiale.web.settings")
ensure_key()
application = get_wsgi_application()
