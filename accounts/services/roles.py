"""Roles: changed by owners in the panel, or granted by membership of the admin group.

Rules every path keeps: only owners grant or take away the owner role, the last active owner
never loses it, and group membership only ever moves people between member and admin.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from accounts.audit import Actor, audit_log_record
from accounts.exceptions import InvalidInput, LastOwner
from accounts.models import Group, GroupMembership, Member, Organization


def _active_owner_count(organization: Organization) -> int:
    return Member.objects.filter(
        organization=organization, role=Member.Role.OWNER, status=Member.Status.ACTIVE
    ).count()


def is_last_owner(member: Member) -> bool:
    return (
        member.role == Member.Role.OWNER
        and member.status == Member.Status.ACTIVE
        and _active_owner_count(member.organization) <= 1
    )


def last_owner_protect(*, member: Member, change: str) -> None:
    """Refuse a `change` ("suspension", "removal", "demotion") that would leave the
    organization without an active owner, nobody could then manage it or its members.

    Runs inside the caller's transaction and locks the organization's row first, so two
    concurrent changes (two owners suspended by two SCIM requests, or one demoted in the panel
    while the identity provider suspends the other) are counted one after the other and the
    second sees that only one owner is left. Only Active owners count: an owner who is suspended
    or never registered cannot sign in to the panel.
    """
    if member.role != Member.Role.OWNER or member.status != Member.Status.ACTIVE:
        return
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("last_owner_protect() must run inside the transaction that changes.")
    Organization.objects.select_for_update().only("pk").get(pk=member.organization_id)
    # Read again under the lock: `member` may have been loaded before another request changed it.
    owners = Member.objects.filter(
        organization_id=member.organization_id,
        role=Member.Role.OWNER,
        status=Member.Status.ACTIVE,
    )
    if not owners.filter(pk=member.pk).exists():
        return
    if not owners.exclude(pk=member.pk).exists():
        raise LastOwner(
            f"{member.user_name} is the last owner of this organization in the admin panel; "
            f"make another owner first. The {change} was not applied."
        )


def member_change_role(*, member: Member, role: str, by: Member) -> bool:
    """An admin or owner changes someone's role by hand. Returns whether it changed."""
    if role not in Member.Role.values:
        raise InvalidInput("Unknown role.")
    if member.organization_id != by.organization_id or not by.is_admin:
        raise InvalidInput("Only owners and admins of this organization can change roles.")
    if Member.Role.OWNER in (role, member.role) and by.role != Member.Role.OWNER:
        raise InvalidInput("Only owners can grant or remove the owner role.")
    if member.status == Member.Status.DELETED:
        raise InvalidInput("A removed member has no role to change.")
    if role == member.role:
        return False
    with transaction.atomic():
        # The organization first, then the member: the order every owner-count check locks in.
        Organization.objects.select_for_update().only("pk").get(pk=member.organization_id)
        locked = Member.objects.select_for_update().get(pk=member.pk)
        if role != Member.Role.OWNER and is_last_owner(locked):
            raise LastOwner(
                "The last owner cannot lose the owner role. Make someone else owner first."
            )
        before = locked.role
        locked.role = role
        locked.role_from_group = False
        locked.save(update_fields=["role", "role_from_group"])
        member.role, member.role_from_group = role, False
        audit_log_record(
            organization=member.organization,
            actor=Actor.for_user(by.user) if by.user else Actor.system(),
            action="member.role_changed",
            target=member,
            target_label=member.user_name,
            before={"role": before},
            after={"role": role},
        )
    return True


def sync_admin_group_roles(
    *, organization: Organization, member_ids: Iterable[int], actor: Actor
) -> tuple[int, int]:
    """Bring the role of these members in line with the admin group: members of it become
    admins, group-granted admins outside it become members again. Returns (granted, revoked)."""
    ids = set(member_ids)
    if not ids:
        return 0, 0
    admin_group_id = organization.admin_group_id
    in_group: set[int] = set()
    if admin_group_id is not None:
        in_group = set(
            GroupMembership.objects.filter(group_id=admin_group_id, member_id__in=ids).values_list(
                "member_id", flat=True
            )
        )
    grant = Member.objects.filter(pk__in=in_group, role=Member.Role.MEMBER).exclude(
        status=Member.Status.DELETED
    )
    revoke = Member.objects.filter(
        pk__in=ids - in_group, role=Member.Role.ADMIN, role_from_group=True
    )
    granted_rows = list(grant.values_list("pk", "user_name"))
    revoked_rows = list(revoke.values_list("pk", "user_name"))
    grant.update(role=Member.Role.ADMIN, role_from_group=True)
    revoke.update(role=Member.Role.MEMBER, role_from_group=False)
    for rows, before, after in (
        (granted_rows, Member.Role.MEMBER, Member.Role.ADMIN),
        (revoked_rows, Member.Role.ADMIN, Member.Role.MEMBER),
    ):
        for pk, user_name in rows:
            audit_log_record(
                organization=organization,
                actor=actor,
                action="member.role_changed",
                target=Member(pk=pk),
                target_label=user_name,
                before={"role": before},
                after={"role": after, "via": "admin group"},
            )
    return len(granted_rows), len(revoked_rows)


def organization_set_admin_group(
    *, organization: Organization, group: Group | None, by: Member
) -> None:
    """Map one identity-provider group to the admin role (owners only), or clear the mapping."""
    if by.role != Member.Role.OWNER or by.organization_id != organization.pk:
        raise InvalidInput("Only owners can choose the admin group.")
    if group is not None and group.organization_id != organization.pk:
        raise InvalidInput("That group belongs to another organization.")
    actor = Actor.for_user(by.user) if by.user else Actor.system()
    with transaction.atomic():
        locked = Organization.objects.select_for_update().get(pk=organization.pk)
        previous = locked.admin_group_id
        if previous == (group.pk if group else None):
            return
        locked.admin_group = group
        locked.save(update_fields=["admin_group", "updated_at"])
        organization.admin_group = group
        affected = set(
            GroupMembership.objects.filter(
                group_id__in=[pk for pk in (previous, group.pk if group else None) if pk]
            ).values_list("member_id", flat=True)
        ) | set(
            Member.objects.filter(organization=organization, role_from_group=True).values_list(
                "pk", flat=True
            )
        )
        sync_admin_group_roles(organization=organization, member_ids=affected, actor=actor)
        audit_log_record(
            organization=organization,
            actor=actor,
            action="organization.admin_group_changed",
            target=organization,
            before={"admin_group": previous},
            after={"admin_group": group.display_name if group else None},
        )
