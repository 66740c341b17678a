"""Single sign-on end to end in Chromium, against the real OpenID Provider on loopback
(tests/sso/provider.py): an owner connects Okta from the Integrations page, tests it, requires it
and signs out; a person the identity provider provisioned then signs in through it.

Only the provider's interaction (its login screen) is answered from the browser's own request
context, as the other SSO tests answer it; every other step is a real browser redirect between the
panel and the provider.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from accounts import twofactor as tf
from accounts.models import AuditLogEntry, Member
from accounts.services import twofactor as twofactor_services
from integrations.models import EmailDomain, SsoConnection, SsoLink
from tests.browser.conftest import screenshot
from tests.factories import DEFAULT_PASSWORD, MemberFactory, OwnerFactory
from tests.sso.conftest import OKTA
from tests.sso.provider import TestProvider

pytestmark = [pytest.mark.browser, pytest.mark.sso, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def op() -> Iterator[TestProvider]:
    provider = TestProvider([OKTA]).start()
    yield provider
    provider.stop()


def enroll_two_factor(owner: Member) -> bytes:
    """Two-factor sign-in set up a few steps ago, so the sign-in's code is a later one."""
    assert owner.user is not None
    with time_machine.travel(timezone.now() - timedelta(seconds=90), tick=False):
        key = twofactor_services.two_factor_enrollment_start(user=owner.user)
        twofactor_services.two_factor_enrollment_confirm(
            user=owner.user, code=tf.totp(key, timezone.now().timestamp()), client="test"
        )
    return key


def sign_in_with_code(page, email: str, key: bytes, *, steps_ahead: int = 0) -> None:
    page.goto("/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Enter your code").wait_for()
    code = tf.totp(key, time.time() + 30 * steps_ahead)
    page.get_by_label("Authentication code").fill(code)
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("button", name="Sign out").wait_for()


def sign_in_at_the_provider(page, op: TestProvider, *, account_id: str, claims: dict[str, Any]):
    """The provider's login screen, answered from the browser's context (its cookies), then the
    browser follows the provider's redirect back to the panel."""
    page.wait_for_url(f"{op.base_url}/**/interaction/**")
    response = page.request.post(
        page.url.rstrip("/") + "/login",
        data={"account_id": account_id, "claims": claims},
        max_redirects=0,
    )
    assert response.status in (302, 303), response.text()
    location = response.headers["location"]
    page.goto(location if location.startswith("http") else op.base_url + location)


def test_an_owner_connects_okta_tests_and_requires_it_and_a_provisioned_person_signs_in(
    page, browser, op, live_server, settings
):
    # given: an owner with two-factor sign-in, and a person Okta provisioned but who never came
    settings.SITE_URL = live_server.url
    settings.SSO_ALLOW_INSECURE_LOOPBACK_ISSUER = True
    owner = OwnerFactory(
        organization__name="Acme Corp", organization__slug="acme", email="it-admin@acme-it.test"
    )
    organization = owner.organization
    key = enroll_two_factor(owner)
    person = MemberFactory(
        organization=organization,
        email="ada@acme.test",
        user_name="Ada.Lovelace@Acme.test",
        full_name="Ada Lovelace",
        source=Member.Source.IDENTITY_PROVIDER,
        status=Member.Status.INVITED,
    )
    okta_user = {
        "preferred_username": "ada.lovelace@acme.test",
        "email": "ada@acme.test",
        "email_verified": True,
        "name": "Ada Lovelace",
    }

    # when: the owner opens Integrations → Okta and registers the app with the card's redirect URI
    sign_in_with_code(page, "it-admin@acme-it.test", key)
    page.get_by_role("navigation").get_by_role("link", name="Integrations").click()
    page.get_by_role("heading", name="Integrations", level=1).wait_for()
    page.get_by_role("link", name="Okta").first.click()
    page.get_by_test_id("sso-card").wait_for()
    assert page.get_by_test_id("sso-state").inner_text() == "Not set up"
    redirect_uri = page.get_by_test_id("sso-redirect-uri").inner_text().strip()
    assert redirect_uri == f"{live_server.url}/sso/callback/"
    client_id, client_secret = f"0oa{secrets.token_hex(6)}", secrets.token_urlsafe(32)
    op.register_client(client_id=client_id, client_secret=client_secret, redirect_uri=redirect_uri)
    page.get_by_test_id("sso-issuer").fill(op.issuer(OKTA))
    page.get_by_test_id("sso-client-id").fill(client_id)
    page.get_by_test_id("sso-client-secret").fill(client_secret)
    page.get_by_test_id("sso-secret-expires").fill("2099-01-31")
    page.get_by_test_id("sso-save").click()
    page.get_by_test_id("sso-summary").wait_for()
    # then: the card shows the set-up, off until a policy is chosen
    assert page.get_by_test_id("sso-state").inner_text() == "Set up, off"
    assert page.get_by_test_id("sso-summary-issuer").inner_text() == op.issuer(OKTA)
    assert client_secret not in page.content()
    page.get_by_test_id("sso-card").scroll_into_view_if_needed()
    screenshot(page, "sso-journey-1-configured")

    # when: the owner tests it, signing in at Okta as the provisioned person
    page.get_by_test_id("sso-test").click()
    sign_in_at_the_provider(page, op, account_id="00u-ada", claims=okta_user)
    # then: the result page shows the claims and the member they match
    page.get_by_role("heading", name="Single sign-on works").wait_for()
    assert page.url.startswith(f"{live_server.url}/sso/callback/")
    match = page.get_by_test_id("sso-test-match").inner_text()
    assert "Ada Lovelace" in match and "Ada.Lovelace@Acme.test" in match and "invited" in match
    claims = page.get_by_test_id("sso-test-claims").inner_text()
    assert op.issuer(OKTA) in claims and "ada.lovelace@acme.test" in claims and "00u-ada" in claims
    screenshot(page, "sso-journey-2-test-result")
    assert not SsoLink.objects.exists()

    # when: back on the card, optional, then required (tested, and the owner has two-factor)
    page.get_by_role("link", name="Integrations").first.click()
    page.get_by_role("link", name="Okta").first.click()
    assert "by it-admin@acme-it.test" in page.get_by_test_id("sso-tested").inner_text() or (
        "ago" in page.get_by_test_id("sso-tested").inner_text()
    )
    page.get_by_label("Optional", exact=False).check()
    page.get_by_role("button", name="Save policy").click()
    page.get_by_test_id("sso-state").filter(has_text="On, optional").wait_for()
    page.get_by_label("Required", exact=False).check()
    page.get_by_role("button", name="Save policy").click()
    page.get_by_test_id("sso-state").filter(has_text="On, required").wait_for()
    assert SsoConnection.objects.get(organization=organization).policy == "required"
    screenshot(page, "sso-journey-3-required")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="You are signed out").wait_for()

    # when: the provisioned person, in their own browser, starts at the sign-in page with their
    # address on the organization's verified domain (SSO required: on to Okta, no password), and
    # signs in at Okta with their userName in another letter case
    EmailDomain.objects.create(
        organization=organization,
        domain="acme.test",
        token="t" * 32,
        state=EmailDomain.State.VERIFIED,
        verified_at=timezone.now(),
        added_by_label="it-admin@acme-it.test",
    )
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 860})
    violations: list[str] = []
    context.on("console", lambda message: violations.append(message.text))
    theirs = context.new_page()
    theirs.set_default_timeout(15_000)
    theirs.goto("/login/")
    theirs.get_by_label("Email").fill("ada@acme.test")
    theirs.get_by_role("button", name="Continue").click()
    sign_in_at_the_provider(theirs, op, account_id="00u-ada", claims=okta_user)
    # then: they are in the panel, registered, without a password of their own here
    theirs.get_by_role("button", name="Sign out").wait_for()
    assert theirs.url.startswith(live_server.url)
    screenshot(theirs, "sso-journey-4-signed-in")
    person.refresh_from_db()
    assert person.status == Member.Status.ACTIVE and person.user is not None
    assert not person.user.has_usable_password()
    assert SsoLink.objects.get(member=person).link_key == "00u-ada"
    theirs.goto("/account/")
    theirs.get_by_role("heading", level=1).wait_for()
    assert "ada@acme.test" in theirs.content()
    assert "You have no password here" in theirs.get_by_test_id("no-password").inner_text()
    screenshot(theirs, "sso-journey-5-account")
    context.close()
    assert not [text for text in violations if "Content Security Policy" in text], violations

    # and: the owner's audit log shows the single sign-on
    entry = AuditLogEntry.objects.filter(organization=organization, action="sso.sign_in").get()
    assert entry.after is not None and entry.after.get("registered") is True
    sign_in_with_code(page, "it-admin@acme-it.test", key, steps_ahead=1)
    page.goto("/activity/")
    table = page.get_by_test_id("audit-table").inner_text()
    screenshot(page, "sso-journey-6-audit-log")
    assert "Signed in with single sign-on\tAda.Lovelace@Acme.test" in table
    assert "Single sign-on linked to\tAda.Lovelace@Acme.test" in table
