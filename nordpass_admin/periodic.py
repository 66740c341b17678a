"""Celery beat's tasks run at most once per period, however many beats send them.

Beat must be a single process, but nothing stops a second one: `docker compose up --scale
beat=2`, or two workers each started with `celery worker -B`. Each beat then sends every periodic
task, so every sweep would run twice. A task registered with `periodic_task` first claims its run
in the database (`accounts.services.periodic`); a copy sent within the same period is refused
with one INFO line and counted (`manage.py periodic_tasks` shows the count).

The shortest time between two runs is MIN_INTERVAL_SHARE of the task's period in
CELERY_BEAT_SCHEDULE (PERIODIC_TASK_SECONDS changes periods), so a beat on time is never refused
though its previous run waited in the queue a little, while a copy from a second beat, sent at
some other moment of the same period, is.

The emails these sweeps queue have claims of their own (an invitation moves PENDING → SENDING, a
reminder sets `reminder_sent_at`, a hold notice and a secret-expiry warning likewise), so even two
runs at once would not send an email twice; this claim keeps the sweeps themselves to one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from django.conf import settings

logger = logging.getLogger(__name__)

MIN_INTERVAL_SHARE = 0.8
# The names of the tasks registered with `periodic_task` (a test checks every scheduled one is).
PERIODIC_TASKS: set[str] = set()


def beat_period(task: str) -> timedelta:
    """The period CELERY_BEAT_SCHEDULE gives the task named `task` (a Celery task name)."""
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        if entry["task"] == task:
            schedule = entry["schedule"]
            if isinstance(schedule, timedelta):
                return schedule
            if isinstance(schedule, int | float):
                return timedelta(seconds=schedule)
            raise TypeError(f"{task}: only a period in seconds can limit runs, not {schedule!r}")
    raise LookupError(f"{task} is not in CELERY_BEAT_SCHEDULE")


def run_once_per_period(task: str, body: Callable[[], Any]) -> Any:
    """Run `body` if this call wins the claim for its period; None if another run has it."""
    from accounts.services.periodic import (
        periodic_run_claim,
        periodic_run_finish,
        periodic_run_refuse,
    )

    period = beat_period(task)
    if not periodic_run_claim(task=task, min_interval=period * MIN_INTERVAL_SHARE):
        last = periodic_run_refuse(task=task)
        logger.info(
            "Periodic task %s not run: its last run started at %s, within its %g s period "
            "(a second beat sends it too?)",
            task,
            last.started_at.isoformat() if last is not None else "an unknown time",
            period.total_seconds(),
        )
        return None
    try:
        result = body()
    except Exception as exc:
        periodic_run_finish(task=task, result=f"failed: {type(exc).__name__}")
        raise
    periodic_run_finish(task=task, result=result)
    return result


def periodic_task(name: str) -> Callable[[Callable[[], Any]], Task]:
    """`shared_task(name=...)` for a task in CELERY_BEAT_SCHEDULE: a run a worker takes from
    the broker is claimed first (`run_once_per_period`); a direct call (a test, a shell) runs."""

    def register(body: Callable[[], Any]) -> Task:
        def run(self: Task) -> Any:
            if self.request.called_directly:
                return body()
            return run_once_per_period(name, body)

        run.__name__ = run.__qualname__ = body.__name__
        run.__module__ = body.__module__
        run.__doc__ = body.__doc__
        task: Task = shared_task(bind=True, name=name)(run)
        PERIODIC_TASKS.add(name)
        return task

    return register
