"""Settings for the tests: the app's settings with a throwaway data folder and a fixed secret key.

The database is replaced by a throwaway PostgreSQL cluster (``tests/web/pg.py``) as soon as a test asks
for the database (``django_db_modify_db_settings`` in ``tests/web/conftest.py``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("CORDIALE_SECRET_KEY", "tests-only-not-a-secret-" + "x" * 40)

from cordiale.web.settings import *  # noqa: F403

_tmp = Path(tempfile.mkdtemp(prefix="cordiale-web-tests-"))
(_tmp / "static").mkdir()
atexit.register(shutil.rmtree, _tmp, True)
MEDIA_ROOT = str(_tmp / "media")
STATIC_ROOT = str(_tmp / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(_tmp / "unused.sqlite3")}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast sign-ins in tests
CORDIALE_COI_AS_OF_YEAR = 2026  # the real works in ../shared/data end in early 2026
