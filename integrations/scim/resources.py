"""What the User and Group adapters share: identity, location and version of a resource."""

from __future__ import annotations

from typing import Any, ClassVar

from django.http import HttpRequest
from django_scim.adapters import SCIMMixin

from integrations.scim.responses import etag_for
from integrations.scim.tenancy import tenant_base_location


class ScimResource(SCIMMixin):
    """A django-scim2 adapter over a model with `scim_id` and `version` columns."""

    endpoint: ClassVar[str]  # "Users" or "Groups"
    id_field = "scim_id"

    def __init__(self, obj: Any, request: HttpRequest | None = None) -> None:
        super().__init__(obj, request=request)
        self.document: dict[str, Any] | None = None
        self.members_added = self.members_removed = 0

    @property
    def id(self) -> str:
        return str(self.obj.scim_id)

    @property
    def location(self) -> str:
        """Always under the organization's own Tenant URL (SITE_URL), never the Host header."""
        return f"{tenant_base_location(self.request)}/{self.endpoint}/{self.id}"

    @property
    def etag(self) -> str:
        return etag_for(self.obj.version)
