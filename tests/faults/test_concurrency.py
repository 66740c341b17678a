"""Concurrent requests from the identity provider against gunicorn over real HTTP: the same
userName created 50 times at once, and many group PATCHes racing on one group.

On SQLite writes are serialized by IMMEDIATE transactions (settings.py), so these tests show the
outcome is right there too; CI's second run repeats them on PostgreSQL, where requests really run
in parallel and only the database constraints and row locks keep the data consistent.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from accounts.models import GroupMembership, Invitation, Member
from tests.factories import GroupFactory, MemberFactory, OwnerFactory
from tests.faults.servers import (
    LiveApp,
    Response,
    app_environment,
    entra_user,
    group_patch,
    gunicorn,
)

CONCURRENCY = 50


@pytest.fixture(scope="module")
def app(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[LiveApp]:
    # Threads enough for all 50 requests to be in the server at once.
    workdir = tmp_path_factory.mktemp("concurrency")
    with django_db_blocker.unblock():
        env = app_environment(workdir)
    with gunicorn(env, workdir / "gunicorn.log", workers=2, threads=CONCURRENCY // 2) as live:
        yield live


def all_at_once(calls: list) -> list[Response]:
    """Run the calls in as many threads, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call) -> Response:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls, timeout=120))


def test_fifty_concurrent_creates_of_one_user_name_make_one_member(app, tenant):
    # given
    scim = app.scim(tenant.tenant_id, tenant.token)
    body = entra_user("dana@contoso.com")

    # when: Entra ID's create arrives 50 times at the same moment
    responses = all_at_once([lambda: scim.request("POST", "/Users", body)] * CONCURRENCY)

    # then: one 201, 49 uniqueness conflicts, one member, one invitation
    statuses = Counter(r.status for r in responses)
    assert statuses == {201: 1, 409: CONCURRENCY - 1}, app.output()
    conflicts = [r.body for r in responses if r.status == 409]
    assert all(c["scimType"] == "uniqueness" for c in conflicts)
    created = next(r.body for r in responses if r.status == 201)
    member = Member.objects.get(organization=tenant.organization, user_name="dana@contoso.com")
    assert str(member.scim_id) == created["id"]
    assert Invitation.objects.filter(member=member).count() == 1


def test_concurrent_group_patches_adding_different_members_lose_no_update(app, tenant):
    # given: a group with 5 members, and 30 people not in it yet
    group = GroupFactory(organization=tenant.organization, display_name="Engineering")
    before = MemberFactory.create_batch(5, organization=tenant.organization)
    for member in before:
        GroupMembership.objects.create(group=group, member=member)
    newcomers = MemberFactory.create_batch(30, organization=tenant.organization)
    scim = app.scim(tenant.tenant_id, tenant.token)
    path = f"/Groups/{group.scim_id}"

    # when: one PATCH per newcomer (as Entra ID sends them), and two removing old members, at once
    calls = [
        (lambda pk=str(m.scim_id): scim.request("PATCH", path, group_patch("Add", [pk])))
        for m in newcomers
    ] + [
        (lambda pk=str(m.scim_id): scim.request("PATCH", path, group_patch("Remove", [pk])))
        for m in before[:2]
    ]
    responses = all_at_once(calls)

    # then: every change is there, none overwritten by another
    assert {r.status for r in responses} <= {200, 204}, [(r.status, r.body) for r in responses]
    expected = {m.pk for m in newcomers} | {m.pk for m in before[2:]}
    assert set(GroupMembership.objects.filter(group=group).values_list("member_id", flat=True)) == (
        expected
    )
    listed = scim.request("GET", path)
    assert listed.status == 200
    assert {m["value"] for m in listed.body["members"]} == {
        str(m.scim_id) for m in Member.objects.filter(pk__in=expected)
    }


def test_owners_suspended_and_removed_all_at_once_always_leave_one_active_owner(app, tenant):
    # given: three active owners (the tenant's own and two more) and a token
    owners = [
        Member.objects.get(organization=tenant.organization, role=Member.Role.OWNER),
        *OwnerFactory.create_batch(2, organization=tenant.organization),
    ]
    scim = app.scim(tenant.tenant_id, tenant.token)
    suspend = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
    }
    calls = [
        *(lambda o=o: scim.request("PATCH", f"/Users/{o.scim_id}", suspend) for o in owners),
        *(lambda o=o: scim.request("DELETE", f"/Users/{o.scim_id}") for o in owners),
    ]

    # when: the identity provider suspends and deletes every owner in the same instant
    responses = all_at_once(calls)

    # then: each request either succeeded or was refused as the last owner's, and exactly one
    # owner is still active (on PostgreSQL the requests really ran in parallel)
    statuses = Counter(r.status for r in responses)
    # (a PATCH that arrives after its owner was deleted finds no such user: 404)
    assert set(statuses) <= {200, 204, 400, 404}, (statuses, app.output())
    refused = [r.body for r in responses if r.status == 400]
    assert refused and all(body["scimType"] == "mutability" for body in refused)
    assert all("is the last owner of this organization" in body["detail"] for body in refused)
    active = Member.objects.filter(
        organization=tenant.organization, role=Member.Role.OWNER, status=Member.Status.ACTIVE
    )
    assert active.count() == 1
