"""Authentication, tenancy of the endpoint itself, discovery and the error contract."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accounts.audit import Actor
from integrations import services
from integrations.models import ScimRequest

pytestmark = pytest.mark.django_db

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def assert_scim_error(response, status: int, scim_type: str | None = None) -> None:
    assert response.status == status, response.body
    assert response.headers["Content-Type"].startswith("application/scim+json")
    assert response.body["schemas"] == [ERROR]
    assert response.body["status"] == str(status)
    assert isinstance(response.body["detail"], str) and response.body["detail"]
    if scim_type is None:
        assert "scimType" not in response.body
    else:
        assert response.body["scimType"] == scim_type
    assert "Traceback" not in response.body["detail"]


def test_entra_test_connection_gets_an_empty_list(scim):
    # Entra's Test Connection looks up a random GUID as userName and expects 200 + empty list.
    response = scim.get('/Users?filter=userName eq "9f1e2c1a-0b7c-4f5e-9d39-6d2f0f1c2b3a"')
    assert response.status == 200
    assert response.body == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0,
        "itemsPerPage": 0,
        "startIndex": 1,
        "Resources": [],
    }
    assert response.headers["Content-Type"].startswith("application/scim+json")
    assert len(response.headers["X-Request-Id"]) == 32


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer npscim_nope", "Token abc"],
)
def test_missing_or_malformed_credentials_get_401(scim, header):
    headers = {"Authorization": header} if header is not None else {}
    response = scim.request("GET", "/Users", token="", headers=headers)
    assert_scim_error(response, 401)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="scim"'


def test_another_organizations_token_gets_401_and_no_data(scim, other_scim):
    scim.post("/Users", {"userName": "alice@contoso.com"})
    response = scim.get("/Users", token=other_scim.token)
    assert_scim_error(response, 401)
    assert b"alice" not in response.raw


def test_unknown_and_malformed_tenants_get_the_same_401(scim):
    for path in ("/scim/v2/00000000-0000-4000-8000-000000000000/Users", "/scim/v2/nope/Users"):
        response = scim.get(path)
        assert_scim_error(response, 401)
        assert response.body["detail"] == (
            "Authentication failed: send the Secret token from this organization's "
            "Integrations page as 'Authorization: Bearer <token>'."
        )


def test_revoked_token_gets_401(scim, organization):
    services.scim_token_revoke(organization=organization, actor=Actor.system())
    assert_scim_error(scim.get("/Users"), 401)


def test_rotated_token_keeps_working_during_its_overlap(scim, organization):
    new = services.scim_token_issue(
        organization=organization, actor=Actor.system(), overlap=timedelta(hours=1)
    )
    assert scim.get("/Users").status == 200
    assert scim.get("/Users", token=new.secret).status == 200


def test_service_provider_config_advertises_what_is_supported(scim, settings):
    settings.SITE_URL = "https://admin.example.com"
    body = scim.get("/ServiceProviderConfig").body
    assert body["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    assert body["patch"] == {"supported": True}
    assert body["bulk"]["supported"] is False
    assert body["filter"] == {"supported": True, "maxResults": 1000}
    assert body["changePassword"] == {"supported": False}
    assert body["sort"] == {"supported": True}
    assert body["etag"] == {"supported": True}
    assert body["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    assert body["meta"]["location"] == (
        f"https://admin.example.com/scim/v2/{scim.organization.tenant_id}/ServiceProviderConfig"
    )


def test_resource_types_list_users_and_groups(scim):
    body = scim.get("/ResourceTypes").body
    assert body["totalResults"] == 2
    by_id = {resource["id"]: resource for resource in body["Resources"]}
    assert by_id["User"]["endpoint"] == "/Users"
    assert by_id["User"]["schemaExtensions"][0]["schema"] == (
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    )
    assert by_id["Group"]["schema"] == "urn:ietf:params:scim:schemas:core:2.0:Group"
    assert scim.get("/ResourceTypes/User").body["id"] == "User"
    assert_scim_error(scim.get("/ResourceTypes/Printer"), 404)


def test_schemas_are_listed_and_fetched_by_urn(scim):
    body = scim.get("/Schemas").body
    ids = {resource["id"] for resource in body["Resources"]}
    assert ids == {
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
    }
    user = scim.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").body
    names = {attribute["name"] for attribute in user["attributes"]}
    assert {"userName", "name", "emails", "active"} <= names
    assert "null" not in str(user).lower().replace("nullable", "")


@pytest.mark.parametrize("path", ["/Bulk", "/Me"])
def test_bulk_and_me_answer_501_with_a_scim_body(scim, path):
    assert_scim_error(scim.post(path, {"schemas": []}), 501)


def test_unknown_endpoint_is_a_scim_404(scim):
    assert_scim_error(scim.get("/Printers"), 404)


def test_method_not_allowed_is_a_scim_405(scim):
    assert_scim_error(scim.request("DELETE", "/ServiceProviderConfig"), 405)


def test_tenant_url_with_a_trailing_slash_still_works(scim):
    response = scim.get(f"/scim/v2/{scim.organization.tenant_id}//Users/")
    assert response.status == 200 and response.body["totalResults"] == 0


def test_aad_flag_in_the_query_is_accepted(scim):
    assert scim.get("/Users?aadOptscim062020&count=5").status == 200


def test_every_request_is_in_the_provisioning_log_with_redacted_bodies(scim, organization):
    # when
    created = scim.post(
        "/Users",
        {"userName": "bob@contoso.com", "password": "Sup3r-secret!", "active": True},
        headers={"User-Agent": "Okta SCIM Client 1.0.0"},
    )
    scim.get("/Users", token="wrong")
    # then
    entries = list(
        ScimRequest.objects.filter(organization=organization).order_by("created_at", "id")
    )
    assert [(e.method, e.path, e.status_code) for e in entries] == [
        ("POST", "/Users", 201),
        ("GET", "/Users", 401),
    ]
    first = entries[0]
    assert first.request_id == created.headers["X-Request-Id"]
    assert first.client_kind == "okta"
    assert first.resource_type == "User" and first.resource_id == created.body["id"]
    assert first.outcome == "Created member bob@contoso.com"
    assert "Sup3r-secret!" not in first.request_body and "[redacted]" in first.request_body
    assert scim.token not in first.request_body + first.response_body
    assert entries[1].outcome.startswith("Rejected: Authentication failed")


def test_log_detects_entra_from_the_aad_flag(scim, organization):
    scim.get('/Users?aadOptscim062020&filter=userName eq "x"')
    assert ScimRequest.objects.get(organization=organization).client_kind == "entra-id"


def test_token_last_use_is_recorded_with_the_ip(scim, organization):
    scim.get("/Users")
    token = organization.scim_tokens.get(state="current")
    assert token.last_used_at is not None
    assert token.last_used_ip == "127.0.0.1"


@pytest.mark.parametrize("path", ["/scim/v2//Users", "/scim/v2/", "/scim/v2//"])
def test_an_empty_tenant_gets_the_scim_401_not_a_panel_page(scim, path):
    assert_scim_error(scim.get(path), 401)
