"""An owner adds an email domain, copies the TXT record, and the domain verifies once the record
is published (on a DNS server on loopback)."""

from __future__ import annotations

import pytest

from integrations.models import EmailDomain
from tests.browser.conftest import screenshot
from tests.browser.test_accessibility import sign_in
from tests.dns_server import loopback_dns
from tests.factories import OwnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_owner_adds_a_domain_publishes_the_record_and_it_verifies(page, settings):
    # given: an owner, and DNS the test controls
    owner = OwnerFactory(organization__name="Acme Corp", email="owner@acme.test")
    sign_in(page, owner.email)
    with loopback_dns() as dns:
        settings.DOMAIN_VERIFICATION_NAMESERVERS = dns.address

        # when: the owner adds the domain from the Integrations page
        page.goto("/integrations/")
        page.get_by_role("link", name="email domains").click()
        page.get_by_label("Domain", exact=True).fill("Acme.test")
        page.get_by_role("button", name="Add domain").click()

        # then: the record to publish, with copy buttons
        card = page.get_by_test_id("domain-acme.test")
        assert card.get_by_test_id("domain-state").inner_text() == "Not verified yet"
        assert card.get_by_test_id("record-name").inner_text() == (
            "_nordpass-verification.acme.test"
        )
        assert card.get_by_test_id("record-type").inner_text() == "TXT"
        value = card.get_by_test_id("record-value").inner_text()
        token = EmailDomain.objects.get(domain="acme.test").token
        assert value == f"nordpass-verification={token}"
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        card.get_by_role("button", name="Copy the value of the record for acme.test").click()
        assert page.evaluate("navigator.clipboard.readText()") == value
        screenshot(page, "email-domain-added")

        # when: Check now before the record exists, then after
        card.get_by_role("button", name="Check now").click()
        error = page.get_by_test_id("domain-acme.test").get_by_test_id("domain-error")
        assert "No DNS record named _nordpass-verification.acme.test" in error.inner_text()
        dns.publish_txt("_nordpass-verification.acme.test", "v=spf1 -all", value)
        page.get_by_test_id("domain-acme.test").get_by_role("button", name="Check now").click()

        # then
        card = page.get_by_test_id("domain-acme.test")
        assert card.get_by_test_id("domain-state").inner_text() == "Verified"
        assert page.get_by_text("acme.test is verified.").is_visible()
        screenshot(page, "email-domain-verified")
