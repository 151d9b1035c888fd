"""Start the programmes web app: data folder, secret key, migrations, static files, then waitress."""

from __future__ import annotations

import os

from cordiale.config import data_dir
from cordiale.web.keys import ensure_secret_key


def ensure_key() -> None:
    """Generate the secret key into the data folder once, before the settings read it."""
    if not os.environ.get("CORDIALE_SECRET_KEY"):
        ensure_secret_key(data_dir() / "web")


def prepare() -> None:
    """Set Django up on the embedded defaults, migrate (first start creates the database), collect static."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cordiale.web.settings")
    ensure_key()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    warn_stored_breaches()


def warn_stored_breaches(shown: int = 5) -> None:
    """Print, on stderr, the stored rows that break today's rules (the first ``shown`` of them)."""
    import sys

    from cordiale.web.programmes.audit import stored_breaches

    found = list(stored_breaches())
    if not found:
        return
    print(
        f"cordiale: {len(found)} stored row(s) break today's rules; they are kept and the pages read "
        "around them (all of them: `cordiale manage check --database default`):",
        file=sys.stderr,
    )
    for b in found[:shown]:
        print(f"  {b.text()}", file=sys.stderr)


def serve(host: str, port: int, threads: int) -> None:
    """Serve the WSGI app with waitress (a production WSGI server; DEBUG stays off)."""
    from waitress import serve as waitress_serve

    prepare()
    from cordiale.web.wsgi import application

    waitress_serve(application, host=host, port=port, threads=threads, ident="cordiale")


def manage(args: list[str]) -> None:
    """Run a Django management command (``createsuperuser``, ``purge_expired``, ...).

    On the embedded defaults the data folder is created and the database migrated first, so that
    ``cordiale manage createsuperuser`` works on a fresh machine before the first ``cordiale serve``.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cordiale.web.settings")
    (data_dir() / "web").mkdir(parents=True, exist_ok=True)
    from django.core.management import execute_from_command_line

    if args and args[0] not in {"makemigrations", "migrate", "help", "--help", "-h", "version"}:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", interactive=False, verbosity=0)
    execute_from_command_line(["cordiale manage", *args])
