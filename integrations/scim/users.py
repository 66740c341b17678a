"""SCIM User adapter: translates between SCIM documents and organization members.

It parses and validates, then hands a `MemberProfile` to the account services, which make the
change (audit row included) exactly as they would for the panel. The member's whole normalized
document is kept, so a GET returns every attribute that was set, the ones the product does not
model included (RFC 7643 §8.7.1 attributes, the enterprise extension, custom extensions).
"""

from __future__ import annotations

import copy
from typing import Any

from django.http import HttpRequest
from django_scim.adapters import SCIMMixin

from accounts.audit import Actor
from accounts.exceptions import AccountsError, AlreadyExists
from accounts.models import Member, Organization
from accounts.services import (
    EmailAddress,
    MemberProfile,
    member_provision,
    member_remove,
    member_set_active,
    member_update_profile,
)
from integrations.scim.errors import InvalidValue, Uniqueness
from integrations.scim.responses import etag_for
from integrations.scim.schema import normalize_resource
from integrations.scim.tenancy import tenant_base_location

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
# Attributes the server owns: never stored in the document, always computed on output.
SERVER_OWNED = ("id", "meta", "groups", "active", "password")


def member_model() -> type[Member]:
    """django-scim2's USER_MODEL_GETTER hook."""
    return Member


def identity_provider(request: HttpRequest | None) -> Actor:
    from integrations.scim.middleware import detect_client

    labels = {"entra-id": "Microsoft Entra ID", "okta": "Okta"}
    kind = detect_client(request) if request is not None else ""
    return Actor.identity_provider(labels.get(kind, "Identity provider (SCIM)"))


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def profile_from_document(document: dict[str, Any]) -> MemberProfile:
    raw_name = document.get("name")
    name: dict[str, Any] = raw_name if isinstance(raw_name, dict) else {}
    emails = tuple(
        EmailAddress(
            value=entry["value"].strip(),
            type=_text(entry.get("type")),
            primary=entry.get("primary") is True,
        )
        for entry in document.get("emails", [])
        if isinstance(entry, dict)
        and isinstance(entry.get("value"), str)
        and entry["value"].strip()
    )
    stored = {key: value for key, value in document.items() if key not in SERVER_OWNED}
    enterprise = document.get(ENTERPRISE_SCHEMA)
    manager = enterprise.get("manager") if isinstance(enterprise, dict) else None
    return MemberProfile(
        user_name=_text(document.get("userName")),
        external_id=_text(document.get("externalId")),
        display_name=_text(document.get("displayName")),
        given_name=_text(name.get("givenName")),
        family_name=_text(name.get("familyName")),
        formatted_name=_text(name.get("formatted")),
        manager_ref=_text(manager.get("value")) if isinstance(manager, dict) else "",
        emails=emails,
        attributes=stored,
    )


class ScimUser(SCIMMixin):
    obj: Member
    url_name = "scim:users"
    resource_type = "User"
    id_field = "scim_id"

    def __init__(self, obj: Member, request: HttpRequest | None = None) -> None:
        super().__init__(obj, request=request)
        self.document: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return str(self.obj.scim_id)

    @property
    def location(self) -> str:
        return f"{tenant_base_location(self.request)}/Users/{self.id}"

    @property
    def etag(self) -> str:
        return etag_for(self.obj.version)

    def current_document(self) -> dict[str, Any]:
        """The member as a SCIM document without server-owned attributes.

        A member created in the panel has no stored document yet; it is described from its
        columns, so the identity provider can find (`userName eq`) and adopt it.
        """
        member: Member = self.obj
        if member.scim_attributes:
            document = copy.deepcopy(member.scim_attributes)
        else:
            document = {"schemas": [USER_SCHEMA], "userName": member.user_name}
            if member.external_id:
                document["externalId"] = member.external_id
            if member.full_name:
                document["displayName"] = member.full_name
            if member.email:
                document["emails"] = [{"value": member.email, "type": "work", "primary": True}]
        document["userName"] = member.user_name
        return document

    def to_dict(self, groups: list[dict[str, str]] | None = None) -> dict[str, Any]:
        member: Member = self.obj
        document = self.current_document()
        schemas = document.pop("schemas", None) or [USER_SCHEMA]
        if USER_SCHEMA not in schemas:
            schemas = [USER_SCHEMA, *schemas]
        result: dict[str, Any] = {"schemas": schemas, "id": self.id}
        result.update(document)
        result["active"] = member.scim_active
        if groups is not None:
            result["groups"] = groups
        result["meta"] = {
            "resourceType": "User",
            "created": member.created_at.isoformat(),
            "lastModified": member.updated_at.isoformat(),
            "location": self.location,
            "version": self.etag,
        }
        return result

    def from_dict(self, d: dict[str, Any]) -> None:
        self.document = normalize_resource("User", d)

    def save(self) -> None:
        if self.document is None:  # pragma: no cover - views always call from_dict first
            raise RuntimeError("from_dict() must run before save()")
        self.apply(self.document)

    def apply(self, document: dict[str, Any]) -> bool:
        """Create or update the member from a normalized document; returns whether it changed."""
        active = document.get("active", True)
        if not isinstance(active, bool):
            raise InvalidValue("active must be a boolean.")
        profile = profile_from_document(document)
        actor = identity_provider(self._request)
        try:
            if self.obj.pk is None:
                organization: Organization = self.obj.organization
                self.obj = member_provision(
                    organization=organization, profile=profile, active=active, actor=actor
                )
                return True
            changed = member_update_profile(member=self.obj, profile=profile, actor=actor)
            changed = member_set_active(member=self.obj, active=active, actor=actor) or changed
        except AlreadyExists as exc:
            raise Uniqueness(str(exc)) from exc
        except AccountsError as exc:
            raise InvalidValue(str(exc)) from exc
        return changed

    def delete(self) -> None:
        member_remove(member=self.obj, actor=identity_provider(self._request))

    @classmethod
    def resource_type_dict(cls, request: HttpRequest | None = None) -> dict[str, Any]:
        base = tenant_base_location(request)
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "A member of the organization",
            "schema": USER_SCHEMA,
            "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": False}],
            "meta": {"location": f"{base}/ResourceTypes/User", "resourceType": "ResourceType"},
        }
