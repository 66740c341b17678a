from __future__ import annotations

import os

import pytest
from django.test import Client

from accounts.models import Member
from tests.factories import DEFAULT_PASSWORD, AdminFactory, OwnerFactory


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """Rate-limit counters and SCIM buckets start empty in every test (CI's second run keeps
    them in a real Redis, where they would otherwise outlive the test)."""
    from django.core.cache import cache

    from integrations import credential_cache
    from integrations.scim import ratelimit

    cache.clear()
    ratelimit.reset_backend()
    credential_cache.forget()


@pytest.fixture(autouse=True)
def _provisioning_log_written_at_once(settings) -> None:
    # Tests read the log right after a request; the batched writer PostgreSQL uses in
    # production is covered by tests/integrations/scim/test_log_writer.py.
    settings.SCIM_LOG_FLUSH_SECONDS = 0


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # The production hasher is slow on purpose; tests only need passwords to round-trip.
    # The real hashers stay listed so passwords set by another process (a command) still verify.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


@pytest.fixture
def smtp(settings):
    """A real SMTP server on loopback that Django's SMTP backend sends to: email as it leaves."""
    from tests.support import smtp_server

    with smtp_server() as inbox:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = inbox.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield inbox


@pytest.fixture
def owner(db) -> Member:
    return OwnerFactory()


@pytest.fixture
def admin_member(db) -> Member:
    return AdminFactory()


def signed_in_client(member: Member) -> Client:
    client = Client()
    assert client.login(username=member.email, password=DEFAULT_PASSWORD)
    return client


@pytest.fixture
def owner_client(owner: Member) -> Client:
    return signed_in_client(owner)


# Under CI the fuzzers replay the same examples every run, so a submission's result does not
# depend on luck; on developer machines they keep exploring new ones.
from hypothesis import settings as hypothesis_settings  # noqa: E402

hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    hypothesis_settings.load_profile("ci")
