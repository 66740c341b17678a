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
