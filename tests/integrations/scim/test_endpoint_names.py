"""Endpoint names as clients write them, over real HTTP: any letter case, a slash before the query.

RFC 7644 §3.2 spells the endpoints `/Users`, `/Groups`, `/Schemas`, `/ResourceTypes` and
`/ServiceProviderConfig`; vendors' SCIM test suites and home-grown clients send `/users` or
`/Users/?filter=...`. Each must reach the same endpoint, while `Location` and `meta.location`
keep the RFC spelling and resource ids keep their exact (lowercase UUID) form.
"""

from __future__ import annotations

import pytest

from tests.integrations.scim.test_auth_and_discovery import assert_scim_error
from tests.integrations.scim.test_users_api import USER, patch

pytestmark = pytest.mark.django_db(transaction=True)

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("/users", "/Users"),
        ("/USERS", "/Users"),
        ("/groups", "/Groups"),
        ("/gRoUpS", "/Groups"),
        ("/schemas", "/Schemas"),
        ("/resourcetypes", "/ResourceTypes"),
        ("/RESOURCETYPES", "/ResourceTypes"),
        ("/serviceproviderconfig", "/ServiceProviderConfig"),
        ("/SERVICEPROVIDERCONFIG", "/ServiceProviderConfig"),
        ("/serviceproviderconfigs", "/ServiceProviderConfig"),
    ],
)
def test_an_endpoint_in_any_letter_case_answers_as_its_rfc_spelling(live_scim, spelling, canonical):
    # given: one user and one group, so the lists are not empty
    live_scim.post("/Users", {"schemas": [USER], "userName": "ada@contoso.com"})
    live_scim.post("/Groups", {"schemas": [GROUP], "displayName": "Engineering"})
    # when
    as_written = live_scim.get(spelling)
    as_specified = live_scim.get(canonical)
    # then
    assert as_written.status == 200, as_written.body
    assert as_written.headers["Content-Type"].startswith("application/scim+json")
    assert as_written.body == as_specified.body


def test_a_trailing_slash_before_the_query_is_the_same_search(live_scim):
    # given
    created = live_scim.post("/Users", {"schemas": [USER], "userName": "ada@contoso.com"}).body
    live_scim.post("/Users", {"schemas": [USER], "userName": "grace@contoso.com"})
    # when
    response = live_scim.get('/Users/?filter=userName eq "ada@contoso.com"')
    lowercase = live_scim.get('/users/?filter=userName eq "ADA@contoso.com"&count=1&startIndex=1')
    # then
    assert response.status == 200
    assert response.body["schemas"] == [LIST]
    assert response.body["totalResults"] == 1
    assert [r["id"] for r in response.body["Resources"]] == [created["id"]]
    assert lowercase.body["Resources"] == response.body["Resources"]


def test_writes_through_a_lowercase_path_keep_rfc_locations(live_scim):
    # when: a client that writes every path in lowercase
    created = live_scim.post("/users", {"schemas": [USER], "userName": "ada@contoso.com"})
    user_id = created.body["id"]
    group = live_scim.post(
        "/groups/", {"schemas": [GROUP], "displayName": "Sales", "members": [{"value": user_id}]}
    )
    patched = live_scim.patch(
        f"/users/{user_id}", patch({"op": "replace", "path": "displayName", "value": "Ada"})
    )
    read = live_scim.get(f"/groups/{group.body['id']}/")
    # then: the same resources, with locations in the RFC spelling
    base = f"{live_scim.server_url}/scim/v2/{live_scim.organization.tenant_id}"
    assert created.status == 201
    assert created.headers["Location"] == f"{base}/Users/{user_id}"
    assert created.body["meta"]["location"] == f"{base}/Users/{user_id}"
    assert group.status == 201
    assert group.headers["Location"] == f"{base}/Groups/{group.body['id']}"
    assert patched.status == 200 and patched.body["displayName"] == "Ada"
    assert read.status == 200
    assert [m["value"] for m in read.body["members"]] == [user_id]
    assert live_scim.delete(f"/USERS/{user_id}").status == 204
    assert live_scim.get(f"/Users/{user_id}").status == 404


def test_search_endpoints_in_any_letter_case(live_scim):
    # given
    live_scim.post("/Users", {"schemas": [USER], "userName": "ada@contoso.com"})
    query = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'userName eq "ada@contoso.com"',
    }
    # when
    responses = [live_scim.post(path, query) for path in ("/users/.search", "/USERS/.SEARCH/")]
    # then
    assert [r.status for r in responses] == [200, 200]
    assert all(r.body["totalResults"] == 1 for r in responses)


def test_a_resource_id_keeps_its_canonical_form(live_scim):
    # given
    user_id = live_scim.post("/Users", {"schemas": [USER], "userName": "ada@contoso.com"}).body[
        "id"
    ]
    # when: the endpoint name and the id in other letter cases
    response = live_scim.get(f"/users/{user_id.upper()}")
    # then: the same user, and the id is sent back as the canonical lowercase UUID
    assert user_id == user_id.lower()
    assert response.status == 200
    assert response.body["id"] == user_id
    assert response.body["meta"]["location"].endswith(f"/Users/{user_id}")


def test_a_name_that_only_resembles_an_endpoint_is_still_unknown(live_scim):
    for path in ("/userz", "/Users2", "/user", "/schema"):
        assert_scim_error(live_scim.get(path), 404)
