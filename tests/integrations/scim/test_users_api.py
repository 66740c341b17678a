"""Black-box tests of /Users: Microsoft's documented requests replayed literally, Entra's and
Okta's quirks, the member lifecycle, and every kind of bad input."""

from __future__ import annotations

import re
import uuid

import pytest

from accounts.models import AuditLogEntry, Member
from tests.factories import ActiveMemberFactory, MemberFactory, UserFactory
from tests.integrations.scim.examples import ENTRA_CREATE_USER
from tests.integrations.scim.test_auth_and_discovery import assert_scim_error

pytestmark = pytest.mark.django_db

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

ENTRA_CREATE = ENTRA_CREATE_USER


def patch(*operations: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def create(scim, **attributes) -> dict:
    body = {"schemas": [USER], **attributes}
    response = scim.post("/Users", body)
    assert response.status == 201, response.body
    return response.body


# --- create --------------------------------------------------------------------------------------


def test_entra_create_user_example(scim, organization, settings):
    settings.SITE_URL = "https://admin.example.com"
    # when
    response = scim.post("/Users", ENTRA_CREATE)
    # then
    assert response.status == 201
    body = response.body
    user_id = body["id"]
    assert uuid.UUID(user_id).version == 4
    location = f"https://admin.example.com/scim/v2/{organization.tenant_id}/Users/{user_id}"
    assert response.headers["Location"] == location
    assert response.headers["ETag"] == body["meta"]["version"] == 'W/"1"'
    assert body["schemas"] == [USER]
    assert body["externalId"] == ENTRA_CREATE["externalId"]
    assert body["userName"] == ENTRA_CREATE["userName"]
    assert body["active"] is True
    assert body["name"] == ENTRA_CREATE["name"]
    assert body["emails"] == ENTRA_CREATE["emails"]
    assert body["meta"]["resourceType"] == "User"
    assert body["meta"]["location"] == location
    assert body["meta"]["created"] == body["meta"]["lastModified"]
    assert body["groups"] == []
    # and the member is Invited, managed by the identity provider, audited as such
    member = Member.objects.get(scim_id=user_id)
    assert (member.status, member.source, member.organization) == ("invited", "idp", organization)
    assert member.email == "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"
    entry = AuditLogEntry.objects.get(action="member.provisioned")
    assert entry.actor_kind == "idp" and entry.target_label == member.user_name


def test_create_with_active_false_makes_a_suspended_member_reported_inactive(scim):
    body = create(scim, userName="dormant@contoso.com", active=False)
    assert body["active"] is False
    assert Member.objects.get(scim_id=body["id"]).status == "suspended"


def test_attributes_the_product_does_not_model_are_kept(scim):
    # given: everything RFC 7643 defines, an enterprise extension and a custom extension
    sent = {
        "schemas": [USER, ENTERPRISE, "urn:ietf:params:scim:schemas:extension:CustomExt:2.0:User"],
        "userName": "kim@contoso.com",
        "displayName": "Kim Akers",
        "nickName": "Kim",
        "title": "Engineer",
        "preferredLanguage": "en-GB",
        "locale": "en-GB",
        "timezone": "Europe/London",
        "userType": "Employee",
        "phoneNumbers": [
            {"value": "55555555555", "type": "work"},
            {"value": "+44 20 7946 0000", "type": "mobile"},
        ],
        "addresses": [
            {
                "type": "work",
                "streetAddress": "1 Main St",
                "locality": "London",
                "postalCode": "N1",
                "country": "GB",
                "primary": True,
            }
        ],
        ENTERPRISE: {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "costCenter": "4130",
        },
        "urn:ietf:params:scim:schemas:extension:CustomExt:2.0:User": {"badge": "B-12"},
    }
    # when
    user_id = create(scim, **{k: v for k, v in sent.items() if k != "schemas"})["id"]
    got = scim.get(f"/Users/{user_id}").body
    # then: stored exactly as sent (no reformatting of the phone number either)
    for key in (
        "displayName",
        "nickName",
        "title",
        "preferredLanguage",
        "locale",
        "timezone",
        "userType",
        "phoneNumbers",
        "addresses",
        ENTERPRISE,
    ):
        assert got[key] == sent[key], key
    assert got["urn:ietf:params:scim:schemas:extension:CustomExt:2.0:User"] == {"badge": "B-12"}
    assert ENTERPRISE in got["schemas"]


def test_password_sent_by_okta_is_never_stored(scim):
    body = create(scim, userName="okta@contoso.com", password="Okta-Sent-Passw0rd")
    member = Member.objects.get(scim_id=body["id"])
    assert "Okta-Sent-Passw0rd" not in str(member.scim_attributes)
    assert "password" not in body


@pytest.mark.parametrize("user_name", ["Test_User@Contoso.com", "TEST_USER@contoso.com"])
def test_duplicate_user_name_in_any_case_is_409_uniqueness(scim, user_name):
    create(scim, userName="test_user@contoso.com")
    response = scim.post("/Users", {"schemas": [USER], "userName": user_name})
    assert_scim_error(response, 409, "uniqueness")
    assert Member.objects.count() == 1


def test_a_repeated_external_id_is_accepted(scim):
    # given
    first = create(scim, userName="a@contoso.com", externalId="abc")
    # when: another user arrives with the same externalId (RFC 7643 §3.1: not unique)
    second = scim.post("/Users", {"userName": "b@contoso.com", "externalId": "abc"})
    # then: created, and a third user can take it by a PATCH too
    assert second.status == 201, second.body
    assert second.body["externalId"] == "abc"
    third = create(scim, userName="c@contoso.com", externalId="xyz")
    changed = scim.patch(
        f"/Users/{third['id']}", patch({"op": "replace", "path": "externalId", "value": "abc"})
    )
    assert changed.status == 200, changed.body
    assert Member.objects.filter(external_id="abc").count() == 3
    assert first["externalId"] == "abc"


def test_two_organizations_may_provision_the_same_user_name(scim, other_scim):
    create(scim, userName="same@example.com")
    assert other_scim.post("/Users", {"userName": "same@example.com"}).status == 201


# --- read and query -----------------------------------------------------------------------------


def test_get_user_by_id_and_404_body(scim):
    user_id = create(scim, userName="read@contoso.com")["id"]
    assert scim.get(f"/Users/{user_id}").body["userName"] == "read@contoso.com"
    missing = scim.get("/Users/23B51B0E5D7AE9110A49411D@7cca31655d49f3640a494224")
    assert_scim_error(missing, 404)
    assert_scim_error(scim.get(f"/Users/{uuid.uuid4()}"), 404)


def test_lookup_by_user_name_is_case_insensitive(scim):
    user_id = create(scim, **{k: v for k, v in ENTRA_CREATE.items() if k != "schemas"})["id"]
    response = scim.get(
        '/Users?filter=userName eq "test_user_00AA00AA-bb11-cc22-dd33-44ee44ee44ee"'
    )
    assert response.body["totalResults"] == 1
    assert response.body["Resources"][0]["id"] == user_id


def test_lookup_by_external_id_and_work_email(scim):
    user_id = create(
        scim,
        userName="upn@contoso.onmicrosoft.com",
        externalId="jyoung",
        emails=[{"value": "Jane.Young@contoso.com", "type": "work", "primary": True}],
    )["id"]
    for query in (
        'externalId eq "jyoung"',
        'emails[type eq "work"].value eq "jane.young@contoso.com"',
        'emails.value eq "JANE.YOUNG@contoso.com"',
    ):
        body = scim.get(f"/Users?filter={query}").body
        assert [r["id"] for r in body["Resources"]] == [user_id], query
    assert scim.get('/Users?filter=externalId eq "JYOUNG"').body["totalResults"] == 0


def test_manager_check_filter_entra_sends_before_updating_a_manager(scim):
    manager = create(scim, userName="boss@contoso.com")["id"]
    report = create(scim, userName="report@contoso.com", **{ENTERPRISE: {"manager": manager}})["id"]
    query = f'id eq "{report}" and {ENTERPRISE}:manager eq "{manager}"'
    assert scim.get(f"/Users?filter={query}").body["totalResults"] == 1


def test_invalid_filters_are_400_invalid_filter(scim):
    for query in (
        "userName eq",
        'nosuchattribute eq "x"',
        'userName zz "x"',
        '(userName eq "a"',
        "active gt true",
    ):
        assert_scim_error(scim.get(f"/Users?filter={query}"), 400, "invalidFilter")


def test_removed_members_are_invisible(scim):
    user_id = create(scim, userName="gone@contoso.com")["id"]
    assert scim.delete(f"/Users/{user_id}").status == 204
    assert_scim_error(scim.get(f"/Users/{user_id}"), 404)
    assert scim.get('/Users?filter=userName eq "gone@contoso.com"').body["totalResults"] == 0
    assert scim.get("/Users").body["totalResults"] == 0


def test_a_member_invited_in_the_panel_is_found_and_adopted(scim, organization):
    # given: an admin invited someone by email before provisioning was connected
    invited = MemberFactory(organization=organization, email="pat@contoso.com", full_name="Pat")
    # when: Entra looks the person up, then updates them
    found = scim.get('/Users?filter=userName eq "Pat@Contoso.com"').body
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == str(invited.scim_id)
    response = scim.patch(
        f"/Users/{invited.scim_id}",
        patch({"op": "Replace", "path": "displayName", "value": "Pat Doe"}),
    )
    # then: the same member, now managed by the identity provider
    assert response.status == 200 and response.body["displayName"] == "Pat Doe"
    invited.refresh_from_db()
    assert invited.source == "idp" and invited.full_name == "Pat Doe"
    assert Member.objects.filter(organization=organization).count() == 1


def test_pagination_follows_rfc_7644(scim):
    ids = [create(scim, userName=f"user{n:02}@contoso.com")["id"] for n in range(7)]

    def page(query: str) -> dict:
        response = scim.get(f"/Users?{query}")
        assert response.status == 200, response.body
        return response.body

    first = page("startIndex=1&count=3")
    assert (first["totalResults"], first["itemsPerPage"], first["startIndex"]) == (7, 3, 1)
    assert [r["id"] for r in first["Resources"]] == ids[:3]
    assert [r["id"] for r in page("startIndex=4&count=3")["Resources"]] == ids[3:6]
    assert [r["id"] for r in page("startIndex=7&count=3")["Resources"]] == ids[6:]
    beyond = page("startIndex=50&count=3")
    assert (beyond["totalResults"], beyond["itemsPerPage"], beyond["Resources"]) == (7, 0, [])
    zero = page("count=0")
    assert (zero["totalResults"], zero["itemsPerPage"], zero["Resources"]) == (7, 0, [])
    assert page("count=-5")["itemsPerPage"] == 0
    assert page("startIndex=0&count=2")["startIndex"] == 1
    assert page("startIndex=-3&count=2")["Resources"][0]["id"] == ids[0]
    assert page("count=100000")["itemsPerPage"] == 7
    assert_scim_error(scim.get("/Users?count=ten"), 400, "invalidValue")
    assert_scim_error(scim.get("/Users?startIndex=1.5"), 400, "invalidValue")


def test_sorting(scim):
    for name in ("carol", "alice", "bob"):
        create(scim, userName=f"{name}@contoso.com")
    ascending = scim.get("/Users?sortBy=userName").body["Resources"]
    assert [r["userName"] for r in ascending] == [
        "alice@contoso.com",
        "bob@contoso.com",
        "carol@contoso.com",
    ]
    descending = scim.get("/Users?sortBy=userName&sortOrder=descending").body["Resources"]
    assert descending[0]["userName"] == "carol@contoso.com"
    assert_scim_error(scim.get("/Users?sortBy=password"), 400, "invalidValue")


def test_attributes_and_excluded_attributes(scim):
    user_id = create(
        scim,
        userName="proj@contoso.com",
        name={"givenName": "Pro", "familyName": "Jection"},
        emails=[{"value": "p@contoso.com", "type": "work"}],
    )["id"]
    only = scim.get(f"/Users/{user_id}?attributes=userName,name.givenName").body
    assert only == {
        "schemas": [USER],
        "id": user_id,
        "userName": "proj@contoso.com",
        "name": {"givenName": "Pro"},
    }
    without = scim.get(
        f"/Users/{user_id}?excludedAttributes=emails,meta,groups,name.familyName"
    ).body
    assert "emails" not in without and "meta" not in without and "groups" not in without
    assert without["name"] == {"givenName": "Pro"}
    assert without["id"] == user_id
    listed = scim.get("/Users?attributes=urn:ietf:params:scim:schemas:core:2.0:User:userName").body
    assert listed["Resources"] == [
        {"schemas": [USER], "id": user_id, "userName": "proj@contoso.com"}
    ]


def test_search_with_post(scim):
    user_id = create(scim, userName="searched@contoso.com")["id"]
    create(scim, userName="other@contoso.com")
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'userName sw "search"',
        "attributes": ["userName"],
        "startIndex": 1,
        "count": 10,
    }
    response = scim.post("/Users/.search", body)
    assert response.status == 200
    assert response.body["Resources"] == [
        {"schemas": [USER], "id": user_id, "userName": "searched@contoso.com"}
    ]
    assert_scim_error(
        scim.post("/Users/.search", {"filter": 'userName eq "x"'}), 400, "invalidValue"
    )


# --- update ---------------------------------------------------------------------------------------


def test_entra_patch_multi_valued_properties_example(scim):
    user_id = create(scim, **{k: v for k, v in ENTRA_CREATE.items() if k != "schemas"})["id"]
    response = scim.patch(
        f"/Users/{user_id}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {
                    "op": "Replace",
                    "path": 'emails[type eq "work"].value',
                    "value": "updatedEmail@microsoft.com",
                },
                {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
            ],
        },
    )
    assert response.status == 200
    assert response.body["emails"][0]["value"] == "updatedEmail@microsoft.com"
    assert response.body["name"]["familyName"] == "updatedFamilyName"
    assert response.body["meta"]["version"] == 'W/"2"' == response.headers["ETag"]
    member = Member.objects.get(scim_id=user_id)
    assert (
        member.email == "updatedEmail@microsoft.com" and member.family_name == "updatedFamilyName"
    )
    # and the new address is searchable at once
    found = scim.get('/Users?filter=emails[type eq "work"].value eq "updatedemail@microsoft.com"')
    assert found.body["totalResults"] == 1


def test_entra_patch_user_name_keeps_the_id(scim):
    user_id = create(scim, userName="old.upn@contoso.com")["id"]
    response = scim.patch(
        f"/Users/{user_id}",
        patch(
            {
                "op": "Replace",
                "path": "userName",
                "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com",
            }
        ),
    )
    assert response.status == 200
    assert response.body["id"] == user_id
    assert response.body["userName"] == "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    assert scim.get('/Users?filter=userName eq "old.upn@contoso.com"').body["totalResults"] == 0


def test_renaming_to_a_taken_user_name_is_409_and_changes_nothing(scim):
    create(scim, userName="taken@contoso.com")
    user_id = create(scim, userName="mine@contoso.com")["id"]
    response = scim.patch(
        f"/Users/{user_id}",
        patch({"op": "replace", "path": "userName", "value": "TAKEN@contoso.com"}),
    )
    assert_scim_error(response, 409, "uniqueness")
    assert scim.get(f"/Users/{user_id}").body["userName"] == "mine@contoso.com"


@pytest.mark.parametrize("value", [False, "False", "false", "FALSE"])
def test_entra_disable_user_suspends_the_member(scim, value):
    user_id = create(scim, userName="leaver@contoso.com")["id"]
    response = scim.patch(
        f"/Users/{user_id}",
        {
            "Operations": [{"op": "Replace", "path": "active", "value": value}],
            "schemas": [PATCH_OP],
        },
    )
    assert response.status == 200
    assert response.body["active"] is False
    member = Member.objects.get(scim_id=user_id)
    assert member.status == "suspended" and member.suspended_at is not None
    assert (
        AuditLogEntry.objects.filter(action="member.suspended", target_id=str(member.pk)).count()
        == 1
    )


def test_okta_pathless_deactivation(scim):
    user_id = create(scim, userName="okta.user@contoso.com")["id"]
    response = scim.patch(f"/Users/{user_id}", patch({"op": "replace", "value": {"active": False}}))
    assert response.body["active"] is False
    assert Member.objects.get(scim_id=user_id).status == "suspended"


def test_reactivation_restores_invited_or_active(scim, organization):
    # given: one person who never registered, one who did
    never = create(scim, userName="never@contoso.com")["id"]
    registered = ActiveMemberFactory(
        organization=organization,
        source="idp",
        user_name="reg@contoso.com",
        email="reg@contoso.com",
    )
    for member_id in (never, str(registered.scim_id)):
        scim.patch(
            f"/Users/{member_id}", patch({"op": "Replace", "path": "active", "value": "False"})
        )
    # when
    for member_id in (never, str(registered.scim_id)):
        response = scim.patch(
            f"/Users/{member_id}", patch({"op": "Replace", "path": "active", "value": "True"})
        )
        assert response.body["active"] is True
    # then
    assert Member.objects.get(scim_id=never).status == "invited"
    registered.refresh_from_db()
    assert registered.status == "active"


def test_entra_pathless_replace_with_dotted_keys_and_extension_urns(scim):
    user_id = create(
        scim,
        userName="multi@contoso.com",
        emails=[{"value": "old@contoso.com", "type": "work", "primary": True}],
    )["id"]
    response = scim.patch(
        f"/Users/{user_id}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {
                    "op": "replace",
                    "path": 'emails[type eq "work"].value',
                    "value": "TestMhvaes@test.microsoft.com",
                },
                {
                    "op": "replace",
                    "value": {
                        "displayName": "Bjfe",
                        "name.givenName": "Kkom",
                        "name.familyName": "Unua",
                        f"{ENTERPRISE}:employeeNumber": "Aklq",
                    },
                },
            ],
        },
    )
    body = response.body
    assert response.status == 200, body
    assert body["displayName"] == "Bjfe"
    assert body["name"] == {"givenName": "Kkom", "familyName": "Unua"}
    assert body[ENTERPRISE]["employeeNumber"] == "Aklq"
    assert body["emails"][0]["value"] == "TestMhvaes@test.microsoft.com"


def test_entra_add_of_a_typed_entry_that_does_not_exist_yet(scim):
    user_id = create(scim, userName="phones@contoso.com")["id"]
    response = scim.patch(
        f"/Users/{user_id}",
        patch(
            {"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 555 0100"},
            {"op": "Add", "path": 'addresses[type eq "work"].postalCode', "value": "98052"},
        ),
    )
    assert response.body["phoneNumbers"] == [{"type": "mobile", "value": "+1 555 0100"}]
    assert response.body["addresses"] == [{"type": "work", "postalCode": "98052"}]


@pytest.mark.parametrize(
    "value",
    [
        "MANAGER_ID",
        {"value": "MANAGER_ID"},
        [{"$ref": "https://x/Users/MANAGER_ID", "value": "MANAGER_ID"}],
    ],
)
def test_manager_set_in_every_form_entra_sends_and_removed(scim, value):
    manager = create(scim, userName="boss@contoso.com")["id"]
    user_id = create(scim, userName="report@contoso.com")["id"]
    if isinstance(value, str):
        value = manager
    elif isinstance(value, dict):
        value = {"value": manager}
    else:
        value = [{"$ref": f"https://x/Users/{manager}", "value": manager}]
    response = scim.patch(
        f"/Users/{user_id}",
        patch(
            {
                "op": "add",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "value": value,
            }
        ),
    )
    assert response.status == 200, response.body
    assert response.body[ENTERPRISE]["manager"]["value"] == manager
    assert Member.objects.get(scim_id=user_id).manager_ref == manager
    removed = scim.patch(
        f"/Users/{user_id}",
        patch(
            {
                "op": "Remove",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            }
        ),
    )
    assert ENTERPRISE not in removed.body or "manager" not in removed.body[ENTERPRISE]
    assert Member.objects.get(scim_id=user_id).manager_ref == ""


def test_patch_is_all_or_nothing(scim):
    user_id = create(scim, userName="atomic@contoso.com", displayName="Before")["id"]
    response = scim.patch(
        f"/Users/{user_id}",
        patch(
            {"op": "replace", "path": "displayName", "value": "After"},
            {"op": "replace", "path": "title", "value": "Boss"},
            {"op": "explode", "path": "title", "value": "x"},
        ),
    )
    assert response.status == 400
    got = scim.get(f"/Users/{user_id}").body
    assert got["displayName"] == "Before" and "title" not in got
    assert got["meta"]["version"] == 'W/"1"'


def test_a_patch_that_changes_nothing_changes_no_version_and_writes_no_audit(scim):
    user_id = create(scim, userName="same@contoso.com", displayName="Same")["id"]
    audit_before = AuditLogEntry.objects.count()
    response = scim.patch(
        f"/Users/{user_id}", patch({"op": "Replace", "path": "displayName", "value": "Same"})
    )
    assert response.status == 200 and response.body["meta"]["version"] == 'W/"1"'
    assert AuditLogEntry.objects.count() == audit_before


def test_okta_put_replaces_the_user(scim):
    user_id = create(scim, userName="put@contoso.com", title="Old title", displayName="Put User")[
        "id"
    ]
    response = scim.put(
        f"/Users/{user_id}",
        {
            "schemas": [USER],
            "id": user_id,
            "userName": "put@contoso.com",
            "name": {"givenName": "Put", "familyName": "User"},
            "active": False,
            "emails": [{"value": "put@contoso.com", "primary": True, "type": "work"}],
        },
    )
    assert response.status == 200
    assert "title" not in response.body and "displayName" not in response.body
    assert response.body["active"] is False
    assert Member.objects.get(scim_id=user_id).status == "suspended"


def test_put_cannot_change_the_id(scim):
    user_id = create(scim, userName="fixed@contoso.com")["id"]
    response = scim.put(
        f"/Users/{user_id}",
        {"schemas": [USER], "id": str(uuid.uuid4()), "userName": "fixed@contoso.com"},
    )
    assert_scim_error(response, 400, "mutability")


def test_patch_of_id_is_a_mutability_error(scim):
    user_id = create(scim, userName="fixed@contoso.com")["id"]
    assert_scim_error(
        scim.patch(f"/Users/{user_id}", patch({"op": "replace", "path": "id", "value": "x"})),
        400,
        "mutability",
    )


def test_etag_if_match_and_if_none_match(scim):
    user_id = create(scim, userName="etag@contoso.com")["id"]
    stale = 'W/"1"'
    scim.patch(f"/Users/{user_id}", patch({"op": "replace", "path": "displayName", "value": "v2"}))
    response = scim.patch(
        f"/Users/{user_id}",
        patch({"op": "replace", "path": "displayName", "value": "v3"}),
        headers={"If-Match": stale},
    )
    assert_scim_error(response, 412)
    assert scim.get(f"/Users/{user_id}").body["displayName"] == "v2"
    ok = scim.patch(
        f"/Users/{user_id}",
        patch({"op": "replace", "path": "displayName", "value": "v3"}),
        headers={"If-Match": 'W/"2"'},
    )
    assert ok.status == 200 and ok.headers["ETag"] == 'W/"3"'
    assert scim.get(f"/Users/{user_id}", headers={"If-None-Match": 'W/"3"'}).status == 304
    assert_scim_error(scim.delete(f"/Users/{user_id}", headers={"If-Match": stale}), 412)


# --- delete ---------------------------------------------------------------------------------------


def test_delete_marks_deleted_keeps_history_and_frees_the_user_name(scim, organization):
    user_id = create(scim, userName="temp@contoso.com")["id"]
    assert scim.delete(f"/Users/{user_id}").status == 204
    member = Member.objects.get(scim_id=user_id)
    assert member.status == "deleted" and member.deleted_at is not None
    history = AuditLogEntry.objects.filter(target_type="member", target_id=str(member.pk))
    assert set(history.values_list("action", flat=True)) == {
        "member.provisioned",
        "invitation.created",
        "member.removed",
    }
    assert_scim_error(scim.delete(f"/Users/{user_id}"), 404)
    again = scim.post("/Users", {"userName": "temp@contoso.com"})
    assert again.status == 201 and again.body["id"] != user_id


def test_a_deleted_members_sign_in_stops(scim, organization, client):
    user = UserFactory(email="staff@contoso.com")
    member = ActiveMemberFactory(
        organization=organization, user=user, email=user.email, user_name=user.email, role="admin"
    )
    client.force_login(user)
    assert client.get("/users/").status_code == 200
    scim.delete(f"/Users/{member.scim_id}")
    assert client.get("/users/").status_code == 302


# --- tenancy --------------------------------------------------------------------------------------


def test_another_organizations_user_ids_are_404_for_every_method(scim, other_scim):
    theirs = other_scim.post("/Users", {"userName": "theirs@fabrikam.com"}).body["id"]
    assert_scim_error(scim.get(f"/Users/{theirs}"), 404)
    assert_scim_error(scim.put(f"/Users/{theirs}", {"userName": "x@contoso.com"}), 404)
    assert_scim_error(
        scim.patch(f"/Users/{theirs}", patch({"op": "replace", "path": "active", "value": False})),
        404,
    )
    assert_scim_error(scim.delete(f"/Users/{theirs}"), 404)
    assert scim.get('/Users?filter=userName eq "theirs@fabrikam.com"').body["totalResults"] == 0
    assert other_scim.get(f"/Users/{theirs}").body["active"] is True


def test_locations_point_at_the_organizations_own_tenant_url(scim, organization):
    body = create(scim, userName="loc@contoso.com")
    assert f"/scim/v2/{organization.tenant_id}/Users/" in body["meta"]["location"]


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "scim_type"),
    [
        (b"{not json", "application/scim+json", 400, "invalidSyntax"),
        (b"[1, 2]", "application/scim+json", 400, "invalidSyntax"),
        (b"", "application/scim+json", 400, "invalidSyntax"),
        (b"\xff\xfe{}", "application/scim+json", 400, "invalidSyntax"),
        (b'{"userName": NaN}', "application/json", 400, "invalidSyntax"),
        (b"[" * 100000 + b"]" * 100000, "application/scim+json", 400, "invalidSyntax"),
        (b"userName=x", "application/x-www-form-urlencoded", 415, None),
        (b'{"userName": "x"}', "text/plain", 415, None),
    ],
)
def test_malformed_bodies_get_clear_errors(scim, raw, content_type, status, scim_type):
    response = scim.request("POST", "/Users", raw=raw, content_type=content_type)
    assert_scim_error(response, status, scim_type)
    assert Member.objects.count() == 0


def test_oversized_bodies_get_413(scim, settings):
    settings.SCIM_MAX_BODY_BYTES = 1000
    response = scim.post("/Users", {"userName": "big@contoso.com", "title": "x" * 2000})
    assert_scim_error(response, 413)


@pytest.mark.parametrize(
    "body",
    [
        {"userName": 42},
        {"userName": ""},
        {"displayName": "no user name"},
        {"userName": "x@contoso.com", "active": "yes"},
        {"userName": "x@contoso.com", "emails": "x@contoso.com"},
        {"userName": "x@contoso.com", "name": ["Kim"]},
        {
            "userName": "x@contoso.com",
            "emails": [
                {"value": "a@x.com", "primary": True},
                {"value": "b@x.com", "primary": True},
            ],
        },
    ],
)
def test_wrong_types_and_missing_user_name_are_400_invalid_value(scim, body):
    assert_scim_error(scim.post("/Users", body), 400, "invalidValue")
    assert Member.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        ({"schemas": [PATCH_OP]}, "invalidSyntax"),
        ({"schemas": [PATCH_OP], "Operations": []}, "invalidSyntax"),
        ({"schemas": [PATCH_OP], "Operations": "replace"}, "invalidSyntax"),
        (patch({"op": "explode", "path": "title", "value": "x"}), "invalidSyntax"),
        (patch({"op": "remove"}), "noTarget"),
        (patch({"op": "replace", "path": "emails[type eq", "value": "x"}), "invalidPath"),
        (patch({"op": "replace", "path": "nosuchattribute", "value": "x"}), "invalidPath"),
        (patch({"op": "replace", "path": "active", "value": "maybe"}), "invalidValue"),
        (patch({"op": "replace", "path": "userName", "value": 7}), "invalidValue"),
    ],
)
def test_malformed_patches_are_rejected_with_the_right_scim_type(scim, body, scim_type):
    user_id = create(scim, userName="target@contoso.com")["id"]
    assert_scim_error(scim.patch(f"/Users/{user_id}", body), 400, scim_type)
    assert scim.get(f"/Users/{user_id}").body["meta"]["version"] == 'W/"1"'


def test_errors_never_leak_internals(scim):
    response = scim.post("/Users", {"userName": "x" * 300})
    assert response.status in (201, 400)
    assert not re.search(r"Traceback|psycopg|sqlite|IntegrityError", response.raw.decode())


def test_removing_active_leaves_the_status_alone(scim):
    user_id = create(scim, userName="paused@contoso.com", active=False)["id"]
    response = scim.patch(f"/Users/{user_id}", patch({"op": "remove", "path": "active"}))
    assert response.status == 200
    assert "active" not in response.body
    assert Member.objects.get(scim_id=user_id).status == "suspended"
    assert scim.get("/Users?filter=active eq true").body["totalResults"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"userName": "x" * 300 + "@contoso.com"},
        {"userName": "ok@contoso.com", "displayName": "y" * 300},
        {"userName": "ok@contoso.com", "emails": [{"value": "z" * 400 + "@x.com", "type": "work"}]},
    ],
)
def test_values_too_long_to_store_are_400_invalid_value_never_truncated(scim, body):
    assert_scim_error(scim.post("/Users", body), 400, "invalidValue")
    assert Member.objects.count() == 0


def test_nul_characters_are_refused_and_logged_safely(scim, organization):
    from integrations.models import ScimRequest

    created = scim.post("/Users", {"userName": "nul\u0000@contoso.com"})
    assert_scim_error(created, 400, "invalidValue")
    assert_scim_error(scim.get('/Users?filter=userName eq "a%00b"'), 400, "invalidFilter")
    assert scim.get("/Users/%00").status == 404
    paths = list(
        ScimRequest.objects.filter(organization=organization).values_list("path", flat=True)
    )
    assert "/Users/\N{SYMBOL FOR NULL}" in paths
