"""Tenant isolation matrix (issue 8): every SCIM endpoint and method, every panel page and action.

Two organizations, Contoso (A, the caller) and Fabrikam (B, the victim). Each request is made with
something that belongs to the wrong tenant (token, Tenant URL, resource id, session) and must get
401/403/404, with none of B's data in the response and none of B's rows changed.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.middleware import SESSION_KEY
from accounts.models import Member
from integrations.models import DeprovisionHold, EmailDomain, ScimRequest, SsoConnection
from tests.conftest import signed_in_client
from tests.factories import (
    ActiveMemberFactory,
    AdminFactory,
    GroupFactory,
    GroupMembershipFactory,
    OrganizationFactory,
    OwnerFactory,
)
from tests.integrations.scim.conftest import ScimClient, scim_client_for
from tests.security.helpers import (
    assert_scim_error_body,
    memberships_stay_within_their_organization,
    organization_snapshot,
)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

B_USER_NAME = "fabrikam-secret-person@fabrikam.example"
B_GROUP_NAME = "Fabrikam Secret Board"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ENDPOINTS = (
    "/Users",
    "/Users/{user}",
    "/Groups",
    "/Groups/{group}",
    "/Users/.search",
    "/Groups/.search",
    "/.search",
    "/ServiceProviderConfig",
    "/ResourceTypes",
    "/Schemas",
    "/Bulk",
    "/Me",
)


class Tenants:
    """A (the caller) and B (the victim), each with a SCIM token, a member and a group."""

    def __init__(self) -> None:
        self.org_a = OrganizationFactory(name="Contoso", slug="contoso")
        self.org_b = OrganizationFactory(name="Fabrikam", slug="fabrikam")
        self.scim_a = scim_client_for(self.org_a)
        self.scim_b = scim_client_for(self.org_b)
        self.user_a = self._create(self.scim_a, "/Users", user_body("alice@contoso.example"))
        self.group_a = self._create(self.scim_a, "/Groups", group_body("Contoso Staff"))
        self.user_b = self._create(self.scim_b, "/Users", user_body(B_USER_NAME))
        self.group_b = self._create(
            self.scim_b, "/Groups", group_body(B_GROUP_NAME, members=[self.user_b])
        )

    @staticmethod
    def _create(client: ScimClient, path: str, body: dict[str, Any]) -> str:
        response = client.post(path, body)
        assert response.status == 201, response.body
        return str(response.body["id"])

    def b_markers(self) -> list[bytes]:
        return [
            marker.encode()
            for marker in (
                B_USER_NAME,
                B_GROUP_NAME,
                self.user_b,
                self.group_b,
                str(self.org_b.tenant_id),
                "Fabrikam",
            )
        ]

    def assert_no_b_data(self, raw: bytes, *, sent: str = "") -> None:
        """None of B's names or ids in a response, except what the request itself carried
        (a 404 may echo the id the client asked for: that tells the client nothing new)."""
        for marker in self.b_markers():
            if marker.decode().lower() in sent.lower():
                continue
            assert marker.lower() not in raw.lower(), (marker, raw[:800])


def user_body(user_name: str) -> dict[str, Any]:
    return {"schemas": [USER_SCHEMA], "userName": user_name, "active": True}


def group_body(name: str, *, members: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "displayName": name}
    if members is not None:
        body["members"] = [{"value": member} for member in members]
    return body


def body_for(path: str, method: str, tenants: Tenants) -> dict[str, Any] | None:
    """A well-formed body for the endpoint, so a refusal is about the tenant, not the syntax."""
    if method in ("GET", "DELETE"):
        return None
    if path.endswith(".search"):
        return {"schemas": [SEARCH], "filter": f'userName eq "{B_USER_NAME}"'}
    if method == "PATCH":
        return {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "displayName", "value": "pwned"}],
        }
    if path.startswith("/Groups"):
        return group_body("Pwned group")
    return user_body("pwned@contoso.example")


@pytest.fixture
def tenants(db) -> Tenants:
    return Tenants()


def _matrix() -> list[tuple[str, str]]:
    return [(path, method) for path in ENDPOINTS for method in METHODS]


# --- SCIM -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "method"), _matrix())
def test_another_organizations_token_on_this_tenant_url_gets_401(tenants, path, method):
    # given
    before_a = organization_snapshot(tenants.org_a)
    before_b = organization_snapshot(tenants.org_b)
    url = path.format(user=tenants.user_a, group=tenants.group_a)

    # when: B's valid token is presented at A's Tenant URL
    response = tenants.scim_a.request(
        method, url, body_for(path, method, tenants), token=tenants.scim_b.token
    )

    # then
    assert response.status == 401, (response.status, response.body)
    assert_scim_error_body(401, response.body, response.raw)
    assert organization_snapshot(tenants.org_a) == before_a
    assert organization_snapshot(tenants.org_b) == before_b
    tenants.assert_no_b_data(response.raw)


@pytest.mark.parametrize(("path", "method"), _matrix())
def test_this_token_on_another_tenants_url_gets_401(tenants, path, method):
    # given
    before_a = organization_snapshot(tenants.org_a)
    before_b = organization_snapshot(tenants.org_b)
    b_served = ScimRequest.objects.filter(organization=tenants.org_b, status_code__lt=400).count()
    url = tenants.scim_b.base + path.format(user=tenants.user_b, group=tenants.group_b)

    # when: A's valid token is presented at B's Tenant URL
    response = tenants.scim_a.request(method, url, body_for(path, method, tenants))

    # then
    assert response.status == 401, (response.status, response.body)
    assert_scim_error_body(401, response.body, response.raw)
    assert organization_snapshot(tenants.org_a) == before_a
    assert organization_snapshot(tenants.org_b) == before_b
    tenants.assert_no_b_data(response.raw)
    served = ScimRequest.objects.filter(organization=tenants.org_b, status_code__lt=400)
    assert served.count() == b_served


@pytest.mark.parametrize(
    ("path", "method"),
    [(path, method) for path in ("/Users/{user}", "/Groups/{group}") for method in METHODS],
)
def test_another_organizations_resource_ids_are_not_found(tenants, path, method):
    # given
    before_b = organization_snapshot(tenants.org_b)
    url = path.format(user=tenants.user_b, group=tenants.group_b)

    # when
    response = tenants.scim_a.request(method, url, body_for(path, method, tenants))

    # then: POST to a resource is refused before any lookup (405); everything else is 404
    expected = 405 if method == "POST" else 404
    assert response.status == expected, (response.status, response.body)
    assert_scim_error_body(expected, response.body, response.raw)
    assert organization_snapshot(tenants.org_b) == before_b
    tenants.assert_no_b_data(response.raw, sent=url)


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("GET", "/Users", 'id eq "{user}"'),
        ("GET", "/Users", 'userName eq "{user_name}"'),
        ("GET", "/Users", 'userName co "fabrikam" or id pr'),
        ("GET", "/Groups", 'id eq "{group}"'),
        ("GET", "/Groups", 'displayName eq "{group_name}"'),
        ("GET", "/Groups", 'members[value eq "{user}"]'),
        ("GET", "/Groups", 'members.value eq "{user}"'),
        ("POST", "/Users/.search", 'userName sw "fabrikam" or externalId pr or id pr'),
        ("POST", "/Groups/.search", 'displayName sw "Fabrikam" or id pr'),
    ],
)
def test_filters_and_searches_only_see_this_organization(tenants, method, path, query):
    # given
    text = query.format(
        user=tenants.user_b, group=tenants.group_b, user_name=B_USER_NAME, group_name=B_GROUP_NAME
    )

    # when
    if method == "GET":
        response = tenants.scim_a.get(path + "?" + _query({"filter": text, "count": "1000"}))
    else:
        response = tenants.scim_a.post(path, {"schemas": [SEARCH], "filter": text})

    # then: only A's resources, never B's (A's own resources may match "pr" filters)
    assert response.status == 200, response.body
    ids = {resource["id"] for resource in response.body["Resources"]}
    assert ids <= {tenants.user_a, tenants.group_a}
    tenants.assert_no_b_data(response.raw)


def _query(params: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


def _patch(op: str, path: str | None, value: Any) -> dict[str, Any]:
    operation: dict[str, Any] = {"op": op, "value": value}
    if path is not None:
        operation["path"] = path
    return {"schemas": [PATCH_OP], "Operations": [operation]}


@pytest.mark.parametrize(
    ("method", "target", "body"),
    [
        ("POST", "/Groups", lambda t: group_body("Smuggler", members=[t.user_b])),
        ("PUT", "/Groups/{group}", lambda t: group_body("Contoso Staff", members=[t.user_b])),
        ("PUT", "/Groups/{group}", lambda t: group_body("Contoso Staff", members=[t.group_b])),
        ("PATCH", "/Groups/{group}", lambda t: _patch("add", "members", [{"value": t.user_b}])),
        ("PATCH", "/Groups/{group}", lambda t: _patch("Add", "members", [{"value": t.user_b}])),
        (
            "PATCH",
            "/Groups/{group}",
            lambda t: _patch("replace", "members", [{"value": t.user_b}]),
        ),
        (
            "PATCH",
            "/Groups/{group}",
            lambda t: _patch("add", None, {"members": [{"value": t.user_b}]}),
        ),
        (
            "PATCH",
            "/Groups/{group}",
            lambda t: _patch("replace", None, {"members": [{"value": t.user_b}]}),
        ),
    ],
)
def test_another_organizations_member_ids_in_group_writes_are_skipped_never_linked(
    tenants, method, target, body
):
    # given
    memberships_a = organization_snapshot(tenants.org_a)["memberships"]
    before_b = organization_snapshot(tenants.org_b)

    # when
    response = tenants.scim_a.request(method, target.format(group=tenants.group_a), body(tenants))

    # then: the write succeeds as if the id were unknown (issue 12), and links nothing
    assert response.status in (200, 201, 204), (response.status, response.body)
    assert organization_snapshot(tenants.org_a)["memberships"] == memberships_a == []
    assert organization_snapshot(tenants.org_b) == before_b
    memberships_stay_within_their_organization()
    tenants.assert_no_b_data(response.raw)
    logged = ScimRequest.objects.filter(organization=tenants.org_a).latest("created_at", "id")
    assert "Not a member of this organization (1)" in logged.warning
    assert not ScimRequest.objects.filter(organization=tenants.org_b).exclude(warning="").exists()


def test_another_organizations_member_ids_as_bare_strings_are_invalid_values(tenants):
    # given
    before_a = organization_snapshot(tenants.org_a)
    before_b = organization_snapshot(tenants.org_b)

    # when: not a member reference at all (no object with a "value")
    response = tenants.scim_a.patch(
        f"/Groups/{tenants.group_a}", _patch("add", None, {"members": [tenants.user_b]})
    )

    # then
    assert response.status == 400, (response.status, response.body)
    assert_scim_error_body(400, response.body, response.raw)
    assert response.body.get("scimType") == "invalidValue", response.body
    assert organization_snapshot(tenants.org_a) == before_a
    assert organization_snapshot(tenants.org_b) == before_b
    memberships_stay_within_their_organization()


def test_removing_another_organizations_member_from_a_group_changes_nothing(tenants):
    # given
    before_b = organization_snapshot(tenants.org_b)

    # when
    response = tenants.scim_a.patch(
        f"/Groups/{tenants.group_a}",
        _patch("remove", f'members[value eq "{tenants.user_b}"]', None),
    )

    # then: either a no-op or a refusal, never a change to B
    assert response.status in (204, 400), (response.status, response.body)
    if response.status >= 400:
        assert_scim_error_body(response.status, response.body, response.raw)
    assert organization_snapshot(tenants.org_b) == before_b
    tenants.assert_no_b_data(response.raw)


def test_locations_point_at_this_tenant_only(tenants):
    # when
    response = tenants.scim_a.get(f"/Groups/{tenants.group_a}")

    # then
    assert response.status == 200
    assert str(tenants.org_a.tenant_id) in response.headers["Location"]
    tenants.assert_no_b_data(response.raw)


# --- panel ----------------------------------------------------------------------------------


class Panel:
    """A's admin, owner and plain member; B's member, group and provisioning-log entry."""

    def __init__(self, tenants: Tenants) -> None:
        self.tenants = tenants
        self.owner_a = OwnerFactory(organization=tenants.org_a)
        self.admin_a = AdminFactory(organization=tenants.org_a)
        self.plain_a = ActiveMemberFactory(organization=tenants.org_a)
        self.member_a = Member.objects.get(scim_id=tenants.user_a)
        self.member_b = Member.objects.get(scim_id=tenants.user_b)
        self.owner_b = OwnerFactory(organization=tenants.org_b, email="owner@fabrikam.example")
        self.group_b = tenants.org_b.groups.get(scim_id=tenants.group_b)
        self.group_a = tenants.org_a.groups.get(scim_id=tenants.group_a)
        GroupMembershipFactory(group=GroupFactory(organization=tenants.org_b), member=self.owner_b)
        self.entry_b = ScimRequest.objects.filter(organization=tenants.org_b).first()
        self.entry_a = ScimRequest.objects.filter(organization=tenants.org_a).first()
        assert self.entry_a is not None
        assert self.entry_b is not None
        # A mass-deprovisioning hold in each organization, waiting for a decision.
        self.hold_a, self.hold_b = (
            DeprovisionHold.objects.create(
                organization=org,
                provider_label="Microsoft Entra ID",
                limit=10,
                live_members=15,
                window_seconds=3600,
            )
            for org in (tenants.org_a, tenants.org_b)
        )
        # An email domain each organization claimed; B verified its own.
        self.domain_a = EmailDomain.objects.create(
            organization=tenants.org_a, domain="contoso.example", token="a" * 32
        )
        self.domain_b = EmailDomain.objects.create(
            organization=tenants.org_b,
            domain="fabrikam.example",
            token="b" * 32,
            state=EmailDomain.State.VERIFIED,
            verified_at=timezone.now(),
        )
        # B's single sign-on, optional; A has none.
        self.sso_b = SsoConnection.objects.create(
            organization=tenants.org_b,
            provider="okta",
            issuer="https://fabrikam.okta.example",
            client_id="fabrikam-client",
            client_secret_sealed="sealed",
            policy=SsoConnection.Policy.OPTIONAL,
        )

    def markers(self) -> list[bytes]:
        return [*self.tenants.b_markers(), b"owner@fabrikam.example"]

    def assert_no_b_data(self, raw: bytes, *, sent: str = "") -> None:
        for marker in self.markers():
            if marker.decode().lower() in sent.lower():
                continue
            assert marker.lower() not in raw.lower(), (marker, raw[:800])


@pytest.fixture
def panel(tenants) -> Panel:
    return Panel(tenants)


def _content(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


# Pages an admin opens, with no object id in the path. (method, path, data)
ADMIN_PAGES: list[tuple[str, str, dict[str, str]]] = [
    ("GET", "/users/", {}),
    ("GET", "/groups/", {}),
    ("GET", "/integrations/", {}),
    ("GET", "/integrations/entra-id/", {}),
    ("GET", "/integrations/okta/", {}),
    ("GET", "/integrations/scim/", {}),
    ("GET", "/integrations/entra-id/credentials/regenerate/", {}),
    ("GET", "/integrations/entra-id/credentials/revoke/", {}),
    ("GET", "/activity/", {}),
    ("GET", "/activity/audit.csv", {}),
    ("GET", "/activity/provisioning/", {}),
    ("GET", "/activity/provisioning/export.csv", {}),
    ("GET", "/integrations/deprovision-guard/", {}),
    ("GET", "/integrations/domains/", {}),
]

# Pages and actions that take an object id: {member}, {group}, {entry} are filled in.
OBJECT_PAGES: list[tuple[str, str, dict[str, str]]] = [
    ("GET", "/users/{member}/", {}),
    ("POST", "/users/{member}/role/", {"role": "owner"}),
    ("POST", "/users/{member}/role/", {"role": "member"}),
    ("POST", "/users/{member}/suspend/", {}),
    ("POST", "/users/{member}/reactivate/", {}),
    ("POST", "/users/{member}/remove/", {}),
    ("POST", "/users/{member}/invite/", {}),
    ("POST", "/users/{member}/invitation/revoke/", {}),
    ("GET", "/groups/{group}/", {}),
    ("POST", "/groups/{group}/admin/", {"grants_admin": "on"}),
    ("POST", "/groups/{group}/admin/", {}),
    ("GET", "/activity/provisioning/{entry}/", {}),
    ("GET", "/integrations/deprovision-guard/{hold}/", {}),
    ("GET", "/integrations/deprovision-guard/{hold}/apply/", {}),
    ("POST", "/integrations/deprovision-guard/{hold}/apply/", {"confirm": "on"}),
    ("POST", "/integrations/deprovision-guard/{hold}/keep/", {"confirm": "on"}),
    ("POST", "/integrations/deprovision-guard/{hold}/resume/", {"confirm": "on"}),
    ("POST", "/integrations/domains/{domain}/check/", {}),
    ("POST", "/integrations/domains/{domain}/remove/", {}),
]

# Actions on the signed-in person's own organization (credentials), POSTed.
ORG_ACTIONS: list[tuple[str, str, dict[str, str]]] = [
    ("POST", "/users/invite/", {"email": "new@contoso.example", "role": "member"}),
    ("POST", "/integrations/entra-id/credentials/", {"nonce": "x"}),
    ("POST", "/integrations/entra-id/credentials/revoke/", {"confirm": "on"}),
    # An email domain B claimed: A's claim is A's own, B's stays as it was.
    ("POST", "/integrations/domains/add/", {"domain": "fabrikam.example"}),
    # Single sign-on: A's policy and removal act on A's connection (none), never on B's.
    ("POST", "/integrations/okta/sso/policy/", {"policy": "off"}),
    ("POST", "/integrations/okta/sso/remove/", {}),
    # The guard's settings: only the signed-in owner's organization, never B's.
    (
        "POST",
        "/integrations/deprovision-guard/settings/",
        {
            "share_percent": "5",
            "min_members": "1",
            "window_value": "5",
            "window_unit": "minutes",
            "keep_value": "1",
            "keep_unit": "hours",
        },
    ),
]


def _call(client: Client, method: str, path: str, data: dict[str, str]) -> Any:
    if method == "GET":
        return client.get(path, data)
    return client.post(path, data)


def _b_ids(panel: Panel) -> dict[str, int]:
    return {
        "member": panel.member_b.pk,
        "group": panel.group_b.pk,
        "entry": panel.entry_b.pk,
        "hold": panel.hold_b.pk,
        "domain": panel.domain_b.pk,
    }


def _a_ids(panel: Panel) -> dict[str, int]:
    return {
        "member": panel.member_a.pk,
        "group": panel.group_a.pk,
        "entry": panel.entry_a.pk,
        "hold": panel.hold_a.pk,
        "domain": panel.domain_a.pk,
    }


@pytest.mark.parametrize("who", ["admin", "owner"])
@pytest.mark.parametrize(("method", "path", "data"), OBJECT_PAGES)
def test_an_admin_of_a_cannot_reach_bs_objects_by_id(panel, who, method, path, data):
    # given
    client = signed_in_client(panel.owner_a if who == "owner" else panel.admin_a)
    before_b = organization_snapshot(panel.tenants.org_b)

    # when
    response = _call(client, method, path.format(**_b_ids(panel)), data)

    # then
    assert response.status_code in (403, 404), (response.status_code, _content(response)[:300])
    panel.assert_no_b_data(_content(response))
    assert organization_snapshot(panel.tenants.org_b) == before_b
    panel.hold_b.refresh_from_db()
    assert panel.hold_b.state == DeprovisionHold.State.HOLDING
    panel.domain_b.refresh_from_db()
    assert panel.domain_b.state == EmailDomain.State.VERIFIED


@pytest.mark.parametrize(("method", "path", "data"), ADMIN_PAGES + ORG_ACTIONS)
def test_an_admin_of_a_sees_and_changes_nothing_of_b_on_organization_pages(
    panel, method, path, data
):
    # given
    client = signed_in_client(panel.owner_a)
    before_b = organization_snapshot(panel.tenants.org_b)

    # when
    response = _call(client, method, path, data)

    # then
    assert response.status_code in (200, 302), response.status_code
    panel.assert_no_b_data(_content(response))
    assert organization_snapshot(panel.tenants.org_b) == before_b
    assert SsoConnection.objects.get(pk=panel.sso_b.pk).policy == SsoConnection.Policy.OPTIONAL


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/users/", lambda p: {"group": str(p.group_b.pk)}),
        ("/users/", lambda p: {"q": "fabrikam"}),
        ("/users/", lambda p: {"q": B_USER_NAME, "status": "invited"}),
        ("/activity/", lambda p: {"q": "fabrikam"}),
        ("/activity/audit.csv", lambda p: {"q": "fabrikam"}),
        ("/activity/provisioning/", lambda p: {"member": p.tenants.user_b}),
        ("/activity/provisioning/", lambda p: {"member": B_USER_NAME}),
        ("/activity/provisioning/", lambda p: {"before": f"{p.entry_b.pk}"}),
        ("/activity/provisioning/export.csv", lambda p: {"member": p.tenants.user_b}),
    ],
)
def test_filters_with_bs_ids_or_names_show_nothing_of_b(panel, path, params):
    # given
    client = signed_in_client(panel.owner_a)

    sent = params(panel)

    # when
    response = client.get(path, sent)

    # then: the search form may echo what was typed, but nothing of B's comes back
    assert response.status_code in (200, 302), response.status_code
    panel.assert_no_b_data(_content(response), sent=" ".join(sent.values()))


def test_switching_to_bs_organization_is_refused(panel):
    # given
    client = signed_in_client(panel.owner_a)

    # when
    response = client.post("/organization/switch/", {"member": str(panel.owner_b.pk)})

    # then
    assert response.status_code == 404
    assert client.session[SESSION_KEY] != panel.owner_b.pk
    panel.assert_no_b_data(_content(client.get("/users/")))


def test_a_session_pointing_at_bs_membership_is_not_trusted(panel):
    # given: a session tampered to name B's owner membership as the current organization
    client = signed_in_client(panel.owner_a)
    session = client.session
    session[SESSION_KEY] = panel.owner_b.pk
    session.save()
    before_b = organization_snapshot(panel.tenants.org_b)

    # when
    pages = [client.get(path) for _, path, _ in ADMIN_PAGES]
    pages.append(client.post(f"/users/{panel.member_b.pk}/suspend/"))

    # then
    for response in pages:
        panel.assert_no_b_data(_content(response))
    assert pages[-1].status_code == 404
    assert organization_snapshot(panel.tenants.org_b) == before_b


@pytest.mark.parametrize(("method", "path", "data"), ADMIN_PAGES + OBJECT_PAGES + ORG_ACTIONS)
def test_a_plain_member_gets_403_on_every_admin_page(panel, method, path, data):
    # given
    client = signed_in_client(panel.plain_a)
    before_a = organization_snapshot(panel.tenants.org_a)

    # when
    response = _call(client, method, path.format(**_a_ids(panel)), data)

    # then
    assert response.status_code == 403, response.status_code
    assert organization_snapshot(panel.tenants.org_a) == before_a


def test_a_plain_member_is_sent_from_the_dashboard_to_their_account(panel):
    # when
    response = signed_in_client(panel.plain_a).get("/")

    # then
    assert response.status_code == 302
    assert response["Location"] == "/account/"


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("GET", "/", {}),
        ("GET", "/account/", {}),
        ("POST", "/organization/switch/", {}),
        *ADMIN_PAGES,
        *OBJECT_PAGES,
        *ORG_ACTIONS,
    ],
)
def test_anonymous_visitors_are_sent_to_sign_in(panel, method, path, data):
    # given
    before_a = organization_snapshot(panel.tenants.org_a)

    # when
    response = _call(Client(), method, path.format(**_a_ids(panel)), data)

    # then
    assert response.status_code == 302, response.status_code
    assert response["Location"].startswith("/login/"), response["Location"]
    assert organization_snapshot(panel.tenants.org_a) == before_a
