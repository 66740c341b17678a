"""The number of SQL queries of each SCIM operation does not grow with the organization.

Issue 7: an Entra ID cycle against 100,000 members must cost per request what it costs against
ten. Each test measures one operation at a small and at a large size (members in the
organization, or members in the group) and asserts the same number of queries. Fixture rows are
seeded with `bulk_create` (fixture data, not behaviour under test); the operations go through the
whole stack as black-box SCIM requests.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Group, GroupMembership, Member, Organization

pytestmark = pytest.mark.django_db

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SMALL, LARGE = 10, 1_000


def seed_members(organization: Organization, count: int, prefix: str) -> list[Member]:
    members = []
    for index in range(count):
        name = f"{prefix}.{index}@contoso.com"
        members.append(
            Member(
                organization=organization,
                user_name=name,
                user_name_key=name.casefold(),
                email=name,
                full_name=f"Person {prefix} {index}",
                scim_id=uuid.uuid4(),
                source=Member.Source.IDENTITY_PROVIDER,
                scim_attributes={"userName": name, "active": True},
            )
        )
    return Member.objects.bulk_create(members, batch_size=1000)


def seed_group(organization: Organization, name: str, members: list[Member]) -> Group:
    group = Group.objects.create(
        organization=organization, display_name=name, source=Member.Source.IDENTITY_PROVIDER
    )
    GroupMembership.objects.bulk_create(
        [GroupMembership(group=group, member=member) for member in members], batch_size=1000
    )
    return group


def count_queries(action: Callable[[], int], expected_status: int) -> int:
    """The number of SQL queries one request runs (the callers warm caches with a first one)."""
    with CaptureQueriesContext(connection) as queries:
        status = action()
    assert status == expected_status
    return len(queries.captured_queries)


def measure(organization, make_action, expected_status: int) -> tuple[int, int]:
    """Queries of the action at SMALL members, then at LARGE members in the organization.

    A first, equivalent request warms per-process caches at each size; the second is measured.
    """
    counts = []
    for size, prefix in ((SMALL, "small"), (LARGE - SMALL, "large")):
        members = seed_members(organization, size, prefix)
        warm = make_action(members[0], f"{prefix}-warm")
        assert warm() == expected_status
        counts.append(count_queries(make_action(members[-1], prefix), expected_status))
    return counts[0], counts[1]


def patch_body(*operations: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


# --- users ---------------------------------------------------------------------------------------


def test_username_lookup_query_count_is_flat(scim, organization):
    # given: the request, made at 10 and then at 1,000 members
    def action(member: Member, _tag: str) -> Callable[[], int]:
        return lambda: scim.get(f'/Users?filter=userName eq "{member.user_name}"').status

    # when
    small, large = measure(organization, action, 200)
    # then
    assert small == large


def test_get_user_by_id_query_count_is_flat(scim, organization):
    # given: the request, made at the small and then at the large size
    def action(member: Member, _tag: str) -> Callable[[], int]:
        return lambda: scim.get(f"/Users/{member.scim_id}").status

    # when
    small, large = measure(organization, action, 200)
    # then
    assert small == large


def test_create_user_query_count_is_flat(scim, organization):
    # given: the request, made at the small and then at the large size
    def action(_member: Member, tag: str) -> Callable[[], int]:
        name = f"new.{tag}@contoso.com"
        body = {
            "schemas": [USER, ENTERPRISE],
            "externalId": f"new-{tag}",
            "userName": name,
            "active": True,
            "displayName": f"New {tag}",
            "emails": [{"primary": True, "type": "work", "value": name}],
            "name": {"givenName": "New", "familyName": tag},
        }
        return lambda: scim.post("/Users", body).status

    # when
    small, large = measure(organization, action, 201)
    # then
    assert small == large


def test_patch_user_query_count_is_flat(scim, organization):
    # given: the request, made at the small and then at the large size
    def action(member: Member, tag: str) -> Callable[[], int]:
        body = patch_body(
            {"op": "Replace", "path": "displayName", "value": f"Renamed {tag}"},
            {"op": "Replace", "path": "name.givenName", "value": "Given"},
            {"op": "Replace", "path": "name.familyName", "value": f"Family {tag}"},
            {"op": "Replace", "path": "title", "value": "Engineer"},
            {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "R&D"},
        )
        return lambda: scim.patch(f"/Users/{member.scim_id}", body).status

    # when
    small, large = measure(organization, action, 200)
    # then
    assert small == large


def test_delete_user_query_count_is_flat(scim, organization):
    # given: the request, made at the small and then at the large size
    def action(member: Member, _tag: str) -> Callable[[], int]:
        return lambda: scim.delete(f"/Users/{member.scim_id}").status

    # when
    small, large = measure(organization, action, 204)
    # then
    assert small == large


# --- groups --------------------------------------------------------------------------------------


def measure_group(organization, make_action, expected_status: int) -> tuple[int, int]:
    """Queries of the action on a group of SMALL members, then on a group of LARGE members."""
    pool = seed_members(organization, LARGE + SMALL + 40, "pool")
    small_group = seed_group(organization, "Small group", pool[:SMALL])
    large_group = seed_group(organization, "Large group", pool[SMALL : SMALL + LARGE])
    outsiders = pool[SMALL + LARGE :]
    counts = []
    for group, start in ((small_group, 0), (large_group, 20)):
        warm = make_action(group, outsiders[start : start + 10])
        assert warm() == expected_status
        action = make_action(group, outsiders[start + 10 : start + 20])
        counts.append(count_queries(action, expected_status))
    return counts[0], counts[1]


def test_patch_group_add_members_query_count_is_flat(scim, organization):
    # given: the request, made at the small and then at the large size
    def action(group: Group, newcomers: list[Member]) -> Callable[[], int]:
        body = patch_body(
            {
                "op": "Add",
                "path": "members",
                "value": [{"value": str(member.scim_id)} for member in newcomers],
            }
        )
        return lambda: scim.patch(f"/Groups/{group.scim_id}", body).status

    # when
    small, large = measure_group(organization, action, 204)
    # then
    assert small == large


def test_get_group_excluding_members_query_count_is_flat(scim, organization):
    # given: the request, made at the small and then at the large size
    def action(group: Group, _newcomers: list[Member]) -> Callable[[], int]:
        path = f'/Groups?filter=displayName eq "{group.display_name}"&excludedAttributes=members'
        return lambda: scim.get(path).status

    # when
    small, large = measure_group(organization, action, 200)
    # then
    assert small == large
