"""An organization's single sign-on connection, as its owners set it up on the Integrations pages.

What the admin types becomes an `SsoConnection` (integrations/models.py) here; what the protocol
does with it is integrations/oidc.py, and the sign-in flow is accounts/sso_views.py.

- Microsoft Entra ID takes the directory (tenant) ID alone, and the panel builds the single-tenant
  issuer `https://login.microsoftonline.com/{tenant}/v2.0`; a full issuer URL is taken too (the
  national clouds, such as login.microsoftonline.us). Either way the issuer names one tenant:
  `common` or `organizations` would let any Microsoft tenant's people in.
  https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri
- Okta and any other provider take the issuer URL (an Okta org, or a custom authorization server
  such as https://example.okta.com/oauth2/default); a pasted discovery URL is taken as its issuer.
- On every save, discovery runs against the issuer and its metadata must name exactly that issuer
  (OpenID Connect Discovery 1.0 §4.3), so a typo is caught while the owner is still on the page,
  not by the first person who tries to sign in.

The client secret is sealed (accounts.twofactor.seal_secret), never shown again, never written to
an audit row or a log line; a blank secret on a later save keeps the sealed one.

Only active owners change any of it: single sign-on decides who gets into the organization. The
"required" policy is refused until single sign-on was tested successfully and while no active
owner has two-factor sign-in, because owners keep password + two-factor as the break-glass way
in (accounts/session_scope.py never applies "required" to owners).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from email.utils import make_msgid
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts import twofactor as tf
from accounts.audit import Actor, audit_log_record
from accounts.exceptions import InvalidInput
from accounts.models import Member, Organization
from integrations import oidc
from integrations.models import SsoConnection
from integrations.providers import ENTRA_ID, PROVIDERS_BY_SLUG

logger = logging.getLogger(__name__)

# Owners and admins are warned (page, dashboard, one email) this long before the secret expires.
EXPIRY_WARNING = timedelta(days=30)
WELL_KNOWN = "/.well-known/openid-configuration"
EXAMPLE_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


class SsoNotAllowed(InvalidInput):
    """The person is not an active owner of the organization."""


class SsoInputError(InvalidInput):
    """A value the owner typed is refused; `field` names it ("issuer", "client_id",
    "client_secret", "secret_expires_on") so the form shows the message next to it."""

    def __init__(self, message: str, *, field: str) -> None:
        self.field = field
        super().__init__(message)


class SecretUnavailable(oidc.SsoError):
    """The sealed client secret no longer opens (SECRET_KEY changed without the old key kept in
    SECRET_KEY_FALLBACKS): an owner must enter the secret again."""


# --- Reads ---------------------------------------------------------------------------------------


def sso_redirect_uri() -> str:
    """The one redirect URI every organization registers at its provider."""
    return settings.SITE_URL + "/sso/callback/"


def sso_sign_in_url(organization: Organization) -> str:
    """The organization's own sign-in address: bookmarks, and the app launcher's home page."""
    return f"{settings.SITE_URL}/sso/{organization.slug}/"


def sso_connection_for(organization: Organization) -> SsoConnection | None:
    return SsoConnection.objects.filter(organization=organization).first()


def owners_with_two_factor(organization: Organization) -> QuerySet[Member]:
    """Active owners who sign in with a second factor: the break-glass way in."""
    return Member.objects.filter(
        organization=organization,
        role=Member.Role.OWNER,
        status=Member.Status.ACTIVE,
        user__two_factor_device__confirmed_at__isnull=False,
    )


@sensitive_variables("secret")
def sso_client_config(connection: SsoConnection) -> oidc.OidcClientConfig:
    """The relying-party configuration integrations/oidc.py signs in with."""
    secret = tf.open_secret(connection.client_secret_sealed)
    if secret is None:
        raise SecretUnavailable(
            "The stored client secret can no longer be read: an owner must enter it again on "
            "the Integrations page."
        )
    redirect_uri = sso_redirect_uri()
    tenant = connection.entra_tenant_id
    if tenant and connection.issuer == oidc.entra_issuer(tenant):
        return oidc.entra_client_config(
            tenant_id=tenant,
            client_id=connection.client_id,
            client_secret=secret.decode(),
            redirect_uri=redirect_uri,
        )
    return oidc.OidcClientConfig(
        issuer=connection.issuer,
        client_id=connection.client_id,
        client_secret=secret.decode(),
        redirect_uri=redirect_uri,
        entra_tenant_id=tenant or None,
    )


@dataclass(frozen=True)
class SecretExpiry:
    """A client secret that expires within EXPIRY_WARNING, or has expired."""

    expires_on: date
    days_left: int

    @property
    def expired(self) -> bool:
        return self.days_left < 0


def sso_secret_expiry(
    connection: SsoConnection | None, *, today: date | None = None
) -> SecretExpiry | None:
    """What the page and the dashboard warn about; None while the secret has time left."""
    if connection is None or connection.secret_expires_on is None:
        return None
    days_left = (connection.secret_expires_on - (today or timezone.localdate())).days
    if days_left > EXPIRY_WARNING.days:
        return None
    return SecretExpiry(expires_on=connection.secret_expires_on, days_left=days_left)


# --- Input ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuerInput:
    issuer: str
    entra_tenant_id: str


def _guid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def issuer_from_input(*, provider: str, value: str) -> IssuerInput:
    """The issuer (and Entra tenant) an owner means by what they typed, or InvalidInput saying
    what to type instead. Network-free: discovery is `sso_connection_save`'s second step."""
    text = value.strip()
    entra = provider == ENTRA_ID.slug
    if not text:
        raise SsoInputError(
            "Enter the directory (tenant) ID or the issuer URL."
            if entra
            else "Enter the issuer URL, such as https://example.okta.com/oauth2/default.",
            field="issuer",
        )
    if entra and "/" not in text:
        tenant = _guid(text)
        if tenant is None:
            raise SsoInputError(
                f"The directory (tenant) ID is a GUID such as {EXAMPLE_TENANT}: copy it from "
                "the app registration's Overview, or enter the full issuer URL.",
                field="issuer",
            )
        return IssuerInput(issuer=oidc.entra_issuer(tenant), entra_tenant_id=tenant)
    if text.endswith(WELL_KNOWN):
        text = text.removesuffix(WELL_KNOWN)
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise SsoInputError(
            "Enter the issuer as a full URL that starts with https://.", field="issuer"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise SsoInputError(
            "An issuer URL has no query (?...), fragment (#...) or user name.", field="issuer"
        )
    try:
        oidc.check_url_scheme(text)
    except oidc.InsecureIssuer:
        raise SsoInputError(
            "The issuer must be an https:// URL: an identity provider reached over plain http "
            "could be impersonated by anyone on the network path.",
            field="issuer",
        ) from None
    tenant = ""
    if entra:
        tenant = _guid(parts.path.strip("/").split("/")[0]) or ""
        if not tenant:
            raise SsoInputError(
                "An Entra ID issuer names your directory (tenant) ID, such as "
                f"https://login.microsoftonline.com/{EXAMPLE_TENANT}/v2.0 ('common' or "
                "'organizations' would let people of any Microsoft tenant in).",
                field="issuer",
            )
    return IssuerInput(issuer=text, entra_tenant_id=tenant)


def _confirmed_issuer(issuer: str) -> str:
    """The issuer once discovery confirms it. Its metadata must name it exactly; the one leniency
    is a trailing slash (both forms fetch the same discovery document, Discovery §4), so the
    provider's own form is kept."""
    try:
        oidc.discover(issuer)
    except oidc.ProviderUnreachable as error:
        raise SsoInputError(
            f"The identity provider did not answer: {error} Check the address for typos.",
            field="issuer",
        ) from None
    except oidc.DiscoveryError as error:
        alternative = issuer.removesuffix("/") if issuer.endswith("/") else issuer + "/"
        try:
            oidc.discover(alternative)
        except oidc.SsoError:
            raise SsoInputError(
                f"This is not the issuer the identity provider names. {error} Copy the issuer "
                "exactly as the provider shows it.",
                field="issuer",
            ) from None
        return alternative
    except oidc.InsecureIssuer as error:
        raise SsoInputError(
            f"The identity provider is not served over https: {error}", field="issuer"
        ) from None
    return issuer


# --- Services ------------------------------------------------------------------------------------


def _owner_actor(organization: Organization, by: Member) -> Actor:
    if (
        by.organization_id != organization.pk
        or by.role != Member.Role.OWNER
        or by.status != Member.Status.ACTIVE
        or by.user is None
    ):
        raise SsoNotAllowed("Only owners of this organization can change single sign-on.")
    return Actor.for_user(by.user)


def _audit_state(row: SsoConnection) -> dict[str, str]:
    """The connection in words for the audit log; never the secret."""
    provider = PROVIDERS_BY_SLUG.get(row.provider)
    return {
        "provider": provider.name if provider else row.provider,
        "issuer": row.issuer,
        "client_id": row.client_id,
        "secret_expires": f"{row.secret_expires_on.day} {row.secret_expires_on:%b %Y}"
        if row.secret_expires_on
        else "not recorded",
        "policy": row.get_policy_display(),
    }


@sensitive_variables("client_secret")
def sso_connection_save(
    *,
    organization: Organization,
    by: Member,
    provider: str,
    issuer_or_tenant: str,
    client_id: str,
    client_secret: str,
    secret_expires_on: date | None,
) -> SsoConnection:
    """Set up or change the organization's connection; a blank `client_secret` keeps the stored
    one. A changed issuer, client or secret clears "last tested": that test proved another
    configuration. The policy is kept as it is."""
    actor = _owner_actor(organization, by)
    if provider not in PROVIDERS_BY_SLUG:
        raise SsoInputError("Unknown identity provider.", field="issuer")
    chosen = issuer_from_input(provider=provider, value=issuer_or_tenant)
    client_id = client_id.strip()
    if not client_id:
        raise SsoInputError(
            "Enter the client ID the identity provider gave the app.", field="client_id"
        )
    if len(client_id) > 255:
        raise SsoInputError(
            "The client ID is longer than 255 characters: check what was pasted.",
            field="client_id",
        )
    client_secret = client_secret.strip()
    existing = sso_connection_for(organization)
    if not client_secret:
        if existing is None or existing.provider != provider:
            # A secret belongs to one app registration: another provider's app needs its own.
            raise SsoInputError(
                "Enter the client secret the identity provider gave the app.",
                field="client_secret",
            )
        if tf.open_secret(existing.client_secret_sealed) is None:
            raise SsoInputError(
                "The stored client secret can no longer be read: enter it again.",
                field="client_secret",
            )
    if (
        secret_expires_on is not None
        and secret_expires_on < timezone.localdate()
        and (existing is None or existing.secret_expires_on != secret_expires_on)
    ):
        raise SsoInputError(
            "That expiry date has passed: create a new client secret and enter it with its "
            "expiry date.",
            field="secret_expires_on",
        )
    # Network, before any lock is taken (it may take SSO_HTTP_TIMEOUT_SECONDS).
    issuer = _confirmed_issuer(chosen.issuer)
    now = timezone.now()
    with transaction.atomic():
        row = SsoConnection.objects.select_for_update().filter(organization=organization).first()
        creating = row is None
        if row is None:
            row = SsoConnection(organization=organization, created_at=now)
        before = {} if creating else _audit_state(row)
        retested = creating or bool(client_secret)
        retested = retested or row.issuer != issuer or row.client_id != client_id
        row.provider = provider
        row.issuer = issuer
        row.entra_tenant_id = chosen.entra_tenant_id
        row.client_id = client_id
        if client_secret:
            row.client_secret_sealed = tf.seal_secret(client_secret.encode())
        row.secret_expires_on = secret_expires_on
        after = _audit_state(row)
        changed = [key for key in after if before.get(key) != after[key]]
        if not creating and not changed and not client_secret:
            return row
        if retested:
            row.tested_at = None
            row.tested_by_label = ""
        row.updated_at = now
        row.save()
        if creating:
            audit_log_record(
                organization=organization,
                actor=actor,
                action="sso_connection.created",
                target=row,
                after={**after, "client_secret": "stored (never shown again)"},
            )
        else:
            secret_words = {"client_secret": "replaced"} if client_secret else {}
            audit_log_record(
                organization=organization,
                actor=actor,
                action="sso_connection.updated",
                target=row,
                before={key: before[key] for key in changed} or None,
                after={**{key: after[key] for key in changed}, **secret_words},
            )
    return row


def sso_policy_set(*, organization: Organization, by: Member, policy: str) -> bool:
    """Off, optional or required; returns whether it changed."""
    actor = _owner_actor(organization, by)
    if policy not in SsoConnection.Policy.values:
        raise InvalidInput("Choose off, optional or required.")
    with transaction.atomic():
        row = SsoConnection.objects.select_for_update().filter(organization=organization).first()
        if row is None:
            if policy == SsoConnection.Policy.OFF:
                return False
            raise InvalidInput("Set up single sign-on first, then choose who must use it.")
        if row.policy == policy:
            return False
        if policy == SsoConnection.Policy.REQUIRED:
            if row.tested_at is None:
                raise InvalidInput(
                    "Test single sign-on successfully first: requiring an untested connection "
                    "could keep everyone but the owners out."
                )
            if not owners_with_two_factor(organization).exists():
                raise InvalidInput(
                    "At least one active owner must have two-factor sign-in on before single "
                    "sign-on can be required: owners keep their password and two-factor sign-in "
                    "as the way in when the identity provider is down."
                )
        before = {"policy": row.get_policy_display()}
        row.policy = policy
        row.updated_at = timezone.now()
        row.save(update_fields=["policy", "updated_at"])
        audit_log_record(
            organization=organization,
            actor=actor,
            action="sso_connection.policy_changed",
            target=row,
            before=before,
            after={"policy": row.get_policy_display()},
        )
    return True


def sso_connection_remove(*, organization: Organization, by: Member) -> bool:
    """Remove the connection: people sign in with their password again. Refused while single
    sign-on is required, so the owner lowers the policy (and tells people) first."""
    actor = _owner_actor(organization, by)
    with transaction.atomic():
        row = SsoConnection.objects.select_for_update().filter(organization=organization).first()
        if row is None:
            return False
        if row.policy == SsoConnection.Policy.REQUIRED:
            raise InvalidInput(
                "Single sign-on is required in this organization: set the policy to Optional "
                "or Off first, then remove it."
            )
        audit_log_record(
            organization=organization,
            actor=actor,
            action="sso_connection.removed",
            target=row,
            before=_audit_state(row),
        )
        row.delete()
    return True


# --- The expiry email ----------------------------------------------------------------------------


def sso_secret_expiry_due(*, today: date | None = None) -> list[int]:
    """Connections whose secret expires within EXPIRY_WARNING (or has expired) and whose owners
    and admins were not emailed about that date yet."""
    today = today or timezone.localdate()
    return list(
        SsoConnection.objects.filter(
            secret_expires_on__isnull=False, secret_expires_on__lte=today + EXPIRY_WARNING
        )
        .exclude(secret_expiry_warned_for=F("secret_expires_on"))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _recipients(organization: Organization) -> list[str]:
    admins = Member.objects.filter(
        organization=organization, role__in=Member.ADMIN_ROLES, status=Member.Status.ACTIVE
    ).select_related("user")
    addresses = {(m.user.email if m.user is not None else "") or m.email for m in admins}
    return sorted(address for address in addresses if address)


def _expiry_message(
    row: SsoConnection, expiry: SecretExpiry, recipients: list[str]
) -> EmailMultiAlternatives:
    provider = PROVIDERS_BY_SLUG.get(row.provider, ENTRA_ID)
    context: dict[str, Any] = {
        "organization": row.organization,
        "provider": provider,
        "expiry": expiry,
        "url": settings.SITE_URL + reverse("integration_detail", args=[provider.slug]),
    }
    domain = urlsplit(settings.SITE_URL).hostname or "localhost"
    message = EmailMultiAlternatives(
        subject=render_to_string("emails/sso_secret_expiry_subject.txt", context).strip(),
        body=render_to_string("emails/sso_secret_expiry.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        headers={"Message-ID": make_msgid(domain=domain)},
    )
    message.attach_alternative(
        render_to_string("emails/sso_secret_expiry.html", context), "text/html"
    )
    return message


def sso_secret_expiry_warn(connection_id: int, *, today: date | None = None) -> str:
    """Email the owners and admins that the client secret expires soon: "sent", "skipped" (not
    due, or already sent for this date), "failed" (nobody to send to) or "retry".

    The conditional UPDATE of `secret_expiry_warned_for` is the claim, so a redelivered task or
    a second sweep sends nothing; a failed send gives the claim back for the next sweep.
    """
    today = today or timezone.localdate()
    row = SsoConnection.objects.select_related("organization").filter(pk=connection_id).first()
    expiry = sso_secret_expiry(row, today=today)
    if row is None or expiry is None or row.secret_expiry_warned_for == expiry.expires_on:
        return "skipped"
    previous = row.secret_expiry_warned_for
    claimed = (
        SsoConnection.objects.filter(pk=row.pk, secret_expires_on=expiry.expires_on)
        .exclude(secret_expiry_warned_for=expiry.expires_on)
        .update(secret_expiry_warned_for=expiry.expires_on)
    )
    if not claimed:
        return "skipped"
    recipients = _recipients(row.organization)
    if not recipients:
        logger.warning("SSO connection %s: no owner or admin has an email address", row.pk)
        return "failed"
    try:
        _expiry_message(row, expiry, recipients).send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - any backend error: the next sweep tries again
        SsoConnection.objects.filter(pk=row.pk, secret_expiry_warned_for=expiry.expires_on).update(
            secret_expiry_warned_for=previous
        )
        logger.warning("SSO connection %s: expiry email failed (%s)", row.pk, type(exc).__name__)
        return "retry"
    return "sent"
