from __future__ import annotations

import base64
import time

import pytest

from accounts import twofactor as tf
from accounts.models import RecoveryCode
from tests.browser.conftest import screenshot
from tests.factories import DEFAULT_PASSWORD, OwnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def code_for(manual_key: str, steps_ahead: int = 0) -> str:
    """What an authenticator app shows for the key on the page (one step ahead is accepted too,
    which keeps a sign-in right after set-up from reusing the set-up's code)."""
    secret = manual_key.replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return tf.hotp(key, tf.time_step(time.time()) + steps_ahead)


def sign_in_with_password(page, email: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_owner_turns_on_two_factor_signs_out_and_signs_in_with_a_code(page):
    # given
    OwnerFactory(organization__name="Acme Corp", email="owner@acme.test")
    page.goto("/login/")
    sign_in_with_password(page, "owner@acme.test")
    page.get_by_role("heading", name="Acme Corp").wait_for()
    # when: set-up from the account page
    page.get_by_role("navigation").get_by_role("link", name="Your account").click()
    page.get_by_role("link", name="Set up two-factor sign-in").click()
    page.get_by_role("heading", name="Set up two-factor sign-in").wait_for()
    assert page.get_by_role("img", name="QR code for your authenticator app").is_visible()
    manual_key = page.get_by_test_id("manual-key").inner_text()
    screenshot(page, "two-factor-setup")
    page.get_by_label("Authentication code").fill(code_for(manual_key))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    # then: the recovery codes, once
    page.get_by_role("heading", name="Save your recovery codes").wait_for()
    codes = page.get_by_test_id("recovery-codes").inner_text().split()
    assert len(codes) == 10 and RecoveryCode.objects.count() == 10
    screenshot(page, "two-factor-recovery-codes")
    page.get_by_role("link", name="I have saved them").click()
    section = page.get_by_test_id("two-factor")
    assert "On" in section.inner_text() and "10 of 10 recovery codes left" in section.inner_text()
    screenshot(page, "two-factor-account")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "two-factor-account-phone")
    page.set_viewport_size({"width": 1280, "height": 860})

    # when: signed out and in again
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="You are signed out").wait_for()
    page.goto("/users/")
    sign_in_with_password(page, "owner@acme.test")
    # then: the code is asked for, and nothing opens before it
    page.get_by_role("heading", name="Enter your code").wait_for()
    screenshot(page, "two-factor-sign-in")
    page.get_by_label("Authentication code").fill("000000")
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("alert").wait_for()
    assert "not valid" in page.get_by_role("alert").inner_text()
    screenshot(page, "two-factor-sign-in-error")
    page.get_by_label("Authentication code").fill(code_for(manual_key, steps_ahead=1))
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("heading", name="Users").wait_for()
    assert page.url.endswith("/users/")
