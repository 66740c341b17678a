from __future__ import annotations

import copy
from typing import Any

import pytest

from integrations.scim.errors import ERROR_SCHEMA, InvalidValue
from integrations.scim.schema import SCHEMA_URNS, normalize_resource, schema_documents
from tests.integrations.scim.examples import ENTRA_CREATE_USER, OKTA_CREATE_USER

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
CUSTOM = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
BASE_URL = "https://admin.example.com/scim/v2/tenant-1"


def _document(urn: str) -> dict[str, Any]:
    return next(document for document in schema_documents(BASE_URL) if document["id"] == urn)


def _attribute(attributes: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(attribute for attribute in attributes if attribute["name"] == name)


def _nulls(value: Any, where: str = "") -> list[str]:
    if value is None:
        return [where]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _nulls(item, f"{where}.{key}")]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in _nulls(item, where)]
    return []


# --- constants ------------------------------------------------------------------------------


def test_schema_urns_are_the_rfc_urns():
    # then
    assert SCHEMA_URNS.USER == USER
    assert SCHEMA_URNS.ENTERPRISE_USER == ENTERPRISE
    assert SCHEMA_URNS.GROUP == GROUP
    assert SCHEMA_URNS.LIST_RESPONSE == "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    assert SCHEMA_URNS.PATCH_OP == "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    assert SCHEMA_URNS.SEARCH_REQUEST == "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
    assert SCHEMA_URNS.ERROR == ERROR_SCHEMA


# --- /Schemas ---------------------------------------------------------------------------------


def test_schema_documents_are_user_enterprise_user_and_group_schema_resources():
    # when
    documents = schema_documents(BASE_URL)

    # then
    assert [document["id"] for document in documents] == [USER, ENTERPRISE, GROUP]
    assert [document["name"] for document in documents] == ["User", "EnterpriseUser", "Group"]
    for document in documents:
        assert document["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:Schema"]
        assert document["meta"] == {
            "resourceType": "Schema",
            "location": f"{BASE_URL}/Schemas/{document['id']}",
        }


def test_schema_locations_do_not_double_a_trailing_slash():
    # when
    documents = schema_documents(BASE_URL + "/")

    # then
    assert documents[0]["meta"]["location"] == f"{BASE_URL}/Schemas/{USER}"


def test_schema_documents_hold_no_null_anywhere_because_entra_rejects_them():
    # when
    nulls = _nulls(schema_documents(BASE_URL))

    # then
    assert nulls == []


def test_every_attribute_carries_the_rfc_7643_section_7_characteristics_in_camel_case():
    # given
    keys = {"name", "type", "multiValued", "description", "required", "caseExact"}
    keys |= {"mutability", "returned", "uniqueness"}

    def walk(attributes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            found
            for attribute in attributes
            for found in [attribute, *walk(attribute.get("subAttributes", []))]
        ]

    # when
    attributes = [a for d in schema_documents(BASE_URL) for a in walk(d["attributes"])]

    # then
    assert len(attributes) == 82
    for attribute in attributes:
        assert keys <= attribute.keys(), attribute["name"]
        assert attribute["mutability"] in {"readOnly", "readWrite", "immutable", "writeOnly"}
        assert attribute["returned"] in {"always", "default", "never", "request"}
        assert attribute["uniqueness"] in {"none", "server", "global"}
        assert attribute["type"] in {
            "string",
            "boolean",
            "decimal",
            "integer",
            "dateTime",
            "reference",
            "complex",
            "binary",
        }
        assert ("subAttributes" in attribute) == (attribute["type"] == "complex")


def test_user_schema_lists_the_rfc_7643_user_attributes_in_order():
    # when
    names = [attribute["name"] for attribute in _document(USER)["attributes"]]

    # then
    assert names == [
        "userName",
        "name",
        "displayName",
        "nickName",
        "profileUrl",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "active",
        "password",
        "emails",
        "phoneNumbers",
        "ims",
        "photos",
        "addresses",
        "groups",
        "entitlements",
        "roles",
        "x509Certificates",
    ]


def test_user_name_is_required_case_insensitive_and_unique_per_server():
    # when
    user_name = _attribute(_document(USER)["attributes"], "userName")

    # then
    assert user_name == {
        "name": "userName",
        "type": "string",
        "multiValued": False,
        "description": "Unique identifier for the User, typically used to sign in.",
        "required": True,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "server",
    }


def test_password_is_write_only_and_never_returned_and_groups_are_read_only():
    # given
    attributes = _document(USER)["attributes"]

    # when
    password = _attribute(attributes, "password")
    groups = _attribute(attributes, "groups")

    # then
    assert (password["mutability"], password["returned"]) == ("writeOnly", "never")
    assert groups["mutability"] == "readOnly"
    assert groups["multiValued"] is True
    assert {sub["mutability"] for sub in groups["subAttributes"]} == {"readOnly"}


def test_emails_have_value_display_type_and_primary_with_canonical_types():
    # when
    emails = _attribute(_document(USER)["attributes"], "emails")

    # then
    subs = emails["subAttributes"]
    assert [sub["name"] for sub in subs] == ["value", "display", "type", "primary"]
    assert _attribute(subs, "type")["canonicalValues"] == ["work", "home", "other"]
    assert _attribute(subs, "primary")["type"] == "boolean"
    assert emails["multiValued"] is True


def test_addresses_have_the_rfc_components_plus_type_and_primary():
    # when
    addresses = _attribute(_document(USER)["attributes"], "addresses")

    # then
    assert [sub["name"] for sub in addresses["subAttributes"]] == [
        "formatted",
        "streetAddress",
        "locality",
        "region",
        "postalCode",
        "country",
        "type",
        "primary",
    ]


def test_name_profile_url_and_photos_follow_rfc_7643():
    # given
    attributes = _document(USER)["attributes"]

    # when
    name = _attribute(attributes, "name")
    profile_url = _attribute(attributes, "profileUrl")
    photos = _attribute(attributes, "photos")

    # then
    assert [sub["name"] for sub in name["subAttributes"]] == [
        "formatted",
        "familyName",
        "givenName",
        "middleName",
        "honorificPrefix",
        "honorificSuffix",
    ]
    assert profile_url["referenceTypes"] == ["external"]
    assert _attribute(photos["subAttributes"], "value")["type"] == "reference"


def test_enterprise_manager_is_complex_with_a_read_only_display_name():
    # when
    document = _document(ENTERPRISE)

    # then
    assert [a["name"] for a in document["attributes"]] == [
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
        "manager",
    ]
    manager = _attribute(document["attributes"], "manager")
    assert manager["type"] == "complex"
    assert [sub["name"] for sub in manager["subAttributes"]] == ["value", "$ref", "displayName"]
    assert _attribute(manager["subAttributes"], "displayName")["mutability"] == "readOnly"
    assert _attribute(manager["subAttributes"], "$ref")["referenceTypes"] == ["User"]


def test_group_display_name_is_required_and_unique_and_members_are_immutable_values():
    # given
    attributes = _document(GROUP)["attributes"]

    # when
    display_name = _attribute(attributes, "displayName")
    members = _attribute(attributes, "members")

    # then
    assert (display_name["required"], display_name["uniqueness"]) == (True, "server")
    assert display_name["caseExact"] is False
    subs = members["subAttributes"]
    assert [sub["name"] for sub in subs] == ["value", "$ref", "display", "type"]
    assert _attribute(subs, "value")["mutability"] == "immutable"
    assert _attribute(subs, "type")["canonicalValues"] == ["User", "Group"]


# --- normalize_resource: Entra and Okta bodies ------------------------------------------------


def test_entra_create_user_request_normalizes_to_the_stored_document():
    # given: scim-notes §4.1, verbatim
    payload = ENTRA_CREATE_USER

    # when
    document = normalize_resource("User", payload)

    # then: meta dropped, the empty roles dropped, no enterprise attribute so no enterprise URN
    assert document == {
        "schemas": [USER],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
        "name": {
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName",
        },
        "active": True,
        "emails": [
            {
                "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com",
                "type": "work",
                "primary": True,
            }
        ],
    }


def test_entra_legacy_nulls_and_misspelled_enterprise_urn_are_ignored():
    # given: the older sample of scim-notes §4.1
    payload = {
        "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
        "userName": "bjensen@contoso.com",
        "addresses": None,
        "phoneNumbers": None,
        "title": None,
        ENTERPRISE: {"manager": None, "department": None},
    }

    # when
    document = normalize_resource("User", payload)

    # then
    assert document == {"schemas": [USER], "userName": "bjensen@contoso.com"}


def test_okta_create_user_drops_password_and_groups():
    # given: Okta's create (scim-notes §11)
    payload = OKTA_CREATE_USER

    # when
    document = normalize_resource("User", payload)

    # then
    assert document == {
        "schemas": [USER],
        "externalId": "00ujl29u0le5T6Aj10h7",
        "userName": "test.user@okta.local",
        "name": {"familyName": "User", "givenName": "Test"},
        "displayName": "Test User",
        "locale": "en-US",
        "active": True,
        "emails": [{"value": "test.user@okta.local", "type": "work", "primary": True}],
    }


def test_entra_create_group_ignores_the_adscim_schema_uri_and_meta():
    # given: scim-notes §4.10, verbatim
    payload = {
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:Group",
            "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
        ],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
        "meta": {"resourceType": "Group"},
    }

    # when
    document = normalize_resource("Group", payload)

    # then
    assert document == {
        "schemas": [GROUP],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
    }


# --- normalize_resource: types ----------------------------------------------------------------


@pytest.mark.parametrize("payload", [[], "a user", None, 42])
def test_a_body_that_is_not_an_object_is_an_invalid_value(payload):
    # when / then
    with pytest.raises(InvalidValue, match="must be a JSON object"):
        normalize_resource("User", payload)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"userName": 42}, "'userName' must be a string"),
        ({"emails": "x"}, "'emails' must be an array"),
        ({"emails": ["x"]}, "'emails' must be an object"),
        ({"emails": {"value": "a@b.c"}}, "'emails' must be an array"),
        ({"name": []}, "'name' must be an object"),
        ({"name": {"givenName": 5}}, "'name.givenName' must be a string"),
        ({"active": "yes"}, "'active' must be a boolean"),
        ({"active": 1}, "'active' must be a boolean"),
        ({"emails": [{"value": "a@b.c", "primary": "maybe"}]}, "'emails.primary' must be a"),
        ({"phoneNumbers": [{"value": 5551234}]}, "'phoneNumbers.value' must be a string"),
        ({"externalId": 7}, "'externalId' must be a string"),
        ({"displayName": {"text": "x"}}, "'displayName' must be a string"),
        ({ENTERPRISE: {"department": ["x"]}}, f"'{ENTERPRISE}:department' must be a string"),
        ({ENTERPRISE: "x"}, f"Extension '{ENTERPRISE}' must be an object"),
    ],
)
def test_wrong_json_types_are_invalid_values_naming_the_attribute(extra, message):
    # given
    payload = {"userName": "bjensen", **extra}

    # when / then
    with pytest.raises(InvalidValue, match=message):
        normalize_resource("User", payload)


@pytest.mark.parametrize(
    ("sent", "stored"), [("True", True), ("False", False), ("true", True), ("FALSE", False)]
)
def test_entra_string_booleans_become_booleans(sent, stored):
    # given
    payload = {
        "userName": "bjensen",
        "active": sent,
        "emails": [{"value": "b@example.com", "primary": sent}],
    }

    # when
    document = normalize_resource("User", payload)

    # then
    assert document["active"] is stored
    assert document["emails"] == [{"value": "b@example.com", "primary": stored}]


def test_attribute_names_resolve_case_insensitively_to_the_canonical_case():
    # given
    payload = {
        "USERNAME": "bjensen",
        "Name": {"GIVENNAME": "Barbara", "familyname": "Jensen"},
        "EMAILS": [{"VALUE": "b@example.com", "Type": "work", "PRIMARY": True}],
        "ExternalID": "e-1",
        "urn:ietf:params:scim:schemas:extension:ENTERPRISE:2.0:user": {"DEPARTMENT": "R&D"},
    }

    # when
    document = normalize_resource("User", payload)

    # then
    assert document == {
        "schemas": [USER, ENTERPRISE],
        "externalId": "e-1",
        "userName": "bjensen",
        "name": {"familyName": "Jensen", "givenName": "Barbara"},
        "emails": [{"value": "b@example.com", "type": "work", "primary": True}],
        ENTERPRISE: {"department": "R&D"},
    }


def test_a_core_attribute_written_with_its_schema_urn_is_the_plain_attribute():
    # given
    payload = {f"{USER}:userName": "bjensen", USER: {"title": "Engineer"}}

    # when
    document = normalize_resource("User", payload)

    # then
    assert document == {"schemas": [USER], "userName": "bjensen", "title": "Engineer"}


# --- normalize_resource: the enterprise extension ---------------------------------------------


def test_enterprise_extension_as_a_nested_object():
    # given
    payload = {
        "userName": "bjensen",
        ENTERPRISE: {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "organization": "Universal Studios",
            "division": "Theme Park",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"},
        },
    }

    # when
    document = normalize_resource("User", payload)

    # then
    assert document == {
        "schemas": [USER, ENTERPRISE],
        "userName": "bjensen",
        ENTERPRISE: {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "organization": "Universal Studios",
            "division": "Theme Park",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"},
        },
    }


def test_enterprise_extension_as_urn_prefixed_flat_keys_is_nested():
    # given
    payload = {
        "userName": "bjensen",
        f"{ENTERPRISE}:department": "Tour Operations",
        f"{ENTERPRISE}:employeeNumber": "701984",
    }

    # when
    document = normalize_resource("User", payload)

    # then
    assert document == {
        "schemas": [USER, ENTERPRISE],
        "userName": "bjensen",
        ENTERPRISE: {"employeeNumber": "701984", "department": "Tour Operations"},
    }


def test_nested_and_flat_enterprise_keys_merge_and_the_later_wins():
    # given
    payload = {
        "userName": "bjensen",
        ENTERPRISE: {"department": "Old", "division": "Parks"},
        f"{ENTERPRISE}:department": "New",
    }

    # when
    document = normalize_resource("User", payload)

    # then
    assert document[ENTERPRISE] == {"division": "Parks", "department": "New"}


@pytest.mark.parametrize(
    "manager",
    [
        "m-1",
        {"value": "m-1"},
        {"value": "m-1", "$ref": "https://x/Users/m-1", "displayName": "Boss"},
        [{"$ref": "https://x/Users/m-1", "value": "m-1"}],
    ],
)
def test_entra_manager_forms_all_store_the_manager_id(manager):
    # given
    payload = {"userName": "bjensen", f"{ENTERPRISE}:manager": manager}

    # when
    document = normalize_resource("User", payload)

    # then
    assert document[ENTERPRISE] == {"manager": {"value": "m-1"}}


@pytest.mark.parametrize("manager", [None, "", {"value": None}, {"$ref": None}])
def test_an_empty_manager_is_unassigned(manager):
    # given
    payload = {"userName": "bjensen", ENTERPRISE: {"manager": manager}}

    # when
    document = normalize_resource("User", payload)

    # then
    assert document == {"schemas": [USER], "userName": "bjensen"}


def test_a_manager_id_that_is_not_a_string_is_invalid():
    # when / then
    with pytest.raises(InvalidValue, match=r"manager\.value' must be a string"):
        normalize_resource("User", {"userName": "b", ENTERPRISE: {"manager": {"value": 5}}})


# --- normalize_resource: what is dropped and what is kept -------------------------------------


def test_read_only_and_server_owned_attributes_are_dropped_not_refused():
    # given
    payload = {
        "id": "client-chosen",
        "userName": "bjensen",
        "meta": {"resourceType": "User", "created": "2018-03-27T19:59:26.000Z"},
        "groups": [{"value": "g-1", "display": "Admins"}],
        "password": "t1meMa$heen",
    }

    # when
    document = normalize_resource("User", payload)

    # then
    assert document == {"schemas": [USER], "userName": "bjensen"}


def test_unknown_attributes_and_custom_extensions_are_kept_as_sent():
    # given
    payload = {
        "userName": "bjensen",
        "favouriteColour": "teal",
        "badges": [{"level": 3}],
        CUSTOM: {"costCode": "X-1", "tags": ["a", "b"]},
    }

    # when
    document = normalize_resource("User", payload)

    # then
    assert document == {
        "schemas": [USER, CUSTOM],
        "userName": "bjensen",
        "favouriteColour": "teal",
        "badges": [{"level": 3}],
        CUSTOM: {"costCode": "X-1", "tags": ["a", "b"]},
    }


def test_entra_custom_attribute_as_a_flat_urn_key_is_nested_under_its_extension():
    # given: scim-notes §5, Entra's custom attribute naming
    payload = {
        "userName": "bjensen",
        f"{CUSTOM}:CustomAttribute": "value-1",
        f"{ENTERPRISE}:department": "R&D",
    }

    # when
    document = normalize_resource("User", payload)

    # then
    assert document == {
        "schemas": [USER, ENTERPRISE, CUSTOM],
        "userName": "bjensen",
        ENTERPRISE: {"department": "R&D"},
        CUSTOM: {"CustomAttribute": "value-1"},
    }


def test_nulls_and_empty_strings_are_removed_at_every_level():
    # given
    payload = {
        "userName": "bjensen",
        "title": "",
        "nickName": None,
        "name": {"givenName": "Barbara", "middleName": None, "familyName": ""},
        "emails": [{"value": "b@example.com", "display": None, "type": ""}, None],
        "phoneNumbers": [],
        "addresses": [{"type": None}],
        ENTERPRISE: {},
        CUSTOM: {"x": None},
    }

    # when
    document = normalize_resource("User", payload)

    # then
    assert document == {
        "schemas": [USER],
        "userName": "bjensen",
        "name": {"givenName": "Barbara"},
        "emails": [{"value": "b@example.com"}],
    }


def test_more_than_one_primary_value_is_invalid():
    # given
    payload = {
        "userName": "bjensen",
        "emails": [
            {"value": "a@example.com", "primary": True},
            {"value": "b@example.com", "primary": "True"},
        ],
    }

    # when / then
    with pytest.raises(InvalidValue, match="'emails' has more than one primary"):
        normalize_resource("User", payload)


def test_values_sharing_a_type_are_stored_as_sent():
    # given
    emails = [
        {"value": "a@example.com", "type": "work", "primary": True},
        {"value": "b@example.com", "type": "work"},
    ]

    # when
    document = normalize_resource("User", {"userName": "bjensen", "emails": emails})

    # then
    assert document["emails"] == emails


def test_multi_valued_attributes_keep_their_order_and_canonical_sub_attribute_order():
    # given
    payload = {
        "userName": "bjensen",
        "addresses": [
            {"type": "home", "country": "US", "locality": "Hollywood"},
            {"primary": True, "streetAddress": "100 Universal City Plaza", "type": "work"},
        ],
    }

    # when
    document = normalize_resource("User", payload)

    # then
    assert [list(address) for address in document["addresses"]] == [
        ["locality", "country", "type"],
        ["streetAddress", "type", "primary"],
    ]


@pytest.mark.parametrize("user_name", [None, "", "absent"])
def test_user_name_is_required(user_name):
    # given
    payload = {"displayName": "Babs"}
    if user_name != "absent":
        payload["userName"] = user_name

    # when / then
    with pytest.raises(InvalidValue, match="'userName' is required"):
        normalize_resource("User", payload)


def test_group_display_name_is_required():
    # when / then
    with pytest.raises(InvalidValue, match="'displayName' is required"):
        normalize_resource("Group", {"externalId": "e-1", "members": []})


def test_group_members_keep_value_type_and_display_and_drop_ref():
    # given
    payload = {
        "displayName": "Tour Guides",
        "members": [
            {"value": "u-1", "$ref": "https://x/Users/u-1", "display": "Babs", "type": "User"},
            {"value": "g-2", "type": "Group", "extra": "dropped"},
            {"value": "u-1"},
        ],
    }

    # when
    document = normalize_resource("Group", payload)

    # then: the repeated member is one membership
    assert document == {
        "schemas": [GROUP],
        "displayName": "Tour Guides",
        "members": [
            {"value": "u-1", "display": "Babs", "type": "User"},
            {"value": "g-2", "type": "Group"},
        ],
    }


@pytest.mark.parametrize(
    "member", [{"display": "Babs"}, {"value": ""}, {"value": None}, "u-1", {"value": 17}]
)
def test_a_group_member_needs_a_string_id(member):
    # when / then
    with pytest.raises(InvalidValue, match="members"):
        normalize_resource("Group", {"displayName": "Tour Guides", "members": [member]})


def test_normalize_never_mutates_its_input():
    # given
    payload = {
        "userName": "bjensen",
        "active": "True",
        "meta": {"resourceType": "User"},
        "emails": [{"value": "b@example.com", "primary": "False", "display": None}],
        f"{ENTERPRISE}:manager": "m-1",
        ENTERPRISE: {"department": "R&D"},
    }
    original = copy.deepcopy(payload)

    # when
    normalize_resource("User", payload)

    # then
    assert payload == original


def test_a_normalized_document_normalizes_to_itself():
    # given
    document = normalize_resource(
        "User",
        {
            "userName": "bjensen",
            "emails": [{"value": "b@example.com", "primary": "True"}],
            f"{ENTERPRISE}:manager": "m-1",
            f"{CUSTOM}:CustomAttribute": "c",
        },
    )

    # when
    again = normalize_resource("User", document)

    # then
    assert again == document
