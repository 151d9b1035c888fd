"""Projects: members, PhD students and their mobility plans, milestones, co-financing, outputs."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from cordiale.errors import StoreError
from cordiale.ids import short_openalex_id
from cordiale.web.programmes import services
from cordiale.web.programmes.cofinance import Entry, RateCsvError, RateMissingError, read_rates_csv, totals
from cordiale.web.programmes.forms import LedgerEntryForm, OutputForm, RateCsvForm, RateForm, StayFormSet
from cordiale.web.programmes.mobility import Stay
from cordiale.web.programmes.models import LedgerEntry, Output, PhdStudent, Project, ReferenceRate
from cordiale.web.programmes.suggestions import suggest_outputs
from cordiale.web.programmes.views.common import get_allowed, report, require


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    projects = [
        p
        for p in Project.objects.prefetch_related("partner_shares__partner")
        if request.user.has_perm("programmes.view_project", p)
    ]
    return render(request, "programmes/project_list.html", {"projects": projects})


@login_required
def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_allowed(request, Project, "programmes.view_project", pk=pk)
    suggestions, store_note = [], ""
    manage = request.user.has_perm("programmes.manage_project", project)
    if manage:
        try:
            suggestions = suggest_outputs(project)
        except StoreError as exc:
            store_note = str(exc)
    context = {
        "project": project,
        "manage": manage,
        "members": project.members.select_related("person", "partner"),
        "students": project.students.select_related(
            "person", "home_partner", "host_partner"
        ).prefetch_related("stays"),
        "phd_problems": services.phd_setup_problems(project) if project.kind == "phd" else [],
        "milestones": project.milestones.all(),
        "outputs": project.outputs.all(),
        "grants": project.grants.all(),
        "suggestions": suggestions,
        "store_note": store_note,
        "output_form": OutputForm(),
    }
    return render(request, "programmes/project_detail.html", context)


@login_required
def mobility_plan(request: HttpRequest, pk: int) -> HttpResponse:
    student = get_object_or_404(PhdStudent.objects.select_related("project", "person"), pk=pk)
    if not request.user.has_perm("programmes.view_project", student.project):
        raise PermissionDenied
    initial = [{"start": s.start, "end": s.end} for s in student.stays.all()]
    formset = StayFormSet(request.POST or None, initial=initial, prefix="stay")
    if request.method == "POST" and formset.is_valid():
        stays = [
            Stay(f.cleaned_data["start"], f.cleaned_data["end"])
            for f in formset.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        try:
            services.set_mobility_plan(student, stays, request.user)
        except ValidationError as exc:
            report(request, exc)
        else:
            messages.success(request, _("Mobility plan saved."))
            return redirect("project_detail", pk=student.project_id)
    return render(request, "programmes/mobility.html", {"student": student, "formset": formset})


@login_required
def finance(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_allowed(request, Project, "programmes.view_project", pk=pk)
    form = LedgerEntryForm(request.POST or None, initial={"day": None})
    partner_ids = project.partner_shares.values_list("partner_id", flat=True)
    form.fields["partner"].queryset = form.fields["partner"].queryset.filter(pk__in=partner_ids)  # type: ignore[attr-defined]
    if request.method == "POST" and form.is_valid():
        try:
            services.add_ledger_entry(request.user, project=project, **form.cleaned_data)
        except ValidationError as exc:
            report(request, exc)
        else:
            messages.success(request, _("Budget line added."))
            return redirect("finance", pk=pk)
    entries = list(project.ledger.select_related("partner"))
    split, total_rows, rate_error = None, [], ""
    try:
        book = services.rate_book()
        ents = [Entry(str(e.partner), e.kind, e.amount, e.currency, e.day) for e in entries]
        split = services.project_split(project, book=book, entries=ents)
        eur, gbp = totals(ents, book, "EUR"), totals(ents, book, "GBP")
        for key in sorted(eur):
            total_rows.append({"partner": key[0], "kind": key[1], "eur": eur[key], "gbp": gbp[key]})
    except RateMissingError as exc:
        rate_error = str(exc)
    context = {
        "project": project,
        "entries": [(e, request.user.has_perm("programmes.edit_ledger_entry", e)) for e in entries],
        "form": form,
        "split": split,
        "totals": total_rows,
        "rate_error": rate_error,
    }
    return render(request, "programmes/finance.html", context)


@login_required
def ledger_edit(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_allowed(request, LedgerEntry, "programmes.edit_ledger_entry", pk=pk)
    form = LedgerEntryForm(request.POST or None, instance=LedgerEntry.objects.get(pk=pk))
    if request.method == "POST" and form.is_valid():
        services.update_ledger_entry(request.user, entry, **form.cleaned_data)
        messages.success(request, _("Budget line saved."))
        return redirect("finance", pk=entry.project_id)
    return render(request, "programmes/ledger_edit.html", {"entry": entry, "form": form})


@login_required
def rates(request: HttpRequest) -> HttpResponse:
    require(request, "programmes.office")
    form = RateForm(request.POST or None, prefix="one")
    csv_form = RateCsvForm(request.POST or None, request.FILES or None, prefix="csv")
    if request.method == "POST" and "one-day" in request.POST and form.is_valid():
        rate = form.save(commit=False)
        rate.source = "entered"
        rate.save()
        messages.success(request, _("Rate saved."))
        return redirect("rates")
    if request.method == "POST" and "csv-csv_file" in request.FILES and csv_form.is_valid():
        upload = csv_form.cleaned_data["csv_file"]
        try:
            parsed = read_rates_csv(upload.read(), upload.name)
        except RateCsvError as exc:
            messages.error(request, str(exc))
        else:
            with transaction.atomic():
                for r in parsed:
                    ReferenceRate.objects.update_or_create(
                        day=r.day,
                        currency=r.currency,
                        defaults={"eur_per_unit": r.eur_per_unit, "source": upload.name},
                    )
            messages.success(request, _("%(n)d rates imported.") % {"n": len(parsed)})
            return redirect("rates")
    return render(
        request,
        "programmes/rates.html",
        {"rates": ReferenceRate.objects.all()[:200], "form": form, "csv_form": csv_form},
    )


@login_required
def output_add(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_allowed(request, Project, "programmes.manage_project", pk=pk)
    form = OutputForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ident = form.cleaned_data["identifier"].strip()
        title = request.POST.get("title", "")[:500]
        year = request.POST.get("year", "")
        wid = short_openalex_id(ident)
        if wid and wid.startswith("W"):
            Output.objects.get_or_create(
                project=project,
                work_id=wid,
                defaults={
                    "title": title,
                    "year": int(year) if year.isdigit() else None,
                    "doi": request.POST.get("doi", ""),
                },
            )
        elif ident.lower().removeprefix("https://doi.org/").startswith("10."):
            doi = ident.lower().removeprefix("https://doi.org/")
            Output.objects.get_or_create(project=project, doi=doi, defaults={"title": title})
        else:
            messages.error(
                request, _("%(v)s is neither a DOI (10.…) nor an OpenAlex work id (W…).") % {"v": ident}
            )
            return redirect("project_detail", pk=pk)
        messages.success(request, _("Output linked."))
    return redirect("project_detail", pk=pk)
