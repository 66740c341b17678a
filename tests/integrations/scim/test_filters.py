"""SCIM filters (RFC 7644 §3.4.2.2) compiled to Django queries: the exact rows each filter
matches, on SQLite locally and PostgreSQL in CI."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Group, Member, MemberEmail, Organization
from integrations.scim.errors import InvalidFilter
from integrations.scim.filters import (
    GROUP_FILTER,
    USER_FILTER,
    And,
    AttributePath,
    Comparison,
    FilterValue,
    GroupFilterQuery,
    MemberFilterQuery,
    Not,
    Operator,
    Or,
    Present,
    ResourceFilter,
    ValuePath,
    compile_filter,
    parse_filter,
)
from tests.factories import (
    GroupFactory,
    GroupMembershipFactory,
    MemberFactory,
    OrganizationFactory,
)

UTC = dt.UTC
ALL = {"alice", "bob", "strasse"}


def _member(organization: Organization, label: str, **fields: object) -> Member:
    """A member whose `full_name` is a short label (not a SCIM attribute) for assertions."""
    fields.setdefault("email", f"{label}@mail.example")
    return MemberFactory(organization=organization, full_name=label, **fields)


def _set_times(member: Member, created: dt.datetime, modified: dt.datetime) -> None:
    # created_at/updated_at are auto_now(_add): set them with an update, as a migration would.
    Member.objects.filter(pk=member.pk).update(created_at=created, updated_at=modified)


def _people() -> dict[str, Member]:
    """Three members that between them give every attribute a value, an empty value, and
    values that differ only in case."""
    organization = OrganizationFactory()
    alice = _member(
        organization,
        "alice",
        user_name="Alice@Example.com",
        external_id="EXT-Alice",
        display_name="Alice Anders",
        given_name="Alice",
        family_name="Anders",
        formatted_name="Alice Anders",
        status=Member.Status.ACTIVE,
    )
    bob = _member(
        organization,
        "bob",
        user_name="bob@example.org",
        external_id="ext-bob",
        display_name="Bob Brown",
        given_name="Bob",
        family_name="Brown",
        status=Member.Status.SUSPENDED,
    )
    strasse = _member(organization, "strasse", user_name="Straße", status=Member.Status.INVITED)
    for member, value, kind, primary in [
        (alice, "alice@work.example", "work", True),
        (alice, "Alice@Home.example", "home", False),
        (bob, "bob@x.com", "work", True),
    ]:
        MemberEmail.objects.create(
            member=member, value=value, value_key=value.casefold(), type=kind, primary=primary
        )
    _set_times(
        alice,
        dt.datetime(2024, 1, 1, 10, 0, tzinfo=UTC),
        dt.datetime(2024, 2, 1, 10, 0, tzinfo=UTC),
    )
    _set_times(
        bob,
        dt.datetime(2024, 6, 1, 12, 0, 0, 250000, tzinfo=UTC),
        dt.datetime(2025, 3, 1, 8, 30, tzinfo=UTC),
    )
    _set_times(
        strasse,
        dt.datetime(2025, 1, 1, 0, 0, tzinfo=UTC),
        dt.datetime(2025, 1, 1, 0, 0, tzinfo=UTC),
    )
    return {"alice": alice, "bob": bob, "strasse": strasse}


def _matched_members(filter_text: str) -> list[str]:
    """Labels of the members the filter selects, sorted and with duplicates kept."""
    queryset = Member.objects.filter(compile_filter(filter_text, USER_FILTER))
    return sorted(queryset.values_list("full_name", flat=True))


def _matched_groups(filter_text: str) -> list[str]:
    queryset = Group.objects.filter(compile_filter(filter_text, GROUP_FILTER))
    return sorted(queryset.values_list("display_name", flat=True))


USER_CASES: list[tuple[str, set[str]]] = [
    # userName: case-insensitive through user_name_key, non-ASCII folded alike on both databases.
    ('userName eq "alice@example.com"', {"alice"}),
    ('USERNAME EQ "ALICE@EXAMPLE.COM"', {"alice"}),
    ('userName Eq "STRASSE"', {"strasse"}),
    ('userName eq "straße"', {"strasse"}),
    ('userName ne "alice@example.com"', {"bob", "strasse"}),
    ('userName co "EXAMPLE"', {"alice", "bob"}),
    ('userName co "SS"', {"strasse"}),
    ('userName sw "ALICE"', {"alice"}),
    ('userName ew ".ORG"', {"bob"}),
    ('userName gt "b"', {"bob", "strasse"}),
    ('userName ge "BOB@example.org"', {"bob", "strasse"}),
    ('userName lt "bob"', {"alice"}),
    ('userName le "bob@example.org"', {"alice", "bob"}),
    ("userName pr", ALL),
    ("userName eq null", set()),
    ('userName eq "nobody"', set()),
    # externalId: case-exact, also for co/sw/ew and in code point order.
    ('externalId eq "EXT-Alice"', {"alice"}),
    ('externalId eq "ext-alice"', set()),
    ('externalId ne "EXT-Alice"', {"bob", "strasse"}),
    ('externalId co "Alice"', {"alice"}),
    ('externalId co "alice"', set()),
    ('externalId sw "EXT"', {"alice"}),
    ('externalId sw "ext"', {"bob"}),
    ('externalId ew "bob"', {"bob"}),
    ('externalId ew "BOB"', set()),
    ('externalId ew "a-much-longer-suffix-than-the-value"', set()),
    ('externalId gt "a"', {"bob"}),
    ('externalId lt "a"', {"alice", "strasse"}),
    ('externalId ge "ext-bob"', {"bob"}),
    ('externalId le "EXT-Alice"', {"alice", "strasse"}),
    ("externalId pr", {"alice", "bob"}),
    ("externalId eq null", {"strasse"}),
    ("externalId ne null", {"alice", "bob"}),
    ('externalId co ""', ALL),
    # displayName and name.*: case-insensitive with LOWER() on both sides.
    ('displayName eq "alice anders"', {"alice"}),
    ('displayName ne "ALICE ANDERS"', {"bob", "strasse"}),
    ('displayName co "BROWN"', {"bob"}),
    ('displayName sw "bob"', {"bob"}),
    ('displayName ew "ANDERS"', {"alice"}),
    ('displayName gt "B"', {"bob"}),
    ('displayName ge "bob brown"', {"bob"}),
    ('displayName lt "b"', {"alice", "strasse"}),
    ('displayName le "ALICE ANDERS"', {"alice", "strasse"}),
    ("displayName pr", {"alice", "bob"}),
    ("displayName eq null", {"strasse"}),
    ('name.givenName eq "ALICE"', {"alice"}),
    ('name.familyName sw "br"', {"bob"}),
    ('name.formatted co "ICE AN"', {"alice"}),
    ("NAME.GIVENNAME pr", {"alice", "bob"}),
    ("name pr", {"alice", "bob"}),
    ("name eq null", {"strasse"}),
    ('name[givenName eq "bob" and familyName eq "BROWN"]', {"bob"}),
    ('name[givenName eq "bob"].familyName eq "anders"', set()),
    # active: derived from the status; Entra's string booleans accepted.
    ("active eq true", {"alice", "strasse"}),
    ("active eq false", {"bob"}),
    ("active ne true", {"bob"}),
    ("active ne false", {"alice", "strasse"}),
    ('active eq "True"', {"alice", "strasse"}),
    ('active eq "false"', {"bob"}),
    ("active eq TRUE", {"alice", "strasse"}),
    ("active pr", ALL),
    ("active eq null", set()),
    ("active ne null", ALL),
    # emails: EXISTS over MemberEmail rows; values case-insensitive through value_key.
    ('emails eq "ALICE@WORK.EXAMPLE"', {"alice"}),
    ('emails.value eq "alice@home.example"', {"alice"}),
    ('emails.value co "@X.COM"', {"bob"}),
    ('emails.value sw "ALICE@"', {"alice"}),
    ('emails.value ew ".example"', {"alice"}),
    ('emails.value ne "bob@x.com"', {"alice"}),
    ('emails.value gt "b"', {"bob"}),
    ("emails.value pr", {"alice", "bob"}),
    ("emails.value eq null", {"strasse"}),
    ('emails.type eq "HOME"', {"alice"}),
    ("emails.primary eq true", {"alice", "bob"}),
    ("emails.primary eq false", {"alice"}),
    ('emails.primary eq "True"', {"alice", "bob"}),
    ("emails pr", {"alice", "bob"}),
    ("emails eq null", {"strasse"}),
    ("emails ne null", {"alice", "bob"}),
    ("not (emails pr)", {"strasse"}),
    ('not (emails.value ew "@x.com")', {"alice", "strasse"}),
    ('emails[type eq "work" and value co "@x.com"]', {"bob"}),
    ('emails[type eq "WORK"]', {"alice", "bob"}),
    ("emails[primary eq false]", {"alice"}),
    ('emails[type eq "home" or value eq "bob@x.com"]', {"alice", "bob"}),
    ('emails[not (type eq "work")]', {"alice"}),
    ('emails[type eq "work"].value eq "ALICE@WORK.EXAMPLE"', {"alice"}),
    # The trailing sub-attribute belongs to the same email: alice's home address is not work.
    ('emails[type eq "work"].value eq "alice@home.example"', set()),
    ('emails[type eq "home"].value pr', {"alice"}),
    ('emails[type eq "work"] and emails[value eq "alice@home.example"]', {"alice"}),
    ('emails[type eq "work" and value eq "alice@home.example"]', set()),
    # meta: instants, any offset, naive taken as UTC.
    ('meta.created gt "2024-03-01T00:00:00Z"', {"bob", "strasse"}),
    ('meta.created eq "2024-01-01T12:00:00+02:00"', {"alice"}),
    ('meta.created eq "2024-01-01T10:00:00"', {"alice"}),
    ('meta.created eq "2024-01-01t10:00:00z"', {"alice"}),
    ('meta.created eq "2024-06-01T12:00:00.25Z"', {"bob"}),
    ('meta.created eq "2024-06-01T12:00:00Z"', set()),
    ('meta.created ne "2024-06-01T14:00:00.250+02:00"', {"alice", "strasse"}),
    ('meta.created lt "2024-01-01T05:00:00-05:00"', set()),
    ('meta.created le "2024-01-01T05:00:00-05:00"', {"alice"}),
    ('meta.created ge "2024-06-01T12:00:00.250000001Z"', {"bob", "strasse"}),
    ('meta.lastModified gt "2025-02-01T00:00:00Z"', {"bob"}),
    ('meta.lastModified lt "2024-12-31T23:00:00-02:00"', {"alice", "strasse"}),
    ('meta.lastModified lt "2025-01-01T01:00:00+02:00"', {"alice"}),
    ("meta.created pr", ALL),
    ("meta.lastModified eq null", set()),
    ('meta.resourceType eq "User"', ALL),
    ('meta.resourceType eq "user"', set()),
    ('meta.resourceType eq "Group"', set()),
    ("meta pr", ALL),
    # Schema-qualified names, the URN in any case.
    ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "BOB@example.org"', {"bob"}),
    ('URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:name.givenName eq "bob"', {"bob"}),
    ('urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "home"]', {"alice"}),
    # id: anything but a canonical id matches nothing, without an error.
    ('id eq "not-a-uuid"', set()),
    ('id ne "not-a-uuid"', ALL),
    ('id eq ""', set()),
    ("id pr", ALL),
    ("id eq null", set()),
    # Precedence: not > and > or; parentheses override.
    (
        'active eq false or userName eq "alice@example.com" and externalId eq "nope"',
        {"bob"},
    ),
    (
        '(active eq false or userName eq "alice@example.com") and externalId eq "nope"',
        set(),
    ),
    ('userName eq "straße" or active eq false and not (externalId pr)', {"strasse"}),
    ('(userName eq "straße" or active eq false) and not (externalId pr)', {"strasse"}),
    ('not (userName eq "bob@example.org" or userName eq "straße")', {"alice"}),
    ('not (userName eq "bob@example.org") and not (userName eq "straße")', {"alice"}),
    ("not (active eq true) and userName pr", {"bob"}),
    ("not(not(emails pr))", {"alice", "bob"}),
    ('((((userName sw "a"))))', {"alice"}),
    ('userName sw "a" AND active EQ true OR userName sw "b"', {"alice", "bob"}),
    # Whitespace is tolerated.
    ('  userName   eq\t"bob@example.org"\n', {"bob"}),
    ('emails[ type eq "home" ]', {"alice"}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("filter_text", "expected"), USER_CASES, ids=[c[0] for c in USER_CASES])
def test_user_filter_matches_exactly(filter_text: str, expected: set[str]) -> None:
    # given
    _people()

    # when
    matched = _matched_members(filter_text)

    # then: the exact set, each member once however many of its emails match
    assert matched == sorted(expected)


@pytest.mark.django_db
def test_id_matches_only_the_canonical_form_of_the_members_id() -> None:
    # given
    people = _people()
    bob_id = str(people["bob"].scim_id)

    # when
    exact = _matched_members(f'id eq "{bob_id}"')
    upper = _matched_members(f'id eq "{bob_id.upper()}"')
    hex_only = _matched_members(f'id eq "{people["bob"].scim_id.hex}"')
    others = _matched_members(f'id ne "{bob_id}"')

    # then: id is caseExact (RFC 7643 §3.1); other spellings match nothing and raise nothing
    assert exact == ["bob"]
    assert upper == []
    assert hex_only == []
    assert others == ["alice", "strasse"]


@pytest.mark.django_db
def test_entra_matching_lookups_for_users() -> None:
    # given: the exact values from Microsoft's request examples
    organization = OrganizationFactory()
    test_user = _member(
        organization,
        "test-user",
        user_name="Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
        external_id="0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    )
    _member(organization, "look-alike", user_name="TestXUserX00aa00aa-bb11-cc22-dd33-44ee44ee44ee")
    MemberEmail.objects.create(
        member=test_user,
        value="Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com",
        value_key="test_user_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com",
        type="work",
        primary=True,
    )

    # when
    by_user_name = _matched_members('userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"')
    by_external_id = _matched_members('externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"')
    by_work_email = _matched_members(
        'emails[type eq "work"].value eq '
        '"Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"'
    )
    test_connection = _matched_members('userName eq "5e4c4a0b-7a5e-4c4e-8f0e-1d2f3a4b5c6d"')
    not_found = _matched_members('userName eq "non-existent user"')

    # then
    assert by_user_name == ["test-user"]
    assert by_external_id == ["test-user"]
    assert by_work_email == ["test-user"]
    assert test_connection == []
    assert not_found == []


@pytest.mark.django_db
def test_like_wildcards_in_values_are_literal_characters() -> None:
    # given: "_" and "%" would be wildcards if the filter were compiled to LIKE
    organization = OrganizationFactory()
    _member(organization, "underscore", user_name="Test_User_1", external_id="50%_off")
    _member(organization, "letters", user_name="TestXUserX1", external_id="50XXoff")

    # when
    contains_underscore = _matched_members('userName co "t_user_"')
    starts_with_percent = _matched_members('externalId sw "50%"')
    ends_with_underscore_pattern = _matched_members('externalId ew "_off"')

    # then
    assert contains_underscore == ["underscore"]
    assert starts_with_percent == ["underscore"]
    assert ends_with_underscore_pattern == ["underscore"]


@pytest.mark.django_db
def test_string_escapes_are_decoded_before_comparing() -> None:
    # given
    organization = OrganizationFactory()
    _member(organization, "quoted", user_name='say "hi" \\ bye')
    _member(organization, "accented", user_name="Émile", display_name="Émile")

    # when
    quoted = _matched_members(r'userName eq "say \"hi\" \\ bye"')
    accented_escape = _matched_members(r'userName eq "\u00e9mile"')
    accented_upper = _matched_members('userName eq "ÉMILE"')

    # then: userName folds non-ASCII on both databases (key column, Python casefold)
    assert quoted == ["quoted"]
    assert accented_escape == ["accented"]
    assert accented_upper == ["accented"]


@pytest.mark.django_db
def test_user_name_eq_compiles_to_a_plain_equality_on_the_key_column() -> None:
    # given
    queryset = Member.objects.filter(compile_filter('userName eq "STRASSE"', USER_FILTER))

    # when
    sql = str(queryset.query)

    # then: an indexable equality with the Python-casefolded value, no function on the column
    assert '"accounts_member"."user_name_key" = strasse' in sql
    assert "LOWER" not in sql.upper().split("WHERE", 1)[1]


@pytest.mark.django_db
def test_substring_operators_never_compile_to_like() -> None:
    # given
    filter_text = (
        'userName co "a" or userName sw "b" or externalId ew "c" or displayName co "d" '
        'or emails.value sw "e" or name.givenName ew "f"'
    )

    # when
    sql = str(Member.objects.filter(compile_filter(filter_text, USER_FILTER)).query)

    # then: SQLite's LIKE ignores case, so it must not appear
    assert " LIKE " not in sql.upper()


@pytest.mark.django_db
def test_multi_valued_filters_compile_to_correlated_exists() -> None:
    # given
    filter_text = 'emails[type eq "work"].value eq "a@b.c" or not (emails pr)'

    # when
    sql = str(Member.objects.filter(compile_filter(filter_text, USER_FILTER)).query)

    # then: subqueries, never a join that could duplicate members
    assert sql.count("EXISTS") == 2
    assert "JOIN" not in sql.split("WHERE", 1)[0].replace('INNER JOIN "accounts_organization"', "")


def _teams() -> dict[str, str]:
    """Three groups (one empty, one with a non-ASCII name) and two members; returns SCIM ids."""
    organization = OrganizationFactory()
    engineering = GroupFactory(
        organization=organization, display_name="Engineering", external_id="G-Eng"
    )
    review = GroupFactory(organization=organization, display_name="Überprüfung")
    empty = GroupFactory(organization=organization, display_name="Empty", external_id="g-empty")
    ada = MemberFactory(organization=organization)
    grace = MemberFactory(organization=organization)
    GroupMembershipFactory(group=engineering, member=ada)
    GroupMembershipFactory(group=engineering, member=grace)
    GroupMembershipFactory(group=review, member=grace)
    Group.objects.filter(pk=engineering.pk).update(
        created_at=dt.datetime(2024, 1, 1, tzinfo=UTC),
        updated_at=dt.datetime(2024, 1, 2, tzinfo=UTC),
    )
    Group.objects.filter(pk__in=[review.pk, empty.pk]).update(
        created_at=dt.datetime(2025, 1, 1, tzinfo=UTC),
        updated_at=dt.datetime(2025, 1, 2, tzinfo=UTC),
    )
    return {
        "engineering": str(engineering.scim_id),
        "ada": str(ada.scim_id),
        "grace": str(grace.scim_id),
    }


@pytest.mark.django_db
def test_group_filters_match_exactly() -> None:
    # given
    ids = _teams()
    ada_id, grace_id, engineering_id = ids["ada"], ids["grace"], ids["engineering"]
    cases = {
        # Entra's lookups: displayName (case-insensitive, non-ASCII too) and members[value eq].
        'displayName eq "Engineering"': ["Engineering"],
        'displayName eq "ENGINEERING"': ["Engineering"],
        'displayName eq "ÜBERPRÜFUNG"': ["Überprüfung"],
        'displayName co "PRÜF"': ["Überprüfung"],
        'displayName sw "e"': ["Empty", "Engineering"],
        'displayName ew "ING"': ["Engineering"],
        'displayName ew "UNG"': ["Überprüfung"],
        'displayName ne "empty"': ["Engineering", "Überprüfung"],
        'displayName gt "eng"': ["Engineering", "Überprüfung"],
        'displayName lt "eng"': ["Empty"],
        f'members[value eq "{ada_id}"]': ["Engineering"],
        f'members[value eq "{grace_id}"]': ["Engineering", "Überprüfung"],
        f'members.value eq "{grace_id}"': ["Engineering", "Überprüfung"],
        f'members eq "{ada_id}"': ["Engineering"],
        f'not (members[value eq "{ada_id}"])': ["Empty", "Überprüfung"],
        f'members[value eq "{ada_id}" or value eq "{grace_id}"]': ["Engineering", "Überprüfung"],
        'members[value eq "not-a-uuid"]': [],
        f'members[value ne "{ada_id}"]': ["Engineering", "Überprüfung"],
        "members pr": ["Engineering", "Überprüfung"],
        "members eq null": ["Empty"],
        'externalId eq "G-Eng"': ["Engineering"],
        'externalId eq "g-eng"': [],
        "externalId pr": ["Empty", "Engineering"],
        f'id eq "{engineering_id}"': ["Engineering"],
        'id eq "not-a-uuid"': [],
        'meta.created lt "2024-06-01T00:00:00Z"': ["Engineering"],
        'meta.lastModified ge "2025-01-02T01:00:00+01:00"': ["Empty", "Überprüfung"],
        'meta.resourceType eq "Group"': ["Empty", "Engineering", "Überprüfung"],
        'urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "empty"': ["Empty"],
    }

    # when
    matched = {filter_text: _matched_groups(filter_text) for filter_text in cases}

    # then
    assert matched == cases


@pytest.mark.django_db
def test_settings_hooks_return_querysets_the_caller_narrows_to_its_tenant() -> None:
    # given: the same userName and group name in two organizations
    mine, theirs = OrganizationFactory(), OrganizationFactory()
    _member(mine, "mine", user_name="shared@example.com")
    _member(theirs, "theirs", user_name="shared@example.com")
    GroupFactory(organization=mine, display_name="Shared")
    GroupFactory(organization=theirs, display_name="Shared")

    # when
    members = MemberFilterQuery.search('userName eq "SHARED@example.com"').filter(organization=mine)
    groups = GroupFilterQuery.search('displayName eq "shared"').filter(organization=mine)

    # then
    assert [m.full_name for m in members] == ["mine"]
    assert [g.organization_id for g in groups] == [mine.pk]


def test_parse_filter_builds_the_syntax_tree_with_precedence() -> None:
    # given
    filter_text = (
        'userName eq "a" or not (active eq false) and emails[type eq "work"].value pr '
        "AND urn:ietf:params:scim:schemas:core:2.0:User:meta.created gt 5"
    )

    # when
    tree = parse_filter(filter_text)

    # then
    assert tree == Or(
        (
            Comparison(AttributePath("userName"), Operator.EQ, "a"),
            And(
                (
                    Not(Comparison(AttributePath("active"), Operator.EQ, False)),
                    ValuePath(
                        AttributePath("emails"),
                        And(
                            (
                                Comparison(AttributePath("type"), Operator.EQ, "work"),
                                Present(AttributePath("value")),
                            )
                        ),
                    ),
                    Comparison(
                        AttributePath(
                            "meta", "created", "urn:ietf:params:scim:schemas:core:2.0:User"
                        ),
                        Operator.GT,
                        Decimal(5),
                    ),
                )
            ),
        )
    )


def test_parse_filter_reads_json_literals() -> None:
    # given
    literals: dict[str, FilterValue] = {
        r'x eq "tab\tquote\"slash\/back\\é\u00e9"': 'tab\tquote"slash/back\\éé',
        "x eq true": True,
        "x eq False": False,
        "x eq null": None,
        "x eq -12.5e2": Decimal("-1250"),
        "x eq 0": Decimal(0),
    }

    # when
    trees = {text: parse_filter(text) for text in literals}

    # then
    assert trees == {
        text: Comparison(AttributePath("x"), Operator.EQ, value) for text, value in literals.items()
    }


ERROR_CASES: list[tuple[str, ResourceFilter, str]] = [
    ("", USER_FILTER, "the filter is empty"),
    ("   ", USER_FILTER, "the filter is empty"),
    ('userName eq "x', USER_FILTER, "position 13: the string that starts here is not terminated"),
    ("userName eq", USER_FILTER, "position 12: expected a value after 'eq'"),
    ('userName equals "x"', USER_FILTER, "position 10: expected an operator"),
    ('userName eq "x" extra', USER_FILTER, "position 17: expected 'and', 'or' or the end"),
    ('(userName eq "x"', USER_FILTER, "expected 'and', 'or' or ')'"),
    ('userName eq "x")', USER_FILTER, "position 16: this ')' has no matching '('"),
    ('userName eq "x" and', USER_FILTER, "position 20: expected an attribute name"),
    ('and userName eq "x"', USER_FILTER, "position 1: expected an attribute name"),
    ('not userName eq "x"', USER_FILTER, "position 5: expected '(' after 'not'"),
    ("userName eq 'x'", USER_FILTER, 'position 13: unexpected character "\'"'),
    ('userName eq "x" # comment', USER_FILTER, 'unexpected character "#"'),
    ('name..givenName eq "x"', USER_FILTER, "expected an attribute path"),
    ('name.givenName.first eq "x"', USER_FILTER, "expected an attribute path"),
    ('userName eq "\\x"', USER_FILTER, "invalid escape sequence"),
    ('userName eq "\\u12"', USER_FILTER, "invalid escape sequence"),
    ('userName eq "\\ud800"', USER_FILTER, "unpaired surrogate"),
    ('userName eq "a\\u0000b"', USER_FILTER, "may not contain NUL"),
    ('emails[type eq "work"', USER_FILTER, "expected 'and', 'or' or ']'"),
    ('emails[type eq "work"]]', USER_FILTER, "this ']' has no matching '['"),
    ('emails[value eq "x" and emails[type eq "y"]]', USER_FILTER, "cannot be nested"),
    ('emails.value[type eq "work"]', USER_FILTER, "'[' must follow an attribute name"),
    ('emails[type eq "work"].value.x eq "y"', USER_FILTER, "expected a sub-attribute name"),
    ('emails[type eq "work"]."value" eq "y"', USER_FILTER, "position 24: expected an attrib"),
    # Unknown attributes are named.
    ('nickName eq "x"', USER_FILTER, 'unknown attribute "nickName" for Users'),
    ('name.middleName eq "x"', USER_FILTER, 'unknown attribute "name.middleName"'),
    ('userName.value eq "x"', USER_FILTER, 'unknown attribute "userName.value"'),
    ('emails[display eq "x"]', USER_FILTER, "unknown attribute \"display\" for 'emails'"),
    ('members[value eq "x"]', USER_FILTER, 'unknown attribute "members"'),
    ('userName eq "x"', GROUP_FILTER, 'unknown attribute "userName" for Groups'),
    (
        'urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "x"',
        USER_FILTER,
        'unknown attribute "urn:ietf:params:scim:schemas:core:2.0:Group:displayName"',
    ),
    (
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"',
        USER_FILTER,
        "unknown attribute",
    ),
    ('userName[value eq "x"]', USER_FILTER, "'userName' is not a complex or multi-valued"),
    ('name eq "x"', USER_FILTER, "'name' is a complex attribute"),
    # Operators that do not apply to the type.
    ("active gt true", USER_FILTER, "the operator 'gt' does not apply to 'active', a boolean"),
    ('active co "t"', USER_FILTER, "the operator 'co' does not apply to 'active'"),
    ("emails.primary le true", USER_FILTER, "does not apply to 'emails.primary'"),
    ('meta.created co "2024"', USER_FILTER, "'co' does not apply to 'meta.created', a dateTime"),
    ('meta.lastModified sw "2024"', USER_FILTER, "does not apply to 'meta.lastModified'"),
    ('id co "abc"', USER_FILTER, "the operator 'co' does not apply to 'id'"),
    ('id gt "abc"', GROUP_FILTER, "the operator 'gt' does not apply to 'id'"),
    ('members.value sw "abc"', GROUP_FILTER, "does not apply to 'members.value'"),
    ("userName gt null", USER_FILTER, "null can only be compared with eq or ne"),
    ("emails co null", USER_FILTER, "null can only be compared with eq or ne"),
    # Values of the wrong type.
    ('active eq "yes"', USER_FILTER, "'active' is a boolean attribute; compare it with true"),
    ("active eq 1", USER_FILTER, "'active' is a boolean attribute"),
    ("userName eq true", USER_FILTER, "'userName' is a string attribute and needs a quoted"),
    ("externalId eq 42", USER_FILTER, "needs a quoted string, not 42"),
    ("id eq 42", USER_FILTER, "'id' is a string attribute"),
    ("emails.value eq false", USER_FILTER, "'emails.value' is a string attribute"),
    ("meta.created gt 2024", USER_FILTER, "'meta.created' is a dateTime attribute"),
    ('meta.created gt "yesterday"', USER_FILTER, "needs an RFC 3339 date-time"),
    ('meta.created gt "2024-05-01"', USER_FILTER, "needs an RFC 3339 date-time"),
    ('meta.created gt "2024-02-30T00:00:00Z"', USER_FILTER, "needs an RFC 3339 date-time"),
    ('meta.created gt "2024-01-01T25:00:00Z"', USER_FILTER, "needs an RFC 3339 date-time"),
    ('meta.created gt "2024-01-01T00:00:00+25:00"', USER_FILTER, "needs an RFC 3339"),
    ('meta.created gt "9999-12-31T23:59:59-01:00"', USER_FILTER, "needs an RFC 3339"),
    ('meta.lastModified lt "0001-01-01T00:00:00+01:00"', GROUP_FILTER, "needs an RFC 3339"),
    ("meta.resourceType eq 1", USER_FILTER, "'meta.resourceType' is a string attribute"),
]


@pytest.mark.parametrize(
    ("filter_text", "resource", "message"), ERROR_CASES, ids=[c[0] or "empty" for c in ERROR_CASES]
)
def test_invalid_filters_raise_invalid_filter_with_a_useful_message(
    filter_text: str, resource: ResourceFilter, message: str
) -> None:
    # given / when / then
    with pytest.raises(InvalidFilter, match=re.escape(message)) as raised:
        compile_filter(filter_text, resource)
    assert raised.value.scim_type == "invalidFilter"
    assert raised.value.status == 400


def test_filters_longer_than_4096_characters_are_refused() -> None:
    # given
    at_limit = 'userName eq "' + "a" * (4096 - 14) + '"'
    too_long = 'userName eq "' + "a" * (4096 - 13) + '"'

    # when
    compile_filter(at_limit, USER_FILTER)

    # then
    assert len(at_limit) == 4096
    with pytest.raises(InvalidFilter, match="longer than 4096 characters"):
        compile_filter(too_long, USER_FILTER)


def test_filters_nested_deeper_than_50_levels_are_refused() -> None:
    # given
    fifty = "(" * 25 + "not (" * 24 + 'emails[value eq "x"]' + ")" * 49
    fifty_one = "(" * 51 + "userName pr" + ")" * 51

    # when
    compile_filter(fifty, USER_FILTER)

    # then
    with pytest.raises(InvalidFilter, match="nested deeper than 50 levels"):
        compile_filter(fifty_one, USER_FILTER)


@pytest.mark.django_db
def test_the_longest_flat_filters_still_run() -> None:
    # given: as many terms as fit in 4096 characters
    member = _member(OrganizationFactory(), "only", user_name="only@example.com")
    MemberEmail.objects.create(
        member=member, value="only@example.com", value_key="only@example.com"
    )
    ors = " or ".join(["emails pr"] * 315)
    ands = " and ".join(['userName ne "x"'] * 205)
    assert len(ors) <= 4096 < len(ors + " or emails pr")
    assert len(ands) <= 4096 < len(ands + ' and userName ne "x"')

    # when
    matched_ors = _matched_members(ors)
    matched_ands = _matched_members(ands)

    # then
    assert matched_ors == ["only"]
    assert matched_ands == ["only"]


FRAGMENTS = [
    " ", "(", ")", "[", "]", ".", '"', "\\", ":", "-", "0", "1.5e3", "eq", "ne", "co", "sw", "ew",
    "gt", "ge", "lt", "le", "pr", "and", "or", "not", "true", "false", "null", "userName", "id",
    "emails", "value", "type", "primary", "name", "givenName", "meta", "created", "active",
    "members", "displayName", "externalId", '"x"', '"2024-01-01T00:00:00Z"', "urn:a:b",
    "urn:ietf:params:scim:schemas:core:2.0:User", "\\u00e9", "\\ud800", "é", "ß", "\u0000",
]  # fmt: skip


def _run_filter(filter_text: str, resource: ResourceFilter) -> None:
    """Parse, compile and execute; only InvalidFilter may come out."""
    try:
        condition = compile_filter(filter_text, resource)
    except InvalidFilter as error:
        assert error.detail.startswith("Invalid filter")
        error.detail.encode("utf-8")  # safe to put in the JSON error body
        return
    model = Member if resource is USER_FILTER else Group
    list(model.objects.filter(condition)[:1])


@pytest.mark.django_db
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.text(max_size=80) | st.lists(st.sampled_from(FRAGMENTS), max_size=25).map("".join),
    resource=st.sampled_from([USER_FILTER, GROUP_FILTER]),
)
def test_any_text_raises_nothing_but_invalid_filter(text: str, resource: ResourceFilter) -> None:
    # given / when / then
    _run_filter(text, resource)


ATTRIBUTES = [
    "userName", "externalId", "displayName", "name.givenName", "active", "emails",
    "emails.value", "emails.type", "emails.primary", "meta.created", "meta.lastModified",
    "meta.resourceType", "id", "members", "members.value", "name", "meta", "nickName",
]  # fmt: skip
VALUES = st.one_of(
    st.text(max_size=20).map(
        lambda text: '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    ),
    st.sampled_from(["true", "false", "null", "0", "-1.5", "1e999", '"True"', '""']),
    st.sampled_from(['"2024-01-01T00:00:00Z"', '"2024-01-01T00:00:00.123456789+14:00"']),
    st.uuids().map(lambda value: f'"{value}"'),
)
COMPARISONS = st.builds(
    lambda attribute, op, value: f"{attribute} {op} {value}" if op != "pr" else f"{attribute} pr",
    st.sampled_from(ATTRIBUTES),
    st.sampled_from([*Operator, "pr"]),
    VALUES,
)
FILTERS = st.recursive(
    COMPARISONS,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"{a} and {b}", inner, inner),
        st.builds(lambda a, b: f"{a} or {b}", inner, inner),
        inner.map(lambda a: f"not ({a})"),
        st.builds(
            lambda attribute, a: f"{attribute}[{a}]",
            st.sampled_from(["emails", "members", "name", "userName"]),
            COMPARISONS,
        ),
    ),
    max_leaves=6,
)


@pytest.mark.django_db
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(filter_text=FILTERS, resource=st.sampled_from([USER_FILTER, GROUP_FILTER]))
def test_well_formed_filters_compile_and_run_or_raise_invalid_filter(
    filter_text: str, resource: ResourceFilter
) -> None:
    # given / when / then: every value reaches the database without an error
    _run_filter(filter_text, resource)
