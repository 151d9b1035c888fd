"""``cordiale serve`` on the embedded defaults: waitress, DEBUG off, migrate on first start, secret key once,
static files served; ``cordiale manage createsuperuser`` makes the first admin, who can sign in."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.web.pg import free_port

CORDIALE = Path(sys.executable).parent / "cordiale"


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CORDIALE_"))}
    e["CORDIALE_DATA_DIR"] = str(tmp_path / "data")
    return e


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [str(CORDIALE), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=1)
            return proc
        except httpx.TransportError:
            if proc.poll() is not None:
                raise AssertionError((proc.stdout.read() if proc.stdout else b"").decode()) from None
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("cordiale serve did not answer within 60 s")


@pytest.fixture()
def served(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    proc = _serve(env, port)
    yield f"http://127.0.0.1:{port}", proc
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_serve_on_the_embedded_defaults(
    served: tuple[str, subprocess.Popen[bytes]], env: dict[str, str]
) -> None:
    base, _proc = served
    web = Path(env["CORDIALE_DATA_DIR"]) / "web"
    r = httpx.get(base + "/")
    assert r.status_code == 302 and r.headers["location"] == "/accounts/login/?next=/"
    login = httpx.get(base + "/accounts/login/")
    assert login.status_code == 200 and login.headers["server"] == "cordiale"  # waitress
    css = httpx.get(base + "/static/programmes/site.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    missing = httpx.get(base + "/no-such-page/")
    assert missing.status_code == 404 and "Traceback" not in missing.text and "DEBUG" not in missing.text
    assert (web / "programmes.sqlite3").is_file()
    key = web / "secret_key"
    assert oct(key.stat().st_mode & 0o777) == "0o600" and len(key.read_text()) >= 50


def test_secret_key_is_generated_once_and_the_first_admin_signs_in(env: dict[str, str]) -> None:
    port = free_port()
    proc = _serve(env, port)
    proc.send_signal(signal.SIGINT)
    proc.wait(10)
    key = (Path(env["CORDIALE_DATA_DIR"]) / "web" / "secret_key").read_text()
    admin_env = {
        **env,
        "DJANGO_SUPERUSER_PASSWORD": "first-admin-pass-1",
        "DJANGO_SUPERUSER_EMAIL": "a@example.org",
    }
    done = subprocess.run(
        [str(CORDIALE), "manage", "createsuperuser", "--noinput", "--username", "admin"],
        env=admin_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    proc = _serve(env, port)
    try:
        assert (Path(env["CORDIALE_DATA_DIR"]) / "web" / "secret_key").read_text() == key
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            page = c.get("/accounts/login/").text
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
            assert token is not None
            r = c.post(
                "/accounts/login/",
                data={
                    "csrfmiddlewaretoken": token.group(1),
                    "username": "admin",
                    "password": "first-admin-pass-1",
                    "next": "/",
                },
                headers={"referer": f"http://127.0.0.1:{port}/accounts/login/"},
            )
            assert r.status_code == 302 and r.headers["location"] == "/"
            assert c.get("/").status_code == 200
            assert c.get("/admin/").status_code == 200
            no_token = c.post("/accounts/logout/")
            assert no_token.status_code == 403  # CSRF everywhere
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)


def test_serve_on_postgresql(env: dict[str, str], pg_settings: dict[str, str]) -> None:
    """With CORDIALE_DATABASE_URL the same command migrates and serves a PostgreSQL database."""
    import psycopg

    host, port_db = pg_settings["HOST"], pg_settings["PORT"]
    with psycopg.connect(f"host={host} port={port_db} user=postgres dbname=postgres", autocommit=True) as con:
        con.execute("DROP DATABASE IF EXISTS serve_pg")
        con.execute("CREATE DATABASE serve_pg")
    pg_env = {**env, "CORDIALE_DATABASE_URL": f"postgres://postgres@{host}:{port_db}/serve_pg"}
    port = free_port()
    proc = _serve(pg_env, port)
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/").headers["location"] == "/accounts/login/?next=/"
        with psycopg.connect(f"host={host} port={port_db} user=postgres dbname=serve_pg") as con:
            row = con.execute("SELECT count(*) FROM django_migrations WHERE app = 'programmes'").fetchone()
            assert row is not None and row[0] >= 1
        assert not (Path(env["CORDIALE_DATA_DIR"]) / "web" / "programmes.sqlite3").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)


def test_first_admin_on_a_fresh_machine_before_any_serve(env: dict[str, str]) -> None:
    """`cordiale manage createsuperuser` creates the data folder and migrates the database first."""
    admin_env = {**env, "DJANGO_SUPERUSER_PASSWORD": "first-pass-1", "DJANGO_SUPERUSER_EMAIL": "a@x.org"}
    done = subprocess.run(
        [str(CORDIALE), "manage", "createsuperuser", "--noinput", "--username", "admin"],
        env=admin_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (Path(env["CORDIALE_DATA_DIR"]) / "web" / "programmes.sqlite3").is_file()
