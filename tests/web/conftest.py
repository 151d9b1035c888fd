"""Fixtures of the web app's tests: a throwaway PostgreSQL cluster for every database test, and a world.

``CORDIALE_TEST_DATABASE_URL`` points the tests at an existing PostgreSQL server instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dj_database_url
import pytest
from asgiref.local import Local
from django.conf import settings

from tests.web.factories import World, make_world
from tests.web.pg import throwaway_cluster


@pytest.fixture(scope="session")
def pg_settings() -> Iterator[dict[str, Any]]:
    url = os.environ.get("CORDIALE_TEST_DATABASE_URL")
    if url:
        yield dict(dj_database_url.parse(url))
        return
    with throwaway_cluster() as db:
        yield db


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, pg_settings: dict[str, Any]
) -> None:
    """Every database test runs on PostgreSQL."""
    from django.db import connections

    settings.DATABASES["default"] = {
        **settings.DATABASES["default"],
        **pg_settings,
        "TEST": {"NAME": "cordiale_test"},
    }
    # Django configured its connections from the placeholder settings: configure them again.
    connections.close_all()
    connections._settings = None  # type: ignore[attr-defined]
    connections.__dict__.pop("settings", None)
    connections._connections = Local(connections.thread_critical)  # type: ignore[attr-defined]


@pytest.fixture()
def store(kfupm_snapshot_store: Path, settings: Any) -> Path:
    """The web app reads the store of 5,804 real works, ingested as a complete snapshot (a conflict-of-
    interest check says "none" only when the store holds all works of the people's institutions)."""
    settings.CORDIALE_STORE = str(kfupm_snapshot_store)
    return kfupm_snapshot_store


@pytest.fixture()
def world(db: None) -> World:
    return make_world()


@pytest.fixture(autouse=True)
def _english_until_asked() -> Iterator[None]:
    """Each test starts in English: a French request leaves its language active in the thread (Django's
    LocaleMiddleware activates it and nothing deactivates it after the test client's response)."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()
