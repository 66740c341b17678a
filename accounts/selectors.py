"""Reads for the panel. Every selector takes the organization: no page reaches across tenants."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from accounts.models import AuditLogEntry, Group, Invitation, Member, Organization, User

# The Users page's invitation filter: the latest invitation's status, plus members who cannot be
# invited because the identity provider sent no email address.
NO_EMAIL = "no-email"
INVITATION_FILTERS = [
    ("pending", "Pending or sending"),
    ("sent", "Sent"),
    ("failed", "Failed"),
    ("accepted", "Accepted"),
    ("expired", "Expired"),
    ("revoked", "Revoked"),
    (NO_EMAIL, "No email address"),
]


def active_memberships(user: User) -> QuerySet[Member]:
    """The organizations this person may currently use, by name."""
    return (
        Member.objects.filter(user=user, status=Member.Status.ACTIVE)
        .select_related("organization")
        .order_by("organization__name")
    )


def member_status_counts(organization: Organization) -> dict[str, int]:
    rows = (
        Member.objects.filter(organization=organization)
        .values("status")
        .annotate(total=Count("id"))
        .order_by()
    )
    counts = dict.fromkeys(Member.Status.values, 0)
    counts.update({row["status"]: row["total"] for row in rows})
    return counts


def member_list(
    organization: Organization, *, search: str = "", status: str = "", invitation: str = ""
) -> QuerySet[Member]:
    latest = Invitation.objects.filter(member=OuterRef("pk")).order_by("-created_at", "-id")
    members = Member.objects.filter(organization=organization).annotate(
        invitation_status=Subquery(latest.values("status")[:1]),
        invitation_email=Subquery(latest.values("email")[:1]),
        invitation_error=Subquery(latest.values("last_error")[:1]),
    )
    if invitation == NO_EMAIL:
        members = members.filter(email="", user__isnull=True)
    elif invitation == "pending":
        members = members.filter(invitation_status__in=["pending", "sending"])
    elif invitation in {value for value, _ in INVITATION_FILTERS}:
        members = members.filter(invitation_status=invitation)
    if status in Member.Status.values:
        members = members.filter(status=status)
    else:
        # Deleted members stay for the audit trail but are not part of the directory by default.
        members = members.exclude(status=Member.Status.DELETED)
    if search:
        members = members.filter(
            Q(user_name__icontains=search)
            | Q(email__icontains=search)
            | Q(full_name__icontains=search)
        )
    return members.order_by("user_name_key", "id")


def pending_invitations(organization: Organization) -> QuerySet[Invitation]:
    """Invitations on their way or waiting for the person to register."""
    return (
        Invitation.objects.filter(
            organization=organization,
            status__in=[
                Invitation.Status.PENDING,
                Invitation.Status.SENDING,
                Invitation.Status.SENT,
            ],
        )
        .select_related("member")
        .order_by("-created_at", "-id")
    )


def invitation_counts(organization: Organization) -> dict[str, int]:
    open_statuses = [Invitation.Status.PENDING, Invitation.Status.SENDING, Invitation.Status.SENT]
    counts = Invitation.objects.filter(organization=organization).aggregate(
        pending=Count("id", filter=Q(status__in=open_statuses)),
        failed=Count("id", filter=Q(status=Invitation.Status.FAILED)),
    )
    counts["no_email"] = Member.objects.filter(
        organization=organization, status=Member.Status.INVITED, email="", user__isnull=True
    ).count()
    return counts


def group_list(organization: Organization) -> QuerySet[Group]:
    return (
        Group.objects.filter(organization=organization)
        .annotate(member_count=Count("memberships"))
        .order_by("display_name", "id")
    )


def audit_log_list(organization: Organization) -> QuerySet[AuditLogEntry]:
    return AuditLogEntry.objects.filter(organization=organization).order_by("-created_at", "-id")
