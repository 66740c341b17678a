from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.audit import Actor
from accounts.models import Member
from accounts.services import invitation_create
from tests.conftest import signed_in_client
from tests.factories import (
    DEFAULT_PASSWORD,
    ActiveMemberFactory,
    AdminFactory,
    AuditLogEntryFactory,
    GroupFactory,
    GroupMembershipFactory,
    MemberFactory,
    OwnerFactory,
)

pytestmark = pytest.mark.django_db

ADMIN_PAGES = ["dashboard", "user_list", "group_list", "integration_list", "activity"]


def test_sign_in_page_is_at_login(client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content and b'type="email"' in response.content


def test_sign_in_with_email_in_any_case_reaches_the_dashboard(client, owner):
    # when
    response = client.post(
        "/login/", {"username": owner.email.upper(), "password": DEFAULT_PASSWORD}, follow=True
    )
    # then
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    assert owner.organization.name.encode() in response.content


def test_wrong_password_is_refused_with_a_message(client, owner):
    response = client.post("/login/", {"username": owner.email, "password": "wrong-password"})
    assert response.status_code == 200
    assert b"That email and password do not match an account." in response.content
    assert "_auth_user_id" not in client.session


def test_account_without_an_active_membership_cannot_sign_in(client):
    member = ActiveMemberFactory(status=Member.Status.SUSPENDED)
    response = client.post("/login/", {"username": member.email, "password": DEFAULT_PASSWORD})
    assert b"not active in any organization" in response.content
    assert "_auth_user_id" not in client.session


def test_sign_out_ends_the_session(owner_client):
    # when
    response = owner_client.post("/logout/")
    # then
    assert b"You are signed out" in response.content
    assert owner_client.get("/users/").status_code == 302  # back to the login page


def test_pages_redirect_anonymous_visitors_to_login(client):
    for name in ADMIN_PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response.url.startswith("/login/?next=")


@pytest.mark.parametrize("page", [p for p in ADMIN_PAGES if p != "dashboard"])
def test_members_who_are_not_admins_get_403_on_admin_pages(page):
    client = signed_in_client(ActiveMemberFactory(role=Member.Role.MEMBER))
    response = client.get(reverse(page))
    assert response.status_code == 403
    assert b"Only your organization's owners and admins" in response.content


def test_members_start_on_their_account_page_not_the_dashboard():
    member = ActiveMemberFactory(role=Member.Role.MEMBER)
    client = signed_in_client(member)
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == reverse("account")
    assert member.organization.name.encode() in response.content


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_admins_and_owners_open_every_admin_page(page, owner):
    for member in (owner, AdminFactory(organization=owner.organization)):
        response = signed_in_client(member).get(reverse(page))
        assert response.status_code == 200, (page, member.role)


def test_a_member_suspended_mid_session_is_locked_out_at_once():
    # given
    admin = AdminFactory()
    client = signed_in_client(admin)
    assert client.get("/users/").status_code == 200
    # when
    Member.objects.filter(pk=admin.pk).update(status=Member.Status.SUSPENDED)
    # then
    response = client.get("/users/")
    assert response.status_code == 302 and response.url == reverse("login")
    assert "_auth_user_id" not in client.session


def test_dashboard_counts_members_by_status_and_lists_pending_invitations(owner, owner_client):
    # given
    organization = owner.organization
    actor = Actor.for_user(owner.user)
    for member in MemberFactory.create_batch(3, organization=organization):
        invitation_create(member=member, actor=actor)
    MemberFactory(organization=organization, status=Member.Status.SUSPENDED)
    pending = MemberFactory(organization=organization, email="newbie@example.com")
    invitation_create(member=pending, actor=actor)
    for member in MemberFactory.create_batch(4):  # another organization
        invitation_create(member=member, actor=actor)
    # when
    response = owner_client.get("/")
    # then
    counts = response.context["counts"]
    assert counts == {"invited": 4, "active": 1, "suspended": 1, "deleted": 0}
    html = response.content.decode()
    assert re.search(r'data-testid="pending-invitations">4<', html)
    assert pending.email in html


def test_users_page_lists_only_this_organizations_members_with_status(owner, owner_client):
    # given
    MemberFactory(organization=owner.organization, email="mine@example.com", status="suspended")
    MemberFactory(email="theirs@example.com")
    # when
    html = owner_client.get("/users/").content.decode()
    # then
    assert "mine@example.com" in html and "Suspended" in html
    assert "theirs@example.com" not in html


def test_users_page_searches_and_filters(owner, owner_client):
    organization = owner.organization
    owner.full_name = "Olu Owner"
    owner.save(update_fields=["full_name"])
    MemberFactory(organization=organization, email="ann@example.com", full_name="Ann Lee")
    # Names given, not drawn by Faker: a drawn "Ashlee" would also match "LEE".
    MemberFactory(
        organization=organization,
        email="ben@example.com",
        full_name="Ben Okafor",
        status="suspended",
    )
    MemberFactory(
        organization=organization, email="gone@example.com", full_name="Gus Ortiz", status="deleted"
    )

    def emails(query: str) -> set[str]:
        page = owner_client.get(f"/users/?{query}").context["page"]
        return {m.email for m in page.object_list}

    assert emails("q=ann") == {"ann@example.com"}
    assert emails("q=LEE") == {"ann@example.com"}
    assert emails("status=suspended") == {"ben@example.com"}
    assert "gone@example.com" not in emails("")
    assert emails("status=deleted") == {"gone@example.com"}
    assert b"No users match" in owner_client.get("/users/?q=nobody").content


def test_users_page_paginates_and_keeps_filters_in_links(owner, owner_client):
    MemberFactory.create_batch(55, organization=owner.organization, status="invited")
    response = owner_client.get("/users/?status=invited")
    assert len(response.context["page"].object_list) == 50
    assert b"?status=invited&amp;page=2" in response.content
    second = owner_client.get("/users/?status=invited&page=2").context["page"]
    assert len(second.object_list) == 5


def test_groups_page_shows_member_counts_for_this_organization_only(owner, owner_client):
    group = GroupFactory(organization=owner.organization, display_name="Engineering")
    GroupMembershipFactory.create_batch(3, group=group)
    GroupFactory(display_name="Their Sales")
    html = owner_client.get("/groups/").content.decode()
    assert "Engineering" in html and "Their Sales" not in html
    assert re.search(r">Engineering</a>\s*</td>\s*<td>3</td>", html)


def test_activity_page_shows_this_organizations_audit_log_only(owner, owner_client):
    AuditLogEntryFactory(
        organization=owner.organization, action="token.issued", target_label="mine"
    )
    AuditLogEntryFactory(action="token.issued", target_label="someone-else")
    html = owner_client.get("/activity/").content.decode()
    assert "mine" in html and "someone-else" not in html


def test_switching_organization_only_to_ones_own_memberships():
    # given: one person who owns two organizations
    first = OwnerFactory()
    second = OwnerFactory(user=first.user, email=first.email)
    stranger = OwnerFactory()
    client = signed_in_client(first)
    # when
    client.post(reverse("organization_switch"), {"member": second.pk})
    # then
    assert client.get("/").context["current_organization"] == second.organization
    assert client.post(reverse("organization_switch"), {"member": stranger.pk}).status_code == 404
    assert client.get("/").context["current_organization"] == second.organization


def test_password_reset_sends_a_working_link_on_site_url(client, owner, settings):
    # given
    settings.SITE_URL = "https://admin.example.test"
    # when
    response = client.post("/password-reset/", {"email": owner.email.upper()}, follow=True)
    # then
    assert b"Check your email" in response.content
    assert len(mail.outbox) == 1
    link = re.search(r"https://admin\.example\.test(/password-reset/\S+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    confirm = client.get(link.group(1), follow=True)
    assert b"Choose a new password" in confirm.content
    done = client.post(
        confirm.redirect_chain[-1][0],
        {"new_password1": "a-brand-new-passphrase", "new_password2": "a-brand-new-passphrase"},
        follow=True,
    )
    assert b"Your password has been changed" in done.content
    assert Client().login(username=owner.email, password="a-brand-new-passphrase")


def test_password_reset_for_unknown_email_looks_the_same_and_sends_nothing(client):
    response = client.post("/password-reset/", {"email": "nobody@example.com"}, follow=True)
    assert b"Check your email" in response.content
    assert mail.outbox == []
