"""Who did something, and the audit row that records it.

Every service that makes a security-relevant change takes an `Actor` and calls `audit_log_record`
inside its own transaction, so the change and its record are committed together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models

from accounts.models import AuditLogEntry, Organization, User


@dataclass(frozen=True)
class Actor:
    kind: str
    label: str
    user: User | None = None

    @classmethod
    def for_user(cls, user: User) -> Actor:
        return cls(kind=AuditLogEntry.ActorKind.USER, label=user.email, user=user)

    @classmethod
    def identity_provider(cls, label: str = "Identity provider") -> Actor:
        return cls(kind=AuditLogEntry.ActorKind.IDENTITY_PROVIDER, label=label)

    @classmethod
    def system(cls, label: str = "System") -> Actor:
        return cls(kind=AuditLogEntry.ActorKind.SYSTEM, label=label)


def audit_log_record(
    *,
    organization: Organization,
    actor: Actor,
    action: str,
    target: models.Model | None = None,
    target_label: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditLogEntry:
    return AuditLogEntry.objects.create(
        organization=organization,
        actor_kind=actor.kind,
        actor_user=actor.user,
        actor_label=actor.label[:254],
        action=action,
        target_type=(target._meta.model_name or "") if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=(target_label or (str(target) if target is not None else ""))[:254],
        before=before,
        after=after,
    )
