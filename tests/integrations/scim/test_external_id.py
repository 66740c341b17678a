"""externalId is the provisioning client's own identifier, with no uniqueness (RFC 7643 §3.1).

Clients repeat it: test suites reuse one GUID for several users, and Entra's default mapping sends
`mailNickname`, which repeats across a tenant's domains (scim-notes §5). A repeat must never be a
409, or that user is never provisioned. Replayed over real HTTP (`live_scim`).
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from accounts.models import Group, Member
from tests.integrations.scim.test_auth_and_discovery import assert_scim_error

pytestmark = pytest.mark.django_db(transaction=True)

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTRA = {"User-Agent": "Azure AD SCIM Provisioning"}
SHARED = "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"


def filtered(live_scim, endpoint: str, expression: str) -> set[str]:
    response = live_scim.get(f"/{endpoint}?filter={quote(expression)}", headers=ENTRA)
    assert response.status == 200, response.body
    assert response.body["totalResults"] == len(response.body["Resources"])
    return {resource["id"] for resource in response.body["Resources"]}


def test_two_users_with_one_external_id_are_both_created_and_both_found(live_scim):
    # when: Entra's create-user request twice, for two people with one mailNickname
    responses = [
        live_scim.post(
            "/Users",
            {
                "schemas": [USER],
                "externalId": SHARED,
                "userName": user_name,
                "active": True,
                "displayName": "Jo Young",
            },
            headers=ENTRA,
        )
        for user_name in ("jyoung@contoso.com", "jyoung@fabrikam.contoso.com")
    ]
    # then
    assert [response.status for response in responses] == [201, 201], responses[1].body
    ids = {response.body["id"] for response in responses}
    assert all(response.body["externalId"] == SHARED for response in responses)
    assert filtered(live_scim, "Users", f'externalId eq "{SHARED}"') == ids
    # and: each is still found alone by its userName, the attribute Entra matches on
    assert filtered(live_scim, "Users", 'userName eq "jyoung@contoso.com"') == {
        responses[0].body["id"]
    }


def test_a_user_may_take_an_external_id_another_user_has(live_scim):
    # given
    first = live_scim.post("/Users", {"userName": "a@contoso.com", "externalId": SHARED})
    second = live_scim.post("/Users", {"userName": "b@contoso.com", "externalId": "b"})
    # when: by PATCH (Entra's update) and by PUT (Okta's)
    patched = live_scim.patch(
        f"/Users/{second.body['id']}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "Replace", "path": "externalId", "value": SHARED}],
        },
        headers=ENTRA,
    )
    third = live_scim.post("/Users", {"userName": "c@contoso.com"})
    put = live_scim.put(
        f"/Users/{third.body['id']}", {"userName": "c@contoso.com", "externalId": SHARED}
    )
    # then
    assert (first.status, patched.status, put.status) == (201, 200, 200), patched.body
    assert Member.objects.filter(external_id=SHARED).count() == 3
    assert len(filtered(live_scim, "Users", f'externalId eq "{SHARED}"')) == 3


def test_two_groups_with_one_external_id_are_both_created_and_both_found(live_scim):
    # when
    responses = [
        live_scim.post(
            "/Groups",
            {"schemas": [GROUP], "externalId": SHARED, "displayName": name},
            headers=ENTRA,
        )
        for name in ("Sales", "Sales EMEA")
    ]
    # then
    assert [response.status for response in responses] == [201, 201], responses[1].body
    ids = {response.body["id"] for response in responses}
    assert filtered(live_scim, "Groups", f'externalId eq "{SHARED}"') == ids
    assert Group.objects.filter(external_id=SHARED).count() == 2


def test_user_name_and_group_display_name_stay_unique_in_any_case(live_scim):
    # given
    live_scim.post("/Users", {"userName": "Ada@Contoso.com", "externalId": "1"})
    live_scim.post("/Groups", {"displayName": "Sales", "externalId": "1"})
    # when: a new externalId does not make a taken name free
    user = live_scim.post("/Users", {"userName": "ada@contoso.COM", "externalId": "2"})
    group = live_scim.post("/Groups", {"displayName": "SALES", "externalId": "2"})
    # then
    assert_scim_error(user, 409, "uniqueness")
    assert user.body["detail"] == "A member with the userName 'ada@contoso.COM' already exists."
    assert_scim_error(group, 409, "uniqueness")
    assert group.body["detail"] == "A group named 'SALES' already exists."
