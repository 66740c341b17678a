"""The provisioning log written in batches by a background thread (PostgreSQL), or at once."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.utils import timezone

from integrations import log_writer
from integrations.models import ScimRequest
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db(transaction=True)

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="batching is for PostgreSQL only"
)


def wait_for_rows(organization, count: int, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = ScimRequest.objects.filter(organization=organization).count()
        if found >= count:
            return found
        time.sleep(0.05)
    return ScimRequest.objects.filter(organization=organization).count()


def test_at_zero_seconds_each_request_writes_its_row_at_once(scim, organization, settings):
    settings.SCIM_LOG_FLUSH_SECONDS = 0
    scim.get("/Users")
    assert ScimRequest.objects.filter(organization=organization).count() == 1


def test_sqlite_always_writes_at_once(scim, organization, settings):
    settings.SCIM_LOG_FLUSH_SECONDS = 5
    if connection.vendor == "postgresql":
        pytest.skip("SQLite behaviour")
    scim.get("/Users")
    assert ScimRequest.objects.filter(organization=organization).count() == 1


@postgres_only
def test_rows_arrive_from_the_writer_thread_in_order_and_complete(scim, organization, settings):
    # given: batching every 0.2 s
    settings.SCIM_LOG_FLUSH_SECONDS = 0.2
    # when: 25 requests
    for _ in range(25):
        assert scim.get("/Users?count=1").status == 200
    assert scim.get("/Users", token="npscim_" + "A" * 49).status == 401
    # then: every row arrives, with what the request did
    assert wait_for_rows(organization, 26) == 26
    rows = list(ScimRequest.objects.filter(organization=organization).order_by("pk"))
    assert [r.status_code for r in rows] == [200] * 25 + [401]
    assert all(r.request_body == "" and r.path == "/Users" for r in rows)
    assert rows[0].created_at <= rows[-1].created_at


@postgres_only
def test_flush_writes_whatever_is_queued_now(scim, organization, settings):
    settings.SCIM_LOG_FLUSH_SECONDS = 60  # the thread would wait a minute
    scim.get("/Users")
    scim.get("/Groups")
    assert log_writer.flush() == 2
    assert ScimRequest.objects.filter(organization=organization).count() == 2


@postgres_only
def test_rows_wait_for_a_database_that_fails_and_are_written_after(organization, settings):
    # given: a queued row and a first write that fails in the database (a value too long for
    # its column stands in for an outage: the same DatabaseError path)
    settings.SCIM_LOG_FLUSH_SECONDS = 60
    row = {
        "organization_id": organization.pk,
        "created_at": timezone.now(),
        "request_id": "r1",
        "method": "GET",
        "path": "/Users",
        "query": "",
        "status_code": 200,
        "duration_ms": 1,
        "client_kind": "scim",
        "resource_type": "User",
        "resource_id": "",
        "outcome": "",
        "request_body": "",
        "response_body": "",
        "remote_ip": None,
    }
    log_writer.write({**row, "method": "X" * 50})
    # when: the write fails, the row is kept; fixed, the next flush writes it
    assert log_writer.flush() == 0
    pending = log_writer._writer._pending
    assert len(pending) == 1
    pending[0]["method"] = "GET"
    assert log_writer.flush() == 1
    assert ScimRequest.objects.filter(organization=organization, request_id="r1").exists()


@postgres_only
def test_a_row_whose_organization_is_gone_is_dropped_and_holds_back_nothing(organization, settings):
    # given: rows queued for two organizations, then one organization deleted before the flush
    settings.SCIM_LOG_FLUSH_SECONDS = 60
    doomed = OrganizationFactory()
    for owner, request_id in ((organization, "kept-1"), (doomed, "lost"), (organization, "kept-2")):
        log_writer.write(
            {
                "organization_id": owner.pk,
                "created_at": timezone.now(),
                "request_id": request_id,
                "method": "GET",
                "path": "/Users",
                "query": "",
                "status_code": 200,
                "duration_ms": 1,
                "client_kind": "scim",
                "resource_type": "",
                "resource_id": "",
                "outcome": "",
                "request_body": "",
                "response_body": "",
                "remote_ip": None,
            }
        )
    doomed.delete()
    # when
    written = log_writer.flush()
    # then: the other rows are written, exactly once, and nothing waits to be retried (the
    # process's writer thread, started by an earlier test, may have written them first: the
    # rows in the database are the proof, whichever flush wrote them)
    assert 0 <= written <= 2
    assert log_writer._writer._pending == []
    assert sorted(ScimRequest.objects.values_list("request_id", flat=True)) == ["kept-1", "kept-2"]
