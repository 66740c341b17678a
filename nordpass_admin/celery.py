"""The Celery application, configured from Django settings under the CELERY_ namespace.

Workers start with `celery -A nordpass_admin worker`; tasks are found in each app's `tasks.py`.
Each task's log lines carry its id and name (nordpass_admin/logging.py), and with LOG_FORMAT=json
the worker writes JSON lines like the web processes.
"""

import logging
import os
from typing import Any

from celery import Celery, signals

from nordpass_admin.logging import JsonFormatter, RequestIdFilter, bind_task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nordpass_admin.settings")

app = Celery("nordpass_admin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="nordpass_admin.ping", ignore_result=False)
def ping() -> str:
    """Proves a worker consumes from the broker end to end.

    Operators: `celery -A nordpass_admin call nordpass_admin.ping`, then read the worker's log.
    """
    return "pong"


@signals.task_prerun.connect
def _bind_task(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    bind_task(task_id, getattr(task, "name", None))


@signals.task_postrun.connect
def _unbind_task(**kwargs: Any) -> None:
    bind_task(None)


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _log_format(logger: logging.Logger, **kwargs: Any) -> None:
    """Celery installs its own handlers (worker_hijack_root_logger, so `--loglevel` keeps
    working); they get the task id, and the JSON formatter when LOG_FORMAT=json."""
    from django.conf import settings

    for handler in logger.handlers:
        handler.addFilter(RequestIdFilter())
        if settings.LOG_FORMAT == "json":
            handler.setFormatter(JsonFormatter())
