"""The two-step sign-in in Chromium: the email first, then single sign-on or the password."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.twofactor import seal_secret
from integrations.models import EmailDomain, SsoConnection
from tests.browser.conftest import screenshot
from tests.factories import DEFAULT_PASSWORD, OwnerFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def contoso_with_sso(policy: str):
    owner = OwnerFactory(
        email="olga@contoso.com", organization__name="Contoso", organization__slug="contoso"
    )
    EmailDomain.objects.create(
        organization=owner.organization,
        domain="contoso.com",
        token="t" * 32,
        added_by_label="Olga",
        state=EmailDomain.State.VERIFIED,
        verified_at=timezone.now(),
    )
    SsoConnection.objects.create(
        organization=owner.organization,
        provider="entra-id",
        issuer="https://login.microsoftonline.com/tenant/v2.0",
        client_id="client",
        client_secret_sealed=seal_secret(b"secret"),
        policy=policy,
    )
    return owner


def test_an_optional_domain_offers_microsoft_next_to_the_password(page):
    # given
    contoso_with_sso("optional")
    # when
    page.goto("/login/")
    screenshot(page, "sign-in-sso-email")
    page.get_by_label("Email").fill("olga@contoso.com")
    page.get_by_role("button", name="Continue").click()
    # then
    continue_button = page.get_by_test_id("sso-continue")
    assert continue_button.inner_text() == "Continue with Microsoft"
    assert continue_button.get_attribute("href") == "/sso/contoso/"
    screenshot(page, "sign-in-sso-optional")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Contoso").wait_for()


def test_a_required_domain_sends_the_person_on_and_the_owner_back_to_a_password(page):
    # given
    contoso_with_sso("required")
    # when: the email step goes straight to the organization's sign-in address
    page.goto("/login/")
    page.get_by_label("Email").fill("olga@contoso.com")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/sso/contoso/")
    # then: back on the sign-in page, the owner chooses the password instead
    page.goto("/login/")
    assert page.get_by_test_id("sso-continue").inner_text() == "Continue with Microsoft"
    screenshot(page, "sign-in-sso-required")
    page.get_by_role("link", name="Sign in with a password instead").click()
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Contoso").wait_for()


def test_use_single_sign_on_asks_for_the_short_name(page):
    contoso_with_sso("optional")
    page.goto("/login/")
    page.get_by_role("link", name="Use single sign-on").click()
    page.get_by_label("Organization short name").fill("no-such-org")
    page.get_by_role("button", name="Continue").click()
    page.get_by_text("No organization with that short name").wait_for()
    screenshot(page, "sign-in-sso-short-name-error")
    page.get_by_label("Organization short name").fill("contoso")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/sso/contoso/")
