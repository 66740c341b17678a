from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import twofactor as tf
from accounts.models import AuditLogEntry, Member, Organization, RecoveryCode, TwoFactorDevice
from accounts.services import twofactor as services
from tests.conftest import signed_in_client
from tests.factories import DEFAULT_PASSWORD, ActiveMemberFactory, AdminFactory, OwnerFactory

pytestmark = pytest.mark.django_db

# RFC 6238 appendix B: the seeds are ASCII digits, 20, 32 and 64 bytes long.
RFC_6238_SEEDS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
RFC_6238_VECTORS = [
    (59, {"sha1": "94287082", "sha256": "46119246", "sha512": "90693936"}),
    (1111111109, {"sha1": "07081804", "sha256": "68084774", "sha512": "25091201"}),
    (1111111111, {"sha1": "14050471", "sha256": "67062674", "sha512": "99943326"}),
    (1234567890, {"sha1": "89005924", "sha256": "91819424", "sha512": "93441116"}),
    (2000000000, {"sha1": "69279037", "sha256": "90698825", "sha512": "38618901"}),
    (20000000000, {"sha1": "65353130", "sha256": "77737706", "sha512": "47863826"}),
]
# RFC 4226 appendix D: HOTP values for counters 0 to 9 of the same 20-byte seed.
RFC_4226_VALUES = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    # Frozen time, moved by hand: every code in a test is predictable, and so is replay.
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def current_code(key: bytes) -> str:
    return tf.totp(key, timezone.now().timestamp())


def enroll(member: Member) -> tuple[bytes, list[str]]:
    """Two-factor sign-in turned on through the services, as the set-up page does."""
    key = services.two_factor_enrollment_start(user=member.user)
    enrollment = services.two_factor_enrollment_confirm(
        user=member.user, code=current_code(key), client="test"
    )
    return key, enrollment.recovery_codes


def next_step(clock: time_machine.Coordinates) -> None:
    clock.shift(tf.STEP_SECONDS)


def sign_in(client: Client, member: Member, code: str, **extra: str):
    client.post("/login/", {"username": member.email, "password": DEFAULT_PASSWORD, **extra})
    return client.post(reverse("login_two_factor"), {"code": code})


def two_factor_client(member: Member, key: bytes, clock: time_machine.Coordinates) -> Client:
    next_step(clock)
    client = Client()
    response = sign_in(client, member, current_code(key))
    assert response.status_code == 302, response.content
    return client


def actions(organization: Organization) -> list[str]:
    return list(
        AuditLogEntry.objects.filter(organization=organization)
        .order_by("id")
        .values_list("action", flat=True)
    )


# --- The algorithm -------------------------------------------------------------------------------


def test_hotp_matches_the_rfc_4226_test_values():
    seed = RFC_6238_SEEDS["sha1"]
    assert [tf.hotp(seed, counter) for counter in range(10)] == RFC_4226_VALUES


@pytest.mark.parametrize(("at", "expected"), RFC_6238_VECTORS)
@pytest.mark.parametrize("digest", ["sha1", "sha256", "sha512"])
def test_totp_matches_the_rfc_6238_test_vectors(at, expected, digest):
    assert tf.totp(RFC_6238_SEEDS[digest], at, digits=8, digest=digest) == expected[digest]


def test_a_code_is_accepted_one_step_either_side_and_no_further():
    key = tf.new_secret()
    now = 1_700_000_000.0
    step = tf.time_step(now)
    for offset in (-1, 0, 1):
        assert tf.matching_step(key, tf.hotp(key, step + offset), at=now) == step + offset
    for offset in (-2, 2):
        assert tf.matching_step(key, tf.hotp(key, step + offset), at=now) is None
    assert tf.matching_step(key, "12345", at=now) is None
    assert tf.matching_step(key, "abcdef", at=now) is None


def test_codes_typed_with_spaces_are_read_and_recovery_codes_forgive_lookalike_letters():
    key = tf.new_secret()
    code = tf.hotp(key, tf.time_step(1_700_000_000))
    assert tf.matching_step(key, f" {code[:3]} {code[3:]} ", at=1_700_000_000) is not None
    assert tf.recovery_code_digest("ABCD-EFGH-0000-1111") == tf.recovery_code_digest(
        "abcdefghOOOOilIl"
    )


def test_the_qr_code_is_inline_svg_without_style_attributes_or_script():
    uri = tf.provisioning_uri(RFC_6238_SEEDS["sha1"], account="ann@example.com")
    assert uri == (
        "otpauth://totp/NordPass%20Admin:ann@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        "&issuer=NordPass%20Admin&algorithm=SHA1&digits=6&period=30"
    )
    svg = str(tf.qr_code_svg(uri))
    assert svg.startswith("<svg") and "<path" in svg
    assert "style=" not in svg and "<script" not in svg and "ann@example.com" not in svg


def test_the_secret_is_sealed_with_a_key_derived_from_secret_key(settings):
    # given
    key = tf.new_secret()
    sealed = tf.seal_secret(key)
    # then: the database value reveals neither form of the secret
    assert tf.secret_to_base32(key) not in sealed and key.hex() not in sealed
    assert tf.open_secret(sealed) == key
    # and: another SECRET_KEY cannot open it, unless the old one is a fallback (key rotation)
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    assert tf.open_secret(sealed) is None
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert tf.open_secret(sealed) == key


# --- Enrollment ----------------------------------------------------------------------------------


def test_enrolling_from_the_account_page_shows_a_qr_code_and_needs_a_code(owner, clock):
    client = signed_in_client(owner)
    # given: the account page offers set-up
    response = client.get(reverse("account"))
    assert b"Set up two-factor sign-in" in response.content
    # when: the set-up page is opened
    response = client.get(reverse("two_factor_setup"))
    # then: a QR code and the key for typing by hand, and nothing is on yet
    assert response.status_code == 200
    content = response.content.decode()
    assert '<svg viewBox="0 0' in content and 'class="qr-code"' in content
    manual = re.search(r'data-testid="manual-key">([A-Z2-7 ]+)<', content)
    assert manual is not None
    key = tf.open_secret(TwoFactorDevice.objects.get(user=owner.user).pending_secret)
    assert key is not None and manual.group(1).replace(" ", "") == tf.secret_to_base32(key)
    assert not tf.is_enabled(owner.user)
    # when: a wrong code is entered
    response = client.post(reverse("two_factor_setup"), {"code": "000000"})
    # then
    assert b"does not match" in response.content
    assert not tf.is_enabled(owner.user)
    # when: the right code is entered
    response = client.post(reverse("two_factor_setup"), {"code": current_code(key)})
    # then: it is on, and ten recovery codes are shown once, stored only as digests
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    codes = re.findall(r'class="recovery-code">([0-9a-z-]+)<', response.content.decode())
    assert len(codes) == 10 and len(set(codes)) == 10
    assert tf.is_enabled(owner.user)
    digests = set(RecoveryCode.objects.values_list("digest", flat=True))
    assert digests == {tf.recovery_code_digest(code) for code in codes}
    assert not digests & set(codes)
    assert actions(owner.organization)[-1] == "two_factor.enabled"
    # and: the session that enrolled stays signed in
    assert client.get(reverse("account")).status_code == 200
    assert b"10 of 10 recovery codes left" in client.get(reverse("account")).content


def test_the_pending_secret_is_kept_on_reload_and_replaced_after_an_hour(owner, clock):
    client = signed_in_client(owner)
    client.get(reverse("two_factor_setup"))
    first = TwoFactorDevice.objects.get(user=owner.user).pending_secret
    client.get(reverse("two_factor_setup"))
    assert TwoFactorDevice.objects.get(user=owner.user).pending_secret == first
    clock.shift(services.PENDING_TTL + timedelta(seconds=1))
    client = signed_in_client(owner)
    client.get(reverse("two_factor_setup"))
    assert TwoFactorDevice.objects.get(user=owner.user).pending_secret != first


def test_the_set_up_page_cannot_replace_an_enabled_authenticator_without_a_code(owner, clock):
    key, _ = enroll(owner)
    client = two_factor_client(owner, key, clock)
    # when
    response = client.get(reverse("two_factor_setup"))
    # then
    assert response.status_code == 302 and response.url == reverse("account")
    assert TwoFactorDevice.objects.get(user=owner.user).pending_secret == ""


# --- Signing in ----------------------------------------------------------------------------------


def test_sign_in_asks_for_a_code_and_the_session_is_anonymous_until_then(owner, clock):
    key, _ = enroll(owner)
    next_step(clock)
    client = Client()
    # when: the password is right
    response = client.post("/login/", {"username": owner.email, "password": DEFAULT_PASSWORD})
    # then: the code page is next, and nothing is reachable yet
    assert response.status_code == 302 and response.url == reverse("login_two_factor")
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("user_list")).url.startswith("/login/")
    assert client.get(reverse("account")).url.startswith("/login/")
    page = client.get(reverse("login_two_factor"))
    assert b"Enter your code" in page.content
    # when: the code is entered
    response = client.post(reverse("login_two_factor"), {"code": current_code(key)})
    # then
    assert response.status_code == 302 and response.url == reverse("dashboard")
    assert client.session["_auth_user_id"] == str(owner.user.pk)
    assert client.get(reverse("user_list")).status_code == 200


def test_sign_in_with_a_code_goes_on_to_the_page_asked_for(owner, clock):
    key, _ = enroll(owner)
    next_step(clock)
    client = Client()
    client.post(
        "/login/",
        {"username": owner.email, "password": DEFAULT_PASSWORD, "next": "/groups/"},
    )
    response = client.post(reverse("login_two_factor"), {"code": current_code(key)})
    assert response.url == "/groups/"


def test_an_outside_next_address_is_not_followed_after_the_code(owner, clock):
    key, _ = enroll(owner)
    next_step(clock)
    client = Client()
    client.post(
        "/login/",
        {"username": owner.email, "password": DEFAULT_PASSWORD, "next": "https://evil.test/"},
    )
    response = client.post(reverse("login_two_factor"), {"code": current_code(key)})
    assert response.url == reverse("dashboard")


def test_a_wrong_code_is_refused(owner, clock):
    key, _ = enroll(owner)
    next_step(clock)
    client = Client()
    wrong = str((int(current_code(key)) + 1) % 1_000_000).zfill(6)
    response = sign_in(client, owner, wrong)
    assert response.status_code == 200
    assert b"That code is not valid" in response.content
    assert "_auth_user_id" not in client.session


def test_a_code_is_accepted_only_once(owner, clock):
    key, _ = enroll(owner)
    next_step(clock)
    code = current_code(key)
    assert sign_in(Client(), owner, code).status_code == 302
    # when: the same code is tried again within its time step (a shoulder-surfer, a phishing proxy)
    replay = Client()
    response = sign_in(replay, owner, code)
    # then
    assert response.status_code == 200 and b"That code is not valid" in response.content
    assert "_auth_user_id" not in replay.session
    # and: so is an older code still inside the tolerance window
    previous = tf.hotp(key, tf.time_step(timezone.now().timestamp()) - 1)
    assert sign_in(Client(), owner, previous).status_code == 200
    # and: the next step's code works
    next_step(clock)
    assert sign_in(Client(), owner, current_code(key)).status_code == 302


def test_a_recovery_code_signs_in_once_and_is_audited(owner, clock):
    # given
    _, codes = enroll(owner)
    # when
    client = Client()
    response = sign_in(client, owner, codes[0].upper())
    # then
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(owner.user.pk)
    message = client.get(reverse("dashboard")).content.decode()
    assert "signed in with a recovery code; 9 left" in message
    entry = AuditLogEntry.objects.filter(
        organization=owner.organization, action="two_factor.recovery_code_used"
    ).get()
    assert entry.after == {"recovery_codes_left": 9} and entry.actor_user == owner.user
    # and: the same code never works again
    again = Client()
    assert sign_in(again, owner, codes[0]).status_code == 200
    assert "_auth_user_id" not in again.session
    assert RecoveryCode.objects.filter(used_at__isnull=True).count() == 9


def test_wrong_codes_are_throttled_like_wrong_passwords(owner, clock, settings):
    # given
    settings.SIGNIN_FAILURE_LIMIT = 3
    key, _ = enroll(owner)
    next_step(clock)
    client = Client()
    client.post("/login/", {"username": owner.email, "password": DEFAULT_PASSWORD})
    for _ in range(3):
        client.post(reverse("login_two_factor"), {"code": "000000"})
    # when: the right code comes after the limit
    response = client.post(reverse("login_two_factor"), {"code": current_code(key)})
    # then: it is not even checked
    assert b"Too many wrong codes" in response.content
    assert "_auth_user_id" not in client.session
    # and: a new sign-in from elsewhere is held back as well (the limit is per account)
    other = Client(REMOTE_ADDR="10.9.9.9")
    assert b"Too many wrong codes" in sign_in(other, owner, current_code(key)).content
    # and: the window ends (checked where the cache's expiry follows the test's clock)
    if "locmem" in settings.CACHES["default"]["BACKEND"]:
        clock.shift(settings.SIGNIN_FAILURE_WINDOW + 1)
        assert sign_in(Client(), owner, current_code(key)).status_code == 302


def test_the_code_page_needs_the_password_first(client, owner):
    response = client.get(reverse("login_two_factor"))
    assert response.status_code == 302 and response.url == reverse("login")
    response = client.post(reverse("login_two_factor"), {"code": "123456"})
    assert response.url == reverse("login")


def test_the_code_step_expires_and_a_password_change_voids_it(owner, clock):
    key, _ = enroll(owner)
    client = Client()
    client.post("/login/", {"username": owner.email, "password": DEFAULT_PASSWORD})
    clock.shift(6 * 60)
    response = client.post(reverse("login_two_factor"), {"code": current_code(key)})
    assert response.url == reverse("login") and "_auth_user_id" not in client.session
    # and: a password reset between the two steps voids the first one
    client.post("/login/", {"username": owner.email, "password": DEFAULT_PASSWORD})
    owner.user.set_password("another-long-password-1")
    owner.user.save()
    next_step(clock)
    response = client.post(reverse("login_two_factor"), {"code": current_code(key)})
    assert response.url == reverse("login") and "_auth_user_id" not in client.session


def test_a_member_suspended_between_password_and_code_cannot_finish(owner, clock):
    key, _ = enroll(owner)
    next_step(clock)
    client = Client()
    client.post("/login/", {"username": owner.email, "password": DEFAULT_PASSWORD})
    Member.objects.filter(pk=owner.pk).update(status=Member.Status.SUSPENDED)
    response = client.post(reverse("login_two_factor"), {"code": current_code(key)})
    assert response.url == reverse("login") and "_auth_user_id" not in client.session


def test_a_session_signed_in_before_two_factor_was_turned_on_elsewhere_is_ended(owner, clock):
    # given: a session with the password only, then two-factor is turned on from another one
    old_session = signed_in_client(owner)
    assert old_session.get(reverse("user_list")).status_code == 200
    enroll(owner)
    # when
    response = old_session.get(reverse("user_list"))
    # then
    assert response.status_code == 302 and response.url.startswith("/login/")
    assert "_auth_user_id" not in old_session.session


# --- Managing it ---------------------------------------------------------------------------------


def test_new_recovery_codes_need_a_code_and_retire_the_old_ones(owner, clock):
    key, old_codes = enroll(owner)
    client = two_factor_client(owner, key, clock)
    # when: without a valid code
    response = client.post(reverse("two_factor_recovery_codes"), {"code": "000000"}, follow=True)
    assert b"That code is not valid" in response.content
    # when: with one
    next_step(clock)
    response = client.post(reverse("two_factor_recovery_codes"), {"code": current_code(key)})
    # then
    new_codes = re.findall(r'class="recovery-code">([0-9a-z-]+)<', response.content.decode())
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert sign_in(Client(), owner, old_codes[1]).status_code == 200
    assert sign_in(Client(), owner, new_codes[1]).status_code == 302
    assert "two_factor.recovery_codes_regenerated" in actions(owner.organization)


def test_turning_it_off_needs_a_code(owner, clock):
    key, codes = enroll(owner)
    client = two_factor_client(owner, key, clock)
    # when
    client.post(reverse("two_factor_disable"), {"code": "000000"})
    # then
    assert tf.is_enabled(owner.user)
    # when: a recovery code does it
    response = client.post(reverse("two_factor_disable"), {"code": codes[3]}, follow=True)
    # then
    assert b"Two-factor sign-in is off" in response.content
    assert not TwoFactorDevice.objects.filter(user=owner.user).exists()
    assert not RecoveryCode.objects.exists()
    assert actions(owner.organization)[-1] == "two_factor.disabled"
    # and: sign-in is back to the password alone
    response = Client().post("/login/", {"username": owner.email, "password": DEFAULT_PASSWORD})
    assert response.url == reverse("dashboard")


def test_moving_to_another_authenticator_needs_a_current_code_and_ends_other_sessions(owner, clock):
    # given
    old_key, _ = enroll(owner)
    client = two_factor_client(owner, old_key, clock)
    other_session = two_factor_client(owner, old_key, clock)
    # when: no valid current code
    response = client.post(reverse("two_factor_replace"), {"code": "123"}, follow=True)
    assert b"That code is not valid" in response.content
    # when: with one, a new secret is pending and the old one still works
    next_step(clock)
    response = client.post(reverse("two_factor_replace"), {"code": current_code(old_key)})
    assert response.url == reverse("two_factor_setup")
    assert b"Move to another authenticator app" in client.get(reverse("two_factor_setup")).content
    new_key = tf.open_secret(TwoFactorDevice.objects.get(user=owner.user).pending_secret)
    assert new_key is not None and new_key != old_key
    assert other_session.get(reverse("user_list")).status_code == 200
    # when: the new one is confirmed
    next_step(clock)
    client.post(reverse("two_factor_setup"), {"code": current_code(new_key)})
    # then: this session goes on, the other one is signed out, only the new app's codes work
    assert client.get(reverse("user_list")).status_code == 200
    assert other_session.get(reverse("user_list")).status_code == 302
    next_step(clock)
    assert sign_in(Client(), owner, current_code(old_key)).status_code == 200
    assert sign_in(Client(), owner, current_code(new_key)).status_code == 302
    assert "two_factor.replaced" in actions(owner.organization)


# --- The organization's rule -------------------------------------------------------------------


def test_only_an_owner_with_two_factor_can_require_it(owner, clock):
    organization = owner.organization
    client = signed_in_client(owner)
    # when: the owner has no two-factor sign-in yet
    response = client.post(
        reverse("organization_security"), {"require_two_factor": "on"}, follow=True
    )
    # then
    assert b"Turn on two-factor sign-in for your own account first" in response.content
    organization.refresh_from_db()
    assert organization.require_two_factor is False
    # when: an admin tries
    admin = AdminFactory(organization=organization)
    admin_client = signed_in_client(admin)
    admin_client.post(reverse("organization_security"), {"require_two_factor": "on"})
    organization.refresh_from_db()
    assert organization.require_two_factor is False
    assert b"Security for" not in admin_client.get(reverse("account")).content
    # when: the owner has it
    key, _ = enroll(owner)
    client = two_factor_client(owner, key, clock)
    client.post(reverse("organization_security"), {"require_two_factor": "on"})
    # then
    organization.refresh_from_db()
    assert organization.require_two_factor is True
    entry = AuditLogEntry.objects.filter(action="organization.two_factor_required").get()
    assert entry.organization == organization and entry.after == {"require_two_factor": True}
    # and: turning it off again is audited too
    client.post(reverse("organization_security"), {})
    organization.refresh_from_db()
    assert organization.require_two_factor is False
    assert actions(organization)[-1] == "organization.two_factor_optional"


def test_an_admin_without_two_factor_is_held_on_the_set_up_page_until_enrolled(owner, clock):
    # given
    Organization.objects.filter(pk=owner.organization_id).update(require_two_factor=True)
    admin = AdminFactory(organization=owner.organization)
    client = Client()
    # when: the admin signs in with a password
    response = client.post(
        "/login/", {"username": admin.email, "password": DEFAULT_PASSWORD}, follow=True
    )
    # then: the set-up page, with the reason
    assert response.redirect_chain[-1][0] == reverse("two_factor_setup")
    assert b"requires two-factor sign-in for owners and admins" in response.content
    for name in ("dashboard", "user_list", "group_list", "activity", "account"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response.url == reverse("two_factor_setup"), name
    assert client.get("/django-admin/").url == reverse("two_factor_setup")
    # when: they enroll
    key = tf.open_secret(TwoFactorDevice.objects.get(user=admin.user).pending_secret)
    assert key is not None
    client.post(reverse("two_factor_setup"), {"code": current_code(key)})
    # then: the panel opens
    assert client.get(reverse("user_list")).status_code == 200
    # and: they cannot turn it off while the organization requires it
    next_step(clock)
    response = client.post(reverse("two_factor_disable"), {"code": current_code(key)}, follow=True)
    assert b"cannot be turned off" in response.content
    assert tf.is_enabled(admin.user)


def test_the_rule_leaves_members_alone_and_signing_out_works(owner):
    Organization.objects.filter(pk=owner.organization_id).update(require_two_factor=True)
    member = ActiveMemberFactory(organization=owner.organization, role=Member.Role.MEMBER)
    assert signed_in_client(member).get(reverse("account")).status_code == 200
    admin_client = signed_in_client(AdminFactory(organization=owner.organization))
    response = admin_client.post("/logout/")
    assert response.status_code == 200 and b"You are signed out" in response.content


def test_one_organizations_rule_and_audit_stay_in_that_organization(owner, clock):
    # given: one person, owner in A (which requires two-factor) and admin in B (which does not)
    key, _ = enroll(owner)
    client = two_factor_client(owner, key, clock)
    client.post(reverse("organization_security"), {"require_two_factor": "on"})
    other = AdminFactory(user=owner.user, email=owner.email)
    unrelated = OwnerFactory()
    # when: the person asks B's page to change the setting, B is not the current organization
    Organization.objects.filter(pk=other.organization_id).update(require_two_factor=False)
    client.post(reverse("organization_switch"), {"member": other.pk})
    response = client.post(
        reverse("organization_security"), {"require_two_factor": "on"}, follow=True
    )
    # then: an admin of B cannot, and A's rule still binds them while they are an owner there
    assert b"Only owners of this organization" in response.content
    other.organization.refresh_from_db()
    assert other.organization.require_two_factor is False
    next_step(clock)
    response = client.post(reverse("two_factor_disable"), {"code": current_code(key)}, follow=True)
    assert owner.organization.name.encode() in response.content
    assert b"cannot be turned off" in response.content
    # and: the service refuses a member of another organization outright
    with pytest.raises(services.AccountsError):
        services.organization_require_two_factor(
            organization=unrelated.organization, required=False, by=owner
        )
    # and: the audit rows are in the person's own organizations only
    assert "two_factor.enabled" in actions(owner.organization)
    assert not AuditLogEntry.objects.filter(
        organization=unrelated.organization, action__startswith="two_factor"
    ).exists()


# --- Session expiry ----------------------------------------------------------------------------


def test_an_idle_session_ends_and_an_active_one_lasts_until_its_maximum_age(owner, clock, settings):
    settings.SESSION_IDLE_TIMEOUT_SECONDS = 30 * 60
    settings.SESSION_COOKIE_AGE = 12 * 60 * 60
    client = signed_in_client(owner)
    assert client.get(reverse("user_list")).status_code == 200
    # when: active every 20 minutes for 11 hours
    for _ in range(33):
        clock.shift(20 * 60)
        assert client.get(reverse("user_list")).status_code == 200
    # then: the absolute limit ends it at 12 hours
    clock.shift(60 * 60 + 60)
    response = client.get(reverse("user_list"))
    assert response.status_code == 302 and "_auth_user_id" not in client.session
    # and: a new session left alone for 31 minutes ends too, with a message
    client = signed_in_client(owner)
    client.get(reverse("user_list"))
    clock.shift(31 * 60)
    response = client.get(reverse("user_list"), follow=True)
    assert response.redirect_chain[-1][0].startswith("/login/")
    assert b"signed out after a period without activity" in response.content


def test_every_two_factor_audit_action_has_words_for_people():
    from accounts.templatetags.audit import ACTION_LABELS

    actions = [
        "two_factor.enabled",
        "two_factor.replaced",
        "two_factor.disabled",
        "two_factor.recovery_codes_regenerated",
        "two_factor.recovery_code_used",
        "organization.two_factor_required",
        "organization.two_factor_optional",
    ]
    assert all(action in ACTION_LABELS for action in actions)
