"""Invitations: address rules, exactly-once delivery, retries, the sweep, expiry and reminders,
the policy, and the registration page."""

from __future__ import annotations

import base64
import re
import smtplib
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from django.utils import timezone

from accounts.audit import Actor
from accounts.models import Invitation, Member, Organization
from accounts.services import (
    MemberProfile,
    invitation_create,
    member_provision,
    member_remove,
    member_set_active,
    member_update_profile,
)
from accounts.services.invitations import (
    Delivery,
    invitation_deliver,
    invitation_delivery_event,
    invitation_sweep,
    invitation_url,
)
from accounts.services.members import EmailAddress
from accounts.tasks import send_invitation, send_invitation_reminder
from tests.factories import ActiveMemberFactory, OwnerFactory

pytestmark = pytest.mark.django_db

IDP = Actor.identity_provider("Microsoft Entra ID")
GOOD_PASSWORD = "a-long-and-unusual-passphrase"


class FlakyBackend(BaseEmailBackend):
    """An SMTP server that is down: the outside system failing, not our code mocked."""

    failures: list[Exception] = []

    def send_messages(self, messages):
        if FlakyBackend.failures:
            raise FlakyBackend.failures.pop(0)
        return mail.get_connection("django.core.mail.backends.locmem.EmailBackend").send_messages(
            messages
        )


@pytest.fixture
def organization() -> Organization:
    owner = OwnerFactory(organization__name="Contoso", full_name="Olga Owner")
    return owner.organization


def provision(organization, user_name="ann@contoso.com", emails=(), active=True) -> Member:
    profile = MemberProfile(user_name=user_name, emails=tuple(emails), given_name="Ann")
    return member_provision(organization=organization, profile=profile, active=active, actor=IDP)


def open_invitation(member: Member) -> Invitation:
    return member.invitations.get(status__in=Invitation.OPEN_STATUSES)


def link_in(message) -> str:
    return re.search(r"(/invite/[0-9a-f]{64}/)", message.body).group(1)


# --- which address --------------------------------------------------------------------------------


def test_primary_work_email_is_preferred_over_user_name(organization):
    member = provision(
        organization,
        user_name="ann@contoso.onmicrosoft.com",
        emails=[
            EmailAddress("home@example.com", "home"),
            EmailAddress("ann@contoso.com", "work", True),
        ],
    )
    assert open_invitation(member).email == "ann@contoso.com"


def test_user_name_is_used_when_it_is_an_address_and_no_email_was_sent(organization):
    assert (
        open_invitation(provision(organization, user_name="bob@contoso.com")).email
        == "bob@contoso.com"
    )


def test_no_address_means_no_invitation_and_a_visible_state(organization, client):
    member = provision(organization, user_name="CONTOSO\\carl")
    assert member.email == "" and not member.invitations.exists()
    owner = Member.objects.get(organization=organization, role="owner")
    client.force_login(owner.user)
    html = client.get("/users/?invitation=no-email").content.decode()
    assert "CONTOSO\\carl" in html and "No email address" in html


def test_email_change_before_acceptance_revokes_and_reinvites(organization):
    member = provision(organization, user_name="dee@contoso.com")
    first = open_invitation(member)
    profile = MemberProfile(
        user_name="dee@contoso.com", emails=(EmailAddress("dee.new@contoso.com", "work", True),)
    )
    member_update_profile(member=member, profile=profile, actor=IDP)
    first.refresh_from_db()
    assert first.status == "revoked"
    assert open_invitation(member).email == "dee.new@contoso.com"


def test_a_cycle_that_changes_nothing_sends_nothing_again(organization):
    member = provision(organization, user_name="eve@contoso.com")
    profile = MemberProfile(user_name="eve@contoso.com", given_name="Ann")
    member_update_profile(member=member, profile=profile, actor=IDP)
    member_set_active(member=member, active=True, actor=IDP)
    assert member.invitations.count() == 1


# --- lifecycle ------------------------------------------------------------------------------------


def test_suspension_and_removal_revoke_the_link_at_once(organization):
    member = provision(organization, user_name="fay@contoso.com")
    invitation = open_invitation(member)
    member_set_active(member=member, active=False, actor=IDP)
    invitation.refresh_from_db()
    assert invitation.status == "revoked"
    second = provision(organization, user_name="gus@contoso.com")
    member_remove(member=second, actor=IDP)
    assert second.invitations.get().status == "revoked"


def test_reactivating_someone_who_never_registered_sends_a_fresh_invitation(organization):
    member = provision(organization, user_name="hal@contoso.com")
    member_set_active(member=member, active=False, actor=IDP)
    member_set_active(member=member, active=True, actor=IDP)
    assert member.invitations.count() == 2
    assert open_invitation(member).status == "pending"


def test_reactivating_someone_who_registered_sends_nothing(organization):
    member = ActiveMemberFactory(organization=organization, source="idp")
    member_set_active(member=member, active=False, actor=IDP)
    member_set_active(member=member, active=True, actor=IDP)
    member.refresh_from_db()
    assert member.status == "active" and not member.invitations.exists()


def test_manual_policy_stages_members_until_an_admin_invites(organization):
    organization.invitation_policy = "manual"
    organization.save()
    member = provision(organization, user_name="ivy@contoso.com")
    assert not member.invitations.exists()
    invitation = invitation_create(member=member, actor=Actor.system())
    assert invitation.status == "pending" and invitation.email == "ivy@contoso.com"


def test_invitation_is_created_in_the_members_transaction_and_enqueued_after_commit(
    organization, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        member = provision(organization, user_name="jo@contoso.com")
    assert open_invitation(member).status == "pending"
    assert len(callbacks) == 1  # the send task, only once the member is committed


# --- delivery -------------------------------------------------------------------------------------


def test_the_same_task_delivered_twice_sends_one_email(organization):
    invitation = open_invitation(provision(organization, user_name="kim@contoso.com"))
    send_invitation.apply(args=[invitation.pk])
    send_invitation.apply(args=[invitation.pk])
    assert len(mail.outbox) == 1
    invitation.refresh_from_db()
    assert invitation.status == "sent" and invitation.attempts == 1
    assert invitation.provider_message_id.startswith("<")


def test_a_task_for_an_accepted_or_revoked_invitation_sends_nothing(organization):
    invitation = open_invitation(provision(organization, user_name="lu@contoso.com"))
    Invitation.objects.filter(pk=invitation.pk).update(status="accepted")
    assert invitation_deliver(invitation.pk).outcome is Delivery.SKIPPED
    assert mail.outbox == []


def test_the_email_names_the_organization_the_contact_the_link_and_the_expiry(
    organization, settings
):
    settings.SITE_URL = "https://admin.example.com"
    invitation = open_invitation(provision(organization, user_name="max@contoso.com"))
    invitation_deliver(invitation.pk)
    message = mail.outbox[0]
    assert message.to == ["max@contoso.com"]
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert message.subject == "Contoso invited you to NordPass"
    assert "Olga Owner" in message.body and invitation_url(invitation) in message.body
    assert invitation_url(invitation).startswith("https://admin.example.com/invite/")
    assert f"{invitation.expires_at:%Y}" in message.body
    html, mimetype = message.alternatives[0]
    assert (
        mimetype == "text/html"
        and "Finish registration" in html
        and invitation_url(invitation) in html
    )
    assert message.reply_to == [Member.objects.get(organization=organization, role="owner").email]


def test_transient_failures_retry_with_backoff_then_fail_visibly(organization, settings):
    settings.EMAIL_BACKEND = "tests.accounts.test_invitations.FlakyBackend"
    settings.INVITATION_MAX_ATTEMPTS = 3
    FlakyBackend.failures = [smtplib.SMTPServerDisconnected("down")] * 3
    invitation = open_invitation(provision(organization, user_name="ned@contoso.com"))
    results = [invitation_deliver(invitation.pk) for _ in range(3)]
    assert [r.outcome for r in results] == [Delivery.RETRY, Delivery.RETRY, Delivery.FAILED]
    invitation.refresh_from_db()
    assert invitation.status == "failed" and invitation.attempts == 3
    assert "SMTPServerDisconnected" in invitation.last_error
    assert mail.outbox == []


def test_the_task_schedules_its_retry_with_exponential_backoff(organization, settings, monkeypatch):
    settings.EMAIL_BACKEND = "tests.accounts.test_invitations.FlakyBackend"
    FlakyBackend.failures = [ConnectionRefusedError("no smtp")] * 2
    invitation = open_invitation(provision(organization, user_name="oli@contoso.com"))
    countdowns = []
    monkeypatch.setattr(
        send_invitation,
        "retry",
        lambda **kw: countdowns.append(kw["countdown"]) or RuntimeError("retry"),
    )
    for _ in range(2):
        send_invitation.apply(args=[invitation.pk])
    assert countdowns == [30, 60]
    assert invitation_deliver(invitation.pk).outcome is Delivery.SENT
    assert len(mail.outbox) == 1


def test_a_refused_recipient_fails_at_once(organization, settings):
    settings.EMAIL_BACKEND = "tests.accounts.test_invitations.FlakyBackend"
    FlakyBackend.failures = [
        smtplib.SMTPRecipientsRefused({"x@contoso.com": (550, b"no such user")})
    ]
    invitation = open_invitation(provision(organization, user_name="pia@contoso.com"))
    assert invitation_deliver(invitation.pk).outcome is Delivery.FAILED


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (smtplib.SMTPDataError(554, b"5.7.1 message rejected as spam"), Delivery.FAILED),
        (smtplib.SMTPSenderRefused(550, b"sender not allowed", "no-reply@x"), Delivery.FAILED),
        (smtplib.SMTPDataError(451, b"4.3.0 try again later"), Delivery.RETRY),
        (smtplib.SMTPServerDisconnected("connection lost"), Delivery.RETRY),
    ],
)
def test_smtp_5xx_replies_fail_at_once_and_4xx_are_retried(organization, settings, error, outcome):
    settings.EMAIL_BACKEND = "tests.accounts.test_invitations.FlakyBackend"
    FlakyBackend.failures = [error]
    invitation = open_invitation(provision(organization, user_name="rey@contoso.com"))
    assert invitation_deliver(invitation.pk).outcome is outcome


def test_a_bounce_reported_by_the_provider_marks_the_invitation_failed(organization):
    invitation = open_invitation(provision(organization, user_name="quin@contoso.com"))
    invitation_deliver(invitation.pk)
    invitation.refresh_from_db()
    assert (
        invitation_delivery_event(
            message_id=invitation.provider_message_id, event_type="bounced", reason="mailbox full"
        )
        == 1
    )
    invitation.refresh_from_db()
    assert invitation.status == "failed" and invitation.last_error == "bounced: mailbox full"


# --- the sweep ------------------------------------------------------------------------------------


def test_sweep_re_enqueues_an_invitation_a_lost_message_left_pending(organization, monkeypatch):
    sent = []
    monkeypatch.setattr(send_invitation, "delay", lambda pk: sent.append(pk))
    invitation = open_invitation(provision(organization, user_name="ray@contoso.com"))
    with time_machine.travel(timezone.now() + timedelta(seconds=30)):
        assert invitation_sweep().requeued == 0  # too fresh: its own task may still come
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert invitation_sweep().requeued == 1
    assert sent == [invitation.pk]


def test_sweep_recovers_an_invitation_a_crashed_worker_left_sending(organization, settings):
    invitation = open_invitation(provision(organization, user_name="sam@contoso.com"))
    Invitation.objects.filter(pk=invitation.pk).update(
        status="sending", last_attempt_at=timezone.now()
    )
    with time_machine.travel(
        timezone.now() + timedelta(seconds=settings.INVITATION_SENDING_TIMEOUT + 5)
    ):
        report = invitation_sweep()
    invitation.refresh_from_db()
    assert report.recovered == 1 and invitation.status in ("pending", "sent")


def test_sweep_expires_old_invitations_and_sends_one_reminder(organization, settings):
    settings.INVITATION_REMINDER_HOURS = 48
    invitation = open_invitation(provision(organization, user_name="tia@contoso.com"))
    invitation_deliver(invitation.pk)
    start = timezone.now()
    with time_machine.travel(start + timedelta(days=5, hours=1)):
        assert invitation_sweep().reminders == 1
        send_invitation_reminder.apply(args=[invitation.pk])
        send_invitation_reminder.apply(args=[invitation.pk])
        assert invitation_sweep().reminders == 0
    assert [m.subject for m in mail.outbox] == [
        "Contoso invited you to NordPass",
        "Reminder: Contoso invited you to NordPass",
    ]
    with time_machine.travel(start + timedelta(days=7, minutes=1)):
        assert invitation_sweep().expired == 1
    invitation.refresh_from_db()
    assert invitation.status == "expired"


def test_expiry_is_configurable_per_organization(organization):
    organization.invitation_ttl_days = 2
    organization.save()
    invitation = open_invitation(provision(organization, user_name="uma@contoso.com"))
    assert (invitation.expires_at - invitation.created_at) == timedelta(days=2)


# --- the registration page ------------------------------------------------------------------------


def sent_link(organization, user_name="vic@contoso.com") -> tuple[Member, str]:
    member = provision(organization, user_name=user_name)
    invitation_deliver(open_invitation(member).pk)
    return member, link_in(mail.outbox[-1])


def test_registration_activates_the_member_and_signs_them_in(organization):
    member, link = sent_link(organization)
    client = Client()
    page = client.get(link)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Contoso" in html and "vic@contoso.com" in html
    assert "at least 12 characters" in html  # the rules, before the person fails them
    response = client.post(
        link,
        {"full_name": "Vic", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/account/"
    assert b"Welcome to Contoso" in response.content
    member.refresh_from_db()
    assert member.status == "active" and member.user.check_password(GOOD_PASSWORD)
    assert member.invitations.get().status == "accepted"
    # members see their account, not the admin pages
    assert client.get("/users/").status_code == 403


def test_a_used_link_explains_itself(organization):
    _, link = sent_link(organization)
    Client().post(link, {"password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD})
    page = Client().get(link)
    assert page.status_code == 410 and b"already used" in page.content


def test_weak_or_mismatched_passwords_are_refused_with_reasons(organization):
    member, link = sent_link(organization)
    weak = Client().post(link, {"password1": "password", "password2": "password"})
    assert weak.status_code == 200 and b"too short" in weak.content
    mismatch = Client().post(link, {"password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD + "x"})
    assert b"do not match" in mismatch.content
    member.refresh_from_db()
    assert member.status == "invited" and member.user is None


@pytest.mark.parametrize("problem", ["expired", "revoked", "suspended", "unknown"])
def test_unusable_links_get_a_clear_page_without_hints(organization, problem):
    member, link = sent_link(organization)
    invitation = member.invitations.get()
    if problem == "expired":
        Invitation.objects.filter(pk=invitation.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        expected = b"has expired"
    elif problem == "revoked":
        invitation_create(member=member, actor=Actor.system())  # a resend revokes the old link
        expected = b"no longer works"
    elif problem == "suspended":
        member_set_active(member=member, active=False, actor=IDP)
        expected = b"no longer works"
    else:
        link = "/invite/" + "0" * 64 + "/"
        expected = b"not valid"
    page = Client().get(link)
    assert page.status_code == 410 and expected in page.content
    assert b"vic@contoso.com" not in page.content
    assert b"administrator" in page.content


def test_an_existing_account_joins_with_its_own_password(organization):
    other = ActiveMemberFactory(email="vic@contoso.com", user_name="vic@contoso.com")
    member, link = sent_link(organization)
    page = Client().get(link)
    assert b"already has an account" in page.content
    wrong = Client().post(link, {"password": "not-it"})
    assert b"not the password" in wrong.content
    Client().post(link, {"password": "correct-horse-battery-staple"})
    member.refresh_from_db()
    assert member.user == other.user and member.status == "active"


def test_registration_page_is_rate_limited(organization, settings):
    settings.REGISTRATION_RATE_LIMIT = 3
    client = Client(REMOTE_ADDR="203.0.113.50")
    statuses = [client.get("/invite/" + "1" * 64 + "/").status_code for _ in range(5)]
    assert statuses == [410, 410, 410, 429, 429]


# --- panel actions --------------------------------------------------------------------------------


def test_admins_resend_and_revoke_from_the_users_page(organization):
    member = provision(organization, user_name="wes@contoso.com")
    first = open_invitation(member)
    owner = Member.objects.get(organization=organization, role="owner")
    client = Client()
    client.force_login(owner.user)
    response = client.post(f"/users/{member.pk}/invite/", {"next": "/users/?q=wes"})
    assert response.status_code == 302 and response.url == "/users/?q=wes"
    first.refresh_from_db()
    assert first.status == "revoked" and open_invitation(member).pk != first.pk
    client.post(f"/users/{member.pk}/invitation/revoke/")
    assert not member.invitations.filter(status__in=Invitation.OPEN_STATUSES).exists()
    assert (
        client.post(f"/users/{member.pk}/invite/", {"next": "https://evil.example/"}).url
        == "/users/"
    )


def test_panel_invitation_actions_are_scoped_and_for_admins_only(organization):
    member = provision(organization, user_name="xan@contoso.com")
    stranger = OwnerFactory()
    client = Client()
    client.force_login(stranger.user)
    assert client.post(f"/users/{member.pk}/invite/").status_code == 404
    plain = ActiveMemberFactory(organization=organization, role="member")
    client.force_login(plain.user)
    assert client.post(f"/users/{member.pk}/invite/").status_code == 403


def test_users_page_filters_failed_invitations_and_shows_the_state(organization):
    ok = provision(organization, user_name="yan@contoso.com")
    bad = provision(organization, user_name="zed@contoso.com")
    Invitation.objects.filter(member=bad).update(
        status="failed", last_error="SMTPServerDisconnected"
    )
    owner = Member.objects.get(organization=organization, role="owner")
    client = Client()
    client.force_login(owner.user)
    page = client.get("/users/?invitation=failed")
    assert [m.user_name for m in page.context["page"].object_list] == ["zed@contoso.com"]
    assert "SMTPServerDisconnected" in page.content.decode()
    dashboard = client.get("/").content.decode()
    assert 'data-testid="failed-invitations"' in dashboard
    assert ok.user_name in client.get("/users/?invitation=pending").content.decode()


def test_provider_bounce_webhook_behind_its_secret_marks_the_invitation_failed(
    organization, settings
):
    # given: an invitation sent through Postmark (the provider's message id recorded)
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret-value"}
    invitation = open_invitation(provision(organization, user_name="bo@contoso.com"))
    Invitation.objects.filter(pk=invitation.pk).update(
        status="sent", provider_message_id="883953f4-6105-42a2-a16a-77a8eac79483"
    )
    bounce = {
        "RecordType": "Bounce",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Type": "HardBounce",
        "TypeCode": 1,
        "Email": "bo@contoso.com",
        "Description": "The server was unable to deliver your message (ex: unknown user).",
        "Details": "smtp;550 5.1.1 unknown user",
        "BouncedAt": "2026-11-29T10:00:00Z",
    }
    url = "/anymail/postmark/tracking/"
    # when: without the secret nothing happens
    assert Client().post(url, bounce, content_type="application/json").status_code == 400
    invitation.refresh_from_db()
    assert invitation.status == "sent"
    # when: with it, the bounce marks the invitation failed with the reason
    auth = "Basic " + base64.b64encode(b"hook:s3cret-value").decode()
    response = Client().post(url, bounce, content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200
    invitation.refresh_from_db()
    assert invitation.status == "failed"
    assert invitation.last_error.startswith("bounced:")
