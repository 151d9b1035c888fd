"""Load benchmark of the programmes web app: requests/s and p99 latency of the main pages, with gates.

One run: a throwaway data folder with the embedded defaults (SQLite), seeded with a partnership of
realistic size (2 partners, 60 people, 3 calls, 300 applications with reviews, 30 projects with 20
budget lines each, a year of daily GBP rates); ``cordiale serve`` (waitress) on 127.0.0.1; then ``wrk``
(Debian package) on each page in turn with a signed-in officer's session cookie. Each page is first
fetched once and must answer 200 with its own content (never a redirect to the sign-in page).

Baseline: a static file served by the same stack (waitress + WhiteNoise, no view, no database): each page's
requests/s is also given as a ratio to it. Gates (exit status 1 when one is missed): every page at least
``--min-rps`` requests/s and a p99 latency at most ``--max-p99-ms``; no non-2xx/3xx response.
Figures go to a Rich table and to ``bench/out/web_load.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
console = Console(stderr=True)


@dataclass
class Result:
    page: str
    path: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    ratio_to_static: float = 0.0
    passed: bool = True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed() -> dict[str, Any]:
    """Create the data through the ORM; return the officer's session cookie and the ids the pages need."""
    import django

    from cordiale.web.server import ensure_key

    ensure_key()  # the key `cordiale serve` will read, so the session signed here stays valid there

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from cordiale.web.programmes import models as m

    call_command("migrate", interactive=False, verbosity=0)
    user_model = get_user_model()
    cnrs = m.Partner.objects.create(name="CNRS", short_name="CNRS", openalex_id="I1294671590")
    icl = m.Partner.objects.create(
        name="Imperial College London", short_name="Imperial", openalex_id="I47508984"
    )
    people = []
    for i in range(60):
        partner = cnrs if i % 2 else icl
        user = user_model.objects.create_user(f"user{i}", f"user{i}@example.org", None)
        p = m.Person.objects.create(user=user, name=f"Person {i}", email=f"user{i}@example.org")
        m.Role.objects.create(person=p, partner=partner, kind="reviewer" if i % 3 == 0 else "researcher")
        people.append(p)
    officer = people[0]
    m.Role.objects.create(person=officer, partner=cnrs, kind="officer")
    m.Role.objects.create(person=officer, partner=icl, kind="officer")
    today = date.today()
    calls = []
    for k, kind in enumerate(("seed", "phd", "exchange")):
        call = m.Call.objects.create(
            title=f"Call {kind}",
            kind=kind,
            opens=today - timedelta(days=30),
            closes=today + timedelta(days=30 + k),
            budget_ceiling=Decimal(100000),
        )
        call.partners.set([cnrs, icl])
        for name, w in (("Excellence", 2), ("Impact", 1), ("Feasibility", 1)):
            m.Criterion.objects.create(call=call, name=name, weight=Decimal(w))
        calls.append(call)
    # Bulk data without the activity log (as an import would be): 300 applications, 600 reviews, rates, money.
    apps = m.Application.objects.bulk_create(
        m.Application(
            call=calls[i % 3],
            applicant=people[1 + i % 59],
            title=f"Application {i}",
            requested_amount=Decimal(20000),
            state="under_review" if i % 2 else "submitted",
        )
        for i in range(300)
    )
    m.ApplicationPI.objects.bulk_create(
        m.ApplicationPI(application=a, person=a.applicant, partner=cnrs) for a in apps
    )
    assignments = m.ReviewAssignment.objects.bulk_create(
        m.ReviewAssignment(application=a, reviewer=people[r], assigned_by=officer, coi_status="none")
        for a in apps
        for r in (3, 6)
    )
    criteria = {c.pk: list(c.criteria.all()) for c in calls}
    m.Score.objects.bulk_create(
        m.Score(assignment=a, criterion=c, value=(a.pk + c.pk) % 6)
        for a in assignments
        for c in criteria[a.application.call_id]
    )
    m.ReferenceRate.objects.bulk_create(
        m.ReferenceRate(
            day=date(2025, 1, 1) + timedelta(days=d),
            currency="GBP",
            eur_per_unit=Decimal("1.15") + Decimal(d % 10) / 100,
        )
        for d in range(365)
    )
    projects = []
    for j in range(30):
        pr = m.Project.objects.create(
            title=f"Project {j}", kind="seed", start=date(2025, 1, 1), end=date(2026, 12, 31)
        )
        m.ProjectPartner.objects.create(project=pr, partner=cnrs)
        m.ProjectPartner.objects.create(project=pr, partner=icl)
        m.LedgerEntry.objects.bulk_create(
            m.LedgerEntry(
                project=pr,
                partner=cnrs if n % 2 else icl,
                kind="payment" if n % 4 else "commitment",
                amount=Decimal(1000 + n),
                currency="EUR" if n % 2 else "GBP",
                day=date(2025, 1, 1) + timedelta(days=15 * n),
            )
            for n in range(20)
        )
        projects.append(pr)
    session = SessionStore()
    session["_auth_user_id"] = str(officer.user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = officer.user.get_session_auth_hash()
    session.create()
    return {
        "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
        "application": apps[1].pk,
        "project": projects[0].pk,
        "call": calls[0].pk,
    }


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(f"wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def run_wrk(
    url: str, cookie: str | None, seconds: int, connections: int
) -> tuple[float, float, float, int, int]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if cookie:
        cmd[1:1] = ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    return rps, p50, p99, total, errors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=10, help="wrk duration per page")
    ap.add_argument("--connections", type=int, default=4, help="concurrent connections")
    ap.add_argument("--min-rps", type=float, default=15.0, help="gate: requests/s per page")
    ap.add_argument("--max-p99-ms", type=float, default=1000.0, help="gate: p99 latency per page")
    ap.add_argument("--json", type=Path, default=OUT / "web_load.json")
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        console.print("[red]wrk not found: apt-get install wrk[/]")
        return 2
    data = Path(tempfile.mkdtemp(prefix="cordiale-web-load-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CORDIALE_", "DATABASE_URL"))}
    env["CORDIALE_DATA_DIR"] = str(data)
    os.environ.update({"CORDIALE_DATA_DIR": str(data), "DJANGO_SETTINGS_MODULE": "cordiale.web.settings"})
    os.environ.pop("CORDIALE_DATABASE_URL", None)
    os.environ.pop("DATABASE_URL", None)
    t0 = time.monotonic()
    ids = seed()
    console.print(f"seeded in {time.monotonic() - t0:.1f} s")
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "cordiale"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    pages = [
        ("static file (baseline)", "/static/programmes/site.css", None, "font-family"),
        ("sign-in page", "/accounts/login/", None, "csrfmiddlewaretoken"),
        ("dashboard", "/", ids["cookie"], "Applications to handle"),
        ("calls", "/calls/", ids["cookie"], "Call seed"),
        ("application", f"/applications/{ids['application']}/", ids["cookie"], "Application 1"),
        ("project finance", f"/projects/{ids['project']}/finance/", ids["cookie"], "Real split"),
        ("export CSV", "/exports/applications.csv", ids["cookie"], "requested_amount"),
    ]
    results: list[Result] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/accounts/login/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    console.print("[red]cordiale serve did not start[/]")
                    return 2
                time.sleep(0.2)
        for name, path, cookie, marker in pages:
            check = httpx.get(base + path, headers={"cookie": cookie} if cookie else {}, timeout=30)
            if check.status_code != 200 or marker not in check.text:
                console.print(f"[red]{name}: {path} answered {check.status_code} without {marker!r}[/]")
                return 1
            rps, p50, p99, total, errors = run_wrk(base + path, cookie, args.seconds, args.connections)
            results.append(Result(name, path, rps, p50, p99, total, errors))
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(data, ignore_errors=True)
    static = results[0].rps
    for r in results:
        r.ratio_to_static = r.rps / static if static else 0.0
        r.passed = r.errors == 0 and (
            r is results[0] or (r.rps >= args.min_rps and r.p99_ms <= args.max_p99_ms)
        )
    table = Table(
        title=f"web load: wrk, {args.connections} connections, {args.seconds} s per page, 127.0.0.1",
        title_justify="left",
    )
    for col in ("page", "req/s", "p50 ms", "p99 ms", "× static", "requests", "errors", "gate"):
        table.add_column(col, justify="left" if col == "page" else "right")
    for r in results:
        table.add_row(
            r.page,
            f"{r.rps:,.0f}",
            f"{r.p50_ms:.1f}",
            f"{r.p99_ms:.1f}",
            f"{r.ratio_to_static:.2f}",
            f"{r.requests:,}",
            str(r.errors),
            "[green]ok[/]" if r.passed else "[red]MISSED[/]",
        )
    console.print(table)
    console.print(f"gates: every page ≥ {args.min_rps:g} req/s and p99 ≤ {args.max_p99_ms:g} ms, no error")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "gates": {"min_rps": args.min_rps, "max_p99_ms": args.max_p99_ms},
                "seconds": args.seconds,
                "connections": args.connections,
                "results": [asdict(r) for r in results],
            },
            indent=1,
        )
    )
    missed = [r.page for r in results if not r.passed]
    if missed:
        console.print(f"[red]gate missed: {', '.join(missed)}[/]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
