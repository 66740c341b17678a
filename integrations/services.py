"""SCIM credentials: issue, regenerate, revoke and verify the organization's bearer token.

The panel's Get credentials button, the `scim_credentials` command and the SCIM authentication
all call these functions. The secret exists in memory only: it is returned once by
`scim_token_issue` and never stored, logged or audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from accounts.audit import Actor, audit_log_record
from accounts.models import Organization
from integrations import credential_cache, log_writer, tokens
from integrations.models import ScimRequest, ScimToken

# Longest overlap an admin may choose: enough for a change window, short enough to limit exposure.
MAX_OVERLAP = timedelta(days=7)
# last_used_at is a display value; writing it on every request would make each SCIM call a write.
LAST_USED_PRECISION = timedelta(seconds=60)
# Longest warning kept on a provisioning-log entry (the SCIM layer already lists at most 100 ids).
WARNING_BYTES = 8192


@dataclass(frozen=True)
class IssuedCredentials:
    token: ScimToken
    secret: str
    tenant_url: str
    replaced: ScimToken | None


def tenant_url(organization: Organization) -> str:
    return f"{settings.SITE_URL}/scim/v2/{organization.tenant_id}"


def _token_audit_state(token: ScimToken) -> dict[str, str | None]:
    return {
        "hint": token.hint,
        "state": token.state,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
    }


def _retire(token: ScimToken, *, reason: str, now: datetime) -> None:
    token.state = ScimToken.State.RETIRED
    token.retired_at = now
    token.retired_reason = reason
    token.save(update_fields=["state", "retired_at", "retired_reason"])


def scim_token_issue(
    *,
    organization: Organization,
    actor: Actor,
    overlap: timedelta | None = None,
    provider: str = "",
) -> IssuedCredentials:
    """Issue a new token; an existing one is regenerated.

    By default the previous token stops working at once. With `overlap`, it stays valid for that
    long (at most `MAX_OVERLAP`), so the admin can paste the new token in the identity provider
    without a failed provisioning cycle. A token already in an overlap window is retired: at most
    two tokens are ever valid.
    """
    if overlap is not None and not (timedelta(0) < overlap <= MAX_OVERLAP):
        raise ValueError("The overlap must be longer than zero and at most seven days.")
    now = timezone.now()
    secret = tokens.generate_token()
    with transaction.atomic():
        # Serialises concurrent regenerations of one organization (a no-op lock on SQLite,
        # where IMMEDIATE transactions already serialise writers).
        Organization.objects.select_for_update().get(pk=organization.pk)
        live = {
            t.state: t
            for t in ScimToken.objects.filter(organization=organization).exclude(
                state=ScimToken.State.RETIRED
            )
        }
        previous, current = live.get(ScimToken.State.PREVIOUS), live.get(ScimToken.State.CURRENT)
        if previous is not None:
            _retire(previous, reason=ScimToken.RetiredReason.REPLACED, now=now)
        if current is not None:
            if overlap is not None:
                current.state = ScimToken.State.PREVIOUS
                current.expires_at = now + overlap
                current.save(update_fields=["state", "expires_at"])
            else:
                _retire(current, reason=ScimToken.RetiredReason.REPLACED, now=now)
        token = ScimToken.objects.create(
            organization=organization,
            digest=tokens.token_digest(secret),
            hint=tokens.token_hint(secret),
            state=ScimToken.State.CURRENT,
            provider=provider,
            created_at=now,
            created_by=actor.user,
            created_by_label=actor.label[:254],
        )
        audit_log_record(
            organization=organization,
            actor=actor,
            action="scim_token.regenerated" if current is not None else "scim_token.issued",
            target=token,
            target_label=f"SCIM token {token.hint}…",
            before=_token_audit_state(current) if current is not None else None,
            after={
                **_token_audit_state(token),
                "previous_token_valid_until": current.expires_at.isoformat()
                if current is not None and overlap is not None and current.expires_at
                else None,
            },
        )
    return IssuedCredentials(
        token=token, secret=secret, tenant_url=tenant_url(organization), replaced=current
    )


def scim_token_revoke(*, organization: Organization, actor: Actor) -> int:
    """Disconnect provisioning: every valid token of the organization stops working now."""
    now = timezone.now()
    with transaction.atomic():
        Organization.objects.select_for_update().get(pk=organization.pk)
        live = list(
            ScimToken.objects.filter(organization=organization).exclude(
                state=ScimToken.State.RETIRED
            )
        )
        for token in live:
            before = _token_audit_state(token)
            _retire(token, reason=ScimToken.RetiredReason.REVOKED, now=now)
            audit_log_record(
                organization=organization,
                actor=actor,
                action="scim_token.revoked",
                target=token,
                target_label=f"SCIM token {token.hint}…",
                before=before,
                after=_token_audit_state(token),
            )
    return len(live)


def scim_token_authenticate(*, organization: Organization, presented: str) -> ScimToken | None:
    """The organization's valid token matching `presented`, or None."""
    token = scim_credentials_verify(tenant_id=str(organization.tenant_id), presented=presented)
    return token if token is not None and token.organization_id == organization.pk else None


def scim_credentials_verify(*, tenant_id: str, presented: str) -> ScimToken | None:
    """The valid token matching `presented` for the Tenant URL's tenant, with its organization
    loaded, or None.

    The lookup is by digest, so nothing about the secret is compared character by character in
    the database; the final comparison is constant-time anyway. Verified tokens are remembered
    per process (`credential_cache`), checked against a shared generation that every token or
    organization change replaces, so revocation is never delayed.
    """
    if not tokens.looks_like_token(presented):
        return None
    try:
        tenant = uuid.UUID(tenant_id)
    except (ValueError, TypeError):
        return None
    tenant_id = str(tenant)
    digest = tokens.token_digest(presented)
    now = timezone.now()
    use_cache = credential_cache.enabled()
    if use_cache:
        cached = credential_cache.lookup(tenant_id, digest)
        if cached is not None:
            return cached if cached.is_valid_at(now) else None
    # Read before the database, so a change committed in between makes this entry stale at once.
    generation = credential_cache.current_generation(tenant_id) if use_cache else None
    token = (
        ScimToken.objects.select_related("organization")
        .filter(digest=digest, organization__tenant_id=tenant)
        .exclude(state=ScimToken.State.RETIRED)
        .first()
    )
    if token is None or not constant_time_compare(token.digest, digest):
        return None
    if generation is not None:
        credential_cache.remember(tenant_id, digest, generation, token)
    return token if token.is_valid_at(now) else None


# token digest -> (when, from where) this process last wrote last_used_at: cached token instances
# carry an old value, and one write a minute per token is all the panel needs.
_recorded_use: dict[str, tuple[datetime, str | None]] = {}


def scim_token_record_use(*, token: ScimToken, ip_address: str | None) -> None:
    """Remember when and from where the token was last used, at most once a minute per token."""
    now = timezone.now()
    last_at, last_ip = _recorded_use.get(token.digest, (token.last_used_at, token.last_used_ip))
    if last_at is not None and now - last_at < LAST_USED_PRECISION and last_ip == ip_address:
        return
    ScimToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=ip_address)
    token.last_used_at, token.last_used_ip = now, ip_address
    _recorded_use[token.digest] = (now, ip_address)


def scim_tokens_expire_overlaps() -> int:
    """Retire previous tokens whose overlap has ended (authentication already ignores them)."""
    now = timezone.now()
    expired = 0
    for token in ScimToken.objects.filter(state=ScimToken.State.PREVIOUS, expires_at__lte=now):
        with transaction.atomic():
            _retire(token, reason=ScimToken.RetiredReason.EXPIRED, now=now)
            audit_log_record(
                organization=token.organization,
                actor=Actor.system(),
                action="scim_token.overlap_ended",
                target=token,
                target_label=f"SCIM token {token.hint}…",
                after=_token_audit_state(token),
            )
        expired += 1
    return expired


def _truncate(text: str, limit: int) -> str:
    # PostgreSQL text cannot hold NUL; a hostile request's path or body may carry one.
    text = text.replace("\x00", "\N{SYMBOL FOR NULL}")
    if len(text) <= limit:
        return text
    return text[:limit] + f"… [{len(text) - limit} more characters not kept]"


def scim_request_record(
    *,
    organization: Organization,
    request_id: str,
    method: str,
    path: str,
    query: str,
    status_code: int,
    duration_ms: int,
    client_kind: str,
    resource_type: str = "",
    resource_id: str = "",
    outcome: str = "",
    warning: str = "",
    request_body: str = "",
    response_body: str = "",
    remote_ip: str | None = None,
) -> None:
    """Keep one SCIM request in the provisioning log (at once, or in the next batch: see
    `log_writer`). Bodies arrive already redacted."""
    limit = settings.SCIM_LOG_BODY_BYTES
    log_writer.write(
        {
            "organization_id": organization.pk,
            "created_at": timezone.now(),
            "request_id": request_id,
            "method": _truncate(method, 8)[:8],
            "path": _truncate(path, 512)[:512],
            "query": _truncate(query, 2048),
            "status_code": status_code,
            "duration_ms": duration_ms,
            "client_kind": client_kind,
            "resource_type": resource_type[:16],
            "resource_id": resource_id[:64],
            "outcome": _truncate(outcome, 300)[:300],
            "warning": _truncate(warning, WARNING_BYTES),
            "request_body": _truncate(request_body, limit),
            "response_body": _truncate(response_body, limit),
            "remote_ip": remote_ip,
        }
    )


def scim_request_log_prune(*, now: datetime | None = None) -> int:
    """Delete provisioning-log entries older than SCIM_LOG_RETENTION_DAYS, in batches so a large
    backlog never holds a long lock."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.SCIM_LOG_RETENTION_DAYS)
    deleted = 0
    while True:
        batch = list(
            ScimRequest.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:5000]
        )
        if not batch:
            return deleted
        deleted += ScimRequest.objects.filter(pk__in=batch).delete()[0]
