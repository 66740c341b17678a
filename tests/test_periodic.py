"""Celery beat's tasks run once per period, however many beats send them: the claim on the real
database under concurrent callers, the task wiring, the period setting, the operator's command,
and two real beats with one real worker and a real SMTP server."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from accounts.audit import Actor
from accounts.models import Invitation, Member, PeriodicTaskRun
from accounts.services import MemberProfile, member_provision
from accounts.services.periodic import periodic_run_claim
from accounts.tasks import invitation_sweep, send_invitation
from nordpass_admin import metrics
from nordpass_admin.celery import app as celery_app
from nordpass_admin.periodic import PERIODIC_TASKS, beat_period, run_once_per_period
from tests.factories import OwnerFactory
from tests.support import (
    BEAT_READY,
    WORKER_READY,
    celery_beat,
    celery_worker,
    wait_until_logged,
)

TASK = "tests.periodic_example"


def claim_at_once(callers: int, *, min_interval: timedelta) -> list[bool]:
    """`callers` threads, each on its own database connection, claim TASK at the same moment."""
    start = threading.Barrier(callers)

    def claim() -> bool:
        try:
            start.wait()
            return periodic_run_claim(task=TASK, min_interval=min_interval)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=callers) as pool:
        return list(pool.map(lambda _: claim(), range(callers)))


@pytest.mark.parametrize("earlier_run", [False, True], ids=["first-run", "later-run"])
def test_of_several_simultaneous_claims_exactly_one_wins(transactional_db, earlier_run):
    # given: no run yet (the claim is an INSERT), or one an hour ago (a conditional UPDATE)
    if earlier_run:
        PeriodicTaskRun.objects.create(
            task=TASK, started_at=timezone.now() - timedelta(hours=1), runs=1
        )
    # when: eight workers claim the same period at once
    results = claim_at_once(8, min_interval=timedelta(seconds=60))
    # then
    assert results.count(True) == 1
    assert PeriodicTaskRun.objects.get(task=TASK).runs == (2 if earlier_run else 1)


def test_a_claim_after_the_minimum_interval_wins_again(db):
    # given: a run that has just started
    assert periodic_run_claim(task=TASK, min_interval=timedelta(seconds=60))
    # when / then: a copy within the interval is refused
    assert not periodic_run_claim(task=TASK, min_interval=timedelta(seconds=60))
    # when: the run started longer ago than the interval
    PeriodicTaskRun.objects.filter(task=TASK).update(
        started_at=timezone.now() - timedelta(seconds=61)
    )
    # then
    assert periodic_run_claim(task=TASK, min_interval=timedelta(seconds=60))
    run = PeriodicTaskRun.objects.get(task=TASK)
    assert run.runs == 2 and run.finished_at is None
    assert timezone.now() - run.started_at < timedelta(seconds=30)


def test_a_duplicate_is_refused_counted_and_logged_once(db, settings, caplog):
    # given: a task beat sends every 60 s, and a body that counts its runs
    settings.CELERY_BEAT_SCHEDULE = {"example": {"task": TASK, "schedule": 60.0}}
    bodies: list[int] = []

    def body() -> dict[str, int]:
        bodies.append(1)
        return {"requeued": 3}

    # when: the run, then a copy from a second beat
    first = run_once_per_period(TASK, body)
    with caplog.at_level(logging.INFO, logger="nordpass_admin.periodic"):
        second = run_once_per_period(TASK, body)
    # then
    assert (first, second, len(bodies)) == ({"requeued": 3}, None, 1)
    run = PeriodicTaskRun.objects.get(task=TASK)
    assert (run.runs, run.refused, run.last_result) == (1, 1, {"requeued": 3})
    assert run.finished_at is not None and run.finished_at >= run.started_at
    [line] = [r for r in caplog.records if r.name == "nordpass_admin.periodic"]
    assert line.levelno == logging.INFO
    assert TASK in line.getMessage() and run.started_at.isoformat() in line.getMessage()


def test_a_failed_run_is_recorded_and_raises(db, settings):
    settings.CELERY_BEAT_SCHEDULE = {"example": {"task": TASK, "schedule": 60.0}}

    def body() -> None:
        raise ConnectionError("SMTP down")

    with pytest.raises(ConnectionError):
        run_once_per_period(TASK, body)
    run = PeriodicTaskRun.objects.get(task=TASK)
    assert run.last_result == "failed: ConnectionError" and run.finished_at is not None


def test_the_minimum_interval_follows_the_configured_period(db, settings):
    # given: the invitation sweep every 10 s, and a run 9 s ago (90 %: a beat on time)
    settings.CELERY_BEAT_SCHEDULE = {
        "invitation-sweep": {"task": "accounts.invitation_sweep", "schedule": 10.0}
    }
    PeriodicTaskRun.objects.create(
        task="accounts.invitation_sweep", started_at=timezone.now() - timedelta(seconds=9), runs=1
    )
    # when: the worker takes the task from the broker (apply: not a direct call)
    result = invitation_sweep.apply().get()
    # then: it ran; a copy right behind it does not
    assert result == {"requeued": 0, "recovered": 0, "expired": 0, "reminders": 0}
    assert invitation_sweep.apply().get() is None
    assert PeriodicTaskRun.objects.get(task="accounts.invitation_sweep").runs == 2


def test_a_direct_call_always_runs(db):
    # Tests and a shell call the function itself; only a run from the broker is claimed.
    nothing_to_do = {"requeued": 0, "recovered": 0, "expired": 0, "reminders": 0}
    assert invitation_sweep() == invitation_sweep() == nothing_to_do
    assert not PeriodicTaskRun.objects.exists()


def test_every_scheduled_task_is_claimed_once_per_period():
    celery_app.loader.import_default_modules()  # every app's tasks.py, as a worker starts
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert len(scheduled) == 6
    assert scheduled == PERIODIC_TASKS
    assert scheduled <= set(celery_app.tasks)
    assert beat_period("accounts.invitation_sweep") == timedelta(seconds=60)


# --- the period setting -----------------------------------------------------------------------

PRINT_PERIODS = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({n: e['schedule'] for n, e in settings.CELERY_BEAT_SCHEDULE.items()}))"
)


def periods_with(value: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PERIODIC_TASK_SECONDS"}
    env.update({"ENV_FILE": "/dev/null", "DEBUG": "true"})
    if value is not None:
        env["PERIODIC_TASK_SECONDS"] = value
    return subprocess.run(
        [sys.executable, "-c", PRINT_PERIODS],
        env=env,
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        timeout=60,
    )


def test_periods_default_to_the_documented_values():
    result = periods_with(None)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "expire-scim-token-overlaps": 300.0,
        "prune-scim-request-log": 3600.0,
        "invitation-sweep": 60.0,
        "deprovision-hold-sweep": 60.0,
        "email-domain-recheck-sweep": 600.0,
        "sso-secret-expiry-sweep": 3600.0,
    }


def test_periods_are_overridden_by_schedule_name():
    result = periods_with("invitation-sweep=5, deprovision-hold-sweep=0.5")
    assert result.returncode == 0, result.stderr
    periods = json.loads(result.stdout)
    assert periods["invitation-sweep"] == 5.0 and periods["deprovision-hold-sweep"] == 0.5
    assert periods["prune-scim-request-log"] == 3600.0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("invitation-swep=5", "no periodic task is named 'invitation-swep'; the names are"),
        ("invitation-sweep=0", "invitation-sweep must be a positive number of seconds"),
        ("invitation-sweep=-5", "invitation-sweep must be a positive number of seconds"),
        ("invitation-sweep=soon", "not 'soon'"),
        ("invitation-sweep", "not ''"),
    ],
)
def test_a_wrong_period_stops_the_start_with_a_clear_message(value, message):
    result = periods_with(value)
    assert result.returncode != 0
    assert "ImproperlyConfigured: PERIODIC_TASK_SECONDS: " in result.stderr
    assert message in result.stderr


# --- what operators see -----------------------------------------------------------------------


def test_the_command_shows_each_task_its_period_and_last_run(db):
    # given: the invitation sweep ran twice and refused one copy; nothing else ran
    PeriodicTaskRun.objects.create(
        task="accounts.invitation_sweep",
        started_at=timezone.now(),
        finished_at=timezone.now(),
        runs=2,
        refused=1,
        last_result={"requeued": 1},
    )
    out = StringIO()
    # when
    call_command("periodic_tasks", stdout=out)
    # then
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:3] == ["TASK", "EVERY", "LAST"]
    [sweep] = [line for line in lines if line.startswith("invitation-sweep ")]
    assert re.search(r"60 s .* 2 +1 +\{'requeued': 1\}$", sweep), sweep
    [prune] = [line for line in lines if line.startswith("prune-scim-request-log ")]
    assert "3600 s  never" in prune
    assert "more than one beat" in out.getvalue()


def test_metrics_show_each_task_last_start_and_refused_copies(db):
    # given: a sweep that started at a known moment and refused two copies
    started = timezone.now() - timedelta(seconds=42)
    PeriodicTaskRun.objects.create(
        task="accounts.invitation_sweep", started_at=started, runs=5, refused=2
    )
    # when
    samples = {
        (sample.name, tuple(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(metrics.exposition().decode())
        for sample in family.samples
    }
    # then
    task = (("task", "accounts.invitation_sweep"),)
    last_start = samples[("nordpass_periodic_task_last_start_timestamp_seconds", task)]
    assert last_start == pytest.approx(started.timestamp())
    assert samples[("nordpass_periodic_task_refused_total", task)] == 2


# --- two beats, one worker ------------------------------------------------------------------------

PERIOD = 2.0
BEATS_RUN_FOR = 8.0
ONE_QUEUE = "tests.celery_one_queue"


def tasks_sent(beat_log: str) -> Counter[str]:
    return Counter(re.findall(r"Sending due task [\w-]+ \(([\w.]+)\)", beat_log))


def wait_until_idle(worker_log: Path, quiet: float = 2.0) -> None:
    """Until every task the worker received has finished and none came for `quiet` seconds."""
    deadline = time.monotonic() + 60
    seen, since = "", time.monotonic()
    while True:
        log = worker_log.read_text()
        if log != seen:
            seen, since = log, time.monotonic()
        finished = log.count("] succeeded") + log.count("] raised")
        if log.count("] received") == finished and time.monotonic() - since >= quiet:
            return
        assert time.monotonic() < deadline, log
        time.sleep(0.2)


def tasks_received(worker_log: str) -> Counter[str]:
    """Periodic tasks the worker took from the broker (not the emails they queued)."""
    periodic = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    names = re.findall(r"Task ([\w.]+)\[[0-9a-f-]+\] received", worker_log)
    return Counter(name for name in names if name in periodic)


def invitation_whose_message_was_lost(owner: Member, user_name: str) -> int:
    """Pending, created minutes ago, never tried: only the sweep can send it now."""
    member = member_provision(
        organization=owner.organization,
        profile=MemberProfile(user_name=user_name, given_name="Ann"),
        active=True,
        actor=Actor.identity_provider("Microsoft Entra ID"),
    )
    invitation = member.invitations.get()
    Invitation.objects.filter(pk=invitation.pk).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    return invitation.pk


@pytest.mark.django_db(transaction=True)
def test_two_beats_run_each_sweep_once_per_period_and_send_no_email_twice(
    smtp, tmp_path, monkeypatch
):
    # given: an invitation whose message the broker lost (this process publishes nothing), and
    # one sent 3 days ago that is due its reminder
    monkeypatch.setattr(send_invitation, "delay", lambda pk: None)
    owner = OwnerFactory(organization__name="Contoso")
    lost = invitation_whose_message_was_lost(owner, "ann@contoso.com")
    due = invitation_whose_message_was_lost(owner, "bea@contoso.com")
    Invitation.objects.filter(pk=due).update(
        status=Invitation.Status.SENT,
        sent_at=timezone.now() - timedelta(days=3),
        expires_at=timezone.now() + timedelta(days=1),
    )
    # and: one worker, then two beats, every periodic task every PERIOD seconds
    queue = f"periodic-{uuid.uuid4().hex[:10]}"
    env = {
        "TEST_CELERY_QUEUE": queue,
        "PERIODIC_TASK_SECONDS": ",".join(
            f"{name}={PERIOD}" for name in settings.CELERY_BEAT_SCHEDULE
        ),
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
        "INVITATION_REMINDER_HOURS": "48",
    }
    worker_log = tmp_path / "worker.log"
    beat_logs = [tmp_path / "beat-1.log", tmp_path / "beat-2.log"]
    with (
        celery_worker(queue, worker_log, app=ONE_QUEUE, wait=False, **env) as worker,
        celery_beat(tmp_path / "beat-1", beat_logs[0], ONE_QUEUE, wait=False, **env) as beat_1,
        celery_beat(tmp_path / "beat-2", beat_logs[1], ONE_QUEUE, wait=False, **env) as beat_2,
    ):
        # when: the three start at once, and both beats send for BEATS_RUN_FOR seconds
        wait_until_logged(worker, worker_log, WORKER_READY)
        wait_until_logged(beat_1, beat_logs[0], BEAT_READY)
        wait_until_logged(beat_2, beat_logs[1], BEAT_READY)
        time.sleep(BEATS_RUN_FOR)
        beat_1.terminate()
        beat_2.terminate()
        assert beat_1.wait(timeout=20) == beat_2.wait(timeout=20) == 0
        sent = [tasks_sent(log.read_text()) for log in beat_logs]

        # and: the worker has finished every task they sent (nothing new for 2 s: the
        # filesystem broker is polled every second)
        wait_until_idle(worker_log)

    # then: each beat sent each task every period, and each task ran as often as one beat sends
    # it (one more if the second beat's first copy came late in a period), the rest refused
    log = worker_log.read_text()
    received = tasks_received(log)
    runs = {run.task: run for run in PeriodicTaskRun.objects.all()}
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert set(runs) == scheduled
    for task, run in runs.items():
        by_beat = (sent[0][task], sent[1][task])
        assert min(by_beat) >= 2, (task, by_beat)
        # A beat stopped in the middle of a send may have logged a copy it never published.
        assert sum(by_beat) - 2 <= received[task] == run.runs + run.refused, (task, by_beat, log)
        assert 2 <= run.runs <= max(by_beat) + 1, (task, by_beat, run.runs, log)
    assert log.count("not run: its last run started at") == sum(r.refused for r in runs.values())
    # and: the lost invitation and the reminder reached the SMTP server once each
    assert sorted((str(m["To"]), str(m["Subject"])) for m in smtp.messages) == [
        ("ann@contoso.com", "Contoso invited you to NordPass"),
        ("bea@contoso.com", "Reminder: Contoso invited you to NordPass"),
    ]
    assert Invitation.objects.get(pk=lost).status == Invitation.Status.SENT
    assert Invitation.objects.get(pk=due).reminder_sent_at is not None
