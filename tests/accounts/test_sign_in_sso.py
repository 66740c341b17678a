"""The sign-in page's email step: routing by verified domain to an organization's single sign-on,
the password fallback, the "Use single sign-on" short-name step, and no account enumeration."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils import timezone

from accounts.twofactor import seal_secret
from integrations.models import EmailDomain, SsoConnection
from tests.factories import DEFAULT_PASSWORD, ActiveMemberFactory, OrganizationFactory, OwnerFactory

pytestmark = pytest.mark.django_db


def sso(organization, *, policy: str, provider: str = "entra-id") -> SsoConnection:
    return SsoConnection.objects.create(
        organization=organization,
        provider=provider,
        issuer="https://login.microsoftonline.com/tenant/v2.0",
        client_id="client",
        client_secret_sealed=seal_secret(b"secret"),
        policy=policy,
    )


def domain(organization, name: str, *, verified: bool = True) -> EmailDomain:
    return EmailDomain.objects.create(
        organization=organization,
        domain=name,
        token="t" * 32,
        added_by_label="Owner",
        state=EmailDomain.State.VERIFIED if verified else EmailDomain.State.PENDING,
        verified_at=timezone.now() if verified else None,
    )


def email_step(client: Client, email: str, **extra: str):
    return client.post("/login/", {"step": "email", "username": email, **extra})


def without_csrf(html: bytes) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html.decode())


# --- the first step -------------------------------------------------------------------------------


def assert_continues_to(response, url: str) -> None:
    """A page that sends the browser on at once (not a redirect: CSP form-action, see
    accounts.sso_views.continue_page), with the link as a fallback."""
    assert response.status_code == 200
    assert response["Refresh"] == f"0;url={url}"
    assert f'href="{url}" data-testid="sso-continue-now"' in response.content.decode()


def test_the_page_starts_with_the_email_address_alone():
    html = Client().get("/login/").content.decode()
    assert 'name="username"' in html and 'name="password"' not in html
    assert "Continue" in html and "Use single sign-on" in html and "Forgot your password?" in html


def test_an_unrouted_domain_goes_on_to_the_password_step():
    # given
    OwnerFactory(email="olga@contoso.com")
    # when
    response = email_step(Client(), "olga@contoso.com")
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="password"' in html and 'value="olga@contoso.com"' in html
    assert 'data-testid="sso-continue"' not in html and "Use single sign-on" in html


def test_a_verified_domain_with_sso_optional_offers_continue_with_microsoft():
    # given
    org = OrganizationFactory(name="Contoso", slug="contoso")
    domain(org, "contoso.com")
    sso(org, policy="optional")
    # when
    response = email_step(Client(), "ann@contoso.com")
    # then: both ways, side by side
    html = response.content.decode()
    assert response.status_code == 200 and 'name="password"' in html
    assert re.search(
        r'href="/sso/contoso/" data-testid="sso-continue">Continue with Microsoft</a>', html
    )


@pytest.mark.parametrize(
    ("provider", "words"),
    [("okta", "Continue with Okta"), ("scim", "Continue with single sign-on")],
)
def test_the_button_names_the_provider(provider, words):
    org = OrganizationFactory(slug="initech")
    domain(org, "initech.com")
    sso(org, policy="optional", provider=provider)
    assert words in email_step(Client(), "bob@initech.com").content.decode()


def test_a_verified_domain_with_sso_required_sends_the_person_to_it_with_a_password_fallback():
    # given
    org = OrganizationFactory(name="Contoso", slug="contoso")
    domain(org, "contoso.com")
    sso(org, policy="required")
    client = Client()
    # when
    response = email_step(client, "Ann@Contoso.com")
    # then: straight to the organization's sign-in address
    assert_continues_to(response, "/sso/contoso/")
    # and back on the sign-in page, the password is one link away
    back = client.get("/login/").content.decode()
    assert "Contoso</strong> signs in" in back and "Microsoft Entra ID" in back
    assert 'href="/sso/contoso/" data-testid="sso-continue"' in back
    assert 'href="/login/?step=password">Sign in with a password instead' in back
    password_step = client.get("/login/?step=password").content.decode()
    assert 'name="password"' in password_step and 'value="Ann@Contoso.com"' in password_step
    # and "Use a different email" starts over
    assert 'name="password"' not in client.get("/login/?step=email").content.decode()
    assert 'name="password"' not in client.get("/login/").content.decode()


def test_the_owner_of_a_required_organization_signs_in_with_the_password_fallback():
    # given
    owner = OwnerFactory(email="olga@contoso.com", organization__slug="contoso")
    domain(owner.organization, "contoso.com")
    sso(owner.organization, policy="required")
    client = Client()
    assert_continues_to(email_step(client, "olga@contoso.com"), "/sso/contoso/")
    # when
    response = client.post(
        "/login/",
        {"step": "password", "username": "olga@contoso.com", "password": DEFAULT_PASSWORD},
    )
    # then
    assert response.status_code == 302 and response.url == "/"
    assert client.get("/account/").status_code == 200


@pytest.mark.parametrize("state", ["pending", "sso-off", "no-connection"])
def test_a_pending_domain_or_sso_off_routes_nowhere(state):
    # given
    org = OrganizationFactory(slug="contoso")
    domain(org, "contoso.com", verified=state != "pending")
    if state != "no-connection":
        sso(org, policy="off" if state == "sso-off" else "required")
    # when
    response = email_step(Client(), "ann@contoso.com")
    # then: the password step, not on to single sign-on
    assert response.status_code == 200 and "Refresh" not in response
    assert 'data-testid="sso-continue' not in response.content.decode()


def test_another_organizations_verified_domain_never_routes_to_this_one():
    # given: Contoso claims fabrikam.com but Fabrikam verified it; only Contoso has SSO
    contoso = OrganizationFactory(slug="contoso")
    fabrikam = OrganizationFactory(slug="fabrikam")
    domain(contoso, "fabrikam.com", verified=False)
    domain(fabrikam, "fabrikam.com")
    domain(contoso, "contoso.com")
    sso(contoso, policy="required")
    # when
    response = email_step(Client(), "eve@fabrikam.com")
    # then
    assert response.status_code == 200 and "/sso/contoso/" not in response.content.decode()
    assert_continues_to(email_step(Client(), "eve@contoso.com"), "/sso/contoso/")


def test_a_subdomain_is_not_its_parent_domain():
    org = OrganizationFactory(slug="contoso")
    domain(org, "contoso.com")
    sso(org, policy="required")
    response = email_step(Client(), "ann@eu.contoso.com")
    assert response.status_code == 200 and "Refresh" not in response
    assert "/sso/contoso/" not in response.content.decode()


def test_an_invalid_address_is_asked_again():
    response = email_step(Client(), "not-an-address")
    html = response.content.decode()
    assert response.status_code == 200 and "Enter a valid email address" in html
    assert 'name="password"' not in html


def test_next_is_kept_through_the_email_step():
    OwnerFactory(email="olga@contoso.com")
    client = Client()
    html = email_step(client, "olga@contoso.com", next="/users/").content.decode()
    assert 'name="next" value="/users/"' in html
    response = client.post(
        "/login/", {"username": "olga@contoso.com", "password": DEFAULT_PASSWORD, "next": "/users/"}
    )
    assert response.url == "/users/"


# --- no account enumeration ----------------------------------------------------------------------


@pytest.mark.parametrize("routed", ["optional", "required", None])
def test_a_known_and_an_unknown_address_of_a_domain_get_identical_pages(routed):
    # given: ann has an account, zed does not, same domain
    org = OrganizationFactory(name="Contoso", slug="contoso")
    ActiveMemberFactory(organization=org, email="ann@contoso.com")
    if routed:
        domain(org, "contoso.com")
        sso(org, policy=routed)
    known, unknown = Client(), Client()
    # when
    first = email_step(known, "ann@contoso.com")
    second = email_step(unknown, "zed@contoso.com")
    # then: the same response, apart from the address itself and the CSRF token
    assert first.status_code == second.status_code
    assert first.get("Location") == second.get("Location")
    assert without_csrf(first.content).replace("ann@", "X@") == without_csrf(
        second.content
    ).replace("zed@", "X@")
    after_first = known.get("/login/").content
    after_second = unknown.get("/login/").content
    assert without_csrf(after_first).replace("ann@", "X@") == without_csrf(after_second).replace(
        "zed@", "X@"
    )


# --- "Use single sign-on": the organization's short name ----------------------------------------


def test_the_short_name_step_goes_to_the_organizations_sign_in_address():
    # given
    org = OrganizationFactory(slug="contoso")
    sso(org, policy="optional")
    client = Client()
    assert "short name" in client.get("/login/?step=sso").content.decode()
    # when
    response = client.post("/login/", {"step": "sso", "organization": " Contoso "})
    # then
    assert_continues_to(response, "/sso/contoso/")


def test_an_unknown_short_name_and_one_without_sso_get_the_same_clear_message():
    # given
    org = OrganizationFactory(slug="acme")
    sso(org, policy="off")
    # when
    no_sso = Client().post("/login/", {"step": "sso", "organization": "acme"})
    unknown = Client().post("/login/", {"step": "sso", "organization": "nobody-has-this"})
    # then
    assert no_sso.status_code == unknown.status_code == 200
    assert "No organization with that short name signs in with single sign-on" in without_csrf(
        no_sso.content
    )
    assert without_csrf(no_sso.content).replace("acme", "X") == without_csrf(
        unknown.content
    ).replace("nobody-has-this", "X")


# --- a password that opens nothing ----------------------------------------------------------------


def test_a_password_sign_in_where_every_organization_requires_sso_says_where_to_go():
    # given: a member (not an owner) of one organization that requires Microsoft sign-in
    member = ActiveMemberFactory(
        email="pat@contoso.com", organization__name="Contoso", organization__slug="contoso"
    )
    sso(member.organization, policy="required")
    client = Client()
    # when
    response = client.post("/login/", {"username": "pat@contoso.com", "password": DEFAULT_PASSWORD})
    # then: no session, a clear message and the way in
    html = response.content.decode()
    assert response.status_code == 200
    assert "Contoso signs you in through Microsoft Entra ID: use Continue with Microsoft." in html
    assert 'href="/sso/contoso/" data-testid="sso-continue">Continue with Microsoft' in html
    assert "_auth_user_id" not in client.session


def test_a_wrong_password_for_an_sso_only_person_says_only_that_it_is_wrong():
    member = ActiveMemberFactory(email="pat@contoso.com", organization__name="Contoso")
    sso(member.organization, policy="required")
    response = Client().post("/login/", {"username": "pat@contoso.com", "password": "wrong"})
    html = response.content.decode()
    assert "do not match" in html and "Microsoft" not in html


def test_a_session_closed_by_a_later_required_policy_says_why():
    # given: signed in with a password while SSO was optional
    member = ActiveMemberFactory(email="pat@contoso.com", organization__name="Contoso")
    connection = sso(member.organization, policy="optional")
    client = Client()
    client.post("/login/", {"username": "pat@contoso.com", "password": DEFAULT_PASSWORD})
    assert client.get("/account/").status_code == 200
    # when
    SsoConnection.objects.filter(pk=connection.pk).update(policy="required")
    response = client.get("/account/", follow=True)
    # then
    assert (
        "Contoso signs you in through Microsoft Entra ID: use Continue with Microsoft."
        in response.content.decode()
    )
