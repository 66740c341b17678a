"""Everything around a SCIM request: tenant, token, errors, request id and the provisioning log.

Installed through django-scim2's AUTH_CHECK_MIDDLEWARE hook, so it wraps each SCIM view. It:
- finds the organization from the Tenant URL and checks the bearer token against it; a missing,
  wrong, revoked or another organization's token, and an unknown tenant, all get the same 401;
- turns every error into the RFC 7644 §3.12 body: `ScimError` with its status and scimType, a
  database outage into 503 with Retry-After, anything unexpected into a bare 500 (logged here,
  never described to the client);
- gives each request an id, returned as `X-Request-Id` and kept in the provisioning log with the
  redacted bodies, the outcome and the client detected from the headers.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse

from accounts import ratelimit
from accounts.models import Organization
from integrations import services
from integrations.models import ScimRequest
from integrations.scim.errors import RateLimited, ScimError, Unauthorized
from integrations.scim.ratelimit import scim_rate_limit_check
from integrations.scim.responses import error_response
from nordpass_admin import metrics
from nordpass_admin.logging import bind_request_id

logger = logging.getLogger("integrations.scim")

RETRY_AFTER_SECONDS = 30
# The one answer to every authentication failure, written for the identity provider's admin.
AUTHENTICATION_FAILED = (
    "Authentication failed: send the Secret token from this organization's Integrations page "
    "as 'Authorization: Bearer <token>'."
)


def _bearer_token(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.strip().partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def detect_client(request: HttpRequest) -> str:
    """Entra ID, Okta or another client, from what each sends (for the provisioning log only)."""
    agent = request.headers.get("User-Agent", "").lower()
    if "aadoptscim062020" in request.META.get("QUERY_STRING", "").lower() or any(
        marker in agent for marker in ("azure", "microsoft", "entra", "aad")
    ):
        return ScimRequest.ClientKind.ENTRA_ID
    if "okta" in agent:
        return ScimRequest.ClientKind.OKTA
    return ScimRequest.ClientKind.OTHER


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _find_organization(tenant_id: str) -> Organization | None:
    try:
        tenant = uuid.UUID(tenant_id)
    except (ValueError, TypeError):
        return None
    return Organization.objects.filter(tenant_id=tenant).first()


def _refusal(request: HttpRequest) -> ScimError:
    """401, or 429 once one client address has failed too often: guessing tokens gets slow
    for that address only, and a client with a valid token is never refused by it."""
    limit = settings.SCIM_AUTH_FAILURE_LIMIT
    if limit > 0:
        window = settings.SCIM_AUTH_FAILURE_WINDOW
        address = _client_ip(request) or "unknown"
        if ratelimit.record_failure(f"scim-auth:{address}", window=window) > limit:
            return RateLimited(
                "Too many failed authentications from this address: retry after "
                f"{window} second(s) with the Secret token from the Integrations page.",
                retry_after=window,
            )
    return Unauthorized(AUTHENTICATION_FAILED)


class ScimRequestMiddleware:
    def __init__(self, get_response: Callable[..., HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        started = time.monotonic()
        # The id RequestIdMiddleware bound before the first log line of this request (a fresh
        # one of ours for every SCIM path); a new one only where that middleware is not installed.
        request_id = getattr(request, "request_id", None) or uuid.uuid4().hex
        request.scim_request_id = request_id  # type: ignore[attr-defined]
        bind_request_id(request_id)
        organization: Organization | None = None
        tenant_id = kwargs.get("tenant_id", "")
        try:
            organization = self._authenticate(request, tenant_id)
            response = self.get_response(request, *args, **kwargs)
        except ScimError as exc:
            response = error_response(exc)
            if isinstance(exc, RateLimited):
                response["Retry-After"] = str(exc.retry_after)
            if organization is None:
                # Refused before a token matched: still logged for a real tenant, so "Entra
                # still sends the old token" shows up in that organization's provisioning log.
                organization = _find_organization(tenant_id)
        except (OperationalError, InterfaceError) as exc:
            # The database is unreachable or restarting: tell the client to come back.
            logger.warning("SCIM request %s: database unavailable (%s)", request_id, exc)
            response = error_response(
                ScimError("The service is briefly unavailable. Retry later.", status=503)
            )
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        except DatabaseError:
            logger.exception("SCIM request %s failed in the database", request_id)
            response = error_response(ScimError("Internal error.", status=500))
        except Exception:
            logger.exception("SCIM request %s failed", request_id)
            response = error_response(ScimError("Internal error.", status=500))
        if response.status_code == 401:
            response["WWW-Authenticate"] = 'Bearer realm="scim"'
        response["X-Request-Id"] = request_id
        response["Cache-Control"] = "no-store"
        if organization is not None:
            self._record(request, response, organization, started)
        metrics.observe_scim(request, response, time.monotonic() - started)
        return response

    def _authenticate(self, request: HttpRequest, tenant_id: str) -> Organization:
        # One answer for every failure (no token, a wrong, revoked or another organization's
        # token, an unknown tenant), so the endpoint never tells which tenants exist.
        presented = _bearer_token(request)
        token = (
            services.scim_credentials_verify(tenant_id=tenant_id, presented=presented)
            if presented
            else None
        )
        if token is None:
            raise _refusal(request)
        organization = token.organization
        decision = scim_rate_limit_check(organization.pk)
        if not decision.allowed:
            raise RateLimited(
                "Too many requests for this organization: retry after "
                f"{decision.retry_after} second(s).",
                retry_after=decision.retry_after,
            )
        services.scim_token_record_use(token=token, ip_address=_client_ip(request))
        request.scim_organization = organization  # type: ignore[attr-defined]
        request.scim_token = token  # type: ignore[attr-defined]
        return organization

    def _record(
        self,
        request: HttpRequest,
        response: HttpResponse,
        organization: Organization,
        started: float,
    ) -> None:
        try:
            if connection.in_atomic_block:
                # A savepoint: a failed log write must not break the surrounding transaction.
                with transaction.atomic():
                    self._write_record(request, response, organization, started)
            else:
                # Autocommit: the INSERT is its own transaction, without two more round trips.
                self._write_record(request, response, organization, started)
        except DatabaseError:
            # Losing one log row must never turn a successful provisioning call into an error.
            logger.exception("Could not record SCIM request %s", request.scim_request_id)  # type: ignore[attr-defined]

    @staticmethod
    def _write_record(
        request: HttpRequest, response: HttpResponse, organization: Organization, started: float
    ) -> None:
        services.scim_request_record(
            organization=organization,
            request_id=request.scim_request_id,  # type: ignore[attr-defined]
            method=request.method or "",
            path=_relative_path(request.path, organization),
            query=request.META.get("QUERY_STRING", ""),
            status_code=response.status_code,
            duration_ms=int((time.monotonic() - started) * 1000),
            client_kind=detect_client(request),
            resource_type=getattr(request, "scim_resource_type", ""),
            resource_id=getattr(request, "scim_resource_id", ""),
            outcome=_outcome(request, response),
            # Only a request that succeeded carries one: a refused request changed nothing.
            warning=getattr(request, "scim_warning", "") if response.status_code < 400 else "",
            request_body=getattr(request, "scim_body_text", ""),
            response_body=_response_text(response),
            remote_ip=_client_ip(request),
        )


def _relative_path(path: str, organization: Organization) -> str:
    prefix = f"/scim/v2/{organization.tenant_id}"
    return path[len(prefix) :] or "/" if path.startswith(prefix) else path


def _response_text(response: HttpResponse) -> str:
    if getattr(response, "streaming", False) or not response.content:
        return ""
    return response.content.decode("utf-8", errors="replace")


def _outcome(request: HttpRequest, response: HttpResponse) -> str:
    """The plain-language line the provisioning log shows."""
    outcome = getattr(request, "scim_outcome", "")
    if response.status_code < 400:
        return outcome
    try:
        detail = json.loads(response.content).get("detail", "")
    except (ValueError, AttributeError):
        detail = ""
    return f"Rejected: {detail}" if detail else f"Rejected ({response.status_code})"
