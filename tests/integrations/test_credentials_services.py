from __future__ import annotations

import logging
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import Actor
from accounts.models import AuditLogEntry
from integrations import services
from integrations.models import ScimRequest, ScimToken
from integrations.tasks import expire_scim_token_overlaps, prune_scim_request_log
from tests.factories import OrganizationFactory, OwnerFactory

pytestmark = pytest.mark.django_db


def authenticates(organization, secret: str) -> bool:
    return services.scim_token_authenticate(organization=organization, presented=secret) is not None


@pytest.fixture
def owner_actor(owner):
    return Actor.for_user(owner.user)


def test_issue_returns_the_secret_once_and_stores_only_its_digest(owner, owner_actor):
    # when
    issued = services.scim_token_issue(organization=owner.organization, actor=owner_actor)
    # then
    token = ScimToken.objects.get()
    assert token.digest != issued.secret and len(token.digest) == 64
    assert token.hint == issued.secret[:11]
    assert (token.state, token.created_by, token.created_by_label) == (
        "current",
        owner.user,
        owner.email,
    )
    assert issued.tenant_url.endswith(f"/scim/v2/{owner.organization.tenant_id}")
    assert authenticates(owner.organization, issued.secret)


def test_the_secret_is_nowhere_in_the_database_or_the_logs(
    owner, owner_actor, caplog, owner_client
):
    # given: logging at DEBUG, and credentials issued through the panel (sessions included)
    caplog.set_level(logging.DEBUG)
    detail = owner_client.get("/integrations/entra-id/")
    nonce = detail.context["form"].initial["nonce"]
    response = owner_client.post("/integrations/entra-id/credentials/", {"nonce": nonce})
    secret = response.context["issued"].secret
    services.scim_token_authenticate(organization=owner.organization, presented=secret)
    # when: every row of every model, and every session decoded
    dump = StringIO()
    call_command("dumpdata", stdout=dump)
    sessions = " ".join(str(s.get_decoded()) for s in Session.objects.all())
    # then
    assert secret in response.content.decode()  # shown once, to the admin
    assert secret not in dump.getvalue()
    assert secret[11:] not in dump.getvalue()
    assert secret not in sessions
    assert secret not in caplog.text


def test_regenerate_without_overlap_stops_the_old_token_immediately(owner, owner_actor):
    # given
    first = services.scim_token_issue(organization=owner.organization, actor=owner_actor)
    # when
    second = services.scim_token_issue(organization=owner.organization, actor=owner_actor)
    # then
    assert not authenticates(owner.organization, first.secret)
    assert authenticates(owner.organization, second.secret)
    old = ScimToken.objects.get(pk=first.token.pk)
    assert (old.state, old.retired_reason) == ("retired", "replaced")
    assert second.replaced.pk == first.token.pk


def test_regenerate_with_overlap_keeps_both_valid_until_the_overlap_ends(owner, owner_actor):
    # given
    with time_machine.travel("2026-05-01 10:00 +0000", tick=False):
        first = services.scim_token_issue(organization=owner.organization, actor=owner_actor)
        second = services.scim_token_issue(
            organization=owner.organization, actor=owner_actor, overlap=timedelta(hours=24)
        )
        # then: both work during the overlap
        assert authenticates(owner.organization, first.secret)
        assert authenticates(owner.organization, second.secret)
    with time_machine.travel("2026-05-02 09:59 +0000", tick=False):
        assert authenticates(owner.organization, first.secret)
    # and: only the new one once it is over, even before the sweep runs
    with time_machine.travel("2026-05-02 10:00 +0000", tick=False):
        assert not authenticates(owner.organization, first.secret)
        assert authenticates(owner.organization, second.secret)
        # when the periodic task runs, the previous token is retired and audited
        assert expire_scim_token_overlaps() == 1
    old = ScimToken.objects.get(pk=first.token.pk)
    assert (old.state, old.retired_reason) == ("retired", "expired")
    assert AuditLogEntry.objects.filter(action="scim_token.overlap_ended").count() == 1


def test_a_third_token_retires_the_one_still_in_overlap(owner, owner_actor):
    organization = owner.organization
    first = services.scim_token_issue(organization=organization, actor=owner_actor)
    services.scim_token_issue(
        organization=organization, actor=owner_actor, overlap=timedelta(hours=1)
    )
    services.scim_token_issue(
        organization=organization, actor=owner_actor, overlap=timedelta(hours=1)
    )
    states = sorted(ScimToken.objects.values_list("state", flat=True))
    assert states == ["current", "previous", "retired"]
    assert not authenticates(organization, first.secret)


@pytest.mark.parametrize("overlap", [timedelta(0), timedelta(hours=-1), timedelta(days=8)])
def test_overlap_outside_the_allowed_range_is_refused(owner, owner_actor, overlap):
    services.scim_token_issue(organization=owner.organization, actor=owner_actor)
    with pytest.raises(ValueError, match="seven days"):
        services.scim_token_issue(
            organization=owner.organization, actor=owner_actor, overlap=overlap
        )
    assert ScimToken.objects.filter(state="current").count() == 1


def test_revoke_disconnects_every_valid_token(owner, owner_actor):
    organization = owner.organization
    first = services.scim_token_issue(organization=organization, actor=owner_actor)
    second = services.scim_token_issue(
        organization=organization, actor=owner_actor, overlap=timedelta(hours=2)
    )
    # when
    revoked = services.scim_token_revoke(organization=organization, actor=owner_actor)
    # then
    assert revoked == 2
    assert not authenticates(organization, first.secret)
    assert not authenticates(organization, second.secret)
    assert set(ScimToken.objects.values_list("retired_reason", flat=True)) == {"revoked"}


def test_issue_regenerate_and_revoke_write_audit_entries_naming_the_actor(owner, owner_actor):
    organization = owner.organization
    services.scim_token_issue(organization=organization, actor=owner_actor)
    services.scim_token_issue(
        organization=organization, actor=owner_actor, overlap=timedelta(hours=24)
    )
    services.scim_token_revoke(organization=organization, actor=owner_actor)
    entries = list(
        AuditLogEntry.objects.filter(organization=organization, action__startswith="scim_token")
        .order_by("created_at", "id")
        .values_list("action", "actor_label")
    )
    assert entries == [
        ("scim_token.issued", owner.email),
        ("scim_token.regenerated", owner.email),
        ("scim_token.revoked", owner.email),
        ("scim_token.revoked", owner.email),
    ]
    regenerated = AuditLogEntry.objects.get(action="scim_token.regenerated")
    assert regenerated.after["previous_token_valid_until"] is not None


def test_a_token_never_opens_another_organization(owner, owner_actor):
    issued = services.scim_token_issue(organization=owner.organization, actor=owner_actor)
    other = OrganizationFactory()
    assert not authenticates(other, issued.secret)


def test_garbage_and_tampered_tokens_fail_without_a_database_query(
    owner, owner_actor, django_assert_num_queries
):
    issued = services.scim_token_issue(organization=owner.organization, actor=owner_actor)
    tampered = issued.secret[:-7] + ("A" if issued.secret[-7] != "A" else "B") + issued.secret[-6:]
    with django_assert_num_queries(0):
        for value in ["", "x" * 500, issued.secret.upper(), tampered]:
            assert not authenticates(owner.organization, value)


def test_the_final_comparison_is_constant_time(owner, owner_actor, monkeypatch):
    # given: a spy around Django's constant_time_compare as the service imported it
    issued = services.scim_token_issue(organization=owner.organization, actor=owner_actor)
    calls = []
    real = services.constant_time_compare

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(services, "constant_time_compare", spy)
    # when
    token = services.scim_token_authenticate(
        organization=owner.organization, presented=issued.secret
    )
    # then
    assert token is not None
    assert calls == [(token.digest, token.digest)]


def test_database_allows_one_current_token_per_organization(owner, owner_actor):
    issued = services.scim_token_issue(organization=owner.organization, actor=owner_actor)
    with pytest.raises(IntegrityError), transaction.atomic():
        ScimToken.objects.create(
            organization=owner.organization, digest="0" * 64, hint="npscim_x", created_by_label="x"
        )
    assert ScimToken.objects.get(state="current").pk == issued.token.pk


def test_last_use_is_recorded_at_most_once_a_minute(owner, owner_actor, django_assert_num_queries):
    issued = services.scim_token_issue(organization=owner.organization, actor=owner_actor)
    token = issued.token
    with time_machine.travel(timezone.now(), tick=False) as clock:
        services.scim_token_record_use(token=token, ip_address="203.0.113.7")
        with django_assert_num_queries(0):
            services.scim_token_record_use(token=token, ip_address="203.0.113.7")
        clock.shift(timedelta(seconds=61))
        services.scim_token_record_use(token=token, ip_address="203.0.113.7")
        stored = ScimToken.objects.get(pk=token.pk)
        assert stored.last_used_at == timezone.now()
        assert stored.last_used_ip == "203.0.113.7"
        # a new address is recorded at once
        services.scim_token_record_use(token=token, ip_address="198.51.100.1")
        assert ScimToken.objects.get(pk=token.pk).last_used_ip == "198.51.100.1"


def test_scim_credentials_command_prints_url_and_token_and_refuses_silent_replacement():
    owner = OwnerFactory(organization__slug="acme")
    out = StringIO()
    call_command("scim_credentials", "--organization", "acme", stdout=out, stderr=StringIO())
    lines = dict(line.split(":", 1) for line in out.getvalue().splitlines())
    secret = lines["Secret token"].strip()
    assert lines["Tenant URL"].strip().endswith(str(owner.organization.tenant_id))
    assert authenticates(owner.organization, secret)
    # a second run without --regenerate changes nothing
    with pytest.raises(Exception, match="already has a token"):
        call_command("scim_credentials", "--organization", "acme", stdout=StringIO())
    assert authenticates(owner.organization, secret)
    # --regenerate with an overlap keeps the old one valid
    out = StringIO()
    call_command(
        "scim_credentials",
        "--organization",
        "acme",
        "--regenerate",
        "--overlap-hours",
        "24",
        stdout=out,
        stderr=StringIO(),
    )
    assert "works until" in out.getvalue()
    assert authenticates(owner.organization, secret)
    assert AuditLogEntry.objects.filter(actor_label="scim_credentials command").count() == 2


def test_scim_credentials_command_errors_clearly():
    with pytest.raises(Exception, match="No organization with the slug 'nope'"):
        call_command("scim_credentials", "--organization", "nope")


def test_provisioning_log_is_pruned_after_the_retention_period(owner, settings):
    # given: entries 31 and 29 days old with the default 30-day retention
    settings.SCIM_LOG_RETENTION_DAYS = 30
    now = timezone.now()
    for days in (31, 29):
        ScimRequest.objects.create(
            organization=owner.organization,
            created_at=now - timedelta(days=days),
            request_id=str(days),
            method="GET",
            path="/Users",
            status_code=200,
        )
    # when: the periodic task runs
    deleted = prune_scim_request_log()
    # then: only the old one is gone
    assert deleted == 1
    assert list(ScimRequest.objects.values_list("request_id", flat=True)) == ["29"]
