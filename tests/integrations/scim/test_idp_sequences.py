"""What Okta and Microsoft Entra ID really send, replayed request by request (black-box HTTP).

Each test follows one identity-provider workflow from scim-notes.md in the order the provider
runs it, and checks every answer (status and whole body) and the database after it:

- Okta (§11): the SCIM 2.0 spec test, assignment, PUT profile updates, deactivation and
  reactivation by PATCH (OIN apps) and by PUT (AIW apps), password sync, Push Groups, import.
- Entra ID (§3): Test Connection, the initial cycle with its manager pass and its groups, an
  incremental cycle that changes nothing, disable and re-enable, hard delete, on-demand
  provisioning in the legacy (no aadOptscim062020 flag) dialect, and the §6 quirks checklist.
- The 404 and 409 answers Entra sees (§7), checked literally.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from accounts.models import AuditLogEntry, Group, GroupMembership, Invitation, Member
from integrations.models import ScimRequest
from integrations.scim.middleware import AUTHENTICATION_FAILED
from tests.factories import MemberFactory
from tests.integrations.scim.conftest import ScimClient, ScimResponse
from tests.integrations.scim.examples import OKTA_CREATE_USER
from tests.integrations.scim.test_auth_and_discovery import assert_scim_error

pytestmark = pytest.mark.django_db

SITE_URL = "https://admin.example.com"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ADSCIM = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_CONTENT_TYPE = "application/scim+json; charset=utf-8"

OKTA_USER_AGENT = "Okta SCIM Client 1.0.0"
OKTA_CREATE = OKTA_CREATE_USER


class Okta:
    """Sends what Okta's SCIM client sends: its User-Agent on every request, and a charset in
    the Content-Type of every body."""

    def __init__(self, scim: ScimClient, *, content_type: str = SCIM_CONTENT_TYPE) -> None:
        scim.user_agent = OKTA_USER_AGENT
        self.scim = scim
        self.content_type = content_type

    def get(self, path: str, **kwargs: Any) -> ScimResponse:
        return self.scim.get(path, **kwargs)

    def post(self, path: str, body: Any) -> ScimResponse:
        return self.scim.post(path, body, content_type=self.content_type)

    def put(self, path: str, body: Any) -> ScimResponse:
        return self.scim.put(path, body, content_type=self.content_type)

    def patch(self, path: str, body: Any) -> ScimResponse:
        return self.scim.patch(path, body, content_type=self.content_type)

    def delete(self, path: str) -> ScimResponse:
        return self.scim.delete(path)


@pytest.fixture(autouse=True)
def _site_url(settings) -> None:
    settings.SITE_URL = SITE_URL


@pytest.fixture
def okta(scim) -> Okta:
    return Okta(scim)


# --- expected documents -------------------------------------------------------------------------


def tenant_url(scim: ScimClient) -> str:
    return f"{SITE_URL}/scim/v2/{scim.organization.tenant_id}"


def user_meta(scim: ScimClient, user_id: str) -> dict[str, str]:
    """The `meta` the server must return for a user, read from the database row."""
    member = Member.objects.get(scim_id=user_id)
    return {
        "resourceType": "User",
        "created": member.created_at.isoformat(),
        "lastModified": member.updated_at.isoformat(),
        "location": f"{tenant_url(scim)}/Users/{user_id}",
        "version": f'W/"{member.version}"',
    }


def group_meta(scim: ScimClient, group_id: str) -> dict[str, str]:
    group = Group.objects.get(scim_id=group_id)
    return {
        "resourceType": "Group",
        "created": group.created_at.isoformat(),
        "lastModified": group.updated_at.isoformat(),
        "location": f"{tenant_url(scim)}/Groups/{group_id}",
        "version": f'W/"{group.version}"',
    }


def group_reference(scim: ScimClient, group_id: str, display: str) -> dict[str, str]:
    """An entry of a user's `groups`."""
    return {"value": group_id, "$ref": f"{tenant_url(scim)}/Groups/{group_id}", "display": display}


def member_reference(scim: ScimClient, user_id: str, display: str) -> dict[str, str]:
    """An entry of a group's `members`."""
    return {
        "value": user_id,
        "$ref": f"{tenant_url(scim)}/Users/{user_id}",
        "type": "User",
        "display": display,
    }


def manager_reference(scim: ScimClient, manager_id: str) -> dict[str, str]:
    return {"value": manager_id, "$ref": f"{tenant_url(scim)}/Users/{manager_id}"}


def list_response(*resources: dict[str, Any], total: int | None = None) -> dict[str, Any]:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": len(resources) if total is None else total,
        "itemsPerPage": len(resources),
        "startIndex": 1,
        "Resources": list(resources),
    }


def error_body(status: int, detail: str, scim_type: str | None = None) -> dict[str, str]:
    body = {"schemas": [ERROR], "status": str(status), "detail": detail}
    if scim_type is not None:
        body["scimType"] = scim_type
    return body


def query(collection: str, **params: str) -> str:
    """A query string encoded as the providers send it: `userName%20eq%20%22a%40b%22`."""
    return f"/{collection}?{urlencode(params, quote_via=quote)}"


def patch_op(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def assert_no_content(response: ScimResponse) -> None:
    assert response.status == 204, response.body
    assert response.raw == b""


def assert_resource(response: ScimResponse, status: int, expected: dict[str, Any]) -> None:
    """Status, whole body, and the headers RFC 7644 asks of a single resource."""
    assert response.status == status, response.body
    assert response.body == expected
    assert response.headers["Content-Type"] == SCIM_CONTENT_TYPE
    assert response.headers["ETag"] == expected["meta"]["version"]
    assert response.headers["Location"] == expected["meta"]["location"]


def assert_list(response: ScimResponse, expected: dict[str, Any]) -> None:
    assert response.status == 200, response.body
    assert response.body == expected
    assert response.headers["Content-Type"] == SCIM_CONTENT_TYPE


def audit_actions(member_or_group: Member | Group) -> list[str]:
    return list(
        AuditLogEntry.objects.filter(
            target_type=member_or_group._meta.model_name, target_id=str(member_or_group.pk)
        )
        .order_by("created_at", "id")
        .values_list("action", flat=True)
    )


def open_invitations(member: Member) -> int:
    return Invitation.objects.filter(member=member, status__in=Invitation.OPEN_STATUSES).count()


# --- Okta (scim-notes §11) ----------------------------------------------------------------------


def test_okta_scim_2_0_spec_test_passes_step_by_step(okta, organization):
    # given: the spec test needs one user on the server before it starts
    seeded = okta.post(
        "/Users",
        {
            "schemas": [USER],
            "userName": "morgan.chen@example.com",
            "name": {"givenName": "Morgan", "familyName": "Chen"},
            "emails": [{"primary": True, "value": "morgan.chen@example.com", "type": "work"}],
            "active": True,
        },
    )
    seeded_id = seeded.body["id"]
    seeded_resource = {
        "schemas": [USER],
        "id": seeded_id,
        "userName": "morgan.chen@example.com",
        "name": {"givenName": "Morgan", "familyName": "Chen"},
        "emails": [{"value": "morgan.chen@example.com", "type": "work", "primary": True}],
        "active": True,
        "groups": [],
        "meta": user_meta(okta.scim, seeded_id),
    }
    assert_resource(seeded, 201, seeded_resource)

    # when / then: 1. the Users endpoint, one user per page
    first_page = okta.get("/Users?count=1&startIndex=1")
    assert_list(first_page, list_response(seeded_resource))

    # 2. that user by id
    assert_resource(okta.get(f"/Users/{seeded_id}"), 200, seeded_resource)

    # 3. a userName that is not an email address matches nothing
    invalid = okta.get(query("Users", filter='userName eq "invalid-email-format"'))
    assert_list(invalid, list_response())

    # 4. an id that does not exist is a 404 SCIM error with a detail
    missing = okta.get("/Users/010101001010101010")
    assert_scim_error(missing, 404)
    assert missing.body == error_body(404, "Member '010101001010101010' not found.")

    # 5. a random address matches nothing
    random_address = f"{uuid.uuid4().hex[:12]}@example.net"
    assert_list(okta.get(query("Users", filter=f'userName eq "{random_address}"')), list_response())

    # 6. a user with realistic values, sent as application/json
    realistic = {
        "schemas": [USER],
        "userName": "Ada.Lovelace@example.net",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"primary": True, "value": "ada@example.org", "type": "work"}],
        "displayName": "Ada Lovelace",
        "active": True,
    }
    created = Okta(okta.scim, content_type="application/json").post("/Users", realistic)
    created_id = created.body["id"]
    created_resource = {
        "schemas": [USER],
        "id": created_id,
        "userName": "Ada.Lovelace@example.net",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": "ada@example.org", "type": "work", "primary": True}],
        "displayName": "Ada Lovelace",
        "active": True,
        "groups": [],
        "meta": user_meta(okta.scim, created_id),
    }
    assert_resource(created, 201, created_resource)

    # 7. the new user by id
    assert_resource(okta.get(f"/Users/{created_id}"), 200, created_resource)

    # 8. the same user again is a conflict
    duplicate = Okta(okta.scim, content_type="application/json").post("/Users", realistic)
    assert_scim_error(duplicate, 409, "uniqueness")
    assert duplicate.body == error_body(
        409, "A member with the userName 'Ada.Lovelace@example.net' already exists.", "uniqueness"
    )

    # 9. the userName in capitals still finds the user (userName is caseExact: false)
    capitals = okta.get(query("Users", filter='userName eq "ADA.LOVELACE@EXAMPLE.NET"'))
    assert_list(capitals, list_response(created_resource))

    # 10. the Groups endpoint answers (Okta's 600 ms limit is a `make bench` figure, not a
    # timed unit test: bench measures GET /Groups at 1.6-8 ms)
    groups = okta.get("/Groups")
    assert_list(groups, list_response())

    # 11. a header that is not a bearer token is refused
    refused = okta.get(
        query("Users", filter='userName eq "ada@example.org"'),
        token="",
        headers={"Authorization": "non-token"},
    )
    assert_scim_error(refused, 401)
    assert refused.body == error_body(
        401,
        AUTHENTICATION_FAILED,
    )

    # 12. another id that does not exist
    assert okta.get("/Users/00919288221112222").body == error_body(
        404, "Member '00919288221112222' not found."
    )
    # and the database holds exactly the two users, both managed by the identity provider
    assert sorted(
        Member.objects.filter(organization=organization).values_list("user_name", "source")
    ) == [("Ada.Lovelace@example.net", "idp"), ("morgan.chen@example.com", "idp")]


def test_okta_assigns_updates_deactivates_and_reactivates_a_user(okta, organization):
    # given: Okta checks whether the user exists, exactly as its documentation shows
    lookup = okta.get(
        "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100"
    )
    assert_list(lookup, list_response())

    # when: assignment creates the user (password, groups: [] and locale included)
    created = okta.post("/Users", OKTA_CREATE)

    # then: the whole user comes back, without the password and with the server's groups
    user_id = created.body["id"]
    resource = {
        "schemas": [USER],
        "id": user_id,
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"value": "test.user@okta.local", "type": "work", "primary": True}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "active": True,
        "groups": [],
        "meta": user_meta(okta.scim, user_id),
    }
    assert_resource(created, 201, resource)
    assert resource["meta"]["version"] == 'W/"1"'
    member = Member.objects.get(scim_id=user_id)
    assert (member.organization, member.status, member.source) == (organization, "invited", "idp")
    assert (member.email, member.full_name, member.external_id) == (
        "test.user@okta.local",
        "Test User",
        "00ujl29u0le5T6Aj10h7",
    )
    assert "1mz050nq" not in json.dumps(member.scim_attributes)
    provisioned = AuditLogEntry.objects.get(action="member.provisioned")
    assert (provisioned.actor_kind, provisioned.actor_label) == ("idp", "Okta")
    assert open_invitations(member) == 1

    # when: Okta looks the user up with the case of the userName changed
    found = okta.get(query("Users", filter='userName eq "Test.User@OKTA.local"', count="100"))
    # then: the same user is matched, so Okta does not POST a duplicate
    assert_list(found, list_response(resource))

    # when: Okta reads the user by id, then PUTs the whole profile with a changed first name
    assert_resource(okta.get(f"/Users/{user_id}"), 200, resource)
    updated = okta.put(
        f"/Users/{user_id}",
        {
            "schemas": [USER],
            "id": user_id,
            "userName": "test.user@okta.local",
            "name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
            "emails": [
                {
                    "primary": True,
                    "value": "test.user@okta.local",
                    "type": "work",
                    "display": "test.user@okta.local",
                }
            ],
            "displayName": "Another User",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "active": True,
            "groups": [],
            "meta": {"resourceType": "User"},
        },
    )
    # then: the response is the updated user
    resource = {
        **resource,
        "name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
        "emails": [
            {
                "value": "test.user@okta.local",
                "display": "test.user@okta.local",
                "type": "work",
                "primary": True,
            }
        ],
        "displayName": "Another User",
        "meta": user_meta(okta.scim, user_id),
    }
    assert_resource(updated, 200, resource)
    assert resource["meta"]["version"] == 'W/"2"'
    member.refresh_from_db()
    assert (member.given_name, member.full_name, member.status) == (
        "Another",
        "Another User",
        "invited",
    )

    # when: the user is deactivated in Okta (OIN apps: a path-less PATCH)
    deactivated = okta.patch(
        f"/Users/{user_id}", patch_op({"op": "replace", "value": {"active": False}})
    )
    # then
    resource = {**resource, "active": False, "meta": user_meta(okta.scim, user_id)}
    assert_resource(deactivated, 200, resource)
    member.refresh_from_db()
    assert member.status == "suspended" and member.suspended_at is not None
    assert open_invitations(member) == 0
    # and the deactivated user is still found, so a later assignment matches it
    still_found = okta.get(query("Users", filter='userName eq "test.user@okta.local"'))
    assert_list(still_found, list_response(resource))

    # when: the user is reactivated
    reactivated = okta.patch(
        f"/Users/{user_id}", patch_op({"op": "replace", "value": {"active": True}})
    )
    # then
    resource = {**resource, "active": True, "meta": user_meta(okta.scim, user_id)}
    assert_resource(reactivated, 200, resource)
    assert resource["meta"]["version"] == 'W/"4"'
    member.refresh_from_db()
    assert (member.status, member.suspended_at) == ("invited", None)
    assert open_invitations(member) == 1

    # when: Okta syncs a password (OIN apps: PATCH)
    synced = okta.patch(
        f"/Users/{user_id}", patch_op({"op": "replace", "value": {"password": "n3w-Passw0rd"}})
    )
    # then: accepted, nothing stored, nothing changed
    assert_resource(synced, 200, resource)
    member.refresh_from_db()
    assert "n3w-Passw0rd" not in json.dumps(member.scim_attributes)
    assert member.version == 4

    # and every step is audited as Okta and logged as an Okta request, no secret kept
    assert audit_actions(member) == [
        "member.provisioned",
        "invitation.created",
        "member.updated",
        "member.suspended",
        "member.reactivated",
        "invitation.created",
    ]
    assert set(
        AuditLogEntry.objects.filter(target_id=str(member.pk), action__startswith="member.")
        .values_list("actor_kind", "actor_label")
        .distinct()
    ) == {("idp", "Okta")}
    log = ScimRequest.objects.filter(organization=organization).order_by("created_at", "id")
    assert set(log.values_list("client_kind", flat=True)) == {"okta"}
    assert list(log.values_list("method", "status_code", "outcome")) == [
        ("GET", 200, 'Found 0 members for userName eq "test.user@okta.local"'),
        ("POST", 201, "Created member test.user@okta.local"),
        ("GET", 200, 'Found 1 member for userName eq "Test.User@OKTA.local"'),
        ("GET", 200, "Read member test.user@okta.local"),
        ("PUT", 200, "Updated member test.user@okta.local"),
        ("PATCH", 200, "Suspended member test.user@okta.local"),
        ("GET", 200, 'Found 1 member for userName eq "test.user@okta.local"'),
        ("PATCH", 200, "Reactivated member test.user@okta.local"),
        ("PATCH", 200, "No change to member test.user@okta.local"),
    ]
    assert not log.filter(request_body__contains="1mz050nq").exists()
    assert not log.filter(request_body__contains="n3w-Passw0rd").exists()
    assert Member.objects.filter(organization=organization).count() == 1


def test_okta_custom_app_sends_every_user_and_group_change_as_put(okta, organization):
    # given: a custom (App Integration Wizard) app; the user is created as for any Okta app
    user_id = okta.post("/Users", OKTA_CREATE).body["id"]
    profile = {
        "schemas": [USER],
        "id": user_id,
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "Userson"},
        "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test Userson",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "meta": {"resourceType": "User"},
    }
    expected = {
        **{key: value for key, value in profile.items() if key != "meta"},
        "emails": [{"value": "test.user@okta.local", "type": "work", "primary": True}],
    }

    # when: a profile change, a deactivation and a reactivation, each a PUT of the whole user
    renamed = okta.put(f"/Users/{user_id}", {**profile, "active": True})
    assert_resource(
        renamed, 200, {**expected, "active": True, "meta": user_meta(okta.scim, user_id)}
    )
    deactivated = okta.put(f"/Users/{user_id}", {**profile, "active": False})
    assert_resource(
        deactivated, 200, {**expected, "active": False, "meta": user_meta(okta.scim, user_id)}
    )
    assert Member.objects.get(scim_id=user_id).status == "suspended"
    # (a custom app syncs passwords in the same PUT)
    reactivated = okta.put(f"/Users/{user_id}", {**profile, "active": True, "password": "S3cond!"})

    # then
    assert_resource(
        reactivated, 200, {**expected, "active": True, "meta": user_meta(okta.scim, user_id)}
    )
    member = Member.objects.get(scim_id=user_id)
    assert (member.status, member.family_name, member.version) == ("invited", "Userson", 4)
    assert "S3cond!" not in json.dumps(member.scim_attributes)
    assert audit_actions(member)[-3:] == [
        "member.suspended",
        "member.reactivated",
        "invitation.created",
    ]

    # when: a pushed group is renamed and its members set with PUT
    group_id = okta.post(
        "/Groups", {"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []}
    ).body["id"]
    replaced = okta.put(
        f"/Groups/{group_id}",
        {
            "schemas": [GROUP],
            "id": group_id,
            "displayName": "Test SCIMv20",
            "members": [{"value": user_id, "display": "test.user@okta.local"}],
        },
    )

    # then
    assert_resource(
        replaced,
        200,
        {
            "schemas": [GROUP],
            "id": group_id,
            "displayName": "Test SCIMv20",
            "members": [member_reference(okta.scim, user_id, "Test Userson")],
            "meta": group_meta(okta.scim, group_id),
        },
    )
    group = Group.objects.get(scim_id=group_id)
    assert group.display_name == "Test SCIMv20"
    assert list(group.members.values_list("scim_id", flat=True)) == [uuid.UUID(user_id)]


def test_okta_push_groups_creates_fills_renames_and_deletes_a_group(okta, organization):
    # given: three assigned users
    users = {}
    for given, okta_id in (("Alice", "00u1"), ("Bob", "00u2"), ("Carol", "00u3")):
        body = {
            **OKTA_CREATE,
            "userName": f"{given.lower()}@okta.local",
            "name": {"givenName": given, "familyName": "Example"},
            "emails": [{"primary": True, "value": f"{given.lower()}@okta.local", "type": "work"}],
            "displayName": f"{given} Example",
            "externalId": okta_id,
        }
        users[given] = okta.post("/Users", body).body["id"]
    alice, bob, carol = users["Alice"], users["Bob"], users["Carol"]

    # when: the admin pushes an Okta group
    created = okta.post(
        "/Groups", {"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []}
    )

    # then: the group as a GET would return it
    group_id = created.body["id"]
    resource = {
        "schemas": [GROUP],
        "id": group_id,
        "displayName": "Test SCIMv2",
        "members": [],
        "meta": group_meta(okta.scim, group_id),
    }
    assert_resource(created, 201, resource)
    group = Group.objects.get(scim_id=group_id)
    assert (group.organization, group.source, group.display_name) == (
        organization,
        "idp",
        "Test SCIMv2",
    )
    assert_resource(okta.get(f"/Groups/{group_id}"), 200, resource)

    # when: a membership update, which Okta precedes by a name update carrying the group's id
    same_name = okta.patch(
        f"/Groups/{group_id}",
        patch_op({"op": "replace", "value": {"id": group_id, "displayName": "Test SCIMv2"}}),
    )
    membership = okta.patch(
        f"/Groups/{group_id}",
        patch_op(
            {"op": "remove", "path": 'members[value eq "89bb1940-b905-4575-9e7f-6f887cfb368e"]'},
            {"op": "add", "path": "members", "value": [{"value": alice, "display": "alice"}]},
        ),
    )

    # then: the unknown id to remove is ignored, Alice is in, nothing else changed
    assert_no_content(same_name)
    assert_no_content(membership)
    assert_resource(
        okta.get(f"/Groups/{group_id}"),
        200,
        {
            **resource,
            "members": [member_reference(okta.scim, alice, "Alice Example")],
            "meta": group_meta(okta.scim, group_id),
        },
    )
    assert Group.objects.get(pk=group.pk).version == 2

    # when: the group is renamed in Okta, then Alice leaves and Bob and Carol join
    renamed = okta.patch(
        f"/Groups/{group_id}",
        patch_op({"op": "replace", "value": {"id": group_id, "displayName": "Test SCIMv20"}}),
    )
    swapped = okta.patch(
        f"/Groups/{group_id}",
        patch_op(
            {"op": "remove", "path": f'members[value eq "{alice}"]'},
            {
                "op": "add",
                "path": "members",
                "value": [{"value": bob, "display": "bob"}, {"value": carol, "display": "carol"}],
            },
        ),
    )

    # then
    assert_no_content(renamed)
    assert_no_content(swapped)
    resource = {
        **resource,
        "displayName": "Test SCIMv20",
        "members": [
            member_reference(okta.scim, bob, "Bob Example"),
            member_reference(okta.scim, carol, "Carol Example"),
        ],
        "meta": group_meta(okta.scim, group_id),
    }
    assert_resource(okta.get(f"/Groups/{group_id}"), 200, resource)
    assert_resource(
        okta.get(f"/Users/{bob}"),
        200,
        {
            "schemas": [USER],
            "id": bob,
            "userName": "bob@okta.local",
            "name": {"givenName": "Bob", "familyName": "Example"},
            "emails": [{"value": "bob@okta.local", "type": "work", "primary": True}],
            "displayName": "Bob Example",
            "locale": "en-US",
            "externalId": "00u2",
            "active": True,
            "groups": [group_reference(okta.scim, group_id, "Test SCIMv20")],
            "meta": user_meta(okta.scim, bob),
        },
    )

    # when: Bob's profile changes in Okta: a GET, then a PUT whose `groups` is empty as in
    # Okta's example (groups is read-only: memberships are changed through /Groups only)
    bob_profile = okta.get(f"/Users/{bob}").body
    profile_put = okta.put(
        f"/Users/{bob}",
        {
            **{key: value for key, value in bob_profile.items() if key != "meta"},
            "title": "Account Executive",
            "groups": [],
            "meta": {"resourceType": "User"},
        },
    )

    # then: the answer still lists the group, and the membership is kept
    assert_resource(
        profile_put,
        200,
        {**bob_profile, "title": "Account Executive", "meta": user_meta(okta.scim, bob)},
    )
    assert_resource(okta.get(f"/Groups/{group_id}"), 200, resource)

    # when: a full push of the membership
    pushed = okta.patch(
        f"/Groups/{group_id}",
        patch_op(
            {
                "op": "replace",
                "path": "members",
                "value": [{"value": alice, "display": "alice"}, {"value": bob, "display": "bob"}],
            }
        ),
    )

    # then
    assert_no_content(pushed)
    assert set(
        GroupMembership.objects.filter(group=group).values_list("member__scim_id", flat=True)
    ) == {uuid.UUID(alice), uuid.UUID(bob)}

    # when: Okta imports groups
    imported = okta.get("/Groups?startIndex=1&count=100")

    # then
    resource = {
        **resource,
        "members": [
            member_reference(okta.scim, alice, "Alice Example"),
            member_reference(okta.scim, bob, "Bob Example"),
        ],
        "meta": group_meta(okta.scim, group_id),
    }
    assert_list(imported, list_response(resource))

    # when: the admin unlinks the pushed group with "Delete the group in the target app"
    deleted = okta.delete(f"/Groups/{group_id}")

    # then: the group and its memberships are gone, the users stay
    assert_no_content(deleted)
    assert_scim_error(okta.get(f"/Groups/{group_id}"), 404)
    assert not Group.objects.filter(pk=group.pk).exists()
    assert not GroupMembership.objects.filter(group_id=group.pk).exists()
    assert set(
        Member.objects.filter(organization=organization).values_list("status", flat=True)
    ) == {"invited"}
    assert list(
        AuditLogEntry.objects.filter(target_type="group", target_id=str(group.pk))
        .order_by("created_at", "id")
        .values_list("action", "actor_label")
    ) == [
        ("group.created", "Okta"),
        ("group.members_changed", "Okta"),
        ("group.updated", "Okta"),
        ("group.members_changed", "Okta"),
        ("group.members_changed", "Okta"),
        ("group.deleted", "Okta"),
    ]


def test_okta_import_pages_through_users_by_hundreds_in_a_stable_order(okta, organization):
    # given: 150 users, more than one of Okta's pages
    MemberFactory.create_batch(150, organization=organization)

    # when: saving the app configuration, then an import, page after page
    check = okta.get("/Users?startIndex=1&count=2")
    groups = okta.get("/Groups?startIndex=1&count=100")
    first = okta.get("/Users?startIndex=1&count=100")
    second = okta.get("/Users?startIndex=101&count=100")
    again = okta.get("/Users?startIndex=1&count=100")

    # then: integers in the envelope, every user exactly once, the same order on every request
    assert_list(groups, list_response())
    envelopes = [
        (page.status, page.body["schemas"], page.body["totalResults"])
        for page in (check, first, second)
    ]
    assert envelopes == [(200, [LIST_RESPONSE], 150)] * 3
    assert (check.body["startIndex"], check.body["itemsPerPage"]) == (1, 2)
    assert (first.body["startIndex"], first.body["itemsPerPage"]) == (1, 100)
    assert (second.body["startIndex"], second.body["itemsPerPage"]) == (101, 50)
    for page in (check, first, second):
        for key in ("totalResults", "startIndex", "itemsPerPage"):
            assert type(page.body[key]) is int
    ids = [user["id"] for user in first.body["Resources"] + second.body["Resources"]]
    assert sorted(ids) == sorted(
        str(scim_id)
        for scim_id in Member.objects.filter(organization=organization).values_list(
            "scim_id", flat=True
        )
    )
    assert [user["id"] for user in check.body["Resources"]] == ids[:2]
    assert again.body == first.body


# --- Entra ID (scim-notes §3, §4, §6) -----------------------------------------------------------

# People in the Entra tenant: UPN (userName), mail, given name, surname, mailNickname (externalId),
# employeeId and department, as the default attribute mappings send them (scim-notes §5).
ALICE = ("AliceW@contoso.com", "alice.wilber@contoso.com", "Alice", "Wilber", "AliceW", "1001")
BOB = ("BobK@contoso.com", "bob.kelly@contoso.com", "Bob", "Kelly", "BobK", "1002")
CAROL = ("CarolT@contoso.com", "carol.taylor@contoso.com", "Carol", "Taylor", "CarolT", "1003")
PEOPLE = (ALICE, BOB, CAROL)
SALES_OBJECT_ID = "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"


def entra_create(person: tuple[str, ...]) -> dict[str, Any]:
    """Entra's create request (scim-notes §4.1) for one person of the tenant."""
    upn, mail, given, family, nickname, employee_id = person
    return {
        "schemas": [USER, ENTERPRISE],
        "externalId": nickname,
        "userName": upn,
        "active": True,
        "displayName": f"{given} {family}",
        "emails": [{"primary": True, "type": "work", "value": mail}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": f"{given} {family}", "familyName": family, "givenName": given},
        "roles": [],
        ENTERPRISE: {"employeeNumber": employee_id, "department": "Sales"},
    }


def entra_resource(
    scim: ScimClient,
    user_id: str,
    person: tuple[str, ...],
    *,
    active: bool = True,
    manager: str | None = None,
    groups: tuple[tuple[str, str], ...] = (),
) -> dict[str, Any]:
    """What the server must answer for a person Entra created."""
    upn, mail, given, family, nickname, employee_id = person
    enterprise: dict[str, Any] = {"employeeNumber": employee_id, "department": "Sales"}
    if manager is not None:
        enterprise["manager"] = manager_reference(scim, manager)
    return {
        "schemas": [USER, ENTERPRISE],
        "id": user_id,
        "externalId": nickname,
        "userName": upn,
        "active": active,
        "displayName": f"{given} {family}",
        "emails": [{"value": mail, "type": "work", "primary": True}],
        "name": {"formatted": f"{given} {family}", "familyName": family, "givenName": given},
        ENTERPRISE: enterprise,
        "groups": [group_reference(scim, group_id, name) for group_id, name in groups],
        "meta": user_meta(scim, user_id),
    }


def entra_legacy_update(person: tuple[str, ...], *, active: str = "True") -> dict[str, Any]:
    """Every mapped attribute as Entra sends it without the aadOptscim062020 flag: one
    `Replace` with a path per attribute, `active` as the string of the IsSoftDeleted switch."""
    _upn, mail, given, family, nickname, employee_id = person
    return {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "Replace", "path": "displayName", "value": f"{given} {family}"},
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": mail},
            {"op": "Replace", "path": "name.givenName", "value": given},
            {"op": "Replace", "path": "name.familyName", "value": family},
            {"op": "Replace", "path": "name.formatted", "value": f"{given} {family}"},
            {"op": "Replace", "path": "externalId", "value": nickname},
            {"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": employee_id},
            {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Sales"},
            {"op": "Replace", "path": "active", "value": active},
        ],
    }


def manager_check(user_id: str, manager_id: str, *, attribute: str = "manager") -> str:
    """Entra's query before it writes a manager: is this already the user's manager?

    Microsoft's Example 4 filters on `id` and the unqualified `manager` and asks for `id` only;
    the URN-qualified form is checked in test_users_api.
    """
    return query(
        "Users", filter=f'id eq "{user_id}" and {attribute} eq "{manager_id}"', attributes="id"
    )


def manager_check_hit(user_id: str) -> dict[str, Any]:
    return list_response({"schemas": [USER, ENTERPRISE], "id": user_id})


def entra_initial_cycle(scim: ScimClient) -> dict[str, str]:
    """The initial cycle of `test_entra_initial_cycle_...`, for tests that start after it."""
    ids: dict[str, str] = {}
    for person in PEOPLE:
        assert scim.get(query("Users", filter=f'userName eq "{person[0]}"')).status == 200
        ids[person[2]] = scim.post("/Users", entra_create(person)).body["id"]
    for report in ("Bob", "Carol"):
        response = scim.patch(
            f"/Users/{ids[report]}",
            patch_op({"op": "add", "path": f"{ENTERPRISE}:manager", "value": ids["Alice"]}),
        )
        assert response.status == 200, response.body
    ids["Sales"] = scim.post(
        "/Groups",
        {
            "schemas": [GROUP, ADSCIM],
            "externalId": SALES_OBJECT_ID,
            "displayName": "Sales",
            "meta": {"resourceType": "Group"},
        },
    ).body["id"]
    members = [{"$ref": None, "value": ids[name]} for name in ("Alice", "Bob", "Carol")]
    response = scim.patch(
        f"/Groups/{ids['Sales']}", patch_op({"op": "Add", "path": "members", "value": members})
    )
    assert response.status == 204, response.body
    return ids


def sales_resource(scim: ScimClient, group_id: str) -> dict[str, Any]:
    """The Sales group as Entra reads it: always with excludedAttributes=members."""
    return {
        "schemas": [GROUP],
        "id": group_id,
        "externalId": SALES_OBJECT_ID,
        "displayName": "Sales",
        "meta": group_meta(scim, group_id),
    }


def test_entra_initial_cycle_matches_creates_sets_managers_and_pushes_groups(scim, organization):
    # given: Test Connection looks up a random GUID as userName (and a group, to check access)
    test_user = scim.get(query("Users", filter=f'userName eq "{uuid.uuid4()}"'))
    test_group = scim.get(
        query("Groups", excludedAttributes="members", filter=f'displayName eq "{uuid.uuid4()}"')
    )
    assert_list(test_user, list_response())
    assert_list(test_group, list_response())

    # when: each user in scope is matched by userName, and created when not found
    ids: dict[str, str] = {}
    for person in PEOPLE:
        match = scim.get(query("Users", filter=f'userName eq "{person[0]}"'))
        assert_list(match, list_response())
        created = scim.post("/Users", entra_create(person))
        ids[person[2]] = created.body["id"]
        # then: the user is returned with the id Entra caches for every later request
        assert_resource(created, 201, entra_resource(scim, ids[person[2]], person))
    alice, bob, carol = ids["Alice"], ids["Bob"], ids["Carol"]
    assert sorted(
        Member.objects.filter(organization=organization).values_list(
            "user_name", "email", "external_id", "status", "source", "manager_ref"
        )
    ) == [
        ("AliceW@contoso.com", "alice.wilber@contoso.com", "AliceW", "invited", "idp", ""),
        ("BobK@contoso.com", "bob.kelly@contoso.com", "BobK", "invited", "idp", ""),
        ("CarolT@contoso.com", "carol.taylor@contoso.com", "CarolT", "invited", "idp", ""),
    ]

    # when: the second pass sets the managers: a check first, then the bare id on the
    # enterprise path (scim-notes §4.8)
    for report, person in ((bob, BOB), (carol, CAROL)):
        assert_list(scim.get(manager_check(report, alice)), list_response())
        set_manager = scim.patch(
            f"/Users/{report}",
            patch_op({"op": "add", "path": f"{ENTERPRISE}:manager", "value": alice}),
        )
        # then
        assert_resource(set_manager, 200, entra_resource(scim, report, person, manager=alice))
        assert_list(scim.get(manager_check(report, alice)), manager_check_hit(report))
    assert Member.objects.get(scim_id=bob).manager_ref == alice
    assert Member.objects.get(scim_id=carol).manager_ref == alice

    # when: a group in scope is matched by displayName, then created without members
    group_match = scim.get(
        query("Groups", excludedAttributes="members", filter='displayName eq "Sales"')
    )
    assert_list(group_match, list_response())
    group_created = scim.post(
        "/Groups",
        {
            "schemas": [GROUP, ADSCIM],
            "externalId": SALES_OBJECT_ID,
            "displayName": "Sales",
            "meta": {"resourceType": "Group"},
        },
    )
    group_id = group_created.body["id"]
    assert_resource(group_created, 201, {**sales_resource(scim, group_id), "members": []})

    # when: all its members are added in one PATCH ($ref explicitly null)
    added = scim.patch(
        f"/Groups/{group_id}",
        patch_op(
            {
                "op": "Add",
                "path": "members",
                "value": [{"$ref": None, "value": user_id} for user_id in (alice, bob, carol)],
            }
        ),
    )

    # then: 204, and every later group read excludes members
    assert_no_content(added)
    assert_resource(
        scim.get(f"/Groups/{group_id}?excludedAttributes=members"),
        200,
        sales_resource(scim, group_id),
    )
    assert_list(
        scim.get(query("Groups", excludedAttributes="members", filter='displayName eq "Sales"')),
        list_response(sales_resource(scim, group_id)),
    )
    group = Group.objects.get(scim_id=group_id)
    assert (group.source, group.external_id, group.version) == ("idp", SALES_OBJECT_ID, 2)
    assert set(group.members.values_list("scim_id", flat=True)) == {
        uuid.UUID(alice),
        uuid.UUID(bob),
        uuid.UUID(carol),
    }
    assert_resource(
        scim.get(f"/Users/{bob}"),
        200,
        entra_resource(scim, bob, BOB, manager=alice, groups=((group_id, "Sales"),)),
    )
    assert sorted(
        AuditLogEntry.objects.filter(organization=organization, actor_kind="idp")
        .exclude(action__startswith="invitation.")
        .values_list("action", flat=True)
    ) == [
        "group.created",
        "group.members_changed",
        "member.provisioned",
        "member.provisioned",
        "member.provisioned",
        "member.updated",
        "member.updated",
    ]


def test_entra_manager_check_names_manager_without_its_schema_urn(scim):
    # given: Alice and Bob were created by the first pass
    alice = scim.post("/Users", entra_create(ALICE)).body["id"]
    bob = scim.post("/Users", entra_create(BOB)).body["id"]

    # when: the reference pass checks Bob's manager as Microsoft's example does
    before = scim.get(manager_check(bob, alice, attribute="manager"))
    set_manager = scim.patch(
        f"/Users/{bob}", patch_op({"op": "add", "path": f"{ENTERPRISE}:manager", "value": alice})
    )
    after = scim.get(manager_check(bob, alice, attribute="manager"))

    # then: no match before the manager is set, Bob once it is
    assert_list(before, list_response())
    assert set_manager.status == 200
    assert_list(after, manager_check_hit(bob))


def test_entra_incremental_cycle_without_changes_changes_nothing(scim, organization):
    # given: the initial cycle ran
    ids = entra_initial_cycle(scim)
    versions = set(Member.objects.values_list("scim_id", "version", "updated_at"))
    group_version = Group.objects.filter(scim_id=ids["Sales"]).values_list("version", "updated_at")[
        0
    ]
    patches_before = ScimRequest.objects.filter(method="PATCH").count()
    audit_rows = AuditLogEntry.objects.count()
    invitations = Invitation.objects.count()
    memberships = set(GroupMembership.objects.values_list("group_id", "member_id"))

    # when: the next cycle matches every user again and re-sends the values it holds,
    # checks the managers and re-adds the members
    for person in PEOPLE:
        user_id = ids[person[2]]
        manager = ids["Alice"] if person is not ALICE else None
        groups = ((ids["Sales"], "Sales"),)
        match = scim.get(query("Users", filter=f'userName eq "{person[0]}"'))
        assert_list(
            match,
            list_response(entra_resource(scim, user_id, person, manager=manager, groups=groups)),
        )
        updated = scim.patch(f"/Users/{user_id}", entra_legacy_update(person))
        # then: each answer is the unchanged user
        assert_resource(
            updated, 200, entra_resource(scim, user_id, person, manager=manager, groups=groups)
        )
        if manager is not None:
            # the manager is already right: no PATCH follows
            assert_list(scim.get(manager_check(user_id, manager)), manager_check_hit(user_id))
    group_match = scim.get(
        query("Groups", excludedAttributes="members", filter='displayName eq "Sales"')
    )
    assert_list(group_match, list_response(sales_resource(scim, ids["Sales"])))
    readd = scim.patch(
        f"/Groups/{ids['Sales']}",
        patch_op(
            {
                "op": "Add",
                "path": "members",
                "value": [{"$ref": None, "value": ids[n]} for n in ("Alice", "Bob", "Carol")],
            }
        ),
    )
    assert_no_content(readd)

    # then: no version moved, no audit row, no invitation, no member, no membership
    assert set(Member.objects.values_list("scim_id", "version", "updated_at")) == versions
    assert (
        Group.objects.filter(scim_id=ids["Sales"]).values_list("version", "updated_at")[0]
        == group_version
    )
    assert AuditLogEntry.objects.count() == audit_rows
    assert Invitation.objects.count() == invitations
    assert Member.objects.filter(organization=organization).count() == 3
    assert set(GroupMembership.objects.values_list("group_id", "member_id")) == memberships
    # and the provisioning log says so for every write
    assert list(
        ScimRequest.objects.filter(method="PATCH")
        .order_by("created_at", "id")
        .values_list("outcome", flat=True)[patches_before:]
    ) == [
        "No change to member AliceW@contoso.com",
        "No change to member BobK@contoso.com",
        "No change to member CarolT@contoso.com",
        "No change to group Sales",
    ]


def test_entra_disables_with_the_string_false_then_re_enables(scim, organization):
    # given: the initial cycle ran
    ids = entra_initial_cycle(scim)
    carol = ids["Carol"]
    groups = ((ids["Sales"], "Sales"),)

    # when: Carol is unassigned in Entra (default mapping, no flag: "False" as a string)
    disabled = scim.patch(
        f"/Users/{carol}",
        {
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
            "schemas": [PATCH_OP],
        },
    )

    # then: a JSON boolean comes back, and the member is suspended but kept whole
    expected = entra_resource(scim, carol, CAROL, active=False, manager=ids["Alice"], groups=groups)
    assert_resource(disabled, 200, expected)
    member = Member.objects.get(scim_id=carol)
    assert member.status == "suspended" and member.suspended_at is not None
    assert member.scim_attributes.get("active") is None
    assert open_invitations(member) == 0
    assert GroupMembership.objects.filter(member=member).count() == 1
    suspended = AuditLogEntry.objects.get(action="member.suspended", target_id=str(member.pk))
    assert (suspended.before, suspended.after) == ({"status": "invited"}, {"status": "suspended"})
    # and Entra still finds and reads the disabled user (scim-notes §2)
    assert_resource(scim.get(f"/Users/{carol}"), 200, expected)
    assert_list(
        scim.get(query("Users", filter='userName eq "CarolT@contoso.com"')),
        list_response(expected),
    )

    # when: Carol is assigned again
    enabled = scim.patch(
        f"/Users/{carol}", patch_op({"op": "Replace", "path": "active", "value": "True"})
    )

    # then
    assert_resource(
        enabled,
        200,
        entra_resource(scim, carol, CAROL, active=True, manager=ids["Alice"], groups=groups),
    )
    member.refresh_from_db()
    assert (member.status, member.suspended_at) == ("invited", None)
    assert open_invitations(member) == 1
    assert audit_actions(member)[-3:] == [
        "member.suspended",
        "member.reactivated",
        "invitation.created",
    ]


def test_entra_hard_delete_removes_the_user_and_entra_then_gets_404(scim, organization):
    # given: the initial cycle ran, then Bob was soft-deleted in Entra (and so disabled here)
    ids = entra_initial_cycle(scim)
    bob = ids["Bob"]
    disabled = scim.patch(
        f"/Users/{bob}", patch_op({"op": "Replace", "path": "active", "value": "False"})
    )
    assert disabled.status == 200 and disabled.body["active"] is False

    # when: 30 days later Bob is hard-deleted in Entra
    deleted = scim.delete(f"/Users/{bob}")

    # then: 204 with no body; the member is removed from the organization and its groups
    assert_no_content(deleted)
    member = Member.objects.get(scim_id=bob)
    assert member.status == "deleted" and member.deleted_at is not None
    assert not GroupMembership.objects.filter(member=member).exists()
    assert audit_actions(member)[-2:] == ["member.suspended", "member.removed"]
    # and everything Entra may still send for the cached id is a 404 SCIM error
    not_found = error_body(404, f"Member '{bob}' not found.")
    for response in (
        scim.get(f"/Users/{bob}"),
        scim.patch(
            f"/Users/{bob}", patch_op({"op": "Replace", "path": "active", "value": "False"})
        ),
        scim.delete(f"/Users/{bob}"),
    ):
        assert_scim_error(response, 404)
        assert response.body == not_found
    assert_list(scim.get(query("Users", filter='userName eq "BobK@contoso.com"')), list_response())
    assert Member.objects.get(scim_id=bob).status == "deleted"
    assert set(
        GroupMembership.objects.filter(group__scim_id=ids["Sales"]).values_list(
            "member__scim_id", flat=True
        )
    ) == {uuid.UUID(ids["Alice"]), uuid.UUID(ids["Carol"])}


def test_entra_provision_on_demand_creates_updates_and_disables_one_user(scim, organization):
    # given: Dave is not in the app
    dave = ("DaveR@contoso.com", "dave.rogers@contoso.com", "Dave", "Rogers", "DaveR", "1004")

    # when: on-demand provisioning: test connection, match, create
    assert_list(scim.get(query("Users", filter=f'userName eq "{uuid.uuid4()}"')), list_response())
    assert_list(scim.get(query("Users", filter='userName eq "DaveR@contoso.com"')), list_response())
    created = scim.post("/Users", entra_create(dave))

    # then
    dave_id = created.body["id"]
    assert_resource(created, 201, entra_resource(scim, dave_id, dave))

    # when: Dave changes in Entra and is provisioned on demand again: the legacy forms, since
    # on-demand provisioning ignores the aadOptscim062020 flag
    match = scim.get(query("Users", filter='userName eq "daver@contoso.com"'))
    assert_list(match, list_response(entra_resource(scim, dave_id, dave)))
    updated = scim.patch(
        f"/Users/{dave_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "Replace", "path": "displayName", "value": "David Rogers"},
                {
                    "op": "Replace",
                    "path": 'emails[type eq "work"].value',
                    "value": "david.rogers@contoso.com",
                },
                {"op": "Replace", "path": "name.givenName", "value": "David"},
                {"op": "Replace", "path": "name.formatted", "value": "David Rogers"},
                {"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": "2004"},
                {"op": "Add", "path": "nickName", "value": "Dave"},
                {"op": "Replace", "path": "active", "value": "True"},
            ],
        },
    )

    # then
    resource = {
        **entra_resource(scim, dave_id, dave),
        "displayName": "David Rogers",
        "emails": [{"value": "david.rogers@contoso.com", "type": "work", "primary": True}],
        "name": {"formatted": "David Rogers", "familyName": "Rogers", "givenName": "David"},
        "nickName": "Dave",
        ENTERPRISE: {"employeeNumber": "2004", "department": "Sales"},
    }
    assert_resource(updated, 200, resource)
    assert resource["meta"]["version"] == 'W/"2"'
    member = Member.objects.get(scim_id=dave_id)
    assert (member.email, member.full_name, member.given_name, member.status) == (
        "david.rogers@contoso.com",
        "David Rogers",
        "David",
        "invited",
    )
    # the invitation follows the new address
    assert list(
        Invitation.objects.filter(member=member, status__in=Invitation.OPEN_STATUSES).values_list(
            "email", flat=True
        )
    ) == ["david.rogers@contoso.com"]

    # when: Dave is disabled in Entra and provisioned on demand
    disabled = scim.patch(
        f"/Users/{dave_id}", patch_op({"op": "Replace", "path": "active", "value": "False"})
    )

    # then
    assert_resource(disabled, 200, {**resource, "active": False, "meta": user_meta(scim, dave_id)})
    assert Member.objects.get(scim_id=dave_id).status == "suspended"


def test_entra_provision_on_demand_for_a_group_of_five(scim, organization):
    # given: five users already provisioned
    people = [
        (f"U{n}@contoso.com", f"u{n}@contoso.com", f"U{n}", "Test", f"U{n}", f"{n}")
        for n in range(5)
    ]
    user_ids = [scim.post("/Users", entra_create(person)).body["id"] for person in people]

    # when: the group is provisioned on demand: matched, created, its members added
    assert_list(
        scim.get(query("Groups", excludedAttributes="members", filter='displayName eq "Sales"')),
        list_response(),
    )
    group_id = scim.post(
        "/Groups",
        {
            "schemas": [GROUP, ADSCIM],
            "externalId": SALES_OBJECT_ID,
            "displayName": "Sales",
            "meta": {"resourceType": "Group"},
        },
    ).body["id"]
    added = scim.patch(
        f"/Groups/{group_id}",
        patch_op(
            {
                "op": "Add",
                "path": "members",
                "value": [{"$ref": None, "value": user_id} for user_id in user_ids],
            }
        ),
    )
    # and one of them leaves the group in Entra (legacy removal form)
    removed = scim.patch(
        f"/Groups/{group_id}",
        patch_op(
            {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": user_ids[0]}]}
        ),
    )

    # then
    assert_no_content(added)
    assert_no_content(removed)
    assert_resource(
        scim.get(f"/Groups/{group_id}?excludedAttributes=members"),
        200,
        sales_resource(scim, group_id),
    )
    assert set(
        GroupMembership.objects.filter(group__scim_id=group_id).values_list(
            "member__scim_id", flat=True
        )
    ) == {uuid.UUID(user_id) for user_id in user_ids[1:]}
    assert Member.objects.filter(organization=organization, status="invited").count() == 5


# --- scim-notes §6: the checklist of quirks, items not covered above ----------------------------


def test_entra_op_names_in_every_case(scim):
    # given
    user_id = scim.post(
        "/Users",
        {"schemas": [USER], "userName": "cases@contoso.com", "title": "Old", "userType": "Guest"},
    ).body["id"]

    # when: checklist item 1, each op spelled as Entra (capitalized) and as the RFC (lowercase)
    response = scim.patch(
        f"/Users/{user_id}",
        patch_op(
            {"op": "Add", "path": "nickName", "value": "Babs"},
            {"op": "add", "path": "preferredLanguage", "value": "en-US"},
            {"op": "Replace", "path": "displayName", "value": "Babs Jensen"},
            {"op": "replace", "path": "name.givenName", "value": "Barbara"},
            {"op": "Remove", "path": "title"},
            {"op": "remove", "path": "userType"},
        ),
    )

    # then
    assert_resource(
        response,
        200,
        {
            "schemas": [USER],
            "id": user_id,
            "userName": "cases@contoso.com",
            "nickName": "Babs",
            "preferredLanguage": "en-US",
            "displayName": "Babs Jensen",
            "name": {"givenName": "Barbara"},
            "active": True,
            "groups": [],
            "meta": user_meta(scim, user_id),
        },
    )
    member = Member.objects.get(scim_id=user_id)
    assert (member.display_name, member.given_name, member.version) == ("Babs Jensen", "Barbara", 2)


@pytest.mark.parametrize("disable", ["False", "false", "FALSE"])
@pytest.mark.parametrize("enable", ["True", "true", "TRUE"])
def test_entra_active_as_a_string_in_any_case_is_stored_and_returned_as_a_boolean(
    scim, disable, enable
):
    # given
    user_id = scim.post("/Users", {"schemas": [USER], "userName": "flip@contoso.com"}).body["id"]

    # when: checklist item 2
    off = scim.patch(
        f"/Users/{user_id}", patch_op({"op": "Replace", "path": "active", "value": disable})
    )
    suspended = Member.objects.get(scim_id=user_id).status
    on = scim.patch(
        f"/Users/{user_id}", patch_op({"op": "Replace", "path": "active", "value": enable})
    )

    # then
    assert off.status == 200 and off.body["active"] is False
    assert suspended == "suspended"
    assert_resource(
        on,
        200,
        {
            "schemas": [USER],
            "id": user_id,
            "userName": "flip@contoso.com",
            "active": True,
            "groups": [],
            "meta": user_meta(scim, user_id),
        },
    )
    member = Member.objects.get(scim_id=user_id)
    assert (member.status, member.version) == ("invited", 3)
    assert "active" not in member.scim_attributes


def test_entra_path_less_add_with_dotted_and_extension_keys(scim):
    # given
    user_id = scim.post("/Users", {"schemas": [USER], "userName": "pathless@contoso.com"}).body[
        "id"
    ]

    # when: checklist item 3 with `add` (the flagged example shows `replace`, covered elsewhere)
    response = scim.patch(
        f"/Users/{user_id}",
        patch_op(
            {
                "op": "add",
                "value": {
                    "displayName": "Path Less",
                    "name.givenName": "Path",
                    "name.familyName": "Less",
                    f"{ENTERPRISE}:employeeNumber": "4242",
                    f"{ENTERPRISE}:department": "R&D",
                },
            }
        ),
    )

    # then
    assert_resource(
        response,
        200,
        {
            "schemas": [USER, ENTERPRISE],
            "id": user_id,
            "userName": "pathless@contoso.com",
            "displayName": "Path Less",
            "name": {"givenName": "Path", "familyName": "Less"},
            ENTERPRISE: {"employeeNumber": "4242", "department": "R&D"},
            "active": True,
            "groups": [],
            "meta": user_meta(scim, user_id),
        },
    )
    member = Member.objects.get(scim_id=user_id)
    assert (member.full_name, member.given_name, member.family_name) == (
        "Path Less",
        "Path",
        "Less",
    )


def test_entra_replace_on_a_filtered_path_creates_the_missing_typed_entries(scim):
    # given: a user with no email, phone or address yet
    user_id = scim.post("/Users", {"schemas": [USER], "userName": "typed@contoso.com"}).body["id"]

    # when: checklist item 4 with `Replace` (how Entra writes mail, fax and the office postcode)
    response = scim.patch(
        f"/Users/{user_id}",
        patch_op(
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "t@contoso.com"},
            {"op": "Replace", "path": 'phoneNumbers[type eq "fax"].value', "value": "555-0199"},
            {"op": "Replace", "path": 'addresses[type eq "work"].postalCode', "value": "98052"},
        ),
    )

    # then
    assert_resource(
        response,
        200,
        {
            "schemas": [USER],
            "id": user_id,
            "userName": "typed@contoso.com",
            "emails": [{"value": "t@contoso.com", "type": "work"}],
            "phoneNumbers": [{"value": "555-0199", "type": "fax"}],
            "addresses": [{"postalCode": "98052", "type": "work"}],
            "active": True,
            "groups": [],
            "meta": user_meta(scim, user_id),
        },
    )
    member = Member.objects.get(scim_id=user_id)
    assert member.email == "t@contoso.com"
    found = scim.get(query("Users", filter='emails[type eq "work"].value eq "t@contoso.com"'))
    assert [resource["id"] for resource in found.body["Resources"]] == [user_id]


def test_entra_explicit_nulls_and_the_misspelled_enterprise_urn_are_ignored(scim):
    # when: checklist item 8, the older create sample of Microsoft's tutorial (scim-notes §4.1)
    response = scim.post(
        "/Users",
        {
            "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
            "externalId": "ljohnson",
            "userName": "ljohnson@contoso.com",
            "active": True,
            "addresses": None,
            "displayName": "Lisa Johnson",
            "emails": [{"type": "work", "value": "ljohnson@contoso.com", "primary": True}],
            "meta": {"resourceType": "User"},
            "name": {"familyName": "Johnson", "givenName": "Lisa"},
            "phoneNumbers": None,
            "title": None,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "department": None,
                "manager": None,
            },
        },
    )

    # then: no null, no empty extension, no unknown schema in the answer
    user_id = response.body["id"]
    assert_resource(
        response,
        201,
        {
            "schemas": [USER],
            "id": user_id,
            "externalId": "ljohnson",
            "userName": "ljohnson@contoso.com",
            "active": True,
            "displayName": "Lisa Johnson",
            "emails": [{"value": "ljohnson@contoso.com", "type": "work", "primary": True}],
            "name": {"familyName": "Johnson", "givenName": "Lisa"},
            "groups": [],
            "meta": user_meta(scim, user_id),
        },
    )
    assert Member.objects.get(scim_id=user_id).manager_ref == ""


# --- scim-notes §7: the 404 and 409 answers Entra sees ------------------------------------------


def test_entra_create_of_an_existing_user_name_is_409_uniqueness_and_changes_nothing(
    scim, organization
):
    # given: the user exists (created by an earlier cycle whose answer Entra never received)
    user_id = scim.post("/Users", entra_create(ALICE)).body["id"]
    audit_rows = AuditLogEntry.objects.count()

    # when: Entra POSTs the same person again, with the UPN's case changed
    again = scim.post("/Users", {**entra_create(ALICE), "userName": "alicew@CONTOSO.com"})

    # then: a SCIM uniqueness error, nothing created or changed
    assert_scim_error(again, 409, "uniqueness")
    assert again.body == error_body(
        409, "A member with the userName 'alicew@CONTOSO.com' already exists.", "uniqueness"
    )
    assert list(Member.objects.values_list("scim_id", "version")) == [(uuid.UUID(user_id), 1)]
    assert AuditLogEntry.objects.count() == audit_rows
    logged = ScimRequest.objects.filter(organization=organization).latest("created_at", "id")
    assert (logged.method, logged.status_code) == ("POST", 409)
    assert logged.outcome == (
        "Rejected: A member with the userName 'alicew@CONTOSO.com' already exists."
    )


def test_entra_matching_finds_every_user_a_create_would_clash_with(scim):
    # given: one user enabled, one disabled in the target
    alice = scim.post("/Users", entra_create(ALICE)).body["id"]
    bob = scim.post("/Users", entra_create(BOB)).body["id"]
    scim.patch(f"/Users/{bob}", patch_op({"op": "Replace", "path": "active", "value": "False"}))

    # when: Entra matches them by userName, the UPN case changed in Entra
    found_alice = scim.get(query("Users", filter='userName eq "ALICEW@contoso.com"'))
    found_bob = scim.get(query("Users", filter='userName eq "bobk@Contoso.COM"'))

    # then: each is found (active or not), so Entra updates instead of POSTing into a 409
    assert_list(found_alice, list_response(entra_resource(scim, alice, ALICE)))
    assert_list(found_bob, list_response(entra_resource(scim, bob, BOB, active=False)))


def test_entra_ids_the_target_does_not_know_are_404_with_the_error_body(scim, other_scim):
    # given: an id in the form of Microsoft's example, a well-formed unknown id, another
    # organization's user and a group removed from the target
    theirs = other_scim.post("/Users", entra_create(ALICE)).body["id"]
    removed_group = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Gone"}).body["id"]
    scim.delete(f"/Groups/{removed_group}")
    unknown = [
        "23B51B0E5D7AE9110A49411D@7cca31655d49f3640a494224",
        "6a1e7f0e-4b43-4b2c-9a43-0f2b7b9c7e11",
        theirs,
    ]

    # when / then: every method Entra uses answers the RFC 7644 error, status as a string
    for resource_id in unknown:
        expected = error_body(404, f"Member '{resource_id}' not found.")
        for response in (
            scim.get(f"/Users/{resource_id}"),
            scim.patch(
                f"/Users/{resource_id}",
                patch_op({"op": "Replace", "path": "displayName", "value": "x"}),
            ),
            scim.delete(f"/Users/{resource_id}"),
        ):
            assert_scim_error(response, 404)
            assert response.body == expected
    for response in (
        scim.get(f"/Groups/{removed_group}?excludedAttributes=members"),
        scim.patch(
            f"/Groups/{removed_group}",
            patch_op({"op": "Add", "path": "members", "value": [{"value": theirs}]}),
        ),
        scim.delete(f"/Groups/{removed_group}"),
    ):
        assert_scim_error(response, 404)
        assert response.body == error_body(404, f"Group '{removed_group}' not found.")
    assert other_scim.get(f"/Users/{theirs}").status == 200
