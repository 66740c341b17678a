"""Client addresses behind a load balancer: TRUSTED_PROXIES and X-Forwarded-For.

The sign-in tests go over real HTTP to pytest-django's live server, whose peer address is this
test process on loopback: with TRUSTED_PROXIES empty it is an ordinary client, and with loopback
trusted it plays the balancer (as HAProxy on 127.0.0.1 does in `make cluster`).
"""

from __future__ import annotations

import re

import pytest
import requests
from django.test import Client

from accounts.audit import Actor
from accounts.models import Member
from integrations import services
from integrations.models import ScimRequest, ScimToken
from tests.factories import DEFAULT_PASSWORD, OrganizationFactory, OwnerFactory

LOOPBACK = ["127.0.0.0/8", "::1"]


def sign_in(server_url: str, email: str, password: str, *, forwarded_for: str = "") -> str:
    """One sign-in attempt as a browser makes it (form page, then the post); 'signed-in',
    'wrong-password' or 'throttled'."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    with requests.Session() as browser:
        page = browser.get(f"{server_url}/login/", headers=headers, timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, page.text
        response = browser.post(
            f"{server_url}/login/",
            data={"csrfmiddlewaretoken": token.group(1), "username": email, "password": password},
            headers={**headers, "Referer": f"{server_url}/login/"},
            allow_redirects=False,
            timeout=10,
        )
    if response.status_code == 302:
        return "signed-in"
    assert response.status_code == 200, response.status_code
    if "Too many failed sign-in attempts" in response.text:
        return "throttled"
    assert "do not match" in response.text, response.text
    return "wrong-password"


@pytest.fixture
def account(transactional_db, settings) -> Member:
    settings.SIGNIN_FAILURE_LIMIT = 3
    return OwnerFactory(email="target@contoso.com")


def test_a_forwarded_for_header_from_an_untrusted_peer_is_ignored(live_server, account, settings):
    # given: nobody trusted (the default), and a client that invents a new address every attempt
    settings.TRUSTED_PROXIES = []
    # when
    outcomes = [
        sign_in(live_server.url, account.email, "guess", forwarded_for=f"198.51.100.{attempt}")
        for attempt in range(1, 4)
    ]
    fourth = sign_in(live_server.url, account.email, DEFAULT_PASSWORD, forwarded_for="198.51.100.4")
    # then: all attempts counted against the one real peer
    assert outcomes == ["wrong-password"] * 3
    assert fourth == "throttled"


def test_through_a_trusted_proxy_the_sign_in_throttle_counts_each_real_client(
    live_server, account, settings
):
    # given: this process is the balancer, relaying two clients
    settings.TRUSTED_PROXIES = LOOPBACK
    first, second = "203.0.113.10", "203.0.113.20"
    # when: the first client fails until throttled
    outcomes = [
        sign_in(live_server.url, account.email, "guess", forwarded_for=first) for _ in range(3)
    ]
    # then: the first client is throttled, even when it forges an address on the left (the
    # balancer appends the real one on the right)
    assert outcomes == ["wrong-password"] * 3
    assert sign_in(live_server.url, account.email, DEFAULT_PASSWORD, forwarded_for=first) == (
        "throttled"
    )
    forged = f"198.51.100.99, {first}"
    assert sign_in(live_server.url, account.email, DEFAULT_PASSWORD, forwarded_for=forged) == (
        "throttled"
    )
    # and the second client, behind the same balancer, is not
    assert sign_in(live_server.url, account.email, DEFAULT_PASSWORD, forwarded_for=second) == (
        "signed-in"
    )


@pytest.mark.django_db
def test_the_provisioning_log_and_the_token_record_the_client_behind_the_balancer(settings):
    # given: a balancer at 10.0.0.2 relaying an identity provider at 203.0.113.7, behind a second
    # trusted hop (a CDN at 10.0.1.9)
    settings.TRUSTED_PROXIES = ["10.0.0.0/24", "10.0.1.9"]
    organization = OrganizationFactory()
    issued = services.scim_token_issue(organization=organization, actor=Actor.system("tests"))
    # when
    response = Client(REMOTE_ADDR="10.0.0.2").get(
        f"/scim/v2/{organization.tenant_id}/Users",
        HTTP_AUTHORIZATION=f"Bearer {issued.secret}",
        HTTP_X_FORWARDED_FOR="192.0.2.1, not-an-address, 203.0.113.7, 10.0.1.9",
    )
    # then
    assert response.status_code == 200
    assert ScimRequest.objects.get(organization=organization).remote_ip == "203.0.113.7"
    assert ScimToken.objects.get(organization=organization).last_used_ip == "203.0.113.7"


@pytest.mark.django_db
def test_an_untrusted_peer_is_recorded_as_itself(settings):
    # given: a trusted balancer exists, but this request comes straight from somewhere else
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    organization = OrganizationFactory()
    # when: a wrong token with a forged header
    response = Client(REMOTE_ADDR="198.51.100.40").get(
        f"/scim/v2/{organization.tenant_id}/Users",
        HTTP_AUTHORIZATION="Bearer wrong",
        HTTP_X_FORWARDED_FOR="10.0.0.7",
    )
    # then
    assert response.status_code == 401
    assert ScimRequest.objects.get(organization=organization).remote_ip == "198.51.100.40"


@pytest.mark.django_db
def test_forwarded_addresses_with_ports_brackets_or_ipv4_mapped_form_are_read(settings):
    # given: proxies that write the address in the other usual spellings
    settings.TRUSTED_PROXIES = ["10.0.0.2", "2001:db8::5"]
    organization = OrganizationFactory()
    issued = services.scim_token_issue(organization=organization, actor=Actor.system("tests"))
    url = f"/scim/v2/{organization.tenant_id}/Users"
    header = f"Bearer {issued.secret}"
    cases = {
        "203.0.113.7:51234": "203.0.113.7",
        "[2001:db8::9]:443": "2001:db8::9",
        "::ffff:203.0.113.8, [2001:db8::5]": "203.0.113.8",
    }
    for forwarded, expected in cases.items():
        # when
        Client(REMOTE_ADDR="10.0.0.2").get(
            url, HTTP_AUTHORIZATION=header, HTTP_X_FORWARDED_FOR=forwarded
        )
        # then
        latest = ScimRequest.objects.filter(organization=organization).latest("id")
        assert latest.remote_ip == expected, forwarded


@pytest.mark.django_db
def test_a_request_without_a_forwarded_address_keeps_the_proxy_address(settings):
    # given: a health check from the balancer itself carries no X-Forwarded-For
    settings.TRUSTED_PROXIES = ["10.0.0.2"]
    organization = OrganizationFactory()
    # when
    Client(REMOTE_ADDR="10.0.0.2").get(
        f"/scim/v2/{organization.tenant_id}/Users", HTTP_AUTHORIZATION="Bearer wrong"
    )
    # then
    assert ScimRequest.objects.get(organization=organization).remote_ip == "10.0.0.2"


@pytest.mark.django_db
def test_a_header_naming_only_trusted_addresses_keeps_the_proxy_address(settings):
    # given: a client that writes a trusted proxy's address into X-Forwarded-For itself, to be
    # taken for that proxy (METRICS_ALLOWED_IPS, a throttle bucket of its choosing)
    settings.TRUSTED_PROXIES = ["10.0.0.2", "10.0.0.9"]
    organization = OrganizationFactory()
    # when the balancer relays it with the client's own address missing (it appended nothing)
    Client(REMOTE_ADDR="10.0.0.2").get(
        f"/scim/v2/{organization.tenant_id}/Users",
        HTTP_AUTHORIZATION="Bearer wrong",
        HTTP_X_FORWARDED_FOR="10.0.0.9",
    )
    # then the request is the balancer's, never the address the header chose
    assert ScimRequest.objects.get(organization=organization).remote_ip == "10.0.0.2"
