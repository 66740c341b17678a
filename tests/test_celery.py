"""The Celery app as deployed: configured from settings, and a real worker process consuming from
the configured broker (the filesystem transport by default, Redis in CI's second run)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

from django.conf import settings

from nordpass_admin.celery import app


def test_celery_reads_its_configuration_from_django_settings():
    assert app.conf.broker_url == settings.CELERY_BROKER_URL
    assert app.conf.task_acks_late is True
    assert app.conf.task_serializer == "json"
    assert app.main == "nordpass_admin"


def test_a_real_worker_runs_a_task_sent_through_the_configured_broker(tmp_path):
    # given: a worker on a queue of its own, so no other worker on this machine takes the task
    queue = f"test-{uuid.uuid4().hex[:12]}"
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "nordpass_admin",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "-Q",
            queue,
            "--without-mingle",
            "--without-gossip",
            "--hostname",
            f"{queue}@localhost",
        ],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
    )
    try:
        # when
        result = app.send_task("nordpass_admin.ping", queue=queue)
        # then
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            output = log.read_text()
            if f"Task nordpass_admin.ping[{result.id}] succeeded" in output:
                break
            assert worker.poll() is None, output
            time.sleep(0.2)
        else:
            raise AssertionError(f"The worker never ran the task:\n{log.read_text()}")
    finally:
        worker.terminate()
        worker.wait(timeout=20)
