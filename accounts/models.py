"""Organizations, the people in them, their groups, and the audit trail of every change.

Tenancy model: a `User` is only a sign-in identity (an email and a password). Everything an
organization knows about a person lives on its own `Member` row, so two organizations can hold the
same email address independently and neither can learn that the other has it. A `Member` is linked
to a `User` once the person has signed in or finished registration.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        # Sign-in is case-insensitive: "Alice@Example.com" and "alice@example.com" are one account.
        return self.get(email__iexact=username)

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who can sign in. Organization-specific data lives on `Member`."""

    email = models.EmailField("email address", max_length=254, unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can sign in to the Django admin site.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


def new_tenant_id() -> uuid.UUID:
    return uuid.uuid4()


def casefold_key(value: str) -> str:
    """The comparison key of a case-insensitive name (RFC 7643 `caseExact: false`).

    Stored in its own indexed column so lookups and uniqueness behave the same on PostgreSQL and
    SQLite (whose LOWER() folds ASCII only) and use a plain index.
    """
    return value.casefold()


def _touch(
    instance: models.Model, update_fields: Iterable[str] | None, name_field: str
) -> set[str] | None:
    """Stamp created_at/updated_at and keep `<name>_key` in the saved fields with its name."""
    now = timezone.now()
    if instance._state.adding:
        instance.created_at = instance.updated_at = now  # type: ignore[attr-defined]
        return None if update_fields is None else set(update_fields)
    instance.updated_at = now  # type: ignore[attr-defined]
    if update_fields is None:
        return None
    fields = {*update_fields, "updated_at"}
    if name_field in fields:
        fields.add(f"{name_field}_key")
    return fields


class Organization(models.Model):
    """A customer company. `tenant_id` is in the SCIM Tenant URL: random, never sequential."""

    class InvitationPolicy(models.TextChoices):
        AUTOMATIC = "automatic", "Send invitations automatically"
        MANUAL = "manual", "Stage members until an admin invites them"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    tenant_id = models.UUIDField(default=new_tenant_id, unique=True, editable=False)
    invitation_policy = models.CharField(
        max_length=16, choices=InvitationPolicy.choices, default=InvitationPolicy.AUTOMATIC
    )
    invitation_ttl_days = models.PositiveSmallIntegerField(
        default=7, help_text="Days an invitation link stays valid."
    )
    # Members of this identity-provider group are admins (owners are never changed by it).
    admin_group = models.ForeignKey(
        "Group", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Owners and admins must sign in with a second factor; set only by an owner who has one.
    require_two_factor = models.BooleanField(
        default=False, help_text="Owners and admins must use two-factor sign-in."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="organization_name_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Member(models.Model):
    """A person's membership of one organization: role, lifecycle status and where it came from."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    class Status(models.TextChoices):
        INVITED = "invited", "Invited"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        DELETED = "deleted", "Deleted"

    class Source(models.TextChoices):
        PANEL = "panel", "Admin panel"
        IDENTITY_PROVIDER = "idp", "Identity provider"

    ADMIN_ROLES: ClassVar[frozenset[str]] = frozenset({Role.OWNER, Role.ADMIN})

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="memberships"
    )
    # The SCIM `id`: random, so ids reveal nothing about other organizations or member counts.
    scim_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # SCIM userName (unique per organization, case-insensitive); the email for panel invitations.
    user_name = models.CharField(max_length=256)
    user_name_key = models.CharField(max_length=256)
    # The provisioning client's own identifier (RFC 7643 §3.1): not unique. Clients repeat it
    # (Entra's default mapping sends mailNickname, which repeats across a tenant's domains).
    external_id = models.CharField(max_length=256, blank=True)
    # Where invitations go: the primary work email, else userName when it is an address.
    email = models.EmailField(max_length=254, blank=True)
    full_name = models.CharField(max_length=200, blank=True)
    # Projections of the SCIM document, kept as columns for filtering and display.
    display_name = models.CharField(max_length=256, blank=True)
    given_name = models.CharField(max_length=256, blank=True)
    family_name = models.CharField(max_length=256, blank=True)
    formatted_name = models.CharField(max_length=512, blank=True)
    # The enterprise extension's manager id as sent: Entra ID filters on it before updating it.
    manager_ref = models.CharField(max_length=256, blank=True)
    # Everything the identity provider sent, normalized (RFC 7643 attribute names), so a GET
    # returns what was set, attributes the product does not model included.
    scim_attributes = models.JSONField(default=dict, blank=True)
    # Bumped on every change: SCIM meta.version and the ETag.
    version = models.PositiveIntegerField(default=1)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    # True when the admin role comes from the organization's admin group, so leaving the group
    # takes it away again; a role an owner set by hand is never changed by group membership.
    role_from_group = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INVITED)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.PANEL)
    # Set in save(): a new row gets one instant for both (SCIM meta.created == lastModified).
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["organization", "email"]
        constraints = [
            # A deleted member keeps its history; the name can be used again by a new member.
            models.UniqueConstraint(
                fields=["organization", "user_name_key"],
                condition=~Q(status="deleted"),
                name="member_user_name_unique_per_org",
            ),
            models.UniqueConstraint(
                fields=["organization", "user"],
                condition=Q(user__isnull=False) & ~Q(status="deleted"),
                name="member_user_unique_per_org",
            ),
            models.CheckConstraint(
                condition=Q(role__in=["owner", "admin", "member"]), name="member_role_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["invited", "active", "suspended", "deleted"]),
                name="member_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status"], name="member_org_status_idx"),
            models.Index(fields=["organization", "email"], name="member_org_email_idx"),
            # `externalId eq` lookups; not unique (see external_id above).
            models.Index(fields=["organization", "external_id"], name="member_org_external_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_name} ({self.organization})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Derived values only (not business logic): the unique key follows the name, and the
        # timestamps follow the write.
        self.user_name_key = casefold_key(self.user_name)
        kwargs["update_fields"] = _touch(self, kwargs.get("update_fields"), "user_name")
        super().save(*args, **kwargs)

    @property
    def is_admin(self) -> bool:
        return self.role in self.ADMIN_ROLES and self.status == self.Status.ACTIVE

    @property
    def label(self) -> str:
        """How the panel names this person."""
        return self.full_name or self.email or self.user_name

    @property
    def scim_active(self) -> bool:
        """SCIM `active`: an invited member is reported active (the IdP asked for an active
        account; reporting false makes Entra ID and Okta loop trying to reactivate it)."""
        return self.status in (self.Status.INVITED, self.Status.ACTIVE)


class MemberEmail(models.Model):
    """A member's SCIM `emails` entries, kept as rows so filters such as
    `emails[type eq "work"].value eq "x"` run in the database (the document holds the same)."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="emails")
    value = models.CharField(max_length=320)
    value_key = models.CharField(max_length=320)
    type = models.CharField(max_length=64, blank=True)
    primary = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["value_key"], name="member_email_value_idx")]

    def __str__(self) -> str:
        return self.value


class Group(models.Model):
    """A group of members, usually pushed by the identity provider."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="groups")
    scim_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    display_name = models.CharField(max_length=256)
    display_name_key = models.CharField(max_length=256)
    external_id = models.CharField(max_length=256, blank=True)
    source = models.CharField(
        max_length=16, choices=Member.Source.choices, default=Member.Source.PANEL
    )
    scim_attributes = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=1)
    members: models.ManyToManyField[Member, GroupMembership] = models.ManyToManyField(
        Member, through="GroupMembership", related_name="groups"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["organization", "display_name"]
        constraints = [
            # Unique, case-insensitively: Entra and Okta find a group by `displayName eq` before
            # creating it, and the panel names groups (the admin-group choice) by name.
            models.UniqueConstraint(
                fields=["organization", "display_name_key"], name="group_name_unique_per_org"
            ),
        ]
        indexes = [
            # `externalId eq` lookups; not unique, like a member's (RFC 7643 §3.1).
            models.Index(fields=["organization", "external_id"], name="group_org_external_id_idx"),
        ]

    def __str__(self) -> str:
        return self.display_name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.display_name_key = casefold_key(self.display_name)
        kwargs["update_fields"] = _touch(self, kwargs.get("update_fields"), "display_name")
        super().save(*args, **kwargs)


class GroupMembership(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="group_memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "member"], name="group_membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} in {self.group_id}"


class Invitation(models.Model):
    """One invitation email to a member, with its delivery state.

    The link's token is never stored: it is an HMAC of the invitation and its `nonce` under the
    server's secret key, so the Celery worker can rebuild the link from the id it is given, and
    the database only holds the token's digest for lookups. A resend makes a new invitation (new
    nonce) and revokes the old one, so only the newest link works.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        ACCEPTED = "accepted", "Accepted"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"

    # On its way or waiting for the person: what the panel counts as a pending invitation.
    AWAITING_STATUSES: ClassVar[tuple[str, ...]] = (Status.PENDING, Status.SENDING, Status.SENT)
    # Not final yet: at most one per member (a database constraint).
    OPEN_STATUSES: ClassVar[tuple[str, ...]] = (*AWAITING_STATUSES, Status.FAILED)

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    nonce = models.CharField(max_length=64)
    token_digest = models.CharField(max_length=64, unique=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One live invitation per member: a resend revokes the previous one first.
            models.UniqueConstraint(
                fields=["member"],
                condition=Q(status__in=["pending", "sending", "sent", "failed"]),
                name="invitation_one_open_per_member",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="invitation_status_idx"),
            models.Index(fields=["organization", "status"], name="invitation_org_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Invitation to {self.email} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class AuditLogEntry(models.Model):
    """One security-relevant change, written in the same transaction as the change itself."""

    class ActorKind(models.TextChoices):
        USER = "user", "Person"
        IDENTITY_PROVIDER = "idp", "Identity provider"
        SYSTEM = "system", "System"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="audit_log_entries"
    )
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Kept as text so the entry still names the actor after the account is gone.
    actor_label = models.CharField(max_length=254)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=254, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit log entries"
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="audit_org_created_idx"),
            models.Index(
                fields=["organization", "target_type", "target_id"], name="audit_org_target_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"


class TwoFactorDevice(models.Model):
    """A person's authenticator app (TOTP, RFC 6238). Belongs to the sign-in identity, not to a
    membership: one second factor protects every organization the person works in.

    Secrets are sealed with a key derived from SECRET_KEY (see `accounts.twofactor`), never stored
    in the clear. `pending_secret` is an enrollment not confirmed with a code yet; while it is
    pending, the confirmed `secret` (if any) keeps working, so replacing a phone never leaves the
    account without a second factor.
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="two_factor_device")
    secret = models.TextField(blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    pending_secret = models.TextField(blank=True)
    pending_since = models.DateTimeField(null=True, blank=True)
    # The time step of the last accepted code: a code is accepted once, and never one older.
    last_used_step = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(confirmed_at__isnull=True) | ~Q(secret=""),
                name="two_factor_confirmed_has_secret",
            ),
        ]

    def __str__(self) -> str:
        return f"Two-factor device of {self.user_id}"

    @property
    def is_enabled(self) -> bool:
        return self.confirmed_at is not None


class RecoveryCode(models.Model):
    """A single-use code that stands in for the authenticator; only its SHA-256 digest is kept."""

    device = models.ForeignKey(
        TwoFactorDevice, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    digest = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "digest"], name="recovery_code_unique"),
        ]

    def __str__(self) -> str:
        return f"Recovery code {self.pk} ({'used' if self.used_at else 'unused'})"


class PeriodicTaskRun(models.Model):
    """The last run of one Celery beat task, and the claim that keeps it to one run per period.

    Beat must run once, but a second beat started by mistake (`--scale beat=2`, or two workers
    started with `-B`) sends every periodic task twice. Before a run, the worker moves
    `started_at` forward with one conditional UPDATE (`nordpass_admin.periodic`); a duplicate
    sent within the same period finds it moved and is refused, counted in `refused`. Times come
    from the database's clock, so workers whose clocks disagree still agree on the period.
    """

    task = models.CharField(max_length=200, primary_key=True)
    started_at = models.DateTimeField()
    # Null while a run is in progress, or after a worker died in the middle of one.
    finished_at = models.DateTimeField(null=True, blank=True)
    runs = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    # What the last finished run returned (the task's summary), or the exception that ended it.
    last_result = models.JSONField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.task}: {self.runs} runs, last started {self.started_at:%Y-%m-%d %H:%M:%S}"
