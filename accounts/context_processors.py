from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from accounts.models import User
from accounts.selectors import active_memberships


def organization(request: HttpRequest) -> dict[str, Any]:
    member = getattr(request, "member", None)
    context: dict[str, Any] = {"current_member": member, "site_url": settings.SITE_URL}
    if member is not None and isinstance(request.user, User):
        context["current_organization"] = member.organization
        context["other_memberships"] = list(active_memberships(request.user).exclude(pk=member.pk))
    return context
