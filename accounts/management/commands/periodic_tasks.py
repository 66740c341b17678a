"""`manage.py periodic_tasks`: each Celery beat task, its period and its last run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts.models import PeriodicTaskRun
from nordpass_admin.periodic import beat_period

COLUMNS = "{:<28} {:>8}  {:<20}  {:<20}  {:>6}  {:>7}  {}"


def _when(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


class Command(BaseCommand):
    help = (
        "Show each periodic task: its period, when its last run started and finished, how many "
        "runs it had and how many copies sent by a second beat were refused."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        runs = PeriodicTaskRun.objects.in_bulk()
        self.stdout.write(
            COLUMNS.format(
                "TASK", "EVERY", "LAST STARTED", "LAST FINISHED", "RUNS", "REFUSED", "LAST RESULT"
            )
        )
        refused = 0
        for name, entry in sorted(settings.CELERY_BEAT_SCHEDULE.items()):
            task = str(entry["task"])
            run = runs.get(task)
            period = f"{beat_period(task).total_seconds():g} s"
            if run is None:
                self.stdout.write(COLUMNS.format(name, period, "never", "-", 0, 0, "-"))
                continue
            refused += run.refused
            self.stdout.write(
                COLUMNS.format(
                    name,
                    period,
                    _when(run.started_at),
                    _when(run.finished_at) if run.finished_at else "running or lost",
                    run.runs,
                    run.refused,
                    "-" if run.last_result is None else run.last_result,
                )
            )
        self.stdout.write(f"Times in {timezone.get_current_timezone_name()}.")
        if refused:
            self.stdout.write(
                self.style.WARNING(
                    "Refused copies mean more than one beat sends these tasks (each still runs "
                    "once per period): run a single `celery beat`."
                )
            )
