"""Names in the browser: invite someone by given and family name, correct one's own name on the
account page, and see it locked where the identity provider manages it."""

from __future__ import annotations

import pytest

from accounts.models import AuditLogEntry, Member
from tests.browser.conftest import screenshot, sign_in
from tests.factories import ActiveMemberFactory, OwnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_invites_by_name_and_corrects_their_own_name(page):
    # given
    owner = OwnerFactory(
        organization__name="Analytical Engines",
        email="ada@engines.test",
        given_name="Ada",
        family_name="Byron",
        full_name="Ada Byron",
    )
    sign_in(page, "ada@engines.test")
    page.get_by_role("heading", name="Analytical Engines").wait_for()

    # when: an invitation with a given and a family name
    page.goto("/users/")
    page.get_by_text("Invite a member").click()
    form = page.get_by_role("form", name="Invite a member by email")
    form.get_by_label("Email", exact=True).fill("grace@engines.test")
    form.get_by_label("Given name").fill("Grace")
    form.get_by_label("Family name").fill("Hopper")
    screenshot(page, "names-01-invite-form")
    page.get_by_role("button", name="Send invitation").click()
    # then
    page.get_by_text("Invitation sent to grace@engines.test.").wait_for()
    invited = Member.objects.get(user_name="grace@engines.test")
    assert (invited.given_name, invited.family_name) == ("Grace", "Hopper")

    # when: the owner corrects their own name on the account page
    page.goto("/account/")
    section = page.get_by_test_id("your-name")
    assert section.get_by_label("Given name").input_value() == "Ada"
    assert section.get_by_label("Family name").input_value() == "Byron"
    section.get_by_label("Family name").fill("Lovelace")
    section.get_by_role("button", name="Save name").click()
    # then
    page.get_by_text("Your name is now Ada Lovelace.").wait_for()
    assert page.get_by_test_id("your-name").get_by_label("Family name").input_value() == "Lovelace"
    screenshot(page, "names-02-account-name-saved")
    owner.refresh_from_db()
    assert (owner.given_name, owner.family_name, owner.full_name) == (
        "Ada",
        "Lovelace",
        "Ada Lovelace",
    )
    assert AuditLogEntry.objects.filter(action="member.renamed", target_id=str(owner.pk)).exists()


def test_a_member_the_identity_provider_manages_sees_their_name_locked(page):
    # given
    member = ActiveMemberFactory(
        organization__name="Contoso",
        email="pat@contoso.test",
        given_name="Pat",
        family_name="Kim",
        full_name="Pat Kim",
        source=Member.Source.IDENTITY_PROVIDER,
    )
    # when
    sign_in(page, member.email)
    page.get_by_role("heading", name="Your account").wait_for()
    # then
    section = page.get_by_test_id("your-name")
    assert "Pat Kim" in section.inner_text()
    assert "Your name comes from your identity provider" in section.inner_text()
    assert section.get_by_role("button", name="Save name").count() == 0
    screenshot(page, "names-03-account-name-managed")
