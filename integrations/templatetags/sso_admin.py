"""`{% sso_secret_banner %}`: the dashboard's warning that the single sign-on client secret
expires within 30 days, or has expired (the provider page shows the same on its card)."""

from __future__ import annotations

from typing import Any

from django import template

from integrations.providers import PROVIDERS_BY_SLUG
from integrations.sso import sso_connection_for, sso_secret_expiry

register = template.Library()


@register.inclusion_tag("integrations/_sso_secret_banner.html", takes_context=True)
def sso_secret_banner(context: template.Context) -> dict[str, Any]:
    organization = context.get("current_organization")
    connection = sso_connection_for(organization) if organization is not None else None
    provider = PROVIDERS_BY_SLUG.get(connection.provider) if connection is not None else None
    return {"expiry": sso_secret_expiry(connection), "provider": provider}
