"""Shared checks for the security tests: the SCIM error body and an organization's rows."""

from __future__ import annotations

from typing import Any

from django.db.models import F
from django.forms.models import model_to_dict

from accounts.models import (
    AuditLogEntry,
    Group,
    GroupMembership,
    Invitation,
    Member,
    MemberEmail,
    Organization,
)
from integrations.models import DeprovisionGuardPolicy, DeprovisionHold, EmailDomain, ScimToken

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def assert_scim_error_body(status: int, body: Any, raw: bytes) -> None:
    """RFC 7644 §3.12: every client error is a SCIM error document, never a stack trace."""
    assert b"Traceback" not in raw, raw[:500]
    assert isinstance(body, dict), (status, raw[:500])
    assert body.get("schemas") == [ERROR_SCHEMA], body
    assert body.get("status") == str(status), body
    detail = body.get("detail")
    assert isinstance(detail, str), body
    assert detail.strip(), body


def _rows(queryset: Any) -> list[dict[str, Any]]:
    return sorted(
        (
            {key: repr(value) for key, value in model_to_dict(obj).items()}
            | {"pk": obj.pk, "extra": _extra(obj)}
            for obj in queryset
        ),
        key=lambda row: row["pk"],
    )


def _extra(obj: Any) -> dict[str, str]:
    # model_to_dict skips non-editable fields (scim_id, timestamps): keep them in the snapshot.
    return {
        field.attname: repr(getattr(obj, field.attname))
        for field in obj._meta.concrete_fields
        if not field.editable
    }


def organization_snapshot(organization: Organization) -> dict[str, Any]:
    """Every row that belongs to the organization, as comparable values.

    The provisioning log (ScimRequest) is left out on purpose: a refused request for a real
    tenant is logged in that tenant's log by design (see integrations/scim/middleware.py).
    """
    organization.refresh_from_db()
    return {
        "organization": _rows(Organization.objects.filter(pk=organization.pk)),
        "members": _rows(Member.objects.filter(organization=organization)),
        "emails": _rows(MemberEmail.objects.filter(member__organization=organization)),
        "groups": _rows(Group.objects.filter(organization=organization)),
        "memberships": sorted(
            GroupMembership.objects.filter(group__organization=organization).values_list(
                "group_id", "member_id"
            )
        ),
        "invitations": _rows(Invitation.objects.filter(organization=organization)),
        "audit": AuditLogEntry.objects.filter(organization=organization).count(),
        "tokens": _rows(ScimToken.objects.filter(organization=organization)),
        "guard": _rows(DeprovisionGuardPolicy.objects.filter(organization=organization)),
        "holds": _rows(DeprovisionHold.objects.filter(organization=organization)),
        "email_domains": _rows(EmailDomain.objects.filter(organization=organization)),
    }


def memberships_stay_within_their_organization() -> None:
    crossing = GroupMembership.objects.exclude(group__organization=F("member__organization"))
    assert not crossing.exists(), list(crossing.values("group_id", "member_id"))
