"""SCIM schemas (RFC 7643): attribute definitions, the /Schemas documents, payload normalization.

Entra ID and Okta send resources that are valid JSON but not always valid SCIM: string booleans
(`"active": "False"`), `null` for unassigned attributes, read-only attributes echoed back
(`meta`, `groups: []`), the enterprise extension as URN-prefixed flat keys, the manager as a bare
id, a password on create. `normalize_resource` turns any accepted form into one canonical
document, so storage, PATCH and GET all work on the same shape:

- attribute names in the schema's case (RFC 7643 §2.1: names are case-insensitive);
- extension attributes nested under their schema URN (RFC 7643 §3.3);
- no `null`, no empty strings, no empty arrays (RFC 7643 §2.5: they all mean "unassigned");
- no attributes the server owns (`id`, `meta`, `groups`) and no `password`;
- `schemas` listing the core schema plus each extension that holds a value.

The definitions follow RFC 7643 §4 and the schema representation in §8.7.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from integrations.scim.errors import ERROR_SCHEMA, InvalidValue

ResourceType = Literal["User", "Group"]
AttributeType = Literal[
    "string", "boolean", "decimal", "integer", "dateTime", "reference", "complex", "binary"
]
MutabilityKind = Literal["readOnly", "readWrite", "immutable", "writeOnly"]
ReturnedKind = Literal["always", "default", "never", "request"]
UniquenessKind = Literal["none", "server", "global"]


class SCHEMA_URNS:  # a namespace of constants: SCHEMA_URNS.USER reads as what it is
    """Schema and message URNs of RFC 7643 §8.7 and RFC 7644 §3."""

    USER: Final = "urn:ietf:params:scim:schemas:core:2.0:User"
    ENTERPRISE_USER: Final = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    GROUP: Final = "urn:ietf:params:scim:schemas:core:2.0:Group"
    LIST_RESPONSE: Final = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    PATCH_OP: Final = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    SEARCH_REQUEST: Final = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
    ERROR: Final = ERROR_SCHEMA
    SCHEMA: Final = "urn:ietf:params:scim:schemas:core:2.0:Schema"


@dataclass(frozen=True)
class Attribute:
    """One attribute definition, with the characteristics of RFC 7643 §2.2 and §7."""

    name: str
    type: AttributeType = "string"
    multi_valued: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: MutabilityKind = "readWrite"
    returned: ReturnedKind = "default"
    uniqueness: UniquenessKind = "none"
    sub_attributes: tuple[Attribute, ...] = ()
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    description: str = ""

    def sub_attribute(self, name: str) -> Attribute | None:
        """The sub-attribute called `name`, in any case (RFC 7643 §2.1)."""
        return _find(self.sub_attributes, name)

    def to_dict(self) -> dict[str, Any]:
        """The RFC 7643 §7 representation: camelCase values and no nulls (Entra rejects them)."""
        document: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability,
            "returned": self.returned,
            "uniqueness": self.uniqueness,
        }
        if self.canonical_values:
            document["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            document["referenceTypes"] = list(self.reference_types)
        if self.sub_attributes:
            document["subAttributes"] = [sub.to_dict() for sub in self.sub_attributes]
        return document


@dataclass(frozen=True)
class Schema:
    """A schema resource (RFC 7643 §7): an URN id and its attribute definitions."""

    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]

    def attribute(self, name: str) -> Attribute | None:
        """The attribute called `name`, in any case (RFC 7643 §2.1)."""
        return _find(self.attributes, name)

    def to_document(self, base_url: str) -> dict[str, Any]:
        return {
            "schemas": [SCHEMA_URNS.SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": [attribute.to_dict() for attribute in self.attributes],
            "meta": {
                "resourceType": "Schema",
                "location": f"{base_url.rstrip('/')}/Schemas/{self.id}",
            },
        }


def _find(attributes: tuple[Attribute, ...], name: str) -> Attribute | None:
    lowered = name.lower()
    for attribute in attributes:
        if attribute.name.lower() == lowered:
            return attribute
    return None


def _string(name: str, description: str, **characteristics: Any) -> Attribute:
    return Attribute(name=name, description=description, **characteristics)


def _multi_valued(
    name: str,
    description: str,
    *,
    value_type: AttributeType = "string",
    value_case_exact: bool = False,
    types: tuple[str, ...] = (),
    reference_types: tuple[str, ...] = (),
) -> Attribute:
    """The value/display/type/primary shape RFC 7643 §2.4 gives most multi-valued attributes."""
    return Attribute(
        name=name,
        type="complex",
        multi_valued=True,
        description=description,
        sub_attributes=(
            Attribute(
                name="value",
                type=value_type,
                case_exact=value_case_exact,
                reference_types=reference_types,
                description=f"The value of one of the User's {name}.",
            ),
            _string("display", "A human-readable name, primarily used for display purposes."),
            _string(
                "type",
                "A label indicating the attribute's function.",
                canonical_values=types,
            ),
            Attribute(
                name="primary",
                type="boolean",
                description="Whether this value is the preferred one; true for one value at most.",
            ),
        ),
    )


# RFC 7643 §3.1: present in every resource, defined by no particular schema, hence absent from
# the /Schemas documents.
ID = Attribute(
    name="id",
    case_exact=True,
    mutability="readOnly",
    returned="always",
    uniqueness="server",
    description="Unique identifier of the resource, assigned by the service provider.",
)
EXTERNAL_ID = _string(
    "externalId",
    "Identifier of the resource as defined by the provisioning client.",
    case_exact=True,
)
META = Attribute(
    name="meta",
    type="complex",
    mutability="readOnly",
    description="Resource metadata, maintained by the service provider.",
    sub_attributes=(
        _string("resourceType", "The resource's type.", case_exact=True, mutability="readOnly"),
        Attribute(
            name="created",
            type="dateTime",
            mutability="readOnly",
            description="When the resource was added to the service provider.",
        ),
        Attribute(
            name="lastModified",
            type="dateTime",
            mutability="readOnly",
            description="When the resource was last updated.",
        ),
        Attribute(
            name="location",
            type="reference",
            mutability="readOnly",
            case_exact=True,
            reference_types=("uri",),
            description="The URI of the resource.",
        ),
        _string("version", "The resource's version.", case_exact=True, mutability="readOnly"),
    ),
)
COMMON_ATTRIBUTES: Final = (ID, EXTERNAL_ID, META)

PASSWORD = _string(
    "password",
    "The User's cleartext password; accepted and never stored or returned.",
    mutability="writeOnly",
    returned="never",
)
MANAGER = Attribute(
    name="manager",
    type="complex",
    description="The User's manager.",
    sub_attributes=(
        _string("value", "The id of the manager's SCIM resource."),
        Attribute(
            name="$ref",
            type="reference",
            reference_types=("User",),
            description="The URI of the manager's SCIM resource.",
        ),
        _string("displayName", "The manager's displayName.", mutability="readOnly"),
    ),
)
_MEMBER_TYPES = ("User", "Group")
MEMBERS = Attribute(
    name="members",
    type="complex",
    multi_valued=True,
    description="The members of the Group.",
    sub_attributes=(
        # An id, so compared case-exactly like `id` itself (RFC 7643 §3.1).
        _string(
            "value", "The id of the member's resource.", case_exact=True, mutability="immutable"
        ),
        Attribute(
            name="$ref",
            type="reference",
            mutability="immutable",
            reference_types=_MEMBER_TYPES,
            description="The URI of the member's resource.",
        ),
        _string("display", "A human-readable name of the member.", mutability="immutable"),
        _string(
            "type",
            "The type of the member.",
            mutability="immutable",
            canonical_values=_MEMBER_TYPES,
        ),
    ),
)

USER_SCHEMA: Final = Schema(
    id=SCHEMA_URNS.USER,
    name="User",
    description="User Account",
    attributes=(
        _string(
            "userName",
            "Unique identifier for the User, typically used to sign in.",
            required=True,
            uniqueness="server",
        ),
        Attribute(
            name="name",
            type="complex",
            description="The components of the User's real name.",
            sub_attributes=(
                _string("formatted", "The full name, formatted for display."),
                _string("familyName", "The family name (last name in most Western languages)."),
                _string("givenName", "The given name (first name in most Western languages)."),
                _string("middleName", "The middle name(s)."),
                _string("honorificPrefix", "The honorific prefix(es), e.g. 'Ms.'."),
                _string("honorificSuffix", "The honorific suffix(es), e.g. 'III'."),
            ),
        ),
        _string("displayName", "The name of the User, suitable for display to end-users."),
        _string("nickName", "The casual way to address the User."),
        Attribute(
            name="profileUrl",
            type="reference",
            reference_types=("external",),
            description="A URI of the User's online profile.",
        ),
        _string("title", "The User's title, such as 'Vice President'."),
        _string("userType", "The relationship to the organization, e.g. 'Employee'."),
        _string("preferredLanguage", "The User's preferred language (RFC 7231 Accept-Language)."),
        _string("locale", "The User's default location, e.g. 'en-US'."),
        _string("timezone", "The User's time zone in IANA Time Zone database format."),
        Attribute(name="active", type="boolean", description="The User's administrative status."),
        PASSWORD,
        _multi_valued("emails", "Email addresses for the User.", types=("work", "home", "other")),
        _multi_valued(
            "phoneNumbers",
            "Phone numbers for the User.",
            types=("work", "home", "mobile", "fax", "pager", "other"),
        ),
        _multi_valued(
            "ims",
            "Instant messaging addresses for the User.",
            types=("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
        ),
        _multi_valued(
            "photos",
            "URLs of images of the User.",
            value_type="reference",
            types=("photo", "thumbnail"),
            reference_types=("external",),
        ),
        Attribute(
            name="addresses",
            type="complex",
            multi_valued=True,
            description="Physical mailing addresses for the User.",
            sub_attributes=(
                _string("formatted", "The full mailing address, formatted for display."),
                _string("streetAddress", "The full street address component."),
                _string("locality", "The city or locality component."),
                _string("region", "The state or region component."),
                _string("postalCode", "The zip code or postal code component."),
                _string("country", "The country name component (ISO 3166-1 alpha-2)."),
                _string(
                    "type",
                    "A label indicating the address's function.",
                    canonical_values=("work", "home", "other"),
                ),
                Attribute(
                    name="primary",
                    type="boolean",
                    description="Whether this is the preferred mailing address.",
                ),
            ),
        ),
        Attribute(
            name="groups",
            type="complex",
            multi_valued=True,
            mutability="readOnly",
            description="The Groups the User belongs to, maintained by the service provider.",
            sub_attributes=(
                _string("value", "The id of the Group.", mutability="readOnly"),
                Attribute(
                    name="$ref",
                    type="reference",
                    mutability="readOnly",
                    reference_types=("User", "Group"),
                    description="The URI of the Group.",
                ),
                _string("display", "The Group's displayName.", mutability="readOnly"),
                _string(
                    "type",
                    "Whether the membership is direct or indirect.",
                    mutability="readOnly",
                    canonical_values=("direct", "indirect"),
                ),
            ),
        ),
        _multi_valued("entitlements", "Entitlements of the User."),
        _multi_valued("roles", "Roles of the User."),
        # Base64 is case-sensitive, so certificates compare case-exactly.
        _multi_valued(
            "x509Certificates",
            "X.509 certificates issued to the User.",
            value_type="binary",
            value_case_exact=True,
        ),
    ),
)

ENTERPRISE_USER_SCHEMA: Final = Schema(
    id=SCHEMA_URNS.ENTERPRISE_USER,
    name="EnterpriseUser",
    description="Enterprise User",
    attributes=(
        _string("employeeNumber", "Identifier assigned to the User by the organization."),
        _string("costCenter", "The User's cost center."),
        _string("organization", "The User's organization."),
        _string("division", "The User's division."),
        _string("department", "The User's department."),
        MANAGER,
    ),
)

GROUP_SCHEMA: Final = Schema(
    id=SCHEMA_URNS.GROUP,
    name="Group",
    description="Group",
    attributes=(
        # Required and unique: Entra ID matches groups on displayName (RFC 7643 leaves it optional).
        _string(
            "displayName",
            "A human-readable name for the Group.",
            required=True,
            uniqueness="server",
        ),
        MEMBERS,
    ),
)

_CORE_SCHEMAS: Final[dict[str, Schema]] = {"User": USER_SCHEMA, "Group": GROUP_SCHEMA}
_EXTENSIONS: Final[dict[str, tuple[Schema, ...]]] = {
    "User": (ENTERPRISE_USER_SCHEMA,),
    "Group": (),
}
_TYPE_NAMES: Final[dict[str, str]] = {
    "string": "a string",
    "reference": "a string (a reference)",
    "binary": "a string (base64)",
    "dateTime": "a string (an xsd:dateTime)",
    "boolean": "a boolean",
    "integer": "an integer",
    "decimal": "a number",
    "complex": "an object",
}


def core_schema(resource_type: ResourceType) -> Schema:
    return _CORE_SCHEMAS[resource_type]


def extension_schemas(resource_type: ResourceType) -> tuple[Schema, ...]:
    """The extensions this server defines for the resource type (RFC 7643 §3.3)."""
    return _EXTENSIONS[resource_type]


def core_attribute(resource_type: ResourceType, name: str) -> Attribute | None:
    """A top-level attribute: a common one (RFC 7643 §3.1) or one of the core schema's."""
    return _find(COMMON_ATTRIBUTES, name) or core_schema(resource_type).attribute(name)


def schema_documents(base_url: str) -> list[dict[str, Any]]:
    """The Resources of GET /Schemas (RFC 7644 §4, RFC 7643 §7).

    Entra ID reads this on gallery apps and rejects null values and non-camelCase ones, so each
    definition is rendered explicitly, never through a generic serializer.
    """
    return [
        schema.to_document(base_url)
        for schema in (USER_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA)
    ]


def split_urn(
    key: str, resource_type: ResourceType, *, value_is_object: bool = False
) -> tuple[str, str | None]:
    """Split a URN-prefixed name into (schema URN, attribute), the attribute None for a bare URN.

    RFC 7644 §3.10 writes extension attributes as `<schema URN>:<attribute>`; Entra's custom
    attributes are `urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:Attr`.
    Known URNs are matched case-insensitively and returned in canonical case. For an unknown URN,
    which part is the schema cannot be known for sure: a key whose last segment is the resource
    type (`...:2.0:User`) is a schema URN, one whose second-to-last segment is (`...:User:Attr`)
    is an attribute of it, and otherwise an object value means a schema URN.
    """
    lowered = key.lower()
    for schema in (core_schema(resource_type), *extension_schemas(resource_type)):
        urn = schema.id.lower()
        if lowered == urn:
            return schema.id, None
        if lowered.startswith(urn + ":"):
            return schema.id, key[len(urn) + 1 :]
    head, _, tail = key.rpartition(":")
    kind = resource_type.lower()
    if not tail or tail.lower() == kind:
        return key, None
    if head.rpartition(":")[2].lower() == kind or not value_is_object:
        return head, tail
    return key, None


def normalize_resource(resource_type: ResourceType, payload: object) -> dict[str, Any]:
    """Validate a POST/PUT body (or a PATCH result) and return its canonical form.

    Never mutates `payload`. Raises `InvalidValue` naming the attribute for a wrong JSON type or
    a missing required attribute. Attributes no schema defines are kept as sent, so a GET
    returns what was set: Entra lets admins map custom attributes (scim-notes §5), and refusing
    them would fail every provisioning cycle of that user.
    """
    if not isinstance(payload, dict):
        raise InvalidValue(f"A {resource_type} must be a JSON object.")
    core = core_schema(resource_type)
    raw_core: dict[str, Any] = {}
    raw_extensions: dict[str, dict[str, Any]] = {}
    for key, value in payload.items():
        if not key.lower().startswith("urn:"):
            _ci_set(raw_core, key, value)
            continue
        urn, name = split_urn(key, resource_type, value_is_object=isinstance(value, dict))
        if urn == core.id:
            bucket = raw_core
        else:
            existing = ci_key(raw_extensions, urn)
            bucket = raw_extensions.setdefault(existing or urn, {})
        if name is not None:
            _ci_set(bucket, name, value)
        elif value is not None:
            if not isinstance(value, dict):
                raise InvalidValue(f"Extension '{urn}' must be an object.")
            for sub_key, sub_value in value.items():
                # `schemas` belongs to the resource (RFC 7643 §3), never inside an extension;
                # a serializer that dumps the extension on its own may still put it there.
                if sub_key.lower() != "schemas":
                    _ci_set(bucket, sub_key, sub_value)

    result: dict[str, Any] = {"schemas": [core.id]}
    result.update(_normalize_core(resource_type, raw_core))
    for attribute in core.attributes:
        if attribute.required and attribute.name not in result:
            raise InvalidValue(f"Attribute '{attribute.name}' is required.")
    known = {schema.id: schema for schema in extension_schemas(resource_type)}
    # Known extensions first, then custom ones, each in the order they came.
    ordered = sorted(raw_extensions, key=lambda urn: urn not in known)
    for urn in ordered:
        raw, schema = raw_extensions[urn], known.get(urn)
        if schema is not None:
            extension = _normalize_attributes(schema.attributes, raw, label_prefix=f"{urn}:")
        else:
            extension = {key: value for key, value in raw.items() if not _is_unassigned(value)}
        if extension:
            result[urn] = extension
            result["schemas"].append(urn)
    return result


def _normalize_core(resource_type: ResourceType, raw: dict[str, Any]) -> dict[str, Any]:
    raw = {key: value for key, value in raw.items() if key.lower() != "schemas"}
    common = _normalize_attributes(COMMON_ATTRIBUTES, raw, label_prefix="", keep_unknown=False)
    defined = _normalize_attributes(
        core_schema(resource_type).attributes,
        {key: value for key, value in raw.items() if _find(COMMON_ATTRIBUTES, key) is None},
    )
    return {**common, **defined}


def _normalize_attributes(
    attributes: tuple[Attribute, ...],
    raw: dict[str, Any],
    *,
    label_prefix: str = "",
    keep_unknown: bool = True,
) -> dict[str, Any]:
    """Normalize the attributes of one schema; output in the schema's order, unknown ones last.

    Read-only attributes are dropped rather than refused: RFC 7644 §3.3 and §3.5.1 say values
    of readOnly attributes in a request "SHALL be ignored" (Entra sends `meta`, Okta
    `groups: []`). Write-only ones (`password`) are dropped because the product never stores a
    password from the IdP.
    """
    known: dict[str, Any] = {}
    unknown: dict[str, Any] = {}
    for key, value in raw.items():
        attribute = _find(attributes, key)
        if attribute is None:
            if keep_unknown and not _is_unassigned(value):
                unknown[key] = value
            continue
        if attribute.mutability in ("readOnly", "writeOnly"):
            continue
        normalized = normalize_value(attribute, value, label=label_prefix + attribute.name)
        if normalized is not None:
            known[attribute.name] = normalized
    ordered = {a.name: known[a.name] for a in attributes if a.name in known}
    return {**ordered, **unknown}


def normalize_value(attribute: Attribute, value: Any, *, label: str | None = None) -> Any:
    """The canonical value of one attribute, or None when it is unassigned (RFC 7643 §2.5)."""
    label = label or attribute.name
    if value is None:
        return None
    if not attribute.multi_valued:
        return normalize_item(attribute, value, label=label)
    if not isinstance(value, list):
        raise InvalidValue(f"Attribute '{label}' must be an array.")
    items = [normalize_item(attribute, item, label=label) for item in value]
    present = [item for item in items if item is not None]
    if attribute is MEMBERS:
        # The same member listed twice is one membership; the first entry is kept.
        unique: dict[str, Any] = {}
        for item in present:
            unique.setdefault(item["value"], item)
        present = list(unique.values())
    if attribute.type == "complex":
        primaries = sum(1 for item in present if item.get("primary") is True)
        if primaries > 1:
            # RFC 7643 §2.4: the primary attribute value "true" MUST appear no more than once.
            raise InvalidValue(f"Attribute '{label}' has more than one primary value.")
    return present or None


def normalize_item(attribute: Attribute, value: Any, *, label: str | None = None) -> Any:
    """The canonical form of one value (one element, for a multi-valued attribute), or None."""
    label = label or attribute.name
    if attribute.type != "complex":
        return _normalize_simple(attribute, value, label)
    shaped = complex_value(attribute, value, label=label)
    if shaped is None:
        return None
    result: dict[str, Any] = {}
    unknown: dict[str, Any] = {}
    for key, sub_value in shaped.items():
        sub = attribute.sub_attribute(key)
        if sub is None:
            if attribute is not MEMBERS and not _is_unassigned(sub_value):
                unknown[key] = sub_value
            continue
        if sub.mutability == "readOnly" or _server_computed(attribute, sub):
            continue
        normalized = _normalize_simple(sub, sub_value, f"{label}.{sub.name}")
        if normalized is not None:
            result[sub.name] = normalized
    if attribute is MEMBERS and not isinstance(result.get("value"), str):
        raise InvalidValue("Each 'members' value needs a non-empty string 'value', the member id.")
    ordered = {sub.name: result[sub.name] for sub in attribute.sub_attributes if sub.name in result}
    if attribute is MANAGER and "value" not in ordered:
        return None
    return {**ordered, **unknown} or None


def complex_value(attribute: Attribute, value: Any, *, label: str | None = None) -> Any:
    """The object form of a complex value, before its sub-attributes are checked.

    Entra ID sends the enterprise manager as the manager's id (a bare string), as `{"value": id}`
    with the aadOptscim062020 flag, and as a one-element list `[{"value": id, "$ref": ...}]` in
    its older examples (scim-notes §4.8); all three mean the same manager. An empty string
    removes the manager (Microsoft's validator: "remove (Replace with empty)").
    """
    label = label or attribute.name
    if value is None:
        return None
    if attribute is MANAGER:
        if isinstance(value, str):
            return {"value": value} if value else None
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
    if not isinstance(value, dict):
        raise InvalidValue(f"Attribute '{label}' must be an object.")
    return value


def _server_computed(attribute: Attribute, sub: Attribute) -> bool:
    """`$ref` of a manager or a member is a URL the server derives from the id and its own base."""
    return sub.name == "$ref" and (attribute is MANAGER or attribute is MEMBERS)


def _normalize_simple(attribute: Attribute, value: Any, label: str) -> Any:
    if value is None:
        return None
    kind = attribute.type
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        # Entra ID's default (unflagged) PATCH sends booleans as "True"/"False" (scim-notes §6).
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
    elif kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind == "decimal":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
    elif kind == "complex":
        pass  # a complex sub-attribute does not exist in SCIM (RFC 7643 §2.3.8)
    elif isinstance(value, str):
        if value == "":
            return None
        if kind == "dateTime" and not _is_datetime(value):
            raise InvalidValue(f"Attribute '{label}' must be an xsd:dateTime.")
        return value
    raise InvalidValue(f"Attribute '{label}' must be {_TYPE_NAMES[kind]}.")


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_unassigned(value: Any) -> bool:
    """RFC 7643 §2.5: null and an empty array mean unassigned; Entra never sends either."""
    return value is None or value == "" or value == []


def ci_key(mapping: dict[str, Any], key: str) -> str | None:
    """The key of `mapping` equal to `key` ignoring case (RFC 7643 §2.1), if any."""
    lowered = key.lower()
    for existing in mapping:
        if existing.lower() == lowered:
            return existing
    return None


def _ci_set(mapping: dict[str, Any], key: str, value: Any) -> None:
    """Set `key`, replacing a key that differs only in case (the later one wins)."""
    existing = ci_key(mapping, key)
    if existing is not None:
        del mapping[existing]
    mapping[key] = value
