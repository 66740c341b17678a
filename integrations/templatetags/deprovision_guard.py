"""`{% deprovision_guard_banner %}`: the banner the dashboard and the Integrations page show
while the mass-deprovisioning guard holds changes for the current organization."""

from __future__ import annotations

from typing import Any

from django import template

from integrations.deprovision_guard import kept_holds, open_hold

register = template.Library()


@register.inclusion_tag("integrations/_deprovision_banner.html", takes_context=True)
def deprovision_guard_banner(context: template.Context) -> dict[str, Any]:
    organization = context.get("current_organization")
    if organization is None:
        return {"hold": None, "kept": []}
    return {"hold": open_hold(organization), "kept": kept_holds(organization)}
