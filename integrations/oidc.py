"""The OpenID Connect relying party behind single sign-on (Entra ID, Okta, any certified provider).

Authlib speaks the protocol (authorization URL with PKCE, the code exchange and the client
authentication) and validates the ID token's OpenID claims (`authlib.oidc.core.CodeIDToken`);
joserfc, Authlib's JOSE engine, checks the signature. This module adds what a multi-tenant product
needs around them: discovery per configured issuer with an exact issuer match, the provider's
metadata and keys cached in the shared Django cache and refreshed when a key rotates, an Entra
tenant check, and one typed exception per failure that a view can turn into a page.

Flow (OpenID Connect Core 1.0 §3.1, RFC 7636 PKCE, RFC 9700 security BCP):
1. `sign_in_start(config)` gives the URL to send the browser to and a `PendingSignIn` (state,
   nonce, PKCE verifier) that the caller keeps in the browser's session.
2. The provider sends the browser back to the redirect URI; `sign_in_finish(config, pending=...,
   callback_params=request.GET)` checks the state, exchanges the code and validates the ID token,
   returning an `SsoIdentity`.

Tokens, codes and secrets are never logged; failures log their reason and the issuer only.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from django.conf import settings
from django.core.cache import cache
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
    MissingKeyError,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

logger = logging.getLogger(__name__)

SCOPE = "openid profile email"
ENTRA_AUTHORITY = "https://login.microsoftonline.com"
# Signature algorithms taken from a provider's metadata. Public-key ones only: "none" is never a
# signature, and an HMAC algorithm verified against a JWKS would invite key confusion.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


# --- Errors -----------------------------------------------------------------------------------


class SsoError(Exception):
    """Every single sign-on failure. `str(error)` is safe to log and to show to an admin: it never
    holds a token, a code or a secret."""


class InsecureIssuer(SsoError):
    """The issuer (or one of its endpoints) is not https://. Plain http is allowed only for a
    loopback address with SSO_ALLOW_INSECURE_LOOPBACK_ISSUER (tests, a local provider)."""


class DiscoveryError(SsoError):
    """The provider's metadata is unusable: not JSON, missing endpoints, or naming an issuer other
    than the configured one (OpenID Connect Discovery 1.0 §4.3: they must be identical)."""


class ProviderUnreachable(SsoError):
    """A network error or an unexpected HTTP status from the provider (discovery, keys, token)."""


class StateMismatch(SsoError):
    """The callback's `state` is missing or is not the one this browser session started with: a
    forged or replayed callback (cross-site request forgery on the redirect URI)."""


class ProviderErrorResponse(SsoError):
    """The provider answered with an OAuth error, on the redirect (the user cancelled, the app is
    not assigned to them) or from the token endpoint (an invalid or reused code)."""

    def __init__(self, error: str, description: str = "") -> None:
        self.error = error
        self.description = description
        super().__init__(f"{error}: {description}" if description else error)


class InvalidTokenReason(StrEnum):
    MALFORMED = "malformed"
    ALGORITHM = "algorithm"
    UNKNOWN_KEY = "unknown_key"
    SIGNATURE = "signature"
    ISSUER = "issuer"
    AUDIENCE = "audience"
    AUTHORIZED_PARTY = "azp"
    EXPIRED = "expired"
    ISSUED_IN_FUTURE = "issued_in_future"
    NONCE = "nonce"
    TENANT = "tenant"
    CLAIMS = "claims"


class InvalidIdToken(SsoError):
    """The ID token failed validation; `reason` says which check, for the log and the page."""

    def __init__(self, reason: InvalidTokenReason, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"ID token refused ({reason}){': ' + detail if detail else ''}")


# --- Configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OidcClientConfig:
    """One organization's registration at its provider.

    `entra_tenant_id`, when set, also requires the token's `tid` to name that tenant, so a token
    from another Microsoft tenant is refused even if the issuer were configured loosely.
    """

    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    entra_tenant_id: str | None = None


def entra_issuer(tenant_id: str) -> str:
    """The issuer of a single-tenant Entra ID app from its directory (tenant) id alone.

    Entra puts the tenant's GUID in `iss` (never a domain name, never `common`), so only a GUID is
    accepted: https://learn.microsoft.com/entra/identity-platform/access-tokens#validate-the-issuer
    """
    try:
        tenant = str(uuid.UUID(tenant_id.strip()))
    except ValueError as error:
        raise ValueError(
            "The directory (tenant) ID is a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47."
        ) from error
    return f"{ENTRA_AUTHORITY}/{tenant}/v2.0"


def entra_client_config(
    *, tenant_id: str, client_id: str, client_secret: str, redirect_uri: str
) -> OidcClientConfig:
    issuer = entra_issuer(tenant_id)
    return OidcClientConfig(
        issuer=issuer,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=redirect_uri,
        entra_tenant_id=issuer.split("/")[3],
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url_scheme(url: str) -> None:
    """Refuses anything but https://, except http:// on loopback when the setting allows it:
    a provider reached over plain http could be impersonated by anyone on the path."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if (
        parts.scheme == "http"
        and parts.hostname
        and settings.SSO_ALLOW_INSECURE_LOOPBACK_ISSUER
        and _is_loopback(parts.hostname)
    ):
        return
    raise InsecureIssuer(f"{url} is not an https:// URL.")


# --- Discovery and keys -----------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    signing_algorithms: tuple[str, ...]
    token_endpoint_auth_methods: tuple[str, ...]

    @property
    def token_endpoint_auth_method(self) -> str:
        """client_secret_basic unless the provider supports only client_secret_post (RFC 8414
        §2: an absent list means client_secret_basic)."""
        methods = self.token_endpoint_auth_methods or ("client_secret_basic",)
        if "client_secret_basic" in methods:
            return "client_secret_basic"
        if "client_secret_post" in methods:
            return "client_secret_post"
        raise DiscoveryError(
            "The provider supports neither client_secret_basic nor client_secret_post."
        )


def _cache_key(kind: str, issuer: str) -> str:
    return f"sso:{kind}:{hashlib.sha256(issuer.encode()).hexdigest()[:32]}"


def _get_json(url: str, what: str) -> Any:
    try:
        response = requests.get(
            url,
            timeout=settings.SSO_HTTP_TIMEOUT_SECONDS,
            allow_redirects=False,
            headers={"Accept": "application/json"},
        )
    except requests.RequestException as error:
        raise ProviderUnreachable(f"{what} at {url}: {type(error).__name__}") from error
    if response.status_code != 200:
        raise ProviderUnreachable(f"{what} at {url} answered HTTP {response.status_code}.")
    try:
        return response.json()
    except ValueError as error:
        raise DiscoveryError(f"{what} at {url} is not JSON.") from error


def discover(issuer: str) -> ProviderMetadata:
    """The provider's metadata from `{issuer}/.well-known/openid-configuration`, cached for
    SSO_METADATA_CACHE_SECONDS in the shared cache.

    The `issuer` it names must be exactly the configured one (OpenID Connect Discovery 1.0 §4.3):
    that is what stops one provider from posing as another (a mix-up attack).
    """
    check_url_scheme(issuer)
    key = _cache_key("metadata", issuer)
    cached = cache.get(key)
    if cached is not None:
        return ProviderMetadata(**cached)
    # Discovery §4: a trailing slash on the issuer is removed before the well-known path.
    data = _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration", "Discovery")
    if not isinstance(data, dict):
        raise DiscoveryError("The provider's metadata is not a JSON object.")
    if data.get("issuer") != issuer:
        raise DiscoveryError(
            f"The provider calls itself {data.get('issuer')!r}, not the configured {issuer!r}."
        )
    endpoints = {}
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = data.get(name)
        if not isinstance(value, str) or not value:
            raise DiscoveryError(f"The provider's metadata has no {name}.")
        check_url_scheme(value)
        endpoints[name] = value
    algorithms = tuple(
        alg
        for alg in data.get("id_token_signing_alg_values_supported") or ()
        if alg in ASYMMETRIC_ALGORITHMS
    )
    if not algorithms:
        raise DiscoveryError("The provider lists no public-key algorithm for ID tokens.")
    metadata = ProviderMetadata(
        issuer=issuer,
        signing_algorithms=algorithms,
        token_endpoint_auth_methods=tuple(data.get("token_endpoint_auth_methods_supported") or ()),
        **endpoints,
    )
    cache.set(key, asdict(metadata), settings.SSO_METADATA_CACHE_SECONDS)
    return metadata


def _fetch_jwks(metadata: ProviderMetadata) -> dict[str, Any]:
    data = _get_json(metadata.jwks_uri, "The key set")
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise DiscoveryError("The provider's key set is not a JWKS.")
    # Only signing keys: an encryption key in the same set never verifies an ID token.
    keys = [k for k in data["keys"] if isinstance(k, dict) and k.get("use", "sig") == "sig"]
    entry = {"fetched_at": time.time(), "jwks": {"keys": keys}}
    cache.set(_cache_key("jwks", metadata.issuer), entry, settings.SSO_JWKS_CACHE_SECONDS)
    return entry


def _key_set(jwks: dict[str, Any]) -> KeySet:
    try:
        return KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (MissingKeyError, JoseError, ValueError) as error:
        raise InvalidIdToken(InvalidTokenReason.UNKNOWN_KEY, "no usable signing key") from error


def _decode(id_token: str, metadata: ProviderMetadata) -> jwt.Token:
    """Verifies the signature against the cached key set, fetching the set once more when the
    token names a key it does not hold, so a provider's key rotation needs no restart.

    The extra fetch is skipped when the cached set is younger than SSO_JWKS_MIN_REFRESH_SECONDS,
    so tokens with made-up key ids cannot make every sign-in attempt call the provider.
    """
    registry = JWSRegistry(algorithms=list(metadata.signing_algorithms))
    entry = cache.get(_cache_key("jwks", metadata.issuer)) or _fetch_jwks(metadata)
    for attempt in ("cached", "refreshed"):
        try:
            return jwt.decode(id_token, _key_set(entry["jwks"]), registry=registry)
        except InvalidKeyIdError as error:
            too_fresh = time.time() - entry["fetched_at"] < settings.SSO_JWKS_MIN_REFRESH_SECONDS
            if attempt == "refreshed" or too_fresh:
                raise InvalidIdToken(
                    InvalidTokenReason.UNKNOWN_KEY, "signed with a key the provider does not list"
                ) from error
            entry = _fetch_jwks(metadata)
        except UnsupportedAlgorithmError as error:
            raise InvalidIdToken(InvalidTokenReason.ALGORITHM, str(error)) from error
        except BadSignatureError as error:
            raise InvalidIdToken(InvalidTokenReason.SIGNATURE) from error
        except JoseError as error:
            raise InvalidIdToken(InvalidTokenReason.MALFORMED, error.error) from error
        except ValueError as error:
            raise InvalidIdToken(InvalidTokenReason.MALFORMED) from error
    raise AssertionError("unreachable")  # pragma: no cover


# --- The result -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SsoIdentity:
    """Who signed in, from a validated ID token.

    `link_key` is what to store with `issuer` to recognise the person next time: for Entra ID the
    tenant and object id (`tid`/`oid`, the same for every app, unlike the pairwise `sub`), for
    every other provider `sub` (Okta's `00u...` user id). `preferred_username` and `email` are for
    matching a person once and for display; Microsoft says they may change.
    """

    issuer: str
    subject: str
    tenant_id: str | None
    object_id: str | None
    preferred_username: str | None
    email: str | None
    email_verified: bool | None
    name: str | None
    given_name: str | None
    family_name: str | None
    amr: tuple[str, ...]

    @property
    def link_key(self) -> str:
        if self.tenant_id and self.object_id:
            return f"{self.tenant_id}/{self.object_id}"
        return self.subject


def _str_claim(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value else None


_CLAIM_REASONS = {
    "iss": InvalidTokenReason.ISSUER,
    "aud": InvalidTokenReason.AUDIENCE,
    "azp": InvalidTokenReason.AUTHORIZED_PARTY,
    "exp": InvalidTokenReason.EXPIRED,
    "iat": InvalidTokenReason.ISSUED_IN_FUTURE,
    "nbf": InvalidTokenReason.ISSUED_IN_FUTURE,
    "nonce": InvalidTokenReason.NONCE,
}


def validate_id_token(
    config: OidcClientConfig,
    id_token: str,
    *,
    nonce: str,
    access_token: str | None = None,
) -> SsoIdentity:
    """Validates an ID token as OpenID Connect Core 1.0 §3.1.3.7 requires and returns who it names.

    Signature with an algorithm the metadata lists (never `none`); `iss` exactly the configured
    issuer; `aud` containing the client id (and `azp` equal to it when there are several
    audiences); `exp` and `iat` within SSO_CLOCK_SKEW_SECONDS; `nonce` equal to the one this
    sign-in sent (so a token from another sign-in cannot be replayed); `at_hash` when present; for
    Entra ID, `tid` naming the configured tenant.
    """
    if not nonce:
        raise ValueError("The nonce this sign-in sent is required.")
    metadata = discover(config.issuer)
    token = _decode(id_token, metadata)
    claims = CodeIDToken(
        token.claims,
        token.header,
        {
            "iss": {"essential": True, "value": config.issuer},
            "aud": {"essential": True, "value": config.client_id},
            "sub": {"essential": True},
        },
        {"nonce": nonce, "client_id": config.client_id, "access_token": access_token},
    )
    try:
        claims.validate(leeway=settings.SSO_CLOCK_SKEW_SECONDS)
    except ExpiredTokenError as error:
        raise InvalidIdToken(InvalidTokenReason.EXPIRED) from error
    except ClaimError as error:
        reason = _CLAIM_REASONS.get(error.claim, InvalidTokenReason.CLAIMS)
        raise InvalidIdToken(reason, error.description or error.claim) from error
    tenant_id = _str_claim(claims, "tid")
    if config.entra_tenant_id and (tenant_id or "").lower() != config.entra_tenant_id.lower():
        raise InvalidIdToken(InvalidTokenReason.TENANT, "the token names another tenant")
    amr = claims.get("amr")
    email_verified = claims.get("email_verified")
    return SsoIdentity(
        issuer=config.issuer,
        subject=claims["sub"],
        tenant_id=tenant_id,
        object_id=_str_claim(claims, "oid"),
        preferred_username=_str_claim(claims, "preferred_username"),
        email=_str_claim(claims, "email"),
        email_verified=email_verified if isinstance(email_verified, bool) else None,
        name=_str_claim(claims, "name"),
        given_name=_str_claim(claims, "given_name"),
        family_name=_str_claim(claims, "family_name"),
        amr=tuple(v for v in amr if isinstance(v, str)) if isinstance(amr, list) else (),
    )


# --- The flow ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingSignIn:
    """What the browser session keeps between the redirect to the provider and the callback.

    It holds the PKCE verifier, so it belongs in the server-side session, never in a URL.
    """

    issuer: str
    state: str
    nonce: str
    code_verifier: str

    def to_session(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_session(cls, data: Mapping[str, Any]) -> PendingSignIn:
        return cls(
            **{name: str(data[name]) for name in ("issuer", "state", "nonce", "code_verifier")}
        )


@dataclass(frozen=True)
class SignInRequest:
    url: str
    pending: PendingSignIn


def _session(config: OidcClientConfig, metadata: ProviderMetadata) -> OAuth2Session:
    return OAuth2Session(
        client_id=config.client_id,
        client_secret=config.client_secret,
        scope=SCOPE,
        redirect_uri=config.redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method=metadata.token_endpoint_auth_method,
    )


def sign_in_start(config: OidcClientConfig) -> SignInRequest:
    """The authorization request: code flow, PKCE S256, and a fresh random state and nonce that
    the caller stores (`pending.to_session()`) in the browser's session."""
    metadata = discover(config.issuer)
    pending = PendingSignIn(
        issuer=config.issuer,
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        # 86 characters of the unreserved set: inside RFC 7636's 43-128.
        code_verifier=secrets.token_urlsafe(64),
    )
    with _session(config, metadata) as session:
        url, _state = session.create_authorization_url(
            metadata.authorization_endpoint,
            state=pending.state,
            nonce=pending.nonce,
            code_verifier=pending.code_verifier,
            response_type="code",
        )
    return SignInRequest(url=url, pending=pending)


def sign_in_finish(
    config: OidcClientConfig,
    *,
    pending: PendingSignIn | None,
    callback_params: Mapping[str, str],
) -> SsoIdentity:
    """Completes a sign-in from the parameters on the redirect URI.

    The state is checked before anything else, an error from the provider included, so a forged
    callback learns nothing. The `iss` parameter, when the provider sends it (RFC 9207), must be
    the configured issuer. Then the code is exchanged with the PKCE verifier and the ID token
    validated (`validate_id_token`).
    """
    state = callback_params.get("state") or ""
    if (
        pending is None
        or pending.issuer != config.issuer
        or not hmac.compare_digest(state.encode(), pending.state.encode())
    ):
        logger.warning("SSO callback refused for %s: state mismatch", config.issuer)
        raise StateMismatch("The sign-in response does not belong to this browser session.")
    if "iss" in callback_params and callback_params["iss"] != config.issuer:
        raise ProviderErrorResponse("issuer_mismatch", "The response came from another issuer.")
    if callback_params.get("error"):
        logger.info("SSO provider error for %s: %s", config.issuer, callback_params["error"])
        raise ProviderErrorResponse(
            callback_params["error"], callback_params.get("error_description", "")
        )
    code = callback_params.get("code")
    if not code:
        raise ProviderErrorResponse("invalid_request", "The response carries no code.")

    metadata = discover(config.issuer)
    try:
        with _session(config, metadata) as session:
            token = session.fetch_token(
                metadata.token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=pending.code_verifier,
                timeout=settings.SSO_HTTP_TIMEOUT_SECONDS,
                allow_redirects=False,
            )
    except OAuthError as error:
        logger.info("SSO code exchange refused by %s: %s", config.issuer, error.error)
        raise ProviderErrorResponse(str(error.error), str(error.description or "")) from error
    except requests.RequestException as error:
        raise ProviderUnreachable(
            f"Token endpoint {metadata.token_endpoint}: {type(error).__name__}"
        ) from error
    except ValueError as error:
        raise ProviderErrorResponse(
            "invalid_response", "The token endpoint did not answer JSON."
        ) from error
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise InvalidIdToken(InvalidTokenReason.MALFORMED, "the token response has no id_token")
    try:
        return validate_id_token(
            config, id_token, nonce=pending.nonce, access_token=token.get("access_token")
        )
    except InvalidIdToken as error:
        logger.warning("SSO ID token refused for %s: %s", config.issuer, error.reason)
        raise
