"""What owners and admins do to members from the panel: invite, suspend, reactivate, remove.

The same member services as the identity provider's changes run underneath; these functions add
the panel's rules: nobody locks themselves out, the last owner stays, and members the identity
provider manages are removed there, not here (a removal here would be undone by its next cycle).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from accounts.audit import Actor
from accounts.exceptions import InvalidInput
from accounts.models import Member, Organization
from accounts.services.invitations import invitation_create
from accounts.services.members import (
    MemberProfile,
    member_provision,
    member_remove,
    member_set_active,
)
from accounts.services.roles import is_last_owner


def _actor(by: Member) -> Actor:
    return Actor.for_user(by.user) if by.user else Actor.system()


def _check_can_manage(member: Member, by: Member) -> None:
    if member.organization_id != by.organization_id or not by.is_admin:
        raise InvalidInput("Only owners and admins of this organization can do that.")
    if member.pk == by.pk:
        raise InvalidInput("You cannot do that to your own account.")
    if member.role == Member.Role.OWNER and by.role != Member.Role.OWNER:
        raise InvalidInput("Only owners can suspend or remove an owner.")
    if is_last_owner(member):
        raise InvalidInput("The last owner cannot be suspended or removed.")


def member_invite(
    *, organization: Organization, email: str, full_name: str, role: str, by: Member
) -> Member:
    """Add someone by email from the panel and send the invitation now, whatever the policy."""
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvalidInput(f"{email!r} is not a valid email address.") from exc
    if role not in (Member.Role.MEMBER, Member.Role.ADMIN) and by.role != Member.Role.OWNER:
        raise InvalidInput("Only owners can invite another owner.")
    with transaction.atomic():
        member = member_provision(
            organization=organization,
            profile=MemberProfile(user_name=email, display_name=full_name.strip()),
            active=True,
            actor=_actor(by),
            source=Member.Source.PANEL,
        )
        if role != member.role:
            Member.objects.filter(pk=member.pk).update(role=role)
            member.role = role
        if not member.invitations.exists():  # the manual policy stages; an admin's click sends
            invitation_create(member=member, actor=_actor(by))
    return member


def member_suspend(*, member: Member, by: Member) -> bool:
    _check_can_manage(member, by)
    return member_set_active(member=member, active=False, actor=_actor(by))


def member_reactivate(*, member: Member, by: Member) -> bool:
    _check_can_manage(member, by)
    return member_set_active(member=member, active=True, actor=_actor(by))


def member_remove_from_panel(*, member: Member, by: Member) -> None:
    _check_can_manage(member, by)
    if member.source == Member.Source.IDENTITY_PROVIDER:
        raise InvalidInput(
            "This member is managed by your identity provider: remove them there (unassign them "
            "from the application) and the change arrives here with its next cycle."
        )
    member_remove(member=member, actor=_actor(by))
