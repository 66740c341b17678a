"""SCIM responses: `application/scim+json` bodies, errors per RFC 7644 §3.12, ETags."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse

from integrations.scim.errors import ScimError

CONTENT_TYPE = "application/scim+json; charset=utf-8"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def scim_response(
    data: dict[str, Any] | None, *, status: int = 200, etag: str | None = None
) -> HttpResponse:
    content = b"" if data is None else json.dumps(data, ensure_ascii=False).encode("utf-8")
    response = HttpResponse(content=content, status=status, content_type=CONTENT_TYPE)
    if etag:
        response["ETag"] = etag
    return response


def list_body(
    resources: list[Any], *, total: int | None = None, start_index: int = 1
) -> dict[str, Any]:
    """A ListResponse (RFC 7644 §3.4.2): the page's resources and where it sits in the total."""
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": len(resources) if total is None else total,
        "itemsPerPage": len(resources),
        "startIndex": start_index,
        "Resources": resources,
    }


def error_response(error: ScimError) -> HttpResponse:
    return scim_response(error.to_dict(), status=error.status)


def etag_for(version: int) -> str:
    return f'W/"{version}"'
