from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.audit import Actor
from accounts.models import AuditLogEntry, Member
from integrations import services
from integrations.models import ScimRequest, ScimToken
from tests.conftest import signed_in_client
from tests.factories import ActiveMemberFactory, AdminFactory, OwnerFactory

pytestmark = pytest.mark.django_db

PROVIDER_SLUGS = ["entra-id", "okta", "scim"]


def get_credentials(client: Client, slug: str = "entra-id", **data: str):
    nonce = client.get(f"/integrations/{slug}/").context["form"].initial["nonce"]
    return client.post(f"/integrations/{slug}/credentials/", {"nonce": nonce, **data})


def regenerate(client: Client, slug: str = "entra-id", previous_token: str = "0"):
    page = client.get(f"/integrations/{slug}/credentials/regenerate/")
    nonce = page.context["form"].initial["nonce"]
    return client.post(
        f"/integrations/{slug}/credentials/",
        {"nonce": nonce, "confirm": "regenerate", "previous_token": previous_token},
    )


def test_integrations_page_has_a_card_per_provider(owner_client):
    html = owner_client.get("/integrations/").content.decode()
    for name in ("Microsoft Entra ID", "Okta", "Other SCIM 2.0 client"):
        assert name in html
    for slug in PROVIDER_SLUGS:
        assert f'href="/integrations/{slug}/"' in html
    assert html.count("Not connected") == 3


@pytest.mark.parametrize("slug", PROVIDER_SLUGS)
def test_provider_page_has_numbered_steps_and_a_get_credentials_button(owner_client, slug):
    html = owner_client.get(f"/integrations/{slug}/").content.decode()
    assert '<ol class="step-list">' in html
    assert "Get credentials</button>" in html


def test_entra_steps_name_the_portal_screens_the_flag_and_the_groups_switch(owner_client):
    html = owner_client.get("/integrations/entra-id/").content.decode()
    for text in (
        "Enterprise applications",
        "Create your own application",
        "Provisioning",
        "?aadOptscim062020",
        "Provision Microsoft Entra ID Groups",
        "Test Connection",
    ):
        assert text in html, text


def test_unknown_provider_is_404(owner_client):
    assert owner_client.get("/integrations/ldap/").status_code == 404


def test_get_credentials_shows_tenant_url_and_token_once(owner, owner_client, settings):
    # given
    settings.SITE_URL = "https://admin.example.test"
    # when
    response = get_credentials(owner_client)
    # then
    html = response.content.decode()
    secret = response.context["issued"].secret
    tenant_url = f"https://admin.example.test/scim/v2/{owner.organization.tenant_id}"
    assert f'data-testid="tenant-url">{tenant_url}<' in html
    assert f'data-testid="secret-token">{secret}<' in html
    assert f"{tenant_url}?aadOptscim062020" in html
    assert "will not be shown again" in html
    assert "no-store" in response["Cache-Control"]
    # and never again afterwards
    detail = owner_client.get("/integrations/entra-id/").content.decode()
    assert secret not in detail and secret[:11] in detail
    assert secret not in owner_client.get("/integrations/").content.decode()


def test_resubmitting_the_same_form_does_not_regenerate(owner, owner_client):
    # given
    nonce = owner_client.get("/integrations/entra-id/").context["form"].initial["nonce"]
    first = owner_client.post("/integrations/entra-id/credentials/", {"nonce": nonce})
    # when: the browser re-posts the same form (reload, back button)
    again = owner_client.post("/integrations/entra-id/credentials/", {"nonce": nonce}, follow=True)
    # then
    assert b"already handled" in again.content
    assert ScimToken.objects.count() == 1
    assert first.context["issued"].secret.encode() not in again.content


def test_get_credentials_on_a_connected_organization_asks_for_confirmation(owner, owner_client):
    get_credentials(owner_client)
    response = get_credentials(owner_client)
    assert response.status_code == 302
    assert response.url == "/integrations/entra-id/credentials/regenerate/"
    assert ScimToken.objects.count() == 1


def test_regenerate_after_confirmation_stops_the_old_token_by_default(owner, owner_client):
    first = get_credentials(owner_client).context["issued"].secret
    # when
    response = regenerate(owner_client)
    # then
    second = response.context["issued"].secret
    assert second != first
    assert b"has stopped working" in response.content
    assert (
        services.scim_token_authenticate(organization=owner.organization, presented=first) is None
    )
    assert services.scim_token_authenticate(organization=owner.organization, presented=second)


def test_regenerate_with_a_24_hour_overlap_keeps_the_old_token(owner, owner_client):
    first = get_credentials(owner_client).context["issued"].secret
    response = regenerate(owner_client, previous_token="24")
    assert b"keeps working until" in response.content
    assert services.scim_token_authenticate(organization=owner.organization, presented=first)
    detail = owner_client.get("/integrations/entra-id/").content.decode()
    assert "Valid until" in detail and "Current" in detail


def test_regenerate_with_a_tampered_overlap_is_refused(owner, owner_client):
    get_credentials(owner_client)
    response = regenerate(owner_client, previous_token="99999")
    assert response.status_code == 302
    assert ScimToken.objects.count() == 1


def test_revoke_asks_for_confirmation_then_disconnects(owner, owner_client):
    secret = get_credentials(owner_client).context["issued"].secret
    # without the confirmation box nothing happens
    unconfirmed = owner_client.post("/integrations/entra-id/credentials/revoke/", {})
    assert unconfirmed.status_code == 200
    assert services.scim_token_authenticate(organization=owner.organization, presented=secret)
    # with it, provisioning is disconnected
    response = owner_client.post(
        "/integrations/entra-id/credentials/revoke/", {"confirm": "on"}, follow=True
    )
    assert b"Provisioning is disconnected" in response.content
    assert (
        services.scim_token_authenticate(organization=owner.organization, presented=secret) is None
    )
    assert b"Get credentials</button>" in response.content


def test_page_shows_who_created_each_token_and_its_last_use(owner, owner_client):
    issued = services.scim_token_issue(
        organization=owner.organization,
        actor=Actor.for_user(owner.user),
        provider="entra-id",
    )
    services.scim_token_record_use(token=issued.token, ip_address="203.0.113.9")
    html = owner_client.get("/integrations/entra-id/").content.decode()
    assert issued.token.hint in html
    assert f"by {owner.email}" in html
    assert "from 203.0.113.9" in html


@pytest.mark.parametrize(
    "url",
    [
        "/integrations/",
        "/integrations/entra-id/",
        "/integrations/okta/credentials/regenerate/",
        "/integrations/entra-id/credentials/revoke/",
    ],
)
def test_members_get_403_on_every_integration_page(url):
    client = signed_in_client(ActiveMemberFactory(role=Member.Role.MEMBER))
    assert client.get(url).status_code == 403


def test_members_cannot_issue_or_revoke(owner):
    member = ActiveMemberFactory(organization=owner.organization, role=Member.Role.MEMBER)
    client = signed_in_client(member)
    assert client.post("/integrations/entra-id/credentials/", {"nonce": "x"}).status_code == 403
    assert (
        client.post("/integrations/entra-id/credentials/revoke/", {"confirm": "on"}).status_code
        == 403
    )
    assert not ScimToken.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in():
    response = Client().post("/integrations/entra-id/credentials/", {"nonce": "x"})
    assert response.status_code == 302 and response.url.startswith("/login/")
    assert not ScimToken.objects.exists()


def test_an_admin_only_ever_touches_their_own_organizations_credentials(owner, owner_client):
    # given: another organization with its own credentials
    stranger = OwnerFactory()
    theirs = services.scim_token_issue(
        organization=stranger.organization,
        actor=Actor.for_user(stranger.user),
    )
    # when: our admin gets, regenerates and revokes credentials
    get_credentials(owner_client)
    regenerate(owner_client)
    owner_client.post("/integrations/entra-id/credentials/revoke/", {"confirm": "on"})
    page = owner_client.get("/integrations/entra-id/").content.decode()
    # then: the other organization's token is untouched and never shown
    assert services.scim_token_authenticate(
        organization=stranger.organization, presented=theirs.secret
    )
    assert theirs.token.hint not in page
    assert str(stranger.organization.tenant_id) not in page
    assert not AuditLogEntry.objects.filter(
        organization=stranger.organization, actor_label=owner.email
    ).exists()


def test_forms_are_csrf_protected(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner.user)
    nonce = client.get("/integrations/entra-id/").context["form"].initial["nonce"]
    assert client.post("/integrations/entra-id/credentials/", {"nonce": nonce}).status_code == 403
    assert (
        client.post("/integrations/entra-id/credentials/revoke/", {"confirm": "on"}).status_code
        == 403
    )
    assert not ScimToken.objects.exists()


def test_connection_status_before_and_after_credentials(owner, owner_client):
    assert b"Not connected" in owner_client.get("/integrations/entra-id/").content
    get_credentials(owner_client)
    html = owner_client.get("/integrations/entra-id/").content.decode()
    assert "No requests received yet" in html
    assert "Waiting for the first request" in owner_client.get("/integrations/").content.decode()


def test_connection_status_shows_last_request_and_24_hour_error_rate(owner, owner_client):
    get_credentials(owner_client)
    organization = owner.organization
    now = timezone.now()
    for minutes, status in [(300, 200), (200, 409), (100, 201), (5, 200)]:
        ScimRequest.objects.create(
            organization=organization,
            created_at=now - timedelta(minutes=minutes),
            request_id="r",
            method="GET",
            path="/Users",
            status_code=status,
        )
    ScimRequest.objects.create(  # outside the 24-hour window
        organization=organization,
        created_at=now - timedelta(days=2),
        request_id="old",
        method="GET",
        path="/Users",
        status_code=500,
    )
    ScimRequest.objects.create(  # another organization's traffic never counts
        organization=OwnerFactory().organization,
        created_at=now,
        request_id="x",
        method="POST",
        path="/Groups",
        status_code=500,
    )
    response = owner_client.get("/integrations/entra-id/")
    status = response.context["status"]
    assert (status.requests_24h, status.errors_24h, status.error_rate_percent) == (4, 1, "25.0%")
    assert status.last_request.status_code == 200 and not status.stalled
    html = response.content.decode()
    assert "25.0%" in html and "GET /Users" in html
    assert "Connected, with errors" in html


def test_stall_warning_after_two_entra_cycles_of_silence(owner, owner_client):
    get_credentials(owner_client)
    ScimRequest.objects.create(
        organization=owner.organization,
        created_at=timezone.now() - timedelta(minutes=81),
        request_id="r",
        method="GET",
        path="/Users",
        status_code=200,
    )
    html = owner_client.get("/integrations/entra-id/").content.decode()
    assert "No recent requests" in html
    assert "more than two Entra ID provisioning cycles" in html
    recent = timezone.now() - timedelta(minutes=79)
    ScimRequest.objects.create(
        organization=owner.organization,
        created_at=recent,
        request_id="r2",
        method="GET",
        path="/Users",
        status_code=200,
    )
    assert (
        "more than two Entra ID" not in owner_client.get("/integrations/entra-id/").content.decode()
    )


def test_admins_not_only_owners_manage_credentials(owner):
    admin = AdminFactory(organization=owner.organization)
    client = signed_in_client(admin)
    assert get_credentials(client).status_code == 200
    assert ScimToken.objects.get().created_by == admin.user
