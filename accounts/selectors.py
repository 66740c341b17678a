"""Reads for the panel. Every selector takes the organization: no page reaches across tenants."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from accounts.models import AuditLogEntry, Group, Member, Organization, User


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
    organization: Organization, *, search: str = "", status: str = ""
) -> QuerySet[Member]:
    members = Member.objects.filter(organization=organization)
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


def pending_invitations(organization: Organization) -> QuerySet[Member]:
    return Member.objects.filter(organization=organization, status=Member.Status.INVITED).order_by(
        "-created_at", "-id"
    )


def group_list(organization: Organization) -> QuerySet[Group]:
    return (
        Group.objects.filter(organization=organization)
        .annotate(member_count=Count("memberships"))
        .order_by("display_name", "id")
    )


def audit_log_list(organization: Organization) -> QuerySet[AuditLogEntry]:
    return AuditLogEntry.objects.filter(organization=organization).order_by("-created_at", "-id")
