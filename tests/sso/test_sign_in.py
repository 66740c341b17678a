"""Signing in through an organization's identity provider (accounts/sso_views.py,
accounts/services/sso.py), against the real OpenID Provider on loopback.

The browser is Django's test Client (its cookie jar is the session); the provider is driven over
HTTP by tests/sso/provider.py with the claims each test chooses.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts import twofactor as tf
from accounts.models import AuditLogEntry, Invitation, Member, Organization, TwoFactorDevice, User
from accounts.services import invitations as invitation_services
from accounts.services import twofactor as twofactor_services
from accounts.sso_views import MAX_PENDING
from accounts.twofactor import seal_secret
from integrations.models import SsoConnection, SsoLink
from tests.factories import (
    DEFAULT_PASSWORD,
    ActiveMemberFactory,
    AdminFactory,
    MemberFactory,
    OwnerFactory,
)
from tests.sso.conftest import ENTRA_A, OKTA, REDIRECT_URI, TENANT_A, TENANT_B, register
from tests.sso.provider import TestProvider

pytestmark = [pytest.mark.sso, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _site_url_is_the_registered_redirect(settings) -> None:
    settings.SITE_URL = REDIRECT_URI.removesuffix("/sso/callback/")


def connect(
    op: TestProvider,
    organization: Organization,
    *,
    path: str = OKTA,
    policy: str = SsoConnection.Policy.OPTIONAL,
) -> SsoConnection:
    """The organization's SSO connection to a new client at the provider (Okta- or Entra-shaped)."""
    config = register(op, path)
    entra = path == ENTRA_A
    return SsoConnection.objects.create(
        organization=organization,
        provider="entra-id" if entra else "okta",
        issuer=config.issuer,
        entra_tenant_id=TENANT_A if entra else "",
        client_id=config.client_id,
        client_secret_sealed=seal_secret(config.client_secret.encode()),
        policy=policy,
    )


def entra_claims(upn: str, oid: str | None = None) -> dict[str, Any]:
    return {"tid": TENANT_A, "oid": oid or str(uuid.uuid4()), "preferred_username": upn}


def okta_claims(username: str, *, email: str | None = None, verified: bool = True):
    return {
        "preferred_username": username,
        "email": email or username,
        "email_verified": verified,
    }


def sso(
    client: Client,
    op: TestProvider,
    organization: Organization,
    *,
    account_id: str,
    claims: dict[str, Any],
    amr: list[str] | None = None,
    query: str = "",
):
    """Opens the organization's sign-in address, signs in at the provider, follows the callback."""
    start = client.get(f"/sso/{organization.slug}/{query}")
    assert start.status_code == 302, start.content
    params = op.sign_in(start["Location"], account_id=account_id, claims=claims, amr=amr)
    return client.get("/sso/callback/", params)


def continue_url(response) -> str:
    """Where "Test single sign-on" sends the browser: a page that refreshes to the provider (a
    302 from the form's POST would break the panel's CSP form-action 'self')."""
    assert response.status_code == 200, response.content
    url = response["Refresh"].removeprefix("0;url=")
    assert url in response.content.decode().replace("&amp;", "&")
    return url


def opened(client: Client) -> Member | None:
    """The membership the session works in now (None when signed out)."""
    response = client.get("/account/")
    return response.context["current_member"] if response.status_code == 200 else None


def actions(organization: Organization) -> list[str]:
    return list(
        AuditLogEntry.objects.filter(organization=organization)
        .order_by("pk")
        .values_list("action", flat=True)
    )


def refusal(organization: Organization) -> dict[str, Any]:
    entry = AuditLogEntry.objects.filter(
        organization=organization, action="sso.sign_in_failed"
    ).latest("pk")
    return entry.after


# --- Matching and linking ------------------------------------------------------------------------


def test_entra_first_sign_in_matches_the_upn_case_insensitively_and_stores_the_link(op):
    # given: a member provisioned by Entra ID with its UPN as userName
    member = ActiveMemberFactory(user_name="Ada.Lovelace@Contoso.onmicrosoft.com")
    connection = connect(op, member.organization, path=ENTRA_A)
    oid = str(uuid.uuid4())
    # when: Entra signs them in with the UPN in another case
    response = sso(
        Client(),
        op,
        member.organization,
        account_id="pairwise-sub-1",
        claims=entra_claims("ada.lovelace@contoso.onmicrosoft.com", oid),
    )
    # then: they are in, and the link is the tenant and object id
    assert response.status_code == 302 and response["Location"] == "/"
    link = SsoLink.objects.get(member=member)
    assert (link.issuer, link.link_key) == (connection.issuer, f"{TENANT_A}/{oid}")
    assert link.last_sign_in_at is not None
    assert actions(member.organization)[-2:] == ["sso.linked", "sso.sign_in"]


def test_okta_sign_in_opens_the_session_and_later_ones_follow_the_link_after_a_rename(op):
    # given: an Okta-provisioned member who signed in once
    member = ActiveMemberFactory(user_name="grace@example.com")
    connect(op, member.organization)
    client = Client()
    sso(client, op, member.organization, account_id="00u1", claims=okta_claims("grace@example.com"))
    assert opened(client) == member
    # when: Okta renames them; their next sign-in asserts the new username
    again = Client()
    sso(again, op, member.organization, account_id="00u1", claims=okta_claims("g.hopper@new.test"))
    # then: the link (the Okta user id) decides
    assert opened(again) == member
    assert SsoLink.objects.filter(member=member).count() == 1


def test_okta_matches_a_verified_email_when_the_username_is_not_a_member(op):
    member = ActiveMemberFactory(user_name="grace.h", email="grace@example.com")
    connect(op, member.organization)
    client = Client()
    sso(
        client,
        op,
        member.organization,
        account_id="00u2",
        claims=okta_claims("grace-okta", email="Grace@Example.com"),
    )
    assert opened(client) == member


def test_an_unverified_email_matches_nobody_and_nobody_is_created(op):
    # given: a member whose email the provider asserts, but unverified
    member = ActiveMemberFactory(user_name="grace.h", email="grace@example.com")
    connect(op, member.organization)
    users, members = User.objects.count(), Member.objects.count()
    client = Client()
    # when
    response = sso(
        client,
        op,
        member.organization,
        account_id="00u3",
        claims=okta_claims("someone-else", email="grace@example.com", verified=False),
    )
    # then: the "assign the app" page, no account, no member, no session
    assert response.status_code == 403
    assert "must assign you the app in Okta" in response.content.decode()
    assert (User.objects.count(), Member.objects.count()) == (users, members)
    assert opened(client) is None
    assert refusal(member.organization)["reason"] == "no_match"


def test_a_reassigned_username_does_not_take_over_a_linked_member(op):
    # given: a member linked to Okta user 00u4
    member = ActiveMemberFactory(user_name="sam@example.com")
    connect(op, member.organization)
    sso(Client(), op, member.organization, account_id="00u4", claims=okta_claims("sam@example.com"))
    # when: another Okta user now has that username
    client = Client()
    response = sso(
        client, op, member.organization, account_id="00u5", claims=okta_claims("sam@example.com")
    )
    # then: refused
    assert response.status_code == 403 and opened(client) is None
    assert refusal(member.organization)["reason"] == "linked_to_another_identity"


@pytest.mark.parametrize("status", [Member.Status.SUSPENDED, Member.Status.DELETED])
def test_suspended_and_removed_members_are_refused_with_a_clear_page(op, status):
    member = ActiveMemberFactory(user_name="kim@example.com", status=status)
    connect(op, member.organization)
    client = Client()
    response = sso(
        client, op, member.organization, account_id="00u6", claims=okta_claims("kim@example.com")
    )
    assert response.status_code == 403
    assert "Your access has been turned off" in response.content.decode()
    assert opened(client) is None
    assert refusal(member.organization)["reason"] == status


def test_a_suspended_member_with_a_link_is_refused_too(op):
    member = ActiveMemberFactory(user_name="lee@example.com")
    connect(op, member.organization)
    sso(Client(), op, member.organization, account_id="00u7", claims=okta_claims("lee@example.com"))
    Member.objects.filter(pk=member.pk).update(status=Member.Status.SUSPENDED)
    client = Client()
    response = sso(
        client, op, member.organization, account_id="00u7", claims=okta_claims("lee@example.com")
    )
    assert response.status_code == 403 and opened(client) is None


# --- Registration --------------------------------------------------------------------------------


def test_an_invited_member_registers_through_sso_without_a_password(op):
    # given: a member Entra provisioned, invited, never registered
    member = MemberFactory(
        user_name="new.person@contoso.onmicrosoft.com", email="new.person@contoso.test"
    )
    invitation = invitation_services.invitation_create(
        member=member, actor=invitation_services.Actor.system("tests")
    )
    connect(op, member.organization, path=ENTRA_A, policy=SsoConnection.Policy.REQUIRED)
    client = Client()
    # when
    response = sso(
        client,
        op,
        member.organization,
        account_id="x",
        claims=entra_claims("new.person@contoso.onmicrosoft.com"),
    )
    # then: Active, an account with no usable password, signed in, the invitation used
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.status == Member.Status.ACTIVE and member.user is not None
    assert member.user.email == "new.person@contoso.test"
    assert not member.user.has_usable_password()
    assert opened(client) == member
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.ACCEPTED
    assert "invitation.accepted" in actions(member.organization)


def test_an_invitation_link_finishes_only_its_own_member(op):
    # given: two invited members, and the invitation of the first
    first = MemberFactory(user_name="one@example.com")
    second = MemberFactory(user_name="two@example.com", organization=first.organization)
    invitation = invitation_services.invitation_create(
        member=first, actor=invitation_services.Actor.system("tests")
    )
    token = invitation_services.invitation_token(invitation)
    connect(op, first.organization)
    # when: the second person follows the first one's link through the provider
    client = Client()
    response = sso(
        client,
        op,
        first.organization,
        account_id="00u8",
        claims=okta_claims("two@example.com"),
        query=f"?invitation={token}",
    )
    # then: refused, nobody registered
    assert response.status_code == 403 and opened(client) is None
    second.refresh_from_db()
    assert second.status == Member.Status.INVITED and second.user is None
    # and the right person completes it
    ok = Client()
    sso(
        ok,
        op,
        first.organization,
        account_id="00u9",
        claims=okta_claims("one@example.com"),
        query=f"?invitation={token}",
    )
    assert opened(ok).pk == first.pk


def test_an_existing_account_is_not_joined_on_the_providers_word_alone(op):
    # given: someone invited to A whose address already has an account (in B)
    in_b = ActiveMemberFactory(email="pat@example.com")
    invited = MemberFactory(user_name="pat@example.com", email="pat@example.com")
    connect(op, invited.organization)
    # when: A's provider asserts that address without the account's password
    client = Client()
    response = sso(
        client, op, invited.organization, account_id="00ua", claims=okta_claims("pat@example.com")
    )
    # then: asked to sign in with the password first
    assert response.status_code == 403
    assert "Sign in with your password first" in response.content.decode()
    assert opened(client) is None
    # when: they sign in with the password, then use single sign-on
    client.post("/login/", {"username": "pat@example.com", "password": DEFAULT_PASSWORD})
    sso(client, op, invited.organization, account_id="00ua", claims=okta_claims("pat@example.com"))
    # then: the invitation joins their account
    invited.refresh_from_db()
    assert invited.user == in_b.user and invited.status == Member.Status.ACTIVE


# --- The organization isolation rule -------------------------------------------------------------


def test_the_attack_a_sign_in_through_a_opens_a_only(op):
    # given: one person, member of A (SSO) and B (password, or B's own SSO)
    in_a = ActiveMemberFactory(email="pat@example.com", organization__name="A")
    in_b = ActiveMemberFactory(user=in_a.user, email="pat@example.com", organization__name="B")
    connect(op, in_a.organization)
    client = Client()
    # when: they sign in through A's identity provider
    sso(client, op, in_a.organization, account_id="00ub", claims=okta_claims("pat@example.com"))
    # then: A is open, B is not, and switching to B asks for B's proof
    assert opened(client) == in_a
    response = client.post("/organization/switch/", {"member": in_b.pk})
    assert response["Location"] == "/login/"
    assert opened(client) is None  # signed out to prove the password


def test_the_attack_switching_to_b_with_its_own_sso_goes_through_bs_provider(op):
    in_a = ActiveMemberFactory(email="pat@example.com", organization__name="A")
    in_b = ActiveMemberFactory(user=in_a.user, email="pat@example.com", organization__name="B")
    connect(op, in_a.organization)
    connect(op, in_b.organization, path=ENTRA_A)
    client = Client()
    sso(client, op, in_a.organization, account_id="00uc", claims=okta_claims("pat@example.com"))
    # when: they switch to B
    response = client.post("/organization/switch/", {"member": in_b.pk})
    # then: B's own sign-in address, and A stays the open one meanwhile
    assert response["Location"] == f"/sso/{in_b.organization.slug}/"
    assert opened(client) == in_a


def test_the_attack_as_provider_asserting_a_b_username_never_opens_b(op):
    # given: A's admin controls A's provider; the victim belongs to B only
    attacker_org = OwnerFactory(organization__name="A").organization
    victim = ActiveMemberFactory(user_name="ceo@b.test", organization__name="B")
    connect(op, attacker_org)
    client = Client()
    # when: A's provider asserts the victim's username
    response = sso(client, op, attacker_org, account_id="00ud", claims=okta_claims("ceo@b.test"))
    # then: nobody in A matches; B is untouched
    assert response.status_code == 403
    assert opened(client) is None
    assert not SsoLink.objects.filter(member=victim).exists()
    assert not AuditLogEntry.objects.filter(organization=victim.organization).exists()


def test_a_link_made_in_a_never_matches_in_b(op):
    # given: A and B use the same provider; a person linked in A
    in_a = ActiveMemberFactory(user_name="pat@a.test", organization__name="A")
    connect(op, in_a.organization)
    sso(Client(), op, in_a.organization, account_id="00ue", claims=okta_claims("pat@a.test"))
    in_b = ActiveMemberFactory(user_name="someone@b.test", organization__name="B")
    connect(op, in_b.organization)
    # when: the same provider identity signs in through B
    client = Client()
    response = sso(client, op, in_b.organization, account_id="00ue", claims=okta_claims("x@a.test"))
    # then: A's link means nothing in B
    assert response.status_code == 403 and opened(client) is None
    assert refusal(in_b.organization)["reason"] == "no_match"


# --- The protocol's bindings ---------------------------------------------------------------------


def test_a_callback_replayed_in_another_browser_session_fails(op):
    member = ActiveMemberFactory(user_name="kai@example.com")
    connect(op, member.organization)
    victim_browser = Client()
    start = victim_browser.get(f"/sso/{member.organization.slug}/")
    params = op.sign_in(start["Location"], account_id="00uf", claims=okta_claims("kai@example.com"))
    # when: the callback is played in another browser
    other = Client()
    response = other.get("/sso/callback/", params)
    # then: refused, nothing opened; and it still works once in its own browser, not twice
    assert response.status_code == 400 and opened(other) is None
    assert victim_browser.get("/sso/callback/", params).status_code == 302
    assert opened(victim_browser) == member
    assert Client().get("/sso/callback/", params).status_code == 400


def test_several_tabs_may_sign_in_at_once(op):
    member = ActiveMemberFactory(user_name="kai@example.com")
    connect(op, member.organization)
    client = Client()
    first = client.get(f"/sso/{member.organization.slug}/")
    second = client.get(f"/sso/{member.organization.slug}/")
    params = op.sign_in(first["Location"], account_id="00ug", claims=okta_claims("kai@example.com"))
    assert client.get("/sso/callback/", params).status_code == 302
    assert second.status_code == 302 and opened(client) == member


def test_a_provider_failure_is_a_clear_page_and_an_audit_row_never_a_session(op):
    # given: a connection whose secret the provider does not accept
    member = ActiveMemberFactory(user_name="kai@example.com")
    connection = connect(op, member.organization)
    connection.client_secret_sealed = seal_secret(b"not-the-secret")
    connection.save()
    client = Client()
    # when
    response = sso(
        client, op, member.organization, account_id="00uh", claims=okta_claims("kai@example.com")
    )
    # then
    assert response.status_code == 400
    assert "Single sign-on did not work" in response.content.decode()
    assert opened(client) is None
    assert refusal(member.organization)["reason"] == "protocol"


def test_an_unreachable_provider_is_a_clear_page(op):
    member = ActiveMemberFactory()
    SsoConnection.objects.create(
        organization=member.organization,
        provider="okta",
        issuer="http://127.0.0.1:9/oauth2/default",
        client_id="c",
        client_secret_sealed=seal_secret(b"s"),
        policy=SsoConnection.Policy.OPTIONAL,
    )
    response = Client().get(f"/sso/{member.organization.slug}/")
    assert response.status_code == 502
    assert refusal(member.organization)["reason"] == "protocol"


def test_an_organization_without_sso_and_an_unknown_one_get_the_same_page(op):
    member = ActiveMemberFactory()
    connect(op, member.organization, policy=SsoConnection.Policy.OFF)
    off = Client().get(f"/sso/{member.organization.slug}/")
    unknown = Client().get("/sso/no-such-organization/")
    assert off.status_code == unknown.status_code == 404
    assert "Single sign-on is not set up for this organization" in off.content.decode()
    assert off.content == unknown.content


# --- Two-factor ----------------------------------------------------------------------------------


def require_two_factor(organization: Organization) -> None:
    Organization.objects.filter(pk=organization.pk).update(require_two_factor=True)


def test_mfa_at_the_provider_satisfies_the_two_factor_requirement(op):
    admin = AdminFactory(user_name="ada@example.com")
    require_two_factor(admin.organization)
    connect(op, admin.organization)
    client = Client()
    sso(
        client,
        op,
        admin.organization,
        account_id="00ui",
        claims=okta_claims("ada@example.com"),
        amr=["pwd", "mfa"],
    )
    assert client.get("/users/").status_code == 200


def test_without_mfa_an_admin_is_sent_to_set_up_two_factor(op):
    admin = AdminFactory(user_name="ada@example.com")
    require_two_factor(admin.organization)
    connect(op, admin.organization)
    client = Client()
    sso(
        client,
        op,
        admin.organization,
        account_id="00uj",
        claims=okta_claims("ada@example.com"),
        amr=["pwd"],
    )
    assert client.get("/users/")["Location"] == "/account/two-factor/setup/"


def enrolled_a_minute_ago(member: Member) -> bytes:
    with time_machine.travel(timezone.now() - timedelta(seconds=90), tick=False):
        key = twofactor_services.two_factor_enrollment_start(user=member.user)
        twofactor_services.two_factor_enrollment_confirm(
            user=member.user, code=tf.totp(key, timezone.now().timestamp()), client="test"
        )
    return key


def test_an_admin_with_two_factor_gets_the_code_step_which_opens_that_organization_only(op):
    # given: an admin of A with two-factor sign-in, also a member of B
    admin = AdminFactory(user_name="ada@example.com", email="ada@example.com")
    in_b = ActiveMemberFactory(user=admin.user, email="ada@example.com")
    key = enrolled_a_minute_ago(admin)
    connect(op, admin.organization)
    client = Client()
    # when: the provider did no MFA
    response = sso(
        client, op, admin.organization, account_id="00uk", claims=okta_claims("ada@example.com")
    )
    # then: the code step, anonymous until the code
    assert response["Location"] == "/login/code/"
    assert opened(client) is None
    done = client.post("/login/code/", {"code": tf.totp(key, timezone.now().timestamp())})
    assert done.status_code == 302
    # and the code opens A only
    assert opened(client) == admin
    client.post("/organization/switch/", {"member": in_b.pk})
    assert opened(client) is None


def test_mfa_at_the_provider_stands_for_the_code_step(op):
    admin = AdminFactory(user_name="ada@example.com")
    enrolled_a_minute_ago(admin)
    connect(op, admin.organization)
    client = Client()
    response = sso(
        client,
        op,
        admin.organization,
        account_id="00ul",
        claims=okta_claims("ada@example.com"),
        amr=["mfa"],
    )
    assert response["Location"] == "/"
    assert opened(client) == admin


# --- Test single sign-on -------------------------------------------------------------------------


def test_the_admins_test_shows_the_claims_and_the_match_and_enables_nothing(op):
    # given: an owner, SSO saved but off, a member to match
    owner = OwnerFactory(email="owner@example.com")
    member = ActiveMemberFactory(user_name="Ada@Contoso.test", organization=owner.organization)
    connection = connect(op, owner.organization, path=ENTRA_A, policy=SsoConnection.Policy.OFF)
    client = Client()
    client.force_login(owner.user)
    # when: the owner runs the test and signs in at the provider as the member
    start = client.post(f"/sso/{owner.organization.slug}/test/")
    params = op.sign_in(
        continue_url(start), account_id="t", claims=entra_claims("ada@contoso.test", "oid-1")
    )
    response = client.get("/sso/callback/", params)
    # then: the claims and the match are shown; nothing linked or enabled; the test recorded
    page = response.content.decode()
    assert response.status_code == 200
    assert "ada@contoso.test" in page and f"{TENANT_A}/oid-1" in page
    assert member.user_name in page
    connection.refresh_from_db()
    assert connection.policy == SsoConnection.Policy.OFF
    assert connection.tested_at is not None and connection.tested_by_label == "owner@example.com"
    assert not SsoLink.objects.exists()
    assert actions(owner.organization)[-1] == "sso.tested"
    assert opened(client) == owner


def test_only_owners_and_admins_may_test(op):
    member = ActiveMemberFactory()
    connect(op, member.organization)
    client = Client()
    client.force_login(member.user)
    assert client.post(f"/sso/{member.organization.slug}/test/").status_code == 403
    other = OwnerFactory()
    owner_client = Client()
    owner_client.force_login(other.user)
    assert owner_client.post(f"/sso/{member.organization.slug}/test/").status_code == 404


def test_a_cancelled_sign_in_at_the_provider_is_a_clear_page_and_audited(op):
    # given: a sign-in started in this browser
    member = ActiveMemberFactory()
    connect(op, member.organization)
    client = Client()
    start = client.get(f"/sso/{member.organization.slug}/")
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    # when: the provider sends the person back with an error (they cancelled)
    response = client.get("/sso/callback/", {"state": state, "error": "access_denied"})
    # then
    assert response.status_code == 400 and opened(client) is None
    assert refusal(member.organization)["detail"].startswith("access_denied")


def test_a_token_from_another_entra_tenant_is_refused(op):
    member = ActiveMemberFactory(user_name="ada@contoso.test")
    connect(op, member.organization, path=ENTRA_A)
    client = Client()
    claims = {**entra_claims("ada@contoso.test"), "tid": TENANT_B}
    response = sso(client, op, member.organization, account_id="x", claims=claims)
    assert response.status_code == 400 and opened(client) is None
    assert "tenant" in refusal(member.organization)["detail"]


def test_only_the_newest_pending_sign_ins_are_kept_and_an_unknown_state_is_only_logged(op):
    member = ActiveMemberFactory(user_name="kai@example.com")
    connect(op, member.organization)
    client = Client()
    starts = [client.get(f"/sso/{member.organization.slug}/") for _ in range(MAX_PENDING + 1)]
    before = AuditLogEntry.objects.count()
    # when: the oldest tab finishes after more than MAX_PENDING newer ones started
    params = op.sign_in(
        starts[0]["Location"], account_id="00um", claims=okta_claims("kai@example.com")
    )
    response = client.get("/sso/callback/", params)
    # then: it is gone; no organization is known, so nothing is audited
    assert response.status_code == 400 and opened(client) is None
    assert AuditLogEntry.objects.count() == before
    # and the newest still works
    params = op.sign_in(
        starts[-1]["Location"], account_id="00um", claims=okta_claims("kai@example.com")
    )
    assert client.get("/sso/callback/", params).status_code == 302


def test_a_failed_test_is_shown_and_audited_and_records_no_success(op):
    owner = OwnerFactory()
    connection = connect(op, owner.organization)
    connection.client_secret_sealed = seal_secret(b"wrong")
    connection.save()
    client = Client()
    client.force_login(owner.user)
    start = client.post(f"/sso/{owner.organization.slug}/test/")
    params = op.sign_in(continue_url(start), account_id="t", claims=okta_claims("x@example.com"))
    response = client.get("/sso/callback/", params)
    assert response.status_code == 502
    assert "Single sign-on test failed" in response.content.decode()
    connection.refresh_from_db()
    assert connection.tested_at is None
    assert actions(owner.organization)[-1] == "sso.test_failed"


def test_a_single_sign_on_to_a_cannot_change_two_factor_sign_in_of_someone_also_in_b(op):
    # given: a person in A and B, signed in through A's provider (A's admin controls it)
    in_a = ActiveMemberFactory(email="pat@example.com", organization__name="A")
    ActiveMemberFactory(user=in_a.user, email="pat@example.com", organization__name="B")
    connect(op, in_a.organization)
    client = Client()
    sso(client, op, in_a.organization, account_id="00un", claims=okta_claims("pat@example.com"))
    # when: the session tries to turn on an authenticator
    response = client.get("/account/two-factor/setup/")
    # then: refused; nothing enrolled that could lock the person out of B
    assert response.status_code == 403
    assert not TwoFactorDevice.objects.filter(user=in_a.user).exists()


def test_a_single_sign_on_covering_every_organization_may_set_up_two_factor(op):
    member = ActiveMemberFactory(user_name="pat@example.com")
    connect(op, member.organization)
    client = Client()
    sso(client, op, member.organization, account_id="00uo", claims=okta_claims("pat@example.com"))
    assert client.get("/account/two-factor/setup/").status_code == 200
