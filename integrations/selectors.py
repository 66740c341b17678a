"""Reads for the Integrations pages: the organization's tokens, its connection status and the
provisioning log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.models import Group, Member, Organization, casefold_key
from integrations.log_filters import STATUS_RANGES, WARNING_CLASS, ProvisioningLogFilters
from integrations.models import ScimRequest, ScimToken
from integrations.providers import PROVIDERS_BY_SLUG

# Entra ID runs a cycle about every 40 minutes; two cycles without a request means something broke.
STALL_AFTER = timedelta(minutes=80)
ERROR_WINDOW = timedelta(hours=24)


def live_tokens(organization: Organization) -> list[ScimToken]:
    """The current token first, then a previous one still inside its overlap window."""
    now = timezone.now()
    tokens = (
        ScimToken.objects.filter(organization=organization)
        .exclude(state=ScimToken.State.RETIRED)
        .select_related("created_by")
    )
    valid = [token for token in tokens if token.is_valid_at(now)]
    return sorted(valid, key=lambda token: token.state != ScimToken.State.CURRENT)


def current_token(organization: Organization) -> ScimToken | None:
    return ScimToken.objects.filter(
        organization=organization, state=ScimToken.State.CURRENT
    ).first()


def connected_provider_name(organization: Organization) -> str:
    """The connected identity provider's product name ("Microsoft Entra ID", "Okta"), or "" when
    none is connected or it is a generic SCIM client: for sentences and badges in the panel."""
    token = current_token(organization)
    provider = PROVIDERS_BY_SLUG.get(token.provider) if token is not None else None
    return provider.name if provider is not None and provider.slug != "scim" else ""


def token_history(organization: Organization, *, limit: int = 10) -> QuerySet[ScimToken]:
    return ScimToken.objects.filter(
        organization=organization, state=ScimToken.State.RETIRED
    ).order_by("-retired_at", "-id")[:limit]


@dataclass(frozen=True)
class ConnectionStatus:
    """What the Integrations page says about the identity provider's traffic."""

    connected: bool
    last_request: ScimRequest | None
    requests_24h: int
    errors_24h: int
    stalled: bool

    @property
    def error_rate(self) -> float:
        return self.errors_24h / self.requests_24h if self.requests_24h else 0.0

    @property
    def error_rate_percent(self) -> str:
        return f"{self.error_rate * 100:.1f}%"

    @property
    def label(self) -> str:
        if not self.connected:
            return "Not connected"
        if self.last_request is None:
            return "Waiting for the first request"
        if self.stalled:
            return "No recent requests"
        if self.error_rate >= 0.05:
            return "Connected, with errors"
        return "Connected"

    @property
    def tone(self) -> str:
        """Badge colour for the label."""
        if not self.connected:
            return "plain"
        if self.last_request is None:
            return "info"
        if self.stalled or self.error_rate >= 0.05:
            return "warn"
        return "ok"


def connection_status(
    organization: Organization, *, now: datetime | None = None
) -> ConnectionStatus:
    now = now or timezone.now()
    connected = ScimToken.objects.filter(
        organization=organization, state=ScimToken.State.CURRENT
    ).exists()
    requests = ScimRequest.objects.filter(organization=organization)
    last = requests.order_by("-created_at", "-id").first()
    window = requests.filter(created_at__gte=now - ERROR_WINDOW).aggregate(
        total=Count("id"), errors=Count("id", filter=Q(status_code__gte=400))
    )
    stalled = connected and last is not None and now - last.created_at > STALL_AFTER
    return ConnectionStatus(
        connected=connected,
        last_request=last,
        requests_24h=window["total"],
        errors_24h=window["errors"],
        stalled=stalled,
    )


# --- Provisioning log --------------------------------------------------------------------------

# Lists never load the bodies: they can be tens of kilobytes each, and only an entry shows them.
LOG_LIST_DEFERRED = ("request_body", "response_body")
# A member search resolves to at most this many members' SCIM ids (an IN list stays small).
MEMBER_SEARCH_LIMIT = 500


def provisioning_log(
    organization: Organization, *, filters: ProvisioningLogFilters
) -> QuerySet[ScimRequest]:
    """The organization's SCIM requests, newest first, narrowed by `filters`.

    The member search matches the requests about members whose userName or email contains the
    text (by their SCIM id, the request's `resource_id`), and any request whose path or outcome
    contains it: a rejected create has no resource id, but its outcome names the userName.
    """
    requests = ScimRequest.objects.filter(organization=organization)
    if filters.status_class == WARNING_CLASS:
        requests = requests.exclude(warning="")
    elif filters.status_class in STATUS_RANGES:
        low, high = STATUS_RANGES[filters.status_class]
        requests = requests.filter(status_code__gte=low, status_code__lt=high)
    if filters.method:
        requests = requests.filter(method=filters.method)
    if filters.resource_type:
        requests = requests.filter(resource_type=filters.resource_type)
    if filters.since is not None:
        requests = requests.filter(created_at__gte=filters.since)
    if filters.until is not None:
        requests = requests.filter(created_at__lt=filters.until)
    if filters.member:
        text = filters.member
        about = Q(path__icontains=text) | Q(outcome__icontains=text)
        scim_ids = member_scim_ids(organization, text)
        if scim_ids:
            about |= Q(resource_type="User", resource_id__in=scim_ids)
        requests = requests.filter(about)
    return requests.order_by("-created_at", "-id")


def member_scim_ids(organization: Organization, text: str) -> list[str]:
    """SCIM ids (as the log stores them) of this organization's members, removed ones included,
    whose userName or email contains `text`, case-insensitively."""
    ids = (
        Member.objects.filter(organization=organization)
        .filter(Q(user_name_key__contains=casefold_key(text)) | Q(email__icontains=text))
        .order_by("user_name_key", "pk")
        .values_list("scim_id", flat=True)[:MEMBER_SEARCH_LIMIT]
    )
    return [str(scim_id) for scim_id in ids]


def provisioning_log_entry(organization: Organization, entry_id: int) -> ScimRequest | None:
    return ScimRequest.objects.filter(organization=organization, pk=entry_id).first()


def provisioning_log_subject(entry: ScimRequest) -> Member | Group | None:
    """The member or group a request touched, looked up by its SCIM id in the entry's
    organization; None when there is none, or it no longer exists."""
    try:
        scim_id = uuid.UUID(entry.resource_id)
    except ValueError:
        return None
    model: type[Member] | type[Group]
    if entry.resource_type == "User":
        model = Member
    elif entry.resource_type == "Group":
        model = Group
    else:
        return None
    return model.objects.filter(organization_id=entry.organization_id, scim_id=scim_id).first()


def recent_provisioning_problems(
    organization: Organization, *, limit: int = 10
) -> list[ScimRequest]:
    """The latest failed SCIM requests (4xx and 5xx) and the latest ones that succeeded with a
    warning (member ids a group write skipped), newest first, for the dashboard.

    Two small queries, each on its own index, merged here: one query with OR would read every
    error of the retention period to sort them.
    """
    requests = ScimRequest.objects.filter(organization=organization).defer(*LOG_LIST_DEFERRED)
    errors = requests.filter(status_code__gte=400).order_by("-created_at", "-id")[:limit]
    warnings = (
        requests.filter(status_code__lt=400)
        .exclude(warning="")
        .order_by("-created_at", "-id")[:limit]
    )
    merged = sorted([*errors, *warnings], key=lambda entry: (entry.created_at, entry.pk))
    return merged[::-1][:limit]


@dataclass(frozen=True)
class LogCursor:
    """A position in the log: the (created_at, id) of a row, the order the log is sorted by.

    In the URL it is `<microseconds since the epoch>_<id>`: opaque enough, and short.
    """

    created_at: datetime
    id: int

    @property
    def token(self) -> str:
        delta = self.created_at - datetime(1970, 1, 1, tzinfo=UTC)
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return f"{micros}_{self.id}"

    @classmethod
    def parse(cls, token: str | None) -> LogCursor | None:
        micros, _, pk = (token or "").partition("_")
        if not (micros.isdigit() and pk.isdigit()) or len(micros) > 18 or len(pk) > 18:
            return None
        try:
            moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(micros))
        except OverflowError:
            return None
        return cls(created_at=moment, id=int(pk))

    @classmethod
    def of(cls, entry: ScimRequest) -> LogCursor:
        return cls(created_at=entry.created_at, id=entry.pk)


@dataclass(frozen=True)
class LogPage:
    entries: list[ScimRequest]
    # Cursors for the neighbouring pages, None at either end.
    older: LogCursor | None
    newer: LogCursor | None
    # How many rows match, counted up to the cap; `total_capped` when there are more.
    total: int
    total_capped: bool

    @property
    def is_first(self) -> bool:
        return self.newer is None


def provisioning_log_page(
    requests: QuerySet[ScimRequest],
    *,
    before: LogCursor | None = None,
    after: LogCursor | None = None,
    size: int = 50,
    count_cap: int = 10_000,
) -> LogPage:
    """One page of `requests` (sorted newest first) by keyset: the rows older than `before`, or
    the rows newer than `after`, or the newest ones.

    A keyset page costs the same at any depth (the (organization, created_at) index is walked from
    the cursor, no OFFSET), and rows written by the identity provider while someone reads do not
    shift the pages. The count stops at `count_cap`, so it never scans a million rows.
    """
    rows = requests.defer(*LOG_LIST_DEFERRED)
    if after is not None:
        # The page above: read upwards from the cursor, then put it back in display order.
        newer_rows = list(
            rows.filter(created_at__gte=after.created_at)
            .exclude(created_at=after.created_at, id__lte=after.id)
            .order_by("created_at", "id")[: size + 1]
        )
        has_newer = len(newer_rows) > size
        entries = newer_rows[:size][::-1]
        has_older = True
    else:
        if before is not None:
            rows = rows.filter(created_at__lte=before.created_at).exclude(
                created_at=before.created_at, id__gte=before.id
            )
        older_rows = list(rows[: size + 1])
        has_older = len(older_rows) > size
        entries = older_rows[:size]
        has_newer = before is not None
    if not entries and (before is not None or after is not None):
        # A stale or hand-made cursor past either end: show the newest page instead.
        return provisioning_log_page(requests, size=size, count_cap=count_cap)
    total = requests.order_by()[: count_cap + 1].count()
    return LogPage(
        entries=entries,
        older=LogCursor.of(entries[-1]) if has_older else None,
        newer=LogCursor.of(entries[0]) if has_newer else None,
        total=min(total, count_cap),
        total_capped=total > count_cap,
    )
