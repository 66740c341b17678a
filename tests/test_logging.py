"""Structured logs: one JSON object per line, each naming its request (X-Request-Id) or task."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from celery import signals
from django.conf import settings as django_settings
from django.test import Client

from integrations.models import ScimRequest
from nordpass_admin.celery import ping
from nordpass_admin.logging import JsonFormatter, RequestIdFilter, bind_request_id
from tests.factories import OrganizationFactory
from tests.integrations.scim.conftest import scim_client_for


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Everything logged anywhere, at DEBUG, through the JSON formatter as configured."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def records(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_record_is_one_line_of_json_with_the_documented_fields(json_lines):
    # given
    logger = logging.getLogger("tests.logging")
    bind_request_id("req-0123456789")
    try:
        # when: a message with line breaks, an exception and extra fields
        logger.warning('two\nlines and "quotes"', extra={"member_id": 7, "obj": object()})
        try:
            raise ValueError("broken\nthing")
        except ValueError:
            logger.exception("it failed")
    finally:
        bind_request_id(None)
    # then
    lines = json_lines.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == 'two\nlines and "quotes"'
    assert first["level"] == "WARNING" and first["logger"] == "tests.logging"
    assert first["timestamp"].endswith("Z") and "T" in first["timestamp"]
    assert first["request_id"] == "req-0123456789"
    assert first["member_id"] == 7 and first["obj"].startswith("<object object")
    assert "exc_info" not in first
    assert second["exc_info"].startswith("Traceback") and "ValueError: broken" in second["exc_info"]


@pytest.mark.django_db
def test_a_scim_requests_lines_carry_the_request_id_it_returned(json_lines):
    # given
    scim = scim_client_for(OrganizationFactory())
    # when: a request that logs (Django logs every 4xx response; SQL at DEBUG is not logged
    # here, DEBUG is off)
    response = scim.get("/Users/00000000-0000-0000-0000-000000000000")
    # then
    request_id = response.headers["X-Request-Id"]
    lines = records(json_lines)
    mine = [line for line in lines if line["request_id"] == request_id]
    assert response.status == 404 and len(request_id) == 32
    assert any(line["logger"] == "django.request" for line in mine), lines
    assert all(line["request_id"] in (request_id, None) for line in lines)


class LogsBeforeTheViewMiddleware:
    """Stands for any middleware that logs before the SCIM middleware runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        logging.getLogger("tests.first").warning("first line of %s", request.path)
        return self.get_response(request)


@pytest.mark.django_db
def test_every_line_of_a_scim_request_carries_its_id_from_the_first_on(json_lines, settings):
    # given: a middleware after the request-id one that logs before any SCIM code runs
    settings.MIDDLEWARE = [
        settings.MIDDLEWARE[0],
        "tests.test_logging.LogsBeforeTheViewMiddleware",
        *settings.MIDDLEWARE[1:],
    ]
    scim = scim_client_for(OrganizationFactory())
    # when: a client that sends its own X-Request-Id, and a request that logs a 404
    response = scim.get(
        "/Users/00000000-0000-0000-0000-000000000000",
        headers={"X-Request-Id": "client-chosen-id-0001"},
    )
    # then: one id of ours from the first line to the response and the provisioning log
    request_id = response.headers["X-Request-Id"]
    lines = [line for line in records(json_lines) if line["request_id"] is not None]
    assert request_id != "client-chosen-id-0001" and len(request_id) == 32
    assert lines[0]["logger"] == "tests.first"
    assert {line["logger"] for line in lines} >= {"tests.first", "django.request"}
    assert {line["request_id"] for line in lines} == {request_id}
    assert ScimRequest.objects.get().request_id == request_id


@pytest.mark.django_db
def test_a_panel_request_keeps_the_proxys_request_id_or_gets_one(json_lines):
    # when: a page that does not exist, once with a proxy's id and once without
    given = Client().get("/no-such-page/", HTTP_X_REQUEST_ID="lb-7f3a9c21-0001")
    fresh = Client().get("/no-such-page/")
    forged = Client().get("/no-such-page/", HTTP_X_REQUEST_ID='x" level="CRITICAL')
    # then
    assert given["X-Request-Id"] == "lb-7f3a9c21-0001"
    assert len(fresh["X-Request-Id"]) == 32 and fresh["X-Request-Id"] != given["X-Request-Id"]
    assert forged["X-Request-Id"] != 'x" level="CRITICAL' and len(forged["X-Request-Id"]) == 32
    not_found = [line for line in records(json_lines) if line["logger"] == "django.request"]
    assert [line["request_id"] for line in not_found] == [
        "lb-7f3a9c21-0001",
        fresh["X-Request-Id"],
        forged["X-Request-Id"],
    ]


def test_the_id_is_dropped_when_the_request_is_over(json_lines):
    Client().get("/healthz", HTTP_X_REQUEST_ID="finished-request-1")
    logging.getLogger("tests.logging").warning("after")
    assert records(json_lines)[-1]["request_id"] is None


def test_celery_task_lines_carry_the_task_id(json_lines):
    # when: the signals Celery sends around every task run
    signals.task_prerun.send(sender=ping, task_id="task-42", task=ping, args=(), kwargs={})
    logging.getLogger("accounts.tasks").warning("inside")
    signals.task_postrun.send(sender=ping, task_id="task-42", task=ping, args=(), kwargs={})
    logging.getLogger("accounts.tasks").warning("outside")
    # then
    inside, outside = records(json_lines)[-2:]
    assert (inside["task_id"], inside["task_name"]) == ("task-42", "nordpass_admin.ping")
    assert "task_id" not in outside


def test_log_format_json_is_what_the_settings_configure():
    """A fresh process with LOG_FORMAT=json: the console handler writes JSON, one per line."""
    script = (
        "import logging, django; django.setup(); from django.test import Client; "
        "Client().get('/no-such-page/', HTTP_X_REQUEST_ID='proc-request-01'); "
        "logging.getLogger('x').warning('multi\\nline')"
    )
    env = {
        **os.environ,
        "ENV_FILE": "/dev/null",
        "DJANGO_SETTINGS_MODULE": "nordpass_admin.settings",
        "DEBUG": "true",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "ALLOWED_HOSTS": "testserver",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=django_settings.BASE_DIR,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [line["message"] for line in lines] == ["Not Found: /no-such-page/", "multi\nline"]
    assert [line["request_id"] for line in lines] == ["proc-request-01", None]
    assert lines[0]["logger"] == "django.request" and lines[0]["status_code"] == 404


def test_an_unknown_log_format_stops_start_up():
    env = {**os.environ, "ENV_FILE": "/dev/null", "DEBUG": "true", "LOG_FORMAT": "xml"}
    env["DJANGO_SETTINGS_MODULE"] = "nordpass_admin.settings"
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=django_settings.BASE_DIR,
    )
    assert result.returncode != 0 and "LOG_FORMAT must be" in result.stderr
