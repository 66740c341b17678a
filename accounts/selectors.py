"""Reads for the panel. Every selector takes the organization: no page reaches across tenants."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery

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


MEMBER_SORTS = {
    "name": ("user_name_key", "id"),
    "-name": ("-user_name_key", "-id"),
    "status": ("status", "user_name_key", "id"),
    "-status": ("-status", "user_name_key", "id"),
    "added": ("created_at", "id"),
    "-added": ("-created_at", "-id"),
}


def member_list(
    organization: Organization,
    *,
    search: str = "",
    status: str = "",
    invitation: str = "",
    source: str = "",
    group: Group | None = None,
    sort: str = "name",
) -> QuerySet[Member]:
    members = _with_latest_invitation(Member.objects.filter(organization=organization))
    if invitation:
        members = members.filter(_invitation_condition(invitation))
    if status in Member.Status.values:
        members = members.filter(status=status)
    else:
        # Deleted members stay for the audit trail but are not part of the directory by default.
        members = members.exclude(status=Member.Status.DELETED)
    if source in Member.Source.values:
        members = members.filter(source=source)
    if group is not None:
        members = members.filter(group_memberships__group=group)
    if search:
        members = members.filter(
            Q(user_name__icontains=search)
            | Q(email__icontains=search)
            | Q(full_name__icontains=search)
        )
    return members.order_by(*MEMBER_SORTS.get(sort, MEMBER_SORTS["name"]))


def _with_latest_invitation(members: QuerySet[Member]) -> QuerySet[Member]:
    """The latest invitation's status, address and error on each row, for the Users table's
    invitation cell (evaluated only for the rows of the page)."""
    latest = Invitation.objects.filter(member=OuterRef("pk")).order_by("-created_at", "-id")
    return members.annotate(
        invitation_status=Subquery(latest.values("status")[:1]),
        invitation_email=Subquery(latest.values("email")[:1]),
        invitation_error=Subquery(latest.values("last_error")[:1]),
    )


def _invitation_condition(state: str) -> Q:
    """The invitation filter as EXISTS conditions, which the database answers with a semi-join
    instead of a "latest invitation" subquery per member (the Users page at 100,000 members).

    At most one invitation per member is open, so an open state is exact; a closed state
    (accepted, expired, revoked) counts when no newer invitation is open.
    """
    if state == NO_EMAIL:
        return Q(email="", user__isnull=True)
    mine = Invitation.objects.filter(member=OuterRef("pk"))
    open_one = Exists(mine.filter(status__in=Invitation.OPEN_STATUSES))
    if state == "pending":
        return Q(Exists(mine.filter(status__in=["pending", "sending"])))
    if state in ("sent", "failed"):
        return Q(Exists(mine.filter(status=state)))
    if state in ("accepted", "expired", "revoked"):
        return Q(Exists(mine.filter(status=state))) & ~Q(open_one)
    return Q()


def member_detail(organization: Organization, member_id: int) -> Member | None:
    return (
        Member.objects.filter(organization=organization, pk=member_id)
        .select_related("user")
        .first()
    )


def member_groups(member: Member) -> QuerySet[Group]:
    return Group.objects.filter(memberships__member=member).order_by("display_name_key")


def member_audit_history(member: Member) -> QuerySet[AuditLogEntry]:
    return AuditLogEntry.objects.filter(
        organization_id=member.organization_id, target_type="member", target_id=str(member.pk)
    ).order_by("-created_at", "-id")


def group_detail(organization: Organization, group_id: int) -> Group | None:
    return Group.objects.filter(organization=organization, pk=group_id).first()


def group_members(group: Group) -> QuerySet[Member]:
    return Member.objects.filter(group_memberships__group=group).order_by("user_name_key", "id")


def pending_invitations(organization: Organization) -> QuerySet[Invitation]:
    """Invitations on their way or waiting for the person to register."""
    return (
        Invitation.objects.filter(
            organization=organization,
            status__in=Invitation.AWAITING_STATUSES,
        )
        .select_related("member")
        .order_by("-created_at", "-id")
    )


def invitation_counts(organization: Organization) -> dict[str, int]:
    counts = Invitation.objects.filter(organization=organization).aggregate(
        pending=Count("id", filter=Q(status__in=Invitation.AWAITING_STATUSES)),
        failed=Count("id", filter=Q(status=Invitation.Status.FAILED)),
    )
    counts["no_email"] = Member.objects.filter(
        organization=organization, status=Member.Status.INVITED, email="", user__isnull=True
    ).count()
    return counts


def group_choices(organization: Organization) -> QuerySet[Group]:
    return Group.objects.filter(organization=organization).order_by("display_name_key")


def group_list(organization: Organization) -> QuerySet[Group]:
    return (
        Group.objects.filter(organization=organization)
        .annotate(member_count=Count("memberships"))
        .order_by("display_name", "id")
    )


def audit_log_list(
    organization: Organization,
    *,
    actor_kind: str = "",
    action: str = "",
    search: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditLogEntry]:
    entries = AuditLogEntry.objects.filter(organization=organization)
    if actor_kind in AuditLogEntry.ActorKind.values:
        entries = entries.filter(actor_kind=actor_kind)
    if action:
        entries = entries.filter(action__startswith=action)
    if search:
        entries = entries.filter(
            Q(target_label__icontains=search) | Q(actor_label__icontains=search)
        )
    if since is not None:
        entries = entries.filter(created_at__gte=since)
    if until is not None:
        entries = entries.filter(created_at__lte=until)
    return entries.order_by("-created_at", "-id")


def audit_actions(organization: Organization) -> list[str]:
    """The action families present (member, group, invitation, scim_token...), for the filter."""
    actions = (
        AuditLogEntry.objects.filter(organization=organization)
        .values_list("action", flat=True)
        .distinct()
        .order_by()
    )
    return sorted({action.split(".", 1)[0] for action in actions})
