"""A small, realistic partnership for the tests: CNRS and Imperial, their office, researchers, a call.

The researchers carry real OpenAlex author ids of the shared works (``../shared/data``), so conflict
checks and output suggestions run on real records: the applicant (A5049649985) co-authored 70 works of
2023–2026 with A5084940954 (a conflict); A5044806143 and A5070411489 share no work or unit with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from cordiale.web.programmes.models import (
    Application,
    ApplicationPI,
    Call,
    Criterion,
    Partner,
    Person,
    Role,
    RoleKind,
)

PASSWORD = "a-long-test-password-42"
PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def client_for(username: str) -> Client:
    """A test client signed in as ``username`` (every factory user has ``PASSWORD``)."""
    c = Client()
    assert c.login(username=username, password=PASSWORD)
    return c


@dataclass
class World:
    cnrs: Partner
    icl: Partner
    director: Person
    officer_cnrs: Person
    officer_icl: Person
    applicant: Person
    pi_icl: Person
    reviewer_ok: Person
    reviewer_conflict: Person
    reviewer_unknown: Person
    outsider: Person
    call: Call


def person(username: str, name: str, roles: list[tuple[Partner, str]], author: str = "") -> Person:
    user = get_user_model().objects.create_user(username, f"{username}@example.org", PASSWORD)
    p = Person.objects.create(
        user=user,
        name=name,
        email=f"{username}@example.org",
        openalex_author_id=author,
        consent_at=timezone.now(),
        consent_version="2026-1",
    )
    for partner, kind in roles:
        Role.objects.create(person=p, partner=partner, kind=kind)
    return p


def make_world() -> World:
    cnrs = Partner.objects.create(
        name="Centre national de la recherche scientifique",
        short_name="CNRS",
        openalex_id="I1294671590",
        ror_id="02feahw73",
        country_code="FR",
    )
    icl = Partner.objects.create(
        name="Imperial College London",
        short_name="Imperial",
        openalex_id="I47508984",
        ror_id="041kmwe10",
        country_code="GB",
    )
    today = timezone.localdate()
    call = Call.objects.create(
        title="Seed fund 2026",
        kind="seed",
        opens=today - timedelta(days=10),
        closes=today + timedelta(days=30),
        budget_ceiling=Decimal("50000.00"),
        currency="EUR",
    )
    call.partners.set([cnrs, icl])
    Criterion.objects.create(call=call, name="Excellence", weight=Decimal("2"))
    Criterion.objects.create(call=call, name="Feasibility", weight=Decimal("1"))
    director = person("director", "Dana Director", [(cnrs, RoleKind.DIRECTOR), (icl, RoleKind.DIRECTOR)])
    officer_icl = person("officer_icl", "Olivia Officer", [(icl, RoleKind.OFFICER)])
    call.panel.set([director, officer_icl])  # the decision panel: the director (chair) and an officer
    return World(
        cnrs=cnrs,
        icl=icl,
        director=director,
        officer_cnrs=person("officer_cnrs", "Olivier Officer", [(cnrs, RoleKind.OFFICER)]),
        officer_icl=officer_icl,
        applicant=person("applicant", "Mohamed Mahmoud", [(cnrs, RoleKind.RESEARCHER)], "A5049649985"),
        pi_icl=person("pi_icl", "Fadhil Sadooni", [(icl, RoleKind.RESEARCHER)], "A5070411489"),
        reviewer_ok=person("reviewer_ok", "Mohamed El-Ghali", [(icl, RoleKind.REVIEWER)], "A5044806143"),
        reviewer_conflict=person(
            "reviewer_conflict", "Muhammad Kamal", [(cnrs, RoleKind.REVIEWER)], "A5084940954"
        ),
        reviewer_unknown=person("reviewer_unknown", "Una Known", [(cnrs, RoleKind.REVIEWER)]),
        outsider=person("outsider", "Oscar Outsider", [(cnrs, RoleKind.RESEARCHER)]),
        call=call,
    )


def panel_recommends(world: World, app: Application, recommendation: str = "award") -> None:
    """Every panel member of the world's call records ``recommendation`` (through the service)."""
    from cordiale.web.programmes import services

    for member in (world.director, world.officer_icl):
        services.recommend(app, member.user, recommendation, f"{member.name}: {recommendation}")


def draft(world: World, with_pdf: bool = True, with_pi: bool = True) -> Application:
    app = Application.objects.create(
        call=world.call,
        applicant=world.applicant,
        title="Carbon storage in carbonate reservoirs",
        summary="Joint work on CO2 storage.",
        requested_amount=Decimal("40000.00"),
    )
    ApplicationPI.objects.create(application=app, person=world.applicant, partner=world.cnrs)
    if with_pi:
        ApplicationPI.objects.create(application=app, person=world.pi_icl, partner=world.icl)
    if with_pdf:
        app.pdf.save("proposal.pdf", ContentFile(PDF_BYTES))
    return app
