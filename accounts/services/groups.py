"""Groups and their membership, as the identity provider pushes them.

Membership changes are set operations whose cost follows the members named in the request, never
the size of the group: Entra ID adds members to 50,000-member groups in batches of a few hundred.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.audit import Actor, audit_log_record
from accounts.exceptions import AlreadyExists, InvalidInput
from accounts.models import Group, GroupMembership, Member, Organization, casefold_key
from accounts.services.roles import sync_admin_group_roles

# How many member ids an audit row lists before it only counts them.
AUDIT_ID_LIMIT = 50


@dataclass(frozen=True)
class SkippedMembers:
    """Member ids a group write named but could not link, and why.

    `unknown`: no member of this organization has the id (it never existed, or it belongs to
    another organization: the two are one case, so ids leak nothing across tenants). `removed`:
    a member removed from this organization. Both keep the order the request listed them in.
    """

    unknown: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.unknown or self.removed)

    @property
    def count(self) -> int:
        return len(self.unknown) + len(self.removed)


class GroupCreated(NamedTuple):
    group: Group
    skipped: SkippedMembers


class MembershipChange(NamedTuple):
    """What a membership write did: real additions and removals, and the ids it skipped."""

    added: int
    removed: int
    skipped: SkippedMembers


def _resolve_members(
    organization: Organization, member_ids: Iterable[str]
) -> tuple[dict[str, int], SkippedMembers]:
    """Map SCIM member ids to primary keys of this organization's live members.

    An id that is not one (unknown, another organization's, removed a moment earlier, not even a
    UUID) is skipped, never refused: Entra ID re-sends the same batch of up to 100 members every
    cycle, so refusing the write for one stale id would block the others forever and put the
    provisioning job in quarantine. The caller reports what was skipped.
    """
    wanted: dict[uuid.UUID, str] = {}
    unparsable: list[str] = []
    for raw in member_ids:
        text = str(raw)
        try:
            wanted.setdefault(uuid.UUID(text), text)
        except ValueError:
            unparsable.append(text)
    rows = (
        (
            Member.objects.filter(organization=organization, scim_id__in=wanted)
            .order_by()  # Member's default ordering would join and sort by organization
            .values_list("scim_id", "pk", "status")
        )
        if wanted
        else []
    )
    live: dict[uuid.UUID, int] = {}
    removed_ids: set[uuid.UUID] = set()
    for scim_id, pk, status in rows:
        if status == Member.Status.DELETED:
            removed_ids.add(scim_id)
        else:
            live[scim_id] = pk
    unknown: list[str] = unparsable
    removed: list[str] = []
    for scim_id, text in wanted.items():
        if scim_id not in live:
            (removed if scim_id in removed_ids else unknown).append(text)
    skipped = SkippedMembers(unknown=tuple(unknown), removed=tuple(removed))
    return {str(scim_id): pk for scim_id, pk in live.items()}, skipped


def _check_unique(organization: Organization, display_name: str, *, exclude: int | None) -> None:
    """409 for a displayName another group has, in any case. externalId is not unique (RFC 7643
    §3.1): clients repeat it, and `externalId eq` returns every match."""
    groups = Group.objects.filter(organization=organization)
    if exclude is not None:
        groups = groups.exclude(pk=exclude)
    if groups.filter(display_name_key=casefold_key(display_name)).exists():
        raise AlreadyExists(f"A group named {display_name!r} already exists.")


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
) -> GroupCreated:
    """Create a group with the live members among `member_ids`; the others are skipped and
    returned (see `_resolve_members`)."""
    display_name = display_name.strip()
    if not display_name:
        raise InvalidInput("displayName is required.")
    with transaction.atomic():
        _check_unique(organization, display_name, exclude=None)
        members, skipped = _resolve_members(organization, member_ids)
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
    return GroupCreated(group, skipped)


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
        _check_unique(group.organization, display_name, exclude=group.pk)
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
) -> MembershipChange:
    """Add, remove or replace members; returns the counts of real changes and the skipped ids.

    Adding a present member and removing an absent one are no-ops (Entra ID re-sends both). An id
    to add (or to keep, in a replace) that is not a live member here is skipped and returned, the
    rest applied (see `_resolve_members`). An id to remove that is not a live member is ignored
    silently: it may be a member removed a moment earlier, and the end state is what was asked.
    """
    organization = group.organization
    with transaction.atomic():
        if replace is not None:
            wanted, skipped = _resolve_members(organization, replace)
            current = set(
                GroupMembership.objects.filter(group=group).values_list("member_id", flat=True)
            )
            to_add_pks = set(wanted.values()) - current
            to_remove_pks = current - set(wanted.values())
        else:
            additions, skipped = _resolve_members(organization, add)
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
    return MembershipChange(added, removed, skipped)


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
