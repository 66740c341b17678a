"""Groups and their membership, as the identity provider pushes them.

Membership changes are set operations whose cost follows the members named in the request, never
the size of the group: Entra ID adds members to 50,000-member groups in batches of a few hundred.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.audit import Actor, audit_log_record
from accounts.exceptions import AlreadyExists, InvalidInput
from accounts.models import Group, GroupMembership, Member, Organization, casefold_key
from accounts.services.roles import sync_admin_group_roles

# How many member ids an audit row lists before it only counts them.
AUDIT_ID_LIMIT = 50


def _resolve_members(organization: Organization, member_ids: Iterable[str]) -> dict[str, int]:
    """Map SCIM member ids to primary keys, refusing any id that is not a live member here.

    A foreign organization's member, a removed member, a group id (nested groups are not
    supported) and garbage are all refused the same way, so ids leak nothing across tenants.
    """
    wanted: set[uuid.UUID] = set()
    for raw in member_ids:
        try:
            wanted.add(uuid.UUID(str(raw)))
        except ValueError:
            raise InvalidInput(f"{raw!r} is not a member of this organization.") from None
    if not wanted:
        return {}
    found = dict(
        Member.objects.filter(organization=organization, scim_id__in=wanted)
        .exclude(status=Member.Status.DELETED)
        .order_by()  # Member's default ordering would join and sort by organization
        .values_list("scim_id", "pk")
    )
    missing = wanted - set(found)
    if missing:
        example = sorted(str(value) for value in missing)[0]
        raise InvalidInput(
            f"{len(missing)} member id(s) are not members of this organization, e.g. {example!r}."
        )
    return {str(scim_id): pk for scim_id, pk in found.items()}


def _check_unique(
    organization: Organization, display_name: str, external_id: str, *, exclude: int | None
) -> None:
    groups = Group.objects.filter(organization=organization)
    if exclude is not None:
        groups = groups.exclude(pk=exclude)
    if groups.filter(display_name_key=casefold_key(display_name)).exists():
        raise AlreadyExists(f"A group named {display_name!r} already exists.")
    if external_id and groups.filter(external_id=external_id).exists():
        raise AlreadyExists(f"A group with the externalId {external_id!r} already exists.")


def _audit_ids(ids: list[str]) -> dict[str, Any]:
    return {"count": len(ids), "ids": ids[:AUDIT_ID_LIMIT]}


def group_create(
    *,
    organization: Organization,
    display_name: str,
    external_id: str,
    attributes: dict[str, Any],
    member_ids: list[str],
    actor: Actor,
    source: str = Member.Source.IDENTITY_PROVIDER,
) -> Group:
    display_name = display_name.strip()
    if not display_name:
        raise InvalidInput("displayName is required.")
    with transaction.atomic():
        _check_unique(organization, display_name, external_id, exclude=None)
        members = _resolve_members(organization, member_ids)
        group = Group(
            organization=organization,
            display_name=display_name[:256],
            external_id=external_id,
            scim_attributes=attributes,
            source=source,
        )
        try:
            with transaction.atomic():
                group.save()
        except IntegrityError as exc:
            raise AlreadyExists(f"A group named {display_name!r} already exists.") from exc
        GroupMembership.objects.bulk_create(
            GroupMembership(group=group, member_id=pk) for pk in members.values()
        )
        _sync_roles(group, set(members.values()), actor)
        audit_log_record(
            organization=organization,
            actor=actor,
            action="group.created",
            target=group,
            after={"displayName": group.display_name, "members": _audit_ids(list(members))},
        )
    return group


def group_update(
    *,
    group: Group,
    display_name: str,
    external_id: str,
    attributes: dict[str, Any],
    actor: Actor,
) -> bool:
    display_name = display_name.strip()
    if not display_name:
        raise InvalidInput("displayName is required.")
    before = {"displayName": group.display_name, "externalId": group.external_id}
    after = {"displayName": display_name, "externalId": external_id}
    if before == after and group.scim_attributes == attributes:
        return False
    with transaction.atomic():
        _check_unique(group.organization, display_name, external_id, exclude=group.pk)
        group.display_name = display_name[:256]
        group.external_id = external_id
        group.scim_attributes = attributes
        group.source = Member.Source.IDENTITY_PROVIDER
        group.version = F("version") + 1
        try:
            with transaction.atomic():
                group.save(
                    update_fields=[
                        "display_name",
                        "external_id",
                        "scim_attributes",
                        "source",
                        "version",
                        "updated_at",
                    ]
                )
        except IntegrityError as exc:
            raise AlreadyExists(f"A group named {display_name!r} already exists.") from exc
        group.refresh_from_db(fields=["version", "updated_at"])
        audit_log_record(
            organization=group.organization,
            actor=actor,
            action="group.updated",
            target=group,
            before=before,
            after=after,
        )
    return True


def group_members_change(
    *,
    group: Group,
    actor: Actor,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    replace: Iterable[str] | None = None,
) -> tuple[int, int]:
    """Add, remove or replace members; returns (added, removed) counts of real changes.

    Adding a present member and removing an absent one are no-ops (Entra ID re-sends both). An id
    to remove that is not a live member here is ignored rather than refused: it may be a member
    removed from the organization a moment earlier, and the end state is what was asked.
    """
    organization = group.organization
    with transaction.atomic():
        if replace is not None:
            wanted = _resolve_members(organization, replace)
            current = set(
                GroupMembership.objects.filter(group=group).values_list("member_id", flat=True)
            )
            to_add_pks = set(wanted.values()) - current
            to_remove_pks = current - set(wanted.values())
        else:
            additions = _resolve_members(organization, add)
            to_add_pks = set(additions.values())
            removal_ids = []
            for raw in remove:
                try:
                    removal_ids.append(uuid.UUID(str(raw)))
                except ValueError:
                    continue
            to_remove_pks = set(
                Member.objects.filter(organization=organization, scim_id__in=removal_ids)
                .order_by()
                .values_list("pk", flat=True)
            )
            overlap = to_add_pks & to_remove_pks
            to_add_pks -= overlap
        removed = 0
        if to_remove_pks:
            removed = GroupMembership.objects.filter(
                group=group, member_id__in=to_remove_pks
            ).delete()[0]
        added = 0
        if to_add_pks:
            existing = set(
                GroupMembership.objects.filter(group=group, member_id__in=to_add_pks).values_list(
                    "member_id", flat=True
                )
            )
            new = to_add_pks - existing
            GroupMembership.objects.bulk_create(
                (GroupMembership(group=group, member_id=pk) for pk in new),
                ignore_conflicts=True,
            )
            added = len(new)
        _sync_roles(group, to_add_pks | to_remove_pks, actor)
        if added or removed:
            Group.objects.filter(pk=group.pk).update(
                version=F("version") + 1, updated_at=timezone.now()
            )
            group.refresh_from_db(fields=["version", "updated_at"])
            audit_log_record(
                organization=organization,
                actor=actor,
                action="group.members_changed",
                target=group,
                after={"added": added, "removed": removed},
            )
    return added, removed


def _sync_roles(group: Group, member_ids: set[int], actor: Actor) -> None:
    """Membership of the admin group carries the admin role (see services.roles)."""
    organization = Organization.objects.only("admin_group").get(pk=group.organization_id)
    if member_ids and organization.admin_group_id == group.pk:
        sync_admin_group_roles(organization=organization, member_ids=member_ids, actor=actor)


def group_delete(*, group: Group, actor: Actor) -> None:
    with transaction.atomic():
        was_admin_group = Organization.objects.filter(
            pk=group.organization_id, admin_group=group
        ).exists()
        former_members = set(
            GroupMembership.objects.filter(group=group).values_list("member_id", flat=True)
        )
        audit_log_record(
            organization=group.organization,
            actor=actor,
            action="group.deleted",
            target=group,
            before={"displayName": group.display_name, "externalId": group.external_id},
        )
        organization = group.organization
        group.delete()
        if was_admin_group:
            organization.refresh_from_db(fields=["admin_group"])
            sync_admin_group_roles(
                organization=organization, member_ids=former_members, actor=actor
            )
