"""PATCH (RFC 7644 §3.5.2) on a normalized SCIM document, with Entra ID's and Okta's forms.

`apply_patch` works on a copy of the stored document and returns the new normalized document,
or raises: a PATCH is all-or-nothing (RFC 7644 §3.5.2: operations apply in order, and when
one fails the resource stays as it was). It accepts what the identity providers really send
(scim-notes §4, §6, §11):

- `op` in any case (Entra: `Add`, `Replace`, `Remove`);
- booleans as `"True"`/`"False"` (Entra without the aadOptscim062020 flag);
- a path-less `add`/`replace` whose value is keyed by attribute paths, including dotted
  (`name.givenName`), filtered (`emails[type eq "work"].value`) and URN-prefixed keys
  (Entra with the flag; Okta's `{"active": false}` and `{"id": ..., "displayName": ...}`);
- a filtered path that matches nothing on `add`/`replace` creates the entry the filter
  describes: Entra writes `emails[type eq "work"].value` whether or not a work email exists;
- the enterprise manager as a bare id, `{"value": id}` or `[{"value": id}]`, and under the
  unqualified path `manager` (Entra's older example);
- group member removal as `members[value eq "id"]` and as `path: "members"` with a value list.

Group membership is never part of the document: groups can have 50,000 members, so member
operations only produce a delta (`members_added`, `members_removed`, `members_replaced`) that
the caller applies in the database, at a cost proportional to the request.

Errors: an unknown `op` or a malformed body is `invalidSyntax`; a malformed or unknown path is
`invalidPath`; a value of the wrong type is `invalidValue`; a write to `id` or a read-only
attribute is `mutability`; a `remove` without a path, or a filter that neither matches nor
describes a new value, is `noTarget`.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeAlias

from integrations.scim.errors import (
    InvalidFilter,
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    Mutability,
    NoTarget,
    ScimError,
)
from integrations.scim.schema import (
    ID,
    MEMBERS,
    SCHEMA_URNS,
    Attribute,
    ResourceType,
    ci_key,
    complex_value,
    core_attribute,
    core_schema,
    extension_schemas,
    normalize_item,
    normalize_resource,
    normalize_value,
    split_urn,
)

OpName = Literal["add", "replace", "remove"]
_OPS: dict[str, OpName] = {"add": "add", "replace": "replace", "remove": "remove"}
_CORE_URN_PREFIX = "urn:ietf:params:scim:schemas:core:"


@dataclass
class PatchResult:
    """The outcome of a PATCH.

    `changed` compares the documents only. Member deltas are what the request asked for, not
    what differs in the database: Entra re-adds members that are already there, and the caller
    skips those (and ignores removals of non-members) when it applies the delta.
    """

    document: dict[str, Any]
    members_added: list[dict[str, Any]] = field(default_factory=list)
    members_removed: list[str] = field(default_factory=list)
    members_replaced: list[dict[str, Any]] | None = None
    changed: bool = False

    @property
    def members_changed(self) -> bool:
        """Whether the request touched membership at all (the caller still checks the rows)."""
        return bool(self.members_added or self.members_removed or self.members_replaced is not None)


def apply_patch(
    resource_type: ResourceType,
    document: dict[str, Any],
    body: object,
    *,
    resource_id: str | None = None,
) -> PatchResult:
    """Apply a PATCH request body to `document`, the stored normalized resource.

    `document` is what `normalize_resource` returned (without `id`/`meta`; for a Group without
    `members`). Neither it nor `body` is mutated. `resource_id`, when given, lets a path-less
    value carry the resource's own `id`, as Okta's group rename does; without it such an `id` is
    ignored, since the server never changes ids anyway. Any other write to `id` is refused.
    """
    operations = _operations(body)
    patcher = _Patcher(resource_type, document, resource_id)
    for index, raw in enumerate(operations, start=1):
        try:
            patcher.apply(_parse_operation(raw))
        except ScimError as error:
            # The provisioning log shows one line per request: say which operation failed.
            raise type(error)(
                f"Operation {index}: {error.detail}",
                status=error.status,
                scim_type=error.scim_type,
            ) from error
    result = normalize_resource(resource_type, patcher.document)
    delta = patcher.members
    return PatchResult(
        document=result,
        members_added=list(delta.added.values()),
        members_removed=list(delta.removed),
        members_replaced=None if delta.replaced is None else list(delta.replaced.values()),
        changed=_without_schemas(result) != _without_schemas(document),
    )


# --- The request body -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Operation:
    op: OpName
    path: str | None
    value: Any
    has_value: bool


def _operations(body: object) -> list[Any]:
    """The `Operations` list of a PatchOp body (RFC 7644 §3.5.2), keys in any case.

    `schemas` is a MUST, but a client that leaves it out still means a PATCH, so only a
    `schemas` naming something else is refused.
    """
    if not isinstance(body, dict):
        raise InvalidSyntax("The PATCH body must be a JSON object.")
    fields = {str(key).lower(): value for key, value in body.items()}
    schemas = fields.get("schemas")
    if schemas is not None and not (
        isinstance(schemas, list)
        and any(
            isinstance(urn, str) and urn.lower() == SCHEMA_URNS.PATCH_OP.lower() for urn in schemas
        )
    ):
        raise InvalidSyntax(f"The PATCH body's 'schemas' must contain '{SCHEMA_URNS.PATCH_OP}'.")
    operations = fields.get("operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntax("The PATCH body needs 'Operations', a non-empty array.")
    return operations


def _parse_operation(raw: object) -> _Operation:
    if not isinstance(raw, dict):
        raise InvalidSyntax("Each operation must be a JSON object.")
    fields = {str(key).lower(): value for key, value in raw.items()}
    name = fields.get("op")
    op = _OPS.get(name.lower()) if isinstance(name, str) else None
    if op is None:
        # invalidSyntax rather than invalidValue: the request is not a PATCH RFC 7644 defines.
        raise InvalidSyntax(f"Unsupported op {_describe(name)}: use add, replace or remove.")
    path = fields.get("path")
    if path is not None and not isinstance(path, str):
        raise InvalidPath("'path' must be a string.")
    has_value = "value" in fields
    if op != "remove" and not has_value:
        raise InvalidSyntax(f"The {op} operation needs a 'value' (RFC 7644 §3.5.2).")
    # A copy, so values stored in the new document never alias the request body.
    return _Operation(op, path, copy.deepcopy(fields.get("value")), has_value)


def _describe(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


# --- Value filters (RFC 7644 §3.4.2.2, as used in a valuePath of §3.10) -----------------------

FilterValue: TypeAlias = str | bool | int | float | None
_COMPARISON_OPERATORS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<paren>[()])
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w$])
      | (?P<word>\$?[A-Za-z][\w$-]*)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Comparison:
    attribute: str
    operator: str
    value: FilterValue = None


@dataclass(frozen=True)
class _Logical:
    operator: Literal["and", "or"]
    left: _Filter
    right: _Filter


@dataclass(frozen=True)
class _Not:
    operand: _Filter


_Filter: TypeAlias = _Comparison | _Logical | _Not


def _parse_filter(text: str) -> _Filter:
    """Parse the filter between a valuePath's brackets; a syntax error makes the path invalid.

    Precedence as RFC 7644 §3.4.2.2: `not`, then `and`, then `or`; parentheses group.
    Operators and keywords are case-insensitive.
    """
    return _FilterParser(text).parse()


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    text = text.rstrip()
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise InvalidPath(f"Unexpected character in the filter at position {position + 1}.")
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        position = match.end()
    return tokens


class _FilterParser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.position = 0

    def parse(self) -> _Filter:
        if not self.tokens:
            raise InvalidPath("The filter between '[' and ']' is empty.")
        node = self._or()
        if self.position < len(self.tokens):
            raise InvalidPath(f"Unexpected '{self.tokens[self.position][1]}' in the filter.")
        return node

    def _next(self, expected: str) -> tuple[str, str]:
        if self.position >= len(self.tokens):
            raise InvalidPath(f"The filter ends where {expected} was expected.")
        token = self.tokens[self.position]
        self.position += 1
        return token

    def _keyword(self) -> str | None:
        if self.position < len(self.tokens) and self.tokens[self.position][0] == "word":
            return self.tokens[self.position][1].lower()
        return None

    def _or(self) -> _Filter:
        node = self._and()
        while self._keyword() == "or":
            self.position += 1
            node = _Logical("or", node, self._and())
        return node

    def _and(self) -> _Filter:
        node = self._unary()
        while self._keyword() == "and":
            self.position += 1
            node = _Logical("and", node, self._unary())
        return node

    def _unary(self) -> _Filter:
        kind, text = self._next("an expression")
        if (kind, text) == ("paren", "("):
            node = self._or()
            if self._next("')'") != ("paren", ")"):
                raise InvalidPath("A '(' in the filter is not closed.")
            return node
        if kind == "word" and text.lower() == "not":
            return _Not(self._unary())
        if kind != "word":
            raise InvalidPath(f"Expected an attribute name in the filter, found '{text}'.")
        kind, operator = self._next("an operator")
        operator = operator.lower()
        if kind != "word" or operator not in _COMPARISON_OPERATORS | {"pr"}:
            raise InvalidPath(f"'{operator}' is not a filter operator (RFC 7644 §3.4.2.2).")
        if operator == "pr":
            return _Comparison(text, operator)
        return _Comparison(text, operator, self._literal())

    def _literal(self) -> FilterValue:
        kind, text = self._next("a value")
        if kind == "string":
            try:
                value: str = json.loads(text)
            except ValueError:
                raise InvalidPath("A string in the filter has an invalid escape.") from None
            return value
        if kind == "number":
            return float(text) if any(char in text for char in ".eE") else int(text)
        keyword = text.lower()
        if kind == "word" and keyword in ("true", "false", "null"):
            return None if keyword == "null" else keyword == "true"
        raise InvalidPath(f"Expected a value in the filter, found '{text}'.")


def _matches(node: _Filter, entry: dict[str, Any], attribute: Attribute | None) -> bool:
    if isinstance(node, _Logical):
        if node.operator == "and":
            return _matches(node.left, entry, attribute) and _matches(node.right, entry, attribute)
        return _matches(node.left, entry, attribute) or _matches(node.right, entry, attribute)
    if isinstance(node, _Not):
        return not _matches(node.operand, entry, attribute)
    return _compare(
        node.operator,
        _ci_get(entry, node.attribute),
        node.value,
        case_exact=_case_exact(attribute, node.attribute),
    )


def _case_exact(attribute: Attribute | None, name: str) -> bool:
    sub = attribute.sub_attribute(name) if attribute is not None else None
    return sub is not None and sub.case_exact


def _compare(operator: str, actual: Any, expected: FilterValue, *, case_exact: bool) -> bool:
    """One comparison of RFC 7644 §3.4.2.2; strings compare case-insensitively unless caseExact."""
    if operator == "pr":
        return actual not in (None, "", [], {})
    if operator in ("eq", "ne"):
        equal = _equal(actual, expected, case_exact=case_exact)
        return equal if operator == "eq" else not equal
    if expected is None or isinstance(expected, bool):
        raise InvalidFilter(f"'{operator}' can't compare with {_describe(expected)}.")
    if isinstance(actual, str) and isinstance(expected, str):
        if not case_exact:
            actual, expected = actual.casefold(), expected.casefold()
        if operator == "co":
            return expected in actual
        if operator == "sw":
            return actual.startswith(expected)
        if operator == "ew":
            return actual.endswith(expected)
        return _ordered(operator, actual, expected)
    if _is_number(actual) and _is_number(expected) and operator not in ("co", "sw", "ew"):
        return _ordered(operator, actual, expected)
    return False


def _ordered(operator: str, actual: Any, expected: Any) -> bool:
    if operator == "gt":
        return bool(actual > expected)
    if operator == "ge":
        return bool(actual >= expected)
    if operator == "lt":
        return bool(actual < expected)
    return bool(actual <= expected)


def _equal(actual: Any, expected: FilterValue, *, case_exact: bool) -> bool:
    if expected is None:
        return actual in (None, "", [])
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    if isinstance(actual, str) and isinstance(expected, str):
        return actual == expected if case_exact else actual.casefold() == expected.casefold()
    return _is_number(actual) and _is_number(expected) and actual == expected


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _filter_template(node: _Filter) -> dict[str, Any] | None:
    """The entry a filter describes, when it is `a eq x [and b eq y ...]`, else None.

    Entra expects `emails[type eq "work"].value` to create the work email when there is none
    (scim-notes §6, item 4); only an equality-only filter says what that new entry is.
    """
    if isinstance(node, _Comparison):
        if node.operator == "eq" and node.value is not None:
            return {node.attribute: node.value}
        return None
    if isinstance(node, _Logical) and node.operator == "and":
        left, right = _filter_template(node.left), _filter_template(node.right)
        if left is None or right is None:
            return None
        return {**left, **right}
    return None


def _canonical_filter(node: _Filter, attribute: Attribute, label: str) -> _Filter:
    """The filter with sub-attribute names in the schema's case; an unknown one is invalid."""
    if isinstance(node, _Logical):
        return replace(
            node,
            left=_canonical_filter(node.left, attribute, label),
            right=_canonical_filter(node.right, attribute, label),
        )
    if isinstance(node, _Not):
        return replace(node, operand=_canonical_filter(node.operand, attribute, label))
    sub = attribute.sub_attribute(node.attribute)
    if sub is None:
        raise InvalidPath(f"'{node.attribute}' is not a sub-attribute of '{label}'.")
    return replace(node, attribute=sub.name)


def _member_ids(node: _Filter) -> list[str]:
    """Member ids of `members[value eq "a" or value eq "b"]`, the only member filters supported.

    Any other filter (on `type` or `display`) would need the whole group loaded to evaluate.
    """
    if (
        isinstance(node, _Comparison)
        and node.attribute == "value"
        and node.operator == "eq"
        and isinstance(node.value, str)
        and node.value
    ):
        return [node.value]
    if isinstance(node, _Logical) and node.operator == "or":
        return _member_ids(node.left) + _member_ids(node.right)
    raise InvalidFilter('Members can only be selected by id: members[value eq "<id>"].')


# --- Paths (RFC 7644 §3.10) ---------------------------------------------------------------------

_NAME = re.compile(r"\$?[A-Za-z][\w$-]*")


@dataclass(frozen=True)
class _Path:
    urn: str | None
    attribute: str | None  # None: the path is a schema URN, i.e. a whole extension
    value_filter: _Filter | None
    sub_attribute: str | None


def _parse_path(text: str, resource_type: ResourceType) -> _Path:
    """`[urn:]attr[.sub]` or `[urn:]attr[filter][.sub]`, or a bare extension URN."""
    stripped = text.strip()
    if not stripped:
        raise InvalidPath("The path is empty.")
    head, filter_text, tail = _split_value_path(stripped)
    invalid = InvalidPath(f"'{_shorten(text)}' is not a valid attribute path (RFC 7644 §3.10).")
    urn: str | None = None
    expression = head
    if head.lower().startswith("urn:"):
        urn, name = split_urn(head, resource_type)
        if name is None:
            if filter_text is not None or tail:
                raise invalid
            return _Path(urn, None, None, None)
        expression = name
    parts = expression.split(".")
    if len(parts) > 2 or not all(_NAME.fullmatch(part) for part in parts):
        raise invalid
    attribute, sub = parts[0], parts[1] if len(parts) == 2 else None
    value_filter = None
    if filter_text is not None:
        # After the brackets only `.subAttribute` may follow, and not after a dotted name.
        if sub is not None or (tail and not (tail[0] == "." and _NAME.fullmatch(tail[1:]))):
            raise invalid
        value_filter = _parse_filter(filter_text)
        sub = tail[1:] or None
    return _Path(urn, attribute, value_filter, sub)


def _split_value_path(text: str) -> tuple[str, str | None, str]:
    """(before '[', the filter, after ']'); brackets inside quoted filter values don't count."""
    opening = text.find("[")
    if opening < 0:
        if "]" in text:
            raise InvalidPath(f"'{_shorten(text)}' has a ']' without '['.")
        return text, None, ""
    in_string = escaped = False
    for index in range(opening + 1, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "[":
            raise InvalidPath(f"'{_shorten(text)}' has nested '['.")
        elif char == "]":
            tail = text[index + 1 :]
            if "[" in tail or "]" in tail:
                raise InvalidPath(f"'{_shorten(text)}' has more than one filter.")
            return text[:opening], text[opening + 1 : index], tail
    raise InvalidPath(f"'{_shorten(text)}' has a '[' that is not closed.")


def _label(extension: str | None, name: str | None) -> str:
    """How a path is named in messages: `title`, or `<urn>:employeeNumber`, or `<urn>`."""
    if extension is None:
        return name or ""
    return f"{extension}:{name}" if name else extension


def _shorten(text: str) -> str:
    return text if len(text) <= 120 else text[:117] + "..."


@dataclass(frozen=True)
class _Target:
    """A resolved path: where the value lives in the document and its definition, if any."""

    label: str
    extension: str | None  # the extension URN holding the attribute; None for the top level
    name: str | None  # None: the whole extension object
    attribute: Attribute | None  # None: an attribute of a custom extension, kept as sent
    value_filter: _Filter | None
    sub_name: str | None
    sub_attribute: Attribute | None

    @property
    def sub_label(self) -> str:
        return f"{self.label}.{self.sub_name}"

    @property
    def in_entries(self) -> bool:
        """Whether the path addresses values of a multi-valued attribute (filtered or all)."""
        if self.value_filter is not None:
            return True
        multi_valued = self.attribute is not None and self.attribute.multi_valued
        return self.sub_name is not None and multi_valued


def _resolve(path: _Path, resource_type: ResourceType) -> _Target:
    """Look the path up in the schemas, names case-insensitively (RFC 7643 §2.1).

    A name without URN that the core schema lacks is looked up in the extensions: Entra's
    older manager example uses the path `manager` (scim-notes §4.8). An URN this server does not
    know is a custom extension (Entra's `urn:...:CustomExtensionName:2.0:User:Attr`), whose
    attributes are stored as sent; an unknown plain name is an invalid path.
    """
    core = core_schema(resource_type)
    extension: str | None = None
    attribute: Attribute | None = None
    if path.urn is None or path.urn == core.id:
        if path.attribute is None:
            raise InvalidPath(f"A path must name an attribute of the {resource_type} schema.")
        attribute = core_attribute(resource_type, path.attribute)
        if attribute is None and path.urn is None:
            for schema in extension_schemas(resource_type):
                attribute = schema.attribute(path.attribute)
                if attribute is not None:
                    extension = schema.id
                    break
        if attribute is None:
            raise InvalidPath(
                f"'{path.attribute}' is not an attribute of the {resource_type} schema."
            )
    elif path.urn.lower().startswith(_CORE_URN_PREFIX):
        raise InvalidPath(f"'{path.urn}' is not a schema of a {resource_type}.")
    else:
        extension = path.urn
        known = {schema.id: schema for schema in extension_schemas(resource_type)}
        if path.urn in known and path.attribute is not None:
            attribute = known[path.urn].attribute(path.attribute)
            if attribute is None:
                raise InvalidPath(f"'{path.attribute}' is not an attribute of '{path.urn}'.")
    name = attribute.name if attribute is not None else path.attribute
    label = _label(extension, name)

    sub_name, sub_attribute = path.sub_attribute, None
    if sub_name is not None and attribute is not None:
        if attribute.type != "complex":
            raise InvalidPath(f"'{label}' has no sub-attributes.")
        sub_attribute = attribute.sub_attribute(sub_name)
        if sub_attribute is None:
            raise InvalidPath(f"'{sub_name}' is not a sub-attribute of '{label}'.")
        sub_name = sub_attribute.name
    value_filter = path.value_filter
    if value_filter is not None and attribute is not None:
        if not attribute.multi_valued or attribute.type != "complex":
            raise InvalidPath(f"'{label}' is not a multi-valued complex attribute: no filter.")
        value_filter = _canonical_filter(value_filter, attribute, label)
    return _Target(label, extension, name, attribute, value_filter, sub_name, sub_attribute)


# --- Applying operations ----------------------------------------------------------------------


class _MemberDelta:
    """Net membership change of one request; later operations override earlier ones.

    Keyed by member id, so a request listing 50,000 members costs 50,000 dictionary steps.
    """

    def __init__(self) -> None:
        self.added: dict[str, dict[str, Any]] = {}
        self.removed: dict[str, None] = {}
        self.replaced: dict[str, dict[str, Any]] | None = None

    def add(self, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            member_id = entry["value"]
            if self.replaced is not None:
                self.replaced.setdefault(member_id, entry)
            else:
                self.removed.pop(member_id, None)
                self.added.setdefault(member_id, entry)

    def remove(self, member_ids: list[str]) -> None:
        for member_id in member_ids:
            if self.replaced is not None:
                self.replaced.pop(member_id, None)
            else:
                self.added.pop(member_id, None)
                self.removed[member_id] = None

    def replace(self, entries: list[dict[str, Any]]) -> None:
        self.added.clear()
        self.removed.clear()
        self.replaced = {}
        self.add(entries)


class _Patcher:
    def __init__(
        self, resource_type: ResourceType, document: dict[str, Any], resource_id: str | None
    ) -> None:
        self.resource_type = resource_type
        self.document: dict[str, Any] = copy.deepcopy(document)
        self.resource_id = resource_id
        self.members = _MemberDelta()

    def apply(self, operation: _Operation) -> None:
        if operation.path is not None:
            self._apply_path(
                operation.op,
                operation.path,
                operation.value,
                has_value=operation.has_value,
                pathless=False,
            )
            return
        if operation.op == "remove":
            raise NoTarget("A remove operation needs a path (RFC 7644 §3.5.2.2).")
        if not isinstance(operation.value, dict):
            raise InvalidSyntax(
                f"Without a path, the {operation.op} value must be an object of attributes "
                "(RFC 7644 §3.5.2.1)."
            )
        for key, value in operation.value.items():
            if key.lower() == "schemas":
                continue  # recomputed from the attributes present
            self._apply_path(operation.op, key, value, has_value=True, pathless=True)

    def _apply_path(
        self, op: OpName, text: str, value: Any, *, has_value: bool, pathless: bool
    ) -> None:
        target = _resolve(_parse_path(text, self.resource_type), self.resource_type)
        if target.attribute is ID:
            self._check_id(op, value, pathless=pathless)
            return
        read_only = [
            label
            for attribute, label in (
                (target.attribute, target.label),
                (target.sub_attribute, target.sub_label),
            )
            if attribute is not None and attribute.mutability == "readOnly"
        ]
        if read_only:
            raise Mutability(
                f"'{read_only[0]}' is read-only: the service provider maintains it (RFC 7643 §2.2)."
            )
        if target.attribute is MEMBERS:
            self._patch_members(op, target, value, has_value=has_value)
        elif target.name is None:
            self._patch_extension(op, target, value)
        elif op == "remove":
            self._remove(target, value if has_value else None)
        elif target.in_entries:
            self._write_entries(op, target, value)
        elif target.sub_name is not None:
            self._write_sub_attribute(target, value)
        else:
            self._write(op, target, value)

    def _check_id(self, op: OpName, value: Any, *, pathless: bool) -> None:
        """Okta's group rename sends the group's own `id` in a path-less value: no change."""
        same = value == self.resource_id or (pathless and self.resource_id is None)
        if op == "remove" or not isinstance(value, str) or not same:
            raise Mutability("'id' is assigned by the service provider and can't be changed.")

    def _container(self, target: _Target, *, create: bool) -> dict[str, Any] | None:
        if target.extension is None:
            return self.document
        key = ci_key(self.document, target.extension)
        container = self.document.get(key) if key is not None else None
        if isinstance(container, dict) or not create:
            return container if isinstance(container, dict) else None
        if key is not None:
            del self.document[key]
        container = self.document[target.extension] = {}
        return container

    def _write(self, op: OpName, target: _Target, value: Any) -> None:
        """add/replace of a whole attribute (RFC 7644 §3.5.2.1, §3.5.2.3)."""
        container = self._container(target, create=True)
        assert container is not None and target.name is not None  # noqa: S101 - created above
        attribute = target.attribute
        current = _ci_get(container, target.name)
        new: Any
        if attribute is None:
            new = None if _unassigned(value) else value
        elif attribute.multi_valued:
            new = _write_values(op, attribute, current, value, target.label)
        elif attribute.type == "complex":
            new = _merge_complex(attribute, current, value, target.label)
        else:
            new = normalize_value(attribute, value, label=target.label)
        _put(container, target.name, new)

    def _write_sub_attribute(self, target: _Target, value: Any) -> None:
        """`name.givenName`: creates `name` when missing (RFC 7644 §3.5.2.3: replace adds)."""
        container = self._container(target, create=True)
        assert container is not None and target.name is not None  # noqa: S101 - created above
        assert target.sub_name is not None  # noqa: S101 - the caller checked
        current = _ci_get(container, target.name)
        entry = dict(current) if isinstance(current, dict) else {}
        _put(entry, target.sub_name, _prepare(target.sub_attribute, value, target.sub_label))
        _put(container, target.name, entry or None)

    def _write_entries(self, op: OpName, target: _Target, value: Any) -> None:
        """add/replace on values of a multi-valued attribute selected by a filter.

        RFC 7644 §3.5.2.3: matching values are replaced (with a sub-attribute: only it). When
        nothing matches, Entra expects the entry to be created, which is possible when the
        filter is equality-only; otherwise this is the RFC's noTarget.
        """
        container = self._container(target, create=True)
        assert container is not None and target.name is not None  # noqa: S101 - created above
        entries = _entries(_ci_get(container, target.name))
        matched = _matching(entries, target)
        touched: list[dict[str, Any]] = []
        if target.sub_name is not None:
            new_value = _prepare(target.sub_attribute, value, target.sub_label)
            for index in matched:
                entry = dict(entries[index])
                _put(entry, target.sub_name, new_value)
                entries[index] = entry
                touched.append(entry)
            if not matched and new_value is not None:
                touched.append({**self._new_entry(target), target.sub_name: new_value})
                entries.append(touched[-1])
        else:
            new_entry = _prepare_entry(target, value)
            if new_entry is None:
                entries = [entry for index, entry in enumerate(entries) if index not in matched]
            elif matched:
                template = self._template(target) or {}
                for index in matched:
                    base = entries[index] if op == "add" else template
                    entry = _merged(base, new_entry)
                    entries[index] = entry
                    touched.append(entry)
            else:
                touched.append(_merged(self._new_entry(target), new_entry))
                entries.append(touched[-1])
        _keep_one_primary(entries, touched)
        _put(container, target.name, entries or None)

    def _template(self, target: _Target) -> dict[str, Any] | None:
        if target.value_filter is None:
            return {}
        template = _filter_template(target.value_filter)
        if template is None or target.attribute is None:
            return template
        return normalize_item(target.attribute, template, label=target.label) or {}

    def _new_entry(self, target: _Target) -> dict[str, Any]:
        template = self._template(target)
        if template is None:
            raise NoTarget(
                f"No value of '{target.label}' matches the filter, and the filter does not "
                "describe a new value (RFC 7644 §3.5.2.3)."
            )
        return template

    def _remove(self, target: _Target, value: Any) -> None:
        """remove (RFC 7644 §3.5.2.2); removing what is not there changes nothing."""
        container = self._container(target, create=False)
        if container is None or target.name is None:
            return
        current = _ci_get(container, target.name)
        if current is None:
            return
        new: Any
        addressed_shape = list if target.in_entries else dict
        if target.sub_name is not None and not isinstance(current, addressed_shape):
            return  # nothing there of the shape the path addresses
        if target.value_filter is not None and not isinstance(current, list):
            return
        if target.in_entries:
            entries = _entries(current)
            matched = _matching(entries, target)
            if target.sub_name is None:
                new = [entry for index, entry in enumerate(entries) if index not in matched]
            else:
                for index in matched:
                    entries[index] = dict(entries[index])
                    _put(entries[index], target.sub_name, None)
                new = entries
        elif target.sub_name is not None:
            new = dict(current)
            _put(new, target.sub_name, None)
        elif value is not None and isinstance(current, list):
            # Entra's "remove these values" form, generalized from members (scim-notes §4.15).
            listed = _listed_values(value, target)
            new = [entry for entry in current if not _is_listed(entry, listed, target.attribute)]
        else:
            new = None
        _put(container, target.name, new or None)

    def _patch_extension(self, op: OpName, target: _Target, value: Any) -> None:
        """A path that is an extension URN: its attributes one by one, like a path-less value."""
        assert target.extension is not None  # noqa: S101 - name None means an extension
        if op == "remove" or value is None:
            key = ci_key(self.document, target.extension)
            if key is not None:
                del self.document[key]
            return
        if not isinstance(value, dict):
            raise InvalidValue(f"'{target.extension}' must be an object.")
        for name, item in value.items():
            if name.lower() == "schemas":
                continue  # names the extension itself, as in a path-less value: no attribute
            path = f"{target.extension}:{name}"
            self._apply_path(op, path, item, has_value=True, pathless=False)

    def _patch_members(self, op: OpName, target: _Target, value: Any, *, has_value: bool) -> None:
        """Group membership as a delta; the document never holds the members."""
        if target.sub_name is not None:
            raise InvalidPath("Sub-attributes of 'members' can't be patched.")
        if target.value_filter is not None:
            if op != "remove":
                raise InvalidPath("A filter on 'members' is only supported by remove.")
            self.members.remove(_member_ids(target.value_filter))
            return
        if op == "remove" and (not has_value or value is None):
            self.members.replace([])  # RFC 7644 §3.5.2.2: no value removes every member
            return
        if op == "remove" and isinstance(value, dict):
            value = [value]
        entries: list[dict[str, Any]] = normalize_value(MEMBERS, value, label="members") or []
        if op == "remove":
            # Entra (without aadOptscim062020) means "remove the listed members" (§4.15).
            self.members.remove([entry["value"] for entry in entries])
        elif op == "add":
            self.members.add(entries)
        else:
            self.members.replace(entries)


def _write_values(
    op: OpName, attribute: Attribute, current: Any, value: Any, label: str
) -> list[Any] | None:
    """add appends the values not already there; replace sets the whole list (RFC 7644 §3.5.2)."""
    incoming: list[Any] = normalize_value(attribute, value, label=label) or []
    if op == "replace":
        return incoming or None
    entries = _entries(current)
    added = []
    for item in incoming:
        if item not in entries:
            entries.append(item)
            added.append(item)
    _keep_one_primary(entries, added)
    return entries or None


def _merge_complex(attribute: Attribute, current: Any, value: Any, label: str) -> Any:
    """A complex value merged into the current one, for add and replace alike.

    RFC 7644 §3.5.2.3: for a complex attribute, "sub-attributes that are not specified in the
    value parameter are left unchanged". A null or empty sub-attribute unassigns it.
    """
    shaped = complex_value(attribute, value, label=label)
    if shaped is None:
        return None
    merged = dict(current) if isinstance(current, dict) else {}
    for key, sub_value in shaped.items():
        sub = attribute.sub_attribute(key)
        if sub is not None and sub.mutability == "readOnly":
            continue  # RFC 7644 §3.5.1: readOnly values in a request are ignored
        name = sub.name if sub is not None else key
        _put(merged, name, _prepare(sub, sub_value, f"{label}.{name}"))
    return merged or None


def _prepare(attribute: Attribute | None, value: Any, label: str) -> Any:
    if attribute is None:
        return None if _unassigned(value) else value
    return normalize_value(attribute, value, label=label)


def _prepare_entry(target: _Target, value: Any) -> dict[str, Any] | None:
    if target.attribute is not None:
        entry: dict[str, Any] | None = normalize_item(target.attribute, value, label=target.label)
        return entry
    if _unassigned(value):
        return None
    if not isinstance(value, dict):
        raise InvalidValue(f"Values of '{target.label}' must be objects.")
    return value


def _entries(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _matching(entries: list[Any], target: _Target) -> list[int]:
    return [
        index
        for index, entry in enumerate(entries)
        if isinstance(entry, dict)
        and (target.value_filter is None or _matches(target.value_filter, entry, target.attribute))
    ]


def _listed_values(value: Any, target: _Target) -> list[dict[str, Any]]:
    listed = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str):
            item = {"value": item}
        if not isinstance(item, dict):
            raise InvalidValue(f"Values to remove from '{target.label}' must be objects.")
        criteria = {key: sub for key, sub in item.items() if sub is not None and key != "$ref"}
        if criteria:
            listed.append(criteria)
    return listed


def _is_listed(entry: Any, listed: list[dict[str, Any]], attribute: Attribute | None) -> bool:
    return isinstance(entry, dict) and any(
        all(
            _equal(_ci_get(entry, key), expected, case_exact=_case_exact(attribute, key))
            for key, expected in criteria.items()
        )
        for criteria in listed
    )


def _keep_one_primary(entries: list[Any], chosen: list[dict[str, Any]]) -> None:
    """RFC 7644 §3.5.2: setting `primary` true on a value sets it false on the others."""
    if not any(entry.get("primary") is True for entry in chosen):
        return
    for index, entry in enumerate(entries):
        is_chosen = any(entry is other for other in chosen)
        if not is_chosen and isinstance(entry, dict) and entry.get("primary") is True:
            entries[index] = {**entry, "primary": False}


def _merged(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        _put(merged, key, value)
    return merged


def _unassigned(value: Any) -> bool:
    return value is None or value == "" or value == []


def _without_schemas(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "schemas"}


def _ci_get(mapping: dict[str, Any], key: str) -> Any:
    existing = ci_key(mapping, key)
    return mapping[existing] if existing is not None else None


def _put(mapping: dict[str, Any], key: str, value: Any) -> None:
    """Set `key` (dropping a key that differs only in case), or remove it when value is None."""
    existing = ci_key(mapping, key)
    if existing is not None:
        del mapping[existing]
    if value is not None:
        mapping[key] = value
