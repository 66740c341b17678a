"""The mass-deprovisioning guard: an identity provider may not empty an organization in an hour.

A mis-scoped assignment change in Entra ID (a group removed from the app, a scoping filter
edited) makes it suspend everyone who fell out of scope in its next cycle. So within a trailing
window (the organization's own, one hour by default) the identity provider may suspend or
remove at most

    limit = max(floor(share * members), minimum)

members, where `members` is the members active now (SCIM-active: Active or Invited) plus those
the identity provider deprovisioned within the window, i.e. about the active members when the
window started. The next deprovisioning trips the guard: it and every later one are held
(429 with Retry-After, so Entra ID retries on later cycles) and recorded, owners and admins are
emailed once, and the panel asks one of them to apply the held changes or keep the members active.

What counts: suspensions (`active: false`) and removals (DELETE) of an Active or Invited member,
made by the identity provider, each member once. Removing a member who is already suspended is
neither counted nor held (they had no access already), and reactivations and other updates are
never held. Changes an admin makes in the panel never count.

Correctness across web workers: every admission takes a row lock on the organization
(`select_for_update`, a no-op on SQLite, whose IMMEDIATE transactions already serialise writers)
in the transaction that applies the change, so concurrent requests are admitted one at a time and
cannot overshoot the limit. The count is read from the audit log, written in that same
transaction, so there is no second counter to drift.

Each organization has its own thresholds (`DeprovisionGuardPolicy`), which its owners set in the
panel; DEPROVISION_GUARD_* are only the defaults an organization starts with. An admin piloting
Entra ID with a few test users, or running a vendor's SCIM validator, needs a lower minimum, a
shorter window or the guard off, without asking the operator of the deployment.

After an admin's decision the guard re-arms: the window restarts at the decision. "Keep members
active" keeps refusing the kept members' deprovisioning for the organization's keep-active
duration, or another one chosen with the decision (or until an admin resumes), because Entra ID
retries it until the assignment scope is fixed there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Count, F, Max, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.audit import Actor, audit_log_record
from accounts.exceptions import InvalidInput
from accounts.models import AuditLogEntry, Member, Organization
from accounts.services import member_remove, member_set_active
from accounts.services.roles import is_last_owner
from integrations.models import DeprovisionGuardPolicy, DeprovisionHold, HeldDeprovisioning
from nordpass_admin.publish import publish, publish_on_commit

logger = logging.getLogger(__name__)

# Members the identity provider sees as active (SCIM `active: true`).
LIVE_STATUSES = (Member.Status.ACTIVE, Member.Status.INVITED)
# A hold whose email is still unsent this long after it started (or after its last attempt) is
# re-enqueued by the next held request or the sweep (a lost broker message must not leave the
# owners uninformed).
NOTIFY_REENQUEUE_AFTER = timedelta(minutes=5)
NOTIFY_MAX_ATTEMPTS = 5

Action = HeldDeprovisioning.Action


class HoldNotOpen(Exception):
    """The hold was already decided (by another admin, or in another tab)."""


@dataclass(frozen=True)
class GuardPolicy:
    share: Decimal
    min_members: int
    window_seconds: int
    on: bool = True
    keep_active_seconds: int = DeprovisionGuardPolicy.DEFAULT_KEEP_ACTIVE_SECONDS

    @classmethod
    def from_settings(cls) -> GuardPolicy:
        """The deployment's defaults, as a new organization gets them."""
        return cls.of(_default_policy_row(Organization()))

    @classmethod
    def of(cls, row: DeprovisionGuardPolicy) -> GuardPolicy:
        return cls(
            share=Decimal(row.share_percent) / 100,
            min_members=row.min_members,
            window_seconds=row.window_seconds,
            on=row.enabled,
            keep_active_seconds=row.keep_active_seconds,
        )

    @property
    def enabled(self) -> bool:
        return self.on and self.share > 0

    @property
    def keep_active_for(self) -> timedelta:
        return timedelta(seconds=self.keep_active_seconds)

    def limit(self, members: int) -> int:
        """Deprovisionings allowed per window; Decimal so 0.29 * 100 is 29, never 28."""
        share_of = int((self.share * members).to_integral_value(rounding=ROUND_FLOOR))
        return max(share_of, self.min_members)


@dataclass(frozen=True)
class WindowCount:
    since: datetime
    deprovisioned: int
    members: int
    limit: int


@dataclass(frozen=True)
class HeldRequest:
    """What a refused request asked, to be recorded once its transaction has rolled back."""

    organization_id: int
    member_id: int
    action: str
    provider_label: str
    limit: int
    members: int
    window_seconds: int


class DeprovisioningHeld(Exception):
    """The guard refused a deprovisioning; `reason` is written for the identity provider's admin."""

    def __init__(self, reason: str, *, retry_after: int, held: HeldRequest) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.held = held


# --- The organization's settings ----------------------------------------------------------------


def _default_policy_row(organization: Organization) -> DeprovisionGuardPolicy:
    """An unsaved policy with the deployment's DEPROVISION_GUARD_* settings, clamped to the
    bounds an owner could set (`DEPROVISION_GUARD_SHARE=0` means off, at 20% if turned on)."""
    # A share below 0.005% rounds to 0%: stored as "off", never as a 0% the table refuses.
    percent = min(Decimal(str(settings.DEPROVISION_GUARD_SHARE)) * 100, Decimal(100)).quantize(
        Decimal("0.01")
    )
    bounds = DeprovisionGuardPolicy
    return DeprovisionGuardPolicy(
        organization=organization,
        enabled=percent > 0,
        share_percent=percent if percent > 0 else Decimal(20),
        min_members=max(settings.DEPROVISION_GUARD_MIN_MEMBERS, 1),
        window_seconds=min(
            max(settings.DEPROVISION_GUARD_WINDOW_SECONDS, bounds.MIN_WINDOW_SECONDS),
            bounds.MAX_WINDOW_SECONDS,
        ),
    )


def guard_settings(organization: Organization) -> DeprovisionGuardPolicy:
    """The organization's guard settings; the deployment's defaults (unsaved) if it has none."""
    row = DeprovisionGuardPolicy.objects.filter(organization=organization).first()
    return row if row is not None else _default_policy_row(organization)


def deprovision_guard_policy_create(*, organization: Organization) -> DeprovisionGuardPolicy:
    """Give an organization its own settings, with the deployment's defaults (idempotent)."""
    row, _ = DeprovisionGuardPolicy.objects.get_or_create(
        organization=organization,
        defaults={
            field: getattr(_default_policy_row(organization), field)
            for field in ("enabled", "share_percent", "min_members", "window_seconds")
        },
    )
    return row


def describe_duration(seconds: int) -> str:
    """3600 → "1 hour", 900 → "15 minutes", 172800 → "2 days", for people."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def describe_per_window(seconds: int) -> str:
    """3600 → "per hour", 900 → "per 15 minutes", 86400 → "per day"."""
    words = describe_duration(seconds)
    return f"per {words[2:]}" if words.startswith("1 ") else f"per {words}"


def _in_words(row: DeprovisionGuardPolicy) -> dict[str, str]:
    """The settings as the activity page shows them (audit before/after)."""
    return {
        "guard": "on" if row.enabled else "off",
        "share": f"{Decimal(row.share_percent).normalize():f}%",
        "minimum per window": f"{row.min_members} member{'s' if row.min_members != 1 else ''}",
        "window": describe_duration(row.window_seconds),
        "keep members active for": describe_duration(row.keep_active_seconds),
    }


def deprovision_guard_policy_update(
    *,
    organization: Organization,
    by: Member,
    enabled: bool,
    share_percent: Decimal,
    min_members: int,
    window_seconds: int,
    keep_active_seconds: int,
) -> bool:
    """An owner changes the organization's guard. Returns whether anything changed.

    Takes the organization's row lock, like every admission, so the next SCIM request is judged
    by the new settings and none is judged half by the old ones.
    """
    if (
        by.organization_id != organization.pk
        or by.role != Member.Role.OWNER
        or by.status != Member.Status.ACTIVE
        or by.user is None
    ):
        raise InvalidInput("Only owners of this organization can change the guard's settings.")
    bounds = DeprovisionGuardPolicy
    if not Decimal(0) < share_percent <= Decimal(100):
        raise InvalidInput("The share must be more than 0% and at most 100%.")
    if min_members < 1:
        raise InvalidInput("The minimum must be at least 1 member.")
    if not bounds.MIN_WINDOW_SECONDS <= window_seconds <= bounds.MAX_WINDOW_SECONDS:
        raise InvalidInput("The window must be from 5 minutes to 7 days.")
    if not bounds.MIN_KEEP_ACTIVE_SECONDS <= keep_active_seconds <= bounds.MAX_KEEP_ACTIVE_SECONDS:
        raise InvalidInput("Members can be kept active for 1 hour to 30 days.")
    actor = Actor.for_user(by.user)
    with transaction.atomic():
        Organization.objects.select_for_update().only("pk").get(pk=organization.pk)
        row = deprovision_guard_policy_create(organization=organization)
        before = _in_words(row)
        was_enabled = row.enabled
        row.enabled = enabled
        row.share_percent = share_percent.quantize(Decimal("0.01"))
        row.min_members = min_members
        row.window_seconds = window_seconds
        row.keep_active_seconds = keep_active_seconds
        after = _in_words(row)
        if after == before:
            return False
        now = timezone.now()
        row.changed_at = now
        row.changed_by = by.user
        row.changed_by_label = actor.label[:254]
        if was_enabled and not enabled:
            row.disabled_at = now
            row.disabled_by_label = actor.label[:254]
        elif enabled:
            row.disabled_at = None
            row.disabled_by_label = ""
        row.save()
        if was_enabled != enabled:
            action = "deprovision_guard.enabled" if enabled else "deprovision_guard.disabled"
        else:
            action = "deprovision_guard.settings_changed"
        audit_log_record(
            organization=organization,
            actor=actor,
            action=action,
            target=organization,
            target_label=organization.name,
            before={key: value for key, value in before.items() if after[key] != value},
            after={key: value for key, value in after.items() if before[key] != value},
        )
    return True


def _policy_locked(organization_id: int) -> GuardPolicy:
    """The settings the admission judges by; the caller holds the organization's row lock."""
    row = DeprovisionGuardPolicy.objects.filter(organization_id=organization_id).first()
    if row is None:
        row = deprovision_guard_policy_create(
            organization=Organization.objects.get(pk=organization_id)
        )
    return GuardPolicy.of(row)


# --- Reads ---------------------------------------------------------------------------------------


def _rearmed_at(organization: Organization) -> datetime | None:
    latest = DeprovisionHold.objects.filter(organization=organization).aggregate(
        decided=Max("decided_at"), resumed=Max("resumed_at")
    )
    moments = [moment for moment in latest.values() if moment is not None]
    return max(moments) if moments else None


def window_count(
    organization: Organization, *, policy: GuardPolicy, now: datetime | None = None
) -> WindowCount:
    """The identity provider's deprovisionings in the current window, and the limit they meet."""
    now = now or timezone.now()
    since = now - timedelta(seconds=policy.window_seconds)
    rearmed = _rearmed_at(organization)
    if rearmed is not None and rearmed > since:
        since = rearmed
    target_ids = set(
        AuditLogEntry.objects.filter(
            organization=organization,
            actor_kind=AuditLogEntry.ActorKind.IDENTITY_PROVIDER,
            target_type="member",
            created_at__gte=since,
        )
        .filter(
            Q(action="member.suspended")
            | Q(action="member.removed", before__status__in=list(LIVE_STATUSES))
        )
        .order_by()
        .values_list("target_id", flat=True)
        .distinct()
    )
    live = Member.objects.filter(organization=organization, status__in=LIVE_STATUSES)
    members = live.count()
    if target_ids:
        # Deprovisioned in the window and not reactivated since: they were active at its start.
        members += len(target_ids) - live.filter(pk__in=[int(i) for i in target_ids]).count()
    return WindowCount(
        since=since, deprovisioned=len(target_ids), members=members, limit=policy.limit(members)
    )


def open_hold(organization: Organization) -> DeprovisionHold | None:
    """The hold waiting for a decision, with `pending` (its held changes) annotated."""
    return (
        DeprovisionHold.objects.filter(
            organization=organization, state=DeprovisionHold.State.HOLDING
        )
        .annotate(
            pending=Count(
                "changes", filter=Q(changes__resolution=HeldDeprovisioning.Resolution.PENDING)
            )
        )
        .first()
    )


def kept_holds(organization: Organization, *, now: datetime | None = None) -> list[DeprovisionHold]:
    """Holds whose "keep members active" still refuses the identity provider."""
    return list(
        DeprovisionHold.objects.filter(
            organization=organization,
            state=DeprovisionHold.State.KEPT,
            keep_until__gt=now or timezone.now(),
        )
    )


def hold_for_organization(organization: Organization, hold_id: int) -> DeprovisionHold | None:
    return DeprovisionHold.objects.filter(organization=organization, pk=hold_id).first()


def hold_changes(hold: DeprovisionHold) -> list[HeldDeprovisioning]:
    return list(hold.changes.select_related("member"))


def recent_holds(organization: Organization, *, limit: int = 20) -> list[DeprovisionHold]:
    return list(
        DeprovisionHold.objects.filter(organization=organization).annotate(
            change_count=Count("changes")
        )[:limit]
    )


# --- The check on the SCIM write path -----------------------------------------------------------


def _refusal(
    member: Member, *, action: str, policy: GuardPolicy, now: datetime
) -> tuple[str, WindowCount | None] | None:
    """Why this deprovisioning must wait, or None to let it through."""
    organization = member.organization
    kept = (
        HeldDeprovisioning.objects.filter(
            member=member,
            resolution=HeldDeprovisioning.Resolution.KEPT,
            hold__state=DeprovisionHold.State.KEPT,
            hold__keep_until__gt=now,
        )
        .select_related("hold")
        .order_by("-hold__keep_until")
        .first()
    )
    if kept is not None and kept.hold.keep_until is not None:
        until = kept.hold.keep_until.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return (
            f"an administrator of this organization chose to keep this member active until "
            f"{until}. Fix the assignment or scoping of the application in the identity "
            "provider; until then this request is refused.",
            None,
        )
    holding = DeprovisionHold.objects.filter(
        organization=organization, state=DeprovisionHold.State.HOLDING
    ).first()
    if holding is not None:
        return (
            "earlier deprovisionings of this organization tripped the guard and wait for an owner "
            "or admin to apply or discard them in the admin panel; this request waits with them.",
            None,
        )
    count = window_count(organization, policy=policy, now=now)
    if count.deprovisioned < count.limit:
        return None
    minutes = max(policy.window_seconds // 60, 1)
    return (
        f"the identity provider already suspended or removed {count.deprovisioned} of about "
        f"{count.members} active members within {minutes} minutes (the limit is "
        f"{count.limit}). This {'removal' if action == Action.REMOVE else 'suspension'} waits "
        "until an owner or admin applies or discards the held changes in the admin panel.",
        count,
    )


def deprovision_admit(*, member: Member, action: str, actor: Actor) -> None:
    """Let the identity provider's suspension or removal of `member` through, or raise
    `DeprovisioningHeld`.

    Must run in the transaction that then applies the change: the organization's row lock taken
    here is held until it commits, so no other deprovisioning is counted in between.
    """
    if member.status not in LIVE_STATUSES:
        return
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("deprovision_admit() must run inside the transaction that applies it.")
    Organization.objects.select_for_update().only("pk").get(pk=member.organization_id)
    # Read under the lock: an owner's change (which takes the same lock) applies from the next
    # request on, and off means never held, kept members included.
    policy = _policy_locked(member.organization_id)
    if not policy.enabled:
        return
    now = timezone.now()
    refusal = _refusal(member, action=action, policy=policy, now=now)
    if refusal is None:
        return
    reason, count = refusal
    if count is None:
        count = window_count(member.organization, policy=policy, now=now)
    raise DeprovisioningHeld(
        reason,
        retry_after=policy.window_seconds,
        held=HeldRequest(
            organization_id=member.organization_id,
            member_id=member.pk,
            action=action,
            provider_label=actor.label,
            limit=count.limit,
            members=count.members,
            window_seconds=policy.window_seconds,
        ),
    )


# --- Writes --------------------------------------------------------------------------------------


def deprovision_hold_record(held: HeldRequest) -> HeldDeprovisioning:
    """Record a refused deprovisioning (its own transaction: the request's was rolled back).

    The first one opens the hold, audits it and enqueues the email to owners and admins; the
    same member asked again updates its row (a removal supersedes a suspension).
    """
    with transaction.atomic():
        organization = Organization.objects.select_for_update().get(pk=held.organization_id)
        member = Member.objects.get(pk=held.member_id, organization=organization)
        now = timezone.now()
        kept = (
            HeldDeprovisioning.objects.select_for_update()
            .filter(
                member=member,
                resolution=HeldDeprovisioning.Resolution.KEPT,
                hold__state=DeprovisionHold.State.KEPT,
                hold__keep_until__gt=now,
            )
            .first()
        )
        if kept is not None:
            _asked_again(kept, action=held.action, now=now)
            return kept
        hold = DeprovisionHold.objects.filter(
            organization=organization, state=DeprovisionHold.State.HOLDING
        ).first()
        if hold is None:
            hold = _hold_open(organization, held=held, now=now)
        elif (
            hold.notification == DeprovisionHold.Notification.PENDING
            and hold.started_at < now - NOTIFY_REENQUEUE_AFTER
        ):
            _enqueue_notification(hold.pk)
        change, created = HeldDeprovisioning.objects.select_for_update().get_or_create(
            hold=hold,
            member=member,
            defaults={"action": held.action, "first_requested_at": now, "last_requested_at": now},
        )
        if not created:
            _asked_again(change, action=held.action, now=now)
        return change


def deprovision_withdraw(*, member: Member) -> int:
    """The identity provider now says this member is active: its held suspension or removal of
    them, not decided yet, is withdrawn (shown as skipped), so "Apply held changes" never undoes
    the provider's latest word. Asked again later, it is held again. Returns how many."""
    return HeldDeprovisioning.objects.filter(
        member=member,
        resolution=HeldDeprovisioning.Resolution.PENDING,
        hold__state=DeprovisionHold.State.HOLDING,
    ).update(resolution=HeldDeprovisioning.Resolution.SKIPPED)


def _asked_again(change: HeldDeprovisioning, *, action: str, now: datetime) -> None:
    change.last_requested_at = now
    change.request_count = F("request_count") + 1
    fields = ["last_requested_at", "request_count"]
    if (
        change.resolution == HeldDeprovisioning.Resolution.SKIPPED
        and change.hold.state == DeprovisionHold.State.HOLDING
    ):
        # Withdrawn by a reactivation, now asked for again: waiting for a decision once more.
        change.resolution = HeldDeprovisioning.Resolution.PENDING
        fields.append("resolution")
    if action == Action.REMOVE and change.action != Action.REMOVE:
        change.action = Action.REMOVE
        fields.append("action")
    change.save(update_fields=fields)
    change.refresh_from_db(fields=["request_count"])


def _hold_open(organization: Organization, *, held: HeldRequest, now: datetime) -> DeprovisionHold:
    hold = DeprovisionHold.objects.create(
        organization=organization,
        provider_label=held.provider_label[:254],
        limit=held.limit,
        live_members=held.members,
        window_seconds=held.window_seconds,
        started_at=now,
    )
    audit_log_record(
        organization=organization,
        actor=Actor.identity_provider(held.provider_label),
        action="deprovision_guard.held",
        target=hold,
        target_label=f"after {held.limit} of {held.members} members in "
        f"{max(held.window_seconds // 60, 1)} minutes",
        after={
            "limit": held.limit,
            "members": held.members,
            "window_seconds": held.window_seconds,
        },
    )
    _enqueue_notification(hold.pk)
    return hold


def _decide(hold: DeprovisionHold, *, expected: str) -> tuple[DeprovisionHold, datetime]:
    """Lock the organization and the hold; refuse a decision someone already made."""
    Organization.objects.select_for_update().only("pk").get(pk=hold.organization_id)
    locked = DeprovisionHold.objects.select_for_update().get(pk=hold.pk)
    if locked.state != expected:
        raise HoldNotOpen(f"This hold is already {locked.get_state_display().lower()}.")
    return locked, timezone.now()


@dataclass(frozen=True)
class ApplyReport:
    applied: int
    skipped: int


def deprovision_hold_apply(*, hold: DeprovisionHold, actor: Actor) -> ApplyReport:
    """Apply every held change through the same services as SCIM, as the admin's decision."""
    applied = skipped = 0
    with transaction.atomic():
        hold, now = _decide(hold, expected=DeprovisionHold.State.HOLDING)
        changes = hold.changes.filter(
            resolution=HeldDeprovisioning.Resolution.PENDING
        ).select_related("member__organization")
        for change in changes:
            member = change.member
            if is_last_owner(member):
                # Never lock the organization out: two owners held, the second is now the last.
                change.resolution = HeldDeprovisioning.Resolution.SKIPPED
            elif change.action == Action.REMOVE and member.status != Member.Status.DELETED:
                member_remove(member=member, actor=actor)
                change.resolution = HeldDeprovisioning.Resolution.APPLIED
            elif change.action == Action.SUSPEND and member.status in LIVE_STATUSES:
                member_set_active(member=member, active=False, actor=actor)
                change.resolution = HeldDeprovisioning.Resolution.APPLIED
            else:
                # Changed since it was held (suspended or removed in the panel): nothing to do.
                change.resolution = HeldDeprovisioning.Resolution.SKIPPED
            change.save(update_fields=["resolution"])
            if change.resolution == HeldDeprovisioning.Resolution.APPLIED:
                applied += 1
            else:
                skipped += 1
        _close(hold, actor=actor, now=now, state=DeprovisionHold.State.APPLIED)
        audit_log_record(
            organization=hold.organization,
            actor=actor,
            action="deprovision_guard.applied",
            target=hold,
            target_label=_members(applied),
            before={"state": DeprovisionHold.State.HOLDING},
            after={"state": hold.state, "applied": applied, "skipped": skipped},
        )
    return ApplyReport(applied=applied, skipped=skipped)


def deprovision_hold_keep(
    *, hold: DeprovisionHold, actor: Actor, keep_for: timedelta | None = None
) -> int:
    """Discard the held changes; the identity provider's retries of them stay refused for
    `keep_for`, by default the organization's keep-active duration. Returns how many members
    were kept."""
    if keep_for is not None and not (
        DeprovisionGuardPolicy.MIN_KEEP_ACTIVE_SECONDS
        <= keep_for.total_seconds()
        <= DeprovisionGuardPolicy.MAX_KEEP_ACTIVE_SECONDS
    ):
        raise InvalidInput("Members can be kept active for 1 hour to 30 days.")
    with transaction.atomic():
        hold, now = _decide(hold, expected=DeprovisionHold.State.HOLDING)
        if keep_for is None:
            keep_for = _policy_locked(hold.organization_id).keep_active_for
        kept = hold.changes.filter(resolution=HeldDeprovisioning.Resolution.PENDING).update(
            resolution=HeldDeprovisioning.Resolution.KEPT
        )
        hold.keep_until = now + keep_for
        _close(hold, actor=actor, now=now, state=DeprovisionHold.State.KEPT, extra=["keep_until"])
        audit_log_record(
            organization=hold.organization,
            actor=actor,
            action="deprovision_guard.kept",
            target=hold,
            target_label=_members(kept),
            before={"state": DeprovisionHold.State.HOLDING},
            after={
                "state": hold.state,
                "kept": kept,
                "keep_until": hold.keep_until.isoformat(),
                "kept_for": describe_duration(int(keep_for.total_seconds())),
            },
        )
    return kept


def deprovision_hold_resume(*, hold: DeprovisionHold, actor: Actor) -> None:
    """End a "keep members active" early: their deprovisioning is counted by the guard again."""
    with transaction.atomic():
        hold, now = _decide(hold, expected=DeprovisionHold.State.KEPT)
        if not hold.keeps_members_at(now):
            raise HoldNotOpen("The members are no longer kept active.")
        hold.state = DeprovisionHold.State.RESUMED
        hold.resumed_at = now
        hold.save(update_fields=["state", "resumed_at"])
        audit_log_record(
            organization=hold.organization,
            actor=actor,
            action="deprovision_guard.resumed",
            target=hold,
            target_label=_members(
                hold.changes.filter(resolution=HeldDeprovisioning.Resolution.KEPT).count()
            ),
            before={"state": DeprovisionHold.State.KEPT},
            after={"state": hold.state},
        )


def _members(count: int) -> str:
    return f"{count} member{'s' if count != 1 else ''}"


def _close(
    hold: DeprovisionHold,
    *,
    actor: Actor,
    now: datetime,
    state: str,
    extra: list[str] | None = None,
) -> None:
    hold.state = state
    hold.decided_at = now
    hold.decided_by = actor.user
    hold.decided_by_label = actor.label[:254]
    hold.save(
        update_fields=["state", "decided_at", "decided_by", "decided_by_label", *(extra or [])]
    )


# --- Telling owners and admins -----------------------------------------------------------------


def _enqueue_notification(hold_id: int) -> None:
    """After commit; if the broker is down, the next held request queues it again
    (NOTIFY_REENQUEUE_AFTER)."""
    from integrations.tasks import notify_deprovision_hold

    publish_on_commit(notify_deprovision_hold, hold_id, retried_by="the next held request")


def hold_url(hold: DeprovisionHold) -> str:
    return f"{settings.SITE_URL}{reverse('integration_deprovision_hold', args=[hold.pk])}"


def _recipients(organization: Organization) -> list[str]:
    admins = Member.objects.filter(
        organization=organization, role__in=Member.ADMIN_ROLES, status=Member.Status.ACTIVE
    ).select_related("user")
    addresses = {(m.user.email if m.user is not None else "") or m.email for m in admins}
    return sorted(address for address in addresses if address)


def _message(hold: DeprovisionHold, recipients: list[str]) -> EmailMultiAlternatives:
    changes = hold.changes.select_related("member")
    context = {
        "organization": hold.organization,
        "hold": hold,
        "changes": changes[:20],
        "change_count": changes.count(),
        "url": hold_url(hold),
        "window_minutes": max(hold.window_seconds // 60, 1),
    }
    domain = settings.SITE_URL.split("//", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    message = EmailMultiAlternatives(
        subject=render_to_string("emails/deprovision_hold_subject.txt", context).strip(),
        body=render_to_string("emails/deprovision_hold.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        headers={"Message-ID": make_msgid(domain=domain or "localhost")},
    )
    message.attach_alternative(
        render_to_string("emails/deprovision_hold.html", context), "text/html"
    )
    return message


def deprovision_hold_notify(hold_id: int) -> str:
    """Email the organization's owners and admins about a hold, at most once.

    Only the worker that moves the notification PENDING → SENDING sends; returns "sent",
    "skipped", "retry" or "failed".
    """
    # A hold an admin already decided needs no notice any more (a message delayed by a broker
    # outage, or re-queued by the sweep, must not announce a hold that is over).
    claimed = DeprovisionHold.objects.filter(
        pk=hold_id,
        notification=DeprovisionHold.Notification.PENDING,
        state=DeprovisionHold.State.HOLDING,
    ).update(
        notification=DeprovisionHold.Notification.SENDING,
        notification_attempts=F("notification_attempts") + 1,
        notification_attempted_at=timezone.now(),
    )
    if not claimed:
        return "skipped"
    hold = DeprovisionHold.objects.select_related("organization").get(pk=hold_id)
    recipients = _recipients(hold.organization)
    sending = DeprovisionHold.objects.filter(
        pk=hold_id, notification=DeprovisionHold.Notification.SENDING
    )
    if not recipients:
        sending.update(notification=DeprovisionHold.Notification.FAILED)
        logger.warning("Deprovision hold %s: no owner or admin has an email address", hold_id)
        return "failed"
    try:
        _message(hold, recipients).send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - any backend error is retried, then recorded
        out_of_attempts = hold.notification_attempts >= NOTIFY_MAX_ATTEMPTS
        sending.update(
            notification=DeprovisionHold.Notification.FAILED
            if out_of_attempts
            else DeprovisionHold.Notification.PENDING
        )
        logger.warning("Deprovision hold %s: email failed (%s)", hold_id, type(exc).__name__)
        return "failed" if out_of_attempts else "retry"
    sending.update(notification=DeprovisionHold.Notification.SENT, notified_at=timezone.now())
    return "sent"


@dataclass(frozen=True)
class NotifySweepReport:
    recovered: int
    requeued: int
    failed: int


def deprovision_hold_notify_sweep(*, now: datetime | None = None) -> NotifySweepReport:
    """The periodic safety net for hold notices (Celery beat, every minute).

    A worker that died mid-send left SENDING behind: after INVITATION_SENDING_TIMEOUT (the same
    limit as invitations, far above EMAIL_TIMEOUT) the claim is taken as lost, the notice goes
    back to PENDING and is queued again, unless it used up its attempts. A PENDING notice whose
    message was lost (broker outage) is queued again too. Only the worker that claims it
    (PENDING → SENDING) sends, so sweeps that run twice, or two queued tasks, send it once.
    """
    from integrations.tasks import notify_deprovision_hold

    now = now or timezone.now()
    lost = DeprovisionHold.objects.filter(
        notification=DeprovisionHold.Notification.SENDING,
        notification_attempted_at__lt=now - timedelta(seconds=settings.INVITATION_SENDING_TIMEOUT),
    )
    failed = lost.filter(notification_attempts__gte=NOTIFY_MAX_ATTEMPTS).update(
        notification=DeprovisionHold.Notification.FAILED
    )
    recovered = lost.update(notification=DeprovisionHold.Notification.PENDING)
    stale = now - NOTIFY_REENQUEUE_AFTER
    pending = list(
        DeprovisionHold.objects.filter(
            notification=DeprovisionHold.Notification.PENDING, state=DeprovisionHold.State.HOLDING
        )
        .filter(
            Q(notification_attempted_at__isnull=True, started_at__lt=stale)
            | Q(notification_attempted_at__lt=stale)
        )
        .values_list("pk", flat=True)[:1000]
    )
    requeued = sum(
        publish(notify_deprovision_hold, pk, retried_by="the next sweep") for pk in pending
    )
    if recovered or failed:
        logger.warning(
            "Hold notices left sending by a lost worker: %s queued again, %s failed",
            recovered,
            failed,
        )
    return NotifySweepReport(recovered=recovered, requeued=requeued, failed=failed)
