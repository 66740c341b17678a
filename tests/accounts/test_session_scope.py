"""A session opens only the organizations it proved itself for (accounts/session_scope.py)."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Member
from accounts.twofactor import seal_secret
from integrations.models import SsoConnection
from tests.factories import DEFAULT_PASSWORD, ActiveMemberFactory, OwnerFactory

pytestmark = pytest.mark.django_db


def require_sso(organization) -> None:
    SsoConnection.objects.create(
        organization=organization,
        provider="okta",
        issuer="https://example.okta.com",
        client_id="client",
        client_secret_sealed=seal_secret(b"secret"),
        policy=SsoConnection.Policy.REQUIRED,
    )


def signed_in_with_password(email: str) -> Client:
    client = Client()
    response = client.post("/login/", {"username": email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302, response.content
    return client


def switch_to(client: Client, member: Member) -> int:
    client.post("/organization/switch/", {"member": member.pk})
    return client.get("/account/").context["member"].pk


def test_a_password_does_not_open_an_organization_that_requires_sso_for_members():
    # given: one person, a member of A (SSO required) and B (no SSO)
    in_a = ActiveMemberFactory(email="pat@example.com", organization__name="A")
    in_b = ActiveMemberFactory(user=in_a.user, email="pat@example.com", organization__name="B")
    require_sso(in_a.organization)
    # when: they sign in with their password
    client = signed_in_with_password("pat@example.com")
    # then: B opens, A cannot be switched to
    assert switch_to(client, in_b) == in_b.pk
    assert switch_to(client, in_a) == in_b.pk


def test_owners_keep_their_password_as_the_way_in():
    owner = OwnerFactory(email="olu@example.com")
    require_sso(owner.organization)
    client = signed_in_with_password("olu@example.com")
    assert client.get("/account/").context["member"].pk == owner.pk


def test_a_policy_made_required_later_closes_an_open_password_session():
    # given: a member signed in with a password while SSO was optional
    member = ActiveMemberFactory(email="pat@example.com")
    client = signed_in_with_password("pat@example.com")
    assert client.get("/account/").status_code == 200
    # when
    require_sso(member.organization)
    # then: the next request no longer opens that organization
    assert client.get("/account/").status_code == 302
