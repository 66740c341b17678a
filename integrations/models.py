"""SCIM credentials and the record of every SCIM request an identity provider makes."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Member, Organization, User


class ScimToken(models.Model):
    """A bearer token an identity provider presents on every SCIM request.

    Only the SHA-256 digest of the token is stored. The token carries 256 random bits, so a fast
    hash is as safe as a slow one and keeps verification cheap on a hot path. `hint` keeps the
    first characters (the readable prefix plus four random characters) so admins can tell tokens
    apart, and a leaked token found by a secret scanner can be matched to its row.

    An organization has at most one CURRENT token, and at most one PREVIOUS token that stays
    valid until `expires_at` so the switch in the identity provider causes no failed cycle.
    """

    class State(models.TextChoices):
        CURRENT = "current", "Current"
        PREVIOUS = "previous", "Previous (overlap)"
        RETIRED = "retired", "Retired"

    class RetiredReason(models.TextChoices):
        REPLACED = "replaced", "Replaced by a new token"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Overlap ended"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="scim_tokens"
    )
    digest = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=32)
    state = models.CharField(max_length=16, choices=State.choices, default=State.CURRENT)
    provider = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by_label = models.CharField(max_length=254)
    expires_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_reason = models.CharField(max_length=16, choices=RetiredReason.choices, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(state="current"),
                name="scim_token_one_current_per_org",
            ),
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(state="previous"),
                name="scim_token_one_previous_per_org",
            ),
            models.CheckConstraint(
                condition=~Q(state="previous") | Q(expires_at__isnull=False),
                name="scim_token_previous_expires",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["current", "previous", "retired"]),
                name="scim_token_state_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.hint}… ({self.get_state_display()})"

    def is_valid_at(self, moment: datetime) -> bool:
        if self.state == self.State.CURRENT:
            return True
        return (
            self.state == self.State.PREVIOUS
            and self.expires_at is not None
            and (moment < self.expires_at)
        )


class ScimRequest(models.Model):
    """One SCIM request: what the identity provider asked, and what it got back.

    Written by the SCIM service for every request (bodies redacted); read by the connection
    status on the Integrations page and by the provisioning log.
    """

    class ClientKind(models.TextChoices):
        ENTRA_ID = "entra-id", "Microsoft Entra ID"
        OKTA = "okta", "Okta"
        OTHER = "scim", "Other SCIM client"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="scim_requests"
    )
    created_at = models.DateTimeField(default=timezone.now)
    request_id = models.CharField(max_length=64)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=512)
    query = models.TextField(blank=True)
    status_code = models.PositiveSmallIntegerField()
    duration_ms = models.PositiveIntegerField(default=0)
    client_kind = models.CharField(
        max_length=16, choices=ClientKind.choices, default=ClientKind.OTHER
    )
    resource_type = models.CharField(max_length=16, blank=True)
    resource_id = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=300, blank=True)
    # Something the admin should know about a request that succeeded (member ids a group write
    # skipped, and why): shown with the entry and among the dashboard's provisioning problems,
    # never counted as an error.
    warning = models.TextField(blank=True)
    request_body = models.TextField(blank=True)
    response_body = models.TextField(blank=True)
    remote_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="scim_req_org_created_idx"),
            models.Index(
                fields=["organization", "status_code", "-created_at"],
                name="scim_req_org_status_idx",
            ),
            # The provisioning log's member filter finds requests by the resource they touched.
            models.Index(
                fields=["organization", "resource_id", "-created_at"],
                name="scim_req_org_resource_idx",
            ),
            # The dashboard's recent problems and the log's warning filter: a partial index holds
            # only the few rows with a warning, so neither walks the organization's whole log.
            models.Index(
                fields=["organization", "-created_at"],
                condition=~Q(warning=""),
                name="scim_req_org_warning_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status_code}"

    @property
    def is_error(self) -> bool:
        return self.status_code >= 400

    @property
    def has_warning(self) -> bool:
        return bool(self.warning)


class DeprovisionHold(models.Model):
    """The mass-deprovisioning guard tripped for an organization: its deprovisionings wait.

    While HOLDING, every suspension or removal the identity provider asks for is refused (429) and
    recorded as a `HeldDeprovisioning`. An owner or admin then either applies them (APPLIED) or
    keeps the members active (KEPT): the same requests are then refused until `keep_until`, or
    until an admin resumes (RESUMED). See integrations/deprovision_guard.py.
    """

    class State(models.TextChoices):
        HOLDING = "holding", "Waiting for a decision"
        APPLIED = "applied", "Held changes applied"
        KEPT = "kept", "Members kept active"
        RESUMED = "resumed", "Provisioning resumed"

    class Notification(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="deprovision_holds"
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.HOLDING)
    provider_label = models.CharField(max_length=254)
    # What tripped it, as the guard saw it: shown to the admin and in the email.
    limit = models.PositiveIntegerField()
    live_members = models.PositiveIntegerField()
    window_seconds = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_by_label = models.CharField(max_length=254, blank=True)
    keep_until = models.DateTimeField(null=True, blank=True)
    resumed_at = models.DateTimeField(null=True, blank=True)
    notification = models.CharField(
        max_length=16, choices=Notification.choices, default=Notification.PENDING
    )
    notification_attempts = models.PositiveSmallIntegerField(default=0)
    # When a worker last claimed the email (PENDING → SENDING): the sweep takes a claim older
    # than INVITATION_SENDING_TIMEOUT as lost with its worker.
    notification_attempted_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # One open decision per organization: every held request joins it.
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(state="holding"),
                name="deprovision_hold_one_holding_per_org",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["holding", "applied", "kept", "resumed"]),
                name="deprovision_hold_state_valid",
            ),
            models.CheckConstraint(
                condition=~Q(state="kept") | Q(keep_until__isnull=False),
                name="deprovision_hold_kept_has_end",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "state"], name="deprov_hold_org_state_idx"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.organization} {self.get_state_display()} since {self.started_at:%Y-%m-%d %H:%M}"
        )

    def keeps_members_at(self, moment: datetime) -> bool:
        """Whether an admin's "keep members active" still refuses these members' deprovisioning."""
        return (
            self.state == self.State.KEPT
            and self.keep_until is not None
            and moment < self.keep_until
        )


class HeldDeprovisioning(models.Model):
    """One member's suspension or removal that the guard held instead of applying.

    One row per member and hold: the identity provider retrying the same change updates it.
    """

    class Action(models.TextChoices):
        SUSPEND = "suspend", "Suspend"
        REMOVE = "remove", "Remove"

    class Resolution(models.TextChoices):
        PENDING = "pending", "Waiting"
        APPLIED = "applied", "Applied"
        SKIPPED = "skipped", "Skipped (already changed)"
        KEPT = "kept", "Kept active"

    hold = models.ForeignKey(DeprovisionHold, on_delete=models.CASCADE, related_name="changes")
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="held_deprovisionings"
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    resolution = models.CharField(
        max_length=16, choices=Resolution.choices, default=Resolution.PENDING
    )
    first_requested_at = models.DateTimeField(default=timezone.now)
    last_requested_at = models.DateTimeField(default=timezone.now)
    request_count = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["first_requested_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["hold", "member"], name="held_deprovisioning_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.member_id} ({self.get_resolution_display()})"


class DeprovisionGuardPolicy(models.Model):
    """An organization's own thresholds for the mass-deprovisioning guard.

    Created with the deployment's defaults (DEPROVISION_GUARD_*) for an organization that has
    none yet; from then on only its owners change it. Read by the guard's admission in the
    transaction that holds the organization's row lock, so a change applies to the next request.
    """

    # The bounds the settings form and the database both enforce.
    MIN_WINDOW_SECONDS = 5 * 60
    MAX_WINDOW_SECONDS = 7 * 24 * 3600
    MIN_KEEP_ACTIVE_SECONDS = 3600
    MAX_KEEP_ACTIVE_SECONDS = 30 * 24 * 3600
    DEFAULT_KEEP_ACTIVE_SECONDS = 24 * 3600

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="deprovision_guard_policy"
    )
    enabled = models.BooleanField(default=True)
    # Percent of the active members, 0 < share ≤ 100, so 12.5 is stored exactly.
    share_percent = models.DecimalField(max_digits=5, decimal_places=2)
    min_members = models.PositiveIntegerField()
    window_seconds = models.PositiveIntegerField()
    keep_active_seconds = models.PositiveIntegerField(default=DEFAULT_KEEP_ACTIVE_SECONDS)
    changed_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_by_label = models.CharField(max_length=254, blank=True)
    # Who turned the guard off and when, for the notice on the dashboard (blank: the default).
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_by_label = models.CharField(max_length=254, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(share_percent__gt=0, share_percent__lte=100),
                name="deprovision_policy_share_valid",
            ),
            models.CheckConstraint(
                condition=Q(min_members__gte=1), name="deprovision_policy_minimum_valid"
            ),
            models.CheckConstraint(
                condition=Q(window_seconds__gte=300, window_seconds__lte=7 * 24 * 3600),
                name="deprovision_policy_window_valid",
            ),
            models.CheckConstraint(
                condition=Q(keep_active_seconds__gte=3600, keep_active_seconds__lte=30 * 24 * 3600),
                name="deprovision_policy_keep_valid",
            ),
        ]

    def __str__(self) -> str:
        state = "on" if self.enabled else "off"
        return f"{self.organization} guard {state}: {self.share_percent}% / {self.min_members}"


class EmailDomain(models.Model):
    """A domain an organization claims for its people's email addresses.

    Single sign-on routes a person from the sign-in page to the identity provider of the
    organization that VERIFIED their email's domain (integrations/domains.py), so a claim counts
    only once its DNS record proves the organization controls the domain. Several organizations
    may claim a domain while it is PENDING; the database lets at most one of them verify it.
    `domain` is the normalized ASCII form (lowercase, punycode, no trailing dot).
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for the DNS record"
        VERIFIED = "verified", "Verified"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="email_domains"
    )
    domain = models.CharField(max_length=253)
    # Published in DNS, so not a secret: random only so that nobody can publish it in advance.
    token = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    added_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    added_by_label = models.CharField(max_length=254)
    verified_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    # Why the last check failed, in words for the admin (blank: never checked, or verified).
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["domain", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "domain"], name="email_domain_once_per_org"
            ),
            # The rule single sign-on relies on: one organization owns a verified domain.
            models.UniqueConstraint(
                fields=["domain"],
                condition=Q(state="verified"),
                name="email_domain_verified_once",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["pending", "verified"]), name="email_domain_state_valid"
            ),
            models.CheckConstraint(
                condition=~Q(state="verified") | Q(verified_at__isnull=False),
                name="email_domain_verified_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "created_at"], name="email_domain_state_idx"),
        ]

    def __str__(self) -> str:
        return self.domain


class SsoConnection(models.Model):
    """An organization's single sign-on through its identity provider (OpenID Connect).

    One per organization: the identity provider that provisions its people also signs them in.
    The client secret is sealed with a key derived from SECRET_KEY (accounts/twofactor.py's
    `seal_secret`), shown to nobody after it is saved, and replaced, never edited. What the
    protocol does with these values is integrations/oidc.py.
    """

    class Policy(models.TextChoices):
        OFF = "off", "Off"
        OPTIONAL = "optional", "Optional: password or single sign-on"
        REQUIRED = "required", "Required: single sign-on only (owners keep a password)"

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="sso_connection"
    )
    # The provider page it was set up on ("entra-id", "okta", "scim"): wording and buttons.
    provider = models.CharField(max_length=20)
    # The exact issuer the ID token's `iss` must equal (for Entra ID, built from the tenant id).
    issuer = models.URLField(max_length=500)
    # Entra ID only: the directory (tenant) id every token's `tid` must name.
    entra_tenant_id = models.CharField(max_length=36, blank=True)
    client_id = models.CharField(max_length=255)
    client_secret_sealed = models.TextField()
    # Entra client secrets expire: owners and admins are warned 30 days ahead.
    secret_expires_on = models.DateField(null=True, blank=True)
    policy = models.CharField(max_length=10, choices=Policy.choices, default=Policy.OFF)
    # The last successful "Test single sign-on", by whom.
    tested_at = models.DateTimeField(null=True, blank=True)
    tested_by_label = models.CharField(max_length=254, blank=True)
    # The expiry date the 30-day warning email went out for (integrations/sso.py): one email per
    # date, and a new date (a replaced secret) is warned about again.
    secret_expiry_warned_for = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.organization} SSO via {self.issuer} ({self.policy})"


class SsoLink(models.Model):
    """Which member a provider's identity is, once matched.

    Set on the person's first SSO sign-in, by matching the identity the provider asserts for the
    userName it provisioned (case-insensitively, within the organization only); from then on the
    provider's stable id (`link_key`: Entra's `tid/oid`, otherwise `sub`) decides, whatever the
    person's username becomes. Scoped to one organization: a link never opens another.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    member = models.OneToOneField(Member, on_delete=models.CASCADE, related_name="sso_link")
    issuer = models.URLField(max_length=500)
    link_key = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "issuer", "link_key"], name="sso_link_unique_identity"
            )
        ]

    def __str__(self) -> str:
        return f"{self.member} = {self.issuer} {self.link_key}"
