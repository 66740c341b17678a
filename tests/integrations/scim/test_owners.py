"""Owners over SCIM: a fresh organization's owner is a complete user, and the identity provider
can never lock the organization out by suspending, removing or demoting its last active owner.

Replayed over real HTTP (`live_scim`) in the shapes Entra ID and Okta send.
"""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from accounts.audit import Actor
from accounts.models import AuditLogEntry, Member, Organization
from accounts.services import directory, member_set_active
from accounts.services.roles import organization_set_admin_group
from integrations import deprovision_guard, services
from integrations.models import (
    DeprovisionGuardPolicy,
    DeprovisionHold,
    HeldDeprovisioning,
    ScimRequest,
)
from integrations.scim.errors import ERROR_SCHEMA
from tests.factories import GroupFactory, GroupMembershipFactory, MemberFactory, OwnerFactory
from tests.integrations.scim.conftest import LiveScimClient, ScimClient

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

live = pytest.mark.django_db(transaction=True)


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def put_body(member: Member) -> dict[str, Any]:
    """Okta's custom-app deactivation: the whole user, with `active: false` and a new name."""
    return {
        "schemas": [USER_SCHEMA],
        "id": str(member.scim_id),
        "userName": member.user_name,
        "name": {"givenName": "Renamed", "familyName": "Person"},
        "emails": [{"value": member.email, "type": "work", "primary": True}],
        "active": False,
    }


# Each way an identity provider deprovisions a user: (method, body, what the refusal names).
DEPROVISIONING = {
    "Entra PATCH path active, 'False'": (
        "PATCH",
        lambda m: patch_body({"op": "Replace", "path": "active", "value": "False"}),
        "suspension",
    ),
    "Entra PATCH without path, 'False'": (
        "PATCH",
        lambda m: patch_body({"op": "Replace", "value": {"active": "False"}}),
        "suspension",
    ),
    "Okta PATCH without path, false": (
        "PATCH",
        lambda m: patch_body({"op": "replace", "value": {"active": False}}),
        "suspension",
    ),
    "PUT active false": ("PUT", put_body, "suspension"),
    "DELETE": ("DELETE", lambda m: None, "removal"),
}


def deprovision(client: ScimClient, member: Member, shape: str):
    method, body, _ = DEPROVISIONING[shape]
    return client.request(method, f"/Users/{member.scim_id}", body(member))


def last_owner_detail(member: Member, shape: str) -> str:
    change = DEPROVISIONING[shape][2]
    return (
        f"{member.user_name} is the last owner of this organization in the admin panel; "
        f"make another owner first. The {change} was not applied."
    )


def snapshot(member: Member) -> dict[str, Any]:
    member.refresh_from_db()
    return {
        "status": member.status,
        "role": member.role,
        "source": member.source,
        "version": member.version,
        "given_name": member.given_name,
        "scim_attributes": member.scim_attributes,
        "audit": AuditLogEntry.objects.filter(organization=member.organization).count(),
    }


@pytest.fixture
def hold_everything(organization):
    """A guard that holds the next deprovisioning: the organization allows one per hour (its
    own minimum, 1) and the identity provider has just used it on another member."""
    DeprovisionGuardPolicy.objects.update_or_create(
        organization=organization,
        defaults={"enabled": True, "share_percent": 1, "min_members": 1, "window_seconds": 3600},
    )
    spent = MemberFactory(organization=organization)
    member_set_active(member=spent, active=False, actor=Actor.identity_provider("Entra ID"))


# --- a fresh organization's owner is a complete SCIM user ----------------------------------------


@live
def test_okta_spec_test_finds_a_named_owner_in_a_fresh_organization(live_server, settings):
    # given: an organization made the way an operator does, and credentials for it
    settings.SITE_URL = live_server.url
    call_command(
        "create_organization",
        "--name",
        "Analytical Engines",
        "--owner-email",
        "ada@engines.test",
        "--owner-name",
        "Ada  Lovelace ",
        "--owner-password",
        "a-long-and-unusual-passphrase",
        "--no-input",
        stdout=StringIO(),
    )
    organization = Organization.objects.get(slug="analytical-engines")
    issued = services.scim_token_issue(organization=organization, actor=Actor.system("tests"))
    okta = LiveScimClient(organization, issued.secret, server_url=live_server.url)
    # when: step 1 of Okta's SCIM 2.0 spec test
    listed = okta.get("/Users?count=1&startIndex=1")
    # then
    assert listed.status == 200
    page = listed.body
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (1, 1, 1)
    user = listed.body["Resources"][0]
    assert user["name"] == {
        "givenName": "Ada",
        "familyName": "Lovelace",
        "formatted": "Ada Lovelace",
    }
    assert user["userName"] == "ada@engines.test"
    assert user["displayName"] == "Ada Lovelace"
    assert user["active"] is True
    assert user["emails"][0]["value"] == "ada@engines.test"
    # and step 2: the same user by id
    fetched = okta.get(f"/Users/{user['id']}")
    assert fetched.status == 200
    assert fetched.body["name"] == user["name"]


# --- the last active owner -----------------------------------------------------------------------


@live
@pytest.mark.parametrize("shape", list(DEPROVISIONING))
def test_the_last_owner_is_never_deprovisioned(live_scim, hold_everything, shape):
    # given: one active owner, and a guard that would hold any deprovisioning
    owner = OwnerFactory(organization=live_scim.organization, given_name="Olga")
    before = snapshot(owner)
    # when
    response = deprovision(live_scim, owner, shape)
    # then: refused first, in words an Entra admin can act on
    detail = last_owner_detail(owner, shape)
    assert response.status == 400
    assert response.body == {
        "schemas": [ERROR_SCHEMA],
        "status": "400",
        "scimType": "mutability",
        "detail": detail,
    }
    # and nothing changed: status, role, profile, version, audit log
    assert snapshot(owner) == before
    # and the provisioning log says so
    logged = ScimRequest.objects.filter(organization=live_scim.organization).latest("created_at")
    assert (logged.status_code, logged.outcome) == (400, f"Rejected: {detail}")
    # and the guard neither held nor recorded anything
    assert not DeprovisionHold.objects.exists()
    assert not HeldDeprovisioning.objects.exists()


@live
@pytest.mark.parametrize("shape", list(DEPROVISIONING))
def test_an_owner_with_another_active_owner_is_deprovisioned_as_before(live_scim, settings, shape):
    # given: two active owners, the guard off
    settings.DEPROVISION_GUARD_SHARE = 0
    owner, _other = OwnerFactory.create_batch(2, organization=live_scim.organization)
    # when
    response = deprovision(live_scim, owner, shape)
    # then
    owner.refresh_from_db()
    if DEPROVISIONING[shape][0] == "DELETE":
        assert response.status == 204
        assert owner.status == Member.Status.DELETED
    else:
        assert response.status == 200
        assert response.body["active"] is False
        assert owner.status == Member.Status.SUSPENDED


@live
def test_an_owner_with_another_active_owner_still_meets_the_guard(live_scim, hold_everything):
    # given: two owners, so the last-owner rule lets the suspension through to the guard
    owner, _other = OwnerFactory.create_batch(2, organization=live_scim.organization)
    # when
    response = deprovision(live_scim, owner, "Entra PATCH path active, 'False'")
    # then: the guard holds it as it holds any other member (the fixture does trip)
    assert response.status == 429
    assert HeldDeprovisioning.objects.get().member_id == owner.pk


@live
def test_only_active_owners_count(live_scim, settings):
    # given: an active owner, an owner suspended in the panel and one who never registered
    settings.DEPROVISION_GUARD_SHARE = 0
    organization = live_scim.organization
    owner = OwnerFactory(organization=organization)
    suspended = OwnerFactory(organization=organization, status=Member.Status.SUSPENDED)
    OwnerFactory(organization=organization, status=Member.Status.INVITED, user=None)
    # when / then: the active one is still the last owner
    refused = deprovision(live_scim, owner, "Entra PATCH without path, 'False'")
    assert (refused.status, refused.body["scimType"]) == (400, "mutability")
    owner.refresh_from_db()
    assert owner.status == Member.Status.ACTIVE
    # and the suspended owner can be removed: they were no safeguard anyway
    assert deprovision(live_scim, suspended, "DELETE").status == 204


@live
def test_a_patch_that_leaves_the_last_owner_active_still_applies(live_scim):
    # given
    owner = OwnerFactory(organization=live_scim.organization)
    # when: Entra updates the owner's name and says active
    response = live_scim.patch(
        f"/Users/{owner.scim_id}",
        patch_body(
            {"op": "Replace", "path": "name.givenName", "value": "Olga"},
            {"op": "Replace", "path": "active", "value": "True"},
        ),
    )
    # then
    assert response.status == 200
    owner.refresh_from_db()
    assert (owner.given_name, owner.status, owner.role) == ("Olga", "active", "owner")


# --- the admin-group mapping never demotes an owner ----------------------------------------------


def _admin_group_with_owner(scim: ScimClient) -> tuple[Member, Any]:
    organization = scim.organization
    owner = OwnerFactory(organization=organization)
    group = GroupFactory(organization=organization, display_name="Panel admins")
    GroupMembershipFactory(group=group, member=owner)
    organization_set_admin_group(organization=organization, group=group, by=owner)
    return owner, group


def _role_changes(owner: Member) -> int:
    return AuditLogEntry.objects.filter(
        action="member.role_changed", target_type="member", target_id=str(owner.pk)
    ).count()


@pytest.mark.parametrize(
    "leave",
    [
        "PATCH remove by filter",
        "PATCH replace members",
        "PUT without members",
        "DELETE group",
        "unmap in the panel",
    ],
)
def test_leaving_the_admin_group_never_demotes_the_last_owner(scim, leave):
    # given: the only owner is a member of the admin group
    owner, group = _admin_group_with_owner(scim)
    path = f"/Groups/{group.scim_id}"
    # when
    if leave == "PATCH remove by filter":
        op = {"op": "Remove", "path": f'members[value eq "{owner.scim_id}"]'}
        response = scim.patch(path, patch_body(op))
    elif leave == "PATCH replace members":
        response = scim.patch(path, patch_body({"op": "replace", "path": "members", "value": []}))
    elif leave == "PUT without members":
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"]}
        response = scim.put(path, {**body, "displayName": "Panel admins", "members": []})
    elif leave == "DELETE group":
        response = scim.delete(path)
    else:
        organization_set_admin_group(organization=scim.organization, group=None, by=owner)
        response = None
    # then
    assert response is None or response.status in (200, 204)
    owner.refresh_from_db()
    assert (owner.role, owner.status, owner.role_from_group) == ("owner", "active", False)
    assert _role_changes(owner) == 0


def test_joining_the_admin_group_never_turns_an_owner_into_an_admin(scim):
    # given
    _owner, group = _admin_group_with_owner(scim)
    second = OwnerFactory(organization=scim.organization)
    # when
    response = scim.patch(
        f"/Groups/{group.scim_id}",
        patch_body({"op": "add", "path": "members", "value": [{"value": str(second.scim_id)}]}),
    )
    # then
    assert response.status == 204
    second.refresh_from_db()
    assert second.role == "owner"
    assert _role_changes(second) == 0


def test_applying_a_hold_skips_an_owner_who_has_become_the_last(scim, hold_everything):
    # given: the guard holds the identity provider's suspension of one of two owners...
    held_owner, other = OwnerFactory.create_batch(2, organization=scim.organization)
    held = deprovision(scim, held_owner, "Entra PATCH path active, 'False'")
    assert held.status == 429
    # ...and an owner then suspends the other owner in the panel
    directory.member_suspend(member=other, by=held_owner)
    hold = DeprovisionHold.objects.get()
    # when: an admin applies the held changes
    report = deprovision_guard.deprovision_hold_apply(hold=hold, actor=Actor.system("tests"))
    # then: the organization keeps its last active owner
    held_owner.refresh_from_db()
    assert (held_owner.status, held_owner.role) == ("active", "owner")
    assert (report.applied, report.skipped) == (0, 1)
    assert HeldDeprovisioning.objects.get().resolution == HeldDeprovisioning.Resolution.SKIPPED
