"""Log records that carry the request (or Celery task) they belong to, as plain text or JSON.

`LOG_FORMAT=json` (docker-compose sets it) writes one JSON object per line, for a log pipeline
(Loki, CloudWatch, Elasticsearch) to index without parsing text; `plain` (the default) stays
readable in a developer's terminal. Both name the request id, so a line can be matched with the
`X-Request-Id` an identity provider or a browser saw, and with the provisioning log.

The id lives in a context variable: each thread of a gunicorn gthread worker (and each Celery
task) has its own. `nordpass_admin.request_id.RequestIdMiddleware` binds it for every request,
`integrations.scim.middleware` rebinds it to the SCIM request id, and Celery's task signals
(`nordpass_admin.celery`) bind the task id.
"""

from __future__ import annotations

import json
import logging
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_task: ContextVar[tuple[str, str] | None] = ContextVar("celery_task", default=None)

# Every attribute a plain LogRecord has: whatever else a record carries came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
) | {"message", "asctime", "request_id", "task_id", "task_name"}


def bind_request_id(request_id: str | None) -> None:
    """Every record logged from here on in this thread (or task) carries `request_id`."""
    _request_id.set(request_id)


def current_request_id() -> str | None:
    return _request_id.get()


def bind_task(task_id: str | None, task_name: str | None = None) -> None:
    _task.set((task_id, task_name or "") if task_id else None)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (and the Celery task, when there is one) to each record a handler
    writes, so a format string can use `%(request_id)s`. Installed on handlers, not loggers:
    a logger's filter does not see records propagated from its children."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get() or "-"
        task = _task.get()
        if task is not None and not hasattr(record, "task_id"):
            record.task_id, record.task_name = task
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside values are escaped).

    Fields: timestamp (ISO 8601, UTC), level, logger, message, request_id, task_id and
    task_name inside a Celery task, exc_info and stack_info as text, then every `extra=` field.
    A value JSON cannot hold is written as its `str()`.
    """

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        if request_id in (None, "-"):
            request_id = _request_id.get()
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id,
        }
        task = (getattr(record, "task_id", None), getattr(record, "task_name", None))
        if task[0] is None and _task.get() is not None:
            task = _task.get()  # type: ignore[assignment]
        if task[0]:
            entry["task_id"], entry["task_name"] = task
        if record.exc_info:
            entry["exc_info"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in entry and not key.startswith("_"):
                entry[key] = value
        return json.dumps(entry, default=_as_text, ensure_ascii=False)


def _as_text(value: Any) -> str:
    return str(value)
