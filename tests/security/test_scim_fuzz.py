"""Property-based fuzzing of the SCIM service through the whole stack (issue 8, "Bad input").

Hypothesis builds hostile requests (bodies, PATCH operations, filters, query parameters, paths,
headers, byte encodings) and sends them with a real token to one organization's Tenant URL. After
every request:

- the status is below 500;
- a 4xx carries the RFC 7644 §3.12 error body (schemas, status as a string, a detail, no trace);
- another organization's rows are exactly as before;
- the target organization keeps its invariants: userNames unique ignoring case among members
  who are not deleted, every status one of invited/active/suspended/deleted, and group
  memberships only between a group and a member of the same organization.

Each example runs inside a savepoint that is rolled back afterwards, so every example starts
from the same two organizations.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, unquote, urlencode

import pytest
from django.db import transaction
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from accounts.models import Member
from tests.factories import OrganizationFactory
from tests.integrations.scim.conftest import ScimClient, ScimResponse, scim_client_for
from tests.security.helpers import (
    assert_scim_error_body,
    memberships_stay_within_their_organization,
    organization_snapshot,
)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
STATUSES = {choice.value for choice in Member.Status}

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- the world every example starts from ----------------------------------------------------


class World:
    """Contoso (the target, A) and Fabrikam (B, whose rows must never change)."""

    def __init__(self) -> None:
        self.org_a = OrganizationFactory(name="Contoso", slug="contoso")
        self.org_b = OrganizationFactory(name="Fabrikam", slug="fabrikam")
        self.scim = scim_client_for(self.org_a)
        other = scim_client_for(self.org_b)
        self.users_a = [
            self._create(self.scim, "/Users", _user(f"user{n}@contoso.example")) for n in range(3)
        ]
        self.groups_a = [
            self._create(self.scim, "/Groups", _group("Contoso Staff", self.users_a[:2])),
            self._create(self.scim, "/Groups", _group("Contoso Admins", [])),
        ]
        self.users_b = [self._create(other, "/Users", _user("user0@fabrikam.example"))]
        self.groups_b = [self._create(other, "/Groups", _group("Fabrikam Staff", self.users_b))]
        self.snapshot_b = organization_snapshot(self.org_b)

    @staticmethod
    def _create(client: ScimClient, path: str, body: dict[str, Any]) -> str:
        response = client.post(path, body)
        assert response.status == 201, response.body
        return str(response.body["id"])

    @property
    def ids(self) -> list[str]:
        return [*self.users_a, *self.groups_a, *self.users_b, *self.groups_b]

    @contextmanager
    def example(self) -> Iterator[None]:
        """One example: run it, check the invariants, then undo everything it wrote."""
        savepoint = transaction.savepoint()
        try:
            yield
            self.check_invariants()
        finally:
            transaction.savepoint_rollback(savepoint)

    def check_invariants(self) -> None:
        assert organization_snapshot(self.org_b) == self.snapshot_b
        members = Member.objects.filter(organization=self.org_a)
        assert set(members.values_list("status", flat=True)) <= STATUSES
        names = Counter(
            name.casefold()
            for name in members.exclude(status=Member.Status.DELETED).values_list(
                "user_name", flat=True
            )
        )
        assert not [name for name, count in names.items() if count > 1], names
        memberships_stay_within_their_organization()


def _user(user_name: str) -> dict[str, Any]:
    return {"schemas": [USER_SCHEMA], "userName": user_name, "active": True}


def _group(name: str, members: list[str]) -> dict[str, Any]:
    return {
        "schemas": [GROUP_SCHEMA],
        "displayName": name,
        "members": [{"value": member} for member in members],
    }


@pytest.fixture
def world(db) -> World:
    return World()


# The endpoints this service does not offer (RFC 7644 §3.7 /Bulk, §3.11 /Me, the bare root)
# answer 501 Not Implemented with an error body, as RFC 7644 specifies; ServiceProviderConfig
# says bulk is unsupported. Every other status must stay below 500.
NOT_IMPLEMENTED_ROUTES = frozenset({"root", "me", "bulk"})


def is_not_implemented_endpoint(client: ScimClient, path: str) -> bool:
    try:
        match = resolve(unquote(client.base + path))
    except Resolver404:
        return False
    return match.url_name in NOT_IMPLEMENTED_ROUTES


def check_response(response: ScimResponse, *, may_be_not_implemented: bool = False) -> None:
    # Shown by --hypothesis-show-statistics: how often the fuzzer gets past validation.
    event(f"status {response.status}")
    if not (may_be_not_implemented and response.status == 501):
        assert response.status < 500, (response.status, response.raw[:800])
    if response.status >= 400:
        assert_scim_error_body(response.status, response.body, response.raw)


# --- strategies -----------------------------------------------------------------------------

# Text with the awkward parts of Unicode: surrogates are left out because JSON cannot carry
# them as UTF-8; invalid encodings are fuzzed separately as raw bytes.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
SHORT = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)
HUGE_NUMBERS = st.sampled_from([10**30, -(10**30), 10**400, 2**63, -(2**63) - 1, 1e308, -0.0])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    HUGE_NUMBERS,
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
    st.sampled_from(["", " ", "true", "False", "null", "\x00", "a" * 300, "ß", "İ", "\u202e"]),
)

USER_ATTRIBUTES = [
    "schemas",
    "id",
    "externalId",
    "userName",
    "name",
    "displayName",
    "nickName",
    "title",
    "active",
    "emails",
    "phoneNumbers",
    "addresses",
    "groups",
    "roles",
    "meta",
    "password",
    ENTERPRISE,
    f"{ENTERPRISE}:manager",
    f"{ENTERPRISE}:department",
]
GROUP_ATTRIBUTES = ["schemas", "id", "externalId", "displayName", "members", "meta"]
SUB_ATTRIBUTES = [
    "value",
    "type",
    "primary",
    "display",
    "$ref",
    "givenName",
    "familyName",
    "formatted",
    "manager",
    "department",
]
KEYS = st.one_of(st.sampled_from(USER_ATTRIBUTES + GROUP_ATTRIBUTES + SUB_ATTRIBUTES), SHORT)


def json_values(keys: st.SearchStrategy[str] = KEYS) -> st.SearchStrategy[Any]:
    return st.recursive(
        SCALARS,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(keys, children, max_size=5),
        ),
        max_leaves=20,
    )


def ids_or_garbage(world: World) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(world.ids), SCALARS, st.uuids().map(str))


def user_bodies(world: World) -> st.SearchStrategy[Any]:
    """Plausible User documents with hostile values, or any JSON at all."""
    plausible = st.fixed_dictionaries(
        {"userName": st.one_of(TEXT, SCALARS, st.sampled_from(["USER0@contoso.example"]))},
        optional={
            "schemas": st.one_of(
                st.just([USER_SCHEMA]), st.just([USER_SCHEMA, ENTERPRISE]), json_values()
            ),
            "id": ids_or_garbage(world),
            "externalId": SCALARS,
            "active": SCALARS,
            "displayName": SCALARS,
            "name": st.one_of(
                st.dictionaries(st.sampled_from(SUB_ATTRIBUTES), SCALARS, max_size=3),
                json_values(),
            ),
            "emails": st.lists(
                st.dictionaries(st.sampled_from(SUB_ATTRIBUTES), SCALARS, max_size=4), max_size=3
            )
            | json_values(),
            "groups": st.lists(st.fixed_dictionaries({"value": ids_or_garbage(world)}), max_size=2),
            ENTERPRISE: st.dictionaries(
                st.sampled_from(["manager", "department", "employeeNumber"]),
                json_values(),
                max_size=3,
            ),
            "meta": json_values(),
            "password": SCALARS,
        },
    )
    return st.one_of(valid_users(world), valid_users(world), plausible, json_values())


NAMES = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=30).filter(
    str.strip
)


def valid_users(world: World) -> st.SearchStrategy[dict[str, Any]]:
    """Documents an identity provider could send, so fuzzing also reaches the write paths
    (uniqueness, status changes, group links) instead of stopping at validation."""
    return st.fixed_dictionaries(
        {
            "schemas": st.sampled_from([[USER_SCHEMA], [USER_SCHEMA, ENTERPRISE]]),
            "userName": st.one_of(
                NAMES,
                st.sampled_from(["user0@contoso.example", "USER1@CONTOSO.EXAMPLE", "ǅ", "ß", "SS"]),
            ),
        },
        optional={
            "active": st.booleans(),
            "externalId": NAMES,
            "displayName": NAMES,
            "name": st.fixed_dictionaries(
                {}, optional={"givenName": NAMES, "familyName": NAMES, "formatted": NAMES}
            ),
            "emails": st.lists(
                st.fixed_dictionaries(
                    {"value": NAMES},
                    optional={"type": st.sampled_from(["work", "home"]), "primary": st.booleans()},
                ),
                max_size=2,
            ),
            ENTERPRISE: st.fixed_dictionaries(
                {},
                optional={
                    "department": NAMES,
                    "manager": st.fixed_dictionaries({"value": st.sampled_from(world.ids)}),
                },
            ),
        },
    )


def group_bodies(world: World) -> st.SearchStrategy[Any]:
    members = st.lists(
        st.one_of(
            st.fixed_dictionaries(
                {"value": ids_or_garbage(world)},
                optional={"display": SCALARS, "$ref": SCALARS, "type": SCALARS},
            ),
            json_values(),
        ),
        max_size=4,
    )
    plausible = st.fixed_dictionaries(
        {"displayName": st.one_of(TEXT, SCALARS, st.just("CONTOSO STAFF"))},
        optional={
            "schemas": st.one_of(st.just([GROUP_SCHEMA]), json_values()),
            "id": ids_or_garbage(world),
            "externalId": SCALARS,
            "members": st.one_of(members, json_values()),
            "meta": json_values(),
        },
    )
    valid = st.fixed_dictionaries(
        {
            "schemas": st.just([GROUP_SCHEMA]),
            "displayName": st.one_of(NAMES, st.sampled_from(["contoso admins", "Fabrikam Staff"])),
        },
        optional={
            "externalId": NAMES,
            "members": st.lists(
                st.fixed_dictionaries({"value": st.sampled_from(world.ids)}), max_size=4
            ),
        },
    )
    return st.one_of(valid, valid, plausible, json_values())


def filter_values(world: World) -> st.SearchStrategy[str]:
    quoted = st.one_of(TEXT, st.sampled_from(world.ids)).map(json.dumps)
    return st.one_of(
        quoted,
        st.sampled_from(["true", "false", "null", "1", "-1e999", "2026-01-01T00:00:00Z"]),
        SHORT,
    )


def attribute_paths(world: World) -> st.SearchStrategy[str]:
    names = st.sampled_from(
        [
            *USER_ATTRIBUTES,
            *GROUP_ATTRIBUTES,
            "name.givenName",
            "name.familyName",
            "emails.value",
            "emails.type",
            "members.value",
            "meta.created",
            "meta.lastModified",
            "meta.resourceType",
            f"{USER_SCHEMA}:userName",
            f"{USER_SCHEMA}:name.givenName",
            f"{ENTERPRISE}:manager.value",
            f"{GROUP_SCHEMA}:displayName",
        ]
    )
    case_variants = names.flatmap(
        lambda name: st.sampled_from([name, name.upper(), name.lower(), name.swapcase()])
    )
    return st.one_of(case_variants, SHORT)


def filters(world: World) -> st.SearchStrategy[str]:
    operators = st.sampled_from(
        ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "Co", "xx", ""]
    )
    comparison = st.builds(
        lambda path, op, value: f"{path} {op} {value}",
        attribute_paths(world),
        operators,
        filter_values(world),
    )
    presence = attribute_paths(world).map(lambda path: f"{path} pr")

    def combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.builds(
                lambda a, word, b: f"{a} {word} {b}",
                children,
                st.sampled_from(["and", "or", "AND", "Or", "&&"]),
                children,
            ),
            children.map(lambda text: f"not ({text})"),
            children.map(lambda text: f"({text}"),
            st.builds(
                lambda path, inner: f"{path}[{inner}]",
                st.sampled_from(["emails", "members", "name", "userName"]),
                children,
            ),
        )

    structured = st.recursive(st.one_of(comparison, presence), combine, max_leaves=6)
    return st.one_of(structured, TEXT, st.just("(" * 200 + "id pr" + ")" * 200))


def patch_paths(world: World) -> st.SearchStrategy[Any]:
    bracketed = st.builds(
        lambda name, inner, sub: f"{name}[{inner}]{sub}",
        st.sampled_from(["emails", "members", "phoneNumbers", "addresses", "roles", "groups"]),
        filters(world),
        st.sampled_from(["", ".value", ".type", ".primary", ".display", ".x"]),
    )
    return st.one_of(st.none(), attribute_paths(world), bracketed, SCALARS)


def patch_bodies(world: World) -> st.SearchStrategy[Any]:
    operation = st.fixed_dictionaries(
        {},
        optional={
            "op": st.one_of(
                st.sampled_from(["add", "Add", "ADD", "replace", "Replace", "remove", "Remove"]),
                SCALARS,
            ),
            "path": patch_paths(world),
            "value": st.one_of(
                json_values(),
                st.lists(st.fixed_dictionaries({"value": ids_or_garbage(world)}), max_size=3),
                st.dictionaries(
                    st.sampled_from([*USER_ATTRIBUTES, *GROUP_ATTRIBUTES, "name.givenName"]),
                    json_values(),
                    max_size=3,
                ),
            ),
        },
    )
    plausible = st.fixed_dictionaries(
        {"Operations": st.one_of(st.lists(operation, max_size=4), json_values())},
        optional={"schemas": st.one_of(st.just([PATCH_OP]), json_values())},
    )
    return st.one_of(valid_patches(world), valid_patches(world), plausible, json_values())


def valid_patches(world: World) -> st.SearchStrategy[dict[str, Any]]:
    """Entra- and Okta-shaped PATCH requests with real paths and fitting values."""
    member_values = st.lists(
        st.fixed_dictionaries({"value": st.sampled_from(world.ids)}), max_size=3
    )
    pairs = st.one_of(
        st.tuples(
            st.sampled_from(["active", "ACTIVE"]), st.one_of(st.booleans(), st.just("False"))
        ),
        st.tuples(
            st.sampled_from(
                [
                    "userName",
                    "displayName",
                    "externalId",
                    "name.givenName",
                    "name.familyName",
                    'emails[type eq "work"].value',
                    f"{ENTERPRISE}:department",
                    f"{USER_SCHEMA}:userName",
                ]
            ),
            st.one_of(NAMES, st.sampled_from(["user0@contoso.example", "USER2@contoso.example"])),
        ),
        st.tuples(st.sampled_from(["members", "Members"]), member_values),
        st.tuples(
            st.sampled_from(world.ids).map(lambda member: f'members[value eq "{member}"]'),
            st.none(),
        ),
        st.tuples(
            st.none(),
            st.dictionaries(
                st.sampled_from(["active", "displayName", "members"]),
                st.one_of(st.booleans(), NAMES, member_values),
                max_size=2,
            ),
        ),
        st.tuples(st.sampled_from([f"{ENTERPRISE}:manager"]), st.sampled_from(world.ids)),
    )
    operation = st.builds(
        lambda op, pair: {
            "op": op,
            **({"path": pair[0]} if pair[0] is not None else {}),
            "value": pair[1],
        },
        st.sampled_from(["add", "Add", "replace", "Replace", "remove", "Remove"]),
        pairs,
    )
    return st.fixed_dictionaries(
        {"schemas": st.just([PATCH_OP]), "Operations": st.lists(operation, min_size=1, max_size=4)}
    )


def query_params(world: World) -> st.SearchStrategy[dict[str, Any]]:
    numbers = st.one_of(
        st.integers(min_value=-(10**20), max_value=10**20).map(str),
        st.sampled_from(["", "1e3", "0x10", "1.5", " 2", "٣", "NaN", "-0", str(10**400)]),
        SHORT,
    )
    names = st.lists(attribute_paths(world), max_size=4).map(",".join)
    return st.fixed_dictionaries(
        {},
        optional={
            "filter": filters(world),
            "startIndex": numbers,
            "count": numbers,
            "attributes": names,
            "excludedAttributes": names,
            "sortBy": st.one_of(attribute_paths(world), SHORT),
            "sortOrder": st.one_of(st.sampled_from(["ascending", "DESCENDING", "desc", ""]), SHORT),
            "aadOptscim062020": st.just(""),
            "extra": SHORT,
        },
    )


# --- properties -----------------------------------------------------------------------------


@FUZZ
@given(data=st.data(), method=st.sampled_from(["POST", "PUT"]))
def test_fuzzed_user_documents(world, data, method):
    # given
    body = data.draw(user_bodies(world))
    path = "/Users" if method == "POST" else f"/Users/{data.draw(st.sampled_from(world.users_a))}"

    with world.example():
        # when
        response = world.scim.request(method, path, body)

        # then
        check_response(response)


@FUZZ
@given(data=st.data(), method=st.sampled_from(["POST", "PUT"]))
def test_fuzzed_group_documents(world, data, method):
    # given
    body = data.draw(group_bodies(world))
    target = data.draw(st.sampled_from(world.groups_a))
    path = "/Groups" if method == "POST" else f"/Groups/{target}"

    with world.example():
        # when
        response = world.scim.request(method, path, body)

        # then
        check_response(response)


@settings(FUZZ, max_examples=250)
@given(data=st.data(), resource=st.sampled_from(["Users", "Groups"]))
def test_fuzzed_patch_operations(world, data, resource):
    # given
    body = data.draw(patch_bodies(world))
    ids = world.users_a if resource == "Users" else world.groups_a
    target = data.draw(st.sampled_from(ids))

    with world.example():
        # when
        response = world.scim.patch(f"/{resource}/{target}", body)

        # then
        check_response(response)


@settings(FUZZ, max_examples=250)
@given(data=st.data(), resource=st.sampled_from(["Users", "Groups"]), search=st.booleans())
def test_fuzzed_filters_and_query_parameters(world, data, resource, search):
    # given
    params = data.draw(query_params(world))

    with world.example():
        # when
        if search:
            body = {"schemas": [SEARCH], **params}
            response = world.scim.post(f"/{resource}/.search", body)
        else:
            response = world.scim.get(f"/{resource}?{urlencode(params)}")

        # then
        check_response(response)
        if response.status == 200:
            ids = {resource["id"] for resource in response.body["Resources"]}
            assert not ids & {*world.users_b, *world.groups_b}


SEGMENTS = st.one_of(
    st.sampled_from(
        [
            "Users",
            "Groups",
            "users",
            "GROUPS",
            ".search",
            "Me",
            "Bulk",
            "Schemas",
            "ResourceTypes",
            "ServiceProviderConfig",
            "ServiceProviderConfigs",
            "..",
            ".",
            "",
            "%00",
            "%2F",
            "%2e%2e",
            USER_SCHEMA,
            "User",
            "Group",
        ]
    ),
    SHORT.map(lambda text: quote(text, safe="")),
)


@FUZZ
@given(
    data=st.data(),
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]),
    segments=st.lists(SEGMENTS, min_size=1, max_size=4),
)
def test_fuzzed_paths_methods_and_ids(world, data, method, segments):
    # given
    ids = data.draw(st.lists(ids_or_garbage(world).map(str), max_size=2))
    parts = [*segments, *(quote(part, safe="") for part in ids)]
    if data.draw(st.booleans()):
        parts.insert(0, data.draw(st.sampled_from(["Users", "Groups"])))
    path = "/" + "/".join(parts)
    body = data.draw(st.one_of(st.none(), json_values()))

    with world.example():
        # when
        response = world.scim.request(method, path, body)

        # then
        unsupported = is_not_implemented_endpoint(world.scim, path)
        if method == "HEAD":  # no body comes back for HEAD
            assert response.status < 500 or (unsupported and response.status == 501)
        else:
            check_response(response, may_be_not_implemented=unsupported)
        assert b"fabrikam" not in response.raw.lower()


CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            "application/scim+json",
            "application/json",
            "APPLICATION/SCIM+JSON",
            "application/scim+json; charset=utf-8",
            "application/json; charset=latin-1",
            "application/json;charset=",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/xml",
            "",
            ";",
            "application/scim+json; charset=utf-16",
        ]
    ),
    SHORT.filter(lambda text: "\n" not in text and "\r" not in text),
)
ETAGS = st.one_of(
    st.sampled_from(['W/"1"', '"1"', "*", 'W/"999"', "", ",", 'W/"', '"\x00"', "W/" * 50]),
    SHORT.filter(lambda text: "\n" not in text and "\r" not in text),
)


@FUZZ
@given(
    data=st.data(),
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
    content_type=CONTENT_TYPES,
    if_match=st.one_of(st.none(), ETAGS),
    if_none_match=st.one_of(st.none(), ETAGS),
)
def test_fuzzed_headers(world, data, method, content_type, if_match, if_none_match):
    # given
    resource = data.draw(st.sampled_from(["Users", "Groups"]))
    ids = world.users_a if resource == "Users" else world.groups_a
    path = f"/{resource}" if method == "POST" else f"/{resource}/{data.draw(st.sampled_from(ids))}"
    if method == "PATCH":
        body: Any = data.draw(patch_bodies(world))
    elif resource == "Users":
        body = data.draw(user_bodies(world))
    else:
        body = data.draw(group_bodies(world))
    headers = {}
    if if_match is not None:
        headers["If-Match"] = if_match
    if if_none_match is not None:
        headers["If-None-Match"] = if_none_match

    with world.example():
        # when
        response = world.scim.request(
            method, path, body, content_type=content_type, headers=headers
        )

        # then
        if response.status != 304:
            check_response(response)


def _invalid_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


INVALID_UTF8 = st.one_of(
    st.binary(min_size=1, max_size=200).filter(_invalid_utf8),
    st.builds(
        lambda prefix, bad, suffix: prefix + bad + suffix,
        st.just(b'{"userName": "'),
        st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"]),
        st.just(b'"}'),
    ),
)


@FUZZ
@given(
    data=st.data(),
    raw=INVALID_UTF8,
    method=st.sampled_from(["POST", "PUT", "PATCH", "SEARCH"]),
)
def test_invalid_utf8_bodies_are_invalid_syntax(world, data, raw, method):
    # given
    resource = data.draw(st.sampled_from(["Users", "Groups"]))
    ids = world.users_a if resource == "Users" else world.groups_a
    if method == "POST":
        path = f"/{resource}"
    elif method == "SEARCH":
        method, path = "POST", f"/{resource}/.search"
    else:
        path = f"/{resource}/{data.draw(st.sampled_from(ids))}"

    with world.example():
        # when
        response = world.scim.request(method, path, raw=raw)

        # then
        check_response(response)
        assert response.status == 400, response.body
        assert response.body.get("scimType") == "invalidSyntax", response.body


@FUZZ
@given(raw=st.binary(max_size=300), method=st.sampled_from(["POST", "PUT", "PATCH"]))
def test_arbitrary_bytes_never_break_the_server(world, raw, method):
    # given
    path = "/Users" if method == "POST" else f"/Users/{world.users_a[0]}"

    with world.example():
        # when
        response = world.scim.request(method, path, raw=raw)

        # then
        check_response(response)


# --- deterministic limits -------------------------------------------------------------------


def test_a_two_megabyte_body_is_413(world):
    # given
    body = json.dumps({"schemas": [USER_SCHEMA], "userName": "big", "x": "a" * 2_000_000})

    # when
    response = world.scim.request("POST", "/Users", raw=body.encode())

    # then
    assert response.status == 413
    assert_scim_error_body(413, response.body, response.raw)
    world.check_invariants()


def test_json_nested_ten_thousand_deep_is_400(world):
    # given
    raw = b'{"userName": "deep", "x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"

    # when
    response = world.scim.request("POST", "/Users", raw=raw)

    # then
    assert response.status == 400
    assert_scim_error_body(400, response.body, response.raw)
    assert response.body.get("scimType") == "invalidSyntax"


def test_json_objects_nested_ten_thousand_deep_in_a_patch_is_400(world):
    # given
    raw = b'{"Operations": [{"op": "add", "value": ' + b'{"a":' * 10_000 + b"1" + b"}" * 10_000
    raw += b"}]}"

    # when
    response = world.scim.request("PATCH", f"/Users/{world.users_a[0]}", raw=raw)

    # then
    assert response.status == 400
    assert_scim_error_body(400, response.body, response.raw)


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data"])
def test_a_wrong_content_type_is_415(world, content_type):
    # when
    response = world.scim.request(
        "POST", "/Users", _user("typed@contoso.example"), content_type=content_type
    )

    # then
    assert response.status == 415
    assert_scim_error_body(415, response.body, response.raw)


def test_invalid_utf8_is_400_invalid_syntax(world):
    # when
    response = world.scim.request("POST", "/Users", raw=b'{"userName": "\xff\xfe"}')

    # then
    assert response.status == 400
    assert_scim_error_body(400, response.body, response.raw)
    assert response.body["scimType"] == "invalidSyntax"


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_standard_json_numbers_are_invalid_syntax(world, constant):
    # when
    response = world.scim.request(
        "POST", "/Users", raw=b'{"userName": "n@contoso.example", "x": ' + constant + b"}"
    )

    # then
    assert response.status == 400
    assert_scim_error_body(400, response.body, response.raw)


# --- regressions found by the fuzzers -------------------------------------------------------


@pytest.mark.parametrize("start_index", [str(2**63), str(10**400)])
@pytest.mark.parametrize("resource", ["Users", "Groups"])
def test_a_start_index_beyond_the_database_integer_range_is_an_empty_page(
    world, resource, start_index
):
    # when
    response = world.scim.get(f"/{resource}?startIndex={start_index}")

    # then: was a 500 (the OFFSET overflowed the database integer)
    assert response.status == 200, response.raw[:300]
    assert response.body["Resources"] == []
    assert response.body["itemsPerPage"] == 0
    assert response.body["totalResults"] == (3 if resource == "Users" else 2)


@pytest.mark.parametrize("path", ["/%0A", "/Users/%0A/x", "/%0D%0A"])
def test_a_path_with_an_encoded_line_break_gets_the_scim_404(world, path):
    # when
    response = world.scim.get(path)

    # then: was the panel's HTML 404 page
    assert response.status == 404
    assert_scim_error_body(404, response.body, response.raw)
