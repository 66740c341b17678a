"""Two-factor sign-in: enrolling an authenticator app, checking codes, recovery codes, turning it
off, and an organization's rule that its owners and admins must use it.

Every accepted code is spent: a TOTP code moves the device's `last_used_step` forward (so the same
code, or an older one, is refused afterwards) and a recovery code gets `used_at`. Both are
conditional UPDATEs, so two requests racing with one code cannot both win. Wrong codes count
against the same failure window as wrong passwords (SIGNIN_FAILURE_*), per account and per client
address, and past the limit no code is checked at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts import ratelimit
from accounts import twofactor as tf
from accounts.audit import Actor, audit_log_record
from accounts.exceptions import AccountsError, InvalidInput
from accounts.models import Member, Organization, RecoveryCode, TwoFactorDevice, User
from accounts.selectors import active_memberships

# Every function that holds a secret or a code is @sensitive_variables(): Django's error reports
# (the 500 email, the debug page) list each frame's locals, and these must never appear there.

# An enrollment not confirmed within this time starts over with a new secret.
PENDING_TTL = timedelta(hours=1)


class InvalidCode(AccountsError):
    pass


class Throttled(AccountsError):
    pass


@dataclass(frozen=True)
class CodeCheck:
    """What an accepted code was: `recovery` codes left afterwards tell the person to make more."""

    method: str  # "totp" or "recovery"
    recovery_codes_left: int
    # Which enrollment the code belongs to; the session records it (see accounts.middleware).
    confirmed_at: datetime


@dataclass(frozen=True)
class Enrollment:
    recovery_codes: list[str]
    confirmed_at: datetime


# --- Reads -------------------------------------------------------------------------------------


def organizations_requiring_two_factor(user: User) -> list[Organization]:
    """Organizations whose rule applies to this person: they are an active owner or admin there."""
    return [
        member.organization
        for member in active_memberships(user).filter(
            role__in=Member.ADMIN_ROLES, organization__require_two_factor=True
        )
    ]


def two_factor_required(member: Member | None) -> bool:
    return member is not None and member.is_admin and member.organization.require_two_factor is True


def recovery_codes_left(device: TwoFactorDevice) -> int:
    return device.recovery_codes.filter(used_at__isnull=True).count()


def pending_key(device: TwoFactorDevice | None) -> bytes | None:
    """The secret of an enrollment in progress, while it is fresh."""
    if device is None or not device.pending_secret or device.pending_since is None:
        return None
    if timezone.now() - device.pending_since > PENDING_TTL:
        return None
    return tf.open_secret(device.pending_secret)


# --- Throttling and checking codes ---------------------------------------------------------------


def _throttle_keys(user: User, client: str) -> dict[str, int]:
    return {
        f"twofactor:user:{user.pk}": settings.SIGNIN_FAILURE_LIMIT,
        f"twofactor:addr:{client or 'unknown'}": settings.SIGNIN_FAILURE_LIMIT_PER_ADDRESS,
    }


def _check_throttle(user: User, client: str) -> None:
    if any(ratelimit.failures(key) >= limit for key, limit in _throttle_keys(user, client).items()):
        raise Throttled("Too many wrong codes. Wait a few minutes and try again.")


def _record_failure(user: User, client: str) -> None:
    for key in _throttle_keys(user, client):
        ratelimit.record_failure(key, window=settings.SIGNIN_FAILURE_WINDOW)


@sensitive_variables()
def _spend_totp(device: TwoFactorDevice, key: bytes | None, code: str) -> bool:
    if key is None:
        return False
    step = tf.matching_step(key, code)
    if step is None:
        return False
    # Replay protection: only a step later than the last accepted one moves the marker.
    spent = (
        TwoFactorDevice.objects.filter(pk=device.pk)
        .filter(Q(last_used_step__isnull=True) | Q(last_used_step__lt=step))
        .update(last_used_step=step, updated_at=timezone.now())
    )
    return spent == 1


@sensitive_variables()
def _spend_recovery_code(device: TwoFactorDevice, code: str) -> bool:
    normalized = tf.normalize_code(code)
    if len(normalized) != tf.RECOVERY_CODE_LENGTH:
        return False
    spent = RecoveryCode.objects.filter(
        device=device, digest=tf.recovery_code_digest(normalized), used_at__isnull=True
    ).update(used_at=timezone.now())
    return spent == 1


def _audit_everywhere(user: User, *, action: str, after: dict[str, object] | None = None) -> None:
    """One audit row in each organization the person is active in: each sees its own member's
    change, and none learns which other organizations the person belongs to."""
    actor = Actor.for_user(user)
    for member in active_memberships(user):
        audit_log_record(
            organization=member.organization,
            actor=actor,
            action=action,
            target=member,
            target_label=member.user_name,
            after=after,
        )


@sensitive_variables()
def two_factor_check(*, user: User, code: str, client: str) -> CodeCheck:
    """Accept an authenticator code or a recovery code once, or raise InvalidCode / Throttled."""
    _check_throttle(user, client)
    device = TwoFactorDevice.objects.filter(user=user, confirmed_at__isnull=False).first()
    if device is not None and device.confirmed_at is not None:
        confirmed_at = device.confirmed_at
        if tf.looks_like_totp(code):
            if _spend_totp(device, tf.open_secret(device.secret), code):
                return CodeCheck(
                    method="totp",
                    recovery_codes_left=recovery_codes_left(device),
                    confirmed_at=confirmed_at,
                )
        else:
            with transaction.atomic():
                if _spend_recovery_code(device, code):
                    left = recovery_codes_left(device)
                    _audit_everywhere(
                        user,
                        action="two_factor.recovery_code_used",
                        after={"recovery_codes_left": left},
                    )
                    return CodeCheck(
                        method="recovery", recovery_codes_left=left, confirmed_at=confirmed_at
                    )
    _record_failure(user, client)
    raise InvalidCode("That code is not valid. Check your authenticator app and try again.")


# --- Enrollment ----------------------------------------------------------------------------------


@sensitive_variables()
def _issue_recovery_codes(device: TwoFactorDevice) -> list[str]:
    """Replace every recovery code with a new set; the plaintext exists only in the return."""
    device.recovery_codes.all().delete()
    codes = [tf.new_recovery_code() for _ in range(tf.RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.bulk_create(
        RecoveryCode(device=device, digest=tf.recovery_code_digest(code)) for code in codes
    )
    return codes


@sensitive_variables()
def _set_pending(user: User) -> bytes:
    key = tf.new_secret()
    now = timezone.now()
    device, _ = TwoFactorDevice.objects.get_or_create(user=user)
    device.pending_secret = tf.seal_secret(key)
    device.pending_since = now
    device.updated_at = now
    device.save(update_fields=["pending_secret", "pending_since", "updated_at"])
    return key


@sensitive_variables()
def two_factor_enrollment_start(*, user: User) -> bytes:
    """The secret to show on the set-up page: the enrollment in progress, or a new one.

    Someone who already has two-factor sign-in replaces their authenticator through
    `two_factor_replacement_start`, which asks for a current code first.
    """
    device = tf.device_for(user)
    key = pending_key(device)
    if key is not None:
        return key
    if device is not None and device.is_enabled:
        raise InvalidInput("Two-factor sign-in is already on.")
    return _set_pending(user)


@sensitive_variables()
def two_factor_replacement_start(*, user: User, code: str, client: str) -> bytes:
    """Start moving to a new authenticator. A current code is required, so a session left open
    on someone's desk cannot swap in an authenticator its finder holds; the old one keeps
    working until the new one is confirmed."""
    if not tf.is_enabled(user):
        raise InvalidInput("Two-factor sign-in is not on.")
    two_factor_check(user=user, code=code, client=client)
    return _set_pending(user)


@sensitive_variables()
def two_factor_enrollment_confirm(*, user: User, code: str, client: str) -> Enrollment:
    """Turn on the pending authenticator once a code from it checks out. The new recovery codes
    in the result are shown once."""
    _check_throttle(user, client)
    device = tf.device_for(user)
    key = pending_key(device)
    if device is None or key is None:
        raise InvalidInput("The set-up expired. Scan the new QR code and try again.")
    step = tf.matching_step(key, code)
    if step is None:
        _record_failure(user, client)
        raise InvalidCode("That code does not match. Check the time on your phone and try again.")
    with transaction.atomic():
        locked = TwoFactorDevice.objects.select_for_update().get(pk=device.pk)
        replacing = locked.is_enabled
        now = timezone.now()
        locked.secret = locked.pending_secret
        locked.pending_secret = ""
        locked.pending_since = None
        locked.confirmed_at = now
        locked.last_used_step = step
        locked.updated_at = now
        locked.save(
            update_fields=[
                "secret",
                "pending_secret",
                "pending_since",
                "confirmed_at",
                "last_used_step",
                "updated_at",
            ]
        )
        codes = _issue_recovery_codes(locked)
        _audit_everywhere(user, action="two_factor.replaced" if replacing else "two_factor.enabled")
    return Enrollment(recovery_codes=codes, confirmed_at=now)


@sensitive_variables()
def two_factor_recovery_codes_regenerate(*, user: User, code: str, client: str) -> list[str]:
    """New recovery codes (the old ones stop working), after a current code."""
    two_factor_check(user=user, code=code, client=client)
    with transaction.atomic():
        device = TwoFactorDevice.objects.select_for_update().get(user=user)
        codes = _issue_recovery_codes(device)
        _audit_everywhere(user, action="two_factor.recovery_codes_regenerated")
    return codes


@sensitive_variables()
def two_factor_disable(*, user: User, code: str, client: str) -> None:
    """Turn two-factor sign-in off. Refused while an organization requires it of this person:
    they may replace their authenticator, never go without one."""
    requiring = organizations_requiring_two_factor(user)
    if requiring:
        names = ", ".join(organization.name for organization in requiring)
        raise InvalidInput(
            f"{names} requires two-factor sign-in for owners and admins, so it cannot be turned "
            "off. Use another authenticator app instead."
        )
    two_factor_check(user=user, code=code, client=client)
    with transaction.atomic():
        TwoFactorDevice.objects.filter(user=user).delete()
        _audit_everywhere(user, action="two_factor.disabled")


# --- The organization's rule -------------------------------------------------------------------


def organization_require_two_factor(
    *, organization: Organization, required: bool, by: Member
) -> bool:
    """An owner turns the rule on or off. Returns whether it changed.

    Turning it on needs the owner's own two-factor sign-in, so the rule can never lock out the
    person who set it.
    """
    if (
        by.organization_id != organization.pk
        or by.role != Member.Role.OWNER
        or by.status != Member.Status.ACTIVE
        or by.user is None
    ):
        raise InvalidInput("Only owners of this organization can change this setting.")
    if required and not tf.is_enabled(by.user):
        raise InvalidInput(
            "Turn on two-factor sign-in for your own account first, then require it for others."
        )
    with transaction.atomic():
        locked = Organization.objects.select_for_update().get(pk=organization.pk)
        if locked.require_two_factor == required:
            return False
        locked.require_two_factor = required
        locked.save(update_fields=["require_two_factor", "updated_at"])
        organization.require_two_factor = required
        audit_log_record(
            organization=organization,
            actor=Actor.for_user(by.user),
            action="organization.two_factor_required"
            if required
            else "organization.two_factor_optional",
            target=organization,
            before={"require_two_factor": not required},
            after={"require_two_factor": required},
        )
    return True
