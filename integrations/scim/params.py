"""Query parameters of SCIM list and search requests (RFC 7644 §3.4.2 and §3.4.3).

Pagination, sorting and the `attributes`/`excludedAttributes` projection, read the same way from
a GET query string and from a POST /.search body.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from integrations.scim.errors import InvalidFilter, InvalidValue

DEFAULT_COUNT = 100
ALWAYS_RETURNED = frozenset({"id", "schemas"})


def _integer(name: str, raw: Any) -> int | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise InvalidValue(f"{name} must be an integer.")
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise InvalidValue(f"{name} must be an integer, not {str(raw)[:40]!r}.") from None


def _names(raw: Any) -> tuple[str, ...]:
    if raw is None or raw == "":
        return ()
    if isinstance(raw, str):
        parts: Iterable[Any] = raw.split(",")
    elif isinstance(raw, list):
        parts = raw
    else:
        raise InvalidValue("attributes and excludedAttributes must be lists of attribute names.")
    names = []
    for part in parts:
        if not isinstance(part, str):
            raise InvalidValue("attributes and excludedAttributes must be attribute names.")
        if part.strip():
            names.append(part.strip())
    return tuple(names)


@dataclass(frozen=True)
class ListParams:
    filter: str
    start_index: int
    count: int
    sort_by: str
    descending: bool
    attributes: tuple[str, ...]
    excluded: tuple[str, ...]

    @classmethod
    def parse(cls, source: Mapping[str, Any]) -> ListParams:
        """RFC 7644 §3.4.2.4: startIndex below 1 is read as 1, a negative count as 0, and a
        count above the service's maximum is capped (the client gets fewer results)."""
        lowered = {str(key).lower(): value for key, value in source.items()}
        start = _integer("startIndex", lowered.get("startindex"))
        count = _integer("count", lowered.get("count"))
        order = str(lowered.get("sortorder") or "ascending").lower()
        if order not in ("ascending", "descending"):
            raise InvalidValue("sortOrder must be 'ascending' or 'descending'.")
        filter_text = lowered.get("filter") or ""
        if not isinstance(filter_text, str):
            raise InvalidValue("filter must be a string.")
        if "\x00" in filter_text:  # PostgreSQL cannot compare text containing NUL
            raise InvalidFilter("Invalid filter: NUL characters are not allowed.")
        sort_by = lowered.get("sortby") or ""
        if not isinstance(sort_by, str):
            raise InvalidValue("sortBy must be an attribute name.")
        return cls(
            filter=filter_text.strip(),
            start_index=max(1, start if start is not None else 1),
            count=min(
                max(0, count if count is not None else DEFAULT_COUNT), settings.SCIM_MAX_RESULTS
            ),
            sort_by=sort_by.strip(),
            descending=order == "descending",
            attributes=_names(lowered.get("attributes")),
            excluded=_names(lowered.get("excludedattributes")),
        )

    @classmethod
    def projection_only(cls, source: Mapping[str, Any]) -> ListParams:
        """For single-resource requests: only attributes/excludedAttributes apply."""
        lowered = {str(key).lower(): value for key, value in source.items()}
        return cls(
            filter="",
            start_index=1,
            count=1,
            sort_by="",
            descending=False,
            attributes=_names(lowered.get("attributes")),
            excluded=_names(lowered.get("excludedattributes")),
        )

    def includes(self, attribute: str, *, core_urn: str) -> bool:
        """Whether a top-level attribute is in the response (without building it first)."""
        wanted = attribute.lower()
        if self.attributes:
            return any(_top(name, core_urn) == wanted for name in self.attributes)
        return not any(
            _top(name, core_urn) == wanted and "." not in _strip_urn(name, core_urn)
            for name in self.excluded
        )


def _strip_urn(name: str, core_urn: str) -> str:
    if name.lower().startswith(core_urn.lower() + ":"):
        return name[len(core_urn) + 1 :]
    return name


def _top(name: str, core_urn: str) -> str:
    return _strip_urn(name, core_urn).split(".", 1)[0].lower()


def _split(name: str, core_urn: str, extensions: Iterable[str]) -> tuple[str | None, str, str]:
    """(extension URN or None, attribute, sub-attribute) for a requested attribute name."""
    for urn in extensions:
        if name.lower() == urn.lower():
            return urn, "", ""
        if name.lower().startswith(urn.lower() + ":"):
            rest = name[len(urn) + 1 :]
            attribute, _, sub = rest.partition(".")
            return urn, attribute, sub
    attribute, _, sub = _strip_urn(name, core_urn).partition(".")
    return None, attribute, sub


def _find_key(container: Mapping[str, Any], name: str) -> str | None:
    lowered = name.lower()
    return next((key for key in container if key.lower() == lowered), None)


def project(resource: dict[str, Any], params: ListParams, *, core_urn: str) -> dict[str, Any]:
    """Apply `attributes` or `excludedAttributes` (RFC 7644 §3.4.2.5) to a rendered resource.

    Names are case-insensitive, may carry the core schema URN, may name a sub-attribute
    (`name.givenName`, `emails.value`), or an extension attribute with its URN. `id` and
    `schemas` are always returned.
    """
    if not params.attributes and not params.excluded:
        return resource
    extensions = [key for key in resource if key.startswith("urn:")]
    if params.attributes:
        result: dict[str, Any] = {
            key: resource[key] for key in ("schemas", "id") if key in resource
        }
        for name in params.attributes:
            urn, attribute, sub = _split(name, core_urn, extensions)
            source = resource.get(urn, {}) if urn else resource
            if urn and not attribute:
                result[urn] = source
                continue
            key = _find_key(source, attribute) if isinstance(source, dict) else None
            if key is None:
                continue
            target = result.setdefault(urn, {}) if urn else result
            value = source[key]
            if not sub:
                target[key] = value
            elif isinstance(value, dict):
                sub_key = _find_key(value, sub)
                if sub_key is not None:
                    target.setdefault(key, {})[sub_key] = value[sub_key]
            elif isinstance(value, list):
                picked = [
                    {k: v for k, v in item.items() if k.lower() == sub.lower()}
                    for item in value
                    if isinstance(item, dict)
                ]
                target[key] = [item for item in picked if item]
        return result
    result = dict(resource)
    for name in params.excluded:
        urn, attribute, sub = _split(name, core_urn, extensions)
        if urn is None and attribute.lower() in ALWAYS_RETURNED and not sub:
            continue
        container = result.get(urn) if urn else result
        if urn and not attribute:
            result.pop(urn, None)
            continue
        if not isinstance(container, dict):
            continue
        if urn:
            container = dict(container)
            result[urn] = container
        key = _find_key(container, attribute)
        if key is None:
            continue
        if not sub:
            container.pop(key)
        elif isinstance(container[key], dict):
            inner = dict(container[key])
            sub_key = _find_key(inner, sub)
            if sub_key is not None:
                inner.pop(sub_key)
            container[key] = inner
        elif isinstance(container[key], list):
            container[key] = [
                {k: v for k, v in item.items() if k.lower() != sub.lower()}
                if isinstance(item, dict)
                else item
                for item in container[key]
            ]
    return result
