"""The PostgreSQL backend health-checks a reused connection only after it sat idle."""

from __future__ import annotations

import time

import pytest
from django.db import connection, connections

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL backend only"),
]


@pytest.fixture
def health_checks(monkeypatch):
    """Counts the real `SELECT 1` checks the backend makes (the check itself still runs)."""
    calls: list[float] = []
    backend = type(connections["default"])
    original = backend.is_usable

    def counted(self):  # type: ignore[no-untyped-def]
        calls.append(time.monotonic())
        return original(self)

    monkeypatch.setattr(backend, "is_usable", counted)
    monkeypatch.setattr(connections["default"], "health_check_enabled", True)
    return calls


def request_cycle() -> None:
    """What Django does around a request: check the connection at start, query, check at end."""
    connection.close_if_unusable_or_obsolete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    connection.close_if_unusable_or_obsolete()


def test_the_backend_is_ours():
    assert type(connections["default"]).__module__ == "nordpass_admin.db.postgresql.base"


def test_back_to_back_requests_skip_the_check(health_checks, settings):
    settings.DB_HEALTH_CHECK_IDLE_SECONDS = 60
    connection.ensure_connection()
    for _ in range(3):
        request_cycle()
    assert health_checks == []


def test_a_connection_idle_past_the_limit_is_checked(health_checks, settings):
    settings.DB_HEALTH_CHECK_IDLE_SECONDS = 0.05
    connection.ensure_connection()
    request_cycle()
    time.sleep(0.1)
    request_cycle()
    assert len(health_checks) >= 1


def test_a_connection_killed_while_idle_is_replaced(settings):
    # given: a connection whose server process was terminated while it sat idle
    settings.DB_HEALTH_CHECK_IDLE_SECONDS = 0.05
    connection.ensure_connection()
    request_cycle()
    victim = connection.connection.info.backend_pid
    with connections.create_connection("default").cursor() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [victim])
    time.sleep(0.1)
    # when: the next request runs
    request_cycle()
    # then: it got a working, new connection instead of an error
    assert connection.connection.info.backend_pid != victim
