"""Email domains verified by a DNS TXT record, looked up for real against a DNS server on loopback
(tests/dns_server.py): names, the lookup's outcomes, one verifying organization per domain, the
panel's permissions, the audit trail and the beat task's re-checks."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import Actor
from accounts.exceptions import InvalidInput
from accounts.models import AuditLogEntry, Member, Organization
from integrations import domains
from integrations.models import EmailDomain
from integrations.tasks import check_email_domain, email_domain_recheck_sweep
from tests.conftest import signed_in_client
from tests.dns_server import LoopbackDns, silent_udp_port
from tests.factories import AdminFactory, OrganizationFactory, OwnerFactory

PAGE = "/integrations/domains/"


@pytest.fixture
def org(db) -> Organization:
    return OrganizationFactory(name="Contoso", slug="contoso")


@pytest.fixture
def owner(org) -> Member:
    return OwnerFactory(organization=org, email="owner@contoso.test")


def add(org: Organization, owner: Member, name: str) -> EmailDomain:
    return domains.email_domain_add(organization=org, actor=Actor.for_user(owner.user), domain=name)


def check(domain: EmailDomain, owner: Member) -> EmailDomain:
    return domains.email_domain_check(domain=domain, actor=Actor.for_user(owner.user))


def publish_for(dns: LoopbackDns, domain: EmailDomain, *others: str) -> None:
    dns.publish_txt(domains.record_name(domain), *others, domains.record_value(domain))


def audit_actions(org: Organization) -> list[str]:
    return list(
        AuditLogEntry.objects.filter(organization=org, action__startswith="email_domain.")
        .order_by("id")
        .values_list("action", flat=True)
    )


# --- Names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("contoso.com", "contoso.com"),
        ("  Contoso.COM.  ", "contoso.com"),
        ("@contoso.com", "contoso.com"),
        ("someone@Contoso.com", "contoso.com"),
        ("eu.mail.contoso.co.uk", "eu.mail.contoso.co.uk"),
        ("Bücher.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
    ],
)
def test_domains_are_stored_lowercase_ascii_without_the_trailing_dot(typed, stored):
    assert domains.domain_normalize(typed) == stored


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "Enter a domain"),
        ("com", "not only a top-level domain"),
        ("192.0.2.1", "An IP address is not a domain"),
        ("2001:db8::1", "An IP address is not a domain"),
        ("[2001:db8::1]", "An IP address is not a domain"),
        ("https://contoso.com/", "without https://"),
        ("contoso .com", "without https://"),
        ("-contoso.com", "not a valid domain name"),
        ("contoso_mail.com", "not a valid domain name"),
        (f"{'a' * 64}.com", "not a valid domain name"),
        ("contoso.123", "does not end in a top-level domain"),
        ("contoso..com", "not a valid domain name"),
    ],
)
def test_what_is_not_a_domain_is_refused_with_a_reason(typed, says):
    with pytest.raises(InvalidInput, match=says):
        domains.domain_normalize(typed)


def test_an_idn_is_shown_as_people_write_it():
    assert domains.domain_display("xn--bcher-kva.example") == "bücher.example"
    assert domains.domain_display("contoso.com") == "contoso.com"


def test_the_nameserver_setting_takes_addresses_and_ports(settings):
    settings.DOMAIN_VERIFICATION_NAMESERVERS = "10.0.0.2, 10.0.0.3:5353,[2001:db8::53]:5300,::1"
    servers = domains._resolver().nameservers
    assert [(s.address, s.port) for s in servers] == [  # type: ignore[union-attr]
        ("10.0.0.2", 53),
        ("10.0.0.3", 5353),
        ("2001:db8::53", 5300),
        ("::1", 53),
    ]
    settings.DOMAIN_VERIFICATION_NAMESERVERS = "dns.example.com"
    with pytest.raises(ImproperlyConfigured, match="not an IP address"):
        domains._resolver()


# --- Verification against a real DNS server --------------------------------------------------


def test_the_right_record_verifies_the_domain(dns_server, org, owner):
    # given
    domain = add(org, owner, "contoso.com")
    assert len(domain.token) == 32
    publish_for(dns_server, domain)

    # when
    row = check(domain, owner)

    # then
    assert row.state == EmailDomain.State.VERIFIED
    assert row.verified_at is not None
    assert row.last_error == ""
    assert dns_server.zone.queries == ["_nordpass-verification.contoso.com"]
    assert audit_actions(org) == ["email_domain.added", "email_domain.verified"]
    entry = AuditLogEntry.objects.get(action="email_domain.verified")
    assert entry.actor_label == "owner@contoso.test"
    assert entry.before["state"] == "pending"
    assert entry.after["state"] == "verified"


def test_the_record_among_spf_and_other_txt_strings_still_verifies(dns_server, org, owner):
    # given: the same name also carries SPF and a record split into two strings
    domain = add(org, owner, "contoso.com")
    dns_server.publish_txt(
        domains.record_name(domain),
        "v=spf1 include:_spf.example.net -all",
        "google-site-verification=abc",
        ["nordpass-verification=", domain.token],
    )

    # then
    assert check(domain, owner).state == EmailDomain.State.VERIFIED


def test_a_domain_typed_in_capitals_is_looked_up_and_verified(dns_server, org, owner):
    domain = add(org, owner, "CONTOSO.Com.")
    assert domain.domain == "contoso.com"
    publish_for(dns_server, domain)

    assert check(domain, owner).state == EmailDomain.State.VERIFIED


def test_an_idn_domain_is_looked_up_by_its_punycode_name(dns_server, org, owner):
    domain = add(org, owner, "Bücher.example")
    dns_server.publish_txt(
        "_nordpass-verification.xn--bcher-kva.example", domains.record_value(domain)
    )

    assert check(domain, owner).state == EmailDomain.State.VERIFIED


@pytest.mark.parametrize(
    ("publish", "reason"),
    [
        (
            lambda dns, name: dns.publish_txt(name, "nordpass-verification=someone-elses-token"),
            "has a TXT record, but not the value below (found 1 value)",
        ),
        (lambda dns, name: None, "No DNS record named _nordpass-verification.contoso.com"),
        (lambda dns, name: dns.publish_a(name), "exists in DNS but has no TXT record"),
        (lambda dns, name: dns.fail(name), "refused or failed to answer"),
    ],
    ids=["wrong value", "nxdomain", "no txt record", "servfail"],
)
def test_a_failed_check_says_why(dns_server, org, owner, publish, reason):
    # given
    domain = add(org, owner, "contoso.com")
    publish(dns_server, domains.record_name(domain))

    # when
    row = check(domain, owner)

    # then
    assert row.state == EmailDomain.State.PENDING
    assert reason in row.last_error
    assert row.last_checked_at is not None
    assert row.verified_at is None


def test_a_nameserver_that_never_answers_is_a_timeout(settings, org, owner):
    # given
    domain = add(org, owner, "contoso.com")
    settings.DOMAIN_VERIFICATION_TIMEOUT = 0.5

    # when
    with silent_udp_port() as address:
        settings.DOMAIN_VERIFICATION_NAMESERVERS = address
        row = check(domain, owner)

    # then
    assert row.state == EmailDomain.State.PENDING
    assert row.last_error.startswith("The DNS servers did not answer within 0.5 seconds.")


def test_a_failure_is_audited_when_its_reason_changes_not_on_every_check(dns_server, org, owner):
    # given
    domain = add(org, owner, "contoso.com")

    # when: missing three times, then a wrong value twice, then the right one
    for _ in range(3):
        check(domain, owner)
    dns_server.publish_txt(domains.record_name(domain), "nordpass-verification=typo")
    for _ in range(2):
        check(domain, owner)
    publish_for(dns_server, domain)
    check(domain, owner)

    # then
    assert audit_actions(org) == [
        "email_domain.added",
        "email_domain.verification_failed",
        "email_domain.verification_failed",
        "email_domain.verified",
    ]
    failed = (
        AuditLogEntry.objects.filter(action="email_domain.verification_failed")
        .order_by("id")
        .first()
    )
    assert failed is not None
    assert "No DNS record named" in failed.after["reason"]


def test_a_verified_domain_is_not_looked_up_again(dns_server, org, owner):
    domain = add(org, owner, "contoso.com")
    publish_for(dns_server, domain)
    check(domain, owner)
    dns_server.zone.txt.clear()

    # when: the record is gone and someone checks again
    row = check(EmailDomain.objects.get(pk=domain.pk), owner)

    # then: it stays verified, and DNS was asked once
    assert row.state == EmailDomain.State.VERIFIED
    assert len(dns_server.zone.queries) == 1


# --- One verifying organization per domain ---------------------------------------------------


def test_the_first_organization_to_verify_wins_and_the_other_cannot(dns_server, org, owner):
    # given: Contoso and Fabrikam both claim contoso.com; both records are published
    fabrikam = OrganizationFactory(name="Fabrikam", slug="fabrikam")
    fabrikam_owner = OwnerFactory(organization=fabrikam)
    ours = add(org, owner, "contoso.com")
    theirs = add(fabrikam, fabrikam_owner, "contoso.com")
    dns_server.publish_txt(
        domains.record_name(ours), domains.record_value(ours), domains.record_value(theirs)
    )

    # when
    first = check(ours, owner)
    second = check(theirs, fabrikam_owner)

    # then
    assert first.state == EmailDomain.State.VERIFIED
    assert second.state == EmailDomain.State.PENDING
    assert second.last_error == domains.TAKEN
    assert [d.taken for d in domains.organization_domains(fabrikam)] == [True]
    assert [d.taken for d in domains.organization_domains(org)] == [False]
    assert audit_actions(fabrikam)[-1] == "email_domain.verification_failed"

    # and once Contoso removes it, Fabrikam's claim verifies
    domains.email_domain_remove(domain=first, actor=Actor.for_user(owner.user))
    assert check(second, fabrikam_owner).state == EmailDomain.State.VERIFIED


def test_the_database_lets_only_one_organization_verify_a_domain(org, owner):
    # given: two pending claims, as if both checks passed their reads at once
    fabrikam = OrganizationFactory(name="Fabrikam", slug="fabrikam")
    ours = add(org, owner, "contoso.com")
    theirs = add(fabrikam, OwnerFactory(organization=fabrikam), "contoso.com")
    now = timezone.now()
    EmailDomain.objects.filter(pk=ours.pk).update(state="verified", verified_at=now)

    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        EmailDomain.objects.filter(pk=theirs.pk).update(state="verified", verified_at=now)


@pytest.mark.django_db(transaction=True)
def test_two_organizations_checking_at_once_verify_it_once(dns_server):
    # given: both records published; both checks run in their own threads and connections
    orgs = [OrganizationFactory(slug=f"org{i}") for i in range(2)]
    owners = [OwnerFactory(organization=o) for o in orgs]
    claims = [add(o, m, "contoso.com") for o, m in zip(orgs, owners, strict=True)]
    dns_server.publish_txt(
        domains.record_name(claims[0]), *(domains.record_value(c) for c in claims)
    )
    barrier = threading.Barrier(2)
    results: list[str] = []

    def run(claim: EmailDomain, member: Member) -> None:
        from django.db import connection

        try:
            barrier.wait(timeout=10)
            results.append(check(claim, member).state)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=run, args=pair) for pair in zip(claims, owners, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # then: exactly one verified; the other says it is taken
    assert sorted(results) == ["pending", "verified"]
    assert EmailDomain.objects.filter(state="verified").count() == 1
    loser = EmailDomain.objects.get(state="pending")
    assert loser.last_error == domains.TAKEN


def test_an_organization_cannot_add_a_domain_twice(org, owner):
    add(org, owner, "contoso.com")
    with pytest.raises(InvalidInput, match="already on the list"):
        add(org, owner, "Contoso.com.")


def test_removing_is_audited_with_what_was_removed(dns_server, org, owner):
    domain = add(org, owner, "contoso.com")
    publish_for(dns_server, domain)
    check(domain, owner)

    domains.email_domain_remove(domain=domain, actor=Actor.for_user(owner.user))

    assert not EmailDomain.objects.exists()
    entry = AuditLogEntry.objects.get(action="email_domain.removed")
    assert entry.before["domain"] == "contoso.com"
    assert entry.before["state"] == "verified"
    assert entry.target_label == "contoso.com"


# --- The panel ---------------------------------------------------------------------------------


def test_an_owner_adds_a_domain_and_sees_the_record_to_publish(org, owner):
    client = signed_in_client(owner)

    response = client.post(f"{PAGE}add/", {"domain": "Contoso.com"}, follow=True)

    domain = EmailDomain.objects.get(organization=org)
    html = response.content.decode()
    assert response.status_code == 200
    assert "contoso.com added" in html
    assert "_nordpass-verification.contoso.com" in html
    assert f"nordpass-verification={domain.token}" in html
    assert 'data-copy-target="record-value-' in html
    assert "js/copy.js" in html


def test_an_invalid_domain_is_shown_with_its_error(org, owner):
    response = signed_in_client(owner).post(f"{PAGE}add/", {"domain": "https://contoso.com"})

    assert response.status_code == 400
    assert "without https://" in response.content.decode()
    assert not EmailDomain.objects.exists()


def test_check_now_verifies_from_the_panel(dns_server, org, owner):
    domain = add(org, owner, "contoso.com")
    client = signed_in_client(owner)
    client.post(f"{PAGE}{domain.pk}/check/")
    page = client.get(PAGE).content.decode()
    assert "No DNS record named _nordpass-verification.contoso.com" in page

    publish_for(dns_server, domain)
    response = client.post(f"{PAGE}{domain.pk}/check/", follow=True)

    assert "contoso.com is verified." in response.content.decode()
    domain.refresh_from_db()
    assert domain.state == EmailDomain.State.VERIFIED


def test_a_domain_another_organization_verified_is_shown_as_taken_without_naming_it(
    dns_server, org, owner
):
    fabrikam = OrganizationFactory(name="Fabrikam Secret Corp", slug="fabrikam")
    theirs = add(fabrikam, OwnerFactory(organization=fabrikam), "contoso.com")
    publish_for(dns_server, theirs)
    check(theirs, OwnerFactory(organization=fabrikam))
    add(org, owner, "contoso.com")

    html = signed_in_client(owner).get(PAGE).content.decode()

    assert "Verified by another organization" in html
    assert "Fabrikam" not in html
    assert theirs.token not in html
    assert "Check now" not in html


def test_admins_see_domains_but_cannot_add_check_or_remove(dns_server, org, owner):
    # given
    domain = add(org, owner, "contoso.com")
    client = signed_in_client(AdminFactory(organization=org))

    # when
    page = client.get(PAGE)
    responses = [
        client.post(f"{PAGE}add/", {"domain": "fabrikam.com"}),
        client.post(f"{PAGE}{domain.pk}/check/"),
        client.post(f"{PAGE}{domain.pk}/remove/"),
    ]

    # then
    assert page.status_code == 200
    assert "_nordpass-verification.contoso.com" in page.content.decode()
    assert "Add domain" not in page.content.decode()
    assert [r.status_code for r in responses] == [403, 403, 403]
    assert list(EmailDomain.objects.values_list("domain", "last_checked_at")) == [
        ("contoso.com", None)
    ]
    assert dns_server.zone.queries == []
    assert audit_actions(org) == ["email_domain.added"]


def test_the_integrations_page_links_to_email_domains(org, owner):
    html = signed_in_client(owner).get("/integrations/").content.decode()
    assert f'href="{PAGE}"' in html


# --- The beat task ------------------------------------------------------------------------------


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """What the sweep hands the broker; the test then runs each as the worker would."""
    ids: list[int] = []
    monkeypatch.setattr(check_email_domain, "delay", lambda domain_id: ids.append(domain_id))
    return ids


def run_queued(queued: list[int]) -> list[str]:
    outcomes = [check_email_domain.apply(args=(pk,)).get() for pk in queued]
    queued.clear()
    return outcomes


def test_the_beat_task_verifies_a_pending_domain_once_the_record_appears(
    dns_server, org, owner, queued
):
    # given: added, record not yet published
    domain = add(org, owner, "contoso.com")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert email_domain_recheck_sweep() == 1
        assert run_queued(queued) == ["pending"]

        # when: 10 minutes later the record is there
        clock.shift(timedelta(minutes=10))
        publish_for(dns_server, domain)
        assert email_domain_recheck_sweep() == 1
        outcomes = run_queued(queued)

        # then: verified by the system; the next sweep has nothing to do; a redelivery neither
        assert outcomes == ["verified"]
        clock.shift(timedelta(minutes=10))
        assert email_domain_recheck_sweep() == 0
        assert check_email_domain.apply(args=(domain.pk,)).get() == "skipped"
    assert len(dns_server.zone.queries) == 2
    entry = AuditLogEntry.objects.get(action="email_domain.verified")
    assert entry.actor_kind == AuditLogEntry.ActorKind.SYSTEM


def test_the_beat_task_skips_what_was_checked_moments_ago_and_taken_domains(
    dns_server, org, owner, queued
):
    # given: one checked by its owner just now, one verified by another organization
    recent = add(org, owner, "contoso.com")
    check(recent, owner)
    fabrikam = OrganizationFactory(slug="fabrikam")
    fabrikam_owner = OwnerFactory(organization=fabrikam)
    theirs = add(fabrikam, fabrikam_owner, "fabrikam.com")
    publish_for(dns_server, theirs)
    check(theirs, fabrikam_owner)
    add(org, owner, "fabrikam.com")

    # when / then
    assert email_domain_recheck_sweep() == 0
    assert check_email_domain.apply(args=(recent.pk,)).get() == "skipped"


def test_the_beat_task_stops_after_seven_days(dns_server, org, owner, queued):
    # given: a claim whose record never appears
    domain = add(org, owner, "contoso.com")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        clock.shift(timedelta(days=7) - timedelta(minutes=1))
        assert email_domain_recheck_sweep() == 1
        assert run_queued(queued) == ["pending"]

        # when: seven days have passed, and the record is published
        clock.shift(timedelta(minutes=10))
        publish_for(dns_server, domain)

        # then: no more automatic checks, even a message queued earlier does nothing
        assert email_domain_recheck_sweep() == 0
        assert check_email_domain.apply(args=(domain.pk,)).get() == "skipped"
        domain.refresh_from_db()
        assert domain.state == EmailDomain.State.PENDING
        assert domains.recheck_stopped(domain)
        # and Check now still works
        assert check(domain, owner).state == EmailDomain.State.VERIFIED


def test_a_removed_domains_queued_check_does_nothing(org, owner):
    domain = add(org, owner, "contoso.com")
    domains.email_domain_remove(domain=domain, actor=Actor.for_user(owner.user))

    assert check_email_domain.apply(args=(domain.pk,)).get() == "skipped"


def test_a_malformed_nameserver_setting_fails_the_system_check(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.DOMAIN_VERIFICATION_NAMESERVERS = "10.0.0.2, dns.example.com"
    with pytest.raises(SystemCheckError, match=r"dns\.example\.com"):
        call_command("check")
    settings.DOMAIN_VERIFICATION_NAMESERVERS = "10.0.0.2, [2001:db8::53]:5353"
    call_command("check")
