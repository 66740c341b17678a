"""Email domains an organization verifies by publishing a DNS TXT record.

Single sign-on sends a person from the sign-in page to the identity provider of the organization
that verified their email address's domain. Anyone can type a domain into a form, so a claim
counts only once the organization proves it controls the domain's DNS: it publishes

    _nordpass-verification.<domain>  TXT  "nordpass-verification=<token>"

with a random token of its own claim. The record lives under a dedicated label, not at the apex:
the apex TXT set already carries SPF, site-verification strings and more (one more string there
is clutter the domain's admins must keep forever), and a second string at the apex that starts
with something other than `v=spf1` is exactly what SPF checkers warn about and what a careless
edit merges into the SPF record. A label of its own is unambiguous, can be removed on its own,
and is the form Google, Atlassian and Okta use for the same purpose.

Several organizations may claim a domain while it is pending (a typo, a subsidiary, a takeover
attempt); the first to publish its record and check wins, and a partial unique constraint
(`email_domain_verified_once`) makes that hold across concurrent checks. Once verified, a domain
stays verified until an owner removes it: the record may then be deleted from DNS. A Celery beat
task re-checks pending claims every 10 minutes for 7 days, so a record published after the
owner left the page still verifies by itself.

Lookups go through dnspython to the nameservers named by DOMAIN_VERIFICATION_NAMESERVERS
(`host[:port]`, comma-separated; empty: the system resolver) with DOMAIN_VERIFICATION_TIMEOUT.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from datetime import datetime, timedelta

import dns.exception
import dns.nameserver
import dns.resolver
import idna
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.audit import Actor, audit_log_record
from accounts.exceptions import InvalidInput
from accounts.models import Organization
from integrations.models import EmailDomain

RECORD_LABEL = "_nordpass-verification"
RECORD_PREFIX = "nordpass-verification="
# The beat task (integrations.email_domain_recheck_sweep) runs every 10 minutes; a claim checked
# by a person within the last 5 minutes waits for the next run.
RECHECK_AFTER = timedelta(minutes=5)
# How long the beat task keeps re-checking a pending claim; "Check now" works at any time.
RECHECK_FOR = timedelta(days=7)

TAKEN = "This domain is verified by another organization, so it cannot be verified here."

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
_NOT_IN_A_DOMAIN = re.compile(r"[\s/\\:?#\[\]]")


# --- Names ---------------------------------------------------------------------------------------


def domain_normalize(value: str) -> str:
    """The domain as stored and looked up: lowercase ASCII (punycode for IDNs), no trailing dot.

    Liberal in what it takes (an email address or `@example.com` gives its domain, `Example.COM.`
    is example.com, `bücher.example` is xn--bcher-kva.example) and strict in what it keeps: a host
    name of at least two labels with an alphabetic top-level domain, never an IP address.
    """
    text = value.strip()
    if "@" in text:
        text = text.rsplit("@", 1)[1]
    text = text.removesuffix(".")
    if not text:
        raise InvalidInput("Enter a domain, such as example.com.")
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        pass
    else:
        raise InvalidInput("An IP address is not a domain. Enter a domain, such as example.com.")
    if _NOT_IN_A_DOMAIN.search(text):
        raise InvalidInput(
            "Enter only the domain, such as example.com, without https:// or a path."
        )
    try:
        ascii_name = idna.encode(text, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError):
        raise InvalidInput(
            f"“{text[:100]}” is not a valid domain name: use letters, digits and hyphens, "
            "with dots between the parts."
        ) from None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InvalidInput(
            f"“{text[:100]}” is not a valid domain name: use letters, digits and hyphens, "
            "with dots between the parts."
        )
    if len(labels) < 2:
        raise InvalidInput(
            "Enter the full domain, such as example.com, not only a top-level domain."
        )
    if not _TLD.match(labels[-1]):
        raise InvalidInput(f"“{text[:100]}” does not end in a top-level domain such as .com.")
    return ascii_name


def domain_display(domain: str) -> str:
    """The domain as people write it (Unicode for an IDN); the ASCII form when it cannot be."""
    try:
        return str(idna.decode(domain))
    except (idna.IDNAError, UnicodeError):
        return domain


def record_name(domain: EmailDomain) -> str:
    return f"{RECORD_LABEL}.{domain.domain}"


def record_value(domain: EmailDomain) -> str:
    return f"{RECORD_PREFIX}{domain.token}"


# --- Reads ---------------------------------------------------------------------------------------


def organization_domains(organization: Organization) -> QuerySet[EmailDomain]:
    """The organization's domains, each annotated with `taken`: verified by another organization."""
    verified_elsewhere = EmailDomain.objects.filter(
        domain=OuterRef("domain"), state=EmailDomain.State.VERIFIED
    ).exclude(organization=OuterRef("organization"))
    return EmailDomain.objects.filter(organization=organization).annotate(
        taken=Exists(verified_elsewhere)
    )


def domain_for_organization(organization: Organization, domain_id: int) -> EmailDomain | None:
    return EmailDomain.objects.filter(organization=organization, pk=domain_id).first()


def _verified_elsewhere(domain: EmailDomain) -> bool:
    return (
        EmailDomain.objects.filter(domain=domain.domain, state=EmailDomain.State.VERIFIED)
        .exclude(pk=domain.pk)
        .exists()
    )


# --- DNS -----------------------------------------------------------------------------------------


def _nameservers(value: str) -> list[dns.nameserver.Nameserver]:
    """`10.0.0.2, 10.0.0.3:5353, [2001:db8::53]:53` → dnspython nameservers (IP addresses only:
    the resolver that would resolve a nameserver's name is the one being configured)."""
    servers: list[dns.nameserver.Nameserver] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = rest.removeprefix(":") or "53"
        elif item.count(":") == 1:
            host, port = item.split(":")
        else:
            host, port = item, "53"
        try:
            ipaddress.ip_address(host)
            port_number = int(port)
        except ValueError:
            raise ImproperlyConfigured(
                f"DOMAIN_VERIFICATION_NAMESERVERS: {item!r} is not an IP address with an "
                "optional :port."
            ) from None
        servers.append(dns.nameserver.Do53Nameserver(host, port_number))
    return servers


def _resolver() -> dns.resolver.Resolver:
    servers = _nameservers(settings.DOMAIN_VERIFICATION_NAMESERVERS)
    if servers:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = servers
    else:
        resolver = dns.resolver.Resolver()
    resolver.timeout = resolver.lifetime = settings.DOMAIN_VERIFICATION_TIMEOUT
    resolver.cache = None  # A record published a minute ago must be seen now.
    return resolver


def txt_values(name: str) -> list[str]:
    """Every TXT record at `name`, each record's strings joined (RFC 7208 §3.3 splits long ones)."""
    answer = _resolver().resolve(name, "TXT", search=False)
    return [
        b"".join(rdata.strings).decode("utf-8", errors="replace")
        for rdata in answer
        if hasattr(rdata, "strings")
    ]


def _lookup_failure(domain: EmailDomain) -> str:
    """Why the domain's record does not prove the claim, in words for the admin ("" if it does)."""
    name = record_name(domain)
    expected = record_value(domain)
    timeout = settings.DOMAIN_VERIFICATION_TIMEOUT
    try:
        values = txt_values(name)
    except dns.resolver.NXDOMAIN:
        return (
            f"No DNS record named {name} was found. Publish the TXT record below at your DNS "
            "provider; new records can take up to an hour to appear."
        )
    except dns.resolver.NoAnswer:
        return f"The name {name} exists in DNS but has no TXT record. Add the TXT record below."
    except dns.exception.Timeout:
        return (
            f"The DNS servers did not answer within {timeout:g} seconds. This is usually "
            "temporary: try again in a few minutes."
        )
    except dns.resolver.NoNameservers:
        return (
            f"The DNS servers for {domain.domain} refused or failed to answer. Check that the "
            "domain is registered and its DNS is working, then try again."
        )
    except dns.resolver.NoResolverConfiguration:
        return "This server has no DNS resolver configured. Contact the service's operator."
    except dns.exception.DNSException:
        return f"The DNS lookup of {name} failed. Try again in a few minutes."
    if any(value.strip().strip('"') == expected for value in values):
        return ""
    return (
        f"{name} has a TXT record, but not the value below (found {len(values)} "
        f"value{'s' if len(values) != 1 else ''}). Check it for typos, or replace a value left "
        "from an earlier claim of this domain."
    )


# --- Services ------------------------------------------------------------------------------------


def _audit_state(domain: EmailDomain) -> dict[str, str | None]:
    return {
        "domain": domain.domain,
        "state": domain.state,
        "verified_at": domain.verified_at.isoformat() if domain.verified_at else None,
    }


def email_domain_add(*, organization: Organization, actor: Actor, domain: str) -> EmailDomain:
    """Claim a domain for the organization: a pending claim with a fresh token to publish.

    A domain another organization verified may still be claimed (it shows as taken, and verifies
    if that organization removes it); the page never says which organization holds it.
    """
    name = domain_normalize(domain)
    with transaction.atomic():
        if EmailDomain.objects.filter(organization=organization, domain=name).exists():
            raise InvalidInput(f"{domain_display(name)} is already on the list.")
        try:
            with transaction.atomic():
                row = EmailDomain.objects.create(
                    organization=organization,
                    domain=name,
                    token=secrets.token_hex(16),
                    added_by=actor.user,
                    added_by_label=actor.label[:254],
                )
        except IntegrityError:
            # The same owner's second tab, a moment earlier.
            raise InvalidInput(f"{domain_display(name)} is already on the list.") from None
        audit_log_record(
            organization=organization,
            actor=actor,
            action="email_domain.added",
            target=row,
            after=_audit_state(row),
        )
    return row


def email_domain_check(*, domain: EmailDomain, actor: Actor) -> EmailDomain:
    """Look the domain's record up now; verify the claim when it matches. Returns the fresh row.

    The DNS lookup runs outside any transaction (it may take DOMAIN_VERIFICATION_TIMEOUT); the
    verification then takes the row's lock and lets the partial unique constraint decide a race
    with another organization. A failure is audited only when its reason differs from the last
    one, so the beat task re-checking every 10 minutes writes one audit row, not a thousand.
    """
    if domain.state == EmailDomain.State.VERIFIED:
        return domain
    failure = TAKEN if _verified_elsewhere(domain) else _lookup_failure(domain)
    now = timezone.now()
    with transaction.atomic():
        row = EmailDomain.objects.select_for_update().filter(pk=domain.pk).first()
        if row is None or row.state == EmailDomain.State.VERIFIED:
            return row or domain  # Removed, or verified by a concurrent check, meanwhile.
        if not failure and _verified_elsewhere(row):
            failure = TAKEN
        if not failure:
            before = _audit_state(row)
            try:
                with transaction.atomic():
                    EmailDomain.objects.filter(pk=row.pk).update(
                        state=EmailDomain.State.VERIFIED,
                        verified_at=now,
                        last_checked_at=now,
                        last_error="",
                    )
            except IntegrityError:
                failure = TAKEN  # Another organization's check committed first.
            else:
                row.refresh_from_db()
                audit_log_record(
                    organization=row.organization,
                    actor=actor,
                    action="email_domain.verified",
                    target=row,
                    before=before,
                    after=_audit_state(row),
                )
                return row
        reason_changed = failure != row.last_error
        row.last_error = failure
        row.last_checked_at = now
        row.save(update_fields=["last_error", "last_checked_at"])
        if reason_changed:
            audit_log_record(
                organization=row.organization,
                actor=actor,
                action="email_domain.verification_failed",
                target=row,
                after={"domain": row.domain, "reason": failure},
            )
    return row


def email_domain_remove(*, domain: EmailDomain, actor: Actor) -> None:
    """Drop the claim (verified or not): its people are no longer routed by this domain, and
    another organization's pending claim may verify it."""
    with transaction.atomic():
        row = EmailDomain.objects.select_for_update().filter(pk=domain.pk).first()
        if row is None:
            return
        audit_log_record(
            organization=row.organization,
            actor=actor,
            action="email_domain.removed",
            target=row,
            before=_audit_state(row),
        )
        row.delete()


# --- Background re-checks ------------------------------------------------------------------------


def recheck_stopped(domain: EmailDomain, *, now: datetime | None = None) -> bool:
    """Whether the beat task gave up on this pending claim (it is older than RECHECK_FOR)."""
    return (now or timezone.now()) - domain.created_at > RECHECK_FOR


def email_domains_due(*, now: datetime | None = None) -> list[int]:
    """Pending claims the beat task checks now: younger than RECHECK_FOR, not checked within
    RECHECK_AFTER, and not verified by another organization (no lookup can change that)."""
    now = now or timezone.now()
    verified_elsewhere = EmailDomain.objects.filter(
        domain=OuterRef("domain"), state=EmailDomain.State.VERIFIED
    )
    return list(
        EmailDomain.objects.filter(
            state=EmailDomain.State.PENDING, created_at__gt=now - RECHECK_FOR
        )
        .filter(Q(last_checked_at__isnull=True) | Q(last_checked_at__lte=now - RECHECK_AFTER))
        .exclude(Exists(verified_elsewhere))
        .order_by("last_checked_at", "pk")
        .values_list("pk", flat=True)
    )


def email_domain_recheck(domain_id: int, *, now: datetime | None = None) -> str:
    """The beat task's check of one claim: "verified", "pending", or "skipped" for a claim that is
    gone, already verified, checked moments ago, or past RECHECK_FOR (a redelivered task, or one
    queued before an owner's Check now, does nothing)."""
    now = now or timezone.now()
    domain = EmailDomain.objects.filter(pk=domain_id).first()
    if (
        domain is None
        or domain.state != EmailDomain.State.PENDING
        or recheck_stopped(domain, now=now)
        or (domain.last_checked_at is not None and now - domain.last_checked_at < RECHECK_AFTER)
    ):
        return "skipped"
    row = email_domain_check(domain=domain, actor=Actor.system("Automatic DNS check"))
    return str(row.state)
