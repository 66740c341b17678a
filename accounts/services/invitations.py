"""Invitation emails: created with the member, delivered exactly once by a Celery worker.

Life of an invitation: PENDING (created in the same transaction as the member, its send task
enqueued after commit) → SENDING (claimed atomically by one worker) → SENT; a transient delivery
failure goes back to PENDING and is retried with backoff, a permanent one or the last attempt ends
in FAILED. ACCEPTED, EXPIRED and REVOKED are final. At most one invitation per member is open.

The database row is the durable record: `invitation_sweep` (Celery beat) re-enqueues invitations
a lost message or a broker outage left PENDING, recovers ones a crashed worker left SENDING,
sends one reminder before expiry and expires old ones. A redelivered or duplicated task finds the
invitation already claimed or sent and does nothing.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import secrets
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.audit import Actor, audit_log_record
from accounts.exceptions import InvalidInput
from accounts.models import Invitation, Member, Organization, User
from nordpass_admin.publish import publish_on_commit

logger = logging.getLogger(__name__)

TOKEN_SALT = "accounts.invitation"  # noqa: S105 - an HMAC salt, not a secret


class Delivery(enum.Enum):
    SENT = "sent"
    SKIPPED = "skipped"  # not ours to send: already claimed, sent, accepted, revoked...
    RETRY = "retry"  # transient failure: try again later
    FAILED = "failed"  # permanent failure, or out of attempts


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Delivery
    attempts: int = 0
    error: str = ""


# --- Tokens --------------------------------------------------------------------------------------


def invitation_token(invitation: Invitation) -> str:
    """The secret in the link, rebuilt from the nonce under SECRET_KEY; never stored."""
    return salted_hmac(TOKEN_SALT, invitation.nonce, algorithm="sha256").hexdigest()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_url(invitation: Invitation) -> str:
    return f"{settings.SITE_URL}/invite/{invitation_token(invitation)}/"


def invitation_for_token(token: str) -> Invitation | None:
    if not token or len(token) > 128:
        return None
    return (
        Invitation.objects.select_related("member", "organization", "member__user")
        .filter(token_digest=token_digest(token))
        .first()
    )


# --- Creating and revoking -----------------------------------------------------------------------


def _enqueue(invitation_id: int) -> None:
    from accounts.tasks import send_invitation

    # Left PENDING if the broker is down; `invitation_sweep` queues it again.
    publish_on_commit(send_invitation, invitation_id, retried_by="the invitation sweep")


def _revoke_open(member: Member, *, now: datetime) -> int:
    return Invitation.objects.filter(member=member, status__in=Invitation.OPEN_STATUSES).update(
        status=Invitation.Status.REVOKED, revoked_at=now
    )


def can_be_invited(member: Member) -> bool:
    """Only someone who has not registered yet, is not suspended or removed, and has an address."""
    return member.status == Member.Status.INVITED and member.user_id is None and bool(member.email)


def invitation_create(*, member: Member, actor: Actor, fresh: bool = False) -> Invitation:
    """Invite a member now: any open invitation is revoked, so only the newest link works.

    `fresh`: the member was created in this transaction and has no invitation to revoke.
    """
    if not member.email:
        raise InvalidInput(f"{member.user_name} has no email address to invite.")
    if member.status != Member.Status.INVITED or member.user_id is not None:
        raise InvalidInput(f"{member.user_name} cannot be invited: they are {member.status}.")
    organization: Organization = member.organization
    now = timezone.now()
    with transaction.atomic():
        revoked = 0 if fresh else _revoke_open(member, now=now)
        nonce = secrets.token_urlsafe(32)
        invitation = Invitation(
            organization=organization,
            member=member,
            email=member.email,
            nonce=nonce,
            created_at=now,
            expires_at=now + timedelta(days=organization.invitation_ttl_days),
        )
        invitation.token_digest = token_digest(invitation_token(invitation))
        invitation.save()
        audit_log_record(
            organization=organization,
            actor=actor,
            action="invitation.resent" if revoked else "invitation.created",
            target=member,
            target_label=member.user_name,
            after={"email": invitation.email, "expires_at": invitation.expires_at.isoformat()},
        )
        _enqueue(invitation.pk)
    return invitation


def invitation_for_new_member(
    *, member: Member, actor: Actor, fresh: bool = False
) -> Invitation | None:
    """Called when a member is provisioned or becomes invitable again. Follows the
    organization's policy: automatic sends now; manual stages the member for an admin."""
    if not can_be_invited(member):
        return None
    if member.organization.invitation_policy != Organization.InvitationPolicy.AUTOMATIC:
        return None
    return invitation_create(member=member, actor=actor, fresh=fresh)


def invitation_address_changed(*, member: Member, actor: Actor) -> Invitation | None:
    """The identity provider changed the email of someone who has not accepted yet: the old
    link is revoked and, under the automatic policy, a new one goes to the new address."""
    if member.user_id is not None or member.status != Member.Status.INVITED:
        return None
    had_open = Invitation.objects.filter(
        member=member, status__in=Invitation.OPEN_STATUSES
    ).exists()
    if not member.email:
        _revoke_open(member, now=timezone.now())
        return None
    if had_open or member.organization.invitation_policy == "automatic":
        return invitation_create(member=member, actor=actor)
    return None


def invitations_revoke_for_member(*, member: Member) -> int:
    """A suspended or removed member's link stops working at once."""
    return _revoke_open(member, now=timezone.now())


def invitation_revoke(*, invitation: Invitation, actor: Actor) -> bool:
    with transaction.atomic():
        updated = Invitation.objects.filter(
            pk=invitation.pk, status__in=Invitation.OPEN_STATUSES
        ).update(status=Invitation.Status.REVOKED, revoked_at=timezone.now())
        if updated:
            audit_log_record(
                organization=invitation.organization,
                actor=actor,
                action="invitation.revoked",
                target=invitation.member,
                target_label=invitation.member.user_name,
                before={"status": invitation.status},
                after={"status": Invitation.Status.REVOKED},
            )
    return bool(updated)


# --- Delivery ------------------------------------------------------------------------------------

PERMANENT_ERRORS: tuple[type[BaseException], ...] = (smtplib.SMTPRecipientsRefused,)
try:  # anymail's own classification of errors that retrying cannot fix
    from anymail.exceptions import AnymailInvalidAddress, AnymailRecipientsRefused

    PERMANENT_ERRORS += (AnymailInvalidAddress, AnymailRecipientsRefused)
except ImportError:  # pragma: no cover - anymail is a dependency
    pass


def _is_permanent(exc: BaseException) -> bool:
    """A refused recipient, or an SMTP 5xx reply (RFC 5321: a permanent failure): retrying the
    same message cannot succeed, so it fails at once and an admin sees why."""
    if isinstance(exc, PERMANENT_ERRORS):
        return True
    return isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600


def _contact(organization: Organization) -> Member | None:
    return (
        Member.objects.filter(
            organization=organization, role=Member.Role.OWNER, status=Member.Status.ACTIVE
        )
        .order_by("created_at", "pk")
        .first()
    )


def _message(invitation: Invitation, *, reminder: bool) -> EmailMultiAlternatives:
    organization = invitation.organization
    contact = _contact(organization)
    context = {
        "organization": organization,
        "member": invitation.member,
        "url": invitation_url(invitation),
        "expires_at": invitation.expires_at,
        "contact": contact,
        "reminder": reminder,
        "site_url": settings.SITE_URL,
        # Single sign-on required: the person finishes through the identity provider, no password.
        "sso": _required_sso(organization),
    }
    subject = render_to_string("emails/invitation_subject.txt", context).strip()
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/invitation.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[invitation.email],
        reply_to=[contact.email] if contact and contact.email else None,
        headers={"Message-ID": make_msgid(domain=_domain())},
    )
    message.attach_alternative(render_to_string("emails/invitation.html", context), "text/html")
    return message


def _required_sso(organization: Organization) -> object:
    from accounts.sso_routing import route_for_organization

    route = route_for_organization(organization)
    return route if route is not None and route.required else None


def _domain() -> str:
    return settings.SITE_URL.split("//", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "localhost"


def _send(message: EmailMultiAlternatives) -> str:
    """Send and return the provider's message id (anymail's, else our Message-ID header)."""
    message.send(fail_silently=False)
    status = getattr(message, "anymail_status", None)
    provider_id = getattr(status, "message_id", None) if status is not None else None
    return str(provider_id or message.extra_headers.get("Message-ID", ""))[:255]


def invitation_deliver(invitation_id: int) -> DeliveryResult:
    """Send one invitation, at most once: only the worker that moves it PENDING → SENDING sends.

    Called by the Celery task with the invitation's id; safe to call any number of times.
    """
    now = timezone.now()
    claimed = Invitation.objects.filter(
        pk=invitation_id,
        status=Invitation.Status.PENDING,
        expires_at__gt=now,
        member__status=Member.Status.INVITED,
        member__user__isnull=True,
    ).update(status=Invitation.Status.SENDING, attempts=F("attempts") + 1, last_attempt_at=now)
    if not claimed:
        return DeliveryResult(Delivery.SKIPPED)
    invitation = Invitation.objects.select_related("organization", "member").get(pk=invitation_id)
    try:
        message_id = _send(_message(invitation, reminder=False))
    except Exception as exc:  # noqa: BLE001 - any backend error is recorded, none is lost
        error = f"{type(exc).__name__}: {exc}"[:500]
        permanent = _is_permanent(exc)
        out_of_attempts = invitation.attempts >= settings.INVITATION_MAX_ATTEMPTS
        status = Invitation.Status.FAILED if permanent or out_of_attempts else "pending"
        Invitation.objects.filter(pk=invitation_id, status=Invitation.Status.SENDING).update(
            status=status, last_error=error
        )
        logger.warning(
            "Invitation %s: delivery attempt %s failed", invitation_id, invitation.attempts
        )
        if status == Invitation.Status.FAILED:
            return DeliveryResult(Delivery.FAILED, invitation.attempts, error)
        return DeliveryResult(Delivery.RETRY, invitation.attempts, error)
    Invitation.objects.filter(pk=invitation_id, status=Invitation.Status.SENDING).update(
        status=Invitation.Status.SENT,
        sent_at=timezone.now(),
        provider_message_id=message_id,
        last_error="",
    )
    return DeliveryResult(Delivery.SENT, invitation.attempts)


def invitation_mark_failed(invitation_id: int, *, reason: str) -> bool:
    """Delivery gave up (retries exhausted) or the provider reported a bounce or complaint."""
    return bool(
        Invitation.objects.filter(
            pk=invitation_id,
            status__in=Invitation.AWAITING_STATUSES,
        ).update(status=Invitation.Status.FAILED, last_error=reason[:500])
    )


def invitation_delivery_event(*, message_id: str, event_type: str, reason: str) -> int:
    """A tracking webhook said the email bounced, was rejected or drew a complaint."""
    if not message_id:
        return 0
    ids = list(
        Invitation.objects.filter(provider_message_id=message_id).values_list("pk", flat=True)
    )
    return sum(
        invitation_mark_failed(pk, reason=f"{event_type}: {reason}".strip(": ")) for pk in ids
    )


def invitation_send_reminder(invitation_id: int) -> DeliveryResult:
    """One reminder before expiry; the claim on `reminder_sent_at` makes it at most once."""
    now = timezone.now()
    claimed = Invitation.objects.filter(
        pk=invitation_id,
        status=Invitation.Status.SENT,
        reminder_sent_at__isnull=True,
        expires_at__gt=now,
        member__status=Member.Status.INVITED,
    ).update(reminder_sent_at=now)
    if not claimed:
        return DeliveryResult(Delivery.SKIPPED)
    invitation = Invitation.objects.select_related("organization", "member").get(pk=invitation_id)
    try:
        _send(_message(invitation, reminder=True))
    except Exception as exc:  # noqa: BLE001 - the sweep tries again on its next run
        Invitation.objects.filter(pk=invitation_id).update(reminder_sent_at=None)
        return DeliveryResult(Delivery.RETRY, error=f"{type(exc).__name__}: {exc}"[:500])
    return DeliveryResult(Delivery.SENT)


@dataclass(frozen=True)
class SweepReport:
    requeued: int
    recovered: int
    expired: int
    reminders: int


def invitation_sweep() -> SweepReport:
    """The periodic safety net. Returns what it did, for the log."""
    from accounts.tasks import send_invitation, send_invitation_reminder

    now = timezone.now()
    expired = Invitation.objects.filter(
        status__in=Invitation.OPEN_STATUSES, expires_at__lte=now
    ).update(status=Invitation.Status.EXPIRED)
    # A worker that died mid-send left SENDING behind. Sending again may duplicate one email;
    # never sending would lose the invitation (docs/operations.md states this guarantee).
    recovered = Invitation.objects.filter(
        status=Invitation.Status.SENDING,
        last_attempt_at__lt=now - timedelta(seconds=settings.INVITATION_SENDING_TIMEOUT),
    ).update(status=Invitation.Status.PENDING)
    stale = Q(last_attempt_at__isnull=True, created_at__lt=now - timedelta(seconds=60)) | Q(
        last_attempt_at__lt=now - timedelta(seconds=settings.INVITATION_RETRY_AFTER)
    )
    pending = list(
        Invitation.objects.filter(stale, status=Invitation.Status.PENDING).values_list(
            "pk", flat=True
        )[:1000]
    )
    for pk in pending:
        send_invitation.delay(pk)
    window = timedelta(hours=settings.INVITATION_REMINDER_HOURS)
    reminders = list(
        Invitation.objects.filter(
            status=Invitation.Status.SENT,
            reminder_sent_at__isnull=True,
            expires_at__gt=now,
            expires_at__lte=now + window,
            sent_at__lte=now - window / 2,
        ).values_list("pk", flat=True)[:1000]
    )
    if settings.INVITATION_REMINDER_HOURS:
        for pk in reminders:
            send_invitation_reminder.delay(pk)
    return SweepReport(
        requeued=len(pending),
        recovered=recovered,
        expired=expired,
        reminders=len(reminders) if settings.INVITATION_REMINDER_HOURS else 0,
    )


# --- Accepting -----------------------------------------------------------------------------------


def invitation_problem(invitation: Invitation | None) -> str:
    """Why a link cannot be used ('' when it can): unknown, used, expired or revoked."""
    if invitation is None:
        return "unknown"
    if invitation.status == Invitation.Status.ACCEPTED:
        return "used"
    if invitation.status == Invitation.Status.REVOKED:
        return "revoked"
    if invitation.status == Invitation.Status.EXPIRED or invitation.expires_at <= timezone.now():
        return "expired"
    member = invitation.member
    if member.status != Member.Status.INVITED or member.user_id is not None:
        return "revoked"
    return ""


def invitation_accept(*, invitation: Invitation, password: str, full_name: str = "") -> User:
    """Complete registration: the account is created (or, for an address that already has an
    account, proven by its password) and the member becomes Active."""
    problem = invitation_problem(invitation)
    if problem:
        raise InvalidInput(f"This invitation cannot be used ({problem}).")
    member = invitation.member
    now = timezone.now()
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.status not in Invitation.OPEN_STATUSES:
            raise InvalidInput("This invitation was already used.")
        user = User.objects.filter(email__iexact=invitation.email).first()
        if user is None:
            candidate = User(email=invitation.email, full_name=full_name or member.full_name)
            try:
                validate_password(password, user=candidate)
            except ValidationError as exc:
                raise InvalidInput(" ".join(exc.messages)) from exc
            user = User.objects.create_user(
                invitation.email, password, full_name=(full_name or member.full_name)[:200]
            )
        elif not user.check_password(password) or not user.is_active:
            raise InvalidInput("That is not the password of your existing account.")
        member_register(member=member, user=user, invitation=invitation, now=now)
    return user


def member_register(
    *,
    member: Member,
    user: User,
    invitation: Invitation | None = None,
    now: datetime | None = None,
    via: str = "invitation",
) -> None:
    """Registration completes: the member becomes Active with its account, and its invitation
    (`invitation`, or every open one when it registered another way, such as single sign-on) is
    accepted. Runs inside the caller's transaction, after the caller proved who `user` is."""
    now = now or timezone.now()
    member.user = user
    member.status = Member.Status.ACTIVE
    member.activated_at = now
    member.save(update_fields=["user", "status", "activated_at"])
    Member.objects.filter(pk=member.pk).update(version=F("version") + 1)
    invitations = (
        Invitation.objects.filter(pk=invitation.pk)
        if invitation is not None
        else Invitation.objects.filter(member=member, status__in=Invitation.OPEN_STATUSES)
    )
    invitations.update(status=Invitation.Status.ACCEPTED, accepted_at=now)
    audit_log_record(
        organization=member.organization,
        actor=Actor.for_user(user),
        action="invitation.accepted",
        target=member,
        target_label=member.user_name,
        before={"status": Member.Status.INVITED},
        after={"status": Member.Status.ACTIVE, **({"via": via} if via != "invitation" else {})},
    )
