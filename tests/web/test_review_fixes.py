"""Defects a reviewer found in the programmes app, each reproduced through the pages on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from django.urls import reverse

from cordiale.web.programmes import services
from cordiale.web.programmes.models import Application
from tests.web.factories import World, client_for, draft, panel_recommends


def _reviewed(world: World) -> Application:
    """A submitted application with one confidential review (assigned by the ICL officer)."""
    app = draft(world)
    services.transition(app, "submit", world.applicant.user)
    services.assign_reviewer(app, world.reviewer_ok, world.officer_icl.user)
    crit = {c.name: c.pk for c in world.call.criteria.all()}
    services.submit_review(
        app.assignments.get(),
        world.reviewer_ok.user,
        {crit["Excellence"]: 3, crit["Feasibility"]: 4},
        "CONFIDENTIAL-REMARK",
        True,
    )
    return app


def test_only_those_who_decide_reach_the_decision_and_assignment_pages(world: World, store: Path) -> None:
    app = _reviewed(world)
    decide, assign = reverse("decide", args=[app.pk]), reverse("assign_reviewer", args=[app.pk])
    panel_recommends(world, app, "reject")
    for who in ("applicant", "pi_icl", "reviewer_ok", "officer_icl", "officer_cnrs"):
        response = client_for(who).get(decide)
        assert response.status_code == 403, who
        assert "CONFIDENTIAL-REMARK" not in response.content.decode(), who
    for who in ("applicant", "pi_icl", "reviewer_ok"):
        assert client_for(who).get(assign).status_code == 403, who
    assert client_for("applicant").post(decide, {"outcome": "award", "amount": "1"}).status_code == 403
    # The chair sees the reviews and the panel; the officers assign.
    page = client_for("director").get(decide).content.decode()
    assert "CONFIDENTIAL-REMARK" in page and "Olivia Officer" in page
    assert client_for("officer_cnrs").get(assign).status_code == 200
    services.decide(app, world.director.user, "reject", None, "", "")
    response = client_for("applicant").get(decide)  # after the decision too
    assert response.status_code == 403 and "CONFIDENTIAL-REMARK" not in response.content.decode()
    assert client_for("applicant").get(reverse("start_project", args=[app.pk])).status_code == 403


def test_the_programmes_dashboard_is_for_the_partnership_office(world: World, store: Path) -> None:
    base = "/dashboard/I1294671590/I47508984"
    drill = (
        f"?call={world.call.pk}",
        f"?partner={world.cnrs.pk}&kind=payment",
        "?exchanges=2026",
        "?phd=1",
        "?status=open",
    )
    researcher = client_for("outsider")
    assert researcher.get(f"{base}/programmes/").status_code == 403
    for query in drill:
        assert researcher.get(f"{base}/programmes/rows/{query}").status_code == 403, query
    overview = researcher.get(f"{base}/")  # the observatory pages stay open to every signed-in user
    assert overview.status_code == 200 and "to-programmes" not in overview.content.decode()
    office = client_for("officer_cnrs")
    assert office.get(f"{base}/programmes/").status_code == 200
    for query in drill:
        assert office.get(f"{base}/programmes/rows/{query}").status_code == 200, query
    assert "to-programmes" in office.get(f"{base}/").content.decode()
