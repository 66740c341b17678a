"""Which organizations a panel session has proven itself for.

A person can belong to several organizations, and each may sign its people in differently. A
sign-in through organization A's identity provider proves the person to A only: A's admin controls
A's identity provider and could otherwise sign in as anyone who also belongs to B. A password
proves the person to every organization that accepts passwords from them: one whose single sign-on
policy is not "required", or where they are an owner (owners keep a password and two-factor sign-in
as the break-glass way in).

The session keeps `{organization id: "password" | "sso"}`. A session without the key signed in with
a password before this existed, and is treated as a password session. The current organization
(accounts/middleware.py) is always one the session proved itself for.
"""

from __future__ import annotations

from typing import Literal

from django.db.models import Q, QuerySet
from django.http import HttpRequest

from accounts.models import Member, Organization

SESSION_KEY = "signed_in_organizations"
Method = Literal["password", "sso"]
REQUIRED = "required"  # integrations.models.SsoConnection.Policy.REQUIRED, without the import cycle


def _password_opens() -> Q:
    """The memberships a password opens: SSO not required there, or the person is an owner."""
    return Q(role=Member.Role.OWNER) | ~Q(organization__sso_connection__policy=REQUIRED)


def password_allowed(memberships: QuerySet[Member]) -> QuerySet[Member]:
    return memberships.filter(_password_opens())


def granted(request: HttpRequest) -> dict[str, Method] | None:
    """The organizations this session proved itself for, by id; None for a password session
    from before the key existed."""
    value = request.session.get(SESSION_KEY)
    return dict(value) if isinstance(value, dict) else None


def grant(request: HttpRequest, organization: Organization, method: Method) -> None:
    """Record that this session proved the person to `organization` by `method`."""
    scope = granted(request) or {}
    scope[str(organization.pk)] = method
    request.session[SESSION_KEY] = scope


def grant_password(request: HttpRequest, memberships: QuerySet[Member]) -> None:
    """After a password sign-in: the organizations of `memberships` a password opens now."""
    scope = granted(request) or {}
    for organization_id in password_allowed(memberships).values_list("organization_id", flat=True):
        scope.setdefault(str(organization_id), "password")
    request.session[SESSION_KEY] = scope


def scoped(request: HttpRequest, memberships: QuerySet[Member]) -> QuerySet[Member]:
    """`memberships` narrowed to the organizations this session may open now.

    A session that proved a password opens whatever a password opens now (an organization the
    person joined since included; one whose policy became "required" since excluded); a single
    sign-on opens its own organization only.
    """
    scope = granted(request)
    if scope is None:
        return password_allowed(memberships)
    by_sso = [int(pk) for pk, method in scope.items() if method == "sso"]
    opens = Q(organization_id__in=by_sso)
    if "password" in scope.values():
        opens |= _password_opens()
    return memberships.filter(opens)


def proves_account(request: HttpRequest, memberships: QuerySet[Member]) -> bool:
    """Whether this session may change what protects the person's account everywhere (two-factor
    sign-in). A password proves the account. Single sign-ons prove it only when they cover every
    organization of `memberships`: otherwise A's identity provider, which A's admin controls,
    could turn on an authenticator of theirs and lock the person out of organization B."""
    scope = granted(request)
    if scope is None or "password" in scope.values():
        return True
    return not memberships.exclude(organization_id__in=[int(pk) for pk in scope]).exists()
