"""What owners and admins do to members from the panel: invite, suspend, reactivate, remove.

The same member services as the identity provider's changes run underneath; these functions add
the panel's rules: nobody locks themselves out, the last owner stays, and members the identity
provider manages are removed there, not here (a removal here would be undone by its next cycle).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F

from accounts.audit import Actor, audit_log_record
from accounts.exceptions import InvalidInput
from accounts.models import Member, Organization
from accounts.names import person_name
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
    *,
    organization: Organization,
    email: str,
    given_name: str,
    family_name: str,
    role: str,
    by: Member,
) -> Member:
    """Add someone by email from the panel and send the invitation now, whatever the policy.

    The name is required in two parts, so the identity provider that later looks the person up
    (`userName eq`) finds a complete SCIM user (`name.givenName`, `name.familyName`).
    """
    name = person_name(given=given_name, family=family_name)
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
            profile=MemberProfile(
                user_name=email,
                given_name=name.given,
                family_name=name.family,
                formatted_name=name.formatted,
            ),
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


def member_rename(*, member: Member, given_name: str, family_name: str, by: Member) -> bool:
    """A person corrects their own name on their account page. Returns whether it changed.

    Refused for a member the identity provider manages: it owns the name and its next cycle
    would put its own value back. The SCIM representation changes, so `version` (the ETag) moves.
    """
    if member.pk != by.pk:
        raise InvalidInput("You can only change your own name.")
    if member.source == Member.Source.IDENTITY_PROVIDER:
        raise InvalidInput(
            "Your name comes from your organization's identity provider: ask your administrator "
            "to change it there."
        )
    name = person_name(given=given_name, family=family_name)
    values = {
        "given_name": name.given,
        "family_name": name.family,
        "formatted_name": name.formatted,
        "full_name": name.formatted,
    }
    fields = tuple(values)
    before = {field: getattr(member, field) for field in fields}
    if before == values:
        return False
    with transaction.atomic():
        for field, value in values.items():
            setattr(member, field, value)
        member.version = F("version") + 1
        member.save(update_fields=[*fields, "version", "updated_at"])
        member.refresh_from_db(fields=["version", "updated_at"])
        if member.user is not None and member.user.full_name != name.formatted:
            member.user.full_name = name.formatted
            member.user.save(update_fields=["full_name"])
        audit_log_record(
            organization=member.organization,
            actor=_actor(by),
            action="member.renamed",
            target=member,
            target_label=member.user_name,
            before=before,
            after=values,
        )
    return True
