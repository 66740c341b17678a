"""Template filters for showing audit entries to people, not as Python reprs."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def audit_change(value: Any) -> str:
    """`{"role": "admin", "via": "group"}` → `role: admin, via: group` (empty values skipped)."""
    if not isinstance(value, dict):
        return "" if value is None else str(value)
    parts = []
    for key, item in value.items():
        if item in (None, "", [], {}):
            continue
        if isinstance(item, dict):
            item = ", ".join(f"{k}={v}" for k, v in item.items() if v not in (None, "", []))
        parts.append(f"{key.replace('_', ' ')}: {item}")
    return ", ".join(parts)


ACTION_LABELS = {
    "organization.created": "Organization created",
    "organization.admin_group_changed": "Admin group changed",
    "member.created": "Member added",
    "member.provisioned": "Member provisioned",
    "member.updated": "Member updated",
    "member.suspended": "Member suspended",
    "member.reactivated": "Member reactivated",
    "member.removed": "Member removed",
    "member.role_changed": "Role changed",
    "group.created": "Group created",
    "group.updated": "Group updated",
    "group.members_changed": "Group members changed",
    "group.deleted": "Group deleted",
    "invitation.created": "Invitation sent",
    "invitation.resent": "Invitation resent",
    "invitation.revoked": "Invitation revoked",
    "invitation.accepted": "Invitation accepted",
    "scim_token.issued": "Provisioning credentials issued",
    "scim_token.regenerated": "Provisioning token regenerated",
    "scim_token.revoked": "Provisioning token revoked",
    "scim_token.overlap_ended": "Previous provisioning token expired",
    "deprovision_guard.held": "Deprovisioning held by the guard",
    "deprovision_guard.applied": "Held deprovisioning applied to",
    "deprovision_guard.kept": "Held deprovisioning discarded for",
    "deprovision_guard.resumed": "Stopped keeping active",
    "deprovision_guard.settings_changed": "Mass-deprovisioning guard settings changed for",
    "deprovision_guard.disabled": "Mass-deprovisioning guard turned off for",
    "deprovision_guard.enabled": "Mass-deprovisioning guard turned on for",
    "email_domain.added": "Email domain added",
    "email_domain.verified": "Email domain verified",
    "email_domain.verification_failed": "Email domain not verified",
    "email_domain.removed": "Email domain removed",
    "sso_connection.created": "Single sign-on set up",
    "sso_connection.updated": "Single sign-on settings changed",
    "sso_connection.policy_changed": "Single sign-on policy changed",
    "sso_connection.removed": "Single sign-on removed",
    "sso.linked": "Single sign-on linked to",
    "sso.sign_in": "Signed in with single sign-on",
    "sso.sign_in_failed": "Single sign-on refused",
    "sso.tested": "Single sign-on tested",
    "sso.test_failed": "Single sign-on test failed",
    "two_factor.enabled": "Two-factor sign-in turned on for",
    "two_factor.replaced": "Authenticator app replaced for",
    "two_factor.disabled": "Two-factor sign-in turned off for",
    "two_factor.recovery_codes_regenerated": "New recovery codes for",
    "two_factor.recovery_code_used": "Recovery code used by",
    "organization.two_factor_required": "Two-factor sign-in required for owners and admins in",
    "organization.two_factor_optional": "Two-factor sign-in made optional in",
}


@register.filter
def audit_action(value: str) -> str:
    """`member.role_changed` → `Role changed`, for people; CSV exports keep the code."""
    return ACTION_LABELS.get(value, value.replace("_", " ").replace(".", ": ").capitalize())
