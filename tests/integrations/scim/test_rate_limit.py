"""Per-organization SCIM rate limit: 429 with Retry-After, shared through Redis when configured."""

from __future__ import annotations

import itertools
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import redis
import time_machine

from integrations.scim.ratelimit import LocalBuckets, RedisBuckets, scim_rate_limit_check
from tests.integrations.scim.test_auth_and_discovery import assert_scim_error

pytestmark = pytest.mark.django_db


def test_over_the_limit_answers_429_with_retry_after_and_other_organizations_go_on(
    scim, other_scim, settings
):
    # given: 2 requests per second, no burst beyond that
    settings.SCIM_RATE_LIMIT = 2
    settings.SCIM_RATE_BURST = 2
    # when
    statuses = [scim.get("/Users").status for _ in range(3)]
    limited = scim.get("/Users")
    # then
    assert statuses[:2] == [200, 200]
    assert_scim_error(limited, 429)
    assert int(limited.headers["Retry-After"]) >= 1
    assert other_scim.get("/Users").status == 200


def test_a_limit_of_zero_turns_limiting_off(scim, settings):
    settings.SCIM_RATE_LIMIT = 0
    assert {scim.get("/Users").status for _ in range(20)} == {200}


def test_the_default_leaves_entra_far_more_than_its_25_requests_per_second(settings):
    assert settings.SCIM_RATE_LIMIT >= 100


def test_local_bucket_refills_with_time():
    buckets = LocalBuckets()
    now = 1000.0
    assert buckets.take("k", rate=1, burst=1, now=now) == (True, 0.0)
    allowed, wait = buckets.take("k", rate=1, burst=1, now=now + 0.25)
    assert not allowed and wait == pytest.approx(0.75)
    assert buckets.take("k", rate=1, burst=1, now=now + 1.5)[0] is True


def redis_url() -> str:
    for name in ("CACHE_URL", "CELERY_BROKER_URL"):
        if os.environ.get(name, "").startswith("redis://"):
            return os.environ[name]
    if os.environ.get("REQUIRE_REAL_SERVICES") == "1":
        pytest.fail("The run against real servers must have Redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/15", socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379 (CI's second run always has one)")
    return "redis://127.0.0.1:6379/15"


def test_redis_bucket_is_shared_by_every_worker():
    # given: two "workers" (two clients) on the same real Redis
    key = f"scim-rate:test-{uuid.uuid4().hex}"
    first, second = RedisBuckets.from_url(redis_url()), RedisBuckets.from_url(redis_url())
    # when: they take from one bucket of 3
    results = [bucket.take(key, rate=1, burst=3)[0] for bucket in (first, second, first, second)]
    # then: three requests pass in total, whichever worker served them
    assert results == [True, True, True, False]
    allowed, wait = second.take(key, rate=1, burst=3)
    assert not allowed and 0 < wait <= 1


# A web node's clock an hour behind Redis's, and another's an hour ahead.
SKEWED_CLOCKS = (timedelta(hours=-1), timedelta(hours=1))


def hammer(take: Callable[[], bool], *, seconds: float) -> tuple[int, float]:
    """Requests from the web nodes in turn, each with its own clock, for about `seconds`: how
    many were admitted, and over how long (from before the first to after the last)."""
    admitted = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        for skew in SKEWED_CLOCKS:
            with time_machine.travel(datetime.now(UTC) + skew):
                admitted += take()
    return admitted, time.monotonic() - start


def test_two_web_nodes_take_from_one_redis_bucket():
    # given: two web nodes (two clients) on the same real Redis, 20 requests/s and a burst of 10
    # (their clocks are the subject of the next test: take() is given no time at all)
    key = f"scim-rate:test-{uuid.uuid4().hex}"
    node_a, node_b = RedisBuckets.from_url(redis_url()), RedisBuckets.from_url(redis_url())
    nodes = itertools.cycle([node_a, node_b])
    # when: they take from one bucket in turn, far faster than the limit, for a second
    admitted, elapsed = hammer(lambda: next(nodes).take(key, rate=20, burst=10)[0], seconds=1.0)
    # then: together they got one bucket's worth, refilled at 20/s by Redis's clock
    assert 10 < admitted <= 10 + 20 * elapsed


def test_the_scim_limit_holds_for_web_nodes_whose_clocks_disagree(settings):
    # given: the rate limit kept in the real Redis, as with CACHE_URL=redis://...
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url(),
        }
    }
    settings.SCIM_RATE_LIMIT = 20
    settings.SCIM_RATE_BURST = 10
    organization_id = uuid.uuid4().int % 10**12
    # when: requests of one organization come through nodes with clocks hours apart
    admitted, elapsed = hammer(lambda: scim_rate_limit_check(organization_id).allowed, seconds=1.0)
    # then
    assert 10 < admitted <= 10 + 20 * elapsed
