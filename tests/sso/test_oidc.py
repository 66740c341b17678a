"""The OpenID Connect relying party (integrations/oidc.py) against a real OpenID Provider."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import time_machine
from joserfc import jws
from joserfc.jwk import OctKey, RSAKey

from integrations.oidc import (
    DiscoveryError,
    InsecureIssuer,
    InvalidIdToken,
    InvalidTokenReason,
    OidcClientConfig,
    PendingSignIn,
    ProviderErrorResponse,
    ProviderUnreachable,
    StateMismatch,
    discover,
    entra_client_config,
    entra_issuer,
    sign_in_finish,
    sign_in_start,
    validate_id_token,
)
from tests.sso.conftest import ENTRA_A, ENTRA_B, OKTA, TENANT_A, TENANT_B, register
from tests.sso.provider import TestProvider, new_signing_key

pytestmark = pytest.mark.sso

ENTRA_PERSON = {
    "tid": TENANT_A,
    "oid": "9d4c1f2e-3b5a-4c6d-8e7f-0a1b2c3d4e5f",
    "preferred_username": "Ada.Lovelace@contoso.onmicrosoft.com",
    "name": "Ada Lovelace",
}
OKTA_PERSON = {
    "email": "grace@example.com",
    "email_verified": True,
    "preferred_username": "grace@example.com",
    "name": "Grace Hopper",
    "given_name": "Grace",
    "family_name": "Hopper",
}


def raw_id_token(
    op: TestProvider, config: OidcClientConfig, *, account_id: str, claims: dict[str, Any]
):
    """Signs in through the provider and exchanges the code by hand: the raw ID token, and the
    sign-in it belongs to, for tests that replay a token somewhere it does not belong."""
    request = sign_in_start(config)
    callback = op.sign_in(request.url, account_id=account_id, claims=claims)
    metadata = discover(config.issuer)
    response = requests.post(
        metadata.token_endpoint,
        data={
            "grant_type": "authorization_code",
            "code": callback["code"],
            "redirect_uri": config.redirect_uri,
            "code_verifier": request.pending.code_verifier,
        },
        auth=(config.client_id, config.client_secret),
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["id_token"], request.pending


def claims_for(config: OidcClientConfig, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": config.issuer,
        "sub": "00u1abcd2EFGH3ijk4l5",
        "aud": config.client_id,
        "iat": now,
        "exp": now + 300,
        "nonce": "the-nonce",
        **overrides,
    }


# --- Happy paths ------------------------------------------------------------------------------


def test_entra_shaped_sign_in_links_on_tenant_and_object_id(op):
    # given an Entra-like tenant and an app registered in it
    config = register(op, ENTRA_A)
    request = sign_in_start(config)
    # when a person signs in there and the browser comes back
    callback = op.sign_in(
        request.url, account_id="pairwise-sub-for-this-app", claims=ENTRA_PERSON, amr=["pwd", "mfa"]
    )
    identity = sign_in_finish(config, pending=request.pending, callback_params=callback)
    # then the identity carries Entra's claims and links on tid/oid, not the pairwise sub
    assert identity.issuer == op.issuer(ENTRA_A)
    assert identity.subject == "pairwise-sub-for-this-app"
    assert identity.tenant_id == TENANT_A
    assert identity.object_id == ENTRA_PERSON["oid"]
    assert identity.link_key == f"{TENANT_A}/{ENTRA_PERSON['oid']}"
    assert identity.preferred_username == "Ada.Lovelace@contoso.onmicrosoft.com"
    assert identity.email is None
    assert identity.email_verified is None
    assert identity.name == "Ada Lovelace"
    assert identity.amr == ("pwd", "mfa")


def test_okta_shaped_sign_in_links_on_sub_with_client_secret_post(op):
    # given an Okta-like authorization server and a client that authenticates in the body
    config = register(op, OKTA, auth_method="client_secret_post")
    request = sign_in_start(config)
    # when a person signs in
    callback = op.sign_in(request.url, account_id="00u1abcd2EFGH3ijk4l5", claims=OKTA_PERSON)
    identity = sign_in_finish(config, pending=request.pending, callback_params=callback)
    # then the identity links on Okta's user id
    assert identity.link_key == identity.subject == "00u1abcd2EFGH3ijk4l5"
    assert (identity.tenant_id, identity.object_id) == (None, None)
    assert identity.email == "grace@example.com"
    assert identity.email_verified is True
    assert (identity.given_name, identity.family_name) == ("Grace", "Hopper")
    assert identity.amr == ()


def test_pending_sign_in_round_trips_through_the_session(op):
    # given a sign-in whose pending part is kept as session data (JSON-serialisable)
    config = register(op, OKTA)
    request = sign_in_start(config)
    stored = request.pending.to_session()
    callback = op.sign_in(request.url, account_id="00u2", claims=OKTA_PERSON)
    # when the callback reads it back
    identity = sign_in_finish(
        config, pending=PendingSignIn.from_session(stored), callback_params=callback
    )
    # then the sign-in completes
    assert identity.subject == "00u2"


# --- The authorization request and PKCE ----------------------------------------------------


def test_authorization_url_is_code_flow_with_pkce_s256_state_and_nonce(op):
    # given a client
    config = register(op, OKTA)
    # when two sign-ins start
    first, second = sign_in_start(config), sign_in_start(config)
    # then each URL asks for a code with PKCE S256, the exact redirect URI and its own state/nonce
    query = {k: v[0] for k, v in parse_qs(urlsplit(first.url).query).items()}
    assert first.url.startswith(discover(config.issuer).authorization_endpoint + "?")
    assert query["response_type"] == "code"
    assert query["scope"] == "openid profile email"
    assert query["redirect_uri"] == config.redirect_uri
    assert query["client_id"] == config.client_id
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] and query["code_challenge"] != first.pending.code_verifier
    assert (query["state"], query["nonce"]) == (first.pending.state, first.pending.nonce)
    assert len({first.pending.state, second.pending.state, first.pending.nonce}) == 3
    assert first.pending.code_verifier != second.pending.code_verifier


def test_provider_requires_pkce_from_the_client(op):
    # given an authorization request stripped of its PKCE challenge
    config = register(op, OKTA)
    request = sign_in_start(config)
    parts = urlsplit(request.url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    del query["code_challenge"], query["code_challenge_method"]
    stripped = parts._replace(query=requests.models.RequestEncodingMixin._encode_params(query))
    # when the browser follows it
    callback = op.sign_in(stripped.geturl(), account_id="00u3", claims=OKTA_PERSON)
    # then the provider refuses it, and the relying party reports the provider's error
    assert callback["error"] == "invalid_request"
    with pytest.raises(ProviderErrorResponse) as refused:
        sign_in_finish(config, pending=request.pending, callback_params=callback)
    assert refused.value.error == "invalid_request"


def test_code_exchange_without_the_verifier_fails(op):
    # given a code issued to a PKCE sign-in
    config = register(op, OKTA)
    request = sign_in_start(config)
    callback = op.sign_in(request.url, account_id="00u4", claims=OKTA_PERSON)
    # when someone holding the code (not the verifier) redeems it
    response = requests.post(
        discover(config.issuer).token_endpoint,
        data={
            "grant_type": "authorization_code",
            "code": callback["code"],
            "redirect_uri": config.redirect_uri,
        },
        auth=(config.client_id, config.client_secret),
        timeout=10,
    )
    # then the provider refuses
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_grant", "invalid_request")


def test_code_from_another_sign_in_is_refused_by_pkce(op):
    # given two sign-ins by the same client; an attacker injects the first's code into the second
    config = register(op, OKTA)
    victim, attacker = sign_in_start(config), sign_in_start(config)
    stolen = op.sign_in(attacker.url, account_id="00u-attacker", claims=OKTA_PERSON)
    # when the victim's callback carries its own state but the attacker's code
    with pytest.raises(ProviderErrorResponse) as refused:
        sign_in_finish(
            config,
            pending=victim.pending,
            callback_params={"code": stolen["code"], "state": victim.pending.state},
        )
    # then the code exchange fails: the victim's verifier does not match the code's challenge
    assert refused.value.error == "invalid_grant"


# --- State ------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["", "forged-state"])
def test_wrong_or_missing_state_is_refused(op, state):
    # given a completed sign-in at the provider
    config = register(op, OKTA)
    request = sign_in_start(config)
    callback = op.sign_in(request.url, account_id="00u5", claims=OKTA_PERSON)
    callback["state"] = state
    # when the callback's state is not the session's, then it is refused before any exchange
    with pytest.raises(StateMismatch):
        sign_in_finish(config, pending=request.pending, callback_params=callback)


def test_callback_without_a_pending_sign_in_is_refused(op):
    config = register(op, OKTA)
    request = sign_in_start(config)
    callback = op.sign_in(request.url, account_id="00u6", claims=OKTA_PERSON)
    with pytest.raises(StateMismatch):
        sign_in_finish(config, pending=None, callback_params=callback)


def test_provider_error_is_reported_only_with_the_right_state(op):
    # given the provider sends the user back with an error
    config = register(op, OKTA)
    request = sign_in_start(config)
    error = {"error": "access_denied", "error_description": "The user is not assigned to the app."}
    # when it carries the session's state, then the error is reported
    with pytest.raises(ProviderErrorResponse) as refused:
        sign_in_finish(
            config,
            pending=request.pending,
            callback_params={**error, "state": request.pending.state},
        )
    assert refused.value.error == "access_denied"
    # and when it carries no state it is a forgery
    with pytest.raises(StateMismatch):
        sign_in_finish(config, pending=request.pending, callback_params=error)


def test_callback_naming_another_issuer_is_refused(op):
    # given a response whose RFC 9207 "iss" names another issuer (a mix-up attack)
    config = register(op, OKTA)
    request = sign_in_start(config)
    callback = op.sign_in(request.url, account_id="00u7", claims=OKTA_PERSON)
    assert callback["iss"] == config.issuer
    callback["iss"] = op.issuer(ENTRA_A)
    # when it comes back, then it is refused
    with pytest.raises(ProviderErrorResponse) as refused:
        sign_in_finish(config, pending=request.pending, callback_params=callback)
    assert refused.value.error == "issuer_mismatch"


# --- The ID token ---------------------------------------------------------------------------


def test_token_from_another_sign_in_fails_the_nonce(op):
    # given an ID token from one sign-in, and a second sign-in started in the same browser
    config = register(op, OKTA)
    token, _ = raw_id_token(op, config, account_id="00u8", claims=OKTA_PERSON)
    second = sign_in_start(config)
    # when the first token is offered for the second sign-in
    with pytest.raises(InvalidIdToken) as refused:
        validate_id_token(config, token, nonce=second.pending.nonce)
    # then the nonce does not match
    assert refused.value.reason == InvalidTokenReason.NONCE


def test_token_issued_to_another_client_is_refused(op):
    # given two clients of the same provider
    ours, theirs = register(op, OKTA), register(op, OKTA)
    token, pending = raw_id_token(op, theirs, account_id="00u9", claims=OKTA_PERSON)
    # when the other client's token is offered to us, then its audience is wrong
    with pytest.raises(InvalidIdToken) as refused:
        validate_id_token(ours, token, nonce=pending.nonce)
    assert refused.value.reason == InvalidTokenReason.AUDIENCE


def test_several_audiences_need_our_client_as_authorized_party(op):
    # given tokens signed by the provider's key for two audiences
    config = register(op, OKTA)
    audiences = [config.client_id, "another-api"]
    without_azp = op.sign(claims_for(config, aud=audiences))
    other_azp = op.sign(claims_for(config, aud=audiences, azp="another-api"))
    our_azp = op.sign(claims_for(config, aud=audiences, azp=config.client_id))
    # then azp must be present and be our client id
    for token in (without_azp, other_azp):
        with pytest.raises(InvalidIdToken) as refused:
            validate_id_token(config, token, nonce="the-nonce")
        assert refused.value.reason == InvalidTokenReason.AUTHORIZED_PARTY
    assert validate_id_token(config, our_azp, nonce="the-nonce").subject == "00u1abcd2EFGH3ijk4l5"


def test_issuer_configured_with_a_trailing_difference_is_refused(op):
    # given an issuer configured with a trailing slash the provider does not use
    config = register(op, OKTA)
    sloppy = OidcClientConfig(**{**config.__dict__, "issuer": config.issuer + "/"})
    # when signing in starts, then discovery refuses the mismatch
    with pytest.raises(DiscoveryError, match="calls itself"):
        sign_in_start(sloppy)


def test_token_from_another_entra_tenant_is_refused(op):
    # given a multi-tenant app: the same client id in tenant B, whose issuer shares tenant A's keys
    ours = register(op, ENTRA_A)
    in_tenant_b = OidcClientConfig(**{**ours.__dict__, "issuer": op.issuer(ENTRA_B)})
    token, pending = raw_id_token(
        op, in_tenant_b, account_id="sub-b", claims={**ENTRA_PERSON, "tid": TENANT_B}
    )
    # when tenant B's token is offered to tenant A's configuration, then the issuer is wrong
    with pytest.raises(InvalidIdToken) as refused:
        validate_id_token(ours, token, nonce=pending.nonce)
    assert refused.value.reason == InvalidTokenReason.ISSUER


def test_entra_token_naming_another_tenant_is_refused(op):
    # given tenant A's issuer puts another tenant's id in tid
    config = register(op, ENTRA_A)
    request = sign_in_start(config)
    callback = op.sign_in(request.url, account_id="sub-x", claims={**ENTRA_PERSON, "tid": TENANT_B})
    # when the sign-in finishes, then the tenant check refuses it
    with pytest.raises(InvalidIdToken) as refused:
        sign_in_finish(config, pending=request.pending, callback_params=callback)
    assert refused.value.reason == InvalidTokenReason.TENANT


def test_expired_token_is_refused(op, settings):
    # given a sign-in completed at the provider
    config = register(op, OKTA)
    request = sign_in_start(config)
    callback = op.sign_in(request.url, account_id="00u10", claims=OKTA_PERSON)
    # when the relying party's clock is past exp (300 s) plus the skew
    later = time.time() + 300 + settings.SSO_CLOCK_SKEW_SECONDS + 5
    with time_machine.travel(later), pytest.raises(InvalidIdToken) as refused:
        sign_in_finish(config, pending=request.pending, callback_params=callback)
    # then it is refused as expired
    assert refused.value.reason == InvalidTokenReason.EXPIRED


def test_token_within_the_clock_skew_is_accepted_and_beyond_it_refused(op, settings):
    config = register(op, OKTA)
    skew = settings.SSO_CLOCK_SKEW_SECONDS
    # an iat slightly ahead of our clock is tolerated
    ahead = op.sign(claims_for(config, iat=int(time.time()) + skew - 10))
    assert validate_id_token(config, ahead, nonce="the-nonce").issuer == config.issuer
    # one beyond the skew is refused
    future = op.sign(claims_for(config, iat=int(time.time()) + skew + 30))
    with pytest.raises(InvalidIdToken) as refused:
        validate_id_token(config, future, nonce="the-nonce")
    assert refused.value.reason == InvalidTokenReason.ISSUED_IN_FUTURE


def test_token_without_nonce_or_subject_is_refused(op):
    config = register(op, OKTA)
    claims = claims_for(config)
    del claims["nonce"]
    with pytest.raises(InvalidIdToken) as refused:
        validate_id_token(config, op.sign(claims), nonce="the-nonce")
    assert refused.value.reason == InvalidTokenReason.NONCE
    claims = claims_for(config)
    del claims["sub"]
    with pytest.raises(InvalidIdToken) as refused:
        validate_id_token(config, op.sign(claims), nonce="the-nonce")
    assert refused.value.reason == InvalidTokenReason.CLAIMS


# --- Signatures and keys ------------------------------------------------------------------


def test_key_rotation_refreshes_the_key_set_once(op, settings):
    # given a first sign-in that cached the provider's keys
    config = register(op, OKTA)
    request = sign_in_start(config)
    callback = op.sign_in(request.url, account_id="00u11", claims=OKTA_PERSON)
    before = op.jwks_fetches(OKTA)
    sign_in_finish(config, pending=request.pending, callback_params=callback)
    assert op.jwks_fetches(OKTA) == before + 1
    # when the provider rotates its keys and, a little later, someone signs in again
    op.rotate_keys()
    with time_machine.travel(time.time() + settings.SSO_JWKS_MIN_REFRESH_SECONDS + 1):
        request = sign_in_start(config)
        callback = op.sign_in(request.url, account_id="00u11", claims=OKTA_PERSON)
        identity = sign_in_finish(config, pending=request.pending, callback_params=callback)
        # then the sign-in succeeds after exactly one more fetch of the key set
        assert identity.subject == "00u11"
        assert op.jwks_fetches(OKTA) == before + 2
        # and the next sign-in uses the cache again
        request = sign_in_start(config)
        callback = op.sign_in(request.url, account_id="00u11", claims=OKTA_PERSON)
        sign_in_finish(config, pending=request.pending, callback_params=callback)
        assert op.jwks_fetches(OKTA) == before + 2


def test_unknown_key_still_unknown_after_one_refresh_is_refused(op, settings):
    # given the relying party cached the provider's keys a while ago
    config = register(op, OKTA)
    validate_id_token(config, op.sign(claims_for(config)), nonce="the-nonce")
    fetched = op.jwks_fetches(OKTA)
    forged = op.sign(claims_for(config), key=new_signing_key())
    with time_machine.travel(time.time() + settings.SSO_JWKS_MIN_REFRESH_SECONDS + 1):
        # when a token names a key the provider never published
        with pytest.raises(InvalidIdToken) as refused:
            validate_id_token(config, forged, nonce="the-nonce")
        # then it is refused after one refresh of the key set
        assert refused.value.reason == InvalidTokenReason.UNKNOWN_KEY
        assert op.jwks_fetches(OKTA) == fetched + 1
        # and more made-up keys right after cause no further fetch
        with pytest.raises(InvalidIdToken):
            validate_id_token(config, forged, nonce="the-nonce")
        assert op.jwks_fetches(OKTA) == fetched + 1


def test_token_with_the_providers_kid_but_another_key_is_refused(op):
    # given an attacker's key presented under the provider's key id
    config = register(op, OKTA)
    impostor = RSAKey.generate_key(2048, parameters={"kid": op.keys[0].kid})
    forged = op.sign(claims_for(config), key=impostor)
    # then the signature does not verify
    with pytest.raises(InvalidIdToken) as refused:
        validate_id_token(config, forged, nonce="the-nonce")
    assert refused.value.reason == InvalidTokenReason.SIGNATURE


def test_unsigned_and_hmac_tokens_are_refused(op):
    config = register(op, OKTA)
    claims = claims_for(config)
    # alg "none": header and payload, empty signature
    header_payload = op.sign(claims).rsplit(".", 1)[0].split(".")[1]
    unsigned = "eyJhbGciOiJub25lIn0." + header_payload + "."
    # HS256 keyed with the client secret: the provider's metadata offers only public-key algorithms
    hmac_token = jws.serialize_compact(
        {"alg": "HS256", "kid": op.keys[0].kid},
        op.sign(claims).split(".")[1].encode(),
        OctKey.import_key(config.client_secret),
    )
    for token in (unsigned, hmac_token):
        with pytest.raises(InvalidIdToken) as refused:
            validate_id_token(config, token, nonce="the-nonce")
        assert refused.value.reason in (InvalidTokenReason.ALGORITHM, InvalidTokenReason.MALFORMED)


# --- Issuers and discovery -------------------------------------------------------------------


@pytest.mark.parametrize(
    "issuer", ["http://login.example.com/oauth2/default", "http://10.0.0.5/tenant/v2.0", "ftp://x"]
)
def test_http_issuer_off_loopback_is_refused_without_a_request(issuer):
    with pytest.raises(InsecureIssuer):
        discover(issuer)


def test_http_loopback_issuer_is_refused_unless_allowed(op, settings):
    # given the setting is off, as in production
    settings.SSO_ALLOW_INSECURE_LOOPBACK_ISSUER = False
    # then even the loopback provider is refused
    with pytest.raises(InsecureIssuer):
        discover(op.issuer(OKTA))


def test_unreachable_provider_is_reported():
    with pytest.raises(ProviderUnreachable):
        discover("http://127.0.0.1:9/oauth2/default")


def test_entra_issuer_from_the_directory_id():
    assert entra_issuer(" 6F1B2C4D-8E9F-4A0B-9C1D-2E3F4A5B6C7D ") == (
        "https://login.microsoftonline.com/6f1b2c4d-8e9f-4a0b-9c1d-2e3f4a5b6c7d/v2.0"
    )
    config = entra_client_config(
        tenant_id=TENANT_A, client_id="app", client_secret="s", redirect_uri="https://a/cb/"
    )
    assert config.issuer == f"https://login.microsoftonline.com/{TENANT_A}/v2.0"
    assert config.entra_tenant_id == TENANT_A
    for not_a_tenant in ("common", "contoso.onmicrosoft.com", ""):
        with pytest.raises(ValueError, match="GUID"):
            entra_issuer(not_a_tenant)
