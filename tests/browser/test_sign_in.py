from __future__ import annotations

import pytest

from accounts.audit import Actor
from accounts.models import Member
from accounts.services import invitation_create
from tests.browser.conftest import screenshot
from tests.factories import DEFAULT_PASSWORD, MemberFactory, OwnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_signs_in_and_reaches_the_dashboard_and_users_page(page):
    # given
    owner = OwnerFactory(organization__name="Acme Corp", email="owner@acme.test")
    new_hire = MemberFactory(
        organization=owner.organization, email="new.hire@acme.test", full_name="New Hire"
    )
    invitation_create(member=new_hire, actor=Actor.system())
    MemberFactory(organization=owner.organization, status=Member.Status.SUSPENDED)
    # when
    page.goto("/")
    assert page.url.endswith("/login/?next=/")
    screenshot(page, "sign-in")
    page.get_by_label("Email").fill("OWNER@acme.test")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # then
    page.get_by_role("heading", name="Acme Corp").wait_for()
    assert page.get_by_test_id("count-invited").inner_text() == "1"
    assert page.get_by_test_id("count-suspended").inner_text() == "1"
    assert page.get_by_test_id("pending-invitations").inner_text() == "1"
    screenshot(page, "dashboard")

    page.get_by_role("navigation").get_by_role("link", name="Users").click()
    page.get_by_role("heading", name="Users").wait_for()
    table = page.get_by_test_id("user-table")
    assert "new.hire@acme.test" in table.inner_text()
    assert "Invited" in table.inner_text()
    screenshot(page, "users")

    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "users-phone")

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="You are signed out").wait_for()


def test_wrong_password_shows_an_error_in_the_browser(page):
    OwnerFactory(email="owner@acme.test")
    page.goto("/login/")
    page.get_by_label("Email").fill("owner@acme.test")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").wait_for()
    assert "do not match" in page.get_by_role("alert").inner_text()
    screenshot(page, "sign-in-error")
