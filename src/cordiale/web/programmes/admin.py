"""The Django admin: set-up data (partners, people and roles, calls and criteria, grants, rates).

Budget lines follow the same object permission as the app: a partner's officer edits only its own.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from cordiale.web.programmes import models as m


class RoleInline(admin.TabularInline[m.Role, m.Person]):
    model = m.Role
    extra = 1


@admin.register(m.Person)
class PersonAdmin(admin.ModelAdmin[m.Person]):
    inlines = [RoleInline]
    list_display = ["name", "email", "orcid", "openalex_author_id", "erased_at"]
    search_fields = ["name", "email", "orcid", "openalex_author_id"]
    filter_horizontal = ["declared_conflicts"]


class CriterionInline(admin.TabularInline[m.Criterion, m.Call]):
    model = m.Criterion
    extra = 2


@admin.register(m.Call)
class CallAdmin(admin.ModelAdmin[m.Call]):
    inlines = [CriterionInline]
    list_display = ["title", "kind", "opens", "closes", "budget_ceiling", "currency"]
    filter_horizontal = ["panel"]


class ProjectPartnerInline(admin.TabularInline[m.ProjectPartner, m.Project]):
    model = m.ProjectPartner
    extra = 0


class MemberInline(admin.TabularInline[m.ProjectMember, m.Project]):
    model = m.ProjectMember
    extra = 0


class StudentInline(admin.TabularInline[m.PhdStudent, m.Project]):
    model = m.PhdStudent
    extra = 0


class MilestoneInline(admin.TabularInline[m.Milestone, m.Project]):
    model = m.Milestone
    extra = 0


@admin.register(m.Project)
class ProjectAdmin(admin.ModelAdmin[m.Project]):
    inlines = [ProjectPartnerInline, MemberInline, StudentInline, MilestoneInline]
    list_display = ["title", "kind", "start", "end"]


@admin.register(m.LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin[m.LedgerEntry]):
    list_display = ["project", "partner", "kind", "amount", "currency", "day"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None:
            return super().has_change_permission(request)
        return request.user.has_perm("programmes.edit_ledger_entry", obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: m.LedgerEntry, form: Any, change: bool) -> None:
        """New lines, and lines moved to another partner, follow the rule too."""
        if not request.user.has_perm("programmes.edit_ledger_entry", obj):
            raise PermissionDenied
        super().save_model(request, obj, form, change)


for model in (m.Partner, m.Grant, m.Exchange, m.ReferenceRate, m.Output):
    admin.site.register(model)
