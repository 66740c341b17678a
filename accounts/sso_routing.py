"""Where the sign-in page sends a person: the single sign-on of the organization that verified
their email address's domain, if it has one turned on.

Only the domain decides, never the address: the page must look and take the same for an address
with an account and one without, or it would tell anyone which addresses exist. So nothing here
reads `User` or `Member`. A domain counts only once an organization verified it by DNS
(integrations/domains.py), and the database lets at most one organization verify a domain, so a
domain routes to one organization or none.

`sso_start` (`/sso/<organization>/`) is the flow's route (accounts/sso_views.py); the URL is built
with a guarded `reverse` so this page keeps working, offering nothing, on a deploy without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import NoReverseMatch, reverse

from accounts.exceptions import InvalidInput
from accounts.models import Organization
from integrations.domains import domain_normalize
from integrations.models import EmailDomain, SsoConnection

# What the person sees, by SsoConnection.provider: (button wording, the provider's own name).
_WORDING = {
    "entra-id": ("Microsoft", "Microsoft Entra ID"),
    "okta": ("Okta", "Okta"),
}
_OTHER = ("single sign-on", "single sign-on")
ON = (SsoConnection.Policy.OPTIONAL, SsoConnection.Policy.REQUIRED)


def sso_start_url(slug: str, *, invitation: str = "") -> str:
    """The organization's own sign-in address, or "" while the route does not exist."""
    try:
        url = reverse("sso_start", args=[slug])
    except NoReverseMatch:
        return ""
    return f"{url}?{urlencode({'invitation': invitation})}" if invitation else url


@dataclass(frozen=True)
class SsoRoute:
    """An organization that signs people in through its identity provider, and how to say so."""

    organization: Organization
    provider: str
    policy: str
    url: str

    @property
    def required(self) -> bool:
        return self.policy == SsoConnection.Policy.REQUIRED

    @property
    def button(self) -> str:
        """ "Microsoft" in "Continue with Microsoft"."""
        return _WORDING.get(self.provider, _OTHER)[0]

    @property
    def provider_name(self) -> str:
        """ "Microsoft Entra ID" in "Contoso signs you in through Microsoft Entra ID"."""
        return _WORDING.get(self.provider, _OTHER)[1]


def route_for_organization(organization: Organization) -> SsoRoute | None:
    """The organization's single sign-on, when it is on (optional or required) and reachable."""
    connection = SsoConnection.objects.filter(organization=organization, policy__in=ON).first()
    if connection is None:
        return None
    url = sso_start_url(organization.slug)
    if not url:
        return None
    return SsoRoute(organization, connection.provider, connection.policy, url)


def route_for_slug(slug: str) -> SsoRoute | None:
    """The "Use single sign-on" step: the organization by its short name, if it has SSO on.
    An unknown name and one without SSO give the same None."""
    name = slug.strip().lower()
    organization = Organization.objects.filter(slug=name).first() if name else None
    return route_for_organization(organization) if organization is not None else None


def route_for_email(email: str) -> SsoRoute | None:
    """The route for an email address: by its domain only, and only a VERIFIED domain."""
    try:
        domain = domain_normalize(email.rpartition("@")[2])
    except InvalidInput:
        return None
    claim = (
        EmailDomain.objects.select_related("organization")
        .filter(domain=domain, state=EmailDomain.State.VERIFIED)
        .first()
    )
    return route_for_organization(claim.organization) if claim is not None else None


def password_refusal(organizations: list[Organization]) -> tuple[str, list[SsoRoute]]:
    """Why a right password opens nothing: every organization requires single sign-on from
    this person (accounts/session_scope.py). The message names each, with where to go instead."""
    routes = [route for org in organizations if (route := route_for_organization(org))]
    by_org = {route.organization.pk: route for route in routes}
    parts = []
    for organization in organizations:
        route = by_org.get(organization.pk)
        if route is not None:
            parts.append(
                f"{organization.name} signs you in through {route.provider_name}: "
                f"use Continue with {route.button}."
            )
        else:
            parts.append(f"{organization.name} signs you in through its identity provider.")
    return " ".join(parts), routes
