"""Reads for the Integrations pages: the organization's tokens and its connection status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.models import Organization
from integrations.models import ScimRequest, ScimToken

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
