"""`{% deprovision_guard_banner %}`: the banner the dashboard and the Integrations page show
while the mass-deprovisioning guard holds changes for the current organization, or is off."""

from __future__ import annotations

from typing import Any

from django import template

from integrations.deprovision_guard import (
    describe_duration,
    guard_settings,
    kept_holds,
    open_hold,
)

register = template.Library()


@register.inclusion_tag("integrations/_deprovision_banner.html", takes_context=True)
def deprovision_guard_banner(context: template.Context) -> dict[str, Any]:
    organization = context.get("current_organization")
    if organization is None:
        return {"hold": None, "kept": [], "guard_off": None}
    policy = guard_settings(organization)
    return {
        "hold": open_hold(organization),
        "kept": kept_holds(organization),
        # Owners and admins only: the banner is on admin pages, and names who turned it off.
        "guard_off": None if policy.enabled else policy,
    }


@register.filter
def guard_duration(seconds: int) -> str:
    """3600 → "1 hour": the guard's windows and keep-active periods in words."""
    return describe_duration(int(seconds))
