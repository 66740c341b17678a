"""The identity providers the Integrations page offers. They all speak to the same SCIM endpoint."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    slug: str
    name: str
    summary: str


PROVIDERS: tuple[Provider, ...] = (
    Provider(
        slug="entra-id",
        name="Microsoft Entra ID",
        summary="Provision users and groups from Microsoft Entra ID (formerly Azure AD).",
    ),
    Provider(
        slug="okta",
        name="Okta",
        summary="Push users, deactivations and groups from Okta.",
    ),
    Provider(
        slug="scim",
        name="Other SCIM 2.0 client",
        summary="JumpCloud, OneLogin and any client that speaks SCIM 2.0.",
    ),
)
