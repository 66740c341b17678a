"""Per-organization SCIM rate limit: 429 with Retry-After, shared through Redis when configured."""

from __future__ import annotations

import os
import time
import uuid

import pytest
import redis

from integrations.scim.ratelimit import LocalBuckets, RedisBuckets
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
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if broker.startswith("redis://"):
        return broker
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
    now = time.time()
    # when: they take from one bucket of 3
    results = [
        bucket.take(key, rate=1, burst=3, now=now)[0] for bucket in (first, second, first, second)
    ]
    # then: three requests pass in total, whichever worker served them
    assert results == [True, True, True, False]
    allowed, wait = second.take(key, rate=1, burst=3, now=now)
    assert not allowed and 0 < wait <= 1
