"""SCIM errors (RFC 7644 §3.12): one exception type, rendered as the standard error body.

Every module of the SCIM service raises `ScimError` (or a subclass) for anything a client did
wrong; the view layer turns it into `application/scim+json` with `status` as a string and a
`scimType` where RFC 7644 defines one. Messages are written for the identity provider's admin,
who reads them in the provisioning log: they never carry exception text or stack traces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_scim.exceptions import SCIMException

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(SCIMException):
    """Subclasses django-scim2's exception so its view machinery renders ours the same way."""

    status = 400
    scim_type: str | None = None

    def __init__(
        self, detail: str, *, status: int | None = None, scim_type: str | None = None
    ) -> None:
        Exception.__init__(self, detail)
        self.detail = detail
        self.schemas = [ERROR_SCHEMA]
        if status is not None:
            self.status = status
        if scim_type is not None:
            self.scim_type = scim_type

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schemas": [ERROR_SCHEMA],
            "status": str(self.status),
            "detail": self.detail,
        }
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


class InvalidSyntax(ScimError):
    scim_type = "invalidSyntax"


class InvalidValue(ScimError):
    scim_type = "invalidValue"


class InvalidFilter(ScimError):
    scim_type = "invalidFilter"


class InvalidPath(ScimError):
    scim_type = "invalidPath"


class NoTarget(ScimError):
    scim_type = "noTarget"


class Mutability(ScimError):
    scim_type = "mutability"


class Uniqueness(ScimError):
    status = 409
    scim_type = "uniqueness"


class TooMany(ScimError):
    scim_type = "tooMany"


class NotFound(ScimError):
    status = 404


class Unauthorized(ScimError):
    status = 401


class PreconditionFailed(ScimError):
    status = 412


class NotImplementedFeature(ScimError):
    status = 501


class RateLimited(ScimError):
    """429 (RFC 7644 §3.12 lists it; RFC 6585): the caller sets Retry-After from `retry_after`."""

    status = 429

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class DeprovisionHeld(RateLimited):
    """429 for a suspension or removal the mass-deprovisioning guard holds for an admin.

    Raised inside the write's transaction, which rolls back so nothing is applied; `record` then
    writes the held change in a transaction of its own (see `deprovision_guard.atomic_guarded`),
    so the refusal is remembered for the admin's decision.
    """

    def __init__(self, detail: str, *, retry_after: int, record: Callable[[], object]) -> None:
        super().__init__(
            f"Held by the mass-deprovisioning guard: {detail}", retry_after=retry_after
        )
        self.record = record
