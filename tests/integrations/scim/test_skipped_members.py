"""Group writes that name member ids the organization does not have (issue 12, part 2).

Entra ID re-sends the same batch of up to 100 members every cycle; one stale id (a member removed
in the panel, deleted a moment earlier, or never there) must not block the other 99 forever. The
write applies the rest, answers as a normal success, and the provisioning-log entry carries a
warning naming the skipped ids. Replayed over real HTTP (`live_scim`), as Entra sends them.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from accounts.models import Group, GroupMembership, Member
from integrations import log_writer, selectors
from integrations.models import ScimRequest
from tests.factories import MemberFactory, OrganizationFactory
from tests.integrations.scim.conftest import LiveScimClient, ScimResponse
from tests.integrations.scim.test_auth_and_discovery import assert_scim_error

pytestmark = pytest.mark.django_db(transaction=True)

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
# What Entra ID's provisioning service sends (scim-notes §3).
ENTRA = {"User-Agent": "Azure AD SCIM Provisioning"}
# Three ids no member of the organization has ever had.
UNKNOWN = [
    "0b7e4f6a-1d2c-4e3f-8a9b-000000000001",
    "0b7e4f6a-1d2c-4e3f-8a9b-000000000002",
    "0b7e4f6a-1d2c-4e3f-8a9b-000000000003",
]
WARNING_3_UNKNOWN = (
    "Skipped 3 member ids and applied the rest. Not a member of this organization (3): "
    + ", ".join(UNKNOWN)
    + "."
)


@pytest.fixture(autouse=True)
def batched_log(transactional_db, settings):
    """On PostgreSQL the log rows go through the batched writer (its thread, or `logged`'s
    flush), so the warning is checked after the path production takes; SQLite writes at once.

    Whatever is still queued is written before the database is emptied (this fixture depends on
    `transactional_db`, so it is torn down first): a row left for a later test would name an
    organization that no longer exists.
    """
    settings.SCIM_LOG_FLUSH_SECONDS = 0.5  # the production default
    yield
    log_writer.flush()


def logged(response: ScimResponse) -> ScimRequest:
    log_writer.flush()
    return ScimRequest.objects.get(request_id=response.headers["X-Request-Id"])


def known_members(organization, count: int) -> list[str]:
    members = MemberFactory.create_batch(count, organization=organization)
    return [str(member.scim_id) for member in members]


def references(ids: list[str]) -> list[dict[str, str]]:
    return [{"value": member_id} for member_id in ids]


def entra_add(ids: list[str]) -> dict[str, Any]:
    """Entra's membership PATCH without aadOptscim062020 (scim-notes §4.14)."""
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Add", "path": "members", "value": references(ids)}],
    }


def new_group(live_scim: LiveScimClient, name: str = "Sales") -> str:
    response = live_scim.post("/Groups", {"schemas": [GROUP], "displayName": name}, headers=ENTRA)
    assert response.status == 201, response.body
    return str(response.body["id"])


def group_member_ids(group_id: str) -> set[str]:
    return {
        str(scim_id)
        for scim_id in GroupMembership.objects.filter(group__scim_id=group_id).values_list(
            "member__scim_id", flat=True
        )
    }


# --- PATCH ---------------------------------------------------------------------------------------


def test_entra_patch_of_100_members_with_3_unknown_adds_97_and_answers_204(live_scim):
    # given: 97 members and a group; the batch lists 3 ids among them the organization lacks
    group_id = new_group(live_scim)
    known = known_members(live_scim.organization, 97)
    batch = known[:40] + UNKNOWN[:1] + known[40:80] + UNKNOWN[1:] + known[80:]
    assert len(batch) == 100
    # when
    response = live_scim.patch(f"/Groups/{group_id}", entra_add(batch), headers=ENTRA)
    # then: a normal success, the 97 are members, and the entry warns about the 3
    assert (response.status, response.raw) == (204, b"")
    assert group_member_ids(group_id) == set(known)
    entry = logged(response)
    assert (entry.status_code, entry.outcome) == (204, "Added 97 members to group Sales")
    assert entry.warning == WARNING_3_UNKNOWN
    # and: the same batch next cycle changes nothing, succeeds again and warns again
    again = live_scim.patch(f"/Groups/{group_id}", entra_add(batch), headers=ENTRA)
    assert again.status == 204
    assert logged(again).warning == WARNING_3_UNKNOWN
    assert len(group_member_ids(group_id)) == 97


def test_patch_asking_for_the_group_answers_200_with_the_97_members(live_scim):
    # given
    group_id = new_group(live_scim)
    known = known_members(live_scim.organization, 97)
    # when: the client asks for attributes back, so the answer is the group (RFC 7644 §3.5.2)
    response = live_scim.patch(
        f"/Groups/{group_id}?attributes=displayName,members",
        entra_add([*UNKNOWN, *known]),
        headers=ENTRA,
    )
    # then
    assert response.status == 200, response.body
    assert response.body["displayName"] == "Sales"
    assert {member["value"] for member in response.body["members"]} == set(known)
    assert not set(UNKNOWN) & {member["value"] for member in response.body["members"]}
    assert logged(response).warning == WARNING_3_UNKNOWN


def test_warning_names_removed_members_apart_and_is_not_an_error(live_scim):
    # given: a member removed from the organization a moment earlier, and one never there
    group_id = new_group(live_scim)
    keep, removed = known_members(live_scim.organization, 2)
    assert live_scim.delete(f"/Users/{removed}").status == 204
    # when
    response = live_scim.patch(
        f"/Groups/{group_id}", entra_add([keep, removed, UNKNOWN[0]]), headers=ENTRA
    )
    # then
    assert response.status == 204
    assert group_member_ids(group_id) == {keep}
    entry = logged(response)
    assert entry.warning == (
        "Skipped 2 member ids and applied the rest. "
        f"Not a member of this organization (1): {UNKNOWN[0]}; "
        f"Removed from this organization (1): {removed}."
    )
    # and: the dashboard lists it as a problem, the error rate does not count it
    assert entry in selectors.recent_provisioning_problems(live_scim.organization)
    assert selectors.connection_status(live_scim.organization).errors_24h == 0


def test_a_write_that_skips_nothing_has_no_warning(live_scim):
    group_id = new_group(live_scim)
    known = known_members(live_scim.organization, 3)
    response = live_scim.patch(f"/Groups/{group_id}", entra_add(known), headers=ENTRA)
    assert response.status == 204
    assert logged(response).warning == ""


def test_a_long_list_of_skipped_ids_is_counted_past_the_first_hundred(live_scim):
    # given: an Okta-style full replace naming 150 ids the organization lacks
    group_id = new_group(live_scim)
    strangers = [str(uuid.UUID(int=n + 1)) for n in range(150)]
    body = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "members", "value": references(strangers)}],
    }
    # when
    response = live_scim.patch(f"/Groups/{group_id}", body)
    # then
    assert response.status == 204
    warning = logged(response).warning
    assert warning.startswith(
        "Skipped 150 member ids and applied the rest. Not a member of this organization (150): "
    )
    assert warning.endswith(f"{strangers[99]} and 50 more.")
    assert strangers[100] not in warning


# --- POST and PUT ------------------------------------------------------------------------------


def test_post_of_a_group_with_100_members_3_unknown_creates_it_with_97(live_scim):
    # given
    known = known_members(live_scim.organization, 97)
    # when
    response = live_scim.post(
        "/Groups",
        {"schemas": [GROUP], "displayName": "Sales", "members": references([*known, *UNKNOWN])},
        headers=ENTRA,
    )
    # then
    assert response.status == 201, response.body
    assert {member["value"] for member in response.body["members"]} == set(known)
    entry = logged(response)
    assert (entry.outcome, entry.warning) == ("Created group Sales", WARNING_3_UNKNOWN)


def test_put_of_a_group_with_100_members_3_unknown_replaces_them_with_97(live_scim):
    # given: a group with a member the PUT leaves out
    group_id = new_group(live_scim)
    leaving, *known = known_members(live_scim.organization, 98)
    assert live_scim.patch(f"/Groups/{group_id}", entra_add([leaving])).status == 204
    # when
    response = live_scim.put(
        f"/Groups/{group_id}",
        {"schemas": [GROUP], "displayName": "Sales", "members": references([*UNKNOWN, *known])},
        headers=ENTRA,
    )
    # then
    assert response.status == 200, response.body
    assert {member["value"] for member in response.body["members"]} == set(known)
    assert group_member_ids(group_id) == set(known)
    entry = logged(response)
    assert (entry.status_code, entry.warning) == (200, WARNING_3_UNKNOWN)


# --- Another organization's ids ------------------------------------------------------------------


TIMESTAMP = re.compile(rb'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)"')


def comparable(response: ScimResponse, *, placeholders: dict[str, str]) -> tuple[Any, ...]:
    """Status, body bytes and headers with ids, names, versions and timestamps blanked."""
    raw = TIMESTAMP.sub(b'"<time>"', response.raw)
    for value, placeholder in placeholders.items():
        raw = raw.replace(value.encode(), placeholder.encode())
    raw = re.sub(rb'W/\\"\d+\\"', b"<version>", raw)
    headers = {
        name.lower(): re.sub(r'W/"\d+"', "<version>", value)
        for name, value in response.headers.items()
        if name.lower() not in ("date", "x-request-id")
    }
    for name, value in headers.items():
        for original, placeholder in placeholders.items():
            headers[name] = value = value.replace(original, placeholder)
    return response.status, raw, sorted(headers.items())


@pytest.mark.parametrize("attributes", ["", "?excludedAttributes=members"])
def test_another_organizations_member_id_is_skipped_exactly_like_an_unknown_one(
    live_scim, attributes
):
    # given: a member of another organization, and one of this organization's own
    theirs = str(MemberFactory(organization=OrganizationFactory()).scim_id)
    unknown = str(uuid.uuid4())
    mine = known_members(live_scim.organization, 1)[0]
    group_id = new_group(live_scim)
    # when: the same PATCH names their member, then (after a reset) an id nobody has
    with_theirs = live_scim.patch(
        f"/Groups/{group_id}{attributes}", entra_add([mine, theirs]), headers=ENTRA
    )
    reset = {"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "members"}]}
    assert live_scim.patch(f"/Groups/{group_id}", reset).status == 204
    with_unknown = live_scim.patch(
        f"/Groups/{group_id}{attributes}", entra_add([mine, unknown]), headers=ENTRA
    )
    # then: the same answer, byte for byte apart from the id, versions and timestamps
    assert with_theirs.status == (204 if not attributes else 200)
    assert comparable(with_theirs, placeholders={theirs: "<id>"}) == comparable(
        with_unknown, placeholders={unknown: "<id>"}
    )
    # and: never linked; the warnings read alike too
    assert group_member_ids(group_id) == {mine}
    assert not GroupMembership.objects.filter(member__scim_id=theirs).exists()
    assert logged(with_theirs).warning.replace(theirs, "<id>") == logged(
        with_unknown
    ).warning.replace(unknown, "<id>")


def test_post_naming_another_organizations_member_answers_like_an_unknown_id(live_scim):
    # given
    theirs = str(MemberFactory(organization=OrganizationFactory()).scim_id)
    unknown = str(uuid.uuid4())
    mine = known_members(live_scim.organization, 1)[0]
    # when
    responses = [
        live_scim.post(
            "/Groups",
            {"schemas": [GROUP], "displayName": name, "members": references([mine, stranger])},
            headers=ENTRA,
        )
        for name, stranger in (("Team A", theirs), ("Team B", unknown))
    ]
    # then
    first, second = responses
    assert (first.status, second.status) == (201, 201)
    assert comparable(
        first, placeholders={first.body["id"]: "<group>", "Team A": "<name>"}
    ) == comparable(second, placeholders={second.body["id"]: "<group>", "Team B": "<name>"})
    assert not GroupMembership.objects.filter(member__scim_id=theirs).exists()


# --- Still refused: values that are not member references ------------------------------------


@pytest.mark.parametrize(
    "member",
    [
        {"display": "Someone"},  # an object without "value"
        {"value": 12345},  # a number, not an id
        {"value": None},
        12345,
    ],
)
def test_a_member_that_is_not_a_reference_is_still_400_invalid_value(live_scim, member):
    # given
    group_id = new_group(live_scim)
    known = known_members(live_scim.organization, 2)
    patch_body = {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "Add", "path": "members", "value": [*references(known), member]},
        ],
    }
    # when
    responses = [
        live_scim.patch(f"/Groups/{group_id}", patch_body, headers=ENTRA),
        live_scim.post(
            "/Groups",
            {"schemas": [GROUP], "displayName": "New", "members": [*references(known), member]},
        ),
        live_scim.put(
            f"/Groups/{group_id}",
            {"schemas": [GROUP], "displayName": "Sales", "members": [member]},
        ),
    ]
    # then: each refused, nothing applied, nothing logged as a warning
    for response in responses:
        assert_scim_error(response, 400, "invalidValue")
        assert logged(response).warning == ""
    assert GroupMembership.objects.count() == 0
    assert list(Group.objects.values_list("display_name", flat=True)) == ["Sales"]
    assert Member.objects.count() == 2
