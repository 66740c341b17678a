"""SCIM User adapter: translates between SCIM documents and organization members.

It parses and validates, then hands a `MemberProfile` to the account services, which make the
change (audit row included) exactly as they would for the panel. The member's whole normalized
document is kept, so a GET returns every attribute that was set, the ones the product does not
model included (RFC 7643 §8.7.1 attributes, the enterprise extension, custom extensions).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from django.core.exceptions import ObjectDoesNotExist
from django.db import DatabaseError, transaction
from django.db.models import Model
from django.http import HttpRequest

from accounts.audit import Actor
from accounts.exceptions import AccountsError, AlreadyExists, LastOwner
from accounts.models import Member, MemberEmail, Organization, casefold_key
from accounts.services import (
    EmailAddress,
    MemberProfile,
    member_provision,
    member_remove,
    member_set_active,
    member_update_profile,
)
from accounts.services.roles import last_owner_protect
from integrations.deprovision_guard import (
    DeprovisioningHeld,
    deprovision_admit,
    deprovision_hold_record,
    deprovision_withdraw,
)
from integrations.models import HeldDeprovisioning
from integrations.scim.errors import DeprovisionHeld, InvalidValue, Mutability, Uniqueness
from integrations.scim.resources import ScimResource
from integrations.scim.schema import normalize_resource
from integrations.scim.tenancy import tenant_base_location

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
# Attributes the server owns: never stored in the document, always computed on output.
SERVER_OWNED = ("id", "meta", "groups", "active", "password")
# `active` comes from the member's status, so it is not stored; a stored `"active": null` records
# that the identity provider removed it (RFC 7644 §3.5.2.2: the attribute is then unassigned).
ACTIVE = "active"


logger = logging.getLogger("integrations.scim")


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


def check_length(
    value: str, *, model: type[Model], column: str, label: str, folded: bool = False
) -> None:
    """Refuse a value longer than the column that keeps it, naming the attribute (invalidValue).

    RFC 7643 sets no length on strings, the database does: PostgreSQL refuses a longer value,
    which would be a 500, where SQLite would keep it, and a truncated value would break Entra's
    rule to store values exactly as sent (scim-notes §2). A `folded` name is also stored
    case-folded in a `<column>_key` of the same size, and folding can lengthen it ("ß": "ss").
    """
    limit = getattr(model._meta.get_field(column), "max_length", None)
    length = max(len(value), len(casefold_key(value))) if folded else len(value)
    if isinstance(limit, int) and length > limit:
        raise InvalidValue(f"Attribute '{label}' is longer than {limit} characters.")


def _check_lengths(profile: MemberProfile) -> None:
    check_length(profile.user_name, model=Member, column="user_name", label="userName", folded=True)
    for label, column, value in (
        ("externalId", "external_id", profile.external_id),
        ("displayName", "display_name", profile.display_name),
        ("name.givenName", "given_name", profile.given_name),
        ("name.familyName", "family_name", profile.family_name),
        ("name.formatted", "formatted_name", profile.formatted_name),
        (f"{ENTERPRISE_SCHEMA}:manager.value", "manager_ref", profile.manager_ref),
    ):
        check_length(value, model=Member, column=column, label=label)
    for email in profile.emails:
        check_length(email.value, model=MemberEmail, column="value", label="emails.value")
        check_length(email.type, model=MemberEmail, column="type", label="emails.type")


@contextmanager
def atomic_guarded() -> Iterator[None]:
    """`transaction.atomic()` for a SCIM write the mass-deprovisioning guard may hold.

    The guard refuses inside the transaction, which then rolls back so nothing of the request is
    applied; the held change is recorded afterwards in a transaction of its own, so the refusal
    is remembered for the admin's decision instead of being rolled back with the request.
    """
    try:
        with transaction.atomic():
            yield
    except DeprovisionHeld as held:
        try:
            held.record()
        except (DatabaseError, ObjectDoesNotExist):
            # The 429 still protects the members; only the panel's list misses this request.
            logger.exception("Could not record a held deprovisioning")
        raise


def _admit_deprovisioning(member: Member, *, action: str, actor: Actor) -> None:
    """Refuse to lock the organization out, then ask the mass-deprovisioning guard.

    The last active owner is refused first, with `400 mutability` (the request can never
    succeed as it is, so a 429 that Entra retries would be wrong), and the guard neither counts
    nor holds it. Otherwise the guard's refusal becomes 429 + Retry-After.
    """
    change = "removal" if action == HeldDeprovisioning.Action.REMOVE else "suspension"
    try:
        last_owner_protect(member=member, change=change)
    except LastOwner as exc:
        raise Mutability(str(exc)) from None
    try:
        deprovision_admit(member=member, action=action, actor=actor)
    except DeprovisioningHeld as exc:
        held = exc.held
        raise DeprovisionHeld(
            exc.reason,
            retry_after=exc.retry_after,
            record=lambda: deprovision_hold_record(held),
        ) from None


def profile_from_document(
    document: dict[str, Any], *, active_unassigned: bool = False
) -> MemberProfile:
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
    if active_unassigned:
        stored[ACTIVE] = None
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


class ScimUser(ScimResource):
    obj: Member
    url_name = "scim:users"
    resource_type = "User"
    endpoint = "Users"

    @property
    def active_assigned(self) -> bool:
        """Whether `active` has a value: always, unless the identity provider removed it."""
        return ACTIVE not in self.obj.scim_attributes

    def current_document(self) -> dict[str, Any]:
        """The member as a SCIM document without server-owned attributes.

        A member created in the panel has no stored document yet; it is described from its
        columns, so the identity provider can find (`userName eq`) and adopt it, and with its
        `name` complete, which Okta's spec test requires of the first user it lists. A stored
        document is returned as the identity provider sent it (RFC 7644 §3.5.1 "replace").
        """
        member: Member = self.obj
        if member.scim_attributes:
            document = copy.deepcopy(member.scim_attributes)
        else:
            document = {"schemas": [USER_SCHEMA], "userName": member.user_name}
            if member.external_id:
                document["externalId"] = member.external_id
            name = {
                key: value
                for key, value in (
                    ("formatted", member.formatted_name),
                    ("familyName", member.family_name),
                    ("givenName", member.given_name),
                )
                if value
            }
            if name:
                document["name"] = name
            if member.full_name:
                document["displayName"] = member.full_name
            if member.email:
                document["emails"] = [{"value": member.email, "type": "work", "primary": True}]
        document.pop(ACTIVE, None)
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
        self._add_manager_reference(result)
        if self.active_assigned:
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

    def _add_manager_reference(self, result: dict[str, Any]) -> None:
        """`$ref` of the enterprise manager (RFC 7643 §4.3), derived from its id like a member's.

        The stored manager is only its id (Entra sends nothing else, scim-notes §4.8); the URI
        is this tenant's location of that id, whatever `$ref` the client sent.
        """
        enterprise = result.get(ENTERPRISE_SCHEMA)
        if not isinstance(enterprise, dict):
            return
        manager = enterprise.get("manager")
        if not isinstance(manager, dict) or not isinstance(manager.get("value"), str):
            return
        reference = f"{tenant_base_location(self.request)}/Users/{quote(manager['value'], safe='')}"
        result[ENTERPRISE_SCHEMA] = {**enterprise, "manager": {**manager, "$ref": reference}}

    def from_dict(self, d: dict[str, Any]) -> None:
        self.document = normalize_resource("User", d)

    def save(self) -> None:
        if self.document is None:  # pragma: no cover - views always call from_dict first
            raise RuntimeError("from_dict() must run before save()")
        self.apply(self.document)

    def apply(self, document: dict[str, Any], *, absent_active_is_unassigned: bool = False) -> bool:
        """Create or update the member from a normalized document; returns whether it changed.

        Without `active`, a POST or PUT gets the default, true (RFC 7644 §3.5.1 lets the service
        provider assign one). After a PATCH, a document without `active` means it was removed:
        it becomes unassigned (RFC 7644 §3.5.2.2) and the member's status is left as it was,
        so removing the attribute neither suspends nor reactivates anyone.
        """
        active = document.get("active")
        unassigned = active is None and absent_active_is_unassigned
        if active is None and not unassigned:
            active = True
        if not unassigned and not isinstance(active, bool):
            raise InvalidValue("active must be a boolean.")
        profile = profile_from_document(document, active_unassigned=unassigned)
        _check_lengths(profile)
        actor = identity_provider(self._request)
        if active is False and self.obj.pk is not None:
            # Before any write, so a held request changes nothing, its profile update included.
            _admit_deprovisioning(self.obj, action=HeldDeprovisioning.Action.SUSPEND, actor=actor)
        try:
            if self.obj.pk is None:
                organization: Organization = self.obj.organization
                self.obj = member_provision(
                    organization=organization, profile=profile, active=active, actor=actor
                )
                return True
            changed = member_update_profile(member=self.obj, profile=profile, actor=actor)
            if isinstance(active, bool):
                changed = member_set_active(member=self.obj, active=active, actor=actor) or changed
            if active is True:
                deprovision_withdraw(member=self.obj)
        except AlreadyExists as exc:
            raise Uniqueness(str(exc)) from exc
        except LastOwner as exc:
            raise Mutability(str(exc)) from exc
        except AccountsError as exc:
            raise InvalidValue(str(exc)) from exc
        return changed

    def delete(self) -> None:
        actor = identity_provider(self._request)
        _admit_deprovisioning(self.obj, action=HeldDeprovisioning.Action.REMOVE, actor=actor)
        try:
            member_remove(member=self.obj, actor=actor)
        except LastOwner as exc:
            raise Mutability(str(exc)) from exc

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
