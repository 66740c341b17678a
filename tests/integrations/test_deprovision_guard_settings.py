"""The mass-deprovisioning guard's settings are each organization's own: thresholds, off, the
keep-active duration, who may change them and what the panel says; and the sweep that recovers
a hold notice a crashed worker left in "sending"."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.apps import apps as django_apps
from django.utils import timezone

from accounts.audit import Actor
from accounts.models import AuditLogEntry, Member, Organization
from accounts.services import organization_create
from integrations import deprovision_guard
from integrations.models import DeprovisionGuardPolicy, DeprovisionHold, HeldDeprovisioning
from integrations.tasks import deprovision_hold_sweep, notify_deprovision_hold
from tests.conftest import signed_in_client
from tests.factories import AdminFactory, MemberFactory, OrganizationFactory, OwnerFactory
from tests.integrations.scim.conftest import ScimClient, scim_client_for

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTRA_AGENT = "Microsoft.Identity.Provisioning"
SETTINGS_URL = "/integrations/deprovision-guard/settings/"
GUARD_URL = "/integrations/deprovision-guard/"


def staff(organization: Organization, count: int) -> list[Member]:
    return MemberFactory.create_batch(
        count,
        organization=organization,
        status=Member.Status.ACTIVE,
        source=Member.Source.IDENTITY_PROVIDER,
    )


def deactivate(scim: ScimClient, member: Member) -> int:
    return scim.patch(f"/Users/{member.scim_id}", deactivate_body()).status


def deactivate_body() -> dict[str, object]:
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }


def form_data(**overrides: str) -> dict[str, str]:
    """The settings form as an owner submits it: on, 20%, 10, 1 hour, keep for 24 hours."""
    data = {
        "enabled": "on",
        "share_percent": "20",
        "min_members": "10",
        "window_value": "1",
        "window_unit": "hours",
        "keep_value": "24",
        "keep_unit": "hours",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value != ""}


def set_policy(
    owner: Member,
    *,
    enabled: bool | None = None,
    share_percent: str | None = None,
    min_members: int | None = None,
    window_seconds: int | None = None,
    keep_active_seconds: int | None = None,
) -> None:
    """Change some of the organization's settings through the service, as an owner would."""
    current = deprovision_guard.guard_settings(owner.organization)
    deprovision_guard.deprovision_guard_policy_update(
        organization=owner.organization,
        by=owner,
        enabled=current.enabled if enabled is None else enabled,
        share_percent=Decimal(share_percent) if share_percent else current.share_percent,
        min_members=current.min_members if min_members is None else min_members,
        window_seconds=current.window_seconds if window_seconds is None else window_seconds,
        keep_active_seconds=current.keep_active_seconds
        if keep_active_seconds is None
        else keep_active_seconds,
    )


@pytest.fixture
def guard(settings):
    settings.DEPROVISION_GUARD_SHARE = 0.2
    settings.DEPROVISION_GUARD_MIN_MEMBERS = 10
    settings.DEPROVISION_GUARD_WINDOW_SECONDS = 3600
    return settings


@pytest.fixture
def org(db, guard) -> Organization:
    return OrganizationFactory(name="Contoso", slug="contoso")


@pytest.fixture
def owner(org) -> Member:
    return OwnerFactory(organization=org, email="owner@contoso.test")


@pytest.fixture
def entra(org) -> ScimClient:
    return scim_client_for(org, user_agent=ENTRA_AGENT)


# --- Defaults ------------------------------------------------------------------------------------


def test_a_new_organization_gets_the_deployments_defaults(guard, db):
    # given
    guard.DEPROVISION_GUARD_SHARE = 0.15
    guard.DEPROVISION_GUARD_MIN_MEMBERS = 4
    guard.DEPROVISION_GUARD_WINDOW_SECONDS = 1800

    # when
    organization = organization_create(
        name="Fabrikam",
        owner_email="owner@fabrikam.test",
        owner_password="a-long-and-unusual-passphrase",
        owner_given_name="Ada",
        owner_family_name="Lovelace",
        actor=Actor.system("tests"),
    )

    # then: stored as its own, so a later change of the defaults leaves it alone
    row = DeprovisionGuardPolicy.objects.get(organization=organization)
    assert (row.enabled, row.share_percent, row.min_members, row.window_seconds) == (
        True,
        Decimal("15.00"),
        4,
        1800,
    )
    assert row.keep_active_seconds == 24 * 3600
    guard.DEPROVISION_GUARD_MIN_MEMBERS = 50
    assert deprovision_guard.guard_settings(organization).min_members == 4


@pytest.mark.parametrize(
    ("share", "minimum", "window", "expected"),
    [
        (0.2, 10, 3600, (True, Decimal("20.00"), 10, 3600)),
        (0, 10, 3600, (False, Decimal("20.00"), 10, 3600)),  # off, 20% if turned on
        (0.2, 0, 60, (True, Decimal("20.00"), 1, 300)),  # clamped to what a form allows
        (0.00001, 10, 3600, (False, Decimal("20.00"), 10, 3600)),  # rounds to 0%: off
    ],
)
def test_the_migration_and_a_new_organization_get_the_settings_the_deployment_had(
    guard, db, share, minimum, window, expected
):
    # given: an organization from before the migration (no settings row)
    organization = OrganizationFactory()
    DeprovisionGuardPolicy.objects.filter(organization=organization).delete()
    guard.DEPROVISION_GUARD_SHARE = share
    guard.DEPROVISION_GUARD_MIN_MEMBERS = minimum
    guard.DEPROVISION_GUARD_WINDOW_SECONDS = window
    migration = importlib.import_module("integrations.migrations.0004_deprovision_guard_policy")

    # when
    migration.give_existing_organizations_the_defaults(django_apps, None)
    migration.give_existing_organizations_the_defaults(django_apps, None)  # safe to rerun

    # then: the same values for an organization created now
    row = DeprovisionGuardPolicy.objects.get(organization=organization)
    assert (row.enabled, row.share_percent, row.min_members, row.window_seconds) == expected
    created = deprovision_guard.deprovision_guard_policy_create(organization=OrganizationFactory())
    assert (
        created.enabled,
        created.share_percent,
        created.min_members,
        created.window_seconds,
    ) == expected


# --- Per-organization thresholds ---------------------------------------------------------------


def test_off_means_never_held(org, owner, entra):
    # given: the owner turned the guard off
    set_policy(owner, enabled=False)
    members = staff(org, 20)

    # when: the identity provider suspends all of them
    responses = [deactivate(entra, member) for member in members]

    # then
    assert responses == [200] * 20
    assert not DeprovisionHold.objects.exists()


def test_a_small_organization_with_a_minimum_of_2_holds_the_third(org, owner, entra):
    # given: 1% of 6 is 0, so the minimum of 2 applies
    set_policy(owner, share_percent="1", min_members=2)
    members = staff(org, 5)

    # when
    responses = [deactivate(entra, member) for member in members[:3]]

    # then
    assert responses == [200, 200, 429]
    hold = DeprovisionHold.objects.get()
    assert (hold.limit, hold.live_members) == (2, 6)
    assert Member.objects.get(pk=members[2].pk).status == Member.Status.ACTIVE


def test_other_organizations_keep_their_own_settings(org, owner, entra):
    # given: Contoso lowered its minimum; Fabrikam kept the default of 10
    set_policy(owner, share_percent="1", min_members=2)
    fabrikam = OrganizationFactory(name="Fabrikam", slug="fabrikam")
    fabrikam_entra = scim_client_for(fabrikam, user_agent=ENTRA_AGENT)
    people = staff(fabrikam, 12)

    # when / then
    assert [deactivate(fabrikam_entra, member) for member in people[:10]] == [200] * 10
    assert deactivate(fabrikam_entra, people[10]) == 429
    assert deprovision_guard.guard_settings(fabrikam).min_members == 10


@pytest.mark.parametrize(
    ("window_seconds", "minutes_later", "third"),
    [(600, 11, 200), (3600, 11, 429), (3600, 61, 200)],
)
def test_the_organizations_window_length_is_respected(
    org, owner, entra, window_seconds, minutes_later, third
):
    # given: a minimum of 2 used up at 09:00
    set_policy(owner, share_percent="1", min_members=2, window_seconds=window_seconds)
    members = staff(org, 5)
    start = datetime(2027, 3, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        assert [deactivate(entra, member) for member in members[:2]] == [200, 200]

        # when: the third comes later
        traveller.move_to(start + timedelta(minutes=minutes_later))
        status = deactivate(entra, members[2])

    # then: applied once the window has passed, held within it
    assert status == third


def test_a_lower_minimum_applies_to_the_next_request(org, owner, entra):
    # given: two suspended under the default minimum of 10
    members = staff(org, 6)
    assert [deactivate(entra, member) for member in members[:2]] == [200, 200]

    # when: the owner lowers it to 2
    set_policy(owner, share_percent="1", min_members=2)

    # then
    assert deactivate(entra, members[2]) == 429


def test_a_held_request_is_told_to_retry_after_the_organizations_window(org, owner, entra):
    set_policy(owner, share_percent="1", min_members=1, window_seconds=900)
    members = staff(org, 3)
    assert deactivate(entra, members[0]) == 200

    response = entra.patch(f"/Users/{members[1].scim_id}", deactivate_body())

    assert response.status == 429
    assert response.headers["Retry-After"] == "900"
    assert "within 15 minutes" in response.body["detail"]


# --- The settings page ---------------------------------------------------------------------------


def test_owner_changes_the_settings_and_the_change_is_audited_in_words(org, owner):
    # given
    client = signed_in_client(owner)

    # when
    response = client.post(
        SETTINGS_URL,
        form_data(share_percent="12.5", min_members="3", window_value="30", window_unit="minutes"),
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == GUARD_URL
    row = DeprovisionGuardPolicy.objects.get(organization=org)
    assert (row.share_percent, row.min_members, row.window_seconds) == (Decimal("12.5"), 3, 1800)
    assert (row.changed_by_id, row.changed_by_label) == (owner.user_id, "owner@contoso.test")
    entry = AuditLogEntry.objects.get(action="deprovision_guard.settings_changed")
    assert entry.actor_user_id == owner.user_id
    assert entry.target_label == "Contoso"
    assert entry.before == {
        "share": "20%",
        "minimum per window": "10 members",
        "window": "1 hour",
    }
    assert entry.after == {
        "share": "12.5%",
        "minimum per window": "3 members",
        "window": "30 minutes",
    }
    activity = client.get("/activity/").content.decode()
    assert "Mass-deprovisioning guard settings changed for" in activity
    for words in ("share: 20%", "minimum per window: 10 members", "window: 1 hour"):
        assert words in activity.split("Before:")[1].split("After:")[0], words
    for words in ("share: 12.5%", "minimum per window: 3 members", "window: 30 minutes"):
        assert words in activity.split("After:")[1], words
    guard_page = client.get(GUARD_URL).content.decode()
    assert "Last changed by owner@contoso.test on " in guard_page
    # and: saving the same values again changes and audits nothing
    client.post(
        SETTINGS_URL,
        form_data(share_percent="12.50", min_members="3", window_value="30", window_unit="minutes"),
    )
    assert AuditLogEntry.objects.filter(action__startswith="deprovision_guard.").count() == 1


def test_the_page_says_what_the_numbers_mean_for_this_organization(org, owner):
    # given: 30 active members and a token set up for Entra ID
    from integrations import services

    staff(org, 29)
    services.scim_token_issue(organization=org, actor=Actor.system("tests"), provider="entra-id")
    set_policy(owner, share_percent="10", min_members=2, window_seconds=86400)

    # when
    html = signed_in_client(owner).get(GUARD_URL).content.decode()

    # then
    assert (
        "Microsoft Entra ID may suspend or remove up to 3 of your 30 active members per day."
        in html
    )
    assert 'data-testid="guard-settings-form"' in html
    assert 'value="10"' in html and '<option value="days" selected>' in html


def test_with_fewer_members_than_the_minimum_the_page_says_nothing_can_be_held(org, owner):
    staff(org, 3)

    html = signed_in_client(owner).get(GUARD_URL).content.decode()

    assert "may suspend or remove up to 4 of your 4 active members per hour." in html
    assert "the guard cannot hold anything" in html


def test_admins_see_the_settings_read_only_and_cannot_change_them(org, owner):
    # given
    admin = AdminFactory(organization=org)
    client = signed_in_client(admin)

    # when
    page = client.get(GUARD_URL).content.decode()
    response = client.post(SETTINGS_URL, form_data(enabled="", min_members="1"))

    # then
    assert 'data-testid="guard-settings-readonly"' in page
    assert "Only owners can change these settings." in page
    assert 'data-testid="guard-settings-form"' not in page
    assert response.status_code == 403
    row = deprovision_guard.guard_settings(org)
    assert (row.enabled, row.min_members) == (True, 10)
    assert not AuditLogEntry.objects.filter(action__startswith="deprovision_guard.").exists()


def test_the_settings_action_only_takes_posts(org, owner):
    assert signed_in_client(owner).get(SETTINGS_URL).status_code == 405


@pytest.mark.parametrize(
    ("overrides", "field", "error"),
    [
        ({"share_percent": "0"}, "share_percent", "The share must be more than 0%."),
        ({"share_percent": "-5"}, "share_percent", "The share must be more than 0%."),
        ({"share_percent": "100.5"}, "share_percent", "The share can be at most 100%."),
        ({"share_percent": "abc"}, "share_percent", "Enter a number."),
        ({"share_percent": "12.345"}, "share_percent", "Ensure that there are no more than 2"),
        ({"min_members": "0"}, "min_members", "The minimum must be at least 1 member."),
        ({"min_members": ""}, "min_members", "This field is required."),
        ({"window_value": "4", "window_unit": "minutes"}, "window_value", "from 5 minutes to 7"),
        ({"window_value": "8", "window_unit": "days"}, "window_value", "from 5 minutes to 7 days"),
        ({"window_unit": "weeks"}, "window_unit", "Select a valid choice."),
        ({"keep_value": "31", "keep_unit": "days"}, "keep_value", "1 hour to 30 days"),
        ({"keep_value": "0"}, "keep_value", "Ensure this value is greater than or equal to 1."),
    ],
)
def test_the_settings_form_refuses_bad_values_with_clear_errors(
    org, owner, overrides, field, error
):
    # when
    response = signed_in_client(owner).post(SETTINGS_URL, form_data(**overrides))

    # then
    assert response.status_code == 400
    form = response.context["form"]
    assert any(error in message for message in form.errors[field]), form.errors
    assert error.split("'")[0] in response.content.decode().replace("&#x27;", "'")
    row = deprovision_guard.guard_settings(org)
    assert (row.share_percent, row.min_members, row.window_seconds) == (Decimal(20), 10, 3600)


@pytest.mark.parametrize(
    ("window_value", "window_unit", "seconds"),
    [("5", "minutes", 300), ("7", "days", 604800), ("90", "minutes", 5400)],
)
def test_the_window_bounds_are_inclusive(org, owner, window_value, window_unit, seconds):
    response = signed_in_client(owner).post(
        SETTINGS_URL, form_data(window_value=window_value, window_unit=window_unit)
    )

    assert response.status_code == 302
    assert deprovision_guard.guard_settings(org).window_seconds == seconds


def test_the_service_refuses_non_owners_and_bad_values(org, owner):
    from accounts.exceptions import InvalidInput

    admin = AdminFactory(organization=org)
    with pytest.raises(InvalidInput, match="Only owners"):
        set_policy(admin, min_members=1)
    other_owner = OwnerFactory()
    with pytest.raises(InvalidInput, match="Only owners"):
        deprovision_guard.deprovision_guard_policy_update(
            organization=org,
            by=other_owner,
            enabled=False,
            share_percent=Decimal(20),
            min_members=10,
            window_seconds=3600,
            keep_active_seconds=86400,
        )
    with pytest.raises(InvalidInput, match="5 minutes to 7 days"):
        set_policy(owner, window_seconds=60)
    with pytest.raises(InvalidInput, match="more than 0%"):
        set_policy(owner, share_percent="0")
    assert deprovision_guard.guard_settings(org).min_members == 10


# --- Turning it off ------------------------------------------------------------------------------


def test_turning_it_off_is_audited_and_shown_on_the_dashboard_and_integrations(org, owner):
    # given
    client = signed_in_client(owner)
    admin_client = signed_in_client(AdminFactory(organization=org))
    assert "Mass-deprovisioning guard turned off" not in client.get("/").content.decode()

    # when
    moment = datetime(2027, 3, 2, 14, 30, tzinfo=UTC)
    with time_machine.travel(moment, tick=False):
        response = signed_in_client(owner).post(SETTINGS_URL, form_data(enabled=""))

    # then
    assert response.status_code == 302
    entry = AuditLogEntry.objects.get(action="deprovision_guard.disabled")
    assert (entry.before, entry.after) == ({"guard": "on"}, {"guard": "off"})
    notice = "Mass-deprovisioning guard turned off by owner@contoso.test on 2 Mar 2027, 14:30."
    for viewer in (client, admin_client):
        for path in ("/", "/integrations/"):
            html = viewer.get(path).content.decode()
            assert 'data-testid="deprovision-guard-off"' in html, path
            assert notice in html, path
    guard_page = client.get(GUARD_URL).content.decode()
    assert "The guard is off" in guard_page and "Turned off by owner@contoso.test" in guard_page
    assert "Mass-deprovisioning guard turned off for" in client.get("/activity/").content.decode()

    # when: turned on again
    client.post(SETTINGS_URL, form_data())

    # then
    assert AuditLogEntry.objects.filter(action="deprovision_guard.enabled").count() == 1
    assert 'data-testid="deprovision-guard-off"' not in client.get("/").content.decode()
    assert deprovision_guard.guard_settings(org).disabled_by_label == ""


def test_off_by_the_deployments_default_says_so(guard, db):
    guard.DEPROVISION_GUARD_SHARE = 0
    owner = OwnerFactory(organization__name="Initech")

    html = signed_in_client(owner).get("/").content.decode()

    assert "The mass-deprovisioning guard has been off since this organization was set up." in html


# --- Keep members active -------------------------------------------------------------------------


def trip_small(owner: Member, entra: ScimClient) -> tuple[DeprovisionHold, Member]:
    set_policy(owner, share_percent="1", min_members=1)
    members = staff(owner.organization, 3)
    assert [deactivate(entra, member) for member in members[:2]] == [200, 429]
    return DeprovisionHold.objects.get(), members[1]


def test_keep_members_active_uses_the_organizations_default_duration(org, owner, entra):
    # given: Contoso keeps members active for 3 days by default
    hold, _ = trip_small(owner, entra)
    set_policy(owner, keep_active_seconds=3 * 86400)
    client = signed_in_client(owner)
    confirm = client.get(f"{GUARD_URL}{hold.pk}/keep/").content.decode()
    assert "3 days (this organization&#x27;s default)" in confirm

    # when: confirmed without choosing another period
    before = timezone.now()
    client.post(f"{GUARD_URL}{hold.pk}/keep/", {"confirm": "on"})

    # then
    hold.refresh_from_db()
    assert hold.keep_until is not None
    assert before + timedelta(days=3) <= hold.keep_until <= timezone.now() + timedelta(days=3)
    entry = AuditLogEntry.objects.get(action="deprovision_guard.kept")
    assert entry.after is not None and entry.after["kept_for"] == "3 days"


def test_keep_members_active_for_a_period_chosen_with_the_decision(org, owner, entra):
    # given
    hold, held = trip_small(owner, entra)
    start = datetime(2027, 3, 2, 9, 0, tzinfo=UTC)

    with time_machine.travel(start, tick=False) as traveller:
        # when: kept for 4 hours
        signed_in_client(owner).post(
            f"{GUARD_URL}{hold.pk}/keep/", {"confirm": "on", "keep_for": str(4 * 3600)}
        )
        hold.refresh_from_db()

        # then: refused for 4 hours, counted again after
        assert hold.keep_until == start + timedelta(hours=4)
        traveller.move_to(start + timedelta(hours=3, minutes=59))
        assert deactivate(entra, held) == 429
        traveller.move_to(start + timedelta(hours=4, minutes=1))
        assert deactivate(entra, held) == 200


def test_a_keep_period_outside_the_choices_is_refused(org, owner, entra):
    hold, _ = trip_small(owner, entra)

    response = signed_in_client(owner).post(
        f"{GUARD_URL}{hold.pk}/keep/", {"confirm": "on", "keep_for": "60"}
    )

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    hold.refresh_from_db()
    assert hold.state == DeprovisionHold.State.HOLDING


def test_the_keep_service_refuses_periods_out_of_bounds(org, owner, entra):
    from accounts.exceptions import InvalidInput

    hold, _ = trip_small(owner, entra)
    with pytest.raises(InvalidInput, match="1 hour to 30 days"):
        deprovision_guard.deprovision_hold_keep(
            hold=hold, actor=Actor.for_user(owner.user), keep_for=timedelta(days=31)
        )
    assert HeldDeprovisioning.objects.get().resolution == HeldDeprovisioning.Resolution.PENDING


# --- The hold notice a crashed worker left in "sending" -----------------------------------------


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """What the sweep hands the broker; the test then runs each as the worker would."""
    ids: list[int] = []
    monkeypatch.setattr(notify_deprovision_hold, "delay", lambda hold_id: ids.append(hold_id))
    return ids


def stuck_hold(org: Organization, *, claimed_ago: timedelta, attempts: int = 1) -> DeprovisionHold:
    """A hold whose notice a worker claimed `claimed_ago` and never finished (it crashed)."""
    hold = DeprovisionHold.objects.create(
        organization=org,
        provider_label="Microsoft Entra ID",
        limit=10,
        live_members=15,
        window_seconds=3600,
        started_at=timezone.now() - claimed_ago,
    )
    HeldDeprovisioning.objects.create(hold=hold, member=staff(org, 1)[0], action="suspend")
    DeprovisionHold.objects.filter(pk=hold.pk).update(
        notification=DeprovisionHold.Notification.SENDING,
        notification_attempts=attempts,
        notification_attempted_at=timezone.now() - claimed_ago,
    )
    return hold


def test_the_sweep_recovers_a_notice_stuck_in_sending_and_it_is_sent_exactly_once(
    org, owner, smtp, queued, settings
):
    # given: a worker crashed 16 minutes into sending (the timeout is 15)
    settings.INVITATION_SENDING_TIMEOUT = 900
    hold = stuck_hold(org, claimed_ago=timedelta(minutes=16))

    # when: the sweep runs twice before the worker picks the message up, then twice more
    assert deprovision_hold_sweep() == {"recovered": 1, "requeued": 1, "failed": 0}
    deprovision_hold_sweep()
    outcomes = [notify_deprovision_hold.apply(args=(pk,)).get() for pk in queued]
    assert deprovision_hold_sweep() == {"recovered": 0, "requeued": 0, "failed": 0}
    outcomes.append(notify_deprovision_hold.apply(args=(hold.pk,)).get())  # a redelivery

    # then: one email, to the owner, through a real SMTP server
    assert sorted(outcomes) == ["sent", "skipped", "skipped"]
    messages = smtp.wait_for(1, timeout=10)
    assert len(messages) == 1
    assert messages[0]["To"] == "owner@contoso.test"
    assert "Contoso" in messages[0]["Subject"]
    hold.refresh_from_db()
    assert hold.notification == DeprovisionHold.Notification.SENT
    assert hold.notification_attempts == 2
    assert hold.notified_at is not None


def test_the_sweep_leaves_a_send_in_progress_alone(org, owner, smtp, queued, settings):
    # given: a worker claimed it 5 minutes ago and may still be sending
    settings.INVITATION_SENDING_TIMEOUT = 900
    hold = stuck_hold(org, claimed_ago=timedelta(minutes=5))

    # when
    report = deprovision_hold_sweep()

    # then
    assert report == {"recovered": 0, "requeued": 0, "failed": 0}
    assert queued == []
    hold.refresh_from_db()
    assert hold.notification == DeprovisionHold.Notification.SENDING
    assert smtp.messages == []


def test_the_sweep_gives_up_on_a_notice_that_used_its_attempts(org, owner, smtp, queued):
    hold = stuck_hold(
        org, claimed_ago=timedelta(hours=1), attempts=deprovision_guard.NOTIFY_MAX_ATTEMPTS
    )

    assert deprovision_hold_sweep() == {"recovered": 0, "requeued": 0, "failed": 1}

    hold.refresh_from_db()
    assert hold.notification == DeprovisionHold.Notification.FAILED
    assert queued == []


def test_the_sweep_re_enqueues_a_notice_a_lost_message_left_pending(org, owner, smtp, queued):
    # given: a hold opened 6 minutes ago whose task message never reached a worker
    hold = DeprovisionHold.objects.create(
        organization=org,
        provider_label="Okta",
        limit=10,
        live_members=15,
        window_seconds=3600,
        started_at=timezone.now() - timedelta(minutes=6),
    )
    fresh = DeprovisionHold.objects.create(
        organization=OrganizationFactory(),
        provider_label="Okta",
        limit=10,
        live_members=15,
        window_seconds=3600,
    )

    # when
    report = deprovision_hold_sweep()
    for pk in queued:
        notify_deprovision_hold.apply(args=(pk,))

    # then: the stale one is sent; the one just opened is left to its own task
    assert report["requeued"] == 1
    assert queued == [hold.pk]
    assert len(smtp.wait_for(1, timeout=10)) == 1
    fresh.refresh_from_db()
    assert fresh.notification == DeprovisionHold.Notification.PENDING


def test_a_notice_left_over_from_a_decided_hold_is_never_sent(org, owner, smtp, queued):
    # given: a worker crashed mid-send, and an admin has since applied the held changes
    hold = stuck_hold(org, claimed_ago=timedelta(hours=1))
    DeprovisionHold.objects.filter(pk=hold.pk).update(state=DeprovisionHold.State.APPLIED)

    # when: the sweep recovers the claim, and a delayed message for it arrives too
    deprovision_hold_sweep()
    outcome = notify_deprovision_hold.apply(args=(hold.pk,)).get()
    deprovision_hold_sweep()

    # then: nobody is told about a hold that is over, and nothing is queued for it
    assert outcome == "skipped"
    assert queued == []
    assert smtp.messages == []


def test_the_sweep_runs_every_minute(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE["deprovision-hold-sweep"]
    assert schedule == {"task": "integrations.deprovision_hold_sweep", "schedule": 60.0}
