"""A SCIM client for black-box tests: real requests through the whole stack with a real token."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from django.test import Client

from accounts.audit import Actor
from accounts.models import Organization
from integrations import services
from tests.factories import OrganizationFactory


@dataclass
class ScimResponse:
    status: int
    headers: Any
    body: Any
    raw: bytes

    @property
    def json(self) -> Any:
        return self.body

    @classmethod
    def of(cls, status: int, headers: Any, content: bytes) -> ScimResponse:
        """The response with its body parsed as JSON (None when empty or not JSON)."""
        try:
            parsed = json.loads(content) if content else None
        except ValueError:
            parsed = None
        return cls(status, headers, parsed, content)


class ScimClient:
    """Talks to one organization's Tenant URL as an identity provider would."""

    def __init__(self, organization: Organization, token: str, *, user_agent: str = "") -> None:
        self.organization = organization
        self.token = token
        self.base = f"/scim/v2/{organization.tenant_id}"
        self.client = Client()
        self.user_agent = user_agent

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        content_type: str = "application/scim+json",
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> ScimResponse:
        extra: dict[str, str] = {}
        bearer = self.token if token is None else token
        if bearer:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {bearer}"
        if self.user_agent:
            extra["HTTP_USER_AGENT"] = self.user_agent
        for name, value in (headers or {}).items():
            extra["HTTP_" + name.upper().replace("-", "_")] = value
        data: Any = raw if raw is not None else (json.dumps(body) if body is not None else "")
        url = path if path.startswith("/scim/") else self.base + path
        response = self.client.generic(method, url, data=data, content_type=content_type, **extra)
        return ScimResponse.of(response.status_code, response.headers, response.content)

    def get(self, path: str, **kwargs: Any) -> ScimResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> ScimResponse:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> ScimResponse:
        return self.request("PUT", path, body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> ScimResponse:
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> ScimResponse:
        return self.request("DELETE", path, **kwargs)


def scim_client_for(organization: Organization, **kwargs: Any) -> ScimClient:
    issued = services.scim_token_issue(organization=organization, actor=Actor.system("tests"))
    return ScimClient(organization, issued.secret, **kwargs)


@pytest.fixture
def organization(db) -> Organization:
    return OrganizationFactory(name="Contoso", slug="contoso")


@pytest.fixture
def scim(organization) -> ScimClient:
    return scim_client_for(organization)


@pytest.fixture
def other_scim(db) -> ScimClient:
    """Another organization, with its own token: for cross-tenant attempts."""
    return scim_client_for(OrganizationFactory(name="Fabrikam", slug="fabrikam"))


class LiveScimClient(ScimClient):
    """The same client over a real socket: `live_server`, `requests`, the whole WSGI stack.

    For replaying what an identity provider sends exactly as it sends it (path spelling, headers,
    body bytes). Each request opens its own connection, as in test_scim2_tester: on a kept-alive
    one Django's test server answers ~40 ms late (Nagle's algorithm against delayed ACKs).
    """

    def __init__(self, organization: Organization, token: str, *, server_url: str) -> None:
        super().__init__(organization, token)
        self.server_url = server_url.rstrip("/")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        content_type: str = "application/scim+json",
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> ScimResponse:
        sent = {"Connection": "close", "Accept": "application/scim+json", **(headers or {})}
        bearer = self.token if token is None else token
        if bearer:
            sent["Authorization"] = f"Bearer {bearer}"
        data: bytes | None = raw
        if data is None and body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            sent["Content-Type"] = content_type
        url = self.server_url + (path if path.startswith("/scim/") else self.base + path)
        response = requests.request(method, url, data=data, headers=sent, timeout=30)
        return ScimResponse.of(response.status_code, response.headers, response.content)


@pytest.fixture
def live_scim(live_server, settings, transactional_db, organization) -> LiveScimClient:
    """`scim` over real HTTP against pytest-django's live server (SQLite or PostgreSQL)."""
    settings.SITE_URL = live_server.url
    issued = services.scim_token_issue(organization=organization, actor=Actor.system("tests"))
    return LiveScimClient(organization, issued.secret, server_url=live_server.url)
