"""The admin's side of single sign-on without a provider on the wire: what the issuer field
accepts, who may change the connection, the policy's preconditions, the secret's expiry warnings
and email, and the provider pages. Saving against a real provider: tests/sso/test_sso_admin.py."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from accounts import twofactor as tf
from accounts.exceptions import InvalidInput
from accounts.models import AuditLogEntry, Member, TwoFactorDevice
from integrations import oidc, sso
from integrations.models import SsoConnection
from integrations.tasks import sso_secret_expiry_sweep, warn_sso_secret_expiry
from tests.conftest import signed_in_client
from tests.factories import AdminFactory, OwnerFactory

TENANT = "6f1b2c4d-8e9f-4a0b-9c1d-2e3f4a5b6c7d"
SECRET = "Xy7~plain-client-secret-value-0123456789"


def connection_for(owner: Member, **fields: object) -> SsoConnection:
    """A connection as a save would leave it (saving itself needs a provider: tests/sso/)."""
    values: dict[str, object] = {
        "provider": "entra-id",
        "issuer": oidc.entra_issuer(TENANT),
        "entra_tenant_id": TENANT,
        "client_id": "11111111-2222-3333-4444-555555555555",
        "client_secret_sealed": tf.seal_secret(SECRET.encode()),
        **fields,
    }
    return SsoConnection.objects.create(organization=owner.organization, **values)


def two_factor_on(member: Member) -> None:
    assert member.user is not None
    TwoFactorDevice.objects.create(
        user=member.user, secret=tf.seal_secret(b"k" * 20), confirmed_at=timezone.now()
    )


# --- What the issuer field accepts ----------------------------------------------------------------


@pytest.mark.parametrize("typed", [TENANT, TENANT.upper(), f"  {{{TENANT}}} "])
def test_an_entra_directory_id_alone_becomes_the_single_tenant_issuer(typed):
    # when
    chosen = sso.issuer_from_input(provider="entra-id", value=typed)
    # then
    assert chosen.issuer == f"https://login.microsoftonline.com/{TENANT}/v2.0"
    assert chosen.entra_tenant_id == TENANT


def test_an_entra_national_cloud_issuer_keeps_its_host_and_names_the_tenant():
    chosen = sso.issuer_from_input(
        provider="entra-id", value=f"https://login.microsoftonline.us/{TENANT}/v2.0"
    )
    assert chosen.issuer == f"https://login.microsoftonline.us/{TENANT}/v2.0"
    assert chosen.entra_tenant_id == TENANT


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("contoso.onmicrosoft.com", "is a GUID"),
        ("https://login.microsoftonline.com/common/v2.0", "any Microsoft tenant"),
        ("https://login.microsoftonline.com/organizations/v2.0", "any Microsoft tenant"),
        ("", "Enter the directory"),
    ],
)
def test_entra_refuses_what_does_not_name_one_tenant(typed, says):
    with pytest.raises(sso.SsoInputError, match=says) as refused:
        sso.issuer_from_input(provider="entra-id", value=typed)
    assert refused.value.field == "issuer"


def test_a_pasted_discovery_url_is_taken_as_its_issuer():
    chosen = sso.issuer_from_input(
        provider="okta",
        value="https://example.okta.com/oauth2/default/.well-known/openid-configuration",
    )
    assert chosen.issuer == "https://example.okta.com/oauth2/default"
    assert chosen.entra_tenant_id == ""


@pytest.mark.parametrize(
    "typed",
    [
        "http://example.okta.com",
        "http://10.0.0.5/oauth2/default",
        "example.okta.com",
        "https://example.okta.com/?x=1",
        "https://user:pass@example.okta.com",
    ],
)
def test_okta_and_other_take_an_https_issuer_url_only(typed, settings):
    settings.SSO_ALLOW_INSECURE_LOOPBACK_ISSUER = True
    for provider in ("okta", "scim"):
        with pytest.raises(sso.SsoInputError):
            sso.issuer_from_input(provider=provider, value=typed)


def test_http_on_loopback_needs_the_setting(settings):
    # given the setting off (the default)
    settings.SSO_ALLOW_INSECURE_LOOPBACK_ISSUER = False
    with pytest.raises(sso.SsoInputError, match="https://"):
        sso.issuer_from_input(provider="okta", value="http://127.0.0.1:9000/oauth2/default")
    # when it is on, then loopback http is taken
    settings.SSO_ALLOW_INSECURE_LOOPBACK_ISSUER = True
    chosen = sso.issuer_from_input(provider="okta", value="http://127.0.0.1:9000/oauth2/default")
    assert chosen.issuer == "http://127.0.0.1:9000/oauth2/default"


# --- Owners only ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_only_an_active_owner_of_the_organization_changes_single_sign_on():
    owner = OwnerFactory()
    connection_for(owner)
    admin = AdminFactory(organization=owner.organization)
    other_owner = OwnerFactory()
    suspended_owner = OwnerFactory(organization=owner.organization, status=Member.Status.SUSPENDED)
    for by in (admin, other_owner, suspended_owner):
        with pytest.raises(sso.SsoNotAllowed):
            sso.sso_connection_save(
                organization=owner.organization,
                by=by,
                provider="okta",
                issuer_or_tenant="https://example.okta.com",
                client_id="x",
                client_secret="y",
                secret_expires_on=None,
            )
        with pytest.raises(sso.SsoNotAllowed):
            sso.sso_policy_set(organization=owner.organization, by=by, policy="optional")
        with pytest.raises(sso.SsoNotAllowed):
            sso.sso_connection_remove(organization=owner.organization, by=by)
    row = SsoConnection.objects.get()
    assert (row.provider, row.policy) == ("entra-id", "off")
    assert not AuditLogEntry.objects.filter(action__startswith="sso_connection.").exists()


@pytest.mark.django_db
def test_the_first_save_needs_a_secret_and_a_client_id():
    owner = OwnerFactory()
    with pytest.raises(sso.SsoInputError) as no_secret:
        sso.sso_connection_save(
            organization=owner.organization,
            by=owner,
            provider="entra-id",
            issuer_or_tenant=TENANT,
            client_id="abc",
            client_secret="  ",
            secret_expires_on=None,
        )
    assert no_secret.value.field == "client_secret"
    with pytest.raises(sso.SsoInputError) as no_client:
        sso.sso_connection_save(
            organization=owner.organization,
            by=owner,
            provider="entra-id",
            issuer_or_tenant=TENANT,
            client_id=" ",
            client_secret=SECRET,
            secret_expires_on=None,
        )
    assert no_client.value.field == "client_id"
    with pytest.raises(sso.SsoInputError) as past:
        sso.sso_connection_save(
            organization=owner.organization,
            by=owner,
            provider="entra-id",
            issuer_or_tenant=TENANT,
            client_id="abc",
            client_secret=SECRET,
            secret_expires_on=timezone.localdate() - timedelta(days=1),
        )
    assert past.value.field == "secret_expires_on"
    assert not SsoConnection.objects.exists()


# --- The policy -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_policy_needs_a_connection():
    owner = OwnerFactory()
    assert sso.sso_policy_set(organization=owner.organization, by=owner, policy="off") is False
    with pytest.raises(InvalidInput, match="Set up single sign-on first"):
        sso.sso_policy_set(organization=owner.organization, by=owner, policy="optional")


@pytest.mark.django_db
def test_required_is_refused_until_single_sign_on_was_tested():
    # given an owner with two-factor sign-in, and a connection never tested
    owner = OwnerFactory()
    two_factor_on(owner)
    connection_for(owner)
    # when / then
    with pytest.raises(InvalidInput, match="Test single sign-on successfully first"):
        sso.sso_policy_set(organization=owner.organization, by=owner, policy="required")
    assert SsoConnection.objects.get().policy == "off"


@pytest.mark.django_db
def test_required_is_refused_while_no_active_owner_has_two_factor_sign_in():
    # given a tested connection; two-factor only on an admin and on a suspended owner
    owner = OwnerFactory()
    connection_for(owner, tested_at=timezone.now(), tested_by_label=owner.email)
    two_factor_on(AdminFactory(organization=owner.organization))
    two_factor_on(OwnerFactory(organization=owner.organization, status=Member.Status.SUSPENDED))
    # when / then
    with pytest.raises(InvalidInput, match="two-factor sign-in on before"):
        sso.sso_policy_set(organization=owner.organization, by=owner, policy="required")
    # and optional needs neither
    assert sso.sso_policy_set(organization=owner.organization, by=owner, policy="optional")
    assert SsoConnection.objects.get().policy == "optional"


@pytest.mark.django_db
def test_required_is_accepted_when_another_active_owner_has_two_factor_and_is_audited():
    # given a tested connection, and a second owner with two-factor sign-in
    owner = OwnerFactory()
    connection_for(owner, tested_at=timezone.now(), tested_by_label=owner.email)
    two_factor_on(OwnerFactory(organization=owner.organization))
    # when
    changed = sso.sso_policy_set(organization=owner.organization, by=owner, policy="required")
    # then
    assert changed is True
    entry = AuditLogEntry.objects.get(action="sso_connection.policy_changed")
    assert entry.actor_label == owner.email
    assert entry.before == {"policy": "Off"}
    assert entry.after == {"policy": "Required: single sign-on only (owners keep a password)"}
    # and setting it again changes nothing and writes nothing
    assert not sso.sso_policy_set(organization=owner.organization, by=owner, policy="required")
    assert AuditLogEntry.objects.filter(action="sso_connection.policy_changed").count() == 1


@pytest.mark.django_db
def test_removal_is_refused_while_required_and_audited_without_the_secret_after():
    owner = OwnerFactory()
    connection_for(owner, policy="required", tested_at=timezone.now())
    with pytest.raises(InvalidInput, match="Optional or Off first"):
        sso.sso_connection_remove(organization=owner.organization, by=owner)
    assert sso.sso_policy_set(organization=owner.organization, by=owner, policy="off")
    # when
    assert sso.sso_connection_remove(organization=owner.organization, by=owner) is True
    # then
    assert not SsoConnection.objects.exists()
    entry = AuditLogEntry.objects.get(action="sso_connection.removed")
    assert entry.before["issuer"] == oidc.entra_issuer(TENANT)
    assert SECRET not in str(entry.before)
    assert sso.sso_connection_remove(organization=owner.organization, by=owner) is False


# --- The relying party's configuration ------------------------------------------------------------


@pytest.mark.django_db
def test_client_config_of_an_entra_tenant_and_of_an_issuer(settings):
    settings.SITE_URL = "https://panel.example.com"
    owner = OwnerFactory()
    entra = connection_for(owner)
    config = sso.sso_client_config(entra)
    assert config == oidc.entra_client_config(
        tenant_id=TENANT,
        client_id=entra.client_id,
        client_secret=SECRET,
        redirect_uri="https://panel.example.com/sso/callback/",
    )
    entra.provider, entra.issuer, entra.entra_tenant_id = "okta", "https://x.okta.com", ""
    okta = sso.sso_client_config(entra)
    assert (okta.issuer, okta.client_secret, okta.entra_tenant_id) == (
        "https://x.okta.com",
        SECRET,
        None,
    )
    entra.client_secret_sealed = "not-a-sealed-value"
    with pytest.raises(sso.SecretUnavailable):
        sso.sso_client_config(entra)


# --- Secret expiry --------------------------------------------------------------------------------


def test_the_expiry_warning_starts_30_days_ahead():
    today = date(2027, 3, 1)
    row = SsoConnection(secret_expires_on=date(2027, 3, 31))
    assert sso.sso_secret_expiry(row, today=today) == sso.SecretExpiry(date(2027, 3, 31), 30)
    assert sso.sso_secret_expiry(row, today=date(2027, 2, 28)) is None
    expired = sso.sso_secret_expiry(row, today=date(2027, 4, 2))
    assert expired is not None and expired.expired and expired.days_left == -2
    assert sso.sso_secret_expiry(SsoConnection(), today=today) is None


@pytest.mark.django_db
def test_dashboard_and_provider_page_warn_owners_and_admins():
    owner = OwnerFactory()
    connection_for(owner, secret_expires_on=timezone.localdate() + timedelta(days=12))
    admin = AdminFactory(organization=owner.organization)
    for member in (owner, admin):
        client = signed_in_client(member)
        dashboard = client.get("/").content.decode()
        assert 'data-testid="sso-secret-expiry-banner"' in dashboard
        assert "in 12 days" in dashboard
        page = client.get("/integrations/entra-id/").content.decode()
        assert 'data-testid="sso-secret-expiry"' in page


@pytest.mark.django_db
def test_no_warning_while_the_secret_has_more_than_30_days():
    owner = OwnerFactory()
    connection_for(owner, secret_expires_on=timezone.localdate() + timedelta(days=31))
    client = signed_in_client(owner)
    assert b"sso-secret-expiry" not in client.get("/").content
    assert b"sso-secret-expiry" not in client.get("/integrations/entra-id/").content


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """What the sweep hands the broker; the test runs each as the worker would."""
    ids: list[int] = []
    monkeypatch.setattr(warn_sso_secret_expiry, "delay", lambda pk: ids.append(pk))
    return ids


@pytest.mark.django_db
def test_owners_and_admins_get_one_email_per_expiry_date(smtp, queued):
    # given a secret expiring in 20 days, an owner, an admin and a plain member
    owner = OwnerFactory(email="owner@contoso.example")
    AdminFactory(organization=owner.organization, email="admin@contoso.example")
    AdminFactory(
        organization=owner.organization,
        email="gone@contoso.example",
        status=Member.Status.SUSPENDED,
    )
    row = connection_for(owner, secret_expires_on=timezone.localdate() + timedelta(days=20))

    # when the sweep runs twice, each queued task runs, and one is redelivered
    assert sso_secret_expiry_sweep() == 1
    assert sso_secret_expiry_sweep() == 1  # not sent yet: queued again
    outcomes = [warn_sso_secret_expiry.apply(args=(pk,)).get() for pk in queued]
    outcomes.append(warn_sso_secret_expiry.apply(args=(row.pk,)).get())

    # then one email, through a real SMTP server, to the active owner and admin
    assert sorted(outcomes) == ["sent", "skipped", "skipped"]
    (message,) = smtp.wait_for(1, timeout=10)
    assert sorted(message["To"].split(", ")) == ["admin@contoso.example", "owner@contoso.example"]
    assert "expires" in message["Subject"]
    assert owner.organization.name in message["Subject"]
    body = message.get_payload(0).get_payload(decode=True).decode()
    assert "in 20 days" in body
    assert "/integrations/entra-id/" in body
    assert SECRET not in message.as_string()
    assert sso_secret_expiry_sweep() == 0

    # when a new secret with a new date is entered, and that date comes near too
    SsoConnection.objects.filter(pk=row.pk).update(
        secret_expires_on=timezone.localdate() + timedelta(days=5)
    )
    assert sso_secret_expiry_sweep() == 1
    assert warn_sso_secret_expiry.apply(args=(row.pk,)).get() == "sent"
    assert len(smtp.wait_for(2, timeout=10)) == 2


@pytest.mark.django_db
def test_a_failed_send_is_tried_again_by_the_next_sweep(settings, queued):
    # given an SMTP server that is not there
    from tests.support import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    owner = OwnerFactory()
    row = connection_for(owner, secret_expires_on=timezone.localdate() + timedelta(days=3))
    # when
    assert sso.sso_secret_expiry_warn(row.pk) == "retry"
    # then the date is not marked as warned, so the next sweep queues it again
    row.refresh_from_db()
    assert row.secret_expiry_warned_for is None
    assert sso_secret_expiry_sweep() == 1


# --- The provider pages ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["entra-id", "okta", "scim"])
def test_every_provider_page_shows_the_redirect_uri_and_sign_in_address(slug, settings):
    settings.SITE_URL = "https://panel.example.com"
    owner = OwnerFactory()
    page = signed_in_client(owner).get(f"/integrations/{slug}/").content.decode()
    assert "https://panel.example.com/sso/callback/" in page
    assert f"https://panel.example.com/sso/{owner.organization.slug}/" in page
    assert 'data-testid="sso-issuer"' in page
    assert 'data-testid="sso-save"' in page
    assert "js/copy.js" in page
    assert "<script>" not in page and "style=" not in page


@pytest.mark.django_db
def test_an_admin_sees_single_sign_on_read_only_and_every_post_is_403():
    # given
    owner = OwnerFactory()
    connection_for(owner)
    admin = AdminFactory(organization=owner.organization)
    client = signed_in_client(admin)
    # when
    page = client.get("/integrations/entra-id/").content.decode()
    posts = [
        client.post("/integrations/entra-id/sso/", {"issuer": TENANT, "client_id": "x"}),
        client.post("/integrations/entra-id/sso/policy/", {"policy": "optional"}),
        client.post("/integrations/entra-id/sso/remove/"),
    ]
    # then
    assert 'data-testid="sso-read-only"' in page
    assert 'data-testid="sso-save"' not in page
    assert [response.status_code for response in posts] == [403, 403, 403]
    assert SsoConnection.objects.get().policy == "off"


@pytest.mark.django_db
def test_the_page_never_shows_the_secret_and_says_it_is_kept():
    owner = OwnerFactory()
    connection_for(owner, tested_at=timezone.now(), tested_by_label="tester@contoso.example")
    page = signed_in_client(owner).get("/integrations/entra-id/").content.decode()
    assert SECRET not in page
    assert SsoConnection.objects.get().client_secret_sealed not in page
    assert "leave blank to keep it" in page
    assert f'value="{TENANT}"' in page  # the directory id, as it was typed
    assert "tester@contoso.example" in page


@pytest.mark.django_db
def test_the_policy_form_shows_the_refusal():
    owner = OwnerFactory()
    connection_for(owner)
    response = signed_in_client(owner).post(
        "/integrations/entra-id/sso/policy/", {"policy": "required"}
    )
    assert response.status_code == 400
    assert "Test single sign-on successfully first" in response.content.decode()
    assert SsoConnection.objects.get().policy == "off"


@pytest.mark.django_db
def test_an_owner_sets_the_policy_from_the_page():
    owner = OwnerFactory()
    connection_for(owner)
    client = signed_in_client(owner)
    response = client.post("/integrations/okta/sso/policy/", {"policy": "optional"})
    assert response.status_code == 302
    assert response["Location"] == "/integrations/okta/#sso-heading"
    assert SsoConnection.objects.get().policy == "optional"
    assert client.post("/integrations/okta/sso/remove/").status_code == 302
    assert not SsoConnection.objects.exists()


@pytest.mark.django_db
def test_another_providers_page_offers_a_fresh_form_and_needs_a_new_secret():
    # given single sign-on set up on the Entra ID page
    owner = OwnerFactory()
    connection_for(owner)
    # when the owner opens the Okta page
    page = signed_in_client(owner).get("/integrations/okta/").content.decode()
    # then it says so, does not offer Entra's values, and asks for a secret
    assert 'data-testid="sso-elsewhere"' in page
    assert TENANT not in page.split('data-testid="sso-form"')[1]
    assert "leave blank to keep it" not in page
    # and the service refuses to carry Entra's secret over to an Okta app
    with pytest.raises(sso.SsoInputError) as refused:
        sso.sso_connection_save(
            organization=owner.organization,
            by=owner,
            provider="okta",
            issuer_or_tenant="https://example.okta.com",
            client_id="0oa1",
            client_secret="",
            secret_expires_on=None,
        )
    assert refused.value.field == "client_secret"
