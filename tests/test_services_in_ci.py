"""In CI's second run the suite must really talk to PostgreSQL and Redis, never fall back."""

from __future__ import annotations

import os

import pytest
import redis
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.skipif(
    os.environ.get("REQUIRE_REAL_SERVICES") != "1",
    reason="only in the run against real servers (.ci/run sets REQUIRE_REAL_SERVICES=1)",
)


@pytest.mark.django_db
def test_the_database_is_postgresql():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        assert cursor.fetchone()[0]


def test_the_broker_is_a_live_redis():
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2).ping() is True
