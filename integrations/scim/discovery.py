"""Discovery endpoints' content: ServiceProviderConfig (RFC 7643 §5) and the schemas.

ServiceProviderConfig advertises exactly what the service does, because Entra ID and other clients
decide how to talk to us from it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from integrations.scim.schema import schema_documents
from integrations.scim.tenancy import tenant_base_location

SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"


class ServiceProviderConfig:
    """django-scim2's SERVICE_PROVIDER_CONFIG_MODEL hook."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        self.request = request

    def to_dict(self) -> dict[str, Any]:
        base = tenant_base_location(self.request)
        return {
            "schemas": [SPC_SCHEMA],
            "documentationUri": f"{settings.SITE_URL}/integrations/scim/",
            "patch": {"supported": True},
            "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": True, "maxResults": settings.SCIM_MAX_RESULTS},
            "changePassword": {"supported": False},
            "sort": {"supported": True},
            "etag": {"supported": True},
            "authenticationSchemes": settings.SCIM_SERVICE_PROVIDER["AUTHENTICATION_SCHEMES"],
            "meta": {
                "location": f"{base}/ServiceProviderConfig",
                "resourceType": "ServiceProviderConfig",
            },
        }


def default_schemas() -> list[dict[str, Any]]:
    """django-scim2's SCHEMAS_GETTER hook (it is called without a request, at import time)."""
    return schema_documents(f"{settings.SITE_URL}/scim/v2")
