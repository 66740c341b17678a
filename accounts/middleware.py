"""Attach the organization the signed-in person is working in to every request.

`request.member` is the person's active membership of the current organization (or None), and
`request.organization` its organization. It is re-read on every request, so suspending or removing
a member locks them out at once, not when their session expires.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from accounts.models import Member, Organization, User
from accounts.selectors import active_memberships

SESSION_KEY = "current_member_id"
# Machine endpoints never use a panel session; skipping them keeps /healthz free of database reads.
EXEMPT_PREFIXES = ("/healthz", "/readyz", "/scim/", "/static/")


class PanelRequest(HttpRequest):
    """The request a panel view sees behind `member_required`: member and organization are set."""

    user: User
    member: Member
    organization: Organization


def current_member(request: HttpRequest) -> Member | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    memberships = active_memberships(user)
    chosen = request.session.get(SESSION_KEY)
    if chosen is not None:
        member = memberships.filter(pk=chosen).first()
        if member is not None:
            return member
    member = memberships.first()
    if member is not None:
        request.session[SESSION_KEY] = member.pk
    return member


def switch_organization(request: HttpRequest, member: Member) -> None:
    request.session[SESSION_KEY] = member.pk


class CurrentOrganizationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        member = None if request.path.startswith(EXEMPT_PREFIXES) else current_member(request)
        request.member = member  # type: ignore[attr-defined]
        request.organization = member.organization if member else None  # type: ignore[attr-defined]
        return self.get_response(request)
