"""An owner sets up single sign-on on the Okta page in Chromium, against the real OpenID Provider
on loopback (tests/sso/provider.py), and sees its state; the copy button copies the redirect URI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.models import SsoConnection
from tests.browser.conftest import screenshot, sign_in
from tests.factories import OwnerFactory
from tests.sso.conftest import OKTA
from tests.sso.provider import TestProvider

pytestmark = [pytest.mark.browser, pytest.mark.sso, pytest.mark.django_db(transaction=True)]

SECRET = "okta-client-secret-never-shown-again-0123456789"


@pytest.fixture
def op() -> Iterator[TestProvider]:
    provider = TestProvider([OKTA]).start()
    yield provider
    provider.stop()


def test_an_owner_fills_the_card_saves_and_sees_the_state(page, op, settings):
    # given
    settings.SSO_ALLOW_INSECURE_LOOPBACK_ISSUER = True
    owner = OwnerFactory(organization__name="Acme Corp", organization__slug="acme")
    sign_in(page, owner.email)
    page.goto("/integrations/okta/")
    assert page.get_by_test_id("sso-state").inner_text() == "Not set up"
    assert page.get_by_test_id("sso-redirect-uri").inner_text().endswith("/sso/callback/")
    assert page.get_by_test_id("sso-sign-in-url").inner_text().endswith("/sso/acme/")

    # when the owner fills the card and saves
    page.get_by_test_id("sso-issuer").fill(op.issuer(OKTA))
    page.get_by_test_id("sso-client-id").fill("0oa1acme")
    page.get_by_test_id("sso-client-secret").fill(SECRET)
    page.get_by_test_id("sso-secret-expires").fill("2099-01-31")
    page.get_by_test_id("sso-save").click()
    page.wait_for_load_state()

    # then the card shows the state, never the secret
    assert page.get_by_test_id("sso-state").inner_text() == "Set up, off"
    assert page.get_by_test_id("sso-summary-issuer").inner_text() == op.issuer(OKTA)
    assert "Not tested since the last change" in page.get_by_test_id("sso-tested").inner_text()
    assert SECRET not in page.content()
    assert page.get_by_test_id("sso-client-secret").input_value() == ""
    assert "leave blank to keep it" in page.content()
    row = SsoConnection.objects.get(organization=owner.organization)
    assert (row.issuer, row.client_id, str(row.secret_expires_on)) == (
        op.issuer(OKTA),
        "0oa1acme",
        "2099-01-31",
    )

    # and the policy form turns it on as optional
    page.get_by_label("Optional", exact=False).check()
    page.get_by_role("button", name="Save policy").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("sso-state").inner_text() == "On, optional"
    page.get_by_test_id("sso-card").scroll_into_view_if_needed()
    screenshot(page, "sso-admin-okta-configured")
