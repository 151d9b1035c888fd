"""The app's URLs."""

from __future__ import annotations

from django.urls import path

from cordiale.web.programmes.views import calls, office, projects

urlpatterns = [
    path("", calls.dashboard, name="dashboard"),
    path("calls/", calls.call_list, name="call_list"),
    path("calls/<int:pk>/", calls.call_detail, name="call_detail"),
    path("calls/<int:call_pk>/apply/", calls.application_new, name="application_new"),
    path("applications/<int:pk>/", calls.application_detail, name="application_detail"),
    path("applications/<int:pk>/edit/", calls.application_edit, name="application_edit"),
    path(
        "applications/<int:pk>/do/<slug:name>/", calls.application_transition, name="application_transition"
    ),
    path("applications/<int:pk>/pdf/", calls.application_pdf, name="application_pdf"),
    path("applications/<int:pk>/assign/", calls.assign_reviewer, name="assign_reviewer"),
    path("applications/<int:pk>/decide/", calls.decide, name="decide"),
    path("applications/<int:pk>/recommend/", calls.recommend, name="recommend"),
    path("applications/<int:pk>/start-project/", calls.start_project, name="start_project"),
    path("reviews/<int:pk>/", calls.review, name="review"),
    path("projects/", projects.project_list, name="project_list"),
    path("projects/<int:pk>/", projects.project_detail, name="project_detail"),
    path("projects/<int:pk>/finance/", projects.finance, name="finance"),
    path("projects/<int:pk>/outputs/add/", projects.output_add, name="output_add"),
    path("ledger/<int:pk>/edit/", projects.ledger_edit, name="ledger_edit"),
    path("phd-students/<int:pk>/mobility/", projects.mobility_plan, name="mobility_plan"),
    path("rates/", projects.rates, name="rates"),
    path("exchanges/", office.exchange_list, name="exchange_list"),
    path("grants/", office.grant_list, name="grant_list"),
    path("people/", office.person_list, name="person_list"),
    path("people/<int:pk>/", office.person_detail, name="person_detail"),
    path("people/<int:pk>/export.json", office.person_export, name="person_export"),
    path("people/<int:pk>/erase/", office.person_erase, name="person_erase"),
    path("exports/<slug:name>.<slug:fmt>", office.export_table, name="export_table"),
    path("activity/", office.activity, name="activity"),
    path("accounts/signup/", office.signup, name="signup"),
]
