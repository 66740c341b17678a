"""Members as the identity provider (or the panel) creates, updates, suspends and removes them.

The SCIM adapters translate a SCIM document into a `MemberProfile` and call these functions; the
panel calls the same ones. Each change runs in one transaction with its audit row, bumps the
member's `version` (SCIM meta.version and ETag) only when something really changed, and is a no-op
for a provisioning cycle that changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.audit import Actor, audit_log_record
from accounts.exceptions import AlreadyExists, InvalidInput
from accounts.models import GroupMembership, Member, MemberEmail, Organization, casefold_key
from accounts.services.invitations import (
    invitation_address_changed,
    invitation_for_new_member,
    invitations_revoke_for_member,
)
from accounts.services.roles import last_owner_protect

# Columns a profile sets; compared to decide whether anything changed and recorded in the audit.
PROFILE_FIELDS = (
    "user_name",
    "external_id",
    "email",
    "full_name",
    "display_name",
    "given_name",
    "family_name",
    "formatted_name",
    "manager_ref",
)


@dataclass(frozen=True)
class EmailAddress:
    value: str
    type: str = ""
    primary: bool = False


@dataclass(frozen=True)
class MemberProfile:
    """What the identity provider says about a person, already validated by the SCIM layer."""

    user_name: str
    external_id: str = ""
    display_name: str = ""
    given_name: str = ""
    family_name: str = ""
    formatted_name: str = ""
    manager_ref: str = ""
    emails: tuple[EmailAddress, ...] = ()
    # The whole normalized SCIM document, kept so a GET returns everything that was set.
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        joined = " ".join(part for part in (self.given_name, self.family_name) if part)
        return (self.display_name or self.formatted_name or joined)[:200]

    @property
    def invitation_address(self) -> str:
        """Where an invitation goes: the primary work email, another work email, the primary
        email, any email, and last the userName when it is an address. Entra ID sends `mail` as
        the work email and the UPN as userName; the UPN is often not a mailbox."""
        ranked = sorted(
            self.emails,
            key=lambda email: (email.type.lower() != "work", not email.primary),
        )
        for candidate in [email.value for email in ranked] + [self.user_name]:
            if _is_email(candidate):
                return candidate
        return ""


def _is_email(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return len(value) <= 254


def _profile_values(profile: MemberProfile) -> dict[str, str]:
    return {
        "user_name": profile.user_name,
        "external_id": profile.external_id,
        "email": profile.invitation_address,
        "full_name": profile.full_name,
        "display_name": profile.display_name,
        "given_name": profile.given_name,
        "family_name": profile.family_name,
        "formatted_name": profile.formatted_name,
        "manager_ref": profile.manager_ref,
    }


def _check_unique(
    organization: Organization, profile: MemberProfile, *, exclude: int | None
) -> None:
    """409 for a userName another live member has (case-insensitive): one query.

    Only userName is unique: it is what identity providers match users on (`userName eq`) and
    what people sign in with. externalId is the client's own identifier with no uniqueness
    (RFC 7643 §3.1), and clients repeat it, so it is never checked here.
    """
    live = Member.objects.filter(
        organization=organization, user_name_key=casefold_key(profile.user_name)
    ).exclude(status=Member.Status.DELETED)
    if exclude is not None:
        live = live.exclude(pk=exclude)
    if live.exists():
        raise AlreadyExists(f"A member with the userName {profile.user_name!r} already exists.")


def _replace_emails(member: Member, emails: tuple[EmailAddress, ...], *, new: bool = False) -> None:
    if not new:  # a member created a moment ago has no rows to delete
        MemberEmail.objects.filter(member=member).delete()
    MemberEmail.objects.bulk_create(
        MemberEmail(
            member=member,
            value=email.value[:320],
            value_key=casefold_key(email.value)[:320],
            type=email.type[:64],
            primary=email.primary,
        )
        for email in emails
    )


def member_provision(
    *,
    organization: Organization,
    profile: MemberProfile,
    active: bool,
    actor: Actor,
    source: str = Member.Source.IDENTITY_PROVIDER,
) -> Member:
    """Create a member: Invited when `active`, Suspended when the IdP creates them disabled.

    A person only becomes Active by completing registration; SCIM reports Invited as active.
    """
    if not profile.user_name.strip():
        raise InvalidInput("userName is required.")
    with transaction.atomic():
        _check_unique(organization, profile, exclude=None)
        now = timezone.now()
        member = Member(
            organization=organization,
            role=Member.Role.MEMBER,
            status=Member.Status.INVITED if active else Member.Status.SUSPENDED,
            source=source,
            scim_attributes=profile.attributes,
            suspended_at=None if active else now,
            **_profile_values(profile),
        )
        try:
            # No savepoint of its own: the error leaves this (outer) block, which rolls back.
            member.save()
        except IntegrityError as exc:  # a concurrent create of the same userName won
            raise AlreadyExists(
                f"A member with the userName {profile.user_name!r} already exists."
            ) from exc
        _replace_emails(member, profile.emails, new=True)
        audit_log_record(
            organization=organization,
            actor=actor,
            action="member.provisioned",
            target=member,
            target_label=member.user_name,
            after={**_profile_values(profile), "status": member.status},
        )
        # In the same transaction; the email itself is sent by a worker after commit.
        invitation_for_new_member(member=member, actor=actor, fresh=True)
    return member


def member_update_profile(*, member: Member, profile: MemberProfile, actor: Actor) -> bool:
    """Apply the identity provider's view of a person. Returns whether anything changed."""
    if not profile.user_name.strip():
        raise InvalidInput("userName is required.")
    values = _profile_values(profile)
    before = {name: getattr(member, name) for name in PROFILE_FIELDS}
    changed_fields = [name for name in PROFILE_FIELDS if before[name] != values[name]]
    attributes_changed = member.scim_attributes != profile.attributes
    adopted = member.source != Member.Source.IDENTITY_PROVIDER
    if not changed_fields and not attributes_changed and not adopted:
        return False
    with transaction.atomic():
        if "user_name" in changed_fields:
            _check_unique(member.organization, profile, exclude=member.pk)
        for name in changed_fields:
            setattr(member, name, values[name])
        member.scim_attributes = profile.attributes
        # A member invited from the panel and then matched by the IdP is managed by it from now on.
        member.source = Member.Source.IDENTITY_PROVIDER
        member.version = F("version") + 1
        try:
            with transaction.atomic():
                member.save(
                    update_fields=[
                        *changed_fields,
                        "scim_attributes",
                        "source",
                        "version",
                        "updated_at",
                    ]
                )
        except IntegrityError as exc:
            raise AlreadyExists(
                f"A member with the userName {profile.user_name!r} already exists."
            ) from exc
        member.refresh_from_db(fields=["version", "updated_at"])
        if attributes_changed:  # emails live in the document
            _replace_emails(member, profile.emails)
        audit_log_record(
            organization=member.organization,
            actor=actor,
            action="member.updated",
            target=member,
            target_label=member.user_name,
            before={name: before[name] for name in changed_fields} or None,
            after={name: values[name] for name in changed_fields}
            | ({"source": "idp"} if adopted else {})
            | ({"attributes": "changed"} if attributes_changed else {}),
        )
        if "email" in changed_fields:
            invitation_address_changed(member=member, actor=actor)
    return True


def member_set_active(*, member: Member, active: bool, actor: Actor) -> bool:
    """Suspend (`active: false`) or reactivate a member. Returns whether the status changed.

    Suspension keeps everything and blocks sign-in at the next request. Reactivation restores
    Active for a person who completed registration, and Invited for one who never did.
    """
    if member.status == Member.Status.DELETED:
        raise InvalidInput("A removed member cannot be changed.")
    if active:
        if member.status != Member.Status.SUSPENDED:
            return False
        new_status = Member.Status.ACTIVE if member.user_id else Member.Status.INVITED
    else:
        if member.status == Member.Status.SUSPENDED:
            return False
        new_status = Member.Status.SUSPENDED
    with transaction.atomic():
        if new_status == Member.Status.SUSPENDED:
            last_owner_protect(member=member, change="suspension")
        before = member.status
        member.status = new_status
        member.suspended_at = timezone.now() if new_status == Member.Status.SUSPENDED else None
        member.version = F("version") + 1
        member.save(update_fields=["status", "suspended_at", "version", "updated_at"])
        member.refresh_from_db(fields=["version", "updated_at"])
        audit_log_record(
            organization=member.organization,
            actor=actor,
            action="member.suspended" if not active else "member.reactivated",
            target=member,
            target_label=member.user_name,
            before={"status": before},
            after={"status": new_status},
        )
        if new_status == Member.Status.SUSPENDED:
            invitations_revoke_for_member(member=member)
        else:
            # Someone who never registered gets a fresh link; someone who did gets nothing.
            invitation_for_new_member(member=member, actor=actor)
    return True


def member_remove(*, member: Member, actor: Actor) -> None:
    """Mark a member Deleted: no access, gone from SCIM and groups, audit history kept.

    The userName is free again, so the identity provider can create the person anew.
    """
    if member.status == Member.Status.DELETED:
        return
    with transaction.atomic():
        last_owner_protect(member=member, change="removal")
        before = member.status
        removed_from = GroupMembership.objects.filter(member=member).delete()[0]
        invitations_revoke_for_member(member=member)
        member.status = Member.Status.DELETED
        member.deleted_at = timezone.now()
        member.version = F("version") + 1
        member.save(update_fields=["status", "deleted_at", "version", "updated_at"])
        member.refresh_from_db(fields=["version", "updated_at"])
        audit_log_record(
            organization=member.organization,
            actor=actor,
            action="member.removed",
            target=member,
            target_label=member.user_name,
            before={"status": before},
            after={"status": Member.Status.DELETED, "removed_from_groups": removed_from},
        )
