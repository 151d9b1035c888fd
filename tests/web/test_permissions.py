"""Object-level permissions on PostgreSQL, through the pages as a browser client would reach them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cordiale.web.programmes import services
from cordiale.web.programmes.models import Application, LedgerEntry, Project, ProjectPartner
from tests.web.factories import PASSWORD, World, client_for, draft, panel_recommends


def test_anonymous_gets_the_sign_in_page(db: None) -> None:
    response = Client().get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert Client().get("/accounts/login/").status_code == 200


def _reviewed(world: World) -> Application:
    app = draft(world)
    services.transition(app, "submit", world.applicant.user)
    services.assign_reviewer(app, world.reviewer_ok, world.officer_icl.user)
    crit = {c.name: c.pk for c in world.call.criteria.all()}
    assignment = app.assignments.get()
    services.submit_review(
        assignment,
        world.reviewer_ok.user,
        {crit["Excellence"]: 3, crit["Feasibility"]: 4},
        "CONFIDENTIAL-REMARK",
        True,
    )
    return app


def test_reviewer_sees_only_what_is_assigned(world: World, store: Path) -> None:
    app = _reviewed(world)
    other = draft(world)
    services.transition(other, "submit", world.applicant.user)
    reviewer = client_for("reviewer_ok")
    assert reviewer.get(reverse("application_detail", args=[app.pk])).status_code == 200
    assert reviewer.get(reverse("application_detail", args=[other.pk])).status_code == 403
    assert reviewer.get(reverse("application_pdf", args=[other.pk])).status_code == 403
    assert client_for("reviewer_unknown").get(reverse("application_detail", args=[app.pk])).status_code == 403
    assert client_for("outsider").get(reverse("review", args=[app.assignments.get().pk])).status_code == 403


def test_confidential_reviews_never_reach_the_applicant(world: World, store: Path) -> None:
    app = _reviewed(world)
    assignment = app.assignments.get()
    applicant = client_for("applicant")
    page = applicant.get(reverse("application_detail", args=[app.pk])).content.decode()
    assert "CONFIDENTIAL-REMARK" not in page
    assert applicant.get(reverse("review", args=[assignment.pk])).status_code == 403
    panel_recommends(world, app, "reject")
    services.decide(app, world.director.user, "reject", None, "", "")
    page = applicant.get(reverse("application_detail", args=[app.pk])).content.decode()
    assert "CONFIDENTIAL-REMARK" not in page  # still confidential after the decision
    officer = client_for("officer_cnrs").get(reverse("application_detail", args=[app.pk])).content.decode()
    assert "CONFIDENTIAL-REMARK" in officer
    # A review the reviewer marked shareable is shown to the applicant, after the decision only.
    assignment.confidential = False
    assignment.save()
    page = applicant.get(reverse("application_detail", args=[app.pk])).content.decode()
    assert "CONFIDENTIAL-REMARK" in page


def _project(world: World) -> Project:
    project = Project.objects.create(title="P", kind="seed", start=date(2025, 1, 1), end=date(2026, 12, 31))
    ProjectPartner.objects.create(project=project, partner=world.cnrs, agreed_share=Decimal(50))
    ProjectPartner.objects.create(project=project, partner=world.icl, agreed_share=Decimal(50))
    return project


def test_an_officer_cannot_edit_the_other_partners_budget_lines(world: World) -> None:
    project = _project(world)
    line = services.add_ledger_entry(
        world.officer_icl.user,
        project=project,
        partner=world.icl,
        kind="payment",
        amount=Decimal(1000),
        currency="GBP",
        day=date(2025, 3, 1),
    )
    with pytest.raises(PermissionDenied):
        services.add_ledger_entry(
            world.officer_cnrs.user,
            project=project,
            partner=world.icl,
            kind="payment",
            amount=Decimal(1),
            currency="GBP",
            day=date(2025, 3, 1),
        )
    with pytest.raises(PermissionDenied):
        services.update_ledger_entry(world.officer_cnrs.user, line, amount=Decimal(1))
    own = services.add_ledger_entry(  # its own partner's line: allowed (a denial here fails the test)
        world.officer_cnrs.user,
        project=project,
        partner=world.cnrs,
        kind="payment",
        amount=Decimal(5),
        currency="EUR",
        day=date(2025, 3, 1),
    )
    with pytest.raises(PermissionDenied):  # nor move its own line to the other partner
        services.update_ledger_entry(world.officer_cnrs.user, own, partner=world.icl)
    assert LedgerEntry.objects.get(pk=own.pk).partner == world.cnrs
    cnrs = client_for("officer_cnrs")
    assert cnrs.get(reverse("ledger_edit", args=[line.pk])).status_code == 403
    response = cnrs.post(
        reverse("ledger_edit", args=[line.pk]),
        {"partner": world.icl.pk, "kind": "payment", "amount": "1", "currency": "GBP", "day": "2025-03-01"},
    )
    assert response.status_code == 403
    assert LedgerEntry.objects.get(pk=line.pk).amount == Decimal(1000)
    assert client_for("officer_icl").get(reverse("ledger_edit", args=[line.pk])).status_code == 200


def test_projects_are_seen_by_their_staff_and_members_only(world: World) -> None:
    project = _project(world)
    assert client_for("officer_cnrs").get(reverse("project_detail", args=[project.pk])).status_code == 200
    assert client_for("outsider").get(reverse("project_detail", args=[project.pk])).status_code == 403
    assert client_for("outsider").get(reverse("finance", args=[project.pk])).status_code == 403
    assert "P" not in [
        p.title for p in client_for("outsider").get(reverse("project_list")).context["projects"]
    ]


def test_office_pages_are_for_the_office(world: World) -> None:
    for name in ("exchange_list", "grant_list", "rates", "person_list", "activity"):
        assert client_for("outsider").get(reverse(name)).status_code == 403, name
        assert client_for("officer_cnrs").get(reverse(name)).status_code == 200, name
    assert (
        client_for("outsider").get(reverse("export_table", args=["applications", "csv"])).status_code == 403
    )


def test_unknown_or_forbidden_transitions(world: World) -> None:
    app = draft(world)
    c = client_for("applicant")
    assert c.post(reverse("application_transition", args=[app.pk, "explode"])).status_code == 404
    officer = client_for("officer_cnrs")
    assert officer.post(reverse("application_transition", args=[app.pk, "submit"])).status_code == 403
    assert Application.objects.get(pk=app.pk).state == "draft"


def test_csrf_is_enforced(world: World) -> None:
    app = draft(world)
    c = Client(enforce_csrf_checks=True)
    assert c.login(username="applicant", password=PASSWORD)
    response = c.post(reverse("application_transition", args=[app.pk, "withdraw"]))
    assert response.status_code == 403
    assert Application.objects.get(pk=app.pk).state == "draft"


def test_the_start_of_a_project_is_kept_in_the_activity_log(world: World, store: Path) -> None:
    from auditlog.models import LogEntry

    app = draft(world)
    c = client_for("applicant")
    c.post(reverse("application_transition", args=[app.pk, "submit"]))
    entry = LogEntry.objects.filter(object_pk=str(app.pk), content_type__model="application").latest(
        "timestamp"
    )
    assert entry.actor == world.applicant.user
    assert entry.changes_dict["state"] == ["draft", "submitted"]
    assert entry.timestamp <= timezone.now()
    page = client_for("officer_cnrs").get(reverse("activity")).content.decode()
    assert "applicant" in page and "application" in page


def test_the_admin_applies_the_same_budget_line_rule(world: World) -> None:
    from django.contrib.auth.models import Permission

    project = _project(world)
    line = services.add_ledger_entry(
        world.officer_icl.user,
        project=project,
        partner=world.icl,
        kind="payment",
        amount=Decimal(1000),
        currency="GBP",
        day=date(2025, 3, 1),
    )
    staff = world.officer_cnrs.user
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["change_ledgerentry", "view_ledgerentry"])
    )
    c = client_for("officer_cnrs")
    url = f"/admin/programmes/ledgerentry/{line.pk}/change/"
    form = {
        "project": project.pk,
        "partner": world.icl.pk,
        "kind": "payment",
        "amount": "1",
        "currency": "GBP",
        "day": "2025-03-01",
        "note": "",
    }
    assert c.post(url, form).status_code == 403
    assert LedgerEntry.objects.get(pk=line.pk).amount == Decimal(1000)
    own = services.add_ledger_entry(
        world.officer_cnrs.user,
        project=project,
        partner=world.cnrs,
        kind="payment",
        amount=Decimal(5),
        currency="EUR",
        day=date(2025, 3, 1),
    )
    ok = c.post(
        f"/admin/programmes/ledgerentry/{own.pk}/change/",
        {**form, "partner": world.cnrs.pk, "currency": "EUR"},
    )
    assert ok.status_code == 302 and LedgerEntry.objects.get(pk=own.pk).amount == Decimal(1)
    moved = c.post(f"/admin/programmes/ledgerentry/{own.pk}/change/", form)  # to Imperial
    assert moved.status_code == 403 and LedgerEntry.objects.get(pk=own.pk).partner == world.cnrs
    staff.user_permissions.add(Permission.objects.get(codename="add_ledgerentry"))
    assert client_for("officer_cnrs").post("/admin/programmes/ledgerentry/add/", form).status_code == 403
    assert LedgerEntry.objects.count() == 2
