"""What the views share: the signed-in person, permission checks, error messages from the services."""

from __future__ import annotations

from typing import Any, TypeVar

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from cordiale.web.programmes.actors import person_of
from cordiale.web.programmes.models import Person

M = TypeVar("M", bound=Model)


def me(request: HttpRequest) -> Person:
    person = person_of(request.user)
    if person is None:
        raise PermissionDenied("this account has no person record")
    return person


def get_allowed(request: HttpRequest, model: type[M], perm: str, **lookup: Any) -> M:
    obj = get_object_or_404(model, **lookup)
    if not request.user.has_perm(perm, obj):
        raise PermissionDenied
    return obj


def require(request: HttpRequest, perm: str, obj: Any = None) -> None:
    if not request.user.has_perm(perm, obj):
        raise PermissionDenied


def report(request: HttpRequest, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)
