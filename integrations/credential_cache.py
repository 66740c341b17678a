"""A per-process memory of verified SCIM credentials, so most requests skip two database queries.

Entra ID sends thousands of requests per cycle with the same token; checking it against the
database each time costs more than the lookup the request asks for. Each web process remembers
"this digest is a valid token of this tenant" together with a *generation* read from the shared
cache (Redis) before the database was asked. Every change to an organization or its tokens sets
a new random generation after its transaction commits, so on the next request every process sees
a generation it did not store and asks the database again: revocation and regeneration take
effect at once, in every worker.

The memory is only used when the cache is Redis (CACHE_URL=redis://...), shared by all web
processes: with a per-process cache (the embedded default) another worker's invalidation would
be invisible, so every request goes to the database. If Redis cannot be reached, the database is
asked too, and an entry never outlives SCIM_AUTH_CACHE_SECONDS, which bounds what a partial
Redis outage could keep alive.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.models import Organization
from integrations.models import ScimToken
from nordpass_admin import redis_cache

logger = logging.getLogger(__name__)

MAX_ENTRIES = 4096  # tokens are per organization: far more than one process ever serves


@dataclass(frozen=True)
class _Entry:
    generation: str
    stored_at: float
    organization: tuple[Any, ...]
    token: tuple[Any, ...]


_ORGANIZATION_FIELDS = [field.attname for field in Organization._meta.concrete_fields]
_TOKEN_FIELDS = [field.attname for field in ScimToken._meta.concrete_fields]
_entries: dict[tuple[str, str], _Entry] = {}
_lock = threading.Lock()


def _generation_key(tenant_id: str) -> str:
    return f"scim-credentials-generation:{tenant_id}"


def enabled() -> bool:
    return settings.SCIM_AUTH_CACHE_SECONDS > 0 and redis_cache.client() is not None


def current_generation(tenant_id: str) -> str | None:
    """The tenant's generation in Redis (created when missing); None if Redis is unreachable."""
    client = redis_cache.client()
    if client is None:
        return None
    key = _generation_key(tenant_id)
    try:
        generation = client.get(key)
        if generation is None:
            client.set(key, uuid.uuid4().hex, nx=True)
            generation = client.get(key)
    except Exception:  # noqa: BLE001 - a Redis outage means "ask the database", never "fail"
        logger.warning("SCIM credential cache unreachable; verifying against the database")
        return None
    return generation.decode() if isinstance(generation, bytes) else None


def lookup(tenant_id: str, digest: str) -> ScimToken | None:
    """The remembered token (with its organization) if still current everywhere, else None."""
    entry = _entries.get((tenant_id, digest))
    if entry is None:
        return None
    if time.time() - entry.stored_at > settings.SCIM_AUTH_CACHE_SECONDS:
        forget(tenant_id)
        return None
    if current_generation(tenant_id) != entry.generation:
        forget(tenant_id)
        return None
    # Fresh instances per request: a shared model instance would carry one request's related
    # object caches into another request and another thread.
    organization = Organization.from_db("default", _ORGANIZATION_FIELDS, entry.organization)
    token = ScimToken.from_db("default", _TOKEN_FIELDS, entry.token)
    token.organization = organization
    return token


def remember(tenant_id: str, digest: str, generation: str, token: ScimToken) -> None:
    """Keep a token just verified by the database, tagged with the generation read before."""
    entry = _Entry(
        generation=generation,
        stored_at=time.time(),
        organization=tuple(getattr(token.organization, name) for name in _ORGANIZATION_FIELDS),
        token=tuple(getattr(token, name) for name in _TOKEN_FIELDS),
    )
    with _lock:
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        _entries[(tenant_id, digest)] = entry


def forget(tenant_id: str | None = None) -> None:
    """Drop this process's entries for one tenant (or all of them)."""
    with _lock:
        for key in [key for key in _entries if tenant_id is None or key[0] == tenant_id]:
            _entries.pop(key, None)


def invalidate(tenant_id: str) -> None:
    """After the current transaction commits, make every process verify this tenant's tokens
    against the database again."""

    # This process forgets at once (its next check reads this transaction's own state); the
    # others learn it from the new generation, set only once the change is visible to them.
    forget(tenant_id)

    def new_generation() -> None:
        forget(tenant_id)
        client = redis_cache.client()
        if client is None:
            return
        try:
            client.set(_generation_key(tenant_id), uuid.uuid4().hex)
        except Exception:  # noqa: BLE001 - entries still expire after SCIM_AUTH_CACHE_SECONDS
            logger.error(
                "Could not invalidate cached SCIM credentials of tenant %s; other workers keep "
                "them for at most %s seconds",
                tenant_id,
                settings.SCIM_AUTH_CACHE_SECONDS,
            )

    transaction.on_commit(new_generation)


def organization_changed(sender: type, instance: Organization, **kwargs: Any) -> None:
    invalidate(str(instance.tenant_id))


def token_changed(sender: type, instance: ScimToken, **kwargs: Any) -> None:
    tenant_id = (
        Organization.objects.filter(pk=instance.organization_id)
        .values_list("tenant_id", flat=True)
        .first()
    )
    if tenant_id is not None:
        invalidate(str(tenant_id))
