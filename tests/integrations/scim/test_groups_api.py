"""Black-box tests of /Groups: Microsoft's examples, membership as set operations, tenancy."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditLogEntry, Group, GroupMembership
from tests.integrations.scim.test_auth_and_discovery import assert_scim_error
from tests.integrations.scim.test_users_api import create as create_user
from tests.integrations.scim.test_users_api import patch

pytestmark = pytest.mark.django_db

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ADSCIM = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


def create_group(scim, display_name: str = "Engineering", **attributes) -> dict:
    response = scim.post("/Groups", {"schemas": [GROUP], "displayName": display_name, **attributes})
    assert response.status == 201, response.body
    return response.body


def members_of(scim, group_id: str) -> set[str]:
    return {member["value"] for member in scim.get(f"/Groups/{group_id}").body.get("members", [])}


def test_entra_create_group_example_with_the_adscim_schema(scim, organization):
    response = scim.post(
        "/Groups",
        {
            "schemas": [GROUP, ADSCIM],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "meta": {"resourceType": "Group"},
        },
    )
    assert response.status == 201
    body = response.body
    assert body["schemas"] == [GROUP]
    assert body["externalId"] == "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"
    assert body["displayName"] == "displayName"
    assert body["members"] == []
    assert body["meta"]["resourceType"] == "Group"
    assert response.headers["Location"].endswith(
        f"/scim/v2/{organization.tenant_id}/Groups/{body['id']}"
    )
    group = Group.objects.get(scim_id=body["id"])
    assert group.source == "idp" and group.organization == organization


def test_entra_get_group_excluding_members_never_reads_members(scim):
    # given: a group with many members
    group_id = create_group(scim)["id"]
    user_ids = [create_user(scim, userName=f"m{n}@contoso.com")["id"] for n in range(30)]
    scim.patch(
        f"/Groups/{group_id}",
        patch({"op": "Add", "path": "members", "value": [{"value": u} for u in user_ids]}),
    )
    # when
    with CaptureQueriesContext(connection) as queries:
        response = scim.get(f"/Groups/{group_id}?excludedAttributes=members")
    # then
    assert response.status == 200
    assert "members" not in response.body
    assert response.body["displayName"] == "Engineering"
    assert not any("accounts_groupmembership" in q["sql"] for q in queries.captured_queries)


def test_entra_get_group_by_display_name_is_case_insensitive(scim):
    group_id = create_group(scim, "displayName", externalId="0db508eb")["id"]
    response = scim.get('/Groups?excludedAttributes=members&filter=displayName eq "DISPLAYNAME"')
    assert response.status == 200
    assert response.body["totalResults"] == 1
    resource = response.body["Resources"][0]
    assert resource["id"] == group_id and "members" not in resource


def test_entra_update_group_display_name_answers_204(scim):
    group_id = create_group(scim)["id"]
    response = scim.patch(
        f"/Groups/{group_id}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {
                    "op": "Replace",
                    "path": "displayName",
                    "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName",
                }
            ],
        },
    )
    assert response.status == 204 and response.raw == b""
    assert (
        scim.get(f"/Groups/{group_id}").body["displayName"]
        == "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    )


def test_entra_add_members_with_null_ref_and_redundant_readds(scim):
    group_id = create_group(scim)["id"]
    alice = create_user(scim, userName="alice@contoso.com")["id"]
    bob = create_user(scim, userName="bob@contoso.com")["id"]
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": alice}]}],
    }
    assert scim.patch(f"/Groups/{group_id}", body).status == 204
    # Entra re-adds existing members: no error, no duplicate
    both = patch({"op": "Add", "path": "members", "value": [{"value": alice}, {"value": bob}]})
    assert scim.patch(f"/Groups/{group_id}", both).status == 204
    assert scim.patch(f"/Groups/{group_id}", both).status == 204
    assert members_of(scim, group_id) == {alice, bob}
    assert GroupMembership.objects.count() == 2


def test_entra_remove_members_in_both_forms(scim):
    group_id = create_group(scim)["id"]
    ids = [create_user(scim, userName=f"r{n}@contoso.com")["id"] for n in range(3)]
    scim.patch(
        f"/Groups/{group_id}",
        patch({"op": "Add", "path": "members", "value": [{"value": i} for i in ids]}),
    )
    # default form: path members + value list removes only the listed members
    legacy = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": ids[0]}]}
        ],
    }
    assert scim.patch(f"/Groups/{group_id}", legacy).status == 204
    assert members_of(scim, group_id) == {ids[1], ids[2]}
    # aadOptscim062020 form: a value filter
    flagged = patch({"op": "remove", "path": f'members[value eq "{ids[1]}"]'})
    assert scim.patch(f"/Groups/{group_id}", flagged).status == 204
    assert members_of(scim, group_id) == {ids[2]}
    # remove without value: every member goes
    assert (
        scim.patch(f"/Groups/{group_id}", patch({"op": "remove", "path": "members"})).status == 204
    )
    assert members_of(scim, group_id) == set()


def test_member_ids_from_another_organization_or_unknown_are_skipped_not_linked(scim, other_scim):
    # given: a group, and ids this organization does not have (another's, unknown, not a UUID)
    group_id = create_group(scim)["id"]
    theirs = other_scim.post("/Users", {"userName": "t@fabrikam.com"}).body["id"]
    for value in (theirs, str(uuid.uuid4()), "not-an-id"):
        # when: a PATCH adds it, and a POST creates a group with it
        response = scim.patch(
            f"/Groups/{group_id}",
            patch({"op": "add", "path": "members", "value": [{"value": value}]}),
        )
        created = scim.post("/Groups", {"displayName": f"G {value}", "members": [{"value": value}]})
        # then: both succeed, with nothing linked
        assert response.status == 204, response.body
        assert created.status == 201, created.body
        assert created.body["members"] == []
    assert GroupMembership.objects.count() == 0
    assert Group.objects.filter(organization=scim.organization).count() == 4


def test_a_group_cannot_contain_a_group(scim):
    parent = create_group(scim, "Parent")["id"]
    child = create_group(scim, "Child")["id"]
    response = scim.patch(
        f"/Groups/{parent}",
        patch({"op": "add", "path": "members", "value": [{"value": child, "type": "Group"}]}),
    )
    assert_scim_error(response, 400, "invalidValue")


def test_group_patch_applies_every_operation_and_skips_only_the_unknown_member(scim):
    # given
    group_id = create_group(scim)["id"]
    alice = create_user(scim, userName="alice@contoso.com")["id"]
    # when: one operation names an id the organization does not have
    response = scim.patch(
        f"/Groups/{group_id}",
        patch(
            {"op": "add", "path": "members", "value": [{"value": alice}]},
            {"op": "replace", "path": "displayName", "value": "Renamed"},
            {"op": "add", "path": "members", "value": [{"value": str(uuid.uuid4())}]},
        ),
    )
    # then: the rename and the known member are applied
    assert response.status == 204, response.body
    body = scim.get(f"/Groups/{group_id}").body
    assert body["displayName"] == "Renamed"
    assert [member["value"] for member in body["members"]] == [alice]


def test_group_patch_with_a_malformed_member_is_all_or_nothing(scim):
    # given
    group_id = create_group(scim)["id"]
    alice = create_user(scim, userName="alice@contoso.com")["id"]
    # when: one operation's member is not a member reference at all
    response = scim.patch(
        f"/Groups/{group_id}",
        patch(
            {"op": "add", "path": "members", "value": [{"value": alice}]},
            {"op": "replace", "path": "displayName", "value": "Renamed"},
            {"op": "add", "path": "members", "value": [{"display": "no value"}]},
        ),
    )
    # then: refused, and nothing of the request is applied
    assert_scim_error(response, 400, "invalidValue")
    body = scim.get(f"/Groups/{group_id}").body
    assert body["displayName"] == "Engineering" and body["members"] == []


def test_duplicate_display_name_in_any_case_is_409(scim):
    create_group(scim, "Sales")
    assert_scim_error(scim.post("/Groups", {"displayName": "SALES"}), 409, "uniqueness")
    other = create_group(scim, "Marketing")["id"]
    assert_scim_error(
        scim.patch(
            f"/Groups/{other}", patch({"op": "replace", "path": "displayName", "value": "sales"})
        ),
        409,
        "uniqueness",
    )


def test_create_with_members_put_replaces_members(scim):
    a, b, c = (create_user(scim, userName=f"{n}@contoso.com")["id"] for n in "abc")
    group_id = create_group(scim, "Team", members=[{"value": a}, {"value": b}])["id"]
    assert members_of(scim, group_id) == {a, b}
    response = scim.put(
        f"/Groups/{group_id}",
        {"schemas": [GROUP], "displayName": "Team", "members": [{"value": b}, {"value": c}]},
    )
    assert response.status == 200
    assert {m["value"] for m in response.body["members"]} == {b, c}


def test_deleting_a_user_removes_them_from_groups(scim):
    group_id = create_group(scim)["id"]
    alice = create_user(scim, userName="alice@contoso.com")["id"]
    scim.patch(
        f"/Groups/{group_id}", patch({"op": "add", "path": "members", "value": [{"value": alice}]})
    )
    scim.delete(f"/Users/{alice}")
    assert members_of(scim, group_id) == set()


def test_user_resources_list_their_groups(scim):
    group_id = create_group(scim, "Readers")["id"]
    alice = create_user(scim, userName="alice@contoso.com")["id"]
    scim.patch(
        f"/Groups/{group_id}", patch({"op": "add", "path": "members", "value": [{"value": alice}]})
    )
    groups = scim.get(f"/Users/{alice}").body["groups"]
    assert [(g["value"], g["display"]) for g in groups] == [(group_id, "Readers")]


def test_filter_groups_by_member(scim):
    group_id = create_group(scim)["id"]
    create_group(scim, "Empty")
    alice = create_user(scim, userName="alice@contoso.com")["id"]
    scim.patch(
        f"/Groups/{group_id}", patch({"op": "add", "path": "members", "value": [{"value": alice}]})
    )
    body = scim.get(f'/Groups?filter=members[value eq "{alice}"]&excludedAttributes=members').body
    assert [r["id"] for r in body["Resources"]] == [group_id]


def test_delete_group(scim):
    group_id = create_group(scim)["id"]
    assert scim.delete(f"/Groups/{group_id}").status == 204
    assert_scim_error(scim.get(f"/Groups/{group_id}"), 404)
    assert AuditLogEntry.objects.filter(action="group.deleted").count() == 1


def test_another_organizations_groups_are_404(scim, other_scim):
    theirs = other_scim.post("/Groups", {"displayName": "Theirs"}).body["id"]
    assert_scim_error(scim.get(f"/Groups/{theirs}"), 404)
    assert_scim_error(
        scim.patch(
            f"/Groups/{theirs}", patch({"op": "replace", "path": "displayName", "value": "x"})
        ),
        404,
    )
    assert_scim_error(scim.delete(f"/Groups/{theirs}"), 404)
    assert scim.get('/Groups?filter=displayName eq "Theirs"').body["totalResults"] == 0


def test_group_membership_patch_query_count_does_not_grow_with_group_size(scim):
    group_id = create_group(scim)["id"]
    users = [create_user(scim, userName=f"q{n}@contoso.com")["id"] for n in range(60)]

    def add(batch: list[str]) -> int:
        body = patch({"op": "Add", "path": "members", "value": [{"value": u} for u in batch]})
        with CaptureQueriesContext(connection) as queries:
            assert scim.patch(f"/Groups/{group_id}", body).status == 204
        return len(queries.captured_queries)

    first = add(users[0:10])
    add(users[10:50])
    later = add(users[50:60])
    assert later == first


def test_root_search_spans_users_and_groups_with_paging(scim, other_scim):
    alice = create_user(scim, userName="alice@contoso.com")["id"]
    group_id = create_group(scim, "Alpha")["id"]
    other_scim.post("/Users", {"userName": "theirs@fabrikam.com"})
    search = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}
    everything = scim.post("/.search", {**search, "attributes": ["id"]}).body
    assert everything["totalResults"] == 2
    assert [r["id"] for r in everything["Resources"]] == [alice, group_id]
    second = scim.post("/.search", {**search, "startIndex": 2, "count": 1}).body
    assert [r["id"] for r in second["Resources"]] == [group_id]
    # a filter only one resource type understands searches that type alone
    users = scim.post("/.search", {**search, "filter": 'userName sw "ali"'}).body
    assert [r["id"] for r in users["Resources"]] == [alice]
    groups = scim.post("/.search", {**search, "filter": 'members pr or displayName eq "alpha"'})
    assert [r["id"] for r in groups.body["Resources"]] == [group_id]
    bad = scim.post("/.search", {**search, "filter": 'nosuch eq "x"'})
    assert_scim_error(bad, 400, "invalidFilter")


def test_the_provisioning_log_says_how_membership_changed(scim, organization):
    from integrations.models import ScimRequest

    group_id = create_group(scim, "Sales")["id"]
    ids = [create_user(scim, userName=f"s{n}@contoso.com")["id"] for n in range(3)]
    scim.patch(
        f"/Groups/{group_id}",
        patch({"op": "Add", "path": "members", "value": [{"value": i} for i in ids]}),
    )
    scim.patch(
        f"/Groups/{group_id}", patch({"op": "remove", "path": f'members[value eq "{ids[0]}"]'})
    )
    outcomes = list(
        ScimRequest.objects.filter(organization=organization, method="PATCH")
        .order_by("created_at", "id")
        .values_list("outcome", flat=True)
    )
    assert outcomes == ["Added 3 members to group Sales", "Removed 1 member from group Sales"]
