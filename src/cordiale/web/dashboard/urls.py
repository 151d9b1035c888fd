"""The dashboard's URLs (under /dashboard/)."""

from __future__ import annotations

from django.urls import path

from cordiale.web.dashboard import views

urlpatterns = [
    path("", views.index, name="dashboard_index"),
    path("<str:a>/<str:b>/", views.overview, name="dashboard_overview"),
    path("<str:a>/<str:b>/works/", views.works, name="dashboard_works"),
    path("<str:a>/<str:b>/fields/", views.strengths, name="dashboard_strengths"),
    path("<str:a>/<str:b>/sdg/", views.sdg, name="dashboard_sdg"),
    path("<str:a>/<str:b>/third-parties/", views.third_parties, name="dashboard_third_parties"),
    path("<str:a>/<str:b>/open-access/", views.open_access, name="dashboard_open_access"),
    path("<str:a>/<str:b>/people/", views.people, name="dashboard_people"),
    path("<str:a>/<str:b>/programmes/", views.programmes, name="dashboard_programmes"),
    path("<str:a>/<str:b>/programmes/rows/", views.programme_rows, name="dashboard_programme_rows"),
]
