"""SCIM Group adapter: translates between SCIM documents and groups.

Members are never part of the stored document: they live in the membership table, are read only
when a response includes them (never for Entra's `excludedAttributes=members`), and change through
set operations sized by the request.
"""

from __future__ import annotations

import copy
from typing import Any

from django.http import HttpRequest

from accounts.exceptions import AccountsError, AlreadyExists
from accounts.models import Group, GroupMembership, Organization
from accounts.services import (
    SkippedMembers,
    group_create,
    group_delete,
    group_members_change,
    group_update,
)
from integrations.scim.errors import InvalidValue, Uniqueness
from integrations.scim.resources import ScimResource
from integrations.scim.schema import normalize_resource
from integrations.scim.tenancy import tenant_base_location
from integrations.scim.users import check_length, identity_provider

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
SERVER_OWNED = ("id", "meta", "members")
# How many skipped ids a provisioning-log warning lists before it only counts the rest.
WARNING_ID_LIMIT = 100
# A skipped "id" is whatever the client sent; the warning keeps this much of each.
WARNING_ID_CHARS = 64


def skipped_members_warning(skipped: SkippedMembers) -> str:
    """The provisioning log's warning for member ids a group write skipped, and why.

    Written for the organization's admin (the identity provider never sees it): an id of another
    organization reads exactly like one that never existed.
    """
    parts = []
    listed = 0
    for ids, reason in (
        (skipped.unknown, "Not a member of this organization"),
        (skipped.removed, "Removed from this organization"),
    ):
        if not ids:
            continue
        shown = [value[:WARNING_ID_CHARS] for value in ids[: max(WARNING_ID_LIMIT - listed, 0)]]
        listed += len(shown)
        more = f" and {len(ids) - len(shown)} more" if len(ids) > len(shown) else ""
        parts.append(f"{reason} ({len(ids)}): {', '.join(shown)}{more}")
    total = skipped.count
    return (
        f"Skipped {total} member id{'s' if total != 1 else ''} and applied the rest. "
        + "; ".join(parts)
        + "."
    )


def member_references(group: Group, base: str) -> list[dict[str, str]]:
    """All members as SCIM references, in one query (no per-member lookups)."""
    rows = (
        GroupMembership.objects.filter(group=group)
        .order_by("member_id")
        .values_list("member__scim_id", "member__full_name", "member__user_name")
    )
    return [
        {
            "value": str(scim_id),
            "$ref": f"{base}/Users/{scim_id}",
            "type": "User",
            "display": full_name or user_name,
        }
        for scim_id, full_name, user_name in rows
    ]


def _check_lengths(document: dict[str, Any]) -> None:
    for label, column, folded in (
        ("displayName", "display_name", True),
        ("externalId", "external_id", False),
    ):
        value = document.get(label)
        if isinstance(value, str):
            check_length(value.strip(), model=Group, column=column, label=label, folded=folded)


def member_ids(entries: list[Any]) -> list[str]:
    ids = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
            raise InvalidValue("Each member needs a 'value' with the member's id.")
        if str(entry.get("type", "User")).lower() == "group":
            raise InvalidValue("Nested groups are not supported: members must be users.")
        ids.append(entry["value"])
    return ids


class ScimGroup(ScimResource):
    obj: Group
    url_name = "scim:groups"
    resource_type = "Group"
    endpoint = "Groups"

    def current_document(self) -> dict[str, Any]:
        group: Group = self.obj
        document = copy.deepcopy(group.scim_attributes) or {"schemas": [GROUP_SCHEMA]}
        document["displayName"] = group.display_name
        if group.external_id:
            document["externalId"] = group.external_id
        else:
            document.pop("externalId", None)
        return document

    def to_dict(self, include_members: bool = True) -> dict[str, Any]:
        group: Group = self.obj
        document = self.current_document()
        schemas = document.pop("schemas", None) or [GROUP_SCHEMA]
        if GROUP_SCHEMA not in schemas:
            schemas = [GROUP_SCHEMA, *schemas]
        result: dict[str, Any] = {"schemas": schemas, "id": self.id}
        result.update(document)
        if include_members:
            result["members"] = member_references(group, tenant_base_location(self.request))
        result["meta"] = {
            "resourceType": "Group",
            "created": group.created_at.isoformat(),
            "lastModified": group.updated_at.isoformat(),
            "location": self.location,
            "version": self.etag,
        }
        return result

    def from_dict(self, d: dict[str, Any]) -> None:
        self.document = normalize_resource("Group", d)

    def save(self) -> None:
        if self.document is None:  # pragma: no cover - views always call from_dict first
            raise RuntimeError("from_dict() must run before save()")
        document = self.document
        members = member_ids(document.get("members", []))
        stored = {key: value for key, value in document.items() if key not in SERVER_OWNED}
        if self.obj.pk is None:
            _check_lengths(document)
            organization: Organization = self.obj.organization
            created = self._run(
                lambda: group_create(
                    organization=organization,
                    display_name=str(document.get("displayName", "")),
                    external_id=str(document.get("externalId", "")),
                    attributes=stored,
                    member_ids=members,
                    actor=identity_provider(self._request),
                )
            )
            self.obj = created.group
            self._report_skipped(created.skipped)
            return
        self.update(stored, replace_members=members)

    def update(
        self,
        stored: dict[str, Any],
        *,
        add: list[str] = (),  # type: ignore[assignment]
        remove: list[str] = (),  # type: ignore[assignment]
        replace_members: list[str] | None = None,
    ) -> bool:
        """Apply a new document and membership delta; `members_added`/`members_removed` keep
        the real changes for the provisioning log's outcome."""
        _check_lengths(stored)
        actor = identity_provider(self._request)
        group: Group = self.obj

        def change() -> bool:
            changed = group_update(
                group=group,
                display_name=str(stored.get("displayName", "")),
                external_id=str(stored.get("externalId", "")),
                attributes=stored,
                actor=actor,
            )
            added, removed, skipped = group_members_change(
                group=group, actor=actor, add=add, remove=remove, replace=replace_members
            )
            self.members_added, self.members_removed = added, removed
            self._report_skipped(skipped)
            return changed or bool(added or removed)

        return bool(self._run(change))

    def _report_skipped(self, skipped: SkippedMembers) -> None:
        """Member ids the write skipped go to the provisioning log as a warning; the identity
        provider gets the same success it would without them."""
        if skipped and self._request is not None:
            self._request.scim_warning = skipped_members_warning(skipped)

    def _run(self, action: Any) -> Any:
        try:
            return action()
        except AlreadyExists as exc:
            raise Uniqueness(str(exc)) from exc
        except AccountsError as exc:
            raise InvalidValue(str(exc)) from exc

    def delete(self) -> None:
        group_delete(group=self.obj, actor=identity_provider(self._request))

    @classmethod
    def resource_type_dict(cls, request: HttpRequest | None = None) -> dict[str, Any]:
        base = tenant_base_location(request)
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A group of members",
            "schema": GROUP_SCHEMA,
            "schemaExtensions": [],
            "meta": {"location": f"{base}/ResourceTypes/Group", "resourceType": "ResourceType"},
        }
