"""Attach the organization the signed-in person is working in to every request.

`request.member` is the person's active membership of the current organization (or None), and
`request.organization` its organization. It is re-read on every request, so suspending or removing
a member locks them out at once, not when their session expires.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts import session_scope
from accounts.models import Member, Organization, TwoFactorDevice, User
from accounts.selectors import active_memberships
from accounts.services.twofactor import two_factor_required

SESSION_KEY = "current_member_id"
# Machine endpoints never use a panel session; skipping them keeps /healthz free of database reads.
EXEMPT_PREFIXES = ("/healthz", "/readyz", "/metrics", "/scim/", "/static/")


class PanelRequest(HttpRequest):
    """The request a panel view sees behind `member_required`: member and organization are set."""

    user: User
    member: Member
    organization: Organization


def current_member(request: HttpRequest) -> Member | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    # Only the organizations this session proved itself for (accounts/session_scope.py).
    memberships = session_scope.scoped(request, active_memberships(user))
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


# --- Session lifetime and two-factor sign-in -----------------------------------------------------

SESSION_AUTH_AT = "auth_at"
SESSION_SEEN_AT = "seen_at"
SESSION_TWO_FACTOR = "two_factor_verified"
# Organizations whose identity provider said, in this session's sign-in, that it did
# multi-factor authentication (`amr` contains "mfa"): their two-factor rule is met.
SESSION_SSO_MFA = "sso_mfa_organizations"
# Writing the session on every request would cost a database write per click; a minute's
# precision is plenty for an idle timeout measured in minutes.
SEEN_AT_PRECISION = 60


def mark_two_factor_verified(request: HttpRequest, confirmed_at: datetime) -> None:
    """Record in the session that it passed the second factor of the device confirmed then.

    A session without the mark (signed in before two-factor sign-in was turned on or the
    authenticator was replaced, somewhere else) is signed out: that is how turning it on or
    replacing the phone ends every other session.
    """
    request.session[SESSION_TWO_FACTOR] = confirmed_at.isoformat()


def mark_sso_mfa(request: HttpRequest, organization: Organization) -> None:
    """Record that the sign-in through `organization`'s identity provider was multi-factor."""
    done = request.session.get(SESSION_SSO_MFA)
    organizations = set(done) if isinstance(done, list) else set()
    organizations.add(organization.pk)
    request.session[SESSION_SSO_MFA] = sorted(organizations)


def _sso_mfa_done(request: HttpRequest, member: Member) -> bool:
    done = request.session.get(SESSION_SSO_MFA)
    return isinstance(done, list) and member.organization_id in done


def _two_factor_allowed_paths() -> tuple[str, ...]:
    return (
        reverse("two_factor_setup"),
        reverse("logout"),
        reverse("organization_switch"),
    )


class SessionSecurityMiddleware:
    """Ends sessions that sat idle (SESSION_IDLE_TIMEOUT_SECONDS) or outlived SESSION_COOKIE_AGE
    since sign-in, ends sessions that skipped a second factor the account now has, and keeps an
    owner or admin of an organization that requires two-factor sign-in on the set-up page until
    they have it.

    Runs after CurrentOrganizationMiddleware (it needs `request.member`) and after
    MessageMiddleware (it tells the person why they were signed out).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or request.path.startswith(EXEMPT_PREFIXES):
            return self.get_response(request)
        confirmed_at = (
            TwoFactorDevice.objects.filter(user=user, confirmed_at__isnull=False)
            .values_list("confirmed_at", flat=True)
            .first()
        )
        reason = self._expired(request) or self._missing_second_factor(request, confirmed_at)
        if reason:
            logout(request)
            request.member = None  # type: ignore[attr-defined]
            request.organization = None  # type: ignore[attr-defined]
            messages.info(request, reason)
            # The request goes on as anonymous: panel pages send it to the sign-in page.
            return self.get_response(request)
        member: Member | None = getattr(request, "member", None)
        if (
            confirmed_at is None
            and member is not None
            and two_factor_required(member)
            and not _sso_mfa_done(request, member)
            and request.path not in _two_factor_allowed_paths()
        ):
            messages.warning(
                request,
                f"{member.organization.name} requires two-factor sign-in for owners and admins. "
                "Set it up to continue.",
            )
            return redirect("two_factor_setup")
        return self.get_response(request)

    def _expired(self, request: HttpRequest) -> str:
        now = int(time.time())
        session = request.session
        auth_at = session.setdefault(SESSION_AUTH_AT, now)
        seen_at = session.get(SESSION_SEEN_AT, now)
        if now - auth_at > settings.SESSION_COOKIE_AGE:
            return "Your session ended. Sign in again."
        idle = settings.SESSION_IDLE_TIMEOUT_SECONDS
        if idle > 0 and now - seen_at > idle:
            return "You were signed out after a period without activity. Sign in again."
        if now - seen_at >= SEEN_AT_PRECISION or SESSION_SEEN_AT not in session:
            session[SESSION_SEEN_AT] = now
        return ""

    def _missing_second_factor(self, request: HttpRequest, confirmed_at: datetime | None) -> str:
        if confirmed_at is None:
            return ""
        if request.session.get(SESSION_TWO_FACTOR) == confirmed_at.isoformat():
            return ""
        return "Sign in again with your password and authentication code."
