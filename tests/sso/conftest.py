from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from integrations.oidc import OidcClientConfig
from tests.sso.provider import TestProvider

TENANT_A = "6f1b2c4d-8e9f-4a0b-9c1d-2e3f4a5b6c7d"
TENANT_B = "0a9b8c7d-6e5f-4d3c-8b2a-1f0e9d8c7b6a"
OKTA = "/oauth2/default"
ENTRA_A = f"/{TENANT_A}/v2.0"
ENTRA_B = f"/{TENANT_B}/v2.0"
REDIRECT_URI = "http://127.0.0.1:8000/sso/callback/"


@pytest.fixture(scope="module")
def op() -> Iterator[TestProvider]:
    """One real oidc-provider with an Okta-like issuer and two Entra-like tenants sharing keys."""
    provider = TestProvider([OKTA, ENTRA_A, ENTRA_B]).start()
    yield provider
    provider.stop()


@pytest.fixture(autouse=True)
def _loopback_issuer_allowed(settings) -> None:
    settings.SSO_ALLOW_INSECURE_LOOPBACK_ISSUER = True


def register(
    op: TestProvider, path: str, *, auth_method: str = "client_secret_basic"
) -> OidcClientConfig:
    """A new client at the provider, and the relying party's configuration for it."""
    client_id = f"client-{secrets.token_hex(6)}"
    client_secret = secrets.token_urlsafe(32)
    op.register_client(
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=REDIRECT_URI,
        auth_method=auth_method,
    )
    return OidcClientConfig(
        issuer=op.issuer(path),
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=REDIRECT_URI,
        entra_tenant_id=path.split("/")[1] if path in (ENTRA_A, ENTRA_B) else None,
    )
