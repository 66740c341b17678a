"""The mass-deprovisioning guard: black-box SCIM requests and the panel's decisions."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import close_old_connections, connection
from django.utils import timezone

from accounts.models import AuditLogEntry, Member, Organization
from integrations import deprovision_guard
from integrations.deprovision_guard import GuardPolicy
from integrations.models import DeprovisionHold, HeldDeprovisioning, ScimRequest
from integrations.scim.errors import ERROR_SCHEMA
from tests.conftest import signed_in_client
from tests.factories import (
    ActiveMemberFactory,
    AdminFactory,
    MemberFactory,
    OrganizationFactory,
    OwnerFactory,
)
from tests.integrations.scim.conftest import ScimClient, scim_client_for

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
HELD = "Held by the mass-deprovisioning guard: "
ENTRA_AGENT = "Microsoft.Identity.Provisioning"


def deactivate_body(value: object = False) -> dict[str, object]:
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "active", "value": value}],
    }


def staff(organization: Organization, count: int) -> list[Member]:
    """`count` active members provisioned by the identity provider."""
    return MemberFactory.create_batch(
        count,
        organization=organization,
        status=Member.Status.ACTIVE,
        source=Member.Source.IDENTITY_PROVIDER,
    )


def deactivate(scim: ScimClient, member: Member, value: object = False):
    return scim.patch(f"/Users/{member.scim_id}", deactivate_body(value))


def statuses(members: list[Member]) -> list[str]:
    return [Member.objects.get(pk=m.pk).status for m in members]


@pytest.fixture
def guard(settings):
    """The defaults, stated, so a changed default does not silently change these tests."""
    settings.DEPROVISION_GUARD_SHARE = 0.2
    settings.DEPROVISION_GUARD_MIN_MEMBERS = 10
    settings.DEPROVISION_GUARD_WINDOW_SECONDS = 3600
    return settings


@pytest.fixture
def org(db) -> Organization:
    return OrganizationFactory(name="Contoso", slug="contoso")


@pytest.fixture
def entra(org) -> ScimClient:
    return scim_client_for(org, user_agent=ENTRA_AGENT)


def trip(scim: ScimClient, members: list[Member], allowed: int) -> Member:
    """Deactivate `allowed` members (all applied), then one more: the one held."""
    for member in members[:allowed]:
        assert deactivate(scim, member).status == 200
    held = members[allowed]
    assert deactivate(scim, held).status == 429
    return held


# --- The limit ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("share", "minimum", "members", "limit"),
    [
        ("0.2", 10, 100, 20),
        ("0.2", 10, 30, 10),  # a small organization: the minimum applies
        ("0.2", 10, 52, 10),  # 10.4 rounds down: 11 would be more than 20%
        ("0.2", 10, 55, 11),
        ("0.29", 0, 100, 29),  # no floating-point 28.999…
        ("0.5", 3, 4, 3),
    ],
)
def test_limit_is_the_share_rounded_down_and_never_below_the_minimum(
    share, minimum, members, limit
):
    policy = GuardPolicy(share=Decimal(share), min_members=minimum, window_seconds=3600)
    assert policy.limit(members) == limit


def test_small_organization_may_lose_the_minimum_and_no_more(guard, org, entra):
    # given: 15 members, 20% of which is 3, so the minimum of 10 applies
    members = staff(org, 15)

    # when
    held = trip(entra, members, allowed=10)

    # then
    assert statuses(members[:10]) == [Member.Status.SUSPENDED] * 10
    assert statuses([held]) == [Member.Status.ACTIVE]


def test_exactly_the_share_is_applied_and_the_next_one_is_held(guard, org, entra):
    # given: 25 members and a minimum of 2: 20% is exactly 5
    guard.DEPROVISION_GUARD_MIN_MEMBERS = 2
    members = staff(org, 25)

    # when / then: the 5th (exactly 20%) is applied, the 6th is held
    held = trip(entra, members, allowed=5)
    assert statuses(members[:5]) == [Member.Status.SUSPENDED] * 5
    assert statuses([held]) == [Member.Status.ACTIVE]
    assert DeprovisionHold.objects.get(organization=org).limit == 5


def test_members_deprovisioned_in_the_window_still_count_toward_the_base(guard, org, entra):
    # given: 25 members, 5 of them suspended by the identity provider in this window
    guard.DEPROVISION_GUARD_MIN_MEMBERS = 2
    members = staff(org, 25)
    for member in members[:5]:
        assert deactivate(entra, member).status == 200

    # when
    count = deprovision_guard.window_count(org, policy=GuardPolicy.from_settings())

    # then: 25 members when the window started, not the 20 left active
    assert (count.members, count.deprovisioned, count.limit) == (25, 5, 5)


def test_the_window_slides(guard, org, entra):
    # given: the limit was used up more than an hour ago
    guard.DEPROVISION_GUARD_MIN_MEMBERS = 2
    members = staff(org, 25)
    for member in members[:5]:
        assert deactivate(entra, member).status == 200
    AuditLogEntry.objects.filter(organization=org).update(
        created_at=timezone.now() - timedelta(seconds=3601)
    )

    # when / then
    assert deactivate(entra, members[5]).status == 200


def test_guard_with_share_zero_is_off(guard, org, entra):
    guard.DEPROVISION_GUARD_SHARE = 0
    members = staff(org, 20)

    responses = [deactivate(entra, member).status for member in members[:15]]

    assert responses == [200] * 15
    assert not DeprovisionHold.objects.exists()


def test_panel_changes_do_not_count(guard, org, entra):
    # given: an admin suspended 12 members in the panel
    from accounts.audit import Actor
    from accounts.services import member_set_active

    members = staff(org, 30)
    admin = AdminFactory(organization=org)
    for member in members[:12]:
        member_set_active(member=member, active=False, actor=Actor.for_user(admin.user))

    # when / then: the identity provider still has its 10
    trip(entra, members[12:], allowed=10)


# --- Holding -------------------------------------------------------------------------------------


def test_held_request_gets_429_with_retry_after_and_a_scim_error(guard, org, entra):
    # given
    members = staff(org, 15)
    for member in members[:10]:
        deactivate(entra, member)

    # when: Entra's string "False"
    response = deactivate(entra, members[10], value="False")

    # then
    assert response.status == 429
    assert response.headers["Retry-After"] == "3600"
    assert response.headers["Content-Type"].startswith("application/scim+json")
    assert response.body == {
        "schemas": [ERROR_SCHEMA],
        "status": "429",
        "detail": response.body["detail"],
    }
    assert response.body["detail"].startswith(HELD)
    assert "10 of about 15 active members within 60 minutes" in response.body["detail"]
    assert statuses([members[10]]) == [Member.Status.ACTIVE]
    logged = ScimRequest.objects.filter(organization=org, status_code=429).get()
    assert logged.outcome.startswith(f"Rejected: {HELD}")
    assert logged.resource_id == str(members[10].scim_id)


def test_put_and_delete_are_held_too_and_nothing_of_the_put_is_applied(guard, org, entra):
    # given: the guard is holding
    members = staff(org, 15)
    trip(entra, members, allowed=10)
    target = members[11]

    # when: a PUT that renames and deactivates, and a DELETE
    put = entra.put(
        f"/Users/{target.scim_id}",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": target.user_name,
            "displayName": "Renamed",
            "active": False,
        },
    )
    delete = entra.delete(f"/Users/{members[12].scim_id}")

    # then
    assert (put.status, delete.status) == (429, 429)
    assert put.body["detail"].startswith(HELD) and delete.body["detail"].startswith(HELD)
    target.refresh_from_db()
    assert (target.status, target.display_name) == (Member.Status.ACTIVE, "")
    assert statuses([members[12]]) == [Member.Status.ACTIVE]
    actions = dict(HeldDeprovisioning.objects.values_list("member_id", "action"))
    assert actions == {
        members[10].pk: "suspend",
        target.pk: "suspend",
        members[12].pk: "remove",
    }


def test_a_member_asked_again_is_recorded_once(guard, org, entra):
    # given
    members = staff(org, 15)
    held = trip(entra, members, allowed=10)

    # when: Entra retries, then deletes
    assert deactivate(entra, held, value="False").status == 429
    assert entra.delete(f"/Users/{held.scim_id}").status == 429

    # then
    change = HeldDeprovisioning.objects.get()
    assert (change.member_id, change.request_count, change.action) == (held.pk, 3, "remove")
    assert change.last_requested_at > change.first_requested_at
    assert DeprovisionHold.objects.count() == 1


def test_reactivations_and_updates_are_never_held(guard, org, entra):
    # given: holding, with one member suspended before
    members = staff(org, 15)
    trip(entra, members, allowed=10)

    # when
    reactivated = deactivate(entra, members[0], value=True)
    renamed = entra.patch(
        f"/Users/{members[11].scim_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "displayName", "value": "New name"}],
        },
    )
    created = entra.post(
        "/Users",
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "new@contoso.test"},
    )

    # then
    assert (reactivated.status, renamed.status, created.status) == (200, 200, 201)
    assert reactivated.body["active"] is True
    assert renamed.body["displayName"] == "New name"


def test_a_reactivation_withdraws_the_held_change_and_a_new_request_holds_it_again(
    guard, org, entra
):
    # given: a held suspension and a held removal
    admin = AdminFactory(organization=org)
    members = staff(org, 15)
    held = trip(entra, members, allowed=10)
    assert entra.delete(f"/Users/{members[11].scim_id}").status == 429

    # when: the identity provider now says the first is active after all (back in scope)
    assert deactivate(entra, held, value="True").status == 200

    # then: withdrawn, and applying the hold leaves that member alone
    change = HeldDeprovisioning.objects.get(member=held)
    assert change.resolution == HeldDeprovisioning.Resolution.SKIPPED
    hold = DeprovisionHold.objects.get()
    client = signed_in_client(admin)
    client.post(f"/integrations/deprovision-guard/{hold.pk}/apply/", {"confirm": "on"})
    assert statuses([held, members[11]]) == [Member.Status.ACTIVE, Member.Status.DELETED]


def test_a_withdrawn_change_asked_for_again_waits_for_a_decision_again(guard, org, entra):
    members = staff(org, 15)
    held = trip(entra, members, allowed=10)
    assert deactivate(entra, held, value=True).status == 200
    # when: out of scope again
    assert deactivate(entra, held).status == 429
    # then
    change = HeldDeprovisioning.objects.get(member=held)
    assert (change.resolution, change.request_count) == (
        HeldDeprovisioning.Resolution.PENDING,
        2,
    )


def test_removing_an_already_suspended_member_is_not_held(guard, org, entra):
    # given: holding; members[0] was suspended before it tripped
    members = staff(org, 15)
    trip(entra, members, allowed=10)

    # when / then: they had no access already
    assert entra.delete(f"/Users/{members[0].scim_id}").status == 204
    assert statuses([members[0]]) == [Member.Status.DELETED]


def test_other_organizations_are_not_affected(guard, org, entra):
    trip(entra, staff(org, 15), allowed=10)
    other = OrganizationFactory()
    other_members = staff(other, 15)

    assert deactivate(scim_client_for(other), other_members[0]).status == 200


# --- Telling owners and admins -------------------------------------------------------------------


def test_owners_and_admins_are_emailed_once_per_hold(
    guard, org, entra, django_capture_on_commit_callbacks, settings
):
    # given: an owner, an admin, a plain member, and a suspended admin
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    owner = OwnerFactory(organization=org, email="owner@contoso.test")
    AdminFactory(organization=org, email="admin@contoso.test")
    ActiveMemberFactory(organization=org, email="someone@contoso.test")
    AdminFactory(organization=org, email="gone@contoso.test", status=Member.Status.SUSPENDED)
    members = staff(org, 12)
    for member in members[:10]:
        deactivate(entra, member)

    # when: three held requests
    with django_capture_on_commit_callbacks() as callbacks:
        for member in members[10:]:
            assert deactivate(entra, member).status == 429
        assert deactivate(entra, members[10]).status == 429
    hold = DeprovisionHold.objects.get()

    # then: one email task for the hold...
    assert len(callbacks) == 1
    # ...which sends once, however often it is delivered
    assert deprovision_guard.deprovision_hold_notify(hold.pk) == "sent"
    assert deprovision_guard.deprovision_hold_notify(hold.pk) == "skipped"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == ["admin@contoso.test", "owner@contoso.test"]
    assert "Contoso" in message.subject and "held" in message.subject
    url = f"{settings.SITE_URL}/integrations/deprovision-guard/{hold.pk}/"
    assert url in message.body
    assert members[10].user_name in message.body
    html = message.alternatives[0][0]
    assert url in html and members[11].user_name in html
    hold.refresh_from_db()
    assert hold.notification == DeprovisionHold.Notification.SENT
    assert AuditLogEntry.objects.filter(
        organization=org, action="deprovision_guard.held", actor_label="Microsoft Entra ID"
    ).exists()
    assert owner.pk  # the owner is a recipient, not a target


def test_dashboard_and_integrations_page_show_the_banner(guard, org, entra):
    owner = OwnerFactory(organization=org)
    client = signed_in_client(owner)
    assert "Deprovisioning is on hold" not in client.get("/").content.decode()

    trip(entra, staff(org, 12), allowed=10)

    for path in ("/", "/integrations/"):
        html = client.get(path).content.decode()
        assert 'data-testid="deprovision-guard-banner"' in html, path
        assert "Deprovisioning is on hold" in html
        hold = DeprovisionHold.objects.get()
        assert f'href="/integrations/deprovision-guard/{hold.pk}/"' in html


# --- The admin's decision -----------------------------------------------------------------------


def test_admin_applies_held_changes(guard, org, entra):
    # given: holding two members
    admin = AdminFactory(organization=org)
    client = signed_in_client(admin)
    members = staff(org, 15)
    trip(entra, members, allowed=10)
    assert deactivate(entra, members[11]).status == 429
    hold = DeprovisionHold.objects.get()
    page = client.get(f"/integrations/deprovision-guard/{hold.pk}/").content.decode()
    assert members[10].label in page and members[11].user_name in page

    # when: without ticking the confirmation, nothing happens
    url = f"/integrations/deprovision-guard/{hold.pk}/apply/"
    assert client.get(url).status_code == 200
    assert client.post(url, {}).status_code == 200
    assert statuses(members[10:12]) == [Member.Status.ACTIVE] * 2

    # when: confirmed
    response = client.post(url, {"confirm": "on"})

    # then
    assert response.status_code == 302
    assert statuses(members[10:12]) == [Member.Status.SUSPENDED] * 2
    hold.refresh_from_db()
    assert (hold.state, hold.decided_by_id) == (DeprovisionHold.State.APPLIED, admin.user_id)
    suspended_by_admin = AuditLogEntry.objects.filter(
        organization=org, action="member.suspended", actor_user=admin.user
    )
    assert suspended_by_admin.count() == 2
    assert AuditLogEntry.objects.filter(action="deprovision_guard.applied").count() == 1
    # and: applying twice does nothing more
    client.post(url, {"confirm": "on"})
    assert AuditLogEntry.objects.filter(action="deprovision_guard.applied").count() == 1
    # and: the guard re-armed, with a new window from the decision
    assert deactivate(entra, members[12]).status == 200


def test_admin_keeps_members_active_and_the_retries_stay_refused(guard, org, entra):
    # given
    owner = OwnerFactory(organization=org)
    client = signed_in_client(owner)
    members = staff(org, 15)
    held = trip(entra, members, allowed=10)
    hold = DeprovisionHold.objects.get()
    confirm = client.get(f"/integrations/deprovision-guard/{hold.pk}/keep/").content.decode()
    assert "fix the assignment or scoping" in confirm

    # when
    response = client.post(f"/integrations/deprovision-guard/{hold.pk}/keep/", {"confirm": "on"})

    # then
    assert response.status_code == 302
    hold.refresh_from_db()
    assert hold.state == DeprovisionHold.State.KEPT
    assert hold.keep_until > timezone.now() + timedelta(hours=23)
    assert statuses([held]) == [Member.Status.ACTIVE]
    page = client.get(f"/integrations/deprovision-guard/{hold.pk}/").content.decode()
    assert "keeps retrying until its assignment scope is fixed" in page

    # and: Entra's retry for the kept member is still refused, and counted on its row
    retry = deactivate(entra, held)
    assert retry.status == 429
    assert "keep this member active until" in retry.body["detail"]
    assert HeldDeprovisioning.objects.get(member=held).request_count == 2
    # and: the guard re-armed for everyone else
    assert deactivate(entra, members[11]).status == 200

    # when: the admin stops keeping them active
    client.post(f"/integrations/deprovision-guard/{hold.pk}/resume/", {"confirm": "on"})

    # then
    hold.refresh_from_db()
    assert hold.state == DeprovisionHold.State.RESUMED
    assert deactivate(entra, held).status == 200


def test_keep_ends_after_its_period(guard, org, entra):
    members = staff(org, 15)
    held = trip(entra, members, allowed=10)
    hold = DeprovisionHold.objects.get()
    owner = OwnerFactory(organization=org)
    signed_in_client(owner).post(
        f"/integrations/deprovision-guard/{hold.pk}/keep/", {"confirm": "on"}
    )
    DeprovisionHold.objects.filter(pk=hold.pk).update(
        keep_until=timezone.now() - timedelta(seconds=1)
    )

    assert deactivate(entra, held).status == 200


def test_plain_members_cannot_decide(guard, org, entra):
    trip(entra, staff(org, 12), allowed=10)
    hold = DeprovisionHold.objects.get()
    client = signed_in_client(ActiveMemberFactory(organization=org))

    for path in ("", "apply/", "keep/"):
        url = f"/integrations/deprovision-guard/{hold.pk}/{path}"
        assert client.get(url).status_code == 403
    assert (
        client.post(
            f"/integrations/deprovision-guard/{hold.pk}/apply/", {"confirm": "on"}
        ).status_code
        == 403
    )
    assert client.get("/integrations/deprovision-guard/").status_code == 403
    assert DeprovisionHold.objects.get().state == DeprovisionHold.State.HOLDING


def test_another_organizations_admin_gets_404(guard, org, entra):
    members = staff(org, 12)
    trip(entra, members, allowed=10)
    hold = DeprovisionHold.objects.get()
    client = signed_in_client(OwnerFactory())

    for path in ("", "apply/", "keep/"):
        assert client.get(f"/integrations/deprovision-guard/{hold.pk}/{path}").status_code == 404
    response = client.post(f"/integrations/deprovision-guard/{hold.pk}/apply/", {"confirm": "on"})
    assert response.status_code == 404
    assert statuses([members[10]]) == [Member.Status.ACTIVE]
    assert "Deprovisioning is on hold" not in client.get("/integrations/").content.decode()


def test_overview_page_shows_the_rule_and_the_holds(guard, org, entra):
    owner = OwnerFactory(organization=org)
    trip(entra, staff(org, 12), allowed=10)

    html = signed_in_client(owner).get("/integrations/deprovision-guard/").content.decode()

    # 13 active as the hour began (12 from Entra and the owner): the minimum of 10 applies
    assert "may suspend or remove up to 10 of your 13 active members per hour." in html
    assert "Waiting for a decision" in html


# --- Concurrency -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_deactivations_never_exceed_the_limit(settings):
    """Twelve identity-provider requests at once, each in its own connection: the row lock on
    the organization admits them one at a time, so exactly the limit is applied. On SQLite the
    IMMEDIATE transactions serialise writers the same way."""
    # given: 30 members, a limit of 6
    settings.DEPROVISION_GUARD_SHARE = 0.2
    settings.DEPROVISION_GUARD_MIN_MEMBERS = 2
    settings.DEPROVISION_GUARD_WINDOW_SECONDS = 3600
    org = OrganizationFactory()
    members = staff(org, 30)
    scim = scim_client_for(org)
    targets = members[:12]
    barrier = threading.Barrier(len(targets))
    results: dict[int, int] = {}

    def worker(member: Member) -> None:
        try:
            client = ScimClient(org, scim.token)
            barrier.wait(timeout=30)
            results[member.pk] = deactivate(client, member).status
        finally:
            close_old_connections()
            connection.close()

    # when
    threads = [threading.Thread(target=worker, args=(member,)) for member in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # then
    assert sorted(results.values()) == [200] * 6 + [429] * 6
    assert statuses(targets).count(Member.Status.SUSPENDED) == 6
    assert HeldDeprovisioning.objects.count() == 6
    assert DeprovisionHold.objects.count() == 1
