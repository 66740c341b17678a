"""/metrics: hidden without the token, SCIM counters with low-cardinality labels, invitation and
queue gauges read at scrape time, and counts summed across gunicorn worker processes."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from accounts.audit import Actor
from accounts.models import Invitation
from integrations import services
from nordpass_admin.celery import app as celery_app
from tests.factories import OrganizationFactory, OwnerFactory
from tests.faults.servers import (
    BIN,
    app_environment,
    entra_user,
    http_request,
    stop_process,
    wait_until,
)
from tests.integrations.scim.conftest import ScimClient, scim_client_for
from tests.support import free_port

TOKEN = "metrics-" + "s3cr3t" * 6
REDIS_BROKER = django_settings.CELERY_BROKER_URL.startswith("redis://")
OPERATION = re.compile(
    r"^(GET|POST|PUT|PATCH|DELETE|OTHER) "
    r"((Users|Groups)( one| list)?|(Users|Groups)?/\.search|discovery|unsupported|unknown)$"
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def metrics_on(settings) -> str:
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []
    return TOKEN


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client: Client | None = None) -> Samples:
    response = (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.status_code
    return parse(response.content.decode())


def requests_total(samples: Samples, operation: str, status_class: str) -> float:
    key = frozenset({"operation": operation, "status_class": status_class}.items())
    return samples.get(("nordpass_scim_requests_total", key), 0.0)


# --- protection ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_is_off_while_no_token_is_configured(settings):
    # given
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    # when
    responses = [
        Client().get("/metrics"),
        Client().get("/metrics", HTTP_AUTHORIZATION="Bearer "),
        Client().get("/metrics", REMOTE_ADDR="127.0.0.1"),
    ]
    # then
    assert [response.status_code for response in responses] == [404, 404, 404]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization",
    ["", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN, "Bearer"],
)
def test_metrics_answers_404_to_a_missing_or_wrong_token(metrics_on, authorization):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = Client().get("/metrics", **extra)
    assert response.status_code == 404
    assert b"nordpass_" not in response.content


@pytest.mark.django_db
def test_other_methods_get_404_too_without_the_token(metrics_on):
    assert Client().post("/metrics").status_code == 404
    assert Client().post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


@pytest.mark.django_db
def test_metrics_answers_the_right_token_in_prometheus_text_format(metrics_on):
    # when
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert "no-cache" in response["Cache-Control"]
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {
        "nordpass_scim_requests",
        "nordpass_scim_request_duration_seconds",
        "nordpass_invitations",
        "nordpass_database_up",
        "nordpass_celery_queue_length",
        "nordpass_celery_broker_up",
    } <= names


@pytest.mark.django_db
def test_an_allowed_address_may_scrape_without_the_token(metrics_on, settings):
    settings.METRICS_ALLOWED_IPS = ["10.1.0.0/16", "192.0.2.7"]
    assert Client().get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert Client().get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 200
    assert Client().get("/metrics", REMOTE_ADDR="10.2.0.1").status_code == 404


# --- SCIM counters -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_scim_requests_move_the_counters_by_operation_and_status_class(metrics_on):
    # given
    organization = OrganizationFactory()
    scim = scim_client_for(organization)
    before = scrape()
    # when
    created = scim.post("/Users", entra_user("ada@contoso.com"))
    user_id = created.body["id"]
    scim.get("/Users")
    scim.get(f"/Users/{user_id}")
    scim.get(f"/Users/{uuid.uuid4()}")  # 404
    scim.patch(
        f"/Users/{user_id}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": False}],
        },
    )
    group = scim.post(
        "/Groups",
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Eng"},
    )
    scim.get("/ServiceProviderConfig")
    scim.post("/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})
    scim.get("/Users", token="npscim_wrong")  # 401
    after = scrape()
    # then
    assert created.status == 201 and group.status == 201
    moved = {
        ("POST Users", "2xx"): 1,
        ("GET Users list", "2xx"): 1,
        ("GET Users one", "2xx"): 1,
        ("GET Users one", "4xx"): 1,
        ("PATCH Users", "2xx"): 1,
        ("POST Groups", "2xx"): 1,
        ("GET discovery", "2xx"): 1,
        ("POST /.search", "2xx"): 1,
        ("GET Users list", "4xx"): 1,
    }
    for (operation, status_class), count in moved.items():
        delta = requests_total(after, operation, status_class) - requests_total(
            before, operation, status_class
        )
        assert delta == count, (operation, status_class, delta)
    key = ("nordpass_scim_request_duration_seconds_count", frozenset({("operation", "POST Users")}))
    assert after[key] - before.get(key, 0.0) == 1


@pytest.mark.django_db
def test_labels_never_carry_ids_tenants_or_user_names(metrics_on):
    # given: requests naming ids, a tenant, user names, odd paths and methods
    organization = OrganizationFactory()
    scim = scim_client_for(organization)
    created = scim.post("/Users", entra_user("grace.hopper@contoso.com"))
    user_id = created.body["id"]
    scim.get(f"/Users/{user_id}")
    scim.get('/Users?filter=userName eq "grace.hopper@contoso.com"')
    scim.get("/Nope/whatever-123")
    scim.request("TRACE", f"/Users/{user_id}")
    scim.get(f"/scim/v2/{uuid.uuid4()}/Users", token="npscim_nope")
    # when
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    text = response.content.decode()
    # then
    for secretish in (user_id, str(organization.tenant_id), "grace", "contoso", scim.token):
        assert secretish not in text
    operations = {
        dict(sample.labels)["operation"]
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if "operation" in sample.labels
    }
    assert operations and all(OPERATION.match(operation) for operation in operations), operations
    assert {"GET unknown", "OTHER Users"} <= operations


# --- Gauges read at scrape time -------------------------------------------------------------------


@pytest.mark.django_db
def test_invitation_gauges_count_every_status_in_one_query(metrics_on):
    # given: members provisioned over SCIM get pending invitations; some are moved along
    scim = scim_client_for(OwnerFactory().organization)
    for number in range(4):
        assert scim.post("/Users", entra_user(f"person{number}@contoso.com")).status == 201
    invitations = list(Invitation.objects.order_by("pk"))
    Invitation.objects.filter(pk=invitations[0].pk).update(status=Invitation.Status.SENT)
    Invitation.objects.filter(pk=invitations[1].pk).update(status=Invitation.Status.FAILED)
    expected = Counter(Invitation.objects.values_list("status", flat=True))
    # when
    from nordpass_admin import metrics

    with CaptureQueriesContext(connection) as queries:
        samples = parse(metrics.exposition().decode())
    # then
    for status in Invitation.Status.values:
        key = ("nordpass_invitations", frozenset({("status", status)}))
        assert samples[key] == expected.get(status, 0), status
    assert expected["sent"] == 1 and expected["failed"] == 1
    invitation_queries = [q["sql"] for q in queries.captured_queries if "invitation" in q["sql"]]
    assert len(invitation_queries) == 1 and "GROUP BY" in invitation_queries[0]
    assert samples[("nordpass_database_up", frozenset())] == 1


def _drain(queue: str) -> None:
    if REDIS_BROKER:
        import redis

        client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
        client.delete(queue, *(f"{queue}\x06\x16{step}" for step in (3, 6, 9)))
        client.close()
    else:
        folder = Path(django_settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        for path in folder.glob(f"*.{queue}.msg"):
            path.unlink()


@pytest.mark.django_db
def test_queue_depth_counts_messages_waiting_on_the_configured_broker(metrics_on, settings):
    # given: a queue of this test's own (no worker reads it) on the real broker: Redis in CI's
    # second run, the filesystem folder in the first
    queue = f"metrics-test-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    try:
        for _ in range(3):
            celery_app.send_task("nordpass_admin.ping", queue=queue)
        celery_app.send_task("nordpass_admin.ping", queue=queue, priority=6)
        # when
        samples = scrape()
    finally:
        _drain(queue)
    # then
    assert samples[("nordpass_celery_queue_length", frozenset({("queue", queue)}))] == 4
    assert samples[("nordpass_celery_broker_up", frozenset())] == 1


@pytest.mark.django_db
@pytest.mark.skipif(not REDIS_BROKER, reason="CELERY_BROKER_URL is not Redis (CI's second run)")
def test_queue_depth_is_the_llen_of_the_default_celery_list_on_redis(metrics_on):
    import redis

    from nordpass_admin import metrics

    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    queue = f"metrics-llen-{uuid.uuid4().hex[:8]}"
    try:
        client.rpush(queue, "a", "b")
        client.rpush(f"{queue}\x06\x169", "c")
        assert metrics.queue_lengths([queue]) == {queue: 3}
    finally:
        _drain(queue)
        client.close()


@pytest.mark.django_db
def test_an_unreachable_broker_is_reported_not_raised(metrics_on, settings):
    # given: nothing listens on port 1
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.BROKER_HEALTH_TIMEOUT = 0.5
    # when
    samples = scrape()
    # then
    assert samples[("nordpass_celery_broker_up", frozenset())] == 0
    assert not any(name == "nordpass_celery_queue_length" for name, _ in samples)
    assert samples[("nordpass_database_up", frozenset())] == 1


# --- Several gunicorn workers ---------------------------------------------------------------------


def test_counts_add_up_across_gunicorn_workers(transactional_db, tmp_path):
    """prometheus_client's multiprocess mode under the gunicorn hooks docker-compose uses: a
    stale sample left in the folder is wiped at start, and every scrape, whichever worker
    answers it, reports every request whichever worker served it."""
    # given: an organization and token the server processes can see
    owner = OwnerFactory()
    secret = services.scim_token_issue(organization=owner.organization, actor=Actor.system("t"))
    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "counter_999999.db").write_bytes(b"left over from the previous run")
    port = free_port()
    env = app_environment(
        tmp_path,
        PROMETHEUS_MULTIPROC_DIR=str(folder),
        METRICS_TOKEN=TOKEN,
        SCIM_RATE_LIMIT="0",
        SITE_URL=f"http://127.0.0.1:{port}",
    )
    log = tmp_path / "web.log"
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "nordpass_admin.wsgi:application",
         "--config", "python:nordpass_admin.gunicorn_conf", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--threads", "4", "--worker-class", "gthread", "--timeout", "30",
         "--graceful-timeout", "3"],
        cwd=django_settings.BASE_DIR, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:

        def up() -> bool:
            assert process.poll() is None, log.read_text()
            try:
                return http_request(port, "GET", "/healthz", timeout=2).status == 200
            except OSError:
                return False

        wait_until(up, timeout=30, what="gunicorn", interval=0.2)
        assert not (folder / "counter_999999.db").exists()
        scim = ScimClient(owner.organization, secret.secret)
        path = f"{scim.base}/Users"
        headers = {"Authorization": f"Bearer {secret.secret}"}

        def get_users(_: int) -> int:
            return http_request(port, "GET", path, headers=headers).status

        # when: requests until both workers have served some (one counter file per process)
        sent = 0
        with ThreadPoolExecutor(max_workers=8) as pool:
            while sent < 400:
                assert set(pool.map(get_users, range(16))) == {200}
                sent += 16
                if len(list(folder.glob("counter_*.db"))) >= 2:
                    break
        assert len(list(folder.glob("counter_*.db"))) >= 2, "one worker served everything"

        # then: every scrape, whichever worker answers, counts them all
        def scraped(_: int) -> float:
            response = http_request(
                port, "GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            assert response.status == 200, response.status
            return requests_total(parse(response.body.decode()), "GET Users list", "2xx")

        with ThreadPoolExecutor(max_workers=4) as pool:
            assert set(pool.map(scraped, range(12))) == {float(sent)}
    finally:
        stop_process(process, grace=5)
    assert "Traceback" not in log.read_text()


def test_the_gunicorn_start_hook_empties_the_folder(tmp_path):
    stale = tmp_path / "gauge_livesum_1.db"
    stale.write_bytes(b"x")
    result = subprocess.run(
        [str(BIN / "python"), "-c",
         "import nordpass_admin.gunicorn_conf as c; c.on_starting(None)"],
        cwd=django_settings.BASE_DIR, capture_output=True, text=True, timeout=30,
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == []
