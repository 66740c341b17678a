"""The identity providers the Integrations page offers. They all speak to the same SCIM endpoint;
each has its own setup guide."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404


@dataclass(frozen=True)
class Provider:
    slug: str
    name: str
    summary: str

    @property
    def steps_template(self) -> str:
        return f"integrations/steps/{self.slug}.html"


ENTRA_ID = Provider(
    slug="entra-id",
    name="Microsoft Entra ID",
    summary="Provision users and groups from Microsoft Entra ID (formerly Azure AD).",
)
OKTA = Provider(
    slug="okta",
    name="Okta",
    summary="Push new users, profile changes, deactivations and groups from Okta.",
)
OTHER_SCIM = Provider(
    slug="scim",
    name="Other SCIM 2.0 client",
    summary="JumpCloud, OneLogin and any other client that speaks SCIM 2.0.",
)
PROVIDERS: tuple[Provider, ...] = (ENTRA_ID, OKTA, OTHER_SCIM)
PROVIDERS_BY_SLUG = {provider.slug: provider for provider in PROVIDERS}


def get_provider_or_404(slug: str) -> Provider:
    try:
        return PROVIDERS_BY_SLUG[slug]
    except KeyError:
        raise Http404("No such identity provider.") from None
