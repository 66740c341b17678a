"""SCIM filter expressions (RFC 7644 §3.4.2.2) compiled into Django `Q` objects.

django-scim2's own parser (scim2-filter-parser) turns a filter into raw SQL written for
PostgreSQL, so booleans, timestamps and case rules come out differently on SQLite, and a raw
queryset cannot be combined with the tenant filter. This module parses the filter itself and
compiles it to ORM expressions that give the same rows on SQLite (the embedded default) and
PostgreSQL (production). The `Q` only expresses the filter: the caller adds the organization and
"not deleted" conditions with `.filter(...)`.

Semantics, per RFC 7644 §3.4.2.2 and the attribute characteristics of RFC 7643 §2.2:

- Attribute names, schema URNs, operators and `and`/`or`/`not` are case-insensitive; precedence
  is `not` > `and` > `or`.
- Strings with `caseExact: true` (`id`, `externalId`, `meta.resourceType`) compare exactly on both
  databases. No `LIKE` is used anywhere: SQLite's `LIKE` ignores ASCII case, so `co`/`sw`/`ew` are
  built from `INSTR`/`STRPOS` and `RIGHT`/`SUBSTR`, which are case-sensitive everywhere.
- Strings with `caseExact: false` that have a stored key column (`userName` → `user_name_key`,
  `emails.value` → `value_key`, Group `displayName` → `display_name_key`) are compared as the key
  column against the value casefolded in Python, so "STRASSE" finds "Straße" on both databases
  and `userName eq` is a plain equality on an indexed column. Other case-insensitive strings
  (`displayName` on a User, `name.*`, `emails.type`) apply `LOWER()` to both sides in the
  database; SQLite's `LOWER()` folds ASCII letters only, so on SQLite "ÉMILE" does not equal
  "émile" there (it does on PostgreSQL). That is the one known difference between the backends.
- `gt`/`ge`/`lt`/`le` on strings compare code points (`COLLATE "C"` on PostgreSQL, `BINARY` on
  SQLite), so the order does not depend on the database's locale.
- Absent values are stored as empty strings, and RFC 7643 §2.5 makes unassigned, null and empty
  equivalent; so `pr` on a string means "not empty" (RFC 7644 §3.4.2.2: "a non-empty value"),
  `eq null` means "not present" and `ne null` means "present". `co ""`, `sw ""` and `ew ""` match
  every row.
- Multi-valued attributes (`emails`, `members`) compile to `EXISTS` subqueries correlated on the
  resource's primary key: a comparison matches when at least one value satisfies it (RFC 7644
  §3.4.2.2), so `emails.value ne "x"` asks for an email other than "x", while
  `not (emails.value eq "x")` asks for no email "x". `not` negates the whole test and no row is
  ever duplicated.
- dateTime values are compared as instants to the microsecond: `meta.created eq` only matches
  the exact stored instant.
- `id` and `members.value` are UUIDs rendered in canonical lowercase form; any other string
  matches nothing (never an error), so Entra's test connection with a random value gets an empty
  list, as RFC 7644 §3.4.2 and Entra's profile require.

Every problem with the text is reported as `InvalidFilter` (RFC 7644 §3.12, `invalidFilter`) with
a message meant for the identity provider's administrator.
"""

from __future__ import annotations

import json
import operator
import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from functools import reduce
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeAlias, TypeVar

from django.db.models import Exists, F, Model, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Collate, Length, Lower, Right, StrIndex
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
    Lookup,
)

from accounts.models import Group, GroupMembership, Member, MemberEmail, casefold_key
from integrations.scim.errors import InvalidFilter

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.expressions import Combinable
    from django.db.models.sql.compiler import SQLCompiler, _AsSqlType
    from django.http import HttpRequest

__all__ = [
    "GROUP_FILTER",
    "MAX_FILTER_DEPTH",
    "MAX_FILTER_LENGTH",
    "USER_FILTER",
    "And",
    "AttributePath",
    "Comparison",
    "FilterNode",
    "FilterValue",
    "GroupFilterQuery",
    "MemberFilterQuery",
    "Not",
    "Operator",
    "Or",
    "Present",
    "ResourceFilter",
    "ResourceSchema",
    "ValuePath",
    "compile_filter",
    "parse_filter",
]

# Limits that keep a hostile or broken filter from costing more than a normal one: the length
# bounds the SQL size, the depth bounds recursion in the parser, Django and the database.
MAX_FILTER_LENGTH = 4096
MAX_FILTER_DEPTH = 50

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
_T = TypeVar("_T")
ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


# --- Syntax tree -------------------------------------------------------------------------------

# A comparison value (RFC 7644 §3.4.2.2 `compValue`): a JSON string, true/false, null or a number
# (kept as Decimal so any JSON number is represented exactly).
FilterValue: TypeAlias = str | bool | Decimal | None


class Operator(StrEnum):
    """Comparison operators of RFC 7644 §3.4.2.2, Table 3 (`pr` is the `Present` node)."""

    EQ = "eq"
    NE = "ne"
    CO = "co"
    SW = "sw"
    EW = "ew"
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"


ORDERING_OPERATORS = frozenset({Operator.GT, Operator.GE, Operator.LT, Operator.LE})
SUBSTRING_OPERATORS = frozenset({Operator.CO, Operator.SW, Operator.EW})


@dataclass(frozen=True)
class AttributePath:
    """`attrPath` of RFC 7644 §3.4.2.2: an optional schema URN, a name and one sub-attribute.

    Inside a value filter (`emails[type eq "work"]`) the path is relative to the bracketed
    attribute.
    """

    attribute: str
    sub_attribute: str | None = None
    schema: str | None = None

    def __str__(self) -> str:
        text = f"{self.schema}:{self.attribute}" if self.schema else self.attribute
        return f"{text}.{self.sub_attribute}" if self.sub_attribute else text


@dataclass(frozen=True)
class Comparison:
    """`attrPath compareOp compValue`."""

    path: AttributePath
    operator: Operator
    value: FilterValue


@dataclass(frozen=True)
class Present:
    """`attrPath pr`."""

    path: AttributePath


@dataclass(frozen=True)
class And:
    """Operands joined by `and`; n-ary so long chains need no deep recursion."""

    operands: tuple[FilterNode, ...]


@dataclass(frozen=True)
class Or:
    """Operands joined by `or`."""

    operands: tuple[FilterNode, ...]


@dataclass(frozen=True)
class Not:
    """`not (filter)`."""

    operand: FilterNode


@dataclass(frozen=True)
class ValuePath:
    """`attrPath[valFilter]`: at least one value of a multi-valued attribute (or the value of a
    complex one) satisfies `filter`.

    Entra's matching form `emails[type eq "work"].value eq "x"` (the PATCH path syntax of
    RFC 7644 §3.5.2 used as a filter) is parsed into the equivalent
    `emails[type eq "work" and value eq "x"]`: both ask for one email that is a work email with
    that value.
    """

    path: AttributePath
    filter: FilterNode


FilterNode: TypeAlias = Comparison | Present | And | Or | Not | ValuePath


# --- Tokenizer ---------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
    | (?P<word>[A-Za-z$][A-Za-z0-9_$:.\-]*)
    | (?P<punct>[()\[\].])
    """,
    re.VERBOSE | re.DOTALL,
)
# RFC 7644 §3.4.2.2 `ATTRNAME`, plus `$` for `$ref` (RFC 7643 §2.3.7).
_ATTRIBUTE_NAME_RE = re.compile(r"[A-Za-z$][A-Za-z0-9_$\-]*", re.ASCII)
_COMPARISON_OPERATORS = {op.value: op for op in Operator}
_OPERATOR_LIST = "eq, ne, co, sw, ew, gt, ge, lt, le or pr"


@dataclass(frozen=True)
class _Token:
    kind: str  # "string", "number", "word", "punct" or "end"
    text: str
    position: int  # 0-based offset in the filter text
    value: FilterValue = None  # the decoded literal of a string or number token


def _excerpt(text: str, limit: int = 60) -> str:
    """Part of the client's text, quoted, safe to put in a JSON error body (lone surrogates from
    `\\ud800`-style escapes are shown escaped rather than breaking the UTF-8 encoding)."""
    if len(text) > limit:
        text = text[:limit] + "…"
    return '"' + text.encode("utf-8", "backslashreplace").decode("utf-8") + '"'


def _describe_token(token: _Token) -> str:
    if token.kind == "end":
        return "the end of the filter"
    if token.kind == "string":  # already validated, shown with its quotes
        return token.text if len(token.text) <= 62 else token.text[:61] + "…"
    return _excerpt(token.text)


def _syntax_error(message: str, token: _Token) -> InvalidFilter:
    return InvalidFilter(
        f"Invalid filter syntax at position {token.position + 1}: {message}, "
        f"found {_describe_token(token)}."
    )


def _decode_string(text: str, position: int) -> str:
    try:
        decoded = json.loads(text, strict=False)
    except ValueError:
        raise InvalidFilter(
            f"Invalid filter syntax at position {position + 1}: the string {_excerpt(text)} "
            'has an invalid escape sequence (JSON escapes such as \\" \\\\ \\u00e9 are allowed).'
        ) from None
    if not isinstance(decoded, str):  # pragma: no cover - the pattern only matches strings
        raise InvalidFilter(f"Invalid filter syntax at position {position + 1}.")
    if "\x00" in decoded:
        raise InvalidFilter(
            f"Invalid filter syntax at position {position + 1}: strings may not contain NUL."
        )
    try:
        decoded.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidFilter(
            f"Invalid filter syntax at position {position + 1}: the string {_excerpt(text)} "
            "contains an unpaired surrogate escape."
        ) from None
    return decoded


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if match is None:
            char = text[position]
            if char == '"':
                raise InvalidFilter(
                    f"Invalid filter syntax at position {position + 1}: the string that starts "
                    "here is not terminated."
                )
            raise InvalidFilter(
                f"Invalid filter syntax at position {position + 1}: unexpected character "
                f"{_excerpt(char)}."
            )
        kind = match.lastgroup or ""
        token_text = match.group()
        if kind == "string":
            tokens.append(_Token(kind, token_text, position, _decode_string(token_text, position)))
        elif kind == "number":
            tokens.append(_Token(kind, token_text, position, Decimal(token_text)))
        elif kind != "space":
            tokens.append(_Token(kind, token_text, position))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


# --- Parser ------------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the grammar of RFC 7644 §3.4.2.2, Figure 1.

    Two liberties, both for robustness with real clients: whitespace is any amount of any
    whitespace (the ABNF asks for exactly one SP), and `true`/`false`/`null` are accepted in any
    case. Nesting is limited to MAX_FILTER_DEPTH levels of parentheses, `not` and brackets.
    """

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0

    def parse(self) -> FilterNode:
        node = self._or(in_value_path=False)
        token = self._peek()
        if token.kind != "end":
            if token.text == ")":
                raise _syntax_error("this ')' has no matching '('", token)
            if token.text == "]":
                raise _syntax_error("this ']' has no matching '['", token)
            raise _syntax_error("expected 'and', 'or' or the end of the filter", token)
        return node

    def _peek(self) -> _Token:
        return self.tokens[min(self.index, len(self.tokens) - 1)]

    def _next(self) -> _Token:
        token = self._peek()
        self.index += 1
        return token

    def _is_keyword(self, token: _Token, keyword: str) -> bool:
        return token.kind == "word" and token.text.lower() == keyword

    def _expect(self, punct: str, message: str) -> None:
        token = self._next()
        if token.kind != "punct" or token.text != punct:
            raise _syntax_error(message, token)

    def _enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_FILTER_DEPTH:
            raise InvalidFilter(
                f"Invalid filter: nested deeper than {MAX_FILTER_DEPTH} levels "
                f"(at position {token.position + 1})."
            )

    def _or(self, *, in_value_path: bool) -> FilterNode:
        operands = [self._and(in_value_path=in_value_path)]
        while self._is_keyword(self._peek(), "or"):
            self._next()
            operands.append(self._and(in_value_path=in_value_path))
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def _and(self, *, in_value_path: bool) -> FilterNode:
        operands = [self._unary(in_value_path=in_value_path)]
        while self._is_keyword(self._peek(), "and"):
            self._next()
            operands.append(self._unary(in_value_path=in_value_path))
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def _unary(self, *, in_value_path: bool) -> FilterNode:
        token = self._peek()
        if self._is_keyword(token, "not"):
            self._next()
            opening = self._peek()
            self._expect("(", "expected '(' after 'not' (RFC 7644 writes it as not (filter))")
            self._enter(opening)
            node = self._or(in_value_path=in_value_path)
            self._expect(")", "expected ')' to close 'not ('")
            self.depth -= 1
            return Not(node)
        if token.kind == "punct" and token.text == "(":
            self._next()
            self._enter(token)
            node = self._or(in_value_path=in_value_path)
            self._expect(")", "expected 'and', 'or' or ')'")
            self.depth -= 1
            return node
        return self._attribute_expression(in_value_path=in_value_path)

    def _attribute_path(self) -> AttributePath:
        token = self._next()
        if token.kind != "word" or token.text.lower() in {"and", "or"}:
            raise _syntax_error("expected an attribute name, 'not' or '('", token)
        schema, _, name = token.text.rpartition(":")
        parts = name.split(".")
        if len(parts) > 2 or not all(_ATTRIBUTE_NAME_RE.fullmatch(part) for part in parts):
            raise _syntax_error(
                "expected an attribute path such as userName, name.givenName or "
                f"{USER_SCHEMA}:userName",
                token,
            )
        return AttributePath(
            attribute=parts[0],
            sub_attribute=parts[1] if len(parts) == 2 else None,
            schema=schema or None,
        )

    def _attribute_expression(self, *, in_value_path: bool) -> FilterNode:
        path = self._attribute_path()
        bracket = self._peek()
        if bracket.kind == "punct" and bracket.text == "[":
            if in_value_path:
                raise _syntax_error("value filters cannot be nested", bracket)
            if path.sub_attribute is not None:
                raise _syntax_error(
                    f"'[' must follow an attribute name without a sub-attribute, not {path}",
                    bracket,
                )
            self._next()
            self._enter(bracket)
            inner = self._or(in_value_path=True)
            self._expect("]", "expected 'and', 'or' or ']'")
            self.depth -= 1
            dot = self._peek()
            if dot.kind == "punct" and dot.text == ".":
                # Entra's `emails[type eq "work"].value eq "x"`: see ValuePath.
                self._next()
                sub_path = self._attribute_path()
                if sub_path.schema is not None or sub_path.sub_attribute is not None:
                    raise _syntax_error(
                        "expected a sub-attribute name after ']'",
                        self.tokens[self.index - 1],
                    )
                inner = And((inner, self._comparison(sub_path)))
            return ValuePath(path, inner)
        return self._comparison(path)

    def _comparison(self, path: AttributePath) -> FilterNode:
        token = self._next()
        name = token.text.lower() if token.kind == "word" else ""
        if name == "pr":
            return Present(path)
        comparison_operator = _COMPARISON_OPERATORS.get(name)
        if comparison_operator is None:
            raise _syntax_error(f"expected an operator ({_OPERATOR_LIST}) after {path}", token)
        return Comparison(path, comparison_operator, self._value(comparison_operator))

    def _value(self, comparison_operator: Operator) -> FilterValue:
        token = self._next()
        if token.kind in {"string", "number"}:
            return token.value
        if token.kind == "word":
            literal = token.text.lower()
            if literal == "true":
                return True
            if literal == "false":
                return False
            if literal == "null":
                return None
        raise _syntax_error(
            f"expected a value after '{comparison_operator}' (a quoted string, true, false, "
            "null or a number)",
            token,
        )


def parse_filter(filter_text: str) -> FilterNode:
    """Parse a SCIM filter (RFC 7644 §3.4.2.2) into its syntax tree; `InvalidFilter` on error.

    Attribute names are not checked here (that needs the resource type, see `compile_filter`).
    """
    if len(filter_text) > MAX_FILTER_LENGTH:
        raise InvalidFilter(
            f"Invalid filter: longer than {MAX_FILTER_LENGTH} characters ({len(filter_text)})."
        )
    if not filter_text.strip():
        raise InvalidFilter("Invalid filter: the filter is empty.")
    return _Parser(filter_text).parse()


# --- Attribute compilers -----------------------------------------------------------------------


def _always() -> Q:
    """A condition every row satisfies (every row has a primary key)."""
    return Q(pk__isnull=False)


def _never() -> Q:
    """A condition no row satisfies. Written as real SQL (not `pk__in=[]`, which Django turns
    into `EmptyResultSet`) so `str(queryset.query)` and `.explain()` keep working."""
    return Q(pk__isnull=True)


def _show_value(value: FilterValue) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return _excerpt(str(value))[1:-1]
    return _excerpt(value)


def _require_string(name: str, kind: str, value: FilterValue) -> str:
    if not isinstance(value, str):
        raise InvalidFilter(
            f"Invalid filter: '{name}' is a {kind} attribute and needs a quoted string, "
            f"not {_show_value(value)}."
        )
    return value


_ORDERING_LOOKUPS: dict[Operator, type[Lookup[Any]]] = {
    Operator.GT: GreaterThan,
    Operator.GE: GreaterThanOrEqual,
    Operator.LT: LessThan,
    Operator.LE: LessThanOrEqual,
}
_DJANGO_LOOKUPS = {
    Operator.EQ: "exact",
    Operator.GT: "gt",
    Operator.GE: "gte",
    Operator.LT: "lt",
    Operator.LE: "lte",
}
_PYTHON_COMPARISONS: dict[Operator, Callable[[str, str], bool]] = {
    Operator.EQ: operator.eq,
    Operator.NE: operator.ne,
    Operator.CO: lambda attribute, operand: operand in attribute,
    Operator.SW: str.startswith,
    Operator.EW: str.endswith,
    Operator.GT: operator.gt,
    Operator.GE: operator.ge,
    Operator.LT: operator.lt,
    Operator.LE: operator.le,
}


class _CodepointOrder(Collate):
    """Orders strings by code point on both databases (RFC 7644 §3.4.2.2: "lexicographical
    comparison"), independent of the database's locale: `COLLATE "C"` on PostgreSQL (byte order
    of UTF-8, which is code point order), `COLLATE BINARY` on SQLite (the same)."""

    def __init__(self, expression: Combinable | str) -> None:
        super().__init__(expression, "C")

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> _AsSqlType:
        return super().as_sql(compiler, connection, collation="BINARY", **extra_context)


class _Attribute(ABC):
    """A filterable attribute in some scope (a resource, or the values of a complex or
    multi-valued attribute); `name` arguments are the canonical names used in messages."""

    kind: ClassVar[str] = "simple"

    @abstractmethod
    def present(self) -> Q:
        """`pr`: the attribute has a value (RFC 7644 §3.4.2.2)."""

    def absent(self) -> Q:
        return ~self.present()

    def compare(self, name: str, comparison_operator: Operator, value: FilterValue) -> Q:
        """`eq null` asks for an absent value and `ne null` for a present one; null with any
        other operator has no meaning."""
        if value is None:
            if comparison_operator is Operator.EQ:
                return self.absent()
            if comparison_operator is Operator.NE:
                return self.present()
            raise InvalidFilter(
                f"Invalid filter: null can only be compared with eq or ne, not with "
                f"'{comparison_operator}' ({name})."
            )
        return self.compare_value(name, comparison_operator, value)

    @abstractmethod
    def compare_value(self, name: str, comparison_operator: Operator, value: FilterValue) -> Q:
        """Compare with a non-null value."""

    def value_filter(self, name: str, node: FilterNode) -> Q:
        raise InvalidFilter(
            f"Invalid filter: '{name}' is not a complex or multi-valued attribute, so it cannot "
            "take a value filter in brackets."
        )

    def sub_attribute(self, sub_name: str) -> tuple[str, _Attribute] | None:
        return None


class _Scalar(_Attribute):
    """A single-valued attribute stored in one column of the current model."""

    operators: ClassVar[frozenset[Operator]] = frozenset(Operator)

    def compare_value(self, name: str, comparison_operator: Operator, value: FilterValue) -> Q:
        if comparison_operator not in self.operators:
            allowed = ", ".join(op for op in Operator if op in self.operators)
            raise InvalidFilter(
                f"Invalid filter: the operator '{comparison_operator}' does not apply to "
                f"'{name}', a {self.kind} attribute (use {allowed} or pr)."
            )
        return self.compare_checked(name, comparison_operator, value)

    @abstractmethod
    def compare_checked(self, name: str, comparison_operator: Operator, value: FilterValue) -> Q:
        """Compare with a non-null value through an operator this type supports."""


@dataclass(frozen=True)
class _String(_Scalar):
    """A string column (RFC 7643 §2.3.1), compared as the module docstring describes.

    `key_column` holds `casefold_key(column)`; with it the comparison is exact on the key and
    the value is folded in Python. Without it, a case-insensitive attribute is lowered on both
    sides in the database.
    """

    column: str
    case_exact: bool
    key_column: str | None = None
    kind: ClassVar[str] = "string"

    def present(self) -> Q:
        return ~Q(**{self.column: ""})

    def absent(self) -> Q:
        return Q(**{self.column: ""})

    def compare_checked(self, name: str, comparison_operator: Operator, value: FilterValue) -> Q:
        text = _require_string(name, self.kind, value)
        if self.case_exact:
            lhs: Any = F(self.column)
            rhs: Any = Value(text)
            equal = Q(**{self.column: text})
        elif self.key_column:
            folded = casefold_key(text)
            lhs, rhs = F(self.key_column), Value(folded)
            # A plain equality on the indexed key column, so PostgreSQL can use the index.
            equal = Q(**{self.key_column: folded})
        else:
            lhs, rhs = Lower(self.column), Lower(Value(text))
            equal = Q(Exact(lhs, rhs))
        if comparison_operator is Operator.EQ:
            return equal
        if comparison_operator is Operator.NE:
            return ~equal
        if comparison_operator in SUBSTRING_OPERATORS and not text:
            # Every string contains, starts and ends with "" (and LEFT/RIGHT reject length 0).
            return _always()
        if comparison_operator is Operator.CO:
            return Q(GreaterThan(StrIndex(lhs, rhs), 0))
        if comparison_operator is Operator.SW:
            return Q(Exact(StrIndex(lhs, rhs), 1))
        if comparison_operator is Operator.EW:
            return Q(Exact(Right(lhs, Length(rhs)), rhs))
        return Q(_ORDERING_LOOKUPS[comparison_operator](_CodepointOrder(lhs), rhs))


@dataclass(frozen=True)
class _Uuid(_Scalar):
    """A UUID column exposed as a case-exact string (`id`, `members.value`; RFC 7643 §3.1).

    Only the canonical lowercase form the service renders matches; anything else matches
    nothing instead of failing, so a lookup with a foreign identifier gets an empty list
    (RFC 7644 §3.4.2; Entra's test connection sends a random value). Substring and ordering
    operators are refused: the two databases store UUIDs differently, so they would disagree.
    """

    column: str
    kind: ClassVar[str] = "UUID string"
    operators: ClassVar[frozenset[Operator]] = frozenset({Operator.EQ, Operator.NE})

    def present(self) -> Q:
        return _always()

    def absent(self) -> Q:
        return _never()

    def compare_checked(self, name: str, comparison_operator: Operator, value: FilterValue) -> Q:
        text = _require_string(name, "string", value)
        try:
            parsed = uuid.UUID(text)
        except ValueError:
            parsed = None
        if parsed is None or str(parsed) != text:
            return _never() if comparison_operator is Operator.EQ else _always()
        equal = Q(**{self.column: parsed})
        return equal if comparison_operator is Operator.EQ else ~equal


def _require_boolean(name: str, value: FilterValue) -> bool:
    """A JSON boolean, or the strings "true"/"false" in any case: Entra's default (unflagged)
    PATCH sends `active` as the string "True"/"False", and the same tolerance applies here.
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    raise InvalidFilter(
        f"Invalid filter: '{name}' is a boolean attribute; compare it with true or false, "
        f"not {_show_value(value)}."
    )


class _BooleanBase(_Scalar):
    kind: ClassVar[str] = "boolean"
    operators: ClassVar[frozenset[Operator]] = frozenset({Operator.EQ, Operator.NE})

    def present(self) -> Q:
        return _always()

    def absent(self) -> Q:
        return _never()

    @abstractmethod
    def is_true(self) -> Q:
        """Rows where the attribute is true."""

    def compare_checked(self, name: str, comparison_operator: Operator, value: FilterValue) -> Q:
        wanted = _require_boolean(name, value) == (comparison_operator is Operator.EQ)
        return self.is_true() if wanted else ~self.is_true()


@dataclass(frozen=True)
class _Boolean(_BooleanBase):
    column: str

    def is_true(self) -> Q:
        return Q(**{self.column: True})


class _Active(_BooleanBase):
    """User `active` (RFC 7643 §4.1.1), derived from the member's status: an invited member is
    reported active (see `Member.scim_active`), a suspended one inactive; deleted members are
    excluded by the caller. A PATCH `remove` leaves it unassigned (`"active": null` in the stored
    document, see `integrations.scim.users`): such a member has no value, so it matches neither
    `eq true` nor `eq false`, only `ne` and `eq null`, like any absent attribute."""

    def present(self) -> Q:
        return ~Q(scim_attributes__has_key="active")

    def absent(self) -> Q:
        return ~self.present()

    def is_true(self) -> Q:
        return Q(status__in=[Member.Status.INVITED, Member.Status.ACTIVE])

    def compare_checked(self, name: str, comparison_operator: Operator, value: FilterValue) -> Q:
        status = self.is_true() if _require_boolean(name, value) else ~self.is_true()
        equal = status & self.present()
        return equal if comparison_operator is Operator.EQ else ~equal


_DATETIME_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?",
    re.ASCII,
)


def _parse_datetime(name: str, value: FilterValue) -> datetime:
    """An RFC 3339 §5.6 date-time (xsd:dateTime, RFC 7643 §2.3.5), converted to UTC; one
    without an offset is taken as UTC. Fractions beyond microseconds are truncated."""
    text = _require_string(name, "dateTime", value)
    match = _DATETIME_RE.fullmatch(text)
    problem = (
        f"Invalid filter: '{name}' needs an RFC 3339 date-time such as "
        f'"2024-05-01T12:00:00Z" or "2024-05-01T14:00:00.5+02:00", not {_excerpt(text)}.'
    )
    if match is None:
        raise InvalidFilter(problem)
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = (match.group(7) or ".")[1:7].ljust(6, "0")
    offset = match.group(8) or "Z"
    try:
        if offset in {"Z", "z"}:
            zone = UTC
        else:
            sign = -1 if offset[0] == "-" else 1
            hours, minutes = int(offset[1:3]), int(offset[4:6])
            if minutes >= 60:
                raise ValueError(offset)
            zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
        moment = datetime(year, month, day, hour, minute, second, int(fraction), tzinfo=zone)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidFilter(problem) from None


@dataclass(frozen=True)
class _DateTime(_Scalar):
    """A dateTime column (`meta.created`, `meta.lastModified`): compared as instants
    (RFC 7644 §3.4.2.2: "the attribute value occurs after/before the specified value")."""

    column: str
    kind: ClassVar[str] = "dateTime"
    operators: ClassVar[frozenset[Operator]] = frozenset(
        {Operator.EQ, Operator.NE} | ORDERING_OPERATORS
    )

    def present(self) -> Q:
        return _always()

    def absent(self) -> Q:
        return _never()

    def compare_checked(self, name: str, comparison_operator: Operator, value: FilterValue) -> Q:
        moment = _parse_datetime(name, value)
        if comparison_operator is Operator.NE:
            return ~Q(**{self.column: moment})
        return Q(**{f"{self.column}__{_DJANGO_LOOKUPS[comparison_operator]}": moment})


@dataclass(frozen=True)
class _Constant(_Scalar):
    """A case-exact string with the same value on every row (`meta.resourceType`), evaluated in
    Python."""

    value: str
    kind: ClassVar[str] = "string"

    def present(self) -> Q:
        return _always()

    def compare_checked(self, name: str, comparison_operator: Operator, value: FilterValue) -> Q:
        text = _require_string(name, self.kind, value)
        matches = _PYTHON_COMPARISONS[comparison_operator](self.value, text)
        return _always() if matches else _never()


def _case_insensitive_get(attributes: Mapping[str, _T], name: str) -> tuple[str, _T] | None:
    lowered = name.lower()
    for canonical, attribute in attributes.items():
        if canonical.lower() == lowered:
            return canonical, attribute
    return None


@dataclass(frozen=True)
class _Complex(_Attribute):
    """A single-valued complex attribute (`name`, `meta`) whose sub-attributes are columns of
    the same row (RFC 7643 §2.3.8)."""

    sub_attributes: Mapping[str, _Attribute]
    kind: ClassVar[str] = "complex"

    def present(self) -> Q:
        return reduce(operator.or_, (sub.present() for sub in self.sub_attributes.values()))

    def compare_value(self, name: str, comparison_operator: Operator, value: FilterValue) -> Q:
        examples = ", ".join(f"{name}.{sub}" for sub in self.sub_attributes)
        raise InvalidFilter(
            f"Invalid filter: '{name}' is a complex attribute; compare one of its "
            f"sub-attributes ({examples})."
        )

    def sub_attribute(self, sub_name: str) -> tuple[str, _Attribute] | None:
        return _case_insensitive_get(self.sub_attributes, sub_name)

    def value_filter(self, name: str, node: FilterNode) -> Q:
        return _Scope(self.sub_attributes, prefix=f"{name}.").compile(node)


@dataclass(frozen=True)
class _Reference(_Complex):
    """A single-valued complex reference (the enterprise `manager`) whose `value` is a column.

    Entra ID compares the whole attribute (`manager eq "<id>"`) when it checks a manager before
    changing it, so a comparison without a sub-attribute applies to `value` (RFC 7643 §2.4 reads
    the same way for multi-valued attributes)."""

    def compare_value(self, name: str, comparison_operator: Operator, value: FilterValue) -> Q:
        return self.sub_attributes["value"].compare(f"{name}.value", comparison_operator, value)


@dataclass(frozen=True)
class _MultiValued(_Attribute):
    """A multi-valued attribute stored as rows of `model` pointing at the resource through
    `link` (RFC 7643 §2.4). Each test is an `EXISTS` correlated on the resource's primary key:
    it matches when at least one value matches, negates cleanly and never duplicates a row."""

    model: type[Model]
    link: str
    sub_attributes: Mapping[str, _Attribute]
    default_sub_attribute: str = "value"
    kind: ClassVar[str] = "multi-valued"

    def values_where(self, condition: Q) -> Q:
        rows: QuerySet[Any] = self.model._default_manager.filter(**{self.link: OuterRef("pk")})
        return Q(Exists(rows.filter(condition)))

    def present(self) -> Q:
        return Q(Exists(self.model._default_manager.filter(**{self.link: OuterRef("pk")})))

    def compare_value(self, name: str, comparison_operator: Operator, value: FilterValue) -> Q:
        # RFC 7643 §2.4: a filter on a multi-valued attribute without a sub-attribute applies to
        # its `value` sub-attribute.
        default = self.sub_attributes[self.default_sub_attribute]
        sub = _ValuesOf(self, default)
        return sub.compare(f"{name}.{self.default_sub_attribute}", comparison_operator, value)

    def sub_attribute(self, sub_name: str) -> tuple[str, _Attribute] | None:
        found = _case_insensitive_get(self.sub_attributes, sub_name)
        if found is None:
            return None
        canonical, attribute = found
        return canonical, _ValuesOf(self, attribute)

    def value_filter(self, name: str, node: FilterNode) -> Q:
        return self.values_where(_Scope(self.sub_attributes, prefix=f"{name}.").compile(node))


@dataclass(frozen=True)
class _ValuesOf(_Attribute):
    """`emails.value`-style paths: a sub-attribute tested across all values of `parent`."""

    parent: _MultiValued
    attribute: _Attribute

    def present(self) -> Q:
        return self.parent.values_where(self.attribute.present())

    def compare_value(self, name: str, comparison_operator: Operator, value: FilterValue) -> Q:
        return self.parent.values_where(self.attribute.compare(name, comparison_operator, value))


@dataclass(frozen=True)
class _Scope:
    """The attributes a path can name: a resource's, or a complex attribute's sub-attributes
    inside brackets (where paths are relative and carry no schema URN)."""

    attributes: Mapping[str, _Attribute]
    schema: str | None = None
    resource_type: str = ""
    prefix: str = ""
    # Schema extensions (RFC 7643 §3.3): their attributes are named with the extension's URN.
    extensions: Mapping[str, Mapping[str, _Attribute]] = field(default_factory=dict)

    def unknown(self, path: AttributePath) -> InvalidFilter:
        where = f"{self.resource_type}s" if self.resource_type else f"'{self.prefix[:-1]}'"
        known = ", ".join(self.attributes)
        return InvalidFilter(
            f"Invalid filter: unknown attribute {_excerpt(str(path))} for {where} "
            f"(filterable: {known})."
        )

    def resolve(self, path: AttributePath) -> tuple[str, _Attribute]:
        attributes = self.attributes
        prefix = self.prefix
        if path.schema is not None and (
            self.schema is None or path.schema.lower() != self.schema.lower()
        ):
            extension = _case_insensitive_get(self.extensions, path.schema)
            if extension is None:
                raise self.unknown(path)
            prefix, attributes = f"{extension[0]}:", extension[1]
        found = _case_insensitive_get(attributes, path.attribute)
        if found is None and path.schema is None:
            # RFC 7644 §3.10 lets a client leave out the URN when the name is unambiguous;
            # Entra ID's manager check does (`manager eq "<id>"`).
            for urn, extension_attributes in self.extensions.items():
                found = _case_insensitive_get(extension_attributes, path.attribute)
                if found is not None:
                    prefix = f"{urn}:"
                    break
        if found is None:
            raise self.unknown(path)
        name, attribute = found
        name = name if prefix == self.prefix else prefix + name
        if path.sub_attribute is None:
            return (self.prefix + name if prefix == self.prefix else name), attribute
        sub = attribute.sub_attribute(path.sub_attribute)
        if sub is None:
            raise self.unknown(path)
        full = self.prefix + name if prefix == self.prefix else name
        return f"{full}.{sub[0]}", sub[1]

    def compile(self, node: FilterNode) -> Q:
        match node:
            case And(operands):
                return reduce(operator.and_, (self.compile(operand) for operand in operands))
            case Or(operands):
                return reduce(operator.or_, (self.compile(operand) for operand in operands))
            case Not(operand):
                return ~self.compile(operand)
            case Present(path):
                return self.resolve(path)[1].present()
            case Comparison(path, comparison_operator, value):
                name, attribute = self.resolve(path)
                return attribute.compare(name, comparison_operator, value)
            case ValuePath(path, inner):
                if path.sub_attribute is not None:
                    raise self.unknown(path)
                name, attribute = self.resolve(path)
                return attribute.value_filter(name, inner)
        raise InvalidFilter("Invalid filter.")  # pragma: no cover - FilterNode is closed


# --- Resources ---------------------------------------------------------------------------------


class ResourceFilter(Protocol):
    """What `compile_filter` needs from a resource type: how to turn a parsed filter into a
    condition on its model."""

    @property
    def resource_type(self) -> str: ...

    def compile(self, node: FilterNode) -> Q: ...


@dataclass(frozen=True)
class ResourceSchema:
    """The filterable attributes of one SCIM resource type (RFC 7643 §4) and its schema URN,
    which may prefix attribute names (RFC 7644 §3.10)."""

    resource_type: str
    schema: str
    attributes: Mapping[str, _Attribute] = field(repr=False)
    extensions: Mapping[str, Mapping[str, _Attribute]] = field(default_factory=dict, repr=False)

    def compile(self, node: FilterNode) -> Q:
        scope = _Scope(
            self.attributes,
            schema=self.schema,
            resource_type=self.resource_type,
            extensions=self.extensions,
        )
        return scope.compile(node)


def _meta(resource_type: str) -> _Complex:
    """`meta` (RFC 7643 §3.1): `created` and `lastModified` are columns, `resourceType` is fixed."""
    return _Complex(
        {
            "created": _DateTime("created_at"),
            "lastModified": _DateTime("updated_at"),
            "resourceType": _Constant(resource_type),
        }
    )


USER_FILTER: ResourceFilter = ResourceSchema(
    resource_type="User",
    schema=USER_SCHEMA,
    attributes={
        "id": _Uuid("scim_id"),
        "userName": _String("user_name", case_exact=False, key_column="user_name_key"),
        "externalId": _String("external_id", case_exact=True),
        "displayName": _String("display_name", case_exact=False),
        "name": _Complex(
            {
                "givenName": _String("given_name", case_exact=False),
                "familyName": _String("family_name", case_exact=False),
                "formatted": _String("formatted_name", case_exact=False),
            }
        ),
        "active": _Active(),
        "emails": _MultiValued(
            model=MemberEmail,
            link="member",
            sub_attributes={
                "value": _String("value", case_exact=False, key_column="value_key"),
                "type": _String("type", case_exact=False),
                "primary": _Boolean("primary"),
            },
        ),
        "meta": _meta("User"),
    },
    extensions={
        ENTERPRISE_USER_SCHEMA: {
            "manager": _Reference({"value": _String("manager_ref", case_exact=True)}),
        }
    },
)

GROUP_FILTER: ResourceFilter = ResourceSchema(
    resource_type="Group",
    schema=GROUP_SCHEMA,
    attributes={
        "id": _Uuid("scim_id"),
        "displayName": _String("display_name", case_exact=False, key_column="display_name_key"),
        "externalId": _String("external_id", case_exact=True),
        "members": _MultiValued(
            model=GroupMembership,
            link="group",
            sub_attributes={"value": _Uuid("member__scim_id")},
        ),
        "meta": _meta("Group"),
    },
)


def compile_filter(filter_text: str, resource: ResourceFilter) -> Q:
    """Compile a SCIM filter for `resource` (USER_FILTER or GROUP_FILTER) into a `Q` on its
    model. Raises `InvalidFilter` for anything wrong with the text, and nothing else."""
    return resource.compile(parse_filter(filter_text))


# --- django-scim2 hooks ------------------------------------------------------------------------


class MemberFilterQuery:
    """`SCIM_SERVICE_PROVIDER["USER_FILTER_PARSER"]`: django-scim2 calls `search()` for
    `GET /Users?filter=...` (RFC 7644 §3.4.2). Returns a queryset, not the library's raw SQL,
    so the caller can add the organization and status conditions with `.filter()`."""

    # django-scim2's adapters read this mapping at import; the compiler replaces its raw SQL.
    attr_map: ClassVar[dict[tuple[str, str | None, str | None], str]] = {}

    @classmethod
    def search(cls, filter_query: str, request: HttpRequest | None = None) -> QuerySet[Member]:
        return Member.objects.filter(compile_filter(filter_query, USER_FILTER))


class GroupFilterQuery:
    """`SCIM_SERVICE_PROVIDER["GROUP_FILTER_PARSER"]`, the `GET /Groups?filter=...` twin of
    `MemberFilterQuery`."""

    attr_map: ClassVar[dict[tuple[str, str | None, str | None], str]] = {}

    @classmethod
    def search(cls, filter_query: str, request: HttpRequest | None = None) -> QuerySet[Group]:
        return Group.objects.filter(compile_filter(filter_query, GROUP_FILTER))
