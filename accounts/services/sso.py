"""Single sign-on: who an identity provider's assertion is, in one organization, and what follows.

The protocol (state, PKCE, the ID token) is integrations/oidc.py; this module decides what a
validated `SsoIdentity` means for organization A:

1. The member of A it is: first by an `SsoLink` (issuer + the provider's stable id), else by the
   identity the provider asserts for the userName it provisioned (Entra ID's and Okta's
   `preferred_username`, then Okta's `email` when verified), compared case-insensitively with the
   members' userNames, then with their email addresses, **within A only**. The link is then
   stored, so a renamed username still signs the same person in, and a reassigned one cannot
   take over someone else's membership.
2. Nobody is created: an identity that matches no member is refused ("your admin must assign you
   the app"); suspended and deleted members are refused.
3. An invited member who never registered completes registration here (Invited → Active, with no
   password), through `invitation_services.member_register`, the same step an invitation link takes.

A sign-in through A's provider opens A only (accounts/session_scope.py): A's admin controls A's
provider and can assert any username; matching never looks outside A, and the session it opens is
scoped to A, so nothing A's provider says can open organization B.

Every outcome is audited in A: success, and each refusal with its reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.audit import Actor, audit_log_record
from accounts.models import Invitation, Member, MemberEmail, Organization, User, casefold_key
from accounts.services import invitations as invitation_services
from integrations.models import SsoConnection, SsoLink
from integrations.oidc import SsoIdentity

logger = logging.getLogger(__name__)


class Refusal(StrEnum):
    """Why a single sign-on did not open the organization; the audit row and the page use it."""

    NOT_SET_UP = "not_set_up"
    PROTOCOL = "protocol"
    NO_MATCH = "no_match"
    AMBIGUOUS = "ambiguous"
    LINKED_TO_ANOTHER = "linked_to_another_identity"
    SUSPENDED = "suspended"
    DELETED = "deleted"
    EXISTING_ACCOUNT = "existing_account"
    NO_ADDRESS = "no_address"
    WRONG_INVITATION = "wrong_invitation"


class SsoRefused(Exception):
    def __init__(self, reason: Refusal, member: Member | None = None, detail: str = "") -> None:
        self.reason = reason
        self.member = member
        self.detail = detail
        super().__init__(f"{reason}{': ' + detail if detail else ''}")


@dataclass(frozen=True)
class SignIn:
    member: Member
    user: User
    registered: bool
    mfa: bool


def sso_connection_for_sign_in(organization: Organization) -> SsoConnection | None:
    """The organization's connection when people may sign in with it (policy not off)."""
    return (
        SsoConnection.objects.filter(organization=organization)
        .exclude(policy=SsoConnection.Policy.OFF)
        .first()
    )


def asserted_usernames(connection: SsoConnection, identity: SsoIdentity) -> list[str]:
    """What the provider asserts as the userName it provisions, in order of trust.

    Entra ID provisions the UPN as userName and sends it as `preferred_username`; its `email` is
    optional and unverified, so it is never used. Okta provisions its username, sent as
    `preferred_username`, and signs `email` with `email_verified`: a verified email is the second
    choice. (../shared/sso-notes.md, Microsoft's ID token claims reference, Okta's OIDC claims.)
    """
    names = [identity.preferred_username] if identity.preferred_username else []
    is_entra = bool(connection.entra_tenant_id) or connection.provider == "entra-id"
    if not is_entra and identity.email and identity.email_verified is True:
        names.append(identity.email)
    return names


def _member_by_name(organization: Organization, name: str) -> list[Member]:
    """Members of `organization` whose userName, else email addresses, equal `name` ignoring
    case. Live members first: a deleted member's userName may be reused by a new member."""
    key = casefold_key(name)
    members = Member.objects.filter(organization=organization).select_related("organization")
    by_user_name = list(members.filter(user_name_key=key).exclude(status=Member.Status.DELETED))
    if by_user_name:
        return by_user_name
    email_owner_ids = MemberEmail.objects.filter(
        member__organization=organization, value_key=key
    ).values_list("member_id", flat=True)
    by_email = list(
        members.filter(Q(email__iexact=name) | Q(pk__in=email_owner_ids))
        .exclude(status=Member.Status.DELETED)
        .distinct()
    )
    if by_email:
        return by_email
    return list(members.filter(user_name_key=key, status=Member.Status.DELETED)[:1])


def sso_match(
    *, organization: Organization, connection: SsoConnection, identity: SsoIdentity
) -> tuple[Member, SsoLink | None]:
    """The member of `organization` the identity is, and its link when it has one.

    Raises SsoRefused(NO_MATCH | AMBIGUOUS | LINKED_TO_ANOTHER). Reads only; never looks at
    another organization's members or links.
    """
    link = (
        SsoLink.objects.filter(
            organization=organization, issuer=identity.issuer, link_key=identity.link_key
        )
        .select_related("member", "member__organization", "member__user")
        .first()
    )
    if link is not None and link.member.organization_id == organization.pk:
        return link.member, link
    for name in asserted_usernames(connection, identity):
        found = _member_by_name(organization, name)
        if len(found) > 1:
            raise SsoRefused(Refusal.AMBIGUOUS, detail=f"{len(found)} members match {name!r}")
        if found:
            member = found[0]
            existing = SsoLink.objects.filter(member=member).first()
            # The member already signs in as another identity of this provider: a username
            # reassigned at the provider must not hand this membership to someone new.
            if existing is not None and existing.issuer == identity.issuer:
                raise SsoRefused(Refusal.LINKED_TO_ANOTHER, member=member)
            return member, None
    raise SsoRefused(Refusal.NO_MATCH)


def _check_status(member: Member) -> None:
    if member.status == Member.Status.SUSPENDED:
        raise SsoRefused(Refusal.SUSPENDED, member=member)
    if member.status == Member.Status.DELETED:
        raise SsoRefused(Refusal.DELETED, member=member)


def _invitation_check(member: Member, invitation: Invitation | None) -> None:
    if invitation is not None and invitation.member_id != member.pk:
        raise SsoRefused(
            Refusal.WRONG_INVITATION, member=member, detail="the invitation names someone else"
        )


def _account_for_registration(member: Member, *, signed_in_user: User | None) -> tuple[User, bool]:
    """The account an invited member registers with: a new one with no password, or the account
    already signed in in this browser when it has the invitation's address. An existing account
    is never taken over on the provider's word alone: its owner proves it (password) first."""
    address = member.email or (member.user_name if "@" in member.user_name else "")
    if not address:
        raise SsoRefused(Refusal.NO_ADDRESS, member=member)
    existing = User.objects.filter(email__iexact=address).first()
    if existing is None:
        user = User.objects.create_user(address, None, full_name=member.full_name[:200])
        return user, True
    if signed_in_user is not None and signed_in_user.pk == existing.pk and existing.is_active:
        return existing, False
    raise SsoRefused(Refusal.EXISTING_ACCOUNT, member=member, detail=address)


def _identity_summary(identity: SsoIdentity) -> dict[str, Any]:
    """What the audit row keeps of an assertion: identifiers, never a token."""
    return {
        "issuer": identity.issuer,
        "link_key": identity.link_key,
        "preferred_username": identity.preferred_username or "",
        "amr": list(identity.amr),
    }


def _provider_actor(identity: SsoIdentity | None) -> Actor:
    name = identity.preferred_username or identity.email or identity.subject if identity else ""
    return Actor.identity_provider(f"Single sign-on: {name}" if name else "Single sign-on")


def sso_sign_in(
    *,
    organization: Organization,
    connection: SsoConnection,
    identity: SsoIdentity,
    signed_in_user: User | None = None,
    invitation: Invitation | None = None,
) -> SignIn:
    """Resolves a validated identity to a member of `organization` and records the sign-in.

    Stores the link on the first sign-in, registers an invited member (no password), audits
    success. Raises SsoRefused; the caller audits it with `sso_sign_in_refused`.
    """
    with transaction.atomic():
        member, link = sso_match(
            organization=organization, connection=connection, identity=identity
        )
        _check_status(member)
        _invitation_check(member, invitation)
        member = Member.objects.select_for_update().select_related("organization").get(pk=member.pk)
        _check_status(member)
        registered = False
        now = timezone.now()
        if member.status == Member.Status.INVITED or member.user_id is None:
            user, _created = _account_for_registration(member, signed_in_user=signed_in_user)
            invitation_services.member_register(member=member, user=user, now=now, via="sso")
            registered = True
        else:
            user = User.objects.get(pk=member.user_id)
        if not user.is_active:
            raise SsoRefused(Refusal.SUSPENDED, member=member, detail="the account is disabled")
        if link is None:
            try:
                with transaction.atomic():
                    SsoLink.objects.filter(member=member).delete()  # another issuer's, replaced
                    link = SsoLink.objects.create(
                        organization=organization,
                        member=member,
                        issuer=identity.issuer,
                        link_key=identity.link_key,
                        created_at=now,
                    )
            except IntegrityError as error:
                raise SsoRefused(Refusal.LINKED_TO_ANOTHER, member=member) from error
            audit_log_record(
                organization=organization,
                actor=_provider_actor(identity),
                action="sso.linked",
                target=member,
                target_label=member.user_name,
                after=_identity_summary(identity),
            )
        SsoLink.objects.filter(pk=link.pk).update(last_sign_in_at=now)
        mfa = "mfa" in identity.amr
        audit_log_record(
            organization=organization,
            actor=Actor.for_user(user),
            action="sso.sign_in",
            target=member,
            target_label=member.user_name,
            after={**_identity_summary(identity), "registered": registered, "mfa": mfa},
        )
    return SignIn(member=member, user=user, registered=registered, mfa=mfa)


def sso_sign_in_refused(
    *,
    organization: Organization,
    reason: str,
    identity: SsoIdentity | None = None,
    member: Member | None = None,
    detail: str = "",
) -> None:
    """Audits a refused or failed single sign-on in the organization it was for."""
    logger.info("SSO sign-in to organization %s refused: %s", organization.pk, reason)
    after: dict[str, Any] = {"reason": reason}
    if detail:
        after["detail"] = detail[:500]
    if identity is not None:
        after.update(_identity_summary(identity))
    audit_log_record(
        organization=organization,
        actor=_provider_actor(identity),
        action="sso.sign_in_failed",
        target=member,
        target_label=member.user_name if member else "",
        after=after,
    )


@dataclass(frozen=True)
class TestResult:
    identity: SsoIdentity | None
    member: Member | None
    refusal: str
    error: str

    @property
    def ok(self) -> bool:
        return self.identity is not None and not self.error


def sso_test_record(
    *,
    connection: SsoConnection,
    by: Member,
    identity: SsoIdentity | None,
    error: str = "",
) -> TestResult:
    """An admin's "Test single sign-on": records what the provider sent and whom it matches.

    Enables nothing: no link, no registration, no session change. A completed flow (the provider
    signed the admin in and the token is valid) sets `tested_at`, whether or not a member
    matched, since the match depends on who signed in at the provider.
    """
    organization = connection.organization
    actor = Actor.for_user(by.user) if by.user else Actor.system()
    if identity is None:
        audit_log_record(
            organization=organization,
            actor=actor,
            action="sso.test_failed",
            target=connection,
            target_label=connection.issuer,
            after={"error": error[:500]},
        )
        return TestResult(identity=None, member=None, refusal="", error=error)
    member: Member | None
    refusal = ""
    try:
        member, _link = sso_match(
            organization=organization, connection=connection, identity=identity
        )
    except SsoRefused as refused:
        member, refusal = refused.member, str(refused.reason)
    if (
        member is not None
        and not refusal
        and member.status
        in (
            Member.Status.SUSPENDED,
            Member.Status.DELETED,
        )
    ):
        refusal = member.status
    now = timezone.now()
    with transaction.atomic():
        connection.tested_at = now
        connection.tested_by_label = actor.label
        connection.save(update_fields=["tested_at", "tested_by_label"])
        audit_log_record(
            organization=organization,
            actor=actor,
            action="sso.tested",
            target=connection,
            target_label=connection.issuer,
            after={
                **_identity_summary(identity),
                "matched": member.user_name if member else "",
                "refusal": refusal,
            },
        )
    return TestResult(identity=identity, member=member, refusal=refusal, error="")
