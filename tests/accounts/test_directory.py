"""The Users and Groups pages an admin lives in: member page, actions, roles, the admin group."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.audit import Actor
from accounts.models import AuditLogEntry, Invitation, Member
from accounts.services import group_create, group_delete, group_members_change
from accounts.services.roles import organization_set_admin_group
from tests.conftest import signed_in_client
from tests.factories import (
    ActiveMemberFactory,
    AdminFactory,
    GroupFactory,
    GroupMembershipFactory,
    MemberFactory,
    OwnerFactory,
)

pytestmark = pytest.mark.django_db

IDP = Actor.identity_provider("Microsoft Entra ID")
NAME = {"given_name": "Grace", "family_name": "Hopper"}


# --- the Users page -------------------------------------------------------------------------------


def test_users_page_filters_by_source_and_group_and_sorts(owner, owner_client):
    organization = owner.organization
    group = GroupFactory(organization=organization, display_name="Sales")
    ann = MemberFactory(
        organization=organization, user_name="ann@x.com", email="ann@x.com", source="idp"
    )
    bob = MemberFactory(organization=organization, user_name="bob@x.com", email="bob@x.com")
    GroupMembershipFactory(group=group, member=bob)

    def names(query: str) -> list[str]:
        return [
            m.user_name for m in owner_client.get(f"/users/?{query}").context["page"].object_list
        ]

    assert names("source=idp") == ["ann@x.com"]
    assert "ann@x.com" not in names("source=panel")
    assert names(f"group={group.pk}") == ["bob@x.com"]
    assert (
        names("sort=-name")[0] == "owner@example.com"
        or names("sort=-name")[0] > names("sort=name")[0]
    )
    assert names("sort=-added")[0] == bob.user_name
    html = owner_client.get("/users/").content.decode()
    assert "Managed by" in html and ">Identity provider</span>" in html
    assert f'href="/users/{ann.pk}/"' in html


def test_users_page_issues_the_same_queries_for_5_or_50_members(owner, owner_client):
    organization = owner.organization
    MemberFactory.create_batch(5, organization=organization)
    owner_client.get("/users/")  # the first request also writes the session
    with CaptureQueriesContext(connection) as few:
        owner_client.get("/users/")
    MemberFactory.create_batch(45, organization=organization)
    for member in Member.objects.filter(organization=organization)[:20]:
        Invitation.objects.create(
            organization=organization,
            member=member,
            email="x@y.z",
            nonce=str(member.pk),
            token_digest=f"{member.pk:064}",
            expires_at=member.created_at,
        )
    with CaptureQueriesContext(connection) as many:
        owner_client.get("/users/")
    assert len(many.captured_queries) == len(few.captured_queries)


def test_admin_invites_a_member_from_the_panel(owner, owner_client):
    response = owner_client.post(
        "/users/invite/",
        {
            "email": "new@contoso.com",
            "given_name": " New ",
            "family_name": "Person",
            "role": "member",
        },
        follow=True,
    )
    member = Member.objects.get(user_name="new@contoso.com")
    assert (member.source, member.status) == ("panel", "invited")
    assert (member.given_name, member.family_name, member.formatted_name, member.full_name) == (
        "New",
        "Person",
        "New Person",
        "New Person",
    )
    assert member.invitations.get().status == "pending"
    assert response.redirect_chain[-1][0] == f"/users/{member.pk}/"
    assert b"Invitation sent to new@contoso.com" in response.content


def test_panel_invite_sends_even_under_the_manual_policy(owner, owner_client):
    owner.organization.invitation_policy = "manual"
    owner.organization.save()
    owner_client.post("/users/invite/", {**NAME, "email": "staged@contoso.com", "role": "member"})
    assert Member.objects.get(user_name="staged@contoso.com").invitations.count() == 1


def test_panel_invite_of_an_existing_user_name_is_refused(owner, owner_client):
    MemberFactory(
        organization=owner.organization, user_name="dup@contoso.com", email="dup@contoso.com"
    )
    response = owner_client.post(
        "/users/invite/", {**NAME, "email": "DUP@contoso.com", "role": "member"}, follow=True
    )
    assert b"already exists" in response.content
    assert Member.objects.filter(user_name_key="dup@contoso.com").count() == 1


def test_only_owners_invite_owners(owner):
    admin = AdminFactory(organization=owner.organization)
    response = signed_in_client(admin).post(
        "/users/invite/", {**NAME, "email": "boss@contoso.com", "role": "owner"}, follow=True
    )
    assert b"Only owners can invite another owner" in response.content
    assert not Member.objects.filter(user_name="boss@contoso.com").exists()


# --- the member page ----------------------------------------------------------------------------


def test_member_page_shows_attributes_groups_invitations_and_history(owner, owner_client):
    member = MemberFactory(
        organization=owner.organization,
        source="idp",
        user_name="kim@contoso.com",
        scim_attributes={"userName": "kim@contoso.com", "title": "Engineer"},
    )
    group = GroupFactory(organization=owner.organization, display_name="Readers")
    GroupMembershipFactory(group=group, member=member)
    AuditLogEntry.objects.create(
        organization=owner.organization,
        actor_kind="idp",
        actor_label="Microsoft Entra ID",
        action="member.provisioned",
        target_type="member",
        target_id=str(member.pk),
    )
    html = owner_client.get(f"/users/{member.pk}/").content.decode()
    for text in (
        "kim@contoso.com",
        "&quot;title&quot;: &quot;Engineer&quot;",
        "Readers",
        "member.provisioned",
        "Microsoft Entra ID",
        "Remove is locked",
    ):
        assert text in html, text


def test_member_page_of_another_organization_is_404(owner_client):
    stranger = MemberFactory()
    assert owner_client.get(f"/users/{stranger.pk}/").status_code == 404
    assert owner_client.post(f"/users/{stranger.pk}/suspend/").status_code == 404
    stranger.refresh_from_db()
    assert stranger.status == "invited"


def test_admin_suspends_and_reactivates_a_member(owner, owner_client):
    member = ActiveMemberFactory(organization=owner.organization)
    owner_client.post(f"/users/{member.pk}/suspend/")
    member.refresh_from_db()
    assert member.status == "suspended"
    assert AuditLogEntry.objects.get(action="member.suspended").actor_label == owner.email
    owner_client.post(f"/users/{member.pk}/reactivate/")
    member.refresh_from_db()
    assert member.status == "active"


def test_panel_members_can_be_removed_but_idp_members_are_locked(owner, owner_client):
    panel = MemberFactory(organization=owner.organization, source="panel")
    managed = MemberFactory(organization=owner.organization, source="idp")
    owner_client.post(f"/users/{panel.pk}/remove/")
    response = owner_client.post(f"/users/{managed.pk}/remove/", follow=True)
    panel.refresh_from_db()
    managed.refresh_from_db()
    assert panel.status == "deleted"
    assert managed.status == "invited"
    assert b"managed by your identity provider" in response.content


def test_nobody_suspends_themselves_or_the_last_owner(owner, owner_client):
    response = owner_client.post(f"/users/{owner.pk}/suspend/", follow=True)
    assert b"your own account" in response.content
    admin = AdminFactory(organization=owner.organization)
    response = signed_in_client(admin).post(f"/users/{owner.pk}/suspend/", follow=True)
    assert b"Only owners can suspend or remove an owner" in response.content
    owner.refresh_from_db()
    assert owner.status == "active"


def test_role_changes_follow_the_owner_rules(owner, owner_client):
    member = ActiveMemberFactory(organization=owner.organization)
    admin = AdminFactory(organization=owner.organization)
    owner_client.post(f"/users/{member.pk}/role/", {"role": "admin"})
    member.refresh_from_db()
    assert member.role == "admin"
    # an admin cannot make owners
    signed_in_client(admin).post(f"/users/{member.pk}/role/", {"role": "owner"})
    member.refresh_from_db()
    assert member.role == "admin"
    # the last owner cannot be demoted, even by a second... there is none yet
    second = OwnerFactory(organization=owner.organization)
    signed_in_client(second).post(f"/users/{owner.pk}/role/", {"role": "member"})
    owner.refresh_from_db()
    assert owner.role == "member"
    response = signed_in_client(second).post(
        f"/users/{second.pk}/role/", {"role": "member"}, follow=True
    )
    assert b"last owner" in response.content
    second.refresh_from_db()
    assert second.role == "owner"


# --- groups and the admin group ------------------------------------------------------------------


def test_group_page_lists_members_paginated_with_a_managed_note(owner, owner_client):
    group = GroupFactory(organization=owner.organization, display_name="Everyone", source="idp")
    for member in MemberFactory.create_batch(55, organization=owner.organization):
        GroupMembershipFactory(group=group, member=member)
    response = owner_client.get(f"/groups/{group.pk}/")
    assert len(response.context["page"].object_list) == 50
    assert b"manages this group" in response.content
    assert owner_client.get(f"/groups/{GroupFactory().pk}/").status_code == 404


def test_admin_group_grants_and_removes_admin_but_never_touches_owners(owner, owner_client):
    organization = owner.organization
    alice = ActiveMemberFactory(organization=organization)
    bob = ActiveMemberFactory(organization=organization)
    manual_admin = AdminFactory(organization=organization)
    group, _ = group_create(
        organization=organization,
        display_name="IT Admins",
        external_id="",
        attributes={},
        member_ids=[str(alice.scim_id), str(owner.scim_id), str(manual_admin.scim_id)],
        actor=IDP,
    )
    # when an owner maps the group to the admin role
    owner_client.post(f"/groups/{group.pk}/admin/", {"grants_admin": "on"})
    roles = dict(Member.objects.filter(organization=organization).values_list("pk", "role"))
    assert roles[alice.pk] == "admin" and roles[bob.pk] == "member" and roles[owner.pk] == "owner"
    # joining and leaving in the identity provider grants and removes it
    group_members_change(
        group=group,
        actor=IDP,
        add=[str(bob.scim_id)],
        remove=[str(alice.scim_id), str(owner.scim_id), str(manual_admin.scim_id)],
    )
    roles = dict(Member.objects.filter(organization=organization).values_list("pk", "role"))
    assert roles[bob.pk] == "admin" and roles[alice.pk] == "member"
    assert roles[owner.pk] == "owner" and roles[manual_admin.pk] == "admin"  # set by hand: kept
    assert (
        AuditLogEntry.objects.filter(action="member.role_changed", after__via="admin group").count()
        == 3
    )
    # deleting the group takes the granted role away
    group_delete(group=group, actor=IDP)
    assert Member.objects.get(pk=bob.pk).role == "member"


def test_only_owners_map_a_group_to_the_admin_role(owner):
    group = GroupFactory(organization=owner.organization)
    admin = AdminFactory(organization=owner.organization)
    signed_in_client(admin).post(f"/groups/{group.pk}/admin/", {"grants_admin": "on"})
    owner.organization.refresh_from_db()
    assert owner.organization.admin_group is None
    with pytest.raises(Exception, match="Only owners"):
        organization_set_admin_group(organization=owner.organization, group=group, by=admin)


def test_clearing_the_mapping_returns_group_admins_to_members(owner, owner_client):
    member = ActiveMemberFactory(organization=owner.organization)
    group = GroupFactory(organization=owner.organization)
    GroupMembershipFactory(group=group, member=member)
    owner_client.post(f"/groups/{group.pk}/admin/", {"grants_admin": "on"})
    assert Member.objects.get(pk=member.pk).role == "admin"
    owner_client.post(f"/groups/{group.pk}/admin/", {})
    assert Member.objects.get(pk=member.pk).role == "member"


@pytest.mark.parametrize(
    "url", ["/users/1/", "/groups/1/", "/users/1/suspend/", "/groups/1/admin/"]
)
def test_members_get_403_on_directory_pages(url):
    client = signed_in_client(ActiveMemberFactory(role="member"))
    response = client.post(url) if url.endswith(("suspend/", "admin/")) else client.get(url)
    assert response.status_code == 403


# --- the audit log -------------------------------------------------------------------------------


def test_audit_log_filters_and_csv_export(owner, owner_client):
    organization = owner.organization
    make = AuditLogEntry.objects.create
    make(
        organization=organization,
        actor_kind="idp",
        actor_label="Microsoft Entra ID",
        action="member.provisioned",
        target_type="member",
        target_id="1",
        target_label="ann@contoso.com",
    )
    make(
        organization=organization,
        actor_kind="user",
        actor_label=owner.email,
        action="scim_token.issued",
        target_label='=HYPERLINK("evil")',
    )
    make(
        organization=OwnerFactory().organization,
        actor_kind="idp",
        actor_label="Okta",
        action="member.provisioned",
        target_label="theirs@x.com",
    )

    def labels(query: str) -> list[str]:
        return [
            e.target_label
            for e in owner_client.get(f"/activity/?{query}").context["page"].object_list
        ]

    assert labels("actor_kind=idp") == ["ann@contoso.com"]
    assert labels("action=scim_token") == ['=HYPERLINK("evil")']
    assert labels("q=ann") == ["ann@contoso.com"]
    assert labels("since=2000-01-01T00:00&until=2001-01-01T00:00") == []
    response = owner_client.get("/activity/audit.csv?actor_kind=user")
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="audit-log-{organization.slug}-' in response["Content-Disposition"]
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "time,actor_kind,actor,action,target_type,target,before,after"
    assert len(lines) == 2 and "'=HYPERLINK" in lines[1]
    assert (
        "theirs@x.com"
        not in b"".join(owner_client.get("/activity/audit.csv").streaming_content).decode()
    )


def test_audit_csv_is_for_admins_only():
    client = signed_in_client(ActiveMemberFactory(role="member"))
    assert client.get("/activity/audit.csv").status_code == 403


def test_invitation_filter_uses_the_latest_state(owner, owner_client):
    organization = owner.organization
    resent = MemberFactory(
        organization=organization, user_name="resent@x.com", email="resent@x.com"
    )
    expired = MemberFactory(
        organization=organization, user_name="expired@x.com", email="expired@x.com"
    )
    for member, statuses in ((resent, ["expired", "sent"]), (expired, ["expired"])):
        for n, status in enumerate(statuses):
            Invitation.objects.create(
                organization=organization, member=member, email=member.email, status=status,
                nonce=f"{member.pk}-{n}", token_digest=f"{member.pk}{n}".zfill(64),
                expires_at=member.created_at,
            )  # fmt: skip

    def names(state: str) -> set[str]:
        page = owner_client.get(f"/users/?invitation={state}").context["page"]
        return {m.user_name for m in page.object_list}

    assert names("sent") == {"resent@x.com"}
    assert names("expired") == {"expired@x.com"}  # the resent one has a newer, open invitation


def test_risky_member_actions_ask_for_confirmation_and_actions_read_as_words(owner, owner_client):
    member = MemberFactory(organization=owner.organization, source="panel")
    AuditLogEntry.objects.create(
        organization=owner.organization,
        actor_kind="user",
        actor_label=owner.email,
        action="scim_token.issued",
        target_label="token",
    )
    html = owner_client.get(f"/users/{member.pk}/").content.decode()
    assert 'data-confirm="Remove ' in html and 'data-confirm="Suspend ' in html
    assert "js/confirm.js" in html
    activity = owner_client.get("/activity/").content.decode()
    assert "Provisioning credentials issued" in activity
