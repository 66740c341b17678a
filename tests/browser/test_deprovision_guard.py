"""The mass-deprovisioning guard as an owner meets it: Entra-style SCIM over real HTTP trips it,
the dashboard shows the banner, and the owner applies the held changes."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from accounts.audit import Actor
from accounts.models import Member
from integrations import services
from integrations.models import DeprovisionHold
from tests.browser.conftest import screenshot
from tests.factories import DEFAULT_PASSWORD, MemberFactory, OwnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def entra_deactivate(tenant_url: str, token: str, member: Member, retry_after: str = "3600") -> int:
    """Entra's disable: PATCH with a capitalised op and the string "False" (scim-notes §5)."""
    body = {
        "schemas": [PATCH],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
    }
    request = urllib.request.Request(
        f"{tenant_url}/Users/{member.scim_id}?aadOptscim062020",
        data=json.dumps(body).encode(),
        method="PATCH",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/scim+json",
            "User-Agent": "Microsoft.Identity.Provisioning",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        assert error.headers["Retry-After"] == retry_after
        return int(error.code)


def test_owner_sees_the_banner_and_applies_held_changes(page, live_server, settings):
    # given: Acme with 14 members from Entra ID and a live SCIM token
    settings.SITE_URL = live_server.url
    settings.DEPROVISION_GUARD_SHARE = 0.2
    settings.DEPROVISION_GUARD_MIN_MEMBERS = 10
    owner = OwnerFactory(organization__name="Acme Corp", email="owner@acme.test")
    organization = owner.organization
    people = [
        MemberFactory(
            organization=organization,
            status=Member.Status.ACTIVE,
            source=Member.Source.IDENTITY_PROVIDER,
            full_name=f"Employee {number:02d}",
            email=f"employee{number:02d}@acme.test",
        )
        for number in range(1, 15)
    ]
    issued = services.scim_token_issue(organization=organization, actor=Actor.system("tests"))
    tenant_url = f"{live_server.url}/scim/v2/{organization.tenant_id}"

    # when: a mis-scoped change makes Entra disable twelve of them
    statuses = [entra_deactivate(tenant_url, issued.secret, member) for member in people[:12]]

    # then: ten go through, two are held
    assert statuses == [200] * 10 + [429] * 2

    # when: the owner signs in
    page.goto("/login/")
    page.get_by_label("Email").fill("owner@acme.test")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    banner = page.get_by_test_id("deprovision-guard-banner")
    banner.wait_for()

    # then: the dashboard says what happened
    assert "Deprovisioning is on hold" in banner.inner_text()
    assert "2 changes have been held instead of applied" in banner.inner_text()
    screenshot(page, "deprovision-guard-dashboard")

    # when: they review the held changes
    banner.get_by_role("link", name="Review held changes").click()
    page.get_by_role("heading", name="Held deprovisioning", level=1).wait_for()
    table = page.get_by_test_id("held-changes")
    assert "Employee 11" in table.inner_text() and "Employee 12" in table.inner_text()
    screenshot(page, "deprovision-guard-hold")

    # and: apply them, confirming
    page.get_by_role("link", name="Apply held changes").click()
    page.get_by_role("heading", name="Apply 2 held changes?").wait_for()
    screenshot(page, "deprovision-guard-apply-confirm")
    page.get_by_label("I checked the list: these people should lose access now.").check()
    page.get_by_role("button", name="Apply held changes").click()
    page.get_by_text("Applied 2 held changes.").wait_for()
    screenshot(page, "deprovision-guard-applied")

    # then: they are suspended, the hold is decided, and the banner is gone
    assert {m.status for m in Member.objects.filter(pk__in=[people[10].pk, people[11].pk])} == {
        Member.Status.SUSPENDED
    }
    assert DeprovisionHold.objects.get().state == DeprovisionHold.State.APPLIED
    page.get_by_role("link", name="Dashboard").click()
    page.get_by_role("heading", name="Acme Corp", level=1).wait_for()
    assert page.get_by_test_id("deprovision-guard-banner").count() == 0
    assert page.get_by_test_id("count-suspended").inner_text() == "12"


def test_owner_keeps_members_active_and_reads_what_to_fix(page, live_server, settings):
    # given: the guard holds one change for Acme
    settings.SITE_URL = live_server.url
    owner = OwnerFactory(organization__name="Acme Corp", email="owner@acme.test")
    organization = owner.organization
    people = MemberFactory.create_batch(
        12, organization=organization, status=Member.Status.ACTIVE, source="idp"
    )
    issued = services.scim_token_issue(organization=organization, actor=Actor.system("tests"))
    tenant_url = f"{live_server.url}/scim/v2/{organization.tenant_id}"
    statuses = [entra_deactivate(tenant_url, issued.secret, member) for member in people[:11]]
    assert statuses == [200] * 10 + [429]

    # when: the owner opens the guard from the Integrations page and keeps the member active
    page.goto("/login/")
    page.get_by_label("Email").fill("owner@acme.test")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation").get_by_role("link", name="Integrations").click()
    page.get_by_test_id("deprovision-guard-banner").wait_for()
    screenshot(page, "deprovision-guard-integrations")
    page.get_by_role("link", name="mass-deprovisioning guard").click()
    page.get_by_role("heading", name="Mass-deprovisioning guard", level=1).wait_for()
    screenshot(page, "deprovision-guard-overview")
    page.get_by_role("link", name="Review held changes").click()
    page.get_by_role("link", name="Keep members active").click()
    page.get_by_role("heading", name="Keep 1 member active?").wait_for()
    screenshot(page, "deprovision-guard-keep-confirm")
    page.get_by_label("I will fix the assignment or scope").check()
    page.get_by_role("button", name="Keep members active").click()
    page.get_by_role("heading", name="Members kept active", level=1).wait_for()
    screenshot(page, "deprovision-guard-kept")

    # then: the member is active, and Entra's retry is still refused
    assert Member.objects.get(pk=people[10].pk).status == Member.Status.ACTIVE
    assert entra_deactivate(tenant_url, issued.secret, people[10]) == 429
    assert DeprovisionHold.objects.get().state == DeprovisionHold.State.KEPT


def test_owner_tunes_the_guard_for_a_pilot_and_turns_it_off(page, live_server, settings):
    # given: Acme piloting Entra ID with five test users, under the default minimum of 10
    settings.SITE_URL = live_server.url
    settings.DEPROVISION_GUARD_SHARE = 0.2
    settings.DEPROVISION_GUARD_MIN_MEMBERS = 10
    owner = OwnerFactory(organization__name="Acme Corp", email="owner@acme.test")
    organization = owner.organization
    people = MemberFactory.create_batch(
        5, organization=organization, status=Member.Status.ACTIVE, source="idp"
    )
    issued = services.scim_token_issue(
        organization=organization, actor=Actor.system("tests"), provider="entra-id"
    )
    tenant_url = f"{live_server.url}/scim/v2/{organization.tenant_id}"

    # when: the owner opens the guard's page
    page.goto("/login/")
    page.get_by_label("Email").fill("owner@acme.test")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation").get_by_role("link", name="Integrations").click()
    page.get_by_role("link", name="mass-deprovisioning guard").click()
    meaning = page.get_by_test_id("guard-meaning")

    # then: it says what the numbers mean for Acme now
    assert (
        "Microsoft Entra ID may suspend or remove up to 6 of your 6 active members per hour."
        in meaning.inner_text()
    )

    # when: they try a window too short, then save a minimum of 2 per 10 minutes
    page.get_by_label("Always allowed per window").fill("2")
    page.get_by_label("Share of active members (%)").fill("1")
    page.get_by_label("Window", exact=True).fill("2")
    page.get_by_label("Window unit").select_option("minutes")
    page.get_by_role("button", name="Save guard settings").click()
    page.get_by_text("The window must be from 5 minutes to 7 days.").wait_for()
    screenshot(page, "deprovision-guard-settings-error")
    page.get_by_label("Window", exact=True).fill("10")
    page.get_by_role("button", name="Save guard settings").click()
    page.get_by_text(
        "The identity provider's next request is judged by the new settings"
    ).wait_for()
    screenshot(page, "deprovision-guard-settings")

    # then: the page and Entra ID both follow the new numbers
    assert (
        "may suspend or remove up to 2 of your 6 active members per 10 minutes."
        in page.get_by_test_id("guard-meaning").inner_text()
    )
    statuses = [entra_deactivate(tenant_url, issued.secret, member, "600") for member in people[:3]]
    assert statuses == [200, 200, 429]

    # when: they turn the guard off for the pilot
    page.get_by_label("Hold mass deprovisioning for an owner or admin to review").uncheck()
    page.get_by_role("button", name="Save guard settings").click()
    page.get_by_text("The mass-deprovisioning guard is off").first.wait_for()

    # then: the dashboard says who turned it off, and Entra's retry goes through
    page.get_by_role("link", name="Dashboard").click()
    notice = page.get_by_test_id("deprovision-guard-off")
    notice.wait_for()
    assert "Mass-deprovisioning guard turned off by owner@acme.test on " in notice.inner_text()
    screenshot(page, "deprovision-guard-off-dashboard")
    assert entra_deactivate(tenant_url, issued.secret, people[2]) == 200
