"""SCIM credentials: issue, regenerate, revoke and verify the organization's bearer token.

The panel's Get credentials button, the `scim_credentials` command and the SCIM authentication
all call these functions. The secret exists in memory only: it is returned once by
`scim_token_issue` and never stored, logged or audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from accounts.audit import Actor, audit_log_record
from accounts.models import Organization
from integrations import tokens
from integrations.models import ScimToken

# Longest overlap an admin may choose: enough for a change window, short enough to limit exposure.
MAX_OVERLAP = timedelta(days=7)
# last_used_at is a display value; writing it on every request would make each SCIM call a write.
LAST_USED_PRECISION = timedelta(seconds=60)


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
    """The organization's valid token matching `presented`, or None.

    The lookup is by digest, so nothing about the secret is compared character by character in
    the database; the final comparison is constant-time anyway, and the token must belong to the
    organization of the Tenant URL.
    """
    if not tokens.looks_like_token(presented):
        return None
    digest = tokens.token_digest(presented)
    token = (
        ScimToken.objects.filter(digest=digest, organization=organization)
        .exclude(state=ScimToken.State.RETIRED)
        .first()
    )
    if token is None or not constant_time_compare(token.digest, digest):
        return None
    if not token.is_valid_at(timezone.now()):
        return None
    return token


def scim_token_record_use(*, token: ScimToken, ip_address: str | None) -> None:
    """Remember when and from where the token was last used, at most once a minute per token."""
    now = timezone.now()
    if (
        token.last_used_at is not None
        and now - token.last_used_at < LAST_USED_PRECISION
        and token.last_used_ip == ip_address
    ):
        return
    ScimToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=ip_address)
    token.last_used_at, token.last_used_ip = now, ip_address


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
