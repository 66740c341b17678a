"""Verified SCIM tokens are remembered per process, and every change reaches every process at once.

The shared generation lives in a real Redis (CI's second run always has one). "Another worker"
is simulated by keeping this process's remembered entries from before a change, which is what
a second gunicorn worker holds: it must still refuse a revoked token.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.audit import Actor
from integrations import credential_cache, services
from tests.integrations.scim.test_auth_and_discovery import assert_scim_error
from tests.integrations.scim.test_rate_limit import redis_url

pytestmark = pytest.mark.django_db(transaction=True)


def token_queries(captured: CaptureQueriesContext) -> list[str]:
    """The token verifications (not the once-a-minute last-use write)."""
    return [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].startswith("SELECT") and '"integrations_scimtoken"."digest" =' in q["sql"]
    ]


@pytest.fixture
def shared_cache(settings):
    """A Redis cache of its own (db 12), emptied before and after."""
    url = redis_url().rsplit("/", 1)[0] + "/12"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    }
    from django.core.cache import cache

    cache.clear()
    credential_cache.forget()
    yield cache
    cache.clear()
    credential_cache.forget()


def lookups(scim, count: int = 1) -> CaptureQueriesContext:
    with CaptureQueriesContext(connection) as captured:
        for _ in range(count):
            assert scim.get("/Users?filter=userName%20eq%20%22nobody%22").status == 200
    return captured


def test_a_verified_token_is_not_looked_up_again(scim, shared_cache):
    first = lookups(scim)
    again = lookups(scim, count=3)
    assert len(token_queries(first)) == 1
    assert token_queries(again) == []


def test_revocation_refuses_the_token_at_once_even_in_a_worker_that_remembers_it(
    scim, organization, shared_cache
):
    # given: this "worker" has verified the token; keep what it remembers
    lookups(scim)
    remembered = dict(credential_cache._entries)
    assert remembered
    # when: another process revokes, and our memory is as it was before
    services.scim_token_revoke(organization=organization, actor=Actor.system())
    credential_cache._entries.update(remembered)
    # then
    assert_scim_error(scim.get("/Users"), 401)


def test_regeneration_without_overlap_refuses_the_old_token_everywhere(
    scim, organization, shared_cache
):
    lookups(scim)
    remembered = dict(credential_cache._entries)
    issued = services.scim_token_issue(organization=organization, actor=Actor.system())
    credential_cache._entries.update(remembered)
    assert_scim_error(scim.get("/Users"), 401)
    assert scim.get("/Users", token=issued.secret).status == 200


def test_an_overlapping_token_stops_when_its_overlap_ends_even_when_remembered(
    scim, organization, shared_cache
):
    # given: regenerated with a one-hour overlap; the old token is verified and remembered
    services.scim_token_issue(
        organization=organization, actor=Actor.system(), overlap=timedelta(hours=1)
    )
    lookups(scim)
    # when: the overlap ends but nothing has retired the row yet
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=1)):
        response = scim.get("/Users")
    # then
    assert_scim_error(response, 401)


def test_an_organization_change_makes_every_worker_ask_the_database_again(
    scim, organization, shared_cache
):
    lookups(scim)
    organization.name = "Contoso Ltd"
    organization.save()
    assert len(token_queries(lookups(scim))) == 1


def test_entries_expire_after_the_configured_seconds(scim, shared_cache, settings):
    settings.SCIM_AUTH_CACHE_SECONDS = 5
    lookups(scim)
    with time_machine.travel(timezone.now() + timedelta(seconds=6), tick=False):
        assert len(token_queries(lookups(scim))) == 1


def test_a_redis_outage_falls_back_to_the_database(scim, organization, settings):
    # given: a shared cache nobody listens on
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    settings.SCIM_RATE_LIMIT = 0
    settings.SCIM_AUTH_FAILURE_LIMIT = 0
    credential_cache.forget()
    # then: verified by the database every time, and revocation still applies
    assert len(token_queries(lookups(scim, count=2))) == 2
    services.scim_token_revoke(organization=organization, actor=Actor.system())
    assert_scim_error(scim.get("/Users"), 401)


def test_a_per_process_cache_is_never_trusted(scim, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    credential_cache.forget()
    assert len(token_queries(lookups(scim, count=3))) == 3


def test_zero_seconds_turns_the_cache_off(scim, shared_cache, settings):
    settings.SCIM_AUTH_CACHE_SECONDS = 0
    assert len(token_queries(lookups(scim, count=2))) == 2


def test_another_tenants_url_with_a_remembered_token_is_refused(scim, other_scim, shared_cache):
    lookups(scim)
    response = other_scim.get("/Users", token=scim.token)
    assert_scim_error(response, 401)


def test_repeated_failures_from_one_address_get_429_and_valid_tokens_still_pass(scim, settings):
    # given
    settings.SCIM_AUTH_FAILURE_LIMIT = 3
    settings.SCIM_AUTH_FAILURE_WINDOW = 60
    wrong = "npscim_" + "A" * 49
    # when
    statuses = [scim.get("/Users", token=wrong).status for _ in range(3)]
    throttled = scim.get("/Users", token=wrong)
    # then: the same answer whatever was wrong, then 429 with a SCIM body and Retry-After
    assert statuses == [401, 401, 401]
    assert_scim_error(throttled, 429)
    assert throttled.headers["Retry-After"] == "60"
    assert_scim_error(scim.get("/Users", token=""), 429)
    assert scim.get("/Users").status == 200
    # and another address is not affected
    other_address = scim.client.get(
        f"{scim.base}/Users", HTTP_AUTHORIZATION=f"Bearer {wrong}", REMOTE_ADDR="10.0.0.9"
    )
    assert other_address.status_code == 401
