from __future__ import annotations

import re

import pytest

from integrations import services
from integrations.models import ScimToken
from tests.browser.conftest import screenshot, sign_in
from tests.factories import OwnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_gets_and_regenerates_entra_credentials(page, live_server, settings):
    # given
    settings.SITE_URL = live_server.url
    owner = OwnerFactory(organization__name="Acme Corp", email="owner@acme.test")
    organization = owner.organization
    sign_in(page, "owner@acme.test")

    # when: Integrations → Microsoft Entra ID
    page.get_by_role("navigation").get_by_role("link", name="Integrations").click()
    page.get_by_role("heading", name="Integrations").wait_for()
    screenshot(page, "integrations")
    page.get_by_role("link", name="Microsoft Entra ID", exact=True).click()
    page.get_by_role("heading", name="Microsoft Entra ID", level=1).wait_for()
    assert "No requests received yet" not in page.content()  # not connected yet
    screenshot(page, "entra-id-setup")

    # and: Get credentials
    page.get_by_role("button", name="Get credentials").click()
    tenant_url = page.get_by_test_id("tenant-url").inner_text()
    secret = page.get_by_test_id("secret-token").inner_text()
    screenshot(page, "credentials-issued")

    # then: the values are the organization's and they work
    assert tenant_url == f"{live_server.url}/scim/v2/{organization.tenant_id}"
    assert re.fullmatch(r"npscim_[0-9A-Za-z]{49}", secret)
    assert services.scim_token_authenticate(organization=organization, presented=secret)

    # and: copying works from the button (clipboard needs a secure context; the fallback selects)
    page.get_by_role("button", name="Copy").last.click()
    page.get_by_role("button", name=re.compile("Copied|Press Ctrl\\+C")).wait_for()

    # when: back on the provider page, the secret is never shown again
    page.get_by_role("link", name="I have copied the token").click()
    page.get_by_test_id("token-table").wait_for()
    assert secret not in page.content()
    assert secret[:11] in page.content()
    screenshot(page, "entra-id-connected")

    # when: regenerate, confirming with a 24-hour overlap
    page.get_by_role("link", name="Regenerate token").click()
    page.get_by_role("heading", name="Regenerate the secret token?").wait_for()
    screenshot(page, "regenerate-confirm")
    page.get_by_label("Keep working for 24 hours").check()
    page.get_by_role("button", name="Regenerate token").click()
    new_secret = page.get_by_test_id("secret-token").inner_text()
    assert new_secret != secret
    assert "keeps working until" in page.content()
    screenshot(page, "credentials-regenerated")

    # then: reloading the result page does not show or create a token again
    page.once("dialog", lambda dialog: dialog.accept())
    page.reload()
    page.get_by_role("heading", level=1).wait_for()
    assert new_secret not in page.content()
    assert ScimToken.objects.filter(organization=organization).count() == 2
    assert services.scim_token_authenticate(organization=organization, presented=secret)
    assert services.scim_token_authenticate(organization=organization, presented=new_secret)

    # when: revoke
    page.goto("/integrations/entra-id/credentials/revoke/")
    page.get_by_label("I understand").check()
    screenshot(page, "revoke-confirm")
    page.get_by_role("button", name="Revoke and disconnect").click()
    page.get_by_text("Provisioning is disconnected").wait_for()
    assert services.scim_token_authenticate(organization=organization, presented=new_secret) is None
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "entra-id-revoked-phone")


def test_the_whole_provider_card_selects_the_provider_by_click_and_keyboard(page):
    # given: an owner on the Integrations page
    OwnerFactory(organization__name="Acme Corp", email="owner@acme.test")
    sign_in(page, "owner@acme.test")
    page.goto("/integrations/")
    card = page.get_by_test_id("provider-card-entra-id")

    # then: one focusable element per card, a link named after the provider
    assert card.get_by_role("link").count() == 1
    assert card.get_by_role("button").count() == 0
    assert card.get_by_role("link").get_attribute("href") == "/integrations/entra-id/"
    page.get_by_role("link", name="Microsoft Entra ID", exact=True).wait_for()

    # when: a click on the card's description, away from the heading and the "Set up" label
    summary = card.locator("p.muted").first.bounding_box()
    assert summary is not None
    page.mouse.click(summary["x"] + 8, summary["y"] + summary["height"] / 2)

    # then: the provider's page
    page.get_by_role("heading", name="Microsoft Entra ID", level=1).wait_for()
    assert page.url.endswith("/integrations/entra-id/")

    # when: back, and Tab until the Okta card's link has the focus
    page.go_back()
    okta = page.get_by_test_id("provider-card-okta")
    ring_before = okta.evaluate("card => getComputedStyle(card).outlineStyle")
    for _ in range(40):
        page.keyboard.press("Tab")
        if okta.get_by_role("link").evaluate("link => link === document.activeElement"):
            break
    else:
        raise AssertionError("Tab never reached the Okta card")

    # then: the card shows a focus ring
    outline = okta.evaluate(
        "card => { const s = getComputedStyle(card);"
        " return {style: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }"
    )
    assert ring_before == "none"
    assert outline["style"] == "solid" and outline["width"] >= 2, outline
    screenshot(page, "integrations-card-focused")

    # when: Enter
    page.keyboard.press("Enter")

    # then: the Okta page
    page.get_by_role("heading", name="Okta", level=1).wait_for()
    assert page.url.endswith("/integrations/okta/")
