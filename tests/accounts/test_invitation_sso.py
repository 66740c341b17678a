"""Invitations of an organization with single sign-on: the email and the registration page."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.audit import Actor
from accounts.models import Invitation, Member
from accounts.services import MemberProfile, member_provision
from accounts.services.invitations import invitation_deliver, invitation_token
from tests.accounts.test_sign_in_sso import sso
from tests.factories import OwnerFactory

pytestmark = pytest.mark.django_db

IDP = Actor.identity_provider("Microsoft Entra ID")
GOOD_PASSWORD = "a-long-and-unusual-passphrase"


def invited(policy: str | None, provider: str = "entra-id") -> tuple[Member, Invitation]:
    owner = OwnerFactory(organization__name="Contoso", organization__slug="contoso")
    if policy:
        sso(owner.organization, policy=policy, provider=provider)
    member = member_provision(
        organization=owner.organization,
        profile=MemberProfile(user_name="vic@contoso.com", given_name="Vic"),
        active=True,
        actor=IDP,
    )
    return member, member.invitations.get(status__in=Invitation.OPEN_STATUSES)


def parts(message) -> tuple[str, str]:
    text = html = ""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            text = part.get_payload(decode=True).decode()
        elif part.get_content_type() == "text/html":
            html = part.get_payload(decode=True).decode()
    return text, html


@pytest.mark.parametrize(
    ("provider", "words"),
    [("entra-id", "Sign in with Microsoft to finish"), ("okta", "Sign in with Okta to finish")],
)
def test_the_email_of_an_organization_that_requires_sso_says_sign_in_with_the_provider(
    smtp, settings, provider, words
):
    # given
    settings.SITE_URL = "https://admin.example.com"
    _, invitation = invited("required", provider)
    # when
    invitation_deliver(invitation.pk)
    # then
    text, html = parts(smtp.wait_for(1)[0])
    link = f"https://admin.example.com/invite/{invitation_token(invitation)}/"
    assert words in text and link in text and "choosing a password" not in text
    button = re.search(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', html)
    assert button is not None and button.groups() == (link, words)
    assert "Choose a password" not in html


@pytest.mark.parametrize("policy", [None, "off", "optional"])
def test_otherwise_the_email_asks_for_a_password_as_before(smtp, policy):
    _, invitation = invited(policy)
    invitation_deliver(invitation.pk)
    text, html = parts(smtp.wait_for(1)[0])
    assert "Finish your registration by choosing a password" in text
    assert "Finish registration" in html and "Sign in with" not in html


def test_the_registration_page_of_a_required_organization_offers_only_continue_with_microsoft():
    # given
    member, invitation = invited("required")
    link = f"/invite/{invitation_token(invitation)}/"
    client = Client()
    # when
    html = client.get(link).content.decode()
    # then
    sso_url = f"/sso/contoso/?invitation={invitation_token(invitation)}"
    assert f'href="{sso_url}" data-testid="sso-continue">Continue with Microsoft</a>' in html
    assert 'name="password1"' not in html and "You do not need a password here" in html
    # and a password posted anyway sets nothing
    response = client.post(
        link,
        {"full_name": "Vic", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD},
        follow=True,
    )
    assert "use Continue with Microsoft" in response.content.decode()
    member.refresh_from_db()
    assert member.status == "invited" and member.user is None
    invitation.refresh_from_db()
    assert invitation.status in Invitation.OPEN_STATUSES


def test_the_registration_page_of_an_optional_organization_offers_both():
    member, invitation = invited("optional")
    link = f"/invite/{invitation_token(invitation)}/"
    client = Client()
    html = client.get(link).content.decode()
    assert "Continue with Microsoft" in html and 'name="password1"' in html
    response = client.post(
        link, {"full_name": "Vic", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.status == "active"


def test_the_registration_page_without_sso_is_unchanged():
    _, invitation = invited(None)
    html = Client().get(f"/invite/{invitation_token(invitation)}/").content.decode()
    assert "sso-continue" not in html and "Choose a password to finish" in html
