"""Organizations, the people in them, their groups, and the audit trail of every change.

Tenancy model: a `User` is only a sign-in identity (an email and a password). Everything an
organization knows about a person lives on its own `Member` row, so two organizations can hold the
same email address independently and neither can learn that the other has it. A `Member` is linked
to a `User` once the person has signed in or finished registration.
"""

from __future__ import annotations

import uuid
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


class Organization(models.Model):
    """A customer company. `tenant_id` is in the SCIM Tenant URL: random, never sequential."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    tenant_id = models.UUIDField(default=new_tenant_id, unique=True, editable=False)
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
    email = models.EmailField(max_length=254)
    full_name = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INVITED)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.PANEL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["organization", "email"]
        constraints = [
            # A deleted member keeps its history; the address can be used again by a new member.
            models.UniqueConstraint(
                "organization",
                Lower("email"),
                condition=~Q(status="deleted"),
                name="member_email_ci_unique_per_org",
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
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.organization})"

    @property
    def is_admin(self) -> bool:
        return self.role in self.ADMIN_ROLES and self.status == self.Status.ACTIVE

    @property
    def display_name(self) -> str:
        return self.full_name or self.email


class Group(models.Model):
    """A group of members, usually pushed by the identity provider."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="groups")
    display_name = models.CharField(max_length=256)
    source = models.CharField(
        max_length=16, choices=Member.Source.choices, default=Member.Source.PANEL
    )
    members: models.ManyToManyField[Member, GroupMembership] = models.ManyToManyField(
        Member, through="GroupMembership", related_name="groups"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization", "display_name"]
        constraints = [
            models.UniqueConstraint(
                "organization", Lower("display_name"), name="group_name_ci_unique_per_org"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name


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


class AuditLogEntry(models.Model):
    """One security-relevant change, written in the same transaction as the change itself."""

    class ActorKind(models.TextChoices):
        USER = "user", "Admin"
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
