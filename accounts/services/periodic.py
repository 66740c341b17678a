"""The claim that lets a Celery beat task run once per period, however many beats send it.

Times are the database's (`Now()`): the claim compares them with each other only, so workers on
machines whose clocks disagree still agree on when the last run started.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Now

from accounts.models import PeriodicTaskRun


def periodic_run_claim(*, task: str, min_interval: timedelta) -> bool:
    """True for exactly one of several callers at once, and only if the last run of `task`
    started at least `min_interval` ago (or it never ran).

    One conditional UPDATE decides: the database serializes updates of a row (PostgreSQL
    re-reads the condition after waiting for a concurrent update's lock; SQLite writes one at a
    time), so a second caller finds `started_at` already moved and updates nothing. A first run
    is an INSERT instead, and of two concurrent INSERTs the primary key refuses the second.
    """
    claimed = PeriodicTaskRun.objects.filter(
        task=task, started_at__lte=Now() - min_interval
    ).update(started_at=Now(), finished_at=None, runs=F("runs") + 1)
    if claimed:
        return True
    if PeriodicTaskRun.objects.filter(task=task).exists():
        return False
    try:
        with transaction.atomic():
            PeriodicTaskRun.objects.create(task=task, started_at=Now(), runs=1)
    except IntegrityError:
        return False
    return True


def periodic_run_refuse(*, task: str) -> PeriodicTaskRun | None:
    """Count a run refused as a duplicate, and return the run that made it one."""
    PeriodicTaskRun.objects.filter(task=task).update(refused=F("refused") + 1)
    return PeriodicTaskRun.objects.filter(task=task).first()


def periodic_run_finish(*, task: str, result: Any) -> None:
    """Record the end of the run this worker claimed, with the task's summary (JSON)."""
    PeriodicTaskRun.objects.filter(task=task).update(finished_at=Now(), last_result=result)
