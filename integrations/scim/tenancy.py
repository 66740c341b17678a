"""The tenant of a SCIM request: found from the Tenant URL, enforced by every lookup.

These are django-scim2's settings hooks (BASE_LOCATION_GETTER, GET_EXTRA_MODEL_*_KWARGS_GETTER):
the library calls them, and so do this project's own views, so every query of a SCIM request is
scoped to the organization whose token was presented, and every `meta.location` points at that
organization's Tenant URL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from accounts.models import Member, Organization


def request_organization(request: HttpRequest) -> Organization:
    """Set by the SCIM middleware once the token is verified; absent means unauthenticated."""
    organization = getattr(request, "scim_organization", None)
    if organization is None:  # pragma: no cover - the middleware rejects such requests first
        raise RuntimeError("SCIM request without an authenticated organization")
    return organization


def tenant_base_url(organization: Organization) -> str:
    return f"{settings.SITE_URL}/scim/v2/{organization.tenant_id}"


def tenant_base_location(request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> str:
    if request is None:
        return f"{settings.SITE_URL}/scim/v2"
    return tenant_base_url(request_organization(request))


def tenant_filter_kwargs_getter(model: type) -> Callable[..., dict[str, Any]]:
    def get_extra_filter_kwargs(request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"organization": request_organization(request)}

    return get_extra_filter_kwargs


def removed_exclude_kwargs_getter(model: type) -> Callable[..., dict[str, Any]]:
    """Removed (deleted) members are invisible to SCIM: GET answers 404 and lists skip them."""

    def get_extra_exclude_kwargs(request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"status": Member.Status.DELETED} if model is Member else {}

    return get_extra_exclude_kwargs
