"""Redis (the Celery broker) stops while Entra ID provisions people: the database is the record,
so SCIM keeps answering 201, and once Redis is back the sweep sends every invitation exactly once.

The Redis here is a redis-server of this test's own on a free port: the shared one is never
stopped.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.utils import timezone
from kombu import Connection

from accounts.models import Invitation
from nordpass_admin.celery import app as celery_app
from tests.faults.servers import app_environment, entra_user, gunicorn, private_redis, wait_until
from tests.support import celery_worker, smtp_server


def test_scim_answers_201_while_redis_is_down_and_the_sweep_sends_each_invitation_once(
    tenant, tmp_path
):
    with (
        private_redis(tmp_path) as broker,
        smtp_server() as inbox,
        gunicorn(
            app_environment(tmp_path, CELERY_BROKER_URL=broker.url), tmp_path / "web.log"
        ) as app,
        # The private broker is this test's alone, so the worker takes the default queue, which
        # is where the sweep, run inside the worker as beat would, enqueues its sends.
        celery_worker(
            "celery",
            tmp_path / "worker.log",
            CELERY_BROKER_URL=broker.url,
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(inbox.port),
            ENV_FILE="/dev/null",
        ),
    ):
        scim = app.scim(tenant.tenant_id, tenant.token)

        def create(name: str) -> int:
            return scim.request("POST", "/Users", entra_user(f"{name}@contoso.com")).status

        # given: provisioning works end to end
        assert [create(f"before{i}") for i in range(3)] == [201] * 3
        inbox.wait_for(3, timeout=60)

        # when: Redis stops and Entra ID keeps provisioning
        broker.stop()
        with ThreadPoolExecutor(max_workers=5) as pool:
            during = list(pool.map(create, [f"during{i}" for i in range(10)]))
        ready = app.get("/readyz")

        # then: every create succeeded, the invitations wait in the database, /readyz says why
        assert during == [201] * 10, app.output()
        assert ready.status == 503 and ready.body["failed"] == ["broker"]
        waiting = Invitation.objects.filter(member__user_name__startswith="during")
        assert Counter(waiting.values_list("status", flat=True)) == {"pending": 10}

        # when: Redis is back (empty: what was never published is not there) and the sweep runs
        broker.start()
        wait_until(lambda: app.get("/readyz").status == 200, timeout=30, what="/readyz 200")
        assert [create(f"after{i}") for i in range(2)] == [201] * 2
        # The sweep leaves an invitation alone for its first minute (its own task may still be
        # on the way); this outage stands for one that lasted longer.
        waiting.update(created_at=timezone.now() - timedelta(minutes=2))
        beat = Connection(broker.url)  # explicit: CELERY_BROKER_URL in the environment wins
        celery_app.send_task("accounts.invitation_sweep", connection=beat, queue="celery")

        # then: every invitation arrives exactly once
        messages = inbox.wait_for(15, timeout=90)
        time.sleep(2)  # a duplicate would arrive right behind
        # a second sweep finds nothing to do
        celery_app.send_task("accounts.invitation_sweep", connection=beat, queue="celery")
        time.sleep(2)
        beat.close()
    recipients = Counter(str(m["To"]) for m in messages)
    expected = [f"{p}{i}@contoso.com" for p, n in (("before", 3), ("during", 10), ("after", 2))
                for i in range(n)]  # fmt: skip
    assert recipients == Counter(expected)
    assert len(inbox.messages) == 15
    statuses = Counter(Invitation.objects.values_list("status", flat=True))
    assert statuses == {"sent": 15}
